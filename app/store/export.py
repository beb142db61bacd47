"""Export judged labels: a training manifest CSV, an ImageFolder tree, or JSON.

One row per image: its CURRENT judgment. Images never judged, or undone back to pending, are not judged and
not exported (nor listed in :attr:`ExportResult.skipped`, which is for judged images left out). The CSV starts with
``path,label`` and is directly a manifest for ``fma-model train``: ``label`` is the leaf id, or
``unknown:unlabelled`` for images marked "unknown / new defect type" (training uses them as outlier
exposure when ``loss.outlier_weight`` > 0 and skips them otherwise; nothing is lost). Rows are streamed from the database (``yield_per``), so large stores export in seconds.

FTIR spectra travel with the labels too (issue #20): when an exported image has spectra, the CSV gets the
manifest's ``spectrum`` column (its files' paths, ``;`` between several) and the JSON's ``spectra`` list holds
them; an ImageFolder export copies them beside the image copy, named after it (``<sha8>_P001.png`` and
``<sha8>_P001.jdx``: the app pairs them again by name).

Images no person decided come only when asked for (:data:`UNDECIDED_STATUSES`; csv and json only: training reads an
image folder's class folders as labels), after the judged rows, so a batch's export accounts for every image:
``auto`` (``label`` the model's leaf, or set), ``waiting`` and ``unreadable`` (``label`` empty); ``analyst`` empty,
``judged_at`` the prediction's time, else the image's first sighting (``since`` filters on it). Training skips them
(:func:`models.data.manifest.read_manifest` reads the ``status`` column).

Notes travel with the labels: the CSV's last column and the JSON's ``note`` field hold each image's note;
an ImageFolder export also writes ``notes.csv`` (``path,note``: the copied image's path relative to the
export folder, one row per image that has a note), next to its ``manifest.csv`` (which has the ``note``
column too). One file rather than a ``.txt`` beside each image: the class folders hold images only.

CLI: ``fma-judge export`` (:mod:`app.commands`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from app.store.db import translate_errors
from app.store.errors import ExportError
from app.store.export_files import check_out, write_csv, write_imagefolder, write_json
from app.store.queries import seen_last_at
from app.store.records import AUTO_STATUS, BLIND_REASONS, UNKNOWN_LABEL, ExportRow, is_blind
from app.store.repo._common import _batched, _current_ids, newest_and_decided, normalize_folder
from app.store.repo.batches import batch_by_ref
from app.store.repo.spectra import any_spectra, spectrum_paths
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
    decided_time,
    decider,
    unreadable_error,
)
from app.store.urls import is_store_file
from models.bundle.manifest import BundleError, taxonomy_from_json
from models.data.manifest import (
    LABELS_SEPARATOR,
    NOT_LABELS,
)
from models.taxonomy import Taxonomy

FORMATS: tuple[str, ...] = ("csv", "imagefolder", "json")
AUTO = AUTO_STATUS
"""The status filter's value for auto-judged images no person decided (left out unless asked for)."""
UNDECIDED_STATUSES: tuple[str, ...] = tuple(NOT_LABELS)  # auto, waiting, unreadable: the statuses training skips
"""The statuses of the images no person decided, exported only when asked for (module doc)."""
EXPORT_STATUSES: frozenset[str] = JUDGED_STATUSES | frozenset(UNDECIDED_STATUSES)
_YIELD_PER = 2000


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    Attributes:
        count: rows exported.
        path: the CSV/JSON file, or the folder for ``imagefolder``.
        skipped: ``(path, reason)`` for judged images in scope that were not exported (leaf not in the
            taxonomy, file missing when copying, or holding another picture than the one judged: written over). An
            image undone back to pending is not judged: not listed.
        missing: the paths of CSV or JSON rows written whose file is not there now (moved or deleted since it was
            judged), or holds another picture now (written over): the label is kept, but training on the export
            skips them (a file written over, by its sha256).
        undecided: of ``count``, the rows of images no person decided (auto, waiting, unreadable).
        removed: ``imagefolder``: the copies an earlier export into the folder made of images this one copied under
            another type (relabelled since: it had a copy under each, and trained as both), removed.
        kept: ``imagefolder``: the copies an earlier export into the folder made that this one does not list (outside
            its scope, or their file gone since: perhaps the only copy left), left in place.
    """

    count: int
    path: Path
    skipped: tuple[tuple[str, str], ...] = ()
    missing: tuple[str, ...] = ()
    undecided: int = 0
    removed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------ taxonomy
class _LeafPaths:
    """Leaf id -> ``group/sub/leaf``, via a given taxonomy or the one embedded in each model version."""

    def __init__(self, session: Session, taxonomy: Taxonomy | None) -> None:
        self._session = session
        self._fixed = taxonomy
        self._by_version: dict[str, Taxonomy | None] = {}
        self._newest: Taxonomy | None = None
        self._newest_loaded = False
        self._paths: dict[tuple[int, str], str | None] = {}

    def _load(self, version: str | None) -> Taxonomy | None:
        """The taxonomy embedded in a model version's manifest (None: the newest registered version)."""
        stmt = select(ModelVersion.manifest)
        if version is not None:
            stmt = stmt.where(ModelVersion.version == version)
        manifest = self._session.scalar(stmt.order_by(ModelVersion.registered_at.desc()).limit(1))
        if not isinstance(manifest, dict):
            return None
        try:
            return taxonomy_from_json(manifest, source=f"model version {version or '(newest)'}")
        except BundleError:
            return None

    def taxonomy(self, version: str | None) -> Taxonomy | None:
        """The given taxonomy, else the version's own, else the newest registered version's."""
        if self._fixed is not None:
            return self._fixed
        if version and version not in self._by_version:
            self._by_version[version] = self._load(version)
        found = self._by_version.get(version) if version else None
        if found is not None:
            return found
        if not self._newest_loaded:
            self._newest, self._newest_loaded = self._load(None), True
        return self._newest

    def path(self, leaf: str, version: str | None) -> str | None:
        """The full path; ``""`` when no taxonomy is known; None when the leaf is not a class of it."""
        taxonomy = self.taxonomy(version)
        if taxonomy is None:
            return ""
        key = (id(taxonomy), leaf)
        if key not in self._paths:
            ok = leaf in taxonomy and taxonomy.node(leaf).is_leaf
            self._paths[key] = "/".join(taxonomy.path(leaf)) if ok else None
        return self._paths[key]


