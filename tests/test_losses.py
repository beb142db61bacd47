"""Tests for models.nn.losses: flat / layer / hierarchical losses and level-weight schedules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.nn.config import LossConfig
from models.nn.losses import BCNN_FOCUS, HierarchicalLoss, base_level_weights, level_weights_at
from models.taxonomy import Taxonomy

DEMO = Path(__file__).resolve().parents[1] / "resources" / "taxonomy" / "fma_demo.yaml"


def _unsmoothed(**kw) -> LossConfig:
    """A loss config without label smoothing (the default is 0.1), of the hierarchical kind with equal level weights
    (the defaults before 2026-12-06): the formulas below are the plain ones."""
    return LossConfig(**{"label_smoothing": 0.0, "kind": "hierarchical", "level_weights": "equal", **kw})


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.from_yaml(DEMO)


def _targets(tax: Taxonomy, leaves: list[str]) -> torch.Tensor:
    return torch.as_tensor(np.stack([tax.level_indices(leaf) for leaf in leaves]), dtype=torch.long)


def _confident(tax: Taxonomy, rows: list[list[int]], scale: float = 4.0) -> list[torch.Tensor]:
    """Per-level logits whose argmax is rows[i][k] at level k (plus a little noise)."""
    gen = torch.Generator().manual_seed(0)
    levels = []
    for k, size in enumerate(tax.level_sizes):
        logits = 0.1 * torch.randn(len(rows), size, generator=gen)
        for i, row in enumerate(rows):
            logits[i, row[k]] += scale
        levels.append(logits.requires_grad_(True))
    return levels


def _grads(
    loss_fn: HierarchicalLoss, levels: list[torch.Tensor], targets: torch.Tensor
) -> list[torch.Tensor]:
    total, _ = loss_fn(levels, targets)
    return list(torch.autograd.grad(total, levels))


def _inconsistent_batch(tax: Taxonomy) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Sample 0: correct and consistent. Sample 1: true 'scratch', predicted structural/mechanical but leaf
    'lc_stain' (a residue leaf): leaf wrong and not a child of the predicted subgroup."""
    targets = _targets(tax, ["particle_metal", "scratch"])
    good = tax.level_indices("particle_metal")
    bad = tax.level_indices("scratch")[:2] + [tax.level_indices("lc_stain")[2]]
    return _confident(tax, [good, bad]), targets


# ------------------------------------------------------------------------------------------ config


def test_config_round_trip_and_unknown_keys() -> None:
    cfg = _unsmoothed(kind="layer", level_weights=[1, 2, 3], schedule="bcnn", label_smoothing=0.1)
    assert LossConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.level_weights == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="bogus"):
        LossConfig.from_dict({"kind": "layer", "bogus": 1})
    with pytest.raises(ValueError, match="kind"):
        LossConfig(kind="focal")
    with pytest.raises(ValueError, match="schedule"):
        LossConfig(schedule="cosine")
    with pytest.raises(ValueError, match="dependence_mode"):
        LossConfig(dependence_mode="argmax")
    with pytest.raises(ValueError, match="label_smoothing"):
        LossConfig(label_smoothing=1.0)
    with pytest.raises(ValueError, match="level_weights"):
        LossConfig(level_weights=[-1.0, 1.0])


def test_level_weight_count_must_match(tax: Taxonomy) -> None:
    with pytest.raises(ValueError, match="2 entries for 3 levels"):
        HierarchicalLoss(_unsmoothed(level_weights=[1.0, 1.0]), tax.masks)


def test_bad_shapes_refused(tax: Taxonomy) -> None:
    loss_fn = HierarchicalLoss(_unsmoothed(), tax.masks)
    levels, targets = _inconsistent_batch(tax)
    with pytest.raises(ValueError, match="targets"):
        loss_fn(levels, targets[:, :2])
    with pytest.raises(ValueError, match="levels"):
        loss_fn(levels[:2], targets)
    with pytest.raises(ValueError, match="level 1"):
        loss_fn([levels[0], levels[0], levels[2]], targets)
    with pytest.raises(ValueError, match="sample_weight"):
        loss_fn(levels, targets, sample_weight=torch.tensor([1.0, -1.0]))


