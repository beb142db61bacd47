"""Predictions: one row per (image, model version), with its routing reasons in their own table."""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from app.store.records import PredictionRecord
from app.store.repo._common import _chunks, _insert_or_existing, _prediction_record
from app.store.schema import ModelVersion, Prediction, PredictionReason, utcnow

_PROB_DECIMALS = 6


def _model_version_row(session: Session, version: str) -> ModelVersion:
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        raise ValueError(f"model version {version!r} is not registered in this database: nothing was predicted "
                         "with it here yet (the app and fma-judge classify register a model when they first run it)")
    return row


def _round_probs(values: Iterable[float]) -> list[float]:
    return [round(float(v), _PROB_DECIMALS) for v in values]


def _row_values(prediction: PredictionRecord) -> dict[str, Any]:
    """The ``predictions`` columns of a record (all but the keys), as stored; used for insert and update."""
    return {
        "leaf": prediction.leaf,
        "confidence": None if prediction.confidence is None else float(prediction.confidence),
        "path": list(prediction.path),
        "path_scores": _round_probs(prediction.path_scores),
        "top5": [
            {"leaf": leaf, "path": list(path), "score": round(float(score), _PROB_DECIMALS)}
            for leaf, path, score in prediction.top5
        ],
        "level_probs": [_round_probs(level) for level in prediction.level_probs],
        "embedding": prediction.embedding,
        "route": prediction.route,
        "reasons": list(prediction.reasons),
        "unknown_score": None if prediction.unknown_score is None else float(prediction.unknown_score),
        "error": prediction.error,
        "created_at": utcnow(),
        "determined": prediction.determined,
        "determined_level": prediction.determined_level,
        "calibration": prediction.calibration,
        "leaf_probs": _round_probs(prediction.leaf_probs) or None,
        "spectra": prediction.spectra,
        "labels": list(prediction.labels) or None,
    }


def save_prediction(session: Session, image_id: int, prediction: PredictionRecord) -> PredictionRecord:
    """Store a prediction: one row per (image, model version), replaced when the same version predicts again.

    Probabilities are stored rounded to 6 decimals; the embedding as given (float32 bytes).

    Returns:
        The prediction as stored, with its ``id`` (without the embedding: read it back with
        :func:`latest_predictions` when needed).

    Raises:
        ValueError: the prediction's model version is not registered.
    """
    version = _model_version_row(session, prediction.model_version)
    values = _row_values(prediction)

    def lookup() -> Prediction | None:
        return session.scalar(
            select(Prediction).where(
                Prediction.image_id == image_id, Prediction.model_version_id == version.id
            )
        )

    row = lookup()
    if row is None:
        row = _insert_or_existing(
            session, Prediction(image_id=image_id, model_version_id=version.id, **values), lookup
        )
    for key, value in values.items():  # re-predicted, or inserted by a racing writer: this one replaces it
        setattr(row, key, value)
    session.flush()
    _replace_reasons(session, row.id, prediction.reasons)
    return _prediction_record(row, version.version, with_embedding=False)


def save_predictions(
    session: Session, pairs: Iterable[tuple[int, PredictionRecord]]
) -> list[tuple[int, PredictionRecord]]:
    """Store ``(image_id, prediction)`` pairs as :func:`save_prediction` does; returns them as stored (with ids).

    A chunk of one model version's predictions for distinct images is written in a few statements (one select
    of the rows already there, one multi-row insert, one update per replaced row, the reasons in two): the model
    thread's write transaction, and the GIL it holds, are ~10x shorter than row by row, which kept the analyst's
    key presses waiting (``BENCH_TRACE=1 python -m bench judging``). Anything else, and a unique-key race with
    another writer, goes row by row.
    """
    pairs = list(pairs)
    versions = {record.model_version for _, record in pairs}
    ids = [image_id for image_id, _ in pairs]
    if len(versions) == 1 and len(set(ids)) == len(ids) > 1:
        try:
            with session.begin_nested():
                return _save_chunk(session, pairs)
        except IntegrityError:  # another writer inserted one of these meanwhile: row by row finds it
            pass
    return [(image_id, save_prediction(session, image_id, record)) for image_id, record in pairs]


def _save_chunk(session: Session, pairs: list[tuple[int, PredictionRecord]]) -> list[tuple[int, PredictionRecord]]:
    version = _model_version_row(session, pairs[0][1].model_version)
    rows = [{"image_id": image_id, "model_version_id": version.id, **_row_values(record)} for image_id, record in pairs]
    existing = dict(session.execute(
        select(Prediction.image_id, Prediction.id).where(
            Prediction.model_version_id == version.id, Prediction.image_id.in_([r["image_id"] for r in rows]))
    ).all())
    known = set(existing)
    new = [r for r in rows if r["image_id"] not in known]
    if new:
        inserted = session.execute(
            insert(Prediction).returning(Prediction.image_id, Prediction.id, sort_by_parameter_order=True), new
        ).all()
        existing.update(inserted)
    for r in rows:
        r["id"] = existing[r["image_id"]]
    if replaced := [r for r in rows if r["image_id"] in known]:
        session.execute(update(Prediction), replaced)  # by primary key, one statement per row
    prediction_ids = [r["id"] for r in rows]
    session.execute(delete(PredictionReason).where(PredictionReason.prediction_id.in_(prediction_ids)))
    reasons = [{"prediction_id": r["id"], "reason": reason}
               for r, (_, record) in zip(rows, pairs, strict=True)
               for reason in _unique(record.reasons)]
    if reasons:
        session.execute(insert(PredictionReason), reasons)
    return [(r["image_id"], _prediction_record(SimpleNamespace(**r), version.version, with_embedding=False))
            for r in rows]


def _unique(reasons: Iterable[str]) -> list[str]:
    """A prediction's reasons as their table holds them: text, each once, in order."""
    return list(dict.fromkeys(str(r) for r in reasons))


def _replace_reasons(session: Session, prediction_id: int, reasons: Iterable[str]) -> None:
    for old in session.scalars(
        select(PredictionReason).where(PredictionReason.prediction_id == prediction_id)
    ):
        session.delete(old)
    session.flush()
    for reason in _unique(reasons):
        session.add(PredictionReason(prediction_id=prediction_id, reason=reason))
    session.flush()


def latest_predictions(
    session: Session,
    image_ids: Iterable[int],
    *,
    model_version: str | None = None,
    with_embedding: bool = False,
) -> dict[int, PredictionRecord]:
    """Per image: the prediction of ``model_version``, or (None) the most recent prediction of any version.

    Embeddings are loaded only with ``with_embedding=True`` (they are large); otherwise they are None.
    """
    options = [] if with_embedding else [defer(Prediction.embedding)]
    found: dict[int, PredictionRecord] = {}
    for chunk in _chunks(image_ids):
        if model_version is not None:
            stmt = (
                select(Prediction, ModelVersion.version)
                .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
                .where(Prediction.image_id.in_(chunk), ModelVersion.version == model_version)
            )
        else:
            rank = (
                func.row_number()
                .over(
                    partition_by=Prediction.image_id,
                    order_by=(Prediction.created_at.desc(), Prediction.id.desc()),
                )
                .label("rank")
            )
            ranked = select(Prediction.id, rank).where(Prediction.image_id.in_(chunk)).subquery()
            stmt = (
                select(Prediction, ModelVersion.version)
                .join(ranked, ranked.c.id == Prediction.id)
                .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
                .where(ranked.c.rank == 1)
            )
        for row, version in session.execute(stmt.options(*options)):
            found[row.image_id] = _prediction_record(row, version, with_embedding=with_embedding)
    return found
