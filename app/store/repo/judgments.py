"""Judgments: append-only history per image (record, read the current one, undo/redo by appending).

A note belongs to the image, not to one row: every new row carries the image's current note (the latest
row's) unless a note is given; an empty note clears it. Undo and redo carry it too, except when the row
they revert is the one that changed the note: then the note goes back as well (see :func:`revert_judgment`).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Final

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.store.errors import JudgmentConflictError
from app.store.records import CONFIRM, JudgmentRecord, same_decision
from app.store.repo._common import _chunks, _current_ids, _judgment_record, _prediction_record, _require_text
from app.store.repo.spectra import restale_before_spectra
from app.store.schema import STATUSES, Image, Judgment, ModelVersion, Prediction, utcnow


class _Keep(enum.Enum):
    NOTE = "keep the note"


KEEP_NOTE: Final = _Keep.NOTE
"""The default ``note`` of :func:`record_judgment` and :func:`revert_judgment`: carry the image's current note."""

NoteArg = str | None | _Keep
"""A note to record: text, None or ``""`` (no note: clears it), or :data:`KEEP_NOTE`."""


def _clean_note(note: str | None) -> str | None:
    return note if note and note.strip() else None


def current_note(session: Session, image_id: int) -> str | None:
    """The image's current note (its latest row's), or None."""
    return session.scalar(
        select(Judgment.note).where(Judgment.image_id == image_id).order_by(Judgment.id.desc()).limit(1)
    )


def current_notes(session: Session, image_ids: Iterable[int]) -> dict[int, str]:
    """Per image, its current note; images without one (or never judged) are absent."""
    found: dict[int, str] = {}
    for chunk in _chunks(image_ids):
        latest = _current_ids(Judgment.image_id.in_(chunk)).subquery()
        stmt = select(Judgment.image_id, Judgment.note).join(latest, latest.c.jid == Judgment.id)
        found.update({int(i): n for i, n in session.execute(stmt) if n})
    return found


def _derive_status(leaf: str | None, shown: Mapping[str, Any] | None, extra: Sequence[str] = ()) -> str:
    """``accepted`` when the judged leaves are the shown prediction's (its set, for a multi-label one)."""
    if leaf is None:
        return "unknown"
    predicted = (shown.get("labels") or [shown.get("leaf")]) if shown else [None]
    return "accepted" if predicted[0] is not None and set(predicted) == {leaf, *extra} else "corrected"


def _check_status(status: str, leaf: str | None) -> None:
    if status not in STATUSES:
        raise ValueError(f"judgment status {status!r} is not one of {', '.join(STATUSES)}")
    if status in ("unknown", "reverted") and leaf is not None:
        raise ValueError(f"a judgment with status {status!r} has no leaf (got {leaf!r})")
    if status in ("accepted", "corrected") and not leaf:
        raise ValueError(f"a judgment with status {status!r} needs a leaf")


