"""Leaves without a built-in renderer: a family, a prototype and a variant of their own (the 150-leaf tree)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from models.data import synth
from models.data.synth.registry import FAMILIES, looks_of
from models.data.synth.variants import IGNORED, MODIFIERS, Look, combination, leaf_looks, variant_table

FAMILY_LEAVES = {family: list(table) for family, (table, _) in FAMILIES.items()}


@pytest.fixture(scope="module")
def tree(tree150):
    return tree150


def test_the_factory_tree_has_150_leaves_over_four_ragged_levels(tree) -> None:
    assert len(tree.leaves) == 150 and tree.num_levels == 4 and len(tree.levels[0]) == 4
    depths = Counter(len(tree.path(leaf)) for leaf in tree.leaves)
    assert set(depths) == {3, 4}  # ragged: some leaves sit directly under a subgroup
    assert all(tree.name(n, "zh_TW") != tree.name(n, "en") for n in tree.levels[0])


def test_every_leaf_of_the_tree_draws_from_a_distribution_of_its_own(tree) -> None:
    looks = looks_of(tree)
    assert set(looks) == set(tree.leaves)  # no leaf id of this tree is a built-in one
    tables = {}
    for leaf, look in looks.items():
        table = variant_table(FAMILIES[look.family][0], look, leaf)
        read = {k: v for k, v in table[leaf].items() if k not in IGNORED.get(look.proto, ())}  # what the renderer reads
        tables[leaf] = (look.family, look.proto, tuple(sorted(read.items())))
    assert len(set(tables.values())) == 150, "two leaves share a renderer and the ranges it reads"
    assert {look.family for look in looks.values()} == set(FAMILIES)


def test_families_and_prototypes_follow_ids_then_ancestors(tree) -> None:
    looks = looks_of(tree)
    assert looks["metal_al"] == Look("particle", "particle_metal", 1)  # the built-in ancestor
    pi_edge = looks[
        "pi_residue_edge"
    ]  # "residue" names the family; the nearest built-in ancestor the prototype
    assert (pi_edge.family, pi_edge.proto) == ("residue", "pi_residue")
    assert (looks["pol_bubble"].family, looks["pol_bubble"].proto) == (
        "process",
        "bubble",
    )  # a word of its id
    assert (looks["handling_dent_suction"].family, looks["handling_dent_suction"].proto) == (
        "mechanical",
        "dent",
    )
    assert looks["short_residue_bridge"].family == "process"  # the first word of the leaf's id wins


def test_variants_number_from_one_and_built_in_leaves_keep_their_own_look() -> None:
    paths = {"scratch": ["g", "s", "scratch"], "deep_scratch": ["g", "s", "deep_scratch"],
             "wide_scratch": ["g", "s", "wide_scratch"], "zz": ["g", "q", "zz"]}  # fmt: skip
    looks = leaf_looks(paths, FAMILY_LEAVES)
    assert "scratch" not in looks
    assert looks["deep_scratch"] == Look("mechanical", "scratch", 1)
    assert looks["wide_scratch"] == Look("mechanical", "scratch", 2)
    assert looks["zz"].family in FAMILIES  # no word anywhere: a stable pick by the parent
    assert looks == leaf_looks(paths, FAMILY_LEAVES)


def test_combinations_are_distinct_and_change_the_ranges() -> None:
    for family, mods in MODIFIERS.items():
        combos = [combination(family, v) for v in range(1, len(mods) * 3)]
        assert len({repr(c) for c in combos}) == len(combos)
        assert combination(family, 0) == ()
        table, _ = FAMILIES[family]
        proto = next(iter(table))
        for v in range(1, len(mods) + 1):
            changed = variant_table(table, Look(family, proto, v), "new_leaf")["new_leaf"]
            assert changed != table[proto], f"{family} variant {v} changes nothing"


def test_variants_render_visibly_different_images(tree) -> None:
    """Two leaves with one prototype but different variants give different pictures from one seed."""
    a, b = "metal_al", "metal_mo"
    one, _, _ = synth.render_sample(a, np.random.default_rng(1), magnification=20, size=64, taxonomy=tree)
    two, _, _ = synth.render_sample(b, np.random.default_rng(1), magnification=20, size=64, taxonomy=tree)
    diff = np.abs(np.asarray(one, np.int16) - np.asarray(two, np.int16))
    assert diff.max() > 40


def test_generate_renders_the_150_leaf_tree_with_a_long_tail(tree, tmp_path: Path) -> None:
    manifest = synth.generate(tmp_path, tree, per_class=12, seed=0, size=24, long_tail=0.25, workers=1)
    import csv

    with manifest.open(encoding="utf-8") as handle:
        counts = Counter(row["label"] for row in csv.DictReader(handle))
    assert set(counts) == set(tree.leaves)
    assert max(counts.values()) == 12 and min(counts.values()) == 3


def _render(family: str, proto: str, variant: int, seed: int) -> np.ndarray:
    from models.data.synth.canvas import sample_pattern
    from models.data.synth.optics import sample_optics
    from models.data.synth.registry import make_defect
    from models.data.synth.scene import Scene, render_view

    rng = np.random.default_rng(seed)
    panel = sample_pattern(rng, "stripes")
    defect = make_defect("new_leaf", rng, difficulty=0.0, look=Look(family, proto, variant))
    optics = sample_optics(np.random.default_rng(seed + 1), 48)
    return render_view(Scene("new_leaf", panel, defect), optics, magnification=20, size=48)[0]


def test_ignored_parameters_are_exactly_those_a_prototype_does_not_draw(monkeypatch) -> None:
    """Every single modifier changes the picture of every prototype, unless it sets only parameters IGNORED
    says the prototype never reads; then the picture is the prototype's own, pixel for pixel."""
    from models.data.synth import variants

    for family, (table, _) in FAMILIES.items():
        for proto in table:
            plain = [_render(family, proto, 0, seed) for seed in (1, 2)]
            for k, modifier in enumerate(MODIFIERS[family], start=1):
                monkeypatch.setattr(variants, "combination", lambda f, v, p=None, m=modifier: (m,) if v else ())
                looks_same = all(np.array_equal(plain[i], _render(family, proto, k, seed))
                                 for i, seed in enumerate((1, 2)))  # fmt: skip
                assert looks_same == (set(modifier) <= IGNORED.get(proto, frozenset())), (family, proto, modifier)


def test_a_variant_that_would_draw_the_prototype_or_an_earlier_variant_is_replaced() -> None:
    for family, protos in FAMILY_LEAVES.items():
        for proto in protos:
            effects = [frozenset((k, v) for m in combination(family, v_, proto) for k, v in m.items()
                                 if k not in IGNORED.get(proto, ())) for v_ in range(1, 40)]  # fmt: skip
            assert frozenset() not in effects and len(set(effects)) == len(effects), (family, proto)
    assert combination("mechanical", 6) == ({"bright": (0.85, 1.0)},)  # the modifier, where no proto is given
    assert combination("mechanical", 6, "scratch") != combination("mechanical", 6)
    assert combination("mechanical", 6, "crack") == combination("mechanical", 6)  # crack draws "bright"
