"""``--db``, which every command and the window take: a SQLite file's path or a URL; a relative one is taken from the
current folder, named in full, and never makes a new database there (a scheduled task starts in C:\\Windows\\System32
or /, and made its database there without a word); a URL that is not one says so, not SQLAlchemy's "Could not
parse"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import make_tiny_bundle, write_image
from sqlalchemy import make_url

from app.__main__ import main
from app.selftest import check_database
from app.store.db import make_engine, open_store
from app.store.errors import StoreError
from app.store.urls import describe_url, resolve_db_url, sqlite_path


@pytest.fixture()
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder of the command (a scheduled task's: anywhere)."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def _made(path: Path) -> Path:
    open_store(f"sqlite:///{path}").engine.dispose()
    return path


def test_a_plain_file_path_is_a_sqlite_database_for_every_command(tmp_path: Path, capsys) -> None:
    db = _made(tmp_path / "team.sqlite")
    assert main(["export", "--db", str(db), "--out", str(tmp_path / "labels.csv"), "--format", "csv"]) == 0
    assert "Exported 0 label(s)" in capsys.readouterr().out
    assert main(["backup", "--db", str(db)]) == 0
    assert f"Backed up {db} to {db.parent / 'backups'}" in capsys.readouterr().out
    assert main(["restore", "--newest", "--db", str(db)]) == 0
    assert f"Restored {db} from" in capsys.readouterr().out
    (tmp_path / "library").mkdir()
    assert main(["spectra", "import", str(tmp_path / "library"), "--db", str(db)]) == 0
    check = check_database(str(tmp_path / "new.sqlite"))[0]  # fma-judge --self-test --db PATH
    assert check.ok and check.detail.startswith(f"sqlite:///{tmp_path / 'new.sqlite'} reachable and writable")
    assert check.detail.endswith(" (created now)")
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("given", ["team.sqlite", "sqlite:///team.sqlite", "./team.sqlite"])
def test_a_relative_db_is_the_current_folders_file_named_in_full(work: Path, given: str, capsys) -> None:
    _made(work / "team.sqlite")
    store = open_store(given)  # as the window opens its --db (app.ui.app.open_database)
    try:
        assert store.engine.url.database == str(work / "team.sqlite")
    finally:
        store.engine.dispose()
    assert sqlite_path(given) == work / "team.sqlite" and describe_url(given) == f"sqlite:///{work / 'team.sqlite'}"
    assert main(["backup", "--db", given, "--list"]) == 0
    assert capsys.readouterr().out.startswith(f"No backups of {work / 'team.sqlite'} (in {work / 'backups'})")
    assert main(["export", "--db", given, "--out", "x.csv", "--format", "csv"]) == 0
    assert main(["export", "--db", given.replace("team", "other"), "--out", "y.csv", "--format", "csv"]) == 2
    assert f"no fma-judge database at {work / 'other.sqlite'}" in capsys.readouterr().err


@pytest.mark.parametrize("given", ["team.sqlite", "sqlite:///team.sqlite", "not a database url"])
def test_a_relative_db_never_makes_a_new_database_in_the_current_folder(work: Path, given: str, capsys) -> None:
    """A scheduled task starts in C:\\Windows\\System32 or /: a relative --db made an empty database there."""
    full = work / given.removeprefix("sqlite:///")
    typed = f"sqlite:///{full}" if given.startswith("sqlite:") else str(full)
    said = (f"Cannot use the database {given!r}: {full} does not exist (a relative path is taken from the current "
            f"folder, {work}). fma-judge makes a new database only at a full path, never in whatever folder it was "
            f"started in: give --db {typed} to make it there, or the full path of the database you meant")
    with pytest.raises(StoreError) as refused:
        open_store(given)  # the window (app.ui.app.open_database), classify, monitor, recalibrate, spectra import
    assert str(refused.value) == said
    (work / "library").mkdir()
    assert main(["spectra", "import", "library", "--db", given]) == 2
    assert capsys.readouterr().err == f"fma-judge spectra import: {said}\n"
    backup = _made(work.parent / "b.sqlite")
    assert main(["restore", str(backup), "--db", given]) == 2
    assert capsys.readouterr().err == f"fma-judge restore: error: {said}\n"
    assert not check_database(given)[0].ok  # fma-judge --self-test --db
    assert [p.name for p in work.iterdir()] == ["library"]
    made = open_store(typed).engine  # the full path makes it
    made.dispose()
    assert made.url.database == str(full) and full.is_file()


def test_a_home_relative_path_is_expanded_for_sqlite_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # (SQLite itself would have opened a folder named "~")
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    engine = make_engine("sqlite:///~/team.sqlite")
    try:
        assert engine.url.database == str(tmp_path / "team.sqlite")
    finally:
        engine.dispose()
    assert resolve_db_url("~/team.sqlite") == f"sqlite:///{tmp_path / 'team.sqlite'}"


def test_other_urls_are_unchanged() -> None:
    pg = "postgresql+psycopg://judge:p%40ss@db.lab/fma?connect_timeout=5"
    assert resolve_db_url(pg) == pg and resolve_db_url(make_url(pg)) == make_url(pg)
    assert describe_url(pg) == "postgresql+psycopg://judge:***@db.lab/fma?connect_timeout=5"
    assert sqlite_path(pg) is None
    for memory in ("sqlite://", "sqlite:///:memory:"):
        assert resolve_db_url(memory) == memory and sqlite_path(memory) is None
    assert resolve_db_url("sqlite:////data/team.sqlite") == "sqlite:////data/team.sqlite"


@pytest.mark.parametrize("bad", ["postgresql:/db.lab/fma", "sqlite:team.sqlite"])
def test_a_url_that_is_not_one_is_a_clear_error(tmp_path: Path, bad: str, capsys) -> None:
    assert main(["export", "--db", bad, "--out", str(tmp_path / "x.csv"), "--format", "csv"]) == 2
    err = capsys.readouterr().err
    assert err == (f"fma-judge export: error: Cannot use the database {bad!r}: it is neither a URL (sqlite:////abs/path.sqlite, "
                   "postgresql+psycopg://USER@HOST/DB) nor a file path\n")
    assert main(["backup", "--db", bad, "--list"]) == 2
    assert "nor a file path" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_file_name_with_a_colon_is_a_file(tmp_path: Path) -> None:
    """Only a database URL's scheme without "//" is refused: "run-10:00.sqlite" is a file's name on Linux."""
    from app.store.urls import resolve_db_url, sqlite_path

    assert sqlite_path(resolve_db_url(str(tmp_path / "run-10:00.sqlite"))) == tmp_path / "run-10:00.sqlite"


def test_an_export_never_writes_over_the_database_by_another_name(tmp_path: Path) -> None:
    from app.store.urls import is_store_file

    db = tmp_path / "judge.sqlite"
    db.write_bytes(b"")
    url = f"sqlite:///{db}"
    assert is_store_file(url, db) and is_store_file(url, tmp_path / "judge.sqlite-wal")
    assert is_store_file(url, tmp_path / "." / "judge.sqlite")
    os.link(db, tmp_path / "labels.csv")  # a hard link (or another case of the name on macOS): the same file
    assert is_store_file(url, tmp_path / "labels.csv")
    assert not is_store_file(url, tmp_path / "other.csv") and not is_store_file("postgresql://h/db", db)


@pytest.mark.parametrize("command", [["export"], ["classify"], ["backup"], ["restore"], ["spectra", "import"],
                                     ["--self-test"]])
def test_the_help_says_a_path_is_taken(command: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--db PATH|URL" in text and "a SQLite file's path, or a URL" in text, text
    assert "a relative path is taken from the current folder" in text


def test_classify_names_the_database_in_full_and_says_when_it_made_it(work: Path, taxonomy, capsys,
                                                                       monkeypatch) -> None:
    bundle = make_tiny_bundle(work.parent / "model", taxonomy, input_size=32)
    folder = work.parent / "batch"
    for i in range(2):
        write_image(folder / f"img_{i}.png", size=(48, 40), seed=i)
    import os

    from app import commands
    from app.commands import classify_main

    niced: list[int] = []  # a background batch yields the cores to the analysts' windows on its workstation
    monkeypatch.setattr(os, "nice", lambda n: niced.append(n) or n, raising=False)

    assert classify_main([str(folder), "--db", "team.sqlite", "--model", str(bundle)]) == 2
    assert "team.sqlite does not exist (a relative path is taken from the current folder" in capsys.readouterr().err
    assert classify_main([str(folder), "--db", str(work / "team.sqlite"), "--model", str(bundle)]) == 0
    err = capsys.readouterr().err
    assert f"; database sqlite:///{work / 'team.sqlite'} (created now)\n" in err, err
    assert classify_main([str(folder), "--db", "sqlite:///team.sqlite", "--model", str(bundle)]) == 0
    err = capsys.readouterr().err
    assert f"; database sqlite:///{work / 'team.sqlite'}\n" in err, err
    assert niced and set(niced) == {commands.CLASSIFY_NICE}


def test_a_folder_or_an_image_given_as_the_database_is_named_as_such(tmp_path: Path) -> None:
    """--db on a folder said "read-only for you" (classify, self-test) or "disk I/O error" (the app), and on an
    image "damaged … Restore a backup"; a file that was backed up as the database is still called damaged."""
    with pytest.raises(StoreError, match=f"{tmp_path} is a folder; give a database file, such as .*fma-judge.sqlite3"):
        open_store(str(tmp_path))
    picture = write_image(tmp_path / "defect.png")
    with pytest.raises(StoreError, match=r"defect\.png is not a database but a PNG image; give the fma-judge database"):
        open_store(str(picture))
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database", encoding="utf-8")
    with pytest.raises(StoreError, match=r"notes\.txt is not a database but another kind of file"):
        open_store(str(notes))
    (tmp_path / "backups").mkdir()  # it was the database once: damaged, and the restore is offered
    (tmp_path / "backups" / "notes.txt-20261206T0900.sqlite3").write_bytes(b"")
    from app.store.errors import DamagedDatabaseError

    with pytest.raises(DamagedDatabaseError):
        open_store(str(notes))
    fresh = tmp_path / "fresh.sqlite3"  # a new file, and an empty one, are still made into a store
    opened = open_store(str(fresh))
    assert opened.read_only is None
    opened.engine.dispose()


def test_a_postgres_url_as_libpq_writes_it_uses_the_shipped_driver() -> None:
    """postgres:// and postgresql:// (as libpq, pg_dump and most tools write them) were refused as "not SQLite or
    PostgreSQL", or looked for psycopg2, which is not shipped."""
    for url in ("postgres://ana@db.lab/fma", "postgresql://ana@db.lab/fma"):
        engine = make_engine(url)
        try:
            assert engine.url.drivername == "postgresql+psycopg", url
        finally:
            engine.dispose()


