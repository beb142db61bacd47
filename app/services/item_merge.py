"""How an item the window holds and the same item read from the store again make one (no Qt): a known folder's
batch handed over again once its files are read (:func:`kept`), and the batch read again while the window went on
(:func:`newest`). What the window applied since the read (a judgment, a prediction of the loaded model) is never
lost to an older read.
"""

from __future__ import annotations

from dataclasses import replace

from app.store.records import SPECTRUM_ADDED, BatchItem

__all__ = ["kept", "newest"]


def kept(held: BatchItem | None, new: BatchItem) -> BatchItem:
    """An item handed over again (:meth:`~app.services.batch_presenter.BatchPresenter.grow`, the whole batch) over
    the one held: the held one's prediction (applied since the store was read), with the new one's file (a file
    renamed), the newer judgment of the two (by id: the window's own, or a colleague's written meanwhile), and,
    where the store marked the same prediction for a spectrum added since, the marked one."""
    if held is None:
        return new
    p, q = held.prediction, new.prediction
    marked = q is not None and q.calibration == SPECTRUM_ADDED and (p is None or p.id == q.id)
    j, k = held.judgment, new.judgment
    judgment = k if k is not None and (j is None or k.id > j.id) else j
    seen = held.seen_here or new.seen_here  # (a row written here, known to either)
    if held.image == new.image and not marked and judgment is j and seen == held.seen_here:
        return held
    return replace(held, image=new.image, prediction=q if marked else p, judgment=judgment, seen_here=seen)


def newest(held: BatchItem | None, read: BatchItem, version: str | None) -> BatchItem:
    """An item read again from the store, with what the window applied to it after the read: a judgment with a
    higher id, a prediction of ``version`` saved later (a route the purity monitor changed keeps its time: the
    store's)."""
    if held is None:
        return read
    j, k = held.judgment, read.judgment
    p, q = held.prediction, read.prediction
    judgment = j if j is not None and (k is None or j.id > k.id) else k
    prediction = p if p is not None and p.model_version == version and p.created_at is not None and (
        q is None or q.created_at is None or p.created_at > q.created_at) else q
    seen = held.seen_here or read.seen_here
    if judgment is k and prediction is q and seen == read.seen_here:
        return read
    return replace(read, judgment=judgment, prediction=prediction, seen_here=seen)
