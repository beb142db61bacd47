"""Batch items: a batch's images in order, each with its latest prediction and current judgment."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.records import BatchItem, ImageRecord
from app.store.repo._common import _chunks, _current_ids, _judgment_record
from app.store.repo.predictions import latest_predictions
from app.store.schema import BatchImage, Image, Judgment


def batch_items(
    session: Session, batch_id: int, *, model_version: str | None = None, with_embedding: bool = False,
    start: int = 0,
) -> list[BatchItem]:
    """The images of a batch in position order, each with its latest prediction and current judgment.

    Args:
        batch_id: the batch.
        model_version: take this version's predictions (None: each image's most recent prediction).
        with_embedding: also load the embeddings (large; off by default).
        start: only the images from this position on (the rest of a large folder, read in parts).
    """
    in_batch = select(BatchImage.image_id).where(BatchImage.batch_id == batch_id, BatchImage.position >= start)
    current = _current_ids(Judgment.image_id.in_(in_batch)).subquery()
    stmt = (  # the image's columns, not its ORM object: a batch of 100,000 images reads in seconds
        select(BatchImage.position, BatchImage.path, Image.id, Image.sha256, Image.width, Image.height, Judgment)
        .join(Image, Image.id == BatchImage.image_id)
        .outerjoin(current, current.c.image_id == BatchImage.image_id)
        .outerjoin(Judgment, Judgment.id == current.c.jid)
        .where(BatchImage.batch_id == batch_id, BatchImage.position >= start)
        .order_by(BatchImage.position, BatchImage.id)
    )
    rows = session.execute(stmt).all()
    here = _seen_here(session, batch_id, [row.id for row in rows if row.Judgment is not None
                                          and row.Judgment.batch_id not in (None, batch_id)])
    predictions = latest_predictions(
        session,
        [row.id for row in rows],
        model_version=model_version,
        with_embedding=with_embedding,
    )
    return [
        BatchItem(
            image=ImageRecord(
                image_id=image_id,
                sha256=sha256,
                path=path,
                width=width,
                height=height,
                position=position,
            ),
            prediction=predictions.get(image_id),
            judgment=None if judgment is None else _judgment_record(judgment),
            seen_here=judgment is not None and (judgment.batch_id == batch_id or image_id in here),
        )
        for position, path, image_id, sha256, width, height, judgment in rows
    ]


def _seen_here(session: Session, batch_id: int, image_ids: list[int]) -> set[int]:
    """Those of ``image_ids`` (judged last in another batch) with a row of their history written in ``batch_id``: a
    note in lot2 on a decision of lot1 made lot1 say it was judged elsewhere (review). Few: a picture in two lots."""
    found: set[int] = set()
    for chunk in _chunks(image_ids):
        found.update(session.scalars(select(Judgment.image_id).where(
            Judgment.batch_id == batch_id, Judgment.image_id.in_(chunk)).distinct()))
    return found
