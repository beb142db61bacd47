"""Tests for models.taxonomy: the demo tree, validation errors, ragged trees, round trip."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from models.taxonomy import DEMO_TAXONOMY_PATH, Node, Taxonomy, TaxonomyError, load_taxonomy

DEMO_LEAVES = [
    "particle_metal", "particle_organic", "particle_glass", "particle_cluster", "fiber",
    "pi_residue", "photoresist_residue", "lc_stain", "water_mark",
    "scratch", "crack", "edge_chipping", "dent", "rubbing_scratch",
    "bubble", "line_open", "line_short", "ito_peeling",
]  # fmt: skip


@pytest.fixture(scope="module")
def demo() -> Taxonomy:
    return Taxonomy.from_yaml(DEMO_TAXONOMY_PATH)


def write(tmp_path: Path, text: str, name: str = "tax.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# ---------------------------------------------------------------- demo tree
def test_demo_structure(demo: Taxonomy) -> None:
    assert DEMO_TAXONOMY_PATH.is_file()
    assert demo.id == "fma_demo" and demo.version == 1
    assert demo.num_levels == 3
    assert demo.level_sizes == [2, 4, 18]
    assert demo.levels[0] == ["foreign_matter", "structural"]
    assert demo.levels[1] == ["particle", "residue", "mechanical", "process"]
    assert demo.leaves == DEMO_LEAVES == demo.levels[-1]
    assert demo.children("process") == ("bubble", "line_open", "line_short", "ito_peeling")
    assert demo.parent("scratch") == "mechanical"
    assert demo.parent("structural") is None
    node = demo.node("residue")
    assert isinstance(node, Node)
    assert (node.depth, node.parent, node.is_leaf, node.line) == (1, "foreign_matter", False, 25)
    assert demo.node("scratch").is_leaf and demo.node("scratch").depth == 2
    assert "scratch" in demo and "nope" not in demo


def test_demo_names_both_languages(demo: Taxonomy) -> None:
    assert demo.name("scratch") == "Scratch"
    assert demo.name("scratch", lang="zh_TW") == "刮傷"
    assert demo.name("foreign_matter", "zh_TW") == "異物"
    assert demo.name("fma_demo", "en").startswith("FMA demo defects")
    for node_id in demo.levels[0] + demo.levels[1] + demo.leaves:
        assert demo.name(node_id, "en") and demo.name(node_id, "zh_TW")
    with pytest.raises(TaxonomyError, match="unknown language 'fr'"):
        demo.name("scratch", "fr")


def test_demo_masks_and_indices(demo: Taxonomy) -> None:
    assert len(demo.masks) == 2
    m0, m1 = demo.masks
    assert m0.dtype == np.bool_ and m0.shape == (2, 4) and m1.shape == (4, 18)
    assert m0.tolist() == [[True, True, False, False], [False, False, True, True]]
    assert m1.sum(axis=0).tolist() == [1] * 18  # every leaf has exactly one parent
    assert m1.sum(axis=1).tolist() == [5, 4, 5, 4]
    assert m1[demo.levels[1].index("mechanical"), demo.leaves.index("scratch")]
    assert not m1[demo.levels[1].index("process"), demo.leaves.index("scratch")]
    lli = demo.leaf_level_index
    assert lli.dtype == np.int64 and lli.shape == (18, 3)
    assert demo.level_indices("scratch") == [1, 2, 9]
    assert lli[9].tolist() == [1, 2, 9]
    assert lli[:, 2].tolist() == list(range(18))


def test_demo_paths_and_distances(demo: Taxonomy) -> None:
    assert demo.path("scratch") == ["structural", "mechanical", "scratch"]
    assert demo.path("particle") == ["foreign_matter", "particle"]
    assert demo.tree_distance("scratch", "scratch") == 0
    assert demo.tree_distance("scratch", "crack") == 1
    assert demo.tree_distance("scratch", "bubble") == 2
    assert demo.tree_distance("scratch", "fiber") == 3
    assert demo.tree_distance("fiber", "scratch") == 3
    assert demo.tree_distance("mechanical", "process") == 2
    assert demo.tree_distance("scratch", "mechanical") == 1
    assert demo.tree_distance("foreign_matter", "structural") == 3
    with pytest.raises(TaxonomyError, match="no node 'nope'"):
        demo.tree_distance("scratch", "nope")


def test_demo_resolve_label(demo: Taxonomy) -> None:
    assert demo.resolve_label("scratch") == "scratch"
    assert demo.resolve_label("structural/mechanical/scratch") == "scratch"
    with pytest.raises(TaxonomyError, match="unknown label 'smudge'"):
        demo.resolve_label("smudge")
    with pytest.raises(TaxonomyError, match="not a leaf"):
        demo.resolve_label("mechanical")
    with pytest.raises(TaxonomyError, match="not a leaf"):
        demo.resolve_label("structural/mechanical")
    with pytest.raises(TaxonomyError, match="does not match"):
        demo.resolve_label("foreign_matter/mechanical/scratch")
    with pytest.raises(TaxonomyError, match="unknown label"):
        demo.resolve_label("unknown:smudge")


def test_unknown_node_and_non_leaf_queries(demo: Taxonomy) -> None:
    with pytest.raises(TaxonomyError, match="no node 'ghost'"):
        demo.node("ghost")
    with pytest.raises(TaxonomyError, match="not a leaf"):
        demo.level_indices("particle")


def test_round_trip_and_fingerprint(demo: Taxonomy) -> None:
    fp = demo.fingerprint()
    assert len(fp) == 64 and int(fp, 16) >= 0
    again = Taxonomy.from_dict(demo.to_dict())
    assert again.fingerprint() == fp
    assert again.to_dict() == demo.to_dict()
    assert again.levels == demo.levels and again.version == 1
    for node_id in demo.leaves + demo.levels[1]:
        assert again.name(node_id, "zh_TW") == demo.name(node_id, "zh_TW")
    assert load_taxonomy(demo.to_dict()).fingerprint() == fp
    assert load_taxonomy(str(DEMO_TAXONOMY_PATH)).fingerprint() == fp
    # Names do not enter the fingerprint; structure does.
    data = demo.to_dict()
    data["children"][0]["name"]["en"] = "Renamed"
    assert Taxonomy.from_dict(data).fingerprint() == fp
    data["children"][0]["children"].reverse()
    assert Taxonomy.from_dict(data).fingerprint() != fp


# ---------------------------------------------------------------- ragged trees
RAGGED = """
id: ragged
name: {en: Ragged, zh_TW: 不齊}
children:
  - id: a
    name: {en: A, zh_TW: 甲}
  - id: b
    name: {en: B, zh_TW: 乙}
    children:
      - id: b1
        name: {en: B1, zh_TW: 乙一}
      - id: b2
        name: {en: B2, zh_TW: 乙二}
        children:
          - id: x
            name: {en: X, zh_TW: 子}
          - id: y
            name: {en: Y, zh_TW: 丑}
