"""argparse ``type``s shared by the sub-commands: a wrong value is one line from argparse naming the option."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def number(kind: type[int] | type[float], what: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> Callable[[str], Any]:
    """An argparse ``type``: a finite ``kind`` (int or float) within ``[low, high]`` (``low_open``/``high_open``
    leave an end out); a wrong value is ``must be <what>, got '<text>'``."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or (low is not None and (value < low or (low_open and value == low))) \
                or (high is not None and (value > high or (high_open and value == high))):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


positive_int = number(int, "a positive integer", low=1)
"""An argparse ``type`` for a count such as ``--batch-size``: an integer >= 1 (0 or less is refused, not clamped)."""


def positive_ints(text: str) -> tuple[int, ...]:
    """An argparse ``type`` for a comma-separated list of counts such as ``--batch-sizes 8,16,32``."""
    try:
        values = tuple(positive_int(v) for v in text.split(",") if v.strip())
    except argparse.ArgumentTypeError:
        values = ()
    if not values:
        raise argparse.ArgumentTypeError(f"must be comma-separated positive integers, got {text!r}")
    return values


def refuse_file_out(out: str | Path, what: str, result: str | None = None) -> None:
    """Refuse an ``--out`` folder that is a file or lies under one, before the run (it ended the run as an errno);
    say on stderr when the folder already holds a ``result`` file of an earlier run, which this run replaces (it
    did so without a word).

    Raises:
        NotADirectoryError: naming the file and what the folder is for (``what``).
    """
    above = next((p for p in (Path(out), *Path(out).parents) if p.exists()), None)
    if above is not None and not above.is_dir():
        raise NotADirectoryError(f"--out {out}: {above} is a file; give a folder for {what}")
    earlier = Path(out) / result if result else None
    if earlier is not None and earlier.is_file():
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(earlier.stat().st_mtime))
        print(f"--out {out} holds the {result} of an earlier run ({when}): this run replaces it", file=sys.stderr)


OWN_IMAGES = frozenset({"confusion_matrix.png", "reliability.png", "risk_coverage.png", "importance.png",
                        "runtime_reference.png"})
"""The images the commands write themselves (an evaluation's and a calibration's plots, a study's importance, a
bundle's runtime reference image), and ``*_heatmap.png`` (``predict --heatmaps``): no data set's."""
BUNDLE_FOLDERS = ("calibration", "checkpoint")
"""A bundle's own folders (beside its ``manifest.json``): not looked into."""


def refuse_data_folder(out: str | Path, what: str) -> None:
    """Refuse an ``--out`` that holds images (a data set's or a batch's folder), ``--overwrite`` or not: ``what`` (a
    bundle, the folds' runs, the plots of an evaluation) goes into a folder of its own, or the app lists its files
    as images of the batch (seen: ``evaluate --out lot1`` put three plots into the batch, judged as defects).

    Raises:
        FileExistsError: naming a few of the images.
    """
    out = Path(out)
    images = images_in(out) if out.is_dir() else []
    if images:
        raise FileExistsError(f"--out {out} holds images ({', '.join(str(p.relative_to(out)) for p in images)} ...): "
                              f"{what} goes into a folder of its own (the app would list its files beside the "
                              "images); choose another --out")


def images_in(out: Path, most: int = 3, depth: int = 3, looked_at: int = 5000) -> list[Path]:
    """A few image files in ``out`` or up to ``depth - 1`` folders down: a data set's or a batch's folder (``fma-model
    synth`` writes ``images/<type>/*.png``, two down: a training into it was allowed). The commands' own images
    (:data:`OWN_IMAGES`) and a bundle's own folders (:data:`BUNDLE_FOLDERS`) are none; hidden entries are skipped;
    at most ``looked_at`` entries are read (a share with 100,000 files is not listed whole), and a folder that
    cannot be read counts as none."""
    from models.imageio import IMAGE_SUFFIXES

    found: list[Path] = []
    level, seen = [out], 0
    for _ in range(depth):
        below: list[Path] = []
        for folder in level:
            try:  # (never listed past what is left to read; sorted, so the names said do not change run to run)
                entries = sorted(itertools.islice(folder.iterdir(), max(0, looked_at - seen)))
            except OSError:
                continue
            bundle = any(e.name == "manifest.json" for e in entries)
            seen += len(entries)
            for entry in entries:
                name = entry.name
                if name.startswith(".") or (bundle and name in BUNDLE_FOLDERS):
                    continue
                if entry.suffix.lower() in IMAGE_SUFFIXES:
                    if name not in OWN_IMAGES and not name.endswith("_heatmap.png") and entry.is_file():
                        found.append(entry)
                        if len(found) >= most:
                            return found
                elif entry.is_dir():
                    below.append(entry)
            if seen >= looked_at:
                return found
        level = below
    return found


def refuse_unwritable_out(out: str | Path) -> None:
    """Refuse an ``--out`` this account cannot write into, before the run reads its data (it ended, minutes later,
    as "[Errno 13] Permission denied: 'OUT'"): one file made and removed in the folder, or in the nearest folder
    above it that exists (one try: Windows' ``tempfile`` retries a refused name for hours, cpython#66305).

    Raises:
        PermissionError: naming the folder and why.
    """
    out = Path(out)
    above = next((p for p in (out, *out.parents) if p.exists()), None)
    if above is None or not above.is_dir():  # (refuse_file_out says what is wrong with it)
        return
    probe = above / f".fma-write-test-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:  # (left by a process of this pid killed at this very line: the folder is writable)
        pass
    except OSError as exc:
        raise PermissionError(f"--out {out}: {above} cannot be written ({exc.strerror or exc}); choose another "
                              "--out") from None
    with contextlib.suppress(OSError):
        probe.unlink()
