"""``fma-model calibrate --method ltt`` (the default): one Learn-then-Test threshold for the leaves and one per tree
level (models/calibration/ltt.py), on data with a known answer, and end to end into the manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.calibration import ltt
from models.calibration import risk_control as rc
from models.calibration.thresholds import images_needed
from models.commands.cli import main as cli_main
from models.routing.policy import Calibration, RoutingError, determined_batch, path_confidences


def _calibrated(n: int, seed: int, leaves: int, hard: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Leaf distributions whose top score is the probability of being right (``test_risk_control._data``)."""
    from test_risk_control import _data

    data = _data(n, seed, leaves, hard)
    return data.probs, data.targets


def test_the_threshold_is_the_loosest_one_the_fixed_sequence_rejects() -> None:
    scores = np.linspace(1.0, 0.0, 2000)
    right = np.ones(2000, dtype=bool)
    right[1500:] = np.arange(500) % 2 == 0  # the lowest quarter is a coin toss
    fit = rc.ltt_threshold(scores, right, target=0.99, min_set=1000)
    assert fit.threshold is not None and fit.pvalue is not None and fit.pvalue <= 0.05
    assert fit.n_auto == int((scores >= fit.threshold).sum()) and fit.errors == int((~right[:fit.n_auto]).sum())
    assert 1500 <= fit.n_auto < 1700 and fit.purity >= 0.99 - 1e-9
    # one step looser is no longer shown to be pure enough (else the sequence would have gone on)
    looser = scores >= scores[fit.n_auto + 10]
    assert rc.ltt_pvalue(int((looser & ~right).sum()), int(looser.sum()), 0.01) > 0.05 or fit.n_auto == 2000
    assert rc.ltt_threshold(scores[:500], right[:500], target=0.99, min_set=1000).threshold is None  # too few
    assert rc.ltt_threshold(scores, ~right, target=0.99, min_set=1000).threshold is None  # all wrong at the top


def test_the_start_depends_only_on_counts() -> None:
    assert ltt.start_size(17_000, 0.99, 0.95) == 1000
    assert ltt.start_size(500, 0.99, 0.95) == images_needed(0.99, confidence=0.95) == 299
    assert ltt.start_size(900, 0.99, 0.95) == 450
    assert ltt.start_size(40, 0.05, 0.95) == 20


def test_one_threshold_for_every_leaf_keeps_the_promise_on_new_data_and_rare_leaves_go_to_people() -> None:
    leaves = [f"leaf{i}" for i in range(6)]
    probs, targets = _calibrated(20_000, 0, 6, hard=3)
    rare = np.flatnonzero(probs.argmax(axis=1) == 5)
    keep = np.setdiff1d(np.arange(len(targets)), rare[10:])  # leaf5 is predicted 10 times: below min_support
    probs, targets = probs[keep], targets[keep]
    flagged = np.zeros(len(targets), dtype=bool)
    flagged[:50] = True
    out, fit = ltt.leaf_thresholds(probs, targets, flagged, leaves, target=0.98, confidence=0.95, min_support=20)
    eligible = ~flagged & (probs.argmax(axis=1) != 5)
    assert fit.threshold is not None and fit.candidates == int(eligible.sum())
    assert {out[leaf].threshold for leaf in leaves[:5]} == {fit.threshold}
    assert out["leaf5"].threshold is None and out["leaf5"].reason.startswith("support: ")
    test_probs, test_targets = _calibrated(200_000, 1, 6, hard=3)
    held = rc.routing_figures(rc.CalibrationData(test_probs, test_targets, np.zeros(len(test_targets), bool)),
                              [lt.threshold for lt in out.values()])
    per_leaf = rc.routing_figures(rc.CalibrationData(test_probs, test_targets, np.zeros(len(test_targets), bool)),
                                  rc.per_leaf(rc.CalibrationData(probs, targets, flagged), target=0.98))
    assert held["purity"] >= 0.98 and held["coverage"] >= per_leaf["coverage"]
    # nothing passes when the model is always wrong: every leaf says why
    wrong, _ = ltt.leaf_thresholds(probs, (probs.argmax(axis=1) + 1) % 6, flagged, leaves, target=0.98,
                                   confidence=0.95, min_support=20)
    assert all(lt.threshold is None and "Learn-then-Test rejected no threshold" in lt.reason
               for leaf, lt in wrong.items() if leaf != "leaf5")