"""


def test_ragged_tree(tmp_path: Path) -> None:
    tax = Taxonomy.from_yaml(write(tmp_path, RAGGED))
    assert tax.version is None
    assert tax.num_levels == 3
    assert tax.levels == [["a", "b"], ["a", "b1", "b2"], ["a", "b1", "x", "y"]]
    assert tax.leaves == ["a", "b1", "x", "y"]
    assert tax.level_sizes == [2, 3, 4]
    assert tax.path("a") == ["a"] and tax.path("b1") == ["b", "b1"] and tax.path("y") == ["b", "b2", "y"]
    assert tax.level_indices("a") == [0, 0, 0]
    assert tax.level_indices("b1") == [1, 1, 1]
    assert tax.level_indices("y") == [1, 2, 3]
    assert tax.leaf_level_index.tolist() == [[0, 0, 0], [1, 1, 1], [1, 2, 2], [1, 2, 3]]
    assert tax.masks[0].tolist() == [[True, False, False], [False, True, True]]
    assert tax.masks[1].tolist() == [
        [True, False, False, False],  # a passes through to itself
        [False, True, False, False],  # b1 passes through to itself
        [False, False, True, True],
    ]
    assert tax.tree_distance("a", "a") == 0
    assert tax.tree_distance("b1", "b1") == 0
    assert tax.tree_distance("x", "y") == 1
    assert tax.tree_distance("b1", "x") == 2
    assert tax.tree_distance("a", "y") == 3
    assert tax.resolve_label("b/b1") == "b1" and tax.resolve_label("a") == "a"
    assert Taxonomy.from_dict(tax.to_dict()).fingerprint() == tax.fingerprint()


def test_flat_single_level_tree() -> None:
    tax = Taxonomy.from_dict(
        {"id": "flat", "name": {"en": "F", "zh_TW": "平"}, "children": [
            {"id": "p", "name": {"en": "P", "zh_TW": "P"}},
            {"id": "q", "name": {"en": "Q", "zh_TW": "Q"}, "description": "a note"},
        ]}
    )  # fmt: skip
    assert tax.num_levels == 1 and tax.leaves == ["p", "q"] and tax.masks == []
    assert tax.leaf_level_index.tolist() == [[0], [1]]
    assert tax.tree_distance("p", "q") == 1
    assert tax.to_dict()["children"][1]["description"] == "a note"


# ---------------------------------------------------------------- errors
HEAD = """
id: t
name: {en: T, zh_TW: 測}
children:
  - id: g
    name: {en: G, zh_TW: 群}
    children:
"""


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        (  # duplicate leaf at line 9 (first at line 7)
            "      - id: scratch\n        name: {en: S, zh_TW: 刮}\n"
            "      - id: scratch\n        name: {en: S2, zh_TW: 刮2}\n",
            r"tax\.yaml line 9: node 'scratch': leaf is listed twice \(first at line 7, again at line 9\)",
        ),
        (  # an inner node re-using a leaf id
            "      - id: scratch\n        name: {en: S, zh_TW: 刮}\n"
            "      - id: scratch\n        name: {en: S2, zh_TW: 刮2}\n"
            "        children:\n          - id: z\n            name: {en: Z, zh_TW: Z}\n",
            r"tax\.yaml line 9: node 'scratch': duplicate id \(first at line 7, again at line 9\)",
        ),
        (  # a child re-using the group's id
            "      - id: g\n        name: {en: S, zh_TW: 刮}\n",
            r"tax\.yaml line 7: node 'g': duplicate id \(first at line 4",
        ),
        ("      - id: scratch\n", r"tax\.yaml line 7: node 'scratch': missing name"),
        (
            "      - id: scratch\n        name: {zh_TW: 刮}\n",
            r"tax\.yaml line 7: node 'scratch': missing name\.en",
        ),
        (
            "      - id: scratch\n        name: {en: Scratch}\n",
            r"tax\.yaml line 7: node 'scratch': missing name\.zh_TW",
        ),
        (
            "      - id: scratch\n        name: {en: Scratch, zh_TW: '  '}\n",
            r"tax\.yaml line 7: node 'scratch': missing name\.zh_TW",
        ),
        (
            "      - id: scratch\n        name: {en: S, zh_TW: 刮}\n        children: []\n",
            r"tax\.yaml line 9: node 'scratch': empty level",
        ),
        (
            "      - id: scratch\n        name: {en: S, zh_TW: 刮}\n        colour: red\n",
            r"tax\.yaml line 7: node 'scratch': unknown key 'colour'",
        ),
        (
            "      - id: scratch\n        name: {en: S, zh_TW: 刮, de: Kratzer}\n",
            r"tax\.yaml line 7: node 'scratch': unknown key 'de' in name",
        ),
        ("      - scratch\n", r"tax\.yaml line 7: node 'g': child #1 is not a mapping \(got str 'scratch'\)"),
        ("      - id: scr/atch\n        name: {en: S, zh_TW: 刮}\n", r"tax\.yaml line 7: bad id 'scr/atch'"),
        ("      - id: 'scr atch'\n        name: {en: S, zh_TW: 刮}\n", r"tax\.yaml line 7: bad id"),
        ("      - id: ''\n        name: {en: S, zh_TW: 刮}\n", r"tax\.yaml line 7: bad id ''"),
        ("      - id: 42\n        name: {en: S, zh_TW: 刮}\n", r"tax\.yaml line 7: bad id 42"),
        # ids name the folders of an ImageFolder export: ".." would write outside it
        ("      - id: '..'\n        name: {en: S, zh_TW: 刮}\n", r"tax\.yaml line 7: bad id '\.\.'"),
        ("      - id: .hidden\n        name: {en: S, zh_TW: 刮}\n", r"tax\.yaml line 7: bad id '\.hidden'"),
        ("      - id: -x\n        name: {en: S, zh_TW: 刮}\n", r"tax\.yaml line 7: bad id '-x'"),
        ("      - name: {en: S, zh_TW: 刮}\n", r"tax\.yaml line 7: a node has no 'id'"),
        (
            "      - id: scratch\n        name: {en: S, zh_TW: 刮}\n        description: [1, 2]\n",
            r"tax\.yaml line 7: node 'scratch': description must be",
        ),
        (
            "      - id: scratch\n        name: {en: S, en: T, zh_TW: 刮}\n",
            r"tax\.yaml line 8: YAML error: duplicate key 'en'",
        ),
        ("      - id: scratch\n        name: {en: S, zh_TW: [刮\n", r"tax\.yaml line \d+: YAML syntax error"),
        (
            "    # the group has `children:` with nothing after it\n",
            r"tax\.yaml line 4: node 'g': children must be",
        ),
    ],
)
def test_validation_errors(tmp_path: Path, body: str, pattern: str) -> None:
    path = write(tmp_path, HEAD + body)
    with pytest.raises(TaxonomyError, match=pattern):
        Taxonomy.from_yaml(path)


def test_yaml_syntax_error_line(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "      - id: scratch\n     name: {en: S, zh_TW: 刮}\n")
    with pytest.raises(TaxonomyError, match=r"tax\.yaml line 8: YAML syntax error") as info:
        Taxonomy.from_yaml(path)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("id: t\nname: {en: T, zh_TW: 測}\nchildren: []\n", r"line 3: node 't': empty level"),
        ("id: t\nname: {en: T, zh_TW: 測}\n", r"line 1: node 't': empty level: the tree has no nodes"),
        ("", r"empty level: the taxonomy is empty"),
        ("- a\n- b\n", r"top level must be a mapping"),
        ("name: {en: T, zh_TW: 測}\nchildren: []\n", r"line 1: root node has no 'id'"),
        ("id: t\nchildren:\n  - id: a\n    name: {en: A, zh_TW: 甲}\n", r"line 1: node 't': missing name"),
        ("id: t\nversion: [1]\nname: {en: T, zh_TW: 測}\n", r"line 1: node 't': version must be"),
        (
            "id: t\nname: {en: T, zh_TW: 測}\nchildren:\n  - id: t\n    name: {en: A, zh_TW: 甲}\n",
            r"line 4: node 't': duplicate id \(first at line 1",
        ),
        ("id: t\nname: {en: T, zh_TW: 測}\nlevels: 3\n", r"line 1: node 't': unknown key 'levels'"),
    ],
)
def test_root_errors(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(TaxonomyError, match=r"tax\.yaml.*" + pattern):
        Taxonomy.from_yaml(write(tmp_path, text))


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match=r"missing\.yaml: taxonomy file not found"):
        Taxonomy.from_yaml(tmp_path / "missing.yaml")
    with pytest.raises(TaxonomyError, match="cannot read taxonomy file"):
        Taxonomy.from_yaml(tmp_path)  # a directory
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("id: t\nname: {en: caf\u00e9, zh_TW: x}\n".encode("latin-1"))
    with pytest.raises(TaxonomyError, match=r"latin1\.yaml: taxonomy file is not UTF-8"):
        Taxonomy.from_yaml(bad)
    with pytest.raises(TaxonomyError, match="cannot load a taxonomy from int"):
        load_taxonomy(3)  # type: ignore[arg-type]


def test_from_dict_errors_name_source() -> None:
    data = {"id": "t", "name": {"en": "T", "zh_TW": "測"}, "children": [{"id": "a", "name": {"en": "A"}}]}
    with pytest.raises(TaxonomyError, match=r"^bundle\.json: node 'a': missing name\.zh_TW"):
        Taxonomy.from_dict(data, source="bundle.json")


def test_unsafe_yaml_tags_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "id: !!python/object/apply:os.system ['echo hi']\nname: {en: T, zh_TW: 測}\n")
    with pytest.raises(TaxonomyError, match=r"line 1: YAML error: could not determine a constructor"):
        Taxonomy.from_yaml(path)
