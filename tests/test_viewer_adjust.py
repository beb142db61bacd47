"""Display adjustments of the viewer (issue #18): brightness, contrast, gamma by key, reset with R, and the zoom and
adjustments written over the image."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt

from app.ui.viewer import NEUTRAL, ImageViewer, adjust_lut, array_to_qimage


def test_the_lookup_table_is_the_identity_when_neutral_and_moves_each_way() -> None:
    assert np.array_equal(adjust_lut(*NEUTRAL), np.arange(256))
    brighter, darker = adjust_lut(0.1, 1.0, 1.0), adjust_lut(-0.1, 1.0, 1.0)
    assert brighter[100] == 100 + 26 and darker[100] == 100 - 26 and brighter[255] == 255 and darker[0] == 0
    steeper = adjust_lut(0.0, 2.0, 1.0)
    assert steeper[64] < 64 and steeper[192] > 192 and steeper[128] == 128  # about mid-grey
    assert adjust_lut(0.0, 1.0, 2.0)[64] > 64  # gamma > 1 lifts the shadows


def _pixel(viewer: ImageViewer, x: int = 5, y: int = 5) -> tuple[int, int, int]:
    c = viewer._image.pixmap().toImage().pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def test_the_viewer_adjusts_the_display_only_and_keeps_it_for_the_next_image(qtbot) -> None:
    viewer = ImageViewer()
    qtbot.addWidget(viewer)
    viewer.resize(400, 300)
    viewer.show()
    rgb = np.full((40, 60, 3), (100, 50, 200), dtype=np.uint8)
    image = array_to_qimage(rgb)
    viewer.set_image(image)
    assert _pixel(viewer) == (100, 50, 200) and viewer.info_text().endswith("%")
    viewer.nudge("brightness", 2)  # +10 %
    lut = adjust_lut(0.1, 1.0, 1.0)
    assert _pixel(viewer) == (lut[100], lut[50], lut[200]) == (126, 75, 226)
    assert "brightness +10%" in viewer.info_text()
    assert image.pixelColor(5, 5).red() == 100  # the decoded image itself is untouched
    viewer.set_image(array_to_qimage(np.full((40, 60), 100, dtype=np.uint8)))  # a grayscale image: same display
    assert _pixel(viewer)[0] == 126
    viewer.nudge("contrast", 1)
    viewer.nudge("gamma", -1)
    assert "contrast ×1.10" in viewer.info_text() and "gamma 0.91" in viewer.info_text()
    viewer.set_adjustments()
    assert viewer.adjustments == NEUTRAL and _pixel(viewer)[0] == 100 and "R resets" not in viewer.info_text()
    with pytest.raises(ValueError, match="unknown adjustment"):
        viewer.nudge("hue", 1)


def test_the_keys_reach_the_viewer(qtbot, engine, tiny_bundle, tmp_path, monkeypatch) -> None:
    from conftest import open_window, write_image

    folder = tmp_path / "b"
    write_image(folder / "a.png", size=(64, 48))
    win = open_window(qtbot, engine, tiny_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        for key, mod in ((Qt.Key.Key_B, Qt.KeyboardModifier.NoModifier), (Qt.Key.Key_K, Qt.KeyboardModifier.NoModifier),
                         (Qt.Key.Key_G, Qt.KeyboardModifier.ShiftModifier)):
            qtbot.keyClick(win, key, mod)
        assert win.viewer.adjustments == (0.05, 1.1, 0.91)
        qtbot.keyClick(win, Qt.Key.Key_R)
        assert win.viewer.adjustments == NEUTRAL
    finally:
        win.close()


def test_the_scale_bar_has_a_round_length_near_its_target_size() -> None:
    from app.ui.viewer import length_text, nice_scale, pixel_size_um

    assert pixel_size_um(20, 3.45) == pytest.approx(0.1725)
    assert pixel_size_um(None, 3.45) is None and pixel_size_um(20, None) is None and pixel_size_um(20, 0) is None
    um, px = nice_scale(0.1725, 1.0)  # 120 screen px = 20.7 µm at 100 %: a 20 µm bar
    assert um == 20 and px == pytest.approx(20 / 0.1725)
    um, px = nice_scale(0.1725, 0.25)  # zoomed out 4x: 82.8 µm wanted, 50 µm drawn
    assert um == 50 and px == pytest.approx(50 / 0.1725 * 0.25) and px <= 120
    assert nice_scale(1.0, 1.0, 100)[0] == 100 and nice_scale(3.0, 1.0, 100)[0] == 200
    assert length_text(2000) == "2 mm" and length_text(0.5) == "0.5 µm" and length_text(50) == "50 µm"


def test_the_app_draws_a_scale_bar_for_images_of_known_magnification(qtbot, engine, tiny_bundle, tmp_path,
                                                                     monkeypatch) -> None:
    from conftest import open_window, write_image
    from PySide6.QtWidgets import QInputDialog

    folder = tmp_path / "b"
    write_image(folder / "a_20x.png", size=(64, 48))
    write_image(folder / "b.png", size=(64, 48), seed=1)  # no magnification known: no scale bar
    win = open_window(qtbot, engine, tiny_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        win.select(0)
        qtbot.waitUntil(lambda: win.viewer.has_image, timeout=10_000)
        assert win.viewer.scale_bar() is None  # no camera pixel size set yet
        monkeypatch.setattr(QInputDialog, "getDouble", lambda *a, **k: (3.45, True))
        win.edit_pixel_size()
        assert win.settings.value("viewer/camera_pixel_um") in (3.45, "3.45")
        um, px = win.viewer.scale_bar()
        assert um / px == pytest.approx(3.45 / 20 / win.viewer.transform().m11())
        before = win.viewer.grab().toImage()
        win.viewer.zoom(2.0)
        assert win.viewer.scale_bar() != (um, px) and before.size().isValid()
        win.select(1)
        qtbot.waitUntil(lambda: win.current_image_id == win.items[1].image.image_id and win.viewer.has_image,
                        timeout=10_000)
        assert win.viewer.scale_bar() is None
    finally:
        win.close()


def test_a_large_image_is_shown_through_its_preview_until_a_zoom_needs_its_pixels(qtbot, tmp_path) -> None:
    """A 6000 x 4000 image's own pixmap took 130 ms of the UI thread per image (a held Down lost keys): it is shown
    through a copy made in the decoding thread, in the image's own coordinates (the heatmap, the side-by-side and
    the zoom say the image's pixels), until a zoom needs more pixels than the copy has."""
    from PIL import Image

    from app.ui import image_cache

    path = tmp_path / "camera.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (4400, 6600, 3), dtype=np.uint8)).save(path)
    image, why, _facts, preview = image_cache.decode_with_facts(str(path))
    assert why is None and (image.width(), image.height()) == (6600, 4400)
    assert (preview.width(), preview.height()) == (2200, 1467)  # reduced by 3 in the decoding thread
    small = tmp_path / "small.png"
    Image.new("RGB", (3000, 2000)).save(small)
    assert image_cache.decode_with_facts(str(small))[3] is None  # under twice the preview's side: itself
    viewer = ImageViewer()
    qtbot.addWidget(viewer)
    viewer.resize(900, 700)
    viewer.show()
    viewer.set_image(image, preview=preview)
    assert viewer.showing_preview and viewer._image.pixmap().width() == 2200
    assert viewer.scene().sceneRect().size().toSize().width() == 6600  # the image's own pixels
    viewer.set_heatmap(np.ones((32, 32), np.float32))
    assert viewer._heat.sceneBoundingRect().width() == pytest.approx(6600)
    viewer.set_side_by_side(True)
    assert viewer.scene().sceneRect().width() == pytest.approx(2 * 6600 + 40, abs=60)
    viewer.set_side_by_side(False)
    viewer.zoom(2.0)  # still fewer screen pixels than the preview has
    assert viewer.showing_preview
    viewer.zoom_actual()  # 100 %: the image's own pixels
    assert not viewer.showing_preview and viewer._image.pixmap().width() == 6600
    viewer.set_image(image, preview=preview)  # the next image, still at 100 %: its own pixels
    assert not viewer.showing_preview
    viewer.fit()
    viewer.set_image(image, preview=preview)  # fitted again: the next image through its preview
    assert viewer.showing_preview


def test_plus_never_zooms_a_tiny_image_out(qtbot) -> None:
    """A 1x1 image fitted at 42100 %: "+" dropped it to 4000 % (the step was clipped to the 40x bound). Past a bound a
    step that way does nothing; the other way it steps as usual (analyst's walk-through at 125 %)."""
    viewer = ImageViewer()
    qtbot.addWidget(viewer)
    viewer.resize(400, 300)
    viewer.show()
    viewer.set_image(array_to_qimage(np.full((1, 1, 3), 90, dtype=np.uint8)))
    viewer.fit()
    fitted = viewer.transform().m11()
    assert fitted > 40
    viewer.zoom(1.25)
    assert viewer.transform().m11() == pytest.approx(fitted)  # not out
    viewer.zoom(0.8)
    assert viewer.transform().m11() == pytest.approx(fitted * 0.8)  # "-" still zooms out
