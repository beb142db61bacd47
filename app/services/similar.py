"""Similar judged cases: cosine nearest neighbours among the images analysts already decided. No Qt.

The judged embeddings of one model version are loaded once and kept normalised in memory
(N x D float32); :meth:`SimilarCases.refresh` re-reads only the images judged since the last load, so
it can run after every judgment. A query is one matrix-vector product and an ``argpartition``.
Embeddings of different model versions are never compared.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.store import embeddings
from app.store.db import session_scope
from app.store.queries import written_over
from app.store.records import decode_embedding
from app.store.schema import ModelVersion, Prediction

__all__ = ["SimilarCase", "SimilarCases"]

_EPS = 1e-12
SIMILAR_FLOOR = 0.25
"""Judged images less alike than this (cosine) are no "similar case". Measured with ``python -m bench.similar_floor``
on 360 synthetic test images of the 18 types (seed 41) and the demo model (2026-12-04; its weights of 2026-12-06:
6.8 %, two images, 0.445): 7.1 % of the pairs of different types reach 0.25, one image of 360 had no image of its own
type that alike, and every image's six nearest were at least 0.445 alike. So with many images judged the floor changes nothing; with few, a stranger at 0.08 is no longer
offered as similar: the panel says nothing judged is alike."""


@dataclass(frozen=True)
class SimilarCase:
    """A judged image close to the query: its final label, who decided it, and the cosine similarity."""

    image_id: int
    path: str
    final_leaf: str | None  # None: judged "unknown / new defect type"
    similarity: float
    analyst: str
    judged_at: dt.datetime
    replaced: bool = False  # its file was seen later holding another picture (written over): nothing to show of it


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, _EPS)).astype(np.float32, copy=False)


class SimilarCases:
    """Nearest judged neighbours for one model version at a time.

    Thread-safe: :meth:`refresh` and :meth:`similar_to_image` may run in workers while another thread queries.

    Args:
        engine: the store.
        limit: keep at most this many judged images (the most recently judged), None = all.
    """

    def __init__(self, engine: Engine, *, limit: int | None = None) -> None:
        self.engine = engine
        self.limit = limit
        self.model_version: str | None = None
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._ids = np.zeros(0, dtype=np.int64)
        self._unit = np.zeros((0, 0), dtype=np.float32)
        self._leaves: list[str | None] = []
        self._paths: list[str] = []
        self._analysts: list[str] = []
        self._judged_at: list[dt.datetime] = []
        self._last_judgment_id: int | None = None

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def dim(self) -> int:
        """The embedding size of the cache (0 while empty)."""
        return int(self._unit.shape[1]) if self._unit.ndim == 2 else 0

    # -- loading -------------------------------------------------------------------------------
    def refresh(self, model_version: str) -> bool:
        """Load the judged embeddings of ``model_version``; after the first load, only what changed.

        Returns:
            True when the cache changed.
        """
        with self._refreshing:  # one refresh at a time: two deltas from the same point would add rows twice
            return self._refresh(model_version)

    def _refresh(self, model_version: str) -> bool:
        with session_scope(self.engine, action="read") as s:
            newest = embeddings.last_judgment_id(s)  # read first: anything newer is re-read next time
            same = model_version == self.model_version and self._last_judgment_id is not None
            if same and newest == self._last_judgment_id:
                return False
            if same:
                changed = embeddings.images_judged_after(s, self._last_judgment_id or 0)
                delta = embeddings.judged_embeddings(s, model_version=model_version, image_ids=changed)
            else:
                changed = None
                delta = embeddings.judged_embeddings(s, model_version=model_version, limit=self.limit)
        with self._lock:
            if not same:
                self._reset()
                self.model_version = model_version
            self._apply(delta, changed)
            self._last_judgment_id = newest
        return True

    def _apply(self, delta: embeddings.JudgedEmbeddings, changed: list[int] | None) -> None:
        """Drop the changed images (re-judged, or undone to pending), then add their current rows."""
        if changed:
            keep = ~np.isin(self._ids, np.asarray(changed, dtype=np.int64))
            self._ids = self._ids[keep]
            self._unit = self._unit[keep] if len(self._unit) else self._unit
            idx = np.flatnonzero(keep)
            self._leaves = [self._leaves[i] for i in idx]
            self._paths = [self._paths[i] for i in idx]
            self._analysts = [self._analysts[i] for i in idx]
            self._judged_at = [self._judged_at[i] for i in idx]
        if not len(delta):
            return
        unit = _normalise(delta.matrix)
        if len(self._ids) and unit.shape[1] != self._unit.shape[1]:
            raise ValueError(
                f"embeddings of {self.model_version} changed size ({self._unit.shape[1]} -> {unit.shape[1]})"
            )
        self._unit = unit if not len(self._ids) else np.vstack([self._unit, unit])
        self._ids = np.concatenate([self._ids, delta.image_ids])
        self._leaves += delta.leaves
        self._paths += delta.paths
        self._analysts += delta.analysts
        self._judged_at += delta.judged_at

    # -- queries -------------------------------------------------------------------------------
    def query(
        self, embedding: np.ndarray, k: int = 6, exclude_image_id: int | None = None,
        leaves: Collection[str] | None = None, at_least: float | None = None,
    ) -> list[SimilarCase]:
        """The ``k`` most similar judged images (highest cosine similarity first).

        Args:
            embedding: the query image's embedding from the same model version (1-D).
            k: how many to return (fewer when fewer are judged).
            exclude_image_id: leave this image out (the query image itself, when it is judged).
            leaves: only images judged as one of these leaves (None: any judgment).
            at_least: leave out the images less similar than this (None: keep the ``k`` nearest however far).

        Raises:
            ValueError: the embedding's size is not the cached one, or ``k`` < 1.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        with self._lock:
            if not len(self._ids):
                return []
            if vector.shape[0] != self._unit.shape[1]:
                raise ValueError(
                    f"query embedding has {vector.shape[0]} values, the judged ones of {self.model_version} "
                    f"have {self._unit.shape[1]}: was it made by another model version?"
                )
            sims = self._unit @ (vector / max(float(np.linalg.norm(vector)), _EPS))
            if exclude_image_id is not None:
                sims[self._ids == int(exclude_image_id)] = -np.inf
            if leaves is not None:
                wanted = set(leaves)
                sims[~np.fromiter((lf in wanted for lf in self._leaves), bool, len(self._leaves))] = -np.inf
            if at_least is not None:
                sims[sims < at_least] = -np.inf
            k = min(k, len(sims))
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[np.argsort(-sims[top], kind="stable")]
            return [
                SimilarCase(
                    image_id=int(self._ids[i]),
                    path=self._paths[i],
                    final_leaf=self._leaves[i],
                    similarity=float(sims[i]),
                    analyst=self._analysts[i],
                    judged_at=self._judged_at[i],
                )
                for i in top
                if np.isfinite(sims[i])
            ]

    def similar_to_image(self, image_id: int, model_version: str, k: int = 6,
                         at_least: float | None = SIMILAR_FLOOR) -> list[SimilarCase]:
        """Refresh, then the judged images most similar to a stored image (itself excluded), none less alike than
        ``at_least`` (:data:`SIMILAR_FLOOR`; None: the ``k`` nearest however far).

        Returns an empty list when the image has no embedding from ``model_version``.
        """
        embedding = self._embedding(image_id, model_version)
        return [] if embedding is None else self._marked(
            self.query(embedding, k=k, exclude_image_id=image_id, at_least=at_least))

    def references(self, image_id: int, model_version: str, leaves: Sequence[str],
                   per_leaf: int = 3) -> list[SimilarCase]:
        """Reference images: for each of ``leaves`` in turn (the Top-1 and Top-2 types), the ``per_leaf`` judged
        images of that type most similar to a stored image (itself excluded); leaves nobody judged yet add none."""
        embedding = self._embedding(image_id, model_version)
        if embedding is None:
            return []
        return [case for case in self._marked([
            case for leaf in dict.fromkeys(leaves)
            for case in self.query(embedding, k=per_leaf, exclude_image_id=image_id, leaves=(leaf,))])
            if not case.replaced]  # (a reference shows its picture: one written over has none)

    def _marked(self, cases: list[SimilarCase]) -> list[SimilarCase]:
        """The cases, those whose file was written over with another picture since marked ``replaced`` (asked when
        shown: a folder opened again finds it so during a session, long after the cases were loaded)."""
        if not cases:
            return cases
        with session_scope(self.engine, action="read") as s:
            gone = written_over(s, {c.image_id: c.path for c in cases})
        return [replace(c, replaced=True) if c.image_id in gone else c for c in cases]

    def _embedding(self, image_id: int, model_version: str) -> np.ndarray | None:
        """Refresh, then the stored image's embedding from ``model_version`` (None: it has none)."""
        self.refresh(model_version)
        with session_scope(self.engine, action="read") as s:
            blob = s.scalar(
                select(Prediction.embedding)
                .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
                .where(Prediction.image_id == image_id, ModelVersion.version == model_version)
            )
        return None if blob is None else decode_embedding(blob)
