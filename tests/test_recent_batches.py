"""The start page lists the batches worked on most recently, with progress, and Enter resumes one (issue #18)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import make_tiny_bundle, open_window, write_image
from sqlalchemy import update

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt

from app.services import batches
from app.store import repo
from app.store.db import session_scope
from app.store.records import PredictionRecord
from app.store.schema import Image


def test_recent_batches_come_by_their_latest_judgment(engine, tmp_path: Path) -> None:
    folders = {}
    for name in ("old", "new", "files"):
        folders[name] = tmp_path / name
        for i in range(2):
            write_image(folders[name] / f"{name}_{i}.png", seed=i + len(folders) * 10)
    old = batches.open_folder(engine, folders["old"])
    new = batches.open_folder(engine, folders["new"])
    files = batches.open_files(engine, sorted(folders["files"].glob("*.png")))
    assert [b.name for b in batches.recent_batches(engine)] == [files.name, "new", "old"]  # by creation
    with session_scope(engine) as s:
        repo.record_judgment(s, image_id=old.items[0].image.image_id, leaf="scratch", action="picker",
                             analyst="amy", batch_id=old.batch_id)
        repo.register_model_version(s, version="v1", manifest={"name": "v1"})
        auto = PredictionRecord(leaf="scratch", confidence=0.99, path=("g", "s", "scratch"), route="auto",
                                model_version="v1")
        for it in old.items:  # both auto-judged by the model; the first one also decided by amy
            repo.save_prediction(s, it.image.image_id, auto)
    recent = batches.recent_batches(engine, limit=2)
    assert [b.name for b in recent] == ["old", files.name]  # worked on last comes first
    assert (recent[0].total, recent[0].judged, recent[0].pending, recent[0].auto, recent[0].left) == (2, 1, 1, 1, 0)
    assert recent[0].updated_at is not None and recent[0].updated_at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    again = batches.open_batch(engine, files.batch_id)
    assert again.batch_id == files.batch_id and len(again.items) == 2 and again.unreadable == {}
    emptied = Path(again.items[1].image.path)
    emptied.write_bytes(b"")  # the file was emptied since (a sync tool, a full disk): the list says why at once
    assert batches.open_batch(engine, files.batch_id).unreadable == {
        again.items[1].image.image_id: "empty file (0 bytes): nothing was saved in it"}
    with pytest.raises(ValueError, match="no batch with id 999"):
        batches.open_batch(engine, 999)
    assert new.batch_id != old.batch_id
    (tmp_path / "stopped").mkdir()  # a first opening stopped while listing leaves its batch without an image
    with session_scope(engine) as s:
        repo.folder_batch(s, (tmp_path / "stopped").resolve(), recursive=False, name="stopped")
    assert "stopped" not in [b.name for b in batches.recent_batches(engine)]
    assert len(batches.recent_batches(engine, limit=3)) == 3  # the limit counts batches that hold images
    # an image whose file cannot be read is not "left": the window counts it apart, the start page said "1 left"
    with session_scope(engine) as s:
        repo.save_prediction(s, new.items[0].image.image_id, PredictionRecord(
            leaf=None, confidence=None, path=(), model_version="v1", error="not a recognised image"))
    (line,) = [b for b in batches.recent_batches(engine) if b.name == "new"]
    assert (line.total, line.pending, line.unreadable, line.left) == (2, 2, 1, 1)
    from app.ui.welcome import batch_line

    assert "0 auto-judged · 1 left · 1 unreadable · last worked on" in batch_line(line)
    assert batch_line(line).startswith("new — 0 of 1 done (0%)")  # the unreadable one is not one to do
    import dataclasses

    large = dataclasses.replace(line, total=26_201, accepted=12, corrected=0, unknown=0, auto=1_000, unreadable=1_001)
    assert batch_line(large).startswith(f"new — 1,012 of 25,200 done (4%): 12 judged, 1,000 auto-judged · "
                                        f"{large.left:,} left · 1,001 unreadable")  # as the status bar says them
    # one the opening found unreadable (no size in its header) is never given to the model: no prediction row, and
    # the start page counted it "left" (zh_TW walk-through: 3 left, 1 unreadable, where the window said 0 and 4)
    with session_scope(engine) as s:
        s.execute(update(Image).where(Image.id == new.items[1].image.image_id).values(width=None, height=None))
    (line,) = [b for b in batches.recent_batches(engine) if b.name == "new"]
    assert (line.total, line.pending, line.unreadable, line.left) == (2, 2, 2, 0)
    assert batch_line(line).startswith("new — 0 of 0 done (–)")
    # through an opening: too large to decode, a JPEG cut short, an empty file and a good image; the first three
    # are never given to the model, and count as the window counts them (a size in the header kept them "left")
    from PIL import Image as PILImage

    odd = tmp_path / "odd"
    odd.mkdir()
    PILImage.new("1", (9000, 9000)).save(odd / "huge.png")
    PILImage.new("L", (2000, 2000), 128).save(odd / "cut.jpg", quality=95)
    (odd / "cut.jpg").write_bytes((odd / "cut.jpg").read_bytes()[:1000])
    (odd / "empty.png").write_bytes(b"")
    write_image(odd / "good.png", seed=5)
    opened = batches.open_folder(engine, odd)
    assert len(opened.unreadable) == 3, opened.unreadable
    (line,) = [b for b in batches.recent_batches(engine) if b.name == "odd"]
    assert (line.total, line.unreadable, line.left) == (4, 3, 1)
    again = batches.open_folder(engine, odd)  # opened again: the header is read again, the same three
    assert set(again.unreadable) == set(opened.unreadable)


def test_the_start_page_resumes_a_recent_batch_with_enter(qtbot, engine, tmp_path, taxonomy, monkeypatch) -> None:
    folder = tmp_path / "lot7"
    for i in range(3):
        write_image(folder / f"img_{i}.png", seed=i)
    opened = batches.open_folder(engine, folder)
    chosen = batches.open_files(engine, [folder / "img_0.png"])
    bundle = make_tiny_bundle(tmp_path / "model", taxonomy, input_size=32)
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    try:
        recent = win.welcome.recent
        qtbot.waitUntil(lambda: recent.count() == 2, timeout=10_000)
        assert win.center.currentWidget() is win.welcome and recent.isVisibleTo(win)
        assert not win.similar_panel.isVisibleTo(win)  # no image: no "nothing similar yet" about nothing
        # the start page has the window to itself: no empty image list, no panel of greyed buttons beside it
        assert not win.list_view.isVisibleTo(win) and not win.panel.isVisibleTo(win)
        assert win.welcome.width() > win.width() - 20
        assert recent.item(0).text().startswith(f"{chosen.name} — 0 of 1 done (0%): 0 judged, 0 auto-judged · 1 left")
        assert recent.item(1).text().startswith("lot7 — 0 of 3 done (0%): 0 judged, 0 auto-judged · 3 left")
        win.grab().save(str(tmp_path / "start.png"))
        assert recent.width() >= 640  # a batch's line has room on the start page …
        recent.setFocus()
        recent.setCurrentRow(1)
        # the 30-second poll reads the counts again (they stayed as at the start while colleagues judged: team lead's
        # walk-through); the same batches keep the row the analyst is on
        img = batches.batch_items(engine, opened.batch_id, "bob")[0].image.image_id
        with session_scope(engine) as s:
            repo.record_judgment(s, image_id=img, leaf=taxonomy.leaves[0], action="picker", analyst="bob")
        win.poll_colleagues()
        qtbot.waitUntil(lambda: "1 of 3 done" in recent.item(1).text(), timeout=10_000)
        assert recent.currentRow() == 1 and recent.count() == 2
        # a judgment in lot7's batch puts it first: the analyst stays on it (row 0 was chosen, and Enter opened
        # another batch: review)
        img = batches.batch_items(engine, opened.batch_id, "bob")[1].image.image_id
        with session_scope(engine) as s:
            repo.record_judgment(s, image_id=img, leaf=taxonomy.leaves[0], action="picker", analyst="bob",
                                 batch_id=opened.batch_id)
        win.poll_colleagues()
        qtbot.waitUntil(lambda: "2 of 3 done" in recent.item(0).text(), timeout=10_000)
        assert recent.currentItem().data(Qt.ItemDataRole.UserRole).id == opened.batch_id
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            qtbot.keyClick(recent, Qt.Key.Key_Return)
        assert win.presenter.batch.batch_id == opened.batch_id and len(win.items) == 3
        assert win.similar_panel.isVisibleTo(win)  # an image on screen: its similar judged cases
        assert win.list_view.isVisibleTo(win) and win.panel.isVisibleTo(win) and win.viewer.isVisibleTo(win)
        # … and the start page behind the judging panes never makes the window wider than they need (its list's
        # minimum of 640 kept every window at least 1246 pixels wide: past the edge of a 1024 screen)
        judging = max(win.center.widget(i).minimumSizeHint().width() for i in range(win.center.count())
                      if win.center.widget(i) is not win.welcome)
        assert win.center.minimumSizeHint().width() <= judging
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_recent(next(recent.item(i).data(Qt.ItemDataRole.UserRole) for i in range(recent.count())
                                 if recent.item(i).data(Qt.ItemDataRole.UserRole).id == chosen.batch_id))  # as stored
        assert win.presenter.batch.batch_id == chosen.batch_id and len(win.items) == 1
    finally:
        win.close()


def test_without_a_model_the_similar_strip_says_why_it_is_empty(qtbot, engine, tmp_path, monkeypatch) -> None:
    folder = tmp_path / "lot"
    for i in range(2):
        write_image(folder / f"img_{i}.png", seed=i)
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch, analyst="amy")
    try:
        assert win.model is None and not win.similar_panel.isVisibleTo(win)
        win.open_folder(folder)
        qtbot.waitUntil(lambda: win.similar_panel.isVisibleTo(win), timeout=10_000)
        assert win.similar_panel.message.text() == "No model is loaded: similar cases come with its predictions."
    finally:
        win.close()


def test_the_queues_judgments_count_as_work_on_their_batches(engine, tmp_path: Path, taxonomy) -> None:
    """Judgments made in the re-judge queue carried no batch: the start page's "last worked on" and its order left
    the queue's work out (night-shift walk-through). They are recorded with their image's newest batch."""
    import datetime as dt

    from app.store.bulk import bulk_judge

    for seed, name in enumerate(("first", "second")):  # (hash(name) % 100 gave both one seed, one picture, once in
        write_image(tmp_path / name / "a.png", seed=seed)  # a hundred runs: the image was the second batch's)
    first = batches.open_folder(engine, tmp_path / "first")
    batches.open_folder(engine, tmp_path / "second")
    assert [b.name for b in batches.recent_batches(engine)][:2] == ["second", "first"]  # by creation
    with session_scope(engine) as s:  # the queue judges the first batch's image
        (record,) = bulk_judge(s, [first.items[0].image.image_id], leaf=taxonomy.leaves[0], analyst="amy",
                               model_version="v1")
    assert record.batch_id == first.batch_id
    recent = batches.recent_batches(engine)
    assert [b.name for b in recent][:2] == ["first", "second"]
    assert recent[0].updated_at is not None and recent[0].updated_at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
