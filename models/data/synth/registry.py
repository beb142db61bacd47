"""Which renderer draws which defect kind: built-in leaves, generic leaves of other taxonomies, unknowns.

:func:`make_defect` is the one entry point: a built-in leaf id uses its family's renderer and table, a
leaf of another taxonomy borrows a family (by its parent) and a prototype leaf (by its id) with shifted
ranges, and an unknown type name uses its own class.
"""

from __future__ import annotations

import numpy as np

from models.data.synth.canvas import stable_hash
from models.data.synth.defect import Defect, GlassEdge, ParamTable, sample_params
from models.data.synth.mechanical import MECHANICAL, MechanicalDefect
from models.data.synth.particles import PARTICLE, ParticleDefect
from models.data.synth.process import PROCESS, ProcessDefect
from models.data.synth.residues import RESIDUE, ResidueDefect
from models.data.synth.unknown import UNKNOWN_BUILDERS

FAMILIES: dict[str, tuple[ParamTable, type[Defect]]] = {
    "particle": (PARTICLE, ParticleDefect),
    "residue": (RESIDUE, ResidueDefect),
    "mechanical": (MECHANICAL, MechanicalDefect),
    "process": (PROCESS, ProcessDefect),
}
KNOWN_LEAVES: dict[str, str] = {leaf: fam for fam, (table, _) in FAMILIES.items() for leaf in table}
"""Built-in leaf id -> family name."""


def family_of(leaf: str) -> str:
    """The family of a built-in leaf id; KeyError if it is not built in."""
    return KNOWN_LEAVES[leaf]


def generic_prototype(leaf: str, ancestors: list[str]) -> tuple[str, str]:
    """Map a leaf that has no built-in renderer onto (family, prototype leaf), stably.

    The family follows the leaf's parent (so siblings share a family); the prototype leaf within the
    family follows the leaf id.
    """
    fams = list(FAMILIES)
    parent = ancestors[-2] if len(ancestors) >= 2 else leaf
    family = fams[stable_hash(parent) % len(fams)]
    leaves = list(FAMILIES[family][0])
    return family, leaves[stable_hash(leaf) % len(leaves)]


def _perturbed_table(table: ParamTable, proto: str, leaf: str) -> ParamTable:
    """A copy of a family table where ``leaf`` gets the prototype's ranges shifted by a leaf-seeded amount."""
    prng = np.random.default_rng(stable_hash("generic:" + leaf))
    ranges = {}
    for k, (lo, hi) in table[proto].items():
        shift = (hi - lo) * float(prng.uniform(-0.3, 0.3))
        ranges[k] = (max(0.0, lo + shift), max(0.0, hi + shift))  # every parameter is non-negative
    return {**table, leaf: ranges}


def make_defect(
    kind: str,
    rng: np.random.Generator,
    *,
    difficulty: float,
    ancestors: list[str] | None = None,
) -> Defect:
    """Sample a defect of a leaf id (built-in or generic) or an unknown type name.

    Args:
        kind: a built-in leaf id, a name in :data:`UNKNOWN_BUILDERS`, or any leaf id when ``ancestors``
            (its taxonomy path) is given.
        rng: random source; every draw happens here.
        difficulty: 0..1, how far parameters may be blended towards a sibling's.
        ancestors: the leaf's taxonomy path, used for leaves without a built-in renderer.

    Returns:
        The sampled defect.
    """
    if kind in UNKNOWN_BUILDERS:
        defect = UNKNOWN_BUILDERS[kind](rng)
        defect.kind = kind
    else:
        if kind in KNOWN_LEAVES:
            family = KNOWN_LEAVES[kind]
            table, cls = FAMILIES[family]
            proto = kind
        elif ancestors is not None:
            family, proto = generic_prototype(kind, ancestors)
            table, cls = FAMILIES[family]
            table = _perturbed_table(table, proto, kind)
        else:
            raise KeyError(kind)
        params = sample_params(table, kind, rng, difficulty)
        defect = cls(proto, rng, params)
        defect.kind = kind
        if family != "mechanical" and rng.random() < 0.06 * difficulty:
            defect.edge = GlassEdge(
                rng, offset=float(rng.uniform(0.6, 1.5) * defect.extent_um / 2 + rng.uniform(40, 120))
            )
    return defect