# ------------------------------------------------------------------------------------------ query
def _aware(since: dt.datetime) -> dt.datetime:
    """Naive times are local wall-clock time (what an analyst types)."""
    return since if since.tzinfo is not None else since.astimezone()


def _check_statuses(statuses: Collection[str] | None) -> frozenset[str]:
    if statuses is None:
        return JUDGED_STATUSES
    chosen = frozenset(statuses)
    bad = sorted(chosen - EXPORT_STATUSES)
    if bad or not chosen:
        raise ExportError(
            f"unknown status filter {', '.join(bad) or '(empty)'}; use some of {', '.join(sorted(EXPORT_STATUSES))}"
        )
    return chosen


def _current(stmt: Select, batch_id: int | None, since: dt.datetime | None, statuses: Collection[str]) -> Select:
    """``stmt`` over each image's current judgment (its newest), in the batch, of these statuses, made since."""
    cur = _current_ids(None if batch_id is None else Judgment.image_id.in_(
        select(BatchImage.image_id).where(BatchImage.batch_id == batch_id))).subquery()
    stmt = (stmt.select_from(cur).join(Judgment, Judgment.id == cur.c.jid)
            .where(Judgment.status.in_(sorted(set(statuses) & JUDGED_STATUSES))))
    return stmt if since is None else stmt.where(Judgment.created_at >= _aware(since))


def _undecided_state() -> Any:
    """SQL for an undecided image's state (over ``Image`` and its newest ``Prediction``, outer-joined), as the batch
    list counts them: ``unreadable``, ``auto`` or ``waiting``."""
    unreadable = or_(unreadable_error(Prediction.error), and_(Prediction.id.is_(None), Image.width.is_(None)))
    return case((unreadable, literal("unreadable")),
                (and_(Prediction.route == AUTO, Prediction.leaf.is_not(None)), literal(AUTO)), else_=literal("waiting"))


