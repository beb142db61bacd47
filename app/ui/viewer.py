"""Image viewer: zoom (wheel, +/-), pan (drag), fit (double-click or 0), heatmap overlay or side by side, and
brightness / contrast / gamma for the display (the judged image is never changed), with the zoom and the
adjustments written over the image's bottom left corner."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
)

from models.colormap import jet

SIDE_GAP = 16
MESSAGE_MARGIN = 32
"""Space between a message (why an image cannot be shown) and the viewer's edges, in pixels."""
MESSAGE_MAX_WIDTH = 560
"""Longest line of a message, in pixels: a long reason wraps into a readable block."""


def heatmap_rgba(heatmap: np.ndarray) -> np.ndarray:
    """A 0..1 map to an RGBA uint8 array: blue→green→yellow→red, transparent where cold."""
    h = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    alpha = np.clip(h * 1.4, 0.15, 1.0)[..., None]
    return (np.concatenate([jet(h), alpha], axis=-1) * 255 + 0.5).astype(np.uint8)


NEUTRAL = (0.0, 1.0, 1.0)
SCALE_BAR_PX = 120  # about this long on screen


def pixel_size_um(magnification: float | None, camera_pixel_um: float | None) -> float | None:
    """Micrometres per image pixel: the camera's pixel pitch over the objective's magnification (None when either
    is unknown)."""
    if not magnification or not camera_pixel_um or magnification <= 0 or camera_pixel_um <= 0:
        return None
    return camera_pixel_um / magnification


def nice_scale(um_per_px: float, zoom: float, target_px: float = SCALE_BAR_PX) -> tuple[float, float]:
    """A scale bar near ``target_px`` screen pixels long whose length is 1, 2 or 5 × 10^n µm: (µm, screen px)."""
    want = target_px / max(zoom, 1e-9) * um_per_px
    power = 10.0 ** np.floor(np.log10(want))
    um = max((m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power <= want), default=power)
    return float(um), float(um / um_per_px * zoom)


def length_text(um: float) -> str:
    """``500 µm``, ``2 mm``, ``0.5 µm``."""
    return f"{um / 1000:g} mm" if um >= 1000 else f"{um:g} µm"
"""Brightness (added, in units of full scale), contrast (a factor about mid-grey) and gamma: no change."""


def adjust_lut(brightness: float, contrast: float, gamma: float) -> np.ndarray:
    """The 256-entry uint8 lookup table of a display adjustment: gamma first, then contrast about mid-grey, then
    brightness; each channel goes through the same table."""
    x = np.arange(256, dtype=np.float64) / 255.0
    y = (x ** (1.0 / max(gamma, 1e-3)) - 0.5) * contrast + 0.5 + brightness
    return np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8)


def adjusted(image: QImage, lut: np.ndarray) -> QImage:
    """A copy of ``image`` with every colour channel through ``lut`` (alpha kept)."""
    gray = image.format() in (QImage.Format.Format_Grayscale8, QImage.Format.Format_Grayscale16)
    fmt = QImage.Format.Format_Grayscale8 if gray else QImage.Format.Format_RGBA8888
    src = image.convertToFormat(fmt)
    w, h, stride = src.width(), src.height(), src.bytesPerLine()
    channels = 1 if gray else 4
    arr = np.frombuffer(src.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)[:, : w * channels]
    out = lut[arr] if gray else np.concatenate(
        [lut[arr.reshape(h, w, 4)[..., :3]], arr.reshape(h, w, 4)[..., 3:]], axis=-1)
    return array_to_qimage(out)


def array_to_qimage(arr: np.ndarray) -> QImage:
    """uint8 (H, W, 3|4) or (H, W) numpy array to a QImage that owns its data."""
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    if arr.ndim == 2:
        fmt, stride = QImage.Format.Format_Grayscale8, w
    elif arr.shape[2] == 4:
        fmt, stride = QImage.Format.Format_RGBA8888, 4 * w
    else:
        fmt, stride = QImage.Format.Format_RGB888, 3 * w
    return QImage(arr.data, w, h, stride, fmt).copy()


ZOOM_RANGE = (0.02, 40.0)
"""The zoom the + and - keys step within (a fitted image may be outside it; they then do nothing that way)."""


