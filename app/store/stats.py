"""Dashboard aggregates, computed in SQL (GROUP BY), never by looping over images in Python.

Definitions (for one model version; an image counts when it has a prediction of that version):

- ``predicted``: predictions of the version with a leaf; ``auto``: those routed ``auto`` (auto-judged share =
  auto / predicted); ``failed``: predictions without a leaf (the model could not read the image: an error row,
  counted here and never as predicted).
- ``judged``: images whose current judgment (latest row) is a decision (accepted/corrected/unknown);
  ``corrected``/``unknown``: of those, with that status (share people corrected = corrected / judged).
- ``reviewed``: judged images with a predicted leaf; ``wrong``: of those, the ones whose final leaf
  differs from the predicted leaf, "unknown" counting as wrong (model error rate = wrong / reviewed).
- Per period, the prediction figures are bucketed by when the prediction was made and the review
  figures by when the current decision was made. Days, weeks (starting Monday) and months are taken in
  UTC shifted by ``utc_offset_minutes`` (the analysts' time zone).
- Per batch, an image counts in every batch it belongs to.
- Per class: per predicted leaf, reviewed images and how many the analysts agreed with.
- Analyst agreement: Cohen's kappa for each pair of analysts over the images both decided, using each
  analyst's latest own decision per image. Rows that only copy or restore a state (``note`` and
  ``undo`` actions) and decisions later undone are not an analyst's decision; a ``confirm`` row (an
  analyst judged a colleague's image as they did: the decision stays theirs) is its writer's. Labels are the
  leaf ids plus ``unknown``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, String, and_, case, cast, func, literal_column, or_, select
from sqlalchemy.orm import Session, aliased

from app.store.queries import model_version_id
from app.store.schema import (
    JUDGED_STATUSES,
    Batch,
    BatchImage,
    Judgment,
    Prediction,
    PredictionReason,
    decided_time,
    decider,
)

__all__ = [
    "PERIODS",
    "UNKNOWN",
    "AnalystAgreement",
    "BatchFigures",
    "ClassAgreement",
    "Counts",
    "PeriodFigures",
    "analyst_agreement",
    "analyst_figures",
    "batch_figures",
    "class_agreement",
    "cohen_kappa",
    "held_back_by_batch",
    "overall_figures",
    "period_figures",
]

PERIODS: tuple[str, ...] = ("day", "week", "month")
UNKNOWN = "unknown"
"""The label of "unknown / new defect type" decisions in the analyst agreement."""

_JUDGED = sorted(JUDGED_STATUSES)
_NOT_DECISIONS = ("note", "undo")


@dataclass(frozen=True)
class Counts:
    """Raw counts of one group (a batch, a period, or everything); shares are derived."""

    predicted: int = 0
    auto: int = 0
    failed: int = 0
    judged: int = 0
    corrected: int = 0
    unknown: int = 0
    reviewed: int = 0
    wrong: int = 0

    @property
    def auto_share(self) -> float | None:
        """Share of predictions routed ``auto``."""
        return self.auto / self.predicted if self.predicted else None

    @property
    def corrected_share(self) -> float | None:
        """Share of judged images whose current status is ``corrected``."""
        return self.corrected / self.judged if self.judged else None

    @property
    def error_rate(self) -> float | None:
        """Share of reviewed images where the final leaf is not the predicted one (unknown = wrong)."""
        return self.wrong / self.reviewed if self.reviewed else None


@dataclass(frozen=True)
class BatchFigures:
    batch_id: int
    name: str
    counts: Counts


@dataclass(frozen=True)
class PeriodFigures:
    """``start``: first day of the period (a Monday for weeks, the 1st for months), in the chosen time zone."""

    start: dt.date
    counts: Counts


@dataclass(frozen=True)
class ClassAgreement:
    """Per predicted leaf: reviewed images and how many kept the predicted leaf."""

    leaf: str
    reviewed: int
    agreed: int

    @property
    def share(self) -> float | None:
        return self.agreed / self.reviewed if self.reviewed else None


@dataclass(frozen=True)
class AnalystAgreement:
    """Cohen's kappa of two analysts (``analyst_a`` < ``analyst_b``) over ``n`` images both decided.

    ``kappa`` is None when it is undefined (both always gave the one same label: expected agreement 1).
    """

    analyst_a: str
    analyst_b: str
    n: int
    observed: float
    expected: float
    kappa: float | None


# ------------------------------------------------------------------------------------------ helpers
def _period_start(session: Session, column: Any, period: str, utc_offset_minutes: int) -> Any:
    """SQL for the first day of ``column``'s period, in UTC shifted by the offset."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    minutes = int(utc_offset_minutes)
    if session.get_bind().dialect.name == "sqlite":  # naive UTC text
        shift = f"{minutes:+d} minutes"
        if period == "day":
            return func.date(column, shift)
        if period == "month":
            return func.date(column, shift, "start of month")
        return func.date(column, shift, "weekday 0", "-6 days")  # back to Monday
    local = func.timezone("UTC", column) + literal_column(f"interval '{minutes} minutes'")
    return cast(func.date_trunc(period, local), Date)


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _sum(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _current() -> Any:
    """``(image_id, jid)``: each image's latest judgment id."""
    return (
        select(Judgment.image_id, func.max(Judgment.id).label("jid")).group_by(Judgment.image_id).subquery()
    )


def _grouped(stmt: Any, key: Any) -> Any:
    """GROUP BY ``key`` (labelled ``k``); no key = one group, labelled 0."""
    if key is None:
        return stmt.add_columns(literal_column("0").label("k"))
    return stmt.add_columns(key.label("k")).group_by(literal_column("k"))


def _prediction_counts(session: Session, version_id: int, key: Any, *, by_batch: bool) -> dict[Any, dict]:
    stmt = select(
        func.count(),
        _sum(Prediction.route == "auto"),
        _sum(Prediction.leaf.is_(None)),
    ).where(Prediction.model_version_id == version_id)  # only covering-index columns: no wide rows read
    if by_batch:
        stmt = stmt.select_from(Prediction).join(BatchImage, BatchImage.image_id == Prediction.image_id)
    out = {}
    for n, auto, failed, k in session.execute(_grouped(stmt, key)):
        if not n:
            continue  # an ungrouped count over nothing
        # An error row (no leaf: the image could not be decoded) is a failure, not a prediction.
        out[k] = {"predicted": int(n) - int(failed or 0), "auto": int(auto or 0), "failed": int(failed or 0)}
    return out


def _review_counts(session: Session, version_id: int, key: Any, *, by_batch: bool) -> dict[Any, dict]:
    cur = _current()
    has_leaf = Prediction.leaf.is_not(None)
    wrong = and_(has_leaf, or_(Judgment.leaf.is_(None), Judgment.leaf != Prediction.leaf))
    stmt = (
        select(
            func.count(),
            _sum(Judgment.status == "corrected"),
            _sum(Judgment.status == "unknown"),
            _sum(has_leaf),
            _sum(wrong),
        )
        .select_from(cur)
        .join(Judgment, Judgment.id == cur.c.jid)
        .join(
            Prediction, and_(Prediction.image_id == cur.c.image_id, Prediction.model_version_id == version_id)
        )
        .where(Judgment.status.in_(_JUDGED))
    )
    if by_batch:
        stmt = stmt.join(BatchImage, BatchImage.image_id == cur.c.image_id)
    out = {}
    for n, corrected, unknown, reviewed, bad, k in session.execute(_grouped(stmt, key)):
        if not n:
            continue
        out[k] = {
            "judged": int(n),
            "corrected": int(corrected or 0),
            "unknown": int(unknown or 0),
            "reviewed": int(reviewed or 0),
            "wrong": int(bad or 0),
        }
    return out


def _merge(*parts: dict[Any, dict]) -> dict[Any, Counts]:
    keys: dict[Any, dict] = defaultdict(dict)
    for part in parts:
        for k, values in part.items():
            keys[k].update(values)
    return {k: Counts(**v) for k, v in keys.items()}


# ------------------------------------------------------------------------------------------ figures
def overall_figures(session: Session, *, model_version: str) -> Counts:
    """The counts over every image with a prediction of ``model_version``."""
    version_id = model_version_id(session, model_version)
    if version_id is None:
        return Counts()
    merged = _merge(
        _prediction_counts(session, version_id, None, by_batch=False),
        _review_counts(session, version_id, None, by_batch=False),
    )
    return next(iter(merged.values()), Counts())


def analyst_figures(session: Session, *, model_version: str) -> list[tuple[str, Counts]]:
    """Per analyst who made the current decision (the decider: a note carried on keeps its colleague's), the counts
    of the images with a prediction of ``model_version`` they decided, the most decisions first: "how many judged
    by whom" a month-end report needs (the dashboard showed none; month-end walk-through)."""
    version_id = model_version_id(session, model_version)
    if version_id is None:
        return []
    merged = _merge(_review_counts(session, version_id, decider(), by_batch=False))
    return sorted(((str(who), c) for who, c in merged.items()), key=lambda pair: (-pair[1].judged, pair[0]))


def batch_figures(session: Session, *, model_version: str) -> list[BatchFigures]:
    """Per batch (oldest first), the counts of its images; batches without predictions are left out."""
    version_id = model_version_id(session, model_version)
    if version_id is None:
        return []
    merged = _merge(
        _prediction_counts(session, version_id, BatchImage.batch_id, by_batch=True),
        _review_counts(session, version_id, BatchImage.batch_id, by_batch=True),
    )
    names = dict(session.execute(select(Batch.id, Batch.name).where(Batch.id.in_(list(merged)))).all())
    return [BatchFigures(int(b), str(names.get(b, b)), merged[b]) for b in sorted(merged)]


def held_back_by_batch(session: Session, *, model_version: str, reasons: Iterable[str]) -> dict[int, dict[str, int]]:
    """Per batch, its images nobody has decided yet whose prediction of ``model_version`` carries one of ``reasons``
    (the purity monitor's pause codes: held back from auto-judging by a pause in force), by reason."""
    version_id = model_version_id(session, model_version)
    if version_id is None:
        return {}
    cur = _current()
    decided = select(cur.c.image_id).join(Judgment, Judgment.id == cur.c.jid).where(Judgment.status.in_(_JUDGED))
    stmt = (
        select(BatchImage.batch_id, PredictionReason.reason, func.count(func.distinct(Prediction.image_id)))
        .select_from(Prediction)
        .join(PredictionReason, PredictionReason.prediction_id == Prediction.id)
        .join(BatchImage, BatchImage.image_id == Prediction.image_id)
        .where(Prediction.model_version_id == version_id, PredictionReason.reason.in_(list(reasons)),
               Prediction.image_id.not_in(decided))
        .group_by(BatchImage.batch_id, PredictionReason.reason)
    )
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for batch_id, reason, n in session.execute(stmt):
        out[int(batch_id)][str(reason)] = int(n)
    return dict(out)


def period_figures(
    session: Session, *, model_version: str, period: str = "week", utc_offset_minutes: int = 0
) -> list[PeriodFigures]:
    """Per day, week or month (oldest first): predictions by when they were made, reviews by when decided.

    Raises:
        ValueError: ``period`` is not ``day``, ``week`` or ``month``.
    """
    predicted_key = _period_start(session, Prediction.created_at, period, utc_offset_minutes)
    judged_key = _period_start(session, decided_time(), period, utc_offset_minutes)  # (not a note's, a confirm's)
    version_id = model_version_id(session, model_version)
    if version_id is None:
        return []
    merged = _merge(
        {
            _as_date(k): v
            for k, v in _prediction_counts(session, version_id, predicted_key, by_batch=False).items()
        },
        {_as_date(k): v for k, v in _review_counts(session, version_id, judged_key, by_batch=False).items()},
    )
    return [PeriodFigures(start, merged[start]) for start in sorted(merged)]


def class_agreement(session: Session, *, model_version: str) -> list[ClassAgreement]:
    """Per predicted leaf (most reviewed first): reviewed images and how many kept the predicted leaf.

    An image with more than one defect counts once for every leaf of its predicted set, as kept when the decision's
    set holds that leaf (whatever the order the analyst gave the leaves in). SQL counts every image by its first
    leaf, and how many images have a set on either side; only when there are any, those are read and counted
    again here, in Python.
    """
    version_id = model_version_id(session, model_version)
    if version_id is None:
        return []
    cur = _current()

    def judged(*columns: Any):
        return (select(*columns).select_from(cur)
                .join(Judgment, Judgment.id == cur.c.jid)
                .join(Prediction, and_(Prediction.image_id == cur.c.image_id,
                                       Prediction.model_version_id == version_id))
                .where(Judgment.status.in_(_JUDGED), Prediction.leaf.is_not(None)))

    reviewed: dict[str, int] = defaultdict(int)
    agreed: dict[str, int] = defaultdict(int)
    # A set is a JSON list; a single leaf is SQL NULL or JSON null (the text 'null', 4 characters) on either side.
    with_set = or_(*(func.length(cast(c, String)) > 4 for c in (Prediction.labels, Judgment.extra_leaves)))
    sets = 0
    stmt = judged(Prediction.leaf, func.count(), _sum(Judgment.leaf == Prediction.leaf),
                  _sum(with_set)).group_by(Prediction.leaf)
    for leaf, n, kept, n_sets in session.execute(stmt):
        reviewed[str(leaf)] += int(n)
        agreed[str(leaf)] += int(kept or 0)
        sets += int(n_sets or 0)
    if sets:
        stmt = judged(Prediction.leaf, Prediction.labels, Judgment.leaf, Judgment.extra_leaves).where(with_set)
        for leaf, labels, judged_leaf, extra in session.execute(stmt):
            reviewed[leaf] -= 1  # counted above by its first leaf
            agreed[leaf] -= int(judged_leaf == leaf)
            kept = {judged_leaf, *(extra or ())}
            for p in dict.fromkeys(labels if isinstance(labels, list) and labels else [leaf]):
                reviewed[p] += 1
                agreed[p] += int(p in kept)
    rows = [ClassAgreement(leaf, n, agreed[leaf]) for leaf, n in reviewed.items() if n > 0]
    return sorted(rows, key=lambda c: (-c.reviewed, c.leaf))


# ------------------------------------------------------------------------------------------ kappa
def cohen_kappa(table: dict[tuple[str, str], int]) -> tuple[int, float, float, float | None]:
    """Cohen's kappa from a contingency table ``{(label_a, label_b): count}``.

    Returns:
        ``(n, observed, expected, kappa)``; kappa is None when the expected agreement is 1.
    """
    n = sum(table.values())
    if n == 0:
        return 0, 0.0, 0.0, None
    rows: dict[str, int] = defaultdict(int)
    cols: dict[str, int] = defaultdict(int)
    agree = 0
    for (a, b), count in table.items():
        rows[a] += count
        cols[b] += count
        if a == b:
            agree += count
    observed = agree / n
    expected = sum(rows[k] * cols.get(k, 0) for k in rows) / (n * n)
    if expected >= 1.0 - 1e-12:
        return n, observed, expected, None
    return n, observed, expected, (observed - expected) / (1.0 - expected)


def analyst_agreement(session: Session, *, image_ids: Iterable[int] | None = None) -> list[AnalystAgreement]:
    """Cohen's kappa for every pair of analysts who both decided at least one image.

    Args:
        image_ids: only these images (default: all).
    """
    undone = select(Judgment.reverts_judgment_id).where(
        Judgment.action == "undo", Judgment.reverts_judgment_id.is_not(None)
    )
    own = [
        Judgment.status.in_(_JUDGED),
        Judgment.action.not_in(_NOT_DECISIONS),
        Judgment.id.not_in(undone),
    ]
    if image_ids is not None:
        own.append(Judgment.image_id.in_([int(i) for i in image_ids]))
    latest = (
        select(Judgment.image_id, Judgment.analyst, func.max(Judgment.id).label("jid"))
        .where(*own)
        .group_by(Judgment.image_id, Judgment.analyst)
        .subquery()
    )
    row = aliased(Judgment)
    labelled = (
        select(latest.c.image_id, latest.c.analyst, func.coalesce(row.leaf, UNKNOWN).label("label"))
        .join(row, row.id == latest.c.jid)
        .subquery()
    )
    a, b = aliased(labelled), aliased(labelled)
    stmt = (
        select(a.c.analyst, b.c.analyst, a.c.label, b.c.label, func.count())
        .select_from(a)
        .join(b, and_(a.c.image_id == b.c.image_id, a.c.analyst < b.c.analyst))
        .group_by(a.c.analyst, b.c.analyst, a.c.label, b.c.label)
    )
    tables: dict[tuple[str, str], dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for analyst_a, analyst_b, label_a, label_b, count in session.execute(stmt):
        if analyst_b < analyst_a:  # the database's collation (PostgreSQL) may order names unlike Python
            analyst_a, analyst_b, label_a, label_b = analyst_b, analyst_a, label_b, label_a
        tables[(analyst_a, analyst_b)][(label_a, label_b)] += int(count)
    out = []
    for (analyst_a, analyst_b), table in sorted(tables.items()):
        n, observed, expected, kappa = cohen_kappa(table)
        out.append(AnalystAgreement(analyst_a, analyst_b, n, observed, expected, kappa))
    return out
