"""Hierarchical routing (#17): group/subgroup thresholds, the climbing rule, and its figures in metrics.json."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from models.calibration.calibrate import CalibrateOptions, _node_thresholds
from models.commands.cli import main as cli_main
from models.evaluation.selective import hierarchical_selective
from models.inference.predictor import Predictor
from models.routing.policy import Calibration, RoutingError, determined_batch, path_confidences

PATH = ("foreign_matter", "particle", "particle_metal")


def _calibration(flagged_climb: bool = False, **nodes) -> Calibration:
    return Calibration(thresholds={"particle_metal": 0.9, "particle_organic": None}, flagged_climb=flagged_climb,
                       node_thresholds={"foreign_matter": 0.6, "particle": 0.8, **nodes})


def test_climbing_stops_at_the_deepest_node_that_meets_its_threshold() -> None:
    cal = _calibration()
    assert cal.determined(PATH, (0.99, 0.95, 0.92)) == ("particle_metal", 2)
    assert cal.determined(PATH, (0.99, 0.95, 0.70)) == ("particle", 1)
    assert cal.determined(PATH, (0.70, 0.75, 0.70)) == ("foreign_matter", 0)
    assert cal.determined(PATH, (0.50, 0.45, 0.40)) == (None, None)
    # a leaf without a threshold is never determined, whatever its score; spot checks do not matter
    assert cal.determined(("foreign_matter", "particle", "particle_organic"), (1.0, 1.0, 1.0)) == ("particle", 1)
    assert cal.determined(PATH, (0.99, 0.95, 0.92), ["spot_check"]) == ("particle_metal", 2)
    # a possible new defect type: nothing is determined
    assert cal.determined(PATH, (0.99, 0.95, 0.92), ["possible_unknown"]) == (None, None)
    # unless the node thresholds were fitted with flagged images climbing: then never the leaf, a node may be
    climbing = _calibration(flagged_climb=True)
    assert climbing.determined(PATH, (0.99, 0.95, 0.92), ["possible_unknown"]) == ("particle", 1)
    assert climbing.determined(PATH, (0.99, 0.75, 0.92), ["possible_unknown"]) == ("foreign_matter", 0)
    assert climbing.determined(PATH, (0.99, 0.95, 0.92)) == ("particle_metal", 2)
    # a node without a threshold (null) is passed over on the way up
    assert _calibration(particle=None).determined(PATH, (0.99, 0.95, 0.70)) == ("foreign_matter", 0)
    # a calibration made before #17 has no node thresholds: only the leaf can be determined
    old = Calibration(thresholds={"particle_metal": 0.9})
    assert old.determined(PATH, (0.99, 0.95, 0.70)) == (None, None)


def test_node_thresholds_round_trip_through_the_manifest_and_bad_values_are_refused() -> None:
    cal = _calibration(structural=None)
    again = Calibration.from_manifest({**cal.to_manifest(), "temperature": 1.0})
    assert again is not None and dict(again.node_thresholds) == dict(cal.node_thresholds)
    assert "node_thresholds" not in Calibration(thresholds={"a": 0.5}).to_manifest()["routing"]
    assert not again.flagged_climb and "flagged_climb" not in cal.to_manifest()["routing"]  # old manifests read
    climbing = Calibration.from_manifest({**_calibration(flagged_climb=True).to_manifest(), "temperature": 1.0})
    assert climbing is not None and climbing.flagged_climb
    bad = cal.to_manifest()
    bad["routing"]["flagged_climb"] = "yes"
    with pytest.raises(RoutingError, match="flagged_climb' must be true, false or null"):
        Calibration.from_manifest(bad)
    bad = cal.to_manifest()
    bad["routing"]["node_thresholds"] = {"particle": "high"}
    with pytest.raises(RoutingError, match=r"node_thresholds\.particle"):
        Calibration.from_manifest(bad)
    bad["routing"]["node_thresholds"] = [0.5]
    with pytest.raises(RoutingError, match="node_thresholds' must be an object"):
        Calibration.from_manifest(bad)


def test_group_thresholds_exist_where_only_the_leaf_is_uncertain(taxonomy) -> None:
    """Every image's group and subgroup are right and confident, the leaf a coin toss between two siblings."""
    rng = np.random.default_rng(0)
    leaves = taxonomy.leaves
    a, b = leaves.index("particle_metal"), leaves.index("particle_organic")
    n = 400
    probs = np.full((n, len(leaves)), 0.02 / (len(leaves) - 2))
    first = rng.random(n) < 0.5
    probs[:, a] = np.where(first, 0.5, 0.48)
    probs[:, b] = 0.98 - probs[:, a]
    targets = np.where(rng.random(n) < 0.5, a, b)
    data = SimpleNamespace(known=np.ones(n, dtype=bool), targets=targets)
    nodes = _node_thresholds(probs, data, taxonomy, CalibrateOptions(target_purity=0.99, min_support=20),
                             {leaf: None for leaf in leaves})
    assert set(nodes) == {node for level in taxonomy.levels[:2] for node in level}
    assert nodes["particle"].threshold is not None
    assert nodes["foreign_matter"].support == 0  # every image stopped at its subgroup: none climbs further
    assert nodes["particle"].coverage == 1.0 and nodes["particle"].purity == 1.0
    assert nodes["residue"].threshold is None and nodes["residue"].support == 0
    cal = Calibration(thresholds={leaf: None for leaf in leaves},
                      node_thresholds={k: v.threshold for k, v in nodes.items()})
    found, levels = determined_batch(cal, taxonomy, probs)
    assert set(found) == {"particle"} and (levels == 1).all()
    m = hierarchical_selective(found, levels, targets, taxonomy)
    assert m["determined_at_least"] == [1.0, 1.0, 0.0] and m["hierarchical_purity"] == 1.0
    assert m["determined_level_share"] == {"0": 0.0, "1": 1.0, "2": 0.0, "none": 0.0}


