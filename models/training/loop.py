"""The training loop: train a hierarchical classifier and write a model bundle (``fma-model train``).

The loop is deliberately short (nanoGPT style): :func:`train` reads the data, chooses the settings left on
"auto" from it (:mod:`models.training.inspection`: one log line per choice), builds the run, then for each
epoch trains, validates, logs one CSV row and saves a checkpoint; finally it writes the best epoch's
weights as a bundle. The pieces live beside it: :mod:`models.training.data` (samples, sampler, loader),
:mod:`models.training.runtime` (device, ranks, precision), :mod:`models.training.schedule` (optimiser,
learning rate) and :mod:`models.training.checkpoint` (checkpoints, resuming, ``--init-from``). It runs
unchanged on a CPU, one GPU, or several GPUs under ``torchrun`` (DistributedDataParallel, one process per GPU).

Determinism: every epoch reseeds from ``(seed, epoch)`` (sampler order, augmentation, dropout), so a run
resumed from its epoch-N checkpoint continues exactly as the uninterrupted run would have.

Validation runs the model being trained through the Predictor's own batches
(:meth:`models.inference.predictor.Predictor.run_batches`, the path of every prediction; see
:func:`models.inference.collect.collect_outputs`), with the manifest the bundle will be saved with.
"""

from __future__ import annotations

import csv
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from models.bundle.files import MANIFEST_NAME, read_bundle_manifest
from models.bundle.io import LoadedBundle, build_manifest, save_bundle
from models.bundle.manifest import BundleManifest, InitFrom, MultiLabelRecord, TrainInfo
from models.data.manifest import Sample
from models.nn.cbam import attention_box_loss
from models.nn.config import IMBALANCE_LOSSES, weight_file_problem
from models.nn.losses import HierarchicalLoss
from models.nn.multilabel import MultiLabelLoss, level_multi_hot
from models.nn.network import (
    CBAM_HEATMAP_STRIDES,
    HierarchicalNet,
    build_network,
    check_backbone_name,
    resolve_data_config,
)
from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy
from models.training.checkpoint import (
    check_resumable,
    checkpoint_taxonomy,
    init_from_bundle,
    load_checkpoint,
    load_weights,
    same_tree,
    save_checkpoint,
    save_weights,
)
from models.training.config import ConfigError, TrainConfig
from models.training.data import EpochSampler, TrainingData, load_training_data, make_loader
from models.training.inspection import choose_settings, level_counts, profile_data
from models.training.runtime import Runtime, peak_memory_mb, setup_runtime
from models.training.schedule import make_optimizer, schedule_factor
from models.training.spectrum import add_spectrum_head, check_spectra
from models.training.validation import ExtraMetrics, validate

Log = Callable[[str], None]


@dataclass
class TrainResult:
    bundle: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    best_epoch: int = 0
    spectrum: dict[str, Any] | None = None  # what the spectrum head's training fitted (network.spectrum: true)


@dataclass
class _Run:
    """Everything one training run works with (built once by :func:`_build_run`)."""

    cfg: TrainConfig
    rt: Runtime
    taxonomy: Taxonomy
    data: TrainingData
    model: HierarchicalNet
    ddp_model: torch.nn.Module
    loss_fn: torch.nn.Module  # HierarchicalLoss, or MultiLabelLoss (loss.kind: multilabel)
    opt: torch.optim.Optimizer
    loader: DataLoader
    sampler: EpochSampler
    data_cfg: dict[str, Any]
    steps_per_epoch: int
    init_from: InitFrom | None
    out: Path
    scaler: torch.amp.GradScaler
    leaf_counts: Sequence[int] = ()
    choices: dict[str, Any] = field(default_factory=dict)
    multi_hot: torch.Tensor | None = None  # multi-label: each training image's multi-hot node targets, by index
    multilabel: MultiLabelRecord | None = None  # multi-label: the presence thresholds chosen on validation
    epochs: int = 0  # the epochs this run plans: cfg.epochs, fewer when max_minutes says so (:func:`_fit_budget`)
    data_sha: str = ""  # :meth:`TrainingData.hash` (rank 0): kept in the checkpoint, so --resume sees other data

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    @property
    def warmup_steps(self) -> int:
        return round(self.cfg.warmup_epochs * self.steps_per_epoch)

    def lr_at(self, step: int) -> float:
        return self.cfg.lr * schedule_factor(self.cfg.schedule, step, self.total_steps, self.warmup_steps,
                                             self.cfg.min_lr / self.cfg.lr)

    def manifest(self, metrics: dict[str, Any] | None = None, train: TrainInfo | None = None) -> BundleManifest:
        return build_manifest(model=self.model, taxonomy=self.taxonomy, data_config=self.data_cfg, loss=self.cfg.loss,
                              name=self.cfg.name, metrics=metrics, train=train).replace(multilabel=self.multilabel)


