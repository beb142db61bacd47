"""The store: migrations, SQLite setup, clear errors, repository functions (history, undo, batches, predictions)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import ROOT, write_image
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from store_backends import BACKENDS, PG_URL, fresh_engine, pg_schema_url

from app.store import repo
from app.store.db import (
    HEAD_REVISION,
    alembic_config,
    current_revision,
    default_db_url,
    head_revision,
    init_db,
    make_engine,
    session_scope,
    sqlite_path,
    store_error,
)
from app.store.errors import JudgmentConflictError, SchemaVersionError, StoreError
from app.store.records import BatchItem, ImageRecord, PredictionRecord, decode_embedding
from app.store.schema import Base, ImagePath, Judgment, PredictionReason

TABLES = {
    "model_versions", "batches", "images", "image_paths", "batch_images",
    "predictions", "prediction_reasons", "judgments", "routing_pauses", "spectra", "image_spectra", "reference_spectra",
}  # fmt: skip
MODEL = "tiny-20250101000000-abcdef12"


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path: Path) -> Engine:
    """An empty store on SQLite, and on PostgreSQL when ``FMA_TEST_PG_URL`` is set."""
    with fresh_engine(request.param, tmp_path) as eng:
        yield eng


SQLITE_ONLY = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def register(session, version: str = MODEL, manifest: dict | None = None):
    return repo.register_model_version(
        session,
        version=version,
        manifest=manifest or {"name": "tiny", "created": "2025-01-01T00:00:00+00:00"},
    )


def prediction(leaf: str | None = "scratch", *, route: str | None = "auto", reasons=(), version=MODEL, **kw):
    return PredictionRecord(
        leaf=leaf,
        confidence=None if leaf is None else kw.pop("confidence", 0.9),
        path=("structural", "mechanical", leaf) if leaf else (),
        top5=(
            (leaf, ("structural", "mechanical", leaf), 0.9),
            ("crack", ("structural", "mechanical", "crack"), 0.05),
        )
        if leaf
        else (),
        level_probs=((0.1, 0.9), (0.05, 0.05, 0.8, 0.1)) if leaf else (),
        route=route,
        reasons=tuple(reasons),
        model_version=version,
        **kw,
    )


def add_image(session, name: str, folder: Path, batch_id: int | None = None) -> ImageRecord:
    image = repo.get_or_create_image(session, sha(name), folder / f"{name}.png", 80, 60)
    if batch_id is not None:
        image = repo.add_to_batch(session, batch_id, image.image_id, folder / f"{name}.png")
    return image


# ------------------------------------------------------------------------------------------ schema
def test_init_db_creates_schema_and_is_idempotent(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert current_revision(engine) == head_revision() == "0012_team_model"
    assert head_revision() == HEAD_REVISION  # the fast path (no Alembic import) knows the newest migration
    assert init_db(engine) == "0012_team_model"  # already up to date: a no-op
    with session_scope(engine) as s:
        register(s)
    assert init_db(engine) == "0012_team_model"
    with session_scope(engine) as s:
        assert [m.version for m in repo.list_model_versions(s)] == [MODEL]


def test_a_new_or_current_sqlite_store_opens_without_alembic(tmp_path: Path) -> None:
    """Importing and running Alembic is ~0.3 s of a start-up: a new SQLite file is created from the ORM's
    metadata (see test_migrations_match_the_orm_exactly), one at the newest revision is only read."""
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    code = ("import sys; from app.store.db import open_store; "
            f"opened = open_store({url!r}); "
            "print('alembic' in sys.modules, opened.engine.dialect.name)")
    for _ in ("new", "current"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["False", "sqlite"]
    eng = make_engine(url)
    assert current_revision(eng) == HEAD_REVISION and set(inspect(eng).get_table_names()) >= TABLES
    eng.dispose()


@SQLITE_ONLY
def test_sqlite_pragmas_are_on(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        s.add(ImagePath(image_id=12345, path="/nowhere.png"))
        s.flush()


def _ddl_parts(db: Path, with_version: bool = False) -> dict[str, set[str]]:
    """Per table/index: its DDL split into column/constraint lines, order-insensitive."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master" + ("" if with_version else " WHERE tbl_name != 'alembic_version'")
        ).fetchall()
    return {name: set(_top_level_parts(sql or "")) for name, sql in rows}


def _top_level_parts(sql: str) -> list[str]:
    """A CREATE statement's column and constraint clauses (split at the commas between them; an ALTER TABLE ADD
    COLUMN puts a new column on the line of the last one)."""
    head, _, body = sql.partition("(")
    body = body.rstrip().removesuffix(")")  # the statement's closing parenthesis
    parts, depth, current = [head.strip()], 0, []
    for ch in body:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [" ".join(p.split()) for p in parts if p]


def test_migrations_match_the_orm_exactly(tmp_path: Path) -> None:
    """The migrations make the ORM's schema, and a new SQLite database, which init_db makes from the ORM's metadata
    without Alembic, is the same database the migrations make (DDL, and the recorded revision)."""
    with fresh_engine("sqlite", tmp_path, "migrated.sqlite3", init=False) as engine:
        command.upgrade(alembic_config(engine), "head")
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
        command.check(alembic_config(engine))  # `alembic check` through env.py: raises if autogenerate finds changes
    # compare_metadata ignores CHECK constraints and some options: compare the DDL too.
    with fresh_engine("sqlite", tmp_path, "created.sqlite3") as made:
        assert current_revision(made) == head_revision()
        command.upgrade(alembic_config(made), "head")  # nothing left to do
    migrated, created = (_ddl_parts(tmp_path / n, with_version=True) for n in ("migrated.sqlite3", "created.sqlite3"))
    assert migrated == created and "alembic_version" in created


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    command.downgrade(alembic_config(engine), "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    assert current_revision(engine) is None
    assert init_db(engine) == "0012_team_model"
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_database_from_a_newer_version_is_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    with pytest.raises(SchemaVersionError, match=r"0099_future.*newer fma-judge"):
        init_db(engine)


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    eng = make_engine(f"sqlite:///{db}")
    with pytest.raises(SchemaVersionError, match=r"not an fma-judge database.*customers"):
        init_db(eng)
    eng.dispose()
    with sqlite3.connect(db) as conn:  # untouched
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")] == [
            "customers"
        ]


