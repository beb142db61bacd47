"""The spectrum panel (issue #20): the FTIR spectrum measured on the image's defect, beside the prediction.

A thin view over :class:`app.services.spectra.SpectrumLookup`, asked of :class:`app.services.spectra.SpectrumSearch`
on the thread pool for the image on screen (:meth:`SpectrumPanel.look_up`). The wavenumber axis runs from high to low
(4000 → 400 cm⁻¹), as chemists read spectra; the strongest bands are labelled with their wavenumbers; the closest
reference (by hit quality, HQI) is drawn over the spectrum, scaled onto it, and named with its type: "Spectrum
suggests: Organic particle (HQI 0.93)" once the best hit reaches the service's threshold. I puts the next reference
over it (and then none), Shift+I the image's next spectrum. The panel is hidden for an image without a spectrum, so
a factory that has none sees the window as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, QRectF, QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.ui.workers import Task, TaskRunner
from models.taxonomy import Taxonomy

if TYPE_CHECKING:  # the service imports the store (SQLAlchemy): not on the way to the window
    from app.services.spectra import SpectrumHit, SpectrumLookup, SpectrumSearch

SPECTRUM_COLOR = QColor("#e8eaed")
REFERENCE_COLOR = QColor("#f9ab00")
GRID_COLOR = QColor("#3c4043")
TEXT_COLOR = QColor("#9aa0a6")
X_TICKS = (4000, 3500, 3000, 2500, 2000, 1500, 1000, 500)
START_AFTER_MS = 25


class SpectrumPlot(QWidget):
    """One spectrum (absorbance over wavenumber, high wavenumbers on the left), its labelled peaks, and at most one
    reference drawn over it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(90)  # peaks and their labels still readable; the right column gives the Top-5 first
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.curve: tuple[np.ndarray, np.ndarray] | None = None
        self.reference: tuple[np.ndarray, np.ndarray] | None = None
        self.peaks: list[tuple[float, float]] = []

    def sizeHint(self) -> QSize:  # the height it gets when there is room (the minimum when there is not)
        return QSize(super().sizeHint().width(), 130)

    def set_data(self, curve: tuple[np.ndarray, np.ndarray] | None, peaks: list[tuple[float, float]],
                 reference: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.curve, self.peaks, self.reference = curve, list(peaks), reference
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.fillRect(self.rect(), QColor("#202124"))
        if self.curve is None:
            p.end()
            return
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
        p.setFont(font)
        fm = p.fontMetrics()
        area = QRectF(8, fm.height() + 6, self.width() - 16, self.height() - 3 * fm.height() - 12)
        x, y = self.curve
        lo_x, hi_x = float(x.min()), float(x.max())  # the spectrum's own range; a reference is cut to it
        reference = self.reference
        if reference is not None:
            inside = (reference[0] >= lo_x) & (reference[0] <= hi_x)
            reference = (reference[0][inside], reference[1][inside]) if inside.sum() > 1 else None
        ys = [y] + ([reference[1]] if reference is not None else [])
        lo_y, hi_y = float(min(v.min() for v in ys)), float(max(v.max() for v in ys))
        pad = (hi_y - lo_y) * 0.08 or 1.0
        lo_y, hi_y = lo_y - pad, hi_y + pad

        def at(wn: float, a: float) -> QPointF:  # high wavenumbers on the left
            return QPointF(area.left() + (hi_x - wn) / (hi_x - lo_x) * area.width(),
                           area.bottom() - (a - lo_y) / (hi_y - lo_y) * area.height())

        def line(xs: np.ndarray, ys: np.ndarray) -> QPolygonF:
            """The curve in widget pixels, at most a low and a high point per pixel column (a band's tip stays)."""
            px = area.left() + (hi_x - xs) / (hi_x - lo_x) * area.width()
            py = area.bottom() - (ys - lo_y) / (hi_y - lo_y) * area.height()
            return QPolygonF([QPointF(a, b) for a, b in _decimated(px, py)])

        p.setPen(QPen(GRID_COLOR, 1))
        p.drawRect(area)
        p.setPen(TEXT_COLOR)
        for tick in X_TICKS:
            if lo_x <= tick <= hi_x:
                point = at(tick, lo_y)
                p.setPen(QPen(GRID_COLOR, 1))
                p.drawLine(QPointF(point.x(), area.top()), QPointF(point.x(), area.bottom()))
                p.setPen(TEXT_COLOR)
                label = str(tick)
                left = min(max(0.0, point.x() - fm.horizontalAdvance(label) / 2),
                           self.width() - fm.horizontalAdvance(label))  # the end ticks stay whole
                p.drawText(QPointF(left, area.bottom() + fm.ascent() + 3), label)
        unit = QCoreApplication.translate("Spectrum", "wavenumber (cm⁻¹) · absorbance")
        p.drawText(QPointF(area.right() - fm.horizontalAdvance(unit), area.bottom() + fm.height() + fm.ascent() + 3),
                   unit)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)  # an antialiased curve cost 5 ms a paint
        p.setClipRect(area)
        if reference is not None:
            p.setPen(QPen(REFERENCE_COLOR, 1))
            p.drawPolyline(line(*reference))
        p.setPen(QPen(SPECTRUM_COLOR, 1))
        p.drawPolyline(line(x, y))
        p.setClipping(False)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(TEXT_COLOR)
        taken: list[QRectF] = []
        for wn, a in sorted(self.peaks, key=lambda peak: -peak[1]):  # the strongest band's label first
            point = at(wn, a)
            label = f"{wn:.0f}"
            box = QRectF(point.x() - fm.horizontalAdvance(label) / 2, max(0.0, point.y() - 8 - fm.ascent()),
                         fm.horizontalAdvance(label), fm.height())
            p.drawLine(point + QPointF(0, -2), point + QPointF(0, -6))
            if any(box.adjusted(-2, 0, 2, 0).intersects(other) for other in taken):
                continue  # a close neighbour's label is there: the tick alone marks this band
            taken.append(box)
            p.drawText(QPointF(box.left(), box.top() + fm.ascent()), label)
        p.end()


