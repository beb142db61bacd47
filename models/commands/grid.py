"""``fma-model grid --data MANIFEST --out DIR``: the backbone x framework grid (see :mod:`models.training.grid`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.commands.arguments import positive_int
from models.training.grid import DEFAULT_BACKBONES, FRAMEWORKS, PRESETS, GridOptions, run_grid, write_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST",
                   help="manifest CSV or image folder every cell trains on (repeat to combine)")
    p.add_argument("--out", required=True, help="output folder (one sub-folder per cell, grid.md, grid.csv)")
    p.add_argument("--preset", choices=list(PRESETS),
                   help="a named grid (its backbones, frameworks and settings; --backbones, --frameworks and --set "
                        "still apply on top): " + "; ".join(f"{k}: {v.about}" for k, v in PRESETS.items()))
    p.add_argument("--backbones", nargs="+", default=None,
                   help="timm names; '+cbam' for CBAM in every ResNet block, '+cbam-stages' for one after each stage "
                        f"of any CNN (default: the preset's, else {' '.join(DEFAULT_BACKBONES)})")
    p.add_argument("--frameworks", nargs="+", default=None, choices=list(FRAMEWORKS),
                   help="default: the preset's, else all. plain is the reference row, the standard timm recipe (flat head and loss, "
                        "AdamW with a one-cycle learning rate, horizontal and vertical flips only, label smoothing "
                        "0.1; same data, epochs and input size); flat, layer, hier-independent and hier-shared "
                        "are the hierarchy frameworks (see models/training/grid.py)")
    p.add_argument("--config", help="base training config YAML shared by every cell")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                   help="override applied to every cell")
    p.add_argument("--split", default="test", help="evaluation split (default test)")
    p.add_argument("--device", default="auto", help="evaluation device: auto (cuda if available), cpu, cuda")
    p.add_argument("--tiny", action="store_true", help="tiny architectures, 64 px, 2 steps: checks the pipeline fast")
    p.add_argument("--test-data", action="append", default=[], metavar="MANIFEST",
                   help="evaluate every cell on this data instead of --data (with --split, e.g. all)")
    p.add_argument("--pointing-game", type=int, default=None, metavar="N",
                   help="also play the heatmap pointing game on up to N correctly classified test images per cell "
                        "(CBAM attention for CBAM models, LayerCAM/Grad-CAM for the others)")
    p.add_argument("--nproc", type=positive_int, default=1, metavar="N",
                   help="training processes per cell: more than 1 runs torchrun (one process per GPU)")


def _check_inputs(config: str | None, overrides: tuple[str, ...], manifests: list[str]) -> None:
    """The config, the --set values and every manifest, read once before the first cell: a bad one failed every
    cell in turn (a bad --test-data only after each cell had trained, hours of GPU time for the research grid)."""
    from models.data.manifest import load_data
    from models.training.config import load_config
    from models.training.loop import resolve_taxonomy

    cfg, base = load_config(config, overrides)
    taxonomy = resolve_taxonomy(cfg, base)
    for manifest in manifests:
        load_data([manifest], taxonomy)  # unknown labels, missing columns, a path that is not there


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    preset = PRESETS[args.preset] if args.preset else None
    backbones = args.backbones or (list(preset.backbones) if preset else DEFAULT_BACKBONES)
    frameworks = args.frameworks or (list(preset.frameworks) if preset else list(FRAMEWORKS))
    overrides = (*(preset.sets if preset else ()), *args.overrides)
    _check_inputs(args.config, overrides, [*args.data, *args.test_data])
    options = GridOptions(data=args.data, config=args.config, overrides=overrides, split=args.split,
                          device=args.device, tiny=args.tiny, test_data=tuple(args.test_data),
                          pointing_game=args.pointing_game, nproc=args.nproc,
                          backbone_sets=dict(preset.backbone_sets) if preset else {})
    rows = run_grid(backbones, frameworks, options, out, log=lambda m: print(m, flush=True))
    _, md = write_table(rows, out)
    print(md.read_text(encoding="utf-8"))
    return 0 if all(r["status"] == "ok" for r in rows) else 1
