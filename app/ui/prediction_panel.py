"""Prediction panel: the predicted tree path with a confidence bar per level, the Top-5, the judgment."""

from __future__ import annotations

import html
from collections.abc import Mapping

from PySide6.QtCore import QCoreApplication, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.services.batch_presenter import PanelData
from app.services.presenter_records import PATH_SEPARATOR
from app.ui import keymap, startup_log
from app.ui.style import STATE_COLOURS, file_reason_text, listed, reason_text, state_label, waiting_text
from models.imageio import ImageFacts

COMPACT_ROW_GAP = 2
"""Pixels between the Top-5 rows when the panel is compact."""
WIDGET_MAX = 16_777_215
"""Qt's QWIDGETSIZE_MAX: a button's height left to its style again."""


class ElidedLabel(QLabel):
    """One line of plain text that is cut at the start by whole names (``… › Residues and stains``, see
    :func:`elide_path`) when the label is narrower than the text, with the whole text as its tooltip: a Top-5 row's
    ancestry, which wrapped to a second line in English and made the Top-5 taller than a laptop's panel."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.full_text = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self.setToolTip(text)
        self._elide()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(elide_path(self.full_text, self.fontMetrics().horizontalAdvance, max(1, self.width()),
                                lambda text, width: self.fontMetrics().elidedText(
                                    text, Qt.TextElideMode.ElideRight, width)))


class FactsLabel(ElidedLabel):
    """The image's details line: wrapped; one line cut at its end (the whole line as its tooltip) while the panel
    is compact, where its second line ("· saved 2026-12-07 04:04") pushed the routing reason under the fold."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.one_line = False
        self.setWordWrap(True)

    def set_one_line(self, on: bool) -> None:
        self.one_line = on
        self.setWordWrap(not on)
        self._elide()

    def wrap_saving(self) -> int:
        """The lines one line saves now, in pixels (0 when wrapped)."""
        if not self.one_line or not self.full_text:
            return 0
        fm = self.fontMetrics()
        wrapped = fm.boundingRect(0, 0, max(1, self.width()), 10_000, Qt.TextFlag.TextWordWrap, self.full_text)
        return max(0, wrapped.height() - fm.height())

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, max(1, self.width()))
                     if self.one_line else self.full_text)


class MiddleElidedLabel(ElidedLabel):
    """A file name on one line, cut in its middle when the label is narrower ("particle_org…00000_20x.png": its
    start and its magnification and suffix stay), the whole name as the tooltip. A wrapping label could not break a
    long name without spaces and pushed the panel's badge and every percentage off its pane (final walk-through)."""

    def minimumSizeHint(self) -> QSize:  # (the name is cut to the width it gets: it asks for none)
        return QSize(0, super().minimumSizeHint().height())

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideMiddle, max(1, self.width())))


def elide_path(text: str, advance, width: int, elide_right) -> str:
    """``text`` (node names joined by :data:`PATH_SEPARATOR`) cut at the start by whole names to fit ``width``:
    ``Foreign matter › Residues and stains``, then ``… › Residues and stains``, never ``… matter › Residues and
    stains`` (a name cut in the middle reads as another word). A last name too wide alone is cut at its end.
    ``advance`` measures a string in pixels and ``elide_right`` cuts one, as the label's font does."""
    if advance(text) <= width:
        return text
    parts = text.split(PATH_SEPARATOR)
    for start in range(1, len(parts)):
        shorter = "…" + PATH_SEPARATOR + PATH_SEPARATOR.join(parts[start:])
        if advance(shorter) <= width:
            return shorter
    return elide_right(parts[-1], width)


