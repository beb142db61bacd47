"""Heatmaps: where the model looked (LayerCAM computed here; the rest of the Grad-CAM family from the ``grad-cam``
package, for ``bench.heatmap_layers``) and their overlay.

Without CBAM the heatmap is Grad-CAM in its LayerCAM form (positive gradient × activation per position, which
stays sharp at shallow layers) on the layer :meth:`models.nn.network.HierarchicalNet.heatmap_layer` picks (a
stride-4 stage of a CNN, whose fine grid can point at a small defect, then smoothed over about one cell; the
token map of a ViT, with the reshape transform), averaged over the image and its flips (:data:`HEATMAP_FLIPS`).
With CBAM the Predictor uses the spatial attention map instead; it falls out of the forward pass.

The app's LayerCAM (:func:`layercam`) does not import ``grad-cam``: that package pulls in OpenCV, SciPy and
scikit-learn, about 2.7 s of imports on the 2-core machine that held the interpreter lock for up to 0.4 s at a time,
so the window froze when its first heatmap was made. Its maps are post-processed by
:func:`models.inference.arrays.layercam_maps`, as the workstation runtime's are, so both runtimes draw the same map.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image

from models.colormap import jet
from models.inference.arrays import HEATMAP_FLIPS, layercam_maps, normalise_maps

__all__ = ["HEATMAP_FLIPS", "LevelLogits", "cam_maps", "gradients_from", "layercam", "normalise_maps",
           "overlay_heatmap"]

class LevelLogits(torch.nn.Module):
    """Wraps the network so Grad-CAM sees one tensor: the logits of one level."""

    def __init__(self, net: torch.nn.Module, level: int) -> None:
        super().__init__()
        self.net = net
        self.level = level

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).levels[self.level]


def cam_maps(method: type, model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor, targets: Sequence[int],
             *, reshape: Any = None, smooth_px: int | None = None,
             flips: Sequence[tuple[int, ...]] = ((),)) -> np.ndarray:
    """Class-activation maps (B, H, W) in 0..1 from a ``grad-cam`` method, averaged over flipped views.

    Args:
        method: a ``pytorch_grad_cam`` class (LayerCAM, GradCAM, HiResCAM ...).
        model: returns the logits the ``targets`` index.
        layer: the target layer; ``reshape`` its reshape transform (token models).
        x: the input batch (B, C, H, W).
        targets: one class index per image.
        smooth_px: Gaussian sigma in input pixels applied to each view's map (None = none).
        flips: tensor dims flipped per view; ``((),)`` is the image alone.
    """
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    b = x.shape[0]
    views = torch.cat([torch.flip(x, dims) if dims else x for dims in flips])  # one pass over every view
    outputs = [ClassifierOutputTarget(int(t)) for t in targets] * len(flips)
    with gradients_from(model, layer), method(model=model, target_layers=[layer], reshape_transform=reshape) as cam:
        maps = torch.from_numpy(np.asarray(cam(input_tensor=views, targets=outputs), dtype=np.float32))
    if smooth_px:  # a fine map is speckled: smooth it over about one feature cell
        size = 6 * smooth_px + 1
        maps = TF.gaussian_blur(maps[:, None], [size, size], [float(smooth_px)] * 2)[:, 0]
    total = np.zeros((b, x.shape[-2], x.shape[-1]), dtype=np.float32)
    for k, dims in enumerate(flips):  # average over flipped views: the noise differs, the defect does not
        view_maps = maps[k * b:(k + 1) * b]
        if dims:
            view_maps = torch.flip(view_maps, [d - 1 for d in dims])  # (B, C, H, W) flips -> (B, H, W) flips
        total += normalise_maps(view_maps.numpy())
    return normalise_maps(total)


def layercam(model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor, targets: Sequence[int], *,
             reshape: Any = None, smooth_px: int | None = None,
             flips: Sequence[tuple[int, ...]] = ((),)) -> np.ndarray:
    """LayerCAM maps (B, H, W) in 0..1, averaged over flipped views: the positive gradient of each image's target
    logit times ``layer``'s activation, summed over channels, in one forward and one backward pass over every view;
    arguments as :func:`cam_maps`'s. The maps equal ``cam_maps(LayerCAM, ...)``'s up to interpolation rounding."""
    b = x.shape[0]
    views = torch.cat([torch.flip(x, dims) if dims else x for dims in flips])
    index = torch.tensor([int(t) for t in targets] * len(flips), device=x.device)
    seen: list[torch.Tensor] = []
    with gradients_from(model, layer), torch.enable_grad():
        handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out))  # after the leaf hook: the leaf
        try:
            score = model(views).gather(1, index[:, None]).sum()
        finally:
            handle.remove()
        (grad,) = torch.autograd.grad(score, seen[-1])
    activation = seen[-1].detach()
    if reshape is not None:
        activation, grad = reshape(activation), reshape(grad)
    raw = (torch.relu(grad) * activation).sum(dim=1).float().cpu().numpy()  # (views * B, h, w)
    size = (int(x.shape[-2]), int(x.shape[-1]))
    return np.stack([layercam_maps(raw[i::b], size, flips, smooth_px) for i in range(b)])


@contextmanager
def gradients_from(model: torch.nn.Module, layer: torch.nn.Module) -> Iterator[None]:
    """Backward passes inside the block compute only what a CAM reads: the gradient of the target layer's output.

    The weights' gradients (about half of a backward pass) are not computed, and the backward pass stops at the
    target layer (its output is made a leaf), so nothing below it is differentiated either. Same maps, about
    half the time on CPU.
    """
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)

    def leaf(_module: torch.nn.Module, _inputs: Any, output: Any) -> Any:
        return output.detach().requires_grad_(True) if isinstance(output, torch.Tensor) else None

    handle = layer.register_forward_hook(leaf)  # before the CAM's own hook, which then sees the leaf
    try:
        yield
    finally:
        handle.remove()
        for p in frozen:
            p.requires_grad_(True)


def overlay_heatmap(image: Image.Image, heatmap: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """Blend a 0..1 heatmap (any size) over an RGB image with a blue→red colour ramp."""
    rgb = image.convert("RGB")
    hm = Image.fromarray((np.clip(heatmap, 0, 1) * 255).astype(np.uint8), mode="L").resize(rgb.size, Image.BILINEAR)
    h = np.asarray(hm, dtype=np.float32) / 255.0
    colour = jet(h)
    base = np.asarray(rgb, dtype=np.float32) / 255.0
    out = (1 - alpha) * base + alpha * colour
    return Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8), mode="RGB")
