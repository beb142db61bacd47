"""The details line of the image on screen: size, bit depth, magnification, file size, capture time (issue #18)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.imageio import ImageFacts, image_facts, magnification_in


def test_magnification_is_read_from_a_name_or_a_description() -> None:
    assert magnification_in("P001_20x") == 20.0 and magnification_in("lot 7 at 50X") == 50.0
    assert magnification_in("mag 2.5 ×") == 2.5
    assert magnification_in("box12x3") is None and magnification_in("P0012") is None and magnification_in("") is None


def test_facts_of_a_png_and_of_a_16_bit_tiff_with_tags(tmp_path: Path) -> None:
    png = tmp_path / "P001_20x.png"
    Image.fromarray(np.zeros((30, 40, 3), dtype=np.uint8)).save(png)
    facts = image_facts(png)
    assert (facts.width, facts.height, facts.bits, facts.colour) == (40, 30, 8, "RGB")
    assert (facts.magnification, facts.magnification_from, facts.taken_from) == (20.0, "name", "file")
    assert facts.file_bytes == png.stat().st_size
    tif = tmp_path / "scan_10x.tif"
    img = Image.fromarray(np.zeros((20, 25), dtype=np.uint16))
    exif = Image.Exif()
    exif[270] = "objective: 50x, NA 0.8"
    exif[306] = "2026:11:28 14:03:22"
    img.save(tif, exif=exif)
    facts = image_facts(tif)
    assert (facts.bits, facts.colour, facts.magnification, facts.magnification_from) == (16, "grayscale", 50.0, "tiff")
    assert (facts.taken, facts.taken_from) == ("2026-11-28 14:03", "exif")
    with pytest.raises(OSError):
        image_facts(tmp_path / "missing.png")


def _png_rgb16(path: Path, w: int = 2, h: int = 2) -> Path:
    """A 16-bit-per-channel RGB PNG, written by hand (Pillow decodes it as 8-bit RGB)."""
    import struct
    import zlib

    rows = b"".join(b"\x00" + np.full((w, 3), 40000, ">u2").tobytes() for _ in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


def test_the_bit_depth_is_the_files_not_the_decoded_modes(tmp_path: Path) -> None:
    assert (image_facts(_png_rgb16(tmp_path / "rgb16.png")).bits, Image.open(tmp_path / "rgb16.png").mode) == (16, "RGB")
    Image.new("1", (8, 8)).save(tmp_path / "bw.png")
    facts = image_facts(tmp_path / "bw.png")
    assert (facts.bits, facts.colour) == (1, "black and white")


def test_the_panel_writes_the_details_line(qtbot) -> None:
    pytest.importorskip("pytestqt")
    from app.ui.prediction_panel import PredictionPanel, facts_text

    facts = ImageFacts(width=1024, height=768, bits=8, colour="grayscale", file_bytes=412_000, magnification=20.0,
                       magnification_from="name", taken="2026-11-28 14:03", taken_from="exif")
    assert facts_text(facts) == ("1024 × 768 px · 8-bit grayscale · 20× (from the file name) · 412 KB · "
                                 "taken 2026-11-28 14:03")
    import dataclasses  # a file under 1 KB says its bytes (69 bytes read "1 KB"); 1.2 MB in MB

    assert " · 69 B · " in facts_text(dataclasses.replace(facts, file_bytes=69))
    assert " · 1.2 MB · " in facts_text(dataclasses.replace(facts, file_bytes=1_230_000))
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    panel.set_facts(facts)
    assert panel.facts.isVisibleTo(panel) and panel.facts.text().startswith("1024 × 768 px")
    panel.set_facts(None)
    assert not panel.facts.isVisibleTo(panel)


def test_the_window_shows_the_details_of_the_image_on_screen(qtbot, engine, tiny_bundle, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    from conftest import open_window, write_image

    folder = tmp_path / "lot"
    write_image(folder / "A_50x.png", size=(64, 48))
    win = open_window(qtbot, engine, tiny_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        qtbot.waitUntil(lambda: win.panel.facts.text() != "", timeout=10_000)
        assert win.panel.facts.text().startswith("64 × 48 px · 8-bit RGB · 50× (from the file name)")
    finally:
        win.close()