class ScoreBar(QWidget):
    """A slim horizontal bar for a 0..1 score, coloured by how sure the model is."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.value = 0.0
        self.setMinimumWidth(60)
        self.setFixedHeight(10)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_value(self, value: float) -> None:
        self.value = max(0.0, min(1.0, float(value)))
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self.rect().adjusted(0, 1, -1, -1)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#3c4043"))
        p.drawRoundedRect(r, 4, 4)
        colour = "#1e8e3e" if self.value >= 0.9 else "#f9ab00" if self.value >= 0.6 else "#d93025"
        p.setBrush(QColor(colour))
        w = int(r.width() * self.value)
        if w > 0:
            p.drawRoundedRect(r.adjusted(0, 0, w - r.width(), 0), 4, 4)


class PredictionPanel(QWidget):
    """Read-only view of one image's prediction and judgment, plus big buttons for mouse users.

    Signals:
        acceptRequested, unknownRequested, pickerRequested, noteRequested, topkRequested(int k),
        whyRequested(int k): "Why this type?" for Top-k leaf k
        contentsChanged: another image or state is shown (the right column may give the panel more room)
    """

    acceptRequested = Signal()
    unknownRequested = Signal()
    pickerRequested = Signal()
    noteRequested = Signal()
    topkRequested = Signal(int)
    whyRequested = Signal(int)
    contentsChanged = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        # Opaque: a change in the panel repaints the panel only, not the window and splitter under it.
        self.setAutoFillBackground(True)
        self.setMinimumWidth(330)
        self.compact = False  # each Top-5 row's ancestry and the model line hidden: the window is too short for them
        self.title = MiddleElidedLabel(self)
        self.title.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.badge = QLabel(self)
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.setFixedHeight(22)

        self.path_header = QLabel(QCoreApplication.translate("Panel", "Predicted path"), self)
        self.path_header.setStyleSheet("color: #9aa0a6; text-transform: uppercase; font-size: 11px;")
        self.path_grid = QGridLayout()
        self.path_rows: list[tuple[QLabel, ScoreBar, QLabel]] = []

        self.keys = keymap.defaults()  # the keys the labels name (the analyst's own: set_keys)
        self._blind = False
        self._data: PanelData | None = None  # the image shown (set_keys shows it again)
        self.top_header = QLabel(self._top_header(None, None), self)
        self.top_header.setStyleSheet("color: #9aa0a6; text-transform: uppercase; font-size: 11px;")
        self.top_grid = QGridLayout()
        self.top_rows: list[tuple[QPushButton, QLabel, ScoreBar, QLabel, QPushButton]] = []
        self.top_parents: list[ElidedLabel] = []  # each row's ancestry, under its name
        for k in range(5):
            key = QPushButton(str(k + 1), self)
            key.setFixedWidth(28)
            key.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            key.clicked.connect(lambda _=False, k=k: self.topkRequested.emit(k + 1))
            name = QLabel(self)
            name.setWordWrap(True)
            name.setTextFormat(Qt.TextFormat.RichText)
            parents = ElidedLabel(self)
            parents.setStyleSheet("color: #9aa0a6; font-size: 11px;")
            self.top_parents.append(parents)
            bar = ScoreBar(self)
            bar.setFixedWidth(70)
            pct = QLabel(self)
            pct.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            pct.setMinimumWidth(46)
            why = QPushButton("?", self)
            why.setFixedWidth(26)
            why.setStyleSheet("padding: 0px; font-weight: bold;")  # the style's padding clips one glyph
            why.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            why.clicked.connect(lambda _=False, k=k: self.whyRequested.emit(k + 1))
            cell = QVBoxLayout()  # the name, its ancestry under it
            cell.setSpacing(0)
            cell.addWidget(name)
            cell.addWidget(parents)
            self.top_grid.addLayout(cell, k, 1)
            for col, w in ((0, key), (2, bar), (3, pct), (4, why)):
                self.top_grid.addWidget(w, k, col)
            self.top_rows.append((key, name, bar, pct, why))
        self.top_grid.setColumnStretch(1, 1)
        self._spacing: int | None = None  # the style's gap between the rows, read when first compact (then less)

        self.determined = QLabel(self)  # "Particle is determined · pick the type" (hierarchical routing)
        self.determined.setWordWrap(True)
        self.determined.setStyleSheet("color: #1e8e3e;")
        self.several = QLabel(self)  # "2 defects: Metal particle + Scratch" (a multi-label model)
        self.several.setWordWrap(True)
        self.several.setStyleSheet("color: #8ab4f8; font-weight: bold;")
        self.judgment = QLabel(self)
        self.judgment.setWordWrap(True)
        self.reasons = QLabel(self)
        self.reasons.setWordWrap(True)
        self.reasons.setStyleSheet("color: #e37400;")
        self.waiting = QLabel(self)
        self.waiting.setWordWrap(True)
        self.waiting.setStyleSheet("color: #9aa0a6; font-style: italic;")
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d93025; font-weight: bold;")

        self.judging = True  # False on a read-only store: the judging buttons stay off
        self.unshown = False  # the image on screen cannot be shown (its file not reached): its judging buttons off
        self.accept_btn = QPushButton(self)
        self.accept_btn.setStyleSheet("QPushButton { background: #1e8e3e; color: white; padding: 8px; "
                                      "font-weight: bold; border-radius: 4px; } QPushButton:disabled { background: #5f6368; }")
        self.pick_btn = QPushButton(self)
        self.unknown_btn = QPushButton(self)
        self.note_btn = QPushButton(self)
        self._name_buttons(blind=False)
        for b in (self.accept_btn, self.pick_btn, self.unknown_btn, self.note_btn):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.accept_btn.clicked.connect(self.acceptRequested)
        self.pick_btn.clicked.connect(self.pickerRequested)
        self.unknown_btn.clicked.connect(self.unknownRequested)
        self.note_btn.clicked.connect(self.noteRequested)
        self.facts = FactsLabel(self)  # "1024 × 768 px · 8-bit RGB · 20× (file name) · 412 KB · saved 2026-11-28 14:03"
        self.facts.setStyleSheet("color: #9aa0a6; font-size: 11px;")
        self.facts.hide()
        self.model_label = QLabel(self)
        self.model_label.setStyleSheet("color: #9aa0a6; font-size: 11px;")
        self.model_label.setWordWrap(True)

        # What the model says scrolls; the judging buttons stay in sight below it. The window's right column
        # stacks this panel, a spectrum and the similar cases: with the panel's whole height as its minimum they
        # added up past a laptop screen, and the window grew past the screen's bottom edge, its status bar hidden.
        body = QWidget(self)
        layout = QVBoxLayout(body)  # scrolled
        layout.setContentsMargins(0, 0, 0, 0)
        self.scroll = QScrollArea(self)
        self.scroll.setWidget(body)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setMinimumHeight(90)  # the title and the Top-1 path at least
        head = QGridLayout()
        head.addWidget(self.title, 0, 0)
        head.addWidget(self.badge, 0, 1, Qt.AlignmentFlag.AlignTop)
        head.addWidget(self.facts, 1, 0, 1, 2)
        head.setColumnStretch(0, 1)
        layout.addLayout(head)
        layout.addWidget(self.error)
        layout.addWidget(self.waiting)
        layout.addWidget(self.path_header)
        layout.addLayout(self.path_grid)
        layout.addWidget(self.determined)
        layout.addWidget(self.several)
        layout.addWidget(_line(self))
        layout.addWidget(self.top_header)
        layout.addLayout(self.top_grid)
        layout.addWidget(_line(self))
        layout.addWidget(self.reasons)
        layout.addWidget(self.judgment)
        layout.addStretch(1)
        # The judging buttons, one widget: under the scrolled body here; the main window puts it at the bottom of its
        # right column, under the panes, so that the buttons stay at one place from image to image (under the
        # panel, an image with a spectrum or similar cases moved them up by up to 100 px, and a click aimed at
        # Accept landed on "Other type…").
        self.actions = QWidget(self)
        actions = QGridLayout(self.actions)
        actions.setContentsMargins(0, 0, 0, 0)
        actions.addWidget(self.accept_btn, 0, 0, 1, 2)
        actions.addWidget(self.pick_btn, 1, 0)
        actions.addWidget(self.unknown_btn, 1, 1)
        actions.addWidget(self.note_btn, 2, 0, 1, 2)
        outer = QVBoxLayout(self)  # the scrolled body, then the judging buttons in sight
        outer.addWidget(self.scroll, 1)
        outer.addWidget(self.model_label)
        outer.addWidget(self.actions)
        self.show_data(None)

    def compact_saving(self) -> int:
        """What compact saves now (the ancestry lines, the Top-5 rows' taller buttons and gaps, the details line's
        second line, and the model line it hides; 0 when not compact)."""
        if not self.compact:
            return 0
        shown = [k for k in range(len(self.top_rows)) if self.top_rows[k][1].isVisibleTo(self)]
        rows = sum(self._row_height(k, compact=False) - self._row_height(k, compact=True) for k in shown)
        gaps = ((self._spacing or 0) - COMPACT_ROW_GAP) * max(0, len(shown) - 1)
        facts = self.facts.wrap_saving() if self.facts.isVisibleTo(self) else 0
        return rows + gaps + facts + self.model_label.sizeHint().height() + max(0, self.layout().spacing())  # (its gap)

    def scroll_page(self, sign: int) -> bool:
        """Scroll what the model says a page down (``sign`` 1) or up (-1), keeping a line of the page before in sight;
        False when there is no further to go. At 1366 x 768 and 125 % a note or a "Judged … by …" line went below the
        fold, and a keyboard-only analyst had no key to reach it (walk-through)."""
        bar = self.scroll.verticalScrollBar()
        before = bar.value()
        line = self.title.fontMetrics().height()
        bar.setValue(before + sign * max(line, bar.pageStep() - line))
        return bar.value() != before

    def _row_height(self, k: int, *, compact: bool) -> int:
        """Top-5 row ``k``'s height: as high as its key button, bar and percentage at least, and its name with
        (not compact) the ancestry line under it. Compact, the buttons are a line high (at 1366 x 768 and 125 %
        scale rows 4 and 5 and the routing reason scrolled away, the rows as high as a full button each). (The
        whole ancestry line's height was counted once: the saving came out at 112 px where it was about 40, the
        panes did not fold, zh_TW walk-through.)"""
        key, name, bar, pct, why = self.top_rows[k]
        button = self._compact_button() if compact else max(key.sizeHint().height(), why.sizeHint().height())
        text = name.sizeHint().height() + (self.top_parents[k].sizeHint().height()
                                           if not compact and self._has_ancestry(k) else 0)
        return max(button, bar.sizeHint().height(), pct.sizeHint().height(), text)

    def _compact_button(self) -> int:
        """A compact Top-5 row's key and "?" button height: a line of the name's font and a little room."""
        return self.top_rows[0][1].fontMetrics().height() + 6

    def wanted_height(self) -> int:
        """The height at which nothing scrolls, not compact: the scrolled body's own height and the buttons below."""
        extra = self.compact_saving()
        body, width = self.scroll.widget().layout(), self.scroll.viewport().width()
        # wrapped labels (the title, the details line) take the lines they take at the panel's width, not at the
        # narrower width a plain size hint assumes
        content = body.totalHeightForWidth(width) if body.hasHeightForWidth() else body.totalSizeHint().height()
        return content + self.height() - self.scroll.viewport().height() + extra

    def _has_ancestry(self, k: int) -> bool:
        """Whether Top-5 row ``k`` is shown with an ancestry line to show under it (empty under a scope that
        names it); compact hides it all the same."""
        return self.top_rows[k][1].isVisibleTo(self) and bool(self.top_parents[k].full_text)

    def set_keys(self, keys: Mapping[str, tuple[str, ...]]) -> None:
        """The analyst's keys (Settings → Keyboard shortcuts): the buttons and headers name them, not the defaults."""
        self.keys = dict(keys)
        self._name_buttons(blind=self._blind)
        self.top_header.setText(self._top_header(None, None))
        if self._data is not None:  # the image on screen: its scoped header and blind hint with the new keys
            self.show_data(self._data)

    def _name_buttons(self, *, blind: bool) -> None:
        tip = QCoreApplication.translate("Panel", "Why this type? Where the model finds evidence for it ({key} steps "
                                                  "through the Top-5)").format(key=keymap.shown_keys(self.keys, "why"))
        for row in self.top_rows:
            row[4].setToolTip(tip)

        def named(label: str, action_id: str) -> str:
            key = keymap.shown_key(self.keys, action_id)
            return f"{label}  ({key})" if key else label

        # A blind check has no call to accept: the button (and its key) picks the type instead.
        for button, text in (
                (self.accept_btn, named(QCoreApplication.translate("Panel", "Pick the type") if blind
                                        else QCoreApplication.translate("Panel", "Accept"), "accept")),
                (self.pick_btn, named(QCoreApplication.translate("Panel", "Other type…"), "picker")),
                (self.unknown_btn, named(QCoreApplication.translate("Panel", "Unknown / new type"), "unknown")),
                (self.note_btn, named(QCoreApplication.translate("Panel", "Note"), "note"))):
            if button.text() != text:
                button.setText(text)

    def _top_header(self, scope: str | None, widened: str | None, rows: int = 5) -> str:
        """"Top-5 (press 1–5)", scoped to a determined node or widened from it (A), with the analyst's keys: those of
        the ``rows`` listed (a subgroup of four types lists four: "press 1–5" offered a key that did nothing)."""
        keys, scope_key = keymap.shown_keys(self.keys, *(f"top{k}" for k in range(1, max(1, min(rows, 5)) + 1))), \
            keymap.shown_keys(self.keys, "top_scope")
        if scope and rows < 5:  # a node of fewer types lists them all ("Top-5 in …" over four rows)
            return QCoreApplication.translate("Panel", "The {n} types in {node} (press {keys}) · {key}: all types").format(
                n=rows, node=scope, keys=keys, key=scope_key)
        if scope:
            return QCoreApplication.translate("Panel", "Top-5 in {node} (press {keys}) · {key}: all types").format(
                node=scope, keys=keys, key=scope_key)
        if widened:
            return QCoreApplication.translate("Panel", "Top-5 (press {keys}) · {key}: only {node}").format(
                node=widened, keys=keys, key=scope_key)
        return QCoreApplication.translate("Panel", "Top-5 (press {keys})").format(keys=keys)

    def set_compact(self, on: bool) -> None:
        """Hide (or show again) each Top-5 row's ancestry line and the model line (the status bar names the model),
        so that all five rows fit a short window (:mod:`app.ui.right_column`)."""
        if on == self.compact:
            return
        self.compact = on
        for k, parents in enumerate(self.top_parents):
            parents.setVisible(not on and self._has_ancestry(k))
        self.model_label.setVisible(not on)
        self.facts.set_one_line(on)
        if on and self._spacing is None:
            self._spacing = max(0, self.top_grid.verticalSpacing())
        self.top_grid.setVerticalSpacing(COMPACT_ROW_GAP if on else -1)  # -1: the style's again
        for key, _name, _bar, _pct, why in self.top_rows:
            for button in (key, why):
                if on:
                    button.setFixedHeight(self._compact_button())
                else:  # back to the style's height
                    button.setMinimumHeight(0)
                    button.setMaximumHeight(WIDGET_MAX)

    # -----------------------------------------------------------------------------------------
    def _ensure_path_rows(self, n: int) -> None:
        while len(self.path_rows) < n:
            k = len(self.path_rows)
            name, bar, pct = QLabel(self), ScoreBar(self), QLabel(self)
            pct.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            pct.setMinimumWidth(46)
            self.path_grid.addWidget(name, k, 0)
            self.path_grid.addWidget(bar, k, 1)
            self.path_grid.addWidget(pct, k, 2)
            self.path_grid.setColumnStretch(1, 1)
            self.path_rows.append((name, bar, pct))

    def set_facts(self, facts: ImageFacts | None) -> None:
        """The details line of the image on screen (None: hidden, e.g. while it is being decoded)."""
        text = facts_text(facts)
        self.facts.set_full_text(text)
        self.facts.setVisible(bool(text))

    def show_data(self, data: PanelData | None) -> None:
        """Show one image; ``None`` shows the empty state."""
        self._data = data
        has_pred = data is not None and data.leaf is not None and not data.error
        if has_pred:
            startup_log.mark("first_prediction")
        self.title.set_full_text(data.file_name if data else QCoreApplication.translate("Panel", "No image selected"))
        state = data.state if data else "pending"
        self.badge.setText(f"  {state_label(state)}  ")
        style = (f"background: {STATE_COLOURS.get(state, '#9aa0a6')}; color: white; border-radius: 4px; "
                 "font-weight: bold;")
        if self.badge.styleSheet() != style:  # a new style sheet re-polishes the widget: only on a change
            self.badge.setStyleSheet(style)
        self.badge.setVisible(data is not None)
        self.error.setText(file_reason_text(data.error) if data and data.error else "")
        self.error.setVisible(bool(data and data.error))
        path = data.path if has_pred else ()
        self._ensure_path_rows(len(path))
        for k, (name, bar, pct) in enumerate(self.path_rows):
            visible = k < len(path)
            for w in (name, bar, pct):
                w.setVisible(visible)
            if visible:
                score = data.path_scores[k] if k < len(data.path_scores) else 0.0
                indent = "    " * k
                mark = " ✓" if k == data.determined else ""
                name.setText(f"{indent}{'└ ' if k else ''}{data.path_names[k]}{mark}")
                bar.set_value(score)
                pct.setText(f"{score * 100:.1f}%")
                if name.font().bold() != (k == len(path) - 1):
                    font = name.font()
                    font.setBold(k == len(path) - 1)
                    name.setFont(font)
        level = data.determined if has_pred else None
        blind = data is not None and data.blind
        if blind:  # a spot check: the model's call is withheld, so the analyst's type measures it
            self.determined.setText(QCoreApplication.translate(
                "Panel", "Spot check: judge this image blind. The model's answer is hidden; pick the type "
                         "({keys}).").format(keys=keymap.shown_keys(self.keys, "accept", "picker").replace(
                    "/", "\u2060/\u2060")))  # one piece: a wrapped line broke it after the slash
        else:
            self.determined.setText(QCoreApplication.translate(
                "Panel", "✓ {node} is determined · pick the type").format(
                node=data.path_names[level]) if level is not None else "")
        self.determined.setVisible(level is not None or blind)
        colour = "color: #8ab4f8;" if blind else "color: #1e8e3e;"
        if self.determined.styleSheet() != colour:
            self.determined.setStyleSheet(colour)
        header = QCoreApplication.translate("Panel", "Predicted path · image + FTIR spectrum") \
            if has_pred and data.spectra else QCoreApplication.translate("Panel", "Predicted path")
        if self.path_header.text() != header:
            self.path_header.setText(header)
        self.path_header.setVisible(has_pred)
        several = data.predicted_set if has_pred and len(data.predicted_set) > 1 else ()
        self.several.setText(QCoreApplication.translate(
            "Panel", "{n} defects: {names} · Enter accepts all · Shift+C adds one · X takes off the last").format(
            n=len(several), names=" + ".join(several)) if several else "")
        self.several.setVisible(bool(several))
        self.top_header.setVisible(has_pred)
        header = self._top_header(data.top_scope if has_pred else None, data.top_widened if has_pred else None,
                                  len(data.top5) if has_pred and data.top5 else 5)
        if self.top_header.text() != header:
            self.top_header.setText(header)
        top5 = data.top5 if has_pred else ()
        for k, (key, name, bar, pct, why) in enumerate(self.top_rows):
            visible = k < len(top5)
            for w in (key, name, bar, pct, why):
                w.setVisible(visible)
            key.setEnabled(self.judging and not self.unshown)  # (as its digit key: an image not shown takes none)
            if visible:
                entry = top5[k]
                name.setText(f"<b>{html.escape(entry.name)}</b>")
                name.setToolTip(entry.leaf)
                self.top_parents[k].set_full_text(entry.parents)
                bar.set_value(entry.score)
                pct.setText(f"{entry.score * 100:.1f}%")
            self.top_parents[k].setVisible(not self.compact and self._has_ancestry(k))
        judged = ""
        if data and data.judged_by:
            what = data.judged_name if data.judged_leaf else QCoreApplication.translate("Panel", "unknown / new defect type")
            judged = (QCoreApplication.translate(
                "Panel", "Judged <b>{what}</b> by {who} at {when}, in another batch (the same picture)")
                if data.judged_elsewhere else QCoreApplication.translate(
                "Panel", "Judged <b>{what}</b> by {who} at {when}")).format(
                what=what, who=data.judged_by, when=data.judged_at or "")
        if data and data.note:
            note = html.escape(data.note).replace("\n", "<br>")  # plain text, its lines kept
            judged += ("<br>" if judged else "") + QCoreApplication.translate("Panel", "Note: {note}").format(note=note)
        self.judgment.setTextFormat(Qt.TextFormat.RichText)
        self.judgment.setText(judged)
        self.judgment.setVisible(bool(judged))
        self.reasons.setText(QCoreApplication.translate("Panel", "Re-judge: {reasons}").format(
            reasons=listed((reason_text(r) for r in data.reasons), strong=True)) if data and data.reasons else "")
        self.reasons.setVisible(bool(data and data.reasons))
        self.waiting.setText(waiting_text(data.waiting) if data and data.waiting else "")
        self.waiting.setVisible(bool(data and data.waiting))
        # A blind check has no call to accept: the button (and Enter) picks the type instead.
        self._blind = blind
        self._name_buttons(blind=blind)
        self.accept_btn.setEnabled((has_pred or blind) and self.judging and not self.unshown)
        judgeable = data is not None and data.state != "error" and self.judging and not self.unshown
        self.unknown_btn.setEnabled(judgeable)
        self.pick_btn.setEnabled(judgeable and data.waiting != "no_types")  # no types to pick from
        # an unreadable image takes a note ("file cut off, captured again"), as N did while the button was grey
        self.note_btn.setEnabled(data is not None and self.judging)
        self.model_label.setText(QCoreApplication.translate("Panel", "Model: {v}").format(v=data.model_version) if data and data.model_version
                                 else "")
        self.contentsChanged.emit()


