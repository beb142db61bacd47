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
that slot (an existing SE/ECA module is replaced).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CBAM", "ChannelGate", "SpatialGate", "add_cbam_to_resnet", "cbam_modules"]


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

    def attention_map(self, x: Tensor) -> Tensor:
        """Return the sigmoid attention map (B, 1, H, W) for ``x`` (B, C, H, W)."""
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(pooled))

    def forward(self, x: Tensor) -> Tensor:
        """Scale every spatial position of ``x``."""
        return x * self.attention_map(x)


class CBAM(nn.Module):
    """Channel gate followed by spatial gate; keeps the last spatial map for heatmaps.

    Args:
        channels: Number of channels of the refined feature map.
        reduction: Reduction ratio of the channel gate's MLP.
        spatial_kernel: Kernel size of the spatial gate's convolution.

    Attributes:
        last_spatial_map: Detached (B, 1, H, W) spatial attention of the last forward pass, in [0, 1];
            ``None`` before the first forward.
    """

    def __init__(self, channels: int, reduction: int = 16, spatial_kernel: int = 7) -> None:
        super().__init__()
        self.channel_gate = ChannelGate(channels, reduction)
        self.spatial_gate = SpatialGate(spatial_kernel)
        self.last_spatial_map: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        """Refine ``x`` (B, C, H, W); the output has the same shape."""
        x = self.channel_gate(x)
        spatial = self.spatial_gate.attention_map(x)
        self.last_spatial_map = spatial.detach()
        return x * spatial


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
