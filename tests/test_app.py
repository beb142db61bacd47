"""The desktop app, driven as an analyst would: real key presses, database rows checked after each step."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT, make_tiny_bundle, open_window, wait_on_screen, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel

from app.services.judging import JudgingService
from app.store import repo
from app.store.db import session_scope
from models.data.manifest import read_manifest


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, taxonomy) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("app_bundle") / "model", taxonomy)


@pytest.fixture()
def batch_dir(tmp_path) -> Path:
    folder = tmp_path / "batch"
    for i in range(6):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    (folder / "zz_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    return folder


@pytest.fixture()
def window(qtbot, engine, bundle, tmp_path, monkeypatch):
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    yield win
    win.close()


def _open(qtbot, win, folder: Path) -> None:
    with qtbot.waitSignal(win.allPredicted, timeout=120_000):
        win.open_folder(folder)


def _history(engine, image_id: int):
    with session_scope(engine, action="read") as s:
        return repo.judgment_history(s, image_id)


def _press(qtbot, win, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(win, key, modifier)
    QApplication.processEvents()


def test_open_batch_predicts_everything_and_flags_the_corrupt_image(qtbot, window, batch_dir, engine):
    _open(qtbot, window, batch_dir)
    states = {Path(it.image.path).name: window.presenter.state(it) for it in window.items}
    assert states["zz_corrupt.png"] == "error"
    assert all(states[f"img_{i}.png"] == "pending" for i in range(6))
    assert all(it.prediction is not None and it.prediction.leaf for it in window.items
               if not it.image.path.endswith("zz_corrupt.png"))
    # predictions are in the database, with their model version
    ids = [it.image.image_id for it in window.items]
    with session_scope(engine, action="read") as s:
        stored = repo.latest_predictions(s, ids, model_version=window.model.version)
    assert len([p for p in stored.values() if p.leaf]) == 6
    assert "not a recognised image" in window.list_model.rows[-1].label
    assert window.list_model.counts() == {"pending": 6, "error": 1}
    window.open_image(window.items[-1].image.image_id)  # the unreadable one: the strip says why it is empty
    assert window.similar_panel.message.text() == "The image could not be read: nothing to compare."


def test_an_image_cut_short_is_said_in_its_row_and_the_counts_once_decoded(qtbot, engine, tmp_path, monkeypatch):
    """A PNG cut short passes the header check, so it opened as "pending"; without a model nothing predicted it,
    and when the viewer found it unreadable the panel said "error" while its row and the status bar still said
    pending (seen under Xvfb: "pending 5 error 2" beside a panel saying "corrupt or truncated image")."""
    folder = tmp_path / "cut"
    for i in range(3):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    whole = (folder / "img_2.png").read_bytes()
    (folder / "img_1.png").write_bytes(whole[: len(whole) // 2])  # a valid header, the pixels cut off
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        win.open_folder(folder)
        qtbot.waitUntil(lambda: len(win.list_model.rows) == 3, timeout=30_000)
        cut = next(it for it in win.items if it.image.path.endswith("img_1.png"))
        win.open_image(cut.image.image_id)
        qtbot.waitUntil(lambda: win.presenter.state(cut) == "error", timeout=30_000)
        row = next(r for r in win.list_model.rows if r.image_id == cut.image.image_id)
        assert row.state == "error" and "corrupt or truncated" in row.label
        assert win.list_model.counts().get("error") == 1
        assert "unreadable 1" in win.status.counts_label.text() and "2 left" in win.status.counts_label.text()
    finally:
        win.close()


def test_the_last_image_found_unreadable_after_the_last_key_says_every_image_is_judged(qtbot, engine, tmp_path,
                                                                                        monkeypatch):
    """The last key moved onto a JPEG cut short whose decoding was still under way (a large file on a busy
    machine); found unreadable a moment later, it left nothing open, and nothing said so: the analyst stayed on the
    broken image, where Enter said "Nothing judged" as if something still waited (bug hunt). A key that leaves
    nothing open says it too, and a window that judged nothing in the batch says nothing."""
    import time

    import app.ui.image_cache as image_cache

    folder = tmp_path / "lot"
    for i in range(2):
        write_image(folder / f"b_{i}.png", size=(96, 80), seed=i)
    whole = (folder / "b_1.png").read_bytes()
    (folder / "z_cut.png").write_bytes(whole[: len(whole) // 2])  # a valid header, the pixels cut off
    for name, slow in (("decode_with_facts", image_cache.decode_with_facts),
                       ("decode_thumbnail", image_cache.decode_thumbnail)):
        monkeypatch.setattr(image_cache, name, lambda path, *a, _slow=slow: (
            time.sleep(1.5) if "z_cut" in str(path) else None) or _slow(path, *a))
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    said: list[str] = []
    win.statusBar().messageChanged.connect(said.append)
    try:
        win.open_folder(folder)
        qtbot.waitUntil(lambda: len(win.list_model.rows) == 3, timeout=30_000)
        for _ in range(2):
            wait_on_screen(qtbot, win)
            qtbot.keyClick(win, Qt.Key.Key_U)
        assert win.presenter.current_item.image.path.endswith("z_cut.png") and win.presenter.left() == 1
        assert not any("Every image" in m for m in said)
        qtbot.waitUntil(lambda: win.presenter.left() == 0, timeout=30_000)
        assert said[-1] == "Every image of this batch is judged."
        qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one open again; judged: said
        qtbot.waitUntil(lambda: win.presenter.left() == 1, timeout=10_000)
        said.clear()
        win.select(next(i for i, it in enumerate(win.items) if win.presenter.state(it) == "pending"))
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_U)
        assert "Every image of this batch is judged." in said
    finally:
        win.close()
    other = open_window(qtbot, engine, None, tmp_path / "second", monkeypatch)  # nothing judged in it: nothing said
    said.clear()
    other.statusBar().messageChanged.connect(said.append)
    try:
        (tmp_path / "lot2").mkdir()
        (tmp_path / "lot2" / "z_cut.png").write_bytes(whole[: len(whole) // 2])
        other.open_folder(tmp_path / "lot2")
        qtbot.waitUntil(lambda: other.presenter.left() == 0 and len(other.list_model.rows) == 1, timeout=30_000)
        qtbot.wait(200)
        assert not any("Every image" in m for m in said)
    finally:
        other.close()


def test_a_picture_judged_in_an_earlier_lot_arrives_judged_and_says_so(qtbot, engine, tmp_path, monkeypatch):
    """Images are one by their bytes: a copy of a judged picture in a new lot arrives with its judgment. The new lot
    showed it accepted without a word, and its analyst could take it for their own or the model's (bug hunt): the
    opening says how many, and the panel says it was judged in another batch."""
    lot1, lot2 = tmp_path / "lot1", tmp_path / "lot2"
    for i in range(2):
        write_image(lot1 / f"a_{i}.png", size=(96, 80), seed=i)
    write_image(lot2 / "b_0.png", size=(96, 80), seed=7)
    shutil.copyfile(lot1 / "a_1.png", lot2 / "copy_of_a1.png")
    write_image(lot2 / "sub" / "below.png", size=(96, 80), seed=9)  # (its line and ours: both said)
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        win.open_folder(lot1)
        qtbot.waitUntil(lambda: len(win.list_model.rows) == 2, timeout=30_000)
        win.select(next(i for i, it in enumerate(win.items) if it.image.path.endswith("a_1.png")))
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_U)
        assert not win.presenter.panel(win.current).judged_elsewhere  # (judged in this batch)
        win.open_folder(lot2)
        qtbot.waitUntil(lambda: len(win.list_model.rows) == 2 and win.presenter.batch.name == "lot2", timeout=30_000)
        qtbot.waitUntil(lambda: "judged in another batch" in win.statusBar().currentMessage(), timeout=5_000)
        assert win.statusBar().currentMessage() == (
            "1 more image lies in the folder's sub-folders: open the folder again and answer Yes to add it.  ·  "
            "1 image of this batch was judged in another batch (the same picture): that judgment is kept, and its "
            "panel says whose.")
        row = next(i for i, it in enumerate(win.items) if it.image.path.endswith("copy_of_a1.png"))
        win.select(row)
        wait_on_screen(qtbot, win)
        assert win.presenter.panel(row).judged_elsewhere
        assert ", in another batch (the same picture)" in win.panel.judgment.text()
        other = next(i for i in range(2) if i != row)
        assert not win.presenter.panel(other).judged_elsewhere
        # a note written on it here: lot1, where it was decided, says nothing of another batch (the latest row's
        # batch made lot1 say it was judged elsewhere: review), nor does lot2, where the note was written
        from app.ui.note_dialog import NoteDialog

        monkeypatch.setattr(NoteDialog, "ask", staticmethod(lambda *_a, **_k: "seen in lot2 too"))
        qtbot.keyClick(win, Qt.Key.Key_N)
        assert win.presenter.current_item.judgment.note == "seen in lot2 too"
        win.statusBar().clearMessage()
        win.open_folder(lot1)
        qtbot.waitUntil(lambda: win.presenter.batch.name == "lot1" and len(win.list_model.rows) == 2, timeout=30_000)
        assert "another batch" not in win.statusBar().currentMessage()
        assert not any(win.presenter.panel(i).judged_elsewhere for i in range(2))
        win.open_folder(lot2)
        qtbot.waitUntil(lambda: win.presenter.batch.name == "lot2" and len(win.list_model.rows) == 2, timeout=30_000)
        assert not any(win.presenter.panel(i).judged_elsewhere for i in range(2))
    finally:
        win.close()


def test_a_new_lot_read_in_parts_counts_every_picture_judged_elsewhere_and_starts_on_its_first(qtbot, engine,
                                                                                                 tmp_path,
                                                                                                 monkeypatch):
    """A large new lot is handed over in parts: its opening counted the pictures judged in other lots in its first
    part only (16 said, 19 there), and opened after the last of them the analyst had judged, in the other lot, past
    the images waiting before it (scale walk-through)."""
    from app.services import batches

    lot1, lot2 = tmp_path / "lot1", tmp_path / "lot2"
    for i in range(3):
        write_image(lot1 / f"a_{i}.png", size=(96, 80), seed=i)
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        win.open_folder(lot1)
        qtbot.waitUntil(lambda: len(win.list_model.rows) == 3, timeout=30_000)
        for name in ("a_1.png", "a_2.png"):
            win.select(next(i for i, it in enumerate(win.items) if it.image.path.endswith(name)))
            wait_on_screen(qtbot, win)
            qtbot.keyClick(win, Qt.Key.Key_U)
        write_image(lot2 / "b_0.png", size=(96, 80), seed=7)  # first in the new lot, waiting
        shutil.copyfile(lot1 / "a_1.png", lot2 / "c_a1.png")
        shutil.copyfile(lot1 / "a_2.png", lot2 / "d_a2.png")
        write_image(lot2 / "e_0.png", size=(96, 80), seed=8)
        monkeypatch.setattr(batches, "FIRST", 1)  # (its first part: one file)
        said: list[str] = []
        win.statusBar().messageChanged.connect(said.append)
        win.open_folder(lot2)
        qtbot.waitUntil(lambda: win.presenter.batch.name == "lot2" and len(win.list_model.rows) == 4, timeout=30_000)
        qtbot.waitUntil(lambda: any("other batches" in m for m in said), timeout=10_000)
        assert [m for m in said if "batch" in m and "judged in" in m] == [
            "2 images of this batch were judged in other batches (the same pictures): their judgments are kept, and "
            "their panels say whose."]
        assert win.presenter.current_item.image.path.endswith("b_0.png")  # its first waiting image
    finally:
        win.close()


def test_without_a_model_c_picks_from_the_types_stored_with_the_batch_or_says_there_are_none(
        qtbot, engine, bundle, batch_dir, tmp_path, monkeypatch):
    """The panel said "You can still judge with C or U" with no model loaded, but C did nothing at all (no types to
    pick from) and the letters typed next went to the window's shortcuts (S, H...). Now C picks from the types of the
    batch's stored predictions when there are any, and otherwise the status bar and the panel say why it cannot."""
    first = tmp_path / "new"
    for i in range(2):
        write_image(first / f"new_{i}.png", size=(96, 80), seed=10 + i)
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        win.open_folder(first)
        qtbot.waitUntil(lambda: len(win.list_model.rows) == 2, timeout=30_000)
        qtbot.waitUntil(lambda: win.panel.waiting.isVisible(), timeout=10_000)
        wait_on_screen(qtbot, win)
        assert "no defect types are known" in win.panel.waiting.text()
        assert not win.panel.pick_btn.isEnabled() and win.panel.unknown_btn.isEnabled()
        _press(qtbot, win, Qt.Key.Key_C)
        assert QApplication.activeModalWidget() is None
        assert "No defect types to pick from" in win.statusBar().currentMessage()
    finally:
        win.close()
    predicted = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)  # the batch predicted, another day
    try:
        _open(qtbot, predicted, batch_dir)
    finally:
        predicted.close()
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)  # today the model does not load
    try:
        win.open_folder(batch_dir)
        qtbot.waitUntil(lambda: len(win.list_model.rows) == 7, timeout=30_000)
        win.open_image(win.items[0].image.image_id)
        qtbot.waitUntil(win.panel.pick_btn.isEnabled, timeout=10_000)  # (once its picture shows)
        chosen = []

        def pick():
            dlg = QApplication.activeModalWidget()
            chosen.append(dlg is not None)
            if dlg is not None:
                dlg.search.setText("crack")
                qtbot.keyClick(dlg.search, Qt.Key.Key_Return)

        QTimer.singleShot(300, pick)
        _press(qtbot, win, Qt.Key.Key_C)
        win.activateWindow()
        assert chosen == [True]
        qtbot.waitUntil(lambda: any(j.leaf == "crack" for j in _history(engine, win.items[0].image.image_id)),
                        timeout=10_000)
    finally:
        win.close()


