""""Why this type?": the evidence for one Top-k leaf (LayerCAM), on request, in place of the attention heatmap.

The default heatmap (CBAM attention, or LayerCAM of the predicted leaf for a network without CBAM) comes with
every prediction; it does not say why the model prefers leaf 1 over leaf 2. W (or the ``?`` button of a Top-5
row) asks the model thread for a LayerCAM of that leaf's score; W again steps to the next Top-k leaf and, after
the last, back to the attention heatmap. Moving to another image goes back to the attention heatmap.
A thin view: the computing is :meth:`app.services.predicting.PredictingService.explain` on the model thread.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject

from app.ui import keymap

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

KEPT = 16
"""Explanations kept (image id, leaf): going back to one already computed is instant."""


def attention_caption(kind: str | None, key: str = "W") -> str:
    """The viewer's caption for the default heatmap of ``kind`` ("cbam" or "gradcam"); ``key``: the analyst's key
    for "why this type?" (:func:`app.ui.keymap.shown_keys`)."""
    if kind == "cbam":
        return QCoreApplication.translate("Why", "Attention (CBAM) · {key}: why this type?").format(key=key)
    if kind == "gradcam":
        return QCoreApplication.translate("Why", "Where the model looked (LayerCAM) · {key}: why this type?").format(
            key=key)
    return ""


class WhyThisType(QObject):
    """Which heatmap the viewer shows for the image on screen: the attention map (k = 0) or the LayerCAM of
    Top-k leaf k (1..5)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.k = 0
        self.image_id: int | None = None
        self.leaf: str | None = None
        self.name = ""
        self.maps: OrderedDict[tuple[int, str], object] = OrderedDict()
        window.worker.explained.connect(self._explained)
        window.worker.explainFailed.connect(self._failed)
        window.panel.whyRequested.connect(self.show)

    @property
    def active(self) -> bool:
        """True while an explanation (not the attention heatmap) is chosen for the image on screen."""
        return self.k > 0 and self.image_id == self.window.current_image_id

    def cycle(self) -> None:
        """W: the next Top-k leaf's explanation; after the last one, the attention heatmap again."""
        top5 = self._top5()
        k = self.k + 1 if self.active else 1
        if k > len(top5):
            self.reset()
            self.window.show_attention()
            return
        self.show(k)

    def show(self, k: int) -> None:
        """Explain Top-k leaf ``k`` (1-based) of the image on screen."""
        top5 = self._top5()
        if not 1 <= k <= len(top5):
            return
        item = self.window.presenter.current_item
        entry = top5[k - 1]
        self.k, self.image_id, self.leaf, self.name = k, item.image.image_id, entry.leaf, entry.name
        viewer = self.window.viewer
        self.window.toolbar.act_heat.setChecked(True)  # asking why means wanting to see it
        cached = self.maps.get((self.image_id, self.leaf))
        if cached is not None:
            self._draw(cached)
            return
        viewer.set_heatmap_caption(QCoreApplication.translate("Why", "Why {name}? (Top-{k}) computing…").format(
            name=self.name, k=k))
        viewer.set_heatmap_pending(True)
        self.window.worker.explain(self.image_id, item.image.path, self.leaf)

    def reset(self) -> None:
        """Back to the attention heatmap (another image, another model)."""
        self.k, self.leaf = 0, None

    def forget(self) -> None:
        """Another model is loading: its explanations differ, and the one asked of the old model will not come (the
        worker's run was cancelled; its "computing…" stayed over the image for good)."""
        self.maps.clear()
        self.reset()

    def redraw(self) -> bool:
        """Draw the chosen explanation again (the image was re-displayed); False when there is none to draw."""
        if not self.active:
            return False
        cached = self.maps.get((self.image_id, self.leaf))
        if cached is not None:
            self._draw(cached)
        return True

    def _top5(self):
        row = self.window.current
        item = self.window.presenter.current_item
        if item is None or item.prediction is None or item.prediction.error:
            return ()
        return self.window.presenter.panel(row).top5

    def _draw(self, heatmap: object) -> None:
        viewer = self.window.viewer
        viewer.set_heatmap(heatmap)
        viewer.set_heatmap_pending(False)
        viewer.set_heatmap_caption(QCoreApplication.translate("Why", "Why {name}? (Top-{k}, LayerCAM) · {key}: next").format(
            name=self.name, k=self.k, key=keymap.shown_keys(self.window.keymap, "why")))

    def _explained(self, image_id: int, leaf: str, heatmap: object) -> None:
        self.maps[(image_id, leaf)] = heatmap
        while len(self.maps) > KEPT:
            self.maps.popitem(last=False)
        if self.active and image_id == self.image_id and leaf == self.leaf:
            self._draw(heatmap)

    def _failed(self, image_id: int, leaf: str, reason: str) -> None:
        if self.active and image_id == self.image_id and leaf == self.leaf:
            self.window.viewer.set_heatmap_pending(False)
            self.window.viewer.set_heatmap_caption(
                QCoreApplication.translate("Why", "Why {name}? failed: {reason}").format(name=self.name, reason=reason))
