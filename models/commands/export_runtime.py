"""``fma-model export-runtime BUNDLE [--data IMAGES]``: write the torch-free workstation runtime's graphs into a bundle
(see :mod:`models.inference.runtime_export`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.bundle.files import ARCHIVE_SUFFIXES
from models.bundle.manifest import BundleError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="model bundle folder (gets runtime_*.onnx and a `runtime` entry in manifest.json)")
    p.add_argument("--data", metavar="MANIFEST|FOLDER",
                   help="images to check the graphs against torch on (default: seeded noise)")
    p.add_argument("--no-heatmap", action="store_true",
                   help="skip the heatmap graph (the app then shows no heatmap without torch)")


def run(args: argparse.Namespace) -> int:
    from models.bundle.io import load_bundle
    from models.inference.optimize import image_list, spread
    from models.inference.runtime_export import export_runtime

    bundle = Path(args.bundle)
    if bundle.suffix.lower() in ARCHIVE_SUFFIXES or bundle.is_file():
        raise BundleError(f"{bundle}: export-runtime needs a bundle folder (extract a .zip bundle first)")
    images = spread(image_list(args.data), 4) if args.data else []
    record = export_runtime(load_bundle(bundle), images=images, heatmap=not args.no_heatmap)
    p = record.parity
    graphs = [f"{record.predict.file} ({record.predict.bytes / 1e6:.1f} MB)"]
    if record.heatmap is not None:
        graphs.append(f"{record.heatmap.file} ({record.heatmap.bytes / 1e6:.1f} MB)")
    print(f"{bundle}: wrote {', '.join(graphs)} in {p.get('export_s')} s")
    print(f"  checked against torch on {p.get('images')} {'noise ' if p.get('noise') else ''}images: "
          f"leaf probabilities within {p.get('max_leaf_prob_diff', 0):.1e}"
          + (f", heatmaps within {p['max_heatmap_diff']:.1e}" if "max_heatmap_diff" in p else "")
          + (f", CBAM heatmaps within {p['max_cbam_heatmap_diff']:.1e}" if "max_cbam_heatmap_diff" in p else ""))
    if "heatmap_error" in p:
        print(f"  no heatmap graph: {p['heatmap_error']}")
    if record.reference is None:  # (the workstation's self-test said so later, without saying how to mend it)
        print("  no reference image kept: the workstation's --self-test can check that the model predicts, not that "
              "it predicts as here; give --data with a few of its images to keep one")
    else:
        print(f"  reference image kept ({record.reference.file}): the workstation's --self-test checks the model "
              "predicts it as here")
    return 0
