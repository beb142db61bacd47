"""The purity monitor's rows: blind spot-check outcomes, a batch's unknown flags, and pauses (``routing_pauses``).

A pause re-routes the predictions it holds back in the store itself (``route`` ``auto`` -> ``rejudge``, its reason
code added to ``reasons`` and ``prediction_reasons``), so the re-judge queue, the batch list and the dashboard need
no special case; ending it takes back exactly its own reason code (and ``rejudge`` -> ``auto`` when no other
reason is left). New predictions get the pauses in force before they are saved (:func:`apply_pauses`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, true, update
from sqlalchemy.orm import Session

from app.store.records import (
    BLIND_REASONS,
    JUDGED_STATUSES,
    SPECTRUM_ADDED,
    PauseRecord,
    PredictionRecord,
    SpotCheck,
)
from app.store.repo._common import _chunks, _current_ids, advisory_lock
from app.store.repo.judgments import current_judgments
from app.store.repo.predictions import _model_version_row
from app.store.schema import (
    BatchImage,
    Judgment,
    ModelVersion,
    Prediction,
    PredictionReason,
    RoutingPause,
    decided_time,
    utcnow,
)

SCOPES: tuple[str, ...] = ("leaf", "batch")


def _pause_record(row: RoutingPause, version: str) -> PauseRecord:
    return PauseRecord(id=row.id, model_version=version, calibration=row.calibration, scope=row.scope,
                       target=row.target, reason=row.reason, detail=dict(row.detail or {}),
                       started_at=row.started_at, ended_at=row.ended_at, end_reason=row.end_reason)


def spot_checks(session: Session, model_version: str, reasons: Sequence[str], *,
                routed_since: dt.datetime | None = None, stamp: str | None = None) -> list[SpotCheck]:
    """The decided images among a model version's predictions routed for one of ``reasons`` (blind checks),
    each with the model's leaf and the image's current decision; with ``stamp`` (``Calibration.stamp``), only the
    predictions that calibration routed, and of those that do not say (stored before migration 0004, or routed
    again for a spectrum added later) the ones made at or after ``routed_since`` (the calibration's time, to the
    second: a check the old calibration routed earlier in the same second counted against the new one, review)."""
    version = _model_version_row(session, model_version)
    checked = (select(Prediction.image_id).join(PredictionReason, PredictionReason.prediction_id == Prediction.id)
               .where(Prediction.model_version_id == version.id, PredictionReason.reason.in_(list(reasons))))
    latest = _current_ids(Judgment.image_id.in_(checked)).subquery()
    stmt = (
        select(Prediction.image_id, PredictionReason.reason, Prediction.leaf, Judgment.leaf.label("judged"),
               Judgment.status, decided_time().label("judged_at"), Judgment.batch_id, Prediction.spectra)
        .join(PredictionReason, PredictionReason.prediction_id == Prediction.id)
        .join(latest, latest.c.image_id == Prediction.image_id)
        .join(Judgment, Judgment.id == latest.c.jid)
        .where(Prediction.model_version_id == version.id, PredictionReason.reason.in_(list(reasons)),
               Prediction.leaf.is_not(None), Judgment.status.in_(JUDGED_STATUSES))
        .order_by(decided_time(), Judgment.id)  # (a note or a colleague's agreement does not make a check new)
    )
    since = true() if routed_since is None else Prediction.created_at >= routed_since
    if stamp is not None:
        unsaid = Prediction.calibration.is_(None) | (Prediction.calibration == SPECTRUM_ADDED)
        stmt = stmt.where((Prediction.calibration == stamp) | (unsaid & since))
    elif routed_since is not None:
        stmt = stmt.where(since)
    return [SpotCheck(image_id=r.image_id, reason=r.reason, predicted_leaf=r.leaf, judged_leaf=r.judged,
                      status=r.status, judged_at=r.judged_at, batch_id=r.batch_id, fused=bool(r.spectra))
            for r in session.execute(stmt)]


def batch_unknown_flags(session: Session, model_version: str, batch_id: int, threshold: float) -> tuple[int, int]:
    """``(predicted, flagged)``: a batch's images with an unknown score under ``model_version``, and how many of
    them score above ``threshold`` (the calibration's unknown threshold)."""
    version = _model_version_row(session, model_version)
    members = select(BatchImage.image_id).where(BatchImage.batch_id == batch_id)
    n, flagged = session.execute(
        select(func.count(), func.count().filter(Prediction.unknown_score > threshold))
        .where(Prediction.model_version_id == version.id, Prediction.image_id.in_(members),
               Prediction.unknown_score.is_not(None))
    ).one()
    return int(n), int(flagged or 0)


def lock_pauses(session: Session, model_version: str) -> None:
    """Serialise the transactions that read a model version's pauses and then start or end some (a check, a
    carry-over, a pause, a resume): on PostgreSQL a transaction-scoped advisory lock keyed by the version; SQLite's
    write transactions are exclusive already. Two windows checking at once after a recalibration both carried the
    lead's pause, and resuming the id printed left the other copy in force (review)."""
    advisory_lock(session, f"pauses {model_version}")


def pauses(session: Session, model_version: str, *, active: bool = True) -> list[PauseRecord]:
    """A model version's pauses in force (``active``) or all of them, oldest first."""
    version = _model_version_row(session, model_version)
    stmt = select(RoutingPause).where(RoutingPause.model_version_id == version.id)
    if active:
        stmt = stmt.where(RoutingPause.ended_at.is_(None))
    return [_pause_record(r, version.version) for r in session.scalars(stmt.order_by(RoutingPause.id))]


def _held_back(version_id: int, scope: str, target: str) -> ColumnElement[bool]:
    """The predictions a pause of ``scope``/``target`` covers."""
    if scope == "leaf":
        return (Prediction.model_version_id == version_id) & (Prediction.leaf == target)
    members = select(BatchImage.image_id).where(BatchImage.batch_id == int(target))
    return (Prediction.model_version_id == version_id) & Prediction.image_id.in_(members)


def hold_back(session: Session, pause: PauseRecord) -> int:
    """Send the undecided auto-judged predictions a pause in force covers to re-judge with its reason; returns how
    many. :func:`start_pause` does it once, the monitor again on every check (a prediction saved by another
    workstation while the pause was being recorded is caught then). Usually nothing is left to move: one indexed
    select, and the images' judgments are read only for what it finds."""
    return _hold_back(session, _model_version_row(session, pause.model_version).id, pause)


def _hold_back(session: Session, version_id: int, pause: PauseRecord) -> int:
    found = list(session.execute(select(Prediction.id, Prediction.reasons, Prediction.image_id).where(
        _held_back(version_id, pause.scope, pause.target), Prediction.route == "auto")))
    if not found:
        return 0
    decided = {image_id for image_id, j in current_judgments(session, [i for _, _, i in found]).items()
               if j.is_decision}  # a pause never re-routes what a person already judged
    found = [(pid, reasons) for pid, reasons, image_id in found if image_id not in decided]
    if found:
        session.execute(update(Prediction), [{"id": pid, "route": "rejudge", "reasons": [*(reasons or ()),
                                                                                          pause.reason]}
                                             for pid, reasons in found])
        session.execute(insert(PredictionReason), [{"prediction_id": pid, "reason": pause.reason}
                                                   for pid, _ in found])
    return len(found)


def start_pause(session: Session, model_version: str, *, calibration: str, scope: str, target: str, reason: str,
                detail: dict[str, Any]) -> tuple[PauseRecord, int]:
    """Pause auto-judging of a leaf or a batch: record the pause and send its undecided auto-judged predictions to
    re-judge with ``reason``. Returns the pause and how many predictions it re-routed."""
    if scope not in SCOPES:
        raise ValueError(f"pause scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    version = _model_version_row(session, model_version)
    row = RoutingPause(model_version_id=version.id, calibration=calibration, scope=scope, target=str(target),
                       reason=reason, detail=detail, started_at=utcnow())
    session.add(row)
    session.flush()
    record = _pause_record(row, version.version)
    return record, _hold_back(session, version.id, record)


def _retag(session: Session, version_id: int, row: RoutingPause, to: str | None) -> int:
    """The predictions a pause tagged lose its reason code; with ``to`` they get that code instead (and stay with a
    person), else those left with no reason go back to auto. Returns how many went back to auto."""
    tagged = select(PredictionReason.prediction_id).where(PredictionReason.reason == row.reason)
    rows = list(session.execute(select(Prediction.id, Prediction.reasons, Prediction.image_id).where(
        _held_back(version_id, row.scope, row.target), Prediction.id.in_(tagged))))
    # A decided image of a paused leaf was judged blind: its decision is the monitor's evidence, read by a blind
    # code. It becomes a spot check's (``spot_check``), so it stays evidence once the pause has ended (dropped, the
    # checks made during a pause vanished from the monitor: "all leaves 0 0" after a lead's --resume, and a leaf
    # that recovered started from no checks); kept as it was, an undo left the image blind and held back for good.
    decided = {image_id for image_id, j in current_judgments(session, [i for _, _, i in rows]).items()
               if j.is_decision} if rows else set()
    if row.reason in BLIND_REASONS:
        checks = [(pid, reasons) for pid, reasons, image_id in rows if image_id in decided]
        _recode(session, checks, row.reason, "spot_check")
    found = [(pid, reasons) for pid, reasons, image_id in rows if image_id not in decided or
             row.reason not in BLIND_REASONS]
    changes, back = [], 0
    for pid, reasons in found:
        left = [r for r in reasons or () if r != row.reason] + ([to] if to else [])
        changes.append({"id": pid, "route": "rejudge" if left else "auto", "reasons": left})
        back += not left
    if changes:
        session.execute(update(Prediction), changes)
        for chunk in _chunks(pid for pid, _ in found):
            session.execute(delete(PredictionReason).where(PredictionReason.prediction_id.in_(chunk),
                                                           PredictionReason.reason == row.reason))
        if to:
            session.execute(insert(PredictionReason), [{"prediction_id": pid, "reason": to} for pid, _ in found])
    return back


def _recode(session: Session, found: list[tuple[int, Any]], code: str, to: str) -> None:
    """The predictions ``found`` (``(id, reasons)``) carry ``to`` in place of ``code``; their route stays."""
    if not found:
        return
    session.execute(update(Prediction), [
        {"id": pid, "reasons": [r for r in reasons or () if r != code] + ([] if to in (reasons or ()) else [to])}
        for pid, reasons in found])
    for chunk in _chunks(pid for pid, _ in found):
        session.execute(delete(PredictionReason).where(PredictionReason.prediction_id.in_(chunk),
                                                       PredictionReason.reason == code))
    if added := [{"prediction_id": pid, "reason": to} for pid, reasons in found if to not in (reasons or ())]:
        session.execute(insert(PredictionReason), added)  # (none when each carried it already)


def pause(session: Session, pause_id: int) -> PauseRecord | None:
    """One pause, in force or ended; None when there is no such pause."""
    row = session.get(RoutingPause, pause_id)
    version = None if row is None else session.get(ModelVersion, row.model_version_id)
    return None if row is None or version is None else _pause_record(row, version.version)


def end_pause(session: Session, pause_id: int, end_reason: str, *, restore: bool,
              retag: bool = True) -> tuple[PauseRecord, int]:
    """End a pause in force. ``restore``: its predictions lose its reason code, and those left with none go back to
    auto (the leaf's purity recovered, or a lead resumed it); otherwise they stay with a person under the reason
    ``held_back`` (a recalibration does not vouch for answers routed by the old one), so a later pause of the same
    leaf or batch finds only its own images under its code. Returns the pause and how many went back to auto.
    ``retag`` False: its predictions keep its code, for the pause that carries it on (a lead's, carried over a
    recalibration) to own.

    Raises:
        ValueError: no such pause, or it has ended already.
    """
    row = session.get(RoutingPause, pause_id)
    if row is None:
        raise ValueError(f"no pause with id {pause_id}")
    version = session.get(ModelVersion, row.model_version_id)
    assert version is not None
    if row.ended_at is not None:
        raise ValueError(f"pause {pause_id} ({row.scope} {row.target}) ended already ({row.end_reason}, "
                         f"{row.ended_at:%Y-%m-%d %H:%M} UTC)")
    row.ended_at, row.end_reason = utcnow(), end_reason
    back = _retag(session, version.id, row, None if restore else "held_back") if retag else 0
    session.flush()
    return _pause_record(row, version.version), back


def apply_pauses(session: Session, pairs: Iterable[tuple[int, PredictionRecord]],
                 in_force: Sequence[PauseRecord]) -> list[tuple[int, PredictionRecord]]:
    """New ``(image_id, prediction)`` pairs with the pauses in force applied (before they are saved): an
    auto-judged prediction of a paused leaf, or of an image in a paused batch, goes to re-judge with the reason."""
    pairs = list(pairs)
    if not in_force or not pairs:
        return pairs
    leaves = {p.target: p.reason for p in in_force if p.scope == "leaf"}
    batches = {int(p.target): p.reason for p in in_force if p.scope == "batch"}
    in_batch: dict[int, list[str]] = {}
    if batches:
        for chunk in _chunks({image_id for image_id, _ in pairs}):
            for image_id, batch_id in session.execute(select(BatchImage.image_id, BatchImage.batch_id).where(
                    BatchImage.image_id.in_(chunk), BatchImage.batch_id.in_(list(batches)))):
                in_batch.setdefault(image_id, []).append(batches[batch_id])
    out = []
    for image_id, record in pairs:
        codes = ([leaves[record.leaf]] if record.leaf in leaves else []) + in_batch.get(image_id, [])
        if record.route == "auto" and codes:
            record = dataclasses.replace(record, route="rejudge", reasons=(*record.reasons, *dict.fromkeys(codes)))
        out.append((image_id, record))
    return out
