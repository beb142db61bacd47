"""Hierarchical classifier: a timm backbone plus one of three multi-level heads.

The backbone is any ``timm`` model, created with ``num_classes=0``. Its unpooled
``forward_features`` output goes through :attr:`HierarchicalNet.features_out` (an ``nn.Identity``,
the Grad-CAM target layer for every family) and is pooled with the backbone's own
``forward_head(pre_logits=True)`` (global average for CNNs, class token or token mean for ViTs, plus
the family's head norm), which gives the embedding used by the heads and by similar-case search.

Heads (``NetworkConfig.head``):

* ``"flat"``: one linear leaf classifier. Ancestor levels hold log-probabilities,
  ``log sum_{leaf under node} softmax(leaf_logits)``, computed with the taxonomy masks; the last level
  holds the raw leaf logits. Cross-entropy on a log-probability level is the negative log-likelihood
  of that level, so every loss in :mod:`models.nn.losses` works with it.
* ``"independent"``: every level has its own branch ``Linear(D, head_dim) -> LayerNorm -> GELU ->
  Dropout`` and classifier ``Linear(head_dim, n_k)``.
* ``"shared"``: like ``"independent"``, but level ``k``'s branch also receives level ``k-1``'s branch
  features (concatenated with the embedding), as in DHC (Gao et al. 2020) and B-CNN.

Feature layouts (``HierarchicalNet.feature_format``): ``"nchw"`` for CNNs, ``"nlc"`` for token
models (ViT, DeiT, EVA, Mixer ...), ``"nhwc"`` for models that say so (Swin). It is found by running
a weightless copy of the backbone on the ``meta`` device, which costs no real compute.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import timm
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.nn.cbam import (
    CBAM,
    add_cbam_to_resnet,
    add_cbam_to_stages,
    cbam_modules,
    combine_cbam_maps,
    feature_stages,
    stage_layouts,
)
from models.nn.config import NetworkConfig
from models.nn.pretrained import WEIGHT_SUFFIXES, from_local_file

__all__ = [
    "WEIGHT_SUFFIXES",
    "HierOutput",
    "HierarchicalNet",
    "TokensToMap",
    "build_network",
    "resolve_data_config",
]


HEATMAP_STRIDE = 4
"""Stride of the feature map that the heatmap explains on CNN backbones (HierarchicalNet.heatmap_layer).

