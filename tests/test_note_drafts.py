"""Notes typed and not saved (app.services.note_drafts and the note editor): kept on disk per database as they are
typed, cancelled or refused, so a crash or a closed app loses none; a broken drafts file is set aside, not lost."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from app.services.note_drafts import NoteDrafts, drafts_file


def test_drafts_round_trip_through_their_file_by_image_and_by_selection(tmp_path: Path) -> None:
    path = drafts_file(tmp_path, "postgresql://amy:secret@db.fab/fma")
    assert "secret" not in path.name and path.name.startswith("note-drafts-")
    assert path != drafts_file(tmp_path, "sqlite:////tmp/other.sqlite")  # one file per database
    same = tmp_path / "judge.sqlite"  # one database, however --db names it: its drafts are one file
    assert drafts_file(tmp_path, str(same)) == drafts_file(tmp_path, f"sqlite:///{same}") \
        == drafts_file(tmp_path, f"sqlite:///{tmp_path}/./judge.sqlite")
    assert drafts_file(tmp_path, "sqlite:////tmp/other.sqlite").name == \
        f"note-drafts-{hashlib.sha256(b'sqlite:////tmp/other.sqlite').hexdigest()[:16]}.json"  # as before it
    drafts = NoteDrafts()
    drafts.keep(7, "in memory before the file is known")
    assert drafts.attach(path) == 0 and json.loads(path.read_text(encoding="utf-8"))["drafts"] == {
        "7": "in memory before the file is known"}
    drafts.keep((3, 9), "both: smear on the lens")
    drafts.keep(5, "  ")  # blank: no draft
    drafts.keep(6, "the saved note", note="the saved note")  # the note itself: no draft
    later = NoteDrafts()
    assert later.attach(path) == 2 and later.get(7) and later.get((3, 9)) == "both: smear on the lens"
    assert 5 not in later and 6 not in later
    later.drop(7)
    assert NoteDrafts().attach(path) == 1


def test_two_windows_on_one_database_keep_each_others_drafts(tmp_path: Path) -> None:
    """Two windows of the app share the drafts file: each writes its own change, never the whole of its drafts
    over the other's (alice's Esc on P021 was wiped by the next window's draft, and came back empty)."""
    path = drafts_file(tmp_path, "sqlite:////data/team.sqlite")
    first, second = NoteDrafts(), NoteDrafts()
    first.attach(path)
    second.attach(path)
    first.keep(21, "alice draft 21")
    second.keep(23, "draft 23 of the other window")
    first.keep(22, "alice draft 22")
    second.drop(23)
    again = NoteDrafts()
    assert again.attach(path) == 2 and again.get(21) == "alice draft 21" and again.get(22) == "alice draft 22"
    first.drop(21)
    assert json.loads(path.read_text(encoding="utf-8"))["drafts"] == {"22": "alice draft 22"}


