"""The queue's sort by type ranks ids by a binary search in byte order, whatever the database's collation."""

from __future__ import annotations

import pytest
from sqlalchemy import column, create_engine, select, table, text, values
from sqlalchemy.types import String
from store_backends import PG_URL

from app.store.queue_order import _ranked

IDS = ["Scratch", "scratch_", "scratcH", "_dent", "dent0", "Dent", "crac", "fiber-x", "fiber_x", "Bubble", "bubble-",
       "a_b", "ab", "A", "z", "Z9", "mechanical_", "scratch", "dent", "fiber", "crack", "bubble"]  # fmt: skip


def _ranks(engine, collation: str | None, dialect: str) -> dict[str, int]:
    rows = values(column("x", String), name="t").data([(i,) for i in IDS])
    node = rows.c.x if collation is None else rows.c.x.collate(collation)
    order = [f"n{k:03d}" for k in range(200)] + sorted(IDS, key=lambda i: (i.lower(), i))  # by shown name, say
    rank = _ranked(node, order, dialect)[0]
    with engine.connect() as conn:
        return dict(conn.execute(select(rows.c.x, rank)).all())


def test_ranks_match_the_order_given() -> None:
    order = [f"n{k:03d}" for k in range(200)] + sorted(IDS, key=lambda i: (i.lower(), i))
    engine = create_engine("sqlite://")
    expected = {i: order.index(i) for i in IDS}
    with engine.connect() as conn:  # SQLite has no VALUES alias list: a table of the ids
        conn.execute(text("CREATE TEMP TABLE t (x TEXT)"))
        conn.execute(text("INSERT INTO t VALUES " + ",".join(f"('{i}')" for i in IDS)))
        node = table("t", column("x", String)).c.x
        got = dict(conn.execute(select(node, _ranked(node, order, "sqlite")[0])).all())
    assert got == expected


@pytest.mark.skipif(not PG_URL, reason="set FMA_TEST_PG_URL to a scratch PostgreSQL")
def test_ranks_on_postgresql_under_a_language_collation() -> None:
    """A factory's PostgreSQL sorts text by a language's rules ("a_b" after "ab"); the search compares in "C"."""
    engine = create_engine(PG_URL)
    order = [f"n{k:03d}" for k in range(200)] + sorted(IDS, key=lambda i: (i.lower(), i))
    expected = {i: order.index(i) for i in IDS}
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT collname FROM pg_collation"))}
    icu = next((c for c in ("en-US-x-icu", "en_US.utf8", "en_US") if c in names), None)
    if icu is None:
        pytest.skip("no language collation on this PostgreSQL")
    assert _ranks(engine, icu, "postgresql") == expected


def test_ranks_against_python_for_random_orders_duplicates_and_missing_ids() -> None:
    import random

    engine = create_engine("sqlite://")
    ids = IDS + [f"x{k:03d}" for k in range(80)]
    with engine.connect() as conn:
        conn.execute(text("CREATE TEMP TABLE t (x TEXT)"))
        conn.execute(text("INSERT INTO t VALUES " + ",".join(f"('{i}')" for i in ids) + ", (NULL)"))
        node = table("t", column("x", String)).c.x
        rng = random.Random(5)
        for _ in range(10):
            order = rng.sample(ids, 60) + rng.sample(ids, 5)  # duplicates: the first place counts
            expected = {i: (order.index(i) if i in order else len(order)) for i in ids} | {None: None}
            got = dict(conn.execute(select(node, _ranked(node, order, "sqlite")[0])).all())
            assert got == expected
            ranked = [r[0] for r in conn.execute(select(node).order_by(*[k.desc().nulls_last()
                                                                         for k in _ranked(node, order)]))]  # fmt: skip
            assert ranked[-1] is None and ranked[0] == max(ids, key=lambda i: (expected[i], i))


