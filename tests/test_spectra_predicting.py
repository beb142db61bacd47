"""The app's predictions with FTIR spectra (issue #20): a model with a spectrum head fuses the spectra stored with an
image, a spectrum attached later makes the image predicted again, and a large folder's first images have their
spectra before they are shown and predicted."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import write_image
from test_spectrum_bundle import _head

from app.services import batches
from app.services import spectra as spectra_service
from app.services.predicting import PredictingService
from app.store import repo
from app.store.db import session_scope
from app.store.records import SPECTRUM_ADDED
from models.bundle.files import read_bundle_manifest
from models.bundle.spectrum import write_spectrum_head
from models.spectra.synth import synth_spectrum, write_jcamp

pytest.importorskip("torch")


def _jdx(path: Path, leaf: str = "particle_organic", seed: int = 0) -> Path:
    wn, a = synth_spectrum(leaf, np.random.default_rng(seed))
    return write_jcamp(path, wn, a, path.stem)


@pytest.fixture()
def fused_bundle(tmp_path, tiny_bundle, taxonomy) -> Path:
    path = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    write_spectrum_head(path, read_bundle_manifest(path), _head(taxonomy))
    return path


def _predict(service: PredictingService, opened) -> dict[str, int]:
    """Predict what is to predict; the spectra each stored prediction fused, by file name."""
    for _chunk in service.predict(service.todo(opened.items)):
        pass
    items = batches.batch_items(service.engine, opened.batch_id, service.info.version)
    return {Path(it.image.path).name: it.prediction.spectra for it in items}


def test_a_model_with_a_spectrum_head_fuses_the_stored_spectra_and_predicts_again_when_one_is_added(
        engine, fused_bundle, tmp_path):
    folder = tmp_path / "lot"
    for k in range(3):
        write_image(folder / f"P{k}.png", seed=k)
    _jdx(folder / "P0.jdx")
    _jdx(folder / "P2.jdx", seed=1)
    _jdx(folder / "P2.spot2.jdx", seed=2)
    service = PredictingService(engine)
    assert service.load(fused_bundle).fuses_spectra
    opened = batches.open_folder(engine, folder, model_version=service.info.version)
    assert _predict(service, opened) == {"P0.png": 1, "P1.png": 0, "P2.png": 2}
    again = batches.open_folder(engine, folder, model_version=service.info.version)
    assert service.todo(again.items) == []  # nothing changed: nothing to predict
    _jdx(folder / "P1.jdx", seed=3)  # measured since: its image is predicted again, with it
    again = batches.open_folder(engine, folder, model_version=service.info.version)
    stale = service.todo(again.items)
    assert [Path(p).name for _i, p in stale] == ["P1.png"]
    assert {Path(it.image.path).name: it.prediction.calibration for it in again.items}["P1.png"] == SPECTRUM_ADDED
    assert _predict(service, again) == {"P0.png": 1, "P1.png": 1, "P2.png": 2}
    p0 = next(it for it in again.items if it.image.path.endswith("P0.png"))
    with session_scope(engine) as s:  # decided: a spectrum measured since leaves its prediction as it was routed
        decision = repo.record_judgment(s, image_id=p0.image.image_id, leaf="scratch", action="picker",
                                        analyst="dora")
    stamp = {it.image.path: it.prediction.calibration for it in batches.batch_items(engine, opened.batch_id)}
    _jdx(folder / "P0.spot2.jdx", seed=4)
    again = batches.open_folder(engine, folder, model_version=service.info.version)
    assert service.todo(again.items) == []
    assert {it.image.path: it.prediction.calibration for it in again.items} == stamp
    assert {it.image.path: it.prediction.calibration
            for it in batches.batch_items(engine, opened.batch_id)} == stamp  # in the store too
    with session_scope(engine) as s:  # undone: waiting again, so the spectrum that came meanwhile counts now
        repo.revert_judgment(s, decision.id, analyst="dora")
    again = batches.open_folder(engine, folder, model_version=service.info.version)
    assert [Path(p).name for _i, p in service.todo(again.items)] == ["P0.png"]
    assert _predict(service, again) == {"P0.png": 2, "P1.png": 1, "P2.png": 2}


def test_an_image_only_model_ignores_spectra(engine, tiny_bundle, tmp_path):
    folder = tmp_path / "lot"
    write_image(folder / "P0.png")
    _jdx(folder / "P0.jdx")
    service = PredictingService(engine)
    assert not service.load(tiny_bundle).fuses_spectra
    opened = batches.open_folder(engine, folder, model_version=service.info.version)
    assert _predict(service, opened) == {"P0.png": 0}


def test_a_large_new_folder_attaches_its_first_images_spectra_before_handing_them_over(engine, tmp_path):
    folder = tmp_path / "big"
    for k in range(batches.FIRST + 6):
        write_image(folder / f"P{k:03d}.png", size=(16, 16), seed=k)
    _jdx(folder / "P000.jdx")
    _jdx(folder / f"P{batches.FIRST + 2:03d}.jdx")
    seen: dict[str, int] = {}

    def first_part(part) -> None:
        for it in part.items:
            seen[Path(it.image.path).name] = len(spectra_service.spectra_of(engine, it.image.image_id))

    opened = batches.open_folder(engine, folder, first_part=first_part)
    assert seen["P000.png"] == 1 and sum(seen.values()) == 1  # when the first part was shown
    late = next(it for it in opened.items if Path(it.image.path).name == f"P{batches.FIRST + 2:03d}.png")
    assert len(spectra_service.spectra_of(engine, late.image.image_id)) == 1
    assert not [p for p, _why in opened.skipped if p.endswith(".jdx")]


def test_the_panel_says_when_a_prediction_used_a_spectrum(engine, fused_bundle, tmp_path, qtbot):
    from app.services.batch_presenter import BatchPresenter
    from app.ui.prediction_panel import PredictionPanel

    folder = tmp_path / "lot"
    for k in range(2):
        write_image(folder / f"P{k}.png", seed=k)
    _jdx(folder / "P0.jdx")
    service = PredictingService(engine)
    service.load(fused_bundle)
    opened = batches.open_folder(engine, folder, model_version=service.info.version)
    _predict(service, opened)
    presenter = BatchPresenter()
    presenter.set_model("ready", version=service.info.version, taxonomy=service.info.taxonomy)
    presenter.open(batches.open_folder(engine, folder, model_version=service.info.version))
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    headers = []
    for i in range(len(presenter.items)):
        panel.show_data(presenter.panel(i))
        headers.append(panel.path_header.text())
    assert headers == ["Predicted path · image + FTIR spectrum", "Predicted path"]
    presenter.current = 0
    focus = presenter.focus(service.info.version, 2, {})  # the fused prediction's heatmap explains its leaf
    fused = presenter.items[0]
    assert focus.leaves == {fused.image.image_id: fused.prediction.leaf}
    made = {fused.image.image_id: None}  # a heatmap of the image model's Top-1, made before the spectrum came
    assert fused.image.image_id in presenter.focus(service.info.version, 2, made).heatmap
    made = {fused.image.image_id: fused.prediction.leaf}
    assert fused.image.image_id not in presenter.focus(service.info.version, 2, made).heatmap
    heatmap, kind = service.heatmap(fused.image.path, leaf=fused.prediction.leaf)
    assert kind == "gradcam" and heatmap.shape == service.predictor.input_size


def test_an_image_undone_in_the_window_is_predicted_again_with_the_spectrum_that_came_while_it_was_decided(
        qtbot, engine, fused_bundle, tmp_path, monkeypatch):
    from conftest import open_window
    from PySide6.QtCore import Qt

    folder = tmp_path / "lot"
    for k in range(2):
        write_image(folder / f"P{k}.png", seed=k)
    win = open_window(qtbot, engine, fused_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        first = win.items[0]
        assert first.prediction.spectra == 0
        qtbot.waitUntil(lambda: first.image.image_id in win.images.heatmaps, timeout=60_000)
        assert win.images.heatmaps[first.image.image_id][2] is None  # the image model's Top-1
        qtbot.keyClick(win, Qt.Key.Key_Return)  # accepted
        qtbot.waitUntil(lambda: win.items[0].judgment is not None)
        # its spectrum comes meanwhile (another workstation, a re-open)
        left_out, changed = spectra_service.attach_pairs(engine, {Path(first.image.path): [_jdx(folder / "P0.jdx")]})
        assert left_out == [] and changed == {first.image.image_id}
        with session_scope(engine, action="read") as s:  # decided: its prediction keeps the stamp it was routed by
            assert not repo.marked_for_spectra(s, first.image.image_id, win.model.version)
        win.select(0)
        with qtbot.waitSignal(win.allPredicted, timeout=60_000):  # undone: waiting again, so it is predicted again
            qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert win.items[0].judgment.status == "reverted"
        assert win.items[0].prediction.spectra == 1 and win.items[0].prediction.calibration != SPECTRUM_ADDED
        assert win.presenter.todo(win.model.version) == []
        # the heatmap on screen is made again: it explains the fused leaf (which the spectrum may have changed)
        leaf = win.items[0].prediction.leaf
        qtbot.waitUntil(lambda: win.images.heatmaps[first.image.image_id][2] == leaf, timeout=60_000)
        qtbot.waitUntil(lambda: win.viewer.has_heatmap and not win.viewer.heatmap_pending, timeout=10_000)
    finally:
        win.close()


def test_a_spectrum_measured_since_a_folder_was_opened_is_fused_when_the_window_opens_it_again(
        qtbot, engine, fused_bundle, tmp_path, monkeypatch):
    """Opened again, the batch is on screen as stored before the folder is read; the spectrum found beside an image
    shown so brings the whole batch again, that image marked, and the window predicts it again with it."""
    from conftest import open_window

    folder = tmp_path / "lot"
    for k in range(3):
        write_image(folder / f"P{k}.png", seed=k)
    win = open_window(qtbot, engine, fused_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        assert [it.prediction.spectra for it in win.items] == [0, 0, 0]
        _jdx(folder / "P1.jdx", seed=3)  # measured since
        win.open_folder(folder)
        qtbot.waitUntil(lambda: win.items[1].prediction is not None and win.items[1].prediction.spectra == 1,
                        timeout=120_000)
        assert [it.prediction.spectra for it in win.items] == [0, 1, 0] and len(win.items) == 3
        assert win.presenter.todo(win.model.version) == []
    finally:
        win.close()


def test_a_spectrum_attached_while_its_image_was_predicted_marks_that_prediction(engine, fused_bundle, tmp_path,
                                                                                monkeypatch):
    """The model asked which images have spectra before the folder's were stored (a known folder is shown, and
    predicted, while it is read again): the prediction it stores without the spectrum is marked, so the image is
    predicted again with it (it stayed unfused for good)."""
    folder = tmp_path / "lot"
    for k in range(2):
        write_image(folder / f"P{k}.png", seed=k)
    service = PredictingService(engine)
    service.load(fused_bundle)
    opened = batches.open_folder(engine, folder, model_version=service.info.version)
    p1 = next(it for it in opened.items if it.image.path.endswith("P1.png"))
    left_out, changed = spectra_service.attach_pairs(engine, {Path(p1.image.path): [_jdx(folder / "P1.jdx")]})
    assert left_out == [] and changed == {p1.image.image_id}
    monkeypatch.setattr(service, "_spectra_of", lambda _ids, _handed: lambda _i, _name: [])  # asked before
    stored = dict(pair for chunk in service.predict(service.todo(opened.items)) for pair in chunk.items)
    assert stored[p1.image.image_id].calibration == SPECTRUM_ADDED and stored[p1.image.image_id].spectra == 0
    assert stored[opened.items[0].image.image_id].calibration != SPECTRUM_ADDED  # no spectrum: as routed
    again = batches.batch_items(engine, opened.batch_id, service.info.version)
    assert [Path(p).name for _i, p in service.todo(again)] == ["P1.png"]
    monkeypatch.undo()
    assert _predict(service, opened) == {"P0.png": 0, "P1.png": 1}  # predicted again, with its spectrum