# ---------------------------------------------------------------------------------- flat / layer


def test_flat_loss_depends_on_leaf_level_only(tax: Taxonomy) -> None:
    levels, targets = _inconsistent_batch(tax)
    loss_fn = HierarchicalLoss(_unsmoothed(kind="flat"), tax.masks)
    total, parts = loss_fn(levels, targets)
    torch.testing.assert_close(total, F.cross_entropy(levels[2], targets[:, 2]))
    grads = torch.autograd.grad(total, levels, allow_unused=True)
    assert grads[0] is None and grads[1] is None
    assert grads[2].abs().sum() > 0
    changed = [torch.randn_like(levels[0]), torch.randn_like(levels[1]), levels[2]]
    torch.testing.assert_close(loss_fn(changed, targets)[0], total)
    assert parts["dependence"] == 0.0


def test_layer_loss_is_weighted_sum_of_level_ce(tax: Taxonomy) -> None:
    levels, targets = _inconsistent_batch(tax)
    weights = [0.5, 0.25, 2.0]
    total, parts = HierarchicalLoss(_unsmoothed(kind="layer", level_weights=weights), tax.masks)(
        levels, targets
    )
    ces = [F.cross_entropy(out, targets[:, k]) for k, out in enumerate(levels)]
    torch.testing.assert_close(total, sum(w * c for w, c in zip(weights, ces, strict=True)))
    for k, ce in enumerate(ces):
        assert parts[f"level_{k}"] == pytest.approx(ce.item(), rel=1e-6)
    assert parts["layer"] == pytest.approx(total.item(), rel=1e-6)


def test_the_default_loss_is_the_layer_loss_with_the_leaf_weighted(tax: Taxonomy) -> None:
    """Since 2026-12-06 (README, "The three synthetic regimes"): the layer loss, the leaf's weight 1 and each level
    above it 0.25; ``equal`` is the third each of before; the multi-label loss keeps equal weights by default."""
    assert LossConfig().kind == "layer"
    assert level_weights_at(LossConfig(), 3, 0, 10) == pytest.approx([0.25, 0.25, 1.0])
    assert level_weights_at(LossConfig(), 2, 0, 10) == pytest.approx([0.25, 1.0])
    assert level_weights_at(LossConfig(level_weights="equal"), 3, 0, 10) == pytest.approx([1 / 3] * 3)
    assert base_level_weights(LossConfig(kind="multilabel"), 3) == pytest.approx([1 / 3] * 3)
    assert base_level_weights(LossConfig(level_weights=[1, 2, 3]), 3) == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="'leaf' or 'equal'"):
        LossConfig(level_weights="leafy")
    levels, targets = _inconsistent_batch(tax)
    total, _ = HierarchicalLoss(LossConfig(label_smoothing=0.0), tax.masks)(levels, targets)
    ce = [F.cross_entropy(out, targets[:, k]) for k, out in enumerate(levels)]
    torch.testing.assert_close(total, 0.25 * ce[0] + 0.25 * ce[1] + ce[2])


def test_label_smoothing_changes_value(tax: Taxonomy) -> None:
    levels, targets = _inconsistent_batch(tax)
    plain, _ = HierarchicalLoss(_unsmoothed(kind="layer"), tax.masks)(levels, targets)
    smooth, _ = HierarchicalLoss(_unsmoothed(kind="layer", label_smoothing=0.2), tax.masks)(levels, targets)
    assert not torch.isclose(plain, smooth)
    expected = sum(
        F.cross_entropy(out, targets[:, k], label_smoothing=0.2) for k, out in enumerate(levels)
    ) / len(levels)
    torch.testing.assert_close(smooth, expected)


