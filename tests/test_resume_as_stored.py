"""A folder opened before is on screen as the store holds it before its files are read again (a 20,000-image folder
waited 2 s of ``stat``s, a 100,000-image one 18 s); the folder's new files follow as they are registered, and a row
whose file was renamed meanwhile is handed over again with its new path, keeping what was judged on screen."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from conftest import make_tiny_bundle, open_window, wait_on_screen, write_image

from app.services import batches
from app.services.batch_presenter import BatchPresenter
from app.store import repo
from app.store.db import session_scope
from app.store.records import FILE_REPLACED


def _folder(root: Path, n: int = 5) -> Path:
    for i in range(n):
        write_image(root / f"img_{i}.png", size=(24, 20), seed=i)
    return root


def _names(items) -> list[str]:
    return [Path(it.image.path).name for it in items]


def _opened(qtbot, engine, tmp_path, bundle, monkeypatch):
    """The window with ``lot``'s five images opened, predicted, on the first."""
    folder = _folder(tmp_path / "lot")
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    with qtbot.waitSignal(win.allPredicted, timeout=120_000):
        win.open_folder(folder)
    win.select(0)
    return folder, win


def _elsewhere(qtbot, win, folder: Path) -> None:
    """Another batch on screen meanwhile (so that the folder is opened again, not resumed as it is)."""
    win.open_files([folder / "img_4.png"])
    qtbot.waitUntil(lambda: len(win.items) == 1, timeout=20_000)


def test_a_known_folder_is_handed_over_as_stored_before_any_file_is_read(engine, tmp_path, monkeypatch) -> None:
    folder = _folder(tmp_path / "lot")
    opened = batches.open_folder(engine, folder)
    with session_scope(engine) as s:
        repo.record_judgment(s, image_id=opened.items[1].image.image_id, leaf="scratch", action="picker",
                             analyst="amy", batch_id=opened.batch_id)
    write_image(folder / "img_5.png", size=(24, 20), seed=5)  # the line added two images since
    write_image(folder / "img_6.png", size=(24, 20), seed=6)
    events: list = []
    real_scan = batches.scan_folder
    monkeypatch.setattr(batches, "scan_folder", lambda *a, **k: (events.append("listed"), real_scan(*a, **k))[1])
    again = batches.open_folder(engine, folder, first_part=events.append)
    stored = events[0]
    assert events[1] == "listed" and not stored.continues  # the stored batch came before the folder was listed
    assert _names(stored.items) == [f"img_{i}.png" for i in range(5)] and stored.batch_id == opened.batch_id
    assert stored.items[1].judgment is not None and stored.items[1].judgment.leaf == "scratch"
    assert again.continues and _names(again.items) == ["img_5.png", "img_6.png"]  # what is new follows
    assert [it.image.position for it in again.items] == [5, 6]
    events.clear()
    nothing = batches.open_folder(engine, folder, first_part=events.append)
    assert len(events[0].items) == 7 and nothing.continues and nothing.items == []  # nothing new: nothing more
    without = batches.open_folder(engine, folder)  # without parts (the command line): the whole batch, as before
    assert _names(without.items) == [f"img_{i}.png" for i in range(7)] and not without.continues


