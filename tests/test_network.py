"""Tests for models.nn.cbam and models.nn.network: tiny timm backbones on CPU, every head."""

from __future__ import annotations

import fractions
import json
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from conftest import SHARED_WEIGHTS
from safetensors.torch import load_file, save_file

from models.nn.cbam import CBAM, ChannelGate, SpatialGate, add_cbam_to_resnet, cbam_modules
from models.nn.config import HEADS, LossConfig, PretrainedFileError
from models.nn.losses import HierarchicalLoss
from models.nn.network import HierarchicalNet, NetworkConfig, build_network, resolve_data_config
from models.taxonomy import Taxonomy

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "taxonomy" / "fma_demo.yaml"
LITE0 = SHARED_WEIGHTS

TINY_CONVNEXT = {"depths": (1, 1, 1, 1), "dims": (16, 32, 64, 128)}
TINY_RESNET = {"layers": [1, 1, 1, 1]}
TINY_VIT = {"img_size": 32, "patch_size": 8, "depth": 2, "embed_dim": 32, "num_heads": 2}

# family -> (backbone, backbone_kwargs, cbam, input side, embedding width, a stem parameter name)
FAMILIES = {
    "convnext": ("convnext_tiny", TINY_CONVNEXT, False, 64, 128, "stem.0.weight"),
    "resnet_cbam": ("resnet50", TINY_RESNET, True, 64, 2048, "conv1.weight"),
    "vit": ("vit_tiny_patch16_224", TINY_VIT, False, 32, 32, "patch_embed.proj.weight"),
}


def _unsmoothed(**kw) -> LossConfig:
    """A loss config without label smoothing (the default is 0.1): the formulas below are the plain ones."""
    return LossConfig(**{"label_smoothing": 0.0, **kw})


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.from_yaml(DEMO)


def _config(family: str, head: str = "independent", **kw) -> NetworkConfig:
    name, kwargs, cbam, *_ = FAMILIES[family]
    return NetworkConfig(backbone=name, head=head, cbam=cbam, head_dim=16, backbone_kwargs=dict(kwargs), **kw)


def _input(family: str, batch: int = 2) -> torch.Tensor:
    side = FAMILIES[family][3]
    return torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(1))


# ---------------------------------------------------------------------------------------- CBAM


def test_cbam_keeps_shape_and_stores_map() -> None:
    torch.manual_seed(0)  # unseeded, a hidden unit of the gate's MLP can start dead and get no gradient
    cbam = CBAM(32, reduction=8)
    assert cbam.last_spatial_map is None
    x = torch.randn(2, 32, 5, 7, requires_grad=True)
    y = cbam(x)
    assert y.shape == x.shape
    spatial = cbam.last_spatial_map
    assert spatial is not None and spatial.shape == (2, 1, 5, 7)
    assert not spatial.requires_grad
    assert float(spatial.min()) >= 0.0 and float(spatial.max()) <= 1.0
    y.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in cbam.parameters())


def test_gates_follow_the_paper() -> None:
    x = torch.randn(2, 8, 4, 4)
    spatial = SpatialGate(7)
    torch.nn.init.zeros_(spatial.conv.weight)
    torch.testing.assert_close(spatial(x), 0.5 * x)  # sigmoid(0) everywhere
    channel = ChannelGate(8, reduction=4)
    avg, mx = x.mean(dim=(2, 3)), x.amax(dim=(2, 3))
    expected = x * torch.sigmoid(channel.mlp(avg) + channel.mlp(mx))[:, :, None, None]
    torch.testing.assert_close(channel(x), expected)
    with pytest.raises(ValueError, match="odd"):
        SpatialGate(4)


def test_add_cbam_to_resnet_counts_blocks() -> None:
    resnet18 = timm.create_model("resnet18", num_classes=0)  # BasicBlock, layers (2, 2, 2, 2)
    assert add_cbam_to_resnet(resnet18) == 8
    blocks = [m for m in resnet18.modules() if isinstance(m, timm.models.resnet.BasicBlock)]
    assert all(isinstance(b.se, CBAM) for b in blocks)
    assert blocks[-1].se.channel_gate.mlp[0].in_features == 512
    resnet50 = timm.create_model("resnet50", num_classes=0, **TINY_RESNET)  # Bottleneck
    assert add_cbam_to_resnet(resnet50) == 4
    resnet50(torch.randn(1, 3, 64, 64))
    assert all(c.last_spatial_map is not None for c in cbam_modules(resnet50))  # every CBAM is on the path
    with pytest.raises(ValueError, match="ResNet"):
        add_cbam_to_resnet(timm.create_model("convnext_atto", num_classes=0))


# ------------------------------------------------------------------------------------ config


