"""The status bar's prediction progress: no ETA before the pace is known, then one from the pace so far."""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip("pytestqt")

from app.ui.statusbar import MainStatusBar


def test_eta_is_a_dash_until_an_image_is_done_then_follows_the_pace(qtbot, monkeypatch):
    bar = MainStatusBar()
    qtbot.addWidget(bar)
    clock = iter([100.0, 100.0, 130.0])  # started; no image done yet; 10 of 40 done 30 s later
    monkeypatch.setattr("app.ui.statusbar.time.perf_counter", lambda: next(clock))
    bar.predicting_started(40)
    bar.predicting(0, 40)
    assert bar.progress_label.text() == "Predicting 0/40 · ETA –"
    bar.predicting(10, 40)
    assert bar.progress_label.text() == "Predicting 10/40 · ETA 1:30"  # 3 s an image, 30 images left


def test_a_folder_still_listed_shows_its_count_on_a_busy_bar_then_the_registering(qtbot):
    """(n, 0) from an opening: the folder is still being listed (a slow share), n entries so far; then the files
    registered of all."""
    bar = MainStatusBar()
    qtbot.addWidget(bar)
    bar.reading()
    assert bar.progress_label.text() == "Reading images…" and bar.progress.maximum() == 0
    bar.reading(4096, 0)
    assert bar.progress_label.text() == "Listing the folder… 4,096 entries so far" and bar.progress.maximum() == 0
    bar.reading(64, 5000)
    assert bar.progress_label.text() == "Reading images 64/5,000" and bar.progress.maximum() == 5000


def test_the_models_tooltip_says_where_from_and_when_its_routing_was_calibrated(qtbot):
    bar = MainStatusBar()
    qtbot.addWidget(bar)
    bar.set_model("v1", path="/models/v1", calibrated="2026-12-06T05:30:12.123456")
    assert bar.model_label.toolTip() == "Loaded from /models/v1\nRouting calibrated 2026-12-06 05:30:12"
    bar.set_model("v1", path="/models/v1", calibrated="sets 2026-12-06T05:30:12")  # a multi-label bundle's stamp
    assert bar.model_label.toolTip().endswith("Routing calibrated 2026-12-06 05:30:12")
    for none in ("undated", None):  # no time to tell: no line
        bar.set_model("v1", path="/models/v1", calibrated=none)
        assert bar.model_label.toolTip() == "Loaded from /models/v1"
    bar.set_model(None)
    assert bar.model_label.toolTip() == ""


def test_the_end_of_a_prediction_run_is_said_for_a_while(qtbot, monkeypatch):
    """At the end of a big lot's predictions the bar just went (seen with 2,520 images): now it says so."""
    bar = MainStatusBar()
    qtbot.addWidget(bar)
    clock = itertools.chain([100.0, 110.0, 150.0, 175.0], itertools.repeat(200.0))
    monkeypatch.setattr("app.ui.statusbar.time.perf_counter", lambda: next(clock))
    bar.predicting_started(2520)
    bar.predicting(1200, 2520)
    bar.finished()  # the folder's reading ended meanwhile: the run goes on
    bar.predicting(2520, 2520)
    bar.predictions_ended()
    assert bar.progress_label.text() == "Batch predicted: 2,520 images in 1:15" and not bar.progress.isVisible()
    bar.finished()  # a reading that ends after it leaves it said
    assert bar.progress_label.text() == "Batch predicted: 2,520 images in 1:15"
    bar.predictions_ended()  # a run with nothing to predict says nothing
    assert bar.progress_label.text() == "Batch predicted: 2,520 images in 1:15"
    bar.predicting_started(10)
    bar.predicting(4, 10)
    bar.predictions_ended(cancelled=True)
    assert bar.progress_label.text() == "Predictions cancelled"
    from app.ui.statusbar import _fmt_secs

    assert _fmt_secs(0.4) == "0.4 s" and _fmt_secs(75.2) == "1:15"  # (a short run read "in 0:00")
    bar.predicting_started(36)  # a run whose files were not reached (a share away): not "Batch predicted"
    bar.predicting(36, 36)
    bar.predictions_ended(unreached=35)
    assert bar.progress_label.text() == ("Predicted, but 35 files not reached (a share away?): predicted once they "
                                         "are read")


def test_a_bar_closed_before_its_end_message_clears_is_no_error(qtbot, monkeypatch):
    """The 15-s clearing of "All … predicted" ran on a deleted label when the window closed first (every window
    test that predicted, in CI)."""
    import app.ui.statusbar as statusbar

    waits = []
    monkeypatch.setattr(statusbar.QTimer, "singleShot", lambda ms, *rest: waits.append((ms, rest)))
    bar = MainStatusBar()
    bar.predicting_started(3)
    bar.predicting(3, 3)
    bar.predictions_ended()
    (ms, (context, clear)), = waits
    assert ms == 15_000 and context is bar.progress_label  # Qt drops the call once its context is deleted
    clear()
    assert bar.progress_label.text() == ""
    bar.deleteLater()


def test_a_folders_reading_that_ends_during_a_run_gives_the_bar_back_to_the_run(qtbot, monkeypatch):
    """The reading of a 4,080-image folder ended while its first part was predicted: the bar went with the reading's
    and "Predicting … · ETA" stayed away for the rest of that run, 2,058 images (factory-scale walk-through)."""
    bar = MainStatusBar()
    qtbot.addWidget(bar)
    bar.show()
    clock = itertools.chain([100.0, 130.0], itertools.repeat(130.0))
    monkeypatch.setattr("app.ui.statusbar.time.perf_counter", lambda: next(clock))
    bar.predicting_started(40)
    bar.reading(2000, 4080, cancellable=True)  # the rest of the folder read meanwhile
    bar.predicting(10, 40)
    bar.reading(4080, 4080, cancellable=True)
    bar.reading_done(run_going=True)
    assert bar.progress_label.text() == "Predicting 10/40 · ETA 1:30" and bar.progress.isVisible()
    assert (bar.progress.value(), bar.progress.maximum()) == (10, 40) and bar.cancel_btn.isVisible()
    bar.reading_done(run_going=False)  # no run: the bar goes
    assert not bar.progress.isVisible() and not bar.cancel_btn.isVisible()


def test_long_texts_in_the_status_bar_do_not_make_the_window_wider(qtbot) -> None:
    """A long model name, a large batch's counts, a run's progress and "Database not answering" together asked for
    1,654 px on a 1,600-px screen (a walk-through); their texts are what the labels like, not what they need. The
    Cancel button stays left of the progress text, whose length changes."""
    from PySide6.QtWidgets import QMainWindow

    from app.ui.statusbar import MainStatusBar

    win = QMainWindow()
    qtbot.addWidget(win)
    bar = MainStatusBar(win)
    win.setStatusBar(bar)
    win.show()
    bar.set_model("fma-demo-20261205205804-32644859-retrained-on-the-night-shift-of-lot-N42", path="/x")
    bar.set_counts({"pending": 23_671, "rejudge": 1_000, "accepted": 13, "corrected": 4, "unknown": 2}, 24_671)
    bar.set_store_away("05:02", "timed out")
    bar.predicting_started(23_000)
    bar.predicting(1_000, 23_000)
    bar.set_skipped(2)
    assert bar.minimumSizeHint().width() < 700  # (2,033 px with each label as wide as its text)
    assert bar.cancel_btn.geometry().x() < bar.progress_label.geometry().x()