def test_many_new_files_of_a_known_folder_follow_in_parts(engine, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(batches, "STEP", 16)
    folder = _folder(tmp_path / "lot", 3)
    batches.open_folder(engine, folder)
    for i in range(3, 3 + batches.FIRST + 20):
        write_image(folder / f"img_{i:03d}.png", size=(24, 20), seed=i)
    parts: list = []
    rest = batches.open_folder(engine, folder, first_part=parts.append)
    assert len(parts[0].items) == 3 and not parts[0].continues and all(p.continues for p in parts[1:])
    handed = [it for p in [*parts, rest] for it in p.items]
    assert [it.image.position for it in handed] == list(range(3 + batches.FIRST + 20))  # each row once, in order


def test_a_file_renamed_since_brings_the_whole_batch_again_and_the_screen_keeps_its_judgments(engine,
                                                                                             tmp_path) -> None:
    folder = _folder(tmp_path / "lot")
    batches.open_folder(engine, folder)
    os.replace(folder / "img_2.png", folder / "img_2_moved.png")  # an analyst renamed it in the file manager
    parts: list = []
    whole = batches.open_folder(engine, folder, first_part=parts.append)
    assert _names(parts[0].items)[2] == "img_2.png"  # as stored
    assert not whole.continues and _names(whole.items) == ["img_0.png", "img_1.png", "img_2_moved.png", "img_3.png",
                                                           "img_4.png"]  # the same image, at its new path
    presenter = BatchPresenter()
    presenter.open(parts[0])
    judged = presenter.items[2]
    with session_scope(engine) as s:  # judged on screen while the folder was read again
        record = repo.record_judgment(s, image_id=judged.image.image_id, leaf="scratch", action="enter",
                                      analyst="amy", batch_id=whole.batch_id)
    presenter.apply_judgment(record)
    presenter.current = 2
    presenter.grow(whole)
    item = presenter.items[2]
    assert Path(item.image.path).name == "img_2_moved.png" and item.judgment is not None
    assert item.judgment.leaf == "scratch" and presenter.current == 2


def test_a_known_file_that_cannot_be_decoded_is_marked_on_the_row_listed_before(engine, tmp_path) -> None:
    folder = _folder(tmp_path / "lot")
    (folder / "img_9.png").write_bytes(b"not a picture at all")
    first = batches.open_folder(engine, folder)
    bad = next(it.image.image_id for it in first.items if it.image.path.endswith("img_9.png"))
    assert set(first.unreadable) == {bad}
    parts: list = []
    rest = batches.open_folder(engine, folder, first_part=parts.append)
    assert len(parts[0].items) == 6 and set(parts[0].unreadable) == {bad}  # known as stored (its header read)
    assert rest.continues and rest.items == [] and set(rest.unreadable) == {bad}
    (folder / "img_2.png").write_bytes(b"broken since")  # another content: a new image, at the end
    os.utime(folder / "img_0.png", ns=(1, 1))  # touched only: the same content, read again, the same image
    parts.clear()
    rest = batches.open_folder(engine, folder, first_part=parts.append)
    old = parts[0].items[2].image.image_id  # its picture is in no file of the folder now: what is there is no
    new = rest.items[0].image.image_id  # image, and it says so (it said "holds another picture": walk-through)
    assert _names(rest.items) == ["img_2.png"] and rest.unreadable == {
        bad: rest.unreadable[bad], old: rest.unreadable[new], new: rest.unreadable[new]}
    assert rest.unreadable[old].startswith("not a recognised image format")
    presenter = BatchPresenter()
    presenter.open(parts[0])
    presenter.grow(rest)
    assert presenter.list_row(presenter.row_of(rest.items[0].image.image_id)).state == "error"


def test_a_file_written_over_with_a_copy_of_another_picture_of_the_batch_is_marked_so(engine, tmp_path) -> None:
    """A file written over with the bytes of another file of the folder was taken for a copy ("the same picture as
    img_3.png: the batch holds it once"): its old image showed img_3's picture under its judgment, with its keys on
    (shift lead's walk-through). Its picture is in no file now: written over, as with any other picture."""
    folder = _folder(tmp_path / "lot")
    first = batches.open_folder(engine, folder)
    (folder / "img_1.png").write_bytes((folder / "img_3.png").read_bytes())
    parts: list = []
    rest = batches.open_folder(engine, folder, first_part=parts.append)
    old = first.items[1].image.image_id
    assert rest.unreadable == {old: FILE_REPLACED} and rest.items == []
    assert [why for path, why in rest.skipped] == ["the same picture as img_3.png: the batch holds it once, under that "
                                                   "name"]  # the file itself, in the list of files left out
    presenter = BatchPresenter()
    presenter.open(parts[0])
    presenter.grow(rest)
    assert presenter.errors[old] == FILE_REPLACED and presenter.list_row(1).state == "error"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, taxonomy) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("stored") / "model", taxonomy, input_size=32)


