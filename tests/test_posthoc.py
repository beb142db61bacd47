"""``imbalance: posthoc``: tau chosen on validation logits, folded into the leaf classifier, recorded in the bundle."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_train import TINY_SETS, _tiny_dataset

from models.commands.cli import main as cli_main
from models.inference.outputs import combine_levels
from models.nn.config import NetworkConfig
from models.nn.network import build_network
from models.training.posthoc import (
    PRIOR_BACK,
    TAUS,
    TOLERANCE,
    apply_adjustment,
    choose_tau,
    leaf_classifier,
    log_prior,
)


def _flat_case(rng: np.random.Generator, n_head: int, n_tail: int, margin: float) -> tuple[list, np.ndarray]:
    """Two leaves of one group: the head leaf's images are confidently right; the tail leaf's images score the
    head leaf ``margin`` higher than themselves (a model that learned the prior)."""
    head = rng.normal([6.0, 0.0], 0.3, (n_head, 2))
    tail = rng.normal([margin, 0.0], 0.3, (n_tail, 2))
    logits = np.concatenate([head, tail]).astype(np.float32)
    targets = np.array([0] * n_head + [1] * n_tail)
    return [logits[:, :1] * 0, logits], targets  # one-node top level, then the leaves


def test_choose_tau_trades_little_top1_for_the_rare_leaf_and_refuses_a_costly_trade() -> None:
    rng = np.random.default_rng(0)
    index = np.array([[0, 0], [0, 1]])
    levels, targets = _flat_case(rng, 200, 10, margin=2.0)
    choice = choose_tau(levels, targets, [200, 10], index, is_flat=True)
    base, best = choice.row(0.0), choice.row(choice.tau)
    assert [r["tau"] for r in choice.rows] == list(TAUS)
    assert base["never_predicted"] == 1 and base["macro_recall"] == pytest.approx(0.5)
    assert choice.tau > 0 and best["macro_recall"] > 0.9 and best["top1"] >= base["top1"] - TOLERANCE
    assert best["never_predicted"] == 0
    assert "validation top1" in choice.line() and choice.to_json()["value"] == choice.tau

    # the head leaf's images lie close to the boundary: any shift costs more than the tolerance of Top-1
    head = rng.normal([0.2, 0.0], 0.05, (200, 2))
    tail = rng.normal([1.0, 0.0], 0.05, (10, 2))
    logits = np.concatenate([head, tail]).astype(np.float32)
    costly = choose_tau([logits[:, :1] * 0, logits], targets, [200, 10], index, is_flat=True)
    assert costly.tau == 0.0 and all(r["top1"] < costly.row(0.0)["top1"] - TOLERANCE for r in costly.rows[1:])


def test_choose_tau_refuses_empty_validation_and_mismatched_counts() -> None:
    index = np.array([[0, 0], [0, 1]])
    with pytest.raises(ValueError, match="validation images"):
        choose_tau([np.zeros((0, 1)), np.zeros((0, 2))], np.zeros(0), [1, 1], index, is_flat=True)
    with pytest.raises(ValueError, match="3 leaf counts"):
        choose_tau([np.zeros((1, 1)), np.zeros((1, 2))], np.zeros(1), [1, 1, 1], index, is_flat=True)


@pytest.mark.parametrize("head", ["flat", "independent", "shared"])
def test_adjustment_divides_the_leaf_distribution_by_prior_to_the_tau(head, taxonomy) -> None:
    cfg = NetworkConfig(backbone="convnext_tiny", pretrained=False, head=head, head_dim=16,
                        backbone_kwargs={"depths": [1, 1, 1, 1], "dims": [8, 16, 32, 64]})
    model = build_network(cfg, taxonomy, load_pretrained=False).eval()
    counts = [5 * (i + 1) for i in range(len(taxonomy.leaves))]
    x = torch.randn(3, 3, 32, 32)

    def leaf_probs() -> np.ndarray:
        with torch.no_grad():
            levels = [z.numpy().astype(np.float64) for z in model(x).levels]
        if head == "flat":
            e = np.exp(levels[-1] - levels[-1].max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        probs = [np.exp(z - z.max(axis=1, keepdims=True)) for z in levels]
        return combine_levels([p / p.sum(axis=1, keepdims=True) for p in probs], taxonomy.leaf_level_index)

    before = leaf_probs()
    bias = leaf_classifier(model).bias.detach().clone()
    apply_adjustment(model, counts, 0.75)
    after = leaf_probs()
    torch.testing.assert_close(leaf_classifier(model).bias.detach(),
                               bias - torch.tensor(0.75 * log_prior(counts), dtype=bias.dtype))
    want = before / np.exp(log_prior(counts)) ** 0.75
    np.testing.assert_allclose(after, want / want.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)


def _long_tail(tmp_path, taxonomy):
    """The tiny data set with half the leaves cut to one training image (val and test kept)."""
    full = _tiny_dataset(tmp_path / "data", taxonomy, per_class=8)  # 6 train, 1 val, 1 test per leaf
    rare = set(taxonomy.leaves[::2])
    kept, seen = [], set()
    lines = full.read_text().splitlines()
    for line in lines[1:]:
        label, split = line.split(",")[1:3]
        if split == "train" and label in rare and label in seen:
            continue
        seen.add(label)
        kept.append(line)
    data = full.with_name("longtail.csv")
    data.write_text("\n".join([lines[0], *kept]) + "\n")
    return data


def train_long_tail(tmp_path, taxonomy, imbalance: str):
    """``fma-model train`` of the tiny model on :func:`_long_tail`'s data; returns (data, bundle folder)."""
    data = _long_tail(tmp_path, taxonomy)
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--no-progress"]
    for s in [*TINY_SETS, "epochs=1", "max_steps_per_epoch=2", f"imbalance={imbalance}"]:
        args += ["--set", s]
    assert cli_main(args) == 0
    return data, out


