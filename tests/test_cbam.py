"""CBAM placements (issue #15): in every ResNet block, or after every stage of any timm CNN; the combined heatmap."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import timm
import torch
from conftest import make_tiny_bundle
from safetensors.torch import save_file

from models.bundle.io import load_bundle
from models.inference import engine as eng
from models.inference.engine import build_engine
from models.nn import network as network_module
from models.nn.cbam import CBAM, StageHook, cbam_modules, combine_cbam_maps, feature_stages
from models.nn.config import NetworkConfig
from models.nn.network import build_network
from models.taxonomy import Taxonomy
from models.training.grid import backbone_overrides

HAS_ORT = eng.unavailable_reason("onnx") is None
SIDE = 64

TINY_CONVNEXT = {"depths": [1, 1, 1, 1], "dims": [16, 32, 64, 128]}
# name -> (backbone, backbone_kwargs, cbam, expected number of CBAMs)
CASES = {
    # timm zero-initialises a block's last BatchNorm: its CBAM would see zeros and give a flat map
    "resnet_blocks": ("resnet50", {"layers": [1, 1, 1, 1], "zero_init_last": False}, "blocks", 4),
    "resnet_stages": ("resnet50", {"layers": [1, 1, 1, 1]}, "stages", 4),
    "efficientnet_stages": ("efficientnet_lite0", {}, "stages", 4),
    "mobilenetv3_stages": ("mobilenetv3_small_050", {}, "stages", 4),
    "convnext_stages": ("convnext_tiny", TINY_CONVNEXT, "stages", 4),
}


@pytest.fixture(scope="module")
def tax(taxonomy) -> Taxonomy:
    return taxonomy


def _config(case: str, **kw) -> NetworkConfig:
    name, kwargs, cbam, _ = CASES[case]
    return NetworkConfig(**{"backbone": name, "cbam": cbam, "head_dim": 16, "backbone_kwargs": dict(kwargs), **kw})


def _input(batch: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(seed))


def _attend(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights in every CBAM, standing in for trained attention (a new stage CBAM starts uniform)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for cbam in cbam_modules(net):
            for p in cbam.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return net


# --------------------------------------------------------------------------------------- config


@pytest.mark.parametrize(("value", "mode"), [(True, "blocks"), (False, "none"), (None, "none"), ("true", "blocks"),
                                             ("blocks", "blocks"), ("Stages", "stages"), ("none", "none")])
def test_cbam_config_values(value, mode) -> None:
    assert NetworkConfig(backbone="resnet50", cbam=value).cbam == mode


@pytest.mark.parametrize("value", ["everywhere", 1, 0.5, ["blocks"]])
def test_cbam_config_refuses_other_values(value) -> None:
    with pytest.raises(ValueError, match=r"NetworkConfig\.cbam must be one of none, blocks, stages"):
        NetworkConfig(backbone="resnet50", cbam=value)


def test_old_cbam_true_config_builds_the_blocks_network(tax: Taxonomy) -> None:
    old = NetworkConfig.from_dict({"backbone": "resnet50", "cbam": True, "head_dim": 16,
                                   "backbone_kwargs": {"layers": [1, 1, 1, 1]}})
    assert old.cbam == "blocks" and old.to_dict()["cbam"] is True  # written as older versions read it
    assert NetworkConfig(backbone="convnext_tiny", cbam="stages").to_dict()["cbam"] == "stages"
    assert NetworkConfig.from_dict(NetworkConfig(backbone="x", cbam="stages").to_dict()).cbam == "stages"
    torch.manual_seed(0)
    a = build_network(old, tax, load_pretrained=False).eval()
    b = build_network(_config("resnet_blocks"), tax, load_pretrained=False).eval()
    assert a.state_dict().keys() == b.state_dict().keys()
    assert sum(k.endswith("se.spatial_gate.conv.weight") for k in a.state_dict()) == 4  # the paper's slot
    b.load_state_dict(a.state_dict(), strict=True)
    x = _input()
    with torch.no_grad():
        torch.testing.assert_close(a(x).levels[-1], b(x).levels[-1])
    off = NetworkConfig.from_dict({"backbone": "resnet50", "cbam": False})
    assert off.cbam == "none" and build_network(off, tax, load_pretrained=False).num_cbam == 0


def test_old_bundle_with_cbam_true_loads(tmp_path: Path, tax: Taxonomy) -> None:
    bundle = make_tiny_bundle(tmp_path / "old", tax, family="resnet_cbam")
    manifest_path = bundle / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["network"]["cbam"] is True  # as bundles written before issue #15 say it
    loaded = load_bundle(bundle)
    assert loaded.manifest.network.cbam == "blocks" and loaded.model.num_cbam == 4
    assert loaded.manifest.to_json()["network"] == manifest["network"]  # round-trips unchanged
    with torch.no_grad():
        out = loaded.model.eval()(_input())
    assert out.levels[-1].shape == (2, tax.level_sizes[-1])


def test_stages_bundle_round_trip(tmp_path: Path, tax: Taxonomy) -> None:
    from models.bundle.io import build_manifest, save_bundle

    torch.manual_seed(0)
    net = _attend(build_network(_config("convnext_stages", head_dim=32), tax, load_pretrained=False).eval())
    data_cfg = {"input_size": [3, SIDE, SIDE], "mean": [0.5] * 3, "std": [0.25] * 3, "interpolation": "bilinear"}
    bundle = save_bundle(tmp_path / "stages", net,
                         build_manifest(model=net, taxonomy=tax, data_config=data_cfg, name="tiny-stages"))
    assert json.loads((bundle / "manifest.json").read_text())["network"]["cbam"] == "stages"
    loaded = load_bundle(bundle).model.eval()
    assert loaded.num_cbam == 4
    x = _input()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).levels[-1], net(x).levels[-1])
    torch.testing.assert_close(loaded.cbam_heatmap(), net.cbam_heatmap())


def test_init_from_an_old_cbam_true_bundle(tmp_path: Path, tax: Taxonomy) -> None:
    from models.training.checkpoint import init_from_bundle
    from models.training.config import ConfigError, TrainConfig

    bundle = make_tiny_bundle(tmp_path / "old", tax, family="resnet_cbam")
    assert json.loads((bundle / "manifest.json").read_text())["network"]["cbam"] is True
    kwargs = {"backbone": "resnet50", "head_dim": 32, "backbone_kwargs": {"layers": [1, 1, 1, 1]}}
    for cbam in ("blocks", True):
        net_cfg = NetworkConfig(cbam=cbam, **kwargs)
        model = build_network(net_cfg, tax, load_pretrained=False)
        init_from_bundle(model, TrainConfig(network=net_cfg, init_from=str(bundle)), tax, lambda _msg: None)
    stages = NetworkConfig(cbam="stages", **kwargs)
    with pytest.raises(ConfigError, match=r"cbam 'stages' here, 'blocks' in"):
        init_from_bundle(build_network(stages, tax, load_pretrained=False),
                         TrainConfig(network=stages, init_from=str(bundle)), tax, lambda _msg: None)


# ------------------------------------------------------------------------------------ placement


@pytest.mark.parametrize("case", list(CASES))
def test_cbam_placement(case: str, tax: Taxonomy) -> None:
    torch.manual_seed(0)
    net = _attend(build_network(_config(case), tax, load_pretrained=False).train())
    n_expected = CASES[case][3]
    assert net.num_cbam == n_expected == len(cbam_modules(net))
    if CASES[case][2] == "stages":
        assert len(net.backbone.cbam_stages) == len(feature_stages(net.backbone)) == n_expected
        assert net._cbam_strides == [4, 8, 16, 32]
    assert net.cbam_maps() == [] and net.cbam_heatmap() is None
    out = net(_input())
    assert [lv.shape for lv in out.levels] == [(2, n) for n in tax.level_sizes]
    maps = net.cbam_maps()
    assert [s for s, _ in maps] == [4, 8, 16, 32]
    for stride, m in maps:
        assert m.shape == (2, 1, SIDE // stride, SIDE // stride)
        assert float(m.min()) >= 0.0 and float(m.max()) <= 1.0
    heat = net.cbam_heatmap()
    assert heat.shape == (2, 1, SIDE // 4, SIDE // 4)  # the finest of strides 4, 8, 16
    torch.testing.assert_close(heat.amin(dim=(1, 2, 3)), torch.zeros(2))
    torch.testing.assert_close(heat.amax(dim=(1, 2, 3)), torch.ones(2))
    # gradients reach every CBAM: each one is on the forward path
    sum(lv.float().logsumexp(-1).sum() for lv in out.levels).backward()
    for cbam in cbam_modules(net):
        grad = cbam.spatial_gate.conv.weight.grad
        assert grad is not None and float(grad.abs().sum()) > 0
        assert all(p.grad is not None for p in cbam.parameters())


def test_a_new_stage_cbam_starts_as_a_uniform_gate_and_learns(tax: Taxonomy) -> None:
    """Put on a pretrained backbone, a stage CBAM must not scramble its features: it starts as x * 1.25
    (Mc = Ms = 0.5 everywhere), and its zero-initialised weights still get gradients. The paper's in-block CBAM
    (on a residual branch) keeps PyTorch's default initialisation."""
    torch.manual_seed(0)
    net = build_network(_config("convnext_stages"), tax, load_pretrained=False).train()
    x = torch.randn(2, 32, 8, 8, requires_grad=True)
    cbam = net.backbone.cbam_stages[1]
    assert cbam.residual
    out = cbam(x)
    torch.testing.assert_close(out, 1.25 * x)
    torch.testing.assert_close(cbam.last_spatial_map, torch.full((2, 1, 8, 8), 0.5))
    (out * torch.randn_like(out)).sum().backward()
    assert float(cbam.spatial_gate.conv.weight.grad.abs().sum()) > 0
    assert float(cbam.channel_gate.mlp[-1].weight.grad.abs().sum()) > 0
    blocks = build_network(_config("resnet_blocks"), tax, load_pretrained=False)
    assert not any(c.residual for c in cbam_modules(blocks))
    assert all(float(c.spatial_gate.conv.weight.abs().sum()) > 0 for c in cbam_modules(blocks))


