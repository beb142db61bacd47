"""Similar judged cases: thumbnails of the nearest already-judged images, their final label and similarity.

A thin view: it shows :class:`app.services.similar.SimilarCase` lists, asked of
:class:`app.services.similar.SimilarCases` on the thread pool (:meth:`SimilarPanel.look_up`). Clicking a tile, or Enter on it, emits
``openImage(image_id)``. Thumbnails are decoded off the UI thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QListView, QListWidget, QListWidgetItem, QVBoxLayout, QWidget
from shiboken6 import isValid

from app.store.records import FILE_REPLACED
from app.ui.image_cache import ThumbnailLoader
from app.ui.prediction_panel import ElidedLabel
from app.ui.style import PROBLEM_COLOUR, file_reason_text, store_text
from app.ui.workers import Task, TaskRunner
from models.taxonomy import Taxonomy

if TYPE_CHECKING:  # the service imports the store (SQLAlchemy): not on the way to the window
    from app.services.similar import SimilarCase, SimilarCases

TILE = 96
TILE_CACHE = 256  # tiles kept (96 px: about 9 MB at most)
STALE_MS = 150  # the image before's cases are greyed when the new image's take longer than this
ID_ROLE = Qt.ItemDataRole.UserRole + 1


class SimilarPanel(QWidget):
    """Tiles of similar judged images.

    In reference mode (:meth:`look_up` with ``leaves``) the tiles are judged examples of the Top-1 and Top-2 types
    nearest the image, each labelled with its rank ("Top-1 · Scratch").

    Signals:
        openImage(int image_id): a tile was clicked or activated.
        casesShown(list): the cases of a look-up are shown (SimilarCase list, in tile order).
    """

    openImage = Signal(int)
    casesShown = Signal(list)

    def __init__(self, taxonomy: Taxonomy | None = None, lang: str = "en", parent=None, *,
                 service: SimilarCases | None = None, runner: TaskRunner | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.runner = runner
        self._wanted: int | None = None
        self._shown_for: int | None = None  # the image whose cases the tiles show
        self.taxonomy = taxonomy
        self.lang = lang
        self.cases: list[SimilarCase] = []
        self.leaves: tuple[str, ...] | None = None  # reference mode: the types shown (Top-1, Top-2)
        self.next_key = "E"  # the analyst's key for the next reference (the main window sets it)
        self.compact = False  # with nothing to show, the message folds into the title line: the window is short
        self.tight = False  # shorter still: the cases too fold into the title line (the nearest, and how many more)
        # one line cut at its end (the whole in its tooltip): a long "References: Top-1 … · Top-2 …" widened the
        # right column image by image, and the image beside it jumped (zh_TW walk-through)
        self.title = ElidedLabel(self)
        self.title.set_full_text(QCoreApplication.translate("Similar", "Similar judged cases"))
        self.title.setStyleSheet("color: #9aa0a6; font-size: 11px;")
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)  # under the title: the
        self.message.setStyleSheet("color: #9aa0a6;")  # pane's room to spare left it at the bottom, far from it
        self.tiles = QListWidget(self)
        self.tiles.setViewMode(QListView.ViewMode.IconMode)
        self.tiles.setIconSize(QSize(TILE, TILE))
        self.tiles.setGridSize(QSize(TILE + 18, TILE + 44))
        self.tiles.setResizeMode(QListView.ResizeMode.Adjust)
        self.tiles.setMovement(QListView.Movement.Static)
        self.tiles.setWordWrap(True)
        self.tiles.setUniformItemSizes(True)
        # one row, scrolled sideways: every tile whole with its label, however short the panel is made
        self.tiles.setFlow(QListView.Flow.LeftToRight)
        self.tiles.setWrapping(False)
        self.tiles.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.tiles.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tiles.setMinimumHeight(TILE + 44 + self.tiles.horizontalScrollBar().sizeHint().height() + 4)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("SimilarPanel, QLabel { background: #2b2d31; color: #e8eaed; }"
                           "QListWidget { background: #202124; color: #e8eaed; border: none; }"
                           "QListWidget::item:selected { background: #174ea6; color: white; }")
        self.tiles.itemClicked.connect(self._open)
        self.tiles.itemActivated.connect(self._open)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.message)
        layout.addWidget(self.tiles, 1)
        layout.addStretch()  # (the room to spare while the tiles are hidden: it spread between the title and the
        # message, and "nothing similar yet" sat far below its title, the title off its place too: walk-through)
        # tiles already made, by path: the same judged images come back as similar image after image, and
        # decoding them again on every key competed with the model for the cores; a null tile says why
        self._thumbs = ThumbnailLoader(TILE, cache_size=TILE_CACHE, parent=self)
        self._thumbs.ready.connect(self._thumb_ready)
        self.pool = self._thumbs.pool
        self.set_cases([])
        self.hide()  # until an image is on screen: with none, "nothing similar yet" would be about nothing

    def set_taxonomy(self, taxonomy: Taxonomy | None, lang: str | None = None) -> None:
        self.taxonomy = taxonomy
        self.lang = lang or self.lang
        self.set_cases(self.cases)

    def _name(self, leaf: str | None) -> str:
        if leaf is None:
            return QCoreApplication.translate("Similar", "unknown type")
        if self.taxonomy is not None and leaf in self.taxonomy:
            return self.taxonomy.name(leaf, self.lang)
        return leaf

    def set_cases(self, cases: list[SimilarCase], message: str | None = None) -> None:
        """Show these cases (most similar first); an empty list shows ``message`` or a default hint."""
        self.cases = list(cases)
        self.tiles.clear()
        self.tiles.setEnabled(True)
        # a file not reached last time is read again, a tile made earlier checked to be still there (it kept
        # showing a file deleted since)
        self._thumbs.forget_missed([c.path for c in self.cases if c.path and not c.replaced])
        for case in self.cases:
            # (a file written over holds another picture now: not read)
            tile = self._thumbs.get(case.path) if case.path and not case.replaced else None
            why = FILE_REPLACED if case.replaced else self._why(case.path, tile)
            text = f"{case.similarity * 100:.0f}%\n{self._name(case.final_leaf)}"  # the score first: a long name wraps
            if self.leaves and case.final_leaf in self.leaves:  # the rank first: the name may be cut
                text = QCoreApplication.translate("Similar", "Top-{k} · {sim}%\n{name}").format(
                    k=self.leaves.index(case.final_leaf) + 1, sim=f"{case.similarity * 100:.0f}",
                    name=self._name(case.final_leaf))
            item = QListWidgetItem(QIcon(reason_tile(why) if tile is None or tile.isNull() else tile), text)
            item.setData(ID_ROLE, case.image_id)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            item.setToolTip(self._tooltip(case, why))
            self.tiles.addItem(item)
        if not self.cases:
            self.message.setText(message or (QCoreApplication.translate(
                "Similar", "No judged image of these types yet.") if self.leaves else QCoreApplication.translate(
                "Similar", "No judged image of this model version is similar yet.")))
        self._fold()

    def _tooltip(self, case: SimilarCase, why: str | None) -> str:
        return QCoreApplication.translate("Similar", "{file}\nJudged {leaf} by {who} on {when}\n"
                                                     "Similarity {sim:.3f}").format(
            file=Path(case.path).name or f"#{case.image_id}", leaf=self._name(case.final_leaf), who=case.analyst,
            when=case.judged_at.astimezone().strftime("%Y-%m-%d %H:%M"), sim=case.similarity) + (
            "\n" + file_reason_text(why) if why else "")

    def _heading(self) -> str:
        if not self.leaves:
            return QCoreApplication.translate("Similar", "Similar judged cases")
        return QCoreApplication.translate("Similar", "References: {types} · {key}: next").format(key=self.next_key,
            types=" · ".join(QCoreApplication.translate("Similar", "Top-{k} {name}").format(k=k, name=self._name(leaf))
                             for k, leaf in enumerate(self.leaves, start=1)))

    def _fold(self) -> None:
        """No case to show: the message under the title, or (compact) "none yet" on the title line itself; cases
        shown: their tiles, or (tight) the nearest on the title line, the tiles' labels in its tooltip."""
        folded = self.compact and not self.cases
        summary, tip = "", ""
        if folded:
            summary, tip = " · " + QCoreApplication.translate("Similar", "none yet"), self.message.text()
        elif self.tight and self.cases:
            shown = [self.tiles.item(i).text().replace("\n", " ") for i in range(self.tiles.count())]
            summary = " · " + (shown[0] if len(shown) == 1 else QCoreApplication.translate(
                "Similar", "{first} (+{n} more)").format(first=shown[0], n=len(shown) - 1))
            tip = "\n".join(shown)
        self.title.set_full_text(self._heading() + summary)
        self.title.setToolTip(tip or (self.title.full_text if self.title.text() != self.title.full_text else ""))
        self.message.setVisible(not self.cases and not folded)
        self.tiles.setVisible(bool(self.cases) and not self.tight)

    def set_compact(self, on: bool) -> None:
        """Fold (or unfold) the "nothing similar yet" message into the title line (:mod:`app.ui.right_column`)."""
        if on != self.compact:
            self.compact = on
            self._fold()

    def set_tight(self, on: bool) -> None:
        """Fold (or unfold) the cases' tiles into the title line (:mod:`app.ui.right_column`)."""
        if on != self.tight:
            self.tight = on
            self._fold()

    def tight_spare(self) -> int:
        """What tight saves now: the tiles' height (0 when they show, or there are none)."""
        return self.tiles.minimumHeight() + self.layout().spacing() if self.tight and self.cases else 0

    def spare_height(self) -> int:
        """What compact saves now: the folded message's height (0 when nothing is folded)."""
        if not (self.compact and not self.cases):
            return 0
        width = max(self.width(), 1)
        height = self.message.heightForWidth(width) if self.message.hasHeightForWidth() else -1
        return (height if height > 0 else self.message.sizeHint().height()) + self.layout().spacing()

    def look_up(self, image_id: int | None, model_version: str | None, leaves: tuple[str, ...] | None = None,
                message: str | None = None) -> None:
        """Show the cases similar to an image (looked up off the UI thread); None clears the panel (showing
        ``message``, or the default hint). With ``leaves`` (the Top-1 and Top-2 types): reference mode, three
        judged examples of each, nearest first."""
        self._wanted = image_id
        # the cases shown are another image's until the new ones come: greyed if they take a while (a burst of Down
        # left "97% Scratch" of the image before beside a glass particle: walk-through; at once, it blinked)
        QTimer.singleShot(STALE_MS, self, lambda i=image_id: self._wanted == i and self._shown_for != i
                          and self.tiles.setEnabled(False))
        self.leaves = tuple(leaves) if leaves else None
        if self.isHidden():
            self.show()
        self._fold()  # the title of this mode (the cases shown stay until the new ones arrive)
        if image_id is None or model_version is None or self.service is None or self.runner is None:
            self._shown_for = image_id
            self.set_cases([], message)
            return

        def done(cases, image_id=image_id, leaves=self.leaves) -> None:
            if not isValid(self.tiles):  # the panel was closed while the cases were looked up
                return
            if self._wanted == image_id and self.leaves == leaves:  # still the image on screen, the same mode
                self._shown_for = image_id
                self.set_cases(cases)
                self.casesShown.emit(list(cases))

        def failed(exc, image_id=image_id) -> None:  # (the strip stayed greyed on the image before's cases)
            if isValid(self.tiles) and self._wanted == image_id:
                self._shown_for = image_id
                self.set_cases([], QCoreApplication.translate("Similar", "Similar cases could not be looked up: "
                                                                         "{why}").format(why=store_text(exc)))

        task = Task(self.service.references, image_id, model_version, self.leaves, 3) if self.leaves \
            else Task(self.service.similar_to_image, image_id, model_version, 6)
        task.signals.result.connect(done)
        task.signals.failed.connect(failed)
        self.runner.start(task)

    def mark(self, index: int) -> None:
        """Highlight the tile at ``index`` (the reference beside the image; -1: none)."""
        if 0 <= index < self.tiles.count():
            self.tiles.setCurrentRow(index)
        else:
            self.tiles.clearSelection()

    def _retile(self, path: str, icon: QIcon, why: str | None) -> None:
        """The tiles of ``path`` with this picture and why (in place: the strip's marked reference stays marked)."""
        for row, case in enumerate(self.cases):
            if case.path == path and row < self.tiles.count() and not case.replaced:
                item = self.tiles.item(row)
                item.setIcon(icon)
                item.setToolTip(self._tooltip(case, why))

    @property
    def busy(self) -> bool:
        """Tiles are still being made, or made ones checked to be still there."""
        return self._thumbs.pending > 0 or self.pool.activeThreadCount() > 0

    def _why(self, path: str, tile: QPixmap | None) -> str | None:
        """Why the tile of ``path`` has no picture: not found, not an image... (None: it has one, or it loads)."""
        return self._thumbs.reason(path) if tile is not None and tile.isNull() else None

    def _thumb_ready(self, path: str) -> None:
        """A tile is made, or its file was found gone or not an image: the tile shows it or says why (in place)."""
        if (tile := self._thumbs.cached(path)) is not None:
            why = self._why(path, tile)
            self._retile(path, QIcon(reason_tile(why) if why else tile), why)

    def _open(self, item: QListWidgetItem) -> None:
        image_id = item.data(ID_ROLE)
        if image_id is not None:
            self.openImage.emit(int(image_id))


def reason_tile(reason: str | None) -> QPixmap:
    """A tile without its picture: grey, with why in red (None: grey, the picture is on its way)."""
    tile = QPixmap(TILE, TILE)
    tile.fill(QColor("#3c4043"))
    if reason:
        painter = QPainter(tile)
        painter.setPen(QColor(PROBLEM_COLOUR))
        font = painter.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        painter.setFont(font)
        painter.drawText(tile.rect().adjusted(4, 4, -4, -4), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                         file_reason_text(reason))
        painter.end()
    return tile
