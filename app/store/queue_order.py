"""The re-judge queue's orders: the ORDER BY terms of each sort, and the pages sorted by type or determined node
read a group at a time.

:func:`order_terms` gives the terms :func:`app.store.queries.rejudge_queue` sorts by. A tree's nodes sort in the
order of the names the app shows (``node_order``): through a rank, one flat CASE for a small tree and a binary
search of nested CASEs above :data:`FLAT_RANKS` nodes. Such a rank is computed for every queued row, and the whole
queue is read to sort it (200 000 images, 79 000 queued, 150 leaves: 0.3-0.5 s a page). On SQLite,
:func:`by_type_ids` reads the page sorted by type instead as one ``UNION ALL`` of a part per type in that order,
each part least sure first on index ``ix_predictions_queue_leaf`` (migration 0006), and :func:`by_determined_ids`
a part per (determined node, type) pair on ``ix_predictions_queue_determined`` (migration 0007): the database
stops once the page is full. With each row's judgment looked up as it is read (``queries._waiting``), the first
page takes 0.04-0.06 s by type and about 0.1 s by determined node (``python -m bench tree``).
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

COMPOUND = 400
"""The most parts of one compound SELECT (SQLite allows 500); more are joined a compound at a time."""

MAX_PARTS = 2_000
"""The most parts of a page read a group at a time; a bigger tree sorts by rank."""


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


class _Parts:
    """A page read a group at a time: one ``SELECT`` per group (its rows least sure first, on an index), joined by
    ``UNION ALL`` in the groups' order. Each shape of part is compiled once and repeated with each group's values
    (the ORM compiled 190 parts of a 150-leaf tree in 0.9 s)."""

    def __init__(self, session: Session, where: Sequence[ColumnElement[bool]], descending: bool, wanted: int) -> None:
        self.dialect = session.get_bind().dialect
        self.where, self.descending, self.wanted = list(where), descending, wanted
        self.shapes: dict[Any, tuple[str, list[tuple[str, Any]]]] = {}  # shape -> (its SQL, its parameters)
        self.parts: list[tuple[Any, dict[str, Any]]] = []

    def add(self, shape: Any, cond: Sequence[ColumnElement[bool]], values: dict[str, Any] | None = None,
            by: Sequence[Any] = ()) -> None:
        """A part of the conditions ``cond`` (built once per ``shape``; ``values`` fill its named parameters),
        sorted by ``by`` first when its rows are not all of one group."""
        if shape not in self.shapes:
            terms = [*by, Prediction.confidence, Prediction.image_id]
            stmt = select(Prediction.id).where(*self.where, *cond).order_by(*_directed(terms, self.descending))
            state = stmt.limit(self.wanted).compile(dialect=self.dialect).construct_expanded_state()
            convert = state.processors
            self.shapes[shape] = (f"SELECT * FROM ({state.statement})", [
                (n, convert[n](v) if convert.get(n) else v)
                for n, v in zip(state.positiontup or (), state.positional_parameters, strict=True)
            ])
        self.parts.append((shape, values or {}))

    def ids(self, session: Session, offset: int, limit: int) -> list[int] | None:
        """The page's prediction ids; None when the statement would be too big (more than :data:`MAX_PARTS`
        parts or :data:`MAX_VARIABLES` parameters)."""
        parts = self.parts[::-1] if self.descending else self.parts
        if len(parts) > MAX_PARTS:
            return None
        params = [v for shape, values in parts for v in (values.get(n, v) for n, v in self.shapes[shape][1])]
        if len(params) + 2 > MAX_VARIABLES:  # an SQLite before 3.32 (2020) takes 999 at most
            return None
        chunks = [parts[i:i + COMPOUND] for i in range(0, len(parts), COMPOUND)]
        unions = [" UNION ALL ".join(self.shapes[shape][0] for shape, _ in chunk) for chunk in chunks]
        sql = unions[0] if len(unions) == 1 else " UNION ALL ".join(f"SELECT * FROM ({u})" for u in unions)
        rows = session.connection().exec_driver_sql(f"{sql} LIMIT ? OFFSET ?", (*params, limit, offset))
        return [int(i) for (i,) in rows]


def by_type_ids(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    node_order: Sequence[str] | None,
    descending: bool,
    offset: int,
    limit: int,
) -> list[int] | None:
    """The page's prediction ids sorted by type (``order_terms("leaf", ...)``'s order), a type at a time on index
    ``ix_predictions_queue_leaf``; None when that is not the faster way (no ``node_order``, or too big a tree).

    SQLite only: it runs the parts of a ``UNION ALL`` in turn and stops at the page's end (the order of a
    compound SELECT without ORDER BY is its implementation's; ``tests/test_queue_rank.py`` checks the pages
    against the rank and Python)."""
    ranks = _ranks(node_order or ())
    if not ranks:
        return None
    leaf = Prediction.leaf
    parts = _Parts(session, where, descending, offset + limit)  # no part gives more than the page can use
    parts.add("none", [leaf.is_(None)])
    for node in ranks:
        parts.add("one", [leaf == bindparam("fma_leaf", "", type_=String())], {"fma_leaf": node})
    parts.add("rest", [leaf.not_in(list(ranks))], by=[leaf])  # ids not in the order after, by id
    return parts.ids(session, offset, limit)


def by_determined_ids(
    session: Session,
    scope: Sequence[ColumnElement[bool]],
    where: Sequence[ColumnElement[bool]],
    node_order: Sequence[str] | None,
    descending: bool,
    offset: int,
    limit: int,
) -> list[int] | None:
    """The page's prediction ids sorted by determined node, then type (``order_terms("determined", ...)``'s
    order), a (node, type) pair at a time on index ``ix_predictions_queue_determined``; None as for
    :func:`by_type_ids`.

    The pairs are those found in ``scope`` (the version's queued rows, judged or not; about 150 for the
    150-leaf tree, one pass over the index): a determined node lies on its type's path, so a tree has a few
    pairs per type, where every node with every type would be 35,000."""
    ranks = _ranks(node_order or ())
    if not ranks:
        return None
    det, leaf = Prediction.determined, Prediction.leaf
    pairs = session.execute(select(det, leaf).where(*scope).distinct()).all()
    if len(pairs) > MAX_PARTS:
        return None

    def key(node: str | None) -> tuple:  # the rank's order: NULL first, ids not in the order after, by id
        return (0,) if node is None else (1, ranks.get(node, len(node_order or ())), node)

    parts = _Parts(session, where, descending, offset + limit)
    for d, lf in sorted(pairs, key=lambda p: (key(p[0]), key(p[1]))):
        cond = [det.is_(None) if d is None else det == bindparam("fma_det", "", type_=String()),
                leaf.is_(None) if lf is None else leaf == bindparam("fma_leaf", "", type_=String())]
        parts.add((d is None, lf is None), cond, {"fma_det": d, "fma_leaf": lf})
    return parts.ids(session, offset, limit)
