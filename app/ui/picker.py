"""Correction picker: the whole taxonomy as a tree; typing filters by English name, Chinese name or id."""

from __future__ import annotations

import difflib

from PySide6.QtCore import QCoreApplication, QModelIndex, QRegularExpression, QSortFilterProxyModel, Qt
from PySide6.QtGui import QKeyEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeView,
    QVBoxLayout,
)

from app.ui.style import listed
from models.taxonomy import Taxonomy

ID_ROLE = Qt.ItemDataRole.UserRole + 1
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 2
LEAF_ROLE = Qt.ItemDataRole.UserRole + 3


SPELLINGS = (("aluminium", "aluminum"), ("fibre", "fiber"), ("colour", "color"), ("grey", "gray"),
             ("centre", "center"), ("metre", "meter"), ("mould", "mold"), ("ise", "ize"), ("isation", "ization"))
"""British and American spellings: a name written one way is found typed the other way (the 150-leaf tree says
"Aluminium" and "fibre", and "Polarizer")."""


def own_words(taxonomy: Taxonomy, node_id: str) -> list[str]:
    """What typing finds a node by, lower case: its id, its names in both languages, each name without its spaces
    ("PI剝片" for "PI 剝片": mixed Latin and Chinese names are often typed without them) and in the other spelling."""
    names = [taxonomy.name(node_id, "en").lower(), taxonomy.name(node_id, "zh_TW").lower()]
    words = [node_id.lower(), *names, *(n.replace(" ", "") for n in names if " " in n)]
    for a, b in SPELLINGS:
        words += [w.replace(a, b) for w in names[:1] if a in w] + [w.replace(b, a) for w in names[:1] if b in w]
    return words


def build_taxonomy_model(taxonomy: Taxonomy, lang: str, parent=None) -> QStandardItemModel:
    """A two-column model (name, id) of the taxonomy; leaves are the selectable nodes. A leaf is found by its own
    words (:func:`own_words`) and by its group's and subgroup's names (typing "organic particles" or "異物" lists
    that node's types: it found no type); a group or subgroup only through its leaves (one found by its own name
    showed as an empty heading)."""
    model = QStandardItemModel(parent)
    model.setHorizontalHeaderLabels([QCoreApplication.translate("TaxonomyPicker", "Defect type"), "ID"])

    def add(parent_item: QStandardItem, node_id: str) -> None:
        node = taxonomy.node(node_id)
        name = taxonomy.name(node_id, lang)
        name_item = QStandardItem(name)
        name_item.setToolTip(f"{taxonomy.name(node_id, 'en')} / {taxonomy.name(node_id, 'zh_TW')}")
        name_item.setData(node_id, ID_ROLE)
        path = taxonomy.path(node_id)
        scope_tags = "".join(scope_tag(n) for n in path)  # itself and its ancestors
        above = [w for n in path[:-1] for w in own_words(taxonomy, n)[1:]]  # the ancestors' names, not their ids
        words = " ".join([*own_words(taxonomy, node_id), *above]) if node.is_leaf else ""
        name_item.setData(words + scope_tags, SEARCH_ROLE)
        name_item.setData(node.is_leaf, LEAF_ROLE)
        id_item = QStandardItem(node_id)
        id_item.setData(node_id, ID_ROLE)
        for it in (name_item, id_item):
            it.setEditable(False)
            if not node.is_leaf:
                it.setSelectable(False)
        if not node.is_leaf:
            font = name_item.font()
            font.setBold(True)
            name_item.setFont(font)
        parent_item.appendRow([name_item, id_item])
        for child in taxonomy.children(node_id):
            add(name_item, child)

    root = model.invisibleRootItem()
    for top in taxonomy.levels[0]:
        add(root, top)
    return model


