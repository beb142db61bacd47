"""``fma-model grid``: the research's backbone x framework matrix on the same splits.

Every cell is trained and evaluated in its own process (``fma-model train`` then
``fma-model evaluate``), so peak training memory is measured per cell and one
failing cell does not stop the others. The table is written as ``grid.md`` and
``grid.csv``; each cell keeps its bundle and evaluation folder under ``DIR``.

Backbones are timm names; ``+cbam`` adds the project's CBAM to every block of a ResNet (``network.cbam=blocks``),
``+cbam-stages`` one after each stage of any timm CNN (``network.cbam=stages``).
Frameworks:

- ``plain``: the reference row, the standard timm fine-tuning recipe: one flat head and flat cross-entropy
  with label smoothing 0.1, AdamW with a one-cycle learning rate (``schedule: onecycle``), horizontal and
  vertical flips only (:data:`PLAIN_AUGMENT`), no class-imbalance handling; the same data, epochs, input size, batch
  size, learning rate and weight decay as every other cell, so it differs from ``flat`` only in the recipe;
- ``flat``: one leaf classifier, flat cross-entropy;
- ``layer``: independent per-level heads, layer loss;
- ``hier-independent``: independent per-level heads, hierarchical loss;
- ``hier-shared``: shared (DHC-style) heads, hierarchical loss.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.sysinfo import resolve_device

PLAIN_AUGMENT: dict[str, Any] = {
    "hflip": 0.5, "vflip": 0.5, "rot90": False, "crop_scale": 1.0, "brightness": 0.0, "contrast": 0.0,
    "saturation": 0.0, "hue": 0.0, "blur_p": 0.0, "noise_std": 0.0,
}
"""The ``plain`` row's augmentation: horizontal and vertical flips, every other augmentation off (one value for
each :class:`models.data.transforms.AugmentConfig` field; a test checks that none is missing)."""


def _plain_recipe() -> dict[str, str]:
    augment = {f"augment.{k}": json.dumps(v) for k, v in PLAIN_AUGMENT.items()}
    return {"network.head": "flat", "loss.kind": "flat", "loss.label_smoothing": "0.1", "schedule": "onecycle",
            "imbalance": "none", **augment}


FRAMEWORKS: dict[str, dict[str, str]] = {
    "plain": _plain_recipe(),
    "flat": {"network.head": "flat", "loss.kind": "flat"},
    "layer": {"network.head": "independent", "loss.kind": "layer", "loss.level_weights": "equal"},
    "hier-independent": {"network.head": "independent", "loss.kind": "hierarchical", "loss.level_weights": "equal"},
    "hier-shared": {"network.head": "shared", "loss.kind": "hierarchical", "loss.level_weights": "equal"},
}
DEFAULT_BACKBONES = ["resnet50+cbam", "vit_small_patch16_224", "convnext_tiny"]
RESEARCH_FRAMEWORKS = ["flat", "hier-independent", "hier-shared"]


@dataclass(frozen=True)
class Preset:
    """A named grid: its backbones, frameworks, and ``--set`` overrides for every cell and per backbone."""

    backbones: Sequence[str]
    frameworks: Sequence[str]
    sets: Sequence[str]
    backbone_sets: dict[str, Sequence[str]] = field(default_factory=dict)
    about: str = ""


PRESETS: dict[str, Preset] = {
    "research": Preset(
        DEFAULT_BACKBONES, RESEARCH_FRAMEWORKS,
        ["input_size=224", "epochs=100", "network.pretrained=true"],
        about="the research's grid as published: ImageNet-pretrained ResNet50+CBAM, ViT-S/16 and ConvNeXt-T x "
              "flat / hierarchical with independent heads / hierarchical with shared heads, 224 px, 100 epochs "
              "(a GPU job; the weights come from timm's hub, or add --set network.pretrained=false offline)"),
    "research-cpu": Preset(
        DEFAULT_BACKBONES, RESEARCH_FRAMEWORKS,
        ["input_size=128", "epochs=8", "network.pretrained=true"],
        backbone_sets={"vit_small_patch16_224": ['network.backbone_kwargs={"img_size": 128}']},
        about="the research's grid reduced for a 2-core CPU: the same architectures and frameworks, ImageNet "
              "weights, 128 px inputs, 8 epochs; meant for a small data set (about 60 images per leaf)"),
}
"""``fma-model grid --preset NAME``: the research's grid, full size (GPU) and reduced (CPU)."""

