"""Saving a chunk of predictions at once (``repo.save_predictions``) stores exactly what row by row does."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from test_store import MODEL, add_image, engine, prediction, register  # noqa: F401  (engine: the fixture)

from app.store import repo
from app.store.db import session_scope
from app.store.repo import predictions as predictions_repo
from app.store.schema import Prediction, PredictionReason


def _stored(store: Engine, image_ids: list[int]) -> dict:
    """Per image: every prediction row (by version) with its reasons, as the store holds them."""
    with session_scope(store, action="read") as s:
        out = {}
        for image_id in image_ids:
            rows = s.scalars(select(Prediction).where(Prediction.image_id == image_id).order_by(Prediction.id)).all()
            out[image_id] = [
                (row.model_version_id, row.leaf, row.route, row.top5, row.level_probs, row.unknown_score,
                 tuple(s.scalars(select(PredictionReason.reason).where(PredictionReason.prediction_id == row.id)
                                 .order_by(PredictionReason.reason)).all()))
                for row in rows]
        return out


def _batches(tmp_path: Path) -> list[list[tuple[str, object]]]:
    """Two chunks: a, b new; then b predicted again (other leaf and reasons), c new, with a repeated reason."""
    return [
        [("a", prediction("scratch", route="rejudge", reasons=["low_confidence"])),
         ("b", prediction("dent", reasons=[]))],
        [("b", prediction("crack", route="rejudge", reasons=["class_below_target", "low_margin"],
                          unknown_score=0.4)),
         ("c", prediction(None, route="rejudge", reasons=["unreadable", "unreadable"], error="truncated"))],
    ]


@pytest.mark.parametrize("how", ["chunk", "chunk after a race", "row by row"])
def test_save_predictions_stores_what_row_by_row_does(engine: Engine, tmp_path: Path, how: str,  # noqa: F811
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "chunk after a race":
        # the chunk wrote everything, then met a unique-key race: its savepoint is undone, row by row redoes it
        real = predictions_repo._save_chunk

        def raced(session, pairs):
            real(session, pairs)
            raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

        monkeypatch.setattr(predictions_repo, "_save_chunk", raced)
    with session_scope(engine) as s:
        register(s)
        ids = {n: add_image(s, n, tmp_path).image_id for n in "abc"}
    returned = []
    for chunk in _batches(tmp_path):
        with session_scope(engine) as s:
            pairs = [(ids[n], record) for n, record in chunk]
            if how == "row by row":
                returned += [(i, repo.save_prediction(s, i, r)) for i, r in pairs]
            else:
                returned += repo.save_predictions(s, pairs)
    stored = _stored(engine, list(ids.values()))
    assert [len(rows) for rows in stored.values()] == [1, 1, 1]  # b was replaced, not added
    (a,), (b,), (c,) = stored.values()
    assert a[1:3] == ("scratch", "rejudge") and a[-1] == ("low_confidence",)
    assert b[1:3] == ("crack", "rejudge") and b[-1] == ("class_below_target", "low_margin") and b[5] == 0.4
    assert c[1] is None and c[-1] == ("unreadable",)
    with session_scope(engine, action="read") as s:
        latest = repo.latest_predictions(s, list(ids.values()))
        assert s.scalar(select(func.count()).select_from(PredictionReason)) == 4
    # what is returned is the row as stored (with its id), as latest_predictions reads it back
    last = dict(returned)
    for image_id, record in last.items():
        assert dataclasses.replace(record, created_at=None) == dataclasses.replace(
            latest[image_id], created_at=None)
    assert last[ids["b"]].id == returned[1][1].id  # b's row kept its id


def test_save_predictions_of_mixed_versions_or_repeated_images_goes_row_by_row(
        engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    with session_scope(engine) as s:
        register(s)
        register(s, "tiny-v2")
        a = add_image(s, "a", tmp_path).image_id
        b = add_image(s, "b", tmp_path).image_id
        mixed = repo.save_predictions(s, [(a, prediction("dent")), (b, prediction("crack", version="tiny-v2"))])
        twice = repo.save_predictions(s, [(a, prediction("scratch")), (a, prediction("crack", reasons=["x"]))])
        with pytest.raises(ValueError, match="not registered"):
            repo.save_predictions(s, [(a, prediction("dent", version="nope")), (b, prediction("dent", version="nope"))])
    assert [r.model_version for _, r in mixed] == [MODEL, "tiny-v2"]
    assert twice[0][1].id == twice[1][1].id == mixed[0][1].id
    assert [rows[0][1] for rows in _stored(engine, [a]).values()] == ["crack"]
