"""A calibration's date: the purity monitor and the stores key routings by it, to the second."""

from __future__ import annotations

import datetime as _dt

__all__ = ["created_after"]


def created_after(previous: str | None) -> str:
    """Now, to the second, and later than ``previous`` (the calibration it replaces). The purity monitor keys its
    pauses by a calibration's time; two recalibrations in one second shared a key, and the second did not carry
    the lead's pause the first had (a fresh-clone CI run)."""
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    try:
        before = _dt.datetime.fromisoformat(previous or "")
    except ValueError:  # none or not a time
        return now.isoformat()
    before = before if before.tzinfo is not None else before.replace(tzinfo=_dt.UTC)
    return max(now, before.replace(microsecond=0) + _dt.timedelta(seconds=1)).isoformat()
