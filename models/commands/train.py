"""``fma-model train --config CFG --data MANIFEST --out BUNDLE``: train a bundle (see :mod:`models.training.loop`).

``--folds K`` cross-validates the recipe instead (:mod:`models.training.folds`): OUT is then a folder of K runs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from models.commands.arguments import number
from models.training.config import ConfigError, load_config
from models.training.loop import train


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="training config YAML (default: built-in defaults)")
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST",
                   help="manifest CSV or image folder; repeat to combine (e.g. the original set + the app's export)")
    p.add_argument("--out", required=True, help="output bundle folder (also holds metrics.csv and checkpoints)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config key, dotted for nested keys (network.backbone=resnet50)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the bundle or interrupted run already in OUT (without it, train refuses such an OUT)")
    p.add_argument("--init-from", metavar="BUNDLE",
                   help="start from this bundle's weights (fine-tuning; the config key init_from, taken as typed)")
    p.add_argument("--folds", type=number(int, "an integer of at least 3", low=3), metavar="K",
                   help="cross-validate instead: K runs, each testing on one fold of the data (its split column "
                        "ignored); OUT gets folds.json/folds.md with each figure's mean and spread")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs one line per epoch)")


# What a bundle or a run in OUT is made of: train refuses to write over them unless told (--overwrite), and with
# --overwrite removes them first, so that no file of the old bundle (a spectrum head) is left beside the new one.
BUNDLE_FILES = ("manifest.json", "weights.safetensors", "spectrum_head.safetensors", "metrics.csv")
CHECKPOINT = "checkpoint"


def check_out(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse an OUT that is a file, or that holds a bundle or an interrupted run, unless ``resume`` continues
    the run or ``overwrite`` replaces it (then its files go first). One typo in --out must not replace a
    production model, nor a forgotten --resume hours of training."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file: a bundle is a folder")
    if resume or not out.is_dir():
        return
    held = [name for name in BUNDLE_FILES if (out / name).exists()]
    if (out / CHECKPOINT / "state.json").exists():
        held.append(f"{CHECKPOINT}/ (an interrupted or finished run)")
    if not held:
        return
    if not overwrite:
        raise ConfigError(f"--out {out} already holds a model ({', '.join(held)}): --resume continues its "
                          "training, --overwrite replaces it, or choose another --out")
    for name in BUNDLE_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / CHECKPOINT, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    if not args.folds:
        check_out(Path(args.out), resume=args.resume, overwrite=args.overwrite)
    cfg, base = load_config(args.config, args.overrides)
    if args.init_from:
        cfg.init_from = args.init_from  # a path as typed, not parsed as YAML
    progress = not args.no_progress and sys.stderr.isatty()
    if args.folds:
        from models.training.folds import cross_validate

        cross_validate(cfg, args.data, args.out, args.folds, resume=args.resume, base_dir=base, progress=progress)
        return 0
    train(cfg, args.data, args.out, resume=args.resume, base_dir=base, progress=progress)
    return 0
