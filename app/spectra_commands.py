"""``fma-judge spectra``: FTIR spectra from the command line (issue #20). No Qt, no torch.

    fma-judge spectra show FILE [FILE ...]                       how each file reads (or why it does not)
    fma-judge spectra import FOLDER [--db URL] [--model BUNDLE]  a reference library: FOLDER/<type id>/<spectra>

``show`` prints what the app would store of a spectrum file: its points, range, what the ordinate was, what the
reading assumed, and its strongest bands; it is the check for a file the app listed as not attached. ``import`` adds a
library of known spectra, one folder per defect type (named by the type's id, as an ImageFolder export names them),
to the store, where the spectrum panel searches it beside the judged images' spectra. With ``--model`` the folder
names are checked against the model's tree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.services.spectra import import_library
from app.store.db import default_db_url, open_store
from app.store.errors import StoreError
from app.store.urls import DB_HELP
from models.bundle.files import read_bundle_manifest
from models.bundle.manifest import BundleError
from models.spectra import SpectrumError, read_spectrum
from models.spectra.library import peaks


def spectra_main(argv: list[str]) -> int:
    """``fma-judge spectra``."""
    parser = argparse.ArgumentParser(prog="fma-judge spectra", description="FTIR spectra beside the images.")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="how spectrum files read (JCAMP-DX, or a two-column table)")
    show.add_argument("files", nargs="+", type=Path, metavar="FILE",
                      help="spectrum files (JCAMP-DX, or a two-column table)")
    imp = sub.add_parser("import", help="import a reference library: FOLDER/<type id>/<spectrum files>")
    imp.add_argument("folder", type=Path, metavar="FOLDER",
                     help="the library: one sub-folder per defect type id, holding that type's reference spectra")
    imp.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    imp.add_argument("--model", type=Path, metavar="BUNDLE", help="check the folder names against this model's tree")
    args = parser.parse_args(argv)
    return _show(args.files) if args.command == "show" else _import(args)


def _show(files: list[Path]) -> int:
    failed = 0
    for path in files:
        try:
            spectrum = read_spectrum(path)
        except SpectrumError as exc:
            print(f"{path}: NOT READ: {exc}")
            failed += 1
            continue
        lo, hi = spectrum.span
        kind = {"transmittance": "transmittance, converted to absorbance",
                "arbitrary": "neither absorbance nor transmittance, kept as given"}.get(spectrum.kind, spectrum.kind)
        print(f"{path}: {spectrum.format}, {len(spectrum)} points, {hi:.0f}–{lo:.0f} cm⁻¹, {kind}"
              + (f", title {spectrum.title!r}" if spectrum.title else ""))
        for note in spectrum.notes:
            print(f"  note: {note}")
        bands = peaks(spectrum.wavenumbers, spectrum.absorbance)
        if bands:
            print("  strongest bands (cm⁻¹): " + ", ".join(f"{wn:.0f}" for wn, _a in sorted(bands, reverse=True)))
    return 1 if failed else 0


def _import(args: argparse.Namespace) -> int:
    leaves = None
    if not args.folder.is_dir():  # a user's mistake (exit code 2, as the app's), before the store is opened
        print(f"fma-judge spectra import: library folder not found: {args.folder}", file=sys.stderr)
        return 2
    if args.model is not None:
        try:
            leaves = set(read_bundle_manifest(args.model).taxonomy.leaves)
        except (BundleError, OSError) as exc:
            print(f"fma-judge spectra import: cannot read the model {args.model}: {exc}", file=sys.stderr)
            return 2
    try:
        store = open_store(args.db or default_db_url())
        try:
            result = import_library(store.engine, args.folder, leaves)
        finally:
            store.engine.dispose()
    except (StoreError, FileNotFoundError, OSError) as exc:
        print(f"fma-judge spectra import: {exc}", file=sys.stderr)
        return 2
    print(f"Imported {result.added:,} reference spectra ({result.known:,} already in the library) from {args.folder}")
    if result.skipped:
        print(f"Left out {len(result.skipped):,}:")
        for where, reason in result.skipped[:20]:
            print(f"  {where}: {reason}")
        if len(result.skipped) > 20:
            print(f"  ... and {len(result.skipped) - 20:,} more")
    return 0