def _undecided(stmt: Select, batch_id: int | None, since: dt.datetime | None, wanted: Collection[str]) -> Select:
    """``stmt`` over the images of the batch (of any batch) no person decided whose state (:func:`_undecided_state`)
    is ``wanted``, their newest prediction (or its time, else the image's first sighting) made since; the image's
    current judgment (a note, an undo) and its newest prediction outer-joined."""
    scope = select(BatchImage.image_id).where(BatchImage.batch_id == batch_id) if batch_id is not None else \
        select(BatchImage.image_id).distinct()
    members = scope.subquery()
    newest, cur, decided = newest_and_decided(select(members.c.image_id))  # (its current judgments, once)
    stmt = (stmt.select_from(members).join(Image, Image.id == members.c.image_id)
            .outerjoin(newest, newest.c.image_id == Image.id).outerjoin(Prediction, Prediction.id == newest.c.pid)
            .outerjoin(cur, cur.c.image_id == Image.id).outerjoin(Judgment, Judgment.id == cur.c.jid)
            .where(Image.id.not_in(decided), _undecided_state().in_(sorted(wanted))))
    if since is not None:
        stmt = stmt.where(func.coalesce(Prediction.created_at, Image.first_seen_at) >= _aware(since))
    return stmt


def count_export_rows(session: Session, *, batch_id: int | None = None, since: dt.datetime | None = None,
                      statuses: Collection[str] | None = None) -> int:
    """How many images an export with these filters would write, at most (one whose leaf is not in its model's
    taxonomy is still counted here, then skipped by the export)."""
    chosen = _check_statuses(statuses)
    n = 0
    if chosen & JUDGED_STATUSES:
        n += int(session.execute(_current(select(func.count()), batch_id, since, chosen)).scalar_one())
    if undecided := chosen.intersection(UNDECIDED_STATUSES):
        n += int(session.execute(_undecided(select(func.count()), batch_id, since, undecided)).scalar_one())
    return n


