"""Decoding with a budget: image bombs are refused from their header, only regular files are opened, and a
folder with a bad file still opens with every good image (issue #13, first part)."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, write_image
from PIL import Image

from models import imageio
from models.imageio import ImageLoadError, load_image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(path: Path, width: int, height: int, *, rows: int | None = None) -> Path:
    """A grayscale PNG of ``width`` x ``height`` black pixels, streamed (never held in memory); ``rows`` limits
    the pixel data written (a header-only bomb when small: enough for a refusal from the header)."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    with path.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)))
        data = b"".join(comp.compress(row) for _ in range(height if rows is None else rows)) + comp.flush()
        fh.write(_chunk(b"IDAT", data) + _chunk(b"IEND", b""))
    return path


def test_an_image_over_the_budget_is_refused_from_its_header(tmp_path: Path) -> None:
    from app.services.batches import header_size

    bomb = png_bomb(tmp_path / "bomb.png", 40000, 40000, rows=2)
    with pytest.raises(ImageLoadError, match=r"image too large: 40000 x 40000 pixels \(1600 million\)"):
        load_image(bomb)
    width, height, reason = header_size(bomb)
    assert (width, height) == (40000, 40000) and "image too large" in reason
    small = write_image(tmp_path / "ok.png", size=(64, 48))
    assert header_size(small) == (64, 48, None)


def test_opening_reads_a_png_size_from_its_first_bytes_as_pillow_does(tmp_path: Path) -> None:
    """The folder reader takes a PNG's size from its IHDR chunk (no Pillow): the same size and budget reason as
    the header read; a PNG whose IHDR does not check goes to Pillow, which names the problem."""
    from app.services.batches import header_size
    from app.services.file_facts import png_size, read_facts

    bomb = png_bomb(tmp_path / "bomb.png", 40000, 40000, rows=2)
    small = write_image(tmp_path / "ok.png", size=(64, 48))
    bad = tmp_path / "bad_crc.png"
    data = bytearray(small.read_bytes())
    data[30] ^= 0xFF  # the IHDR chunk's CRC
    bad.write_bytes(bytes(data))
    assert png_size(bomb.read_bytes()[:64]) == (40000, 40000) and png_size(bytes(data)) is None
    for path in (bomb, small, bad):
        sha, width, height, reason, size, _mtime = read_facts([str(path)])[0]
        assert (width, height, reason) == header_size(path) and size == path.stat().st_size
        assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    assert read_facts([str(bad)])[0][3] is not None  # Pillow refuses it, with the reason


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory read from /proc (Linux)")
def test_a_real_20000_pixel_png_is_refused_without_decoding_it(tmp_path: Path) -> None:
    """The 388 KB PNG of the issue (4.6 GB when decoded): refused, and the process stays small."""
    bomb = png_bomb(tmp_path / "bomb20k.png", 20000, 20000)
    assert bomb.stat().st_size < 1_000_000
    # peak memory of this process alone (VmHWM; ru_maxrss would carry the forking parent's peak across exec)
    code = ("import sys; from models.imageio import load_image, ImageLoadError\n"
            "try:\n    load_image(sys.argv[1]); print('decoded')\n"
            "except ImageLoadError as e:\n    print('refused', e.reason)\n"
            "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0]\n"
            "print(int(hwm.split()[1]) // 1024)")
    res = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    out = res.stdout.splitlines()
    assert out[0].startswith("refused image too large: 20000 x 20000"), res.stdout + res.stderr
    assert int(out[1]) < 400, f"peak RSS {out[1]} MB"


def test_a_header_between_pillows_limit_and_twice_it_is_refused_without_a_warning_on_stderr(tmp_path: Path) -> None:
    """60000 x 60000 (3,600 million pixels): Pillow warns above 2,048 million and refuses above twice it; the
    budget refuses it first with a reason, and Pillow's DecompressionBombWarning no longer reaches the terminal."""
    bomb = png_bomb(tmp_path / "bomb60k.png", 60000, 60000, rows=2)
    code = ("import sys; from models.imageio import load_image, ImageLoadError\n"
            "from app.services.batches import header_size\n"
            "from pathlib import Path\nprint(header_size(Path(sys.argv[1]))[2])\n"
            "try:\n    load_image(sys.argv[1])\nexcept ImageLoadError as e:\n    print(e.reason)\n")
    res = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert [line.startswith("image too large: 60000 x 60000") for line in res.stdout.splitlines()] == [True, True], \
        res.stdout + res.stderr
    assert "DecompressionBombWarning" not in res.stderr, res.stderr


def test_a_jpeg_over_the_budget_is_decoded_smaller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (400, 300), (90, 120, 150)).save(path, quality=90)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 40_000)  # 400 x 300 is three times over; 1/2 scale fits
    img = load_image(path)
    assert img.size == (200, 150)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 1_000)  # even 1/8 (50 x 37) is over: refused
    with pytest.raises(ImageLoadError, match="image too large"):
        load_image(path)


