"""Images with more than one defect (issue #20): manifests with several labels, two-defect synthetic images, per-level
sigmoid heads trained with binary cross-entropy, tree-consistent presence scores, and the multi-label metrics."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from models.data.manifest import read_manifest, write_manifest
from models.evaluation.multilabel import average_precision, multilabel_metrics, predicted_matrix, truth_matrix
from models.inference.outputs import PRESENT, predicted_set, presence, presence_thresholds, present


def _rows(tmp_path: Path, labels: list[str]) -> Path:
    from conftest import write_image

    lines = ["path,label"]
    for k, label in enumerate(labels):
        write_image(tmp_path / f"i{k}.png", seed=k)
        lines.append(f"i{k}.png,{label}")
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "m.csv"


def test_a_manifest_row_may_carry_several_leaves(tmp_path, taxonomy):
    manifest = _rows(tmp_path, ["particle_metal;scratch", "foreign_matter/particle/fiber", "crack; crack ;dent",
                                "particle_metal;unknown:blob"])
    loaded = read_manifest(manifest, taxonomy)
    samples = {s.path.name: s for s in loaded.samples}
    assert samples["i0.png"].labels == ("particle_metal", "scratch") and samples["i0.png"].label == "particle_metal"
    assert samples["i1.png"].labels == ("fiber",) and samples["i1.png"].extra_labels == ()
    assert samples["i2.png"].labels == ("crack", "dent")  # a leaf written twice counts once
    assert "i3.png" not in samples
    assert "an unknown type cannot be one of several labels" in dict(loaded.skipped)["i3.png"]
    again = write_manifest(loaded.samples, tmp_path / "again.csv")
    with again.open(encoding="utf-8") as handle:
        written = {row["path"]: row["label"] for row in csv.DictReader(handle)}
    assert written["i0.png"] == "particle_metal;scratch" and written["i1.png"] == "fiber"
    assert [s.labels for s in read_manifest(again, taxonomy).samples] == [s.labels for s in loaded.samples]


def test_synthetic_two_defect_images_pair_leaves_of_different_groups(tmp_path, taxonomy):
    from models.data.synth import generate

    manifest = generate(tmp_path / "multi", per_class=3, seed=4, multi=0.5, size=64)
    samples = read_manifest(manifest, taxonomy, verify_images=False).samples
    pairs = [s for s in samples if s.extra_labels]
    assert 0.25 < len(pairs) / len(samples) < 0.75
    for s in pairs:
        (first, second) = s.labels
        assert taxonomy.path(first)[0] != taxonomy.path(second)[0]  # a particle on a scratch, not two particles
        assert s.path.parent.name == first
    again = generate(tmp_path / "again", per_class=3, seed=4, multi=0.5, size=64)
    assert again.read_text().replace(str(tmp_path / "again"), "") == manifest.read_text().replace(
        str(tmp_path / "multi"), "")  # deterministic
    plain = generate(tmp_path / "plain", per_class=3, seed=4, size=64)
    assert ";" not in plain.read_text()
    single = next(s for s in samples if not s.extra_labels)  # a one-defect sample is drawn as without --multi
    assert single.path.read_bytes() == (tmp_path / "plain" / single.path.relative_to(tmp_path / "multi")).read_bytes()


def test_a_second_defect_is_drawn_beside_the_first_and_kept_inside_the_frame():
    from dataclasses import replace

    from models.data.synth.canvas import sample_pattern
    from models.data.synth.defect import Pair
    from models.data.synth.optics import sample_optics
    from models.data.synth.registry import make_defect
    from models.data.synth.scene import Scene, field_of_view, render_view

    def defect(kind, seed):
        return make_defect(kind, np.random.default_rng(seed), difficulty=0.3)

    pattern = sample_pattern(np.random.default_rng(1), "stripes")
    optics = replace(sample_optics(np.random.default_rng(2), 128), offset=(0.0, 0.0))

    def box(d):
        return render_view(Scene("x", pattern, d), optics, magnification=20, size=128)[1]

    s = field_of_view(20) / 128  # micrometres per pixel
    first = box(defect("particle_metal", 3))
    alone = box(defect("particle_organic", 4))
    over = box(Pair(defect("particle_metal", 3), defect("particle_organic", 4)))
    beside = box(Pair(defect("particle_metal", 3), defect("particle_organic", 4), offset=(70.0, 0.0)))
    assert over == (min(first[0], alone[0]), min(first[1], alone[1]), max(first[2], alone[2]),
                    max(first[3], alone[3]))  # one over the other: the union of the two boxes
    assert beside[0] == first[0] and abs(beside[2] - (alone[2] + 70 / s)) <= 2  # the second 70 um to the right
    assert abs(beside[1] - min(first[1], alone[1])) <= 1

    far = Pair(defect("particle_metal", 3), defect("particle_organic", 4), offset=(-500.0, 0.0))
    arr = render_view(Scene("x", pattern, far), optics, magnification=20, size=128)
    ctx_half = field_of_view(20) / 2
    x, y = far.placed(type("View", (), {"size": 128, "s": s, "cx": 0.0, "cy": 0.0})())
    assert abs(x) < ctx_half and y == 0.0 and x != 0.0  # moved back into the frame, not dropped
    assert arr[1][2] - arr[1][0] > first[2] - first[0]  # and drawn


def test_presence_scores_keep_the_tree_and_the_predicted_set_holds_at_least_the_best_leaf(taxonomy):
    rng = np.random.default_rng(0)
    levels = [rng.uniform(0, 1, (5, n)).astype(np.float32) for n in taxonomy.level_sizes]
    scores = presence(levels, taxonomy.leaf_level_index)
    for k, level in enumerate(levels):  # a leaf is never more present than any of its ancestors
        assert (scores <= level[:, taxonomy.leaf_level_index[:, k]] + 1e-6).all()
    labels, values = predicted_set(np.array([0.9, 0.2, 0.6, 0.1]), ["a", "b", "c", "d"])
    assert labels == ("a", "c") and values == pytest.approx((0.9, 0.6))
    assert predicted_set(np.array([0.3, 0.4]), ["a", "b"])[0] == ("b",)  # nothing reaches PRESENT: the best
    assert PRESENT == 0.5


def test_multilabel_metrics_on_known_cases(taxonomy):
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.1]), np.array([1, 0, 1, 0], bool)) == pytest.approx(
        (1 + 2 / 3) / 2)
    assert average_precision(np.array([0.5, 0.5]), np.array([True, False])) == pytest.approx(0.5)  # ties: not kind
    assert average_precision(np.zeros(3), np.zeros(3, bool)) is None
    leaves = taxonomy.leaves
    truth = truth_matrix([["particle_metal", "scratch"], ["fiber"], ["crack"]], leaves)
    scores = np.full((3, len(leaves)), 0.01, np.float32)
    scores[0, [leaves.index("particle_metal"), leaves.index("scratch")]] = (0.9, 0.7)
    scores[1, leaves.index("fiber")] = 0.8
    scores[2, leaves.index("dent")] = 0.9  # wrong leaf, right subgroup (mechanical)
    m = multilabel_metrics(scores, predicted_matrix(scores, multilabel=True), truth, taxonomy)
    assert m["n"] == 3 and m["n_multi"] == 1 and m["subset_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["subset_accuracy_multi"] == 1.0 and m["label_cardinality"] == pytest.approx(4 / 3, abs=1e-4)
    assert m["per_leaf_ap"]["crack"] == pytest.approx(1 / 3, abs=1e-4) and m["per_leaf_ap"]["bubble"] is None
    assert m["hier_precision"] == pytest.approx((1 + 1 + 2 / 3) / 3, abs=1e-4)  # crack vs dent: structural, mechanical right
    single = multilabel_metrics(scores, predicted_matrix(scores, multilabel=False), truth, taxonomy)
    assert single["subset_accuracy"] == pytest.approx(1 / 3, abs=1e-4) and single["predicted_cardinality"] == 1.0


def test_presence_thresholds_are_chosen_per_leaf_on_validation_and_travel_in_the_manifest(taxonomy):
    from models.bundle.manifest import BundleError, BundleManifest
    from models.evaluation.multilabel import choose_thresholds

    rng = np.random.default_rng(0)
    truth = np.zeros((40, 3), bool)
    truth[:, 0] = True  # every image shows leaf a, the best one
    truth[:20, 1] = True  # half show b, whose presence is about 0.3 where shown and 0.1 where not
    truth[:3, 2] = True  # three show c: too few to choose by
    scores = np.column_stack([np.full(40, 0.9), np.where(truth[:, 1], 0.3, 0.1) + rng.uniform(0, 0.02, 40),
                              np.where(truth[:, 2], 0.45, 0.05)]).astype(np.float32)
    chosen, f1 = choose_thresholds(scores, truth, ["a", "b", "c"])
    assert chosen["a"] == 0.5  # any threshold up to 0.9 is as good: the one nearest 0.5
    assert 0.15 <= chosen["b"] <= 0.3 and f1["b"] == [0.0, 1.0]  # 0.5 never named b; its threshold always does
    assert "c" not in chosen
    assert present(scores, np.array([0.5, chosen["b"], 0.5]))[:, 1].tolist() == truth[:, 1].tolist()

    from app.demo import DEMO_MODEL  # a multi-label manifest keeps its thresholds, and refuses wrong ones
    from models.bundle.files import read_bundle_manifest

    demo = read_bundle_manifest(DEMO_MODEL)
    data = demo.to_json()
    data["loss"] = {**data["loss"], "kind": "multilabel"}
    data["multilabel"] = {"thresholds": {"scratch": 0.3}, "n_val": 40, "min_positives": 5, "f1": {},
                          "set_threshold": None, "target_purity": None, "routing": {}}
    loaded = BundleManifest.from_json(data)
    assert loaded.multilabel.thresholds == {"scratch": 0.3} and loaded.to_json()["multilabel"] == data["multilabel"]
    vector = presence_thresholds(loaded)
    assert vector[taxonomy.leaves.index("scratch")] == pytest.approx(0.3) and (np.delete(
        vector, taxonomy.leaves.index("scratch")) == PRESENT).all()
    assert presence_thresholds(demo) is None  # a single-label bundle has none
    data["multilabel"]["thresholds"]["scratch"] = 1.5
    with pytest.raises(BundleError, match=r"multilabel\.thresholds\.scratch"):
        BundleManifest.from_json(data)


def test_the_set_routing_auto_judges_only_confident_sets_at_the_promised_purity():
    from models.calibration.sets import fit_set_threshold

    rng = np.random.default_rng(3)
    n = 3000
    truth = np.zeros((n, 4), bool)
    truth[np.arange(n), rng.integers(0, 2, n)] = True
    truth[: n // 3, 3] = True  # a third show a second defect
    sure = rng.uniform(0, 1, n) < 0.7  # the model is sure of 70 % of the images, and right about all but 1 in 500
    noise = 0.02 * rng.uniform(0, 1, (n, 4))
    scores = np.where(sure[:, None], np.where(truth, 1 - noise, noise), rng.uniform(0.3, 0.7, (n, 4)))
    scores = scores.astype(np.float32)  # unsure: every leaf a coin toss, its set mostly wrong
    wrong = sure & (rng.uniform(0, 1, n) < 0.002)
    scores[wrong, 3] = 1 - scores[wrong, 3]  # a confident miss
    fit, confidence, exact = fit_set_threshold(scores, truth, None, target=0.99, confidence=0.95)
    assert fit.threshold is not None and fit.purity >= 0.99
    auto = confidence >= fit.threshold
    assert 0.6 < auto.mean() <= 0.71 and exact[auto].mean() >= 0.99 and auto[~sure].mean() < 0.02
    assert fit_set_threshold(scores[:50], truth[:50], None, target=0.99, confidence=0.95)[0].threshold is None
    # --ltt-starts reaches the set routing: the budget is split over the starts the 3,000 images allow
    three = fit_set_threshold(scores, truth, None, target=0.99, confidence=0.95, starts=3)[0]
    assert three.starts == 2 and three.threshold is not None and three.purity >= 0.99


def test_multilabel_loss_learns_both_defects_of_an_image(taxonomy):
    torch = pytest.importorskip("torch")
    from models.nn.config import LossConfig
    from models.nn.multilabel import MultiLabelLoss, level_multi_hot

    targets = torch.from_numpy(level_multi_hot(taxonomy, [("particle_metal", "scratch"), ("fiber",), ()]))
    assert targets.shape == (3, sum(taxonomy.level_sizes))
    assert targets[0, :2].tolist() == [1.0, 1.0] and targets[1, :2].tolist() == [1.0, 0.0]
    assert targets[2].sum() == 0  # an unknown image: no known node at all
    loss_fn = MultiLabelLoss(LossConfig(kind="multilabel", label_smoothing=0.0), taxonomy.level_sizes)
    logits = [torch.zeros(3, n, requires_grad=True) for n in taxonomy.level_sizes]
    opt = torch.optim.Adam(logits, lr=0.3)
    for _ in range(200):
        loss, parts = loss_fn(logits, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert parts["total"] < 0.05 and set(parts) == {"total", "level_0", "level_1", "level_2"}
    levels = [torch.sigmoid(z).detach().numpy() for z in logits]
    labels, _ = predicted_set(presence(levels, taxonomy.leaf_level_index)[0], taxonomy.leaves)
    assert set(labels) == {"particle_metal", "scratch"}
    with pytest.raises(ValueError, match="multi-label targets"):
        loss_fn(logits, targets[:, :5])


def test_a_multilabel_bundle_trains_predicts_sets_and_evaluates(tmp_path, taxonomy, capsys):
    pytest.importorskip("torch")
    from conftest import write_image
    from test_train import TINY_SETS

    from models.bundle.files import read_bundle_manifest, write_bundle_manifest
    from models.commands.cli import main as cli_main

    lines = ["path,label,split"]
    leaves = taxonomy.leaves
    for k in range(72):
        first, second = leaves[k % 18], leaves[(k * 7 + 9) % 18]
        label = f"{first};{second}" if k % 3 == 0 and taxonomy.path(first)[0] != taxonomy.path(second)[0] else first
        write_image(tmp_path / "img" / f"{k}.png", size=(24, 24), seed=k)
        lines.append(f"img/{k}.png,{label},{('train', 'train', 'val', 'test')[k % 4]}")
    data = tmp_path / "manifest.csv"
    data.write_text("\n".join(lines) + "\n")
    args = ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--no-progress",
            "--set", "loss.kind=multilabel", "--set", "imbalance=none"]
    for s in TINY_SETS:
        args += ["--set", s]
    assert cli_main(args) == 0
    manifest = read_bundle_manifest(tmp_path / "run")
    assert manifest.is_multilabel and not manifest.fuses_spectra
    assert manifest.multilabel is not None and manifest.multilabel.n_val == 18  # thresholds chosen on validation
    assert "multi-label: presence thresholds chosen on 18 validation images" in capsys.readouterr().out
    threshold = dict(zip(taxonomy.leaves, presence_thresholds(manifest), strict=True))
    assert cli_main(["predict", str(tmp_path / "run"), str(tmp_path / "img" / "0.png"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["labels"][0] == row["leaf"] and len(row["labels"]) == len(row["label_scores"]) >= 1
    assert all(s >= threshold[leaf] for leaf, s in zip(row["labels"][1:], row["label_scores"][1:], strict=True))
    assert row.get("route") is None  # not routed before calibrate
    for bad in (["--target-purity", "1.5"], ["--target-purity", "0"], ["--confidence", "1.5"]):
        assert cli_main(["calibrate", str(tmp_path / "run"), "--data", str(data), *bad]) == 2
        assert "must lie" in capsys.readouterr().err
    assert read_bundle_manifest(tmp_path / "run").multilabel.target_purity is None  # nothing written
    assert cli_main(["calibrate", str(tmp_path / "run"), "--data", str(data)]) == 0  # 18 images cannot show 0.99
    calibrated = read_bundle_manifest(tmp_path / "run").multilabel
    assert calibrated.target_purity == 0.99 and calibrated.set_threshold is None and calibrated.routing["n"] == 18
    assert calibrated.routing["ltt_starts"] == 3  # calibrate's default, as for a single-label bundle
    assert calibrated.thresholds == manifest.multilabel.thresholds  # the presence thresholds stay
    assert json.loads((tmp_path / "run" / "calibration" / "calibration.json").read_text())["n"] == 18
    capsys.readouterr()
    assert cli_main(["predict", str(tmp_path / "run"), str(tmp_path / "img" / "0.png"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["route"] == "rejudge" and row["reasons"] == ["low_confidence"]
    write_bundle_manifest(tmp_path / "run", read_bundle_manifest(tmp_path / "run").replace(
        multilabel=dataclasses.replace(calibrated, set_threshold=0.0)))  # every set confident enough
    assert cli_main(["predict", str(tmp_path / "run"), str(tmp_path / "img" / "0.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["route"] == "auto"
    assert cli_main(["evaluate", str(tmp_path / "run"), "--data", str(data), "--split", "test",
                     "--out", str(tmp_path / "ev")]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["multilabel"]["n"] == 18 and metrics["multilabel"]["n_multi"] >= 1
    assert 0.0 <= metrics["multilabel"]["mean_ap"] <= 1.0
    routing = metrics["multilabel"]["set_routing"]  # threshold 0: every set is auto-judged, right or not
    assert routing["set_threshold"] == 0.0 and routing["auto_coverage"] == 1.0 and routing["auto_known"] == 18
    assert routing["auto_set_purity"] == metrics["multilabel"]["subset_accuracy"]
    capsys.readouterr()  # calibrated again: the count now against before says what the recalibration took away
    assert cli_main(["calibrate", str(tmp_path / "run"), "--data", str(data)]) == 0
    assert ("warning: images auto-judged on these 18: 0 (with the previous set threshold: 18); copy "
            f"{tmp_path / 'run' / 'manifest.json.before-calibrate-'}") in capsys.readouterr().err
    flat = ["train", "--data", str(data), "--out", str(tmp_path / "flat"), "--no-progress",
            "--set", "loss.kind=multilabel", "--set", "network.head=flat"]
    assert cli_main(flat + [a for s in TINY_SETS for a in ("--set", s)]) == 2
    assert "loss.kind multilabel needs per-level heads" in capsys.readouterr().err
