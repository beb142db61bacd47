"""Judging order: the image on screen and the next ones have their predictions and heatmaps made ahead."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_tiny_bundle, open_window, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, taxonomy) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("pipeline") / "model", taxonomy, input_size=32)


@pytest.fixture()
def window(qtbot, engine, bundle, tmp_path, monkeypatch):
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    yield win
    win.close()


def test_the_next_images_in_judging_order_are_ready_before_the_analyst_reaches_them(qtbot, window, tmp_path):
    from app.ui.main_window import LOOKAHEAD

    folder = tmp_path / "batch"
    for i in range(12):
        write_image(folder / f"img_{i:02d}.png", size=(64, 48), seed=i)
    with qtbot.waitSignal(window.allPredicted, timeout=120_000):
        window.open_folder(folder)
    ahead = [window.items[r].image.image_id for r in window.presenter.ahead(window.current, LOOKAHEAD)]
    assert len(ahead) == LOOKAHEAD
    qtbot.waitUntil(lambda: all(i in window.images.heatmaps and i in window.images.images for i in ahead),
                    timeout=60_000)
    for expected in ahead:  # each next image is shown with its heatmap at once: nothing left to compute
        qtbot.keyClick(window, Qt.Key.Key_Return)
        QApplication.processEvents()
        assert window.current_image_id == expected
        assert window.viewer.has_image and window.viewer.has_heatmap and not window.viewer.heatmap_pending


def test_a_heatmap_still_being_computed_shows_a_badge(qtbot, window, tmp_path, monkeypatch):
    import threading

    from app.services.predicting import PredictingService

    folder = tmp_path / "batch"
    for i in range(3):
        write_image(folder / f"img_{i}.png", size=(64, 48), seed=i)
    gate = threading.Event()
    real = PredictingService.heatmap
    monkeypatch.setattr(PredictingService, "heatmap", lambda self, path, **kw: gate.wait(60) and real(self, path, **kw))
    window.open_folder(folder)
    qtbot.waitUntil(lambda: window.viewer.has_image and window.items[0].prediction is not None, timeout=60_000)
    qtbot.waitUntil(lambda: window.viewer.heatmap_pending, timeout=10_000)
    assert window.viewer._pending.isVisible()
    gate.set()
    qtbot.waitUntil(lambda: window.viewer.has_heatmap, timeout=60_000)
    assert not window.viewer.heatmap_pending


def test_the_model_thread_predicts_the_next_images_before_any_heatmap(qtbot, engine):
    """A fast analyst must never find the next image unpredicted because heatmaps fell behind: the work order is
    the screen's prediction, the next images' predictions in one pass, then the heatmaps, screen first."""
    from app.services.predicting import PredictingService
    from app.ui.workers import Focus, ModelWorker

    worker = ModelWorker(PredictingService(engine))
    images = tuple((i, f"/x/{i}.png") for i in range(1, 5))
    focus = Focus(1, images, frozenset(range(1, 5)), frozenset(range(1, 5)))
    steps = []
    while (step := worker._next_step(focus)) is not None:
        steps.append((step[0], [image_id for image_id, _ in step[1]]))
        if step[0] == "predict":
            worker._predicted_now.update(image_id for image_id, _ in step[1])
        else:
            worker._heatmapped.update((image_id, None) for image_id, _ in step[1])
    assert steps == [("predict", [1]), ("predict", [2, 3, 4]), ("heatmap", [1]), ("heatmap", [2]),
                     ("heatmap", [3]), ("heatmap", [4])]


def test_a_heatmap_is_made_again_when_a_spectrum_changes_the_leaf_it_explains(qtbot, engine):
    """A spectrum that comes after the image's heatmap (the end of a large folder's opening, an undone decision)
    gives a fused prediction whose leaf the image model's heatmap does not explain: the model thread makes it again,
    once per leaf."""
    from app.services.predicting import PredictingService
    from app.ui.workers import Focus, ModelWorker

    worker = ModelWorker(PredictingService(engine))
    focus = Focus(1, ((1, "/x/1.png"),), frozenset(), frozenset({1}))
    assert worker._next_step(focus) == ("heatmap", [(1, "/x/1.png")])
    worker._heatmapped.add((1, None))
    assert worker._next_step(focus) is None
    fused = Focus(2, focus.images, frozenset(), frozenset({1}), {1: "crack"})  # the window's fused prediction
    assert worker._next_step(fused) == ("heatmap", [(1, "/x/1.png")])
    worker._heatmapped.add((1, "crack"))
    assert worker._next_step(fused) is None
    # the thread's own fused prediction, made after the window's focus: its leaf, until the window knows
    worker._fused_leaf[1] = ("dent", fused.generation)
    assert worker._leaf_of(1, fused) == "dent"
    # a later focus decides: the window's stored prediction (a colleague predicted it again, with another leaf)
    later = Focus(3, focus.images, frozenset(), frozenset({1}), {1: "scratch"})
    assert worker._leaf_of(1, later) == "scratch" and worker._next_step(later) == ("heatmap", [(1, "/x/1.png")])
    worker.forget_heatmaps({1})  # the window dropped its heatmaps: made again when asked
    assert worker._next_step(fused) is not None and not worker._heatmapped


def _open_two_images(qtbot, window, tmp_path):
    """A folder of two images opened, every prediction made and the screen's heatmap shown; returns the folder."""
    folder = tmp_path / "batch"
    for i in range(2):
        write_image(folder / f"img_{i}.png", size=(64, 48), seed=i)
    with qtbot.waitSignal(window.allPredicted, timeout=120_000):
        window.open_folder(folder)
    qtbot.waitUntil(lambda: window.viewer.has_heatmap, timeout=60_000)
    return folder


