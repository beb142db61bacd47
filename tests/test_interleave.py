"""Interleaved timing (issue #21): a candidate path timed in alternation with its baseline. The passes here advance
a fake clock instead of sleeping, so the tests measure the logic, never this machine's speed."""

from __future__ import annotations

import numpy as np
import pytest

from models.inference.interleave import interleave


class FakeMachine:
    """A clock and two paths: ``cost`` seconds per image for each, times the machine's load at that moment (a
    busy spell triples every pass that starts inside it)."""

    def __init__(self, cost: dict[str, float], busy: range = range(0), images: int = 10) -> None:
        self.now, self.cost, self.busy, self.images, self.passes = 0.0, cost, busy, images, 0

    def clock(self) -> float:
        return self.now

    def path(self, name: str):
        def run() -> int:
            load = 3.0 if self.passes in self.busy else 1.0
            self.passes += 1
            self.now += self.images * self.cost[name] * load
            return self.images
        return run

    def speed(self, name: str) -> float:
        """Images/s of one pass timed on its own."""
        t0 = self.now
        return self.path(name)() / (self.now - t0)


def test_a_slowdown_injected_into_one_path_is_measured_as_such():
    machine = FakeMachine({"eager": 0.1, "onnx": 0.05})  # the candidate twice as fast
    timing = interleave(machine.path("eager"), machine.path("onnx"), 5, clock=machine.clock)
    assert timing.ratio == pytest.approx(2.0) and timing.spread == pytest.approx((2.0, 2.0))
    slowed = FakeMachine({"eager": 0.1, "onnx": 0.125})  # a fake slowdown: the candidate now 0.8x
    timing = interleave(slowed.path("eager"), slowed.path("onnx"), 5, clock=slowed.clock)
    assert timing.ratio == pytest.approx(0.8) and timing.median_speed("candidate") == pytest.approx(8.0)
    assert timing.first == ("baseline", "candidate", "baseline", "candidate", "baseline")  # AB BA AB ...


def test_a_busy_spell_moves_one_round_not_the_median_ratio():
    # passes 2..5 run on a busy machine: rounds 2 and 3 (both of their passes) and nothing else
    machine = FakeMachine({"eager": 0.1, "onnx": 0.05}, busy=range(2, 6))
    timing = interleave(machine.path("eager"), machine.path("onnx"), 7, clock=machine.clock)
    assert timing.ratio == pytest.approx(2.0)  # each round's two passes shared its load
    assert min(timing.baseline) == pytest.approx(10 / 3)  # the busy rounds were slower for both
    # timed apart (all eager rounds during the busy spell, all candidate rounds after it) the same machine shows 6x
    apart = FakeMachine({"eager": 0.1, "onnx": 0.05}, busy=range(0, 3))
    eager = [apart.speed("eager") for _ in range(3)]
    onnx = [apart.speed("onnx") for _ in range(3)]
    assert np.median(onnx) / np.median(eager) == pytest.approx(6.0)


def test_a_spread_of_round_ratios_is_reported_and_every_round_is_kept():
    machine = FakeMachine({"eager": 0.1, "onnx": 0.05}, busy=range(1, 2))  # only the candidate's first pass is busy
    timing = interleave(machine.path("eager"), machine.path("onnx"), 3, clock=machine.clock)
    assert timing.ratios == pytest.approx((2 / 3, 2.0, 2.0)) and timing.ratio == pytest.approx(2.0)
    assert timing.spread == pytest.approx((2 / 3, 2.0))
    data = timing.to_json()
    assert [r["ratio"] for r in data["rounds"]] == pytest.approx([0.6667, 2.0, 2.0], abs=1e-4)
    assert data["ratio_min"] == pytest.approx(0.6667, abs=1e-4) and data["ratio"] == 2.0
    assert "2.00x (rounds 0.67-2.00" in timing.describe()
    with pytest.raises(ValueError, match="rounds"):
        interleave(machine.path("eager"), machine.path("onnx"), 0, clock=machine.clock)
    with pytest.raises(ValueError, match="no image"):
        interleave(lambda: 0, machine.path("onnx"), 1, clock=machine.clock)


def test_a_pass_over_batches_counts_images_sets_up_first_and_keeps_its_outputs():
    from models.inference.interleave import over

    calls: list[str] = []
    kept: list[int] = ["stale"]  # type: ignore[list-item]
    one_pass = over(lambda b: calls.append(f"run {len(b)}") or sum(b), [[1, 2, 3], [4, 5]],
                    setup=lambda: calls.append("setup"), keep=kept)
    assert one_pass() == 5 and calls == ["setup", "run 3", "run 2"] and kept == [6, 9]
    assert one_pass() == 5 and calls[3] == "setup" and kept == [6, 9]  # each pass replaces what the last one kept