# Tiny architectures of each family, for CI and smoke runs (same code paths, minutes not hours).
TINY_KWARGS: dict[str, dict[str, Any]] = {
    "resnet": {"layers": [1, 1, 1, 1]},
    "convnext": {"depths": [1, 1, 1, 1], "dims": [16, 32, 64, 128]},
    "vit": {"depth": 2, "embed_dim": 48, "num_heads": 3, "img_size": 64},
}

CBAM_MODIFIERS = {"": "none", "cbam": "blocks", "cbam-stages": "stages"}
"""Backbone modifier (after ``+``) -> ``network.cbam``."""

COLUMNS = ["backbone", "framework", "top1", "top2", "top3", "top4", "top5", "level_top1", "hier_f1",
           "pointing_game", "params_m", "weights_mb", "peak_train_mem_mb", "sec_per_epoch", "status"]


@dataclass(frozen=True)
class GridOptions:
    """What every cell of a grid shares.

    Args:
        data: manifest CSVs or image folders (the same splits for every cell).
        config: a base training config YAML, or None for the defaults.
        overrides: ``key=value`` overrides applied to every cell (after the cell's own).
        split: the evaluation split.
        device: evaluation device (``auto``: cuda if available).
        tiny: tiny architectures at 64 px for 2 steps (checks the pipeline fast).
        test_data: manifests to evaluate on instead of ``data`` (``split`` still applies).
        pointing_game: play the heatmap pointing game on up to this many test images per cell (None: not).
        nproc: training processes per cell; more than 1 launches ``torchrun`` (one process per GPU).
        backbone_sets: extra overrides per backbone spec (a preset's, e.g. ViT's ``img_size``).
    """

    data: Sequence[str]
    config: str | None = None
    overrides: Sequence[str] = field(default_factory=tuple)
    split: str = "test"
    device: str = "auto"
    tiny: bool = False
    test_data: Sequence[str] = field(default_factory=tuple)
    pointing_game: int | None = None
    nproc: int = 1
    backbone_sets: dict[str, Sequence[str]] = field(default_factory=dict)


def backbone_overrides(spec: str, tiny: bool) -> list[str]:
    """``--set`` overrides for one backbone spec such as ``resnet50+cbam`` or ``efficientnet_b0+cbam-stages``."""
    name, _, extra = spec.partition("+")
    if extra not in CBAM_MODIFIERS:
        raise ValueError(f"unknown backbone modifier '+{extra}' in {spec!r} (only +cbam and +cbam-stages exist)")
    sets = [f"network.backbone={name}", f"network.cbam={CBAM_MODIFIERS[extra]}"]
    if tiny:
        family = next((f for f in TINY_KWARGS if name.startswith(f)), None)
        if family:
            sets.append(f"network.backbone_kwargs={json.dumps(TINY_KWARGS[family])}")
    return sets


def _cell_name(backbone: str, framework: str) -> str:
    return f"{backbone.replace('+', '_')}__{framework}"


