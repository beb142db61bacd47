"""Reading a manifest section into a typed, frozen dataclass: JSON types and numeric bounds checked, unknown keys
refused, every message naming the file and the key (:func:`section`). No torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from models.routing.unknown import is_finite_number

__all__ = ["INPUT_SIDE_RANGE", "BundleError", "section", "short", "within"]

T = TypeVar("T")


class BundleError(ValueError):
    """A model bundle cannot be written or read; the message says why."""


INPUT_SIDE_RANGE = (16, 4096)
"""The height and width of a network input a manifest may ask for, in pixels (inclusive)."""

# A section field's annotation (its base name) -> the JSON values that fit it, and how a message names them.
_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "str": ((str,), "a string"), "int": ((int,), "an integer"), "float": ((int, float), "a number"),
    "bool": ((bool,), "true or false"), "Mapping": ((Mapping,), "an object"), "tuple": ((list, tuple), "a list"),
    "InitFrom": ((Mapping,), "an object"), "OnnxGraph": ((Mapping,), "an object"),
    "RuntimeGraph": ((Mapping,), "an object"),
    "RuntimeReference": ((Mapping,), "an object"), "None": ((type(None),), "null"),
}


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message stays one readable line whatever the file holds."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _fits(value: Any, option: str) -> bool:
    """Whether the JSON ``value`` fits one option of a field annotation (``int``, ``tuple[str, ...]`` ...)."""
    base = option.split("[", 1)[0]
    kinds = _KINDS[base][0]
    if isinstance(value, bool) and bool not in kinds:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool) and not is_finite_number(value):
        return False
    if base == "tuple" and isinstance(value, kinds) and _item(option) in _KINDS:
        return all(_fits(v, _item(option)) for v in value)
    return isinstance(value, kinds)


def _item(option: str) -> str:
    """The base name of a ``tuple[X, ...]`` option's items ("" for any other option)."""
    return option[len("tuple["):].split(",", 1)[0].split("[", 1)[0].strip() if option.startswith("tuple[") else ""


def _kind_name(option: str) -> str:
    """How a message names what fits one option of a field annotation ("a list (each item a string)")."""
    base, item = option.split("[", 1)[0], _item(option)
    return f"{_KINDS[base][1]} (each item {_KINDS[item][1]})" if item in _KINDS else _KINDS[base][1]


def within(low: float, high: float | None = None, *, strict: bool = False) -> dict[str, Any]:
    """A section field's metadata: its numbers must be >= ``low`` (> ``low`` when ``strict``) and <= ``high``."""
    return {"low": low, "high": high, "strict": strict}


def _check_field(f: dataclasses.Field[Any], value: Any, where: str, source: str) -> None:
    """Refuse a value whose JSON type does not fit the field's annotation, or a number below its bound."""
    options = [o.strip() for o in str(f.type).split("|")]
    if all(o.split("[", 1)[0] in _KINDS for o in options) and not any(_fits(value, o) for o in options):
        wanted = " or ".join(dict.fromkeys(_kind_name(o) for o in options))
        raise BundleError(f"{source}: '{where}' must be {wanted}, got {short(value)}")
    low, high, strict = f.metadata.get("low"), f.metadata.get("high"), f.metadata.get("strict", False)
    if low is None or not isinstance(value, int | float):
        return
    if (value <= low if strict else value < low) or (high is not None and value > high):
        bounds = f"{'>' if strict else '>='} {low}" + ("" if high is None else f" and <= {high}")
        raise BundleError(f"{source}: '{where}' must be {bounds}, got {short(value)}")


def section(cls: type[T], data: Any, what: str, source: str) -> T:
    """Build the dataclass ``cls`` from the JSON object ``data`` (the manifest's ``what``, read from ``source``).

    Unknown keys are refused, and so is a value whose JSON type does not fit its field's annotation (``str``,
    ``int``, ``float`` (finite), ``bool``, ``Mapping`` (an object), ``tuple[...]`` (a list of such), a nested
    section (an object), optionally ``| None``) or that lies outside the field's ``_within`` bounds.
    """
    if not isinstance(data, Mapping):
        raise BundleError(f"{source}: '{what}' must be an object, got {short(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(map(str, set(data) - set(fields)))
    if unknown:
        raise BundleError(f"{source}: '{what}' has unknown key(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(fields))}")
    for key, value in data.items():
        _check_field(fields[key], value, f"{what}.{key}", source)
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(f"{source}: '{what}': {exc}") from exc