def test_a_folder_opened_again_gets_its_heatmaps_again(qtbot, window, tmp_path):
    """Opening a batch empties the window's heatmaps: the model thread is told, and makes them again when asked
    (it kept them as made, and the heatmap of a re-opened batch stayed "heatmap…" for good)."""
    folder = _open_two_images(qtbot, window, tmp_path)
    before = window.images.heatmaps[window.current_image_id][0]
    with qtbot.waitSignal(window.allPredicted, timeout=120_000):
        window.open_folder(folder)  # (its stored batch on screen first: the heatmap may be made again by now)
    qtbot.waitUntil(lambda: window.current_image_id in window.images.heatmaps and window.viewer.has_heatmap,
                    timeout=60_000)
    assert window.images.heatmaps[window.current_image_id][0] is not before  # emptied by the opening, made again


def test_the_window_keeps_a_bounded_number_of_heatmaps_and_the_model_thread_makes_a_dropped_one_again(qtbot):
    from PySide6.QtCore import QThreadPool

    from app.ui import image_cache
    from app.ui.workers import TaskRunner

    cache = image_cache.ImageCache(TaskRunner(QThreadPool()))
    cache.keep = lambda: 1  # the image on screen stays
    dropped = []
    cache.heatmapsDropped.connect(dropped.extend)
    for i in range(1, image_cache.HEATMAPS_KEPT + 3):
        cache.add_heatmap(i, None, "gradcam")
    cache.add_heatmap(5, None, "gradcam", "crack")  # made again for another leaf: the newest now
    cache.add_heatmap(100, None, "gradcam")
    assert dropped == [2, 3] and 1 in cache.heatmaps and list(cache.heatmaps)[-2:] == [5, 100]