def test_a_level_is_fitted_on_the_images_that_climb_to_it(taxonomy) -> None:
    """Group and subgroup right and sure, the leaf a coin toss between two siblings: the subgroup level takes them."""
    rng = np.random.default_rng(0)
    leaves = taxonomy.leaves
    a, b = leaves.index("particle_metal"), leaves.index("particle_organic")
    n = 2000
    probs = np.full((n, len(leaves)), 0.02 / (len(leaves) - 2))
    probs[:, a] = np.where(rng.random(n) < 0.5, 0.5, 0.48)
    probs[:, b] = 0.98 - probs[:, a]
    targets = np.where(rng.random(n) < 0.5, a, b)
    flagged = np.zeros(n, dtype=bool)
    cuts, fit = ltt.leaf_thresholds(probs, targets, flagged, leaves, target=0.99, confidence=0.95, min_support=20)
    assert fit.threshold is None  # a coin toss never reaches 0.99
    nodes, fits = ltt.node_thresholds(probs, targets, flagged, taxonomy, {k: v.threshold for k, v in cuts.items()},
                                      target=0.99, confidence=0.95)
    assert set(fits) == {0, 1} and fits[1].threshold is not None and fits[1].n_auto == n
    assert nodes["particle"].threshold == fits[1].threshold and nodes["particle"].coverage == 1.0
    assert nodes["foreign_matter"].support == 0  # every image stopped at its subgroup: none climbs further
    cal = Calibration(thresholds={k: v.threshold for k, v in cuts.items()},
                      node_thresholds={k: v.threshold for k, v in nodes.items()}, method="ltt")
    found, levels = determined_batch(cal, taxonomy, probs)
    assert set(found) == {"particle"} and (levels == 1).all()


