"""Convolutional Block Attention Module (CBAM, Woo et al., ECCV 2018).

CBAM refines a feature map in two steps:

1. a channel gate: the map is average- and max-pooled over space, both vectors go through one shared
   MLP (reduction ``r``), the two outputs are summed and squashed with a sigmoid, and the map is scaled
   per channel;
2. a spatial gate: the refined map is averaged and max-reduced over channels, the two planes are
   concatenated and convolved with one ``k x k`` kernel (7 in the paper), and a sigmoid gives a
   ``(B, 1, H, W)`` map that scales every position.

The spatial map of the last forward pass is kept, detached, in :attr:`CBAM.last_spatial_map`, so the
predictor can show it as a heatmap.

:func:`add_cbam_to_resnet` puts one CBAM into every residual block of a timm ResNet. timm's
``BasicBlock`` and ``Bottleneck`` apply their optional ``se`` attention module after the last
BatchNorm and before the residual add, which is exactly where the paper puts CBAM, so the CBAM takes
that slot (an existing SE/ECA module is replaced) (``network.cbam: blocks``).

:func:`add_cbam_to_stages` works for any CNN backbone of timm (EfficientNet, ConvNeXt, RegNet, MobileNetV3,
ResNet ...): one CBAM after each backbone stage, the stages named by timm's ``feature_info``
(``network.cbam: stages``). The CBAMs are registered in ``backbone.cbam_stages`` and run as forward hooks of
the stage modules, so no existing parameter is renamed: weights of the plain backbone still load, and the
only new state-dict keys are ``cbam_stages.*``.

:func:`combine_cbam_maps` turns the spatial maps of one forward pass into one heatmap (the recipes of
:data:`CBAM_RECIPES`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CBAM", "CBAM_RECIPES", "ChannelGate", "SpatialGate", "StageHook", "add_cbam_to_resnet",
           "add_cbam_to_stages", "attention_box_loss", "cbam_modules", "combine_cbam_maps", "feature_stages",
           "stage_layouts"]

CBAM_RECIPES = ("mean", "product", "last")
"""How :func:`combine_cbam_maps` combines the spatial maps of one forward pass:

* ``mean``: the mean of the stages' maps at the heatmap strides, upsampled (bilinear) to the finest;
* ``product``: their product (a position must be attended at every scale);
* ``last``: the last CBAM's map alone (the stride-32 stage; before issue #15 the only map).

Every recipe ends with a per-image min-max normalisation to [0, 1]."""


class ChannelGate(nn.Module):
    """Channel attention: shared MLP over average- and max-pooled descriptors.

    Args:
        channels: Number of input channels.
        reduction: Reduction ratio of the MLP's hidden layer (at least one hidden unit is kept).
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"ChannelGate needs channels >= 1, got {channels}")
        if reduction < 1:
            raise ValueError(f"ChannelGate needs reduction >= 1, got {reduction}")
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Scale ``x`` (B, C, H, W) per channel."""
        avg = x.mean(dim=(2, 3))
        mx = x.amax(dim=(2, 3))
        scale = torch.sigmoid(self.mlp(avg) + self.mlp(mx))
        return x * scale[:, :, None, None]


class SpatialGate(nn.Module):
    """Spatial attention: one convolution over the channel-average and channel-max planes.

    Args:
        kernel_size: Odd size of the convolution kernel (7 in the paper).
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"SpatialGate needs an odd kernel_size >= 1, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def logits(self, x: Tensor) -> Tensor:
        """The attention map's logits (B, 1, H, W) for ``x`` (B, C, H, W), before the sigmoid."""
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return self.conv(pooled)

    def attention_map(self, x: Tensor) -> Tensor:
        """Return the sigmoid attention map (B, 1, H, W) for ``x`` (B, C, H, W)."""
        return torch.sigmoid(self.logits(x))

    def forward(self, x: Tensor) -> Tensor:
        """Scale every spatial position of ``x``."""
        return x * self.attention_map(x)