def test_stage_cbams_change_the_output_and_survive_deepcopy(tax: Taxonomy) -> None:
    torch.manual_seed(0)
    net = _attend(build_network(_config("convnext_stages"), tax, load_pretrained=False).eval())
    plain = build_network(NetworkConfig(backbone="convnext_tiny", head_dim=16, backbone_kwargs=TINY_CONVNEXT), tax,
                          load_pretrained=False).eval()
    missing, unexpected = plain.load_state_dict(net.state_dict(), strict=False)
    assert missing == [] and unexpected and all(k.startswith("backbone.cbam_stages.") for k in unexpected)
    x = _input()
    with torch.no_grad():
        assert not torch.allclose(net(x).embedding, plain(x).embedding, atol=1e-4)
        twin = copy.deepcopy(net)
        torch.testing.assert_close(twin(x).embedding, net(x).embedding)
    # the copy's hooks run the copy's CBAMs (a closure would still run the original's)
    for mine, theirs in zip(cbam_modules(twin), cbam_modules(net), strict=True):
        assert mine is not theirs
    net.backbone.cbam_stages[0].last_spatial_map = None
    with torch.no_grad():
        twin(x)
    assert net.backbone.cbam_stages[0].last_spatial_map is None


def test_stage_cbams_keep_plain_backbone_weights(tax: Taxonomy, tmp_path: Path) -> None:
    source = timm.create_model("convnext_tiny", num_classes=0, **TINY_CONVNEXT)
    path = tmp_path / "plain.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    net = build_network(_config("convnext_stages", pretrained_file=str(path)), tax)
    assert net.num_cbam == 4
    ours = net.backbone.state_dict()
    for name, tensor in source.state_dict().items():
        torch.testing.assert_close(ours[name], tensor, msg=name)
    assert {k for k in ours if k not in source.state_dict()} == {
        k for k in ours if k.startswith("cbam_stages.")}
    # the bundle path: rebuilt without weights, the saved state dict loads strictly
    twin = build_network(NetworkConfig.from_dict(json.loads(json.dumps(net.config.to_dict()))), tax,
                         load_pretrained=False)
    twin.load_state_dict(net.state_dict(), strict=True)