def test_flagged_images_climb_to_their_subgroup_when_asked_and_unknowns_count_wrong(taxonomy) -> None:
    """``flagged_climb``: a known image the unknown detector flags may still have its subgroup determined (never its
    leaf); images outside the tree, flagged too, count as wrong, so the level's threshold must leave them out."""
    rng = np.random.default_rng(1)
    leaves = taxonomy.leaves
    a, b = leaves.index("particle_metal"), leaves.index("particle_organic")
    known, outside = 2000, 100
    n = known + outside
    probs = np.full((n, len(leaves)), 0.02 / (len(leaves) - 2))
    probs[:, a] = np.where(rng.random(n) < 0.5, 0.5, 0.48)
    probs[:, b] = 0.98 - probs[:, a]
    probs[:known // 2, a], probs[:known // 2, b] = 0.975, 0.005  # sure of the leaf too
    probs[known:, a], probs[known:, b] = 0.46, 0.44  # outside the tree: subgroup score 0.9 + a little
    probs /= probs.sum(axis=1, keepdims=True)
    targets = np.where(rng.random(n) < 0.5, a, b)
    targets[:known // 2] = a
    targets[known:] = -1
    flagged = np.zeros(n, dtype=bool)
    flagged[known - 200:] = True  # 200 known images and every image outside the tree
    cuts = {leaf: 0.97 for leaf in leaves}
    fits = {climb: ltt.node_thresholds(probs, targets, flagged, taxonomy, cuts, target=0.99, confidence=0.95,
                                       flagged_climb=climb)[1] for climb in (False, True)}
    assert fits[False][1].n_auto == known // 2 - 200  # the climbers not flagged
    assert fits[True][1].n_auto == known // 2  # and the 200 flagged known ones; not the 100 outside the tree
    scores = path_confidences(taxonomy, probs)[1][1]
    assert scores[known:].max() < fits[True][1].threshold <= scores[known - 200:known].min()
    flags = [("possible_unknown",) if f else () for f in flagged]
    for climb in (False, True):
        nodes = {node: fits[climb][k].threshold for k in (0, 1) for node in taxonomy.levels[k]}
        cal = Calibration(thresholds=cuts, node_thresholds=nodes, flagged_climb=climb)
        found, levels = determined_batch(cal, taxonomy, probs, flags)
        assert (levels[:known // 2] == 2).all()  # sure of the leaf, not flagged
        assert (levels[known - 200:known] == (1 if climb else -1)).all()  # flagged: the subgroup, or nothing
        assert set(found[known - 200:known]) == ({"particle"} if climb else {None})
        assert (levels[known:] == -1).all()


@pytest.mark.parametrize("method", ["ltt", "per-leaf"])
def test_calibrate_writes_the_method_and_old_manifests_read_as_per_leaf(tmp_path, taxonomy, capsys, method) -> None:
    from conftest import make_tiny_bundle
    from test_calibrate import make_dataset

    data = make_dataset(tmp_path, taxonomy)
    bundle = make_tiny_bundle(tmp_path / "bundle", taxonomy, input_size=32)
    # ltt is the default (one start here: this tiny set's subgroup fit passes at the whole budget, not at half)
    args = ["--ltt-starts", "1"] if method == "ltt" else ["--method", "per-leaf"]
    assert cli_main(["calibrate", str(bundle), "--data", str(data), "--target-purity", "0.01", "--min-support", "1",
                     "--confidence", "0.5", "--spot-check", "0", "--out", str(tmp_path / "report"), *args]) == 0
    out = capsys.readouterr().out
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["routing"]["method"] == method
    assert Calibration.from_manifest(manifest).method == method
    report = json.loads((tmp_path / "report" / "calibration.json").read_text())
    assert report["summary"]["method"] == method
    if method == "ltt":
        assert "method ltt: purity >= 0.01 over all auto-judged images, with probability 0.5" in out
        fits = report["summary"]["ltt"]
        assert set(fits) == {"leaf", "level 0", "level 1"}
        cuts = {v for v in manifest["thresholds"].values() if v is not None}  # one shared threshold, or none
        assert len(cuts) <= 1 and (fits["leaf"]["threshold"] is None) == (not cuts)
        assert not cuts or cuts.pop() == pytest.approx(fits["leaf"]["threshold"], abs=1e-5)  # (rounded in the file)
        if fits["leaf"]["threshold"] is None:  # (this tiny random model's leaves are a lottery) each says why
            notes = manifest["routing"]["notes"]
            assert set(notes) == set(taxonomy.leaves) and any("Learn-then-Test" in n for n in notes.values())
            assert all("Learn-then-Test rejected no threshold" in n or n.startswith("support: 0 ") for n in notes.values())
        nodes = manifest["routing"]["node_thresholds"]
        (shared,) = {nodes[n] for n in taxonomy.levels[1]}
        assert shared is not None and shared == pytest.approx(fits["level 1"]["threshold"], abs=1e-5)
        assert manifest["routing"]["flagged_climb"] is True and "flagged images climb (--flagged-climb)" in out
    else:
        assert "method per-leaf: each leaf's purity >= 0.01 (clopper-pearson bound at 0.5)" in out
        assert "flagged_climb" not in manifest["routing"]  # per-leaf leaves flagged images without a node
    del manifest["routing"]["method"]  # a calibration made before the choice existed
    assert Calibration.from_manifest(manifest).method is None
    for bad in (3, "by-magic"):
        manifest["routing"]["method"] = bad
        with pytest.raises(RoutingError, match=r"routing\.method"):
            Calibration.from_manifest(manifest)


def test_leaf_floors_are_the_lower_bounds_below_target() -> None:
    from models.calibration.thresholds import LeafThreshold

    leaves = {"a": LeafThreshold(0.9, 100, n_auto=80, purity=0.975, purity_lower=0.95123),
              "b": LeafThreshold(0.9, 500, n_auto=400, purity=1.0, purity_lower=0.9925),
              "c": LeafThreshold(None, 5, reason="support: 5"),
              "d": LeafThreshold(0.9, 10, n_auto=0),
              "e": LeafThreshold(0.9, 9, n_auto=7, purity=1.0, purity_lower=0.6518)}  # few images, none wrong
    # rounded down; b reaches the target; c and d auto-judged nothing; e is a small sample, not a weak leaf
    assert ltt.leaf_floors(leaves, 0.99) == {"a": 0.9512}
    cal = Calibration(thresholds={}, target_purity=0.99, leaf_floor={"a": 0.9512})
    assert cal.purity_floor("a") == 0.9512 and cal.purity_floor("b") == 0.99
    with pytest.raises(RoutingError, match=r"leaf_floor"):
        Calibration.from_manifest({**cal.to_manifest(), "routing": {"leaf_floor": [0.5]}})
    # calibrate and recalibrate say the floors, and warn of a low one (a recalibration passed with crack at 8 of 9
    # right, floor 0.571, without a word; only `fma-judge monitor` showed it)
    from types import SimpleNamespace

    from models.calibration.report import floors_lines

    leaves["crack"] = LeafThreshold(0.95, 12, n_auto=9, purity=8 / 9, purity_lower=0.5712)
    floors = ltt.leaf_floors(leaves, 0.99)
    assert floors == {"a": 0.9512, "crack": 0.5712}
    result = SimpleNamespace(calibration=Calibration(thresholds={}, target_purity=0.99, leaf_floor=floors),
                             leaves=leaves, options=SimpleNamespace(target_purity=0.99))
    lines = floors_lines(result)
    assert lines[1] == ("under the target 0.99 on these images, so held by the purity monitor to their own floor: "
                        "a 0.951 (78 of 80 right at or above the threshold); crack 0.571 (8 of 9 right at or above "
                        "the threshold)")
    assert lines[2].startswith("warning: crack may be auto-judged at a purity far under 0.99 before the monitor")
    result.calibration = Calibration(thresholds={}, target_purity=0.99, leaf_floor={})
    assert floors_lines(result) == []


def test_too_few_images_say_so_instead_of_blaming_the_model() -> None:
    """100 images, all right, cannot show 0.99 at 95 % (299 are needed): the reason names the data, not the model."""
    probs, targets = _calibrated(100, 5, 4)
    targets = probs.argmax(axis=1)  # every prediction right
    out, fit = ltt.leaf_thresholds(probs, targets, np.zeros(100, dtype=bool), ["a", "b", "c", "d"], target=0.99,
                                   confidence=0.95, min_support=1)
    assert fit.threshold is None and fit.tested == 0
    assert all("too few to show purity >= 0.99" in lt.reason and "299" in lt.reason for lt in out.values())


def test_ltt_starts_reach_the_leaves_and_the_reason_names_the_option(tmp_path, taxonomy, capsys) -> None:
    """A leaf threshold none of one sequence's tests gives says that --ltt-starts exists; with it, the fit records
    its starts; out of range the command names the option."""
    n = 6000
    probs = np.zeros((n, 4))
    pred = np.arange(n) % 4
    probs[np.arange(n), pred] = np.linspace(1.0, 0.6, n)
    probs[np.arange(n), (pred + 1) % 4] = 1.0 - probs[np.arange(n), pred]
    targets = pred.copy()
    targets[[3, 200, 400, 600, 800]] = (pred[[3, 200, 400, 600, 800]] + 1) % 4  # 5 mistakes among the first 1,000
    targets[1000::500] = (pred[1000::500] + 1) % 4  # then 0.2 % wrong
    flagged = np.zeros(n, dtype=bool)
    one, fit1 = ltt.leaf_thresholds(probs, targets, flagged, ["a", "b", "c", "d"], target=0.99, confidence=0.95,
                                    min_support=1)
    assert fit1.threshold is None and all("--ltt-starts 3" in lt.reason for lt in one.values())
    three, fit3 = ltt.leaf_thresholds(probs, targets, flagged, ["a", "b", "c", "d"], target=0.99, confidence=0.95,
                                      min_support=1, starts=3)
    assert fit3.threshold is not None and fit3.starts == 3 and fit3.n_auto >= 2000
    assert all(lt.threshold == fit3.threshold for lt in three.values())
    from conftest import make_tiny_bundle
    from test_calibrate import make_dataset

    data = make_dataset(tmp_path, taxonomy)
    bundle = make_tiny_bundle(tmp_path / "bundle", taxonomy, input_size=32)
    assert cli_main(["calibrate", str(bundle), "--data", str(data), "--ltt-starts", "0"]) != 0
    assert "--ltt-starts must lie in 1..8, got 0" in capsys.readouterr().err
    # the manifest says how many starts its threshold had, the printed line too; an old manifest reads as one start
    assert cli_main(["calibrate", str(bundle), "--data", str(data), "--target-purity", "0.01", "--min-support", "1",
                     "--ltt-starts", "2", "--out", str(tmp_path / "report")]) == 0
    assert "(Learn-then-Test, 2 starts at 1/2 of the error budget each)" in capsys.readouterr().out
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["routing"]["ltt_starts"] == 2 and Calibration.from_manifest(manifest).ltt_starts == 2
    assert Calibration.from_manifest(manifest).to_manifest()["routing"]["ltt_starts"] == 2
    del manifest["routing"]["ltt_starts"]
    assert Calibration.from_manifest(manifest).ltt_starts is None
    # three starts by default; the line says when the images allow fewer (the budget is then not split)
    assert cli_main(["calibrate", str(bundle), "--data", str(data), "--target-purity", "0.01", "--min-support", "1",
                     "--out", str(tmp_path / "report3")]) == 0
    printed = capsys.readouterr().out
    fit = json.loads((tmp_path / "report3" / "calibration.json").read_text())["summary"]["ltt"]["leaf"]
    assert json.loads((bundle / "manifest.json").read_text())["routing"]["ltt_starts"] == 3
    assert (f"(Learn-then-Test, {fit['starts']} starts at 1/{fit['starts']}" if fit["starts"] > 1 else
            "(Learn-then-Test, one start (of 3 asked: too few images for more))") in printed
    manifest["routing"]["ltt_starts"] = 0
    with pytest.raises(RoutingError, match=r"routing\.ltt_starts"):
        Calibration.from_manifest(manifest)