def test_a_thumbnail_of_a_large_jpeg_is_decoded_small_and_the_models_image_whole(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A thumbnail's JPEG is decoded at the smallest scale that still covers it (1/8 of 2400 x 1600 covers 144 px);
    the model's and the viewer's images are decoded whole; a PNG cannot be, and is; over the budget, the larger of
    the two scales wins."""
    rng = np.random.default_rng(0)
    path = tmp_path / "micrograph.jpg"
    Image.fromarray(rng.integers(0, 255, (1600, 2400, 3), dtype=np.uint8)).save(path, quality=90)
    assert load_image(path).size == (2400, 1600)
    assert load_image(path, side=144).size == (300, 200)
    assert load_image(path, side=250).size == (600, 400)  # 1/8 (200 high) would not cover 250
    assert load_image(path, side=2000).size == (2400, 1600)
    png = tmp_path / "micrograph.png"
    Image.open(path).save(png)
    assert load_image(png, side=144).size == (2400, 1600)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 600 * 400)  # 1/4 to fit; the thumbnail's 1/2 is less
    assert load_image(path, side=700).size == (600, 400)
    from app.ui.image_cache import decode_thumbnail

    thumb, why = decode_thumbnail(str(path), 144)
    assert why is None and (thumb.width(), thumb.height()) == (144, 96)


def test_a_jpeg_too_small_for_the_size_its_header_claims_is_refused(tmp_path: Path) -> None:
    """libjpeg fills missing data with grey and no error: a forged 20000 x 20000 header on a few KB was decoded
    (at 1/8 scale) and classified as a grey square."""
    from app.services.batches import header_size

    good = tmp_path / "good.jpg"
    Image.new("RGB", (64, 48), (90, 120, 150)).save(good, quality=90)
    assert load_image(good).size == (64, 48) and header_size(good)[2] is None  # a plain flat image passes
    data = good.read_bytes()
    at = data.index(b"\xff\xc0")
    forged = tmp_path / "claims.jpg"
    forged.write_bytes(data[:at + 5] + struct.pack(">HH", 20000, 20000) + data[at + 9:])
    with pytest.raises(ImageLoadError, match="cannot hold the 20000 x 20000 pixels its header claims"):
        load_image(forged)
    assert "cannot hold the 20000 x 20000 pixels" in header_size(forged)[2]
    forged.rename(tmp_path / "claims.png")  # the format, not the name, decides
    assert "cannot hold" in header_size(tmp_path / "claims.png")[2]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_named_png_is_refused_at_once(tmp_path: Path) -> None:
    """Opening a FIFO blocks until someone writes: `predict` hung forever on one."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    code = ("import sys; from models.imageio import load_image, ImageLoadError\n"
            "from app.services.batches import header_size\n"
            "try:\n    load_image(sys.argv[1])\nexcept ImageLoadError as e:\n    print(e.reason)\n"
            "print(header_size(__import__('pathlib').Path(sys.argv[1]))[2])")
    res = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert res.stdout.splitlines() == ["not a regular file (a pipe, device or socket)"] * 2, res.stderr


def test_a_dangling_link_and_a_folder_get_their_own_reasons(tmp_path: Path) -> None:
    link = tmp_path / "gone.png"
    link.symlink_to(tmp_path / "missing.png")
    with pytest.raises(ImageLoadError, match="link to a missing file"):
        load_image(link)
    folder = tmp_path / "x.png"
    folder.mkdir()
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_image(folder)