def test_network_config_round_trip_and_refusals() -> None:
    cfg = _config("vit", head="shared", drop_rate=0.1)
    assert NetworkConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="backbon"):
        NetworkConfig.from_dict({"backbon": "resnet50"})
    with pytest.raises(ValueError, match="head"):
        NetworkConfig(head="tree")
    with pytest.raises(ValueError, match="num_classes"):
        NetworkConfig(backbone_kwargs={"num_classes": 10})
    with pytest.raises(ValueError, match="drop_rate"):
        NetworkConfig(drop_rate=1.5)


def test_unknown_backbone_and_bad_masks(tax: Taxonomy) -> None:
    with pytest.raises(ValueError, match="unknown timm backbone"):
        build_network(NetworkConfig(backbone="no_such_net_v9"), tax)
    with pytest.raises(ValueError, match=r"'convnxt_tiny' \(did you mean convnext_tiny"):  # a typo: close names
        build_network(NetworkConfig(backbone="convnxt_tiny"), tax)
    with pytest.raises(ValueError, match="masks"):
        HierarchicalNet(_config("convnext"), [2, 4, 18], [tax.masks[0]])


def test_cbam_blocks_on_non_resnet_refused(tax: Taxonomy) -> None:
    cfg = NetworkConfig(backbone="convnext_tiny", cbam=True, backbone_kwargs=dict(TINY_CONVNEXT))  # true: blocks
    with pytest.raises(ValueError, match=r"cbam='blocks' needs a timm ResNet-family backbone.*convnext_tiny"):
        build_network(cfg, tax)


# ------------------------------------------------------------------------------- forward/backward


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_forward_backward(tax: Taxonomy, family: str, head: str) -> None:
    net = build_network(_config(family, head, drop_rate=0.1), tax)
    out = net(_input(family))
    assert [tuple(t.shape) for t in out.levels] == [(2, n) for n in tax.level_sizes]
    embed_dim = FAMILIES[family][4]
    assert out.embedding.shape == (2, embed_dim) and net.embed_dim == embed_dim
    targets = torch.as_tensor(tax.leaf_level_index[[0, 10]])
    loss, _ = HierarchicalLoss(_unsmoothed(), tax.masks)(out.levels, targets)
    loss.backward()
    stem = dict(net.backbone.named_parameters())[FAMILIES[family][5]]
    assert stem.grad is not None and stem.grad.abs().sum() > 0
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    if head != "flat":
        assert all(c.weight.grad.abs().sum() > 0 for c in net.head.classifiers)


def test_feature_formats_and_gradcam_transforms(tax: Taxonomy) -> None:
    cnn = build_network(_config("convnext"), tax)
    assert cnn.feature_format == "nchw" and cnn.gradcam_reshape_transform() is None
    vit = build_network(_config("vit"), tax)
    assert vit.feature_format == "nlc"
    tokens = vit.forward_features(_input("vit"))
    assert tokens.shape == (2, 1 + 16, 32)
    transform = vit.gradcam_reshape_transform()
    fmap = transform(tokens)
    assert fmap.shape == (2, 32, 4, 4)
    torch.testing.assert_close(fmap[:, :, 1, 2], tokens[:, 1 + 1 * 4 + 2, :])  # class token dropped
    swin = build_network(
        NetworkConfig(
            backbone="swin_tiny_patch4_window7_224",
            head_dim=8,
            backbone_kwargs={
                "img_size": 64,
                "window_size": 2,
                "depths": (1, 1, 1, 1),
                "embed_dim": 16,
                "num_heads": (1, 1, 1, 1),
            },
        ),
        tax,
    )
    assert swin.feature_format == "nhwc"
    feats = swin.forward_features(torch.randn(1, 3, 64, 64))
    assert swin.gradcam_reshape_transform()(feats).shape == (1, 128, 2, 2)


def test_features_out_is_the_unpooled_map(tax: Taxonomy) -> None:
    net = build_network(_config("convnext"), tax)
    seen = []
    net.features_out.register_forward_hook(lambda _m, _i, o: seen.append(o))
    net(_input("convnext"))
    assert len(seen) == 1 and seen[0].shape == (2, 128, 2, 2)


def test_heatmap_layer_is_the_stride4_stage_of_cnns(tax: Taxonomy) -> None:
    convnext = build_network(_config("convnext"), tax)
    layer, reshape, stride = convnext.heatmap_layer()
    assert layer is convnext.backbone.stages[0] and reshape is None and stride == 4
    seen = []
    layer.register_forward_hook(lambda _m, _i, o: seen.append(o))
    convnext(_input("convnext"))  # 64 px input: a 16x16 map at stride 4, not the 2x2 output
    assert seen[0].shape[-2:] == (16, 16)
    resnet = build_network(_config("resnet_cbam"), tax)
    assert resnet.heatmap_layer()[0] is resnet.backbone.layer1
    vit = build_network(_config("vit"), tax)  # a token model: the reshaped output map, unsmoothed
    layer, reshape, stride = vit.heatmap_layer()
    assert layer is vit.features_out and reshape is not None and stride is None


