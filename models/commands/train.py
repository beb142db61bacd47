"""``fma-model train --config CFG --data MANIFEST --out BUNDLE``: train a bundle (see :mod:`models.training.loop`).

``--folds K`` cross-validates the recipe instead (:mod:`models.training.folds`): OUT is then a folder of K runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.commands.arguments import number, refuse_data_folder, refuse_unwritable_out
from models.training.config import ConfigError, load_config
from models.training.loop import train


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="training config YAML (default: built-in defaults)")
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST",
                   help="manifest CSV or image folder; repeat to combine (e.g. the original set + the app's export)")
    p.add_argument("--out", required=True, help="output bundle folder (also holds metrics.csv and checkpoints)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config key, dotted for nested keys (network.backbone=resnet50)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    again.add_argument("--overwrite", action="store_true",
                       help="replace the bundle or interrupted run already in OUT (without it, train refuses such an "
                            "OUT); the old one is put back if the new run does not finish")
    p.add_argument("--init-from", metavar="BUNDLE",
                   help="start from this bundle's weights (fine-tuning; the config key init_from, taken as typed)")
    p.add_argument("--folds", type=number(int, "an integer of at least 3", low=3), metavar="K",
                   help="cross-validate instead: K runs, each testing on one fold of the data (its split column "
                        "ignored); OUT gets folds.json/folds.md with each figure's mean and spread")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs one line per epoch)")


CHECKPOINT = "checkpoint"


def bundle_parts(out: Path) -> list[Path]:
    """What of a bundle or a run ``out`` holds: the files and folders train, calibrate, spectrum, optimize and
    export-runtime write into a bundle, and the manifests calibrate kept."""
    from models.bundle.files import MANIFEST_NAME, WEIGHTS_NAME
    from models.bundle.spectrum import SPECTRUM_HEAD_NAME
    from models.inference.engine import ONNX_FILE
    from models.inference.runtime_export import HEATMAP_FILE, PREDICT_FILE, REFERENCE_FILE

    names = (MANIFEST_NAME, WEIGHTS_NAME, SPECTRUM_HEAD_NAME, "metrics.csv", ONNX_FILE, PREDICT_FILE, HEATMAP_FILE,
             REFERENCE_FILE, "calibration", CHECKPOINT)
    return [out / n for n in names if (out / n).exists()] + sorted(out.glob(f"{MANIFEST_NAME}.before-*"))


def check_out(out: Path, *, resume: bool, overwrite: bool) -> list[Path]:
    """Refuse an OUT that is a file, or that holds a bundle or an interrupted run, unless ``resume`` continues
    the run or ``overwrite`` replaces it; returns what ``overwrite`` replaces (nothing is touched yet). One typo in
    --out must not replace a production model, nor a forgotten --resume hours of training."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file: a bundle is a folder")
    refuse_unwritable_out(out)
    if resume:
        from models.training.checkpoint import refuse_finished

        refuse_finished(out)  # before the data is read and hashed
        return []
    if not out.is_dir():
        return []
    refuse_data_folder(out, "a bundle")
    held = bundle_parts(out)
    if held and not overwrite:
        names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in held[:5]) + (" …" if len(held) > 5 else "")
        interrupted = (out / CHECKPOINT / "state.json").exists() and not (out / "manifest.json").exists()
        run = "--resume continues its training, " if interrupted else ""
        raise ConfigError(f"--out {out} already holds a model ({names}): {run}--overwrite replaces it, or choose "
                          "another --out")
    return held


