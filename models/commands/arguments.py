"""argparse ``type``s shared by the sub-commands: a wrong value is one line from argparse naming the option."""

from __future__ import annotations

import argparse
import math
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