class CBAM(nn.Module):
    """Channel gate followed by spatial gate; keeps the last spatial map for heatmaps.

    Args:
        channels: Number of channels of the refined feature map.
        reduction: Reduction ratio of the channel gate's MLP.
        spatial_kernel: Kernel size of the spatial gate's convolution.
        residual: Return ``x + refined`` (``x * (1 + Mc * Ms)``) and start as a uniform gate (the channel MLP's
            last layer and the spatial convolution zero-initialised: ``Mc = Ms = 0.5`` everywhere), so that a CBAM
            put on a pretrained network starts as a uniform 1.25x scale and learns its attention from there.
            The paper's in-block CBAM sits on a residual branch already and keeps ``residual=False``; a CBAM after
            a backbone stage (:func:`add_cbam_to_stages`) has no skip around it, and with the plain form and
            random initial weights it scrambled the ImageNet features (EfficientNet-Lite0, 8 epochs on the
            demo-look data: 14 % validation Top-1 against 35 % without CBAM).

    Attributes:
        last_spatial_map: Detached (B, 1, H, W) spatial attention of the last forward pass, in [0, 1];
            ``None`` before the first forward.
        live_spatial_logits: The map's logits (before the sigmoid) with their autograd graph, kept only from a
            training forward pass that records gradients (:func:`attention_box_loss` supervises them; logits, so
            that a saturated bf16/fp16 sigmoid still passes a gradient); ``None`` otherwise (a model holding it
            could not be deep-copied).
    """

    def __init__(self, channels: int, reduction: int = 16, spatial_kernel: int = 7, residual: bool = False) -> None:
        super().__init__()
        self.channel_gate = ChannelGate(channels, reduction)
        self.spatial_gate = SpatialGate(spatial_kernel)
        self.residual = residual
        self.last_spatial_map: Tensor | None = None
        self.live_spatial_logits: Tensor | None = None
        if residual:
            nn.init.zeros_(self.channel_gate.mlp[-1].weight)
            nn.init.zeros_(self.channel_gate.mlp[-1].bias)
            nn.init.zeros_(self.spatial_gate.conv.weight)

    def forward(self, x: Tensor) -> Tensor:
        """Refine ``x`` (B, C, H, W); the output has the same shape."""
        refined = self.channel_gate(x)
        logits = self.spatial_gate.logits(refined)
        spatial = torch.sigmoid(logits)
        self.last_spatial_map = spatial.detach()
        self.live_spatial_logits = logits if self.training and logits.requires_grad else None
        return x + refined * spatial if self.residual else refined * spatial


def _resnet_block_types() -> tuple[type[nn.Module], ...]:
    from timm.models.resnet import BasicBlock, Bottleneck

    return (BasicBlock, Bottleneck)


def _block_out_channels(block: nn.Module) -> int:
    from timm.models.resnet import Bottleneck

    last_conv = block.conv3 if isinstance(block, Bottleneck) else block.conv2
    return int(last_conv.out_channels)


def add_cbam_to_resnet(model: nn.Module, *, reduction: int = 16, spatial_kernel: int = 7) -> int:
    """Insert a CBAM into every ``BasicBlock``/``Bottleneck`` of a timm ResNet-family model.

    The CBAM takes the block's ``se`` slot (after the last BatchNorm, before the residual add).

    Args:
        model: A timm ResNet, ResNeXt, SE-ResNet, wide ResNet ... (anything built from timm's
            ``BasicBlock`` or ``Bottleneck``).
        reduction: Channel-gate reduction ratio.
        spatial_kernel: Spatial-gate kernel size.

    Returns:
        The number of blocks that received a CBAM.

    Raises:
        ValueError: If the model holds no timm ``BasicBlock`` or ``Bottleneck``.
    """
    block_types = _resnet_block_types()
    blocks = [m for m in model.modules() if isinstance(m, block_types)]
    if not blocks:
        raise ValueError(
            f"CBAM can only be added to timm ResNet-family models (built from BasicBlock/Bottleneck); "
            f"{type(model).__name__} has no such blocks"
        )
    for block in blocks:
        ref = next(block.parameters())
        block.se = CBAM(_block_out_channels(block), reduction, spatial_kernel).to(
            device=ref.device, dtype=ref.dtype
        )
    return len(blocks)


def cbam_modules(model: nn.Module) -> list[CBAM]:
    """All CBAM modules of ``model`` in registration (forward) order."""
    return [m for m in model.modules() if isinstance(m, CBAM)]


# ------------------------------------------------------------------------------------ stage placement


