"""Which renderer draws which defect kind: built-in leaves, generic leaves of other taxonomies, unknowns.

:func:`make_defect` is the one entry point: a built-in leaf id uses its family's renderer and table, a
leaf of another taxonomy is drawn by its :class:`~models.data.synth.variants.Look` (a family, a
prototype leaf and a variant of its own: :func:`looks_of`), and an unknown type name uses its own class.
"""

from __future__ import annotations

import numpy as np

from models.data.synth.defect import Defect, GlassEdge, ParamTable, sample_params
from models.data.synth.mechanical import MECHANICAL, MechanicalDefect
from models.data.synth.particles import PARTICLE, ParticleDefect
from models.data.synth.process import PROCESS, ProcessDefect
from models.data.synth.residues import RESIDUE, ResidueDefect
from models.data.synth.unknown import UNKNOWN_BUILDERS
from models.data.synth.variants import Look, leaf_looks, variant_table
from models.taxonomy import Taxonomy

FAMILIES: dict[str, tuple[ParamTable, type[Defect]]] = {
    "particle": (PARTICLE, ParticleDefect),
    "residue": (RESIDUE, ResidueDefect),
    "mechanical": (MECHANICAL, MechanicalDefect),
    "process": (PROCESS, ProcessDefect),
}
KNOWN_LEAVES: dict[str, str] = {leaf: fam for fam, (table, _) in FAMILIES.items() for leaf in table}
"""Built-in leaf id -> family name."""


def looks_of(taxonomy: Taxonomy) -> dict[str, Look]:
    """The look of every leaf of a taxonomy that has no built-in renderer (see :mod:`.variants`)."""
    paths = {leaf: taxonomy.path(leaf) for leaf in taxonomy.leaves}
    return leaf_looks(paths, {family: list(table) for family, (table, _) in FAMILIES.items()})


def make_defect(
    kind: str,
    rng: np.random.Generator,
    *,
    difficulty: float,
    look: Look | None = None,
) -> Defect:
    """Sample a defect of a leaf id (built-in or generic) or an unknown type name.

    Args:
        kind: a built-in leaf id, a name in :data:`UNKNOWN_BUILDERS`, or any leaf id when its ``look``
            is given.
        rng: random source; every draw happens here.
        difficulty: 0..1, how far parameters may be blended towards a sibling's.
        look: how a leaf without a built-in renderer is drawn (:func:`looks_of`).

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
        elif look is not None:
            family, proto = look.family, look.proto
            table, cls = FAMILIES[family]
            table = variant_table(table, look, kind)
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
