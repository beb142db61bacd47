"""The app stays responsive: no image decoding on the UI thread, streamed predictions, torch imported lazily."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT, make_tiny_bundle, open_window, write_image

pytest.importorskip("pytestqt")
from PySide6.QtWidgets import QApplication

from app.store.db import init_db, make_engine


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, taxonomy) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("resp_bundle") / "model", taxonomy)


@pytest.fixture()
def window(qtbot, tmp_path, bundle, monkeypatch):
    eng = make_engine(f"sqlite:///{tmp_path / 'judge.sqlite'}")
    init_db(eng)
    win = open_window(qtbot, eng, bundle, tmp_path, monkeypatch)
    yield win
    win.close()
    eng.dispose()


def test_images_are_decoded_off_the_ui_thread_and_shown_when_ready(qtbot, window, tmp_path, monkeypatch):
    import app.ui.image_cache as mw

    folder = tmp_path / "batch"
    for i in range(5):
        write_image(folder / f"img_{i}.png", size=(90, 70), seed=i)
    # a readable header with broken pixel data: only the full decode fails
    good = (folder / "img_0.png").read_bytes()
    (folder / "img_9_truncated.png").write_bytes(good[: len(good) // 2])
    threads: list[bool] = []
    real = mw.load_image

    def spy(src):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(src)

    monkeypatch.setattr(mw, "load_image", spy)
    with qtbot.waitSignal(window.allPredicted, timeout=120_000):
        window.open_folder(folder)
    qtbot.waitUntil(lambda: not window.viewer._image.pixmap().isNull(), timeout=10_000)
    assert window.viewer._image.pixmap().width() == 90
    for _ in range(5):  # walk to the truncated image (the last one)
        window.move(1)
        QApplication.processEvents()
    assert window.items[window.current].image.path.endswith("img_9_truncated.png")
    qtbot.waitUntil(lambda: window.items[window.current].image.image_id in window.presenter.errors, timeout=10_000)
    assert window.viewer._image.pixmap().isNull()
    assert window.viewer._message.text()  # the reason, instead of a picture
    assert threads and not any(threads), "an image was decoded on the UI thread"


def test_the_image_on_screen_and_the_next_ones_are_predicted_first_then_the_rest_in_chunks(qtbot, window, tmp_path):
    from app.ui.main_window import LOOKAHEAD

    folder = tmp_path / "batch"
    for i in range(13):
        write_image(folder / f"img_{i:02d}.png", size=(64, 64), seed=i)
    chunks: list[list[int]] = []
    window.worker.predicted.connect(lambda _run, pairs: chunks.append([image_id for image_id, _ in pairs]))
    with qtbot.waitSignal(window.allPredicted, timeout=120_000):
        window.open_folder(folder)
    ids = [it.image.image_id for it in window.items]
    # the image on screen alone, then the next ones in judging order (one pass), then the rest
    flat = [i for c in chunks for i in c]
    assert chunks[0] == [ids[0]] and flat[:LOOKAHEAD + 1] == ids[:LOOKAHEAD + 1]
    assert len(flat) == len(ids)  # the background run skips what the focus made: nothing twice
    assert sorted(flat[LOOKAHEAD + 1:]) == sorted(ids[LOOKAHEAD + 1:]) and max(len(c) for c in chunks) <= 8
    assert all(it.prediction is not None and it.prediction.leaf for it in window.items)


def test_the_main_window_module_does_not_import_torch():
    code = "import sys, app.ui.main_window, app.ui.workers; print('torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_an_image_slow_to_read_says_so_and_is_read_before_those_ahead(qtbot, engine, tmp_path, monkeypatch) -> None:
    """A burst of PgDn left the viewer blank beside the new image's panel while the images of the pages passed
    were decoded first (factory-scale walk-through): the image on screen goes first on the pool, and says it is
    being read once that takes a while."""
    import time

    import app.ui.image_cache as cache_module
    from app.ui.style import LOADING_SAID_MS

    folder = tmp_path / "lot"
    for i in range(3):
        write_image(folder / f"img_{i}.png", seed=i)
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        win.open_folder(folder)
        qtbot.waitUntil(lambda: len(win.list_model.rows) == 3 and win.viewer.has_image, timeout=30_000)
        real, priorities = cache_module.decode_with_facts, []
        monkeypatch.setattr(cache_module, "decode_with_facts",
                            lambda path: (time.sleep(LOADING_SAID_MS * 4 / 1000), real(path))[1])
        start = win.images.runner.start
        monkeypatch.setattr(win.images.runner, "start", lambda task, priority=0: (priorities.append(priority),
                                                                                     start(task, priority))[1])
        win.images.clear()
        win.select(2)
        assert priorities and priorities[0] == cache_module.URGENT  # (the image on screen; those ahead: 0)
        qtbot.waitUntil(lambda: win.viewer._message.text() == "Reading img_2.png…", timeout=10_000)
        qtbot.waitUntil(lambda: win.viewer.has_image, timeout=10_000)
        assert not win.viewer._message.isVisible()
    finally:
        win.close()
