"""``imbalance: crt``: the leaf classifier learned again on frozen features with every leaf equally often."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_posthoc import _long_tail, train_long_tail
from test_train import TINY_SETS

from models.commands.cli import main as cli_main
from models.training.crt import BATCH, EPOCHS, retrain_leaf_classifier
from models.training.posthoc import PRIOR_BACK, choose_prior_back


def _overlapping(rng: np.random.Generator, n_head: int, n_tail: int) -> tuple[np.ndarray, np.ndarray]:
    """Two leaves whose features overlap: the tail leaf's cloud sits one standard deviation from the head's."""
    x = np.concatenate([rng.normal([0.0, 0.0], 1.0, (n_head, 2)), rng.normal([1.5, 0.0], 1.0, (n_tail, 2))])
    return x.astype(np.float32), np.array([0] * n_head + [1] * n_tail)


def _recall(weight: torch.Tensor, bias: torch.Tensor, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    pred = (torch.as_tensor(x) @ weight.T + bias).argmax(1).numpy()
    return np.array([(pred[y == k] == k).mean() for k in (0, 1)])


def test_balanced_retraining_learns_the_rare_leaf_a_plain_fit_never_predicts() -> None:
    rng = np.random.default_rng(0)
    x, y = _overlapping(rng, 600, 12)
    test_x, test_y = _overlapping(rng, 500, 500)  # every leaf equally often

    plain = torch.nn.Linear(2, 2)  # the same features fitted on the data as it is (instance sampling)
    opt = torch.optim.SGD(plain.parameters(), lr=0.1)
    for _ in range(500):
        loss = torch.nn.functional.cross_entropy(plain(torch.as_tensor(x)), torch.as_tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert _recall(plain.weight.detach(), plain.bias.detach(), test_x, test_y)[1] < 0.05

    weight, bias, steps = retrain_leaf_classifier(x, y, 2, seed=0)
    recall = _recall(weight, bias, test_x, test_y)
    assert recall[1] > 0.6 and recall[0] > 0.6 and recall.mean() > 0.7
    assert steps == EPOCHS * -(-len(y) // BATCH) and weight.shape == (2, 2) and bias.shape == (2,)
    again = retrain_leaf_classifier(x, y, 2, seed=0)
    torch.testing.assert_close(again[0], weight, rtol=0, atol=0)  # the run's seed makes it repeatable
    with pytest.raises(ValueError, match="needs training images"):
        retrain_leaf_classifier(x[:0], y[:0], 2, seed=0)


def test_retraining_keeps_outlier_exposure_at_the_leaf_level() -> None:
    """An unknown image's features, trained towards a flat output, stay less confident than without them."""
    rng = np.random.default_rng(1)
    x, y = _overlapping(rng, 300, 60)
    outliers = rng.normal([4.0, 3.0], 0.5, (80, 2)).astype(np.float32)  # far from both leaves: confident unless told

    def confidence(weight, bias):
        return torch.softmax(torch.as_tensor(outliers) @ weight.T + bias, dim=1).max(dim=1).values.mean().item()

    plain = retrain_leaf_classifier(x, y, 2, seed=0)
    exposed = retrain_leaf_classifier(x, y, 2, seed=0, outliers=outliers, outlier_weight=0.5)
    assert confidence(*exposed[:2]) < confidence(*plain[:2]) - 0.1
    ignored = retrain_leaf_classifier(x, y, 2, seed=0, outliers=outliers, outlier_weight=0.0)
    torch.testing.assert_close(ignored[0], plain[0], rtol=0, atol=0)


def test_train_crt_replaces_only_the_leaf_classifier_and_records_it(tmp_path, taxonomy, capsys) -> None:
    data, out = train_long_tail(tmp_path, taxonomy, "crt")
    log = capsys.readouterr().out
    assert "imbalance crt: leaf classifier re-trained on the features of" in log and "validation top1" in log
    record = json.loads((out / "manifest.json").read_text())["train"]["data_choices"]["imbalance_crt"]
    assert record["value"] == "crt" and record["epochs"] == EPOCHS and record["images"] > 0
    assert set(record["validation"]) == {"before", "after"}
    assert record["prior_back"]["tau"] in PRIOR_BACK and len(record["prior_back"]["validation"]) == len(PRIOR_BACK)
    assert f"then {record['prior_back']['tau']:g} of the log prior given back" in log
    saved, best = load_file(out / "weights.safetensors"), load_file(out / "checkpoint" / "best.safetensors")
    leaves = len(taxonomy.leaves)
    leaf_keys = {k for k, v in saved.items() if k.startswith("head.") and v.shape[0] == leaves}
    assert leaf_keys  # the leaf classifier's weight and bias
    for key in leaf_keys:
        assert not torch.allclose(saved[key].float(), best[key].float(), atol=1e-2)
    for key in set(saved) - leaf_keys:  # the backbone and the other levels' classifiers as training left them
        torch.testing.assert_close(saved[key].float(), best[key].float(), rtol=0, atol=2e-3)
    assert cli_main(["evaluate", str(out), "--data", str(data), "--split", "test", "--out", str(tmp_path / "ev")]) == 0