def test_sample_weight(tax: Taxonomy) -> None:
    levels, targets = _inconsistent_batch(tax)
    for kind in ("flat", "layer", "hierarchical"):
        loss_fn = HierarchicalLoss(_unsmoothed(kind=kind), tax.masks)
        plain, _ = loss_fn(levels, targets)
        uniform, _ = loss_fn(levels, targets, sample_weight=torch.tensor([3.0, 3.0]))
        torch.testing.assert_close(uniform, plain)
        only_second, _ = loss_fn(levels, targets, sample_weight=torch.tensor([0.0, 1.0]))
        alone, _ = loss_fn([out[1:] for out in levels], targets[1:])
        torch.testing.assert_close(only_second, alone)
        assert not torch.isclose(only_second, plain)


# -------------------------------------------------------------------------------- dependence loss


def test_penalty_values_follow_gao(tax: Taxonomy) -> None:
    """pen = p^(D*prev_wrong) * p^(D*curr_wrong) - 1, with p = 3."""
    scratch = tax.level_indices("scratch")
    stain_leaf = tax.level_indices("lc_stain")[2]
    rows = [
        tax.level_indices("particle_metal"),  # consistent, correct
        tax.level_indices("crack"),  # consistent but wrong leaf (sibling): D = 0
        scratch[:2] + [stain_leaf],  # inconsistent, leaf wrong: 3 - 1
        # subgroup and leaf wrong, D at l=2: 9 - 1
        scratch[:1] + [tax.level_indices("bubble")[1], stain_leaf],
    ]
    targets = _targets(tax, ["particle_metal", "scratch", "scratch", "scratch"])
    loss_fn = HierarchicalLoss(_unsmoothed(dependence_penalty=3.0), tax.masks)
    pens = loss_fn.penalties(_confident(tax, rows), targets)
    assert pens[0].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert pens[1].tolist() == [0.0, 0.0, 0.0, 0.0]  # level 1 predictions are children of level 0's
    assert pens[2].tolist() == [0.0, 0.0, 2.0, 8.0]
    assert not any(p.requires_grad for p in pens)


@pytest.mark.parametrize("mode", ["reweight", "soft"])
def test_consistent_and_correct_gives_layer_loss(tax: Taxonomy, mode: str) -> None:
    rows = [tax.level_indices(leaf) for leaf in ("particle_metal", "scratch", "ito_peeling")]
    levels = _confident(tax, rows)
    targets = _targets(tax, ["particle_metal", "scratch", "ito_peeling"])
    layer_fn = HierarchicalLoss(_unsmoothed(kind="layer"), tax.masks)
    hier_fn = HierarchicalLoss(_unsmoothed(kind="hierarchical", dependence_mode=mode), tax.masks)
    _, parts = hier_fn(levels, targets)
    assert parts["dependence"] == 0.0
    assert parts["dependence_raw"] == 0.0
    for g_layer, g_hier in zip(
        _grads(layer_fn, levels, targets), _grads(hier_fn, levels, targets), strict=True
    ):
        assert torch.equal(g_layer, g_hier)


@pytest.mark.parametrize("mode", ["reweight", "soft"])
def test_inconsistent_predictions_change_the_gradient(tax: Taxonomy, mode: str) -> None:
    levels, targets = _inconsistent_batch(tax)
    layer_fn = HierarchicalLoss(_unsmoothed(kind="layer"), tax.masks)
    hier_fn = HierarchicalLoss(_unsmoothed(kind="hierarchical", dependence_mode=mode), tax.masks)
    layer_total, _ = layer_fn(levels, targets)
    hier_total, parts = hier_fn(levels, targets)
    assert parts["dependence"] > 0
    assert parts["dependence_raw"] == pytest.approx(0.5)  # p - 1 = 1 for one of two samples
    assert hier_total.item() == pytest.approx(layer_total.item() + parts["dependence"], rel=1e-6)
    g_layer = _grads(layer_fn, levels, targets)
    g_hier = _grads(hier_fn, levels, targets)
    assert not torch.allclose(g_layer[2], g_hier[2])
    # Sample 0 is consistent and correct: its gradient is untouched.
    for a, b in zip(g_layer, g_hier, strict=True):
        assert torch.equal(a[0], b[0])