@contextlib.contextmanager
def replacing(out: Path, held: list[Path]):
    """The old bundle's parts moved aside while the new one trains: removed once it is written, put back when the
    run fails or is stopped (the old model is never lost to a bad --set, a bad manifest or Ctrl+C)."""
    if not held:
        yield
        return
    aside = out / f".before-overwrite-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    aside.mkdir()
    for part in held:
        part.rename(aside / part.name)
    there = {p.name for p in out.iterdir()}  # (the user's own files beside the bundle, and the aside folder)
    print(f"train: the model in {out} is kept in {aside.name}/ until the new one is written", file=sys.stderr)
    try:
        yield
    except BaseException as exc:
        with _ctrl_c_held_back():  # (a second Ctrl+C a moment after the first left the old model hidden in the
            exc.old_model_back = True  # aside folder, and the run told to --resume: seen)
            for made in [p for p in out.iterdir() if p.name not in there]:  # the run's own (a checkpoint the old
                shutil.rmtree(made) if made.is_dir() else made.unlink(missing_ok=True)  # model had none of)
            for part in aside.iterdir():
                new = out / part.name
                if new.is_dir():
                    shutil.rmtree(new)
                else:
                    new.unlink(missing_ok=True)
                part.rename(new)
            aside.rmdir()
        print(f"train: the run did not finish; the model in {out} is as it was (the unfinished run is not kept: "
              "the same command starts it again)", file=sys.stderr)
        raise
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def _ctrl_c_held_back():
    """Ctrl+C does nothing inside (the process is stopping already; what is inside must end)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before if before is not None else signal.default_int_handler)


NETWORK_KEYS = ("backbone", "backbone_kwargs", "head", "head_dim", "cbam")
"""The network settings ``--init-from`` without ``--config`` takes from the bundle (those its weights must fit)."""


def _check_start(bundle: Path) -> None:
    """Refuse an ``--init-from`` that is no bundle (its manifest unreadable) before the data is read (a factory's set
    took minutes to read and check before the refusal came); its weights are checked when they are loaded."""
    from models.bundle.files import read_bundle_manifest
    from models.bundle.manifest import BundleError

    try:
        read_bundle_manifest(bundle)
    except (BundleError, OSError, ValueError) as exc:
        raise ConfigError(f"init_from: {exc}") from exc


def _start_network(bundle: Path, out: Path, *, resume: bool) -> dict[str, Any] | None:
    """The network (and input size) of the bundle ``--init-from`` names, as config values under the user's
    ``--set``; a ``--resume`` takes them from its checkpoint, which the run started with (the bundle may have moved
    since). None when neither can be read (the start's own check then says why). Without them the default config's
    network (another backbone) made the run fail, after the data was read, with "the network differs"."""
    from models.bundle.files import read_bundle_manifest
    from models.bundle.manifest import BundleError

    state = out / CHECKPOINT / "state.json"
    if resume and state.is_file():
        try:
            config = json.loads(state.read_text(encoding="utf-8")).get("config") or {}
        except (OSError, ValueError):
            return None
        network, size, where = config.get("network") or {}, config.get("input_size"), f"its checkpoint ({state})"
        tree = config.get("taxonomy")
    else:
        try:
            manifest = read_bundle_manifest(bundle)
        except (BundleError, OSError, ValueError):
            return None
        network, where = manifest.network.to_dict(), str(bundle)
        size = manifest.hw[0] if manifest.hw[0] == manifest.hw[1] else None
        tree = str(bundle.resolve())  # its own tree (the demo's was taken: a 150-leaf model's data were refused)
    start: dict[str, Any] = {"network": {k: network[k] for k in NETWORK_KEYS if network.get(k) is not None}}
    if size is not None:
        start["input_size"] = size
    if tree is not None:
        start["taxonomy"] = tree
    shown = ", ".join(f"{k} {v}" for k, v in start["network"].items() if k != "backbone_kwargs")
    print(f"train: no --config: the tree, network and input size of {where} ({shown}, {size} px), the default "
          "training recipe (learning rate, loss, outlier exposure: pass the config the bundle was trained with to keep "
          "its own); --config or --set change them", file=sys.stderr)
    return start


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.folds and args.overwrite:
        raise ConfigError("--overwrite does not apply to --folds (its runs are kept fold by fold: --resume continues "
                          "them); choose another --out")
    if args.folds:  # (check_out is not for them: their runs are kept fold by fold)
        refuse_data_folder(out, "the folds' runs")
        refuse_unwritable_out(out)
    held = [] if args.folds else check_out(out, resume=args.resume, overwrite=args.overwrite)
    if args.init_from and not args.resume:  # a wrong one said now, not after minutes of reading the data
        _check_start(Path(args.init_from).expanduser())
    start = None
    if args.init_from and args.config is None:  # fine-tuning without a config: the bundle's network, not the default's
        start = _start_network(Path(args.init_from).expanduser(), out, resume=args.resume)
    cfg, base = load_config(args.config, args.overrides, start)
    if args.init_from:
        cfg.init_from = args.init_from  # a path as typed, not parsed as YAML
    if held and cfg.init_from and out.resolve() in {Path(cfg.init_from).resolve(),
                                                    (base / cfg.init_from).resolve() if base else None}:
        raise ConfigError(f"--init-from {cfg.init_from} is the bundle --overwrite would replace: train into another "
                          "--out")
    progress = not args.no_progress and sys.stderr.isatty()
    if args.folds:
        from models.training.folds import cross_validate

        cross_validate(cfg, args.data, args.out, args.folds, resume=args.resume, base_dir=base, progress=progress)
        return 0
    # under torchrun every rank runs this: rank 0 alone moves the old bundle aside (and writes the new one)
    with replacing(out, held if os.environ.get("RANK", "0") == "0" else []):
        train(cfg, args.data, args.out, resume=args.resume, base_dir=base, progress=progress)
    return 0
