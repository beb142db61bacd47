"""The purity monitor in the app: a spot check is judged blind (Enter opens the picker, no preselected call), and
a wrong blind judgment pauses the leaf's auto-judging at once: the batch is re-read and the status bar says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_tiny_bundle, open_window, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.services.dashboard import DashboardService
from app.services.queue import QueueFilters, QueueService
from app.store import repo
from app.store.db import session_scope
from app.ui.dashboard_view import DashboardView
from app.ui.picker import TaxonomyPicker
from models.bundle.files import read_bundle_manifest, write_bundle_manifest
from models.routing.policy import Calibration


@pytest.fixture(scope="module")
def checked_bundle(tmp_path_factory, taxonomy) -> Path:
    """A tiny bundle calibrated so that every image would be auto-judged, and every one is drawn for a spot check."""
    path = make_tiny_bundle(tmp_path_factory.mktemp("monitor_bundle") / "model", taxonomy)
    manifest = read_bundle_manifest(path)
    cal = Calibration(thresholds=dict.fromkeys(taxonomy.leaves, 0.0), spot_check=1.0, target_purity=0.99,
                      created="2025-01-01T00:00:00+00:00", temperature=1.0)
    write_bundle_manifest(path, manifest.replace(temperature=1.0, calibration=cal))
    return path


def test_a_wrong_blind_check_pauses_the_leaf(qtbot, engine, checked_bundle, tmp_path, monkeypatch, taxonomy):
    folder = tmp_path / "batch"
    for i in range(4):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    win = open_window(qtbot, engine, checked_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        item = win.presenter.current_item
        assert item is not None and item.prediction.reasons == ("spot_check",)
        panel = win.presenter.panel(win.current)
        assert panel.blind and panel.top5 == () and win.panel.accept_btn.text().startswith("Pick the type")
        assert win.panel.determined.isVisibleTo(win.panel) and "blind" in win.panel.determined.text()
        # similar judged cases are found by the model's features: their types would tell its call (seen in a
        # day's walk-through: three "Crack" tiles beside a blind crack)
        assert win.similar_panel.cases == [] and "judged blind" in win.similar_panel.message.text()
        predicted = item.prediction.leaf
        wrong = next(leaf for leaf in taxonomy.leaves if leaf != predicted)
        seen = {}
        made = TaxonomyPicker.__init__

        def init(dlg, *args, **kwargs) -> None:
            seen.update(kwargs)
            made(dlg, *args, **kwargs)

        def pick(dlg) -> int:
            dlg.chosen = wrong
            return 1

        monkeypatch.setattr(TaxonomyPicker, "__init__", init)
        monkeypatch.setattr(TaxonomyPicker, "exec", pick)
        qtbot.keyClick(win, Qt.Key.Key_Return)  # Enter on a blind check opens the picker
        QApplication.processEvents()
        with session_scope(engine, action="read") as s:
            history = repo.judgment_history(s, item.image.image_id)
            (pause,) = repo.pauses(s, item.prediction.model_version)
        assert seen["current"] is None and seen["scope"] is None  # the model's call is not preselected
        assert [(j.leaf, j.status) for j in history] == [(wrong, "corrected")]
        assert (pause.scope, pause.target, pause.detail["wrong"]) == ("leaf", predicted, 1)
        assert "paused" in win.statusBar().currentMessage()
        banner = win.monitor_banner.text()
        assert win.monitor_banner.isVisibleTo(win) and "paused for 1 defect type (blind spot checks found its purity below target)" in banner
        assert win.presenter.name(predicted) not in banner  # a name would tell the blind checks the model's call
        view = DashboardView(DashboardService(engine), model_version=pause.model_version, lang="en")
        qtbot.addWidget(view)
        view.show()
        qtbot.waitExposed(view)
        with qtbot.waitSignal(view.refreshed, timeout=20_000):
            view.refresh()
        rows = {view.purity.item(r, 0).text(): [view.purity.item(r, c).text() for c in range(1, 5)]
                for r in range(view.purity.rowCount())}
        name = win.presenter.name(predicted)
        assert rows[name][:2] == ["0", "0"]  # checks since the pause began: none yet
        assert rows[name][3] == "paused (1 wrong of 1 checks)" and rows["All types"][:2] == ["1", "1"]
        assert "fma-judge recalibrate" in view.monitor_note.text()
        assert view.table.item(0, 7).text() == "–"
        waiting = QueueService(engine, "lead").page(QueueFilters(pause.model_version)).rows
        assert waiting == []  # every image here is a blind check: judged in the batch, not in the queue  # no unknown detector in this calibration: no drift score
        # decided, the check shows where the model looked; Ctrl+Z makes it blind again, and the heatmap (a hint
        # of the model's call) went only when the analyst moved away and back
        win.select(win.presenter.row_of(item.image.image_id))
        qtbot.waitUntil(lambda: win.viewer.has_heatmap, timeout=60_000)
        win.refs.cycle()  # E: references of its Top-1 and Top-2 (the model's call, by name)
        assert win.refs.on
        win.undo()
        assert not win.refs.on and win.similar_panel.leaves is None  # blind again: no references either
        assert win.presenter.blind(win.presenter.current_item) and win.current_image_id == item.image.image_id
        assert not win.viewer.has_heatmap and win.panel.accept_btn.text().startswith("Pick the type")
        assert "judged blind" in win.similar_panel.message.text()
        with qtbot.waitSignal(win.similar_panel.casesShown, timeout=20_000):
            win.add_label()  # Shift+C judges it and keeps it on screen: no longer blind, its similar cases come
        assert not win.presenter.blind(win.presenter.current_item) and not win.refs.blind_shown
    finally:
        win.close()


def test_the_dashboard_names_the_floors_of_both_calibrations(qtbot, engine) -> None:
    """A calibration with one promise over all leaves holds its weaker leaves to their own floor, and a spectrum-fused
    call to the fused calibration's: the note under the purity table names both, the lowest first."""
    from types import SimpleNamespace

    from app.services.monitor import MonitorReport

    view = DashboardView(DashboardService(engine), model_version="v", lang="en")
    qtbot.addWidget(view)
    report = MonitorReport("v", "key", 0.99, floors={"scratch": 0.957, "crack": 0.931},
                           fused_floors={"scratch": 0.903})
    view._show_monitor(SimpleNamespace(monitor=report, leaf_name=lambda leaf, lang: leaf.title()))
    note = view.monitor_note.text()
    assert "held to their own floor: Crack 93.1%, Scratch 95.7%." in note
    assert "Judged with a spectrum, held to: Scratch 90.3%." in note
    view._show_monitor(SimpleNamespace(monitor=MonitorReport("v", "key", 0.99), leaf_name=lambda leaf, lang: leaf))
    assert "floor" not in view.monitor_note.text() and "spectrum" not in view.monitor_note.text()


def test_the_drift_cell_says_what_its_score_is_made_of(qapp) -> None:
    """The batch table's drift score ("3.3×") with its figures and the rule that pauses a batch, in both languages."""
    from app.services.monitor import BatchDrift, MonitorSettings
    from app.ui.dashboard_view import _drift_text, _drift_tip

    drift = BatchDrift(batch_id=1, predicted=42, flagged=7, expected=0.05, low=0.07)
    assert _drift_text(drift) == "3.3×"
    tip = _drift_tip(drift, MonitorSettings())
    assert tip.startswith("7 of 42 images look like a possible new type (16.7%); the calibration data: 5.0%.")
    assert "surely over 2× that (judged from 20 images on)" in tip
    assert _drift_tip(BatchDrift(batch_id=2, predicted=0, flagged=0, expected=0.05, low=0.0), MonitorSettings()) == ""