def record_judgment(
    session: Session,
    *,
    image_id: int,
    leaf: str | None,
    action: str,
    analyst: str,
    status: str | None = None,
    batch_id: int | None = None,
    prediction_id: int | None = None,
    shown: Mapping[str, Any] | None = None,
    model_version: str | None = None,
    note: NoteArg = KEEP_NOTE,
    reverts_judgment_id: int | None = None,
    created_at: dt.datetime | None = None,
    expect_state: tuple[str, str | None] | None = None,
    extra_leaves: Sequence[str] = (),
    expect_note: str | None = None,
    decided_by: str | None = None,
    decided_at: dt.datetime | None = None,
) -> JudgmentRecord:
    """Append a judgment (history is never changed); it becomes the image's current judgment.

    Args:
        image_id: the judged image.
        leaf: the chosen leaf id; None for "unknown / new defect type".
        action: how it was decided (accept, topk, picker, unknown, bulk ...).
        analyst: who decided.
        status: accepted / corrected / unknown / reverted. Default: ``unknown`` without a leaf,
            ``accepted`` when ``leaf`` equals the shown prediction's leaf, else ``corrected``.
        batch_id: the batch it was judged in, if any.
        prediction_id: the stored prediction that was shown; fills ``shown`` and ``model_version`` when
            they are not given.
        shown: the prediction exactly as shown (leaf, confidence, top5 with scores ...).
        model_version: the version string of the model whose prediction was shown.
        note: free text; None or blank: no note (clears the image's note); default :data:`KEEP_NOTE`:
            the image's current note, carried on.
        reverts_judgment_id: set by undo/redo (see :func:`revert_judgment`).
        created_at: aware datetime; default now (UTC).
        expect_state: the image's state as the analyst saw it (:func:`state_of` of the judgment on screen): when
            the image's state is another one now (someone decided it meanwhile), nothing is written. The image's row
            is locked first (PostgreSQL; SQLite writers take turns anyway), so two analysts cannot both pass.
        extra_leaves: the image's other defects' leaves (an image with more than one defect; issue #20); only with
            a ``leaf``.
        expect_note: the image's note as the analyst saw it when they began to write theirs ("" for none): when a
            colleague changed it meanwhile, nothing is written (theirs would be replaced unseen).
        decided_by, decided_at: who made the decision this row only carries on (a note, an undo restoring it),
            when that is not ``analyst``; None: this row's own.

    Raises:
        ValueError: inconsistent status and leaf, unknown status, empty analyst/action, or a prediction
            of another image.
        JudgmentConflictError: ``expect_state`` is not the image's state, or ``expect_note`` not its note;
            ``current`` is the judgment now.
    """
    analyst = _require_text(analyst, "analyst")
    action = _require_text(action, "action")
    if expect_state is not None or expect_note is not None:
        lock_images(session, [image_id])
        now = _latest_before(session, image_id)
        if expect_note is not None and ((now.note if now is not None else None) or "") != expect_note.strip():
            raise JudgmentConflictError(
                f"Not saved: the note was changed meanwhile by {now.analyst if now else 'someone'} "
                f"(now: {now.note or '(no note)' if now else '(no note)'}); your text is kept as a draft.",
                current=_judgment_record(now) if now else None, note=True)
        if expect_state is not None and _state(now) != expect_state:
            status, leaf = _state(now)
            raise JudgmentConflictError(
                f"Not saved: the image was judged meanwhile by {now.decider if now else 'someone'} "
                f"({status}{' ' + leaf if leaf else ''}).", current=_judgment_record(now) if now else None)
    if prediction_id is not None and (shown is None or model_version is None):
        stored = session.execute(
            select(Prediction, ModelVersion.version)
            .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
            .where(Prediction.id == prediction_id)
        ).first()
        if stored is None:
            raise ValueError(f"no prediction with id {prediction_id}")
        pred_row, version = stored
        if pred_row.image_id != image_id:
            raise ValueError(
                f"prediction {prediction_id} belongs to image {pred_row.image_id}, not {image_id}"
            )
        record = _prediction_record(pred_row, version, with_embedding=False)
        shown = record.shown() if shown is None else shown
        model_version = model_version or version
    if created_at is not None and created_at.utcoffset() is None:
        raise ValueError(
            f"naive datetime {created_at.isoformat()} given as created_at; pass a timezone-aware one"
        )
    extra = list(dict.fromkeys(x for x in extra_leaves if x != leaf))
    if extra and leaf is None:
        raise ValueError("a judgment with further leaves needs a first leaf")
    if status is None:
        status = _derive_status(leaf, shown, extra)
    _check_status(status, leaf)
    if isinstance(note, _Keep):
        note = current_note(session, image_id)
    row = Judgment(
        image_id=image_id,
        batch_id=batch_id,
        prediction_id=prediction_id,
        analyst=analyst,
        created_at=created_at or utcnow(),
        leaf=leaf,
        status=status,
        action=action,
        note=_clean_note(note),
        shown=None if shown is None else dict(shown),
        model_version=model_version,
        reverts_judgment_id=reverts_judgment_id,
        extra_leaves=extra or None,
        decided_by=decided_by if decided_by is not None and status != "reverted" else None,
        decided_at=decided_at if decided_by is not None and status != "reverted" else None,
    )
    session.add(row)
    session.flush()
    return _judgment_record(row)


def current_judgments(session: Session, image_ids: Iterable[int] | None = None) -> dict[int, JudgmentRecord]:
    """Per image, its current (latest) judgment; images never judged are absent.

    ``image_ids`` None means every judged image. A current judgment may have status ``reverted``
    (back to pending): check :attr:`JudgmentRecord.is_decision`.
    """
    if image_ids is None:
        chunks: Iterable[list[int] | None] = [None]
    else:
        chunks = _chunks(image_ids)
    found: dict[int, JudgmentRecord] = {}
    for chunk in chunks:
        latest = _current_ids(None if chunk is None else Judgment.image_id.in_(chunk)).subquery()
        # Plain columns, not ORM entities: no identity-map cost when this covers every image.
        stmt = select(*Judgment.__table__.columns).join(latest, latest.c.jid == Judgment.id)
        for row in session.execute(stmt):
            found[row.image_id] = _judgment_record(row)
    return found


