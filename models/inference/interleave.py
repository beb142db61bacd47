"""Interleaved timing: a candidate inference path measured in alternation with its baseline (issue #21).

On a shared workstation the load changes from one second to the next, so two paths timed at different moments of a
run can show any ratio (an eager baseline timed while the machine was busy once made ONNX Runtime look 5.6x faster;
side by side it was 1.19x). Here every round times one pass of each path over the same batches, back to back, the
order swapped every other round (AB, BA, AB ...) so that a load that rises or falls during a round favours neither;
the ratio is the **median of the per-round ratios**, reported with its spread (the lowest and highest round, and the
interquartile range), and every round is kept. A busy spell slows both passes of its round and leaves its ratio
nearly unchanged, where it would have moved a ratio of two separate timings.

No torch: a pass is any callable that runs the batches and returns how many images it ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Pass = Callable[[], int]
"""One timed pass of a path over the benchmark's batches; returns the number of images it ran."""


@dataclass(frozen=True)
class Interleaved:
    """Images/s of a baseline and a candidate, one value per round, measured in alternation.

    Attributes:
        baseline, candidate: images/s of each path in each round (same length).
        first: which path ran first in each round (``"baseline"`` or ``"candidate"``).
    """

    baseline: tuple[float, ...]
    candidate: tuple[float, ...]
    first: tuple[str, ...]

    @property
    def ratios(self) -> tuple[float, ...]:
        """Candidate over baseline speed, round by round."""
        return tuple(c / b for b, c in zip(self.baseline, self.candidate, strict=True))

    @property
    def ratio(self) -> float:
        """The median of the per-round ratios."""
        return float(np.median(self.ratios))

    @property
    def spread(self) -> tuple[float, float]:
        """The lowest and the highest per-round ratio."""
        return float(min(self.ratios)), float(max(self.ratios))

    @property
    def iqr(self) -> tuple[float, float]:
        """The 25th and 75th percentiles of the per-round ratios."""
        low, high = np.percentile(self.ratios, [25, 75])
        return float(low), float(high)

    def median_speed(self, which: str) -> float:
        """The median images/s of ``baseline`` or ``candidate``."""
        return float(np.median(self.baseline if which == "baseline" else self.candidate))

    def describe(self) -> str:
        """``1.19x (rounds 1.12-1.25, IQR 1.16-1.22, 7 rounds)``."""
        low, high = self.spread
        q1, q3 = self.iqr
        return (f"{self.ratio:.2f}x (rounds {low:.2f}-{high:.2f}, IQR {q1:.2f}-{q3:.2f}, "
                f"{len(self.baseline)} rounds)")

    def to_json(self) -> dict[str, Any]:
        low, high = self.spread
        q1, q3 = self.iqr
        return {"ratio": round(self.ratio, 4), "ratio_min": round(low, 4), "ratio_max": round(high, 4),
                "ratio_iqr": [round(q1, 4), round(q3, 4)],
                "baseline_median": round(self.median_speed("baseline"), 4),
                "candidate_median": round(self.median_speed("candidate"), 4),
                "rounds": [{"first": f, "baseline": round(b, 4), "candidate": round(c, 4), "ratio": round(c / b, 4)}
                           for f, b, c in zip(self.first, self.baseline, self.candidate, strict=True)]}


def over(run: Callable[[Any], Any], batches: Sequence[Any], *, setup: Callable[[], object] | None = None,
         keep: list[Any] | None = None) -> Pass:
    """A :data:`Pass` of ``run`` over every batch: ``setup`` first (e.g. the path's thread count, which the other path
    may have changed), then each batch; with ``keep``, the outputs of the pass replace its contents (to compare the
    two paths' predictions afterwards)."""
    n = sum(len(b) for b in batches)

    def one_pass() -> int:
        if setup is not None:
            setup()
        outs = [run(b) for b in batches]
        if keep is not None:
            keep[:] = outs
        return n
    return one_pass


def interleave(baseline: Pass, candidate: Pass, rounds: int, *,
               clock: Callable[[], float] = time.perf_counter) -> Interleaved:
    """Time ``rounds`` passes of each path in alternation (module doc).

    Args:
        baseline, candidate: one pass of each path (warmed up by the caller).
        rounds: how many rounds (at least 1; an odd number gives a median that is one round's ratio).
        clock: the time source (a test injects its own).

    Raises:
        ValueError: ``rounds`` below 1, or a pass that ran no image.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")

    def timed(run: Pass) -> float:
        t0 = clock()
        n = run()
        seconds = clock() - t0
        if n <= 0:
            raise ValueError("a timed pass ran no image")
        return n / max(seconds, 1e-12)

    base: list[float] = []
    cand: list[float] = []
    first: list[str] = []
    for r in range(rounds):
        if r % 2 == 0:
            base.append(timed(baseline))
            cand.append(timed(candidate))
            first.append("baseline")
        else:
            cand.append(timed(candidate))
            base.append(timed(baseline))
            first.append("candidate")
    return Interleaved(tuple(base), tuple(cand), tuple(first))