# ------------------------------------------------------------------------------------------ URLs and errors
def test_default_db_url_uses_platformdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_user_data_dir(appname: str, appauthor=None, **kw) -> str:
        calls.append((appname, appauthor))
        return str(tmp_path / "data" / appname)

    monkeypatch.setattr("platformdirs.user_data_dir", fake_user_data_dir)
    url = default_db_url()
    assert calls == [("fma-judge", False)]
    expected = tmp_path / "data" / "fma-judge" / "fma-judge.sqlite3"
    assert sqlite_path(url) == expected
    assert expected.parent.is_dir()  # the folder is created
    eng = make_engine()  # None -> the default URL
    assert init_db(eng) == head_revision()
    eng.dispose()
    assert expected.is_file()


_WRITE_ATTEMPT = """
import os
import sys
from app.store import repo
from app.store.db import make_engine, session_scope
from app.store.errors import StoreError
if sys.argv[2:] == ["drop-root"]:  # root ignores file permissions: act as an ordinary user
    os.setgid(65534)
    os.setuid(65534)
try:
    with session_scope(make_engine(sys.argv[1])) as session:
        repo.create_batch(session, name="x", source_folder=".")
except StoreError as exc:
    print(exc)
    sys.exit(3)
"""


def test_readonly_file_gives_store_error_naming_the_file() -> None:
    folder = Path(tempfile.mkdtemp(prefix="fma-ro-"))  # outside tmp_path: reachable by an unprivileged user
    db = folder / "judge.sqlite3"
    try:
        folder.chmod(0o755)
        eng = make_engine(f"sqlite:///{db}")
        init_db(eng)
        eng.dispose()
        db.chmod(0o444)
        folder.chmod(0o555)
        drop = ["drop-root"] if os.geteuid() == 0 else []
        proc = subprocess.run(
            [sys.executable, "-c", _WRITE_ATTEMPT, f"sqlite:///{db}", *drop],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stdout.startswith(
        f"Cannot write to the database sqlite:///{db}: the database file or its folder is read-only"
    )


def test_readonly_open_mode_gives_store_error(tmp_path: Path) -> None:
    db = tmp_path / "judge.sqlite3"
    eng = make_engine(f"sqlite:///{db}")
    init_db(eng)
    eng.dispose()
    ro = make_engine(f"sqlite:///file:{db}?mode=ro&uri=true")
    try:
        with pytest.raises(StoreError, match="read-only") as info, session_scope(ro) as s:
            add_image(s, "a", tmp_path)
        assert f"sqlite:///{db}:" in str(info.value)
    finally:
        ro.dispose()


def test_missing_folder_gives_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"folder .*missing.* does not exist"):
        make_engine(f"sqlite:///{tmp_path / 'missing' / 'judge.sqlite3'}")


def test_locked_database_gives_store_error(tmp_path: Path) -> None:
    db = tmp_path / "locked.sqlite3"
    eng = make_engine(f"sqlite:///{db}", busy_timeout_s=0.2)
    init_db(eng)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with (
            pytest.raises(StoreError, match=r"locked by another program \(waited 0\.[2-9] s of at most 0.2 s\)") as info,
            session_scope(eng) as s,
        ):
            add_image(s, "a", tmp_path)
        assert str(db) in str(info.value)
    finally:
        other.execute("ROLLBACK")
        other.close()
        eng.dispose()


def test_error_reasons_and_masked_password() -> None:
    full = store_error(
        sqlite3.OperationalError("database or disk is full"), "sqlite:////data/j.db", "write to"
    )
    assert str(full).startswith("Cannot write to the database sqlite:////data/j.db: the disk is full")
    pg = store_error(
        RuntimeError("could not connect to server: Connection refused"),
        "postgresql+psycopg://judge:s3cret@db.example/fma",
        "open",
    )
    assert "s3cret" not in str(pg) and "judge:***@db.example" in str(pg)
    assert "Connection refused" in str(pg)
    bad = store_error(sqlite3.DatabaseError("file is not a database"), "sqlite:////x.db", "open")
    assert "not an fma-judge database or it is damaged" in str(bad)


def test_not_a_database_file_gives_store_error(tmp_path: Path) -> None:
    db = tmp_path / "notes.sqlite3"
    db.write_bytes(b"this is a text file, not SQLite" * 100)
    eng = make_engine(f"sqlite:///{db}")
    with pytest.raises(StoreError, match="not an fma-judge database or it is damaged"):
        init_db(eng)
    eng.dispose()


