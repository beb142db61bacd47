"""Export a bundle's network for the torch-free workstation runtime (:mod:`models.inference.runtime`).

Two ONNX graphs are written into the bundle, with a ``runtime`` record in its manifest
(:class:`models.bundle.manifest.RuntimeRecord`):

* ``runtime_predict.onnx``: a preprocessed batch (dynamic size) -> the raw level logits, the embedding, the channel
  statistics of the stages the "stages" unknown score reads, and with CBAM the CBAM heatmap: everything a
  prediction, its routing and the similar-case search need, from one forward pass.
* ``runtime_heatmap.onnx``: ``heatmap_views`` images (one image and its flips, :data:`HEATMAP_FLIPS`) and one leaf
  index each -> their LayerCAM at the stride-4 stage, i.e. the positive gradient of the leaf's logit times the
  activation, summed over channels. The gradient is part of the graph: the forward and backward pass are traced
  together into plain aten operations (``make_fx``) and exported with the dynamo exporter, with the one operation it
  cannot translate, the input gradient of a convolution, written as the transposed convolution it is. So the
  default heatmap and "Why this type?" need no autograd at runtime.

The export checks itself: the graphs are run on ONNX Runtime beside the torch path on the same images, and the
largest differences are stored in ``runtime.parity`` (and an export that disagrees is refused).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from models.bundle.files import write_bundle_manifest
from models.bundle.io import BundleError, LoadedBundle
from models.bundle.manifest import RuntimeGraph, RuntimeRecord, RuntimeReference
from models.hashing import sha256_hex
from models.inference.engine import EngineError, export_onnx
from models.inference.heatmaps import HEATMAP_FLIPS

RUNTIME_FORMAT = 1
PREDICT_FILE = "runtime_predict.onnx"
HEATMAP_FILE = "runtime_heatmap.onnx"
REFERENCE_FILE = "runtime_reference.png"
MAX_PROB_DIFF = 1e-3
"""The largest change of any leaf probability the exported graph may make against the torch path."""
MAX_HEATMAP_DIFF = 0.05
"""The largest change of any heatmap pixel (0..1) the exported heatmap graph may make against the torch path."""
MAX_CBAM_DIFF = 0.02
"""The same for a CBAM network's attention heatmap (forward arithmetic only: it stays within about 1e-6)."""


class RuntimeExportError(BundleError):
    """The network cannot be exported for the workstation runtime; the message says why."""


class _Hooked(nn.Module):
    """A graph that puts forward hooks on the (shared) network while it is exported, and takes them off after."""

    handles: list[Any]

    def remove_hooks(self) -> None:
        for handle in self.handles:
            handle.remove()


