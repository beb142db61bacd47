"""``fma-model``: the headless model command line.

Each sub-command lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; this file only wires them up, imports each lazily (so
``fma-model --help`` does not load torch), and turns expected errors into a
one-line message and exit code 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("models.commands.synth", "render a synthetic FMA micrograph data set with a manifest"),
    "curate": ("models.commands.curate", "apply curation rules, print the funnel, write a split manifest"),
    "train": ("models.commands.train", "train a model bundle from a config and manifest(s)"),
    "evaluate": ("models.commands.evaluate", "evaluate a bundle: metrics.json, plots and report.md"),
    "calibrate": ("models.commands.calibrate", "fit temperature, the purity thresholds (one promise over all leaves by default, or per leaf) and the unknown score"),
    "compare": ("models.commands.compare", "evaluate two bundles on the same data, side by side"),
    "tune": ("models.commands.tune", "search training hyper-parameters with Optuna (needs the 'tune' extra)"),
    "grid": ("models.commands.grid", "run the backbone x framework experiment grid"),
    "spectrum": ("models.commands.spectrum",
                 "train the FTIR spectrum head of a trained bundle (fused with its image model) from images' spectra"),
    "predict": ("models.commands.predict", "predict images with a bundle (text or --json lines)"),
    "info": ("models.commands.predict:info", "show a bundle's manifest summary"),
    "optimize": ("models.commands.optimize", "measure CPU inference paths on images; store the fastest that keeps predictions"),
    "export-runtime": ("models.commands.export_runtime",
                       "write the ONNX graphs the torch-free workstation app runs (predictions and heatmaps)"),
}


def _load(spec: str):
    module_name, _, prefix = spec.partition(":")
    module = importlib.import_module(module_name)
    add = getattr(module, f"add_{prefix}_arguments" if prefix else "add_arguments")
    run = getattr(module, f"run_{prefix}" if prefix else "run")
    return add, run


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fma-model",
        description="Hierarchical FMA defect classifier: data, training, evaluation and prediction.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (spec, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        # Only the chosen command's module is imported (keeps --help fast and errors local).
        if name == wanted:
            add, run = _load(spec)
            add(p)
            p.set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    rc = _main(argv)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ:  # a rank started by torchrun
        from models.sysinfo import leave_torchrun_rank

        leave_torchrun_rank(rc)
    return rc


TRAIN_EXTRAS = {"torch": "train", "torchvision": "train", "timm": "train", "tqdm": "train", "onnx": "train",
                "onnxscript": "train"}
"""Packages of ``pyproject.toml``'s extras that ``fma-model`` commands import, by the extra that installs them
(``tune`` says its own, for Optuna)."""


def _main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _run(argv)
    except ModuleNotFoundError as exc:  # the workstation install has no torch: one line, not a traceback
        if (extra := missing_extra(exc)) is None:  # a package that is there but broken inside: its traceback
            raise
        top = (exc.name or "").partition(".")[0]
        command = next((a for a in argv if not a.startswith("-")), "")
        print(f"fma-model {command}: needs {top}, which this installation lacks (the workstation install runs "
              f"models with ONNX Runtime and trains none): install the {extra} extra, pip install \".[{extra}]\" in "
              f"the project's folder", file=sys.stderr)
        return 2


def reader_left() -> None:
    """Standard output's reader left (``… | head``): the rest goes nowhere, and Python's own flush at exit does not
    fail on the closed pipe (a BrokenPipeError traceback). For ``fma-model`` and ``fma-judge`` alike."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The extra of ``pyproject.toml`` whose package ``exc`` found missing and this install really lacks (the
    workstation install has no torch), or None: a module of the project's own, or a package that is there but
    broken inside, keeps its traceback (fma-judge's own commands blamed every missing module on the training
    packages)."""
    top = (exc.name or "").partition(".")[0]
    extra = TRAIN_EXTRAS.get(top)
    return None if extra is None or _installed(top) else extra


def _installed(name: str) -> bool:
    """Whether the top-level package ``name`` can be found (a test may block one with ``sys.modules[name] = None``)."""
    if name in sys.modules and sys.modules[name] is None:
        return False
    return importlib.util.find_spec(name) is not None


def _run(argv: list[str]) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0 if not argv else 2
    from models.commands.errors import user_errors

    try:
        return int(args._run(args) or 0)
    except user_errors() as exc:  # (the modules already loaded: looking them up imports nothing)
        print(f"fma-model {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `fma-model predict ... | head`: the reader left, which is not an error
        reader_left()
        return 0
    except KeyboardInterrupt as exc:  # (--overwrite put the old model back: said, and there is nothing to resume)
        print(f"fma-model {args.command}: interrupted"
              f"{'' if getattr(exc, 'old_model_back', False) else _resumable(args)}", file=sys.stderr)
        return 130


def _resumable(args) -> str:
    """What an interrupted ``train`` left (its checkpoint) and how it goes on: said after "interrupted", which was
    all a lead read after Ctrl+C; the same command then refused the folder as a model's."""
    out = getattr(args, "out", None)
    if args.command != "train" or not out:
        return ""
    if getattr(args, "folds", None):  # (the folds' runs: OUT/fold_i, each evaluated fold kept)
        done = sorted((p.parent.name for p in Path(out).glob("fold_*/metrics.json")),
                      key=lambda name: int(name.removeprefix("fold_")) if name[5:].isdigit() else 0)
        return (f"; the folds evaluated so far are kept ({', '.join(done) or 'none yet'}), and an unfinished fold's "
                "checkpoint: the same command with --resume goes on with the rest")
    state = Path(out) / "checkpoint" / "state.json"
    try:
        epochs = int(json.loads(state.read_text(encoding="utf-8"))["epoch"]) + 1
    except (OSError, ValueError, KeyError, TypeError):
        return " (no epoch was finished: nothing is kept to resume)"
    return (f"; its checkpoint after epoch {epochs} is kept in {state.parent}: the same command with --resume "
            "continues it")


if __name__ == "__main__":
    sys.exit(main())
