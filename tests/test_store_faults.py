"""The store's fault modes: rolling backups and restore, the integrity check at opening, read-only databases."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from conftest import ROOT, write_image
from sqlalchemy import func, select

from app.__main__ import main as fma_judge
from app.services.backups import BackupSchedule
from app.services.judging import JudgingService
from app.services.queue import QueueService
from app.store import backup as store_backup
from app.store import repo
from app.store.backup import backup_to, check_file, list_backups, restore, rolling_backup
from app.store.db import init_db, make_engine, open_store, session_scope
from app.store.errors import DamagedDatabaseError, ReadOnlyError, StoreError
from app.store.schema import Batch


def _make_db(path: Path, batches: int = 50) -> Path:
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    with session_scope(engine) as s:
        for i in range(batches):
            repo.create_batch(s, name=f"batch {i} " + "x" * 300, source_folder=".")
    engine.dispose()
    return path


def _count(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT count(*) FROM batches").fetchone()[0]


def _damage(path: Path) -> None:
    """Overwrite pages in the middle of the file, as a failing disk would."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(size // 2 - (size // 2) % 4096)
        f.write(b"\xa5" * 3 * 4096)


def test_rolling_backup_makes_sound_copies_at_the_interval_and_keeps_the_newest(tmp_path: Path) -> None:
    db = _make_db(tmp_path / "judge.sqlite3")
    t0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    first = rolling_backup(db, every_s=3600, keep=3, now=t0)
    assert first is not None and first.parent == tmp_path / "backups" and check_file(first) is None
    assert _count(first) == 50
    assert rolling_backup(db, every_s=3600, keep=3, now=t0 + dt.timedelta(minutes=59)) is None  # too soon
    for hours in range(1, 5):
        assert rolling_backup(db, every_s=3600, keep=3, now=t0 + dt.timedelta(hours=hours)) is not None
    kept = list_backups(db)
    assert [b.created for b in kept] == [t0 + dt.timedelta(hours=h) for h in (4, 3, 2)]  # newest first, 3 kept
    assert not list(tmp_path.glob("backups/.*partial"))


def test_a_backup_is_taken_while_another_connection_is_writing(tmp_path: Path) -> None:
    db = _make_db(tmp_path / "judge.sqlite3")
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a window in the middle of a judgment
    writer.execute("UPDATE batches SET name = 'changed' WHERE id = 1")
    try:
        copy = backup_to(db, tmp_path / "copy.sqlite3")  # a reader: WAL lets it through
    finally:
        writer.execute("COMMIT")
        writer.close()
    assert _count(copy) == 50 and check_file(copy) is None
    with closing(sqlite3.connect(copy)) as conn:  # the uncommitted change is not in the copy; the commit is not lost
        assert conn.execute("SELECT name FROM batches WHERE id = 1").fetchone()[0] != "changed"
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT name FROM batches WHERE id = 1").fetchone()[0] == "changed"


def test_a_damaged_database_is_refused_at_opening_and_a_backup_restores_it(tmp_path: Path) -> None:
    db = _make_db(tmp_path / "judge.sqlite3", batches=3000)
    backup = rolling_backup(db, every_s=0)
    assert backup is not None
    _damage(db)
    with pytest.raises(DamagedDatabaseError, match=r"is damaged: .*Restore a backup") as info:
        open_store(f"sqlite:///{db}")
    assert info.value.path == db
    assert "\n" not in str(info.value)  # one line, however many pages are bad
    kept = restore(backup, db)
    assert kept.name.startswith("judge.sqlite3.before-restore-") and kept.stat().st_size > 0
    store = open_store(f"sqlite:///{db}")
    try:
        assert store.read_only is None
        with session_scope(store.engine, action="read") as s:
            assert s.scalar(select(func.count()).select_from(Batch)) == 3000
    finally:
        store.engine.dispose()


