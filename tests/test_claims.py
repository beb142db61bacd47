"""Claims with a lease (issue #19): a team on one database gets different images; a lapsed lease frees an image;
on SQLite and PostgreSQL, also when analysts ask at the same moment."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from pathlib import Path

import pytest
from store_backends import BACKENDS, fresh_engine

from app.store import repo
from app.store.db import session_scope
from app.store.schema import utcnow


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path: Path):
    with fresh_engine(request.param, tmp_path, "claims.sqlite3") as eng:
        yield eng


@pytest.fixture
def batch(engine) -> tuple[int, list[int]]:
    with session_scope(engine) as s:
        b = repo.create_batch(s, name="lot", source_folder="/lot")
        ids = []
        for i in range(12):
            image = repo.get_or_create_image(s, hashlib.sha256(f"i{i}".encode()).hexdigest(), f"/lot/{i}.png", 8, 8)
            repo.add_to_batch(s, b.id, image.image_id, f"/lot/{i}.png")
            ids.append(image.image_id)
    return b.id, ids


def _claim(engine, ids, who, lease=60.0, now=None):
    with session_scope(engine) as s:
        return repo.claim(s, ids, who, lease_s=lease, now=now)


def test_an_image_stays_with_its_holder_until_the_lease_lapses(engine, batch) -> None:
    _batch, ids = batch
    assert _claim(engine, ids[:3], "alice") == {}
    assert _claim(engine, ids[1:5], "bob") == {ids[1]: "alice", ids[2]: "alice"}  # bob gets 3 and 4
    assert _claim(engine, ids[:2], "alice") == {}  # renewing her own
    later = utcnow() + dt.timedelta(seconds=120)  # alice's workstation stopped renewing
    assert _claim(engine, ids[:3], "bob", now=later) == {}
    with session_scope(engine, action="read") as s:
        assert repo.held_by_others(s, ids[:5], "alice", now=later) == dict.fromkeys(ids[:3], "bob")  # 4, 5 lapsed
        assert repo.held_by_others(s, ids[:5], "bob", now=later) == {}
        many = [*ids[1:5], *range(10**6, 10**6 + 3000)]  # a factory's batch: the live claims read at once
        assert repo.held_by_others(s, many, "alice", now=later) == dict.fromkeys(ids[1:3], "bob")
        assert repo.held_by_others(s, many, "bob", now=later) == {}
    with session_scope(engine) as s:
        assert repo.release(s, "bob", ids[:2]) == 2
    assert _claim(engine, ids[:2], "carol", now=later) == {}


def test_claim_next_hands_out_different_undecided_images(engine, batch) -> None:
    batch_id, ids = batch
    with session_scope(engine) as s:
        repo.record_judgment(s, image_id=ids[0], leaf="crack", action="picker", analyst="dora")  # decided: skipped
        first = repo.claim_next(s, batch_id, "alice", n=3, lease_s=60)
    with session_scope(engine) as s:
        second = repo.claim_next(s, batch_id, "bob", n=3, lease_s=60)
    assert first == ids[1:4] and second == ids[4:7]
    with session_scope(engine) as s:
        assert repo.claim_next(s, batch_id, "alice", n=2, lease_s=60) == ids[1:3]  # her own come back first
        # from where the caller is (the position of its last image), then from the start: 10, 11, 12 wrap to 8
        assert repo.claim_next(s, batch_id, "carol", n=4, lease_s=60, after_position=8) == [*ids[9:12], ids[7]]


def test_analysts_asking_at_once_get_disjoint_images(engine, batch) -> None:
    batch_id, ids = batch
    barrier = threading.Barrier(4)
    got: dict[str, list[int]] = {}

    def ask(who: str) -> None:
        barrier.wait()
        with session_scope(engine) as s:
            got[who] = repo.claim_next(s, batch_id, who, n=3, lease_s=60)

    threads = [threading.Thread(target=ask, args=(f"a{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    handed = [i for images in got.values() for i in images]
    assert len(got) == 4 and len(handed) == len(set(handed)) == 12 and set(handed) == set(ids)
