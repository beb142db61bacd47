"""Inference engines: the same network run along different CPU paths, and the guard that keeps them equal.

An *engine* turns a preprocessed batch (N, 3, H, W) float32 into :class:`RawOutput` (the level logits,
the embedding and, with CBAM, the combined CBAM heatmap). Paths (:data:`PATHS`):

* ``eager``: PyTorch fp32, NCHW. The reference every other path is compared with.
* ``channels_last``: fp32 with the channels-last memory format (oneDNN's preferred layout for convs).
* ``bf16`` / ``bf16_channels_last``: ``torch.autocast`` to bfloat16, only where the CPU has native
  bf16 (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``: AVX512-BF16 / AMX).
* ``compile`` / ``compile_bf16``: ``torch.compile`` (inductor, with weight freezing); needs a C++
  compiler and costs a long first call. Partial batches are padded to the compiled size.
* ``onnx``: ONNX Runtime on a graph exported from the network (``torch.onnx.export``, TorchScript).
* ``onnx_int8``: the ONNX graph quantised to int8 (static, QDQ, per-channel; calibrated on real images).
* ``onnx_int8_dynamic``: int8 weights, activations quantised on the fly (ONNX Runtime).
* ``torch_int8_dynamic``: ``torch.ao`` dynamic int8 quantisation of the Linear layers.

Which path a bundle uses is chosen by measurement (``fma-model optimize``, :mod:`models.inference.optimize`) and
stored in the manifest under ``inference``. A path is accepted only when it keeps the predictions of
``eager`` (:mod:`models.inference.agreement`): the Top-1 leaf agrees on >= 99.5 % of the images, and for a
calibrated bundle the routing (auto or re-judge, determined node) on >= 99.5 % too; for an uncalibrated one the
confidence (the maximum leaf probability) never moves by more than 0.01.

:func:`engine_from_manifest` rebuilds the stored choice on the current machine, falling back (with
the reason) to the fastest other accepted path that is available here, and to ``eager`` last.

This module imports torch but neither onnxruntime nor onnx until an ONNX path is built.
"""

from __future__ import annotations

import abc
import contextlib
import importlib.util
import io
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from models.bundle.manifest import InferenceRecord
from models.hashing import sha256_hex
from models.inference.flat import FlatOutputs, RawOutput

PATHS: tuple[str, ...] = (
    "eager",
    "channels_last",
    "bf16",
    "bf16_channels_last",
    "compile",
    "compile_bf16",
    "onnx",
    "onnx_int8",
    "onnx_int8_dynamic",
    "torch_int8_dynamic",
)
BASELINE = "eager"
ONNX_PATHS = frozenset({"onnx", "onnx_int8", "onnx_int8_dynamic"})
HOOKED_PATHS = frozenset({"eager", "channels_last", "bf16", "bf16_channels_last"})
"""Paths that run the network's own modules, so forward hooks (the stage statistics of routing) fire."""
INFERENCE_FORMAT = 1
ONNX_FILE = "inference.onnx"
ONNX_OPSET = 17
CALIBRATION_IMAGES = 8  # static int8 calibration (see quantize_onnx for why so few)


class EngineError(RuntimeError):
    """An inference path cannot be used on this machine (or for this network); the message says why."""