def test_flat_head_ancestors_are_sums_of_leaf_probabilities(tax: Taxonomy) -> None:
    net = build_network(_config("convnext", head="flat"), tax).eval()
    with torch.no_grad():
        levels = net(_input("convnext", batch=3)).levels
    leaf_p = F.softmax(levels[-1], dim=-1)
    for k in range(tax.num_levels - 1):
        expected = torch.zeros(3, tax.level_sizes[k])
        expected.index_add_(1, torch.as_tensor(tax.leaf_level_index[:, k]), leaf_p)
        torch.testing.assert_close(levels[k].exp(), expected)
        torch.testing.assert_close(levels[k].exp().sum(dim=-1), torch.ones(3))
    # Cross-entropy on a log-probability level is that level's negative log-likelihood.
    targets = torch.as_tensor(tax.leaf_level_index[[0, 5, 17]])
    _, parts = HierarchicalLoss(_unsmoothed(kind="layer"), tax.masks)(levels, targets)
    nll0 = -levels[0].gather(1, targets[:, :1]).mean()
    assert parts["level_0"] == pytest.approx(nll0.item(), rel=1e-5)


def test_cbam_spatial_map(tax: Taxonomy) -> None:
    net = build_network(_config("resnet_cbam"), tax)
    assert net.num_cbam == 4
    assert net.cbam_spatial_map() is None
    net(_input("resnet_cbam"))
    spatial = net.cbam_spatial_map()
    assert spatial is not None and spatial.shape == (2, 1, 2, 2)  # last stage of a 64 px input
    assert float(spatial.min()) >= 0.0 and float(spatial.max()) <= 1.0
    assert build_network(_config("convnext"), tax).cbam_spatial_map() is None


def test_channels_last_input(tax: Taxonomy) -> None:
    for family in ("convnext", "resnet_cbam"):
        net = build_network(_config(family), tax).eval()
        x = _input(family)
        with torch.no_grad():
            ref = net(x).levels
            net = net.to(memory_format=torch.channels_last)
            out = net(x.contiguous(memory_format=torch.channels_last)).levels
        for a, b in zip(ref, out, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_state_dict_round_trip_without_weights(tax: Taxonomy) -> None:
    """The bundle path: rebuild with load_pretrained=False, then load the saved state dict strictly."""
    cfg = _config("resnet_cbam", pretrained_file="/nonexistent/weights.safetensors")
    with pytest.raises(FileNotFoundError, match="nonexistent"):
        build_network(cfg, tax)
    net = build_network(cfg, tax, load_pretrained=False).eval()
    saved = json.loads(json.dumps(cfg.to_dict()))  # as stored in a bundle's manifest.json
    twin = build_network(NetworkConfig.from_dict(saved), tax, load_pretrained=False).eval()
    twin.load_state_dict(net.state_dict(), strict=True)
    x = _input("resnet_cbam")
    with torch.no_grad():
        torch.testing.assert_close(twin(x).levels[-1], net(x).levels[-1])


# ------------------------------------------------------------------------------- local weights


def test_safetensors_weights_load_and_a_pickle_checkpoint_is_refused_unopened(tax: Taxonomy, tmp_path: Path,
                                                                              monkeypatch) -> None:
    source = timm.create_model("convnext_tiny", num_classes=0, **TINY_CONVNEXT)
    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    net = build_network(_config("convnext", pretrained_file=str(path)), tax)
    for name, tensor in source.state_dict().items():
        torch.testing.assert_close(net.backbone.state_dict()[name], tensor, msg=name)
    # A .pth / .pt checkpoint is a pickle: refused before anything opens it (torch.load, even weights_only, is not
    # called), with how to get the safetensors file instead.
    for suffix in (".pth", ".pt", ".ckpt"):
        pickle_file = tmp_path / f"tiny{suffix}"
        torch.save({"state_dict": source.state_dict(), "extra": fractions.Fraction(1, 3)}, pickle_file)
        monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("a user's pickle was opened"))
        with pytest.raises(ValueError, match=rf"is a pickle checkpoint \({suffix}\).*\.safetensors files only") as err:
            build_network(_config("convnext", pretrained_file=str(pickle_file)), tax)
        assert "save_file" in str(err.value)
        monkeypatch.undo()
    # timm reads any ending but exactly ".safetensors" (case and all) with torch.load: refused too
    shouting = tmp_path / "tiny.SAFETENSORS"
    torch.save(source.state_dict(), shouting)
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("a user's pickle was opened"))
    with pytest.raises(ValueError, match=r"must end in \.safetensors, in lower case"):
        build_network(_config("convnext", pretrained_file=str(shouting)), tax)