def test_a_database_url_names_what_cannot_be(tmp_path: Path, monkeypatch) -> None:
    """A mysql:// URL said "No module named 'MySQLdb'"; a new SQLite file in a folder this account cannot write
    said "check its permissions" of a file that is not there."""
    with pytest.raises(StoreError, match=r"SQLite \(sqlite:///PATH\) or PostgreSQL .* only"):
        make_engine("mysql://u@localhost/x")
    from app.store import db as store_db
    from app.store.driver_errors import reason_of

    folder = tmp_path / "shared"
    folder.mkdir()
    target = folder / "judge.sqlite3"
    real = os.access
    monkeypatch.setattr(store_db.os, "access", lambda p, mode: False if Path(p) == folder else real(p, mode))
    reason = reason_of(sqlite3.OperationalError("unable to open database file"),
                       store_db.make_url(f"sqlite:///{target}"), None)
    assert reason == f"the file does not exist yet and the folder {folder} is read-only for you, so it cannot be made"


def test_restore_refuses_an_unsound_backup_and_a_database_in_use(tmp_path: Path) -> None:
    db = _make_db(tmp_path / "judge.sqlite3")
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database" * 500)
    with pytest.raises(StoreError, match="not a sound fma-judge backup"):
        restore(bad, db)
    with pytest.raises(StoreError, match=r"nothere\.sqlite3: no such file"):  # (was "not a sound backup (unable …")
        restore(tmp_path / "nothere.sqlite3", db)
    good = backup_to(db, tmp_path / "good.sqlite3")
    engine = make_engine(f"sqlite:///{db}")
    with session_scope(engine, action="read") as s:  # an open window: its connection stays in the pool
        s.scalar(select(func.count()).select_from(Batch))
    try:
        with pytest.raises(StoreError, match="another program has it open"):
            restore(good, db)
    finally:
        engine.dispose()
    assert _count(db) == 50
    restore(good, db)  # every window closed: it goes through


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_refused_restore_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    """A window still open on the database: the refusal left the ``.before-restore-…`` copy and its ``-wal`` behind."""
    db = _make_db(tmp_path / "judge.sqlite3")
    good = rolling_backup(db, every_s=0)
    assert good is not None
    holder = sqlite3.connect(db, isolation_level=None)  # another program, idle, in WAL mode
    try:
        assert holder.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        holder.execute("UPDATE batches SET name = 'judged after the backup' WHERE id = 1")  # in the WAL only
        before, content = _listing(tmp_path), db.read_bytes()
        assert "judge.sqlite3-wal" in before
        with pytest.raises(StoreError, match="another program has it open"):
            restore(good, db)
        assert _listing(tmp_path) == before and db.read_bytes() == content
        assert holder.execute("SELECT name FROM batches WHERE id = 1").fetchone()[0] == "judged after the backup"
    finally:
        holder.close()
    before = _listing(tmp_path)
    kept = restore(good, db)  # every connection closed: it goes through, and only the replaced file is added
    assert kept is not None and _listing(tmp_path) == sorted([*before, kept.name])
    assert _count(kept) == 50 and _count(db) == 50


