"""``fma-model synth OUT --per-class N --seed S``: render a synthetic data set (see :mod:`models.data.synth`).

Three regimes for measuring training without real data (README.md lists the commands): the demo look
(defaults), grayscale long-tail (``--grayscale --long-tail R``, optionally ``--pattern pentile``), and
low data (``--per-class 30``).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import Counter

from models.data.manifest import SPLITS, is_unknown_label
from models.data.synth import (
    DIFFICULTY,
    PATTERNS,
    UNKNOWN_TYPES,
    SynthError,
    generate,
    mag_text,
)
from models.taxonomy import DEMO_TAXONOMY_PATH


def _float_list(text: str, option: str, count: int | None = None) -> tuple[float, ...]:
    try:
        values = tuple(float(part.strip().rstrip("xX")) for part in text.split(",") if part.strip())
    except ValueError:
        raise SynthError(f"{option} must be comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise SynthError(f"{option} needs {count} comma-separated numbers, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fma-model synth``."""
    parser.add_argument(
        "out", metavar="OUT", help="output folder (images/ and manifest.csv are written there)"
    )
    parser.add_argument(
        "--per-class", type=int, default=100, metavar="N", help="samples per leaf (default 100)"
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="master seed (default 0)")
    parser.add_argument(
        "--unknown-classes", type=int, default=0, metavar="K",
        help=f"add K defect types outside the taxonomy as unknown:<name> (max {len(UNKNOWN_TYPES)})",
    )  # fmt: skip
    parser.add_argument(
        "--unknown-types", default=None, metavar="NAMES",
        help=f"comma-separated unknown types to add instead of the first K ({', '.join(UNKNOWN_TYPES)})",
    )  # fmt: skip
    parser.add_argument(
        "--unknown-per-class", type=int, default=None, metavar="N",
        help="samples per unknown type (default: --per-class)",
    )  # fmt: skip
    parser.add_argument(
        "--magnifications", default="20", metavar="LIST",
        help="objective magnifications to render each sample at, e.g. 5,20,50 (default 20)",
    )  # fmt: skip
    parser.add_argument(
        "--size", type=int, default=256, metavar="PX", help="image size in pixels (default 256)"
    )
    parser.add_argument(
        "--taxonomy", default=str(DEMO_TAXONOMY_PATH), metavar="YAML",
        help="taxonomy whose leaves are rendered (default: the demo taxonomy)",
    )  # fmt: skip
    parser.add_argument(
        "--split", default="0.7,0.15,0.15", metavar="TR,VA,TE",
        help="train,val,test fractions, stratified per label (default 0.7,0.15,0.15)",
    )  # fmt: skip
    parser.add_argument(
        "--difficulty", type=float, default=DIFFICULTY, metavar="D",
        help=f"0..1, how much sibling classes overlap (default {DIFFICULTY})",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=0, metavar="N",
        help="worker processes; 0 = one per CPU core, up to 8 (the output does not depend on it)",
    )  # fmt: skip
    parser.add_argument(
        "--pattern", choices=PATTERNS, default="stripes",
        help="the panel's sub-pixel layout: stripes (RGB stripes, default) or pentile (diamond sub-pixels, "
             "rows R G B G / B G R G)",
    )  # fmt: skip
    parser.add_argument(
        "--grayscale", action="store_true",
        help="write single-channel grayscale ('L' mode) PNGs, as a monochrome microscope camera records",
    )  # fmt: skip
    parser.add_argument(
        "--long-tail", type=float, default=None, metavar="R",
        help="long-tailed class counts: the commonest leaf gets --per-class, the rarest --per-class*R (at least 3, "
             "one per split), the others fall off geometrically between; which leaf is rare follows --seed "
             "(e.g. 0.1; default: every leaf gets --per-class)",
    )  # fmt: skip
    parser.add_argument(
        "--spectra", type=float, default=0.0, metavar="SHARE",
        help="the share (0..1) of each defect type's samples that get a synthetic FTIR spectrum of its material "
             "beside the image (JCAMP-DX, the manifest's spectrum column; default 0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--multi", type=float, default=0.0, metavar="SHARE",
        help="the share (0..1) of each defect type's samples that show a second defect beside or partly over the "
             "first, of a type of another top-level group (a particle on a scratch): label 'first;second' (default 0: none)",
    )  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace a data set already in OUT")


def run(args: argparse.Namespace) -> int:
    """Run ``fma-model synth``: render the data set and print a short summary."""
    mags = _float_list(args.magnifications, "--magnifications")
    split = _float_list(args.split, "--split", 3)
    workers = args.workers or min(8, os.cpu_count() or 1)
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and (done == total or done % 20 == 0):
            print(f"\rsynth: {done}/{total} samples", end="" if done < total else "\n", file=sys.stderr)

    manifest = generate(
        args.out, args.taxonomy, per_class=args.per_class, seed=args.seed, unknown_classes=args.unknown_classes,
        magnifications=mags, size=args.size, split=split, unknown_per_class=args.unknown_per_class,
        unknown_types=None if args.unknown_types is None else args.unknown_types.split(","),
        difficulty=args.difficulty, workers=workers, overwrite=args.overwrite, progress=progress,
        pattern=args.pattern, grayscale=args.grayscale, long_tail=args.long_tail, spectra=args.spectra,
        multi=args.multi,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    with manifest.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = {leaf for r in rows for leaf in r["label"].split(";")}
    unknown = sum(1 for label in labels if is_unknown_label(label))
    per_split = {name: sum(1 for r in rows if r["split"] == name) for name in SPLITS}
    print(
        f"synth: {len(rows)} images ({len(labels) - unknown} classes + {unknown} unknown types, "
        f"magnifications {', '.join(mag_text(m) + 'x' for m in mags)}, {args.size}px) "
        f"in {elapsed:.1f} s ({len(rows) / max(elapsed, 1e-9):.0f} images/s)"
    )
    print(f"synth: splits {', '.join(f'{k} {v}' for k, v in per_split.items())}")
    known = {r["label"] for r in rows if not is_unknown_label(r["label"])}
    for name, share in zip(SPLITS, split, strict=False):
        short = sorted(known - {r["label"] for r in rows if r["split"] == name})
        if share > 0 and short:  # (--per-class 1 or 2 leaves some leaf out of a split it was asked for)
            print(f"synth: warning: {len(short)} of {len(known)} leaves have no {name} image (--per-class "
                  f"{args.per_class} is too few for the split {args.split}; 3 or more gives every leaf one)",
                  file=sys.stderr)
    if args.spectra > 0:
        print(f"synth: {sum(1 for r in rows if r.get('spectrum'))} images with an FTIR spectrum beside them")
    if args.multi > 0:
        print(f"synth: {sum(1 for r in rows if ';' in r['label'])} images with two defects")
    if args.long_tail is not None:
        per_leaf = Counter(r["label"] for r in rows if not is_unknown_label(r["label"]))
        rarest = min(per_leaf, key=lambda label: (per_leaf[label], label))
        low, high = min(per_leaf.values()), max(per_leaf.values())
        print(f"synth: long tail, images per leaf {low}..{high} (rarest: {rarest})")
    print(f"synth: manifest {manifest}")
    return 0