def test_local_weights_errors(tax: Taxonomy, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.safetensors"):
        build_network(_config("convnext", pretrained_file=str(tmp_path / "missing.safetensors")), tax)
    wrong_suffix = tmp_path / "weights.npz"
    wrong_suffix.write_bytes(b"0")
    with pytest.raises(ValueError, match=r"\.safetensors"):
        build_network(_config("convnext", pretrained_file=str(wrong_suffix)), tax)
    other = timm.create_model("convnext_tiny", num_classes=0, depths=(1, 1, 1, 1), dims=(8, 16, 32, 64))
    mismatched = tmp_path / "other.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(mismatched))
    with pytest.raises(
        PretrainedFileError, match=r"(?s)could not load weights .*'convnext_tiny' \(is it the file of another backbone\? "
                                   r"set network.backbone.*size mismatch"
    ) as err:
        build_network(_config("convnext", pretrained_file=str(mismatched)), tax)
    assert len(str(err.value).splitlines()) <= 6  # shortened; the full list stays in the chained cause


def test_a_file_of_another_backbone_is_refused_not_trained_from_random_weights(tax: Taxonomy, tmp_path: Path,
                                                                                caplog) -> None:
    """timm only logs the keys it could not place, so a ResNet's file given to a ConvNeXt (keys that share no
    name) left the backbone as initialised, and training went on from random weights without a word. Now that
    is an error naming how much of the backbone the file set; the random state goes on as if no check ran."""
    resnet = timm.create_model("resnet18", num_classes=0)
    foreign = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in resnet.state_dict().items()}, str(foreign))
    torch.manual_seed(3)
    with pytest.raises(PretrainedFileError, match=r"set 0 of the \d+ randomly initialised weight tensors of backbone "
                                         r"'convnext_tiny': it holds another backbone's weights"):
        build_network(_config("convnext", pretrained_file=str(foreign)), tax)
    assert all(len(r.getMessage()) < 400 for r in caplog.records if r.name.startswith("timm"))  # cut short
    source = timm.create_model("convnext_tiny", num_classes=0, **TINY_CONVNEXT)
    good = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(good))
    from models.nn.network import _backbone_kwargs, _create_backbone

    cfg = _config("convnext", pretrained_file=str(good))
    torch.manual_seed(3)
    _create_backbone(cfg, load_pretrained=True)  # loads, then checks
    after_check = torch.rand(3)
    torch.manual_seed(3)
    timm.create_model(cfg.backbone, pretrained=True, pretrained_cfg_overlay={"file": str(good)},
                      **_backbone_kwargs(cfg))  # loads only
    torch.testing.assert_close(after_check, torch.rand(3))  # trained models stay bit for bit what they were


@pytest.mark.skipif(not LITE0.is_file(), reason="shared efficientnet_lite0 weights not present")
def test_efficientnet_lite0_safetensors(tax: Taxonomy) -> None:
    cfg = NetworkConfig(backbone="efficientnet_lite0", head="flat", pretrained_file=str(LITE0))
    net = build_network(cfg, tax)
    reference = load_file(str(LITE0))
    torch.testing.assert_close(net.backbone.conv_stem.weight, reference["conv_stem.weight"])
    torch.testing.assert_close(net.backbone.conv_head.weight, reference["conv_head.weight"])
    fresh = build_network(cfg, tax, load_pretrained=False)
    assert not torch.allclose(fresh.backbone.conv_stem.weight, reference["conv_stem.weight"])
    out = net.eval()(torch.randn(1, 3, 64, 64))
    assert out.embedding.shape == (1, 1280)


# ------------------------------------------------------------------------------- data config


def test_resolve_data_config() -> None:
    cnn = resolve_data_config(NetworkConfig(backbone="convnext_tiny"))
    assert cnn == {
        "input_size": [3, 224, 224],
        "mean": pytest.approx([0.485, 0.456, 0.406]),
        "std": pytest.approx([0.229, 0.224, 0.225]),
        "interpolation": "bicubic",
    }
    vit = resolve_data_config(_config("vit"))
    assert vit["input_size"] == [3, 32, 32]
    assert vit["mean"] == pytest.approx([0.5, 0.5, 0.5])


def test_masks_must_match_level_sizes(tax: Taxonomy) -> None:
    bad = [np.ones((2, 3), dtype=bool), tax.masks[1]]
    with pytest.raises(ValueError, match=r"masks\[0\]"):
        HierarchicalNet(_config("convnext"), tax.level_sizes, bad)
