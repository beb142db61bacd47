"""The queue's sort by type ranks ids by a binary search in byte order, whatever the database's collation."""

from __future__ import annotations

import pytest
from sqlalchemy import column, create_engine, select, table, text, values
from sqlalchemy.types import String
from store_backends import PG_URL

from app.store.queries import _ranked

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
