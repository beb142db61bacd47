"""``fma-model train``: train a hierarchical classifier and write a model bundle.

The loop is deliberately short (nanoGPT style): build data, model, optimiser;
for each epoch train, validate, log one CSV row, save a checkpoint; finally
write the best epoch's weights as a bundle. It runs unchanged on a CPU, one GPU,
or several GPUs under ``torchrun`` (DistributedDataParallel, one process per GPU).

Determinism: every epoch reseeds from ``(seed, epoch)`` (sampler order,
augmentation, dropout), so a run resumed from its epoch-N checkpoint continues
exactly as the uninterrupted run would have.

Checkpoints are not pickles either: ``OUT/checkpoint/state.safetensors``
(model, optimiser moments, RNG state) plus ``state.json`` (epoch, history,
config, optimiser scalars).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Dataset, Sampler

from models.bundle import LoadedBundle, build_manifest, save_bundle
from models.config import ConfigError, TrainConfig, load_config
from models.data.manifest import DataError, Sample, load_data
from models.data.transforms import build_train_transform
from models.imageio import ImageLoadError, load_image
from models.losses import HierarchicalLoss
from models.network import HierarchicalNet, build_network, resolve_data_config
from models.sysinfo import peak_rss_mb
from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy

Log = Callable[[str], None]
_END = object()


# --------------------------------------------------------------------------------------------
# data
class SampleDataset(Dataset):
    """Samples -> (image tensor, per-level targets, index). Unreadable images give None.

    An ``unknown:*`` sample (outlier exposure) has leaf index -1 and targets -1 at every level.
    """

    def __init__(self, samples: Sequence[Sample], taxonomy: Taxonomy, transform: Callable) -> None:
        self.samples = list(samples)
        leaf_pos = {leaf: i for i, leaf in enumerate(taxonomy.leaves)}
        self.leaf_index = np.array([-1 if s.is_unknown else leaf_pos[s.label] for s in self.samples], dtype=np.int64)
        levels = len(taxonomy.levels)
        self.level_targets = np.full((len(self.samples), levels), -1, dtype=np.int64)
        known = self.leaf_index >= 0
        self.level_targets[known] = taxonomy.leaf_level_index[self.leaf_index[known]]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        try:
            img = load_image(self.samples[i].path)
        except ImageLoadError:
            return None
        return self.transform(img), torch.from_numpy(self.level_targets[i]), i


def _collate(items):
    items = [it for it in items if it is not None]
    if not items:
        return None
    xs, ys, idx = zip(*items, strict=True)
    return torch.stack(xs), torch.stack(ys), torch.tensor(idx)


class EpochSampler(Sampler[int]):
    """Deterministic per-(seed, epoch) order, optionally class-balanced, sharded across ranks."""

    def __init__(self, n: int, *, seed: int, weights: np.ndarray | None = None, rank: int = 0, world: int = 1) -> None:
        self.n, self.seed, self.weights, self.rank, self.world = n, seed, weights, rank, world
        self.epoch = 0
        self.per_rank = math.ceil(n / world) if n else 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        total = self.per_rank * self.world
        if self.weights is not None:
            order = torch.multinomial(torch.as_tensor(self.weights, dtype=torch.double), total, replacement=True, generator=g)
        else:
            order = torch.randperm(self.n, generator=g)
            if total > self.n:
                order = torch.cat([order, order[: total - self.n]])
        return iter(order[self.rank :: self.world].tolist())

    def __len__(self) -> int:
        return self.per_rank


def data_hash(samples: Sequence[Sample]) -> str:
    """sha256 over (content hash, label) pairs, order-independent: names the exact training data."""
    from models.data.manifest import content_hash

    rows = sorted(f"{content_hash(s.path)}\t{s.label}\t{s.split or ''}" for s in samples)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def split_for_training(samples: Sequence[Sample], seed: int, log: Log) -> dict[str, list[Sample]]:
    """Use the manifest's split column; make a deterministic split when there is none.

    ``unknown:*`` samples are kept apart under ``"outliers"`` (those of the train split, or without a
    split): they are outlier-exposure images, never validation or test classes.
    """
    known = [s for s in samples if not s.is_unknown]
    if known and all(s.split is None for s in known):
        from models.data.curate import split_samples

        log(f"no split column: making a stratified 70/15/15 split (seed {seed})")
        known = split_samples(known, seed=seed)
    parts: dict[str, list[Sample]] = {"train": [], "val": [], "test": []}
    for s in known:
        parts.setdefault(s.split or "train", []).append(s)
    parts["outliers"] = [s for s in samples if s.is_unknown and (s.split or "train") == "train"]
    return parts


def outlier_samples(parts: dict[str, list[Sample]], cfg: TrainConfig, log: Log) -> list[Sample]:
    """The ``unknown:*`` training images to use as outlier exposure (none when ``loss.outlier_weight`` is 0)."""
    outliers = parts.get("outliers", [])
    if cfg.loss.outlier_weight > 0:
        kinds = sorted({s.label for s in outliers})
        if not outliers:
            log("warning: loss.outlier_weight > 0 but the training data has no unknown:* images of the train split")
        else:
            log(f"outlier exposure: {len(outliers)} unknown:* training images of {len(kinds)} kind(s) "
                f"({', '.join(kinds[:8])}{', ...' if len(kinds) > 8 else ''}), weight {cfg.loss.outlier_weight}")
        return outliers
    if outliers:
        log(f"{len(outliers)} unknown:* training images not used (set loss.outlier_weight > 0 to use them "
            "as outlier exposure)")
    return []


def init_from_bundle(model: HierarchicalNet, cfg: TrainConfig, taxonomy: Taxonomy, log: Log) -> dict[str, str]:
    """Copy the weights of the bundle ``cfg.init_from`` into ``model`` (safetensors only, never a pickle).

    Raises:
        ConfigError: the bundle cannot be read, or its taxonomy or network differs from the config's.
    """
    from models.bundle import BundleError, load_bundle

    if not isinstance(cfg.init_from, str) or not cfg.init_from.strip():
        raise ConfigError(f"init_from must be the path of a model bundle, got {cfg.init_from!r}")
    path = Path(cfg.init_from).expanduser()
    try:
        source = load_bundle(path)
    except BundleError as exc:
        raise ConfigError(f"init_from: {exc}") from exc
    if source.taxonomy.fingerprint() != taxonomy.fingerprint():
        raise ConfigError(f"init_from: {path} was trained on another taxonomy "
                          f"({source.taxonomy.id} v{source.taxonomy.version}); its weights do not fit this run's "
                          f"({taxonomy.id} v{taxonomy.version})")
    theirs, ours = source.manifest.get("network", {}), cfg.network.to_dict()
    differ = [k for k in ("backbone", "head", "cbam", "head_dim", "backbone_kwargs")
              if (theirs.get(k) or None) != (ours.get(k) or None)]
    if differ:
        raise ConfigError("init_from: the network differs from the bundle's: " + ", ".join(
            f"{k} {ours.get(k)!r} here, {theirs.get(k)!r} in {path}" for k in differ))
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v
                               for k, v in source.model.state_dict().items()}, strict=True)
    except RuntimeError as exc:
        raise ConfigError(f"init_from: the weights of {path} do not fit this network ({str(exc)[:300]})") from exc
    version = str(source.manifest.get("model_version", ""))
    log(f"starting from the weights of {path} ({version})")
    return {"path": str(path), "model_version": version}


# --------------------------------------------------------------------------------------------
# hardware
@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    amp_dtype: torch.dtype | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def cpu_has_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AVX512-BF16 / AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def setup_runtime(cfg: TrainConfig) -> Runtime:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cfg.device == "auto":
        device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(cfg.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {cfg.device!r} requested but no CUDA GPU is available")
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    amp: torch.dtype | None = None
    p = cfg.precision
    if p == "auto":
        # On GPUs mixed precision is a clear win. On CPUs, bf16 autocast *training* was slower than fp32 on
        # the 2-core AVX512-BF16 development machine (EfficientNet-Lite0, 160 px: 6.7 vs 19 img/s), because
        # depthwise convolutions have no fast bf16 path; so "auto" keeps fp32 there and bf16 is opt-in.
        if device.type == "cuda":
            amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    elif p == "bf16":
        if device.type == "cpu" and not cpu_has_bf16():
            raise ConfigError("precision bf16 requested, but this CPU has no native bf16 support; use fp32")
        amp = torch.bfloat16
    elif p == "fp16":
        if device.type != "cuda":
            raise ConfigError("precision fp16 needs a CUDA GPU; use bf16 or fp32 on a CPU")
        amp = torch.float16
    return Runtime(device=device, rank=rank, world=world, local_rank=local_rank, amp_dtype=amp)


def peak_memory_mb(device: torch.device) -> float | None:
    """Peak memory of this process: CUDA allocator peak on GPU, peak RSS on CPU (where the OS tells)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mb()