def test_channels_last_input_with_stage_cbams(tax: Taxonomy) -> None:
    net = build_network(_config("resnet_stages"), tax, load_pretrained=False).eval()
    x = _input()
    with torch.no_grad():
        ref, ref_heat = net(x).levels[-1], net.cbam_heatmap()
        net = net.to(memory_format=torch.channels_last)
        out = net(x.contiguous(memory_format=torch.channels_last)).levels[-1]
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(net.cbam_heatmap(), ref_heat, rtol=1e-4, atol=1e-4)


def test_stage_hook_handles_nhwc_layouts() -> None:
    torch.manual_seed(0)
    cbam = CBAM(8, reduction=2)
    x = torch.randn(2, 5, 6, 8)  # NHWC
    y = StageHook(cbam, nhwc=True)(torch.nn.Identity(), (x,), x)
    assert y.shape == x.shape and cbam.last_spatial_map.shape == (2, 1, 5, 6)
    torch.testing.assert_close(y, cbam(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


@pytest.mark.parametrize("cbam", ["blocks", "stages", True])
def test_vit_has_no_cbam(cbam, tax: Taxonomy) -> None:
    cfg = NetworkConfig(backbone="vit_tiny_patch16_224", cbam=cbam,
                        backbone_kwargs={"img_size": 32, "patch_size": 8, "depth": 1, "embed_dim": 32, "num_heads": 2})
    with pytest.raises(ValueError, match=r"(?s)'vit_tiny_patch16_224'.*ViT.*no CBAM.*Grad-CAM"):
        build_network(cfg, tax, load_pretrained=False)


def test_blocks_on_a_non_resnet_points_to_stages(tax: Taxonomy) -> None:
    cfg = NetworkConfig(backbone="convnext_tiny", cbam="blocks", backbone_kwargs=TINY_CONVNEXT)
    with pytest.raises(ValueError, match=r"needs a timm ResNet-family backbone.*convnext_tiny.*network.cbam=stages"):
        build_network(cfg, tax, load_pretrained=False)


# -------------------------------------------------------------------------------------- heatmap


def test_combine_recipes() -> None:
    a = torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]]])  # stride 8, 2x2
    b = torch.tensor([[[[0.5] * 4, [0.5] * 4, [0.5] * 4, [1.0] * 4]]])  # stride 4, 4x4
    c = torch.full((1, 1, 1, 1), 0.3)  # stride 32: not combined by mean/product, but it is the last
    up = torch.nn.functional.interpolate(a, size=(4, 4), mode="bilinear", align_corners=False)

    def norm(m):
        return (m - m.min()) / (m.max() - m.min())

    maps = [(4, b), (8, a), (32, c)]
    torch.testing.assert_close(combine_cbam_maps(maps, "mean"), norm((up + b) / 2))
    torch.testing.assert_close(combine_cbam_maps(maps, "product"), norm(up * b))
    assert combine_cbam_maps(maps, "last").shape == (1, 1, 1, 1)  # flat map: all zeros, no NaN
    assert float(combine_cbam_maps(maps, "last").abs().max()) == 0.0
    assert combine_cbam_maps([(32, c), (64, c)], "mean").shape == (1, 1, 1, 1)  # no heatmap stride: all maps
    with pytest.raises(ValueError, match="unknown CBAM heatmap recipe"):
        combine_cbam_maps(maps, "max")