def test_a_digit_past_a_shorter_list_says_so_and_judges_nothing(qtbot, window, batch_dir, engine, monkeypatch):
    """A determined subgroup of four types lists four: 5 did nothing, silently, under "press 1–5"."""
    _open(qtbot, window, batch_dir)
    item = window.items[window.current]
    four = window.presenter.top_leaves(item)[:4]
    monkeypatch.setattr(window.presenter, "top_leaves", lambda _item: four)
    _press(qtbot, window, Qt.Key.Key_5)
    assert window.statusBar().currentMessage() == "The list has 4 types: 1–4 picks one of them."
    assert _history(engine, item.image.image_id) == [] and window.items[window.current] is item
    _press(qtbot, window, Qt.Key.Key_4)
    assert _history(engine, item.image.image_id)[-1].leaf == four[3][0]


def test_judging_with_keys_undo_redo_and_export(qtbot, window, batch_dir, engine, taxonomy, tmp_path):
    _open(qtbot, window, batch_dir)
    first = window.items[window.current]
    assert window.current == 0
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.statusBar().currentMessage() == "Nothing to undo"  # (it looked like a key that did not work)

    # Enter accepts the prediction and moves on to the next pending image
    _press(qtbot, window, Qt.Key.Key_Return)
    (j,) = _history(engine, first.image.image_id)
    assert (j.status, j.leaf, j.action, j.analyst) == ("accepted", first.prediction.leaf, "accept", "alice")
    assert j.shown["leaf"] == first.prediction.leaf and len(j.shown["top5"]) == 5
    assert j.model_version == window.model.version
    assert window.current == 1

    # 3 picks the third Top-k leaf: a correction
    second = window.items[1]
    _press(qtbot, window, Qt.Key.Key_3)
    (j2,) = _history(engine, second.image.image_id)
    assert (j2.status, j2.leaf, j2.action) == ("corrected", second.prediction.top5[2][0], "topk")
    assert window.current == 2

    # U marks unknown / new defect type
    third = window.items[2]
    _press(qtbot, window, Qt.Key.Key_U)
    (j3,) = _history(engine, third.image.image_id)
    assert (j3.status, j3.leaf) == ("unknown", None)

    # C opens the picker; typing filters (Chinese works too); Enter chooses
    fourth = window.items[3]

    def use_picker():
        dlg = QApplication.activeModalWidget()
        assert dlg is not None
        dlg.search.setText("裂痕")  # Chinese name (QTest cannot type non-ASCII keys)
        assert dlg.visible_leaves() == ["crack"]
        dlg.search.clear()
        qtbot.keyClicks(dlg.search, "scratch")  # English name / id, typed
        assert dlg.visible_leaves() == ["scratch", "rubbing_scratch"]
        dlg.search.setText("crack")
        qtbot.keyClick(dlg.search, Qt.Key.Key_Return)

    QTimer.singleShot(300, use_picker)
    _press(qtbot, window, Qt.Key.Key_C)
    window.activateWindow()  # the offscreen platform does not hand activation back after a modal dialog
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    (j4,) = _history(engine, fourth.image.image_id)
    assert (j4.leaf, j4.action) == ("crack", "picker")
    assert j4.status == ("accepted" if fourth.prediction.leaf == "crack" else "corrected")

    # Ctrl+Z undoes across images: the picker judgment, then the unknown one
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    h4 = _history(engine, fourth.image.image_id)
    assert [r.status for r in h4] == ["accepted" if fourth.prediction.leaf == "crack" else "corrected", "reverted"]
    assert h4[-1].reverts_judgment_id == j4.id
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _history(engine, third.image.image_id)[-1].status == "reverted"
    assert window.items[2].state == "pending"
    assert window.current == 2  # the view follows the undo, and says what it did
    name = Path(third.image.path).name
    assert window.statusBar().currentMessage() == f"Undone on {name}: now pending"
    # Ctrl+Shift+Z redoes the unknown judgment; history stays append-only
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert [r.status for r in _history(engine, third.image.image_id)] == ["unknown", "reverted", "unknown"]
    assert window.items[2].state == "unknown"
    assert window.statusBar().currentMessage() == f"Redone on {name}: now unknown type"

    # arrows move without judging
    before = window.current
    _press(qtbot, window, Qt.Key.Key_Right)
    assert window.current == before + 1

    # export: the CSV is a training manifest
    out = tmp_path / "labels.csv"
    res = window.service.export(out, "csv")
    assert res.count == 3  # accepted, corrected, unknown (the undone picker judgment is not exported)
    loaded = read_manifest(out, taxonomy)
    labels = sorted(s.label for s in loaded.samples)
    assert labels == sorted([first.prediction.leaf, second.prediction.top5[2][0], "unknown:unlabelled"])
    assert not loaded.skipped