# --------------------------------------------------------------------------------------------
# schedule and checkpoints
def lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warmup to 1, then cosine decay to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(model: HierarchicalNet, cfg: TrainConfig) -> torch.optim.AdamW:
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_backbone = name.startswith("backbone.")
        no_decay = p.ndim <= 1 or name.endswith(".bias")
        groups.setdefault((is_backbone, no_decay), []).append(p)
    param_groups = [
        {
            "params": params,
            "weight_decay": 0.0 if no_decay else cfg.weight_decay,
            "lr_scale": cfg.backbone_lr_scale if is_backbone else 1.0,
        }
        for (is_backbone, no_decay), params in sorted(groups.items())
    ]
    return torch.optim.AdamW(param_groups, lr=cfg.lr, betas=(0.9, 0.999))


def save_checkpoint(folder: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_state = opt.state_dict()
    for pid, st in opt_state["state"].items():
        for k, v in st.items():
            tensors[f"opt.{pid}.{k}"] = torch.as_tensor(v).detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    tmp = folder / "state.safetensors.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, folder / "state.safetensors")
    groups = [{k: v for k, v in g.items() if k != "params"} | {"params": g["params"]} for g in opt_state["param_groups"]]
    (folder / "state.json.tmp").write_text(json.dumps({**state, "param_groups": groups}, indent=1), encoding="utf-8")
    os.replace(folder / "state.json.tmp", folder / "state.json")


def load_checkpoint(folder: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict[str, Any]:
    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        tensors = load_file(str(folder / "state.safetensors"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot resume: checkpoint in {folder} is missing or damaged ({exc})") from exc
    model_sd = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(model_sd, strict=True)
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            opt_state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": opt_state, "param_groups": state.pop("param_groups")})
    torch.set_rng_state(tensors["rng.torch"])
    return state


# --------------------------------------------------------------------------------------------
# evaluation of known-label samples (used for validation and by `evaluate`)
def predict_samples(bundle: LoadedBundle, samples: Sequence[Sample], *, batch_size: int = 32,
                    device: str | torch.device = "cpu") -> dict[str, Any]:
    """Run a bundle over samples; returns leaf_probs, level_probs, embeddings, errors (index -> reason)."""
    from models.predictor import Predictor

    predictor = Predictor(bundle, device=device, batch_size=batch_size)
    leaf_probs, embeddings, errors = [], [], {}
    level_probs: list[list[np.ndarray]] = [[] for _ in bundle.taxonomy.levels]
    for i, pred in enumerate(predictor.iter_predict([s.path for s in samples])):
        if pred.error:
            errors[i] = pred.error
            leaf_probs.append(np.full(len(bundle.taxonomy.leaves), np.nan, dtype=np.float32))
            embeddings.append(None)
            for k, size in enumerate(bundle.taxonomy.level_sizes):
                level_probs[k].append(np.full(size, np.nan, dtype=np.float32))
            continue
        leaf_probs.append(pred.leaf_probs)
        embeddings.append(pred.embedding)
        for k, lp in enumerate(pred.level_probs):
            level_probs[k].append(np.asarray(lp, dtype=np.float32))
    return {
        "leaf_probs": np.stack(leaf_probs) if leaf_probs else np.zeros((0, len(bundle.taxonomy.leaves))),
        "level_probs": [np.stack(lp) if lp else np.zeros((0, s)) for lp, s in zip(level_probs, bundle.taxonomy.level_sizes, strict=True)],
        "embeddings": embeddings,
        "errors": errors,
    }


# --------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    bundle: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    best_epoch: int = 0


def _resolve_taxonomy(cfg: TrainConfig, base: Path | None) -> Taxonomy:
    if cfg.taxonomy is None:
        return Taxonomy.from_yaml(DEMO_TAXONOMY_PATH)
    p = Path(cfg.taxonomy)
    if not p.is_absolute() and base is not None:
        p = base / p
    return Taxonomy.from_yaml(p)


def train(
    cfg: TrainConfig,
    data: Sequence[str | Path],
    out: str | Path,
    *,
    resume: bool = False,
    base_dir: Path | None = None,
    log: Log = print,
    progress: bool = True,
) -> TrainResult:
    """Train and write a bundle to ``out``; see the module docstring."""
    out = Path(out)
    rt = setup_runtime(cfg)
    if not rt.is_main:
        log = lambda _msg: None  # noqa: E731
    taxonomy = _resolve_taxonomy(cfg, base_dir)
    loaded = load_data(list(data), taxonomy)
    if loaded.skipped:
        log(loaded.report())
    parts = split_for_training(loaded.samples, cfg.seed, log)
    train_s, val_s = parts.get("train", []), parts.get("val", [])
    outliers = outlier_samples(parts, cfg, log)
    if not train_s:
        raise DataError("no training samples (split 'train' is empty after loading the data)")
    missing = sorted(set(taxonomy.leaves) - {s.label for s in train_s})
    if missing:
        log(f"warning: {len(missing)} leaf class(es) have no training images: {', '.join(missing[:10])}")
    log(f"data: {len(train_s)} train, {len(val_s)} val images, {len(taxonomy.leaves)} classes, "
        f"device {rt.device}{' x' + str(rt.world) if rt.world > 1 else ''}, "
        f"precision {str(rt.amp_dtype).replace('torch.', '') if rt.amp_dtype else 'fp32'}")

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    model = build_network(cfg.network, taxonomy, load_pretrained=not resume and not cfg.init_from)
    init_info = init_from_bundle(model, cfg, taxonomy, log) if cfg.init_from is not None and not resume else None
    data_cfg = resolve_data_config(cfg.network)
    if cfg.input_size:
        data_cfg["input_size"] = [3, cfg.input_size, cfg.input_size]
    size = data_cfg["input_size"][1:]
    interp = data_cfg.get("interpolation", "bicubic")
    model.to(rt.device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    loss_fn = HierarchicalLoss(cfg.loss, taxonomy.masks).to(rt.device)
    opt = make_optimizer(model, cfg)

    train_ds = SampleDataset(train_s + outliers, taxonomy, build_train_transform(cfg.augment, size, data_cfg["mean"], data_cfg["std"], interp))
    weights = None
    if cfg.balanced_sampling:
        group = np.where(train_ds.leaf_index >= 0, train_ds.leaf_index, len(taxonomy.leaves))  # outliers: one group
        counts = np.bincount(group, minlength=len(taxonomy.leaves) + 1).astype(np.float64)
        weights = 1.0 / counts[group]
    sampler = EpochSampler(len(train_ds), seed=cfg.seed, weights=weights, rank=rt.rank, world=rt.world)
    workers = cfg.num_workers
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=workers,
                        collate_fn=_collate, drop_last=len(train_ds) > cfg.batch_size * rt.world,
                        persistent_workers=False, pin_memory=rt.device.type == "cuda")
    steps_per_epoch = max(1, len(loader) // cfg.grad_accum)
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    total_steps = steps_per_epoch * cfg.epochs
    warmup_steps = round(cfg.warmup_epochs * steps_per_epoch)

    ddp_model: torch.nn.Module = model
    if rt.world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)

    ckpt_dir = out / "checkpoint"
    start_epoch, history, best = 0, [], {"score": -1.0, "epoch": -1}
    if resume:
        if not (ckpt_dir / "state.json").exists():
            raise ConfigError(f"--resume: no checkpoint in {ckpt_dir}")
        state = load_checkpoint(ckpt_dir, model, opt)
        start_epoch, history, best = state["epoch"] + 1, state["history"], state["best"]
        init_info = state.get("init_from")
        log(f"resumed from epoch {state['epoch'] + 1}")
    out.mkdir(parents=True, exist_ok=True)
    best_file = out / "checkpoint" / "best.safetensors"

    data_sha = data_hash(train_s + val_s + outliers) if rt.is_main else ""
    scaler = torch.amp.GradScaler("cuda", enabled=rt.amp_dtype == torch.float16)
    val_bundle = LoadedBundle(model=model, taxonomy=taxonomy, path=out, manifest={
        "network": cfg.network.to_dict(), "model_version": "training", "input_size": data_cfg["input_size"],
        "mean": data_cfg["mean"], "std": data_cfg["std"], "interpolation": interp})
    bad_epochs = 0
    t_start = time.perf_counter()
    for epoch in range(start_epoch, cfg.epochs):
        torch.manual_seed(cfg.seed * 1_000_003 + epoch)
        sampler.set_epoch(epoch)
        ddp_model.train()
        t0 = time.perf_counter()
        sums = {"loss": 0.0, "correct": 0, "n": 0, "n_known": 0}
        step = epoch * steps_per_epoch
        it = iter(loader)
        bar = _progress(steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}", enabled=progress and rt.is_main)
        for _ in range(steps_per_epoch):
            factor = lr_factor(step, total_steps, warmup_steps, cfg.min_lr / cfg.lr)
            for g in opt.param_groups:
                g["lr"] = cfg.lr * factor * g.get("lr_scale", 1.0)
            opt.zero_grad(set_to_none=True)
            for _micro in range(cfg.grad_accum):
                batch = next(it, _END)
                if batch is _END:  # fewer batches than steps x accumulation: start the order again
                    it = iter(loader)
                    batch = next(it, _END)
                if batch is _END or batch is None:  # None: every image of the batch was unreadable
                    continue
                x, y, _ = batch
                x = x.to(rt.device, non_blocking=True)
                if cfg.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                y = y.to(rt.device)
                with torch.autocast(rt.device.type, dtype=rt.amp_dtype or torch.float32, enabled=rt.amp_dtype is not None):
                    outp = ddp_model(x)
                levels = [lv.float() for lv in outp.levels]
                loss, _parts = loss_fn(levels, y, epoch=epoch, total_epochs=cfg.epochs)
                scaler.scale(loss / cfg.grad_accum).backward()
                sums["loss"] += float(loss.detach()) * len(x)
                known = y[:, -1] >= 0
                sums["correct"] += int((levels[-1].argmax(1) == y[:, -1])[known].sum())
                sums["n"] += len(x)
                sums["n_known"] += int(known.sum())
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            scaler.step(opt)
            scaler.update()
            step += 1
            bar.update(loss=sums["loss"] / max(1, sums["n"]), acc=sums["correct"] / max(1, sums["n_known"]))
        bar.close()
        train_secs = time.perf_counter() - t0
        row: dict[str, Any] = {
            "epoch": epoch + 1,
            "lr": round(cfg.lr * lr_factor(step - 1, total_steps, warmup_steps, cfg.min_lr / cfg.lr), 8),
            "train_loss": round(sums["loss"] / max(1, sums["n"]), 5),
            "train_top1": round(sums["correct"] / max(1, sums["n_known"]), 5),
            "seconds": round(train_secs, 2),
        }
        if rt.is_main and val_s:
            vm = _validate(val_bundle, val_s, taxonomy, batch_size=max(8, cfg.batch_size), device=rt.device)
            row.update({"val_top1": vm["top1"], "val_top5": vm["top5"], "val_hier_f1": vm["hier_f1"]})
        mem = peak_memory_mb(rt.device)
        row["peak_mem_mb"] = round(mem, 1) if mem is not None else None
        history.append(row)
        score = row.get("val_top1", -row["train_loss"])
        improved = score > best["score"]
        if rt.is_main:
            if improved:
                best = {"score": score, "epoch": epoch + 1}
                best_file.parent.mkdir(parents=True, exist_ok=True)
                save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(best_file))
            _write_history(out / "metrics.csv", history)
            save_checkpoint(ckpt_dir, model, opt, {"epoch": epoch, "history": history, "best": best,
                                                   "config": cfg.to_dict(), "init_from": init_info})
            log(" ".join(f"{k}={v}" for k, v in row.items()))
        bad_epochs = 0 if improved else bad_epochs + 1
        stop = bool(cfg.early_stopping_patience and val_s and bad_epochs >= cfg.early_stopping_patience)
        if rt.world > 1:  # only rank 0 validates: every rank follows its decision, or the others would hang
            flag = torch.tensor([int(stop)], device=rt.device if rt.device.type == "cuda" else "cpu")
            dist.broadcast(flag, src=0)
            stop = bool(flag.item())
        if stop:
            log(f"early stopping: no validation improvement for {bad_epochs} epoch(s)")
            break
    total_secs = time.perf_counter() - t_start

    result = TrainResult(bundle=out, history=history, best_epoch=best["epoch"])
    if rt.is_main:
        if best_file.exists():
            model.load_state_dict(load_file(str(best_file)))
        metrics: dict[str, Any] = {}
        if val_s:
            metrics = _validate(val_bundle, val_s, taxonomy, batch_size=max(8, cfg.batch_size), device=rt.device)
            metrics["split"] = "val"
        model.to("cpu").to(memory_format=torch.contiguous_format)
        manifest = build_manifest(
            model=model, taxonomy=taxonomy, data_config=data_cfg, loss=cfg.loss.to_dict(), name=cfg.name,
            metrics=metrics,
            train={"config": cfg.to_dict(), "data_hash": data_sha, "data_sources": [str(d) for d in data],
                   "n_train": len(train_s), "n_val": len(val_s), "n_outliers": len(outliers), "best_epoch": best["epoch"],
                   "epochs_run": len(history), "seconds": round(total_secs, 1), "device": str(rt.device),
                   "world_size": rt.world, "torch": torch.__version__, "init_from": init_info},
        )
        save_bundle(out, model, manifest, half=cfg.half_weights)
        result.metrics = metrics
        log(f"wrote bundle {out} (best epoch {best['epoch']})")
    if rt.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return result


def _validate(bundle: LoadedBundle, samples: Sequence[Sample], taxonomy: Taxonomy, *, batch_size: int,
              device: torch.device) -> dict[str, Any]:
    from models.metrics import compute_metrics

    was_training = bundle.model.training
    res = predict_samples(bundle, samples, batch_size=batch_size, device=device)
    bundle.model.train(was_training)
    ok = np.array([i not in res["errors"] for i in range(len(samples))], dtype=bool)
    leaf_pos = {leaf: i for i, leaf in enumerate(taxonomy.leaves)}
    targets = np.array([leaf_pos[s.label] for s in samples], dtype=np.int64)
    m = compute_metrics(res["leaf_probs"][ok], targets[ok], taxonomy)
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in m.items() if k != "per_class"}


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(history)


class _progress:
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


# --------------------------------------------------------------------------------------------
# CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="training config YAML (default: built-in defaults)")
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST",
                   help="manifest CSV or image folder; repeat to combine (e.g. the original set + the app's export)")
    p.add_argument("--out", required=True, help="output bundle folder (also holds metrics.csv and checkpoints)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config key, dotted for nested keys (network.backbone=resnet50)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    p.add_argument("--init-from", metavar="BUNDLE",
                   help="start from this bundle's weights (fine-tuning; the config key init_from, taken as typed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs one line per epoch)")


def run(args: argparse.Namespace) -> int:
    cfg, base = load_config(args.config, args.overrides)
    if args.init_from:
        cfg.init_from = args.init_from  # a path as typed, not parsed as YAML
    train(cfg, args.data, args.out, resume=args.resume, base_dir=base,
          progress=not args.no_progress and sys.stderr.isatty())
    return 0