def judgment_history(session: Session, image_id: int) -> list[JudgmentRecord]:
    """Every judgment of an image, oldest first (the last one is current)."""
    rows = session.scalars(select(Judgment).where(Judgment.image_id == image_id).order_by(Judgment.id))
    return [_judgment_record(r) for r in rows]


def _latest_before(session: Session, image_id: int, before_id: int | None = None) -> Judgment | None:
    stmt = select(Judgment).where(Judgment.image_id == image_id)
    if before_id is not None:
        stmt = stmt.where(Judgment.id < before_id)
    return session.scalar(stmt.order_by(Judgment.id.desc()).limit(1))


LOCK_TIMEOUT = "5s"
"""PostgreSQL: how long a judgment waits for an image a colleague's transaction holds before it fails ("try again")."""


def lock_images(session: Session, image_ids: Iterable[int]) -> None:
    """PostgreSQL: lock the images' rows until the transaction ends, so the judgments of two analysts on one image
    take turns (the state each one checks is then the state it writes over). ``FOR NO KEY UPDATE`` does not block
    the key-share locks of rows inserted with a foreign key to an image (predictions, claims); the ids are locked in
    order (no deadlock between two lockers), and a lock not had within :data:`LOCK_TIMEOUT` fails the transaction.
    SQLite: nothing to do (its writers take turns on the file)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted({int(i) for i in image_ids})
    if not ids:
        return
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    for chunk in _chunks(ids):
        session.execute(select(Image.id).where(Image.id.in_(chunk)).order_by(Image.id)
                        .with_for_update(key_share=True))


def _state(row: Judgment | JudgmentRecord | None) -> tuple[str, str | None]:
    if row is None or row.status == "reverted":
        return "pending", None
    return row.status, row.leaf


def state_of(judgment: JudgmentRecord | None) -> tuple[str, str | None]:
    """An image's state as a judgment leaves it: ``("pending", None)`` for none or an undone one, else
    ``(status, leaf)`` (the ``expect_state`` of :func:`record_judgment`)."""
    return _state(judgment)


def revert_judgment(
    session: Session, judgment_id: int, *, analyst: str, action: str = "undo", note: NoteArg = KEEP_NOTE
) -> JudgmentRecord:
    """Undo a judgment by appending a row that restores the state before it.

    The new row copies the previous judgment of the image (leaf, status, what was shown), or has status
    ``reverted`` (back to pending) when there was none; ``reverts_judgment_id`` points at the reverted row.
    Redo is the same call on the undo row (``action="redo"``): the state before the undo is restored.
    Several undos in a row work: undoing J2 then J1 brings the image back to before J1.

    The note (default :data:`KEEP_NOTE`): the image's current note is carried on, unless the reverted row
    is the one that set it (it changed the note, and nobody changed it since): then the note from before
    that row comes back. So undoing a note removes it, redoing it brings it back, and undoing a judgment
    keeps the note that was written on the image.

    Raises:
        LookupError: no such judgment.
        JudgmentConflictError: the image's current state is no longer the result of that judgment (it
            was judged again since, perhaps by another analyst).
    """
    target = session.get(Judgment, judgment_id)
    if target is None:
        raise LookupError(f"no judgment with id {judgment_id}")
    lock_images(session, [target.image_id])  # the state checked below is the one written over
    current = _latest_before(session, target.image_id)
    if _state(current) != _state(target):
        now_status, now_leaf = _state(current)
        who = f" by {current.decider}" if current is not None else ""
        raise JudgmentConflictError(
            f"Cannot {action} judgment {judgment_id}: image {target.image_id} was judged again since "
            f"(now {now_status}{' ' + now_leaf if now_leaf else ''}{who}).",
            current=_judgment_record(current) if current is not None else None)
    previous = _latest_before(session, target.image_id, target.id)
    status, leaf = _state(previous)
    restored = previous if previous is not None and previous.status != "reverted" else None
    if isinstance(note, _Keep):
        before = _clean_note(previous.note) if previous is not None else None
        now = _clean_note(current.note) if current is not None else None
        changed_by_target = (its := _clean_note(target.note)) != before
        set_by_target = changed_by_target and now == its
        if changed_by_target and not set_by_target and _state(previous) == _state(target):
            # a note of the row, and nothing else, to undo: its note was changed since (a colleague's note written
            # over it). Carried on, the colleague's note stayed, nothing changed, and "Undone" was said (team
            # walk-through)
            by = f" by {current.analyst}" if current.action == "note" else ""
            raise JudgmentConflictError(f"Cannot {action} judgment {judgment_id}: the note of image {target.image_id} "
                                        f"was changed since{by}.", current=_judgment_record(current), note=True)
        note = before if set_by_target else now
    if status == "pending" and _state(current)[0] != "pending":  # waiting again: a spectrum that came while it was
        restale_before_spectra(session, target.image_id)  # decided counts now (the one way back from a decision)
    return record_judgment(
        session,
        image_id=target.image_id,
        leaf=leaf,
        status="reverted" if status == "pending" else status,
        action=action,
        analyst=analyst,
        batch_id=target.batch_id,
        prediction_id=restored.prediction_id if restored else None,
        shown=restored.shown if restored else None,
        model_version=restored.model_version if restored else None,
        note=note,
        reverts_judgment_id=target.id,
        extra_leaves=previous.extra_leaves or () if previous is not None and status != "pending" else (),
        # the decision restored stays its maker's (the panel and the export named whoever pressed Ctrl+Z)
        decided_by=previous.decider if restored is not None else None,
        decided_at=previous.decided_when if restored is not None else None,
    )



def confirm_judgments(session: Session, agreed: Mapping[int, Collection[str]], *, analyst: str) -> list[JudgmentRecord]:
    """Record ``analyst``'s agreement with the decisions colleagues made: ``agreed`` maps an image to the types the
    analyst judged it (none: "unknown / new defect type"). An image whose current decision is a colleague's and says
    the same gets one :data:`CONFIRM` row (its note, types, batch, prediction and time carried on); others get none: the analyst's
    own decision, one changed meanwhile to something else, or one this analyst confirmed already. A second analyst
    judging an image as its first one did wrote nothing, so the dashboard's kappa saw only the disagreements."""
    ids = list(dict.fromkeys(int(i) for i in agreed))
    lock_images(session, ids)  # (the decision confirmed is the one in the store when the row is written)
    current = current_judgments(session, ids)
    out = []
    for image_id in ids:
        j = current.get(image_id)
        if j is None or not j.is_decision or j.decider == analyst or (j.analyst == analyst and j.action == CONFIRM):
            continue
        if not same_decision(j.labels, j.status == "unknown", tuple(agreed[image_id])):
            continue
        out.append(_carrying(session, image_id, j, action=CONFIRM, analyst=analyst,
                             batch_id=j.batch_id))  # (the decision's batch, as its time)
    return out