def test_crt_is_refused_for_multilabel_sigmoid_heads(tmp_path, taxonomy, capsys) -> None:
    data = _long_tail(tmp_path, taxonomy)
    args = ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--no-progress"]
    for s in [*TINY_SETS, "epochs=1", "loss.kind=multilabel", "imbalance=crt"]:
        args += ["--set", s]
    assert cli_main(args) != 0
    assert "loss.kind multilabel needs per-level heads" in capsys.readouterr().err


def test_auto_picks_posthoc_crt_for_flat_heads_or_without_validation_and_balanced_sampling_for_multilabel(tmp_path, taxonomy) -> None:
    from models.training.config import TrainConfig
    from models.training.data import load_training_data
    from models.training.inspection import AUTO_IMBALANCE_MULTILABEL, choose_settings, profile_data

    data = _long_tail(tmp_path, taxonomy)
    cfg = TrainConfig()
    profile = profile_data(load_training_data(cfg, [data], taxonomy, lambda _m: None).train, taxonomy)
    chosen, choices = choose_settings(cfg, profile)
    assert chosen.imbalance == "posthoc"
    assert next(c for c in choices if c.key == "imbalance").line().endswith("-> imbalance posthoc")
    chosen, choices = choose_settings(cfg, profile, validation=False)
    assert chosen.imbalance == "crt"
    assert next(c for c in choices if c.key == "imbalance").line().endswith("no validation images -> imbalance crt")
    flat = dataclasses.replace(cfg, network=dataclasses.replace(cfg.network, head="flat"))
    chosen, choices = choose_settings(flat, profile)
    assert chosen.imbalance == "crt"
    assert next(c for c in choices if c.key == "imbalance").line().endswith("flat head -> imbalance crt")
    missing = dataclasses.replace(profile, leaf_counts=(0, *profile.leaf_counts[1:]))  # a leaf without images
    assert choose_settings(flat, missing)[0].imbalance == "posthoc"
    chosen, choices = choose_settings(cfg, missing, validation=False)  # fine-tuning on data that lack a leaf
    assert chosen.imbalance == "balanced_sampling"
    assert next(c for c in choices if c.key == "imbalance").line().endswith(
        "no validation images, leaves without training images -> imbalance balanced_sampling")
    multi = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, kind="multilabel"))
    chosen, choices = choose_settings(multi, profile)
    assert chosen.imbalance == AUTO_IMBALANCE_MULTILABEL == "balanced_sampling"
    assert "multi-label sigmoid heads" in next(c for c in choices if c.key == "imbalance").line()


def test_prior_back_takes_the_best_top1_that_predicts_every_leaf_it_did() -> None:
    """Three leaves (100, 10, 10 training images), flat. The balanced classifier puts the head leaf's validation
    images just behind leaf 1 (by 0.5); giving back 0.25 of the log prior (+0.58 for the head) fixes them; 0.5
    (+1.15) also takes leaf 2's images, 1.0 ahead of the head, so leaf 2 is never predicted: refused."""
    head = [[0.0, 0.5, -5.0]] * 8
    one = [[0.0, 3.0, -5.0]] * 2
    two = [[0.0, -5.0, 1.0]] * 2
    logits = np.array(head + one + two)
    targets = np.array([0] * 8 + [1] * 2 + [2] * 2)
    choice = choose_prior_back([logits], targets, [100, 10, 10], np.zeros(3, dtype=np.int64), is_flat=True)
    assert choice.tau == 0.25
    assert [r["tau"] for r in choice.rows] == list(PRIOR_BACK)
    assert choice.row(0.25)["top1"] == 1.0 and choice.row(0.0)["top1"] == pytest.approx(4 / 12)
    assert choice.row(0.5)["never_predicted"] == 1
    assert all(not str(r["tau"]).startswith("-") for r in choice.rows)
    # Two head leaves (0 and 3, 100 images) whose images but one each sit 1.0 behind leaf 1, and leaf 2's image
    # 1.0 ahead of leaf 0: giving back 0.5 fixes the heads (Top-1 and macro recall up) and loses leaf 2: refused
    # for the leaf never predicted alone.
    rows = ([[0.5, 0.0, -5.0, -5.0]] + [[0.0, 1.0, -5.0, -5.0]] * 9 + [[-5.0, 0.0, -5.0, 0.5]]
            + [[-5.0, 1.0, -5.0, 0.0]] * 9 + [[-5.0, 3.0, -5.0, -5.0], [0.0, -5.0, 1.0, -5.0]])
    four = np.array([0] * 10 + [3] * 10 + [1, 2])
    lost = choose_prior_back([np.array(rows)], four, [100, 10, 10, 100], np.zeros(4, dtype=np.int64), is_flat=True)
    assert lost.row(0.5)["never_predicted"] == 1 and lost.row(0.0)["never_predicted"] == 0
    assert lost.row(0.5)["top1"] > lost.row(0.0)["top1"]
    assert lost.row(0.5)["macro_recall"] > lost.row(0.0)["macro_recall"]
    assert lost.tau == 0.0
    # nothing to gain: tau 0 stays
    fine = np.array([[3.0, 0.0, 0.0]] * 8 + [[0.0, 3.0, 0.0]] * 2 + [[0.0, 0.0, 3.0]] * 2)
    assert choose_prior_back([fine], targets, [100, 10, 10], np.zeros(3, dtype=np.int64), is_flat=True).tau == 0.0
