"""Leaves without a built-in renderer: a family, a prototype and a variant of their own (the 150-leaf tree)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from models.data import synth
from models.data.synth.registry import FAMILIES, looks_of
from models.data.synth.variants import MODIFIERS, Look, combination, leaf_looks, variant_table
from models.taxonomy import load_taxonomy

TREE_150 = Path(__file__).resolve().parents[1] / "resources/taxonomy/fma_150.yaml"
FAMILY_LEAVES = {family: list(table) for family, (table, _) in FAMILIES.items()}


@pytest.fixture(scope="module")
def tree():
    return load_taxonomy(TREE_150)


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
        tables[leaf] = (look.family, tuple(sorted(table[leaf].items())))
    assert len(set(tables.values())) == 150, "two leaves share a family and identical parameter ranges"
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