def test_path_confidences_are_the_marginals_of_the_argmax_path(taxonomy) -> None:
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(len(taxonomy.leaves)), size=5)
    best, scores = path_confidences(taxonomy, probs)
    for i in range(5):
        leaf = taxonomy.leaves[best[i]]
        for k, node in enumerate(taxonomy.path(leaf)):
            under = [j for j, lf in enumerate(taxonomy.leaves) if node in taxonomy.path(lf)]
            assert scores[k][i] == pytest.approx(probs[i, under].sum())


def test_hierarchical_selective_known_answers(taxonomy) -> None:
    leaves = taxonomy.leaves
    t = np.array([leaves.index("particle_metal")] * 4)
    m = hierarchical_selective(["particle_metal", "particle", "residue", None], np.array([2, 1, 1, -1]), t, taxonomy)
    assert m["hierarchical_coverage"] == 0.75 and m["hierarchical_purity"] == pytest.approx(2 / 3)
    assert m["hierarchical_purity_by_level"][1] == 0.5 and np.isnan(m["hierarchical_purity_by_level"][0])
    assert m["determined_at_least"] == [0.75, 0.75, 0.25]
    with pytest.raises(ValueError, match="differ in length"):
        hierarchical_selective([None], np.array([1, 2]), t[:2], taxonomy)


def test_calibrate_predict_and_evaluate_carry_the_determined_node(tmp_path, taxonomy, capsys) -> None:
    from conftest import make_tiny_bundle
    from test_calibrate import make_dataset

    data = make_dataset(tmp_path, taxonomy)
    bundle = make_tiny_bundle(tmp_path / "bundle", taxonomy, input_size=32)
    assert cli_main(["calibrate", str(bundle), "--data", str(data), "--target-purity", "0.05", "--min-support",
                     "1", "--bound", "none", "--spot-check", "0", "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert "group / subgroup" in out and "determined (known images, climbing from the leaf)" in out
    manifest = json.loads((bundle / "manifest.json").read_text())
    nodes = manifest["routing"]["node_thresholds"]
    assert set(nodes) == {node for level in taxonomy.levels[:2] for node in level}
    assert any(v is not None for v in nodes.values())

    images = sorted(str(p) for p in (data.parent / "img").glob("*.png"))
    assert cli_main(["predict", str(bundle), *images, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    predictor = Predictor(bundle)
    cal = predictor.calibration
    assert cal is not None
    preds = predictor.predict(images)
    for r, p in zip(rows, preds, strict=True):
        assert (p.determined_node, p.determined_level) == cal.determined(p.path, p.path_scores, p.reasons)
        assert (r["determined_node"], r["determined_level"]) == (p.determined_node, p.determined_level)
        if r["determined_node"] is not None:
            assert r["path"][r["determined_level"]] == r["determined_node"]
    assert any(r["determined_node"] is not None for r in rows)

    assert cli_main(["evaluate", str(bundle), "--data", str(data), "--out", str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    share = metrics["determined_level_share"]
    assert set(share) == {"0", "1", "2", "none"} and sum(share.values()) == pytest.approx(1.0)
    assert metrics["hierarchical_coverage"] == pytest.approx(1.0 - share["none"])
    assert metrics["determined_at_least"][0] == pytest.approx(metrics["hierarchical_coverage"])
    # the test split's images outside the tree that got a node (the hierarchical keys judge known images only)
    rows = [line.split(",") for line in data.read_text(encoding="utf-8").splitlines()[1:]]
    unknowns = [str(data.parent / path) for path, label, split in rows if label.startswith("unknown:") and split == "test"]
    expected = sum(p.determined_node is not None for p in predictor.predict(unknowns))
    assert unknowns and metrics["unknown_determined"] == expected > 0


def test_a_node_is_fitted_only_on_the_images_that_climb_to_it(taxonomy) -> None:
    """Easy images (leaf determined) would vouch for hard ones: the subgroup must pass on the hard ones alone."""
    leaves = taxonomy.leaves
    a, b = leaves.index("particle_metal"), leaves.index("particle_organic")
    other = leaves.index("pi_residue")  # a leaf of another subgroup of the same group
    n_easy, n_hard = 600, 100
    probs = np.full((n_easy + n_hard, len(leaves)), 1e-4)
    probs[:n_easy, a] = 0.99                     # easy: the leaf is sure and right
    probs[n_easy:, a], probs[n_easy:, other] = 0.55, 0.40   # hard: half of them are really pi_residue
    probs /= probs.sum(axis=1, keepdims=True)
    targets = np.array([a] * n_easy + [a, other] * (n_hard // 2))
    data = SimpleNamespace(known=np.ones(len(targets), dtype=bool), targets=targets)
    options = CalibrateOptions(target_purity=0.95, min_support=20)
    climbing = _node_thresholds(probs, data, taxonomy, options, {"particle_metal": 0.9})
    assert climbing["particle"].support == n_hard and climbing["particle"].threshold is None
    everyone = _node_thresholds(probs, data, taxonomy, options, {leaf: None for leaf in leaves})
    assert everyone["particle"].support == n_easy + n_hard and everyone["particle"].threshold is not None
    assert climbing["foreign_matter"].threshold is not None  # the group is right for all of them
    assert b not in targets
