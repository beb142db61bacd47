"""``fma-model compare BUNDLE_A BUNDLE_B --data MANIFEST``: two bundles on the same data, side by side.

Prints the comparison table, then one line with each top-1 and its 95 % bootstrap interval and the paired
difference B - A with its interval, called a tie when that interval contains 0.
"""

from __future__ import annotations

import argparse
import sys

from models.commands.arguments import positive_int, refuse_data_folder, refuse_file_out, refuse_unwritable_out
from models.evaluation.compare import compare_bundles, to_markdown, verdict_line, write_comparison
from models.sysinfo import DEVICE_HELP, device_arg


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle_a", help="reference bundle (A)")
    p.add_argument("bundle_b", help="candidate bundle (B); deltas are B - A")
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST", help="manifest CSV or image folder")
    p.add_argument("--split", default="test", help="split to compare on (default test)")
    p.add_argument("--target-purity", type=float, default=None,
                   help="purity P of the oracle coverage (default: A's calibrated target, else 0.99)")
    p.add_argument("--unknown", choices=("split", "all", "none"), default="split",
                   help="unknown:* images: those of the split (default), all of the data's, or none")
    p.add_argument("--out", default="compare", help="output folder for compare.json and compare.md (default ./compare)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="images per forward pass (default 32)")
    p.add_argument("--device", default="cpu", type=device_arg, help=DEVICE_HELP)


def run(args: argparse.Namespace) -> int:
    refuse_file_out(args.out, "compare.json and compare.md", "compare.json")
    refuse_data_folder(args.out, "a comparison")
    refuse_unwritable_out(args.out)
    result = compare_bundles(args.bundle_a, args.bundle_b, args.data, split=args.split,
                             target_purity=args.target_purity, unknown=args.unknown, batch_size=args.batch_size,
                             device=args.device, log=lambda m: print(m, file=sys.stderr))
    paths = write_comparison(args.out, result)
    print(to_markdown(result))
    print(verdict_line(result))
    print(f"wrote {paths['compare.json']} and {paths['compare.md']}")
    return 0