def test_recipe_constant_selects_the_heatmap(tax: Taxonomy, monkeypatch) -> None:
    net = _attend(build_network(_config("convnext_stages"), tax, load_pretrained=False).eval())
    with torch.no_grad():
        net(_input())
    assert network_module.CBAM_RECIPE == "mean"
    mean = net.cbam_heatmap()
    monkeypatch.setattr(network_module, "CBAM_RECIPE", "last")
    last = net.cbam_heatmap()
    assert last.shape == (2, 1, SIDE // 32, SIDE // 32) and mean.shape == (2, 1, SIDE // 4, SIDE // 4)
    assert not torch.allclose(net.cbam_heatmap("product"), mean)


def test_engine_outputs_the_combined_heatmap(tax: Taxonomy) -> None:
    net = _attend(build_network(_config("convnext_stages"), tax, load_pretrained=False).eval())
    x = _input()
    raw = build_engine(net, "eager", input_size=(SIDE, SIDE))(x)
    assert eng.backbone_family(net) == "convnext+cbam-stages"
    with torch.no_grad():
        net(x)
    torch.testing.assert_close(raw.cbam_map, net.cbam_heatmap())


@pytest.mark.skipif(not HAS_ORT, reason="onnxruntime not installed")
@pytest.mark.parametrize("case", ["convnext_stages", "resnet_blocks"])
def test_onnx_runtime_gives_the_eager_cbam_heatmap(case: str, tax: Taxonomy) -> None:
    torch.manual_seed(0)
    net = _attend(build_network(_config(case), tax, load_pretrained=False).eval())
    x = _input(batch=3)
    ref = build_engine(net, "eager", input_size=(SIDE, SIDE))(x)
    got = build_engine(net, "onnx", input_size=(SIDE, SIDE))(x)
    assert got.cbam_map is not None and got.cbam_map.shape == ref.cbam_map.shape == (3, 1, SIDE // 4, SIDE // 4)
    assert float(ref.cbam_map.amax()) == pytest.approx(1.0)  # a real map (min-max normalised), not a flat zero
    assert float((got.cbam_map - ref.cbam_map).abs().max()) <= 0.02
    assert float(got.cbam_map.min()) >= 0.0 and float(got.cbam_map.max()) <= 1.0 + 1e-6


# ----------------------------------------------------------------------------------------- grid


def test_grid_backbone_modifiers() -> None:
    assert "network.cbam=blocks" in backbone_overrides("resnet50+cbam", tiny=False)
    assert "network.cbam=stages" in backbone_overrides("efficientnet_b0+cbam-stages", tiny=False)
    assert "network.cbam=none" in backbone_overrides("convnext_tiny", tiny=False)
    with pytest.raises(ValueError, match=r"\+cbam-stages"):
        backbone_overrides("resnet50+se", tiny=False)


def test_why_this_type_explains_a_chosen_leaf_of_a_cbam_model(tmp_path, taxonomy):
    """``Predictor.explain``: LayerCAM of the leaf asked for, not the leaf-independent CBAM map."""
    import numpy as np
    from conftest import write_image

    from models.inference.predictor import Predictor

    bundle = make_tiny_bundle(tmp_path / "m", taxonomy, family="resnet_cbam")
    image = write_image(tmp_path / "x.png", size=(80, 64), seed=3)
    predictor = Predictor(load_bundle(bundle))
    attention, kind = predictor.heatmap(image)
    assert kind == "cbam"
    first, second = (predictor.explain(image, leaf) for leaf in taxonomy.leaves[:2])
    assert first.shape == second.shape and first.min() >= 0 and first.max() <= 1
    assert not np.allclose(first, second)  # the evidence depends on the leaf ...
    assert predictor.heatmap(image, leaf=taxonomy.leaves[1])[0].tolist() == attention.tolist()  # ... attention not
    with pytest.raises(KeyError, match="not a leaf"):
        predictor.explain(image, "no_such_leaf")


def test_stage_cbams_learn_at_the_heads_rate_under_a_lowered_backbone_rate(tax: Taxonomy) -> None:
    """``backbone_lr_scale`` slows the pretrained features; the stage CBAMs ``--init-from`` adds beside them are new
    and must learn at the full rate, or a gentle fine-tuning would leave their attention untrained."""
    from models.training.config import TrainConfig
    from models.training.schedule import make_optimizer

    net = build_network(_config("convnext_stages"), tax, load_pretrained=False)
    opt = make_optimizer(net, TrainConfig(backbone_lr_scale=0.1))
    scale = {id(p): g["lr_scale"] for g in opt.param_groups for p in g["params"]}
    named = dict(net.named_parameters())
    cbam = [n for n in named if n.startswith("backbone.cbam_stages.")]
    features = [n for n in named if n.startswith("backbone.") and n not in cbam]
    assert cbam and features
    assert {scale[id(named[n])] for n in cbam} == {1.0}
    assert {scale[id(named[n])] for n in features} == {0.1}
    assert {scale[id(named[n])] for n in named if n.startswith("heads") or n.startswith("head")} <= {1.0}