def test_the_folder_and_not_a_database_reasons_read_in_chinese(qapp, tmp_path: Path) -> None:
    from PySide6.QtCore import QCoreApplication, QTranslator

    from app.ui.app import I18N_DIR
    from app.ui.style import store_text

    messages = []
    for given in (tmp_path, write_image(tmp_path / "defect.png")):
        with pytest.raises(StoreError) as refused:
            open_store(str(given))
        messages.append(refused.value)
    tr = QTranslator()
    assert tr.load("fma_judge_zh_TW", str(I18N_DIR))
    QCoreApplication.installTranslator(tr)
    try:
        said = [store_text(m) for m in messages]
    finally:
        QCoreApplication.removeTranslator(tr)
    assert said[0].endswith(f"{tmp_path} 是資料夾：請指定資料庫檔案，例如 {tmp_path / 'fma-judge.sqlite3'}"), said
    assert said[1].endswith(f"{tmp_path / 'defect.png'} 不是資料庫（PNG 影像）：請指定 fma-judge 的資料庫檔案，或新的檔案名稱"), said


def test_the_app_knows_when_its_db_names_a_file_not_there_yet(tmp_path: Path) -> None:
    """A mistyped full --db (x.sqlit) opened an empty window without a word: the app made a new database there. The
    file a --db would make is found before the store opens (the window then says so in a banner); none for the
    per-user default, a server or a file that is there."""
    from app.ui.app import _new_sqlite_file

    typo = tmp_path / "x.sqlit"
    assert _new_sqlite_file(str(typo)) == typo and _new_sqlite_file(f"sqlite:///{typo}") == typo
    typo.write_bytes(b"")
    assert _new_sqlite_file(str(typo)) is None
    assert _new_sqlite_file(None) is None
    assert _new_sqlite_file("postgresql+psycopg://fma@db/fma") is None


