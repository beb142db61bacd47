"""Judged images' embeddings for the "similar judged cases" strip, and the judgment counter its cache refreshes by.

Repository-style functions like :mod:`app.store.queries` (each takes an open Session and returns frozen records).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.store.queries import _JUDGED, _chunks, model_version_id
from app.store.records import EMBEDDING_DTYPE
from app.store.schema import IMAGE_PATH_ORDER, ImagePath, Judgment, Prediction

__all__ = ["JudgedEmbeddings", "images_judged_after", "judged_embeddings", "last_judgment_id"]


@dataclass(frozen=True)
class JudgedEmbeddings:
    """The embeddings of judged images (one model version), row-aligned.

    Attributes:
        image_ids: int64 (N,).
        matrix: float32 (N, D), as stored (not normalised).
        leaves: the current decision's leaf per row; None for "unknown / new defect type".
        paths: the most recently seen path per row.
        analysts, judged_at: who made the current decision and when.
        last_judgment_id: the newest judgment id in the store when this was read (for cheap refreshes).
        skipped: images whose stored embedding had another length than the rest.
    """

    image_ids: np.ndarray
    matrix: np.ndarray
    leaves: list[str | None]
    paths: list[str]
    analysts: list[str]
    judged_at: list[dt.datetime]
    last_judgment_id: int
    skipped: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.image_ids)


def judged_embeddings(
    session: Session,
    *,
    model_version: str,
    limit: int | None = None,
    image_ids: Iterable[int] | None = None,
) -> JudgedEmbeddings:
    """Embeddings of the images whose current judgment is a decision, from ``model_version``'s predictions.

    Args:
        model_version: only this version's embeddings (they are not comparable across versions).
        limit: at most this many, the most recently judged first.
        image_ids: only these images (for incremental refreshes).
    """
    last = last_judgment_id(session)
    version_id = model_version_id(session, model_version)
    empty = JudgedEmbeddings(
        image_ids=np.zeros(0, dtype=np.int64),
        matrix=np.zeros((0, 0), dtype=np.float32),
        leaves=[],
        paths=[],
        analysts=[],
        judged_at=[],
        last_judgment_id=last,
    )
    if version_id is None:
        return empty
    wanted = None if image_ids is None else sorted({int(i) for i in image_ids})
    groups: Iterable[list[int] | None] = [None] if wanted is None else _chunks(wanted)
    rows: list[Any] = []
    for chunk in groups:
        current = select(Judgment.image_id, func.max(Judgment.id).label("jid")).group_by(Judgment.image_id)
        if chunk is not None:
            current = current.where(Judgment.image_id.in_(chunk))
        cur = current.subquery()
        latest_path = (
            select(ImagePath.path)
            .where(ImagePath.image_id == cur.c.image_id)
            .order_by(*IMAGE_PATH_ORDER)
            .limit(1)
            .correlate(cur)
            .scalar_subquery()
        )
        stmt = (
            select(
                cur.c.image_id,
                Prediction.embedding,
                Judgment.leaf,
                latest_path,
                Judgment.analyst,
                Judgment.created_at,
                Judgment.id,
            )
            .join(Judgment, Judgment.id == cur.c.jid)
            .join(
                Prediction,
                (Prediction.image_id == cur.c.image_id) & (Prediction.model_version_id == version_id),
            )
            .where(Judgment.status.in_(_JUDGED), Prediction.embedding.is_not(None))
            .order_by(Judgment.id.desc())
        )
        if limit is not None:
            stmt = stmt.limit(int(limit))
        rows.extend(session.execute(stmt).all())
    if not rows:
        return empty
    rows.sort(key=lambda r: -r.id)
    if limit is not None:
        rows = rows[: int(limit)]
    lengths = [len(r.embedding) for r in rows]
    width = max(set(lengths), key=lengths.count)  # the common length; any other is skipped
    keep = [r for r in rows if len(r.embedding) == width]
    skipped = tuple(int(r.image_id) for r in rows if len(r.embedding) != width)
    dim = width // np.dtype(EMBEDDING_DTYPE).itemsize
    matrix = np.frombuffer(b"".join(r.embedding for r in keep), dtype=EMBEDDING_DTYPE).reshape(len(keep), dim)
    return JudgedEmbeddings(
        image_ids=np.fromiter((r.image_id for r in keep), dtype=np.int64, count=len(keep)),
        matrix=matrix.astype(np.float32),
        leaves=[r.leaf for r in keep],
        paths=[r[3] or "" for r in keep],
        analysts=[r.analyst for r in keep],
        judged_at=[r.created_at for r in keep],
        last_judgment_id=last,
        skipped=skipped,
    )


def last_judgment_id(session: Session) -> int:
    """The newest judgment id in the store (0 when there is none)."""
    return int(session.scalar(select(func.max(Judgment.id))) or 0)


def images_judged_after(session: Session, judgment_id: int) -> list[int]:
    """Images with a judgment newer than ``judgment_id`` (what a cache built at that id must re-read)."""
    stmt = select(Judgment.image_id).where(Judgment.id > judgment_id).distinct()
    return [int(i) for i in session.scalars(stmt)]
