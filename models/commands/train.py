"""``fma-model train --config CFG --data MANIFEST --out BUNDLE``: train a bundle (see :mod:`models.training.loop`).

``--folds K`` cross-validates the recipe instead (:mod:`models.training.folds`): OUT is then a folder of K runs.
"""

from __future__ import annotations

import argparse
import sys

from models.commands.arguments import number
from models.training.config import load_config
from models.training.loop import train


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
    p.add_argument("--folds", type=number(int, "an integer of at least 3", low=3), metavar="K",
                   help="cross-validate instead: K runs, each testing on one fold of the data (its split column "
                        "ignored); OUT gets folds.json/folds.md with each figure's mean and spread")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs one line per epoch)")


def run(args: argparse.Namespace) -> int:
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
