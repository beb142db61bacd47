"""How a leaf without a built-in renderer looks: a family, a prototype leaf and a distinct variant.

A factory's tree (``resources/taxonomy/fma_150.yaml``: 150 leaves) has many more leaves than the 18
built-in renderers. :func:`leaf_looks` gives every other leaf a :class:`Look`:

* the **family** (renderer) follows the leaf's own id first, then its ancestors: a built-in leaf id or
  family name on the path (``particle_metal`` → particle), else the first word of an id that names a kind
  of defect (``pol_bubble`` → process, ``handling_dent_suction`` → mechanical), else a stable hash of the
  parent (siblings share a family);
* the **prototype** is the nearest built-in leaf of that family on the path, else one named by a word of
  an id (``chip`` → edge_chipping), else the family's prototypes in turn;
* the **variant** numbers the leaves that share a (family, prototype), in taxonomy order, from 1 (0 is
  the built-in leaf itself). Variant k applies the k-th combination of the family's :data:`MODIFIERS`
  (every single modifier first, then every pair that touches different parameters; one that would change
  only parameters the prototype ignores, :data:`IGNORED`, is replaced), so no two leaves of a tree draw from
  the same distribution (until a prototype has more leaves than combinations, about 50): each has a look of
  its own that a classifier can learn.

A modifier overrides a parameter's range (``(low, high)``) or scales it (``("*", factor)``); its
effect is visible at the demo's 20x view (a hue band, a size, a count, a texture, a halo).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import combinations

from models.data.synth.canvas import stable_hash
from models.data.synth.defect import ParamTable

Modifier = Mapping[str, tuple]
"""Parameter name -> ``(low, high)`` (set the range) or ``("*", factor)`` (scale the prototype's range)."""

_HUES = {  # (hue range, saturation range) of a colour band
    "blue": ((0.58, 0.64), (0.45, 0.75)), "green": ((0.28, 0.36), (0.45, 0.75)),
    "red": ((0.97, 1.0), (0.5, 0.85)), "violet": ((0.76, 0.82), (0.4, 0.7)),
}  # fmt: skip

MODIFIERS: dict[str, list[Modifier]] = {
    "particle": [
        {"hue": _HUES["blue"][0], "sat": _HUES["blue"][1]},
        {"size": ("*", 2.2)},
        {"hue": _HUES["green"][0], "sat": _HUES["green"][1]},
        {"elong": (3.0, 6.0)},
        {"lum": (0.02, 0.12), "highlight": (0.0, 0.1)},
        {"hue": _HUES["red"][0], "sat": _HUES["red"][1]},
        {"size": ("*", 0.45)},
        {"texture": (0.75, 1.0), "irregular": (0.4, 0.6)},
        {"hue": _HUES["violet"][0], "sat": _HUES["violet"][1]},
        {"rim": (0.8, 1.0), "translucent": (0.7, 0.95)},
    ],
    "residue": [
        {"hue": _HUES["blue"][0], "sat": _HUES["blue"][1]},
        {"size": ("*", 0.4)},
        {"ring": (0.75, 1.0)},
        {"hue": _HUES["green"][0], "sat": _HUES["green"][1]},
        {"rainbow": (0.75, 1.0)},
        {"elong": (3.0, 5.0)},
        {"hue": _HUES["red"][0], "sat": _HUES["red"][1]},
        {"satellites": (0.7, 1.0)},
        {"opacity": ("*", 2.0), "lum": (0.15, 0.35)},
        {"mottle": (0.8, 1.0), "fringes": (0.6, 0.9)},
    ],
    "mechanical": [
        {"width": ("*", 2.5)},
        {"lines": (3.0, 6.0), "spacing": (8.0, 16.0)},
        {"halo": (0.8, 1.0)},
        {"width": ("*", 0.45), "contrast": (0.5, 0.8)},
        {"curve": (0.7, 1.0)},
        {"bright": (0.85, 1.0)},
        {"jagged": (0.8, 1.0), "branching": (0.6, 1.0)},
        {"length": ("*", 0.35)},
        {"contrast": (0.85, 1.0), "bright": (0.0, 0.1)},
        {"length": ("*", 2.0), "chips": (0.4, 0.7)},
    ],
    "process": [
        {"hue": (0.3, 0.38)},
        {"size": ("*", 2.0)},
        {"halo": (0.7, 1.0)},
        {"hue": (0.75, 0.85)},
        {"debris": (0.8, 1.0)},
        {"size": ("*", 0.5)},
        {"glow": (0.8, 1.0)},
        {"irregular": (0.6, 0.9)},
        {"hue": (0.95, 1.0)},
        {"rim": (0.85, 1.0), "lens": (0.3, 0.6)},
    ],
}

WORDS: dict[str, tuple[str, str | None]] = {
    "particle": ("particle", None), "dust": ("particle", "particle_cluster"), "cluster": ("particle", "particle_cluster"),
    "fiber": ("particle", "fiber"), "hair": ("particle", "fiber"), "glass": ("particle", "particle_glass"),
    "metal": ("particle", "particle_metal"), "spacer": ("particle", "particle_glass"), "flake": ("particle", None),
    "residue": ("residue", None), "stain": ("residue", "lc_stain"), "mark": ("residue", "water_mark"),
    "glue": ("residue", "photoresist_residue"), "contamination": ("residue", None), "fingerprint": ("residue", None),
    "scratch": ("mechanical", "scratch"), "crack": ("mechanical", "crack"), "break": ("mechanical", "crack"),
    "chip": ("mechanical", "edge_chipping"), "dent": ("mechanical", "dent"), "rubbing": ("mechanical", "rubbing_scratch"),
    "mechanical": ("mechanical", None),
    "bubble": ("process", "bubble"), "void": ("process", "bubble"), "open": ("process", "line_open"),
    "short": ("process", "line_short"), "esd": ("process", "line_short"), "peeling": ("process", "ito_peeling"),
    "corrosion": ("process", "ito_peeling"), "pinhole": ("process", "ito_peeling"), "process": ("process", None),
}  # fmt: skip
"""Words of node ids that name a kind of defect: word -> (family, prototype leaf or None)."""


@dataclass(frozen=True)
class Look:
    """How one leaf is rendered: a family's renderer, a prototype leaf's ranges and a variant number."""

    family: str
    proto: str
    variant: int


IGNORED: dict[str, frozenset[str]] = {
    "scratch": frozenset({"bright"}), "dent": frozenset({"bright"}), "rubbing_scratch": frozenset({"bright"}),
    "line_open": frozenset({"glow"}), "line_short": frozenset({"glow"}), "ito_peeling": frozenset({"glow"}),
}  # fmt: skip
"""Parameters of its family's table that a prototype's renderer never reads (a modifier of only these would
draw the prototype itself; tests/test_synth_variants.py renders every prototype with every modifier to check)."""


def _effect(combo: tuple[Modifier, ...], proto: str | None) -> frozenset:
    ignored = IGNORED.get(proto or "", frozenset())
    return frozenset((k, v) for m in combo for k, v in m.items() if k not in ignored)


def combination(family: str, variant: int, proto: str | None = None) -> tuple[Modifier, ...]:
    """The modifiers of a family's variant: () for 0, then each single modifier, then each pair of modifiers
    that set different parameters (cycling if a family has more leaves than combinations). With ``proto``, a
    combination whose effect on that prototype repeats an earlier one (or none: the prototype itself) is replaced,
    in its place, by the next unused triple, so the other variants keep their looks."""
    if variant <= 0:
        return ()
    combos = _combos(family, proto)
    return combos[(variant - 1) % len(combos)]


@cache
def _combos(family: str, proto: str | None) -> tuple[tuple[Modifier, ...], ...]:
    """Every combination of a family, in variant order (built once per prototype: each sample asks)."""
    mods = MODIFIERS[family]
    combos: list[tuple[Modifier, ...]] = [(m,) for m in mods]
    combos += [(a, b) for a, b in combinations(mods, 2) if not set(a) & set(b)]
    if proto is not None:
        spares = iter(t for t in combinations(mods, 3) if len(set().union(*t)) == sum(len(m) for m in t))
        seen = {frozenset()}
        for i in range(len(combos)):
            while _effect(combos[i], proto) in seen:
                combos[i] = next(spares)
            seen.add(_effect(combos[i], proto))
    return tuple(combos)


def variant_table(table: ParamTable, look: Look, leaf: str) -> ParamTable:
    """The family table with ``leaf``'s ranges: the prototype's, changed by the variant's modifiers."""
    ranges = dict(table[look.proto])
    for modifier in combination(look.family, look.variant, look.proto):
        for key, value in modifier.items():
            if key not in ranges:
                continue
            if value[0] == "*":
                lo, hi = ranges[key]
                ranges[key] = (lo * value[1], hi * value[1])
            else:
                ranges[key] = (float(value[0]), float(value[1]))
    return {**table, leaf: ranges}


def _hits(node: str) -> Iterator[tuple[str, str | None]]:
    """(family, prototype or None) of each word of a node id that names a kind of defect, in order."""
    return (WORDS[word] for word in node.lower().split("_") if word in WORDS)


def _family(path: Sequence[str], families: Mapping[str, Sequence[str]], known: Mapping[str, str]) -> str:
    for node in reversed(path):
        if node in known:
            return known[node]
        if node in families:
            return node
        hit = next(_hits(node), None)
        if hit is not None:
            return hit[0]
    parent = path[-2] if len(path) >= 2 else path[-1]
    names = list(families)
    return names[stable_hash(parent) % len(names)]


def _proto(path: Sequence[str], family: str, protos: Sequence[str]) -> str | None:
    for node in reversed(path):
        if node in protos:
            return node
        named = next((proto for fam, proto in _hits(node) if fam == family and proto is not None), None)
        if named is not None:
            return named
    return None


def leaf_looks(paths: Mapping[str, Sequence[str]], families: Mapping[str, Sequence[str]]) -> dict[str, Look]:
    """A :class:`Look` for every leaf that has no built-in renderer.

    Args:
        paths: leaf id -> its taxonomy path (group first, the leaf last), in taxonomy order.
        families: family name -> its built-in leaf ids (prototypes), in order.

    Returns:
        leaf id -> look, for the leaves of ``paths`` that are not built-in leaf ids.
    """
    known = {leaf: family for family, leaves in families.items() for leaf in leaves}  # built-in leaf -> family
    used: dict[tuple[str, str], int] = {}
    turn: dict[str, int] = {}
    looks = {}
    for leaf, path in paths.items():
        if leaf in known:
            continue
        family = _family(path, families, known)
        protos = families[family]
        proto = _proto(path, family, protos)
        if proto is None:  # the family's prototypes in turn, then a stable pick for a lone leaf
            k = turn.get(family, stable_hash(leaf))
            proto = protos[k % len(protos)]
            turn[family] = k + 1
        used[(family, proto)] = used.get((family, proto), 0) + 1
        looks[leaf] = Look(family, proto, used[(family, proto)])
    return looks