def test_a_restore_that_fails_at_the_swap_puts_the_wal_back(tmp_path: Path, monkeypatch) -> None:
    """The WAL was deleted before the swap: a swap that failed (a full disk, a file locked on Windows) lost it."""
    db = _make_db(tmp_path / "judge.sqlite3")
    good = rolling_backup(db, every_s=0)
    assert good is not None
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("UPDATE batches SET name = 'judged after the backup' WHERE id = 1")
        before, wal = _listing(tmp_path), Path(f"{db}-wal").read_bytes()
        real_replace = os.replace

        def failing(src, dst) -> None:
            if Path(dst).name == db.name:
                raise OSError(28, "No space left on device")
            real_replace(src, dst)

        monkeypatch.setattr(store_backup, "_refuse_if_in_use", lambda path: None)  # (the check passed)
        monkeypatch.setattr(store_backup.os, "replace", failing)
        with pytest.raises(StoreError, match="No space left on device"):
            restore(good, db)
        monkeypatch.undo()
        assert _listing(tmp_path) == before and Path(f"{db}-wal").read_bytes() == wal
    finally:
        holder.close()
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT name FROM batches WHERE id = 1").fetchone()[0] == "judged after the backup"


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_a_restore_keeps_the_database_mode_and_a_backup_is_as_readable_as_the_database(tmp_path: Path) -> None:
    """``fma-judge restore --newest`` turned a 0644 database into 0600, the mode of the backup (mkstemp's)."""
    db = _make_db(tmp_path / "judge.sqlite3")
    umask = os.umask(0o022)
    try:
        db.chmod(0o640)
        backup = rolling_backup(db, every_s=0)
        assert backup is not None and stat.S_IMODE(backup.stat().st_mode) == 0o640  # as a cp of it would be
        db.chmod(0o644)
        kept = restore(backup, db)
        assert stat.S_IMODE(db.stat().st_mode) == 0o644 and stat.S_IMODE(kept.stat().st_mode) == 0o644
        os.umask(0o027)
        fresh = tmp_path / "new.sqlite3"
        assert restore(backup, fresh) is None
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640  # a new file's: 0666 less the umask
    finally:
        os.umask(umask)
    assert not [p for p in tmp_path.iterdir() if "restoring" in p.name]


def test_two_restores_in_the_same_second_keep_both_replaced_files(tmp_path: Path, monkeypatch) -> None:
    """They shared the ``.before-restore-<time>`` name: the second overwrote the only copy of the original."""
    db = _make_db(tmp_path / "judge.sqlite3", batches=5)
    five = backup_to(db, tmp_path / "five.sqlite3")
    _make_db(db, batches=2)
    monkeypatch.setattr(store_backup, "_STAMP", "20261130T080000Z")  # one second for both
    first = restore(five, db)
    second = restore(five, db)
    assert first is not None and second is not None and first != second
    assert (_count(first), _count(second), _count(db)) == (7, 5, 5)


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_restoring_through_a_symbolic_link_replaces_the_file_it_points_to(tmp_path: Path) -> None:
    """The link itself was replaced by the backup: the database it pointed to stayed as it was."""
    (tmp_path / "data").mkdir()
    real = _make_db(tmp_path / "data" / "judge.sqlite3")
    good = backup_to(real, tmp_path / "good.sqlite3")
    link = tmp_path / "judge.sqlite3"
    link.symlink_to(real)
    with closing(sqlite3.connect(real)) as conn, conn:
        conn.execute("DELETE FROM batches")
    kept = restore(good, link)
    assert link.is_symlink() and link.resolve() == real.resolve() and _count(real) == 50
    assert kept is not None and kept.parent == real.resolve().parent and _count(kept) == 0