def test_a_command_to_run_names_the_database_without_its_password() -> None:
    """fma-judge monitor printed "--db postgresql+psycopg://fma:teamsecret@…" in the commands it suggests, and the
    dashboard "fma:***", which cannot be pasted: the URL goes without its password (PGPASSWORD supplies it)."""
    from app.monitor_commands import format_report
    from app.services.monitor import MonitorReport
    from app.store.urls import without_password

    pg = "postgresql+psycopg://fma:teamsecret@127.0.0.1:5432/fma_team?connect_timeout=5"
    assert without_password(pg) == "postgresql+psycopg://fma@127.0.0.1:5432/fma_team?connect_timeout=5"
    assert without_password("postgresql+psycopg://fma@db/fma") == "postgresql+psycopg://fma@db/fma"
    assert without_password(r"D:\fma\judgments.sqlite") == r"D:\fma\judgments.sqlite"
    assert without_password("/srv/fma/j.sqlite") == "/srv/fma/j.sqlite"
    import datetime as dt

    from app.store.records import PauseRecord

    pause = PauseRecord(3, "v1", "c", "leaf", "scratch", "purity_paused", {"wrong": 1, "checks": 1}, dt.datetime.now(dt.UTC))
    report = format_report(MonitorReport("v1", "c", 0.99, pauses=(pause,)), "/m", pg)  # it names commands to run
    assert "--db 'postgresql+psycopg://fma@127.0.0.1:5432/fma_team?connect_timeout=5' --resume 3" in report, report
    assert "teamsecret" not in report and "***" not in report
    from sqlalchemy import create_engine

    from app.services.dashboard import _db_arg  # the dashboard's commands name it so too (no connection made)

    assert _db_arg(create_engine(pg)) == without_password(pg)


