"""A large folder's files after its first part are registered by a child process (app.services.registrar)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from conftest import write_image

from app.services import batches, registrar
from app.store.db import init_db, make_engine

N = batches.FIRST + 90  # the child registers 90 files: its own first chunk of FIRST, then the rest


def _folder(root: Path) -> Path:
    folder = root / "big"
    for i in range(N):
        write_image(folder / f"img_{i:03d}.png", size=(24, 20), seed=i)
    write_image(folder / "img_100_copy.png", size=(24, 20), seed=100)  # the same image twice: listed once
    (folder / "img_120.png").write_bytes(b"\x89PNG garbage" * 50)  # not an image inside: undecodable
    (folder / "notes.txt").write_text("not an image", encoding="utf-8")
    return folder


def _open(folder: Path, db: Path) -> tuple[list, list, object, list]:
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    try:
        parts, progress = [], []
        rest = batches.open_folder(engine, folder, first_part=parts.append,
                                   progress=lambda d, t: progress.append((d, t)))
        handed = [(it.image.path, it.image.sha256, it.image.position, it.image.width)
                  for p in [*parts, rest] for it in p.items]
        unreadable = {Path(it.image.path).name: rest.unreadable.get(it.image.image_id)
                      for p in [*parts, rest] for it in p.items if it.image.image_id in rest.unreadable}
        return handed, parts, (unreadable, sorted(Path(p).name for p, _why in rest.skipped)), progress
    finally:
        engine.dispose()


def test_a_child_registers_the_rest_of_a_large_folder_as_this_thread_would(tmp_path, monkeypatch) -> None:
    folder = _folder(tmp_path)
    here, here_parts, here_facts, _ = _open(folder, tmp_path / "here.sqlite3")
    started = []
    real_start = registrar.start
    monkeypatch.setattr(registrar, "start", lambda *a: started.append(real_start(*a)) or started[-1])
    monkeypatch.setattr(batches, "OUT_OF_PROCESS", 0)
    monkeypatch.setattr(batches, "PART_ROWS", 20)  # a chunk is handed over to the window 20 rows at a time
    there, parts, facts, progress = _open(folder, tmp_path / "child.sqlite3")
    assert started and started[0] is not None and started[0].left is None  # the child reported every file
    assert not started[0].process.is_alive() and started[0].process.exitcode == 0
    assert there == here and len(here) == N and [pos for _p, _s, pos, _w in there] == list(range(N))
    assert facts == here_facts, (facts, here_facts)
    assert facts[0] == {"img_120.png": facts[0].get("img_120.png")} and facts[0]["img_120.png"], facts
    assert facts[1] == ["img_100.png", "notes.txt"]  # the same picture as img_100_copy.png: held once, under that name
    assert [len(p.items) for p in parts] == [20, 20, 20, 4, 20, 20, 20, 3]  # FIRST here, the child's first (a copy)
    assert [p.continues for p in parts] == [False] + [True] * 7 and len(here_parts) == 1  # here: the rest at once
    listing = [d for d, t in progress if t == 0]  # the listing's count (total not known yet), before any file is read
    assert listing and progress[: len(listing)] == [(d, 0) for d in listing] and listing[-1] >= N + 1
    registered = [d for d, t in progress[len(listing):]]
    assert registered[-1] == N + 1 and registered == sorted(registered)


def test_when_the_child_dies_this_thread_registers_what_it_did_not_report(tmp_path, monkeypatch) -> None:
    folder = _folder(tmp_path)
    here, *_ = _open(folder, tmp_path / "here.sqlite3")
    children = []

    def dying(engine, batch_id, register):  # a child that exits before its files (killed, out of memory)
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=os._exit, args=(3,))
        process.start()
        child.close()
        children.append(registrar.Child(process, parent))
        return children[-1]

    monkeypatch.setattr(registrar, "start", dying)
    monkeypatch.setattr(batches, "OUT_OF_PROCESS", 0)
    there, *_ = _open(folder, tmp_path / "child.sqlite3")
    assert children[0].left == 0 and children[0].process.exitcode == 3
    assert there == here and len(there) == N


def test_a_store_in_memory_is_registered_in_this_process(tmp_path) -> None:
    memory = make_engine("sqlite://")
    assert registrar.start(memory, 1, batches.register_chunks) is None
    on_disk = make_engine(f"sqlite:///{tmp_path / 's.sqlite3'}")
    assert registrar._shared_url(on_disk) == f"sqlite:///{tmp_path / 's.sqlite3'}"
    assert registrar._shared_url(make_engine("postgresql+psycopg://fma:secret@db.example/fma")) == \
        "postgresql+psycopg://fma:secret@db.example/fma"  # the password goes to the child too


def test_a_child_started_for_a_folder_of_few_images_is_stopped_unused(tmp_path, monkeypatch) -> None:
    """Many entries but few images (the child starts before the scan, from the number of entries): this thread
    registers them and the child is stopped at once."""
    folder = tmp_path / "mostly_text"
    for i in range(5):
        write_image(folder / f"img_{i}.png", size=(24, 20), seed=i)
        (folder / f"notes_{i}.txt").write_text("x", encoding="utf-8")
    started = []
    real_start = registrar.start
    monkeypatch.setattr(registrar, "start", lambda *a: started.append(real_start(*a)) or started[-1])
    monkeypatch.setattr(batches, "OUT_OF_PROCESS", 7)
    handed, _parts, facts, _ = _open(folder, tmp_path / "s.sqlite3")
    assert len(started) == 1 and not started[0].given and not started[0].process.is_alive()
    assert [Path(p).name for p, *_ in handed] == [f"img_{i}.png" for i in range(5)] and len(facts[1]) == 5


def test_an_opening_stopped_midway_stops_its_child_cleanly_and_the_next_opening_resumes(tmp_path, monkeypatch,
                                                                                        qtbot) -> None:
    """The app closing while a large folder registers: its opening task is cancelled (:class:`app.ui.workers.Task`),
    the next report raises, the child ends by itself at its next chunk (exit code 0: it shut its own file readers
    down; a terminated child would leave them running), and what was registered stays for the next opening."""
    from app.ui.workers import Task

    folder = _folder(tmp_path)
    started = []
    real_start = registrar.start
    monkeypatch.setattr(registrar, "start", lambda *a: started.append(real_start(*a)) or started[-1])
    monkeypatch.setattr(batches, "OUT_OF_PROCESS", 0)
    engine = make_engine(f"sqlite:///{tmp_path / 's.sqlite3'}")
    init_db(engine)
    delivered, reports = [], []

    def opening(progress, first_part):
        def report(done: int, total: int) -> None:
            if total:  # (the listing's reports, total 0, come first)
                reports.append(done)
                if len(reports) == 2:  # the first part is registered, the child reports its first chunk
                    task.cancel()
            progress(done, total)
        return batches.open_folder(engine, folder, progress=report, first_part=first_part)

    task = Task(opening, with_progress=True, with_part=True)
    for signal in (task.signals.result, task.signals.error, task.signals.part):
        signal.connect(delivered.append)
    task.run()
    assert len(reports) == 2 and len(delivered) == 1  # the first part, then nothing: no result, no error
    assert started and not started[0].process.is_alive() and started[0].process.exitcode == 0
    again = batches.open_folder(engine, folder)  # resumed: every file is in the batch
    assert len(again.items) == N
    engine.dispose()


def test_a_large_folder_is_listed_once_before_its_child_starts(tmp_path, monkeypatch) -> None:
    """The child is started as soon as the folder's own listing shows it large: the folder is not listed a second
    time to count it first (on a slow share a listing takes seconds), and the child's start-up overlaps the rest of
    the scan."""
    folder = _folder(tmp_path)
    listings: list[str] = []
    real_scandir = os.scandir

    def counting(path):
        listings.append(os.path.realpath(path))
        return real_scandir(path)

    started = []
    real_start = registrar.start

    def start(*a):
        started.append(listings.count(str(folder.resolve())))  # listings of the folder when the child starts
        return real_start(*a)

    monkeypatch.setattr(batches.os, "scandir", counting)
    monkeypatch.setattr(registrar, "start", start)
    monkeypatch.setattr(batches, "OUT_OF_PROCESS", 0)
    parts: list = []
    engine = make_engine(f"sqlite:///{tmp_path / 's.sqlite3'}")
    init_db(engine)
    try:
        batches.open_folder(engine, folder, first_part=lambda p: parts.append(
            listings.count(str(folder.resolve()))))
    finally:
        monkeypatch.setattr(batches.os, "scandir", real_scandir)
        engine.dispose()
    assert started == [1] and parts and parts[0] == 1  # one listing of the folder before its first part is shown
