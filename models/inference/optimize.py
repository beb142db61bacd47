"""``fma-model optimize``: measure every inference path on real images, keep the fastest that keeps predictions.

For one bundle on this machine:

1. Decode and preprocess up to ``--max-images`` images of ``--data`` (evenly spread over the list).
2. Run them through ``eager`` (fp32, NCHW): the reference outputs and the baseline speed.
3. For every other path of :data:`models.inference.engine.PATHS` available here: build it (export/quantise),
   time its first batch (compilation shows here), then time a pass over all images and compare its leaf
   distributions with the reference (:func:`models.inference.agreement.agreement`). A path clearly slower than the
   best so far is stopped early (its figures cover the images it ran).
4. Accept a path when it keeps the predictions (:class:`models.inference.agreement.Criteria`: Top-1 agreement
   >= 99.5 %; for a calibrated bundle the same routing on >= 99.5 % of the images, else confidence within 0.01)
   and its first call took at most ``--max-warmup-s`` (an app that waits a minute for ``torch.compile`` at model
   load does not feel fast). Choose the fastest accepted.
5. Tune the batch size and thread count of the chosen path the same way (equal predictions required).
6. Time the chosen setting in alternation with eager (:mod:`models.inference.interleave`, 5 rounds): each step
   above timed a path at its own moment, and a busy spell can make any path look faster. A setting that is not
   faster side by side gives way to the next-fastest accepted path (up to
   :data:`models.inference.side_by_side.INTERLEAVED_TRIES`), then to eager.
7. Store the choice and all the evidence in the manifest under ``inference`` (and the ONNX graph, when
   an ONNX path wins, as ``inference.onnx`` with its sha256), so the app and ``predict`` use it.

Throughput is wall-clock images/s of the model alone (preprocessed tensors in memory), so the figures
of a busy machine are noisy: every path is measured on the same images in the same run.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.bundle.files import ARCHIVE_SUFFIXES, read_bundle_manifest, write_bundle_manifest
from models.bundle.io import LoadedBundle, load_bundle
from models.bundle.manifest import BundleError, BundleManifest, InferenceRecord, OnnxGraph
from models.hashing import sha256_hex
from models.imageio import decode_or_reason, expand_paths
from models.inference import side_by_side
from models.inference.agreement import Agreement, Criteria, Decide, Scores, agreement
from models.inference.engine import (
    BASELINE,
    CALIBRATION_IMAGES,
    INFERENCE_FORMAT,
    ONNX_FILE,
    ONNX_PATHS,
    PATHS,
    Engine,
    EngineError,
    backbone_family,
    bf16_supported,
    build_engine,
    export_onnx,
    quantize_onnx,
    unavailable_reason,
)
from models.inference.interleave import Interleaved
from models.inference.outputs import present
from models.inference.side_by_side import short
from models.routing.policy import routing_decisions
from models.sysinfo import cpu_name

DEFAULT_MAX_IMAGES = 200
DEFAULT_MAX_WARMUP_S = 10.0
ABORT_RATIO = 0.6  # stop measuring a path running below this share of the best speed so far


@dataclass
class CandidateResult:
    """The evidence for one inference path (or one batch/thread setting of the chosen path).

    Attributes:
        path: the path's name.
        reason: why it is not accepted (unavailable, failed, too slow to start, predictions differ), else None.
        build_s: seconds to build it (export, quantisation).
        warmup_s: seconds of its first batch (compilation, lazy initialisation).
        images_per_s: throughput over the timed pass.
        agreement: comparison with the reference on the images it ran.
        completed: the timed pass covered every image (False when stopped early as clearly slower).
        batch_size, threads: the setting measured.
    """

    path: str
    reason: str | None = None
    build_s: float | None = None
    warmup_s: float | None = None
    images_per_s: float | None = None
    agreement: Agreement | None = None
    completed: bool = False
    batch_size: int | None = None
    threads: int | None = None
    graph: bytes | None = field(default=None, repr=False)

    @property
    def accepted(self) -> bool:
        return self.reason is None and self.completed and self.images_per_s is not None

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None, nd: int = 3) -> float | None:
            return None if v is None else round(float(v), nd)

        out: dict[str, Any] = {"path": self.path, "accepted": self.accepted, "reason": self.reason,
                               "images_per_s": r(self.images_per_s), "warmup_s": r(self.warmup_s),
                               "build_s": r(self.build_s), "completed": self.completed}
        if self.batch_size is not None:
            out["batch_size"] = self.batch_size
        if self.threads is not None:
            out["threads"] = self.threads
        if self.agreement is not None:
            out.update(self.agreement.to_dict())
        return out


@dataclass
class OptimizeResult:
    """The stored ``inference`` record, the evidence behind it, and the ONNX graph to store (if any)."""

    record: InferenceRecord
    candidates: list[CandidateResult]
    tuning: list[CandidateResult]
    graph: bytes | None = None

    @property
    def chosen(self) -> str:
        return self.record.path


# ------------------------------------------------------------------------------------- measuring
def run_engine(
    engine: Engine,
    batches: Sequence[torch.Tensor],
    postprocess: Callable[[Any], Scores],
    *,
    abort_below: float | None = None,
) -> tuple[Scores, float, float, bool]:
    """Time a pass of ``engine`` over ``batches`` (after one warm-up batch).

    Args:
        engine: the engine.
        batches: preprocessed batches.
        postprocess: raw output -> what the guard compares (leaf probabilities, unknown scores).
        abort_below: stop once at least two batches and one second have run below this speed (images/s).

    Returns:
        (the scores of the images that ran, warm-up seconds, images/s, completed).
    """
    t0 = time.perf_counter()
    engine(batches[0])
    warmup = time.perf_counter() - t0
    probs: list[Scores] = []
    done, elapsed = 0, 0.0
    for i, batch in enumerate(batches):
        t0 = time.perf_counter()
        raw = engine(batch)
        elapsed += time.perf_counter() - t0
        probs.append(postprocess(raw))
        done += batch.shape[0]
        if abort_below is not None and i >= 1 and elapsed >= 1.0 and done / elapsed < abort_below \
                and i < len(batches) - 1:
            return Scores.concat(probs), warmup, done / elapsed, False
    return Scores.concat(probs), warmup, done / max(elapsed, 1e-9), True


def stages_needed(predictor: Any) -> tuple[int, ...]:
    """The backbone stages whose statistics the bundle's unknown score reads (every engine must give them)."""
    calibration = predictor.calibration
    return tuple(calibration.unknown.needs_stage_stats) if calibration and calibration.unknown else ()