def test_train_posthoc_folds_the_chosen_tau_into_the_bundle(tmp_path, taxonomy, capsys) -> None:
    _data, out = train_long_tail(tmp_path, taxonomy, "posthoc")
    log = capsys.readouterr().out
    assert "imbalance posthoc: leaf logits -" in log and "validation top1" in log
    train = json.loads((out / "manifest.json").read_text())["train"]
    record = train["data_choices"]["imbalance_posthoc"]
    assert record["value"] in TAUS and [r["tau"] for r in record["validation"]] == list(TAUS)
    counts = [6 if leaf not in set(taxonomy.leaves[::2]) else 1 for leaf in taxonomy.leaves]
    name = next(k for k in load_file(out / "weights.safetensors") if k.startswith("head.") and k.endswith(".bias")
                and load_file(out / "weights.safetensors")[k].shape[0] == len(taxonomy.leaves))
    saved = load_file(out / "weights.safetensors")[name].float()
    best = load_file(out / "checkpoint" / "best.safetensors")[name].float()
    torch.testing.assert_close(saved, best - torch.tensor(record["value"] * log_prior(counts), dtype=torch.float32),
                               rtol=0, atol=2e-3)  # the bundle may keep its weights in half precision


def test_train_balanced_softmax_gives_back_the_share_of_the_prior_chosen_on_validation(tmp_path, taxonomy,
                                                                                      capsys) -> None:
    """balanced_softmax learns balanced leaf logits; as for crt, part of the prior is given back, chosen on the
    validation images by choose_prior_back's rule, and folded into the leaf classifier's bias."""
    _data, out = train_long_tail(tmp_path, taxonomy, "balanced_softmax")
    log = capsys.readouterr().out
    assert "imbalance balanced_softmax:" in log and "of the leaf log prior given back" in log
    record = json.loads((out / "manifest.json").read_text())["train"]["data_choices"]["imbalance_balanced_softmax"]
    rows = record["validation"]
    assert [r["tau"] for r in rows] == list(PRIOR_BACK) and record["value"] in PRIOR_BACK
    fair = [r for r in rows if r["never_predicted"] <= rows[0]["never_predicted"]
            and r["macro_recall"] >= rows[0]["macro_recall"] - TOLERANCE - 1e-9]
    assert record["value"] == max(fair, key=lambda r: (r["top1"], -r["tau"]))["tau"]
    counts = [6 if leaf not in set(taxonomy.leaves[::2]) else 1 for leaf in taxonomy.leaves]
    weights = load_file(out / "weights.safetensors")
    name = next(k for k in weights if k.startswith("head.") and k.endswith(".bias")
                and weights[k].shape[0] == len(taxonomy.leaves))
    best = load_file(out / "checkpoint" / "best.safetensors")[name].float()
    torch.testing.assert_close(weights[name].float(), best + torch.tensor(record["value"] * log_prior(counts),
                                                                          dtype=torch.float32), rtol=0, atol=2e-3)


def test_train_posthoc_without_validation_images_says_so(tmp_path, taxonomy, capsys) -> None:
    full = _tiny_dataset(tmp_path / "data", taxonomy, per_class=4)
    lines = full.read_text().splitlines()
    data = full.with_name("noval.csv")
    data.write_text("\n".join([lines[0], *(ln for ln in lines[1:] if ",val," not in ln)]) + "\n")
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--no-progress"]
    for s in [*TINY_SETS, "epochs=1", "max_steps_per_epoch=1", "imbalance=posthoc"]:
        args += ["--set", s]
    assert cli_main(args) == 0
    out_text = capsys.readouterr().out
    assert "imbalance posthoc: no validation images, so no adjustment (tau 0)" in out_text
    # the run says what a lead loses without them (an 11-image export was trained on without a word)
    assert "warning: no validation images: the epoch kept is the one of the lowest training loss" in out_text
    record = json.loads((out / "manifest.json").read_text())["train"]["data_choices"]["imbalance_posthoc"]
    assert record["value"] == 0.0