def test_the_decoded_images_kept_are_bounded_by_their_bytes_too(qtbot, monkeypatch):
    """24 large micrographs decoded were 1.7 GB: past a byte budget the oldest go, never the one on screen, and a
    few always stay (the screen's and the next ones, decoded ahead)."""
    from PySide6.QtCore import QThreadPool
    from PySide6.QtGui import QImage

    from app.ui import image_cache
    from app.ui.workers import TaskRunner

    cache = image_cache.ImageCache(TaskRunner(QThreadPool()))
    cache.keep = lambda: 1  # the image on screen
    size = QImage(100, 100, QImage.Format.Format_RGB888).sizeInBytes()
    monkeypatch.setattr(image_cache, "IMAGES_BYTES", 3 * size + 10)
    monkeypatch.setattr(image_cache, "IMAGES_AT_LEAST", 2)
    for i in range(1, 11):
        cache._done(i, QImage(100, 100, QImage.Format.Format_RGB888), None)
    assert sorted(cache.images) == [1, 9, 10]
    cache._done(11, None, "not an image")  # (an image that cannot be decoded holds no bytes)
    assert sorted(cache.images) == [1, 9, 10, 11]
    monkeypatch.setattr(image_cache, "IMAGES_AT_LEAST", 6)
    for i in range(12, 20):
        cache._done(i, QImage(100, 100, QImage.Format.Format_RGB888), None)
    assert len(cache.images) == 6 and 1 in cache.images and 19 in cache.images


def test_an_image_asked_for_ahead_is_decoded_first_once_it_is_on_screen(qtbot, tmp_path):
    """The images after the one on screen are decoded ahead; the analyst moves on before a thread took them: the
    one now on screen is decoded before those still waiting (it waited behind them: seconds for large images)."""
    import threading

    from PySide6.QtCore import QThreadPool

    from app.ui import image_cache
    from app.ui.workers import Task, TaskRunner

    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    runner = TaskRunner(pool)
    cache = image_cache.ImageCache(runner)
    order: list[int] = []
    cache.decoded.connect(order.append)
    busy = threading.Event()
    runner.start(Task(busy.wait, 20))  # the one thread is busy (another decode)
    paths = [str(write_image(tmp_path / f"img_{i}.png", seed=i)) for i in range(4)]
    for i in (1, 2, 3):
        cache.request(i, paths[i])  # asked for ahead
    cache.request(3, paths[3], urgent=True)  # the analyst is on image 3 now
    cache.request(3, paths[3], urgent=True)  # (asked again while it waits: once)
    busy.set()
    qtbot.waitUntil(lambda: len(order) == 3, timeout=10_000)
    assert order == [3, 1, 2] and all(cache.images[i] is not None for i in (1, 2, 3))
    qtbot.waitUntil(lambda: not cache._ahead, timeout=10_000)  # every task asked for ahead has reported
    assert pool.waitForDone(10_000)
    qtbot.wait(50)
    assert order == [3, 1, 2]  # the decode it replaced delivered nothing
    busy.clear()
    runner.start(Task(busy.wait, 20))
    cache.request(0, paths[0])
    assert pool.waitForDone(50) is False
    busy.set()
    qtbot.waitUntil(lambda: 0 in cache.images, timeout=10_000)
    cache.request(0, paths[0], urgent=True)  # decoded already: nothing asked
    assert pool.waitForDone(10_000)
    qtbot.wait(50)
    assert order == [3, 1, 2, 0]


def test_another_model_never_shows_the_previous_models_heatmap(qtbot, window, tmp_path, taxonomy):
    _open_two_images(qtbot, window, tmp_path)
    first = window.current_image_id
    old_map = window.images.heatmaps[first][0]
    other = make_tiny_bundle(tmp_path / "other", taxonomy, input_size=32, seed=7)
    with qtbot.waitSignal(window.worker.modelLoaded, timeout=60_000):
        window.load_model(other)
    assert first not in window.images.heatmaps or window.images.heatmaps[first][0] is not old_map
    qtbot.waitUntil(lambda: window.viewer.has_heatmap and first in window.images.heatmaps, timeout=60_000)
    assert window.images.heatmaps[first][0] is not old_map  # computed again, by the new model