def guard_scores(predictor: Any, out: Any) -> Scores:
    """What the guard compares of a batch's output (:class:`~models.inference.outputs.BatchOutput`, from the torch
    Predictor or the workstation runtime): its leaf distribution and, with an unknown detector, the unknown scores
    (None when the output lacks the stages the score reads); for a multi-label bundle, each image's predicted set and
    set routing."""
    if predictor.is_multilabel:  # the predicted set and its set routing (spot checks left out)
        sets = present(predictor.presence_scores(out.level_logits), predictor.presence_thresholds)
        routes = predictor.route(out, [None] * len(sets))
        return Scores(out.leaf_probs, decisions=tuple(
            (tuple(np.flatnonzero(row).tolist()), r.route) for row, r in zip(sets, routes, strict=True)))
    detector = predictor.calibration.unknown if predictor.calibration else None
    needed = stages_needed(predictor)
    if detector is None or not set(needed) <= set(out.stage_stats or {}):
        return Scores(out.leaf_probs)
    return Scores(out.leaf_probs, detector.score(leaf_probs=out.leaf_probs, level_logits=out.level_logits,
                                                 embeddings=out.embedding, stage_stats=out.stage_stats))


def decider(predictor: Any) -> Decide | None:
    """The guard's routing comparison of a calibrated bundle (:func:`models.routing.policy.routing_decisions`), None
    for an uncalibrated one."""
    calibration = predictor.calibration
    return None if calibration is None else functools.partial(routing_decisions, calibration, predictor.taxonomy)


def judge(result: CandidateResult, reference: Scores | np.ndarray, probs: Scores | np.ndarray, criteria: Criteria,
          max_warmup_s: float, decide: Decide | None = None) -> CandidateResult:
    """Fill in the agreement (with ``decide``, a calibrated bundle's routing, compared too) and, when the path must
    be rejected, the reason (in place; returned)."""
    result.agreement = agreement(Scores.of(reference).head(len(probs)), probs, decide)
    why = result.agreement.why_not(criteria)
    if why:
        result.reason = f"predictions differ: {why}"
    elif result.warmup_s is not None and result.warmup_s > max_warmup_s and result.path != BASELINE:
        result.reason = f"first batch took {result.warmup_s:.1f} s > {max_warmup_s:g} s (model load would stall)"
    elif not result.completed:
        result.reason = "clearly slower than the best path so far (stopped early)"
    return result