def test_reopening_resumes_and_moved_files_keep_history(qtbot, window, batch_dir, engine, tmp_path):
    _open(qtbot, window, batch_dir)
    _press(qtbot, window, Qt.Key.Key_Return)
    judged = window.items[0]
    moved = tmp_path / "moved"
    batch_dir.rename(moved)
    _open(qtbot, window, moved)
    again = next(it for it in window.items if it.image.image_id == judged.image.image_id)
    assert again.state == "accepted" and again.image.path.startswith(str(moved))
    assert window.current == 1  # resumes at the first image still to judge


def _write_note(qtbot, win, *keys) -> None:
    """Press N and, in the note dialog, type/press ``keys`` (text, or (key, modifier) pairs)."""
    waited = [0]

    def type_it():
        dlg = QApplication.activeModalWidget()
        if (dlg is None or not dlg.editor.hasFocus()) and waited[0] < 100:  # a loaded machine: look again
            waited[0] += 1
            QTimer.singleShot(50, type_it)
            return
        try:
            assert dlg is not None and dlg.editor.hasFocus()
            for key in keys:
                if isinstance(key, str):
                    qtbot.keyClicks(dlg.editor, key)
                else:
                    qtbot.keyClick(dlg.editor, *key)
        finally:
            if dlg is not None and dlg.isVisible():
                dlg.reject()  # never left open (the keys should have closed it)

    QTimer.singleShot(300, type_it)
    _press(qtbot, win, Qt.Key.Key_N)
    win.activateWindow()  # the offscreen platform does not hand activation back after a modal dialog
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)


