"""``fma-model optimize BUNDLE --data MANIFEST|FOLDER``: measure the inference paths and store the fastest (see :mod:`models.inference.optimize`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from models.bundle.files import ARCHIVE_SUFFIXES
from models.bundle.manifest import BundleError
from models.commands.arguments import number, positive_int, positive_ints
from models.inference.engine import (
    CALIBRATION_IMAGES,
    ONNX_FILE,
    PATHS,
    bf16_supported,
)
from models.inference.optimize import (
    DEFAULT_MAX_IMAGES,
    DEFAULT_MAX_WARMUP_S,
    image_list,
    optimize_bundle,
    save_result,
    spread,
)
from models.sysinfo import cpu_name


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="model bundle folder (its manifest.json gets an `inference` entry)")
    p.add_argument("--data", required=True, metavar="MANIFEST|FOLDER", help="images to measure on (labels unused)")
    p.add_argument("--max-images", type=positive_int, default=DEFAULT_MAX_IMAGES,
                   help=f"images used, evenly spread over the data (default {DEFAULT_MAX_IMAGES}; the 99.5%% "
                        "agreement guard needs at least 200 to allow for one changed prediction)")
    p.add_argument("--candidates", type=_paths,
                   help=f"comma-separated paths to try (default all: {','.join(PATHS[1:])})")
    p.add_argument("--batch-size", type=positive_int, default=16, help="batch size while comparing paths (default 16)")
    p.add_argument("--batch-sizes", type=positive_ints, default=(8, 16, 32),
                   help="batch sizes tried for the chosen path (default 8,16,32)")
    p.add_argument("--threads", type=positive_ints,
                   help="thread counts tried for the chosen path (default: all cores and one less)")
    p.add_argument("--max-warmup-s", type=number(float, "a number of seconds above 0", low=0.0, low_open=True),
                   default=DEFAULT_MAX_WARMUP_S,
                   help="reject paths whose first batch takes longer (default 10 s)")
    p.add_argument("--dry-run", action="store_true", help="measure and print, write nothing")


def _paths(text: str) -> list[str]:
    """``--candidates``: known inference paths, checked before anything loads."""
    paths = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [p for p in paths if p not in PATHS]
    if unknown or not paths:
        raise argparse.ArgumentTypeError(f"unknown inference path(s) {', '.join(unknown) or '(none given)'}; "
                                         f"known: {', '.join(PATHS[1:])}")
    return paths


def run(args: argparse.Namespace) -> int:
    bundle = Path(args.bundle)
    if not args.dry_run and (bundle.suffix.lower() in ARCHIVE_SUFFIXES or bundle.is_file()):
        raise BundleError(f"{bundle}: optimize needs a bundle folder (extract a .zip bundle first)")
    all_images = image_list(args.data)
    images = spread(all_images, args.max_images)  # (image_list names an empty folder or manifest)
    chosen_set = set(images)
    calibration = spread([p for p in all_images if p not in chosen_set], CALIBRATION_IMAGES)
    candidates = args.candidates
    if len(images) < 200:
        print(f"note: {len(images)} images: one changed Top-1 prediction is "
              f"{1 / len(images):.1%}, so the 99.5% guard allows none", file=sys.stderr)
    print(f"optimize {bundle} on {cpu_name()} ({os.cpu_count()} cores, bf16 {'yes' if bf16_supported() else 'no'})")
    result = optimize_bundle(
        bundle, images, candidates=candidates, batch_size=args.batch_size,
        batch_sizes=args.batch_sizes, threads=args.threads, max_warmup_s=args.max_warmup_s,
        calibration_images=calibration, log=print)
    rec = result.record
    print(f"chosen: {rec.path} (batch {rec.batch_size}, threads {rec.threads}), "
          f"{rec.speedup_vs_eager:.2f}x eager fp32 on {rec.images} images")
    if args.dry_run:
        return 0
    save_result(bundle, result)
    print(f"wrote the choice to {bundle / 'manifest.json'}" + (f" and {ONNX_FILE}" if result.graph else ""))
    return 0
