"""``fma-model curate DATA... --out MANIFEST``: the research's curation rules and a split manifest (see :mod:`models.data.curate`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.commands.arguments import number
from models.data.curate import DEFAULT_MAG_PATTERN, curate
from models.data.manifest import (
    DataError,
    load_data,
    parse_magnification,
    write_manifest,
)
from models.data.splits import DEFAULT_FRACTIONS, check_fractions, split_files
from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy, TaxonomyError


def _magnification_arg(text: str) -> float | None:
    if text.strip().lower() in ("any", "all", "none"):
        return None
    try:
        value = parse_magnification(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, or 'any'") from None
    if value is None:
        raise argparse.ArgumentTypeError("magnification is empty (write e.g. 20, 20x or any)")
    return value


def _fractions_arg(text: str) -> tuple[float, float, float]:
    try:
        return check_fractions([float(p) for p in text.split(",")])
    except ValueError as exc:  # DataError is a ValueError
        raise argparse.ArgumentTypeError(f"{exc} (write e.g. 0.7,0.15,0.15)") from None


_size_arg = number(float, "a number of pixels >= 0", low=0)
_count_arg = number(int, "a whole number >= 0", low=0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``curate`` options to ``parser``."""
    parser.add_argument("data", nargs="+", metavar="DATA", help="manifest .csv files and/or image folders")
    parser.add_argument("--out", required=True, type=Path, metavar="MANIFEST", help="manifest .csv to write")
    parser.add_argument(
        "--taxonomy", type=Path, default=DEMO_TAXONOMY_PATH, help="taxonomy YAML (default: the demo taxonomy)"
    )
    parser.add_argument(
        "--magnification",
        type=_magnification_arg,
        default=20.0,
        metavar="MAG",
        help="keep only this magnification, e.g. 20 or 20x; 'any' keeps all (default: 20)",
    )
    parser.add_argument(
        "--mag-pattern",
        default=DEFAULT_MAG_PATTERN,
        metavar="REGEX",
        help="regex whose group 1 is the magnification in a file name, used when the manifest has none "
        f"(default: {DEFAULT_MAG_PATTERN})",
    )
    parser.add_argument("--min-size", type=_size_arg, metavar="PX", help="smallest defect size in pixels")
    parser.add_argument("--max-size", type=_size_arg, metavar="PX", help="largest defect size in pixels")
    parser.add_argument(
        "--min-per-class",
        type=_count_arg,
        default=80,
        metavar="N",
        help="exclude leaves with fewer images (default: 80; 0 disables)",
    )
    parser.add_argument(
        "--other-group",
        action="store_true",
        help="keep images of excluded leaves as 'unknown:<leaf>' (to test unknown-defect detection) "
        "instead of dropping them",
    )
    parser.add_argument(
        "--keep-unknown", action="store_true", help="keep images that are already labelled unknown:<name>"
    )
    parser.add_argument(
        "--split",
        type=_fractions_arg,
        default=DEFAULT_FRACTIONS,
        metavar="TRAIN,VAL,TEST",
        help="split fractions (default: 0.7,0.15,0.15)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the split (default: 0)")
    parser.add_argument(
        "--resplit", action="store_true", help="ignore an existing split column and split everything anew"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``fma-model curate``: load, curate, split, write the manifest, print the reports.

    Returns:
        0 on success, 1 when no image is left, 2 on a data or taxonomy error (message on stderr).
    """
    try:
        out = Path(args.out).resolve()
        inputs = {Path(d).resolve() for d in args.data}
        if out in inputs:
            raise DataError(f"--out {out} is one of the inputs; write the curated manifest to a new file")
        taxonomy = Taxonomy.from_yaml(args.taxonomy)
        loaded = load_data(args.data, taxonomy)
        print(loaded.report())
        result = curate(
            loaded.samples,
            taxonomy=taxonomy,
            magnification=args.magnification,
            mag_pattern=args.mag_pattern,
            min_size=args.min_size,
            max_size=args.max_size,
            min_per_class=args.min_per_class,
            other_group=args.other_group,
            keep_unknown=args.keep_unknown,
        )
        print(result.report())
        if not result.samples:
            print("error: no images left after curation; nothing written", file=sys.stderr)
            return 1
        split = split_files(
            result.samples, fractions=args.split, seed=args.seed, keep_existing=not args.resplit
        )
        print(split.report())
        written = write_manifest(split.samples, out)
    except (DataError, TaxonomyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {written} ({len(split.samples):,} images).")
    return 0