CTRL_ENTER = (Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def _note_dialog_seen(qtbot, win, keys) -> dict:
    """Press N; in the dialog note what it shows (``text``, ``hint``), then type/press ``keys`` as _write_note."""
    seen: dict = {}

    def look() -> None:
        dlg = QApplication.activeModalWidget()
        if dlg is not None:
            seen.update(text=dlg.editor.toPlainText(), hint=dlg.hint.text())

    QTimer.singleShot(250, look)
    _write_note(qtbot, win, *keys)
    return seen


def test_a_note_cancelled_or_refused_by_the_store_comes_back_with_the_next_n(qtbot, window, batch_dir, engine,
                                                                             monkeypatch):
    """Nothing typed is lost: Esc keeps the text as the image's draft, N brings it back (saying it is unsaved),
    Ctrl+Enter saves it; a save the database refuses keeps it too."""
    from app.store.errors import StoreError

    _open(qtbot, window, batch_dir)
    item = window.items[0]
    _write_note(qtbot, window, "scratch runs under the seal", (Qt.Key.Key_Escape,))
    assert _history(engine, item.image.image_id) == []  # cancelled: nothing stored
    assert window.statusBar().currentMessage() == (f"The note on {Path(item.image.path).name} was not saved: N on "
                                                   "that image brings your text back.")
    from app.ui.batch_list import DRAFT_COLOUR  # its row shows an unsaved-note marker (an outline)

    assert window.list_model.rows[0].has_draft and not window.list_model.rows[1].has_draft
    shot, rect = window.list_view.viewport().grab().toImage(), window.list_view.visualRect(window.list_model.index(0))
    assert DRAFT_COLOUR in {shot.pixelColor(x, y).name() for x in range(rect.left(), rect.right())
                            for y in range(rect.top(), rect.bottom())}
    seen = _note_dialog_seen(qtbot, window, [" too", (Qt.Key.Key_Escape,)])
    assert seen["text"] == "scratch runs under the seal" and "unsaved text is back" in seen["hint"]
    assert window.queue_view.note_drafts.get(item.image.image_id) == "scratch runs under the seal too"  # one per image

    alerts = []
    monkeypatch.setattr(window, "alert", lambda _box, title, text, **kw: alerts.append((title, text, kw.get("line"))))
    refused, add_note = StoreError("Cannot write to the database: disk full"), window.service.add_note
    monkeypatch.setattr(window.service, "add_note", lambda *a, **kw: (_ for _ in ()).throw(refused))
    _write_note(qtbot, window, CTRL_ENTER)
    # a note's box said "Judgment NOT saved … judge it again": now it names the note, and that its text is kept
    ((title, text, line),) = alerts
    assert title == "Note NOT saved" and line == "note NOT saved: Cannot write to the database: disk full"
    assert "Your text is kept on this computer: N on this image brings it back" in text
    monkeypatch.setattr(window.service, "add_note", add_note)  # the disk has room again

    seen = _note_dialog_seen(qtbot, window, [CTRL_ENTER])
    assert seen["text"] == "scratch runs under the seal too" and "unsaved text is back" in seen["hint"]
    assert _history(engine, item.image.image_id)[-1].note == "scratch runs under the seal too"
    assert window.list_model.rows[0].has_note and not window.list_model.rows[0].has_draft
    seen = _note_dialog_seen(qtbot, window, [(Qt.Key.Key_Escape,)])  # saved: the draft is gone
    assert seen["text"] == "scratch runs under the seal too" and "unsaved" not in seen["hint"]
    _write_note(qtbot, window, (Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier), (Qt.Key.Key_Delete,),
                (Qt.Key.Key_Escape,))  # emptied, then cancelled: no draft of nothing
    assert item.image.image_id not in window.note_drafts


def test_note_is_kept_through_unknown_undo_and_redo(qtbot, window, batch_dir, engine):
    """N (two lines, Ctrl+Enter saves), U, Ctrl+Z, Ctrl+Shift+Z: the note stays, in the store and on screen."""
    _open(qtbot, window, batch_dir)
    item = window.items[0]
    _write_note(qtbot, window, "dust on the lens", (Qt.Key.Key_Return,), "<edge> & corner", CTRL_ENTER)
    note = "dust on the lens\n<edge> & corner"  # Enter is a new line; Ctrl+Enter saved it
    assert _history(engine, item.image.image_id)[-1].note == note
    assert window.current == 0  # a note does not move on
    assert window.list_model.rows[0].has_note and not window.list_model.rows[1].has_note
    _press(qtbot, window, Qt.Key.Key_U)
    assert window.current == 1
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.current == 0 and window.items[0].state == "pending"
    assert "&lt;edge&gt; &amp; corner" in window.panel.judgment.text()  # shown as typed (escaped), on its own line
    assert window.panel.judgment.isVisibleTo(window.panel)
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.items[0].state == "unknown"
    history = _history(engine, item.image.image_id)
    assert [(j.action, j.note) for j in history] == [("note", note), ("unknown", note), ("undo", note),
                                                     ("redo", note)]
    assert window.list_model.rows[0].has_note and "dust on the lens" in window.panel.judgment.text()
    name = Path(item.image.path).name
    assert window.statusBar().currentMessage() == f"Redone on {name}: now unknown type"  # the note kept: not said
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the unknown undone again
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # then the note: said as such (it said
    assert window.statusBar().currentMessage() == f"Undone on {name}: its note taken off"  # "now pending": review)
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.statusBar().currentMessage() == f"Redone on {name}: its note is back"
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.items[0].state == "unknown" and window.list_model.rows[0].has_note
    # the list draws a note marker on the row
    from app.ui.batch_list import NOTE_COLOUR

    shot = window.list_view.viewport().grab().toImage()
    row = window.list_view.visualRect(window.list_model.index(0))
    marker = [shot.pixelColor(x, y).name() for x in range(row.left(), row.right())
              for y in range(row.top(), row.bottom())]
    assert NOTE_COLOUR in marker
    row1 = window.list_view.visualRect(window.list_model.index(1))
    assert NOTE_COLOUR not in {shot.pixelColor(x, y).name() for x in range(row1.left(), row1.right())
                               for y in range(row1.top(), row1.bottom())}


def test_note_dialog_esc_cancels_and_an_empty_note_clears(qtbot, window, batch_dir, engine):
    _open(qtbot, window, batch_dir)
    item = window.items[0]
    _write_note(qtbot, window, "first", (Qt.Key.Key_Enter, Qt.KeyboardModifier.ControlModifier))  # keypad Enter
    assert [j.note for j in _history(engine, item.image.image_id)] == ["first"]
    _write_note(qtbot, window, " and more", (Qt.Key.Key_Escape,))  # Esc: nothing is written
    assert [j.note for j in _history(engine, item.image.image_id)] == ["first"]
    _write_note(qtbot, window, (Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier), (Qt.Key.Key_Delete,), CTRL_ENTER)
    assert [j.note for j in _history(engine, item.image.image_id)] == ["first", None]
    assert not window.list_model.rows[0].has_note and "Note" not in window.panel.judgment.text()


def test_help_overlay_floats_over_the_window(qtbot, window, batch_dir, engine):
    """F1 draws the help over the window: no pane, splitter size or viewer geometry changes; it follows the
    window's size; any key (not a lone modifier) or click closes it, without judging."""
    _open(qtbot, window, batch_dir)
    split = window.splitter
    before = (split.count(), split.sizes(), window.viewer.geometry(), window.list_view.geometry(),
              window.panel.geometry(), window.viewer.viewport().size())
    _press(qtbot, window, Qt.Key.Key_F1)
    assert window.help.isVisible()
    QApplication.processEvents()
    after = (split.count(), split.sizes(), window.viewer.geometry(), window.list_view.geometry(),
             window.panel.geometry(), window.viewer.viewport().size())
    assert after == before
    assert window.help.parentWidget() is window and window.help.geometry() == window.rect()
    window.resize(window.width() - 200, window.height() - 100)
    QApplication.processEvents()
    assert window.help.geometry() == window.rect()
    qtbot.keyClick(window.help, Qt.Key.Key_Shift)  # half of "?": keeps it open
    assert window.help.isVisible()
    _press(qtbot, window.help, Qt.Key.Key_Return)  # any key closes it, and does not judge
    assert not window.help.isVisible()
    _press(qtbot, window, Qt.Key.Key_F1)
    qtbot.mouseClick(window.help, Qt.MouseButton.LeftButton)
    assert not window.help.isVisible()
    assert window.items[0].judgment is None and split.count() == 3


def test_the_help_lists_every_key_and_fits_a_laptop_window(qtbot, window):
    """Every action of the keymap has its row (E, F and Ctrl+Q were missing), and in a window as short as a
    1366 × 768 screen leaves, the rows take two column pairs rather than run past the window's bottom; in a
    narrow one too, the longer texts wrap rather than run past its sides or get cut."""
    from app.ui.help_overlay import _ROW_IDS
    from app.ui.keymap import actions

    assert {a.id for a in actions()} == {i for row in _ROW_IDS for i in row}
    help_ = window.help
    # 1024: wrapped actions; 1093 x 599: 1366 x 768 at 125 %, the rows a smaller text (they were squeezed, cut)
    for width, height, columns in ((1366, 1150, 1), (1366, 690, 2), (1024, 690, 2), (1093, 599, 2), (1093, 520, 2)):
        window.resize(width, height)
        _press(qtbot, window, Qt.Key.Key_F1)
        QApplication.processEvents()
        assert help_.isVisible() and help_.columns == columns, (height, help_.columns)
        box = help_.box.geometry()
        assert box.top() >= 0 and box.bottom() <= help_.height(), (height, box)
        assert box.left() >= 0 and box.right() <= help_.width(), (width, box)
        for _keys, action in help_.rows:  # no text cut off: a row too wide for the window wraps instead
            if action.wordWrap():
                assert action.height() >= action.heightForWidth(action.width()), (width, action.text())
            else:
                assert action.width() >= action.sizeHint().width(), (width, action.text())
        _press(qtbot, help_, Qt.Key.Key_Escape)


@pytest.fixture()
def long_batch(tmp_path) -> Path:
    folder = tmp_path / "long"
    for i in range(30):
        write_image(folder / f"img_{i:02d}.png", size=(32, 32), seed=i)
    return folder


def test_home_end_and_page_keys_move_through_the_list(qtbot, window, long_batch):
    _open(qtbot, window, long_batch)
    page = window.list_view.page_rows()
    visible = window.list_view.viewport().height() // window.list_view.visualRect(window.list_model.index(0)).height()
    assert 1 < page == visible - 1 < len(window.items)
    _press(qtbot, window, Qt.Key.Key_End)
    assert window.current == len(window.items) - 1
    assert window.list_view.viewport().rect().contains(window.list_view.visualRect(window.list_model.index(29)))
    _press(qtbot, window, Qt.Key.Key_Home)
    assert window.current == 0
    _press(qtbot, window, Qt.Key.Key_PageDown)
    assert window.current == page
    _press(qtbot, window, Qt.Key.Key_PageDown)
    _press(qtbot, window, Qt.Key.Key_PageUp)
    assert window.current == page
    _press(qtbot, window, Qt.Key.Key_PageUp)
    _press(qtbot, window, Qt.Key.Key_PageUp)  # stops at the first image
    assert window.current == 0
    # the judging keys are untouched: arrows step, Enter accepts
    _press(qtbot, window, Qt.Key.Key_Down)
    assert window.current == 1
    _press(qtbot, window, Qt.Key.Key_Return)
    assert window.items[1].state == "accepted"
    assert not window.list_view.hasFocus()


def test_unwritable_database_is_reported_and_nothing_is_shown_as_done(qtbot, window, batch_dir, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from app.store.errors import StoreError

    _open(qtbot, window, batch_dir)
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))

    def fail(*a, **k):
        raise StoreError("Cannot write to the database sqlite:///x: attempt to write a readonly database")

    monkeypatch.setattr(window.service, "accept", fail)
    _press(qtbot, window, Qt.Key.Key_Return)
    assert shown and "readonly database" in shown[0]
    assert window.items[0].state == "pending" and window.current == 0
    monkeypatch.undo()
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[1:3]))
    _press(qtbot, window, Qt.Key.Key_Return)  # saved; then its undo refused: said as an undo ("this judgment was
    qtbot.waitUntil(lambda: window.service.can_undo, timeout=10_000)  # not saved" read as the Enter just pressed)
    monkeypatch.setattr(window.service, "undo", fail)
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    title, text = shown[-1]
    assert title == "Undo NOT saved" and "so nothing was undone" in text and "readonly database" in text