Chosen by measurement (``python -m bench.heatmap_layers``; README, "The demo model, measured"): on the
demo model the pointing game scored 40 % with Grad-CAM at the stride-32 output, 56 % with HiResCAM at
stride 16, and with LayerCAM 73 % at stride 8 and 82 % at stride 4 (94 % averaged over flips)."""
CBAM_RECIPE = "mean"
"""How :meth:`HierarchicalNet.cbam_heatmap` combines the CBAM maps of a forward pass (one of
:data:`models.nn.cbam.CBAM_RECIPES`: ``mean``, ``product``, ``last``); read at call time, so a benchmark can
set it before exporting or running a network."""
CBAM_HEATMAP_STRIDES: tuple[int, ...] = (4, 8, 16)
"""The strides whose CBAM maps the ``mean`` and ``product`` recipes combine (those that exist)."""
STAGE_STRIDES: tuple[int, ...] = (4, 8, 16, 32)
"""Backbone stages whose channel statistics the ``stages`` unknown-defect score reads (models.routing.policy)."""


def stage_statistics(feature_map: Tensor) -> np.ndarray:
    """(N, 2C) float32: the channel means, then the channel standard deviations, of an (N, C, H, W) map."""
    x = feature_map.detach().float()
    return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3), correction=0)], dim=1).cpu().numpy()


class HierOutput(NamedTuple):
    """Network output.

    Attributes:
        levels: One (B, level_sizes[k]) tensor per level. Logits, except the flat head's ancestor levels,
            which are log-probabilities.
        embedding: (B, D) pooled backbone features.
    """

    levels: list[Tensor]
    embedding: Tensor


class TokensToMap:
    """Grad-CAM reshape transform for token features: drop prefix tokens, (B, N, C) -> (B, C, h, w).

    Args:
        num_prefix_tokens: Class/register tokens at the start of the sequence.
        grid_size: Patch grid (h, w) of the configured input size; a square grid is assumed when the
            token count does not match it.
    """

    def __init__(self, num_prefix_tokens: int, grid_size: tuple[int, int] | None) -> None:
        self.num_prefix_tokens = num_prefix_tokens
        self.grid_size = grid_size

    def __call__(self, tokens: Tensor) -> Tensor:
        if tokens.ndim != 3:
            raise ValueError(f"expected token features (B, N, C), got shape {tuple(tokens.shape)}")
        x = tokens[:, self.num_prefix_tokens :, :]
        b, n, c = x.shape
        if self.grid_size is not None and self.grid_size[0] * self.grid_size[1] == n:
            h, w = self.grid_size
        else:
            h = w = math.isqrt(n)
            if h * w != n:
                raise ValueError(f"cannot arrange {n} patch tokens into a grid (grid_size={self.grid_size})")
        return x.reshape(b, h, w, c).permute(0, 3, 1, 2)

    def __repr__(self) -> str:
        return f"TokensToMap(num_prefix_tokens={self.num_prefix_tokens}, grid_size={self.grid_size})"


def _nhwc_to_nchw(x: Tensor) -> Tensor:
    return x.permute(0, 3, 1, 2)


# ----------------------------------------------------------------------------------------- heads


class FlatHead(nn.Module):
    """One leaf classifier; ancestors are log-sums of leaf probabilities.

    Args:
        in_dim: Embedding width.
        level_sizes: Classes per level.
        leaf_maps: Bool arrays (level_sizes[k], num_leaves), True where the leaf lies under the node.
        drop_rate: Dropout before the classifier.
    """

    def __init__(
        self, in_dim: int, level_sizes: list[int], leaf_maps: list[np.ndarray], drop_rate: float
    ) -> None:
        super().__init__()
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(in_dim, level_sizes[-1])
        self.num_ancestor_levels = len(level_sizes) - 1
        for k, leaf_map in enumerate(leaf_maps[:-1]):
            self.register_buffer(f"leaf_map_{k}", torch.from_numpy(leaf_map.copy()), persistent=False)

    def forward(self, emb: Tensor) -> list[Tensor]:
        leaf = self.fc(self.drop(emb))
        log_p = F.log_softmax(leaf, dim=-1)
        levels = []
        for k in range(self.num_ancestor_levels):
            leaf_map: Tensor = getattr(self, f"leaf_map_{k}")
            masked = log_p[:, None, :].masked_fill(~leaf_map[None], float("-inf"))
            levels.append(torch.logsumexp(masked, dim=-1))
        levels.append(leaf)
        return levels


def _branch(in_dim: int, head_dim: int, drop_rate: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, head_dim), nn.LayerNorm(head_dim), nn.GELU(), nn.Dropout(drop_rate)
    )


class LevelHead(nn.Module):
    """Per-level branches and classifiers (``shared=True`` chains level k-1's branch into level k).

    Args:
        in_dim: Embedding width.
        level_sizes: Classes per level.
        head_dim: Branch width.
        drop_rate: Dropout at the end of every branch.
        shared: Feed each branch the previous level's branch features as well.
    """

    def __init__(
        self, in_dim: int, level_sizes: list[int], head_dim: int, drop_rate: float, shared: bool
    ) -> None:
        super().__init__()
        self.shared = shared
        self.branches = nn.ModuleList(
            _branch(in_dim + (head_dim if shared and k > 0 else 0), head_dim, drop_rate)
            for k in range(len(level_sizes))
        )
        self.classifiers = nn.ModuleList(nn.Linear(head_dim, n) for n in level_sizes)

    def forward(self, emb: Tensor) -> list[Tensor]:
        levels = []
        prev: Tensor | None = None
        for branch, classifier in zip(self.branches, self.classifiers, strict=True):
            inp = emb if prev is None or not self.shared else torch.cat([emb, prev], dim=-1)
            feat = branch(inp)
            levels.append(classifier(feat))
            prev = feat
        return levels


# -------------------------------------------------------------------------------------- backbone


def check_backbone_name(config: NetworkConfig) -> None:
    """Refuse a backbone timm does not know, naming the closest it does (ValueError)."""
    name = config.backbone
    if ":" not in name and not timm.is_model(name):
        near = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
        hint = (f"did you mean {', '.join(near)}?" if near else
                "e.g. efficientnet_lite0, resnet50, convnext_tiny, vit_small_patch16_224")
        raise ValueError(f"unknown timm backbone {name!r} ({hint})")


def _backbone_kwargs(config: NetworkConfig) -> dict[str, Any]:
    return {**config.backbone_kwargs, "num_classes": 0}


def _short(exc: BaseException, max_lines: int = 4) -> str:
    """The first lines of an exception message (torch lists every mismatched tensor)."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    more = len(lines) - max_lines
    return "\n".join(lines[:max_lines]) + (f"\n... ({more} more lines)" if more > 0 else "")


def _create_backbone(config: NetworkConfig, *, load_pretrained: bool) -> nn.Module:
    """Create the timm backbone, with weights from ``pretrained_file`` or the hub when asked."""
    check_backbone_name(config)
    kwargs = _backbone_kwargs(config)
    if load_pretrained and config.pretrained_file:
        return from_local_file(config, kwargs, _short)
    if load_pretrained and config.pretrained:
        try:
            return timm.create_model(config.backbone, pretrained=True, **kwargs)
        except Exception as exc:
            raise RuntimeError(
                f"could not get pretrained weights for {config.backbone!r} from the timm hub ({_short(exc)}); "
                "offline, set pretrained_file to a local .safetensors file"
            ) from exc
    try:
        return timm.create_model(config.backbone, pretrained=False, **kwargs)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(
            f"timm could not create backbone {config.backbone!r} with backbone_kwargs "
            f"{config.backbone_kwargs}: {exc}"
        ) from exc


def _meta_backbone(config: NetworkConfig) -> nn.Module | None:
    """A weightless copy of the backbone on the meta device, or None if the family does not support it."""
    check_backbone_name(config)
    try:
        with torch.device("meta"):
            return timm.create_model(config.backbone, pretrained=False, **_backbone_kwargs(config))
    except Exception:
        return None


def _to_2tuple(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    return (int(v[0]), int(v[1]))


def _data_config(backbone: nn.Module, config: NetworkConfig) -> dict[str, Any]:
    cfg = timm.data.resolve_model_data_config(backbone)
    chans = int(config.backbone_kwargs.get("in_chans", cfg["input_size"][0]))
    height, width = int(cfg["input_size"][1]), int(cfg["input_size"][2])
    # resolve_model_data_config reports the pretrained config's size even when img_size was overridden.
    img_size = getattr(getattr(backbone, "patch_embed", None), "img_size", None)
    if img_size is None:
        img_size = config.backbone_kwargs.get("img_size")
    if img_size is not None:
        height, width = _to_2tuple(img_size)
    return {
        "input_size": [chans, height, width],
        "mean": [float(v) for v in cfg["mean"]],
        "std": [float(v) for v in cfg["std"]],
        "interpolation": str(cfg["interpolation"]),
    }


def _feature_layout(backbone: nn.Module, feats_shape: tuple[int, ...] | None) -> str:
    fmt = str(getattr(backbone, "output_fmt", "") or "").upper()
    chans = int(getattr(backbone, "num_features", 0) or 0)
    if feats_shape is not None:
        if len(feats_shape) == 3:
            return "nlc"
        if len(feats_shape) == 4:
            if fmt == "NHWC" or (feats_shape[-1] == chans and feats_shape[1] != chans):
                return "nhwc"
            return "nchw"
        raise ValueError(f"backbone features have an unsupported shape {feats_shape}")
    if fmt in ("NHWC", "NLC"):
        return fmt.lower()
    return "nlc" if hasattr(backbone, "num_prefix_tokens") else "nchw"


def _probe(config: NetworkConfig) -> tuple[dict[str, Any] | None, tuple[int, ...] | None, int | None]:
    """Data config, feature shape and embedding width from a meta-device forward (Nones if impossible)."""
    meta = _meta_backbone(config)
    if meta is None:
        return None, None, None
    data_cfg = _data_config(meta, config)
    try:
        meta.eval()
        with torch.no_grad():
            feats = meta.forward_features(torch.empty(1, *data_cfg["input_size"], device="meta"))
            pooled = meta.forward_head(feats, pre_logits=True)
    except Exception:
        return data_cfg, None, None
    return data_cfg, tuple(feats.shape), int(pooled.reshape(pooled.shape[0], -1).shape[1])


def _leaf_maps(level_sizes: list[int], masks: list[np.ndarray]) -> list[np.ndarray]:
    """Bool (level_sizes[k], num_leaves) maps: True where the leaf lies under the node of level k."""
    n_leaves = level_sizes[-1]
    maps = [np.eye(n_leaves, dtype=bool)]
    for mask in reversed(masks):
        maps.insert(0, (mask.astype(np.int64) @ maps[0].astype(np.int64)) > 0)
    return maps


def _check_levels(level_sizes: list[int], masks: list[np.ndarray]) -> list[np.ndarray]:
    if not level_sizes or any(int(n) < 1 for n in level_sizes):
        raise ValueError(f"level_sizes must be a non-empty list of positive sizes, got {level_sizes}")
    if len(masks) != len(level_sizes) - 1:
        raise ValueError(f"need {len(level_sizes) - 1} masks for {len(level_sizes)} levels, got {len(masks)}")
    out = []
    for k, mask in enumerate(masks):
        arr = np.asarray(mask, dtype=bool)
        if arr.shape != (level_sizes[k], level_sizes[k + 1]):
            raise ValueError(
                f"masks[{k}] has shape {arr.shape}, expected {(level_sizes[k], level_sizes[k + 1])}"
            )
        if not arr.any(axis=1).all():
            raise ValueError(f"masks[{k}]: every node of level {k} needs at least one child")
        if not (arr.sum(axis=0) == 1).all():
            raise ValueError(f"masks[{k}]: every node of level {k + 1} needs exactly one parent")
        out.append(arr)
    return out


# ------------------------------------------------------------------------------------------ model


class HierarchicalNet(nn.Module):
    """timm backbone + hierarchical head.

    Args:
        config: Network configuration.
        level_sizes: Number of classes per level (``taxonomy.level_sizes``).
        masks: Parent->child bool masks between consecutive levels (``taxonomy.masks``).
        load_pretrained: When False, never touch hub or local weights (used when loading a saved bundle,
            whose weights are loaded afterwards).

    Attributes:
        backbone: The timm model (``num_classes=0``), with CBAMs when ``config.cbam`` is not ``"none"``
            (``"stages"``: in ``backbone.cbam_stages``, run by forward hooks of the stage modules).
        features_out: Identity applied to the unpooled backbone features; the Grad-CAM target layer.
        feature_format: ``"nchw"``, ``"nhwc"`` or ``"nlc"``.
        embed_dim: Width D of the pooled embedding.
        num_cbam: Number of CBAM modules inserted (0 without CBAM).
    """

    def __init__(
        self,
        config: NetworkConfig,
        level_sizes: list[int],
        masks: list[np.ndarray],
        *,
        load_pretrained: bool = True,
    ) -> None:
        super().__init__()
        self.config = config
        self.level_sizes = [int(n) for n in level_sizes]
        checked_masks = _check_levels(self.level_sizes, list(masks))
        self.backbone = _create_backbone(config, load_pretrained=load_pretrained)
        self.features_out = nn.Identity()

        data_cfg, feats_shape, embed_dim = _probe(config)
        if embed_dim is None:
            embed_dim = int(getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features)
        self.embed_dim = embed_dim
        self.data_config = data_cfg if data_cfg is not None else _data_config(self.backbone, config)
        self.feature_format = _feature_layout(self.backbone, feats_shape)
        self._cbam_strides = _add_cbam(self.backbone, config, self.feature_format)
        self.num_cbam = len(self._cbam_strides)
        self._cbams = cbam_modules(self.backbone)

        if config.head == "flat":
            self.head: nn.Module = FlatHead(
                embed_dim, self.level_sizes, _leaf_maps(self.level_sizes, checked_masks), config.drop_rate
            )
        else:
            self.head = LevelHead(
                embed_dim, self.level_sizes, config.head_dim, config.drop_rate, shared=config.head == "shared"
            )

    def forward_features(self, x: Tensor) -> Tensor:
        """Unpooled backbone features, passed through :attr:`features_out`."""
        return self.features_out(self.backbone.forward_features(x))

    def pool(self, feats: Tensor) -> Tensor:
        """Pool unpooled features to the (B, D) embedding with the backbone's own convention."""
        pooled = self.backbone.forward_head(feats, pre_logits=True)
        if pooled.ndim == 4:  # a backbone created with global_pool="" returns the map unchanged
            pooled = pooled.mean(dim=(1, 2)) if self.feature_format == "nhwc" else pooled.mean(dim=(2, 3))
        elif pooled.ndim == 3:
            pooled = pooled.mean(dim=1)
        return pooled

    def forward_features_pooled(self, x: Tensor) -> Tensor:
        """The (B, D) embedding only (similar-case search)."""
        return self.pool(self.forward_features(x))

    def forward(self, x: Tensor) -> HierOutput:
        """Classify a batch (B, 3, H, W); channels_last inputs are fine."""
        embedding = self.forward_features_pooled(x)
        return HierOutput(levels=self.head(embedding), embedding=embedding)

    def cbam_spatial_map(self) -> Tensor | None:
        """Spatial attention (B, 1, h, w) of the last CBAM in the last forward; None without CBAM."""
        if not self._cbams:
            return None
        return self._cbams[-1].last_spatial_map

    def cbam_maps(self) -> list[tuple[int, Tensor]]:
        """``(stride, spatial map (B, 1, h, w))`` of every CBAM in the last forward pass, in forward order.

        Empty without CBAM or before the first forward. The stride is the backbone stage's (timm
        ``feature_info``); with CBAM in every block, every block of a stage has the stage's stride.
        """
        return [(stride, cbam.last_spatial_map) for stride, cbam in zip(self._cbam_strides, self._cbams, strict=True)
                if cbam.last_spatial_map is not None]

    def cbam_live_logits(self) -> list[tuple[int, Tensor]]:
        """Like :meth:`cbam_maps`, each map's logits with their autograd graph (a training forward pass; empty
        otherwise)."""
        return [(stride, cbam.live_spatial_logits) for stride, cbam in zip(self._cbam_strides, self._cbams,
                                                                             strict=True)
                if cbam.live_spatial_logits is not None]

    def cbam_heatmap(self, recipe: str | None = None) -> Tensor | None:
        """The combined CBAM heatmap (B, 1, h, w) in [0, 1] per image of the last forward pass.

        Args:
            recipe: One of :data:`models.nn.cbam.CBAM_RECIPES`; default :data:`CBAM_RECIPE`.

        Returns:
            The map at the finest combined stride (``last``: the last CBAM's), or None without CBAM
            or before the first forward. Computed from the forward's own tensors, so it traces into the
            ONNX graph; no backward pass.
        """
        maps = self.cbam_maps()
        if not maps:
            return None
        return combine_cbam_maps(maps, recipe or CBAM_RECIPE, CBAM_HEATMAP_STRIDES)

    def stage_strides(self) -> tuple[int, ...]:
        """The strides of :data:`STAGE_STRIDES` that have a stage (CNN backbones with ``feature_info``)."""
        if self.feature_format != "nchw":
            return ()
        return tuple(s for s in STAGE_STRIDES if self.stage_at_stride(s) is not None)

    def stage_at_stride(self, stride: int) -> nn.Module | None:
        """The backbone's last stage of this stride (timm ``feature_info``), or None if it has none."""
        info = getattr(self.backbone, "feature_info", None)
        names = [str(d.get("module", "")) for d in (info if isinstance(info, list) else [])
                 if isinstance(d, dict) and int(d.get("reduction", 0)) == stride and d.get("module")]
        for name in reversed(names):
            try:
                return self.backbone.get_submodule(name)
            except AttributeError:
                continue
        return None

    def heatmap_layer(self) -> tuple[nn.Module, Callable[[Tensor], Tensor] | None, int | None]:
        """The Grad-CAM target layer, its reshape transform, and its stride (None for the output map).

        CNN backbones are explained at their last stage of stride :data:`HEATMAP_STRIDE`, found through
        timm's ``feature_info``: the output map (stride 32, 6×6 at 192 px) has cells wider than most
        defects. Token models and anything without that information use :attr:`features_out`.
        """
        info = getattr(self.backbone, "feature_info", None)
        coarse = isinstance(info, list) and info and isinstance(info[-1], dict) and \
            int(info[-1].get("reduction", 0)) > HEATMAP_STRIDE
        stage = self.stage_at_stride(HEATMAP_STRIDE) if coarse and self.feature_format == "nchw" else None
        if stage is not None:
            return stage, None, HEATMAP_STRIDE
        return self.features_out, self.gradcam_reshape_transform(), None

    def gradcam_reshape_transform(self) -> Callable[[Tensor], Tensor] | None:
        """Reshape for Grad-CAM on :attr:`features_out`; None when the features are already NCHW."""
        if self.feature_format == "nchw":
            return None
        if self.feature_format == "nhwc":
            return _nhwc_to_nchw
        prefix = int(getattr(self.backbone, "num_prefix_tokens", 0) or 0)
        grid = getattr(getattr(self.backbone, "patch_embed", None), "grid_size", None)
        return TokensToMap(prefix, _to_2tuple(grid) if grid is not None else None)


def _no_cbam_error(config: NetworkConfig, backbone: nn.Module, why: str) -> ValueError:
    return ValueError(
        f"network.cbam={config.cbam!r}: backbone {config.backbone!r} ({type(backbone).__name__}) {why}; "
        "CBAM needs a CNN (ViT and other token models have no CBAM and keep Grad-CAM heatmaps): "
        "set network.cbam to none"
    )


def _add_cbam(backbone: nn.Module, config: NetworkConfig, feature_format: str) -> list[int]:
    """Insert the CBAMs ``config.cbam`` asks for; the stride of each one, in forward order."""
    if config.cbam == "none":
        return []
    if feature_format == "nlc":
        raise _no_cbam_error(config, backbone, "is a token model (a ViT-like backbone)")
    stages = feature_stages(backbone)
    if config.cbam == "blocks":
        try:
            add_cbam_to_resnet(backbone)
        except ValueError as exc:
            raise ValueError(
                f"network.cbam='blocks' needs a timm ResNet-family backbone (resnet*, resnext*, seresnet* ...); "
                f"{config.backbone!r} ({type(backbone).__name__}) has no BasicBlock/Bottleneck blocks: use "
                "network.cbam=stages (one CBAM after each stage) for other CNNs"
            ) from exc
        named = [n for n, m in backbone.named_modules() if isinstance(m, CBAM)]
        return [next((s["reduction"] for s in reversed(stages) if n.startswith(s["module"] + ".")), 0)
                for n in named]
    if not stages:
        raise _no_cbam_error(config, backbone, "has no feature_info stages")
    meta = _meta_backbone(config)
    layouts = stage_layouts(meta, stages, _data_config(meta, config)["input_size"]) if meta is not None \
        else [None] * len(stages)
    if "tokens" in layouts:
        raise _no_cbam_error(config, backbone, "has token stages, not feature maps")
    fallback = "nhwc" if feature_format == "nhwc" else "nchw"
    add_cbam_to_stages(backbone, [{**s, "layout": lay or fallback} for s, lay in zip(stages, layouts, strict=True)])
    return [s["reduction"] for s in stages]


def build_network(config: NetworkConfig, taxonomy: Any, *, load_pretrained: bool = True) -> HierarchicalNet:
    """Build the network for a taxonomy (uses ``taxonomy.level_sizes`` and ``taxonomy.masks``)."""
    return HierarchicalNet(
        config, list(taxonomy.level_sizes), list(taxonomy.masks), load_pretrained=load_pretrained
    )


def resolve_data_config(config: NetworkConfig) -> dict[str, Any]:
    """Preprocessing of the backbone: ``input_size`` [C, H, W], ``mean``, ``std``, ``interpolation``.

    Read with ``timm.data.resolve_model_data_config`` from a weightless backbone (on the meta device
    when possible); an ``img_size`` override of token models is honoured.
    """
    meta = _meta_backbone(config)
    backbone = meta if meta is not None else _create_backbone(config, load_pretrained=False)
    return _data_config(backbone, config)