def choose(results: Sequence[CandidateResult]) -> CandidateResult:
    """The fastest accepted result; ``eager`` (the reference) when nothing else is accepted.

    Raises:
        ValueError: no result is accepted at all.
    """
    accepted = [r for r in results if r.accepted]
    if not accepted:
        raise ValueError("no inference path was accepted (not even the eager reference)")
    return max(accepted, key=lambda r: float(r.images_per_s or 0.0))


# ----------------------------------------------------------------------------------------- input
def spread(items: Sequence[Any], n: int) -> list[Any]:
    """Up to ``n`` items evenly spread over the sequence (keeps every class of a sorted manifest)."""
    if n <= 0 or len(items) <= n:
        return list(items)
    idx = np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))
    return [items[i] for i in idx]


def image_list(data: str | Path) -> list[Path]:
    """The image paths of a manifest CSV (its ``path`` column) or of a folder (recursively, sorted)."""
    from models.data.manifest import DataError, manifest_paths

    data = Path(data)
    if data.suffix.lower() == ".csv":
        found = manifest_paths(data)  # labels unused: a manifest without them serves too
    elif data.is_dir():
        found = expand_paths([str(data)], recursive=True)[0]
    else:
        raise DataError(f"{data}: expected a manifest .csv or a folder of images")
    if not found:  # (export-runtime checked its graphs on noise then, without a word)
        raise DataError(f"{data}: no images in it")
    return found


def preprocess_all(preprocess: Callable[[Any], torch.Tensor], images: Sequence[Any], *,
                   workers: int = 2) -> tuple[list[torch.Tensor], list[str]]:
    """Decode and preprocess images on a thread pool; unreadable ones are skipped and listed."""
    tensors: list[torch.Tensor] = []
    skipped: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for src, (tensor, reason) in zip(images, pool.map(lambda s: decode_or_reason(preprocess, s), images),
                                         strict=True):
            if tensor is None:
                skipped.append(f"{src}: {reason}")
            else:
                tensors.append(tensor)
    return tensors, skipped


def batched(tensors: Sequence[torch.Tensor], size: int) -> list[torch.Tensor]:
    return [torch.stack(list(tensors[i:i + size])) for i in range(0, len(tensors), size)]


def machine_info() -> dict[str, Any]:
    """What the measurements depend on."""
    try:
        import onnxruntime

        ort_version: str | None = onnxruntime.__version__
    except ImportError:
        ort_version = None
    try:
        load: list[float] | None = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "bf16": bf16_supported(), "torch": torch.__version__,
            "onnxruntime": ort_version, "platform": platform.platform(), "load_average": load}