# ------------------------------------------------------------------------------------------ judgments
def test_history_is_append_only_and_current_is_latest(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        a, b = add_image(s, "a", tmp_path), add_image(s, "b", tmp_path)
        j1 = repo.record_judgment(s, image_id=a.image_id, leaf="scratch", action="accept", analyst="amy",
                                  shown={"leaf": "scratch", "confidence": 0.9})  # fmt: skip
        j2 = repo.record_judgment(s, image_id=a.image_id, leaf="crack", action="picker", analyst="bob",
                                  shown={"leaf": "scratch", "confidence": 0.9})  # fmt: skip
        j3 = repo.record_judgment(s, image_id=b.image_id, leaf=None, action="unknown", analyst="amy")
    assert (j1.status, j2.status, j3.status) == ("accepted", "corrected", "unknown")
    assert j1.created_at.tzinfo is not None and j1.created_at.utcoffset() == dt.timedelta(0)
    with session_scope(engine) as s:
        history = repo.judgment_history(s, a.image_id)
        current = repo.current_judgments(s, [a.image_id, b.image_id, 999])
        everything = repo.current_judgments(s)
        rows = s.scalars(select(Judgment).order_by(Judgment.id)).all()
    assert [h.id for h in history] == [j1.id, j2.id]
    assert history[0].leaf == "scratch" and history[0].analyst == "amy"  # earlier row unchanged
    assert current[a.image_id].id == j2.id and current[a.image_id].leaf == "crack"
    assert current[b.image_id].status == "unknown" and current[b.image_id].leaf is None
    assert 999 not in current
    assert everything.keys() == current.keys()
    assert len(rows) == 3


def test_record_judgment_validates_and_fills_from_prediction(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        register(s)
        a, b = add_image(s, "a", tmp_path), add_image(s, "b", tmp_path)
        pred = repo.save_prediction(s, a.image_id, prediction("scratch"))
        j = repo.record_judgment(s, image_id=a.image_id, leaf="scratch", action="accept", analyst="amy",
                                 prediction_id=pred.id)  # fmt: skip
        assert j.status == "accepted" and j.model_version == MODEL
        assert j.shown["leaf"] == "scratch" and j.shown["top5"][0] == {"leaf": "scratch", "score": 0.9}
        manual = repo.record_judgment(s, image_id=b.image_id, leaf="dent", action="picker", analyst="amy")
        assert manual.status == "corrected" and manual.shown is None
        with pytest.raises(ValueError, match="belongs to image"):
            repo.record_judgment(
                s, image_id=b.image_id, leaf="dent", action="a", analyst="x", prediction_id=pred.id
            )
        with pytest.raises(ValueError, match="has no leaf"):
            repo.record_judgment(
                s, image_id=a.image_id, leaf="dent", status="unknown", action="a", analyst="x"
            )
        with pytest.raises(ValueError, match="needs a leaf"):
            repo.record_judgment(
                s, image_id=a.image_id, leaf=None, status="accepted", action="a", analyst="x"
            )
        with pytest.raises(ValueError, match="not one of"):
            repo.record_judgment(s, image_id=a.image_id, leaf="dent", status="maybe", action="a", analyst="x")
        with pytest.raises(ValueError, match="analyst"):
            repo.record_judgment(s, image_id=a.image_id, leaf="dent", action="a", analyst=" ")
        with pytest.raises(ValueError, match="naive datetime"):
            repo.record_judgment(s, image_id=a.image_id, leaf="dent", action="a", analyst="x",
                                 created_at=dt.datetime(2025, 1, 1))  # fmt: skip


def test_undo_and_redo_append_rows_and_restore_state(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        img = add_image(s, "a", tmp_path)
        shown = {"leaf": "scratch"}
        j1 = repo.record_judgment(
            s, image_id=img.image_id, leaf="scratch", action="accept", analyst="amy", shown=shown
        )
        j2 = repo.record_judgment(
            s, image_id=img.image_id, leaf="crack", action="topk", analyst="amy", shown=shown
        )
        u2 = repo.revert_judgment(s, j2.id, analyst="amy")  # back to j1's state
        assert (u2.status, u2.leaf, u2.action, u2.reverts_judgment_id) == (
            "accepted",
            "scratch",
            "undo",
            j2.id,
        )
        assert u2.shown == shown
        u1 = repo.revert_judgment(s, j1.id, analyst="amy")  # back to before j1: pending
        assert (u1.status, u1.leaf, u1.reverts_judgment_id) == ("reverted", None, j1.id)
        assert not repo.current_judgments(s, [img.image_id])[img.image_id].is_decision
        r1 = repo.revert_judgment(s, u1.id, analyst="amy", action="redo")
        assert (r1.status, r1.leaf, r1.action) == ("accepted", "scratch", "redo")
        r2 = repo.revert_judgment(s, u2.id, analyst="amy", action="redo")
        assert (r2.status, r2.leaf) == ("corrected", "crack")
        history = repo.judgment_history(s, img.image_id)
    assert [h.id for h in history] == [j1.id, j2.id, u2.id, u1.id, r1.id, r2.id]
    assert [h.status for h in history] == [
        "accepted",
        "corrected",
        "accepted",
        "reverted",
        "accepted",
        "corrected",
    ]


def test_undo_after_someone_else_judged_is_refused(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        img = add_image(s, "a", tmp_path)
        mine = repo.record_judgment(s, image_id=img.image_id, leaf="crack", action="picker", analyst="amy")
        repo.record_judgment(s, image_id=img.image_id, leaf="dent", action="picker", analyst="bob")
        with pytest.raises(JudgmentConflictError, match=r"judged again since \(now corrected dent by bob\)"):
            repo.revert_judgment(s, mine.id, analyst="amy")
        with pytest.raises(LookupError):
            repo.revert_judgment(s, 424242, analyst="amy")
        assert len(repo.judgment_history(s, img.image_id)) == 2


def test_an_undo_refused_for_a_conflict_leaves_the_stack_so_the_next_undo_goes_on(engine: Engine,
                                                                                    tmp_path: Path) -> None:
    """Before, the refused judgment stayed on top of the session's undo stack: every later undo failed too."""
    from app.services.judging import JudgingService

    for i in range(2):
        write_image(tmp_path / "batch" / f"img_{i}.png", seed=i)
    amy, bob = JudgingService(engine, "amy"), JudgingService(engine, "bob")
    items = amy.open_folder(tmp_path / "batch").items
    amy.mark_unknown(items[0])
    last = amy.mark_unknown(items[1])
    bob.choose(dataclasses.replace(items[1], judgment=last), "dent")  # bob saw amy's judgment and judged it again
    with pytest.raises(JudgmentConflictError):
        amy.undo()
    undone = amy.undo()  # her judgment of the first image, which nobody touched since
    assert undone is not None and undone.image_id == items[0].image.image_id and undone.status == "reverted"


_OPEN_FOLDER = """
import sys, time
from pathlib import Path
from app.services.judging import JudgingService
from app.store.db import make_engine
service = JudgingService(make_engine(sys.argv[1]), "amy")
print("ready", flush=True)
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
print(service.open_folder(Path(sys.argv[3])).batch_id)
"""


def test_processes_opening_one_folder_at_once_get_one_batch(engine: Engine, tmp_path: Path) -> None:
    """PostgreSQL found-then-created the folder's batch in two processes at once: two batches of one folder."""
    write_image(tmp_path / "batch" / "img.png")
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN_FOLDER, url, str(tmp_path / "go"), str(tmp_path / "batch")],
                              env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)]
    assert [p.stdout.readline().strip() for p in procs] == ["ready"] * 4, [p.communicate()[0] for p in procs]
    (tmp_path / "go").touch()
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    assert len({o.strip().splitlines()[-1] for o in outs}) == 1, outs
    with session_scope(engine, action="read") as s:
        assert len(repo.list_batches(s)) == 1


# ------------------------------------------------------------------------------------------ images and batches
def test_moved_file_keeps_history_and_reopening_resumes(engine: Engine, tmp_path: Path) -> None:
    old, new = tmp_path / "day1", tmp_path / "archive"
    with session_scope(engine) as s:
        batch = repo.create_batch(s, name="day1", source_folder=old)
        first = add_image(s, "a", old, batch.id)
        add_image(s, "b", old, batch.id)
        repo.record_judgment(
            s, image_id=first.image_id, leaf="dent", action="picker", analyst="amy", batch_id=batch.id
        )
    with session_scope(engine) as s:  # the file moved: same content, new path
        moved = repo.get_or_create_image(s, sha("a"), new / "a.png", 80, 60)
        assert moved.image_id == first.image_id and moved.path == str(new / "a.png")
        assert repo.image_paths(s, first.image_id) == [str(new / "a.png"), str(old / "a.png")]
        assert [j.leaf for j in repo.judgment_history(s, moved.image_id)] == ["dent"]
        other = repo.create_batch(s, name="archive", source_folder=new)
        repo.add_to_batch(s, other.id, moved.image_id, new / "a.png")
        assert repo.batch_items(s, other.id)[0].state == "corrected"  # history followed the content
    with session_scope(engine) as s:  # re-open the first folder: found, resumes where it stood
        (found,) = repo.find_batches_by_folder(s, old / "." / "")
        assert found.id == batch.id and (found.total, found.corrected, found.pending) == (2, 1, 1)
        assert [i.state for i in repo.batch_items(s, found.id)] == ["corrected", "pending"]
        assert repo.find_batches_by_folder(s, old, recursive=True) == []
        assert {b.name for b in repo.list_batches(s)} == {"day1", "archive"}


def test_find_image_by_path_needs_same_size_and_mtime(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        img = repo.get_or_create_image(s, sha("a"), tmp_path / "a.png", 8, 6, file_size=100, mtime_ns=5)
        hit = repo.find_image_by_path(s, tmp_path / "a.png", file_size=100, mtime_ns=5)
        assert hit is not None and hit.image_id == img.image_id and hit.sha256 == sha("a")
        assert repo.find_image_by_path(s, tmp_path / "a.png", file_size=100, mtime_ns=6) is None
        assert repo.find_image_by_path(s, tmp_path / "b.png", file_size=100, mtime_ns=5) is None
        with pytest.raises(ValueError, match="not a sha256"):
            repo.get_or_create_image(s, "abc", tmp_path / "x.png", 1, 1)


def test_add_to_batch_positions_and_duplicates(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        batch = repo.create_batch(s, name="b", source_folder=tmp_path)
        a, b = add_image(s, "a", tmp_path, batch.id), add_image(s, "b", tmp_path, batch.id)
        assert (a.position, b.position) == (0, 1)
        again = repo.add_to_batch(s, batch.id, a.image_id, tmp_path / "copy_of_a.png")  # same content twice
        assert again.position == 0 and again.path == str(tmp_path / "copy_of_a.png")
        items = repo.batch_items(s, batch.id)
    assert [i.image.image_id for i in items] == [a.image_id, b.image_id]
    assert items[0].image.path == str(tmp_path / "copy_of_a.png")


def test_an_image_copied_over_another_file_keeps_its_own_name(engine: Engine, tmp_path: Path) -> None:
    """a.png written over with a copy of b.png, both read in one reading (one time): b's image is still "b.png"
    wherever its path is shown (the queue listed it as "a.png", beside a.png's own judged image)."""
    from app.store.queries import latest_paths, written_over
    from app.store.records import FileSeen
    from app.store.repo import images as images_module

    with session_scope(engine) as s:
        a = repo.get_or_create_image(s, sha("a"), tmp_path / "a.png", 8, 8)
        b = repo.get_or_create_image(s, sha("b"), tmp_path / "b.png", 8, 8)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    with session_scope(engine) as s:
        images_module.bulk_images(s, [FileSeen(str(tmp_path / "a.png"), 10, 2, sha256=sha("b"), width=8, height=8),
                             FileSeen(str(tmp_path / "b.png"), 10, 1, sha256=sha("b"), width=8, height=8)], later)
    with session_scope(engine, action="read") as s:
        assert latest_paths(s, [a.image_id, b.image_id]) == {a.image_id: str(tmp_path / "a.png"),
                                                             b.image_id: str(tmp_path / "b.png")}
        assert repo.image_paths(s, b.image_id) == [str(tmp_path / "b.png"), str(tmp_path / "a.png")]
        assert written_over(s, {a.image_id: str(tmp_path / "a.png"), b.image_id: str(tmp_path / "b.png")}) == {
            a.image_id}


@pytest.mark.parametrize("race", [False, True], ids=["bulk", "race"])
def test_add_files_to_batch_does_what_the_per_file_functions_do(engine: Engine, tmp_path: Path, monkeypatch,
                                                                 race: bool) -> None:
    """Opening a folder registers a chunk of files in a few statements; the outcome is that of get_or_create_image
    and add_to_batch file by file: a moved file keeps its image, a duplicate keeps its first position and takes the
    last path, a header that became readable fills the size, a member re-added gets its new path. A unique-key race
    with another writer (here: the images' lookup misses rows that exist) goes file by file, with the same result."""
    from app.store.records import FileSeen
    from app.store.repo import images as images_module

    with session_scope(engine) as s:
        batch = repo.create_batch(s, name="b", source_folder=tmp_path)
        member = add_image(s, "member", tmp_path, batch.id)  # position 0
        elsewhere = repo.get_or_create_image(s, sha("moved"), tmp_path / "old" / "moved.png", 8, 6)
        sizeless = repo.get_or_create_image(s, sha("sizeless"), tmp_path / "sizeless.png", None, None)
    if race:
        monkeypatch.setattr(images_module, "_images_by_sha", lambda session, shas: {})
    files = [FileSeen(str(tmp_path / "new.png"), 10, 1, sha256=sha("new"), width=4, height=3),
             FileSeen(str(tmp_path / "moved.png"), 11, 2, sha256=sha("moved"), width=8, height=6),
             FileSeen(str(tmp_path / "dup1.png"), 12, 3, sha256=sha("dup"), width=5, height=5),
             FileSeen(str(tmp_path / "sizeless.png"), 13, 4, sha256=sha("sizeless"), width=7, height=7),
             FileSeen(str(tmp_path / "member_copy.png"), 14, 5, image_id=member.image_id),
             FileSeen(str(tmp_path / "dup2.png"), 12, 3, sha256=sha("dup"), width=5, height=5)]
    with session_scope(engine) as s:
        got = repo.add_files_to_batch(s, batch.id, files)
    assert [(r.sha256, r.path, r.position, r.width) for r in got] == [
        (sha("new"), str(tmp_path / "new.png"), 1, 4), (sha("moved"), str(tmp_path / "moved.png"), 2, 8),
        (sha("dup"), str(tmp_path / "dup2.png"), 3, 5), (sha("sizeless"), str(tmp_path / "sizeless.png"), 4, 7),
        (sha("member"), str(tmp_path / "member_copy.png"), 0, 80), (sha("dup"), str(tmp_path / "dup2.png"), 3, 5)]
    assert got[1].image_id == elsewhere.image_id and got[3].image_id == sizeless.image_id
    with session_scope(engine, action="read") as s:
        items = repo.batch_items(s, batch.id)
        assert [(i.image.path, i.image.position) for i in items] == [
            (str(tmp_path / "member_copy.png"), 0), (str(tmp_path / "new.png"), 1), (str(tmp_path / "moved.png"), 2),
            (str(tmp_path / "dup2.png"), 3), (str(tmp_path / "sizeless.png"), 4)]
        assert repo.image_paths(s, elsewhere.image_id)[0] == str(tmp_path / "moved.png")
        assert set(repo.image_paths(s, got[2].image_id)) == {str(tmp_path / "dup1.png"), str(tmp_path / "dup2.png")}
        found = repo.images_at_paths(s, [(tmp_path / "dup1.png", 12, 3), (tmp_path / "new.png", 10, 2),
                                         (tmp_path / "moved.png", 11, 2)])
        assert [f and f.image_id for f in found] == [got[2].image_id, None, elsewhere.image_id]
        assert found[2] == repo.find_image_by_path(s, tmp_path / "moved.png", file_size=11, mtime_ns=2)
    with session_scope(engine) as s:  # the same files again: nothing new, positions kept
        again = repo.add_files_to_batch(s, batch.id, files)
    assert again == got


def test_batch_item_states(engine: Engine, tmp_path: Path) -> None:
    names = ["none", "auto", "rejudge", "error", "acc", "cor", "unk", "undone"]
    with session_scope(engine) as s:
        register(s)
        batch = repo.create_batch(s, name="states", source_folder=tmp_path)
        img = {n: add_image(s, n, tmp_path, batch.id) for n in names}
        preds = {
            "auto": prediction("scratch"),
            "rejudge": prediction("scratch", route="rejudge", reasons=["low_confidence"]),
            "error": prediction(None, route=None, error="cannot decode image"),
            "acc": prediction("scratch"),
            "cor": prediction("scratch"),
            "unk": prediction("scratch"),
            "undone": prediction("scratch", route="rejudge", reasons=["near_unknown"]),
        }
        stored = {n: repo.save_prediction(s, img[n].image_id, p) for n, p in preds.items()}
        judge = {"acc": "scratch", "cor": "crack", "unk": None, "undone": "dent"}
        for n, leaf in judge.items():
            j = repo.record_judgment(s, image_id=img[n].image_id, leaf=leaf, action="x", analyst="amy",
                                     prediction_id=stored[n].id, batch_id=batch.id)  # fmt: skip
        repo.revert_judgment(s, j.id, analyst="amy")
        items = repo.batch_items(s, batch.id)
        summary = repo.get_batch(s, batch.id)
    assert all(isinstance(i, BatchItem) for i in items)
    assert [i.state for i in items] == ["pending", "auto", "rejudge", "error", "accepted", "corrected", "unknown",
                                        "rejudge"]  # fmt: skip
    assert items[0].prediction is None and items[0].judgment is None
    assert items[2].prediction.reasons == ("low_confidence",)
    assert items[7].judgment.status == "reverted"
    assert (summary.total, summary.accepted, summary.corrected, summary.unknown, summary.pending) == (
        8,
        1,
        1,
        1,
        5,
    )


def test_save_prediction_upserts_per_model_version(engine: Engine, tmp_path: Path) -> None:
    vec = np.linspace(-1, 1, 16, dtype=np.float32)
    with session_scope(engine) as s:
        register(s)
        register(s, "tiny-v2")
        img = add_image(s, "a", tmp_path)
        first = repo.save_prediction(
            s, img.image_id, prediction("scratch", route="rejudge", reasons=["a", "b"])
        )
        again = repo.save_prediction(
            s,
            img.image_id,
            prediction("crack", reasons=["c", "c"], embedding=vec.tobytes(), unknown_score=0.25),
        )
        assert again.id == first.id  # same (image, version): replaced, not added
        other = repo.save_prediction(s, img.image_id, prediction("dent", version="tiny-v2"))
        assert other.id != first.id
        reasons = s.scalars(
            select(PredictionReason.reason).where(PredictionReason.prediction_id == first.id)
        ).all()
        assert reasons == ["c"]
        by_version = repo.latest_predictions(s, [img.image_id], model_version=MODEL, with_embedding=True)
        newest = repo.latest_predictions(s, [img.image_id])
        with pytest.raises(ValueError, match="not registered"):
            repo.save_prediction(s, img.image_id, prediction("dent", version="nope"))
    p = by_version[img.image_id]
    assert (p.leaf, p.route, p.reasons, p.unknown_score, p.model_version) == (
        "crack",
        "auto",
        ("c", "c"),
        0.25,
        MODEL,
    )
    assert p.top5[0] == ("crack", ("structural", "mechanical", "crack"), 0.9)
    assert p.level_probs == ((0.1, 0.9), (0.05, 0.05, 0.8, 0.1))
    np.testing.assert_array_equal(decode_embedding(p.embedding), vec)
    assert again == dataclasses.replace(p, embedding=None)  # save_prediction returns the row as stored
    assert newest[img.image_id].leaf == "dent" and newest[img.image_id].embedding is None


def test_prediction_record_from_a_model_prediction(engine: Engine, tmp_path: Path) -> None:
    from models.inference.records import Prediction, RankedLeaf

    pred = Prediction(
        file="a.png",
        leaf="scratch",
        path=("structural", "mechanical", "scratch"),
        path_scores=(0.95, 0.9, 0.8),
        confidence=0.8,
        level_probs=((0.05, 0.95), (0.01, 0.04, 0.9, 0.05)),
        top5=(RankedLeaf("scratch", ("structural", "mechanical", "scratch"), 0.8),),
        embedding=np.arange(8, dtype=np.float64),
        model_version=MODEL,
        route="rejudge",
        reasons=("low_margin",),
        unknown_score=0.4,
    )
    record = PredictionRecord.from_prediction(pred)
    assert record.embedding == np.arange(8, dtype="<f4").tobytes()
    with session_scope(engine) as s:
        register(s)
        img = add_image(s, "a", tmp_path)
        repo.save_prediction(s, img.image_id, record)
        back = repo.latest_predictions(s, [img.image_id], with_embedding=True)[img.image_id]
    assert (back.leaf, back.confidence, back.route, back.reasons) == (
        "scratch",
        0.8,
        "rejudge",
        ("low_margin",),
    )
    assert back.path_scores == (0.95, 0.9, 0.8)
    np.testing.assert_array_equal(back.embedding_vector(), np.arange(8, dtype=np.float32))
    failed = PredictionRecord.from_prediction(
        Prediction(file="b.png", error="unreadable", model_version=MODEL)
    )
    assert (failed.leaf, failed.confidence, failed.error) == (None, None, "unreadable")


def test_register_model_version_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        first = register(s)
        again = repo.register_model_version(
            s, version=MODEL, manifest={"name": "tiny"}, bundle_path=tmp_path / "b"
        )
        assert again.id == first.id and again.bundle_path == str(tmp_path / "b")
        assert first.created_at == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        assert repo.model_manifest(s, MODEL)["name"] == "tiny"
        assert repo.get_model_version(s, "missing") is None


# ------------------------------------------------------------------------------------------ PostgreSQL
def _portable_scenario(engine: Engine, folder: Path) -> None:
    """The core repository flow; run on SQLite always and on PostgreSQL when a server is given."""
    with session_scope(engine) as s:
        register(s)
        batch = repo.create_batch(s, name="pg", source_folder=folder)
        a, b = add_image(s, "a", folder, batch.id), add_image(s, "b", folder, batch.id)
        pa = repo.save_prediction(s, a.image_id, prediction("scratch", embedding=b"\x00\x00\x80?"))
        repo.save_prediction(s, b.image_id, prediction("dent", route="rejudge", reasons=["low_confidence"]))
        j = repo.record_judgment(s, image_id=a.image_id, leaf="crack", action="picker", analyst="amy",
                                 prediction_id=pa.id, batch_id=batch.id)  # fmt: skip
        undo = repo.revert_judgment(s, j.id, analyst="amy")
        repo.revert_judgment(s, undo.id, analyst="amy", action="redo")
    with session_scope(engine) as s:
        moved = repo.get_or_create_image(s, sha("a"), folder / "moved" / "a.png", 80, 60)
        items = repo.batch_items(s, batch.id, model_version=MODEL, with_embedding=True)
        assert moved.image_id == a.image_id
        assert [i.state for i in items] == ["corrected", "rejudge"]
        assert decode_embedding(items[0].prediction.embedding).tolist() == [1.0]
        assert items[0].judgment.created_at.tzinfo is not None
        assert len(repo.judgment_history(s, a.image_id)) == 3
        assert repo.get_batch(s, batch.id).corrected == 1


@SQLITE_ONLY
def test_portable_scenario_on_sqlite(engine: Engine, tmp_path: Path) -> None:
    _portable_scenario(engine, tmp_path)


@pytest.mark.skipif(not PG_URL, reason="set FMA_TEST_PG_URL to a scratch PostgreSQL")
def test_portable_scenario_on_postgresql(tmp_path: Path) -> None:
    with fresh_engine("postgresql", tmp_path, init=False) as eng:  # a new, empty schema
        assert init_db(eng) == head_revision()
        with eng.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == []
        command.check(alembic_config(eng))  # `alembic check` through env.py on PostgreSQL too
        _portable_scenario(eng, tmp_path)
        command.downgrade(alembic_config(eng), "base")
        assert not TABLES & set(inspect(eng).get_table_names())


@pytest.mark.skipif(not PG_URL, reason="set FMA_TEST_PG_URL to a scratch PostgreSQL")
def test_a_postgresql_connection_gives_up_on_a_server_gone_away_within_seconds() -> None:
    """A window waiting on a server that went away (a network cut, the server rebooted under it) stayed frozen for
    the system's TCP retries, 15 minutes on Linux: every connection now asks libpq for keepalive probes and a
    20-s limit on unacknowledged data; a parameter the URL gives wins."""
    from sqlalchemy import make_url

    engine = make_engine(make_url(PG_URL).update_query_dict({"keepalives_idle": "9"}))
    try:
        with engine.connect() as conn:
            params = conn.connection.dbapi_connection.info.get_parameters()
    finally:
        engine.dispose()
    assert {k: params.get(k) for k in ("connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                                       "keepalives_count", "tcp_user_timeout")} == {
        "connect_timeout": "5", "keepalives": "1", "keepalives_idle": "9", "keepalives_interval": "2",
        "keepalives_count": "3", "tcp_user_timeout": "20000"}


class _PausableProxy:
    """A TCP relay to the test server that can stop relaying with every connection kept open: a server paused (a
    virtual machine suspended, a process stopped), whose kernel still acknowledges what is sent."""

    def __init__(self, host: str, port: int) -> None:
        import socket
        import threading

        self.target, self.paused = (host, port), threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst) -> None:
        try:
            while data := src.recv(65536):
                while self.paused.is_set():
                    time.sleep(0.05)
                dst.sendall(data)
        except OSError:
            pass
        for end in (src, dst):
            with contextlib.suppress(OSError):
                end.close()


@pytest.mark.skipif(not PG_URL, reason="set FMA_TEST_PG_URL to a scratch PostgreSQL")
def test_a_store_call_on_a_paused_server_fails_within_seconds_and_a_slow_one_is_left_alone() -> None:
    """A suspended server (its connections open, its kernel acknowledging) froze both analysts' windows for as long
    as it was suspended: keepalives never fire. A call that runs STALL_S now makes the store try a new connection;
    when none answers, the engine's connections are shut and the call fails as a store error; the pool recovers
    when the server is back. A slow server that answers the new connection is left to finish."""
    from sqlalchemy import make_url, text

    from app.store import stall_guard

    url = make_url(PG_URL)
    proxy = _PausableProxy(url.host or "127.0.0.1", url.port or 5432)
    engine = make_engine(url.set(host="127.0.0.1", port=proxy.port))
    watcher = stall_guard.guard(engine, stall_s=1.0)
    try:
        with session_scope(engine, action="read") as s:
            assert s.execute(text("SELECT 1")).scalar() == 1
        with session_scope(engine, action="read") as s:  # slow, not gone: the probe is answered, nothing is cut
            s.execute(text("SELECT pg_sleep(2.5)"))
        assert watcher.cut == 0
        proxy.paused.set()
        resume = threading.Timer(40, proxy.paused.clear)  # without the guard the call would wait for ever: it fails
        resume.start()
        started = time.monotonic()
        with pytest.raises(StoreError, match="Cannot read the database"), session_scope(engine, action="read") as s:
            s.execute(text("SELECT 1"))
        assert time.monotonic() - started < 1.0 + 2 * stall_guard.PROBE_S + 10 and watcher.cut >= 1  # (+ a reconnect)
        proxy.paused.clear()
        with session_scope(engine, action="read") as s:  # back: the next call works
            assert s.execute(text("SELECT 2")).scalar() == 2
    finally:
        if "resume" in locals():
            resume.cancel()
        proxy.paused.clear()
        proxy.listener.close()
        engine.dispose()


def test_the_stall_guard_cuts_only_a_call_still_stalled_on_a_server_that_does_not_answer(tmp_path: Path) -> None:
    """The guard's decisions without a server (app.store.stall_guard): a connection's socket is shut when a call has
    stalled and the probe is not answered; not when the probe is answered, nor when the call ended while the probe
    ran; a probe that raises does not end the watching; a closed connection is never touched."""
    import socket
    import types

    from app.store import stall_guard

    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")

    class Connection(types.SimpleNamespace):  # (weakly referenced and hashed, as the driver's connections)
        __hash__ = object.__hash__

    def watched(probe):
        ours, theirs = socket.socketpair()
        watcher = stall_guard.StallGuard(engine, stall_s=0.2, probe=probe)
        connection = Connection(closed=False, pgconn=types.SimpleNamespace(socket=ours.fileno()))
        watcher._connected(connection, None)
        theirs.settimeout(3.0)
        return watcher, connection, ours, theirs

    watcher, _conn, _ours, theirs = watched(lambda: False)  # stalled, not answered: shut, the waiting read ends
    done = watcher.enter()
    assert theirs.recv(1) == b"" and watcher.cut >= 1
    done()
    watcher, _conn, _ours, theirs = watched(lambda: True)  # slow but answering: left alone
    done = watcher.enter()
    theirs.settimeout(1.0)
    with pytest.raises(TimeoutError):
        theirs.recv(1)
    done()
    assert watcher.cut == 0
    ended: list = []
    watcher, _conn, _ours, theirs = watched(lambda: ended[0]() or time.sleep(0.3) or False)  # back meanwhile
    ended.append(watcher.enter())
    time.sleep(1.0)
    assert watcher.cut == 0
    raised = iter([RuntimeError("probe failed"), None])

    def flaky() -> bool:
        if (error := next(raised, None)) is not None:
            raise error
        return False

    watcher, connection, _ours, theirs = watched(flaky)  # the watcher outlives an error
    done = watcher.enter()
    assert theirs.recv(1) == b"" and watcher.cut == 1
    done()
    watcher, connection, _ours, theirs = watched(lambda: False)
    connection.closed = True  # its number may be another socket's now
    done = watcher.enter()
    theirs.settimeout(1.0)
    with pytest.raises(TimeoutError):
        theirs.recv(1)
    done()
    engine.dispose()


def test_the_stall_guards_thread_ends_when_no_call_comes_and_the_next_call_starts_another(tmp_path: Path,
                                                                                             monkeypatch) -> None:
    """The watcher thread waited for ever, one per engine ever made (each test's, each database a window opened):
    it now ends after a while without a store call, and the next call starts another, which still cuts a stall."""
    import socket
    import types

    from app.store import stall_guard

    monkeypatch.setattr(stall_guard, "IDLE_S", 0.3)
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    watcher = stall_guard.StallGuard(engine, stall_s=0.2, probe=lambda: False)
    watcher.enter()()  # a quick call
    first = watcher._thread
    assert first is not None
    first.join(timeout=5.0)
    assert not first.is_alive() and watcher._thread is None

    class Connection(types.SimpleNamespace):
        __hash__ = object.__hash__

    ours, theirs = socket.socketpair()
    connection = Connection(closed=False, pgconn=types.SimpleNamespace(socket=ours.fileno()))
    watcher._connected(connection, None)
    theirs.settimeout(3.0)
    done = watcher.enter()  # stalls: a new thread watches it
    assert watcher._thread is not None and watcher._thread is not first
    assert theirs.recv(1) == b"" and watcher.cut == 1
    done()
    engine.dispose()


# ------------------------------------------------------------------------------------------ transactions
def test_session_scope_rolls_back_everything_on_error(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(KeyError), session_scope(engine) as s:
        add_image(s, "a", tmp_path)  # inserted through a SAVEPOINT
        raise KeyError("the user action failed")
    with session_scope(engine) as s:
        assert repo.find_image_by_path(s, tmp_path / "a.png", file_size=0, mtime_ns=0) is None
        assert s.scalar(select(ImagePath.id)) is None


def test_a_write_that_reads_first_waits_for_another_writer_instead_of_failing(tmp_path: Path) -> None:
    """WAL: a deferred transaction whose snapshot went stale fails at its first write, at once ("locked").

    A judgment reads (the current note) before it writes; the model thread commits predictions meanwhile.
    Write transactions begin IMMEDIATE, so the other writer waits for this one instead.
    """
    import threading

    db = tmp_path / "two-writers.sqlite3"
    eng = make_engine(f"sqlite:///{db}", busy_timeout_s=5)
    init_db(eng)
    other_done: list[str] = []

    def other_writer() -> None:  # the model thread: its own connection, one short write transaction
        con = sqlite3.connect(db, timeout=5, isolation_level=None)
        con.execute("INSERT INTO images (sha256, width, height, first_seen_at) VALUES (?, 1, 1, '2025-01-01')",
                    (sha("other"),))
        con.close()
        other_done.append("committed")

    try:
        with session_scope(eng) as s:
            s.execute(select(ImagePath.id)).all()  # the read that fixes this transaction's snapshot
            t = threading.Thread(target=other_writer)
            t.start()
            t.join(0.5)  # the other writer had every chance to commit before this one writes
            add_image(s, "mine", tmp_path)
        t.join(10)
        assert other_done == ["committed"]
        with session_scope(eng, action="read") as s:
            assert s.scalar(text("SELECT count(*) FROM images")) == 2
    finally:
        eng.dispose()


def test_only_recomputable_data_commits_without_waiting_for_the_disk(tmp_path: Path) -> None:
    """Judgments are on disk when acknowledged (synchronous=FULL); predictions skip the fsync (NORMAL), on the
    same pooled connection, which goes back to FULL for the next durable transaction."""
    eng = make_engine(f"sqlite:///{tmp_path / 'sync.sqlite3'}")
    init_db(eng)
    try:
        for durable, action, expected in [(True, "write to", 2), (False, "write to", 1), (True, "write to", 2),
                                          (True, "read", 2)]:
            with session_scope(eng, action=action, durable=durable) as s:
                assert s.scalar(text("PRAGMA synchronous")) == expected, (durable, action)
    finally:
        eng.dispose()


def test_insert_race_falls_back_to_the_other_writers_row(engine: Engine, tmp_path: Path) -> None:
    from app.store.repo._common import _insert_or_existing
    from app.store.schema import Image

    with session_scope(engine) as s:
        s.execute(text("INSERT INTO images (sha256, width, height, first_seen_at) VALUES (:h, 1, 1, '2025-01-01')"),
                  {"h": sha("a")})  # fmt: skip  # what another analyst committed meanwhile
        winner = _insert_or_existing(
            s,
            Image(sha256=sha("a"), width=2, height=2),
            lambda: s.scalar(select(Image).where(Image.sha256 == sha("a"))),
        )
        assert winner.width == 1  # the existing row; the outer transaction is still usable
        img = repo.get_or_create_image(s, sha("b"), tmp_path / "b.png", 3, 3)
    with session_scope(engine) as s:
        assert repo.image_paths(s, img.image_id) == [str(tmp_path / "b.png")]


def test_repo_modules_import_each_other_never_the_package() -> None:
    """app.store.repo is split by table; its modules import each other's modules without a cycle, never the
    package (whose __init__ imports them all), and never Qt."""
    import ast
    import graphlib

    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "app" / "store" / "repo").glob("*.py")):
        if path.name == "__init__.py":
            continue
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # function-level imports too
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0 and node.module, f"{path.name}: relative import"
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            for name in names:
                assert name != "app.store.repo", f"{path.name} imports the app.store.repo package"
                assert not name.startswith("PySide6"), f"{path.name} imports {name}"
                if name.startswith("app.store.repo."):
                    deps.add(name.split(".")[3])
        graph[path.stem] = deps
    assert {"_common", "predictions", "judgments"} <= set(graph)
    assert all(dep in graph for deps in graph.values() for dep in deps), graph
    list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on an import cycle



_FIRST_START = """
import sys, time
from pathlib import Path
from app.store.db import init_db, make_engine
from app.store.errors import StoreError
print("ready", flush=True)
go = Path(sys.argv[2])
while not go.exists():  # every process starts its migration at the same moment
    time.sleep(0.001)
try:
    print(init_db(make_engine(sys.argv[1])))
except StoreError as exc:
    print(exc)
    sys.exit(3)
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_several_processes_creating_a_fresh_database_at_once_all_start(backend: str, tmp_path: Path) -> None:
    """Two windows (or the app and `fma-judge classify`) started together on a new database: none fails.

    Before the migrations took a lock, one of them often died with "database is locked" (SQLite: a deferred
    transaction whose snapshot went stale) or an IntegrityError on ``alembic_version`` (PostgreSQL).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for run in range(3):
        go = tmp_path / f"go{run}"
        with contextlib.ExitStack() as stack:
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path / f'fresh{run}.sqlite3'}"
            else:
                url = stack.enter_context(pg_schema_url())
            procs = [subprocess.Popen([sys.executable, "-c", _FIRST_START, url, str(go)], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)]
            assert [p.stdout.readline().strip() for p in procs] == ["ready"] * 4  # imports done
            go.touch()
            outs = [p.communicate(timeout=120)[0] for p in procs]
            assert [p.returncode for p in procs] == [0] * 4, outs
            assert {o.strip().splitlines()[-1] for o in outs} == {head_revision()}