def test_it_sets_the_workstations_database_once(tmp_path, monkeypatch, capsys) -> None:
    """No --db on a shortcut or a scheduled command: FMA_JUDGE_DB names the team's database (each analyst landed on
    a private SQLite file unless IT edited every shortcut)."""
    from app.__main__ import main
    from app.store.urls import default_db_url

    team = tmp_path / "team.sqlite3"
    monkeypatch.setenv("FMA_JUDGE_DB", str(team))
    from app.services.dashboard import DashboardService
    from app.store.db import open_store

    store = open_store(None)  # the window's opening: that file (a plain path, as IT writes it)
    assert store.engine.url.database == str(team)
    assert DashboardService(store.engine).figures("none").batches == ()  # (its --db line read the path as a URL)
    store.engine.dispose()
    team.unlink()
    assert main(["export", "--out", str(tmp_path / "x.csv"), "--format", "csv"]) == 2
    assert f"no fma-judge database at {team}" in capsys.readouterr().err
    monkeypatch.setenv("FMA_JUDGE_DB", "postgresql+psycopg://fma@db/fma")
    assert default_db_url() == "postgresql+psycopg://fma@db/fma"
    # taken as --db is: a relative path names a file of the current folder, never a new database made there (a
    # scheduler's working folder, C:\Windows\System32)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FMA_JUDGE_DB", "team.sqlite3")
    from app.store.errors import StoreError

    with pytest.raises(StoreError, match="does not exist"):
        open_store(default_db_url())
    assert not (tmp_path / "team.sqlite3").exists()