def facts_text(facts: ImageFacts | None) -> str:
    """The details line of an image: size, bit depth and colour, magnification and where it was read, file size,
    capture (or save) time."""
    if facts is None:
        return ""
    parts = [f"{facts.width} × {facts.height} px"]
    depth = f"{facts.bits}-bit " if facts.bits else ""
    colours = {"grayscale": QCoreApplication.translate("Panel", "grayscale"),
               "black and white": QCoreApplication.translate("Panel", "black and white"),
               "grayscale + alpha": QCoreApplication.translate("Panel", "grayscale + alpha"),
               "palette": QCoreApplication.translate("Panel", "palette"),
               "float": QCoreApplication.translate("Panel", "float")}
    parts.append(depth + colours.get(facts.colour, facts.colour))
    if facts.magnification is not None:
        where = {"name": QCoreApplication.translate("Panel", "from the file name"),
                 "tiff": QCoreApplication.translate("Panel", "from the TIFF description")}.get(
            facts.magnification_from or "", "")
        parts.append(f"{facts.magnification:g}×" + (f" ({where})" if where else ""))
    if facts.file_bytes is not None:
        size = facts.file_bytes
        parts.append(f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{round(size / 1e3)} KB" if size >= 1000 else
                     f"{size} B")  # (a 69-byte file read "1 KB")
    if facts.taken:
        parts.append((QCoreApplication.translate("Panel", "taken {when}") if facts.taken_from == "exif" else
                      QCoreApplication.translate("Panel", "saved {when}")).format(when=facts.taken))
    return " · ".join(parts)


def _line(parent: QWidget) -> QFrame:
    f = QFrame(parent)
    f.setFrameShape(QFrame.Shape.HLine)
    f.setStyleSheet("color: #3c4043;")
    return f
