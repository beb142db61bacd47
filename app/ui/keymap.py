"""The judging window's key bindings: every action's default keys, the analyst's own (kept in the settings), and
the check that refuses one key for two actions.

The settings hold only what differs from the defaults: ``keys/<action id>`` = the keys in Qt's portable text,
``;``-separated (``keys/undo = Ctrl+Z;Ctrl+Y``); an empty value unbinds the action.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence


@dataclass(frozen=True)
class KeyAction:
    """One action of the judging window: its id (the settings key), its label (translated) and default keys."""

    id: str
    label: str
    default: tuple[str, ...]


ONCE_PER_PRESS = frozenset({
    "accept", "top1", "top2", "top3", "top4", "top5", "picker", "add_label", "remove_label", "unknown", "note", "undo",
    "redo", "open_folder", "open_files", "model", "export", "settings", "queue", "dashboard", "skipped", "quit",
})  # fmt: skip
"""The actions a held key does once, not at the keyboard's repeat rate (:class:`app.ui.repeat_guard.RepeatGuard`):
a held Enter accepted about 20 images a second, none of them seen (58 in 3 s, 19 of them wrong: the factory-scale
walk-through). Moving, zooming and the image's brightness repeat."""


def actions() -> list[KeyAction]:
    """Every rebindable action, in the order the shortcuts dialog lists them."""


    def a(id_: str, label: str, *keys: str) -> KeyAction:
        return KeyAction(id_, label, keys)

    return [
        a("accept", QCoreApplication.translate("Keys", "Accept the prediction"), "Return", "Enter", "Space"),
        *(a(f"top{k}", QCoreApplication.translate("Keys", "Choose Top-{k}").format(k=k), str(k)) for k in range(1, 6)),
        a("picker", QCoreApplication.translate("Keys", "Open the defect-type picker"), "C", "/"),
        a("add_label", QCoreApplication.translate("Keys", "Add another defect type to the image"), "Shift+C"),
        a("remove_label", QCoreApplication.translate("Keys", "Take off the image's last added defect type"), "X"),
        a("unknown", QCoreApplication.translate("Keys", "Mark as unknown / new defect type"), "U"),
        a("note", QCoreApplication.translate("Keys", "Add a note"), "N"),
        a("previous", QCoreApplication.translate("Keys", "Previous image"), "Left", "Up"),
        a("next", QCoreApplication.translate("Keys", "Next image"), "Right", "Down"),
        a("first", QCoreApplication.translate("Keys", "First image"), "Home"),
        a("last", QCoreApplication.translate("Keys", "Last image"), "End"),
        a("page_up", QCoreApplication.translate("Keys", "One page up"), "PgUp"),
        a("page_down", QCoreApplication.translate("Keys", "One page down"), "PgDown"),
        a("panel_up", QCoreApplication.translate("Keys", "Scroll the prediction panel up"), "Shift+PgUp"),
        a("panel_down", QCoreApplication.translate("Keys", "Scroll the prediction panel down"), "Shift+PgDown"),
        a("undo", QCoreApplication.translate("Keys", "Undo"), "Ctrl+Z"),
        a("redo", QCoreApplication.translate("Keys", "Redo"), "Ctrl+Shift+Z", "Ctrl+Y"),
        a("heatmap", QCoreApplication.translate("Keys", "Heatmap on / off"), "H"),
        a("why", QCoreApplication.translate("Keys", "Why this type?"), "W"),
        a("references", QCoreApplication.translate("Keys", "Reference images of the Top-1 and Top-2 types"), "E"),
        a("top_scope", QCoreApplication.translate("Keys", "Top-5 of the determined node, or of all types"), "A"),
        a("spectrum_reference", QCoreApplication.translate("Keys", "FTIR spectrum: the next reference over it"), "I"),
        a("spectrum_next", QCoreApplication.translate("Keys", "FTIR spectrum: the image's next spectrum"), "Shift+I"),
        a("side", QCoreApplication.translate("Keys", "Heatmap side by side"), "S"),
        a("opacity_down", QCoreApplication.translate("Keys", "Heatmap opacity down"), "["),
        a("opacity_up", QCoreApplication.translate("Keys", "Heatmap opacity up"), "]"),
        a("zoom_in", QCoreApplication.translate("Keys", "Zoom in"), "+", "="),
        a("zoom_out", QCoreApplication.translate("Keys", "Zoom out"), "-"),
        a("fit", QCoreApplication.translate("Keys", "Fit the image"), "0"),
        a("brightness_up", QCoreApplication.translate("Keys", "Brightness up"), "B"),
        a("brightness_down", QCoreApplication.translate("Keys", "Brightness down"), "Shift+B"),
        a("contrast_up", QCoreApplication.translate("Keys", "Contrast up"), "K"),
        a("contrast_down", QCoreApplication.translate("Keys", "Contrast down"), "Shift+K"),
        a("gamma_up", QCoreApplication.translate("Keys", "Gamma up"), "G"),
        a("gamma_down", QCoreApplication.translate("Keys", "Gamma down"), "Shift+G"),
        a("reset_view", QCoreApplication.translate("Keys", "Reset brightness, contrast, gamma"), "R"),
        a("open_folder", QCoreApplication.translate("Keys", "Open a folder"), "Ctrl+O"),
        a("open_files", QCoreApplication.translate("Keys", "Open image files"), "Ctrl+Shift+O"),
        a("model", QCoreApplication.translate("Keys", "Choose a model"), "Ctrl+M"),
        a("export", QCoreApplication.translate("Keys", "Export labels"), "Ctrl+E"),
        a("settings", QCoreApplication.translate("Keys", "Settings: language, analyst, keys, scale bar"), "Ctrl+,"),
        a("queue", QCoreApplication.translate("Keys", "Re-judge queue"), "Q"),
        a("dashboard", QCoreApplication.translate("Keys", "Dashboard"), "D"),
        a("list_filter", QCoreApplication.translate("Keys", "Filter or sort the list"), "F"),
        a("list_pane", QCoreApplication.translate("Keys", "Image list shown / hidden"), "L"),
        a("skipped", QCoreApplication.translate("Keys", "Files left out of the batch, and why"), "Ctrl+Shift+L"),
        a("dismiss", QCoreApplication.translate("Keys", "Close the notices over the image"), "Esc"),
        a("notice_action", QCoreApplication.translate(
            "Keys", "Do what the notice over the image offers (Load it, Back to it)"), "Ctrl+Return", "Ctrl+Enter"),
        a("help", QCoreApplication.translate("Keys", "Show / hide the shortcuts"), "F1", "?"),
        a("quit", QCoreApplication.translate("Keys", "Close the window"), "Ctrl+Q"),
    ]


