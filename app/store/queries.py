"""Cross-batch queries: the re-judge queue (its bulk judgments are :mod:`app.store.bulk`).

Repository-style functions: each takes an open Session (the caller owns the transaction) and returns
frozen records, never ORM objects. The dashboard aggregates live in :mod:`app.store.stats`.

The re-judge queue is built for stores of a few hundred thousand images: every filter is an index
lookup (``predictions (model_version_id, route)``, ``prediction_reasons`` primary key,
``batch_images (batch_id, image_id)``, ``judgments (image_id, id)``), the counts are two GROUP BY
queries, and only the requested page is read back with its paths and batches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.store import repo
from app.store.bulk import bulk_judge  # (re-exported: the queue's bulk actions)
from app.store.queue_order import REASONS, by_determined_ids, by_type_ids, order_terms
from app.store.records import BLIND_REASONS
from app.store.schema import (
    IMAGE_PATH_ORDER,
    JUDGED_STATUSES,
    Batch,
    BatchImage,
    Image,
    ImagePath,
    Judgment,
    ModelVersion,
    Prediction,
    PredictionReason,
    decider,
)

__all__ = [
    "QUEUE_SORTS",
    "QUEUE_STATES",
    "REASONS",
    "QueuePage",
    "QueueRow",
    "analysts",
    "batch_names",
    "bulk_judge",
    "latest_paths",
    "model_version_id",
    "rejudge_queue",
    "seen_last_at",
    "written_over",
]

QUEUE_SORTS: tuple[str, ...] = ("confidence", "age", "leaf", "batch", "reason", "determined")
"""Sort keys of :func:`rejudge_queue`."""
QUEUE_STATES: tuple[str, ...] = ("rejudge", "accepted", "corrected", "unknown")
"""A queue row's states (:attr:`QueueRow.state`): still waiting, or the status of its current decision."""

MAX_PAGE = 10_000
PER_ROW_DEPTH = 10_000
"""Pages ending deeper in the queue test every row against sets built once (the lookups of 20,000 rows read past
cost more than the sets: ``python -m bench tree``)."""
_JUDGED = sorted(JUDGED_STATUSES)
_CHUNK = 500


