"""The re-judge queue's orders: the ORDER BY terms of each sort, and the page sorted by type read a type at a time.

:func:`order_terms` gives the terms :func:`app.store.queries.rejudge_queue` sorts by. A tree's nodes sort in the
order of the names the app shows (``node_order``): through a rank, one flat CASE for a small tree and a binary
search of nested CASEs above :data:`FLAT_RANKS` nodes. Such a rank is computed for every queued row, and the whole
queue is read to sort it (200 000 images, 79 000 queued, 150 leaves: 0.3-0.46 s a page). :func:`by_type_ids` reads
the page sorted by type instead as one ``UNION ALL`` of a part per type in that order, each part least sure first
on index ``ix_predictions_queue_leaf`` (migration 0006): the database stops once the page is full (the SQL
alone 0.06 s against 0.46 s with one flat CASE; through the queue service 0.145 s against 0.31 s, ``bench tree``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, case, func, select
from sqlalchemy.orm import Session

from app.store.records import MONITOR_REASONS
from app.store.schema import Prediction, PredictionReason
from models.routing.policy import REASONS as MODEL_REASONS

REASONS: tuple[str, ...] = (*MODEL_REASONS, *MONITOR_REASONS)

FLAT_RANKS = 32
"""Up to this many nodes (the demo tree has 24) the sort rank is one flat CASE; above, a binary search."""

MAX_PARTS = 400
"""The most parts of a by-type page (SQLite allows 500 terms in one compound SELECT); a bigger tree sorts by rank."""


MAX_VARIABLES = 999 if sqlite3.sqlite_version_info < (3, 32) else 32_766
"""The most parameters of one SQLite statement."""


def _reason_rank() -> Any:
    """Correlated: the rank of the prediction's first reason in :data:`~models.routing.policy.REASONS`
    (unknown codes last)."""
    rank = case(
        *((PredictionReason.reason == code, i) for i, code in enumerate(REASONS)),
        else_=len(REASONS),
    )
    return (
        select(func.min(rank))
        .where(PredictionReason.prediction_id == Prediction.id)
        .correlate(Prediction)
        .scalar_subquery()
    )


def _ranks(order: Sequence[str]) -> dict[str, int]:
    """Each node's first place in ``order``."""
    ranks: dict[str, int] = {}
    for i, node in enumerate(order):
        ranks.setdefault(node, i)
    return ranks


def _ranked(column: Any, order: Sequence[str] | None, dialect: str = "sqlite") -> list[Any]:
    """``column``'s sort terms: its rank in ``order`` (ids not in it after, NULL stays NULL), then the id."""
    if not order:
        return [column]
    ranks = _ranks(order)
    if len(ranks) <= FLAT_RANKS:  # a small tree: one CASE is as fast
        rank = case(ranks, value=column, else_=len(order))
    else:
        compared = (
            column.collate("C") if dialect == "postgresql" else column
        )  # byte order, as Python sorts ids
        rank = _rank_search(column, compared, sorted(ranks.items()), len(order))
    return [case((column.is_(None), None), else_=rank), column]


def _rank_search(column: Any, compared: Any, items: Sequence[tuple[str, int]], missing: int) -> Any:
    """A node's rank by a binary search of nested CASEs over the ids (sorted): about 8 comparisons a row for a
    150-leaf tree's 188 nodes, where one flat CASE compared the ids in turn (79,000 queued rows, first page by
    determined node: 0.40 s against 0.26 s; 1.1-1.4 s against 0.4-0.6 s when the queued types come last)."""
    if len(items) <= 4:
        return case(dict(items), value=column, else_=missing)
    mid = len(items) // 2
    return case(
        (compared < items[mid][0], _rank_search(column, compared, items[:mid], missing)),
        else_=_rank_search(column, compared, items[mid:], missing),
    )


def _directed(terms: Sequence[Any], descending: bool) -> list[Any]:
    """NULLs (no confidence/leaf: the model failed) first, on every backend; all reversed when ``descending``."""
    return [k.desc().nulls_last() if descending else k.asc().nulls_first() for k in terms]


def order_terms(
    sort: str, descending: bool, node_order: Sequence[str] | None = None, dialect: str = "sqlite"
) -> list[Any]:
    """ORDER BY terms; ``confidence`` first is served by the covering index (no sort at all)."""
    keys: dict[str, list[Any]] = {
        "confidence": [Prediction.confidence],
        "age": [Prediction.created_at],
        "leaf": [*_ranked(Prediction.leaf, node_order, dialect), Prediction.confidence],
        "batch": [],  # image ids are given in arrival order: first batch opened, then place in it
        "reason": [func.coalesce(_reason_rank(), len(REASONS)), Prediction.confidence],
        "determined": [
            *_ranked(Prediction.determined, node_order, dialect),
            *_ranked(Prediction.leaf, node_order, dialect),
            Prediction.confidence,
        ],
    }
    return _directed([*keys[sort], Prediction.image_id], descending)


def by_type_ids(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    node_order: Sequence[str] | None,
    descending: bool,
    offset: int,
    limit: int,
) -> list[int] | None:
    """The page's prediction ids sorted by type (``order_terms("leaf", ...)``'s order), a type at a time; None
    when that is not the faster way (no ``node_order``, or a tree of more than :data:`MAX_PARTS` nodes).

    SQLite only: it runs the parts of a ``UNION ALL`` in turn and stops at the page's end (the order of a
    compound SELECT without ORDER BY is its implementation's; ``tests/test_queue_rank.py`` checks the pages
    against the rank and Python). The part of one type is compiled once and repeated with each type's id: the
    ORM compiled 190 parts of a 150-leaf tree in 0.9 s."""
    ranks = _ranks(node_order or ())
    if not ranks or len(ranks) > MAX_PARTS:
        return None
    leaf, wanted = Prediction.leaf, offset + limit  # no part gives more than the page can use
    dialect = session.get_bind().dialect

    def part(cond: ColumnElement[bool], by_leaf: bool = False) -> tuple[str, list[tuple[str, Any]]]:
        terms = [*([leaf] if by_leaf else []), Prediction.confidence, Prediction.image_id]
        stmt = select(Prediction.id).where(*where, cond).order_by(*_directed(terms, descending)).limit(wanted)
        state = stmt.compile(dialect=dialect).construct_expanded_state()
        convert = state.processors
        values = [
            convert[n](v) if convert.get(n) else v
            for n, v in zip(state.positiontup or (), state.positional_parameters, strict=True)
        ]
        return f"SELECT * FROM ({state.statement})", list(zip(state.positiontup or (), values, strict=True))

    one_sql, one_params = part(leaf == bindparam("fma_type", "", type_=String()))
    parts = [part(leaf.is_(None))]
    parts += [(one_sql, [(n, node if n == "fma_type" else v) for n, v in one_params]) for node in ranks]
    parts.append(part(leaf.not_in(list(ranks)), by_leaf=True))  # ids not in the order after, by id
    if descending:
        parts.reverse()
    sql = " UNION ALL ".join(text_ for text_, _ in parts) + " LIMIT ? OFFSET ?"
    params = tuple(v for _, named in parts for _, v in named) + (limit, offset)
    if len(params) > MAX_VARIABLES:  # an SQLite before 3.32 (2020) takes 999 at most
        return None
    return [int(i) for (i,) in session.connection().exec_driver_sql(sql, params)]