def shown_key(keymap: Mapping[str, tuple[str, ...]], action_id: str) -> str | None:
    """The key a label names for ``action_id``: its first, as the platform writes it ("Enter" for Return, "Ctrl+Enter"), or None
    when the analyst left the action without a key."""
    keys = keymap.get(action_id, ())
    if not keys:
        return None
    key = QKeySequence(keys[0]).toString(QKeySequence.SequenceFormat.NativeText) or keys[0]
    return key.removesuffix("Return") + "Enter" if key.endswith("Return") else key  # (the key's word on keyboards)


def shown_keys(keymap: Mapping[str, tuple[str, ...]], *action_ids: str) -> str:
    """The keys of several actions for a label: "1–5" for a run of digits (the Top-5), else joined by "/"; "—"
    where none is bound."""
    keys = [shown_key(keymap, a) for a in action_ids]
    if len(keys) > 2 and all(k is not None and k.isdigit() for k in keys) \
            and [int(k) for k in keys] == list(range(int(keys[0]), int(keys[0]) + len(keys))):
        return f"{keys[0]}–{keys[-1]}"
    return "/".join(k for k in keys if k) or "—"


def labelled(text: str, keymap: Mapping[str, tuple[str, ...]], action_id: str, gap: str = " ") -> str:
    """``text`` with the action's key after it in brackets ("Re-judge queue (Q)"), or alone when it has none."""
    key = shown_key(keymap, action_id)
    return f"{text}{gap}({key})" if key else text


def defaults() -> dict[str, tuple[str, ...]]:
    """Every action's default keys."""
    return {act.id: act.default for act in actions()}


