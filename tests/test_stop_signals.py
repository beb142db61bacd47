"""A stop from outside (a logout's or IT's SIGTERM, Ctrl+C in the terminal) closes the window as its close button
does (app.ui.stop_signals): the analyst's claims are given back at once, not held five minutes, and a note being
typed is kept as a draft."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from conftest import ROOT, open_window, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.store.db import session_scope

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX stop signals")


def _claims(db: Path) -> int:
    with closing(sqlite3.connect(db)) as c:
        return c.execute("SELECT count(*) FROM claims").fetchone()[0]


# The app with a model that takes ``LOAD_S`` seconds to load: a stop comes while the model thread is in that step.
SLOW_LOAD = """
import sys, time
import app.ui.app, app.ui.workers
from app.services.predicting import PredictingService
app.ui.workers.STOP_WAIT_MS, app.ui.app.MODEL_LAST_WAIT_MS = 200, int(sys.argv.pop(1))
load = PredictingService.load
def slow_load(self, *args, **kwargs):
    time.sleep(LOAD_S)
    return load(self, *args, **kwargs)
PredictingService.load = slow_load
from app.__main__ import main
sys.exit(main())
"""
LOAD_S = 4


@contextmanager
def _judging_window(tmp_path, bundle, images: int = 4, *, ignore_hup: bool = False, last_wait_ms: int | None = None):
    """The app in its own process on a folder of ``images``, its store's claims made (the window holds the images it
    shows next); yields ``(process, database)`` and kills the process if the test left it running. ``last_wait_ms``:
    the model loads slowly (:data:`SLOW_LOAD`), and the app waits that long for it at its exit."""
    folder = tmp_path / "batch"
    for i in range(images):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    db = tmp_path / "db.sqlite"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FMA_JUDGE_SETTINGS=str(tmp_path / "s.ini"),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    start = ["-m", "app"] if last_wait_ms is None else \
        ["-c", SLOW_LOAD.replace("LOAD_S", str(LOAD_S)), str(last_wait_ms)]
    proc = subprocess.Popen([sys.executable, *start, str(folder), "--model", str(bundle), "--db",
                             f"sqlite:///{db}", "--analyst", "alice"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=(lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)) if ignore_hup else None)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if _claims(db):
                    break
            except sqlite3.Error:  # (the store is not made yet)
                pass
            time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()
        assert _claims(db) > 0
        yield proc, db
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@posix_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_closes_the_window_and_gives_back_its_claims(tmp_path, tiny_bundle, sig):
    """Before, SIGTERM ended the process at once (exit -15) and the images stayed claimed for the lease."""
    with _judging_window(tmp_path, tiny_bundle) as (proc, db):
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert _claims(db) == 0
    wal = db.with_name(db.name + "-wal")  # the write-ahead log folded into the file, as on a close
    assert not wal.exists() or wal.stat().st_size == 0


@posix_only
@pytest.mark.parametrize("ends", [True, False], ids=["its-step-ends", "its-step-outlasts-the-wait"])
def test_a_stop_while_the_model_is_still_loading_ends_the_process_cleanly(tmp_path, tiny_bundle, ends):
    """Seen under load: SIGTERM while the model thread was still loading the model; the window waited 10 s for it,
    and the process aborted at its exit ("QThread: Destroyed while thread is still running", status -6). Now the
    app waits longer for the step, and leaves without it if it never ends; the claims go back either way."""
    import threading

    from app import crash_log

    with _judging_window(tmp_path, tiny_bundle, last_wait_ms=60_000 if ends else 1500) as (proc, db):
        started, lines = time.monotonic(), []
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
        reader.start()
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while not any("waiting for the model" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # Ctrl+C again while it waits (it raised out of the wait: review)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    err = "".join(lines)
    assert proc.returncode == 0, err
    assert "QThread" not in err and "Traceback" not in err, err
    assert "waiting for the model to finish its current step" in err
    assert ("closing without it (every judgment is saved)" in err) is not ends, err
    assert (time.monotonic() - started < LOAD_S) is not ends  # it waited for the step, or left before its end
    assert _claims(db) == 0
    # the crash log has its end line either way: the next start said the session had ended unexpectedly
    assert crash_log.not_closed((tmp_path / "crash.log").read_text(encoding="utf-8")) == []


@posix_only
def test_a_signal_ignored_at_start_stays_ignored(tmp_path, tiny_bundle):
    """`nohup fma-judge &`: the terminal's SIGHUP must not close the window (review)."""
    with _judging_window(tmp_path, tiny_bundle, images=1, ignore_hup=True) as (proc, _db):
        proc.send_signal(signal.SIGHUP)
        time.sleep(2)
        assert proc.poll() is None  # still open
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


def test_a_stop_while_a_note_is_typed_keeps_it_as_a_draft_and_releases_the_claims(qtbot, engine, tiny_bundle,
                                                                                    tmp_path, monkeypatch):
    """The note dialog open over the window is cancelled first (its text kept as a draft, on disk), and the window
    closes without asking anything."""
    from app.ui.app import close_for_stop

    folder = tmp_path / "batch"
    for i in range(3):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    win = open_window(qtbot, engine, tiny_bundle, tmp_path, monkeypatch)
    quits: list[bool] = []
    monkeypatch.setattr(QApplication, "quit", lambda *a: quits.append(True))  # (the test's own app goes on)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        image_id = win.current_image_id
        qtbot.waitUntil(lambda: _held(engine, "alice") > 0, timeout=10_000)
        seen: list[bool] = []

        def type_and_stop() -> None:
            dlg = QApplication.activeModalWidget()
            seen.append(dlg is not None)
            if dlg is not None:
                qtbot.keyClicks(dlg.editor, "halo around the particle")
            close_for_stop(win)

        QTimer.singleShot(300, type_and_stop)
        qtbot.keyClick(win, Qt.Key.Key_N)
        qtbot.waitUntil(lambda: not win.isVisible(), timeout=10_000)
        assert seen == [True] and quits == [True]
        assert QApplication.activeModalWidget() is None
        assert win.note_drafts.get(image_id) == "halo around the particle"
        assert win.note_drafts.path is not None and "halo around the particle" in win.note_drafts.path.read_text(
            encoding="utf-8")
        assert _held(engine, "alice") == 0
    finally:
        win.close()


def _held(engine, analyst: str) -> int:
    from sqlalchemy import text

    with session_scope(engine, action="read") as s:
        return s.execute(text("SELECT count(*) FROM claims WHERE analyst = :a"), {"a": analyst}).scalar_one()