@dataclass(frozen=True)
class QueueRow:
    """One image waiting for (or, with ``include_judged``, back from) a person.

    Attributes:
        image_id, prediction_id: the image and the prediction that sent it to the queue.
        path: the path the image was seen at most recently ("" when none is known).
        batch_ids, batch_names: every batch the image belongs to, oldest batch first.
        leaf, confidence: the predicted leaf and its score (None when the model failed on the image).
        reasons: routing reason codes (:data:`models.routing.policy.REASONS`).
        unknown_score: the novelty score, when the model has one.
        created_at: when the prediction was made (the queue's "age" starts there).
        state: ``rejudge`` while no decision is current, else the current status
            (``accepted``/``corrected``/``unknown``).
        judged_leaf, judged_by: the current decision's leaf and analyst (None while waiting).
        determined: the deepest node of the predicted path the calibration determined (a group or subgroup:
            "Particle, pick the type"; the leaf itself for an image held back by the monitor), or None.
        labels, judged_labels: a multi-label prediction's set and the decision's set (``leaf`` / ``judged_leaf``
            first) when they hold more than one leaf, else empty (issue #20).
        held_by: the colleague whose window is on the image now (a live claim), or None (filled by
            :meth:`app.services.queue.QueueService.page`).
        replaced: its path was seen later holding another picture (the file written over): nothing to show of it
            (the queue showed that picture under the prediction, and Enter accepted it).
    """

    image_id: int
    prediction_id: int
    path: str
    batch_ids: tuple[int, ...]
    batch_names: tuple[str, ...]
    leaf: str | None
    confidence: float | None
    reasons: tuple[str, ...]
    unknown_score: float | None
    created_at: dt.datetime
    state: str = "rejudge"
    judged_leaf: str | None = None
    judged_by: str | None = None
    determined: str | None = None
    labels: tuple[str, ...] = ()
    judged_labels: tuple[str, ...] = ()
    held_by: str | None = None
    replaced: bool = False

    @property
    def predicted_set(self) -> tuple[str, ...]:
        """Every leaf predicted (``leaf`` alone for a single-label prediction; empty when the model failed)."""
        return self.labels or ((self.leaf,) if self.leaf else ())

    @property
    def judged_set(self) -> tuple[str, ...]:
        """Every leaf of the current decision (empty while waiting or for an unknown)."""
        return self.judged_labels or ((self.judged_leaf,) if self.judged_leaf else ())

    @property
    def batch_name(self) -> str:
        """The batch names joined for display."""
        return ", ".join(self.batch_names)

    def age(self, now: dt.datetime | None = None) -> dt.timedelta:
        """How long the image has waited since its prediction."""
        return (now or dt.datetime.now(dt.UTC)) - self.created_at


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue.

    Attributes:
        rows: the page, in the requested order.
        total: rows matching every filter (over all pages); None when not counted (``facets=False``).
        counts_by_reason: per reason code, rows matching every filter except ``reasons`` (facet counts
            for a reason filter; a row with two reasons counts under both).
        counts_by_leaf: per predicted leaf, rows matching every filter except ``leaf`` (None = no leaf).
        counts_by_determined: with ``sort="determined"``, per determined node, rows matching every filter
            (None = nothing determined); empty otherwise.
        offset, limit: the page asked for.
        blind_waiting: blind spot checks of the model version waiting in the batches the filters keep (the batch
            and age filters only: the leaf, reason and confidence filters would tell their hidden call), counted
            with the facets when waiting images are listed. They are judged in their batch's window, never in the
            queue; the count says so.
        other_model: images waiting for a person under another model version's prediction only (a batch
            predicted by a model not loaded now; the batch filter kept), counted with ``blind_waiting``: the queue
            lists the loaded model's, and a lead read the backlog 16 short without a word.
    """

    rows: list[QueueRow]
    total: int | None
    counts_by_reason: dict[str, int] = field(default_factory=dict)
    counts_by_leaf: dict[str | None, int] = field(default_factory=dict)
    counts_by_determined: dict[str | None, int] = field(default_factory=dict)
    offset: int = 0
    limit: int = 200
    blind_waiting: int = 0
    other_model: int = 0


# ------------------------------------------------------------------------------------------ helpers
def model_version_id(session: Session, version: str) -> int | None:
    """The row id of a registered model version, or None."""
    return session.scalar(select(ModelVersion.id).where(ModelVersion.version == version))


def _chunks(ids: Sequence[int], size: int = _CHUNK) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield [int(i) for i in ids[start : start + size]]


def _decided_images(statuses: Sequence[str] = _JUDGED, analyst: str | None = None) -> Any:
    """Images whose current (latest) judgment is a decision (one of ``statuses``; by ``analyst`` when given): one
    pass over index (image_id, id)."""
    current = select(func.max(Judgment.id).label("jid")).group_by(Judgment.image_id).subquery()
    stmt = (
        select(Judgment.image_id)
        .join(current, current.c.jid == Judgment.id)
        .where(Judgment.status.in_(list(statuses)))
    )
    return stmt if analyst is None else stmt.where(decider() == analyst)


def _cutoff(older_than: dt.datetime | dt.timedelta) -> dt.datetime:
    if isinstance(older_than, dt.timedelta):
        return dt.datetime.now(dt.UTC) - older_than
    if older_than.utcoffset() is None:
        raise ValueError(f"older_than {older_than.isoformat()} is naive; pass a timezone-aware datetime")
    return older_than


def _check_range(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1 (a confidence), got {value}")
    return value


def _current_status() -> Any:
    """Correlated: the status of the image's current (latest) judgment, ``pending`` when it has none."""
    latest = (
        select(Judgment.status)
        .where(Judgment.image_id == Prediction.image_id)
        .order_by(Judgment.id.desc())
        .limit(1)
        .correlate(Prediction)
        .scalar_subquery()
    )
    return func.coalesce(latest, "pending")


