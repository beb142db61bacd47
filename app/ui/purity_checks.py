"""The purity monitor seen from the judging window: its check after a blind decision or a predicted batch (off the
UI thread), the banner while auto-judging is paused, and the status line that says what changed.

A mixin of :class:`app.ui.main_window.MainWindow` (out of :mod:`app.ui.judging_actions`, which outgrew its file).
Expects the window's ``service``, ``presenter``, ``statusBar``, ``keymap``, ``_runner``, ``_banner_layout`` and
``_reload_items``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel
from shiboken6 import isValid

from app.store.errors import StoreError
from app.ui import keymap
from app.ui.style import listed, store_text
from app.ui.workers import Task

if TYPE_CHECKING:
    from app.services.monitor import MonitorReport


class PurityChecks:
    _purity_running = False  # a check is on its way
    _purity_again: str | None = None  # another was asked meanwhile ("batch": with the open batch's drift)

    def check_purity(self, *, batch: bool = False) -> None:
        """The purity monitor (:mod:`app.services.monitor`), after a blind check was decided or undone, or
        (``batch``) after the open batch was predicted, off the UI thread (it read every spot check since the
        calibration in a write transaction on each blind decision: 0.16 s growing to 0.22 s as checks piled up;
        factory-scale walk-through). One at a time: another asked meanwhile runs after it. A pause or resume
        re-routes stored predictions: the batch is read again and the status bar says what changed and what to do."""
        version, calibration = self.presenter.model_version, self.presenter.routing
        if self.service is None or self.service.read_only is not None or not version or calibration is None:
            return
        if self._purity_running:
            self._purity_again = "batch" if batch or self._purity_again == "batch" else "leaf"
            return
        from app.services.monitor import PurityMonitor  # the store's: imported once the window is on screen

        opened = self.presenter.batch
        monitor, fused = PurityMonitor(self.service.engine), self.presenter.fused_routing
        batch_ids = [opened.batch_id] if batch and opened is not None else []

        def check() -> MonitorReport | str:
            try:
                return monitor.check(version, calibration, batch_ids=batch_ids, fused=fused)
            except (StoreError, ValueError) as exc:  # e.g. a malformed calibration date: said, judging goes on
                return store_text(exc)

        self._purity_running = True
        task = Task(check)
        task.signals.result.connect(lambda report: isValid(self) and self._purity_checked(report, version))
        task.signals.error.connect(lambda msg: isValid(self) and self.statusBar().showMessage(msg, 10_000))
        task.signals.done.connect(lambda _none: isValid(self) and self._purity_done())
        self._runner.start(task)

    def _purity_checked(self, report: MonitorReport | str, version: str) -> None:
        if isinstance(report, str):
            self.statusBar().showMessage(report, 10_000)
            return
        if version != self.presenter.model_version:  # another model was loaded meanwhile: its own check follows
            return
        self._show_monitor_banner(report)
        if report.changed:
            self._reload_items()
            self.statusBar().showMessage(self._monitor_message(report), 30_000)

    def _purity_done(self) -> None:
        self._purity_running = False
        again, self._purity_again = self._purity_again, None
        if again is not None:
            self.check_purity(batch=again == "batch")

    def _show_monitor_banner(self, report: MonitorReport) -> None:
        """A banner over the window while auto-judging is paused. It does not name the paused types: their images
        are judged blind, and a name would tell the analyst the model's call (the dashboard names them)."""
        self.known_pauses = frozenset(p.id for p in report.pauses)  # (the poll compares the store's with these)
        banner = getattr(self, "monitor_banner", None)
        if not report.pauses:
            if banner is not None:
                banner.hide()
            return
        if banner is None:
            banner = self.monitor_banner = QLabel(self)
            banner.setObjectName("monitorBanner")
            banner.setWordWrap(True)
            self._banner_layout.insertWidget(0, banner)
        parts = []
        by_hand = sum(p.scope == "leaf" and bool(p.detail.get("by_hand")) for p in report.pauses)
        leaves = sum(p.scope == "leaf" for p in report.pauses) - by_hand
        batches = len(report.pauses) - leaves - by_hand  # (counts, never names: a name would tell its blind checks)
        if by_hand:
            parts.append(QCoreApplication.translate("Main", "1 defect type (paused by a lead)") if by_hand == 1 else
                         QCoreApplication.translate("Main", "{n} defect types (paused by a lead)").format(n=by_hand))
        if leaves:
            parts.append(QCoreApplication.translate(
                "Main", "1 defect type (blind spot checks found its purity below target)") if leaves == 1 else
                QCoreApplication.translate(
                    "Main", "{n} defect types (blind spot checks found their purity below target)").format(n=leaves))
        opened = self.presenter.batch
        this = opened is not None and any(p.scope == "batch" and p.target == str(opened.batch_id) for p in report.pauses)
        others = batches - int(this)  # (a batch may be named: it tells nothing of a blind check's model call)
        if this:
            parts.append(QCoreApplication.translate("Main", "this batch (unlike the calibration data)"))
        if others:
            parts.append(QCoreApplication.translate("Main", "1 other batch (unlike the calibration data)")
                         if others == 1 else QCoreApplication.translate(
                             "Main", "{n} other batches (unlike the calibration data)").format(n=others))
        if by_hand and not leaves and not batches:  # a lead's pause is the lead's to lift (a recalibration carries
            text = QCoreApplication.translate(  # it over)
                "Main", "Auto-judging is paused for {what}. Those images come to you to judge. A lead lifts the "
                        "pause (Dashboard → Purity monitor says who and why).")
        elif by_hand:  # a lead's pause beside the checks': recalibrating resumes only the checks' (review)
            text = QCoreApplication.translate(
                "Main", "Auto-judging is paused for {what}. Those images come to you to judge. A recalibration on "
                        "recent judged images resumes the checks' pauses; a lead lifts their own (Dashboard → Purity "
                        "monitor says which).")
        else:
            text = QCoreApplication.translate(
                "Main", "Auto-judging is paused for {what}. Those images come to you to judge. To resume, recalibrate "
                        "on recent judged images (fma-judge recalibrate; Dashboard → Purity monitor says which).")
        banner.setText(text.format(what=listed(parts, strong=True)))
        banner.show()

    def _monitor_message(self, report: MonitorReport) -> str:
        leaves = sum(p.scope == "leaf" for p in report.started)
        lines = []
        if leaves:
            lines.append(QCoreApplication.translate(
                "Main", "Auto-judging paused for 1 defect type: its images now come to you blind.") if leaves == 1
                else QCoreApplication.translate(
                    "Main", "Auto-judging paused for {n} defect types: their images now come to you blind.").format(
                    n=leaves))
            lines.append(QCoreApplication.translate(  # (only a recalibration was said: walk-through)
                "Main", "A slip of the key? {key} on that spot check lifts the pause.").format(
                key=keymap.shown_keys(self.keymap, "undo")))
        opened = self.presenter.batch  # (a check that began for the batch before may end after another opened)
        for pause in report.started:
            if pause.scope == "batch" and opened is not None and pause.target == str(opened.batch_id):
                lines.append(QCoreApplication.translate(
                    "Main", "This batch is unlike the calibration data ({flagged} of {n} images look unfamiliar): "
                            "auto-judging is paused for it.").format(
                    flagged=pause.detail.get("flagged"), n=pause.detail.get("predicted")))
        resumed = sum(p.scope == "leaf" and p.end_reason == "purity_recovered" for p in report.ended)
        if resumed:
            lines.append(QCoreApplication.translate(
                "Main", "Auto-judging resumed for 1 defect type: its spot checks meet the target again.") if resumed
                == 1 else QCoreApplication.translate(
                "Main", "Auto-judging resumed for {n} defect types: their spot checks meet the target again.").format(
                n=resumed))
        if undone := sum(p.scope == "leaf" and p.end_reason == "checks_undone" for p in report.ended):
            lines.append(QCoreApplication.translate(
                "Main", "Auto-judging resumed for 1 defect type: the wrong spot check that paused it was undone.")
                if undone == 1 else QCoreApplication.translate(
                "Main", "Auto-judging resumed for {n} defect types: the wrong spot checks that paused them were "
                        "undone.").format(n=undone))
        return " ".join(lines)