@pytest.mark.parametrize("lang", ["en", "zh_TW"])
def test_screenshot_flag(tmp_path, bundle, batch_dir, lang):
    out = tmp_path / f"shot_{lang}.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FMA_JUDGE_SETTINGS=str(tmp_path / "s.ini"))
    exe = Path(sys.executable).parent / "fma-judge"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "app"]
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    res = subprocess.run([*cmd, str(batch_dir), "--model", bundle.name, "--db", f"sqlite:///{tmp_path / 'db.sqlite'}",
                          "--screenshot", str(out), "--lang", lang], capture_output=True, text=True, timeout=300,
                         cwd=bundle.parent, env=env)  # --model as typed in the bundle's folder: relative
    assert res.returncode == 0, res.stderr
    # remembered in full (kept as typed, the model was "not there" for a start from the Start menu)
    assert f"model_path={Path(os.path.abspath(bundle)).as_posix()}" in (tmp_path / "s.ini").read_text(encoding="utf-8")
    from PIL import Image

    with Image.open(out) as im:
        assert im.width >= 1000 and im.height >= 600
    # the .sqlite file alone holds what the session wrote (IT copies that file; the data stayed in the -wal file)
    wal = tmp_path / "db.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    import sqlite3
    from contextlib import closing

    alone = shutil.copy(tmp_path / "db.sqlite", tmp_path / "copy.sqlite")
    with closing(sqlite3.connect(alone)) as db:
        assert db.execute("SELECT count(*) FROM predictions").fetchone()[0] == 6