def normalized(text: str) -> str:
    """A key in Qt's portable text (``ctrl+z`` -> ``Ctrl+Z``), or "" when Qt reads no key from it."""
    seq = QKeySequence(text.strip())
    return seq.toString(QKeySequence.SequenceFormat.PortableText) if seq.count() == 1 else ""


_MODIFIERS = frozenset({Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta, Qt.Key.Key_AltGr})


def pressed_key(event: QKeyEvent) -> str:
    """The key an analyst pressed, in Qt's portable text ("Ctrl+Shift+O", "F2", "?"), or "" for a modifier alone.
    Shift is left out of a symbol it typed ("?" and "+" are Shift+/ and Shift+= on many keyboards; the bindings
    name the symbol), kept with a letter, a digit or a named key ("Shift+C", "Shift+F3")."""
    key = Qt.Key(event.key())
    if key in _MODIFIERS or key == Qt.Key.Key_unknown:
        return ""
    mods = event.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier
                                | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier)
    symbol = event.text().isprintable() and len(event.text()) == 1 and not event.text().isalnum() \
        and event.text() != " "
    if symbol:
        mods &= ~Qt.KeyboardModifier.ShiftModifier
    return QKeySequence(mods.value | key.value).toString(QKeySequence.SequenceFormat.PortableText)


def parse_keys(text: str) -> tuple[str, ...]:
    """``"Ctrl+Z; Ctrl+Y"`` -> ("Ctrl+Z", "Ctrl+Y"). Full-width forms, which a Chinese input method types, are read
    as their ASCII ones ("N；F2", "Ｃｔｒｌ＋Ｚ": it answered "'N；F2' is not a key").

    Raises:
        ValueError: a part that is no key (the message names it).
    """
    keys = []
    for part in (p for p in unicodedata.normalize("NFKC", text).split(";") if p.strip()):
        key = normalized(part)
        if not key:
            raise ValueError(QCoreApplication.translate("Keys", "{part!r} is not a key").replace(
                "{part!r}", repr(part.strip())))
        keys.append(key)
    return tuple(dict.fromkeys(keys))


def load(settings) -> dict[str, tuple[str, ...]]:
    """Each action's keys: the settings' where they hold some, else the defaults.

    The analyst's own keys win: a default key one of them took is dropped from its default action (so a new
    action of a later version, whose default key an analyst already uses, does not take it back). A broken value,
    or own keys that clash with each other (edited by hand), fall back to the defaults of those actions."""
    own: dict[str, tuple[str, ...]] = {}
    for act in actions():
        value = settings.value(f"keys/{act.id}") if settings is not None else None
        if value is not None:
            with contextlib.suppress(ValueError):  # a broken value: the default keys
                own[act.id] = parse_keys(str(value))
    for _key, ids in conflicts(own):
        for action_id in ids:
            own.pop(action_id, None)
    taken = {k for keys in own.values() for k in keys}
    return {act.id: own[act.id] if act.id in own else tuple(k for k in act.default if k not in taken)
            for act in actions()}


def save(settings, keymap: Mapping[str, tuple[str, ...]]) -> None:
    """Keep what differs from the defaults (and forget what no longer does)."""
    for act in actions():
        keys = tuple(keymap.get(act.id, act.default))
        if keys == act.default:
            settings.remove(f"keys/{act.id}")
        else:
            settings.setValue(f"keys/{act.id}", ";".join(keys))


def conflicts(keymap: Mapping[str, tuple[str, ...]]) -> list[tuple[str, list[str]]]:
    """Keys given to more than one action: ``(key, [action ids])``."""
    owners: dict[str, list[str]] = {}
    for action_id, keys in keymap.items():
        for key in keys:
            owners.setdefault(normalized(key) or key, []).append(action_id)
    return [(key, ids) for key, ids in owners.items() if len(ids) > 1]


def claim_keys(event: QEvent, keys: frozenset[Qt.Key]) -> bool:
    """For a widget that needs some keys the judging window binds (Enter, arrows, letters): take a
    ShortcutOverride of one of ``keys`` without Ctrl, so the key reaches the widget instead of the window's shortcut.
    Returns True when the event was taken."""
    if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) and event.key() in keys \
            and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
        event.accept()
        return True
    return False
