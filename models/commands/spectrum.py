"""``fma-model spectrum BUNDLE --data MANIFEST``: train the FTIR spectrum head of a trained bundle and write it into
the bundle (issue #20; :func:`models.training.spectrum.add_spectrum_head`). ``fma-model train`` does the same at the
end of a run whose config says ``network.spectrum: true``. The head learns from the spectra of the ``--train-split``
images and chooses its epoch and fusion weight on the ``--val-split`` images; a calibrated bundle fuses spectra once
``fma-model calibrate`` has fitted the fused routing on images with spectra.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="the bundle folder (archives are read-only)")
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST",
                   help="manifest CSV (with a spectrum column) or image folder with spectra beside the images; "
                        "repeat to combine")
    p.add_argument("--train-split", default="train", help="split whose spectra the head learns from (default train)")
    p.add_argument("--val-split", default="val",
                   help="split that chooses the head's epoch and fusion weight (default val)")
    p.add_argument("--seed", type=int, default=0, help="seed of the head's initial weights and batch order (default 0)")
    p.add_argument("--json", action="store_true", help="print what was fitted as one JSON object")


def run(args: argparse.Namespace) -> int:
    from models.bundle.files import read_bundle_manifest
    from models.data.manifest import load_data
    from models.data.splits import select_split
    from models.training.spectrum import add_spectrum_head

    manifest = read_bundle_manifest(args.bundle)
    loaded = load_data(args.data, manifest.taxonomy)
    if loaded.skipped:
        print(loaded.report(), file=sys.stderr)
    train = select_split(loaded.samples, args.train_split)
    val = select_split(loaded.samples, args.val_split)
    summary = add_spectrum_head(args.bundle, train, val, seed=args.seed, log=lambda m: print(m, file=sys.stderr))
    if args.json:
        print(json.dumps(summary))
    return 0