def test_readme_demo_command_opens_the_demo_batch_with_extra_arguments(tmp_path):
    """`python3 dev.py demo --lang zh_TW` (the README's first command, with an option) opens the demo batch."""
    from app.demo import DEMO_MODEL

    if not (ROOT / ".venv").exists() or not DEMO_MODEL.is_dir():
        pytest.skip("needs the project's .venv and the bundled demo")
    import sqlite3
    from contextlib import closing

    from models.bundle.files import read_bundle_manifest

    out = tmp_path / "demo.png"
    other = tmp_path / "factory_model"  # the model this workstation remembers: the demo's tour leaves it alone
    other.mkdir()
    (tmp_path / "s.ini").write_text(f"[General]\nmodel_path={other.as_posix()}\n", encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FMA_JUDGE_SETTINGS=str(tmp_path / "s.ini"))
    res = subprocess.run([sys.executable, str(ROOT / "dev.py"), "demo", "--lang", "zh_TW", "--db",
                          f"sqlite:///{tmp_path / 'db.sqlite'}", "--screenshot", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size > 10_000
    with closing(sqlite3.connect(tmp_path / "db.sqlite")) as db:
        versions = [v for (v,) in db.execute("SELECT version FROM model_versions")]
    assert versions == [read_bundle_manifest(DEMO_MODEL).model_version]
    assert other.as_posix() in (tmp_path / "s.ini").read_text(encoding="utf-8")
    # the README's other example, a demo with --model: that model did not stay the one later starts load
    res = subprocess.run([sys.executable, str(ROOT / "dev.py"), "demo", "--model", str(DEMO_MODEL), "--db",
                          f"sqlite:///{tmp_path / 'db.sqlite'}", "--screenshot", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stderr
    assert other.as_posix() in (tmp_path / "s.ini").read_text(encoding="utf-8")


def test_a_remembered_model_that_is_not_there_is_said_and_never_replaced_by_the_demo(tmp_path, batch_dir):
    """The model a workstation remembers on a share that is not connected: it was silently replaced by the demo
    model, which auto-judged the factory's images and became the remembered model for good. Now no model is loaded,
    the window says so (a screenshot run fails with the line), and the setting is kept."""
    gone = tmp_path / "share" / "factory_v3"
    settings = tmp_path / "s.ini"
    settings.write_text(f"[General]\nmodel_path={gone.as_posix()}\n", encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FMA_JUDGE_SETTINGS=str(settings))
    res = subprocess.run([sys.executable, "-m", "app", str(batch_dir), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}",
                          "--screenshot", str(tmp_path / "shot.png")], capture_output=True, text=True, timeout=300,
                         cwd=ROOT, env=env)
    assert res.returncode != 0 and not (tmp_path / "shot.png").exists()
    assert f"the model this workstation uses is not there: {gone}" in res.stderr, res.stderr
    assert f"model_path={gone.as_posix()}" in settings.read_text(encoding="utf-8")


def test_the_window_says_a_remembered_model_is_not_there_and_loads_none(qtbot, tmp_path, monkeypatch):
    """The same, in the window an analyst starts: a banner names the path; no model is asked to load."""
    from PySide6.QtWidgets import QApplication, QLabel

    from app.ui import app as app_module
    from app.ui.main_window import MainWindow

    gone = tmp_path / "share" / "factory_v3"
    (tmp_path / "s.ini").write_text(f"[General]\nmodel_path={gone.as_posix()}\nanalyst=ana\n", encoding="utf-8")
    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "s.ini"))
    loaded, shown = [], []
    monkeypatch.setattr(MainWindow, "load_model", lambda self, path, remember=True: loaded.append(path))
    monkeypatch.setattr(MainWindow, "warm_model", lambda self, path: loaded.append(path))
    monkeypatch.setattr(QApplication, "exec", lambda *_a: shown.extend(  # (earlier tests' windows are closed)
        w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()) or 0)
    monkeypatch.setattr(app_module.crash_log, "enable", lambda _folder: None)  # process-wide: not in the tests'
    font = QApplication.instance().font()  # (run_app picks a CJK font for the whole process: a later test's
    try:  # window at 1366 x 690 then scrolled)
        assert app_module.run_app(["--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "--analyst", "ana", "--lang", "en"]) == 0
    finally:
        QApplication.instance().setFont(font)
    assert len(shown) == 1
    window = shown[0]
    try:
        assert loaded == []
        banners = [b.text() for b in window.findChildren(QLabel, "infoBanner") if b.isVisible()]
        assert any(str(gone) in b and "No model is loaded" in b for b in banners), banners
    finally:
        window.close()


@pytest.mark.qt_no_exception_capture
def test_an_exception_no_code_caught_is_said_on_screen(qtbot, engine, tmp_path, monkeypatch):
    """An exception in a key's handler went only to stderr and crash.log: the analyst pressed Q and nothing
    happened, without a word. Now the status bar says something went wrong and where the details are."""
    import sys

    from app.ui.alerts import say_uncaught
    from app.ui.main_window import MainWindow

    win = MainWindow(JudgingService(engine, "alice"), lang="en")
    qtbot.addWidget(win)
    logged = []
    monkeypatch.setattr(sys, "excepthook", lambda *a: logged.append(a[1]))  # (crash_log's: it logs, says nothing)
    say_uncaught(win, tmp_path / "crash.log")
    def handler() -> None:  # a key's handler that breaks
        raise ValueError("no such image")

    QTimer.singleShot(0, win, handler)
    qtbot.waitUntil(lambda: bool(logged), timeout=5_000)
    said = win.statusBar().currentMessage()
    assert said.startswith("Something went wrong, so what the last key or click asked for may not have been done (")
    assert "(ValueError: no such image)" in said and str(tmp_path / "crash.log") in said, said


def test_auto_judged_images_are_marked_counted_apart_and_skipped(qtbot, engine, taxonomy, batch_dir, tmp_path,
                                                                 monkeypatch):
    """A calibrated model: auto-routed images get the 'auto-judged' badge, are not 'left', and navigation to the
    next open image walks over them (an analyst can still open and override them)."""
    from app.ui.app import open_settings
    from app.ui.main_window import MainWindow
    from models.bundle.files import read_bundle_manifest, write_bundle_manifest
    from models.inference.predictor import Predictor
    from models.routing.policy import Calibration

    bundle = make_tiny_bundle(tmp_path / "calibrated", taxonomy)
    confs = sorted(p.confidence for p in Predictor(bundle).predict(sorted(batch_dir.glob("img_*.png"))))
    cut = (confs[2] + confs[3]) / 2  # three images above the threshold, three below
    write_bundle_manifest(bundle, read_bundle_manifest(bundle).replace(
        calibration=Calibration(thresholds=dict.fromkeys(taxonomy.leaves, cut), spot_check=0.0)))
    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    win = MainWindow(JudgingService(engine, "alice"), lang="en", settings=open_settings())
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.worker.modelLoaded, timeout=60_000):
        win.load_model(bundle)
    _open(qtbot, win, batch_dir)
    assert win.list_model.counts() == {"auto": 3, "rejudge": 3, "error": 1}
    assert win.counts_label.text().startswith("3 left") and "auto-judged 3" in win.counts_label.text()
    auto = {i for i, it in enumerate(win.items) if it.state == "auto"}
    seen, pos = [], min(auto)
    for _ in range(3):
        pos = win.presenter.next_open(pos)
        seen.append(pos)
    assert not auto & set(seen) and len(set(seen)) == 3
    # an auto-judged image can still be opened and overridden with one key
    win.select(min(auto))
    wait_on_screen(qtbot, win)
    _press(qtbot, win, Qt.Key.Key_Return)
    assert win.items[min(auto)].state == "accepted"
    win.close()


def test_a_new_batch_whose_first_images_the_model_judges_starts_on_the_first_that_needs_a_person(
        qtbot, engine, taxonomy, batch_dir, tmp_path, monkeypatch):
    """A new batch opened on its first image, which the first predictions auto-judged a moment later: the analyst
    had to press Down before any work. Now the window goes on to the first image that needs a person and says
    why; once the analyst has moved, the predictions never move them."""
    from models.bundle.files import read_bundle_manifest, write_bundle_manifest
    from models.inference.predictor import Predictor
    from models.routing.policy import Calibration

    bundle = make_tiny_bundle(tmp_path / "calibrated", taxonomy)
    paths = sorted(batch_dir.glob("img_*.png"))
    conf = {p.name: r.confidence for p, r in zip(paths, Predictor(bundle).predict(paths), strict=True)}
    order = sorted(conf)  # the list's order: by file name
    first_open = next(i for i, name in enumerate(order) if conf[name] < conf[order[0]])  # (random images differ)
    write_bundle_manifest(bundle, read_bundle_manifest(bundle).replace(calibration=Calibration(
        thresholds=dict.fromkeys(taxonomy.leaves, conf[order[0]] - 1e-6), spot_check=0.0)))
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    _open(qtbot, win, batch_dir)
    assert win.items[0].state == "auto" and win.current == first_open and win.items[first_open].state == "rejudge"
    said = win.statusBar().currentMessage()
    if first_open == 1:
        assert said == "The model judged img_0.png: you start on the next image that needs a person (Up goes back)"
    else:
        assert said == f"The model judged the first {first_open} images: you start on the first that needs a person"
    # the analyst moves back to the auto-judged image: a prediction run that follows (another model version's
    # would be the same) leaves them there
    _press(qtbot, win, Qt.Key.Key_Up)
    assert win.current == first_open - 1
    win.pass_auto_judged()
    assert win.current == first_open - 1
    win.close()


def test_a_folder_that_is_no_model_picked_as_the_model_keeps_the_model_in_use(qtbot, window, tmp_path,
                                                                              monkeypatch) -> None:
    """Model → a folder of images by mistake: "not a model bundle" came after the working model was unloaded (the
    status bar said "No model" and predictions stopped). Now the folder is checked first and the model stays."""
    from PySide6.QtWidgets import QMessageBox

    from app.ui import file_dialogs

    wrong = tmp_path / "lineA"
    write_image(wrong / "P001.png")
    version = window.model.version
    said = []
    monkeypatch.setattr(file_dialogs, "choose_folder", lambda *a, **k: str(wrong))
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, title, text, *a: said.append((title, text)))
    window.choose_model()
    assert said and said[0][0] == "Not a model" and "This folder cannot be loaded as a model:" in said[0][1]
    assert said[0][1].count("not a model bundle") == 1 and str(wrong) in said[0][1]  # (it said so twice)
    assert f"The model in use stays: {version}." in said[0][1]
    assert window.model is not None and window.model.version == version
    assert window.status.model_label.text() == f"Model: {version}"


def test_the_window_is_on_screen_before_the_store_is_imported() -> None:
    """The app builds and shows its window, then opens the database: importing SQLAlchemy and the store is most of
    a start-up, so nothing the window imports may import it (`python -m bench.startup` measures the effect)."""
    code = ("import sys; import app.ui.app, app.ui.main_window; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_window_without_its_store_yet_ignores_keys_and_runs_what_was_asked_once_attached(
        qtbot, engine, bundle, batch_dir, tmp_path, monkeypatch):
    from app.ui.main_window import MainWindow

    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    win = MainWindow(analyst="alice")
    qtbot.addWidget(win)
    win.show()
    assert win.service is None and win.status.analyst_label.text().endswith("alice")
    for key in (Qt.Key.Key_Return, Qt.Key.Key_U, Qt.Key.Key_Q):
        _press(qtbot, win, key)  # nothing to judge, no queue: nothing happens, nothing fails
    win.load_model(bundle)
    win.open_folder(batch_dir)  # asked before the store is open: kept until attach
    assert win.worker.service.engine is None and win.model is None and not win.items
    with qtbot.waitSignal(win.allPredicted, timeout=120_000):
        win.attach(JudgingService(engine, "alice"))
    assert len(win.items) == 7 and win.model is not None and win.panel.judging
    _press(qtbot, win, Qt.Key.Key_Return)
    assert [j.analyst for j in _history(engine, win.items[0].image.image_id)] == ["alice"]
    win.close()


def test_the_app_makes_its_model_while_the_database_opens(qtbot, bundle, batch_dir, tmp_path, monkeypatch):
    """run_app shows the window, starts making the model (PredictingService.warm) and only then opens the
    database; the model thread's load takes what the warm-up made: the bundle is read once."""
    import app.ui.app as app_module
    from app.services.predicting import PredictingService
    from app.ui.main_window import MainWindow

    made: list[str] = []
    real = PredictingService._prepare
    monkeypatch.setattr(PredictingService, "_prepare", lambda self, path, on_manifest: (
        made.append((path, threading.current_thread().name)), real(self, path, on_manifest))[1])
    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    seen = {}

    def event_loop(_app=None) -> int:  # instead of app.exec(): wait for the predictions, then close
        (win,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        qtbot.waitUntil(lambda: len(win.items) == 7 and all(it.prediction for it in win.items
                                                          if not it.image.path.endswith("zz_corrupt.png")),
                        timeout=120_000)
        seen["version"] = win.model.version
        seen["notices"] = [b.text() for b in win.findChildren(QLabel, "infoBanner")]
        win.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", event_loop)
    # in this process, run_app's process-wide settings would outlive the test: the crash log (faulthandler and
    # sys.excepthook) and the CJK font, whose taller lines made a later layout test scroll
    logs = []
    monkeypatch.setattr(app_module.crash_log, "enable", logs.append)
    # killed last time: the banner gave that session's start as if it were its end ("01:26", killed at 01:44: an
    # analyst would think 18 minutes of work lost; factory-scale walk-through)
    monkeypatch.setattr(app_module.crash_log, "previous_crash", ("2026-12-07T01:26:05+08:00", "not closed"))
    monkeypatch.setattr(app_module.crash_log, "mark_reported", lambda: None)
    font = QApplication.font()
    try:
        rc = app_module.run_app([str(batch_dir), "--model", str(bundle), "--db",
                                 f"sqlite:///{tmp_path / 'db.sqlite3'}", "--analyst", "alice", "--lang", "en"])
    finally:
        QApplication.setFont(font)
    assert rc == 0 and seen["version"] and made == [(str(bundle), "fma-judge model warm-up")]
    assert logs == [tmp_path]  # the crash log beside the settings file
    said = "The session started 2026-12-07 01:26 ended unexpectedly (it was not closed: ended from outside, or the " \
           "power went); every judgment and note shown as saved is in the database. Details: "
    assert [n.startswith(said + str(tmp_path / "crash.log")) for n in seen["notices"] if "unexpectedly" in n] == [True]


def test_an_unsaved_note_outlives_the_window_and_closing_asks_only_when_it_cannot(qtbot, window, engine, tmp_path,
                                                                                  monkeypatch, batch_dir):
    """Drafts are kept on disk per database: closing does not ask, the next window on the store brings them back
    (and says where they were typed); where they could not be written (a full disk), closing asks, and Cancel keeps
    the window."""
    from conftest import open_window
    from PySide6.QtWidgets import QMessageBox

    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[2]) or QMessageBox.StandardButton.Cancel)
    assert window.note_drafts.path is not None and window.note_drafts.path.parent == tmp_path  # beside the settings
    _open(qtbot, window, batch_dir)
    image = window.presenter.items[2].image
    window.note_drafts.keep(image.image_id, "edge chipped, check the cutter")
    window.note_drafts.keep((image.image_id, image.image_id + 1), "both from the cutter")  # a queue selection's
    assert window.close() is True and asked == []  # on disk: nothing to lose
    again = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        assert again.note_drafts.get(image.image_id) == "edge chipped, check the cutter"
        from PySide6.QtWidgets import QLabel

        again.statusBar().showMessage("the narrow-window hint")  # another message does not take it away
        banners = [b.text() for b in again.findChildren(QLabel, "infoBanner") if not b.isHidden()]
        assert any("Notes typed and not saved last time: 2 (img_2.png in batch, img_2.png in batch)" in b
                   for b in banners), banners
        # saved one by one (the note dialog drops a draft once its note is in the store): the banner counts down and
        # goes with the last (it said 1 unsaved after the note was in the database)
        [banner] = [b for b in again.findChildren(QLabel, "infoBanner") if "Notes typed" in b.text()]
        again.note_drafts.drop(image.image_id)
        assert "Notes typed and not saved last time: 1 (img_2.png in batch)" in banner.text() and banner.isVisible()
        again.note_drafts.drop((image.image_id, image.image_id + 1))
        assert banner.isHidden()
        again.note_drafts.keep(image.image_id, "edge chipped, check the cutter")  # typed again, not saved
        assert banner.isHidden()
        again.note_drafts.error = "could not write the unsaved notes to … (No space left on device)"
        assert again.close() is False and again.isVisible() and asked and "were not saved: 1" in asked[0]
        monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Close)
        assert again.close() is True
    finally:
        again.close()