def _read_history(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run_cell(backbone: str, framework: str, options: GridOptions, out: Path) -> dict[str, Any]:
    """Train + evaluate one cell in subprocesses; return its table row."""
    sets = backbone_overrides(backbone, options.tiny)
    sets += list(options.backbone_sets.get(backbone, ()))
    sets += [f"{k}={v}" for k, v in FRAMEWORKS[framework].items()]
    if options.tiny:
        sets += ["input_size=64", "epochs=1", "max_steps_per_epoch=2", "batch_size=8", "num_workers=0"]
    row: dict[str, Any] = {"backbone": backbone, "framework": framework}
    row.update(train_and_evaluate(out / _cell_name(backbone, framework), sets, options))
    row.pop("metrics", None)
    return row


def train_and_evaluate(cell: Path, sets: Sequence[str], options: GridOptions,
                       config: str | None = None, reuse: bool = False) -> dict[str, Any]:
    """``fma-model train`` then ``fma-model evaluate`` in subprocesses, into ``cell/bundle`` and ``cell/eval``.

    Args:
        cell: the run's folder (``train.log`` and ``eval.log`` are kept there).
        sets: ``key=value`` overrides of this run; ``options.overrides`` are applied after them.
        options: data, base config, split and device.
        config: a config YAML that replaces ``options.config`` for this run.
        reuse: read the results of an earlier run in ``cell`` (its bundle and ``eval/metrics.json``) instead of
            training again.

    Returns:
        ``status`` ("ok" or what failed), Top-1..5, hierarchical F1, parameters, weights size, peak training
        memory, seconds per epoch, wall seconds, and ``metrics``: the whole ``metrics.json`` of the evaluation.
    """
    from models.bundle.files import read_bundle_manifest

    sets = [*sets, *options.overrides]
    launcher = [sys.executable, "-m"] if options.nproc <= 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(options.nproc), "-m"]
    # --overwrite: a cell trained again (not reused) replaces what an earlier run left in it
    cmd = [*launcher, "models.commands.cli", "train", "--out", str(cell / "bundle"), "--no-progress", "--overwrite"]
    for d in options.data:
        cmd += ["--data", d]
    if config or options.config:
        cmd += ["--config", str(config or options.config)]
    for s in sets:
        cmd += ["--set", s]
    row: dict[str, Any] = {"status": "ok"}
    cell.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    done = reuse and (cell / "eval" / "metrics.json").exists() and (cell / "bundle" / "manifest.json").exists()
    if not done:
        with (cell / "train.log").open("w", encoding="utf-8") as log:
            rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
        if rc != 0:
            row["status"] = f"train failed (exit {rc}, see {cell / 'train.log'})"
            return row
        ev = [sys.executable, "-m", "models.commands.cli", "evaluate", str(cell / "bundle"), "--out",
              str(cell / "eval"), "--split", options.split, "--device", resolve_device(options.device)]
        for d in options.test_data or options.data:
            ev += ["--data", d]
        if options.pointing_game is not None:
            ev += ["--pointing-game", str(options.pointing_game)]
        with (cell / "eval.log").open("w", encoding="utf-8") as log:
            rc = subprocess.call(ev, stdout=log, stderr=subprocess.STDOUT)
        if rc != 0:
            row["status"] = f"evaluate failed (exit {rc}, see {cell / 'eval.log'})"
            return row
    metrics = json.loads((cell / "eval" / "metrics.json").read_text(encoding="utf-8"))
    manifest = read_bundle_manifest(cell / "bundle")
    history = _read_history(cell / "bundle" / "metrics.csv")
    secs = [float(h["seconds"]) for h in history if h.get("seconds")]
    mems = [float(h["peak_mem_mb"]) for h in history if h.get("peak_mem_mb")]
    params = _count_params(cell / "bundle")
    row.update({f"top{k}": metrics.get(f"top{k}") for k in range(1, 6)})
    level = metrics.get("level_top1") or []
    row.update({
        "level_top1": " / ".join(f"{v:.3f}" for v in level) if level else None,
        "hier_f1": metrics.get("hier_f1"),
        "pointing_game": metrics.get("pointing_game"),
        "params_m": round(params / 1e6, 3),
        "weights_mb": round((manifest.weights.bytes if manifest.weights else 0) / 2**20, 2),
        "peak_train_mem_mb": round(max(mems), 1) if mems else None,
        "sec_per_epoch": round(sum(secs) / len(secs), 2) if secs else None,
        "wall_s": round(time.perf_counter() - t0, 1),
        "metrics": metrics,
    })
    return row


def _count_params(bundle: Path) -> int:
    from safetensors import safe_open

    total = 0
    with safe_open(str(bundle / "weights.safetensors"), framework="pt") as f:
        for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
            if "running_" in key or key.endswith("num_batches_tracked"):
                continue
            total += _prod(f.get_slice(key).get_shape())
    return total


def _prod(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def write_table(rows: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    csv_path, md_path = out / "grid.csv", out / "grid.md"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)

    def fmt(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:.4f}" if v <= 1.0 else f"{v:g}"
        return str(v)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in COLUMNS) + " |" for r in rows]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path, md_path


def run_grid(backbones: Sequence[str], frameworks: Sequence[str], options: GridOptions, out: Path,
             log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Train and evaluate every backbone x framework cell; the table is rewritten after each cell.

    Raises:
        ValueError: a backbone spec is malformed (checked for all before any cell runs).
    """
    out.mkdir(parents=True, exist_ok=True)
    for b in backbones:
        backbone_overrides(b, options.tiny)  # validate all specs before spending hours
    rows = []
    for backbone in backbones:
        for framework in frameworks:
            log(f"[grid] {backbone} / {framework} ...")
            row = run_cell(backbone, framework, options, out)
            log(f"[grid]   {row.get('status')}  top1={row.get('top1')}  sec/epoch={row.get('sec_per_epoch')}")
            rows.append(row)
            write_table(rows, out)
    return rows