def test_two_windows_writing_at_the_same_moment_keep_both_drafts(tmp_path: Path, monkeypatch) -> None:
    """The read-merge-write of one window is not cut into by the other's: window A reads the file, then (slowly)
    writes; window B saves in between. Without the lock B's draft was read before A's write and lost after it."""
    import threading
    import time

    from app.services import note_drafts

    monkeypatch.setattr(note_drafts, "LOCK_WAIT_S", 10.0)  # B waits for A however slow the machine
    path = drafts_file(tmp_path, "sqlite:////data/team.sqlite")
    first, second = NoteDrafts(), NoteDrafts()
    first.attach(path)
    second.attach(path)
    a_read = threading.Event()
    real_on_disk = NoteDrafts._on_disk

    def slow_on_disk(self):
        held = real_on_disk(self)
        if self is first:
            a_read.set()
            time.sleep(0.15)  # A has read; B's save comes now (within LOCK_WAIT_S)
        return held

    monkeypatch.setattr(NoteDrafts, "_on_disk", slow_on_disk)
    writer = threading.Thread(target=first.keep, args=(31, "window A's draft"))
    writer.start()
    assert a_read.wait(5)
    second.keep(32, "window B's draft")
    writer.join(5)
    assert json.loads(path.read_text(encoding="utf-8"))["drafts"] == {"31": "window A's draft",
                                                                       "32": "window B's draft"}
    assert first.error is None and second.error is None
    assert not path.with_name(path.name + ".lock").exists()  # released
    lock = path.with_name(path.name + ".lock")  # one left by a window that died while writing: taken over once
    lock.write_text("12-dead", encoding="utf-8")  # this process has seen it unchanged for STALE_LOCK_S
    monkeypatch.setattr(note_drafts, "STALE_LOCK_S", 0.2)
    second.keep(33, "after a crash")
    assert json.loads(path.read_text(encoding="utf-8"))["drafts"]["33"] == "after a crash" and not lock.exists()
    # a lock is judged by how long this process has seen it, not by its time (a file server's clock may be far
    # behind): one seen for less than STALE_LOCK_S stays; the change waits LOCK_WAIT_S for it, then writes anyway
    monkeypatch.setattr(note_drafts, "STALE_LOCK_S", 10.0)
    monkeypatch.setattr(note_drafts, "LOCK_WAIT_S", 0.3)
    lock.write_text("7-alive", encoding="utf-8")
    os.utime(lock, (1, 1))  # a file server's clock far behind this one
    second.keep(34, "while another holds it")
    assert lock.read_text(encoding="utf-8") == "7-alive"  # not taken over in 0.3 s, nor removed by the writer
    assert json.loads(path.read_text(encoding="utf-8"))["drafts"]["34"] == "while another holds it"
    lock.unlink()


def test_a_broken_drafts_file_is_set_aside_and_an_unwritable_one_keeps_the_drafts_in_memory(tmp_path: Path) -> None:
    path = drafts_file(tmp_path, "sqlite:///x")
    path.write_text("{not json", encoding="utf-8")
    drafts = NoteDrafts()
    assert drafts.attach(path) == 0 and "could not read the unsaved notes" in drafts.error
    assert path.with_name(path.name + ".bad").read_text(encoding="utf-8") == "{not json"  # kept for a person to read
    drafts.keep(1, "typed after")
    assert drafts.error is None and NoteDrafts().attach(path) == 1
    if os.name == "posix" and os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            stuck = NoteDrafts()
            stuck.attach(drafts_file(locked, "sqlite:///x"))
            assert stuck.keep(2, "no room") and stuck.get(2) == "no room" and "could not write" in stuck.error
        finally:
            locked.chmod(0o700)
    stuck = NoteDrafts()
    stuck.attach(tmp_path / "a-file" / "drafts.json")
    (tmp_path / "a-file").write_text("", encoding="utf-8")  # the folder is a file: nothing can be written there
    assert stuck.keep(2, "no room") and stuck.get(2) == "no room" and "could not write" in stuck.error


