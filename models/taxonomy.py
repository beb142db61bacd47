"""Defect taxonomy: load and validate the YAML tree, and expose levels, paths, masks and distances.

The YAML top-level mapping is the root (``id``, optional ``version``, ``name``, ``children``). Every
node has a stable ASCII ``id``, ``name: {en, zh_TW}``, optional ``children`` and optional
``description``. Nodes without children are the leaf classes. The root is not a level: level 0 holds
the top-level groups. Leaves shallower than the deepest level are padded: such a leaf is repeated as
its own pass-through child in every deeper level, so ``levels[-1]`` always lists every leaf.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.hashing import sha256_hex

if TYPE_CHECKING:  # numpy and yaml are imported where they are used: the app's window shows before either
    import numpy as np
    import yaml

DEMO_TAXONOMY_PATH: Path = Path(__file__).resolve().parents[1] / "resources/taxonomy/fma_demo.yaml"

_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # ids name folders (ImageFolder): no ".", "..", "-x"
_NODE_KEYS = frozenset({"id", "name", "children", "description"})
_ROOT_KEYS = _NODE_KEYS | {"version"}
LANGS: tuple[str, ...] = ("en", "zh_TW")


class TaxonomyError(ValueError):
    """Invalid taxonomy file/data, or an unknown node or label; the message names file, line and node."""


class _LineDict(dict):
    """A mapping read from YAML that remembers its 1-based line."""

    line: int | None = None


class _LineList(list):
    """A sequence read from YAML that remembers its 1-based line."""

    line: int | None = None


@cache
def line_loader() -> type[yaml.SafeLoader]:
    """A SafeLoader that records line numbers of mappings/sequences and refuses duplicate keys."""
    import yaml

    def construct_map(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _LineDict:
        data = _LineDict()
        data.line = node.start_mark.line + 1
        yield data
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in data:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} in one mapping", key_node.start_mark
                )
            data[key] = loader.construct_object(value_node, deep=True)

    def construct_seq(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> _LineList:
        data = _LineList()
        data.line = node.start_mark.line + 1
        yield data
        data.extend(loader.construct_sequence(node, deep=True))

    class LineLoader(yaml.SafeLoader):
        pass

    LineLoader.add_constructor("tag:yaml.org,2002:map", construct_map)
    LineLoader.add_constructor("tag:yaml.org,2002:seq", construct_seq)
    return LineLoader


@dataclass(frozen=True)
class Node:
    """One taxonomy node. ``depth`` 0 is a top-level group; ``line`` is its YAML line, if known."""

    id: str
    name_en: str
    name_zh_tw: str
    parent: str | None
    depth: int
    children: tuple[str, ...]
    line: int | None

    @property
    def is_leaf(self) -> bool:
        """True when the node has no children (it is a class of the leaf head)."""
        return not self.children


def _where(source: str, line: int | None, node_id: str | None = None) -> str:
    text = source if line is None else f"{source} line {line}"
    return text if node_id is None else f"{text}: node {node_id!r}"


class Taxonomy:
    """A validated, immutable category tree. Build with :meth:`from_yaml` or :meth:`from_dict`."""

    def __init__(self, data: Any, *, source: str = "<dict>") -> None:
        """Validate ``data`` (the root mapping) and build the tree; raises :class:`TaxonomyError`."""
        self.source = source
        if data is None:
            raise TaxonomyError(f"{source}: empty level: the taxonomy is empty (no root mapping)")
        if not isinstance(data, dict):
            raise TaxonomyError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
        root_line = getattr(data, "line", None)
        self.id = self._check_id(data.get("id"), root_line, "root")
        self._check_keys(data, _ROOT_KEYS, root_line, self.id)
        version = data.get("version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int | str)):
            raise TaxonomyError(f"{_where(source, root_line, self.id)}: version must be an int or a string")
        self.version: int | str | None = version
        self.root_name: dict[str, str] = self._check_name(data, root_line, self.id)
        self._root_description = data.get("description")
        self._nodes: dict[str, Node] = {}
        self._descriptions: dict[str, Any] = {}
        self._lines: dict[str, int | None] = {self.id: root_line}
        if "children" not in data:
            raise TaxonomyError(f"{_where(source, root_line, self.id)}: empty level: the tree has no nodes")
        top = self._build_children(data, self.id, -1, root_line)
        self._top: tuple[str, ...] = top
        self._finish()

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_yaml(cls, path: str | Path) -> Taxonomy:
        """Read a taxonomy YAML file with a safe loader.

        Args:
            path: the YAML file.

        Raises:
            TaxonomyError: file missing/unreadable/not UTF-8, YAML syntax error, or an invalid tree.
        """
        source = str(path)
        try:
            text = Path(path).read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise TaxonomyError(f"{source}: taxonomy file not found") from None
        except UnicodeDecodeError as exc:
            raise TaxonomyError(f"{source}: taxonomy file is not UTF-8 text ({exc.reason})") from None
        except OSError as exc:
            raise TaxonomyError(f"{source}: cannot read taxonomy file ({exc.strerror or exc})") from None
        import yaml

        try:
            data = yaml.load(text, Loader=line_loader())  # a SafeLoader
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = " ".join(p for p in (exc.context, exc.problem) if p)
            kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
            raise TaxonomyError(f"{_where(source, line)}: {kind}: {problem}") from None
        except yaml.YAMLError as exc:
            raise TaxonomyError(f"{source}: YAML error: {exc}") from None
        return cls(data, source=source)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> Taxonomy:
        """Build from a plain mapping in the YAML layout (e.g. from :meth:`to_dict` or a bundle)."""
        return cls(data, source=source)

    def to_dict(self) -> dict:
        """Plain-data form in the YAML layout; ``from_dict(to_dict())`` gives an equal taxonomy."""

        def node_dict(node_id: str) -> dict:
            node = self._nodes[node_id]
            out: dict[str, Any] = {"id": node_id, "name": {"en": node.name_en, "zh_TW": node.name_zh_tw}}
            if node_id in self._descriptions:
                out["description"] = self._descriptions[node_id]
            if node.children:
                out["children"] = [node_dict(c) for c in node.children]
            return out

        root: dict[str, Any] = {"id": self.id}
        if self.version is not None:
            root["version"] = self.version
        root["name"] = dict(self.root_name)
        if self._root_description is not None:
            root["description"] = self._root_description
        root["children"] = [node_dict(c) for c in self._top]
        return root

    def _check_keys(self, data: dict, allowed: frozenset[str], line: int | None, node_id: str) -> None:
        unknown = [k for k in data if k not in allowed]
        if unknown:
            raise TaxonomyError(
                f"{_where(self.source, line, node_id)}: unknown key {unknown[0]!r} "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
        desc = data.get("description")
        if desc is not None and not isinstance(desc, dict | str):
            raise TaxonomyError(
                f"{_where(self.source, line, node_id)}: description must be a mapping or text"
            )

    def _check_id(self, node_id: Any, line: int | None, what: str) -> str:
        if node_id is None:
            raise TaxonomyError(f"{_where(self.source, line)}: {what} node has no 'id'")
        if not isinstance(node_id, str) or not _ID_RE.match(node_id):
            raise TaxonomyError(
                f"{_where(self.source, line)}: bad id {node_id!r}: use a non-empty string of "
                "ASCII letters, digits, '_', '.' or '-' (no '/'), starting with a letter, digit or '_'"
            )
        return node_id

    def _check_name(self, data: dict, line: int | None, node_id: str) -> dict[str, str]:
        where = _where(self.source, line, node_id)
        name = data.get("name")
        if name is None:
            raise TaxonomyError(f"{where}: missing name (needs name: {{en: ..., zh_TW: ...}})")
        if not isinstance(name, dict):
            raise TaxonomyError(f"{where}: name must be a mapping {{en: ..., zh_TW: ...}}")
        for lang in LANGS:
            value = name.get(lang)
            if not isinstance(value, str) or not value.strip():
                raise TaxonomyError(f"{where}: missing name.{lang} (a non-empty string is required)")
        extra = [k for k in name if k not in LANGS]
        if extra:
            raise TaxonomyError(f"{where}: unknown key {extra[0]!r} in name (allowed: en, zh_TW)")
        return {lang: name[lang] for lang in LANGS}

    def _build_children(self, data: dict, node_id: str, depth: int, line: int | None) -> tuple[str, ...]:
        """Validate ``data['children']`` (if any) recursively; return the child ids."""
        if "children" not in data:
            return ()
        children = data["children"]
        where = _where(self.source, getattr(children, "line", None) or line, node_id)
        if not isinstance(children, list):
            raise TaxonomyError(f"{where}: children must be a list of nodes")
        if not children:
            raise TaxonomyError(f"{where}: empty level: children is an empty list")
        ids: list[str] = []
        for i, child in enumerate(children):
            if not isinstance(child, dict):
                raise TaxonomyError(
                    f"{where}: child #{i + 1} is not a mapping (got {type(child).__name__} {child!r}); "
                    "each node needs id and name"
                )
            ids.append(self._build_node(child, node_id, depth + 1))
        return tuple(ids)

    def _build_node(self, data: dict, parent: str, depth: int) -> str:
        line = getattr(data, "line", None)
        node_id = self._check_id(data.get("id"), line, "a")
        self._check_keys(data, _NODE_KEYS, line, node_id)
        if node_id in self._lines:
            first = self._lines[node_id]
            first_txt = f"line {first}" if first is not None else "earlier"
            # Finished nodes are in _nodes; an ancestor still being built is only in _lines.
            is_leaf_twice = "children" not in data and node_id in self._nodes and self._nodes[node_id].is_leaf
            what = "leaf is listed twice" if is_leaf_twice else "duplicate id"
            raise TaxonomyError(
                f"{_where(self.source, line, node_id)}: {what} (first at {first_txt}, again at line {line})"
            )
        self._lines[node_id] = line
        names = self._check_name(data, line, node_id)
        if "description" in data:
            self._descriptions[node_id] = data["description"]
        children = self._build_children(data, node_id, depth, line)
        self._nodes[node_id] = Node(
            node_id, names["en"], names["zh_TW"], None if depth == 0 else parent, depth, children, line
        )
        return node_id

    def _finish(self) -> None:
        """Compute levels, padded paths, the leaf index table and the parent/child masks."""
        self._preorder: list[str] = []  # all node ids, depth-first in file order
        stack = list(reversed(self._top))
        while stack:
            self._preorder.append(stack.pop())
            stack.extend(reversed(self._nodes[self._preorder[-1]].children))
        order = [nid for nid in self._preorder if self._nodes[nid].is_leaf]
        self.num_levels: int = 1 + max(n.depth for n in self._nodes.values())
        self._padded: dict[str, list[str]] = {}
        for leaf in order:
            p = self.path(leaf)
            self._padded[leaf] = p + [leaf] * (self.num_levels - len(p))
        self.levels: list[list[str]] = []
        for k in range(self.num_levels):
            seen: dict[str, None] = {}
            for leaf in order:
                seen.setdefault(self._padded[leaf][k], None)
            self.levels.append(list(seen))
        self.level_sizes: list[int] = [len(level) for level in self.levels]
        self.leaves: list[str] = list(self.levels[-1])
        self._index = [{nid: i for i, nid in enumerate(level)} for level in self.levels]
        import numpy as np

        self.leaf_level_index: np.ndarray = np.array(
            [self.level_indices(leaf) for leaf in self.leaves], dtype=np.int64
        ).reshape(len(self.leaves), self.num_levels)
        self.masks: list[np.ndarray] = []
        for k in range(self.num_levels - 1):
            mask = np.zeros((self.level_sizes[k], self.level_sizes[k + 1]), dtype=bool)
            mask[self.leaf_level_index[:, k], self.leaf_level_index[:, k + 1]] = True
            self.masks.append(mask)

    # ---------------------------------------------------------------- queries
    def in_tree_order(self) -> tuple[str, ...]:
        """Every node id as the tree lists it: each group, then its subgroups, each followed by its types (depth
        first, in file order)."""
        return tuple(self._preorder)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __repr__(self) -> str:
        return f"Taxonomy(id={self.id!r}, version={self.version!r}, level_sizes={self.level_sizes})"

    def node(self, node_id: str) -> Node:
        """The node with this id; :class:`TaxonomyError` if there is none."""
        try:
            return self._nodes[node_id]
        except (KeyError, TypeError):
            raise TaxonomyError(f"taxonomy {self.id!r} has no node {node_id!r}") from None

    def parent(self, node_id: str) -> str | None:
        """Parent id; None for a top-level group."""
        return self.node(node_id).parent

    def children(self, node_id: str) -> tuple[str, ...]:
        """Child ids in file order; empty for a leaf."""
        return self.node(node_id).children

    def path(self, leaf_id: str) -> list[str]:
        """Ancestor ids from the top-level group down to the node itself (unpadded)."""
        out = [self.node(leaf_id).id]
        while (p := self._nodes[out[-1]].parent) is not None:
            out.append(p)
        return out[::-1]

    def level_indices(self, leaf_id: str) -> list[int]:
        """Index into ``levels[k]`` for each level k along the padded path of a leaf."""
        padded = self._leaf_padded(leaf_id)
        return [self._index[k][nid] for k, nid in enumerate(padded)]

    def _leaf_padded(self, leaf_id: str) -> list[str]:
        if not self.node(leaf_id).is_leaf:
            raise TaxonomyError(f"taxonomy {self.id!r}: node {leaf_id!r} is not a leaf")
        return self._padded[leaf_id]

    def tree_distance(self, a: str, b: str) -> int:
        """Height of the lowest common ancestor in levels.

        0 for the same leaf, 1 for siblings, 2 for cousins, ``num_levels`` when only the root is
        shared. Leaves use their padded paths; inner nodes their own paths, so for any nodes the
        result is ``num_levels - (number of levels whose ancestors agree)``.
        """
        pa = self._padded[a] if self.node(a).is_leaf else self.path(a)
        pb = self._padded[b] if self.node(b).is_leaf else self.path(b)
        shared = 0
        for x, y in zip(pa, pb, strict=False):
            if x != y:
                break
            shared += 1
        return self.num_levels - shared

    def name(self, node_id: str, lang: str = "en") -> str:
        """Display name of a node (or of the root) in ``lang`` ("en" or "zh_TW")."""
        if lang not in LANGS:
            raise TaxonomyError(f"unknown language {lang!r} (use one of {', '.join(LANGS)})")
        if node_id == self.id:
            return self.root_name[lang]
        node = self.node(node_id)
        return node.name_en if lang == "en" else node.name_zh_tw

    def resolve_label(self, label: str) -> str:
        """Leaf id for a label given as a leaf id or a full path ``a/b/c``.

        Raises:
            TaxonomyError: the label is unknown, names an inner node, or its path does not match.
        """
        text = str(label).strip()
        parts = [p.strip() for p in text.split("/")]
        node_id = parts[-1]
        if node_id not in self._nodes:
            raise TaxonomyError(f"taxonomy {self.id!r}: unknown label {label!r}")
        if len(parts) > 1 and parts != self.path(node_id):
            raise TaxonomyError(
                f"taxonomy {self.id!r}: label {label!r} does not match the path of {node_id!r} "
                f"({'/'.join(self.path(node_id))})"
            )
        if not self._nodes[node_id].is_leaf:
            raise TaxonomyError(
                f"taxonomy {self.id!r}: label {label!r} names {node_id!r}, which is not a leaf"
            )
        return node_id

    def fingerprint(self) -> str:
        """sha256 hex over the structure (node ids and parent links in file order); names excluded."""
        links = [[nid, self._nodes[nid].parent] for nid in self._preorder]
        blob = json.dumps(links, separators=(",", ":"), ensure_ascii=True).encode("ascii")
        return sha256_hex(blob)


def load_taxonomy(path_or_dict: str | Path | dict | Taxonomy) -> Taxonomy:
    """Load a taxonomy from a YAML path, a plain mapping, or pass a Taxonomy through."""
    if isinstance(path_or_dict, Taxonomy):
        return path_or_dict
    if isinstance(path_or_dict, dict):
        return Taxonomy.from_dict(path_or_dict)
    if isinstance(path_or_dict, str | Path):
        return Taxonomy.from_yaml(path_or_dict)
    raise TaxonomyError(f"cannot load a taxonomy from {type(path_or_dict).__name__}")
