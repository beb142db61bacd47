"""Two analysts on one store (issue #19): a judgment made on a state the image no longer has is refused as a
conflict, never written over a colleague's decision; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from store_backends import BACKENDS, fresh_engine

from app.services.queue import QueueService
from app.store import queries, repo
from app.store.db import session_scope
from app.store.errors import JudgmentConflictError
from app.store.records import PredictionRecord

V1 = "conflict-v1"


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path: Path):
    with fresh_engine(request.param, tmp_path, "conflicts.sqlite3") as eng:
        yield eng


def _images(engine, n: int = 3) -> list[int]:
    ids = []
    with session_scope(engine) as s:
        repo.register_model_version(s, version=V1, manifest={})
        for i in range(n):
            image = repo.get_or_create_image(s, hashlib.sha256(f"c{i}".encode()).hexdigest(), f"/x/c{i}.png", 8, 8)
            repo.save_prediction(s, image.image_id, PredictionRecord(
                leaf="crack", confidence=0.4, path=("g", "s", "crack"), route="rejudge",
                reasons=("low_confidence",), model_version=V1))
            ids.append(image.image_id)
    return ids


def _judge(engine, image_id: int, leaf: str | None, analyst: str, expect=None):
    with session_scope(engine) as s:
        return repo.record_judgment(s, image_id=image_id, leaf=leaf, action="picker", analyst=analyst,
                                    expect_state=expect)


def _history(engine, image_id: int):
    with session_scope(engine, action="read") as s:
        return repo.judgment_history(s, image_id)


def test_a_judgment_on_a_stale_state_is_refused_and_names_the_colleague(engine) -> None:
    image, *_ = _images(engine)
    seen = repo.state_of(None)  # alice and bob both see it waiting
    mine = _judge(engine, image, "crack", "alice", expect=seen)
    with pytest.raises(JudgmentConflictError, match="judged meanwhile by alice") as err:
        _judge(engine, image, "dent", "bob", expect=seen)
    assert err.value.current.id == mine.id and err.value.current.analyst == "alice"
    assert [j.analyst for j in _history(engine, image)] == ["alice"]  # nothing of bob's was written
    again = _judge(engine, image, "dent", "bob", expect=repo.state_of(err.value.current))  # bob saw it: replaces
    assert (again.leaf, again.status) == ("dent", "corrected") and len(_history(engine, image)) == 2
    assert _judge(engine, image, "scratch", "carol").leaf == "scratch"  # without expect_state: no check (scripts)


def test_two_analysts_racing_on_one_image_write_one_judgment(engine) -> None:
    image, *_ = _images(engine)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def judge(analyst: str, leaf: str) -> None:
        barrier.wait()
        try:
            results[analyst] = _judge(engine, image, leaf, analyst, expect=("pending", None))
        except JudgmentConflictError as exc:
            results[analyst] = exc

    threads = [threading.Thread(target=judge, args=a) for a in (("alice", "crack"), ("bob", "dent"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    conflicts = [r for r in results.values() if isinstance(r, JudgmentConflictError)]
    assert len(results) == 2 and len(conflicts) == 1 and len(_history(engine, image)) == 1


def test_bulk_judgments_of_images_decided_meanwhile_write_nothing(engine) -> None:
    ids = _images(engine)
    _judge(engine, ids[1], "dent", "bob")  # bob decided one of them after alice's queue was loaded
    queue = QueueService(engine, "alice")
    with pytest.raises(JudgmentConflictError, match="1 of the selected images was judged meanwhile") as err:
        queue.accept(ids, model_version=V1, waiting=ids)
    assert err.value.current.analyst == "bob"
    assert [len(_history(engine, i)) for i in ids] == [0, 1, 0]
    done = queue.accept(ids, model_version=V1, waiting=[ids[0], ids[2]])  # bob's one shown as judged: chosen anyway
    assert [j.image_id for j in done] == ids
    with session_scope(engine, action="read") as s:
        assert queries.rejudge_queue(s, model_version=V1).total == 0