# -------------------------------------------------------------------------------------- optimise
def optimize_bundle(
    bundle: LoadedBundle | str | Path,
    images: Sequence[Any],
    *,
    candidates: Sequence[str] | None = None,
    batch_size: int = 16,
    batch_sizes: Sequence[int] = (8, 16, 32),
    threads: Sequence[int] | None = None,
    criteria: Criteria = Criteria(),  # noqa: B008 (frozen dataclass)
    max_warmup_s: float = DEFAULT_MAX_WARMUP_S,
    calibration_images: Sequence[Any] = (),
    log: Callable[[str], None] | None = None,
    screen_only: bool = False,
) -> OptimizeResult:
    """Measure the inference paths of a bundle on ``images`` and choose one (nothing is written).

    Args:
        bundle: the bundle (or its path).
        images: image paths or PIL images; unreadable ones are skipped.
        candidates: paths to try besides ``eager`` (default: every path of :data:`PATHS`).
        batch_size: batch size while comparing paths.
        batch_sizes: batch sizes tried for the chosen path.
        threads: thread counts tried for the chosen path (default: all cores, and one less).
        criteria: the equality guard.
        max_warmup_s: longest acceptable first batch.
        calibration_images: images for static int8 calibration (default: the first images of ``images``).
        log: called with one line per step (progress).
        screen_only: steps 1-4 alone, every path over every image (none stopped early for speed): the agreement
            of each path, as ``bench.trained_paths`` reports it. The record then holds the fastest accepted path
            at its screening speed, untuned and not timed side by side: not a choice for the app.

    Raises:
        ValueError: no readable image, or an unknown candidate name.
    """
    from models.inference.predictor import Predictor

    say = log or (lambda _msg: None)
    loaded = bundle if isinstance(bundle, LoadedBundle) else load_bundle(bundle)
    wanted = [p for p in (candidates if candidates is not None else PATHS) if p != BASELINE]
    unknown = [p for p in wanted if p not in PATHS]
    if unknown:
        raise ValueError(f"unknown inference path(s) {', '.join(unknown)}; known: {', '.join(PATHS)}")
    reference_predictor = Predictor(loaded, inference=False, channels_last=False)
    reference_predictor.unwatch_stages()  # every engine below is built with the stage outputs it needs
    model, input_size = reference_predictor.model, reference_predictor.input_size
    decide = decider(reference_predictor)  # a calibrated bundle: paths are judged by the routing they keep
    needed = stages_needed(reference_predictor)  # ... with its unknown score's threshold too
    build = functools.partial(build_engine, stage_strides=needed)

    def leaf_probs(raw: Any) -> Scores:
        return guard_scores(reference_predictor, reference_predictor.postprocess(raw))

    tensors, skipped = preprocess_all(reference_predictor.preprocess, images)
    for line in skipped[:5]:
        say(f"skipped {line}")
    if not tensors:
        raise ValueError("none of the given images could be read")
    batches = batched(tensors, batch_size)
    calib_src = list(calibration_images) or []
    calib = batched(preprocess_all(reference_predictor.preprocess, calib_src)[0], batch_size) if calib_src \
        else [torch.cat(list(batches[: 1 + CALIBRATION_IMAGES // batch_size]))[:CALIBRATION_IMAGES]]

    base_threads = torch.get_num_threads()
    cores = os.cpu_count() or 1
    thread_options = list(threads) if threads else sorted({cores, max(1, cores - 1)}, reverse=True)
    # The thread count first (with eager, on two batches): on a busy machine fewer threads can be far
    # faster, and comparing the paths at a bad count would rank them by how they suffer from it.
    probe = _probe_threads(model, input_size, batches[:2], thread_options, leaf_probs) \
        if len(thread_options) > 1 else []
    run_threads = int(max(probe, key=lambda r: float(r.images_per_s or 0.0)).threads or cores) if probe \
        else thread_options[0]
    for r in probe:
        say(f"  threads {r.threads}: eager {r.images_per_s:7.2f} img/s")
    torch.set_num_threads(run_threads)
    say(f"{len(tensors)} images, batch {batch_size}, {run_threads} threads")
    ref = CandidateResult(BASELINE, batch_size=batch_size, threads=run_threads)
    t0 = time.perf_counter()
    eager = build(model, BASELINE, input_size=input_size)
    ref.build_s = time.perf_counter() - t0
    reference, ref.warmup_s, ref.images_per_s, ref.completed = run_engine(eager, batches, leaf_probs)
    judge(ref, reference, reference, criteria, max_warmup_s, decide)
    say(_line(ref, ref.images_per_s))
    results = [ref]
    graphs: dict[str, bytes] = {}
    for path in wanted:
        res = CandidateResult(path, batch_size=batch_size, threads=run_threads)
        results.append(res)
        reason = unavailable_reason(path)
        if reason:
            res.reason = f"unavailable: {reason}"
            say(_line(res, ref.images_per_s))
            continue
        engine = None
        try:
            t0 = time.perf_counter()
            graph = _graph_for(path, model, input_size, calib, graphs)
            engine = build(model, path, input_size=input_size, onnx_model=graph, batch_size=batch_size,
                           threads=run_threads)
            res.build_s = time.perf_counter() - t0
            res.graph = graph
            best = max(float(r.images_per_s or 0.0) for r in results if r.accepted)
            probs, res.warmup_s, res.images_per_s, res.completed = run_engine(
                engine, batches, leaf_probs, abort_below=None if screen_only else ABORT_RATIO * best)
        except (EngineError, RuntimeError, ValueError, TypeError, NotImplementedError) as exc:
            res.reason = f"failed: {short(exc)}"
            say(_line(res, ref.images_per_s))
            continue
        finally:
            if engine is not None:
                engine.close()
            model.to(memory_format=torch.contiguous_format)
        judge(res, reference, probs, criteria, max_warmup_s, decide)
        say(_line(res, ref.images_per_s))
    best = choose(results)
    if screen_only:
        eager.close()
        torch.set_num_threads(base_threads)
        record = _record(loaded, best, results, [], criteria, max_warmup_s, len(tensors), ref, probe, None)
        return OptimizeResult(record=record, candidates=results, tuning=[])
    tuning = _tune(best, model, input_size, batches, reference, leaf_probs, criteria, max_warmup_s, batch_sizes,
                   thread_options, say, decide, build)
    # the settings are compared with each other (same subset of images), not with the full pass
    final = choose(tuning) if any(r.accepted for r in tuning) else best
    # Each choice is timed in alternation with eager; one that is not faster side by side (the screening's lead was
    # the load's) gives way to the next-fastest accepted path, at most INTERLEAVED_TRIES of them, then to eager.
    runners_up = sorted((r for r in results if r.accepted and r.path not in (BASELINE, best.path)),
                        key=lambda r: -float(r.images_per_s or 0.0))

    def graph_of(c: CandidateResult) -> bytes | None:  # a tuned setting is best's path: its graph is best's
        return best.graph if c.path == best.path else c.graph

    kept, timing, rejected = side_by_side.confirm([final, *runners_up] if final.path != BASELINE else [], graph_of,
                                                  model, input_size, batches, run_threads, say, build)
    if kept is not None:
        final = kept
    elif rejected:
        say("eager is kept")
        final = CandidateResult(BASELINE, images_per_s=ref.images_per_s, completed=True, batch_size=batch_size,
                                threads=run_threads)
    eager.close()
    torch.set_num_threads(base_threads)
    graph = graph_of(final) if final.path in ONNX_PATHS else None
    record = _record(loaded, final, results, tuning, criteria, max_warmup_s, len(tensors), ref, probe, timing,
                     rejected, graph)
    return OptimizeResult(record=record, candidates=results, tuning=tuning, graph=graph)


def _graph_for(path: str, model: Any, input_size: tuple[int, int], calib: Sequence[torch.Tensor],
               cache: dict[str, bytes]) -> bytes | None:
    """The ONNX graph of an ONNX path (fp32 exported once, then quantised), None for torch paths."""
    if path not in ONNX_PATHS:
        return None
    if "onnx" not in cache:
        cache["onnx"] = export_onnx(model, input_size)
    if path not in cache:
        mode = "static" if path == "onnx_int8" else "dynamic"
        cache[path] = quantize_onnx(cache["onnx"], mode=mode, calibration=calib)
    return cache[path]


def _probe_threads(model: Any, input_size: tuple[int, int], batches: Sequence[torch.Tensor],
                   thread_options: Sequence[int], leaf_probs: Callable[[Any], Scores]) -> list[CandidateResult]:
    """Eager throughput at each thread count (a warm-up batch, then ``batches``)."""
    out = []
    for n_threads in thread_options:
        torch.set_num_threads(n_threads)
        engine = build_engine(model, BASELINE, input_size=input_size)
        _, warmup, ips, _ = run_engine(engine, batches, leaf_probs)
        out.append(CandidateResult(BASELINE, warmup_s=warmup, images_per_s=ips, completed=True,
                                   batch_size=int(batches[0].shape[0]), threads=n_threads))
    return out


def _tune(best: CandidateResult, model: Any, input_size: tuple[int, int], batches: Sequence[torch.Tensor],
          reference: Scores, leaf_probs: Callable[[Any], Scores], criteria: Criteria, max_warmup_s: float,
          batch_sizes: Sequence[int], thread_options: Sequence[int],
          say: Callable[[str], None], decide: Decide | None = None,
          build: Callable[..., Engine] = build_engine) -> list[CandidateResult]:
    """Batch size x thread count for the chosen path, on (up to) the first 64 images."""
    sizes = [best.batch_size or 16] if best.path.startswith("compile") else list(batch_sizes)
    flat = torch.cat(list(batches))
    subset = flat[: max(64, max(sizes))]
    out: list[CandidateResult] = []
    for n_threads in thread_options:
        for size in sizes:
            res = CandidateResult(best.path, batch_size=size, threads=n_threads)
            out.append(res)
            try:
                torch.set_num_threads(n_threads)
                engine = build(model, best.path, input_size=input_size, onnx_model=best.graph,
                               threads=n_threads, batch_size=size)
                parts = [subset[i:i + size] for i in range(0, len(subset), size)]
                try:
                    probs, res.warmup_s, res.images_per_s, res.completed = run_engine(engine, parts, leaf_probs)
                finally:
                    engine.close()
            except (EngineError, RuntimeError, ValueError) as exc:
                res.reason = f"failed: {short(exc)}"
                continue
            finally:
                model.to(memory_format=torch.contiguous_format)
            judge(res, reference, probs, criteria, max_warmup_s, decide)
            say(f"  tune {best.path} batch {size:>3} threads {n_threads}: {res.images_per_s:7.2f} img/s"
                + (f"  ({res.reason})" if res.reason else ""))
    return out


def _record(loaded: LoadedBundle, final: CandidateResult, results: Sequence[CandidateResult],
            tuning: Sequence[CandidateResult], criteria: Criteria, max_warmup_s: float, n_images: int,
            ref: CandidateResult, probe: Sequence[CandidateResult], timing: Interleaved | None,
            rejected: Sequence[str] = (), graph: bytes | None = None) -> InferenceRecord:
    m = loaded.manifest
    screened = next((r for r in results if r.path == final.path), final)  # on all images, as eager was
    speed = float(screened.images_per_s or 0.0)
    base = float(ref.images_per_s or 1e-9)
    onnx = None
    if final.path in ONNX_PATHS and graph is not None:
        onnx = OnnxGraph(path=final.path, file=ONNX_FILE, sha256=sha256_hex(graph), bytes=len(graph))
    return InferenceRecord(
        format=INFERENCE_FORMAT,
        path=final.path,
        batch_size=int(final.batch_size or 16),
        threads=int(final.threads) if final.threads else None,
        family=backbone_family(loaded.model),
        backbone=m.network.backbone,
        speedup_vs_eager=1.0 if final.path == BASELINE else round(timing.ratio if timing is not None else speed / base, 3),
        interleaved={} if timing is None else {**timing.to_json(), **(
            {"rejected_path": rejected[0], "rejected_paths": list(rejected)} if rejected else {})},
        images=n_images,
        criteria={**criteria.to_dict(), "max_warmup_s": max_warmup_s},
        temperature=m.effective_temperature,
        weights_sha256=m.weights.sha256 if m.weights else None,
        machine=machine_info(),
        measured_at=_dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        candidates=tuple(r.to_dict() for r in results),
        tuning=tuple(r.to_dict() for r in tuning),
        thread_probe=tuple({"threads": r.threads, "eager_images_per_s": round(float(r.images_per_s or 0), 3)}
                           for r in probe),
        onnx=onnx,
    )


def save_result(bundle_path: str | Path, result: OptimizeResult) -> BundleManifest:
    """Write the choice into a bundle folder (``inference.onnx`` first, then the manifest); returns the manifest."""
    path = Path(bundle_path)
    if path.suffix.lower() in ARCHIVE_SUFFIXES or not path.is_dir():
        raise BundleError(f"{path}: optimize needs a bundle folder (extract a .zip bundle first)")
    manifest = read_bundle_manifest(path)
    onnx_file = path / ONNX_FILE
    try:
        if result.graph is not None:
            tmp = onnx_file.with_suffix(".onnx.tmp")
            tmp.write_bytes(result.graph)
            tmp.replace(onnx_file)
        elif onnx_file.exists():
            onnx_file.unlink()  # an earlier choice's graph; no longer used
    except OSError as exc:
        raise BundleError(f"cannot write {onnx_file}: {exc}") from exc
    return write_bundle_manifest(path, manifest.replace(inference=result.record))


def _line(res: CandidateResult, base: float | None) -> str:
    speed = f"{res.images_per_s:7.2f} img/s" if res.images_per_s else "      -      "
    ratio = f"{res.images_per_s / base:5.2f}x" if res.images_per_s and base else "   - "
    agree = (f"top1 {res.agreement.top1:7.2%}  dp {res.agreement.max_prob_diff:.4f}"
             if res.agreement else " " * 26)
    warm = f"warm-up {res.warmup_s:5.1f} s" if res.warmup_s is not None else " " * 13
    verdict = "ok" if res.accepted else (res.reason or "")
    return f"  {res.path:<20} {speed} {ratio}  {agree}  {warm}  {verdict}"