def test_a_file_that_goes_between_its_stat_and_its_read_is_not_reached_not_cut_short(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A share that went away (or dropped) while a file was read: its "file not found" was named "file cut short",
    a reason about the file's content, so the window marked the image unreadable for good and the model never
    predicted it (a CI run caught it: the share renamed while the thumbnails were being read)."""
    image = write_image(tmp_path / "a.png", size=(32, 24))
    for error, reason in ((FileNotFoundError(2, "No such file or directory"), "file not found"),
                          (OSError(5, "Input/output error"), "cannot read the file (Input/output error)")):
        def read_bytes(self, error=error):
            raise error
        with monkeypatch.context() as m:
            m.setattr(Path, "read_bytes", read_bytes)  # (the stat before it passes)
            with pytest.raises(ImageLoadError) as caught:
                load_image(image)
        assert caught.value.reason == reason
        assert imageio.is_reach_reason(reason) and not imageio.is_content_reason(reason)


def test_an_empty_file_is_named_empty_not_a_wrong_format(tmp_path: Path) -> None:
    from app.services.file_facts import header_size

    empty = tmp_path / "cut_20x.png"
    empty.write_bytes(b"")
    for source in (empty, b""):
        with pytest.raises(ImageLoadError) as caught:
            load_image(source)
        assert caught.value.reason == imageio.EMPTY_FILE
    assert header_size(empty) == (None, None, imageio.EMPTY_FILE)  # the batch list says the same
    junk = tmp_path / "junk_20x.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(ImageLoadError, match="not a recognised image format"):
        load_image(junk)
    assert "not a recognised image format" in header_size(junk)[2]


def test_a_folder_with_a_bomb_opens_with_every_good_image(tmp_path: Path, engine) -> None:
    from app.services.batches import open_folder

    folder = tmp_path / "batch"
    folder.mkdir()
    good = [write_image(folder / f"good_{i}.png", size=(64, 48), seed=i) for i in range(3)]
    png_bomb(folder / "bomb.png", 40000, 40000, rows=2)
    opened = open_folder(engine, folder)
    names = {Path(it.image.path).name: it.image.image_id for it in opened.items}
    assert set(names) == {p.name for p in good} | {"bomb.png"}
    assert set(opened.unreadable) == {names["bomb.png"]}
    assert "image too large" in opened.unreadable[names["bomb.png"]]


def _odd_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "odd"
    folder.mkdir()
    write_image(folder / "good.png", size=(64, 48))
    Image.new("RGB", (8, 8)).save(folder / "anim.gif")
    (folder / "photo.webp").write_bytes(b"RIFF....WEBP")
    (folder / "gone.png").symlink_to(folder / "missing.png")
    (folder / "x.png").mkdir()
    (folder / "notes.txt").write_text("not an image: listed too, so nothing is left out unseen")
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.png")
    return folder


def test_every_file_left_out_of_a_batch_is_listed_with_its_reason(tmp_path: Path, engine) -> None:
    from app.services.batches import open_files, open_folder

    folder = _odd_folder(tmp_path)
    opened = open_folder(engine, folder)
    assert [Path(it.image.path).name for it in opened.items] == ["good.png"]
    reasons = {Path(p).name: why for p, why in opened.skipped}
    expected = {"anim.gif": "format not supported (GIF)", "photo.webp": "format not supported (WEBP)",
                "gone.png": "link to a missing file", "x.png": "is a folder", "notes.txt": "not an image (a TXT file)"}
    if hasattr(os, "mkfifo"):
        expected["pipe.png"] = "not a regular file"
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])
    chosen = open_files(engine, [folder / "good.png", folder / "anim.gif", folder / "gone.png"])
    assert [Path(it.image.path).name for it in chosen.items] == ["good.png"]
    assert {Path(p).name for p, _ in chosen.skipped} == {"anim.gif", "gone.png"}


def test_the_window_shows_what_the_batch_left_out(qtbot, engine, tmp_path: Path, monkeypatch) -> None:
    from app.services.judging import JudgingService
    from app.ui.app import open_settings
    from app.ui.main_window import MainWindow

    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    win = MainWindow(JudgingService(engine, "alice"), lang="en", settings=open_settings())
    qtbot.addWidget(win)
    win.show()
    folder = _odd_folder(tmp_path)
    win.open_folder(folder)
    qtbot.waitUntil(lambda: len(win.items) == 1, timeout=30_000)
    n = 6 if hasattr(os, "mkfifo") else 5
    button = win.status.skipped_btn
    assert button.isVisible() and button.text() == f"{n} files not in the batch"
    button.click()
    from PySide6.QtWidgets import QApplication

    dialog = next(w for w in QApplication.topLevelWidgets() if type(w).__name__ == "SkippedDialog" and w.isVisible())
    table = dialog.table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert "anim.gif" in rows and "format not supported" in rows["anim.gif"]
    dialog.close()
    from PySide6.QtCore import Qt  # the keyboard's way to the same list (the button takes no focus)

    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5_000)
    qtbot.keyClick(win, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    keyed = [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "SkippedDialog" and w.isVisible()]
    assert len(keyed) == 1 and keyed[0].table.rowCount() == n
    keyed[0].close()
    notice = win.show_notice("A new, empty database was made")
    other = win.show_notice("Notes kept as drafts")
    assert notice.isVisible() and other.isVisible() and "Dismiss (Esc)" in notice.text()
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5_000)
    qtbot.keyClick(win, Qt.Key.Key_Escape)  # the notices go, as their Dismiss links do
    assert not notice.isVisible() and not other.isVisible()
    # a folder without an image, opened by mistake, says so and leaves the batch on screen as it was: its left-out
    # files' button stayed cleared before (the new folder's count had replaced it)
    said = []
    monkeypatch.setattr(win, "alert", lambda _box, title, _text, *, line: said.append(title))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    batch = win.presenter.batch
    win.open_folder(empty)
    qtbot.waitUntil(lambda: said == ["No images"], timeout=30_000)
    assert win.presenter.batch is batch and button.isVisible() and button.text() == f"{n} files not in the batch"
    assert len(win.skipped) == n
    shown = [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "SkippedDialog" and w.isVisible()]
    assert [w.table.item(0, 0).text() for w in shown] == ["readme.txt"]  # the empty folder's own left-out file
    shown[0].close()
    good = tmp_path / "plain"
    write_image(good / "a.png", size=(32, 32))
    win.open_folder(good)
    qtbot.waitUntil(lambda: not button.isVisible(), timeout=30_000)  # a clean folder clears it
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5_000)
    qtbot.keyClick(win, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert win.statusBar().currentMessage() == "No file was left out of this batch."  # (the key did nothing)
    win.close()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_predict_gives_a_pipe_in_a_folder_its_row_and_goes_on(tiny_bundle, tmp_path: Path, capsys) -> None:
    import json

    from models.commands.cli import main as cli_main

    folder = tmp_path / "f"
    write_image(folder / "a.png", size=(64, 48))
    os.mkfifo(folder / "b.png")
    rc = cli_main(["predict", str(tiny_bundle), str(folder), "--json"])
    rows = {Path(r["file"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rc == 1 and set(rows) == {"a.png", "b.png"}
    assert rows["a.png"]["error"] is None and "not a regular file" in rows["b.png"]["error"]


def test_wrong_invocations_are_one_line_never_a_traceback(tiny_bundle, tmp_path: Path) -> None:
    """#13: `--device banana`, a GPU this machine lacks, `--heatmaps` on a file, `export --db 'not a url'`."""
    image = write_image(tmp_path / "a.png", size=(64, 48))
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    runs = {
        "banana": (["-m", "models.commands.cli", "predict", str(tiny_bundle), str(image), "--device", "banana"],
                   "'banana' is not a device"),
        "cuda:7": (["-m", "models.commands.cli", "predict", str(tiny_bundle), str(image), "--device", "cuda:7"],
                   "cuda:7 is not available"),
        "heatmaps": (["-m", "models.commands.cli", "predict", str(tiny_bundle), str(image), "--heatmaps",
                      str(a_file)], "is a file, not a folder"),
        "db": (["-m", "app", "export", "--db", "postgresql:/not a url", "--out", str(tmp_path / "x.csv"), "--format",
                "csv"], "Cannot use the database 'postgresql:/not a url': it is neither a URL"),
    }
    for name, (argv, words) in runs.items():
        res = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert res.returncode != 0 and "Traceback" not in res.stderr, (name, res.stderr[-2000:])
        assert words in res.stderr, (name, res.stderr[-2000:])


def test_a_picture_file_is_decoded_only_while_it_holds_its_picture(tmp_path) -> None:
    """The model reads an image's file as a :class:`PictureFile`: another picture written over it is refused."""
    from models.hashing import file_sha256
    from models.imageio import OTHER_PICTURE, PictureFile
    from models.routing.policy import image_key

    path = tmp_path / "a.png"
    Image.new("L", (20, 10), 40).save(path)
    known = PictureFile(path, file_sha256(path))
    assert known == str(path) and Path(known).name == "a.png"
    assert load_image(known).size == (20, 10) and image_key(known) == file_sha256(path)
    Image.new("L", (20, 10), 200).save(path)
    with pytest.raises(ImageLoadError) as err:
        load_image(known)
    assert err.value.reason == OTHER_PICTURE
    assert load_image(str(path)).getpixel((0, 0)) == (200, 200, 200)  # a plain path: whatever the file holds


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_a_picture_taken_sideways_is_seen_upright_as_a_viewer_shows_it(tmp_path: Path, suffix: str) -> None:
    """EXIF orientation 6 (a camera turned a quarter): the app showed, and the model judged, the picture lying on
    its side, where the analyst's image viewer showed it upright. The model, the screen and training all decode
    through load_image, so they turn it alike; the image's facts give the size it is shown at."""
    from models.imageio import image_facts

    stored = Image.new("RGB", (60, 20), (0, 0, 0))
    stored.paste((255, 255, 255), (0, 0, 10, 20))  # white at the stored picture's left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: the left edge at the top
    path = tmp_path / f"sideways{suffix}"
    stored.save(path, exif=exif.tobytes(), **({"quality": 95} if suffix == ".jpg" else {}))
    shown = load_image(path)
    assert shown.size == (20, 60)
    arr = np.asarray(shown)
    assert arr[:8].mean() > 200 and arr[-40:].mean() < 30  # the white band on top
    facts = image_facts(path)
    assert (facts.width, facts.height) == (20, 60)
    upright = tmp_path / f"upright{suffix}"
    stored.save(upright)  # no orientation: as stored
    assert load_image(upright).size == (60, 20) and (image_facts(upright).width, image_facts(upright).height) == (60, 20)
