"""Batch items: a batch's images in order, each with its latest prediction and current judgment."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.records import BatchItem, ImageRecord
from app.store.repo._common import _current_ids, _judgment_record
from app.store.repo.predictions import latest_predictions
from app.store.schema import BatchImage, Image, Judgment


def batch_items(
    session: Session, batch_id: int, *, model_version: str | None = None, with_embedding: bool = False
) -> list[BatchItem]:
    """The images of a batch in position order, each with its latest prediction and current judgment.

    Args:
        batch_id: the batch.
        model_version: take this version's predictions (None: each image's most recent prediction).
        with_embedding: also load the embeddings (large; off by default).
    """
    in_batch = select(BatchImage.image_id).where(BatchImage.batch_id == batch_id)
    current = _current_ids(Judgment.image_id.in_(in_batch)).subquery()
    stmt = (
        select(BatchImage.position, BatchImage.path, Image, Judgment)
        .join(Image, Image.id == BatchImage.image_id)
        .outerjoin(current, current.c.image_id == BatchImage.image_id)
        .outerjoin(Judgment, Judgment.id == current.c.jid)
        .where(BatchImage.batch_id == batch_id)
        .order_by(BatchImage.position, BatchImage.id)
    )
    rows = session.execute(stmt).all()
    predictions = latest_predictions(
        session,
        [image.id for _, _, image, _ in rows],
        model_version=model_version,
        with_embedding=with_embedding,
    )
    return [
        BatchItem(
            image=ImageRecord(
                image_id=image.id,
                sha256=image.sha256,
                path=path,
                width=image.width,
                height=image.height,
                position=position,
            ),
            prediction=predictions.get(image.id),
            judgment=None if judgment is None else _judgment_record(judgment),
        )
        for position, path, image, judgment in rows
    ]
