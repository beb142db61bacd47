"""Reference images (E): judged examples of the image's Top-1 and Top-2 types, in the strip under the prediction
panel, and one of them beside the image in the viewer, at the same height, to compare.

E turns the strip to references and puts the nearest Top-1 example beside the image; each next E puts the next
reference beside it (Top-1 examples, then Top-2, as the strip lists them); after the last one, E goes back to the
similar cases. Moving to another image keeps the references on: its nearest Top-1 example comes beside it. A
spot check shows no references (they would tell the model's call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject

from app.store.records import BatchItem
from app.ui import keymap
from app.ui.image_cache import decode_qimage
from app.ui.workers import Task

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


class References(QObject):
    """Which reference is beside the image on screen, and the strip's mode."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.on = False
        self.index = -1  # the strip's tile beside the image (-1: none)
        self.cases: list = []
        self.blind_shown = False  # the strip was last filled for a blind spot check (it shows no cases then)
        self._beside: tuple[int, object, str] | None = None  # (image id, reference QImage, caption) drawn last
        window.similar_panel.casesShown.connect(self._cases_shown)

    def leaves(self, item: BatchItem | None) -> tuple[str, ...] | None:
        """The types to show references of for ``item`` (its Top-1 and Top-2), or None (off, a spot check, no
        prediction)."""
        p = item.prediction if item is not None else None
        if not self.on or p is None or p.error or self.window.presenter.blind(item):
            return None
        leaves = tuple(dict.fromkeys(leaf for leaf, *_ in p.top5[:2] if leaf)) or ((p.leaf,) if p.leaf else ())
        return leaves or None

    def refresh(self, item: BatchItem) -> None:
        """The strip again once ``item``, on screen, was judged or undone: a spot check undone is blind again (no
        references of its Top-1 and Top-2 beside it, no similar cases); one judged shows its similar cases now."""
        blind = self.window.presenter.blind(item)
        if blind and self.on:
            self.on = False
            self.window.viewer.set_reference(None)
        if blind or self.blind_shown:
            self.look_up(item)

    def look_up(self, item: BatchItem | None) -> None:
        """The strip for the image on screen (references or similar cases)."""
        w = self.window
        predicted = w.model is not None and item is not None and item.prediction is not None \
            and not item.prediction.error
        leaves = self.leaves(item)
        self.cases, self.index, self._beside = [], 0 if leaves else -1, None  # a spot check: nothing beside it
        message = None
        self.blind_shown = item is not None and w.presenter.blind(item)
        if self.blind_shown:  # similar cases are found by the model's features, their types would tell its call
            predicted = False
            message = QCoreApplication.translate("Similar", "A spot check is judged blind: similar cases show once "
                                                            "it is judged.")
        elif item is not None and w.presenter.state(item) == "error":  # unreadable, found opening or predicting
            message = QCoreApplication.translate("Similar", "The image could not be read: nothing to compare.")
        elif item is not None and w.model is None and w.service is not None and w.service.read_only is not None:
            message = QCoreApplication.translate("Similar", "The database is read-only: no model runs here, and "
                                                            "similar cases come with its predictions.")
        elif item is not None and w.model is None:
            message = QCoreApplication.translate("Similar", "No model is loaded: similar cases come with its "
                                                            "predictions.")
        elif item is not None and item.prediction is None:
            message = QCoreApplication.translate("Similar", "Similar cases follow once the model has read this image.")
        w.similar_panel.look_up(item.image.image_id if predicted else None, w.model.version if w.model else None,
                                leaves=leaves, message=message)

    def cycle(self) -> None:
        """E: references on (the nearest Top-1 example beside the image), the next one, or back to similar cases."""
        w = self.window
        item = w.presenter.current_item
        if item is None:
            return
        if not self.on:
            self.on = True
            if self.leaves(item) is None:
                self.on = False
                w.statusBar().showMessage(QCoreApplication.translate(
                    "Main", "No references for this image (a spot check, or no prediction yet)"), 6000)
                return
            self.look_up(item)
            return
        self.index += 1
        if self.index >= len(self.cases) or self.window.similar_panel.leaves is None:
            self.on, self._beside = False, None
            w.viewer.set_reference(None)
            self.look_up(item)
            return
        self._put_beside()

    def _cases_shown(self, cases: list) -> None:
        references = self.on and bool(self.window.similar_panel.leaves)  # not the similar cases of a spot check
        self.cases = cases if references else []
        if references:
            if not cases:
                self.window.viewer.set_reference(None)
            self._put_beside()

    def _put_beside(self) -> None:
        w = self.window
        self.window.similar_panel.mark(self.index)
        if not 0 <= self.index < len(self.cases):
            return
        case, image_id = self.cases[self.index], w.current_image_id
        leaves = w.similar_panel.leaves or ()
        rank = leaves.index(case.final_leaf) + 1 if case.final_leaf in leaves else 0
        caption = QCoreApplication.translate("Main", "Reference {i}/{n}: {name} (Top-{k}) · judged by {who} · {key}: next") \
            .format(i=self.index + 1, n=len(self.cases), name=w.presenter.name(case.final_leaf) or case.final_leaf,
                    k=rank, who=case.analyst, key=keymap.shown_keys(w.keymap, "references"))
        task = Task(decode_qimage, case.path)
        task.signals.result.connect(lambda res: self._decoded(image_id, case, caption, *res))
        w._runner.start(task)

    def _decoded(self, image_id: int | None, case, caption: str, image, reason: str | None) -> None:
        w = self.window
        if not self.on or image_id != w.current_image_id or case not in self.cases \
                or self.cases.index(case) != self.index:
            return  # another image, another reference, or references off meanwhile
        if image is None:
            w.statusBar().showMessage(QCoreApplication.translate("Main", "The reference cannot be shown: {why}")
                                      .format(why=reason or ""), 6000)
            return
        self._beside = (image_id, image, caption)
        w.viewer.set_reference(image, caption)

    def redraw(self) -> None:
        """The image on screen was drawn again (which takes the reference away): put it back."""
        if self.on and self._beside is not None and self._beside[0] == self.window.current_image_id:
            self.window.viewer.set_reference(self._beside[1], self._beside[2])
