"""The network as a flat graph: one tensor in, a flat tuple of tensors out (:class:`FlatOutputs`), and those outputs
typed again (:class:`RawOutput`). The form ``torch.compile``, ONNX export and every inference engine
(:mod:`models.inference.engine`) use; no onnxruntime."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["FlatOutputs", "RawOutput"]


@dataclass
class RawOutput:
    """What the network gives for a batch, as float32 CPU-compatible tensors.

    Attributes:
        levels: per tree level, the (N, n_k) logits (before any temperature).
        embedding: (N, D) pooled features.
        cbam_map: (N, 1, h, w) combined CBAM heatmap in [0, 1] per image
            (:meth:`models.nn.network.HierarchicalNet.cbam_heatmap`), or None without CBAM.
        stages: stride -> (N, 2C) channel statistics of that backbone stage (means, then standard deviations, as
            :func:`models.nn.network.stage_statistics`), for the strides the engine was built to give (the
            "stages" unknown score); empty otherwise.
    """

    levels: list[Tensor]
    embedding: Tensor
    cbam_map: Tensor | None = None
    stages: dict[int, Tensor] = field(default_factory=dict)

    @classmethod
    def from_flat(cls, flat: Sequence[Tensor], num_levels: int, has_cbam: bool,
                  stage_strides: Sequence[int] = ()) -> RawOutput:
        """Rebuild from the flat tuple of :class:`FlatOutputs` (levels..., embedding[, cbam map], stages...)."""
        items = [t.float() for t in flat]
        first_stage = num_levels + 1 + int(has_cbam)
        return cls(levels=items[:num_levels], embedding=items[num_levels],
                   cbam_map=items[num_levels + 1] if has_cbam else None,
                   stages={int(s): items[first_stage + i] for i, s in enumerate(stage_strides)})


class FlatOutputs(nn.Module):
    """The network as one tensor in, a flat tuple out: (level logits..., embedding[, cbam map], stage statistics...).

    The form ``torch.compile`` and ONNX export want; the combined CBAM heatmap
    (:meth:`~models.nn.network.HierarchicalNet.cbam_heatmap`, recipe :data:`models.nn.network.CBAM_RECIPE`)
    becomes a real output, computed inside the graph, so it still falls out of the same forward pass. So do the
    channel statistics of the backbone stages of ``stage_strides`` (what the "stages" unknown score reads): forward
    hooks keep the stages' outputs during this module's own forward only, and the statistics are computed from them
    in the graph. :meth:`remove_hooks` takes the hooks off the (shared) network.

    Raises:
        ValueError: the backbone has no stage of one of ``stage_strides``.
    """

    def __init__(self, net: nn.Module, stage_strides: Sequence[int] = ()) -> None:
        super().__init__()
        self.net = net
        self.has_cbam = bool(getattr(net, "num_cbam", 0))
        self.num_levels = len(net.level_sizes)
        self.stage_strides = tuple(int(s) for s in stage_strides)
        self._seen: dict[int, Tensor] = {}
        self._armed = False
        modules = [net.stage_at_stride(s) for s in self.stage_strides] if self.stage_strides else []
        missing = [s for s, m in zip(self.stage_strides, modules, strict=True) if m is None]
        if missing:
            raise ValueError(f"the backbone has no stage of stride {missing[0]} (the 'stages' unknown score)")
        self._handles = [m.register_forward_hook(self._keeper(s)) for m, s in zip(modules, self.stage_strides,
                                                                                  strict=True)]

    def _keeper(self, stride: int) -> Callable[..., None]:
        def keep(_module: Any, _inputs: Any, output: Tensor) -> None:
            if self._armed:
                self._seen[stride] = output
        return keep

    def remove_hooks(self) -> None:
        """Take the stage hooks off the network (they only act during this module's forward anyway)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def output_names(self) -> list[str]:
        """The names of the flat outputs, in order (the ONNX graph's output names)."""
        names = [f"level{k}" for k in range(self.num_levels)] + ["embedding"]
        return names + (["cbam_map"] if self.has_cbam else []) + [f"stage{s}" for s in self.stage_strides]

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        self._seen, self._armed = {}, bool(self.stage_strides)
        try:
            out = self.net(x)
        finally:
            self._armed = False
        items = [*out.levels, out.embedding]
        if self.has_cbam:
            items.append(self.net.cbam_heatmap())
        for stride in self.stage_strides:  # as stage_statistics, in operations that trace into a graph
            a = self._seen[stride].float()
            mean = a.mean(dim=(2, 3))
            std = ((a - mean[:, :, None, None]) ** 2).mean(dim=(2, 3)).sqrt()
            items.append(torch.cat([mean, std], dim=1))
        self._seen = {}
        return tuple(items)