def _waiting(
    include_judged: bool, states: Collection[str] | None, analyst: str | None, *, per_row: bool
) -> list[ColumnElement[bool]]:
    """The queue's rows by judgment: waiting ones (not decided, blind checks excluded: they are judged in their
    batch, never here, since the leaf filter and grouping would show the call), or with ``include_judged`` the
    decided ones too (decided blind checks are listed as any other), kept to ``states`` / ``analyst``.

    ``per_row`` looks each row's judgment up (cheap for the rows of one page); else every row is tested against
    the set of decided images, built once (a correlated EXISTS over the whole queue was 1.7x slower,
    bench.store_queue)."""
    if per_row:
        status = _current_status()
        is_blind = exists().where(PredictionReason.prediction_id == Prediction.id,
                                  PredictionReason.reason.in_(sorted(BLIND_REASONS)))
        terms = [status.not_in(_JUDGED), ~is_blind] if not include_judged else [or_(~is_blind, status.in_(_JUDGED))]
        if states is not None:  # waiting: any status but a decision's
            decided = set(states) & set(_JUDGED)
            terms.append(status.not_in(sorted(set(_JUDGED) - decided)) if "rejudge" in states
                         else status.in_(sorted(decided)) if decided else false())
        return terms
    blind = _blind_predictions()
    if not include_judged:
        return [Prediction.image_id.not_in(_decided_images()), Prediction.id.not_in(blind)]
    other = aliased(Prediction)
    terms = [Prediction.id.not_in(blind.join(other, other.id == PredictionReason.prediction_id)
                                  .where(other.image_id.not_in(_decided_images())))]
    if states is not None or analyst is not None:
        terms.append(_state_filter(set(QUEUE_STATES) if states is None else set(states), analyst))
    return terms


def _blind_predictions() -> Select:
    """The ids of the predictions routed to a person as blind checks (a few per cent: looked up by reason)."""
    return select(PredictionReason.prediction_id).where(PredictionReason.reason.in_(sorted(BLIND_REASONS)))


def _state_filter(states: set[str], analyst: str | None) -> ColumnElement[bool]:
    """Rows in one of ``states`` (waiting = ``rejudge``, else the current decision's status), and with
    ``analyst``, only decisions of that analyst."""
    decided = sorted(states & set(_JUDGED))
    parts: list[ColumnElement[bool]] = []
    if "rejudge" in states and analyst is None:
        parts.append(Prediction.image_id.not_in(_decided_images()))
    if decided:
        parts.append(Prediction.image_id.in_(_decided_images(decided, analyst)))
    return or_(*parts) if parts else false()


