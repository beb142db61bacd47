"""The main window's toolbar: its actions, the settings menu and the heatmap opacity slider (wired by the window)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import QApplication, QMenu, QSlider, QToolBar, QToolButton

from app.ui import keymap

LANGUAGES = (("en", "English"), ("zh_TW", "繁體中文"))


class MainToolBar(QToolBar):
    """Open, model, export | settings | queue, dashboard | heatmap, opacity, side by side | help.

    Signals:
        languageChosen(str): a UI language code from the settings menu.
        analystChangeRequested(): "Change analyst…" from the settings menu.
        keysEditRequested(): "Keyboard shortcuts…" from the settings menu.
        pixelSizeRequested(): "Scale bar…" from the settings menu.
        panesResetRequested(): "Fit the right column again" from the settings menu.
    """

    languageChosen = Signal(str)
    analystChangeRequested = Signal()
    keysEditRequested = Signal()
    pixelSizeRequested = Signal()
    panesResetRequested = Signal()

    def __init__(self, lang: str, parent=None) -> None:
        super().__init__(QCoreApplication.translate("Main", "Main"), parent)
        self.setMovable(False)

        def action(text: str, *, checkable: bool = False) -> QAction:
            act = QAction(text, self)
            act.setCheckable(checkable)
            return act

        self.act_open = action(QCoreApplication.translate("Main", "Open folder…"))
        self.act_files = action(QCoreApplication.translate("Main", "Open files…"))
        self.act_model = action(QCoreApplication.translate("Main", "Model…"))
        self.act_export = action(QCoreApplication.translate("Main", "Export labels…"))
        self.act_queue = action("")
        self.act_dashboard = action(QCoreApplication.translate("Main", "Dashboard"))
        self.act_heat = action(QCoreApplication.translate("Main", "Heatmap"), checkable=True)
        self.act_heat.setChecked(True)
        self.act_side = action(QCoreApplication.translate("Main", "Side by side"), checkable=True)
        # side by side is the heatmap beside the image: asked for with the heatmap off, it turns it on (the button
        # went on and the view stayed as it was, without a word: zh_TW walk-through)
        self.act_side.toggled.connect(lambda on: self.act_heat.setChecked(True) if on else None)
        self.act_heat.toggled.connect(lambda on: None if on else self.act_side.setChecked(False))  # (and back: S
        # stayed on beside no heatmap, and the next S only turned it off: review)
        self.act_help = action("")
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setFixedWidth(110)
        self.opacity.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for a in (self.act_open, self.act_files, self.act_model, self.act_export):
            self.addAction(a)
        self.addWidget(self._settings_button(lang))
        self.addSeparator()
        self.addAction(self.act_queue)
        self.addAction(self.act_dashboard)
        self.addSeparator()
        self.addAction(self.act_heat)
        self.addWidget(self.opacity)
        self.addAction(self.act_side)
        self.addSeparator()
        self.addAction(self.act_help)
        self.set_keys(keymap.defaults())

    def _settings_button(self, lang: str) -> QToolButton:
        self.settings_menu = QMenu(QCoreApplication.translate("Main", "Settings"), self)
        lang_menu = self.settings_menu.addMenu(QCoreApplication.translate("Main", "Language"))
        for code, label in LANGUAGES:
            act = lang_menu.addAction(label)
            act.setCheckable(True)
            act.setChecked(code == lang)
            act.triggered.connect(lambda _=False, code=code: self.languageChosen.emit(code))
        self.settings_menu.addAction(QCoreApplication.translate("Main", "Change analyst…"),
                                     self.analystChangeRequested.emit)
        self.settings_menu.addAction(QCoreApplication.translate("Main", "Keyboard shortcuts…"),
                                     self.keysEditRequested.emit)
        self.settings_menu.addAction(QCoreApplication.translate("Main", "Scale bar: camera pixel size…"),
                                     self.pixelSizeRequested.emit)
        self.settings_menu.addAction(QCoreApplication.translate("Main", "Fit the right column again"),
                                     self.panesResetRequested.emit)
        button = self.settings_button = QToolButton(self)
        # the style's menu indicator drew a stray "_" after the word on this dark theme: a "▾" in the text says it
        # opens a menu, and the indicator is not drawn
        button.setText(QCoreApplication.translate("Main", "Settings") + " ▾")
        button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")
        button.setMenu(self.settings_menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def set_keys(self, keys) -> None:
        """Name the analyst's keys (Settings → Keyboard shortcuts) on the actions that have one."""
        self.act_queue.setText(keymap.labelled(QCoreApplication.translate("Main", "Re-judge queue"), keys, "queue"))
        self.act_dashboard.setText(keymap.labelled(QCoreApplication.translate("Main", "Dashboard"), keys, "dashboard"))
        self.act_help.setText(keymap.labelled(QCoreApplication.translate("Main", "Shortcuts"), keys, "help"))
        for act, action_id in ((self.act_open, "open_folder"), (self.act_files, "open_files"),
                               (self.act_model, "model"), (self.act_export, "export")):
            act.setToolTip(keymap.labelled(act.text(), keys, action_id))
        self.settings_button.setToolTip(keymap.labelled(QCoreApplication.translate("Main", "Settings"), keys,
                                                        "settings"))
        self.opacity.setToolTip(QCoreApplication.translate("Main", "Heatmap opacity ({keys})").format(
            keys=keymap.shown_keys(keys, "opacity_down", "opacity_up")))

    def show_settings_menu(self) -> None:
        """The Settings menu under its button, from the keyboard (it was the mouse's only), its first item
        highlighted as a Down key does it: Right or Enter opens the language submenu. (``setActiveAction`` on that
        submenu's action opened it at once, with the keys left to the parent menu: Right and Enter did nothing, and
        the next Down chose "Change analyst…": zh_TW walk-through.)"""
        button = self.settings_button
        menu = self.settings_menu
        menu.popup(button.mapToGlobal(button.rect().bottomLeft()))
        QApplication.sendEvent(menu, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Down, Qt.KeyboardModifier.NoModifier))

    def nudge_opacity(self, step: int) -> None:
        self.opacity.setValue(self.opacity.value() + step)