def test_reweight_value(tax: Taxonomy) -> None:
    levels, targets = _inconsistent_batch(tax)
    beta, p = 0.5, 2.0
    cfg = _unsmoothed(dependence_weight=beta, dependence_penalty=p)
    total, _ = HierarchicalLoss(cfg, tax.masks)(levels, targets)
    ce = [F.cross_entropy(out, targets[:, k], reduction="none") for k, out in enumerate(levels)]
    factor = torch.tensor([1.0, 1.0 + beta * (p - 1.0)])  # only sample 1, level 2 is penalised
    expected = (ce[0].mean() + ce[1].mean() + (ce[2] * factor).mean()) / 3
    torch.testing.assert_close(total, expected)


def test_soft_value_and_gradient(tax: Taxonomy) -> None:
    levels, targets = _inconsistent_batch(tax)
    beta = 0.7
    cfg = _unsmoothed(dependence_mode="soft", dependence_weight=beta)
    total, parts = HierarchicalLoss(cfg, tax.masks)(levels, targets)
    # Sample 1: level-2 mass inside the children of the predicted subgroup (mechanical).
    mechanical = tax.level_indices("scratch")[1]
    children = torch.as_tensor(tax.masks[1][mechanical])
    mass = F.softmax(levels[2][1], dim=-1)[children].sum()
    expected_dep = beta * (-torch.log(mass)) * 1.0 / 2  # pen = 1 for sample 1, 0 for sample 0; batch mean
    assert parts["dependence"] == pytest.approx(expected_dep.item(), rel=1e-5)
    layer_total, _ = HierarchicalLoss(_unsmoothed(kind="layer"), tax.masks)(levels, targets)
    torch.testing.assert_close(total, layer_total + expected_dep)
    # The extra gradient pushes level-2 mass of sample 1 towards the predicted subgroup's children.
    g_soft = torch.autograd.grad(total, levels[2])[0]
    g_layer = torch.autograd.grad(layer_total, levels[2])[0]
    extra = g_soft[1] - g_layer[1]
    assert (extra[children] < 0).all() and (extra[~children] > 0).all()


def test_dependence_weight_zero_equals_layer(tax: Taxonomy) -> None:
    levels, targets = _inconsistent_batch(tax)
    layer, _ = HierarchicalLoss(_unsmoothed(kind="layer"), tax.masks)(levels, targets)
    hier, parts = HierarchicalLoss(_unsmoothed(dependence_weight=0.0), tax.masks)(levels, targets)
    torch.testing.assert_close(hier, layer)
    assert parts["dependence_raw"] > 0  # still reported for monitoring


# -------------------------------------------------------------------------------------- schedules