def test_the_window_resumes_a_known_folder_at_once_and_judges_while_its_files_are_read(qtbot, engine, tmp_path,
                                                                                       bundle, monkeypatch) -> None:
    """Opened again, the batch is on screen at the image after the last one judged while the folder is still being
    read (held here until the test releases it); a key judges there, and the new files join the list at its end."""
    from PySide6.QtCore import Qt

    folder, win = _opened(qtbot, engine, tmp_path, bundle, monkeypatch)
    release = threading.Event()
    try:
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_Return)  # accepted; on the second image now
        qtbot.waitUntil(lambda: win.items[0].judgment is not None)
        _elsewhere(qtbot, win, folder)
        write_image(folder / "img_5.png", size=(24, 20), seed=5)
        real_scan = batches.scan_folder

        def slow_scan(*args, **kwargs):
            assert release.wait(20)
            return real_scan(*args, **kwargs)

        monkeypatch.setattr(batches, "scan_folder", slow_scan)
        win.open_folder(folder)
        qtbot.waitUntil(lambda: len(win.items) == 5, timeout=20_000)  # as stored, the folder not read yet
        assert not release.is_set() and win.current == 1 and win.items[0].judgment.status == "accepted"
        assert win.status.progress_label.text().startswith(("Reading", "Listing"))  # it says it reads the folder
        qtbot.waitUntil(lambda: win.presenter.shows_prediction(win.presenter.current_item), timeout=60_000)
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_Return)  # judged while the folder is read
        qtbot.waitUntil(lambda: win.items[1].judgment is not None)
        release.set()
        qtbot.waitUntil(lambda: len(win.items) == 6, timeout=20_000)
        assert _names(win.items)[-1] == "img_5.png" and win.list_model.rowCount() == 6
        assert [it.judgment.status if it.judgment else None for it in win.items[:2]] == ["accepted", "accepted"]
        assert win.current == 2  # the image on screen stayed
        qtbot.waitUntil(lambda: all(it.prediction is not None for it in win.items), timeout=120_000)
        qtbot.waitUntil(lambda: not win.status.progress.isVisible(), timeout=20_000)
    finally:
        release.set()  # (a pool thread held by a failed test would hold up the next)
        win.close()


def test_a_copy_of_a_picture_in_two_chunks_does_not_bring_the_whole_batch_at_each_opening(engine, tmp_path,
                                                                                          monkeypatch) -> None:
    monkeypatch.setattr(batches, "STEP", 16)
    folder = _folder(tmp_path / "lot", batches.FIRST + 6)
    (folder / "zz_copy.png").write_bytes((folder / "img_1.png").read_bytes())  # in another chunk than img_1
    batches.open_folder(engine, folder)
    for _ in range(2):
        parts: list = []
        rest = batches.open_folder(engine, folder, first_part=parts.append)
        assert rest.continues and rest.items == [] and len(parts) == 1  # nothing changed: nothing again
        assert parts[0].items[1].image.path.endswith("zz_copy.png")  # the picture's last file, as stored


def test_a_file_deleted_since_is_said_so_on_its_row(engine, tmp_path) -> None:
    folder = _folder(tmp_path / "lot")
    first = batches.open_folder(engine, folder)
    (folder / "img_3.png").unlink()
    parts: list = []
    rest = batches.open_folder(engine, folder, first_part=parts.append)
    gone = first.items[3].image.image_id
    assert len(parts[0].items) == 5 and rest.continues and rest.unreadable == {gone: "file not found"}
    presenter = BatchPresenter()
    presenter.open(parts[0])
    assert presenter.counts().get("error", 0) == 0
    presenter.grow(rest)
    assert presenter.list_row(3).state == "error" and presenter.counts()["error"] == 1  # (it waited for good)


def test_the_image_on_screen_renamed_since_is_shown_from_its_new_path(qtbot, engine, tmp_path, bundle,
                                                                      monkeypatch) -> None:
    """Shown as stored, its old path is not found; once the folder is read again, it is read and shown again from
    its new path, its keys working (they were off while it was "not found")."""
    folder, win = _opened(qtbot, engine, tmp_path, bundle, monkeypatch)
    release = threading.Event()
    try:
        qtbot.waitUntil(lambda: win.viewer.has_image, timeout=20_000)
        _elsewhere(qtbot, win, folder)
        os.replace(folder / "img_0.png", folder / "img_0_renamed.png")
        real_scan = batches.scan_folder
        monkeypatch.setattr(batches, "scan_folder", lambda *a, **k: (release.wait(20), real_scan(*a, **k))[1])
        win.open_folder(folder)
        qtbot.waitUntil(lambda: len(win.items) == 5, timeout=20_000)  # as stored: its old path, not found now
        qtbot.waitUntil(lambda: "the folder is being read again" in win.viewer.message, timeout=20_000)
        assert win.panel.unshown
        release.set()
        qtbot.waitUntil(lambda: not win._growing, timeout=20_000)
        assert win.current == 0 and _names(win.items)[0] == "img_0_renamed.png"
        qtbot.waitUntil(lambda: win.viewer.has_image and win.current_image_id in win.images.images, timeout=20_000)
        assert win.current_image_id not in win.images.unreached and not win.panel.unshown
    finally:
        release.set()  # (a pool thread held by a failed test would hold up the next)
        win.close()


