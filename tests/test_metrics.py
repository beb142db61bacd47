"""Tests for models.evaluation.metrics and models.evaluation.report against hand-computed values on tiny cases."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.evaluation.metrics import (
    auroc,
    bootstrap_ci,
    compute_metrics,
    confusion_matrix,
    expected_calibration_error,
    hierarchical_prf,
    paired_bootstrap_ci,
    reliability_bins,
    risk_coverage_curve,
    topk_accuracy,
)
from models.evaluation.report import to_json_ready, write_evaluation
from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy

CONTRACT_KEYS = {
    "n", "top1", "top2", "top3", "top4", "top5", "level_top1", "hier_precision", "hier_recall", "hier_f1",
    "mistake_severity", "ece", "aurc", "per_class", "top1_ci", "macro_recall", "worst_leaf_recall", "worst_leaf",
    "never_predicted",
}  # fmt: skip
OPTIONAL_KEYS = {"unknown_auroc", "unknown_auto_rate", "auto_coverage", "auto_purity"}


def _node(node_id: str, children: list[dict] | None = None) -> dict:
    node: dict = {"id": node_id, "name": {"en": node_id.upper(), "zh_TW": node_id}}
    if children:
        node["children"] = children
    return node


@pytest.fixture(scope="module")
def tree() -> Taxonomy:
    """root -> G1 {a, b}, G2 {c, d}: leaves a, b, c, d (indices 0..3)."""
    data = _node("t", [_node("G1", [_node("a"), _node("b")]), _node("G2", [_node("c"), _node("d")])])
    return Taxonomy.from_dict(data)


@pytest.fixture(scope="module")
def ragged() -> Taxonomy:
    """root -> G1 {a, b}, e (a leaf at depth 0, padded into level 1)."""
    return Taxonomy.from_dict(_node("r", [_node("G1", [_node("a"), _node("b")]), _node("e")]))


# Six samples on `tree`. pred = a b c c d a; target = a a b c d d.
PROBS = np.array(
    [
        [0.70, 0.10, 0.10, 0.10],  # a -> a  correct, conf .70
        [0.25, 0.50, 0.15, 0.10],  # a -> b  wrong (siblings, distance 1), target rank 2, conf .50
        [0.10, 0.20, 0.42, 0.28],  # b -> c  wrong (distance 2), target rank 3, group G2 (wrong), conf .42
        [0.05, 0.05, 0.85, 0.05],  # c -> c  correct, conf .85
        [0.30, 0.00, 0.25, 0.45],  # d -> d  correct, conf .45
        [0.40, 0.00, 0.25, 0.35],  # d -> a  wrong (distance 2), rank 2, group G2 (.60) right, conf .40
    ]
)
TARGETS = np.array([0, 0, 1, 2, 3, 3])


def test_topk_accuracy_hand_values() -> None:
    assert topk_accuracy(PROBS, TARGETS, 1) == pytest.approx(3 / 6)
    assert topk_accuracy(PROBS, TARGETS, 2) == pytest.approx(5 / 6)
    assert topk_accuracy(PROBS, TARGETS, 3) == pytest.approx(1.0)
    assert topk_accuracy(PROBS, TARGETS, 9) == pytest.approx(1.0)  # k beyond the class count
    # ties rank the lower class index first
    assert topk_accuracy(np.array([[0.5, 0.5]]), np.array([1]), 1) == 0.0
    assert topk_accuracy(np.array([[0.5, 0.5]]), np.array([0]), 1) == 1.0
    assert math.isnan(topk_accuracy(np.zeros((0, 3)), np.zeros(0, dtype=int), 1))
    with pytest.raises(ValueError, match="k must be >= 1"):
        topk_accuracy(PROBS, TARGETS, 0)


def test_compute_metrics_hand_values(tree: Taxonomy) -> None:
    m = compute_metrics(PROBS, TARGETS, tree, n_bins=3)
    assert set(m) >= CONTRACT_KEYS
    assert not OPTIONAL_KEYS & set(m)
    assert (m["n"], m["n_known"], m["n_unknown"]) == (6, 6, 0)
    assert [m[f"top{k}"] for k in range(1, 6)] == pytest.approx([0.5, 5 / 6, 1.0, 1.0, 1.0])
    # groups from the leaf marginal: only sample 2 lands in the wrong group (sample 5 is rescued)
    assert m["level_top1"] == pytest.approx([5 / 6, 3 / 6])
    assert m["level_top1_source"] == "leaf_marginal"
    # every path has 2 nodes; overlaps 2,1,0,2,2,0 -> 7 / 12
    assert m["hier_precision"] == pytest.approx(7 / 12)
    assert m["hier_recall"] == pytest.approx(7 / 12)
    assert m["hier_f1"] == pytest.approx(7 / 12)
    assert m["mistake_severity"] == pytest.approx((1 + 2 + 2) / 3)
    assert m["n_mistakes"] == 3
    # 3 bins: (1/3, 2/3] holds .50 .42 .45 .40 (acc 1/4, conf .4425); (2/3, 1] holds .70 .85 (acc 1, conf .775)
    assert m["ece"] == pytest.approx(4 / 6 * abs(0.25 - 0.4425) + 2 / 6 * abs(1.0 - 0.775))
    # by confidence: .85 T, .70 T, .50 F, .45 T, .42 F, .40 F -> risks 0, 0, 1/3, 1/4, 2/5, 3/6
    assert m["aurc"] == pytest.approx((0 + 0 + 1 / 3 + 1 / 4 + 2 / 5 + 3 / 6) / 6)
    pc = m["per_class"]
    assert list(pc) == ["a", "b", "c", "d"]
    assert pc["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert pc["b"] == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1})
    assert pc["c"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert pc["d"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    # recalls a 1/2, b 0, c 1, d 1/2; every leaf is predicted at least once
    assert m["macro_recall"] == pytest.approx(0.5)
    assert (m["worst_leaf"], m["worst_leaf_recall"]) == ("b", 0.0)
    assert m["never_predicted"] == []
    low, high = m["top1_ci"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0 and high - low > 0.2  # six images: a wide interval


def test_rare_leaves_macro_recall_worst_and_never_predicted(tree: Taxonomy, tmp_path: Path) -> None:
    """Targets a a a a a a b d; the model says a, a, ..., b for b and a for d: d is never predicted, c has
    no test images so it is neither averaged nor listed."""
    targets = np.array([0, 0, 0, 0, 0, 0, 1, 3])
    pred = np.array([0, 0, 0, 0, 0, 0, 1, 0])
    m = compute_metrics(np.eye(4)[pred], targets, tree)
    assert m["top1"] == pytest.approx(7 / 8)  # high top-1 ...
    assert m["macro_recall"] == pytest.approx((1 + 1 + 0) / 3)  # ... while a leaf is lost
    assert (m["worst_leaf"], m["worst_leaf_recall"]) == ("d", 0.0)
    assert m["never_predicted"] == ["d"]
    assert m["per_class"]["c"]["support"] == 0 and "c" not in m["never_predicted"]
    files = write_evaluation(tmp_path, m, leaf_probs=np.eye(4)[pred], targets=targets, taxonomy=tree)
    report = files["report.md"].read_text(encoding="utf-8")
    assert "**Never predicted:** `d` (1 leaf/leaves with test images" in report
    assert "| Worst leaf recall | 0.0000 (`d`) |" in report
    assert json.loads(files["metrics.json"].read_text())["never_predicted"] == ["d"]
    # ties between equally bad leaves go to the first in taxonomy order
    both = compute_metrics(np.eye(4)[[0, 0]], np.array([2, 3]), tree)
    assert (both["worst_leaf"], both["never_predicted"]) == ("c", ["c", "d"])


def test_bootstrap_ci_contains_the_estimate_and_narrows() -> None:
    rng = np.random.default_rng(0)
    small = rng.random(50) < 0.8
    large = rng.random(5000) < 0.8
    for correct in (small, large):
        low, high = bootstrap_ci(correct)
        assert low <= correct.mean() <= high
    small_width = np.subtract(*bootstrap_ci(small)[::-1])
    large_width = np.subtract(*bootstrap_ci(large)[::-1])
    assert large_width < small_width / 5  # width ~ 1/sqrt(n): 10x narrower for 100x the images
    normal_width = 2 * 1.96 * math.sqrt(0.8 * 0.2 / 5000)  # the normal-approximation interval
    assert large_width == pytest.approx(normal_width, rel=0.15)
    assert bootstrap_ci(small, seed=3) == bootstrap_ci(small, seed=3)
    assert bootstrap_ci(np.ones(20, bool)) == (1.0, 1.0)
    assert all(math.isnan(v) for v in bootstrap_ci(np.zeros(0, bool)))
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(small, level=1.0)


def test_paired_bootstrap_ci_ties_and_wins() -> None:
    rng = np.random.default_rng(1)
    a = rng.random(200) < 0.7
    assert paired_bootstrap_ci(a, a.copy()) == (0.0, 0.0)  # the same model: a tie, no width
    b = a.copy()
    b[np.flatnonzero(~a)[:30]] = True  # B fixes 30 of A's mistakes and breaks none
    low, high = paired_bootstrap_ci(a, b)
    assert 0.0 < low <= 30 / 200 <= high
    low, high = paired_bootstrap_ci(b, a)
    assert low <= -30 / 200 <= high < 0.0
    # pairing matters: two unrelated 70 % models differ by chance, and the interval says so
    c = rng.random(200) < 0.7
    low, high = paired_bootstrap_ci(a, c)
    assert low < 0.0 < high
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap_ci(a, a[:-1])


def test_level_probs_override_the_marginal(tree: Taxonomy) -> None:
    groups = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    m = compute_metrics(PROBS, TARGETS, tree, level_probs=[groups, PROBS])
    assert m["level_top1_source"] == "level_probs"
    assert m["level_top1"] == pytest.approx([5 / 6, 3 / 6])  # sample 2 now right, sample 5 wrong
    assert m["level_top1"][0] == pytest.approx(np.mean(groups.argmax(1) == np.array([0, 0, 0, 1, 1, 1])))
    with pytest.raises(ValueError, match=r"level_probs\[0\] must have shape \(6, 2\)"):
        compute_metrics(PROBS, TARGETS, tree, level_probs=[groups[:, :1], PROBS])
    with pytest.raises(ValueError, match="one per level"):
        compute_metrics(PROBS, TARGETS, tree, level_probs=[groups])


def test_ragged_tree_hierarchy_and_levels(ragged: Taxonomy) -> None:
    assert ragged.leaves == ["a", "b", "e"]
    probs = np.array([[0.2, 0.1, 0.7], [0.1, 0.1, 0.8], [0.5, 0.3, 0.2]])
    targets = np.array([0, 2, 1])  # a -> e, e -> e, b -> a
    # |P ∩ T|: 0, 1, 1; |P|: 1, 1, 2; |T|: 2, 1, 2
    hp, hr, hf = hierarchical_prf(probs.argmax(1), targets, ragged)
    assert (hp, hr) == pytest.approx((2 / 4, 2 / 5))
    assert hf == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    m = compute_metrics(probs, targets, ragged)
    assert m["hier_precision"] == pytest.approx(0.5) and m["hier_recall"] == pytest.approx(0.4)
    assert m["level_top1"] == pytest.approx([2 / 3, 1 / 3])  # level 0 = [G1, e]
    assert m["mistake_severity"] == pytest.approx((2 + 1) / 2)  # a vs e share only the root


def test_no_mistakes_gives_zero_severity(tree: Taxonomy) -> None:
    m = compute_metrics(np.eye(4), np.arange(4), tree)
    assert m["mistake_severity"] == 0.0 and m["n_mistakes"] == 0
    assert m["top1"] == 1.0 and m["hier_f1"] == 1.0 and m["aurc"] == 0.0 and m["ece"] == 0.0


def test_unknowns_and_auto_routing(tree: Taxonomy) -> None:
    probs = np.vstack([PROBS, [[0.25] * 4, [0.1, 0.1, 0.1, 0.7]]])
    targets = np.concatenate([TARGETS, [-1, -1]])
    unknown = np.array([False] * 6 + [True, True])
    perfect = np.array([0.1, 0.4, 0.35, 0.2, 0.3, 0.2, 0.9, 0.8])
    auto = np.array([True, True, False, True, True, False, True, False])
    m = compute_metrics(probs, targets, tree, unknown_mask=unknown, unknown_scores=perfect, auto_mask=auto)
    assert set(m) >= CONTRACT_KEYS | OPTIONAL_KEYS
    assert (m["n"], m["n_known"], m["n_unknown"]) == (8, 6, 2)
    known_only = compute_metrics(PROBS, TARGETS, tree)
    for key in ("top1", "top2", "level_top1", "hier_f1", "mistake_severity", "ece", "aurc"):
        assert m[key] == pytest.approx(known_only[key]), key
    assert m["per_class"] == known_only["per_class"]
    assert m["unknown_auroc"] == 1.0
    assert m["auto_coverage"] == pytest.approx(5 / 8)  # auto-judged / all samples
    assert m["auto_purity"] == pytest.approx(3 / 5)  # samples 0, 3, 4 right; 1 wrong; unknown 6 counts wrong
    assert m["unknown_auto_rate"] == pytest.approx(1 / 2)
    mixed = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.6, 0.5, 0.4])
    # unknown .5 beats 4 knowns; unknown .4 beats 3 and ties 1 -> (4 + 3.5) / 12
    m2 = compute_metrics(probs, targets, tree, unknown_mask=unknown, unknown_scores=mixed)
    assert m2["unknown_auroc"] == pytest.approx(7.5 / 12)
    assert "auto_coverage" not in m2
    with pytest.raises(ValueError, match="unknown_scores needs unknown_mask"):
        compute_metrics(probs[:6], TARGETS, tree, unknown_scores=perfect[:6])


def test_auto_without_auto_judgments_or_unknowns(tree: Taxonomy) -> None:
    m = compute_metrics(PROBS, TARGETS, tree, unknown_mask=np.zeros(6, bool), auto_mask=np.zeros(6, bool))
    assert m["auto_coverage"] == 0.0
    assert math.isnan(m["auto_purity"]) and math.isnan(m["unknown_auto_rate"])


def test_all_unknown_gives_nan_not_crash(tree: Taxonomy) -> None:
    m = compute_metrics(
        PROBS[:2],
        np.array([-1, -1]),
        tree,
        unknown_mask=np.ones(2, bool),
        unknown_scores=np.array([0.1, 0.2]),
    )
    assert m["n_known"] == 0 and math.isnan(m["top1"]) and math.isnan(m["aurc"]) and math.isnan(m["ece"])
    assert math.isnan(m["unknown_auroc"])  # only one kind present
    assert all(math.isnan(v) for v in m["level_top1"])


def test_input_validation(tree: Taxonomy) -> None:
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        compute_metrics(PROBS[:, :3], TARGETS, tree)
    with pytest.raises(ValueError, match="summing to 1"):
        compute_metrics(PROBS * 2, TARGETS, tree)
    with pytest.raises(ValueError, match="class index 4"):
        compute_metrics(PROBS, np.array([0, 0, 1, 2, 3, 4]), tree)
    with pytest.raises(ValueError, match="class index -1"):
        compute_metrics(PROBS, np.array([0, 0, 1, 2, 3, -1]), tree)  # -1 only allowed for unknowns
    with pytest.raises(ValueError, match="same length"):
        compute_metrics(PROBS, TARGETS[:5], tree)
    with pytest.raises(ValueError, match="auto_mask must be a boolean array"):
        compute_metrics(PROBS, TARGETS, tree, auto_mask=np.ones(5, bool))


def test_confusion_matrix_hand_values() -> None:
    pred = PROBS.argmax(1)
    expected = np.array([[1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0], [1, 0, 0, 1]])
    np.testing.assert_array_equal(confusion_matrix(pred, TARGETS, 4), expected)
    assert confusion_matrix(np.zeros(0, int), np.zeros(0, int), 3).sum() == 0
    with pytest.raises(ValueError, match="pred holds class index 5"):
        confusion_matrix(np.array([5]), np.array([0]), 4)


def test_risk_coverage_curve_and_reliability_bins() -> None:
    conf = PROBS.max(1)
    correct = PROBS.argmax(1) == TARGETS
    coverage, risk = risk_coverage_curve(conf, correct)
    np.testing.assert_allclose(coverage, np.arange(1, 7) / 6)
    np.testing.assert_allclose(risk, [0, 0, 1 / 3, 1 / 4, 2 / 5, 3 / 6])
    bins = reliability_bins(conf, correct, n_bins=3)
    np.testing.assert_allclose(bins["edges"], [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_array_equal(bins["count"], [0, 4, 2])
    np.testing.assert_allclose(bins["accuracy"], [np.nan, 0.25, 1.0])
    np.testing.assert_allclose(bins["confidence"], [np.nan, 0.4425, 0.775])
    # bins are (lo, hi]: 0.5 sits in the first of two bins, 0 in the first, 1 in the last
    two = reliability_bins(np.array([0.0, 0.5, 0.51, 1.0]), np.array([True, False, True, True]), n_bins=2)
    np.testing.assert_array_equal(two["count"], [2, 2])
    assert expected_calibration_error(
        np.array([0.0, 0.5, 0.51, 1.0]), np.array([True, False, True, True]), 2
    ) == (pytest.approx(2 / 4 * abs(0.5 - 0.25) + 2 / 4 * abs(1.0 - 0.755)))
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        reliability_bins(np.array([1.5]), np.array([True]))


def test_auroc_edge_cases() -> None:
    assert auroc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([True, True, False, False])) == 1.0
    assert auroc(np.array([0.1, 0.2, 0.9, 0.8]), np.array([True, True, False, False])) == 0.0
    assert auroc(np.full(4, 0.5), np.array([True, False, True, False])) == 0.5
    assert math.isnan(auroc(np.array([0.1, 0.2]), np.array([False, False])))


# ---------------------------------------------------------------- report
def _demo_case(n: int = 400, seed: int = 0) -> tuple[Taxonomy, np.ndarray, np.ndarray, np.ndarray]:
    tax = Taxonomy.from_yaml(DEMO_TAXONOMY_PATH)
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, len(tax.leaves), n)
    logits = rng.normal(0.0, 1.0, (n, len(tax.leaves)))
    logits[np.arange(n), targets] += rng.normal(2.0, 1.5, n)
    probs = np.exp(logits)
    probs /= probs.sum(1, keepdims=True)
    unknown = rng.random(n) < 0.1
    targets[unknown] = -1
    return tax, probs, targets, unknown


def _assert_png(path: Path) -> None:
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 200 and image.height > 200


def test_write_evaluation_demo_taxonomy(tmp_path: Path) -> None:
    tax, probs, targets, unknown = _demo_case()
    rng = np.random.default_rng(1)
    metrics = compute_metrics(
        probs,
        targets,
        tax,
        unknown_mask=unknown,
        unknown_scores=rng.random(len(targets)) + unknown,
        auto_mask=probs.max(1) > 0.5,
    )
    files = write_evaluation(
        tmp_path / "eval",
        metrics,
        leaf_probs=probs,
        targets=targets,
        taxonomy=tax,
        title="demo",
        extra_md="## Notes\n\nseed 0",
        unknown_mask=unknown,
    )
    names = {
        "metrics.json",
        "confusion_matrix.csv",
        "confusion_matrix.png",
        "reliability.png",
        "risk_coverage.png",
        "report.md",
    }
    assert set(files) == names
    assert all(p.is_file() and p.stat().st_size > 0 and p.parent == tmp_path / "eval" for p in files.values())

    text = files["metrics.json"].read_text(encoding="utf-8")
    loaded = json.loads(text)
    assert set(loaded) >= CONTRACT_KEYS | OPTIONAL_KEYS
    assert list(loaded) == sorted(loaded) and text.startswith('{\n  "')
    assert loaded["n"] == len(targets) and loaded["n_known"] == int((~unknown).sum())
    assert loaded["top1"] == round(metrics["top1"], 6)
    assert set(loaded["per_class"]) == set(tax.leaves)
    assert len(loaded["level_top1"]) == 3

    with files["confusion_matrix.csv"].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["true\\pred", *tax.leaves]
    assert [row[0] for row in rows[1:]] == tax.leaves
    matrix = np.array([[int(v) for v in row[1:]] for row in rows[1:]])
    known = ~unknown
    np.testing.assert_array_equal(matrix, confusion_matrix(probs[known].argmax(1), targets[known], 18))
    assert np.trace(matrix) / matrix.sum() == pytest.approx(metrics["top1"])

    for name in ("confusion_matrix.png", "reliability.png", "risk_coverage.png"):
        _assert_png(files[name])
    report = files["report.md"].read_text(encoding="utf-8")
    assert report.startswith("# demo\n")
    for name in ("confusion_matrix.png", "reliability.png", "risk_coverage.png"):
        assert f"]({name})" in report
    row = metrics["per_class"]["ito_peeling"]
    assert (
        f"| `ito_peeling` | {tax.name('ito_peeling')} | process | {row['precision']:.4f} | {row['recall']:.4f} |"
        in report
    )
    assert f"| Top-1 accuracy (leaf) | {metrics['top1']:.4f} |" in report
    low, high = metrics["top1_ci"]
    assert f"| Top-1 95 % bootstrap interval | {low:.4f} – {high:.4f} |" in report
    assert f"| Worst leaf recall | {metrics['worst_leaf_recall']:.4f} (`{metrics['worst_leaf']}`) |" in report
    assert f"| Macro recall (mean over leaves with test images) | {metrics['macro_recall']:.4f} |" in report
    assert loaded["never_predicted"] == metrics["never_predicted"]
    if metrics["never_predicted"]:
        assert "**Never predicted:** " + ", ".join(f"`{x}`" for x in metrics["never_predicted"]) in report
    else:
        assert "Never predicted" not in report
    assert "| Unknown AUROC |" in report and report.rstrip().endswith("seed 0")


def test_write_evaluation_nan_to_null_and_flat_many_classes(tmp_path: Path) -> None:
    """A one-level tree with 35 leaves (no count annotations, no group separators); NaN -> null."""
    tax = Taxonomy.from_dict(_node("flat", [_node(f"c{i:02d}") for i in range(35)]))
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(35), size=50)
    targets = rng.integers(0, 35, 50)
    metrics = compute_metrics(probs, targets, tax, auto_mask=np.zeros(50, bool))
    assert math.isnan(metrics["auto_purity"])
    metrics["extra"] = {"arr": np.array([1.23456789, np.inf]), "count": np.int64(3), "flag": np.bool_(True)}
    files = write_evaluation(tmp_path, metrics, leaf_probs=probs, targets=targets, taxonomy=tax)
    loaded = json.loads(files["metrics.json"].read_text(encoding="utf-8"))
    assert loaded["auto_purity"] is None
    assert loaded["extra"] == {"arr": [1.234568, None], "count": 3, "flag": True}
    assert loaded["level_top1"] == [round(metrics["top1"], 6)]
    _assert_png(files["confusion_matrix.png"])
    assert "| Purity of auto-judged samples | n/a |" in files["report.md"].read_text(encoding="utf-8")


def test_write_evaluation_without_known_samples(tmp_path: Path, tree: Taxonomy) -> None:
    metrics = compute_metrics(PROBS[:2], np.array([-1, -1]), tree, unknown_mask=np.ones(2, bool))
    files = write_evaluation(
        tmp_path, metrics, leaf_probs=PROBS[:2], targets=np.array([-1, -1]), taxonomy=tree
    )
    assert json.loads(files["metrics.json"].read_text(encoding="utf-8"))["top1"] is None
    with files["confusion_matrix.csv"].open(encoding="utf-8", newline="") as handle:
        assert sum(int(v) for row in list(csv.reader(handle))[1:] for v in row[1:]) == 0
    for name in ("confusion_matrix.png", "reliability.png", "risk_coverage.png"):
        _assert_png(files[name])


def test_to_json_ready_refuses_unknown_objects() -> None:
    assert to_json_ready({1: np.float32(0.5), "p": Path("x")}) == {"1": 0.5, "p": "x"}
    with pytest.raises(TypeError, match="cannot write a object"):
        to_json_ready({"bad": object()})


def test_head_and_tail_thirds_by_training_images(tree: Taxonomy) -> None:
    from models.evaluation.longtail import head_tail_metrics

    # pred = a b c c d a; target = a a b c d d. Training counts: a 100 (head), d 90, c 20, b 5 (tail).
    counts = {"a": 100, "b": 5, "c": 20, "d": 90}
    got = head_tail_metrics(PROBS, TARGETS, tree, counts)
    assert got["tail_leaves"] == 1 and got["tail_train_max"] == 5 and got["head_train_min"] == 100
    assert got["tail_n"] == 1 and got["tail_top1"] == 0.0 and got["tail_macro_recall"] == 0.0
    assert got["head_n"] == 2 and got["head_top1"] == 0.5 and got["head_macro_recall"] == 0.5
    assert got["tail_never_predicted"] == 0  # b was predicted (for an image of a)
    no_b = PROBS.copy()
    no_b[1] = [0.6, 0.2, 0.1, 0.1]
    assert head_tail_metrics(no_b, TARGETS, tree, counts)["tail_never_predicted"] == 1
    flipped = head_tail_metrics(PROBS, TARGETS, tree, {"a": 5, "b": 100, "c": 20, "d": 90})
    assert flipped["tail_top1"] == 0.5 and flipped["head_top1"] == 0.0
    unknown = np.array([0, 0, 1, 2, -1, -1])  # unknown images are left out
    assert head_tail_metrics(PROBS, unknown, tree, counts)["head_n"] == 2
    assert head_tail_metrics(PROBS, TARGETS, tree, {"a": 3, "b": 2}) == {}  # fewer than three trained leaves
    assert head_tail_metrics(PROBS, TARGETS, tree, dict.fromkeys("abcd", 50)) == {}  # balanced: no head, no tail