class _Filter(QSortFilterProxyModel):
    """Filters in C++: a regular expression over each node's search text (every word, in any order, and with a
    scope, the scope's tag). A Python ``filterAcceptsRow`` cost 13 µs a node, a key's filter 4 ms at 150 leaves."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self.setFilterRole(SEARCH_ROLE)
        self._words: list[str] = []
        self._scope: str | None = None

    def set_scope(self, scope: str | None) -> None:
        """Show only the leaves under ``scope`` (and the nodes above them); None: every node."""
        self._scope = scope
        self._apply()

    def set_text(self, text: str) -> None:
        self._words = text.lower().split()
        self._apply()

    def _apply(self) -> None:
        # typed words are looked for before the first tag separator only (the names and the id); the scope's tag
        # anywhere ([\s\S]: a name may hold a line break, where "." stops)
        needs = [rf"(?=[^\x1f]*{QRegularExpression.escape(w)})" for w in self._words]
        if self._scope is not None:
            needs.append(rf"(?=[\s\S]*{QRegularExpression.escape(scope_tag(self._scope))})")
        self.setFilterRegularExpression("^" + "".join(needs) if needs else "")


def scope_tag(node_id: str) -> str:
    """The token in a node's search text that says it is ``node_id`` or lies under it: the id's ASCII letters
    moved to Unicode's private use area, after a separator that typed words are never looked for beyond."""
    return " \x1f" + "".join(chr(0xE000 + ord(c)) for c in node_id) + "\x1f"