def test_the_editor_keeps_what_is_being_typed_and_a_saved_note_does_not_come_back(qtbot, tmp_path: Path) -> None:
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from app.ui.note_dialog import TYPING_SAVE_MS, NoteDialog

    drafts = NoteDrafts()
    drafts.attach(tmp_path / "drafts.json")
    seen = {}

    def type_then_save() -> None:
        dialog = QApplication.activeModalWidget()
        qtbot.keyClicks(dialog.editor, "dust on the lens")
        qtbot.wait(TYPING_SAVE_MS + 300)  # typing stopped: what a crash now would leave
        seen["on disk"] = NoteDrafts().attach(tmp_path / "drafts.json") and drafts.get(11)
        qtbot.keyClicks(dialog.editor, ", wiped")
        qtbot.keyClick(dialog.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # saved at once

    QTimer.singleShot(100, type_then_save)
    assert NoteDialog.ask(None, "P011_20x.png", "", drafts, 11) == "dust on the lens, wiped"
    assert seen["on disk"] == "dust on the lens"
    qtbot.wait(TYPING_SAVE_MS + 300)  # the typing timer never brings a saved note back as a draft
    assert 11 not in drafts and NoteDrafts().attach(tmp_path / "drafts.json") == 0


def test_a_note_typed_without_a_pause_is_kept_as_it_goes(qtbot, tmp_path: Path) -> None:
    """The draft was written only once typing paused: an analyst who typed on for 10 s and was cut off by a crash
    had nothing kept (whole-day walk-through)."""
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.ui.note_dialog import TYPING_SAVE_MS, NoteDialog

    drafts = NoteDrafts()
    drafts.attach(tmp_path / "drafts.json")
    seen: list[str | None] = []

    def type_on() -> None:
        dialog = QApplication.activeModalWidget()
        text = "particle near the gate line, about 5 um"
        for ch in text:  # a key every TYPING_SAVE_MS / 4: never a pause long enough for the old rule
            qtbot.keyClicks(dialog.editor, ch)
            qtbot.wait(TYPING_SAVE_MS // 4)
        seen.append(json.loads((tmp_path / "drafts.json").read_text(encoding="utf-8"))["drafts"].get("12"))
        dialog.reject()

    QTimer.singleShot(100, type_on)
    assert NoteDialog.ask(None, "P012_20x.png", "", drafts, 12) is None
    (on_disk,) = seen
    assert on_disk and "particle near the gate" in on_disk  # kept while typing, at most the last keys missing



def test_a_draft_knows_the_note_it_was_typed_over_and_the_editor_says_when_a_colleague_changed_it(
        qtbot, tmp_path: Path) -> None:
    """Amy's draft (Esc) came back in the editor after bob had saved a note on the image, said only "Your unsaved
    text is back", and Ctrl+Enter replaced bob's note unseen (team walk-through). A draft keeps the saved note it
    was typed over, on disk too (a crash), and the editor opened over another note says so, with what it reads now
    and who wrote it; once said, the draft is typed over that note."""
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.ui.note_dialog import NoteDialog

    path = tmp_path / "drafts.json"
    drafts = NoteDrafts()
    drafts.attach(path)
    drafts.keep(13, "amy draft on lc stain", note="")
    drafts.keep(13, "amy draft on lc stain, longer", note="")  # kept again: still typed over the same note
    drafts.keep(14, "over a note", note="the note then")
    assert (drafts.over(13), drafts.over(14), drafts.over(15)) == ("", "the note then", None)
    later = NoteDrafts()  # (after a crash)
    assert later.attach(path) == 2 and later.over(13) == "" and later.over(14) == "the note then"
    old_format = tmp_path / "old.json"  # a file of an earlier version: not known, nothing said
    old_format.write_text('{"format": 1, "drafts": {"13": "typed"}}', encoding="utf-8")
    earlier = NoteDrafts()
    assert earlier.attach(old_format) == 1 and earlier.over(13) is None
    seen: list[tuple[bool, str, str]] = []

    def look_then_cancel() -> None:
        dialog = QApplication.activeModalWidget()
        seen.append((dialog.changed.isVisible(), dialog.changed.text(), dialog.text()))
        dialog.reject()

    for note in ("bob note on lc stain", "bob note on lc stain", ""):
        QTimer.singleShot(100, look_then_cancel)
        assert NoteDialog.ask(None, "lc_stain.png", note, later, 13, author="bob") is None
    assert seen[0] == (True, "bob changed this image's note after you typed the text below; it reads now:\n"
                             "“bob note on lc stain”\nCtrl+Enter puts your text in its place (copy theirs in to keep "
                             "it) · Esc keeps yours for later", "amy draft on lc stain, longer")
    assert seen[1][0] is False  # said once: the draft is typed over bob's note now
    assert seen[2][:2] == (True, "bob removed this image's note after you typed the text below.")
    QTimer.singleShot(100, look_then_cancel)  # the note it was typed over: nothing to say
    assert NoteDialog.ask(None, "x.png", "the note then", later, 14, author="bob") is None
    assert seen[3][0] is False
    QTimer.singleShot(100, look_then_cancel)
    assert NoteDialog.ask(None, "y.png", "a note", earlier, 13) is None and seen[4][0] is False  # (not known)
    later.drop(13)
    assert later.over(13) is None and "13" not in json.loads(path.read_text(encoding="utf-8"))["over"]