def iter_export_rows(
    session: Session,
    *,
    batch_id: int | None = None,
    since: dt.datetime | None = None,
    statuses: Collection[str] | None = None,
    taxonomy: Taxonomy | None = None,
    with_history: bool = False,
    skipped: list[tuple[str, str]] | None = None,
) -> Iterator[ExportRow]:
    """Stream the export rows (one per image, its current judgment), oldest judgment first.

    Args:
        session: an open session (reads only).
        batch_id: only images of this batch.
        since: only judgments made at or after this time (naive = local time).
        statuses: subset of accepted/corrected/unknown (default all three) and ``auto`` (module doc).
        taxonomy: resolve leaf paths with this taxonomy instead of the model versions' embedded ones.
        with_history: fill :attr:`ExportRow.history_count`.
        skipped: receives ``(path, reason)`` for judged images in scope that are not exported (an image undone
            back to pending is not judged, and not listed).
    """
    chosen = _check_statuses(statuses)
    leaf_paths = _LeafPaths(session, taxonomy)
    latest_path = (
        select(ImagePath.path)
        .where(ImagePath.image_id == Image.id)
        .order_by(*IMAGE_PATH_ORDER)
        .limit(1)
        .correlate(Image)
        .scalar_subquery()
    )
    # A batch's export names the batch's own file where it still is: the same picture in two folders (a copy in
    # another lot) was exported under the other lot's path, and this lot's file was in no export (night shift).
    own_path = (select(BatchImage.path).where(BatchImage.batch_id == batch_id, BatchImage.image_id == Image.id)
                .correlate(Image).scalar_subquery()) if batch_id is not None else literal(None)
    spectra = spectrum_paths(session, batch_id)
    # the batch by name (a lead's pivot by lot): the batch exported, else the one it was judged in, else (undecided)
    # the newest batch that lists it
    if batch_id is not None:
        judged_in = waits_in = literal(session.execute(select(Batch.name).where(Batch.id == batch_id))
                                       .scalar_one_or_none() or "")
    else:
        waits_in = (select(Batch.name).join(BatchImage, BatchImage.batch_id == Batch.id)
                    .where(BatchImage.image_id == Image.id).order_by(BatchImage.batch_id.desc()).limit(1)
                    .correlate(Image).scalar_subquery())
        judged_in = func.coalesce(select(Batch.name).where(Batch.id == Judgment.batch_id).correlate(Judgment)
                                  .scalar_subquery(), waits_in)  # (the queue judges outside a batch)
    first: list[Any] = [Image.id, Image.sha256, latest_path.label("path"), Judgment.note, own_path.label("own")]
    history: list[Any] = []
    if with_history:
        older = aliased(Judgment)
        history.append(
            select(func.count(older.id)).where(older.image_id == Image.id).correlate(Image).scalar_subquery()
        )
    statements = []
    if chosen & JUDGED_STATUSES:
        judged = [
            Judgment.leaf,
            Judgment.status,
            decider(),  # who made the decision (a note or an undo carrying a colleague's keeps it theirs)
            decided_time(),
            Judgment.model_version,
            Judgment.shown,
            Judgment.extra_leaves,
            judged_in,
            literal(None),  # (the confidence shown: in ``shown``)
        ]
        statements.append(_current(select(*first, *judged, *history), batch_id, since, chosen)
                          .join(Image, Image.id == Judgment.image_id).order_by(Judgment.id))
    if undecided := chosen.intersection(UNDECIDED_STATUSES):  # no analyst; the prediction's time
        version = select(ModelVersion.version).where(ModelVersion.id == Prediction.model_version_id)
        blind = select(PredictionReason.prediction_id).where(  # a blind check waiting: its call stays unseen (an
            PredictionReason.prediction_id == Prediction.id,  # export showed it to the analyst who had to judge it
            PredictionReason.reason.in_(sorted(BLIND_REASONS))).exists()  # without it; zh_TW walk-through)
        auto = [Prediction.leaf, _undecided_state(), literal(""),
                func.coalesce(Prediction.created_at, Image.first_seen_at), version.scalar_subquery(),
                case((blind, None), else_=Prediction.leaf), Prediction.labels, waits_in,
                case((blind, None), else_=Prediction.confidence)]
        statements.append(_undecided(select(*first, *auto, *history), batch_id, since, undecided)
                          .order_by(Image.id))
    rows = (row for stmt in statements for row in session.execute(stmt.execution_options(yield_per=_YIELD_PER)))
    for row in rows:
        image_id, sha, path, note, own, leaf, status, analyst, created_at, version, shown, extra, batch, sure = row[:14]
        if own and own != path and Path(own).is_file():
            path = own
        if status == AUTO:  # ``shown`` is the predicted leaf; ``extra`` the predicted set, the leaf among them
            extra = [one for one in (extra or ()) if one != leaf]
        elif status in UNDECIDED_STATUSES:  # no type decided: no label (``shown``: the model's call, if any)
            path = path or ""
            yield ExportRow(path=path, sha256=sha, label="", leaf=None, leaf_path="", status=status, analyst="",
                            judged_at=created_at, model_version=version, predicted_leaf=shown, batch=batch or "",
                            confidence=None if sure is None else float(sure),
                            history_count=int(row[14]) if with_history else None, note=note or None,
                            spectra=tuple(spectra.get(image_id, ())))
            continue
        else:  # the call and its confidence as the analyst saw them (none for a blind check: it was not seen)
            shown, sure = (shown or {}).get("leaf"), None if is_blind((shown or {}).get("reasons") or ()) else \
                (shown or {}).get("confidence")
        path = path or ""
        leaves = [leaf, *(extra or ())] if leaf is not None else []
        if leaf is None:
            label, leaf_path = UNKNOWN_LABEL, ""
        else:
            found = [leaf_paths.path(one, version) for one in leaves]
            stray = next((one for one, f in zip(leaves, found, strict=True) if f is None), None)
            if stray is not None:
                if skipped is not None:
                    tax = leaf_paths.taxonomy(version)
                    skipped.append(
                        (path, f"leaf {stray!r} is not a class of taxonomy {tax.id if tax else '?'!r}")
                    )
                continue
            label = LABELS_SEPARATOR.join(leaves)
            leaf_path = LABELS_SEPARATOR.join(str(f) for f in found) if any(found) else ""  # "": no taxonomy known
        yield ExportRow(
            path=path,
            sha256=sha,
            label=label,
            leaf=leaf,
            leaf_path=leaf_path,
            status=status,
            analyst=analyst,
            judged_at=created_at,
            model_version=version,
            predicted_leaf=shown,
            batch=batch or "",
            confidence=None if sure is None else float(sure),
            history_count=int(row[14]) if with_history else None,
            note=note or None,
            spectra=tuple(spectra.get(image_id, ())),
            labels=tuple(leaves),
        )