def test_the_image_on_screen_written_over_since_shows_why_not_the_other_picture(qtbot, engine, tmp_path, bundle,
                                                                                monkeypatch) -> None:
    """Its file holds another picture now (another image, at the batch's end): showing the file would show that
    picture under this image's judgment (a walk-through saw it, its "accepted" badge and all)."""
    from PySide6.QtCore import Qt

    folder, win = _opened(qtbot, engine, tmp_path, bundle, monkeypatch)
    try:
        qtbot.waitUntil(lambda: win.presenter.shows_prediction(win.presenter.current_item), timeout=60_000)
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_Return)  # img_0 accepted; on img_1 now
        qtbot.waitUntil(lambda: win.items[0].judgment is not None)
        _elsewhere(qtbot, win, folder)
        write_image(folder / "img_1.png", size=(24, 20), seed=99)  # written over with another picture
        win.open_folder(folder)
        qtbot.waitUntil(lambda: len(win.items) == 6 and not win._growing, timeout=20_000)
        assert win.current == 1 and win.items[5].image.path == win.items[1].image.path  # the new picture: last
        qtbot.waitUntil(lambda: "holds another picture now" in win.viewer.message, timeout=20_000)
        assert win.panel.unshown and not win.viewer.has_image
        win.select(5)  # the picture now in the file: an image of its own
        qtbot.waitUntil(lambda: win.viewer.has_image, timeout=20_000)
    finally:
        win.close()


def test_a_decode_of_the_old_path_still_on_its_way_does_not_hide_the_renamed_image(qtbot, engine, tmp_path, bundle,
                                                                                   monkeypatch) -> None:
    """The folder read again before the screen's decode of the old path reports (a loaded machine): the new path is
    decoded, and the old one's "not found" is dropped (it kept the image off the screen, its keys off)."""
    import time

    from app.ui import image_cache

    folder, win = _opened(qtbot, engine, tmp_path, bundle, monkeypatch)
    try:
        qtbot.waitUntil(lambda: win.viewer.has_image, timeout=20_000)
        _elsewhere(qtbot, win, folder)
        os.replace(folder / "img_0.png", folder / "img_0_renamed.png")
        real = image_cache.decode_with_facts
        monkeypatch.setattr(image_cache, "decode_with_facts", lambda path: (
            time.sleep(1.5) if path.endswith("img_0.png") else None, real(path))[1])
        win.open_folder(folder)
        qtbot.waitUntil(lambda: len(win.items) == 5 and not win._growing, timeout=20_000)
        assert _names(win.items)[0] == "img_0_renamed.png" and win.current == 0
        qtbot.waitUntil(lambda: win.viewer.has_image and win.current_image_id in win.images.images, timeout=20_000)
        qtbot.wait(1600)  # the old path's decode has reported meanwhile: dropped
        assert win.current_image_id not in win.images.unreached and not win.panel.unshown and win.viewer.has_image
    finally:
        win.close()


def test_a_judged_image_deleted_since_says_so_on_its_row(qtbot, engine, tmp_path, bundle, monkeypatch) -> None:
    """Its judgment stands (its badge stays "accepted"); its row says its file is gone, as the panel does."""
    from PySide6.QtCore import Qt

    folder, win = _opened(qtbot, engine, tmp_path, bundle, monkeypatch)
    try:
        qtbot.keyClick(win, Qt.Key.Key_Return)  # accepted: the first image
        qtbot.waitUntil(lambda: win.items[0].judgment is not None)
        _elsewhere(qtbot, win, folder)
        (folder / "img_0.png").unlink()
        win.open_folder(folder)
        qtbot.waitUntil(lambda: len(win.items) == 5 and win.list_model.rows[0].file_problem == "file not found",
                        timeout=20_000)
        row = win.list_model.rows[0]
        assert row.state == "accepted" and row.label and win.list_model.rows[1].file_problem == ""
        win.list_view.viewport().grab().save(str(tmp_path / "list.png"))  # (looked at: red words beside the badge)
    finally:
        win.close()