def feature_stages(model: nn.Module, min_reduction: int = 4) -> list[dict]:
    """The ``feature_info`` stages of a timm model with a stride of at least ``min_reduction``.

    Each is a dict with ``module`` (name), ``num_chs`` and ``reduction``, in forward order; the stride-2
    stem entries are left out. Empty when the model has no ``feature_info``.
    """
    info = getattr(model, "feature_info", None)
    out: list[dict] = []
    seen: set[str] = set()
    for d in info if isinstance(info, list) else []:
        if not isinstance(d, dict) or not d.get("module") or d.get("num_chs") is None:
            continue
        name, reduction = str(d["module"]), int(d.get("reduction", 0))
        if reduction >= min_reduction and name not in seen:
            seen.add(name)
            out.append({"module": name, "num_chs": int(d["num_chs"]), "reduction": reduction})
    return out


def stage_layouts(model: nn.Module, stages: Sequence[dict], input_size: Sequence[int]) -> list[str | None]:
    """The layout of each stage's output: ``"nchw"``, ``"nhwc"``, ``"tokens"`` (not a map) or None (unknown).

    Found from one forward of ``model`` (a weightless copy on the ``meta`` device costs no compute) on a
    ``(1, *input_size)`` input, comparing each output's shape with the stage's ``num_chs``.
    """
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: object, out: Tensor) -> None:
            shapes.setdefault(name, tuple(out.shape))
        return hook

    try:
        device = next(model.parameters()).device
        handles = [model.get_submodule(s["module"]).register_forward_hook(record(s["module"])) for s in stages]
        model.eval()
        with torch.no_grad():
            model.forward_features(torch.empty(1, *[int(v) for v in input_size], device=device))
        for handle in handles:
            handle.remove()
    except Exception:  # a family whose meta forward fails: the caller falls back to the backbone's layout
        return [None] * len(stages)
    layouts: list[str | None] = []
    for stage in stages:
        shape, chans = shapes.get(stage["module"]), int(stage["num_chs"])
        if shape is None:
            layouts.append(None)
        elif len(shape) != 4:
            layouts.append("tokens")
        else:
            layouts.append("nchw" if shape[1] == chans else "nhwc" if shape[-1] == chans else None)
    return layouts


