"""The main window's status bar: reading and predicting progress with ETA and Cancel, the counts, analyst and model."""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from app.ui.stale_keys import StaleKeys
from app.ui.style import dropped_keys_text, state_label


class MainStatusBar(QStatusBar):
    """Signals: ``cancelRequested`` (the Cancel button of a prediction run)."""

    cancelRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._started = 0.0
        self.read_so_far: tuple[int | None, int] = (None, 0)  # the last reading progress
        self.showing = ""  # what the progress label shows now: "reading", "predicting" or nothing (what Cancel stops)
        self._predicted = (0, 0)  # the last prediction report (done, total)
        self._done_text = ""  # the end of a run, as said
        self.progress = QProgressBar(self)
        self.progress.setFixedWidth(220)
        self.progress.setVisible(False)
        self.progress_label = QLabel(self)
        self.cancel_btn = QPushButton(QCoreApplication.translate("Main", "Cancel"), self)
        self.cancel_btn.setVisible(False)
        self.cancel_btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_btn.clicked.connect(self.cancelRequested)
        self.skipped_btn = QPushButton(self)  # "3 files skipped": opens the list with the reasons
        self.skipped_btn.setFlat(True)
        self.skipped_btn.setStyleSheet("color: #f9ab00; text-decoration: underline;")
        self.skipped_btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.skipped_btn.setVisible(False)
        self.store_label = QLabel(self)  # the database not answering: said until it answers again
        self.store_label.setObjectName("storeAway")
        self.store_label.setStyleSheet("color: #f28b82; font-weight: bold;")
        self.store_label.setVisible(False)
        self.counts_label = QLabel(self)
        self.model_label = QLabel(QCoreApplication.translate("Main", "No model"), self)
        self.analyst_label = QLabel(self)
        # the texts' widths are what the labels would like, not what they need: a long model name, the counts of a
        # 26,000-image batch and "Database not answering" together made the window wider than the screen
        for label in (self.progress_label, self.store_label, self.counts_label, self.model_label, self.analyst_label):
            label.setMinimumWidth(24)
        self.addWidget(self.progress)
        self.addWidget(self.cancel_btn)  # before the label, whose text changes length: it stays where it was clicked
        self.addWidget(self.progress_label)
        self.addPermanentWidget(self.store_label)
        self.addPermanentWidget(self.skipped_btn)
        self.addPermanentWidget(self.counts_label)
        self.addPermanentWidget(self.analyst_label)
        self.addPermanentWidget(self.model_label)
        self.messageChanged.connect(self._make_room)
        # keys pressed while the app could not answer (a database that hung) are not used: say so here
        self.stale_keys = StaleKeys(self)
        QCoreApplication.instance().installEventFilter(self.stale_keys)
        self.stale_keys.dropped.connect(lambda n, wait: self.showMessage(dropped_keys_text(n, wait), 20_000))

    def _make_room(self, text: str) -> None:
        """A message that does not fit beside the counts, the analyst and the model hides those two while it shows
        (at 880 px an undo refused read "Can"): they are the same all day, and the message is what just happened.
        Looked at again when the widgets beside it change (:meth:`_refit`)."""
        labels = (self.analyst_label, self.model_label)
        if not text:
            for label in labels:
                label.setVisible(True)
            return
        shown = [w for w in (self.store_label, self.skipped_btn, self.counts_label, *labels) if not w.isHidden()]
        taken = sum(w.sizeHint().width() for w in shown) + self.layout().spacing() * len(shown)
        if self.fontMetrics().horizontalAdvance(text) + taken + 40 > self.width():
            for label in labels:
                label.setVisible(False)

    def _show(self, *widgets) -> None:
        """Show the progress widgets; while a message is up, once it goes, as Qt does with the widgets it hid for
        it (shown now, they came up over its words: "th█████[Cancel]s (the same pictures)…": scale walk-through)."""
        for w in widgets:
            if self.currentMessage():
                w.hide()
                w.setAttribute(Qt.WidgetAttribute.WA_WState_ExplicitShowHide, False)
            else:
                w.setVisible(True)

    def _refit(self) -> None:
        """A widget beside the message changed its text: the message may not fit any more (a restart's counts came
        after its first message, and "… would go against theirs" read "… would g": team walk-through)."""
        if text := self.currentMessage():
            self._make_room(text)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._refit()

    def set_store_away(self, since: str | None, why: str = "") -> None:
        """The database has not answered since ``since`` (a time, as shown; None: it answers)."""
        self.store_label.setVisible(since is not None)
        if since is not None:
            self.store_label.setText(QCoreApplication.translate("Main", "Database not answering since {time}").format(
                time=since))
            self.store_label.setToolTip(QCoreApplication.translate(
                "Main", "Nothing can be judged or saved until it answers again; this is checked every 30 s while a batch is "
                        "open.\n\n{why}"
            ).format(why=why))
        self._refit()

    def set_analyst(self, name: str) -> None:
        self.analyst_label.setText(QCoreApplication.translate("Main", "Analyst: {name}").format(name=name))

    def set_skipped(self, n: int) -> None:
        """How many files the open batch left out (0 hides the button)."""
        self.skipped_btn.setText(QCoreApplication.translate("Main", "1 file not in the batch") if n == 1 else
                                 QCoreApplication.translate("Main", "{n} files not in the batch").format(n=f"{n:,}"))
        self.skipped_btn.setVisible(n > 0)
        self._refit()

    def set_model(self, version: str | None, *, loading: bool = False, path: str | None = None,
                  calibrated: str | None = None, engine: str = "", engine_note: str | None = None) -> None:
        """The model in use; its tooltip says where it was loaded from, when its routing was calibrated (a bundle
        calibrated again in place keeps its version: the time tells the new calibration is in use), what it runs
        on, and why that is not the bundle's own fastest path (``engine_note``, the models layer's English words)."""
        tip = []
        if loading:
            self.model_label.setText(QCoreApplication.translate("Main", "Loading model…"))
        elif version is None:
            self.model_label.setText(QCoreApplication.translate("Main", "No model"))
        else:
            self.model_label.setText(QCoreApplication.translate("Main", "Model: {v}").format(v=version))
            tip = [QCoreApplication.translate("Main", "Loaded from {path}").format(path=path)] if path else []
            when = (calibrated or "").removeprefix("sets ")  # a multi-label bundle's routing stamp: "sets <time>"
            if when and when != "undated":
                tip.append(QCoreApplication.translate("Main", "Routing calibrated {when}").format(
                    when=when.replace("T", " ")[:19]))
            if engine:
                tip.append(QCoreApplication.translate("Main", "Runs on {engine}").format(engine=engine))
            if engine_note:
                tip.append(QCoreApplication.translate("Main", "Not on its fastest path: {why}").format(why=engine_note))
        self.model_label.setToolTip("\n".join(tip))
        self._refit()

    def set_counts(self, counts: dict[str, int], left: int) -> None:
        """``{state: n}`` in display order, and how many images still need a person."""
        parts = [f"{state_label(key)} {n:,}" for key, n in counts.items()]  # (20,000, as the other counts)
        self.counts_label.setText(QCoreApplication.translate("Main", "{left} left").format(left=f"{left:,}")
                                  + "  ·  " + "  ".join(parts))
        self._refit()

    def reading(self, done: int | None = None, total: int = 0, *, cancellable: bool = False) -> None:
        """Files of a folder being read (busy bar until the count is known; ``total`` 0: the folder is still being
        listed, ``done`` entries so far); ``cancellable``: with Cancel (a large folder's rest, read while its first part
        is on screen)."""
        self._show(self.progress)
        self.read_so_far, self.showing = (done, total), "reading"
        if cancellable:
            self._show(self.cancel_btn)
        if done is None or total == 0:
            self.progress.setRange(0, 0)
            self.progress_label.setText(QCoreApplication.translate("Main", "Reading images…") if done is None else
                                        QCoreApplication.translate("Main", "Listing the folder… {n} entries so far")
                                        .format(n=f"{done:,}"))
            return
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress_label.setText(QCoreApplication.translate("Main", "Reading images {done}/{total}")
                                    .format(done=f"{done:,}", total=f"{total:,}"))

    def predicting_started(self, total: int) -> None:
        self._started = time.perf_counter()
        self._predicted = (0, total)
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self._show(self.progress, self.cancel_btn)

    def predicting(self, done: int, total: int) -> None:
        self.showing = "predicting"
        self._predicted = (done, total)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        elapsed = time.perf_counter() - self._started
        # before the first image is done nothing is known about the pace: a dash, not a promise of 0:00
        eta = _fmt_secs(elapsed / done * (total - done)) if done else "–"
        self.progress_label.setText(QCoreApplication.translate("Main", "Predicting {done}/{total} · ETA {eta}")
                                    .format(done=f"{done:,}", total=f"{total:,}", eta=eta))

    def reading_done(self, *, run_going: bool) -> None:
        """A large folder's reading ended while its first part is on screen: a prediction run still going shows its
        progress again at once (the bar went with the reading's, and "Predicting … · ETA" stayed away for the rest of
        that run: factory-scale walk-through), else the bar goes."""
        done, total = self._predicted
        if run_going and total:
            self._show(self.cancel_btn)
            self.predicting(done, total)
        else:
            self.finished()

    def reading_stopped(self, *, run_going: bool) -> None:
        """The reading was stopped; a prediction run still going keeps its bar and Cancel (its next report names
        it), else the bar goes."""
        if run_going:
            self.progress_label.setText("")
            self.showing = ""
        else:
            self.finished()

    def finished(self, *, cancelled: bool = False) -> None:
        """A reading or prediction run ended (the end of a whole prediction run said stays: :meth:`predictions_ended`)."""
        self.progress.setVisible(False)
        self.cancel_btn.setVisible(False)
        self.showing = ""
        if cancelled:
            self.progress_label.setText(QCoreApplication.translate("Main", "Predictions cancelled"))
        elif self.progress_label.text() != self._done_text:
            self.progress_label.setText("")

    def predictions_ended(self, *, cancelled: bool = False, unreached: int = 0) -> None:
        """A prediction run ended: a whole run is said for 15 s ("Batch predicted: 2,520 images in 1:15"; the bar
        just went)."""
        (done, total), self._predicted = self._predicted, (0, 0)
        self.finished(cancelled=cancelled)
        if cancelled or not total or done < total:
            return
        # (its run's count: "All 172 predicted" of a batch of 235 read as images missing; the focus predicted some)
        text = self._done_text = QCoreApplication.translate("Main", "Batch predicted: {n} images in {time}").format(
            n=f"{total:,}", time=_fmt_secs(time.perf_counter() - self._started)) if not unreached else \
            QCoreApplication.translate("Main", "Predicted, but {n} files not reached (a share away?): predicted once "
                                               "they are read").format(n=f"{unreached:,}")  # (it said all predicted)
        self.progress_label.setText(text)
        label = self.progress_label  # the context: a window closed within the 15 s drops the call
        QTimer.singleShot(15_000, label, lambda: label.text() == text and label.setText(""))


def _fmt_secs(secs: float) -> str:
    if secs < 10:  # ("8 images in 0:00")
        return f"{secs:.1f} s"
    secs = round(secs)
    return f"{secs // 60}:{secs % 60:02d}"