def test_undo_of_a_judgment_in_a_batch_no_longer_on_screen_says_so(qtbot, window, batch_dir, engine, tmp_path):
    """Ctrl+Z reaches back to judgments of a batch opened earlier in the session; the status bar named the image on
    screen ("Undone on lot2_0.png: now pending"), which had not changed."""
    _open(qtbot, window, batch_dir)
    first = window.items[window.current]
    _press(qtbot, window, Qt.Key.Key_Return)
    other = tmp_path / "lot2"
    write_image(other / "lot2_0.png", seed=99)
    _open(qtbot, window, other)
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _history(engine, first.image.image_id)[-1].status == "reverted"
    assert window.statusBar().currentMessage() == "Undone on an image of another batch"


def test_a_judging_key_on_an_image_whose_picture_is_not_drawn_yet_judges_nothing(qtbot, window, long_batch, engine,
                                                                                  monkeypatch):
    """Walk-through: 30 Downs in a burst, then Enter, accepted the 30th image while the view was still blank (its
    picture decoding) and the panel beside it showed the one before: an image nobody saw."""
    _open(qtbot, window, long_batch)
    last = len(window.list_model.rows) - 1
    image_id = window.list_model.rows[last].image_id
    window.images.images.pop(image_id, None)  # (not decoded ahead)
    real, asked = window.images.request, []
    monkeypatch.setattr(window.images, "request", lambda i, path, urgent=False: asked.append(i))
    window.list_view.setCurrentIndex(window.list_model.index(last))
    assert window.current_image_id == image_id and image_id in asked and not window.panel.accept_btn.isEnabled()
    _press(qtbot, window, Qt.Key.Key_Return)
    assert window.statusBar().currentMessage() == f"Nothing judged: {Path(window.items[window.current].image.path).name} " \
                                                  "is not on screen yet"
    assert _history(engine, image_id) == []
    monkeypatch.setattr(window.images, "request", real)
    real(image_id, window.items[window.current].image.path, urgent=True)
    qtbot.waitUntil(lambda: image_id in window.images and window.panel.accept_btn.isEnabled(), timeout=10_000)
    _press(qtbot, window, Qt.Key.Key_Return)  # drawn now: judged
    assert len(_history(engine, image_id)) == 1
