"""A folder is one batch: opened plain or with its sub-folders it resumes the same batch, batch names are unique,
and a plain opening tells how many images its sub-folders hold (issue #18)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import write_image
from store_backends import BACKENDS, fresh_engine

from app.services import batches
from app.store import repo
from app.store.db import session_scope


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path: Path):
    with fresh_engine(request.param, tmp_path, "resume.sqlite3") as eng:
        yield eng


def _folder(root: Path) -> Path:
    for i in range(3):
        write_image(root / f"top_{i}.png", seed=i)
    for i in range(2):
        write_image(root / "lot2" / f"sub_{i}.png", seed=10 + i)
    write_image(root / ".hidden" / "x.png", seed=20)  # hidden folders are not counted
    return root


def test_a_folder_opened_plain_then_with_subfolders_is_one_batch(engine, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "mybatch")
    plain = batches.open_folder(engine, folder)
    assert len(plain.items) == 3 and not plain.recursive and plain.below == 2
    with session_scope(engine) as s:
        repo.record_judgment(s, image_id=plain.items[0].image.image_id, leaf="scratch", action="picker",
                             analyst="amy", batch_id=plain.batch_id)
    deep = batches.open_folder(engine, folder, recursive=True)
    assert deep.batch_id == plain.batch_id and deep.recursive and deep.below == 0
    assert sorted(Path(it.image.path).name for it in deep.items) == ["sub_0.png", "sub_1.png", "top_0.png",
                                                                      "top_1.png", "top_2.png"]
    assert deep.items[0].judgment is not None and deep.items[0].judgment.leaf == "scratch"  # resumed
    again = batches.open_folder(engine, folder)  # plain again: the batch is recursive now, and resumes whole
    assert again.batch_id == plain.batch_id and again.recursive and len(again.items) == 5
    with session_scope(engine, action="read") as s:
        assert [(b.name, b.recursive) for b in repo.list_batches(s)] == [("mybatch", True)]
        assert [b.id for b in repo.batches_named(s, "mybatch")] == [plain.batch_id]


def test_batches_of_folders_with_one_name_get_distinct_names(engine, tmp_path: Path) -> None:
    first = batches.open_folder(engine, _folder(tmp_path / "day1" / "mybatch"))
    second = batches.open_folder(engine, _folder(tmp_path / "day2" / "mybatch"))
    third = batches.open_folder(engine, _folder(tmp_path / "day2" / "x" / "mybatch"))
    fourth = batches.open_folder(engine, _folder(tmp_path / "day3" / "x" / "mybatch"))
    assert [b.name for b in (first, second, third, fourth)] == ["mybatch", "mybatch (day2)", "mybatch (x)",
                                                                "mybatch (2)"]


def test_images_below_counts_subfolder_images_only(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "f")
    (folder / "lot2" / "notes.txt").write_text("not an image")
    assert batches.images_below(folder) == 2
    assert batches.images_below(folder, limit=1) == 1
    assert batches.images_below(folder / "lot2") == 0


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_app_says_what_lies_below_and_asks_only_when_something_does(qtbot, engine, tmp_path, taxonomy,
                                                                         monkeypatch) -> None:
    from conftest import make_tiny_bundle, open_window
    from PySide6.QtWidgets import QMessageBox

    from app.ui import file_dialogs

    bundle = make_tiny_bundle(tmp_path / "model", taxonomy, input_size=32)
    folder = _folder(tmp_path / "mybatch")
    flat = tmp_path / "flat"
    write_image(flat / "only.png")
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        assert len(win.items) == 3
        assert "2 more images lie in the folder's sub-folders" in win.statusBar().currentMessage()
        asked = []

        def question(parent, title, text, *args):
            asked.append(text)
            return QMessageBox.StandardButton.Yes

        monkeypatch.setattr(QMessageBox, "question", question)
        monkeypatch.setattr(file_dialogs, "choose_folder", lambda *a, **k: str(folder))
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.choose_folder()
        assert asked == [f"The sub-folders of {folder.name} hold 2 more images. Open them with the folder's images?"]
        assert len(win.items) == 5 and win.presenter.batch.recursive
        monkeypatch.setattr(file_dialogs, "choose_folder", lambda *a, **k: str(flat))
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.choose_folder()
        assert len(asked) == 1 and len(win.items) == 1  # nothing below: no question
        monkeypatch.setattr(file_dialogs, "choose_folder", lambda *a, **k: str(folder))
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.choose_folder()  # opened with its sub-folders before: again, not asked about them (a No kept them)
        assert len(asked) == 1 and len(win.items) == 5 and win.presenter.batch.recursive
    finally:
        win.close()


def test_migration_0004_tells_the_batches_of_chosen_files_from_folders(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import text

    from app.store.db import alembic_config, make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    command.upgrade(alembic_config(eng), "0003_routing_pauses")
    with eng.begin() as conn:
        for name, notes in (("lot", None), ("2 files from lot", "opened from chosen files")):
            conn.execute(text("INSERT INTO batches (name, source_folder, recursive, created_at, notes) "
                              "VALUES (:n, '/data/lot', 0, '2026-11-01 00:00:00', :notes)"), {"n": name, "notes": notes})
    command.upgrade(alembic_config(eng), "head")
    with session_scope(eng, action="read") as s:
        assert {b.name: b.kind for b in repo.list_batches(s)} == {"lot": "folder", "2 files from lot": "files"}
        assert [b.name for b in repo.find_batches_by_folder(s, "/data/lot")] == ["lot"]
    eng.dispose()


def test_a_recursive_batch_shows_each_image_with_its_subfolder(engine, tmp_path: Path) -> None:
    from app.services.batch_presenter import BatchPresenter

    folder = _folder(tmp_path / "mybatch")
    presenter = BatchPresenter()
    presenter.open(batches.open_folder(engine, folder))
    assert [presenter.list_row(i).file_name for i in range(3)] == ["top_0.png", "top_1.png", "top_2.png"]
    presenter.open(batches.open_folder(engine, folder, recursive=True))
    names = sorted(presenter.list_row(i).file_name for i in range(len(presenter.items)))
    assert names == ["lot2/sub_0.png", "lot2/sub_1.png", "top_0.png", "top_1.png", "top_2.png"]
    assert presenter.panel(presenter.items.index(next(it for it in presenter.items if "sub_0" in it.image.path))
                           ).file_name == "lot2/sub_0.png"


def test_a_read_only_store_resumes_a_widened_batch_from_a_plain_opening(engine, tmp_path: Path, monkeypatch) -> None:
    folder = _folder(tmp_path / "mybatch")
    batches.open_folder(engine, folder)
    batches.open_folder(engine, folder, recursive=True)
    monkeypatch.setattr(batches, "read_only", lambda _engine: "the file is read-only for you")
    opened = batches.open_folder(engine, folder)
    assert opened.recursive and len(opened.items) == 5 and opened.skipped == []


def test_an_image_opens_in_its_folder_batch_or_its_batch_of_files(engine, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "lot")
    files = batches.open_files(engine, [folder / "lot2" / "sub_0.png"])
    image_id = files.items[0].image.image_id
    assert batches.batch_of_image(engine, image_id).id == files.batch_id  # only the files' batch holds it
    deep = batches.open_folder(engine, folder, recursive=True)
    assert batches.batch_of_image(engine, image_id).id == deep.batch_id  # a folder batch, its folder there
    assert batches.batch_of_image(engine, 999_999) is None


def test_a_folder_with_subfolders_lists_its_images_part_by_part(tmp_path: Path) -> None:
    """Ordered by the parts of each path (a folder's own images and sub-folders by name, a sub-folder's images
    together), as the tuple of parts orders them, though the scan sorts one text a file."""
    root = tmp_path / "lot"
    for rel in ("a.png", "a/z.png", "a-b/a.png", "a/b/c.png", "ab.png", "a0.png", "B.png"):
        write_image(root / rel)
    texts: list[str] = []
    files, skipped = batches.scan_folder(root, recursive=True, texts=texts)
    rel = [p.relative_to(root).as_posix() for p in files]
    want = sorted(rel, key=lambda r: tuple(os.path.normcase(part) for part in r.split("/")))
    assert rel == want and skipped == []
    assert rel.index("a/z.png") < rel.index("a-b/a.png") < rel.index("a.png")  # a folder before a longer name
    assert texts == [str(p) for p in files]


def test_the_listing_reports_its_count_and_a_cancel_stops_it(engine, tmp_path: Path, monkeypatch) -> None:
    """A folder on a slow share can take a minute to list: the listing reports the entries listed so far (the status
    bar shows them), and a cancelled opening (the progress callback raises) stops during the listing, before any
    file is hashed or registered."""
    root = tmp_path / "big"
    root.mkdir()
    for i in range(50):
        (root / f"note_{i:02d}.txt").write_text("x", encoding="utf-8")  # listed, left out: no file to decode
    write_image(root / "a.png")
    write_image(root / "sub" / "b.png")
    monkeypatch.setattr(batches, "LISTED_EVERY", 16)
    monkeypatch.setattr(batches, "LISTED_GAP", 0.0)
    counts: list[int] = []
    listed_by_os: list[str] = []  # what the OS has handed over so far, when each report is made
    real_scandir = os.scandir

    class Listing:  # os.scandir, noting each entry as the OS hands it over
        def __init__(self, path):
            self.it = real_scandir(path)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.it.close()

        def __iter__(self):
            for entry in self.it:
                listed_by_os.append(entry.name)
                yield entry

    monkeypatch.setattr(batches.os, "scandir", Listing)
    files, _skipped = batches.scan_folder(root, recursive=True, listed=lambda n: counts.append((n, len(listed_by_os))))
    monkeypatch.setattr(batches.os, "scandir", real_scandir)
    assert len(files) == 2 and counts == sorted(counts) and [n for n, _ in counts[:3]] == [16, 32, 48]
    assert counts[0][1] == 16  # reported while the top folder (52 entries) was still being listed, not after it
    assert counts[-1][0] == 53  # 50 notes, a.png, sub and sub/b.png: after each folder too

    class Stop(Exception):
        pass

    reports: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        reports.append((done, total))
        if total == 0:
            raise Stop

    with pytest.raises(Stop):
        batches.open_folder(engine, root, progress=progress)
    assert reports == [(16, 0)]  # stopped at the listing's first report
    with session_scope(engine) as s:
        assert repo.folder_batch(s, root.resolve(), recursive=False, name="big").total == 0  # nothing registered


def test_a_chosen_folder_is_looked_into_off_the_window_thread(qtbot, engine, tmp_path, monkeypatch) -> None:
    """Choosing a folder counts the images of its sub-folders on a worker (a slow share takes seconds): the window
    answers meanwhile, asks once the count comes, and an opening started before it comes wins."""
    import threading

    from conftest import open_window
    from PySide6.QtWidgets import QMessageBox

    from app.ui import file_dialogs

    folder = _folder(tmp_path / "slow")
    other = tmp_path / "other"
    write_image(other / "o.png")
    release = threading.Event()
    real_below = batches.images_below

    def slow_below(path, limit=10_000, max_entries=50_000, tick=None):
        release.wait(10)
        return real_below(path, limit, max_entries, tick=tick)

    asked: list[str] = []
    monkeypatch.setattr(batches, "images_below", slow_below)
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a: asked.append(text)
                        or QMessageBox.StandardButton.No)
    monkeypatch.setattr(file_dialogs, "choose_folder", lambda *a, **k: str(folder))
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        win.choose_folder()  # returns at once: the count is on its way
        assert not release.is_set() and not asked and win.presenter.batch is None
        assert win.statusBar().currentMessage() == f"Looking into {folder}…"
        release.set()
        qtbot.waitUntil(lambda: asked == [f"The sub-folders of {folder.name} hold 2 more images. Open them with the "
                                          "folder's images?"], timeout=10_000)
        qtbot.waitUntil(lambda: len(win.items) == 3, timeout=20_000)  # "No": the folder alone
        release.clear()
        win.choose_folder()
        win.open_folder(other)  # opened before the count came: it wins, and the count's question is never asked
        release.set()
        qtbot.waitUntil(lambda: len(win.items) == 1, timeout=20_000)
        qtbot.wait(300)
        assert len(asked) == 1 and len(win.items) == 1 and Path(win.items[0].image.path).name == "o.png"
        third = tmp_path / "third"
        for i in range(2):
            write_image(third / f"t{i}.png", seed=40 + i)
        release.clear()
        win.choose_folder()  # the folder with images below: chosen again at once, its count is not asked about
        monkeypatch.setattr(file_dialogs, "choose_folder", lambda *a, **k: str(third))
        win.choose_folder()
        release.set()
        qtbot.waitUntil(lambda: len(win.items) == 2, timeout=20_000)
        qtbot.wait(300)
        assert len(asked) == 1 and {Path(it.image.path).name for it in win.items} == {"t0.png", "t1.png"}
    finally:
        release.set()
        win.close()


def test_the_count_below_stops_when_its_opening_is_cancelled(tmp_path: Path) -> None:
    """After a plain opening registered its files, it counts the images below (up to 50,000 entries of a share):
    a cancel stops that count too, at the next folder."""
    root = _folder(tmp_path / "lot")
    ticks: list[int] = []
    assert batches.images_below(root, tick=lambda: ticks.append(1)) == 2 and len(ticks) == 2  # the top and lot2

    class Stop(Exception):
        pass

    def stop() -> None:
        raise Stop

    with pytest.raises(Stop):
        batches.images_below(root, tick=stop)