def _carrying(session: Session, image_id: int, j: JudgmentRecord | None, *, action: str, analyst: str,
              note: NoteArg = KEEP_NOTE, batch_id: int | None = None) -> JudgmentRecord:
    """A row by ``analyst`` that carries the image's current judgment ``j`` on (its decision still its maker's:
    ``decided_by``, every type of a set), or keeps it waiting when ``j`` decides nothing: a note, an agreement."""
    decided = j is not None and j.is_decision
    return record_judgment(
        session, image_id=image_id, leaf=j.leaf if decided else None, action=action, analyst=analyst,
        decided_by=j.decider if decided else None, decided_at=j.decided_when if decided else None,
        status=j.status if decided else "reverted", prediction_id=j.prediction_id if decided else None,
        shown=j.shown if decided else None, model_version=j.model_version if decided else None, note=note,
        extra_leaves=j.extra_leaves if decided else (), batch_id=batch_id)


def note_images(session: Session, image_ids: Iterable[int], note: str | None, *, analyst: str,
                action: str = "note", expect_notes: Mapping[int, str] | None = None) -> list[JudgmentRecord]:
    """Set the note of many images (None or blank: remove it): one new row each that keeps the image's current
    state (its decision, or waiting), so a note never judges an image. Returns the rows in the order given.

    ``expect_notes``: an image's note as the analyst saw it ("" for none); when a colleague changed it meanwhile
    nothing is written (:class:`JudgmentConflictError`)."""
    ids = list(dict.fromkeys(int(i) for i in image_ids))
    lock_images(session, ids)  # the state each note row carries on is the image's state when it is written
    current = current_judgments(session, ids)
    for image_id, seen in (expect_notes or {}).items():
        j = current.get(int(image_id))
        if ((j.note if j is not None else None) or "") != seen.strip():
            raise JudgmentConflictError(
                f"Not saved: the note was changed meanwhile by {j.analyst if j else 'someone'} "
                f"(now: {(j.note if j else None) or '(no note)'}); your text is kept as a draft.", current=j, note=True)
    out = []
    for image_id in ids:
        out.append(_carrying(session, image_id, current.get(image_id), action=action, analyst=analyst,
                             note=_clean_note(note)))
    return out