@pytest.mark.parametrize("sort", ["leaf", "determined"])
def test_pages_read_a_group_at_a_time_are_the_ranked_order(tmp_path, monkeypatch, sort) -> None:
    """Sorted by type or determined node, SQLite reads one part per type or (node, type) pair
    (``queue_order.by_type_ids`` / ``by_determined_ids``), looking each row's judgment up: the same pages as the
    rank over every queued row tested against the decided set, and as Python's sort, for NULL leaves and nodes,
    ids not in the order, duplicates, descending, deep offsets and filters."""
    import datetime as dt
    import random

    import numpy as np
    from conftest import bench_store_queue

    from app.store import queries, queue_order
    from app.store.db import make_engine, session_scope

    bench = bench_store_queue()
    truth = bench.build_store(tmp_path / "q.sqlite3", 3_000)
    engine = make_engine(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    with engine.begin() as conn:  # some failed predictions (no leaf) and some types outside any order below
        conn.execute(text("UPDATE predictions SET leaf = NULL, confidence = NULL WHERE image_id % 97 = 0"))
        conn.execute(text("UPDATE predictions SET leaf = 'zz_retired' WHERE image_id % 89 = 0"))
        conn.execute(text("UPDATE predictions SET confidence = 0.5 WHERE image_id % 7 = 0"))  # ties: by image id
        conn.execute(text("UPDATE predictions SET determined = CASE image_id % 5 WHEN 0 THEN leaf WHEN 1 THEN"
                          " 'n001' WHEN 2 THEN 'zz_gone' WHEN 3 THEN 'n000' END"))  # the rest NULL
    calls: list[int] = []
    name = "by_type_ids" if sort == "leaf" else "by_determined_ids"
    real = getattr(queue_order, name)
    monkeypatch.setattr(queries, name, lambda *a, **k: calls.append(1) or real(*a, **k))

    def page(**kw) -> list[int]:
        with session_scope(engine, action="read") as s:
            return [r.image_id for r in queries.rejudge_queue(s, model_version=bench.VERSION, sort=sort,
                                                              facets=False, **kw).rows]

    rng = random.Random(3)
    leaves = list(bench.LEAVES)
    expected_calls = 0
    try:
        for k in range(6):
            order = [f"n{i:03d}" for i in range(40)] + rng.sample(leaves, 6) + rng.sample(leaves, 2)
            for descending in (False, True):
                for offset, limit in ((0, 200), (150, 100), (1_000, 300), (0, 10_000), (9_990, 20)):
                    kw = dict(node_order=order, descending=descending, offset=offset, limit=limit)
                    if k % 2:
                        kw["reasons"] = ["low_confidence", "possible_unknown"]
                    if k % 3 == 0:  # a time (SQLite stores it as text: the value goes through its converter)
                        kw["older_than"] = bench.BASE_TIME + dt.timedelta(seconds=float(truth.created_seconds.mean()))
                    if k % 3 == 1:
                        kw.update(min_conf=0.2, max_conf=0.95, states=["rejudge", "corrected"])
                    if k == 4:
                        kw.update(batch_id=1)  # a batch's pages test every row against the sets
                    monkeypatch.setattr(queue_order, "MAX_PARTS", 2_000)
                    by_parts = page(**kw)
                    expected_calls += k != 4 and offset + limit <= queries.PER_ROW_DEPTH
                    monkeypatch.setattr(queue_order, "MAX_PARTS", 0)  # the rank over every row
                    assert by_parts == page(**kw), (order, kw)
                    expected_calls += k != 4 and offset + limit <= queries.PER_ROW_DEPTH
        assert len(calls) == expected_calls > 50
        blind = truth.reasons[:, bench.REASONS.index("spot_check")]
        waiting = np.flatnonzero(truth.rejudge & ~truth.decided & ~blind) + 1
        with engine.connect() as conn:
            rows = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(text(
                "SELECT image_id, leaf, confidence, determined FROM predictions p JOIN model_versions m"
                " ON m.id = p.model_version_id WHERE m.version = :v"), {"v": bench.VERSION})}
        order = ["n001", "n0"] + leaves[::-1]

        def rank(node: str | None) -> tuple:
            return (-1, "") if node is None else (order.index(node) if node in order else len(order), node)

        def key(i: int) -> tuple:
            leaf, conf, determined = rows[i]
            return (*(rank(determined) if sort == "determined" else ()), *rank(leaf),
                    -1.0 if conf is None else conf, i)

        monkeypatch.setattr(queue_order, "MAX_PARTS", 2_000)
        assert page(node_order=order, limit=10_000) == sorted(waiting.tolist(), key=key)
        monkeypatch.setattr(queue_order, "MAX_VARIABLES", 100)  # over the limit of parameters: the rank instead
        with session_scope(engine, action="read") as s:
            assert queue_order.by_type_ids(s, [], [f"n{i}" for i in range(399)], False, 0, 10) is None
        assert page(node_order=order, limit=10_000) == sorted(waiting.tolist(), key=key)
        monkeypatch.setattr(queue_order, "COMPOUND", 3)  # parts joined a compound SELECT at a time
        monkeypatch.setattr(queue_order, "MAX_VARIABLES", 32_766)
        assert page(node_order=order, limit=10_000) == sorted(waiting.tolist(), key=key)
        assert page(node_order=order, limit=500, offset=700, descending=True) == \
            sorted(waiting.tolist(), key=key, reverse=True)[700:1200]
    finally:
        engine.dispose()


def test_a_page_in_index_order_looks_each_row_up_with_the_same_rows_as_the_sets(tmp_path) -> None:
    """Sorted by confidence, the first pages look each row's current judgment up (``per_row``); deeper pages
    and the counts test every row against the set of decided images: the rows agree for every state filter."""
    from conftest import bench_store_queue

    from app.store import queries
    from app.store.db import make_engine, session_scope

    bench = bench_store_queue()
    bench.build_store(tmp_path / "q.sqlite3", 3_000)  # judgments undone back to pending among them
    engine = make_engine(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    try:
        for kw in ({}, {"include_judged": True}, {"states": ["accepted", "unknown"]}, {"states": ["rejudge"]},
                   {"states": ["corrected", "rejudge"], "min_conf": 0.3}, {"reasons": ["spot_check"],
                                                                           "include_judged": True}):
            for descending in (False, True):
                with session_scope(engine, action="read") as s:
                    q = dict(model_version=bench.VERSION, facets=False, descending=descending, **kw)
                    first = queries.rejudge_queue(s, limit=9_000, **q).rows  # per row
                    whole = queries.rejudge_queue(s, limit=10_000, **q).rows  # against the sets
                    assert [(r.image_id, r.state) for r in first] == [(r.image_id, r.state) for r in whole][:9_000]
                    assert len(whole) > 5, kw
    finally:
        engine.dispose()