def export_labels(
    source: Session | Engine,
    out: str | os.PathLike[str],
    fmt: str,
    *,
    batch_id: int | str | None = None,
    since: dt.datetime | None = None,
    statuses: Collection[str] | None = None,
    taxonomy: Taxonomy | None = None,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = True,
    by: str | None = None,
) -> ExportResult:
    """Export every image's current judgment.

    Args:
        source: an open Session, or an Engine (a session is opened for the export).
        out: the CSV/JSON file, or the folder for ``imagefolder``.
        fmt: ``csv`` (training manifest), ``imagefolder`` (copies into ``out/<leaf id>/<sha8>_<name>``,
            unknown ones into ``out/unknown_unlabelled/``, plus ``out/manifest.csv`` and ``out/notes.csv``) or
            ``json`` (a list of objects with the CSV fields, ``leaf`` and ``history_count``).
        batch_id: only this batch's images: its id, or its name (as the app's batch list shows it; text that is
            a number is tried as an id first).
        since: only judgments made at or after this time (naive = local time).
        statuses: subset of accepted/corrected/unknown (default all three) and ``auto`` (module doc).
        taxonomy: taxonomy for the leaf paths (default: the one embedded in each judgment's model version).
        progress: called with ``(rows written, 0)`` every :data:`PROGRESS_EVERY` rows (the total is not counted
            ahead: that would be a second pass).
        overwrite: False: an imagefolder export refuses a folder whose ``manifest.csv`` is there once it holds the
            folder's lock (another export wrote it since the caller looked: ``"exists"``).
        by: the analyst exporting, named to a second export into the folder meanwhile (with this account and
            computer).

    Raises:
        ExportError: unknown format or status, or an output path of the wrong kind.
        StoreError: the database cannot be read.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    target = check_out(Path(out), fmt)
    chosen = _check_statuses(statuses)
    if chosen.intersection(UNDECIDED_STATUSES) and fmt == "imagefolder":  # a class folder is a label
        raise ExportError("the images no person decided (auto, waiting, unreadable) are exported as csv or json (a "
                          "report), not as an image folder: training reads a folder's images by their class folder, "
                          "and would learn the model's own calls", "auto_folder")
    engine = source if isinstance(source, Engine) else source.get_bind()
    if is_store_file(engine.url, target):
        raise ExportError(f"{target}: is the database the judgments are kept in; give the export another name",
                          "is_store", out=str(target))
    if isinstance(source, Engine):
        with translate_errors(source, "read"), Session(source) as session:
            return _export(session, target, fmt, batch_id, since, chosen, taxonomy, progress, overwrite, by)
    return _export(source, target, fmt, batch_id, since, chosen, taxonomy, progress, overwrite, by)


def _export(
    session: Session,
    out: Path,
    fmt: str,
    batch: int | str | None,
    since: dt.datetime | None,
    statuses: frozenset[str],
    taxonomy: Taxonomy | None,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = True,
    by: str | None = None,
) -> ExportResult:
    if fmt == "imagefolder":
        _refuse_batch_folder(session, out)
    batch_id = None if batch is None else _batch_id(session, batch)
    skipped: list[tuple[str, str]] = []
    rows = iter_export_rows(
        session,
        batch_id=batch_id,
        since=since,
        statuses=statuses,
        taxonomy=taxonomy,
        with_history=fmt == "json",
        skipped=skipped,
    )
    if progress is not None:
        rows = _counted(rows, progress)
    spectra = any_spectra(session, batch_id)
    missing: list[str] = []
    undecided = [0]
    if fmt != "imagefolder":  # (imagefolder copies each file: a missing one is skipped, with its reason)
        rows = _undecided_counted(_noting_missing(session, rows, missing), undecided)
    removed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    if fmt == "imagefolder":  # (its lock makes the folder)
        count, removed, kept = write_imagefolder(rows, out, skipped, spectra, overwrite=overwrite, by=by)
    else:
        count = write_csv(rows, out, spectra) if fmt == "csv" else write_json(rows, out)
    return ExportResult(count=count, path=out, skipped=tuple(skipped), missing=tuple(missing), undecided=undecided[0],
                        removed=removed, kept=kept)


def _refuse_batch_folder(session: Session, out: Path) -> None:
    """An imagefolder export inside a folder batch's folder is refused: opened again, the batch found the copies as
    its images (the same content moves an image's row to the copy's path; deleting the export then lost them).
    Batches of chosen files are not listed again from their folder (theirs is the files' common parent, which can
    be a drive's root), so they do not count. Compared as stored: resolved (a link, a mapped drive)."""
    here = os.path.normcase(normalize_folder(out))
    rows = session.execute(select(Batch.name, Batch.source_folder).where(Batch.kind == "folder").distinct())
    for name, folder in rows:
        if not folder:
            continue
        root = os.path.normcase(folder)
        if here == root or here.startswith(root.rstrip(os.sep) + os.sep):
            raise ExportError(
                f"{out}: is inside the folder of batch {name!r} ({folder}); opened again, that batch would take the "
                "exported copies for its own images. Export the image folder somewhere outside it", "inside_batch",
                out=str(out), name=str(name), folder=str(folder))


def _noting_missing(session: Session, rows: Iterator[ExportRow], missing: list[str]) -> Iterator[ExportRow]:
    """The rows, each whose file is not there now, or holds another picture now (written over: the store saw another
    image at its path since), noted in ``missing``; asked a chunk of rows at a time."""
    for chunk in _batched(rows):
        yield from _noted(session, chunk, missing)


def _noted(session: Session, rows: list[ExportRow], missing: list[str]) -> list[ExportRow]:
    there = {row.path for row in rows if row.path and Path(row.path).is_file()}
    newest = seen_last_at(session, there)  # path -> (image id, sha256) of the image seen there last
    missing.extend(row.path for row in rows if row.path not in there or (
        row.path in newest and newest[row.path][1] != row.sha256))
    return rows


def _undecided_counted(rows: Iterator[ExportRow], undecided: list[int]) -> Iterator[ExportRow]:
    """The rows, each of an image no person decided counted in ``undecided[0]``."""
    for row in rows:
        undecided[0] += row.status in UNDECIDED_STATUSES
        yield row


PROGRESS_EVERY = 500


def _counted(rows: Iterator[ExportRow], progress: Callable[[int, int], None]) -> Iterator[ExportRow]:
    for n, row in enumerate(rows, start=1):
        yield row
        if n % PROGRESS_EVERY == 0:
            progress(n, 0)


def _batch_id(session: Session, ref: int | str) -> int:
    """A batch id from an id or a name (:func:`export_labels`'s ``batch_id``)."""
    try:
        return batch_by_ref(session, ref)
    except LookupError as exc:
        raise ExportError(str(exc), "no_batch", batch=str(ref)) from None


# ------------------------------------------------------------------------------------------ CLI
def parse_since(text: str) -> dt.datetime:
    """``YYYY-MM-DD`` (local midnight) or an ISO 8601 time (local time unless it has an offset)."""
    try:
        stamp = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(
            f"--since {text!r} is not a date (YYYY-MM-DD) or ISO time (YYYY-MM-DDTHH:MM)"
        ) from None
    return _aware(stamp)


def parse_statuses(text: str) -> frozenset[str]:
    """``accepted,corrected`` -> {"accepted", "corrected"} (checked)."""
    return _check_statuses({part.strip().lower() for part in text.split(",") if part.strip()})
