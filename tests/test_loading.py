"""The app while its model loads: names from the manifest at once, no raw ids, no half-loaded accept."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import make_tiny_bundle, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from app.services.judging import JudgingService
from app.services.predicting import PredictingService
from app.store import repo
from app.store.db import session_scope


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, taxonomy) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("loading") / "model", taxonomy, input_size=32)


@pytest.fixture()
def folder(tmp_path) -> Path:
    for i in range(4):
        write_image(tmp_path / "batch" / f"img_{i}.png", size=(48, 40), seed=i)
    return tmp_path / "batch"


def _screen_text(win) -> list[str]:
    """Everything the batch list and the prediction panel show as text."""
    texts = [r.label for r in win.list_model.rows] + [r.file_name for r in win.list_model.rows]
    texts += [w.text() for w in win.panel.findChildren(QLabel) if w.isVisible()]
    return texts


def _window(qtbot, engine, tmp_path, monkeypatch):
    from app.ui.app import open_settings
    from app.ui.main_window import MainWindow

    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    win = MainWindow(JudgingService(engine, "alice"), lang="en", settings=open_settings())
    qtbot.addWidget(win)
    win.show()
    return win


@pytest.mark.parametrize("stored", [False, True], ids=["nothing stored", "classified before"])
def test_while_the_weights_load_names_come_from_the_manifest_and_enter_waits(qtbot, engine, tmp_path, bundle,
                                                                             folder, taxonomy, monkeypatch, stored):
    if stored:  # the folder was pre-classified with this model (fma-judge classify)
        service = PredictingService(engine)
        service.load(bundle)
        service.classify_folder(folder)
    release = threading.Event()
    real_load = PredictingService.load

    def held_load(self, path, on_manifest=None):  # the manifest is read (and shown) at once; the weights wait
        return real_load(self, path, on_manifest=lambda manifest: (on_manifest(manifest), release.wait(60)))

    monkeypatch.setattr(PredictingService, "load", held_load)
    win = _window(qtbot, engine, tmp_path, monkeypatch)
    win.load_model(bundle)  # the weights wait for `release`; the manifest is read at once
    with qtbot.waitSignal(win.images.decoded, timeout=30_000):
        win.open_folder(folder)
    qtbot.waitUntil(lambda: win.presenter.taxonomy is not None and len(win.items) == 4, timeout=30_000)
    leaf_ids = {n for level in taxonomy.levels for n in level if "_" in n}  # ids that could not pass for names
    assert not [t for t in _screen_text(win) for leaf in leaf_ids if leaf in t]  # no raw id on screen
    if stored:
        assert win.list_model.rows[0].label == taxonomy.name(win.items[0].prediction.leaf, "en")
        assert win.panel.top_rows[0][1].text().startswith("<b>")
    else:
        assert win.panel.waiting.isVisible() and "model is loading" in win.panel.waiting.text()
        qtbot.keyClick(win, Qt.Key.Key_Return)  # nothing shown to accept: nothing happens
        QApplication.processEvents()
        with session_scope(engine, action="read") as s:
            assert repo.judgment_history(s, win.items[0].image.image_id) == []
    with qtbot.waitSignal(win.allPredicted, timeout=120_000):
        release.set()
    assert not [t for t in _screen_text(win) for leaf in leaf_ids if leaf in t]
    assert win.list_model.rows[0].label and not win.panel.waiting.isVisible()
    win.close()
