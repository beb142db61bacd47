"""``fma-model grid --data MANIFEST --out DIR``: the backbone x framework grid (see :mod:`models.training.grid`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.training.grid import DEFAULT_BACKBONES, FRAMEWORKS, GridOptions, run_grid, write_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST")
    p.add_argument("--out", required=True, help="output folder (one sub-folder per cell, grid.md, grid.csv)")
    p.add_argument("--backbones", nargs="+", default=DEFAULT_BACKBONES,
                   help="timm names; '+cbam' for CBAM in every ResNet block, '+cbam-stages' for one after each stage "
                        "of any CNN (default: %(default)s)")
    p.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=list(FRAMEWORKS),
                   help="default: all. plain is the reference row, the standard timm recipe (flat head and loss, "
                        "AdamW with a one-cycle learning rate, horizontal and vertical flips only, label smoothing "
                        "0.1; same data, epochs and input size); flat, layer, hier-independent and hier-shared "
                        "are the hierarchy frameworks (see models/training/grid.py)")
    p.add_argument("--config", help="base training config YAML shared by every cell")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                   help="override applied to every cell")
    p.add_argument("--split", default="test", help="evaluation split (default test)")
    p.add_argument("--device", default="auto", help="evaluation device: auto (cuda if available), cpu, cuda")
    p.add_argument("--tiny", action="store_true", help="tiny architectures, 64 px, 2 steps: checks the pipeline fast")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    options = GridOptions(data=args.data, config=args.config, overrides=tuple(args.overrides), split=args.split,
                          device=args.device, tiny=args.tiny)
    rows = run_grid(args.backbones, args.frameworks, options, out, log=lambda m: print(m, flush=True))
    _, md = write_table(rows, out)
    print(md.read_text(encoding="utf-8"))
    return 0 if all(r["status"] == "ok" for r in rows) else 1