def test_bcnn_schedule_moves_weight_from_coarse_to_fine() -> None:
    cfg = _unsmoothed(schedule="bcnn")
    other = (1 - BCNN_FOCUS) / 2
    phases = [[BCNN_FOCUS, other, other], [other, BCNN_FOCUS, other], [other, other, BCNN_FOCUS]]
    for epoch in range(9):
        weights = level_weights_at(cfg, 3, epoch, 9)
        assert weights == pytest.approx(phases[epoch // 3])
        assert sum(weights) == pytest.approx(1.0)
    early, late = level_weights_at(cfg, 3, 0, 10), level_weights_at(cfg, 3, 9, 10)
    assert early[0] > early[2] and late[2] > late[0]
    assert level_weights_at(cfg, 3, 50, 10) == pytest.approx(phases[2])  # past the end: last phase
    assert level_weights_at(cfg, 3, 0, 1) == pytest.approx(phases[0])


def test_bcnn_schedule_keeps_base_weight_sum() -> None:
    cfg = _unsmoothed(schedule="bcnn", level_weights=[1.0, 1.0, 2.0])
    for epoch in range(6):
        weights = level_weights_at(cfg, 3, epoch, 6)
        assert sum(weights) == pytest.approx(4.0)
    # Phase 0: raw = [0.8, 0.1, 0.2] -> scaled to sum 4.
    assert level_weights_at(cfg, 3, 0, 6) == pytest.approx([0.8 * 4 / 1.1, 0.1 * 4 / 1.1, 0.2 * 4 / 1.1])
    assert level_weights_at(LossConfig(level_weights=[1.0, 1.0, 2.0]), 3, 3, 6) == [1.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="epoch"):
        level_weights_at(cfg, 3, -1, 6)


def test_bcnn_schedule_is_used_by_the_loss(tax: Taxonomy) -> None:
    levels, targets = _inconsistent_batch(tax)
    loss_fn = HierarchicalLoss(_unsmoothed(kind="layer", schedule="bcnn"), tax.masks)
    ces = [F.cross_entropy(out, targets[:, k]) for k, out in enumerate(levels)]
    for epoch in (0, 4, 9):
        total, _ = loss_fn(levels, targets, epoch=epoch, total_epochs=10)
        weights = level_weights_at(loss_fn.config, 3, epoch, 10)
        torch.testing.assert_close(total, sum(w * c for w, c in zip(weights, ces, strict=True)))


# ------------------------------------------------------------------------------ outlier exposure
def _random_levels(tax: Taxonomy, batch: int, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, n, generator=gen, requires_grad=True) for n in tax.level_sizes]


def test_outlier_term_is_kl_from_uniform(tax: Taxonomy) -> None:
    loss = HierarchicalLoss(_unsmoothed(outlier_weight=1.0), tax.masks)
    uniform = [torch.full((3, n), 2.5) for n in tax.level_sizes]
    assert float(loss.outlier_term(uniform)) == pytest.approx(0.0, abs=1e-6)
    levels = [z.detach() for z in _random_levels(tax, 4)]
    expected = np.mean([
        np.mean([F.kl_div(F.log_softmax(z[i], -1), torch.full((z.shape[1],), 1 / z.shape[1]), reduction="sum").item()
                 for z in levels])
        for i in range(4)
    ])
    assert float(loss.outlier_term(levels)) == pytest.approx(expected, rel=1e-5)
    peaked = [torch.zeros(1, n).index_fill_(1, torch.tensor([0]), 8.0) for n in tax.level_sizes]
    assert float(loss.outlier_term(peaked)) > float(loss.outlier_term(levels)) > 0


def test_mixed_batch_is_known_loss_plus_weighted_outlier_term(tax: Taxonomy) -> None:
    known_leaves = ["scratch", "fiber", "bubble"]
    levels = _random_levels(tax, 5, seed=1)
    targets = torch.cat([_targets(tax, known_leaves), torch.full((2, len(tax.level_sizes)), -1)])
    loss = HierarchicalLoss(_unsmoothed(outlier_weight=0.5), tax.masks)
    total, parts = loss(levels, targets)
    known_total, _ = loss([z[:3] for z in levels], targets[:3])
    term = loss.outlier_term([z[3:] for z in levels])
    assert float(total.detach()) == pytest.approx(float(known_total.detach()) + 0.5 * float(term.detach()), rel=1e-6)
    assert parts["outlier"] == pytest.approx(float(term.detach()), rel=1e-6)
    total.backward()
    # the outlier images get a gradient (towards a flat output), not a class
    assert all(float(z.grad[3:].abs().sum()) > 0 for z in levels)
    # a batch of outliers only has just the outlier term
    only, parts = loss([z[3:] for z in levels], targets[3:])
    assert float(only.detach()) == pytest.approx(0.5 * float(term.detach()), rel=1e-6) and parts["layer"] == 0.0


def test_outlier_rows_need_a_weight_and_all_levels_at_minus_one(tax: Taxonomy) -> None:
    levels = _random_levels(tax, 2)
    targets = torch.cat([_targets(tax, ["scratch"]), torch.full((1, len(tax.level_sizes)), -1)])
    with pytest.raises(ValueError, match="outlier_weight"):
        HierarchicalLoss(_unsmoothed(), tax.masks)(levels, targets)
    half_row = torch.stack([targets[0], torch.tensor([-1] + [0] * (len(tax.level_sizes) - 1))])
    with pytest.raises(ValueError, match="every level"):
        HierarchicalLoss(_unsmoothed(outlier_weight=1.0), tax.masks)(levels, half_row)
    with pytest.raises(ValueError, match="outlier_weight"):
        LossConfig(outlier_weight=-0.1)