class LayerCamGraph(_Hooked):
    """(V, 3, H, W) images and (V,) leaf indices -> (V, 1, h, w) LayerCAM (``relu(d logit / d A) * A`` summed over
    channels) at the network's heatmap layer; differentiated only from that layer up."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.layer, self.reshape, self.stride = net.heatmap_layer()
        self._activation: Tensor | None = None
        self.handles = [self.layer.register_forward_hook(self._leaf)]

    def _leaf(self, _module: Any, _inputs: Any, output: Tensor) -> Tensor:
        leaf = output.detach().requires_grad_(True)
        self._activation = leaf
        return leaf

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        with torch.enable_grad():
            logits = self.net(x).levels[-1]
            score = logits.gather(1, target[:, None]).sum()
            (grad,) = torch.autograd.grad(score, self._activation)
        a = self._activation.detach()
        if self.reshape is not None:
            a, grad = self.reshape(a), self.reshape(grad)
        return (torch.relu(grad) * a).sum(dim=1, keepdim=True)


def _conv_input_gradient(grad_output: Any, inputs: Any, weight: Any, bias_sizes: Any, stride: Sequence[int],
                         padding: Sequence[int], dilation: Sequence[int], transposed: bool,
                         output_padding: Sequence[int], groups: int, output_mask: Sequence[bool]) -> tuple[Any, ...]:
    """ONNX for ``aten.convolution_backward`` when only the input's gradient is used (the weights are frozen):
    the transposed convolution with the same weights, padded to the input's size."""
    from onnxscript import opset18 as op

    if transposed:
        raise RuntimeExportError("the heatmap graph cannot differentiate a transposed convolution")
    spatial = len(stride)
    sizes = [int(inputs.shape[2 + i]) for i in range(spatial)]
    outs = [int(grad_output.shape[2 + i]) for i in range(spatial)]
    kernel = [int(weight.shape[2 + i]) for i in range(spatial)]
    extra = [sizes[i] - ((outs[i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + 1)
             for i in range(spatial)]
    grad_input = op.ConvTranspose(grad_output, weight, strides=list(stride), pads=list(padding) * 2,
                                  dilations=list(dilation), group=int(groups), output_padding=extra)
    return grad_input, grad_input, grad_input  # the weight and bias gradients are never read (output_mask)


def _whole_strided_scatter(inputs: Any, src: Any, size: Sequence[int], stride: Sequence[int],
                           storage_offset: int = 0) -> Any:
    """ONNX for ``prims.as_strided_scatter`` in the one form a backward pass makes of it here: writing a gradient
    over the whole of a freshly zeroed tensor (contiguous strides, offset 0), which is the gradient itself."""
    from onnxscript import opset18 as op

    shape = [int(d) for d in inputs.shape]
    want = [int(d) for d in size]
    contiguous = [int(np.prod(want[i + 1:])) for i in range(len(want))]
    if int(np.prod(shape)) != int(np.prod(want)) or [int(s) for s in stride] != contiguous or int(storage_offset):
        raise RuntimeExportError("the heatmap graph cannot express a partial strided write (as_strided_scatter)")
    return op.Reshape(src, op.Constant(value_ints=shape))


def export_predict_graph(net: nn.Module, input_size: tuple[int, int], stage_strides: Sequence[int]) -> tuple[bytes, list[str]]:
    """The predict graph (:func:`models.inference.engine.export_onnx`, the statistics of ``stage_strides``) and its
    output names."""
    try:
        return export_onnx(net, input_size, stage_strides, with_names=True)
    except EngineError as exc:
        raise RuntimeExportError(str(exc)) from exc


def export_heatmap_graph(net: nn.Module, input_size: tuple[int, int], views: int) -> bytes:
    """The heatmap graph for ``views`` images at a time (forward and backward traced together, see the module doc).

    Raises:
        RuntimeExportError: tracing or translating failed (e.g. an operation without an ONNX form).
    """
    from torch._decomp import core_aten_decompositions
    from torch.fx.experimental.proxy_tensor import make_fx

    graph = LayerCamGraph(net).eval()
    x = torch.zeros(views, 3, *input_size)
    target = torch.zeros(views, dtype=torch.long)
    frozen = [p for p in net.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # the exporter's progress lines
            warnings.simplefilter("ignore")
            traced = make_fx(graph, decomposition_table=core_aten_decompositions())(x, target)
            program = torch.onnx.export(
                traced, (x, target), dynamo=True, verbose=False, optimize=True,
                custom_translation_table={torch.ops.aten.convolution_backward.default: _conv_input_gradient,
                                          torch.ops.prims.as_strided_scatter.default: _whole_strided_scatter})
        with tempfile.TemporaryDirectory(prefix="fma-runtime-") as tmp:
            file = Path(tmp) / HEATMAP_FILE
            program.save(str(file))
            extra = [p for p in Path(tmp).iterdir() if p != file]
            if extra:
                raise RuntimeExportError(f"the heatmap graph was saved with external data ({extra[0].name})")
            return file.read_bytes()
    except RuntimeExportError:
        raise
    except Exception as exc:  # tracing and the exporter raise many types
        raise RuntimeExportError(f"cannot export the heatmap graph: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
    finally:
        graph.remove_hooks()
        for p in frozen:
            p.requires_grad_(True)


def _check_images(bundle: LoadedBundle, images: Sequence[str | Path], count: int) -> Tensor:
    """Preprocessed check images: the given ones (first ``count``), else seeded noise."""
    from models.data.transforms import build_eval_transform
    from models.imageio import load_image

    m = bundle.manifest
    if images:
        transform = build_eval_transform(m.hw, m.mean, m.std, m.interpolation)
        return torch.stack([transform(load_image(p)) for p in list(images)[:count]])
    return torch.randn(count, 3, *m.hw, generator=torch.Generator().manual_seed(0))


def export_runtime(bundle: LoadedBundle, *, images: Sequence[str | Path] = (), heatmap: bool = True,
                   check: int = 4) -> RuntimeRecord:
    """Write the runtime graphs into the bundle's folder and its ``runtime`` record into its manifest.

    Args:
        bundle: a loaded bundle (a folder, not an archive).
        images: images to check the graphs on (default: seeded noise).
        heatmap: also export the heatmap graph.
        check: images to check the graphs on.

    Raises:
        RuntimeExportError: the bundle is not a folder, a graph cannot be exported, or it disagrees with torch.
    """
    from models.inference.predictor import Predictor
    from models.inference.runtime import RuntimePredictor

    path = Path(bundle.path)
    if not path.is_dir():
        raise RuntimeExportError(f"{path}: export-runtime writes into a bundle folder; unpack the archive first")
    m = bundle.manifest
    if m.weights is None or not m.weights.sha256:
        raise RuntimeExportError(f"{path}: the manifest has no weights hash to tie the runtime graphs to")
    net = bundle.model.float().eval()
    strides = tuple(m.calibration.unknown.needs_stage_stats) if m.calibration and m.calibration.unknown else ()
    started = time.perf_counter()
    predict_bytes, names = export_predict_graph(net, m.hw, strides)
    heatmap_bytes: bytes | None = None
    heatmap_error = ""
    stride = net.heatmap_layer()[2]
    if heatmap:
        try:
            heatmap_bytes = export_heatmap_graph(net, m.hw, len(HEATMAP_FLIPS))
        except RuntimeExportError as exc:
            heatmap_error = str(exc)
    graphs = {PREDICT_FILE: predict_bytes, **({HEATMAP_FILE: heatmap_bytes} if heatmap_bytes else {})}
    for name, data in graphs.items():
        tmp = path / f".{name}.tmp-{os.getpid()}"
        tmp.write_bytes(data)
        os.replace(tmp, path / name)
    record = RuntimeRecord(
        format=RUNTIME_FORMAT, weights_sha256=m.weights.sha256,
        predict=RuntimeGraph(PREDICT_FILE, sha256_hex(predict_bytes), len(predict_bytes)), outputs=tuple(names),
        stage_strides=strides, has_cbam=bool(getattr(net, "num_cbam", 0)),
        heatmap=RuntimeGraph(HEATMAP_FILE, sha256_hex(heatmap_bytes), len(heatmap_bytes)) if heatmap_bytes else None,
        heatmap_views=len(HEATMAP_FLIPS), heatmap_stride=stride,
        parity={"export_s": round(time.perf_counter() - started, 1),
                **({"heatmap_error": heatmap_error} if heatmap_error else {})},
        exported_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), torch=torch.__version__)
    manifest = m.replace(runtime=record)

    # Check the graphs against the torch path on the same images, before the manifest names them.
    x = _check_images(bundle, images, check)
    torch_side = Predictor(bundle, inference=False, channels_last=False)
    runtime_side = RuntimePredictor(path, manifest=manifest, decode_workers=1)
    ref, got = torch_side.forward_batch(x), runtime_side.forward_batch(x.numpy())
    parity: dict[str, Any] = {"images": int(x.shape[0]), "noise": not images,
                              "max_leaf_prob_diff": float(np.abs(ref.leaf_probs - got.leaf_probs).max()),
                              "max_embedding_diff": float(np.abs(ref.embedding - got.embedding).max())}
    if ref.stage_stats:
        parity["max_stage_stat_diff"] = max(float(np.abs(ref.stage_stats[s] - got.stage_stats[s]).max())
                                            for s in ref.stage_stats)
    if ref.cbam_maps is not None and got.cbam_maps is None:
        raise RuntimeExportError("the exported graph lost the network's CBAM heatmap; not stored")
    if ref.cbam_maps is not None and got.cbam_maps is not None:  # the CBAM heatmap, from the same forward pass
        parity["max_cbam_heatmap_diff"] = float(np.abs(ref.cbam_maps - got.cbam_maps).max())
        if parity["max_cbam_heatmap_diff"] > MAX_CBAM_DIFF:
            raise RuntimeExportError(f"the exported graph moves a CBAM heatmap pixel by "
                                     f"{parity['max_cbam_heatmap_diff']:.2g} (> {MAX_CBAM_DIFF}); not stored")
    if parity["max_leaf_prob_diff"] > MAX_PROB_DIFF:
        raise RuntimeExportError(f"the exported graph changes a leaf probability by {parity['max_leaf_prob_diff']:.2g} "
                                 f"(> {MAX_PROB_DIFF}); not stored")
    if heatmap_bytes:
        targets = [int(np.argmax(p)) for p in ref.leaf_probs[:2]]
        want = torch_side._gradcam(x[:2], targets)
        have = np.stack([runtime_side.layercam(x[i].numpy(), targets[i]) for i in range(len(targets))])
        parity["max_heatmap_diff"] = float(np.abs(want - have).max())
        if parity["max_heatmap_diff"] > MAX_HEATMAP_DIFF:
            raise RuntimeExportError(f"the exported heatmap graph moves a heatmap pixel by "
                                     f"{parity['max_heatmap_diff']:.2g} (> {MAX_HEATMAP_DIFF}); not stored")
    reference = None
    if images:  # the first check image, kept for the workstation's self-test with what torch predicted for it
        from models.imageio import load_image

        load_image(images[0]).convert("RGB").save(path / REFERENCE_FILE, format="PNG")
        data = (path / REFERENCE_FILE).read_bytes()
        first = torch_side.predict([path / REFERENCE_FILE])[0]
        reference = RuntimeReference(REFERENCE_FILE, sha256_hex(data), first.leaf or "", round(first.confidence, 6))
    record = dataclasses.replace(record, parity={**record.parity, **parity}, reference=reference)
    write_bundle_manifest(path, manifest.replace(runtime=record))
    return record
