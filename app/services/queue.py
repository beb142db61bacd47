"""The re-judge queue service: one view over every batch of the images the model routed to a person.

No Qt. Every public method is one user action in one database session (``session_scope``), committed
before it returns. Results are frozen records (:class:`QueuePage`, :class:`JudgmentRecord`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from app.store import queries, repo
from app.store.db import read_only, session_scope
from app.store.errors import ExportError, JudgmentConflictError
from app.store.queries import QUEUE_SORTS, QUEUE_STATES, QueuePage, QueueRow
from app.store.records import JudgmentRecord
from app.store.schema import Prediction
from app.store.urls import is_store_file
from models.atomic import replacing
from models.data.manifest import CsvWriter

if TYPE_CHECKING:
    from models.taxonomy import Taxonomy

__all__ = [
    "EXPORT_COLUMNS",
    "QUEUE_REASONS",
    "QUEUE_SORTS",
    "QUEUE_STATES",
    "QueueDetail",
    "QueueFilters",
    "QueuePage",
    "QueueRow",
    "QueueService",
]

QUEUE_REASONS: tuple[str, ...] = queries.REASONS
"""The routing reason codes a queue row can carry (``models.routing.policy.REASONS``, then the purity monitor's
``app.store.records.MONITOR_REASONS``), in the order ``sort="reason"`` puts them."""

EXPORT_COLUMNS: tuple[str, ...] = (
    "path", "image_id", "predicted_leaf", "confidence", "reasons", "unknown_score", "predicted_at", "batches",
    "state", "judged_leaf", "judged_by", "determined", "predicted_labels", "judged_labels",
    "predicted_name", "determined_name", "judged_name",
)  # fmt: skip
"""CSV columns of :meth:`QueueService.export_queue` (``reasons``, ``batches`` and the two sets of a multi-label image
are ``;``-separated; the sets are empty for an image with one leaf). The ``*_name`` columns are the names the window
showed, in its language (its ids alone read as ``metal_cu`` in Excel; empty from a caller that gives no names)."""

_EXPORT_PAGE = 5000


def node_order_in_tree(taxonomy: Taxonomy) -> tuple[str, ...]:
    """Every node id of the tree in its own order (each group, then its subgroups, each followed by its types, as
    the picker and the batch list's type menu show them): the ``node_order`` of the queue's sort and grouping by
    type. By name (as before), a 150-leaf tree's "Metal particles", "Organic particles" and "Particles" groups lay
    apart, and a type's neighbours were unrelated types."""
    return taxonomy.in_tree_order()


UNDO_DEPTH = 50
"""How many of the queue's own actions Ctrl+Z can take back, newest first."""

@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows; see :func:`app.store.queries.rejudge_queue` for each field."""

    model_version: str
    reasons: tuple[str, ...] | None = None
    leaf: str | None = None
    leaves: tuple[str, ...] | None = None
    batch_id: int | None = None
    min_conf: float | None = None
    max_conf: float | None = None
    older_than: dt.datetime | dt.timedelta | None = None
    include_judged: bool = False
    states: tuple[str, ...] | None = None
    analyst: str | None = None
    node_order: tuple[str, ...] | None = None
    sort: str = "confidence"
    descending: bool = False

    def __post_init__(self) -> None:
        if not self.model_version:
            raise ValueError("the queue needs a model version (the one whose routing is shown)")
        if self.sort not in QUEUE_SORTS:
            raise ValueError(f"unknown queue sort {self.sort!r}; use one of {', '.join(QUEUE_SORTS)}")
        if self.reasons is not None and not isinstance(self.reasons, tuple):
            object.__setattr__(self, "reasons", tuple(self.reasons))

    def replace(self, **changes: Any) -> QueueFilters:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def as_kwargs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class QueueDetail:
    """What the queue's detail pane shows of one row beyond the row itself.

    Attributes:
        image_id, prediction_id: the row's image and prediction.
        path, path_scores: the predicted tree path (node ids, root level first) and each level's score.
        top5: ``(leaf, score)``, best first.
        error: why the model failed on the image (None: it did not).
        note: the image's current note (None: none).
    """

    image_id: int
    prediction_id: int
    path: tuple[str, ...]
    path_scores: tuple[float, ...]
    top5: tuple[tuple[str, float], ...]
    error: str | None
    note: str | None


class QueueService:
    """The re-judge queue over a store. The judging methods take ``waiting``: the images the analyst saw waiting;
    when one of them was decided meanwhile (another workstation), nothing is written (JudgmentConflictError).

    Args:
        engine: the SQLAlchemy engine.
        analyst: the name recorded with every judgment made from the queue.
    """

    def __init__(self, engine: Engine, analyst: str) -> None:
        if not analyst or not analyst.strip():
            raise ValueError("the analyst name must not be empty")
        self.engine = engine
        self.analyst = analyst.strip()
        self.read_only = read_only(engine)  # why judging from the queue is off (None: on)
        self._done: list[list[int]] = []  # the judgment ids of each action taken here, oldest first (Ctrl+Z)
        self._notes: list[bool] = []  # of each, whether it was a note (said so when undone)

    # -- reading -------------------------------------------------------------------------------
    def page(self, filters: QueueFilters, *, offset: int = 0, limit: int = 200, facets: bool = True) -> QueuePage:
        """One page of the queue, with its total and facet counts unless ``facets`` is False (then ``total`` is
        None: the view shows the rows first and asks for :meth:`counts` next; both run in a worker)."""
        with session_scope(self.engine, action="read") as s:
            page = queries.rejudge_queue(s, offset=offset, limit=limit, facets=facets, **filters.as_kwargs())
            held = repo.held_by_others(s, [r.image_id for r in page.rows], self.analyst) if page.rows else {}
        if not held:
            return page
        # the colleagues on a row's image now (their window claims what it shows): the queue says so, and its
        # bulk actions leave those rows to them (an accept from here interrupted them with a conflict)
        return dataclasses.replace(page, rows=[dataclasses.replace(r, held_by=held[r.image_id])
                                               if r.image_id in held else r for r in page.rows])

    def counts(self, filters: QueueFilters) -> QueuePage:
        """The total and facet counts of the queue, without rows."""
        with session_scope(self.engine, action="read") as s:
            return queries.rejudge_queue(s, rows=False, **filters.as_kwargs())

    def batches(self) -> list[tuple[int, str, dt.datetime]]:
        """Every batch as ``(id, name, created at)``, newest first (for the batch filter)."""
        with session_scope(self.engine, action="read") as s:
            return queries.batch_names(s)

    def analysts(self) -> list[str]:
        """Everyone who made a decision in the store (for the analyst filter)."""
        with session_scope(self.engine, action="read") as s:
            return queries.analysts(s)

    def detail(self, image_id: int, prediction_id: int) -> QueueDetail | None:
        """The prediction's path and Top-5 and the image's note (runs in a worker); None when the prediction is
        gone (a newer model's run replaced it)."""
        with session_scope(self.engine, action="read") as s:
            p = s.get(Prediction, prediction_id)
            if p is None or p.image_id != image_id:
                return None
            top5 = tuple((str(t.get("leaf")), float(t.get("score") or 0.0)) for t in (p.top5 or []) if t.get("leaf"))
            return QueueDetail(image_id, prediction_id, tuple(p.path or ()), tuple(float(x) for x in p.path_scores or ()),
                               top5, p.error, repo.current_note(s, image_id))

    def file_name(self, image_id: int) -> str:
        """The image's file name (where it was seen last), for a message; ``#id`` when it has none."""
        with session_scope(self.engine, action="read") as s:
            paths = repo.image_paths(s, image_id)
        return Path(paths[0]).name if paths else f"#{image_id}"

    def model_versions(self) -> list[str]:
        """Registered model version strings, most recently registered first."""
        with session_scope(self.engine, action="read") as s:
            return [m.version for m in repo.list_model_versions(s)]

    # -- judging -------------------------------------------------------------------------------
    def accept(self, image_ids: Iterable[int], *, model_version: str, waiting: Iterable[int] = ()) -> list[JudgmentRecord]:
        """Accept each image's own predicted leaf (one committed transaction for the whole selection)."""
        return self._bulk(image_ids, None, model_version, waiting=waiting)

    def relabel(self, image_ids: Iterable[int], leaf: str, *, model_version: str,
                waiting: Iterable[int] = (), action: str = "bulk") -> list[JudgmentRecord]:
        """Judge every image as ``leaf`` (accepted where it was predicted, corrected elsewhere); ``action`` is
        recorded (``topk``: a Top-5 digit on one image)."""
        if not leaf:
            raise ValueError("relabel needs a leaf id")
        return self._bulk(image_ids, leaf, model_version, waiting=waiting, action=action)

    def mark_unknown(self, image_ids: Iterable[int], *, model_version: str,
                     waiting: Iterable[int] = ()) -> list[JudgmentRecord]:
        """Judge every image "unknown / new defect type" (a kind outside the tree)."""
        return self._bulk(image_ids, None, model_version, unknown=True, waiting=waiting)

    def _bulk(self, image_ids: Iterable[int], leaf: str | None, model_version: str, *,
              unknown: bool = False, waiting: Iterable[int] = (), action: str = "bulk") -> list[JudgmentRecord]:
        with session_scope(self.engine) as s:
            records = queries.bulk_judge(
                s, image_ids, leaf=leaf, analyst=self.analyst, model_version=model_version, unknown=unknown,
                expect_undecided=tuple(waiting), action=action,
            )
        if records:
            self._remember(records)
        return records

    def confirm(self, agreed: Mapping[int, Collection[str]]) -> list[JudgmentRecord]:
        """Record this analyst's agreement with colleagues' decisions (image -> the types the key wrote; none:
        unknown): :func:`~app.store.repo.judgments.confirm_judgments`. Those changed meanwhile are left. It is its own
        Ctrl+Z: joined to the key's judgments, a colleague's later change of one of its images would keep those from
        being undone (an undo is all or nothing)."""
        if not agreed:
            return []
        with session_scope(self.engine) as s:
            records = repo.confirm_judgments(s, agreed, analyst=self.analyst)
        if records:
            self._remember(records)
        return records

    def notes(self, image_ids: Iterable[int]) -> dict[int, str]:
        """The images' current notes (images without one are absent), read when N opens the editor."""
        with session_scope(self.engine, action="read") as s:
            return repo.current_notes(s, list(image_ids))

    def note(self, image_ids: Iterable[int], note: str | None, *, seen: str | Mapping[int, str] | None = None
             ) -> list[JudgmentRecord]:
        """Set the note of every image (blank: remove it); each keeps its decision, or stays waiting. ``seen``: the
        notes as the analyst saw them when the editor opened (one image: its note; several: by image id, "" for
        none); a colleague's written since is never replaced unseen (:class:`JudgmentConflictError`)."""
        ids = list(image_ids)
        expect = None if seen is None else dict(seen) if isinstance(seen, Mapping) else \
            {ids[0]: seen} if len(ids) == 1 else None
        with session_scope(self.engine) as s:
            records = repo.note_images(s, ids, note, analyst=self.analyst, expect_notes=expect)
        if records:
            self._remember(records, note=True)
        return records

    def _remember(self, records: list[JudgmentRecord], *, note: bool = False) -> None:
        """An action taken here, for Ctrl+Z (the oldest forgotten past :data:`UNDO_DEPTH`)."""
        self._done.append([r.id for r in records])
        self._notes.append(note)
        del self._done[:-UNDO_DEPTH], self._notes[:-UNDO_DEPTH]

    @property
    def undo_is_note(self) -> bool:
        """Whether the action the next :meth:`undo_last` undoes was a note (its line says "note", not "judgment")."""
        return bool(self._notes) and self._notes[-1]

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    def undo_last(self) -> list[JudgmentRecord]:
        """Undo the last action taken here not undone yet, all or nothing (appends undo rows; history stays
        append-only); the next undoes the one before it (up to :data:`UNDO_DEPTH`; it undid only the last one).

        Raises:
            JudgmentConflictError: one of the images was judged again since; nothing is undone, and that action
                leaves the history (the next undo goes to the one before it).
        """
        if not self._done:
            return []
        try:
            with session_scope(self.engine) as s:
                records = [repo.revert_judgment(s, jid, analyst=self.analyst) for jid in reversed(self._done[-1])]
        except JudgmentConflictError:
            self._done.pop()  # it can no longer be undone: the next undo goes to the one before
            self._notes.pop()
            raise
        self._done.pop()  # (a database that could not be written keeps it: the next Ctrl+Z tries it again)
        self._notes.pop()
        return records[::-1]

    # -- export --------------------------------------------------------------------------------
    def export_queue(self, out_csv: str | os.PathLike[str], filters: QueueFilters,
                     name: Callable[[str], str] | None = None) -> int:
        """Write every row the filters match (all pages, in the queue's order) to a CSV; returns the count.
        ``name`` gives a node's name for the ``*_name`` columns (the window's, in its language).

        The file is written next to its target and moved into place at the end, so a failed export never
        leaves half a file. Paths are absolute; times are ISO 8601 UTC.
        """
        out = Path(out_csv).expanduser().absolute()
        if out.is_dir():
            raise ExportError(f"{out} is a folder; give a file name such as queue.csv", "is_folder", out=str(out),
                              example="queue.csv")
        if is_store_file(self.engine.url, out):
            raise ExportError(f"{out} is the database the judgments are kept in; give a file name such as queue.csv",
                              "is_store", out=str(out))
        out.parent.mkdir(parents=True, exist_ok=True)
        count = 0
        with replacing(out, bom=True) as handle:  # for Excel (models.atomic.replacing)
            writer = CsvWriter(handle)
            writer.writerow(EXPORT_COLUMNS)
            with session_scope(self.engine, action="read") as s:  # one snapshot for every page
                offset = 0
                while True:
                    page = queries.rejudge_queue(
                        s, offset=offset, limit=_EXPORT_PAGE, facets=False, **filters.as_kwargs()
                    )
                    writer.writerows(_csv_values(r, name) for r in page.rows)
                    count += len(page.rows)
                    offset += len(page.rows)
                    if len(page.rows) < _EXPORT_PAGE:
                        break
        return count


def _csv_values(row: QueueRow, name: Callable[[str], str] | None = None) -> list[str]:
    def names(*leaves: str | None) -> str:
        return "" if name is None else " + ".join(name(leaf) for leaf in leaves if leaf)

    return [
        row.path,
        str(row.image_id),
        row.leaf or "",
        "" if row.confidence is None else f"{row.confidence:.6f}",
        ";".join(row.reasons),
        "" if row.unknown_score is None else f"{row.unknown_score:.6f}",
        row.created_at.isoformat(),
        ";".join(row.batch_names),
        row.state,
        row.judged_leaf or "",
        row.judged_by or "",
        row.determined or "",
        ";".join(row.labels),
        ";".join(row.judged_labels),
        names(*(row.labels or (row.leaf,))),
        names(row.determined),
        names(*(row.judged_labels or (row.judged_leaf,))),
    ]