class ImageViewer(QGraphicsView):
    """Shows one image with an optional heatmap; zoom and pan keep working while judging.

    Signals:
        zoomChanged(float): the current scale factor (1.0 = 100 %).
        resized(int): its new width.
    """

    zoomChanged = Signal(float)
    resized = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QColor("#202124"))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the judging shortcuts
        self._image = QGraphicsPixmapItem()
        self._heat = QGraphicsPixmapItem()
        self._right = QGraphicsPixmapItem()
        self._right_heat = QGraphicsPixmapItem()
        self._ref = QGraphicsPixmapItem()  # a reference image beside this one (the judged example of a type)
        # A message is a label over the viewport, not a scene item: it is not zoomed with the last image's
        # scale, not moved by panning, it wraps, and it stays centred with margins whatever the viewer's size.
        self._message = QLabel(self)
        self._message.setWordWrap(True)
        self._message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._message.setStyleSheet("color: #e8eaed; font-size: 15px; background: transparent;")
        self._message.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._message.hide()
        for item in (self._image, self._heat, self._right, self._right_heat, self._ref):
            item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
            self.scene().addItem(item)
        self._heat.setZValue(1)
        self._right_heat.setZValue(1)
        self._heatmap_visible = True
        self._side_by_side = False
        self._opacity = 0.5
        self._has_heatmap = False
        self._fit = True
        self._pending = QLabel(QCoreApplication.translate("Viewer", "heatmap…"), self.viewport())
        self._pending.setStyleSheet("background: rgba(32, 33, 36, 200); color: #9aa0a6; padding: 2px 8px;"
                                    " border-radius: 8px; font-size: 11px;")
        self._pending.adjustSize()
        self._pending.setToolTip(QCoreApplication.translate("Viewer", "The heatmap of this image is being computed"))
        self._pending.hide()
        # What the heatmap on screen shows ("Attention (CBAM)", "Why <type>? (LayerCAM)"): top left, over the image.
        self._caption = QLabel(self.viewport())
        self._caption.setStyleSheet("background: rgba(32, 33, 36, 210); color: #e8eaed; padding: 3px 10px;"
                                    " border-radius: 8px; font-size: 12px;")
        self._caption.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._caption.move(10, 10)
        self._caption.hide()
        self._source: QImage | None = None  # the image as decoded; the display goes through the adjustment
        # a large image's smaller copy, shown while the zoom needs no more pixels (a 6000 x 4000 image's full
        # pixmap took 130 ms of the UI thread per image: a held Down lost keys); None: the image itself is shown
        self._preview: QImage | None = None
        self._adjust = NEUTRAL
        # "140% · brightness +10% · contrast ×1.20 · gamma 0.80 · R resets" (info_text): bottom left.
        self._info = QLabel(self.viewport())
        self._info.setStyleSheet("background: rgba(32, 33, 36, 200); color: #bdc1c6; padding: 2px 8px;"
                                 " border-radius: 8px; font-size: 11px;")
        self._info.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._info.hide()
        self.zoomChanged.connect(lambda _z: self._show_info())
        self.zoomChanged.connect(lambda _z: self._enough_detail())
        # What the reference beside the image is ("Reference: Scratch (Top-1) · judged by amy"): bottom right.
        self._ref_caption = QLabel(self.viewport())
        self._ref_caption.setStyleSheet("background: rgba(32, 33, 36, 210); color: #fdd663; padding: 3px 10px;"
                                        " border-radius: 8px; font-size: 12px;")
        self._ref_caption.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._ref_caption.setWordWrap(True)  # a caption wider than the view wraps (its start was cut off)
        self._ref_caption.hide()
        self._um_per_px: float | None = None  # the scale bar's (None: no scale bar)
        # the scale bar is drawn in screen pixels over the scene: a pan must repaint it, not shift its old pixels
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)

    def set_heatmap_pending(self, pending: bool) -> None:
        """Show a small badge while the heatmap of the image on screen is still being computed."""
        self._pending.setVisible(pending and self._heatmap_visible)
        self._place_badge()

    @property
    def heatmap_pending(self) -> bool:
        return not self._pending.isHidden()

    def set_heatmap_caption(self, text: str) -> None:
        """Name what the heatmap shows; shown over the image while a heatmap is visible."""
        self._caption.setText(text)
        self._caption.adjustSize()
        self._layout()

    @property
    def heatmap_caption(self) -> str:
        """The caption on screen ("" when none is shown)."""
        return "" if self._caption.isHidden() else self._caption.text()

    def _place_badge(self) -> None:
        self._pending.adjustSize()
        self._pending.move(self.viewport().width() - self._pending.width() - 10, 10)
        cap, info, view = self._ref_caption, self._info, self.viewport()
        cap.setMaximumWidth(max(80, view.width() - 20))
        cap.adjustSize()
        x, y = view.width() - cap.width() - 10, view.height() - cap.height() - 10  # bottom right
        if info.isVisible() and x < info.geometry().right() + 10:  # over the zoom label ("80%"): above it instead
            y = info.geometry().top() - cap.height() - 6
        cap.move(x, y)

    # -- content ------------------------------------------------------------------------------
    def set_image(self, image: QImage | None, message: str = "", *, preview: QImage | None = None) -> None:
        """Show an image (or a message instead, e.g. why it cannot be shown). Clears the heatmap and the reference.
        ``preview``: a smaller copy of a large image, shown until a zoom needs the image's own pixels (the scene,
        the heatmap and the scale bar stay in the image's pixels)."""
        self._has_heatmap = False
        self._ref.setPixmap(QPixmap())
        self._ref_caption.hide()
        self._heat.setPixmap(QPixmap())
        self._right_heat.setPixmap(QPixmap())
        if image is None or image.isNull():
            self._source = self._preview = None
            self._info.hide()
            self._image.setPixmap(QPixmap())
            self._right.setPixmap(QPixmap())
            self._message.setText(message)
            self._message.setVisible(bool(message))
            self._place_message()
            self.scene().setSceneRect(QRectF(0, 0, 1, 1))  # nothing to scroll to
            return
        self._message.setVisible(False)
        self._source = image
        self._preview = preview if preview is not None and 0 < preview.width() < image.width() else None
        self._show_pixmap()
        self._right.setPos(image.width() + SIDE_GAP, 0)
        self._right_heat.setPos(image.width() + SIDE_GAP, 0)
        self._layout()
        if self._fit:
            self.fit()
        self._enough_detail()

    def _show_pixmap(self) -> None:
        """The image (or its preview, stretched to the image's size in the scene) through the adjustments."""
        shown = self._preview or self._source
        pix = self._display(shown)
        stretch = QTransform.fromScale(self._source.width() / shown.width(), self._source.height() / shown.height())
        for item in (self._image, self._right):
            item.setPixmap(pix)
            item.setTransform(stretch)

    def _enough_detail(self) -> None:
        """Past the preview's own pixels (a zoom in), the image's: made once, when it is first needed."""
        if self._preview is not None and self._source is not None and \
                self.transform().m11() * self._source.width() / self._preview.width() > 1.0:
            self._preview = None
            self._show_pixmap()

    @property
    def showing_preview(self) -> bool:
        """Whether a large image is shown through its smaller copy (the zoom needs no more)."""
        return self._preview is not None

    def set_heatmap(self, heatmap: np.ndarray | None) -> None:
        """Overlay a 0..1 map (any size; stretched over the image)."""
        pix_size = self._image_size()
        if heatmap is None or pix_size.isEmpty():
            self._has_heatmap = False
            self._heat.setPixmap(QPixmap())
            self._right_heat.setPixmap(QPixmap())
            self._layout()
            return
        self._pending.hide()
        # The map stays at its own (model input) resolution and is stretched over the image by the item's
        # transform when painted (smooth): no full-image-size scaling on the UI thread per image.
        pix = QPixmap.fromImage(array_to_qimage(heatmap_rgba(heatmap)))
        stretch = QTransform.fromScale(pix_size.width() / pix.width(), pix_size.height() / pix.height())
        for item in (self._heat, self._right_heat):
            item.setPixmap(pix)
            item.setTransform(stretch)
        self._has_heatmap = True
        self._layout()

    def set_reference(self, image: QImage | None, caption: str = "") -> None:
        """Put ``image`` beside the one shown, scaled to its height, with ``caption`` over it (None: take it away).
        While a reference is beside, the heatmap is drawn over the image (not side by side)."""
        left = self._image_size()
        if image is None or image.isNull() or left.isEmpty():
            self._ref.setPixmap(QPixmap())
            self._ref_caption.hide()
        else:
            pix = QPixmap.fromImage(image)
            scale = left.height() / max(1, pix.height())
            self._ref.setPixmap(pix)
            self._ref.setTransform(QTransform.fromScale(scale, scale))
            self._ref.setPos(left.width() + SIDE_GAP, 0)
            self._ref_caption.setText(caption)
            self._ref_caption.adjustSize()
            self._place_badge()
        self._layout()
        self.fit()

    def set_pixel_size(self, um_per_px: float | None) -> None:
        """Micrometres per pixel of the image shown (None: unknown, no scale bar)."""
        self._um_per_px = um_per_px
        self.viewport().update()

    def scale_bar(self) -> tuple[float, float] | None:
        """The scale bar drawn now: (µm, screen px), or None."""
        if self._um_per_px is None or self._source is None:
            return None
        return nice_scale(self._um_per_px, self.transform().m11())

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """The scale bar, bottom left above the zoom label, in screen pixels (it is redrawn on every zoom)."""
        bar = self.scale_bar()
        if bar is None:
            return
        um, px = bar
        painter.save()
        painter.resetTransform()
        h = self.viewport().height()
        y = h - (self._info.height() if self._info.isVisible() else 0) - 22
        x = 12
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(32, 33, 36, 200))
        painter.drawRoundedRect(QRectF(x - 6, y - 18, px + 12 + 70, 28), 6, 6)
        painter.setBrush(QColor("#e8eaed"))
        painter.drawRect(QRectF(x, y, px, 4))
        painter.setPen(QColor("#e8eaed"))
        painter.drawText(QRectF(x, y - 17, px + 70, 16), Qt.AlignmentFlag.AlignLeft, length_text(um))
        painter.restore()

    @property
    def has_reference(self) -> bool:
        return not self._ref.pixmap().isNull()

    @property
    def reference_caption(self) -> str:
        return self._ref_caption.text() if self.has_reference else ""

    @property
    def has_heatmap(self) -> bool:
        return self._has_heatmap

    @property
    def has_image(self) -> bool:
        return not self._image.pixmap().isNull()

    @property
    def message(self) -> str:
        """The message shown instead of an image ("" when an image is shown)."""
        return "" if self._message.isHidden() else self._message.text()

    def _place_message(self) -> None:
        area = self.viewport().geometry().adjusted(MESSAGE_MARGIN, MESSAGE_MARGIN, -MESSAGE_MARGIN, -MESSAGE_MARGIN)
        width = max(0, min(area.width(), MESSAGE_MAX_WIDTH))
        self._message.setGeometry(QRect(area.center().x() - width // 2, area.top(), width, max(0, area.height())))

    def _image_size(self) -> QSize:
        """The shown image's own size (its preview's pixmap is smaller)."""
        return QSize() if self._source is None or self._image.pixmap().isNull() else self._source.size()

    def _display(self, image: QImage) -> QPixmap:
        return QPixmap.fromImage(image if self._adjust == NEUTRAL else adjusted(image, adjust_lut(*self._adjust)))

    # -- display options -----------------------------------------------------------------------
    @property
    def adjustments(self) -> tuple[float, float, float]:
        """``(brightness, contrast, gamma)`` of the display (:data:`NEUTRAL`: none)."""
        return self._adjust

    def set_adjustments(self, brightness: float = 0.0, contrast: float = 1.0, gamma: float = 1.0) -> None:
        """Brighten, stretch or bend the displayed image (kept for the next images until reset)."""
        new = (round(float(np.clip(brightness, -0.8, 0.8)), 2), round(float(np.clip(contrast, 0.2, 5.0)), 2),
               round(float(np.clip(gamma, 0.2, 5.0)), 2))
        if new == self._adjust:
            return
        self._adjust = new
        if self._source is not None:
            self._show_pixmap()
        self._show_info()

    def nudge(self, what: str, step: int) -> None:
        """One key's worth of an adjustment: ``brightness`` ±5 %, ``contrast`` ×/÷ 1.1, ``gamma`` ×/÷ 1.1."""
        b, c, g = self._adjust
        if what == "brightness":
            b += 0.05 * step
        elif what == "contrast":
            c *= 1.1 ** step
        elif what == "gamma":
            g *= 1.1 ** step
        else:
            raise ValueError(f"unknown adjustment {what!r}")
        self.set_adjustments(b, c, g)

    def info_text(self) -> str:
        """What the corner label says: the zoom, and any adjustment in force."""
        parts = [f"{self.transform().m11() * 100:.0f}%"]
        b, c, g = self._adjust
        if b:
            parts.append(QCoreApplication.translate("Viewer", "brightness {v:+.0f}%").format(v=b * 100))
        if c != 1.0:
            parts.append(QCoreApplication.translate("Viewer", "contrast ×{v:.2f}").format(v=c))
        if g != 1.0:
            parts.append(QCoreApplication.translate("Viewer", "gamma {v:.2f}").format(v=g))
        if len(parts) > 1:
            parts.append(QCoreApplication.translate("Viewer", "R resets"))
        return " · ".join(parts)

    def _show_info(self) -> None:
        if self._source is None:
            return
        self._info.setText(self.info_text())
        self._info.adjustSize()
        self._info.move(10, self.viewport().height() - self._info.height() - 10)
        self._info.show()
        if not self._ref_caption.isHidden():  # its room beside the zoom label changed
            self._place_badge()

    def set_heatmap_visible(self, visible: bool) -> None:
        self._heatmap_visible = visible
        self._layout()

    def set_heatmap_opacity(self, opacity: float) -> None:
        self._opacity = float(np.clip(opacity, 0.0, 1.0))
        self._layout()

    def set_side_by_side(self, on: bool) -> None:
        self._side_by_side = on
        self._layout()
        self.fit()

    def _layout(self) -> None:
        show = self._heatmap_visible and self._has_heatmap
        self._caption.setVisible(show and bool(self._caption.text()))
        ref = self.has_reference
        self._ref.setVisible(ref)
        self._ref_caption.setVisible(ref)
        side = self._side_by_side and show and not ref
        # Overlay mode: heatmap on the image. Side by side: plain image left, overlay right.
        self._heat.setVisible(show and not side)
        self._heat.setOpacity(self._opacity)
        self._right.setVisible(side)
        self._right_heat.setVisible(side)
        self._right_heat.setOpacity(self._opacity)
        rect = self._image.sceneBoundingRect()
        if side:
            rect = QRectF(0, 0, rect.width() * 2 + SIDE_GAP, rect.height())
        elif ref:
            rect = rect.united(self._ref.sceneBoundingRect())
        if not rect.isEmpty():
            self.scene().setSceneRect(rect)

    # -- zoom and pan ---------------------------------------------------------------------------
    def fit(self) -> None:
        rect = self.scene().sceneRect()
        if rect.isEmpty() or self._image.pixmap().isNull():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._fit = True
        self.zoomChanged.emit(self.transform().m11())

    def zoom(self, factor: float) -> None:
        current = self.transform().m11()
        # the bounds never turn a step around: a tiny image fitted at 421x was zoomed *out* to 40x by "+" (and one
        # under 2 % in by "-"): past a bound, a step that way does nothing
        low, high = min(ZOOM_RANGE[0], current), max(ZOOM_RANGE[1], current)
        factor = float(np.clip(current * factor, low, high)) / max(current, 1e-6)
        self.scale(factor, factor)
        self._fit = False
        self.zoomChanged.emit(self.transform().m11())

    def zoom_actual(self) -> None:
        self.resetTransform()
        self._fit = False
        self.zoomChanged.emit(1.0)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom(1.25 ** steps)

    def mouseDoubleClickEvent(self, event) -> None:
        self.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_badge()
        self._show_info()
        self._place_message()
        if self._fit:
            self.fit()
        self.resized.emit(self.width())
