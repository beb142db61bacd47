"""Bulk judgments: many images judged at once from the cross-batch re-judge queue (accept each image's own
prediction, relabel them all to one leaf, or mark them unknown), one appended judgment each. Repository-style: takes
an open Session (the caller owns the transaction) and returns frozen records."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.store import repo
from app.store.errors import JudgmentConflictError
from app.store.records import JudgmentRecord
from app.store.schema import BatchImage

__all__ = ["bulk_judge"]


def bulk_judge(
    session: Session,
    image_ids: Iterable[int],
    *,
    leaf: str | None = None,
    action: str = "bulk",
    analyst: str,
    model_version: str,
    batch_id: int | None = None,
    note: repo.NoteArg = repo.KEEP_NOTE,
    unknown: bool = False,
    expect_undecided: Collection[int] = (),
) -> list[JudgmentRecord]:
    """Judge many images at once, one appended judgment each (through :func:`repo.record_judgment`).

    Args:
        image_ids: the images (duplicates are judged once, in first-seen order).
        leaf: None accepts each image's own predicted leaf (a multi-label prediction's whole set); a leaf id
            relabels every image to it
            (``accepted`` where it equals the prediction, ``corrected`` elsewhere).
        action: recorded as the judgment's action.
        analyst: who decided.
        model_version: whose predictions were shown; each judgment records that prediction.
        batch_id: the batch the judgments were made in (None: from the cross-batch queue, where each judgment is
            recorded with its image's newest batch: the start page's "last worked on" and its order count the queue's
            work too, which a night-shift walk-through found missing).
        note: free text stored with every judgment (None or blank: none); default: each image keeps its
            own current note.
        unknown: judge every image "unknown / new defect type" (``leaf`` must then be None).
        expect_undecided: images the analyst saw waiting: when one of them was decided meanwhile (by someone
            else), nothing is written (their rows are locked first on PostgreSQL).

    Returns:
        The new judgments, in the order of ``image_ids``.

    Raises:
        ValueError: an empty ``leaf``; or, when accepting, an image without a usable prediction of
            ``model_version`` (nothing is written then).
    """
    if leaf is not None and (not isinstance(leaf, str) or not leaf.strip()):
        raise ValueError(f"leaf must be a leaf id or None (accept the predictions), got {leaf!r}")
    if unknown and leaf is not None:
        raise ValueError(f"an unknown judgment has no leaf, got {leaf!r}")
    ids = list(dict.fromkeys(int(i) for i in image_ids))
    if not ids:
        return []
    repo.lock_images(session, ids)  # PostgreSQL: a colleague's judgment of one of them waits, or this one does
    if expect_undecided:
        expected = set(expect_undecided)
        waiting = [i for i in ids if i in expected]
        decided = [j for j in repo.current_judgments(session, waiting).values() if j.is_decision]
        if decided:
            deciders = tuple(sorted({j.decider for j in decided}))
            raise JudgmentConflictError(
                f"Nothing saved: {len(decided)} of the selected images {'was' if len(decided) == 1 else 'were'} "
                f"judged meanwhile (by {', '.join(deciders)}); "
                "the queue shows them as they are now", current=decided[0] if len(decided) == 1 else None,
                count=len(decided), deciders=deciders)
    predictions = repo.latest_predictions(session, ids, model_version=model_version)
    if leaf is None and not unknown:
        missing = [i for i in ids if i not in predictions or not predictions[i].leaf]
        if missing:
            shown = ", ".join(str(i) for i in missing[:10]) + (" …" if len(missing) > 10 else "")
            raise ValueError(
                f"cannot accept {len(missing)} image(s) without a prediction of {model_version} to accept "
                f"(image ids {shown}); relabel them instead"
            )
        current = repo.current_judgments(session, ids)  # accepting a blind check's hidden call would void it:
        blind = [i for i in ids if predictions[i].blind and not (i in current and current[i].is_decision)]
        if blind:
            raise ValueError(f"{len(blind)} image(s) are blind spot checks (image ids {', '.join(map(str, blind[:10]))}"
                             "): judge each one without the model's answer instead of accepting it")
    notes = repo.current_notes(session, ids) if note is repo.KEEP_NOTE else {}
    batches = {} if batch_id is not None else dict(session.execute(  # each image's newest batch (ids grow)
        select(BatchImage.image_id, func.max(BatchImage.batch_id)).where(BatchImage.image_id.in_(ids))
        .group_by(BatchImage.image_id)).all())
    out: list[JudgmentRecord] = []
    accepting = leaf is None and not unknown
    for image_id in ids:
        p = predictions.get(image_id)
        usable = p is not None and not p.error
        out.append(
            repo.record_judgment(
                session,
                image_id=image_id,
                leaf=None if unknown else leaf.strip() if leaf is not None else p.leaf,  # type: ignore[union-attr]
                action=action,
                analyst=analyst,
                batch_id=batch_id if batch_id is not None else batches.get(image_id),
                prediction_id=p.id if p is not None else None,
                shown=p.shown() if usable else None,  # type: ignore[union-attr]
                model_version=model_version if p is not None else None,
                note=notes.get(image_id) if note is repo.KEEP_NOTE else note,
                extra_leaves=p.labels[1:] if accepting and p is not None else (),  # a multi-label set, whole
            )
        )
    return out
