"""The open batch read again from the store (a pause re-routed images, another model was loaded, a pause lifted
elsewhere) happens off the UI thread: 100,000 rows froze the window 2.7 s. Keys work meanwhile, what the window
applied after the read stays, predictions asked for meanwhile start after it, and a Task cancelled before a thread
took it never runs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import make_tiny_bundle, open_window, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt, QThreadPool
from sqlalchemy import text

from app.ui.workers import Task, TaskRunner


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, taxonomy) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("reload") / "model", taxonomy, input_size=32)


def test_the_batch_is_read_again_while_the_analyst_judges(qtbot, engine, tmp_path, bundle, monkeypatch) -> None:
    folder = tmp_path / "lot"
    for i in range(4):
        write_image(folder / f"img_{i}.png", size=(24, 20), seed=i)
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    release = threading.Event()
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        win.select(0)
        qtbot.waitUntil(lambda: win.presenter.shows_prediction(win.presenter.current_item), timeout=60_000)
        rerouted = win.items[3].image.image_id
        with engine.begin() as conn:  # the purity monitor re-routed an image (in place: the same prediction row)
            conn.execute(text("UPDATE predictions SET route = 'rejudge' WHERE image_id = :i"), {"i": rerouted})
        read, real = threading.Event(), win.service.batch_items

        def slow(*args, **kwargs):  # reads the store at once, hands it over once the test has judged
            items = real(*args, **kwargs)
            read.set()
            assert release.wait(20)
            return items

        monkeypatch.setattr(win.service, "batch_items", slow)
        asked_after, start = [], win._start_predictions  # (called, after a deferral, by _reloaded)
        monkeypatch.setattr(win, "_start_predictions", lambda: (
            asked_after.append(win._reloaded_to == win._reloads) if win._reloaded_to == win._reloads else None,
            start())[1])
        win._reload_items()  # returns at once: the read is on the thread pool
        assert read.wait(20) and win._after_reload()  # under way
        start()  # asked for meanwhile: after it
        qtbot.keyClick(win, Qt.Key.Key_Return)  # judged after the read: the read does not know it
        qtbot.waitUntil(lambda: win.items[0].judgment is not None)
        assert win.current == 1 and win.items[3].prediction.route != "rejudge"
        release.set()
        qtbot.waitUntil(lambda: win.items[3].prediction.route == "rejudge", timeout=20_000)
        assert win.items[0].judgment is not None and win.items[0].judgment.status == "accepted"  # kept
        assert win.presenter.state(win.items[3]) == "rejudge" and win.current == 1
        assert win.list_model.rowCount() == 4 and not win._after_reload()
        assert asked_after == [True]  # the predictions asked for meanwhile were started once it was shown
        from app.services.presenter_records import ListFilter

        win.set_list_filter(ListFilter(states=frozenset({"rejudge"})))  # a filtered list: made again
        assert [r.image_id for r in win.list_model.rows] == [rerouted]
        with engine.begin() as conn:
            conn.execute(text("UPDATE predictions SET route = 'rejudge' WHERE image_id = :i"),
                         {"i": win.items[2].image.image_id})
        monkeypatch.setattr(win.service, "batch_items", real)
        win._reload_items()
        qtbot.waitUntil(lambda: len(win.list_model.rows) == 2, timeout=20_000)
        assert [r.image_id for r in win.list_model.rows] == [win.items[2].image.image_id, rerouted]
    finally:
        release.set()  # (a pool thread held by a failed test would hold up the next)
        win.close()


def test_a_task_cancelled_before_a_thread_took_it_does_not_run(qtbot) -> None:
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    runner = TaskRunner(pool)
    busy, ran, done = threading.Event(), [], []
    runner.start(Task(busy.wait, 20))
    task = Task(ran.append, "ran")
    task.signals.done.connect(done.append)
    runner.start(task)
    task.cancel()
    busy.set()
    qtbot.waitUntil(lambda: done == [None], timeout=10_000)
    assert ran == [] and task.begun  # taken by a thread, not run; its done still comes (the runner lets it go)


def test_a_re_read_the_store_refuses_is_said_in_the_windows_language(qtbot, engine, tmp_path, bundle,
                                                                     monkeypatch) -> None:
    """A re-read the store refused showed its raw English text in the Chinese window's status bar; it is said in the
    store's own words, translated, as the banner and the queue say it."""
    from PySide6.QtCore import QCoreApplication, QTranslator

    from app.store.errors import StoreError
    from app.ui.app import I18N_DIR

    folder = tmp_path / "lot"
    for i in range(2):
        write_image(folder / f"img_{i}.png", size=(24, 20), seed=i)
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    tr = QTranslator()
    assert tr.load("fma_judge_zh_TW", str(I18N_DIR))
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        QCoreApplication.installTranslator(tr)
        refused = StoreError.refused("read", "sqlite:///team.sqlite3", "database is locked")

        def fails(*args, **kwargs):
            raise refused

        monkeypatch.setattr(win.service, "batch_items", fails)
        win._reload_items()
        qtbot.waitUntil(lambda: "sqlite:///team.sqlite3" in win.statusBar().currentMessage(), timeout=20_000)
        said = win.statusBar().currentMessage()
        assert said != str(refused) and "Cannot" not in said and "無法" in said, said
        assert not win._after_reload() and win.list_model.rowCount() == 2  # the window goes on with what it has
    finally:
        QCoreApplication.removeTranslator(tr)
        win.close()
