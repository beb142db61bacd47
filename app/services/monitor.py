"""The purity monitor: production purity from blind spot checks, a per-batch drift score, and auto-judging paused
where the promise is not kept. No Qt.

How it works (issue #17):

- **Spot checks.** Routing sends a share of the images the model would auto-judge to a person anyway
  (``spot_check``; a leaf can have its own share, ``fma-model calibrate --spot-check-leaf``). The app shows them
  *blind* (the analyst picks the type without seeing the model's call), so the analyst's decision against the
  model's leaf is an unbiased sample of the auto-judgments' purity. The store keeps them as it keeps every
  judgment; :func:`app.store.repo.spot_checks` reads the outcomes back.
- **Purity per leaf and overall**, with exact (Clopper-Pearson) bounds at ``confidence``. When the *upper* bound
  of a leaf's purity falls below the calibration's target (the checks show, at that confidence, that the leaf
  no longer keeps its promise), or below the leaf's own floor where its calibration images showed it weaker than
  the target (``routing.leaf_floor``: a calibration with one promise over all leaves, ``calibrate --method ltt``,
  :meth:`Calibration.purity_floor`; a check of a prediction fused with FTIR spectra is held to the fused
  calibration's floor, since that calibration routed it, and a leaf's checks of both kinds to the mean of their
  floors), auto-judging of that leaf pauses by itself: its auto-judged images, and every
  new one, go to re-judge with the reason ``purity_paused``; they are shown blind too, so they keep measuring.
  The pause lifts (``purity_recovered``) after ``resume_checks`` checks made during it whose share right reaches
  the target (the floor) (a stricter rule than the one that paused, so a leaf does not flip between the two), when
  the wrong checks it was made on are undone and what is left no longer falls below (``checks_undone``), by hand
  (``resumed``, ``fma-judge monitor --resume``), or when the bundle is recalibrated (``recalibrated``; the images
  it held back stay with a person under ``held_back``, since the new calibration never saw them routed). After a
  pause, a leaf's evidence starts at that pause (after a lead's resume, at the resume): the checks that caused it
  do not count again. The checks judged during a pause become spot checks when it ends (the overall figure and a
  recovered leaf's evidence count them).
- **A lead's pause.** ``fma-judge monitor --pause LEAF`` pauses a leaf by hand (:meth:`PurityMonitor.pause_leaf`:
  a complaint, a process change the checks cannot know of yet), with the same reason and blind checks; it lifts
  only by hand (a recalibration carries it over, and a resume lifts its carried copies too).
- **Batch drift.** A batch unlike the calibration data shows up in the unknown-defect detector first: on the
  calibration images it flags a known share ``q`` (``unknown.known_flag_rate``, 5 % by default). The drift score
  is the batch's flagged share over ``q``; when the batch's lower bound of that share passes ``drift_ratio * q``
  (at least ``drift_min_images`` predictions), the batch's auto-judging pauses (``batch_drift``).
- The bound is checked after every check, so the chance of a pause with no real drop is larger than
  ``1 - confidence`` over a long run; a needless pause costs analyst time, never purity, and lifts by itself.

The fix the dashboard names is one command: ``fma-judge recalibrate`` (:mod:`app.monitor_commands`) fits the
calibration again on the store's judged images.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shlex
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.store import repo
from app.store.db import session_scope
from app.store.records import (
    BLIND_REASONS,
    MONITOR_REASONS,
    PauseRecord,
    PredictionRecord,
    SpotCheck,
    is_blind,
)
from models.calibration.thresholds import purity_lower_bound
from models.routing.policy import Calibration

CHECK_REASONS: tuple[str, ...] = tuple(sorted(BLIND_REASONS))
"""Routing reasons of images judged blind: would-be-auto images whose decision measures the auto-judgments."""
PAUSE_REASONS: tuple[str, ...] = MONITOR_REASONS
"""Routing reasons the monitor gives (besides the model's own, :data:`models.routing.policy.REASONS`)."""


@dataclass(frozen=True)
class MonitorSettings:
    """How strict the monitor is.

    Attributes:
        confidence: confidence of the purity and drift bounds.
        resume_checks: blind checks made during a pause before it may lift; it lifts when their purity (the plain
            share right) reaches the target: at 0.99, 50 checks with no error or 100 with one.
        drift_ratio: a batch is unlike the calibration data when its flagged share is surely above this
            multiple of the calibration's.
        drift_min_images: predictions a batch needs before its drift is judged.
    """

    confidence: float = 0.95
    resume_checks: int = 50
    drift_ratio: float = 2.0
    drift_min_images: int = 20


@dataclass(frozen=True)
class Purity:
    """Spot-check purity of one leaf (``leaf`` None: all leaves), with its bounds at the monitor's confidence.

    The figures are the leaf's evidence: its blind checks judged since ``since`` (its previous pause, None: since
    the calibration). For a paused leaf that is the evidence the pause was made on *and* the checks judged during
    it, so the row never reads "0 checks" beside "paused (1 wrong of 1 checks)"; ``during`` counts the checks made
    during the pause (``(checks, wrong)``), the ones that lift it. ``wrong_images``: the images judged otherwise.
    """

    leaf: str | None
    checks: int
    wrong: int
    low: float
    high: float
    paused: bool = False
    floor: float | None = None  # what the leaf is held to: the target or its calibration floor(s) (None: overall)
    since: dt.datetime | None = None
    pause: PauseRecord | None = None  # the pause in force, with the evidence it was made on (``detail``)
    during: tuple[int, int] = (0, 0)
    wrong_images: tuple[int, ...] = ()

    @property
    def below(self) -> bool:
        """The checks show, at the monitor's confidence, that the purity is under what it is held to."""
        return self.floor is not None and self.checks > 0 and self.high < self.floor

    @property
    def estimate(self) -> float | None:
        return None if self.checks == 0 else (self.checks - self.wrong) / self.checks

    @property
    def under_so_far(self) -> bool:
        """Its checks so far are under what it is held to, but too few to show it (:attr:`below` not yet): the
        dashboard's "on (too few checks to tell)" and the monitor command's "ok (under it so far …)"."""
        return not self.below and self.estimate is not None and self.floor is not None and self.estimate < self.floor


@dataclass(frozen=True)
class BatchDrift:
    """A batch's drift score: its share of images the unknown detector flags, over the calibration's share."""

    batch_id: int
    predicted: int
    flagged: int
    expected: float
    low: float
    paused: bool = False
    resumed: bool = False  # a lead resumed this batch's auto-judging for this calibration: it does not pause again

    @property
    def score(self) -> float | None:
        return None if self.predicted == 0 or self.expected <= 0 else self.flagged / self.predicted / self.expected

    def limit(self, settings: MonitorSettings) -> float:
        """The flagged share over which the batch pauses (``drift_ratio`` times the calibration's)."""
        return settings.drift_ratio * self.expected

    def verdict(self, settings: MonitorSettings) -> str:
        """Where the drift stands against the limit: ``paused``; ``resumed`` (over the limit, a lead resumed it);
        ``over`` (over the limit, not paused yet: a check that acts pauses it); ``few`` (fewer than
        ``drift_min_images`` predictions: not judged yet); ``within`` (not surely over the limit)."""
        if self.paused:
            return "paused"
        if self.predicted < settings.drift_min_images:
            return "few"
        if self.low <= self.limit(settings):
            return "within"
        return "resumed" if self.resumed else "over"


SETS_NOT_MONITORED = "the model routes whole sets of defect types; the purity monitor watches single types only"
"""``MonitorReport.why_not`` of a multi-label model whose set routing is calibrated (issue #20): it is calibrated, but
spot checks and pauses work on one type per image."""


@dataclass(frozen=True)
class MonitorReport:
    """The monitor's view of one model version, and what its last check changed.

    ``why_not`` says why there is nothing to monitor (an uncalibrated bundle); ``started`` and ``ended`` are the
    pauses this check began and lifted; ``moved`` how many stored predictions they re-routed.
    """

    model_version: str
    calibration: str | None
    target: float | None
    leaves: tuple[Purity, ...] = ()
    overall: Purity | None = None
    batches: tuple[BatchDrift, ...] = ()
    pauses: tuple[PauseRecord, ...] = ()
    started: tuple[PauseRecord, ...] = ()
    ended: tuple[PauseRecord, ...] = ()
    moved: int = 0
    why_not: str | None = None
    settings: MonitorSettings = field(default_factory=MonitorSettings)
    floors: Mapping[str, float] = field(default_factory=dict)  # leaf -> its floor where below the target
    fused_floors: Mapping[str, float] = field(default_factory=dict)  # the same for predictions fused with spectra

    @property
    def changed(self) -> bool:
        return bool(self.started or self.ended)

    def paused_leaves(self) -> list[str]:
        return [p.target for p in self.pauses if p.scope == "leaf"]


def held_to(cals: tuple[Calibration, Calibration | None], leaf: str, checks: Sequence[SpotCheck]) -> float:
    """The purity a leaf's ``checks`` are held to: each check its own calibration's floor for the leaf (the fused
    one for a prediction fused with spectra, when ``cals`` has it; else the image's), averaged over the checks: the
    share right expected if each kind kept exactly its promise. No checks: the image calibration's floor."""
    image, fused = cals
    n_fused = sum(o.fused for o in checks) if fused is not None else 0
    if not n_fused:
        return image.purity_floor(leaf)
    if n_fused == len(checks):
        return fused.purity_floor(leaf)
    return (n_fused * fused.purity_floor(leaf) + (len(checks) - n_fused) * image.purity_floor(leaf)) / len(checks)


def _below_target(cal: Calibration | None, target: float) -> dict[str, float]:
    """The leaves a calibration holds to a floor under the target (one promise over all leaves), and the floors."""
    if cal is None:
        return {}
    return {leaf: floor for leaf in cal.leaf_floor if (floor := cal.purity_floor(leaf)) < target}


def purity_bounds(checks: int, wrong: int, confidence: float) -> tuple[float, float]:
    """One-sided exact bounds ``(low, high)`` on purity from ``checks`` outcomes with ``wrong`` errors."""
    if checks <= 0:
        return 0.0, 1.0
    low = purity_lower_bound(checks - wrong, checks, confidence=confidence)
    high = 1.0 - purity_lower_bound(wrong, checks, confidence=confidence)
    return low, high


def calibration_key(calibration: Calibration) -> str:
    """What a pause is measured against: the calibration's time (a recalibrated bundle starts afresh)."""
    return calibration.created or "uncalibrated"


RECALIBRATED = "recalibrated"
"""How a pause of an older calibration ends once a window or command checks under a newer one."""


def _key_time(key: str) -> dt.datetime:
    """When a :func:`calibration_key` was made (``uncalibrated``, or one not a date: before any)."""
    try:
        when = dt.datetime.fromisoformat(key)
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _carry(s: Session, version: str, pause: PauseRecord, key: str, history: list[PauseRecord]) -> PauseRecord | None:
    """A lead's pause of an older calibration (a complaint, a recipe change), started again under ``key`` with the
    same leaf, lead and why (``carried_from``), once; ``history`` gains it. A recalibration measures the model, it
    does not answer the complaint: the pause ended unsaid when an analyst loaded the recalibrated model (team lead's
    walk-through). None for any other pause, or one carried already."""
    if pause.scope != "leaf" or not pause.detail.get("by_hand"):
        return None
    # carried once, ever: a lead who resumed the carried pause had it paused again by the next window's check
    if any(p.detail.get("carried_from") == pause.id or (p.ended_at is None and p.calibration == key
                                                        and p.scope == "leaf" and p.target == pause.target)
           for p in history):
        return None
    carried, _moved = repo.start_pause(s, version, calibration=key, scope="leaf", target=pause.target,
                                       reason=pause.reason, detail={**pause.detail, "carried_from": pause.id})
    history.append(carried)
    return carried


def in_force_for(pause: PauseRecord, key: str) -> bool:
    """Whether ``pause`` holds for predictions routed under the calibration ``key``: one of that calibration's, not
    ended (a recalibrated bundle starts afresh)."""
    return pause.calibration == key and pause.ended_at is None


def _since(calibration: Calibration) -> dt.datetime | None:
    if not calibration.created:
        return None
    when = dt.datetime.fromisoformat(calibration.created)
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


class PurityMonitor:
    """Checks a model version's spot checks and batches against its calibration, and pauses or resumes.

    Args:
        engine: the store.
        settings: see :class:`MonitorSettings`.
    """

    def __init__(self, engine: Engine, settings: MonitorSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or MonitorSettings()

    def check(self, model_version: str, calibration: Calibration | None, *,
              batch_ids: Iterable[int] = (), act: bool = True, fused: Calibration | None = None) -> MonitorReport:
        """Measure purity and drift and (``act``) pause or resume; one transaction. ``fused`` is the routing of
        predictions fused with spectra (``BundleManifest.fused_calibration``): their checks are held to its floors."""
        if calibration is None or calibration.target_purity is None:
            return MonitorReport(model_version, None, None, why_not="the model is not calibrated",
                                 settings=self.settings)
        with session_scope(self.engine, action="read" if not act else "write") as s:
            return self._check(s, model_version, calibration, sorted(set(batch_ids)), act, fused)

    def _check(self, s: Session, version: str, cal: Calibration, batch_ids: list[int], act: bool,
               fused: Calibration | None = None) -> MonitorReport:
        key = calibration_key(cal)
        target = float(cal.target_purity or 0.0)
        started: list[PauseRecord] = []
        ended: list[PauseRecord] = []
        moved = 0
        if act:  # (before the history is read: two windows' checks carried a lead's pause twice, review)
            repo.lock_pauses(s, version)
        history = repo.pauses(s, version, active=False)
        # an older calibration's pauses end (a recalibration starts afresh); a newer one's stay: a window still on
        # the older calibration ended them as "recalibrated", and the windows on the newer one auto-judged the leaf
        # they had paused (two calibrations at once: a lead recalibrated while windows ran; walk-through)
        for stale in [p for p in history if p.ended_at is None and _key_time(p.calibration) < _key_time(key)]:
            if act:  # a lead's goes on (`fma-judge recalibrate` may have carried it already), owning its images:
                # recoded held_back, the images the carried copy had paused stayed with a person after its resume
                carried = _carry(s, version, stale, key, history) or next(
                    (p for p in history if p.ended_at is None and p.detail.get("carried_from") == stale.id), None)
                record, _ = repo.end_pause(s, stale.id, RECALIBRATED, restore=False, retag=carried is None)
                ended.append(record)
        active = [p for p in history if in_force_for(p, key)]
        outcomes = repo.spot_checks(s, version, CHECK_REASONS, routed_since=_since(cal), stamp=cal.stamp)
        if act:  # predictions another workstation saved while a pause was being recorded are held back now
            moved += sum(repo.hold_back(s, p) for p in active)
        leaves, leaf_moved = self._leaves(s, version, key, (cal, fused), outcomes, history, active, started, ended,
                                          act)
        moved += leaf_moved
        wrong_all = sum(not o.correct for o in outcomes)
        overall = Purity(None, len(outcomes), wrong_all, *purity_bounds(len(outcomes), wrong_all,
                                                                          self.settings.confidence))
        drifts, batch_moved = self._batches(s, version, key, cal, batch_ids, history, active, started, act)
        moved += batch_moved
        gone = {p.id for p in ended}
        in_force = (*(p for p in active if p.id not in gone), *started)
        return MonitorReport(version, key, target, leaves, overall, drifts, in_force,
                             tuple(started), tuple(ended), moved, settings=self.settings,
                             floors=_below_target(cal, target), fused_floors=_below_target(fused, target))

    def _leaves(self, s: Session, version: str, key: str, cals: tuple[Calibration, Calibration | None],
                outcomes: list[SpotCheck], history: list[PauseRecord], active: list[PauseRecord],
                started: list[PauseRecord], ended: list[PauseRecord], act: bool) -> tuple[tuple[Purity, ...], int]:
        """Each leaf's purity over its evidence, pausing or lifting (``act``); and what each change re-routed.
        ``cals``: the image calibration and the fused one (None: no prediction is fused)."""
        by_leaf: dict[str, list[SpotCheck]] = defaultdict(list)
        for o in outcomes:
            by_leaf[o.predicted_leaf].append(o)
        paused = {p.target: p for p in active if p.scope == "leaf"}
        # A leaf's evidence starts at its latest pause (the checks that caused it are not counted again after it
        # lifts, and the good checks made during it still count), else at the calibration.
        starts: dict[str, list[dt.datetime]] = defaultdict(list)
        for p in history:  # (a pause whose wrong checks were undone was void: a redo of them counts again)
            if p.scope == "leaf" and p.calibration == key and p.end_reason != "checks_undone":
                starts[p.target].append(p.started_at)
                if p.end_reason == "resumed" and p.ended_at is not None:  # a lead's resume holds: the checks of
                    starts[p.target].append(p.ended_at)  # before it do not pause the leaf again at once
        leaves: list[Purity] = []
        moved = 0
        for leaf in sorted(set(by_leaf) | set(paused)):
            pause = paused.get(leaf)
            times = sorted(starts.get(leaf, ()))
            p = self._purity(leaf, cals, by_leaf.get(leaf, []), times[-1] if times else None)
            floor = p.floor or 0.0
            if act and pause is None and p.below:
                pause, n = repo.start_pause(
                    s, version, calibration=key, scope="leaf", target=leaf, reason="purity_paused",
                    detail={"checks": p.checks, "wrong": p.wrong, "upper_bound": round(p.high, 4), "target": floor,
                            "confidence": self.settings.confidence})
                started.append(pause)
                moved += n
                leaves.append(dataclasses.replace(p, paused=True, pause=pause))  # the evidence it paused on
                continue
            if (act and pause is not None and not pause.detail.get("by_hand") and p.checks >= self.settings.resume_checks
                    and (p.estimate or 0.0) >= floor):  # (a lead's pause lifts by hand: the lead knows why it was made)
                record, n = repo.end_pause(s, pause.id, "purity_recovered", restore=True)
                ended.append(record)
                moved += n
                pause = None
            elif act and pause is not None and not pause.detail.get("by_hand") and self._taken_back(
                    leaf, cals, by_leaf.get(leaf, []), times, pause):
                record, n = repo.end_pause(s, pause.id, "checks_undone", restore=True)
                ended.append(record)
                moved += n
                pause = None
            if pause is None:
                leaves.append(p)
                continue
            if pause.detail.get("by_hand"):  # a lead's: made on no checks; its row shows those made during it
                leaves.append(dataclasses.replace(p, paused=True, pause=pause, during=(p.checks, p.wrong)))
                continue
            # Paused: the row shows the evidence the pause was made on (the leaf's checks since the pause before
            # it, else the calibration) with the checks made during it; ``during`` the latter, which lift it.
            shown = self._evidence(leaf, cals, by_leaf.get(leaf, []), times, pause)
            leaves.append(dataclasses.replace(shown, paused=True, pause=pause, during=(p.checks, p.wrong)))
        return tuple(leaves), moved

    def _taken_back(self, leaf: str, cals: tuple[Calibration, Calibration | None], checks: Sequence[SpotCheck],
                    times: list[dt.datetime], pause: PauseRecord) -> bool:
        """Whether the wrong checks a pause was made on were undone since (a slip of the key, Ctrl+Z): its evidence,
        as the checks stand now, has fewer wrong ones and no longer falls below the target. The pause stayed, with
        its banner and the dashboard's "1 wrong, 1 checked", and only 50 right checks or a lead lifted it
        (factory-scale walk-through)."""
        now = self._evidence(leaf, cals, checks, times, pause)
        return now.wrong < int(pause.detail.get("wrong", 0)) and not now.below

    def _evidence(self, leaf: str, cals: tuple[Calibration, Calibration | None], checks: Sequence[SpotCheck],
                  times: list[dt.datetime], pause: PauseRecord) -> Purity:
        """A paused leaf's purity over its checks since the pause before ``pause`` (else the calibration), as they
        stand now: the evidence it was made on, with the checks made during it."""
        before = [t for t in times if t < pause.started_at]
        return self._purity(leaf, cals, checks, before[-1] if before else None)

    def _purity(self, leaf: str, cals: tuple[Calibration, Calibration | None], checks: Sequence[SpotCheck],
                since: dt.datetime | None) -> Purity:
        """A leaf's purity over its checks judged at or after ``since`` (None: all of them)."""
        window = [o for o in checks if since is None or o.judged_at >= since]
        wrong = [o.image_id for o in window if not o.correct]
        return Purity(leaf, len(window), len(wrong), *purity_bounds(len(window), len(wrong), self.settings.confidence),
                      floor=held_to(cals, leaf, window), since=since, wrong_images=tuple(wrong))

    def _batches(self, s: Session, version: str, key: str, cal: Calibration, batch_ids: list[int],
                 history: list[PauseRecord], active: list[PauseRecord], started: list[PauseRecord],
                 act: bool) -> tuple[tuple[BatchDrift, ...], int]:
        """Each batch's drift score, pausing (``act``) a batch unlike the calibration data; and what it re-routed."""
        fit, detector = cal.unknown_fit, cal.unknown
        expected = None if fit is None else fit.known_flag_rate
        if detector is None or detector.threshold is None or not expected:
            return (), 0
        paused_batches = {int(p.target) for p in active if p.scope == "batch"}
        resumed_batches = {int(p.target) for p in history if p.scope == "batch" and p.calibration == key
                           and p.end_reason == "resumed"}  # a lead's decision holds for this calibration
        drifts: list[BatchDrift] = []
        moved = 0
        for batch_id in batch_ids:
            n, flagged = repo.batch_unknown_flags(s, version, batch_id, float(detector.threshold))
            low = purity_lower_bound(flagged, n, confidence=self.settings.confidence) if n else 0.0
            is_paused = batch_id in paused_batches
            if (act and not is_paused and batch_id not in resumed_batches and n >= self.settings.drift_min_images
                    and low > self.settings.drift_ratio * expected):
                record, moved_n = repo.start_pause(
                    s, version, calibration=key, scope="batch", target=str(batch_id), reason="batch_drift",
                    detail={"predicted": n, "flagged": flagged, "expected": expected, "lower_bound": round(low, 4),
                            "ratio": self.settings.drift_ratio})
                started.append(record)
                moved += moved_n
                is_paused = True
            drifts.append(BatchDrift(batch_id, n, flagged, float(expected), low, paused=is_paused,
                                     resumed=batch_id in resumed_batches))
        return tuple(drifts), moved

    def pause_leaf(self, model_version: str, calibration: Calibration, leaf: str, *, by: str,
                   why: str = "") -> tuple[PauseRecord, int]:
        """A lead pauses auto-judging of ``leaf`` by hand (a complaint about its auto-judged images, a process change
        the lead knows of): its would-be-auto images go to people blind, as in a pause the checks made, until a
        lead resumes it (:meth:`resume`); it does not lift by itself, and a recalibration carries it over to the new
        calibration (``carried_from``). Returns the pause and how many undecided auto-judged images it sent to
        people.

        Raises:
            ValueError: the leaf is paused already, or the model never ran on this store.
        """
        with session_scope(self.engine) as s:
            repo.lock_pauses(s, model_version)  # (two leads pausing one type at once: one pause)
            held = next((p for p in repo.pauses(s, model_version) if p.scope == "leaf" and p.target == leaf
                         and in_force_for(p, calibration_key(calibration))), None)  # (another calibration's: not)
            if held is not None:
                raise ValueError(f"auto-judging of {leaf} is paused already (pause {held.id}, since "
                                 f"{held.started_at:%Y-%m-%d %H:%M} UTC)")
            return repo.start_pause(s, model_version, calibration=calibration_key(calibration), scope="leaf",
                                    target=leaf, reason="purity_paused",
                                    detail={"by_hand": True, "by": by, "why": why})

    def carry_over(self, model_version: str, calibration: Calibration) -> list[PauseRecord]:
        """Start the lead's pauses in force under an older calibration again under ``calibration`` (a recalibration
        just written: :func:`_carry`), leaving them in force for the windows still on the older one; the pauses the
        checks made are not carried (they end when a window checks under the new one). Returns those started."""
        key = calibration_key(calibration)
        with session_scope(self.engine) as s:
            repo.lock_pauses(s, model_version)
            history = repo.pauses(s, model_version, active=False)
            older = [p for p in history if p.ended_at is None and _key_time(p.calibration) < _key_time(key)]
            return [c for p in older if (c := _carry(s, model_version, p, key, history)) is not None]

    def resume(self, pause_id: int) -> list[PauseRecord]:
        """Lift a pause by hand (an analyst lead's decision); its images go back to auto as on recovery. A lead's
        pause carried over recalibrations (``carried_from``) is one pause: every copy of it in force is lifted,
        whichever id is given (resumed on the old calibration, it came back, unsaid, with the new one; the id on
        the ticket, ended as recalibrated, was refused as "ended already"; review). Returns the pauses lifted, the
        one named first when it was in force."""
        with session_scope(self.engine) as s:
            named = repo.pause(s, pause_id)
            if named is None:
                raise ValueError(f"no pause with id {pause_id}")
            repo.lock_pauses(s, named.model_version)
            history = repo.pauses(s, named.model_version, active=False)
            family = {pause_id}
            for _ in history:  # (links both ways, in any order: as many passes as pauses at most)
                grown = family | {p.id for p in history if p.detail.get("carried_from") in family} | {
                    p.detail["carried_from"] for p in history if p.id in family and p.detail.get("carried_from")}
                if grown == family:
                    break
                family = grown
            lifted = [repo.end_pause(s, p.id, "resumed", restore=True)[0] for p in history
                      if p.id in family and p.ended_at is None]
            if not lifted:  # ended, and no copy in force: said as before
                repo.end_pause(s, pause_id, "resumed", restore=True)
            return sorted(lifted, key=lambda p: p.id != pause_id)


_CMD_SPECIAL = frozenset(' \t"&()[]{}^=;!\'+,`~%<>|')


def shell_quoted(text: str, *, windows: bool | None = None) -> str:
    """``text`` (a bundle's path) as a command line takes it: quoted when it has spaces or a shell's special
    characters (POSIX shells: :func:`shlex.quote`; Windows, ``windows`` or this machine's: in double quotes, as
    cmd.exe and PowerShell both read them)."""
    if os.name == "nt" if windows is None else windows:
        return f'"{text}"' if not text or any(c in _CMD_SPECIAL for c in text) else text
    return shlex.quote(text)


def apply_pauses(session: Session, version: str, calibration: Calibration | None,
                 pairs: Sequence[tuple[int, PredictionRecord]]) -> list[tuple[int, PredictionRecord]]:
    """New predictions with the pauses in force for this calibration applied (before they are saved)."""
    if calibration is None or not pairs:
        return list(pairs)
    key = calibration_key(calibration)
    in_force = [p for p in repo.pauses(session, version) if in_force_for(p, key)]
    return repo.apply_pauses(session, pairs, in_force)


__all__ = ["CHECK_REASONS", "PAUSE_REASONS", "RECALIBRATED", "BatchDrift", "MonitorReport", "MonitorSettings", "Purity",
           "PurityMonitor", "apply_pauses", "calibration_key", "held_to", "in_force_for", "is_blind", "purity_bounds",
           "shell_quoted"]