# ----------------------------------------------------------------------------------- availability
def bf16_supported() -> bool:
    """True when this CPU runs bfloat16 natively (oneDNN's check: AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def unavailable_reason(path: str) -> str | None:
    """Why ``path`` cannot run on this machine, or None when it can."""
    if path not in PATHS:
        return f"unknown inference path {path!r}; known: {', '.join(PATHS)}"
    if "bf16" in path and not bf16_supported():
        return "this CPU has no native bfloat16 (needs AVX512-BF16 or AMX)"
    if path.startswith("compile"):
        if not hasattr(torch, "compile"):
            return "torch.compile is not available in this torch"
        if not any(shutil.which(c) for c in ("g++", "c++", "clang++", "cl")):
            return "torch.compile needs a C++ compiler (none found on PATH)"
    if path in ONNX_PATHS and importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed"
    if path in ("onnx_int8", "onnx_int8_dynamic") and importlib.util.find_spec("onnx") is None:
        return "the onnx package (needed to quantise) is not installed"
    if path == "torch_int8_dynamic":
        engines = getattr(torch.backends.quantized, "supported_engines", [])
        if not any(e in engines for e in ("x86", "fbgemm", "onednn")):
            return f"no x86 int8 kernels in this torch (quantized engines: {engines})"
    return None


# ------------------------------------------------------------------------------------------- engines
COMPILE_CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"


def compile_cache_dir() -> Path:
    """Where ``torch.compile`` keeps the kernels it built: a per-user cache folder (``platformdirs``) for this torch,
    unless ``TORCHINDUCTOR_CACHE_DIR`` names one. Inductor's default is under the temporary folder, which a reboot
    empties; here a compiled path's C++ kernels are built once per model and torch version, not once per boot.
    (With weight freezing inductor's graph cache is bypassed, so the graph is still lowered on every launch.)"""
    if not os.environ.get(COMPILE_CACHE_ENV):
        import platformdirs

        folder = Path(platformdirs.user_cache_dir("fma-judge", appauthor=False)) / f"inductor-{torch.__version__}"
        os.environ[COMPILE_CACHE_ENV] = str(folder)
    return Path(os.environ[COMPILE_CACHE_ENV])

class Engine(abc.ABC):
    """Runs one inference path. Call it with a preprocessed (N, 3, H, W) float32 batch.

    Attributes:
        path: the path's name (one of :data:`PATHS`).
        channels_last: the engine feeds (and left the network in) the channels-last format.
        stage_strides: the backbone stages whose channel statistics every output carries (:attr:`RawOutput.stages`).
    """

    path: str = BASELINE
    channels_last: bool = False
    stage_strides: tuple[int, ...] = ()

    @abc.abstractmethod
    def __call__(self, x: Tensor) -> RawOutput:
        """Run the network on a batch; every subclass implements one path."""

    def close(self) -> None:
        """Take what the engine put on the (shared) network off it (the torch paths' stage hooks)."""
        return None


class TorchEngine(Engine):
    """Eager PyTorch, optionally channels-last, bf16 autocast and/or ``torch.compile``.

    The network is shared (and its memory format set in place), so build and use one engine at a time.

    Args:
        model: the :class:`models.nn.network.HierarchicalNet`, in eval mode.
        path: one of the torch paths of :data:`PATHS`.
        compile_batch: for the compile paths, the batch size compiled for (smaller batches are padded).
        stage_strides: also give the channel statistics of these backbone stages (:class:`FlatOutputs`).
    """

    def __init__(self, model: nn.Module, path: str, *, compile_batch: int = 16,
                 stage_strides: Sequence[int] = ()) -> None:
        self.path = path
        self.channels_last = path in ("channels_last", "bf16_channels_last", "compile", "compile_bf16")
        self.bf16 = "bf16" in path
        self.model = model.to(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        self.flat = FlatOutputs(model, stage_strides).eval()
        self.stage_strides = self.flat.stage_strides
        self.compile_batch = max(1, int(compile_batch))
        self._fn: Callable[[Tensor], tuple[Tensor, ...]] = self.flat
        if path.startswith("compile"):
            import torch._inductor.config as inductor_config

            compile_cache_dir()
            inductor_config.freezing = True  # fold weights as constants: oneDNN-packed convs/linears
            self._fn = torch.compile(self.flat, dynamic=False)

    def close(self) -> None:
        self.flat.remove_hooks()

    def _run(self, x: Tensor) -> tuple[Tensor, ...]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self._fn(x)
        return self._fn(x)

    @torch.inference_mode()
    def __call__(self, x: Tensor) -> RawOutput:
        n = x.shape[0]
        if not self.path.startswith("compile") or n == self.compile_batch:
            return RawOutput.from_flat(self._run(x), self.flat.num_levels, self.flat.has_cbam, self.stage_strides)
        parts: list[tuple[Tensor, ...]] = []
        for start in range(0, n, self.compile_batch):  # one compiled shape: pad the last part
            chunk = x[start:start + self.compile_batch]
            k = chunk.shape[0]
            if k < self.compile_batch:
                chunk = torch.cat([chunk, chunk.new_zeros((self.compile_batch - k, *chunk.shape[1:]))])
            parts.append(tuple(t[:k].clone() for t in self._run(chunk)))
        flat = [torch.cat([p[i] for p in parts]) for i in range(len(parts[0]))]
        return RawOutput.from_flat(flat, self.flat.num_levels, self.flat.has_cbam, self.stage_strides)


class QuantizedTorchEngine(Engine):
    """``torch.ao`` dynamic int8 quantisation of the Linear layers (a quantised copy; the network is kept)."""

    path = "torch_int8_dynamic"

    def __init__(self, model: nn.Module) -> None:
        from torch.ao.quantization import quantize_dynamic

        model.to(memory_format=torch.contiguous_format)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's deprecation notice (torchao is the successor)
            self.flat = quantize_dynamic(FlatOutputs(model).eval(), {nn.Linear}, dtype=torch.qint8, inplace=False)
        self.num_levels = len(model.level_sizes)
        self.has_cbam = bool(getattr(model, "num_cbam", 0))

    @torch.inference_mode()
    def __call__(self, x: Tensor) -> RawOutput:
        return RawOutput.from_flat(self.flat(x), self.num_levels, self.has_cbam)


class OnnxEngine(Engine):
    """ONNX Runtime (CPU) on an exported graph.

    Args:
        onnx_model: the serialised ONNX model (bytes) or a path to it.
        num_levels: tree levels (outputs before the embedding).
        has_cbam: the graph's last output is the CBAM map.
        path: the path name to report (``onnx``, ``onnx_int8`` ...).
        threads: ONNX Runtime intra-op threads (None = its default, one per core).
    """

    graph: bytes | None = None  # the serialised graph, when built from bytes

    def __init__(self, onnx_model: bytes | Path, *, num_levels: int, has_cbam: bool, path: str = "onnx",
                 threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = path
        self.graph = onnx_model if isinstance(onnx_model, bytes) else None
        self.num_levels = num_levels
        self.has_cbam = has_cbam
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = int(threads)
        options.log_severity_level = 3
        source = onnx_model if isinstance(onnx_model, bytes) else str(onnx_model)
        try:
            self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise EngineError(f"ONNX Runtime cannot load the exported graph: {exc}") from exc
        self.input_name = self.session.get_inputs()[0].name
        # A graph exported with stage outputs (export_onnx; those of older bundles have none) gives their statistics.
        self.stage_strides = tuple(int(o.name[5:]) for o in self.session.get_outputs()
                                   if o.name.startswith("stage") and o.name[5:].isdigit())

    def __call__(self, x: Tensor) -> RawOutput:
        arr = x.detach().to("cpu", torch.float32).contiguous().numpy()
        outs = self.session.run(None, {self.input_name: arr})
        return RawOutput.from_flat([torch.from_numpy(o) for o in outs], self.num_levels, self.has_cbam,
                                   self.stage_strides)


# -------------------------------------------------------------------------------- export & quantise
def export_onnx(model: nn.Module, input_size: tuple[int, int], stage_strides: Sequence[int] | None = None, *,
                with_names: bool = False) -> bytes | tuple[bytes, list[str]]:
    """Export the network (as :class:`FlatOutputs`) to an ONNX graph with a dynamic batch axis (TorchScript exporter).

    ``stage_strides``: the stages whose statistics the graph also gives (default: every stage the backbone has,
    :meth:`~models.nn.network.HierarchicalNet.stage_strides`, so a bundle calibrated later with the "stages" unknown
    score can still run the graph). ``with_names``: also return the output names.
    """
    strides = tuple(model.stage_strides()) if stage_strides is None and hasattr(model, "stage_strides") \
        else tuple(stage_strides or ())
    try:
        flat = FlatOutputs(model, strides).eval()
    except ValueError as exc:
        raise EngineError(str(exc)) from exc
    names = flat.output_names()
    buf = io.BytesIO()
    model.to(memory_format=torch.contiguous_format)
    dummy = torch.zeros(2, 3, *input_size)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings and the TorchScript exporter's deprecation
            torch.onnx.export(flat, (dummy,), buf, input_names=["input"], output_names=names,
                              dynamic_axes={name: {0: "batch"} for name in ["input", *names]},
                              opset_version=ONNX_OPSET, dynamo=False)
    except Exception as exc:  # the exporter raises many types; one clear message
        raise EngineError(f"cannot export the network to ONNX: {type(exc).__name__}: {exc}") from exc
    finally:
        flat.remove_hooks()
    return (buf.getvalue(), names) if with_names else buf.getvalue()


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """Silence the root-logger warnings ONNX Runtime's quantisation tools print for every tensor."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def quantize_onnx(onnx_model: bytes, *, mode: str, calibration: Iterable[Tensor] = ()) -> bytes:
    """Quantise an ONNX graph to int8 with ONNX Runtime's tools.

    Args:
        onnx_model: the fp32 graph from :func:`export_onnx`.
        mode: ``static`` (QDQ, per-channel weights, activations calibrated on ``calibration``) or ``dynamic``.
        calibration: preprocessed batches (N, 3, H, W) for ``static``.

    Raises:
        EngineError: quantisation failed, or ``static`` got no calibration batches.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    # At most CALIBRATION_IMAGES images: ONNX Runtime's calibrator keeps every intermediate tensor of every
    # image it runs until the end (~300 MB per ConvNeXt-T image at 224 px; 32 images took 9.5 GB), and its
    # CalibMaxIntermediateOutputs option drops data instead of folding it in (onnxruntime 1.32).
    given = [b.detach().cpu().float() for b in calibration]
    batches = [part.contiguous().numpy() for part in torch.cat(given)[:CALIBRATION_IMAGES].split(4)] if given else []
    if mode == "static" and not batches:
        raise EngineError("static int8 quantisation needs calibration images")

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter({"input": b} for b in batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._it, None)

    with tempfile.TemporaryDirectory(prefix="fma-onnx-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(onnx_model)
        try:
            with warnings.catch_warnings(), _quiet_logging():
                warnings.simplefilter("ignore")
                if mode == "static":
                    quantize_static(str(src), str(dst), _Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
                elif mode == "dynamic":
                    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
                else:
                    raise EngineError(f"unknown quantisation mode {mode!r} (static or dynamic)")
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"ONNX int8 quantisation ({mode}) failed: {type(exc).__name__}: {exc}") from exc
        return dst.read_bytes()


def build_engine(
    model: nn.Module,
    path: str,
    *,
    input_size: tuple[int, int],
    onnx_model: bytes | None = None,
    calibration: Iterable[Tensor] = (),
    threads: int | None = None,
    batch_size: int = 16,
    stage_strides: Sequence[int] = (),
) -> Engine:
    """Build the engine of ``path`` for a network.

    Args:
        model: the network (eval mode, on the CPU for every path but ``eager``/``channels_last``).
        path: one of :data:`PATHS`.
        input_size: (H, W), for the ONNX export.
        onnx_model: an already exported/quantised graph for the ONNX paths (skips export and quantisation).
        calibration: batches for static int8 quantisation (``onnx_int8`` without ``onnx_model``).
        threads: ONNX Runtime intra-op threads (torch paths use the process-wide torch setting).
        batch_size: the batch size the compile paths are compiled for.
        stage_strides: the torch paths also give these stages' statistics (:class:`FlatOutputs`); an exported ONNX
            graph gives every stage's (:func:`export_onnx`), a stored one what it was exported with, and
            ``torch_int8_dynamic`` none.

    Raises:
        EngineError: the path cannot run here (see :func:`unavailable_reason`), building it failed, or the engine
            cannot give the statistics of ``stage_strides``.
    """
    reason = unavailable_reason(path)
    if reason:
        raise EngineError(f"{path}: {reason}")
    model.eval()
    if path in ONNX_PATHS:
        graph = onnx_model
        if graph is None:
            graph = export_onnx(model, input_size)
            if path == "onnx_int8":
                graph = quantize_onnx(graph, mode="static", calibration=calibration)
            elif path == "onnx_int8_dynamic":
                graph = quantize_onnx(graph, mode="dynamic")
        engine: Engine = OnnxEngine(graph, num_levels=len(model.level_sizes),
                                    has_cbam=bool(getattr(model, "num_cbam", 0)), path=path, threads=threads)
    elif path == "torch_int8_dynamic":
        engine = QuantizedTorchEngine(model)
    else:
        try:
            engine = TorchEngine(model, path, compile_batch=batch_size, stage_strides=stage_strides)
        except ValueError as exc:  # no such stage
            raise EngineError(f"{path}: {exc}") from exc
    missing = sorted(set(stage_strides) - set(engine.stage_strides))
    if missing:
        engine.close()
        raise EngineError(f"{path}: it does not give the statistics of the backbone stage of stride {missing[0]} "
                          "that the 'stages' unknown score reads")
    return engine


# ---------------------------------------------------------------------------- the stored choice
def backbone_family(model: nn.Module) -> str:
    """The backbone family (timm module name, e.g. ``convnext``, ``resnet``), ``+cbam`` with CBAM in every
    block, ``+cbam-stages`` with one after each stage."""
    backbone = getattr(model, "backbone", model)
    family = type(backbone).__module__.rsplit(".", 1)[-1]
    if not getattr(model, "num_cbam", 0):
        return family
    return family + ("+cbam-stages" if hasattr(backbone, "cbam_stages") else "+cbam")


@dataclass(frozen=True)
class Selected:
    """The engine a Predictor runs, and why (``note`` says what fell back, if anything)."""

    engine: Engine
    batch_size: int | None
    threads: int | None
    note: str | None


def stale_reason(record: InferenceRecord, *, weights_sha256: str | None, temperature: float) -> str | None:
    """Why a stored ``inference`` record no longer describes this bundle (weights or temperature changed)."""
    if record.weights_sha256 and weights_sha256 and record.weights_sha256 != weights_sha256:
        return "the weights changed since it was measured"
    if abs(float(record.temperature or 1.0) - float(temperature)) > 1e-9:
        return "the temperature changed since it was measured (calibrated afterwards)"
    if record.format != INFERENCE_FORMAT:
        return f"unknown inference record format {record.format!r}"
    return None


def _ranked_paths(record: InferenceRecord) -> list[str]:
    """The chosen path first, then the other accepted paths, fastest first; ``eager`` always last."""
    accepted = [c for c in record.candidates if c.get("accepted") and c.get("path") in PATHS]
    accepted.sort(key=lambda c: -float(c.get("images_per_s") or 0.0))
    order = [record.path or BASELINE] + [str(c["path"]) for c in accepted]
    out: list[str] = []
    for p in [*order, BASELINE]:
        if p not in out:
            out.append(p)
    return out


def _stored_graph(bundle_path: Path | None, record: InferenceRecord, path: str) -> bytes | None:
    """The stored ONNX graph for ``path`` when it is there and intact, else None."""
    info = record.onnx
    if bundle_path is None or info is None or info.path != path or not bundle_path.is_dir():
        return None
    file = bundle_path / (info.file or ONNX_FILE)
    if not file.is_file():
        return None
    data = file.read_bytes()
    return data if sha256_hex(data) == info.sha256 else None


def engine_from_manifest(
    model: nn.Module,
    record: InferenceRecord | None,
    *,
    bundle_path: Path | None,
    weights_sha256: str | None,
    temperature: float,
    input_size: tuple[int, int],
    device: torch.device,
    default: str = "channels_last",
    max_threads: int | None = None,
    stage_strides: Sequence[int] = (),
) -> Selected:
    """The engine for a loaded bundle: its stored ``inference`` record when usable here.

    ``weights_sha256`` and ``temperature`` are the bundle's own: a record measured on other weights or at
    another temperature is stale.

    Falls back, in order: the other accepted paths of the record (fastest first), then ``eager``. The
    default (no record, a stale record, a non-CPU device) is ``default``. A static-int8 graph is only
    used from the bundle's ``inference.onnx`` (it needs calibration images to rebuild).

    ``max_threads`` caps the ONNX Runtime threads (the recorded count, or one per core when none applies): an
    app that keeps a core for its UI passes ``cores - 1``.

    ``stage_strides``: the stages whose statistics the engine should give (a bundle with the "stages" unknown score);
    a path that cannot give them (``torch_int8_dynamic``, an ONNX graph stored without them) is passed over like an
    unavailable one.

    Returns:
        The engine, the recorded batch size and thread count (None when not applicable), and a note
        saying why the stored choice was not used (None when it was, or when there was none).
    """
    def fallback() -> TorchEngine:
        return TorchEngine(model, default, stage_strides=stage_strides)

    if record is None:
        return Selected(fallback(), None, None, None)
    if device.type != "cpu":
        return Selected(fallback(), None, None,
                        f"the stored inference path was measured on a CPU; using {default} on {device}")
    stale = stale_reason(record, weights_sha256=weights_sha256, temperature=temperature)
    if stale:
        return Selected(fallback(), None, None,
                        f"stored inference choice ignored: {stale}; run `fma-model optimize` again")
    same_machine = int(record.machine.get("cpu_count") or 0) == (os.cpu_count() or 0)
    threads = int(record.threads) if same_machine and record.threads else None
    if max_threads:
        threads = min(threads or max_threads, max_threads)
    batch = int(record.batch_size) if record.batch_size else None
    skipped: list[str] = []
    for path in _ranked_paths(record):
        reason = unavailable_reason(path)
        graph = _stored_graph(bundle_path, record, path) if path in ONNX_PATHS else None
        if reason is None and path == "onnx_int8" and graph is None:
            reason = f"{ONNX_FILE} is missing or does not match the manifest"
        if reason is None:
            try:
                engine = build_engine(model, path, input_size=input_size, onnx_model=graph, threads=threads,
                                      batch_size=batch or 16, stage_strides=stage_strides)
            except EngineError as exc:
                reason = str(exc)
            if reason is None:
                note = None if not skipped else "; ".join(skipped) + f"; using {path}"
                return Selected(engine, batch, threads, note)
        skipped.append(f"{path} unavailable ({reason})")
    raise EngineError("no inference path works on this machine: " + "; ".join(skipped))  # eager never fails