@dataclass
class _Progress:
    """What survives an epoch: the history, the best score so far, and the early-stopping count."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"score": -1.0, "epoch": -1})
    start_epoch: int = 0
    bad_epochs: int = 0
    seconds: float = 0.0  # training time so far, earlier sessions of a resumed run included (max_minutes)


def _check_network(cfg: TrainConfig, resume: bool) -> None:
    """Refuse an unknown backbone, and a ``pretrained_file`` that is missing or no safetensors file, before the data
    are read (they were refused after it, minutes on a factory's set)."""
    try:
        check_backbone_name(cfg.network)
    except ValueError as exc:
        raise ConfigError(f"network.backbone: {exc}") from exc
    weights = cfg.network.pretrained_file if not resume and cfg.init_from is None else None
    if weights and (problem := weight_file_problem(weights, read=True)):
        raise ConfigError(problem)


def train(
    cfg: TrainConfig,
    data: Sequence[str | Path],
    out: str | Path,
    *,
    resume: bool = False,
    base_dir: Path | None = None,
    log: Log = print,
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    val_metrics: ExtraMetrics | None = None,
) -> TrainResult:
    """Train and write a bundle to ``out``; see the module docstring.

    Args:
        on_epoch: called on rank 0 with each epoch's row of ``metrics.csv`` (``epoch``, ``val_top1``,
            ``val_macro_recall``, ``val_hier_f1`` ...) once it is recorded; an exception it raises ends the run
            without a bundle (``fma-model tune`` reports the validation metric to a trial and raises when the
            pruner stops it). Single-process runs only: under torchrun the other ranks would wait for it.
        val_metrics: more validation metrics, from the leaf probabilities and targets of the validation images;
            each key ``k`` it returns becomes the column ``val_k`` of every epoch's row.
    """
    out = Path(out)
    rt = setup_runtime(cfg)
    log = log if rt.is_main else _silent
    taxonomy = resolve_taxonomy(cfg, base_dir, kept=checkpoint_taxonomy(out) if resume else None)
    _check_network(cfg, resume)  # before the data are read (minutes on a big set)
    samples = load_training_data(cfg, data, taxonomy, log)
    if cfg.network.spectrum:
        check_spectra(samples.train, samples.val, out, multilabel=cfg.loss.kind == "multilabel")
    several = sum(1 for s in samples.train if s.extra_labels)
    if several and cfg.loss.kind != "multilabel":
        log(f"note: {several} training images have more than one label; this model learns the first of each "
            "(loss.kind: multilabel learns them all)")
    if cfg.loss.kind == "multilabel" and (cfg.network.head == "flat" or cfg.imbalance in (*IMBALANCE_LOSSES,
                                                                                          "posthoc", "crt")):
        raise ConfigError("loss.kind multilabel needs per-level heads (network.head independent or shared) and an "
                          "imbalance of none, balanced_sampling, sqrt_sampling or auto: the others adjust softmax "
                          "levels")
    _check_attention(cfg, samples.train + samples.outliers, log)
    log(f"data: {len(samples.train)} train, {len(samples.val)} val images, {len(taxonomy.leaves)} classes, "
        f"device {rt.device}{' x' + str(rt.world) if rt.world > 1 else ''}, "
        f"precision {str(rt.amp_dtype).replace('torch.', '') if rt.amp_dtype else 'fp32'}")
    profile = profile_data(samples.train, taxonomy)
    cfg, choices = choose_settings(cfg, profile, validation=bool(samples.val))
    for choice in choices:
        log(choice.line())
    run = _build_run(cfg, rt, taxonomy, samples, out, resume, log, profile.leaf_counts)
    run.choices = {c.key: c.to_json() for c in choices}
    data_sha = run.data_sha = samples.hash() if rt.is_main else ""
    state = _resume(run, log) if resume else _Progress()
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter() - state.seconds  # a resumed run's budget counts the time already trained
    epoch = state.start_epoch
    while epoch < run.epochs:
        t_epoch = time.perf_counter()
        row = _train_epoch(run, epoch, progress)
        if rt.is_main and samples.val:
            vm = validate(run.model, run.manifest(), samples.val, batch_size=max(8, cfg.batch_size), device=rt.device,
                          extra=val_metrics)
            row.update({"val_top1": vm["top1"], "val_top5": vm["top5"], "val_hier_f1": vm["hier_f1"],
                        "val_macro_recall": vm["macro_recall"]})
            row.update({f"val_{k}": v for k, v in vm.get("extra", {}).items()})
        mem = peak_memory_mb(rt.device)
        row["peak_mem_mb"] = round(mem, 1) if mem is not None else None
        state.seconds = time.perf_counter() - t_start
        if cfg.max_minutes is not None:  # before the checkpoint, which keeps the plan for --resume
            _fit_budget(run, epoch + 1, state.seconds, time.perf_counter() - t_epoch, log)
        stop = _end_of_epoch(run, state, epoch, row, log)
        if on_epoch is not None and rt.is_main:
            on_epoch(row)
        if stop:
            break
        epoch += 1
    result = TrainResult(bundle=out, history=state.history, best_epoch=state.best["epoch"])
    if rt.is_main:
        result.metrics = _write_bundle(run, state, data_sha, time.perf_counter() - t_start, data, log, val_metrics)
        log(f"wrote bundle {out} (best epoch {state.best['epoch']})")
        if cfg.network.spectrum:
            result.spectrum = add_spectrum_head(out, samples.train, samples.val, seed=cfg.seed, log=log,
                                                device=str(rt.device))
    if rt.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return result


def _fit_budget(run: _Run, done: int, elapsed: float, last_epoch: float, log: Log) -> None:
    """``max_minutes``: plan the epochs that the time left allows at the last epoch's pace (validation included);
    the learning-rate schedule and the loss's epoch count follow the new total.

    The first plan is made after the second epoch (the first one's pace includes decoding, caching and warm-up);
    after the first epoch the run only stops when the budget is already spent. Once made, a plan only shrinks (a
    schedule that grew would raise the learning rate again), and none is made once the schedule has ended. The
    budget covers the epochs; the steps after them (the best weights validated again, ``posthoc``/``crt``, writing
    the bundle) come on top. Under torchrun every rank follows rank 0's plan."""
    if done >= run.epochs:
        return
    budget = float(run.cfg.max_minutes or 0) * 60.0
    fits = int(max(0.0, budget - elapsed) // max(last_epoch, 1e-9))
    planned = run.epochs if done < 2 and elapsed < budget else max(done, min(run.epochs, done + fits))
    if run.rt.world > 1:
        value = torch.tensor([planned], device=run.rt.device if run.rt.device.type == "cuda" else "cpu")
        dist.broadcast(value, src=0)
        planned = int(value.item())
    if planned != run.epochs:
        log(f"time budget: {planned} of {run.cfg.epochs} epochs fit in max_minutes={run.cfg.max_minutes:g} "
            f"({elapsed / 60:.1f} min so far, {last_epoch:.1f} s the last epoch); the learning-rate schedule now ends "
            f"after epoch {planned}")
        run.epochs = planned


def _silent(_msg: str) -> None:
    """The log of a non-zero rank: only rank 0 speaks."""


def resolve_taxonomy(cfg: TrainConfig, base: Path | None, kept: Taxonomy | None = None) -> Taxonomy:
    """The config's taxonomy YAML (relative to the config file), a model bundle's own tree (its folder or its
    manifest.json: ``train --init-from BUNDLE`` without ``--config``), or the bundled demo taxonomy; ``kept``, the
    tree a resumed run's checkpoint keeps, when that source is no longer there (the bundle moved since)."""
    if cfg.taxonomy is None:
        return Taxonomy.from_yaml(DEMO_TAXONOMY_PATH)
    p = Path(cfg.taxonomy)
    if not p.is_absolute() and base is not None:
        p = base / p
    if kept is not None and not p.exists():
        return kept
    tree = read_bundle_manifest(p if p.is_dir() else p.parent).taxonomy if p.is_dir() or p.name == MANIFEST_NAME \
        else Taxonomy.from_yaml(p)
    return same_tree(kept, tree, p)


def _build_run(cfg: TrainConfig, rt: Runtime, taxonomy: Taxonomy, data: TrainingData, out: Path, resume: bool,
               log: Log, leaf_counts: Sequence[int]) -> _Run:
    """The network (pretrained, or from ``init_from``), loss (with the training counts of every level, for the
    imbalance methods that need them), optimiser and loader of a run."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    try:
        model = build_network(cfg.network, taxonomy, load_pretrained=not resume and not cfg.init_from)
    except ValueError as exc:  # a CBAM the backbone cannot take, a backbone timm does not know ...
        raise ConfigError(str(exc)) from exc
    init = init_from_bundle(model, cfg, taxonomy, log) if cfg.init_from is not None and not resume else None
    if not resume and cfg.init_from is None:  # said: a config without weights trained from noise without a word
        net = cfg.network
        log(f"backbone weights: {net.pretrained_file}" if net.pretrained_file else "backbone weights: the timm hub's "
            "(ImageNet)" if net.pretrained else "backbone weights: random (pretrained: false, no pretrained_file): "
            "expect far lower accuracy than from ImageNet weights")
    data_cfg = resolve_data_config(cfg.network)
    if cfg.input_size:
        data_cfg["input_size"] = [3, cfg.input_size, cfg.input_size]
    model.to(rt.device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    loader, sampler = make_loader(cfg, data, taxonomy, data_cfg, rank=rt.rank, world=rt.world,
                                  pin_memory=rt.device.type == "cuda")
    steps = max(1, len(loader) // cfg.grad_accum)
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)
    ddp_model: torch.nn.Module = model
    if rt.world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)
    multi_hot = None
    if cfg.loss.kind == "multilabel":
        loss_fn: torch.nn.Module = MultiLabelLoss(cfg.loss, taxonomy.level_sizes)
        samples = loader.dataset.samples  # type: ignore[attr-defined]
        multi_hot = torch.from_numpy(level_multi_hot(taxonomy, [() if s.is_unknown else s.labels for s in samples]))
    else:
        loss_fn = HierarchicalLoss(cfg.loss, taxonomy.masks, imbalance=cfg.imbalance, tau=cfg.imbalance_tau,
                                   level_counts=level_counts(taxonomy, leaf_counts))
    return _Run(cfg=cfg, rt=rt, taxonomy=taxonomy, data=data, model=model, ddp_model=ddp_model,
                loss_fn=loss_fn.to(rt.device), opt=make_optimizer(model, cfg),
                loader=loader, sampler=sampler, data_cfg=data_cfg, steps_per_epoch=steps, init_from=init, out=out,
                scaler=torch.amp.GradScaler("cuda", enabled=rt.amp_dtype == torch.float16),
                leaf_counts=tuple(leaf_counts), multi_hot=multi_hot, epochs=cfg.epochs)


def _resume(run: _Run, log: Log) -> _Progress:
    """Continue the run interrupted in ``run.out`` (:func:`~models.training.checkpoint.check_resumable` first)."""
    folder = run.out / "checkpoint"
    check_resumable(run.out, run.cfg.to_dict(), run.data_sha)
    state = load_checkpoint(folder, run.model, run.opt)
    init = state.get("init_from")
    run.init_from = InitFrom(**init) if init else None
    log(f"resumed from epoch {state['epoch'] + 1}")
    if run.cfg.max_minutes is not None:  # the time budget's plan, and the time it has used
        run.epochs = min(run.cfg.epochs, int(state.get("planned_epochs") or run.cfg.epochs))
    return _Progress(history=state["history"], best=state["best"], start_epoch=state["epoch"] + 1,
                     seconds=float(state.get("seconds") or 0.0) if run.cfg.max_minutes is not None else 0.0)


def _check_attention(cfg: TrainConfig, train: Sequence[Sample], log: Log) -> None:  # train: with the outliers
    """``loss.attention_weight`` needs CBAM to supervise, and defect boxes to supervise it with; a CBAM run with boxes
    and no supervision gets a hint (unsupervised, the CBAM heatmap rarely points at the defect: README)."""
    boxed = sum(1 for s in train if s.defect_bbox is not None)
    if cfg.loss.attention_weight <= 0:
        if boxed and cfg.network.cbam != "none":
            log(f"note: {boxed} training images have a defect box; --set loss.attention_weight=1 teaches the CBAM "
                "maps to attend the defects (without it the CBAM heatmap seldom points at them)")
        return
    if cfg.network.cbam == "none":
        raise ConfigError("loss.attention_weight supervises CBAM attention maps with the defect boxes; set "
                          "network.cbam to stages or blocks, or loss.attention_weight to 0")
    if boxed == 0:
        log("warning: loss.attention_weight > 0 but no training image has a defect_bbox: the CBAM attention is "
            "not supervised")
    else:
        log(f"attention: {boxed} of {len(train)} training images have a defect box; their CBAM maps learn to "
            f"attend it (weight {cfg.loss.attention_weight:g})")


def _train_epoch(run: _Run, epoch: int, progress: bool) -> dict[str, Any]:
    """One epoch of optimiser steps; returns its row of ``metrics.csv`` (without validation)."""
    cfg, rt = run.cfg, run.rt
    torch.manual_seed(cfg.seed * 1_000_003 + epoch)
    run.sampler.set_epoch(epoch)
    run.ddp_model.train()
    t0 = time.perf_counter()
    sums = {"loss": 0.0, "correct": 0, "n": 0, "n_known": 0, "attention": 0.0}
    step = epoch * run.steps_per_epoch
    batches = _batches(run.loader)
    bar = _bar(run.steps_per_epoch, f"epoch {epoch + 1}/{run.epochs}", enabled=progress and rt.is_main)
    for _ in range(run.steps_per_epoch):
        for g in run.opt.param_groups:
            g["lr"] = run.lr_at(step) * g.get("lr_scale", 1.0)
        run.opt.zero_grad(set_to_none=True)
        for _micro in range(cfg.grad_accum):
            batch = next(batches)
            if batch is not None:  # None: every image of the batch was unreadable
                _micro_step(run, batch, epoch, sums)
        run.scaler.unscale_(run.opt)
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), 5.0)
        run.scaler.step(run.opt)
        run.scaler.update()
        step += 1
        bar.update(loss=sums["loss"] / max(1, sums["n"]), acc=sums["correct"] / max(1, sums["n_known"]))
    bar.close()
    row = {
        "epoch": epoch + 1,
        "lr": round(run.lr_at(step - 1), 8),
        "train_loss": round(sums["loss"] / max(1, sums["n"]), 5),
        "train_top1": round(sums["correct"] / max(1, sums["n_known"]), 5),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if cfg.loss.attention_weight > 0:  # the attention term alone (also inside train_loss)
        row["train_attention"] = round(sums["attention"] / max(1, sums["n"]), 5)
    return row


def _batches(loader: DataLoader):
    """The loader's batches, starting again when fewer batches than steps x accumulation remain."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            while True:
                yield None


def _micro_step(run: _Run, batch: tuple, epoch: int, sums: dict[str, Any]) -> None:
    """Forward and backward of one micro-batch (the optimiser steps after ``grad_accum`` of them).

    ``batch`` is ``(x, y, index)``, and ``(masks, has_box)`` after them when the loss supervises CBAM attention."""
    cfg, rt = run.cfg, run.rt
    x, y, index, *boxes = batch
    x = x.to(rt.device, non_blocking=True)
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = y.to(rt.device)
    with torch.autocast(rt.device.type, dtype=rt.amp_dtype or torch.float32, enabled=rt.amp_dtype is not None):
        outp = run.ddp_model(x)
    levels = [lv.float() for lv in outp.levels]
    targets = y if run.multi_hot is None else run.multi_hot[index].to(rt.device)
    loss, _parts = run.loss_fn(levels, targets, epoch=epoch, total_epochs=run.epochs)
    if boxes:
        masks, has_box = boxes[0]
        attention = attention_box_loss(run.model.cbam_live_logits(), masks.to(rt.device), has_box.to(rt.device),
                                       CBAM_HEATMAP_STRIDES)
        loss = loss + cfg.loss.attention_weight * attention
        sums["attention"] += float(attention.detach()) * len(x)
    run.scaler.scale(loss / cfg.grad_accum).backward()
    known = y[:, -1] >= 0
    sums["loss"] += float(loss.detach()) * len(x)
    best = levels[-1].argmax(1)
    if run.multi_hot is None:
        hit = best == y[:, -1]
    else:  # the top leaf is one of the image's leaves
        hit = targets[:, -levels[-1].shape[1]:].gather(1, best[:, None])[:, 0] > 0
    sums["correct"] += int(hit[known].sum())
    sums["n"] += len(x)
    sums["n_known"] += int(known.sum())


def _end_of_epoch(run: _Run, state: _Progress, epoch: int, row: dict[str, Any], log: Log) -> bool:
    """Record the epoch (best weights, ``metrics.csv``, checkpoint); True when training should stop early."""
    cfg, rt = run.cfg, run.rt
    state.history.append(row)
    score = row.get("val_top1", -row["train_loss"])
    improved = state.best["epoch"] < 0 or score > state.best["score"]  # without val, a train loss > 1 scores < -1
    if rt.is_main:
        if improved:
            state.best = {"score": score, "epoch": epoch + 1}
            save_weights(run.out / "checkpoint" / "best.safetensors", run.model)
        _write_history(run.out / "metrics.csv", state.history)
        save_checkpoint(run.out / "checkpoint", run.model, run.opt, {
            "epoch": epoch, "history": state.history, "best": state.best, "config": cfg.to_dict(),
            "planned_epochs": run.epochs, "seconds": round(state.seconds, 3), "data_sha": run.data_sha,
            "init_from": dataclasses.asdict(run.init_from) if run.init_from else None,
            "taxonomy": run.taxonomy.to_dict()})
        log(" ".join(f"{k}={v}" for k, v in row.items()))
    state.bad_epochs = 0 if improved else state.bad_epochs + 1
    stop = bool(cfg.early_stopping_patience and run.data.val and state.bad_epochs >= cfg.early_stopping_patience)
    if rt.world > 1:  # only rank 0 validates: every rank follows its decision, or the others would hang
        flag = torch.tensor([int(stop)], device=rt.device if rt.device.type == "cuda" else "cpu")
        dist.broadcast(flag, src=0)
        stop = bool(flag.item())
    if stop:
        log(f"early stopping: no validation improvement for {state.bad_epochs} epoch(s)")
    return stop


def _write_bundle(run: _Run, state: _Progress, data_sha: str, seconds: float,
                  sources: Sequence[str | Path], log: Log, extra: ExtraMetrics | None = None) -> dict[str, Any]:
    """The best epoch's weights (``imbalance: posthoc``, ``balanced_softmax`` or ``crt``: their leaf classifier
    changed), validated once
    more (with ``extra``),
    saved as the bundle; returns the validation metrics (``extra``'s under ``"extra"``, which the bundle does not
    keep)."""
    cfg, rt, data = run.cfg, run.rt, run.data
    best_file = run.out / "checkpoint" / "best.safetensors"
    if best_file.exists():
        load_weights(best_file, run.model)
    if cfg.imbalance in ("posthoc", "balanced_softmax"):
        _posthoc(run, log)
    elif cfg.imbalance == "crt":
        _crt(run, log)
    if cfg.loss.kind == "multilabel":
        _presence_thresholds(run, log)
    metrics: dict[str, Any] = {}
    extra_values = None
    if data.val:
        metrics = validate(run.model, run.manifest(), data.val, batch_size=max(8, cfg.batch_size), device=rt.device,
                           extra=extra)
        extra_values = metrics.pop("extra", None)
        metrics["split"] = "val"
    run.model.to("cpu").to(memory_format=torch.contiguous_format)
    train_info = TrainInfo(
        config=cfg.to_dict(), data_hash=data_sha, data_sources=tuple(str(d) for d in sources),
        n_train=len(data.train), n_val=len(data.val), n_outliers=len(data.outliers), best_epoch=state.best["epoch"],
        epochs_run=len(state.history), seconds=round(seconds, 1), device=str(rt.device), world_size=rt.world,
        torch=torch.__version__, init_from=run.init_from, data_choices=run.choices)
    save_bundle(run.out, run.model, run.manifest(metrics, train_info), half=cfg.half_weights)
    return metrics if extra_values is None else {**metrics, "extra": extra_values}


def _predictor(run: _Run, manifest: BundleManifest) -> Any:
    """A :class:`models.inference.predictor.Predictor` over the model being trained (the post-training steps run
    their images through it exactly as ``evaluate`` will)."""
    from models.inference.predictor import Predictor

    return Predictor(LoadedBundle(model=run.model, manifest=manifest, path=Path(".")), device=run.rt.device,
                     batch_size=max(8, run.cfg.batch_size))


def _posthoc(run: _Run, log: Log) -> None:
    """``imbalance: posthoc`` or ``balanced_softmax``: the leaf classifier's adjustment chosen on the validation
    images (:func:`models.training.posthoc.adjust_on_validation`)."""
    from models.training.posthoc import adjust_on_validation

    manifest = run.manifest()
    run.choices[f"imbalance_{run.cfg.imbalance}"] = adjust_on_validation(
        run.cfg.imbalance, _predictor(run, manifest) if run.data.val else None, run.data.val, run.taxonomy,
        run.leaf_counts, is_flat=manifest.is_flat, log=log)


def _crt(run: _Run, log: Log) -> None:
    """``imbalance: crt``: learn the leaf classifier again on the training images' features, every leaf equally
    often (:mod:`models.training.crt`)."""
    from models.training.crt import retrain

    manifest = run.manifest()
    predictor = _predictor(run, manifest)
    leaf_pos = {leaf: i for i, leaf in enumerate(run.taxonomy.leaves)}

    def split(samples: Sequence[Sample]) -> tuple[list[Path], list[int]]:
        return [s.path for s in samples], [leaf_pos[s.label] for s in samples]

    result = retrain(predictor, split(run.data.train), split(run.data.val),
                     leaf_level_index=run.taxonomy.leaf_level_index, is_flat=manifest.is_flat, seed=run.cfg.seed,
                     outliers=[s.path for s in run.data.outliers], outlier_weight=run.cfg.loss.outlier_weight)
    log(result.line())
    run.choices["imbalance_crt"] = result.to_json()


def _presence_thresholds(run: _Run, log: Log) -> None:
    """A multi-label model's presence threshold per leaf, chosen on the validation images
    (:func:`models.evaluation.multilabel.choose_thresholds`); without validation images every leaf keeps 0.5."""
    from models.evaluation.multilabel import MIN_POSITIVES, choose_thresholds, truth_matrix
    from models.inference.collect import collect_outputs

    if not run.data.val:
        log("multi-label: no validation images, so every leaf is present from 0.5")
        return
    predictor = _predictor(run, run.manifest())
    out = collect_outputs(predictor, [s.path for s in run.data.val])
    scores = predictor.presence_scores(out.level_logits)
    truth = truth_matrix([run.data.val[i].labels for i in out.index], run.taxonomy.leaves)
    thresholds, f1 = choose_thresholds(scores, truth, run.taxonomy.leaves)
    run.multilabel = MultiLabelRecord(thresholds=thresholds, n_val=len(out.index), min_positives=MIN_POSITIVES, f1=f1)
    moved = {leaf: t for leaf, t in thresholds.items() if t != 0.5}
    log(f"multi-label: presence thresholds chosen on {len(out.index)} validation images for {len(thresholds)} of "
        f"{len(run.taxonomy.leaves)} leaves ({len(moved)} away from 0.5: "
        + (", ".join(f"{leaf} {t:.2f}" for leaf, t in sorted(moved.items())) or "none") + ")")


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(history)


class _bar:
    """A tqdm bar with ETA and running metrics (silent when disabled)."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True, file=sys.stderr)

    def update(self, **metrics: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in metrics.items()}, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
