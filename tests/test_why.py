""""Why this type?": W and the Top-5 rows' ? buttons show the evidence for one leaf, then the attention again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_bundle, open_window, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


@pytest.fixture(scope="module")
def bundle(request, tmp_path_factory, taxonomy) -> Path:
    """A tiny network of the family the test names (``family`` parameter; ConvNeXt without CBAM by default)."""
    family = getattr(request, "param", "convnext")
    return make_tiny_bundle(tmp_path_factory.mktemp("why") / family, taxonomy, family=family)


@pytest.fixture()
def window(qtbot, engine, bundle, tmp_path, monkeypatch):
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    folder = tmp_path / "batch"
    for i in range(3):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    with qtbot.waitSignal(win.allPredicted, timeout=120_000):
        win.open_folder(folder)
    qtbot.waitUntil(lambda: win.viewer.has_heatmap, timeout=60_000)
    yield win
    win.close()


def _w(qtbot, win, leaf: str | None) -> None:
    """Press W; wait for the explanation of ``leaf`` (None: the attention heatmap comes back at once)."""
    if leaf is None:
        qtbot.keyClick(win, Qt.Key.Key_W)
        QApplication.processEvents()
        return
    with qtbot.waitSignal(win.worker.explained, timeout=60_000,
                          check_params_cb=lambda _i, explained_leaf, _m: explained_leaf == leaf):
        qtbot.keyClick(win, Qt.Key.Key_W)
    QApplication.processEvents()


@pytest.mark.parametrize("bundle", ["convnext", "resnet_cbam"], indirect=True)
def test_w_steps_through_the_top5_and_back_to_the_attention(qtbot, window, bundle):
    win = window
    cbam = json.loads((bundle / "manifest.json").read_text())["name"] == "tiny-resnet_cbam"
    assert win.images.heatmaps[win.current_image_id][1] == ("cbam" if cbam else "gradcam")
    attention = win.viewer.heatmap_caption
    assert attention.startswith("Attention (CBAM)" if cbam else "Where the model looked (LayerCAM)")
    top5 = win.presenter.panel(win.current).top5
    assert len(top5) == 5
    maps = []
    for k, entry in enumerate(top5, start=1):
        _w(qtbot, win, entry.leaf)
        assert win.why.k == k and win.why.leaf == entry.leaf
        assert win.viewer.heatmap_caption.startswith(f"Why {entry.name}? (Top-{k}, LayerCAM)")
        assert win.viewer.has_heatmap and not win.viewer.heatmap_pending
        maps.append(win.why.maps[(win.current_image_id, entry.leaf)])
    assert all(m.shape == maps[0].shape and m.min() >= 0 and m.max() <= 1 for m in maps)
    _w(qtbot, win, None)  # after Top-5: the attention heatmap again
    assert win.why.k == 0 and win.viewer.heatmap_caption == attention
    # going back to an explanation already computed is instant (no new request to the model thread)
    _w(qtbot, win, None)
    assert win.why.k == 1 and win.viewer.heatmap_caption.startswith(f"Why {top5[0].name}?")


def test_the_question_button_explains_its_row_another_image_resets_and_why_shows_a_hidden_heatmap(qtbot, window):
    win = window
    entry = win.presenter.panel(win.current).top5[2]
    why_button = win.panel.top_rows[2][4]
    assert why_button.isVisible()
    with qtbot.waitSignal(win.worker.explained, timeout=60_000,
                          check_params_cb=lambda _i, leaf, _m: leaf == entry.leaf):
        qtbot.mouseClick(why_button, Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    assert win.viewer.heatmap_caption.startswith(f"Why {entry.name}? (Top-3")
    explained = win.why.maps[(win.current_image_id, entry.leaf)]
    shown_before = win.current_image_id
    qtbot.keyClick(win, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: win.current_image_id != shown_before and win.viewer.has_heatmap, timeout=60_000)
    assert win.why.k == 0 and not win.viewer.heatmap_caption.startswith("Why")
    assert isinstance(explained, np.ndarray)
    # asking why turns a hidden heatmap on
    qtbot.keyClick(win, Qt.Key.Key_H)
    assert not win.toolbar.act_heat.isChecked() and win.viewer.heatmap_caption == ""
    _w(qtbot, win, win.presenter.panel(win.current).top5[0].leaf)
    assert win.toolbar.act_heat.isChecked() and win.viewer.heatmap_caption.startswith("Why ")


def test_another_model_loaded_mid_explanation_leaves_no_computing_caption(qtbot, window, tmp_path, taxonomy):
    """W, then another model (Ctrl+Enter on the team's banner): the old model's "Why …? computing…" stayed over the
    image for good (its run was cancelled); the new model's attention comes instead, and no old explanation is kept."""
    win = window
    entry = win.presenter.panel(win.current).top5[0]
    win.worker.explain = lambda *_a: None  # the request is lost, as a cancelled run loses it
    qtbot.keyClick(win, Qt.Key.Key_W)
    assert win.viewer.heatmap_pending and win.viewer.heatmap_caption.startswith(f"Why {entry.name}?")
    win.why.maps[(win.current_image_id, "stale")] = np.zeros((4, 4))
    other = make_tiny_bundle(tmp_path / "other", taxonomy, seed=5)
    with qtbot.waitSignal(win.allPredicted, timeout=120_000):
        win.load_model(other)
    qtbot.waitUntil(lambda: win.viewer.has_heatmap and not win.viewer.heatmap_pending, timeout=60_000)
    assert not win.why.active and not win.why.maps
    assert not win.viewer.heatmap_caption.startswith("Why")