# ------------------------------------------------------------------------------------------ queue
def rejudge_queue(
    session: Session,
    *,
    model_version: str,
    reasons: Collection[str] | None = None,
    leaf: str | None = None,
    leaves: Collection[str] | None = None,
    batch_id: int | None = None,
    min_conf: float | None = None,
    max_conf: float | None = None,
    older_than: dt.datetime | dt.timedelta | None = None,
    include_judged: bool = False,
    states: Collection[str] | None = None,
    analyst: str | None = None,
    node_order: Sequence[str] | None = None,
    sort: str = "confidence",
    descending: bool = False,
    offset: int = 0,
    limit: int = 200,
    facets: bool = True,
    rows: bool = True,
) -> QueuePage:
    """The re-judge queue across all batches: images whose prediction was routed to a person.

    An image is in the queue when its prediction of ``model_version`` has route ``rejudge`` and its
    current judgment is not a decision (never judged, or undone back to pending). With
    ``include_judged`` the images judged since are listed too (their ``state`` says how).

    Args:
        session: an open session (reads only).
        model_version: the model version whose routing is used; an unregistered version has an empty queue.
        reasons: keep images with ANY of these reason codes.
        leaf: keep images predicted as this leaf.
        leaves: keep images predicted as any of these (the leaves under a group or subgroup); with ``leaf``, both.
        batch_id: keep images that belong to this batch.
        min_conf, max_conf: keep confidences in ``[min_conf, max_conf]`` (predictions without one drop out).
        older_than: keep predictions made before this time, or at least this long ago (a timedelta).
        include_judged: also list images whose current judgment is a decision.
        states: keep only these states (:data:`QUEUE_STATES`: ``rejudge`` = still waiting, or the status of the
            current decision); decided states need no ``include_judged``.
        analyst: keep only images whose current decision this analyst made.
        node_order: the order of leaf and node ids for the ``leaf`` and ``determined`` sorts (the app passes
            them in the tree's order); ids not in it come after, by id. None: by id.
        sort: ``confidence`` (least sure first), ``age`` (oldest first), ``leaf`` (then confidence),
            ``batch`` (arrival order: the batch an image was first opened in, oldest first, then its place
            there), ``reason`` (in the order of ``models.routing.policy.REASONS``, then confidence) or
            ``determined`` (by determined node, then leaf and confidence; the page then counts each node).
            Ties go by image id.
        descending: reverse the whole order.
        offset, limit: the page (``limit`` at most 10 000).
        facets: count the total and the facets (a scan of the whole queue: the app asks for them after the rows,
            and never for the next pages); False: ``total`` is None and the counts are empty.
        rows: read the page's rows (False: the counts only).

    Raises:
        ValueError: an unknown sort key or state, a confidence outside [0, 1], a naive ``older_than``, or a bad
            page.
    """
    if states is not None and (bad := sorted(set(states) - set(QUEUE_STATES))):
        raise ValueError(f"unknown queue state(s) {', '.join(bad)}; use {', '.join(QUEUE_STATES)}")
    if states is not None and set(states) == {"rejudge"} and analyst is None and not include_judged:
        states = None  # the waiting queue itself: its own (faster) path
    if states is not None or analyst is not None:
        include_judged = True  # the state filter below decides which rows stay
    if sort not in QUEUE_SORTS:
        raise ValueError(f"unknown queue sort {sort!r}; use one of {', '.join(QUEUE_SORTS)}")
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"bad page offset={offset} limit={limit} (offset >= 0, 1 <= limit <= {MAX_PAGE})")
    min_conf = _check_range("min_conf", min_conf)
    max_conf = _check_range("max_conf", max_conf)
    version_id = model_version_id(session, model_version)
    if version_id is None:
        return QueuePage(rows=[], total=0, offset=offset, limit=limit)

    scope: list[ColumnElement[bool]] = [Prediction.model_version_id == version_id, Prediction.route == "rejudge"]
    # A page in an index's order is read in it and stops once full: each row read looks up its image's current
    # judgment (SQLite, the first page by confidence 0.045 s against 0.15 s). Pages sorted over the whole queue,
    # a batch's pages (few of the rows read are in it) and the counts test every row against the sets of decided
    # images and blind checks, built once.
    per_row = (session.get_bind().dialect.name == "sqlite" and sort in ("confidence", "leaf", "determined")
               and batch_id is None and analyst is None and offset + limit <= PER_ROW_DEPTH)
    in_batch: list[ColumnElement[bool]] = [] if batch_id is None else [
        exists().where(BatchImage.batch_id == batch_id, BatchImage.image_id == Prediction.image_id)]
    filters: list[ColumnElement[bool]] = [*in_batch]
    if min_conf is not None:
        filters.append(Prediction.confidence >= min_conf)
    if max_conf is not None:
        filters.append(Prediction.confidence <= max_conf)
    by_age = [] if older_than is None else [Prediction.created_at < _cutoff(older_than)]
    filters.extend(by_age)
    base = [*scope, *_waiting(include_judged, states, analyst, per_row=False), *filters]
    by_leaf = [Prediction.leaf == leaf] if leaf is not None else []
    if leaves is not None:
        by_leaf.append(Prediction.leaf.in_(sorted(set(leaves))) if leaves else false())
    wanted = sorted({str(r) for r in reasons}) if reasons is not None else None
    by_reason: list[ColumnElement[bool]] = []
    if wanted is not None:
        by_reason.append(
            exists().where(
                PredictionReason.prediction_id == Prediction.id, PredictionReason.reason.in_(wanted)
            )
        )

    total: int | None = None
    counts_by_leaf: dict[str | None, int] = {}
    counts_by_reason: dict[str, int] = {}
    counts_by_determined: dict[str | None, int] = {}
    blind_waiting = other_model = 0
    if facets and analyst is None and (states is None or "rejudge" in states):
        blind_waiting = int(session.scalar(select(func.count()).select_from(Prediction).where(
            *scope, *in_batch, *by_age, Prediction.image_id.not_in(_decided_images()),
            Prediction.id.in_(_blind_predictions()))) or 0)
        others = list(session.scalars(select(ModelVersion.id).where(ModelVersion.id != version_id)))
        loaded = aliased(Prediction)  # (by the other versions' ids: the queue's index, none read when there are none)
        other_model = int(session.scalar(select(func.count(func.distinct(Prediction.image_id))).where(
            Prediction.model_version_id.in_(others), Prediction.route == "rejudge", *in_batch, *by_age,
            Prediction.image_id.not_in(_decided_images()), Prediction.id.not_in(_blind_predictions()),
            ~exists().where(loaded.image_id == Prediction.image_id, loaded.model_version_id == version_id))) or 0) \
            if others else 0
    if facets:
        # Grouping by an expression keeps SQLite on the covering index (not the (version, leaf) one).
        leaf_key = func.coalesce(Prediction.leaf, "")
        counts_by_leaf = {
            lf or None: int(n)
            for lf, n in session.execute(
                select(leaf_key, func.count()).where(*base, *by_reason).group_by(leaf_key)
            )
        }
        kept = {leaf} if leaf is not None else set(counts_by_leaf)
        kept &= set(leaves) if leaves is not None else kept
        total = sum(n for lf, n in counts_by_leaf.items() if lf in kept)
        in_queue = select(Prediction.id).where(*base, *by_leaf)  # served by the covering index
        counts_by_reason = {
            str(r): int(n)
            for r, n in session.execute(
                select(PredictionReason.reason, func.count())
                .where(PredictionReason.prediction_id.in_(in_queue))
                .group_by(PredictionReason.reason)
            )
        }
        if wanted is not None and not wanted:  # an empty reason set matches nothing
            total = 0
        if sort == "determined" and total:
            node_key = func.coalesce(Prediction.determined, "")
            counts_by_determined = {
                node or None: int(n)
                for node, n in session.execute(
                    select(node_key, func.count()).where(*base, *by_leaf, *by_reason).group_by(node_key)
                )
            }
    page_rows: list[QueueRow] = []
    if rows and (total is None or (total and offset < total)) and not (wanted is not None and not wanted):
        # Sort and cut on the index first; read the wide rows of this page only.
        dialect, where = session.get_bind().dialect.name, [*base, *by_leaf, *by_reason]
        ids: list[int] | None = None
        if per_row:
            read = [*scope, *_waiting(include_judged, states, analyst, per_row=True), *filters, *by_leaf, *by_reason]
            if sort == "leaf":
                ids = by_type_ids(session, read, node_order, descending, offset, limit)
            elif sort == "determined":
                ids = by_determined_ids(session, scope, read, node_order, descending, offset, limit)
            else:  # by confidence: the order of index ix_predictions_queue
                ids = list(session.scalars(select(Prediction.id).where(*read).order_by(
                    *order_terms(sort, descending)).offset(offset).limit(limit)))
        if ids is None:  # the whole queue sorted
            ids = list(session.scalars(select(Prediction.id).where(*where).order_by(
                *order_terms(sort, descending, node_order, dialect)).offset(offset).limit(limit)))
        page_rows = _queue_rows(session, ids)
    return QueuePage(
        rows=page_rows,
        total=total,
        counts_by_reason=counts_by_reason,
        counts_by_leaf=counts_by_leaf,
        counts_by_determined=counts_by_determined,
        offset=offset,
        limit=limit,
        blind_waiting=blind_waiting,
        other_model=other_model,
    )


