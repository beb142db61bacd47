"""One rule for every config dataclass: unknown keys are refused, naming them and the known ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any


def checked_kwargs(cls: type, data: Any, what: str) -> dict[str, Any]:
    """``data`` as keyword arguments for the dataclass ``cls``.

    Raises:
        ValueError: ``data`` is not a mapping, or has keys that ``cls`` does not know.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} config must be a mapping, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(map(str, set(data) - known))
    if unknown:
        raise ValueError(f"unknown {what} config key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return dict(data)
