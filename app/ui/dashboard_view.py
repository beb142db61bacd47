"""The dashboard view: the rendered chart (auto share, corrections, model error, agreement) and a table.

A thin view over :class:`app.services.dashboard.DashboardService`: the figures are read and the PNG is
rendered on the thread pool; the view only shows the result. F5 or the button reloads; Esc closes the window.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from PySide6.QtCore import QCoreApplication, QEvent, Qt, QThreadPool, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.services.dashboard import (
    DashboardFigures,
    DashboardService,
    dashboard_heading,
    render_dashboard_png,
    shared_note,
)
from app.services.monitor import SETS_NOT_MONITORED
from app.ui.dashboard_monitor import batch_state, drift_text, drift_tip, pause_advice, pct, purity_row
from app.ui.style import WINDOW_STYLE, cjk_joined, listed, store_line, window_shortcuts
from app.ui.workers import Task, TaskRunner

STALE_AFTER_S = 30.0
"""The dashboard activated this long after its last reading reads again."""


class DashboardView(QWidget):
    """Charts and a per-batch table for one model version.

    Args:
        service: the dashboard service.
        model_version: the version shown first (None: the most recently registered one).
        lang: ``en`` or ``zh_TW`` for the chart text.

    Signals:
        refreshed(object): the DashboardFigures just shown.
    """

    refreshed = Signal(object)

    def __init__(self, service: DashboardService, *, model_version: str | None = None, lang: str = "en",
                 settings=None, parent=None) -> None:
        super().__init__(parent)
        self.service = service
        self.settings = settings  # (the period chosen: per month for a month-end report, kept for the next time)
        self.lang = lang
        self.figures: DashboardFigures | None = None
        self.png: bytes = b""
        self.pool = QThreadPool.globalInstance()
        self._runner = TaskRunner(self.pool)
        self._request = 0
        self._wanted_version = model_version
        self._read_at = 0.0  # time.monotonic() of the last refresh asked

        self.model_combo = QComboBox(self)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.period_combo = QComboBox(self)
        self.period_combo.addItem(QCoreApplication.translate("Dashboard", "Per day"), "day")
        self.period_combo.addItem(QCoreApplication.translate("Dashboard", "Per week"), "week")
        self.period_combo.addItem(QCoreApplication.translate("Dashboard", "Per month"), "month")
        self.period_combo.setCurrentIndex(1)  # per week first (shortest to longest in the menu)
        self.refresh_btn = QPushButton(QCoreApplication.translate("Dashboard", "Refresh  (F5)"), self)
        self.refresh_btn.clicked.connect(self.refresh)
        self.status = QLabel(self)
        self.status.setStyleSheet("color: #9aa0a6;")
        # a long message (a database error names its URL and the driver's words) wraps in the bar: it widened the
        # window past the screen, for good
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        model_label = QLabel(QCoreApplication.translate("Dashboard", "&Model:"), self)
        model_label.setBuddy(self.model_combo)
        period_label = QLabel(QCoreApplication.translate("Dashboard", "&Period:"), self)
        period_label.setBuddy(self.period_combo)
        bar = QHBoxLayout()
        for w in (model_label, self.model_combo, period_label, self.period_combo, self.refresh_btn):
            bar.addWidget(w)
        bar.addWidget(self.status, 1)

        # The heading and its summary line are labels in a layout (the chart is drawn without them): they
        # stack, wrap on narrow windows, and can never overlap whatever the language or font.
        self.heading = QLabel(self)
        self.heading.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("font-size: 13px;")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        heading = QVBoxLayout()
        heading.setContentsMargins(4, 6, 4, 2)
        heading.setSpacing(4)
        heading.addWidget(self.heading)
        heading.addWidget(self.summary)

        self.chart = QLabel(self)
        self.chart.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.scroll = QScrollArea(self)
        self.scroll.setWidget(self.chart)
        self.scroll.setWidgetResizable(True)
        self.table = self._read_only_table([
            QCoreApplication.translate("Dashboard", "Batch"),
            QCoreApplication.translate("Dashboard", "Predicted"),
            QCoreApplication.translate("Dashboard", "Auto-judged"),
            QCoreApplication.translate("Dashboard", "Judged"),
            QCoreApplication.translate("Dashboard", "Corrected"),
            QCoreApplication.translate("Dashboard", "Unknown type"),
            QCoreApplication.translate("Dashboard", "Model error"),
            QCoreApplication.translate("Dashboard", "Drift"),
            QCoreApplication.translate("Dashboard", "Auto-judging"),
        ])
        self.purity = self._read_only_table([  # the purity monitor: blind spot checks per leaf and overall
            QCoreApplication.translate("Dashboard", "Defect type"),
            QCoreApplication.translate("Dashboard", "Spot checks"),
            QCoreApplication.translate("Dashboard", "Wrong"),
            QCoreApplication.translate("Dashboard", "Purity (bounds)"),
            QCoreApplication.translate("Dashboard", "Auto-judging"),
        ])
        self.monitor_note = QLabel(self)  # the target, what is paused and the one command that fixes it
        self.monitor_note.setWordWrap(True)
        self.monitor_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        monitor = QWidget(self)
        monitor_layout = QVBoxLayout(monitor)
        monitor_layout.setContentsMargins(0, 4, 0, 0)
        monitor_layout.addWidget(self.monitor_note)
        monitor_layout.addWidget(self.purity, 1)
        self.analysts = self._read_only_table([  # how many each analyst decided (a month-end report's "by whom")
            QCoreApplication.translate("Dashboard", "Analyst"),
            QCoreApplication.translate("Dashboard", "Judged"),
            QCoreApplication.translate("Dashboard", "Corrected"),
            QCoreApplication.translate("Dashboard", "Unknown type"),
            QCoreApplication.translate("Dashboard", "Model error"),
        ])
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.table, QCoreApplication.translate("Dashboard", "Batches"))
        self.tabs.addTab(monitor, QCoreApplication.translate("Dashboard", "Purity monitor"))
        self.tabs.addTab(self.analysts, QCoreApplication.translate("Dashboard", "Analysts"))
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.scroll)
        split.addWidget(self.tabs)
        # Half the height each: the purity table is the one to read when something is paused (at 660/240 it showed
        # two rows of a 1200 x 800 window; three fifths for the tables cut the charts in half); at least six rows
        # whatever the split.
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([450, 450])
        self.purity.setMinimumHeight(self.purity.horizontalHeader().sizeHint().height()
                                     + 6 * self.purity.verticalHeader().defaultSectionSize()
                                     + self.purity.horizontalScrollBar().sizeHint().height()  # (when it shows)
                                     + 2 * self.purity.frameWidth())
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            WINDOW_STYLE + "QTableWidget { background: #202124; alternate-background-color: #26272b; }"
        )
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(heading)
        layout.addWidget(split, 1)

        self.model_combo.currentIndexChanged.connect(lambda _i: self._render())
        kept = self.period_combo.findData(settings.value("dashboard/period")) if settings is not None else -1
        if kept >= 0:
            self.period_combo.setCurrentIndex(kept)
        self.period_combo.currentIndexChanged.connect(lambda _i: self._period_chosen())
        self.setWindowTitle(QCoreApplication.translate("Dashboard", "Dashboard — fma-judge"))
        # Tab leaves a table (it walked its cells, a trap for the keyboard: the purity monitor's tab was out of
        # reach), and Ctrl+Tab / Ctrl+PgDn turn the tabs from anywhere in the window
        window_shortcuts(self, [("F5", self.refresh), ("Ctrl+Tab", lambda: self._turn_tab(1)),
                                ("Ctrl+PgDown", lambda: self._turn_tab(1)), ("Ctrl+Shift+Tab", lambda: self._turn_tab(-1)),
                                ("Ctrl+PgUp", lambda: self._turn_tab(-1))])

    def _turn_tab(self, step: int) -> None:
        self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % self.tabs.count())
        (self.table, self.purity, self.analysts)[self.tabs.currentIndex()].setFocus()  # (the monitor's tab: its table)

    def _read_only_table(self, headers: list[str]) -> QTableWidget:
        table = QTableWidget(0, len(headers), self)
        table.setHorizontalHeaderLabels(headers)
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)  # the figures as wide as they need, the name
        for col in range(1, len(headers) - 1):  # and the auto-judging state (a pause's text is long) the rest
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        table.setAlternatingRowColors(True)
        table.setTabKeyNavigation(False)
        return table

    # -- state ---------------------------------------------------------------------------------
    def set_model_version(self, version: str | None) -> None:
        """Show this model version (refreshes when the dashboard is open; opening it refreshes anyway, so a hidden
        dashboard costs nothing at start-up: drawing it imports matplotlib, ~1 s of a core)."""
        self._wanted_version = version
        if self.isVisible():
            self.refresh()

    def model_version(self) -> str | None:
        return self.model_combo.currentData() or self._wanted_version

    def changeEvent(self, event: QEvent) -> None:
        """Brought back to the front more than :data:`STALE_AFTER_S` after its last reading: read again (it kept
        "Updated 08:01" while colleagues judged on; a timer would draw the charts, a second of a core, while the
        analyst judges in the other window)."""
        super().changeEvent(event)
        if (event.type() == QEvent.Type.ActivationChange and self.isActiveWindow()
                and time.monotonic() - self._read_at > STALE_AFTER_S):
            self.refresh()

    def refresh(self) -> None:
        """Re-read the list of model versions and the figures, in the background."""
        self._read_at = time.monotonic()
        self._request += 1
        request = self._request
        self.status.setText(QCoreApplication.translate("Dashboard", "Loading…"))
        task = Task(self.service.model_versions)
        task.signals.result.connect(lambda versions: isValid(self) and self._versions_loaded(request, versions))
        task.signals.failed.connect(self._failed)
        self._start(task)

    def _versions_loaded(self, request: int, versions: list[str]) -> None:
        if request != self._request:
            return
        wanted = self.model_version() or (versions[0] if versions else None)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for v in versions:
            self.model_combo.addItem(v, v)
        if wanted is not None and self.model_combo.findData(wanted) >= 0:
            self.model_combo.setCurrentIndex(self.model_combo.findData(wanted))
        self.model_combo.blockSignals(False)
        if not versions:
            self.status.setText(QCoreApplication.translate("Dashboard", "No model has predicted anything yet"))
            return
        self._render()

    def _period_chosen(self) -> None:
        if self.settings is not None:
            self.settings.setValue("dashboard/period", self.period_combo.currentData())
        self._render()

    def _render(self) -> None:
        version = self.model_combo.currentData()
        if not version:
            return
        self._wanted_version = version
        self._request += 1
        request = self._request
        period = self.period_combo.currentData()
        bar = self.scroll.verticalScrollBar()  # room for it before it shows: the charts are taller than the view
        width = max(900, self.scroll.viewport().width() - (0 if bar.isVisible() else bar.sizeHint().width()) - 4)
        self.status.setText(QCoreApplication.translate("Dashboard", "Loading…"))
        # a row of charts a little less high than the view: the layout gives the second row's taller labels (the
        # types' names) some of the first's height, which cut the first row's dates
        task = Task(self._compute, version, period, self.lang, width, self.scroll.viewport().height() - 40)
        task.signals.result.connect(lambda result: isValid(self) and self._shown(request, *result))
        task.signals.failed.connect(self._failed)
        self._start(task)

    def _compute(self, version: str, period: str, lang: str, width: int,
                 row_px: int | None = None) -> tuple[DashboardFigures, bytes]:
        figures = self.service.figures(version, period=period)
        return figures, render_dashboard_png(figures, lang, width_px=width, heading=False, row_px=row_px)

    def _shown(self, request: int, figures: DashboardFigures, png: bytes) -> None:
        if request != self._request:
            return
        self.figures, self.png = figures, png
        title, summary = dashboard_heading(figures, self.lang)
        self.heading.setText(title)
        self.summary.setText("\n".join(filter(None, (summary, shared_note(figures, self.lang)))))
        pixmap = QPixmap()
        pixmap.loadFromData(png, "PNG")
        self.chart.setPixmap(pixmap)
        self.table.setRowCount(len(figures.batches))
        drift = {b.batch_id: b for b in figures.monitor.batches} if figures.monitor else {}
        for row, batch in enumerate(reversed(figures.batches)):  # newest batch first
            c = batch.counts
            state, state_tip = batch_state(figures.monitor, figures.held_back.get(batch.batch_id), batch.batch_id,
                                           drift.get(batch.batch_id))
            values = [batch.name, str(c.predicted), pct(c.auto_share), str(c.judged), pct(c.corrected_share),
                      str(c.unknown), pct(c.error_rate), drift_text(drift.get(batch.batch_id)), state]
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if 0 < col < len(values) - 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
            self.table.item(row, len(values) - 1).setToolTip(state_tip)
            if figures.monitor:  # the drift score's own figures, the rule it is judged by, and the verdict
                self.table.item(row, len(values) - 2).setToolTip(
                    drift_tip(drift.get(batch.batch_id), figures.monitor.settings))
        self.analysts.setRowCount(len(figures.by_analyst))
        for row, (who, c) in enumerate(figures.by_analyst):
            for col, text in enumerate((who, f"{c.judged:,}", f"{c.corrected:,} ({pct(c.corrected_share)})",
                                        f"{c.unknown:,}", pct(c.error_rate))):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.analysts.setItem(row, col, item)
        self._show_monitor(figures)
        self.status.setText(QCoreApplication.translate("Dashboard", "Updated {time}").format(
            time=figures.generated_at.astimezone().strftime("%H:%M:%S")))
        self.refreshed.emit(figures)

    def _show_monitor(self, figures: DashboardFigures) -> None:
        report = figures.monitor
        if report is not None and report.why_not == SETS_NOT_MONITORED:
            self.monitor_note.setText(QCoreApplication.translate(
                "Dashboard", "This multi-label model auto-judges whole sets of defect types by its calibrated set "
                             "threshold; the purity monitor checks single types only, so there is nothing to show "
                             "here."))
            self.purity.setRowCount(0)
            return
        if report is None or report.why_not:
            self.monitor_note.setText(QCoreApplication.translate(
                "Dashboard", "This model version is not calibrated: nothing is auto-judged, so there is no purity "
                             "to monitor."))
            self.purity.setRowCount(0)
            return
        rows = [*report.leaves, *(() if report.overall is None else (report.overall,))]
        self.purity.setRowCount(len(rows))
        target = report.target or 0.0
        for row, p in enumerate(rows):
            name = QCoreApplication.translate("Dashboard", "All types") if p.leaf is None else \
                figures.leaf_name(p.leaf, self.lang)
            cells, tip = purity_row(p, report, name)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col in (1, 2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if col == 4 and tip:
                    item.setToolTip(tip)
                self.purity.setItem(row, col, item)
        note = QCoreApplication.translate(
            "Dashboard", "Target purity {target}%, bounds at {confidence}% from blind spot checks.").format(
            target=f"{target * 100:g}", confidence=f"{report.settings.confidence * 100:g}")
        if floors := self._floors(figures, report.floors):  # one promise over all leaves: the weaker ones have a floor
            note += " " + QCoreApplication.translate(
                "Dashboard", "Types the calibration showed weaker are held to their own floor: {floors}.").format(
                floors=floors)
        if floors := self._floors(figures, report.fused_floors):  # a check of a spectrum-fused call: the fused floor
            note += " " + QCoreApplication.translate(
                "Dashboard", "Judged with a spectrum, held to: {floors}.").format(floors=floors)
        if report.pauses:  # what is paused, how it resumes, and the commands with this bundle's path
            names = {leaf: figures.leaf_name(leaf, self.lang) for leaf in report.paused_leaves()}
            note += " " + pause_advice(report, getattr(figures, "bundle_path", None), getattr(figures, "db_arg", None),
                                       names, {str(b.batch_id): b.name for b in getattr(figures, "batches", ())})
        self.monitor_note.setText(cjk_joined(note))

    def _floors(self, figures: DashboardFigures, floors: Mapping[str, float]) -> str:
        """"crack 93.1%, scratch 95.7%": the leaves with a floor under the target, the lowest first."""
        return listed(f"{figures.leaf_name(leaf, self.lang)} {floor * 100:.1f}%"
                      for leaf, floor in sorted(floors.items(), key=lambda kv: kv[1]))

    def _failed(self, error: BaseException) -> None:
        self.status.setText(QCoreApplication.translate("Dashboard", "Could not load the dashboard: {msg}")
                            .format(msg=store_line(error)))

    def _start(self, task: Task) -> None:
        self._runner.start(task)