class TaxonomyPicker(QDialog):
    """Pick a leaf. Type to filter, arrows to move, Enter to choose, Esc to cancel.

    When exactly one leaf matches the filter, Enter chooses it directly. With ``scope`` (a group or subgroup the
    model determined) only that node's leaves are shown at first; Tab shows the whole tree.
    With ``suggestion`` (a type and its hit quality), a line under the search field says what the image's FTIR
    spectrum suggests.
    """

    def __init__(self, taxonomy: Taxonomy, lang: str = "en", parent=None, current: str | None = None,
                 scope: str | None = None, suggestion: tuple[str, float] | None = None,
                 unknown_key: str | None = "U") -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Choose the defect type"))
        self.resize(520, 560)
        self.taxonomy = taxonomy
        self.lang = lang
        self.chosen: str | None = None
        self.search = QLineEdit(self)
        self.search.setPlaceholderText(self.tr("Type to filter by English or Chinese name, or id…"))
        self.search.setClearButtonEnabled(True)
        self.model = build_taxonomy_model(taxonomy, lang, self)
        self._own = {leaf: own_words(taxonomy, leaf) for leaf in taxonomy.leaves}  # (read at each key typed)
        self.proxy = _Filter(self)
        self.proxy.setSourceModel(self.model)
        self.tree = QTreeView(self)
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.expandAll()
        header = self.tree.header()  # the names take the width; the ids what they need (a third went to them)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.doubleClicked.connect(lambda _i: self._choose_current())
        self.hint = QLabel(self.tr("Enter: choose · ↑↓: move · Esc: cancel"), self)
        self.hint.setStyleSheet("color: gray")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self._choose_current)
        buttons.rejected.connect(self.reject)
        self.scope = scope if scope in taxonomy and not taxonomy.node(scope).is_leaf else None
        self.scope_label = QLabel(self)
        self.scope_label.setStyleSheet("color: #1e8e3e")
        if self.scope is not None:
            self.scope_label.setText(self.tr("Only {node} (determined by the model) · Tab: all types").format(
                node=taxonomy.name(self.scope, lang)))
            self.proxy.set_scope(self.scope)
            self.tree.expandAll()
        self.scope_label.setVisible(self.scope is not None)
        self.suggestion_label = QLabel(self)  # the image's FTIR spectrum: its best reference's type (issue #20)
        self.suggestion_label.setStyleSheet("color: #b06000; font-weight: bold;")
        if suggestion is not None and suggestion[0] in taxonomy:
            self.suggestion_label.setText(QCoreApplication.translate(
                "Spectrum", "Spectrum suggests: {type} (HQI {hqi})").format(
                type=taxonomy.name(suggestion[0], lang), hqi=f"{suggestion[1]:.2f}"))
        self.suggestion_label.setVisible(bool(self.suggestion_label.text()))
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.suggestion_label)
        layout.addWidget(self.scope_label)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.hint)
        layout.addWidget(buttons)
        self.search.textChanged.connect(self._filter)
        self._pressed = False  # a key pressed since it opened (the repeats of the one that opened it type nothing)
        self.search.installEventFilter(self)
        # Nothing preselected without a ``current`` (a blind spot check, another defect to add): a first leaf chosen
        # for the analyst made Enter, Enter save it, whatever the image showed (seen: "Metal particle" on a crack)
        self.current = current
        self.unknown_key = unknown_key  # the key that marks a kind outside the tree (the hint names it)
        if current:
            self._select_leaf(current)
        self.search.setFocus()

    def widen(self) -> None:
        """Show the whole tree (Tab), keeping the selected leaf."""
        if self.scope is None:
            return
        idx = self.tree.currentIndex()
        current = idx.siblingAtColumn(0).data(ID_ROLE) if idx.isValid() else None
        self.scope = None
        self.proxy.set_scope(None)
        self.scope_label.setVisible(False)
        self.tree.expandAll()
        if current:
            self._select_leaf(current, centre=True)
        elif self.search.text():  # typed in the subtree and nothing matched there: the first match of the tree
            self._filter(self.search.text())

    # -- behaviour -----------------------------------------------------------------------------
    def _filter(self, text: str) -> None:
        self.proxy.set_text(text)
        self.tree.expandAll()
        leaves = self.visible_leaves()
        if not text.strip():  # cleared (Backspace, the ✕): back to the type given, or to none (never the first)
            if self.current and self.current in leaves:
                self._select_leaf(self.current, centre=True)
            else:
                self.tree.setCurrentIndex(QModelIndex())
        elif leaves:
            self._select_leaf(self.best_match(text, leaves), centre=True)
        if not text.strip():
            self._say(self.tr("Enter: choose · ↑↓: move · Esc: cancel"))
        elif leaves:
            self._say(self.tr("{n} types match · Enter: choose · ↑↓: move").format(n=len(leaves))
                      if len(leaves) > 1 else self.tr("1 type matches · Enter: choose"))
        elif self.scope is not None:  # an empty subtree said nothing: the type may be elsewhere in the tree
            close = self.close_names(text)  # (a typo found nothing and named nothing until Tab: seen)
            node = self.taxonomy.name(self.scope, self.lang)
            self._say(self.tr("No type of {node} matches · ↓: the closest, {names} · Tab: all types").format(
                node=node, names=listed(close)) if close else
                self.tr("No type of {node} matches · Tab: all types").format(node=node), warn=True)
        else:
            close = self.close_names(text)
            self._say(self.tr("No type matches · ↓: the closest, {names}").format(names=listed(close)) if close
                      else self.tr("No type matches · a kind outside the tree: Esc, then {key}").format(
                          key=self.unknown_key) if self.unknown_key else self.tr("No type matches"), warn=True)

    def best_match(self, text: str, leaves: list[str]) -> str:
        """The leaf to select among those the filter shows: one whose own name or id is what was typed, then one
        that begins with it, then one whose own words hold every typed word, then the first in tree order (one
        found only by its group's or subgroup's name). "sin" selected "Resin particle" over "SiNx peeling", and
        Enter saved the first of the tree's order."""
        typed = text.lower().strip()
        words = typed.split()

        def rank(leaf: str) -> int:
            own = self._own[leaf]
            if typed in own:
                return 0
            if any(w.startswith(typed) for w in own):
                return 1
            if all(any(w.startswith(t) for w in " ".join(own).split()) for t in words):
                return 2  # each typed word begins a word of its own names
            return 3 if all(any(t in w for w in own) for t in words) else 4

        return min(leaves, key=rank)  # (min keeps the first of equals: tree order)

    def close_names(self, text: str, n: int = 3) -> list[str]:
        """The names (in the UI language) of the types nearest to what was typed, when nothing matches it
        ("aluminum", "scrach"): a typo or another spelling found nothing and said nothing more."""
        pool: dict[str, str] = {}  # (over the whole tree: in a scope, Down widens it to take the closest)
        for leaf, words in self._own.items():
            for word in words:
                for part in (word, *word.split()):
                    pool.setdefault(part, leaf)
        found = difflib.get_close_matches(text.lower().strip(), list(pool), n=n * 3, cutoff=0.7)
        names = dict.fromkeys(self.taxonomy.name(pool[w], self.lang) for w in found)
        return list(names)[:n]

    def _say(self, text: str, *, warn: bool = False) -> None:
        self.hint.setText(text)
        self.hint.setStyleSheet("color: #e37400; font-weight: bold;" if warn else "color: gray")

    def visible_leaves(self) -> list[str]:
        """Leaf ids that the current filter shows, in tree order."""
        out: list[str] = []

        def walk(parent: QModelIndex) -> None:
            for r in range(self.proxy.rowCount(parent)):
                idx = self.proxy.index(r, 0, parent)
                if idx.data(LEAF_ROLE):
                    out.append(idx.data(ID_ROLE))
                walk(idx)

        walk(QModelIndex())
        return out

    def _select_leaf(self, leaf: str, *, centre: bool = False) -> None:
        matches = self.proxy.match(self.proxy.index(0, 0), ID_ROLE, leaf, 1,
                                   Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive)
        if matches:
            self.tree.setCurrentIndex(matches[0])
            # centred when the tree opens or widens: the leaf's group and subgroup stay in sight above it (a 150-leaf
            # tree is taller than the view); moving with the arrows scrolls only at the edge
            hint = QAbstractItemView.ScrollHint
            self.tree.scrollTo(matches[0], hint.PositionAtCenter if centre else hint.EnsureVisible)

    def showEvent(self, event) -> None:
        """Centre the selected leaf again now the view has its size (before it was shown it had none)."""
        super().showEvent(event)
        self.tree.scrollTo(self.tree.currentIndex(), QAbstractItemView.ScrollHint.PositionAtCenter)

    def _choose_current(self) -> None:
        idx = self.tree.currentIndex()
        leaves = self.visible_leaves()
        if (not idx.isValid() or not idx.siblingAtColumn(0).data(LEAF_ROLE)) and len(leaves) == 1:
            self.chosen = leaves[0]
        elif idx.isValid() and idx.siblingAtColumn(0).data(LEAF_ROLE):
            self.chosen = idx.siblingAtColumn(0).data(ID_ROLE)
        if self.chosen:
            self.accept()
        elif leaves:  # Enter before a type is picked: say how, instead of nothing
            self._say(self.tr("Pick a type first: type its name or move with ↑↓"), warn=True)
        elif self.scope is not None and self.search.text().strip():
            self.widen()  # a type outside the determined subtree, typed whole ("scratch" in Particle): Enter did
            # nothing. The whole tree's matches now, the best selected: the next Enter chooses it (scale walk)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.search and isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress:
            key = event.key()
            if event.isAutoRepeat() and not self._pressed and event.text():  # the key that opened the picker, held:
                return True  # its repeats typed "cccccccc" into the search ("No type matches"; walk-through)
            self._pressed = self._pressed or not event.isAutoRepeat()
            if key in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
                self._move(key)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._choose_current()
                return True
            if key == Qt.Key.Key_Tab and self.scope is not None:
                self.widen()
                return True
        return super().eventFilter(obj, event)

    def _move(self, key: Qt.Key) -> None:
        leaves = self.visible_leaves()
        if not leaves:
            # a typo: Down takes the closest name into the search, where it matches and Enter chooses it (the
            # hint named it and no key took it: "crak" had to be typed again)
            close = self.close_names(self.search.text()) if self.search.text().strip() else []
            if close and key == Qt.Key.Key_Down:
                self.widen()  # (the closest may be a type outside the scope)
                self.search.setText(close[0])
            return
        idx = self.tree.currentIndex()
        cur = idx.siblingAtColumn(0).data(ID_ROLE) if idx.isValid() else None
        pos = leaves.index(cur) if cur in leaves else -1
        step = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_PageUp: -5, Qt.Key.Key_PageDown: 5}[key]
        self._select_leaf(leaves[max(0, min(len(leaves) - 1, pos + step))])
        if self.hint.text() == self.tr("Pick a type first: type its name or move with ↑↓"):  # a type is picked
            self._say(self.tr("Enter: choose · ↑↓: move · Esc: cancel"))  # now: the warning stayed (walk-through)