def _decimated(px: np.ndarray, py: np.ndarray) -> list[tuple[float, float]]:
    """Points in drawing order, reduced to the lowest and highest of each pixel column where several share one."""
    order = np.argsort(px, kind="stable")
    px, py = px[order], py[order]
    column = np.floor(px).astype(np.int64)
    if len(np.unique(column)) == len(column):
        return list(zip(px.tolist(), py.tolist(), strict=True))
    starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
    lows = np.minimum.reduceat(py, starts)
    highs = np.maximum.reduceat(py, starts)
    xs = px[starts]
    out: list[tuple[float, float]] = []
    for x0, a, b in zip(xs.tolist(), lows.tolist(), highs.tolist(), strict=True):
        out.append((x0, a))
        if b != a:
            out.append((x0, b))
    return out


class SpectrumPanel(QWidget):
    """The image's spectrum, its suggestion and its closest references; hidden when the image has none.

    Signals:
        said(str): why a key (I, Shift+I) changed nothing, for the status bar (the panel may be hidden or compact).
    """

    said = Signal(str)

    def __init__(self, taxonomy: Taxonomy | None = None, lang: str = "en", parent=None, *,
                 service: SpectrumSearch | None = None) -> None:
        super().__init__(parent)
        # its own thread: a look-up (~15 ms) never waits behind the window's image decodes and similar-case searches
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.service, self.runner = service, TaskRunner(self.pool)
        self.taxonomy, self.lang = taxonomy, lang
        self.lookup: SpectrumLookup | None = None
        self.spectrum = 0  # which of the image's spectra is shown
        self.reference = 0  # which hit is drawn over it (-1: none)
        self._wanted: int | None = None
        self.compact = False  # the setup hint under a spectrum with no reference is hidden: the window is short
        self.tight = False  # the chart folded into the title line: the window is shorter still
        self.title = QLabel(self)
        self.title.setStyleSheet("color: #9aa0a6; font-size: 11px;")
        # a long title is cut at the column's width, never widens it (the folded chart's peaks took the image's room)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.suggestion = QLabel(self)
        self.suggestion.setStyleSheet("color: #f9ab00; font-weight: bold;")
        self.plot = SpectrumPlot(self)
        self.hits = QLabel(self)  # one short line per reference (no wrapping: the panel's height stays known)
        self.hits.setTextFormat(Qt.TextFormat.PlainText)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("SpectrumPanel, QLabel { background: #2b2d31; color: #e8eaed; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(2)
        for widget in (self.title, self.suggestion):
            layout.addWidget(widget)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.hits)
        self.setVisible(False)

    def set_taxonomy(self, taxonomy: Taxonomy | None, lang: str | None = None) -> None:
        self.taxonomy, self.lang = taxonomy, lang or self.lang
        self._render()

    def _name(self, leaf: str) -> str:
        if self.taxonomy is not None and leaf in self.taxonomy:
            return self.taxonomy.name(leaf, self.lang)
        return leaf

    def look_up(self, image_id: int | None) -> None:
        """Show the spectra of the image on screen (looked up off the UI thread); None hides the panel."""
        self._wanted = image_id
        if image_id is None or self.service is None:
            self.show_lookup(None)
            return

        def job(service=self.service, image_id=image_id):  # on the panel's thread
            # a look-up queued behind others (an arrow key held down) is dropped once its image has gone by
            return service.look_up(image_id) if self._wanted == image_id else None

        task = Task(job)
        # bound methods: Qt drops the connection when the panel is deleted (a result may arrive after the window)
        task.signals.result.connect(self._looked_up)
        task.signals.error.connect(self._lookup_failed)
        # after the image's paint: the look-up's Python work (the store, the search) would take the interpreter lock
        # from the UI thread while it paints the new image (bench spectra: image p50 +15 ms when started at once)
        QTimer.singleShot(START_AFTER_MS, self, lambda: self._wanted == image_id and self.runner.start(task))

    def stop(self) -> None:
        """The window closes: no look-up starts any more, and none still running is shown."""
        self._wanted = None

    def _looked_up(self, lookup: SpectrumLookup | None) -> None:
        if lookup is not None and lookup.image_id == self._wanted:  # still the image on screen
            self.show_lookup(lookup)

    def _lookup_failed(self, _message: str) -> None:
        if self.lookup is not None and self.lookup.image_id != self._wanted:  # never another image's spectrum
            self.show_lookup(None)

    def show_lookup(self, lookup: SpectrumLookup | None) -> None:
        """Show a lookup (None, or one without spectra: hidden)."""
        same_image = lookup is not None and self.lookup is not None and lookup.image_id == self.lookup.image_id
        self.lookup = lookup
        if not same_image:
            self.spectrum, self.reference = 0, 0
        self._render()

    def next_reference(self) -> None:
        """I: the next reference over the spectrum (after the last one: none, then the first again)."""
        if not self._shown():
            self._no_spectrum()
            return
        hits = self.lookup.hits[self.spectrum]
        if not hits and self.lookup.references:
            self.said.emit(self._hit_lines(hits, None))
            return
        if not hits:
            self.said.emit(QCoreApplication.translate(
                "Spectrum", "No reference spectrum to lay over it yet: import a library (fma-judge spectra import "
                            "FOLDER) or judge images that have spectra."))
            return
        self.reference = self.reference + 1 if self.reference + 1 < len(hits) else (-1 if self.reference >= 0 else 0)
        self._render()

    def next_spectrum(self) -> None:
        """Shift+I: the image's next spectrum (its closest reference over it)."""
        if not self._shown():
            self._no_spectrum()
            return
        if len(self.lookup.spectra) == 1:
            self.said.emit(QCoreApplication.translate("Spectrum", "This image has one FTIR spectrum."))
            return
        self.spectrum = (self.spectrum + 1) % len(self.lookup.spectra)
        self.reference = 0
        self._render()

    def _no_spectrum(self) -> None:
        self.said.emit(QCoreApplication.translate(
            "Spectrum", "This image has no FTIR spectrum (a .jdx, .dx or .csv file named after the image, beside it)."))

    def _shown(self) -> bool:
        return self.lookup is not None and bool(self.lookup.spectra)

    def _render(self) -> None:
        if not self._shown():
            self.plot.set_data(None, [])
            self.setVisible(False)
            return
        lookup = self.lookup
        spectrum, hits = lookup.spectra[self.spectrum], lookup.hits[self.spectrum]
        many = len(lookup.spectra)
        self.title.setText((self._folded_text() + " · " if self.tight else "")
                           + QCoreApplication.translate("Spectrum", "FTIR spectrum · {name}").format(name=spectrum.name)
                           + (f" ({self.spectrum + 1}/{many}) · " + QCoreApplication.translate(
                               "Spectrum", "Shift+I: next spectrum") if many > 1 else ""))
        self.title.setToolTip(QCoreApplication.translate(
            "Spectrum", "The window is short: the chart is folded so that the Top-5 stays in sight. A taller window, "
                        "or dragging the handle above, shows it.") if self.tight else self.title.text())
        best = lookup.suggestion_for(self.spectrum)
        self.suggestion.setText(QCoreApplication.translate("Spectrum", "Spectrum suggests: {type} (HQI {hqi})").format(
            type=self._name(best.leaf), hqi=f"{best.hqi:.2f}") if best is not None else "")
        self.suggestion.setVisible(best is not None)
        shown: SpectrumHit | None = hits[self.reference] if 0 <= self.reference < len(hits) else None
        self.plot.set_data((spectrum.wavenumbers, spectrum.absorbance), lookup.peaks[self.spectrum],
                           (shown.wavenumbers, shown.absorbance) if shown is not None else None)
        self.hits.setText(self._hit_lines(hits, shown))
        self.hits.setToolTip("\n".join(f"{k}. {self._name(h.leaf)}: {h.source}" for k, h in enumerate(hits, 1)))
        self.hits.setVisible(not self._hint_hidden())
        self.setVisible(True)

    def _hint_hidden(self) -> bool:
        """Compact, and the line under the chart is the setup hint (no reference yet), not this image's matches."""
        return self.compact and self._shown() and not self.lookup.hits[self.spectrum] and not self.lookup.references

    def set_compact(self, on: bool) -> None:
        """Hide (or show again) the "no reference spectrum yet" hint: it says nothing about the image on screen, and
        a short window needs its two lines for the Top-5 (:mod:`app.ui.right_column`)."""
        if on != self.compact:
            self.compact = on
            self.hits.setVisible(not self._hint_hidden())

    def set_tight(self, on: bool) -> None:
        """Fold (or unfold) the chart into the title line, which then names the strongest peaks
        (:mod:`app.ui.right_column`): at 1366 x 768 and 125 % the chart left the Top-5 one row in sight, and keys 2-5
        chose types the analyst could not see (zh_TW walk-through)."""
        if on != self.tight:
            self.tight = on
            self.plot.setVisible(not on)
            self._render()

    def tight_spare(self) -> int:
        """What tight saves now: the chart's height (0 when it shows, or there is no spectrum)."""
        return self.plot.minimumHeight() + self.layout().spacing() if self.tight and self._shown() else 0

    def _folded_text(self) -> str:
        peaks = sorted(self.lookup.peaks[self.spectrum], key=lambda p: -p[1])[:3] if self.lookup else []
        return QCoreApplication.translate("Spectrum", "Chart folded · peaks {peaks} cm⁻¹").format(
            peaks=", ".join(f"{wn:.0f}" for wn, _a in peaks) or "–")

    def spare_height(self) -> int:
        """What compact saves now: the hidden hint's height (0 when nothing is hidden)."""
        return self.hits.sizeHint().height() + self.layout().spacing() if self._hint_hidden() else 0

    def _hit_lines(self, hits: list[SpectrumHit], shown: SpectrumHit | None) -> str:
        from app.services.spectra import SHOWN_HQI

        if not hits and self.lookup is not None and self.lookup.references:
            return QCoreApplication.translate("Spectrum", "No reference spectrum is like this one (of {n}: every HQI "
                                                          "under {floor}).").format(n=self.lookup.references,
                                                                                   floor=f"{SHOWN_HQI:.2f}")
        if not hits:
            return QCoreApplication.translate("Spectrum", "No reference spectrum yet: import a library\n"
                                                          "(fma-judge spectra import FOLDER) or judge images.")
        lines = []
        for k, hit in enumerate(hits, start=1):
            where = QCoreApplication.translate("Spectrum", "library") if hit.from_library \
                else QCoreApplication.translate("Spectrum", "judged image")
            mark = "▶ " if hit is shown else "   "
            lines.append(f"{mark}{k}. {self._name(hit.leaf)} · HQI {hit.hqi:.2f} · {where}")
        lines.append(QCoreApplication.translate("Spectrum", "I: next reference over the spectrum"))
        return "\n".join(lines)
