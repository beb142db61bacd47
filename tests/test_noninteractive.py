"""A run without a user (``fma-judge --screenshot``) never opens a modal dialog: an error is one line on stderr
(``fma-judge: ...``) and the exit code is 2. Before, each case below waited forever for a click."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, write_image

pytest.importorskip("pytestqt")


def _screenshot_run(tmp_path: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """``python -m app --screenshot OUT.png ARGS`` with its own settings, data folders and no user."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FMA_JUDGE_SETTINGS=str(tmp_path / "settings.ini"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)  # this checkout's code
    return subprocess.run([sys.executable, "-m", "app", "--screenshot", str(tmp_path / "shot.png"), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def _assert_one_line_error(res: subprocess.CompletedProcess, tmp_path: Path, *needles: str) -> None:
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.startswith("fma-judge:")]
    assert len(lines) == 1, res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not (tmp_path / "shot.png").exists()


@pytest.fixture()
def one_image(tmp_path) -> Path:
    folder = tmp_path / "batch"
    write_image(folder / "a.png", size=(64, 64))
    return folder


@pytest.mark.parametrize(("db", "needles"), [
    ("sqlite:///{tmp}/nonexistent/dir/x.db", ("Cannot open the database", "does not exist")),
    ("postgresql:/db.lab/x", ("Cannot use the database 'postgresql:/db.lab/x'", "neither a URL", "nor a file path")),
    ("not a database url", ("Cannot use the database 'not a database url'", "does not exist", "full path")),
    ("postgresql+psycopg://u@127.0.0.1:1/x", ("Cannot open the database", "127.0.0.1")),  # connection refused
], ids=["sqlite-folder-missing", "unparseable-url", "relative-file-missing", "postgresql-refused"])
def test_a_database_that_cannot_be_opened(tmp_path, one_image, db, needles):
    if db.startswith("postgresql"):
        pytest.importorskip("psycopg")
    res = _screenshot_run(tmp_path, str(one_image), "--model", str(tmp_path / "model"),
                          "--db", db.format(tmp=tmp_path))
    _assert_one_line_error(res, tmp_path, *needles)
    assert not (ROOT / "not a database url").exists()  # a relative path (here: a typo) makes no database


def test_a_postgresql_server_that_never_answers_fails_within_the_connect_timeout(tmp_path, one_image):
    """A port that accepts connections and says nothing: without a connect timeout psycopg waits forever."""
    pytest.importorskip("psycopg")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nothing ever answers
        port = silent.getsockname()[1]
        res = _screenshot_run(tmp_path, str(one_image), "--model", str(tmp_path / "model"),
                              "--db", f"postgresql+psycopg://u@127.0.0.1:{port}/x", timeout=90)
    _assert_one_line_error(res, tmp_path, "Cannot open the database", "timeout")


@pytest.mark.parametrize("case", ["missing", "a-file", "empty"])
def test_a_folder_that_cannot_be_a_batch(tmp_path, case):
    folder = tmp_path / ("image.png" if case == "a-file" else "folder")
    if case == "a-file":
        write_image(folder)  # an image file, given where a folder is expected
    elif case == "empty":
        folder.mkdir()
        (folder / "notes.txt").write_text("no images here")
    res = _screenshot_run(tmp_path, str(folder), "--model", str(tmp_path / "model"),
                          "--db", f"sqlite:///{tmp_path / 'db.sqlite'}")
    needle = {"missing": "folder not found", "a-file": "not a folder", "empty": "no images"}[case]
    _assert_one_line_error(res, tmp_path, needle, str(folder))
    assert not (tmp_path / "db.sqlite").exists()  # found before the database is opened (and torch imported)


@pytest.mark.parametrize("case", ["unknown kind", "no kind", "file as folder"])
def test_a_picture_file_that_cannot_be_written_is_said_before_the_run(tmp_path, one_image, case):
    """``--screenshot x.jpgx`` ran the whole batch and then said only "cannot write x.jpgx". Now the name's kind and
    its folder are checked first, and the line says what is wrong."""
    (tmp_path / "notes.txt").write_text("a file")
    out = {"unknown kind": tmp_path / "shot.jpgx", "no kind": tmp_path / "shot",
           "file as folder": tmp_path / "notes.txt" / "shot.png"}[case]
    res = _screenshot_run(tmp_path, str(one_image), "--model", str(tmp_path / "model"),  # (the last --screenshot)
                          "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "--screenshot", str(out))
    needle = {"unknown kind": ".jpgx is not a picture format; end the name with .png",
              "no kind": "no picture format is given", "file as folder": f"{tmp_path / 'notes.txt'} is a file, not a folder"}
    _assert_one_line_error(res, tmp_path, f"--screenshot {out}: ", needle[case])
    assert not (tmp_path / "db.sqlite").exists()  # found before the database is opened


def test_no_batch_to_take_a_picture_of(tmp_path):
    res = _screenshot_run(tmp_path, "--model", str(tmp_path / "model"), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}")
    _assert_one_line_error(res, tmp_path, "needs a batch")


def test_a_model_that_cannot_be_loaded(tmp_path, one_image):
    """The window's own error (on the model thread, after start-up): its box becomes the line."""
    not_a_bundle = tmp_path / "not_a_bundle"
    not_a_bundle.mkdir()
    res = _screenshot_run(tmp_path, str(one_image), "--model", str(not_a_bundle),
                          "--db", f"sqlite:///{tmp_path / 'db.sqlite'}")
    _assert_one_line_error(res, tmp_path, "the model could not be loaded", "manifest.json")
    log = (tmp_path / "crash.log").read_text(encoding="utf-8")  # the app keeps a crash log beside its settings
    assert log.count(" start pid ") == 1 and "--screenshot" in log


def test_every_error_box_of_the_window_is_a_line_and_exit_2_without_a_user(qtbot, engine, monkeypatch, capsys):
    """The boxes a screenshot run could meet after start-up, and the store error of a judgment, in one place."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QMessageBox

    from app.services.batches import OpenedBatch
    from app.services.judging import JudgingService
    from app.store.errors import StoreError
    from app.ui.main_window import MainWindow

    def no_box(*_a, **_k):
        raise AssertionError("a modal box without a user")

    for kind in ("information", "warning", "critical", "question"):
        monkeypatch.setattr(QMessageBox, kind, no_box)
    exits: list[int] = []
    monkeypatch.setattr(QCoreApplication, "exit", lambda code=0: exits.append(code))
    win = MainWindow(JudgingService(engine, "alice"), lang="en", interactive=False)
    qtbot.addWidget(win)
    win._model_failed("/x: not a model bundle, manifest.json is missing")
    win._open_failed("folder not found: /gone")
    win._batch_opened(OpenedBatch(batch_id=1, name="empty", source="/empty", items=[]))
    win._store_failed(StoreError("Cannot write to the database sqlite:///x:\nattempt to write a readonly database"))
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["fma-judge: the model could not be loaded: /x: not a model bundle, manifest.json is missing",
                     "fma-judge: cannot open: folder not found: /gone",
                     "fma-judge: no images (PNG, JPEG, BMP, TIFF) in /empty",
                     "fma-judge: judgment NOT saved: Cannot write to the database sqlite:///x: attempt to write a "
                     "readonly database"]
    assert exits == [2, 2, 2, 2]
    win.close()