def _queue_rows(session: Session, prediction_ids: Sequence[int]) -> list[QueueRow]:
    """The page's rows (a few hundred at most), in the given order, with paths, batches and judgments."""
    found: dict[int, Any] = {}
    for chunk in _chunks(prediction_ids):
        stmt = select(
            Prediction.id,
            Prediction.image_id,
            Prediction.leaf,
            Prediction.confidence,
            Prediction.reasons,
            Prediction.unknown_score,
            Prediction.created_at,
            Prediction.determined,
            Prediction.labels,
        ).where(Prediction.id.in_(chunk))
        found.update((r.id, r) for r in session.execute(stmt))
    page = [found[i] for i in prediction_ids if i in found]
    ids = [r.image_id for r in page]
    paths = latest_paths(session, ids)
    gone = written_over(session, paths)
    batches: dict[int, list[tuple[int, str]]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        stmt = (
            select(BatchImage.image_id, Batch.id, Batch.name)
            .join(Batch, Batch.id == BatchImage.batch_id)
            .where(BatchImage.image_id.in_(chunk))
            .order_by(Batch.id)
        )
        for image_id, b_id, name in session.execute(stmt):
            batches[image_id].append((b_id, name))
    current = repo.current_judgments(session, ids)
    rows = []
    for r in page:
        j = current.get(r.image_id)
        decided = j is not None and j.is_decision
        rows.append(
            QueueRow(
                image_id=r.image_id,
                prediction_id=r.id,
                path=paths.get(r.image_id, ""),
                batch_ids=tuple(b for b, _ in batches[r.image_id]),
                batch_names=tuple(n for _, n in batches[r.image_id]),
                leaf=r.leaf,
                confidence=r.confidence,
                reasons=tuple(r.reasons or ()),
                unknown_score=r.unknown_score,
                created_at=r.created_at,
                state=j.status if decided else "rejudge",
                judged_leaf=j.leaf if decided else None,
                judged_by=j.decider if decided else None,
                determined=r.determined,
                labels=tuple(r.labels) if r.labels and len(r.labels) > 1 else (),
                judged_labels=j.labels if decided and len(j.labels) > 1 else (),
                replaced=r.image_id in gone,
            )
        )
    return rows


def analysts(session: Session) -> list[str]:
    """Everyone who made a decision in this store, by name (the queue's analyst filter)."""
    who = decider()
    stmt = select(who).where(Judgment.status.in_(_JUDGED)).distinct().order_by(who)
    return [str(a) for a in session.scalars(stmt)]


def latest_paths(session: Session, image_ids: Sequence[int]) -> dict[int, str]:
    """Per image, its path by :data:`~app.store.schema.IMAGE_PATH_ORDER` (the most recently seen; its own name first)."""
    found: dict[int, str] = {}
    for chunk in _chunks(image_ids):
        stmt = select(ImagePath.image_id, ImagePath.path).where(ImagePath.image_id.in_(chunk)).order_by(
            *IMAGE_PATH_ORDER)
        for image_id, path in session.execute(stmt):
            found.setdefault(image_id, path)
    return found


def written_over(session: Session, paths: dict[int, str]) -> set[int]:
    """Of ``{image id: its latest path}``, the images whose path was seen later holding another image: the file
    written over with another picture (a similar case showed that picture under the judged image's type)."""
    newest = seen_last_at(session, paths.values())  # (a few: the similar cases shown, a page)
    return {i for i, p in paths.items() if p in newest and newest[p][0] != i}


def seen_last_at(session: Session, paths: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Per path, the image seen there most recently, as ``(image id, sha256)`` (paths never seen are left out)."""
    newest: dict[str, tuple[dt.datetime, int, int, str]] = {}
    wanted = sorted({p for p in paths if p})
    for start in range(0, len(wanted), _CHUNK):
        stmt = (select(ImagePath.path, ImagePath.last_seen_at, ImagePath.id, ImagePath.image_id, Image.sha256)
                .join(Image, Image.id == ImagePath.image_id).where(ImagePath.path.in_(wanted[start : start + _CHUNK])))
        for path, seen, pid, image_id, sha in session.execute(stmt):
            if path not in newest or (seen, pid) > newest[path][:2]:
                newest[path] = (seen, pid, image_id, sha)
    return {path: (image_id, sha) for path, (_seen, _pid, image_id, sha) in newest.items()}


def batch_names(session: Session) -> list[tuple[int, str, dt.datetime]]:
    """Every batch as ``(id, name, created at)``, newest first (for filter menus; no progress counts)."""
    stmt = select(Batch.id, Batch.name, Batch.created_at).order_by(Batch.created_at.desc(), Batch.id.desc())
    return [(int(i), str(n), at) for i, n, at in session.execute(stmt)]
