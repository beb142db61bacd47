"""argparse ``type``s shared by the sub-commands: a wrong value is one line from argparse naming the option."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An argparse ``type`` for a count such as ``--batch-size``: an integer >= 1 (0 or less is refused, not
    clamped)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def positive_ints(text: str) -> tuple[int, ...]:
    """An argparse ``type`` for a comma-separated list of counts such as ``--batch-sizes 8,16,32``."""
    try:
        values = tuple(positive_int(v) for v in text.split(",") if v.strip())
    except argparse.ArgumentTypeError:
        values = ()
    if not values:
        raise argparse.ArgumentTypeError(f"must be comma-separated positive integers, got {text!r}")
    return values