class StageHook:
    """Forward hook of a stage module: its output goes through a CBAM.

    ``nhwc`` stages (timm models that keep channels last in their layout, e.g. Swin, MambaOut) are permuted
    to NCHW around the CBAM. A channels-last *memory format* is still an NCHW layout and needs nothing.
    A plain object (not a closure) so that ``copy.deepcopy`` and pickling of the model keep the hook
    pointing at the copied CBAM.
    """

    def __init__(self, cbam: CBAM, nhwc: bool = False) -> None:
        self.cbam = cbam
        self.nhwc = nhwc

    def __call__(self, module: nn.Module, args: object, output: Tensor) -> Tensor:
        if self.nhwc:
            return self.cbam(output.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.cbam(output)


def add_cbam_to_stages(model: nn.Module, stages: Sequence[dict], *, reduction: int = 16,
                       spatial_kernel: int = 7) -> nn.ModuleList:
    """Put one CBAM after each stage of a timm CNN (see :func:`feature_stages`).

    Args:
        model: The timm backbone; receives ``model.cbam_stages`` (an ``nn.ModuleList``).
        stages: Dicts with ``module`` (name in ``model``), ``num_chs`` and, optionally, ``layout``
            (``"nchw"``, the default, or ``"nhwc"``).
        reduction: Channel-gate reduction ratio.
        spatial_kernel: Spatial-gate kernel size.

    Returns:
        The CBAMs, in stage order.

    Raises:
        ValueError: Without stages, or when the model already has stage CBAMs.
    """
    if not stages:
        raise ValueError(f"{type(model).__name__} has no feature_info stages for CBAM")
    if hasattr(model, "cbam_stages"):
        raise ValueError(f"{type(model).__name__} already has stage CBAMs")
    ref = next(model.parameters())
    cbams = nn.ModuleList()
    for stage in stages:
        module = model.get_submodule(str(stage["module"]))
        cbam = CBAM(int(stage["num_chs"]), reduction, spatial_kernel, residual=True).to(device=ref.device,
                                                                                      dtype=ref.dtype)
        module.register_forward_hook(StageHook(cbam, nhwc=stage.get("layout", "nchw") == "nhwc"))
        cbams.append(cbam)
    model.cbam_stages = cbams
    return cbams


# ------------------------------------------------------------------------------------------- heatmap


def _normalise(m: Tensor) -> Tensor:
    lo = m.amin(dim=(2, 3), keepdim=True)
    hi = m.amax(dim=(2, 3), keepdim=True)
    return (m - lo) / (hi - lo).clamp_min(1e-6)


def combine_cbam_maps(maps: Sequence[tuple[int, Tensor]], recipe: str = "mean",
                      strides: Sequence[int] = (4, 8, 16)) -> Tensor:
    """One (B, 1, h, w) heatmap in [0, 1] from the spatial maps of one forward pass.

    Args:
        maps: ``(stride, map)`` of every CBAM in forward order (maps (B, 1, h_i, w_i)); of several maps
            at one stride (CBAM in every block) the last, the stage's output, stands for the stride.
        recipe: One of :data:`CBAM_RECIPES`.
        strides: The strides ``mean`` and ``product`` combine; all maps when none of them exists.

    Differentiable and traceable (the ONNX graph computes it); no backward pass is needed.
    """
    if recipe not in CBAM_RECIPES:
        raise ValueError(f"unknown CBAM heatmap recipe {recipe!r}; expected one of {', '.join(CBAM_RECIPES)}")
    if not maps:
        raise ValueError("no CBAM maps to combine (run a forward pass first)")
    if recipe == "last":
        return _normalise(maps[-1][1].float())
    per_stride = {int(s): m for s, m in maps}  # the last map of each stride
    chosen = [per_stride[s] for s in sorted(per_stride) if s in strides] or \
        [per_stride[s] for s in sorted(per_stride)]
    finest = max(chosen, key=lambda m: m.shape[-2] * m.shape[-1])
    size = (int(finest.shape[-2]), int(finest.shape[-1]))
    ups = [m.float() if tuple(m.shape[-2:]) == size else
           F.interpolate(m.float(), size=size, mode="bilinear", align_corners=False) for m in chosen]
    combined = ups[0]
    for m in ups[1:]:
        combined = combined + m if recipe == "mean" else combined * m
    if recipe == "mean":
        combined = combined / len(ups)
    return _normalise(combined)


def attention_box_loss(logits: Sequence[tuple[int, Tensor]], masks: Tensor, has_box: Tensor,
                       strides: Sequence[int] = (4, 8, 16)) -> Tensor:
    """Supervise CBAM spatial maps with defect boxes: the mean over the maps at ``strides`` of a balanced
    binary cross-entropy, half for the cells the box covers (towards 1) and half for the others (towards 0).

    A CBAM's spatial gate otherwise learns whatever helps classification, which on micrographs is rarely where
    the defect is (pointing game 2-16 % against 84-94 % for LayerCAM, README); with boxes it learns to attend
    the defect, and the heatmap of :func:`combine_cbam_maps` points at it.

    Args:
        logits: ``(stride, map logits (B, 1, h, w))`` with their autograd graph (``CBAM.live_spatial_logits``),
            forward order; maps at other strides are left alone (all of them when none is at ``strides``). Computed
            from logits in float32, so a cell whose sigmoid saturated still gets its gradient.
        masks: (B, 1, H, W) defect masks at the input's resolution (1 inside the box).
        has_box: (B,) bool, the images that have a box; the others pay nothing.

    Returns:
        A scalar; 0 (still a graph-free tensor) when no image of the batch has a box or there is no map.
    """
    chosen = [z for s, z in logits if s in strides] or [z for _s, z in logits]
    keep = has_box.to(torch.bool)
    if not chosen or not bool(keep.any()):
        return masks.new_zeros((), dtype=torch.float32)
    target_full = masks[keep].float()
    losses = []
    for z in chosen:
        z = z[keep.to(z.device)].float()
        inside = (F.adaptive_max_pool2d(target_full.to(z.device), tuple(z.shape[-2:])) > 0.5).float()
        outside = 1.0 - inside
        pos = (F.softplus(-z) * inside).sum(dim=(1, 2, 3)) / inside.sum(dim=(1, 2, 3)).clamp_min(1.0)  # -log sigmoid
        neg = (F.softplus(z) * outside).sum(dim=(1, 2, 3)) / outside.sum(dim=(1, 2, 3)).clamp_min(1.0)  # -log(1 - s)
        losses.append(0.5 * (pos + neg).mean())
    return torch.stack(losses).mean()