def test_backup_and_restore_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _make_db(tmp_path / "judge.sqlite3")
    url = f"sqlite:///{db}"
    assert fma_judge(["backup", "--db", url]) == 0
    assert "Backed up" in capsys.readouterr().out
    assert fma_judge(["backup", "--db", url, "--list"]) == 0
    assert str(list_backups(db)[0].path) in capsys.readouterr().out
    _damage(db)
    assert fma_judge(["export", "--db", url, "--out", str(tmp_path / "x.csv"), "--format", "csv"]) == 2
    assert "is damaged" in capsys.readouterr().err
    assert fma_judge(["restore", "--newest", "--db", url]) == 0
    assert "the replaced file is kept as" in capsys.readouterr().out
    assert _count(db) == 50
    assert fma_judge(["backup", "--db", "postgresql+psycopg://u@localhost/x"]) == 2
    assert "pg_dump" in capsys.readouterr().err
    for wrong in (["restore", "--db", url, "--newest", str(db)], ["restore", "--db", url],
                  ["backup", "--db", url, "--keep", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            fma_judge(wrong)
        assert exit_info.value.code == 2
    assert "give either a BACKUP file or --newest" in capsys.readouterr().err


_READ_ONLY = """
import os, sys
from sqlalchemy import text
from app.store.db import open_store, session_scope
from app.store.errors import StoreError
from app.commands import export_main
import alembic.command, alembic.runtime.migration, alembic.script  # imported lazily by the store: import them while
# root can still read this interpreter's library (which may live in root's home), before becoming another user
os.setgid(65534); os.setuid(65534)  # root ignores permissions: act as an ordinary user
store = open_store(sys.argv[1])
print("read_only:", store.read_only)
with session_scope(store.engine, action="read") as s:
    print("batches:", s.execute(text("SELECT count(*) FROM batches")).scalar())
try:
    with session_scope(store.engine) as s:
        s.execute(text("UPDATE batches SET name = 'x'"))
except StoreError as exc:
    print("write refused:", exc)
sys.exit(export_main(["--db", sys.argv[1], "--out", sys.argv[2], "--format", "json"]))
"""


@pytest.mark.skipif(not hasattr(os, "setuid") or os.geteuid() != 0, reason="needs root to act as another user")
@pytest.mark.parametrize("folder_writable", [False, True])
def test_a_read_only_database_opens_read_only_and_exports(folder_writable: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fma-ro-"))  # outside tmp_path: reachable by an unprivileged user
    out = Path(tempfile.mkdtemp(prefix="fma-ro-out-"))
    try:
        db = _make_db(folder / "judge.sqlite3")
        db.chmod(0o444)
        folder.chmod(0o777 if folder_writable else 0o555)
        out.chmod(0o777)
        proc = subprocess.run([sys.executable, "-c", _READ_ONLY, f"sqlite:///{db}", str(out / "labels.json")],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)
        shutil.rmtree(out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"read_only: the file {db} is read-only for you" in proc.stdout
    assert "batches: 50" in proc.stdout
    assert "write refused:" in proc.stdout and "read-only" in proc.stdout
    assert "Exported 0 label(s)" in proc.stdout


# ------------------------------------------------------------------------------------------ read-only, in services and UI
def _judged_store(tmp_path: Path) -> tuple[Path, Path]:
    """A store with one folder opened and its first image marked unknown; (database, folder)."""
    folder = tmp_path / "batch"
    for i in range(3):
        write_image(folder / f"img_{i}.png", seed=i)
    db = tmp_path / "judge.sqlite3"
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    service = JudgingService(engine, "alice")
    service.mark_unknown(service.open_folder(folder).items[0])
    engine.dispose()
    return db, folder


def test_a_read_only_store_says_why_a_stored_image_cannot_be_read_and_lists_no_spectrum_as_left_out(
        tmp_path: Path) -> None:
    folder = tmp_path / "lot"
    write_image(folder / "P001.png")
    (folder / "EMPTY.png").write_bytes(b"")
    (folder / "P001.jdx").write_text("##TITLE=P001\n##JCAMP-DX=4.24\n##END=\n", encoding="utf-8")
    (folder / "notes.docx").write_bytes(b"PK")
    db = tmp_path / "judge.sqlite3"
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    written = JudgingService(engine, "alice").open_folder(folder)
    engine.dispose()
    assert len(written.unreadable) == 1  # the empty file is an image of the batch that cannot be read
    engine = make_engine(f"sqlite:///{db}", read_only=True)
    try:
        opened = JudgingService(engine, "bob").open_folder(folder)
        assert opened.unreadable == written.unreadable  # "empty file" in the list too, not "pending"
        assert [Path(p).name for p, _why in opened.skipped] == ["notes.docx"]  # P001.jdx is a spectrum
    finally:
        engine.dispose()


def test_a_read_only_store_shows_stored_batches_and_refuses_every_write(tmp_path: Path) -> None:
    db, folder = _judged_store(tmp_path)
    (folder / "new.png").write_bytes((folder / "img_0.png").read_bytes()[:-1] + b"\x00")  # came later
    engine = make_engine(f"sqlite:///{db}", read_only=True)
    try:
        service = JudgingService(engine, "bob")
        assert service.read_only == "it was opened read-only"
        opened = service.open_folder(folder)
        assert [Path(it.image.path).name for it in opened.items] == ["img_0.png", "img_1.png", "img_2.png"]
        assert opened.items[0].judgment is not None and opened.items[0].judgment.status == "unknown"
        assert opened.skipped == [(str(folder / "new.png"), "not in this read-only database")]
        with pytest.raises(ReadOnlyError, match="opened read-only; nothing was changed"):
            service.mark_unknown(opened.items[1])
        with pytest.raises(ReadOnlyError, match="never opened with this database"):
            service.open_folder(tmp_path)
        with pytest.raises(ReadOnlyError):
            QueueService(engine, "bob").accept([opened.items[1].image.image_id], model_version="v")
    finally:
        engine.dispose()
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM judgments").fetchone()[0] == 1


def test_the_window_on_a_read_only_store_shows_a_banner_and_judges_nothing(qtbot, tmp_path: Path,
                                                                          monkeypatch, tiny_bundle) -> None:
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt

    from app.ui.main_window import MainWindow

    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    db, folder = _judged_store(tmp_path)
    engine = make_engine(f"sqlite:///{db}", read_only=True)
    win = MainWindow(JudgingService(engine, "bob"), lang="en")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    try:
        assert win.read_only_banner.isVisible() and "judging is off" in win.read_only_banner.text()
        win.load_model(tiny_bundle)
        qtbot.waitUntil(lambda: win.presenter.model_state == "read_only", timeout=30_000)
        win.open_folder(folder)
        qtbot.waitUntil(lambda: len(win.items) == 3, timeout=30_000)
        win.select(1)
        for key in (Qt.Key.Key_U, Qt.Key.Key_Return, Qt.Key.Key_C, Qt.Key.Key_N):
            qtbot.keyClick(win, key)
        assert "Read-only database: judging is off" in win.statusBar().currentMessage()
        assert win.presenter.panel(1).waiting == "read_only"  # the model never ran
        assert win.model is None
        # the strip says why it is empty (it said "No model is loaded" beside the model's name: walk-through)
        assert win.similar_panel.message.text().startswith("The database is read-only: no model runs here")
    finally:
        win.close()
        engine.dispose()
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM judgments").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM predictions").fetchone()[0] == 0


def test_the_window_backs_up_its_sqlite_store_on_a_timer(qtbot, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("pytestqt")
    from app.ui.main_window import MainWindow

    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    db, _folder = _judged_store(tmp_path)
    engine = make_engine(f"sqlite:///{db}")
    win = MainWindow(JudgingService(engine, "bob"), lang="en")
    qtbot.addWidget(win)
    try:
        assert win.backups.enabled and win.backups.every_s == 4 * 3600  # the default
        win._start_backups(first_after_ms=0)
        qtbot.waitUntil(lambda: len(list_backups(db)) == 1, timeout=30_000)
        assert win.backups.run_if_due() is None  # the next one is not due for 4 hours
        assert check_file(list_backups(db)[0].path) is None
    finally:
        win.close()
        engine.dispose()
    ro = make_engine(f"sqlite:///{db}", read_only=True)
    try:
        assert not BackupSchedule(ro).enabled  # nothing new can be in a read-only store
    finally:
        ro.dispose()
    assert not BackupSchedule(make_engine("sqlite://")).enabled  # in memory


def test_the_app_offers_the_newest_backup_for_a_damaged_database(qtbot, tmp_path: Path, monkeypatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pytestqt")
    from PySide6.QtWidgets import QMessageBox

    from app.ui.app import open_database

    db = _make_db(tmp_path / "judge.sqlite3", batches=3000)
    assert rolling_backup(db, every_s=0) is not None
    _damage(db)
    asked = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: pytest.fail("no error box: a backup exists"))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    assert open_database(f"sqlite:///{db}", interactive=False) == 2  # nobody to ask: one line, exit 2
    assert "is damaged" in capsys.readouterr().err and not asked
    engine = open_database(f"sqlite:///{db}", interactive=True)
    try:
        assert "Restore the newest backup" in asked[0]
        assert "the damaged file is kept as" in capsys.readouterr().err
        assert _count(db) == 3000 and check_file(db) is None
    finally:
        engine.dispose()


def test_screenshot_mode_on_a_damaged_database_exits_with_one_line(tmp_path: Path) -> None:
    db = _make_db(tmp_path / "judge.sqlite3", batches=3000)
    _damage(db)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FMA_JUDGE_SETTINGS": str(tmp_path / "settings.ini"),
           "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "app", "--demo", "--screenshot", str(tmp_path / "x.png"),
                           "--db", f"sqlite:///{db}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len([ln for ln in lines if ln.startswith("fma-judge:")]) == 1 and "is damaged" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "x.png").exists()


def test_backup_every_is_remembered_and_zero_turns_backups_off(qtbot, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("pytestqt")
    from app.ui.app import build_parser, open_settings
    from app.ui.main_window import MainWindow

    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--backup-every", "-1"])
    assert build_parser().parse_args(["--backup-every", "0"]).backup_every == 0
    settings = open_settings()
    settings.setValue("backup_every_hours", 0)  # what run_app stores for --backup-every 0
    engine = make_engine(f"sqlite:///{_make_db(tmp_path / 'judge.sqlite3')}")
    win = MainWindow(JudgingService(engine, "bob"), lang="en", settings=settings)
    qtbot.addWidget(win)
    try:
        assert not win.backups.enabled and not win._backup_timer.isActive()
    finally:
        win.close()
        engine.dispose()


def test_read_only_opening_finds_a_file_whose_folder_name_has_uri_characters(tmp_path: Path) -> None:
    """The read-only URI was built unencoded: SQLite cut a path at '#' and opened another file."""
    folder = tmp_path / "Lot #12 100% ok"
    folder.mkdir()
    db = _make_db(folder / "judge.sqlite3", batches=7)
    engine = make_engine(f"sqlite:///{db}", read_only=True)
    try:
        with session_scope(engine, action="read") as s:
            assert s.scalar(select(func.count()).select_from(Batch)) == 7
    finally:
        engine.dispose()


def test_a_backup_never_overwrites_a_file_or_the_database(tmp_path: Path) -> None:
    db = _make_db(tmp_path / "judge.sqlite3")
    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    for dest in (other, db, tmp_path / "judge.sqlite3-wal"):
        with pytest.raises(StoreError, match="exists \\(or is the database itself\\)"):
            backup_to(db, dest)
    assert other.read_text() == "keep me" and _count(db) == 50
    assert restore(backup_to(db, tmp_path / "b.sqlite3"), tmp_path / "new.sqlite3") is None  # nothing replaced


def test_an_emptied_database_with_backups_is_damage_not_a_new_store(tmp_path: Path) -> None:
    """A sync tool or a full disk left 0 bytes: opening used to create a fresh, empty schema over it."""
    db = _make_db(tmp_path / "judge.sqlite3")
    rolling_backup(db, every_s=0)
    db.write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with pytest.raises(DamagedDatabaseError, match="the file is empty, though it has backups"):
        open_store(f"sqlite:///{db}")
    fresh = tmp_path / "new.sqlite3"
    fresh.write_bytes(b"")  # an empty file without backups is simply a new store
    open_store(f"sqlite:///{fresh}").engine.dispose()


def test_an_older_store_is_backed_up_before_its_upgrade_and_the_self_test_only_looks(tmp_path: Path, caplog) -> None:
    """IT's walk-through: the self-test (a check) upgraded a team's database, so the workstations not yet updated
    could not open it, and the app upgraded a SQLite file with no copy made first (its rolling backup came a minute
    later, of the upgraded file)."""
    from alembic import command
    from sqlalchemy import text

    from app.selftest import check_database
    from app.store.db import alembic_config, current_revision, head_revision

    db = tmp_path / "team.sqlite3"
    eng = make_engine(f"sqlite:///{db}")
    command.upgrade(alembic_config(eng), "0005_claims")
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO batches (name, source_folder, recursive, created_at) "
                          "VALUES ('lot', '/data/lot', 0, '2026-11-01 00:00:00')"))
    eng.dispose()
    check = check_database(str(db))[0]
    assert check.ok and "schema 0005_claims: older than this version's" in check.detail
    assert "(the app or any command) upgrades it" in check.detail and "update every workstation together" in check.detail
    eng = make_engine(f"sqlite:///{db}")
    assert current_revision(eng) == "0005_claims" and not list_backups(db)  # looked at, not changed
    eng.dispose()
    store = open_store(f"sqlite:///{db}")  # the app's start: backed up, then upgraded
    assert current_revision(store.engine) == head_revision()
    store.engine.dispose()
    (kept,) = (db.parent / "backups").glob("team.sqlite3-before-upgrade-0005_claims-*.sqlite3")
    # said (a lead who only asked which model was deployed had a team's database upgraded without a word)
    assert [r.getMessage() for r in caplog.records if "was upgraded" in r.getMessage()] == [
        f"fma-judge: the database sqlite:///{db} was upgraded from schema 0005_claims to {head_revision()} (its copy "
        f"before the upgrade: {kept}); an older fma-judge can no longer open it"]
    assert not list_backups(db)  # not a rolling backup: never pruned, not what restore --newest puts back
    old = make_engine(f"sqlite:///{kept}")
    assert current_revision(old) == "0005_claims"  # the copy is the file as it was
    with old.connect() as conn:
        assert conn.execute(text("SELECT name FROM batches")).scalar_one() == "lot"
    old.dispose()
    import time

    from app.store.backup import backup_before_upgrade

    time.sleep(1.1)  # (a second later: the same second's copy is taken as another window's, of the same file)
    assert backup_before_upgrade(db, "0005_claims", head_revision()) is None  # upgraded by another first: no
    # copy passes for one of the older file
    assert len(list((db.parent / "backups").glob("*before-upgrade*"))) == 1


def test_an_upgrade_another_process_made_first_is_not_said_here(tmp_path: Path, caplog, monkeypatch) -> None:
    """Two windows start together on an older file: the one whose copy finds the file upgraded already changed
    nothing, and said "was upgraded … no copy was made here" all the same (review)."""
    from alembic import command

    from app.store import db as db_module
    from app.store.db import alembic_config

    path = tmp_path / "team.sqlite3"
    eng = make_engine(f"sqlite:///{path}")
    command.upgrade(alembic_config(eng), "0005_claims")
    eng.dispose()
    monkeypatch.setattr(db_module, "backup_before_upgrade", lambda *_a: None)  # (its copy: the file was newer)
    open_store(f"sqlite:///{path}").engine.dispose()
    assert not [r for r in caplog.records if "was upgraded" in r.getMessage()]


def test_a_login_refused_the_rights_on_the_tables_is_a_store_error_that_says_so(tmp_path: Path) -> None:
    """Walk-through: a PostgreSQL login whose rights were revoked made "permission denied for table images", a
    ``ProgrammingError`` passed on as a bug: the window said "Something went wrong" and not "Judgment NOT saved"."""
    from sqlalchemy import exc as sa_exc

    from app.store.db import translate_errors
    from app.store.errors import StoreError

    class InsufficientPrivilege(Exception):
        sqlstate = "42501"

    engine = make_engine(f"sqlite:///{tmp_path / 's.sqlite3'}")
    refused = sa_exc.ProgrammingError("INSERT INTO images …", {}, InsufficientPrivilege(
        "permission denied for table images"))
    with pytest.raises(StoreError) as err, translate_errors(engine, "write to"):
        raise refused
    assert err.value.reason.kind == "no_rights" and "permission denied for table images" in str(err.value)
    assert "the rights it needs on the database (its tables, or the database itself)" in str(err.value)
    bug = sa_exc.ProgrammingError("SELECT nonsense", {}, Exception("syntax error at or near"))
    with pytest.raises(sa_exc.ProgrammingError), translate_errors(engine, "write to"):
        raise bug  # a bug stays a bug
    engine.dispose()
