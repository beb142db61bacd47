"""``fma-model train --config CFG --data MANIFEST --out BUNDLE``: train a bundle (see :mod:`models.training.loop`)."""

from __future__ import annotations

import argparse
import sys

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
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs one line per epoch)")


def run(args: argparse.Namespace) -> int:
    cfg, base = load_config(args.config, args.overrides)
    if args.init_from:
        cfg.init_from = args.init_from  # a path as typed, not parsed as YAML
    train(cfg, args.data, args.out, resume=args.resume, base_dir=base,
          progress=not args.no_progress and sys.stderr.isatty())
    return 0
