"""The crash log (app/crash_log.py): a judging window vanished once with no trace; now its reason is in crash.log.
Every case runs in a child process (faulthandler and sys.excepthook are process-wide)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ago(seconds: int) -> str:
    """A start line's time ``seconds`` ago: after this computer's last boot (the tests' dates of 2026-12-06 were
    before a CI machine's boot, so the running test's own pid read as another process's, from before it)."""
    import datetime as dt

    return (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)).isoformat(timespec="seconds")


def _run(code: str, folder: Path) -> subprocess.CompletedProcess:
    script = f"from pathlib import Path\nfrom app import crash_log\nprint(crash_log.enable(Path({str(folder)!r})))\n"
    return subprocess.run([sys.executable, "-c", script + code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_a_fatal_signal_leaves_every_threads_stack_in_the_log(tmp_path) -> None:
    done = _run("import ctypes\nctypes.string_at(0)", tmp_path)  # a segmentation fault, as in a C library
    assert done.returncode != 0
    log = (tmp_path / "crash.log").read_text(encoding="utf-8")
    assert " start pid " in log.splitlines()[0]
    assert "Fatal Python error: Segmentation fault" in log and "File \"<string>\", line 5" in log


def test_the_next_start_knows_the_last_run_died_and_the_one_after_it_does_not(tmp_path) -> None:
    """The helper's window vanished (a segmentation fault) and the next start said nothing of it: now the app is
    told (crash_log.previous_crash) and says so in its status bar, once."""
    report = "print(crash_log.previous_crash)\ncrash_log.mark_reported()"  # (as the window does once it is said)
    assert _run(report, tmp_path).stdout.splitlines()[-1] == "None"  # no log yet
    _run("import ctypes\nctypes.string_at(0)", tmp_path)
    after = _run(report, tmp_path).stdout.splitlines()[-1]
    assert after.endswith(", 'Segmentation fault')") and after.startswith("('20")
    assert _run(report, tmp_path).stdout.splitlines()[-1] == "None"  # that start ended well
    _run("def judge():\n    raise KeyError('no such leaf')\njudge()", tmp_path)  # logged, not fatal
    assert _run(report, tmp_path).stdout.splitlines()[-1] == "None"


def test_a_run_that_was_not_closed_is_known_and_one_still_running_is_not(tmp_path) -> None:
    """Killed (kill -9, the task manager), its session ended, the power went: no fatal error, and the next start said
    nothing (whole-day walk-through). A clean end writes its end line; another window still open is no crash."""
    import os

    from app import crash_log

    report = "print(crash_log.previous_crash)\ncrash_log.mark_reported()"  # (as the window does once it is said)
    _run("import os\nos._exit(3)", tmp_path)  # ends without any of Python's own ending: as a kill does
    after = _run(report, tmp_path).stdout.splitlines()[-1]
    assert after.startswith("('20") and after.endswith(f", {crash_log.NOT_CLOSED!r})")
    assert _run(report, tmp_path).stdout.splitlines()[-1] == "None"  # that one closed: its end line
    log = tmp_path / "crash.log"
    assert " end pid " in log.read_text(encoding="utf-8").splitlines()[-1]
    with open(log, "a", encoding="utf-8") as f:  # a window of this computer still open (a running process), started
        f.write(f"{_ago(1)} start pid {os.getppid()} python 3.11 --demo\n")  # since the last boot (a CI machine's)
    assert crash_log.last_crash(log) is None


def test_a_window_killed_while_a_later_one_runs_is_said_once(tmp_path) -> None:
    """A killed, B started after it and still open, C started: nothing was said, ever (only the last start was
    looked at; verification walk-through). Said at C's start, and not again at the next."""
    import os

    log = tmp_path / "crash.log"
    a, b, c = _ago(4), _ago(2), _ago(1)  # (since this computer's last boot: a pid from before it is nobody's now)
    log.write_text(f"{a} start pid 999990 python 3.11\n"
                   f"{a} end pid 999990\n"
                   f"{b} start pid 999991 ends-logged python 3.11 --db alice\n"
                   f"{c} start pid {os.getppid()} python 3.11 --db bob\n", encoding="utf-8")
    report = "print(crash_log.previous_crash)\ncrash_log.mark_reported()"  # (as the window does once it is said)
    said = _run(report, tmp_path).stdout.splitlines()[-1]
    assert said == f"('{b}', 'not closed')"
    assert "reported pid 999991" in log.read_text(encoding="utf-8")
    assert _run(report, tmp_path).stdout.splitlines()[-1] == "None"  # said once
    from app import crash_log  # a fresh log, no run ended yet: found all the same (second review)

    fresh = (f"{b} start pid 999992 ends-logged python 3.11\n"
             f"{c} start pid {os.getppid()} ends-logged python 3.11\n")
    assert crash_log.not_closed(fresh) == [(b, 999992)]
    assert crash_log.not_closed(fresh.replace(" ends-logged", "")) == []  # an older version's lines: the last only
    (tmp_path / "quiet").mkdir()  # a start that did not say it (it failed before its window showed): not used up
    (tmp_path / "quiet" / "crash.log").write_text(fresh, encoding="utf-8")
    for _ in range(2):
        assert _run("print(crash_log.previous_crash)", tmp_path / "quiet").stdout.splitlines()[-1] == \
            f"('{b}', 'not closed')"


def test_a_windows_log_and_a_run_from_before_a_reboot(tmp_path, monkeypatch) -> None:
    """Windows writes the log with CRLF: its end lines were not seen, and every clean close was reported (review). A
    start from before the last boot is not running whatever its pid is now (after a power cut the pid is another
    process's)."""
    import os

    from app import crash_log

    log = tmp_path / "crash.log"
    log.write_bytes(b"2026-12-06T10:00:00+00:00 start pid 999999 python 3.11 --demo\r\n"
                    b"2026-12-06T11:00:00+00:00 end pid 999999\r\n")
    assert crash_log.last_crash(log) is None
    log.write_bytes(f"2026-12-06T10:00:00+00:00 start pid {os.getppid()} python 3.11\r\n".encode())
    monkeypatch.setattr(crash_log, "boot_time", lambda: 0.0)  # booted long before: the pid is that window's
    assert crash_log.last_crash(log) is None
    monkeypatch.setattr(crash_log, "boot_time", lambda: 2_000_000_000.0)  # booted after it: another process's pid
    assert crash_log.last_crash(log) == ("2026-12-06T10:00:00+00:00", crash_log.NOT_CLOSED)


def test_an_uncaught_exception_is_logged_and_still_printed(tmp_path) -> None:
    done = _run("def judge():\n    raise KeyError('no such leaf')\njudge()", tmp_path)
    assert done.returncode == 1 and "KeyError: 'no such leaf'" in done.stderr  # stderr as before
    log = (tmp_path / "crash.log").read_text(encoding="utf-8")
    assert "uncaught exception" in log and "in judge" in log and "KeyError: 'no such leaf'" in log


def test_the_log_keeps_earlier_starts_until_it_grows_too_large_and_a_bad_folder_is_no_crash(tmp_path) -> None:
    from app import crash_log

    assert _run("", tmp_path).returncode == 0 and _run("", tmp_path).returncode == 0
    assert (tmp_path / "crash.log").read_text(encoding="utf-8").count(" start pid ") == 2
    (tmp_path / "crash.log").write_text("x" * (crash_log.MAX_BYTES + 1), encoding="utf-8")
    _run("", tmp_path)
    assert (tmp_path / "crash.log").read_text(encoding="utf-8").count("x") < 10  # started again
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    done = _run("print('judging goes on')", blocked / "sub")  # a folder that cannot be made: no log, no crash
    assert done.returncode == 0 and done.stdout.split() == ["None", "judging", "goes", "on"]


def test_a_database_password_on_the_command_line_is_not_written(tmp_path) -> None:
    """The README asks for crash.log with a report; a team's `--db postgresql://ana:secret@host/db` is on the line."""
    script = ("import sys\nfrom pathlib import Path\nfrom app import crash_log\n"
              f"sys.argv = ['fma-judge', '--db', 'postgresql+psycopg://ana:s3cr:et@db.lan:5432/fma', '--lang', 'en']\n"
              f"crash_log.enable(Path({str(tmp_path)!r}))\n")
    assert subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=120).returncode == 0
    line = (tmp_path / "crash.log").read_text(encoding="utf-8")
    assert "postgresql+psycopg://ana:***@db.lan:5432/fma --lang en" in line and "s3cr" not in line


def test_the_crash_log_and_drafts_live_where_the_store_keeps_the_database(qapp) -> None:
    """places.local_folder repeats the store's user data folder formula (to keep the store's imports out of the
    start-up): the two must not drift apart."""
    from PySide6.QtCore import QSettings

    from app.store.urls import user_data_folder
    from app.ui.places import local_folder

    native = QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, "fma-judge-test", "places")
    assert native.format() == QSettings.Format.NativeFormat and local_folder(native) == user_data_folder()
    ini = QSettings(str(Path("/somewhere") / "settings.ini"), QSettings.Format.IniFormat)
    assert local_folder(ini) == Path("/somewhere")


def test_a_windows_crash_is_known_and_a_handled_windows_exception_is_not(tmp_path) -> None:
    """On Windows faulthandler writes "Windows fatal exception: access violation"; it also logs exceptions a library
    then handles ("code 0xe06d7363", a C++ exception), which are no crash."""
    from app.crash_log import last_crash

    log = tmp_path / "crash.log"
    start = "2026-12-06T09:00:00+08:00 start pid 42 python 3.11.7 --demo\n"
    end = "2026-12-06T17:00:00+08:00 end pid 42\n"  # (the run ended well after it)
    log.write_text(start + "Windows fatal exception: code 0xe06d7363\n\nCurrent thread 0x1 (most recent call first):\n"
                   + end, encoding="utf-8")
    assert last_crash(log) is None
    log.write_text(start + "Windows fatal exception: access violation\n\nCurrent thread 0x1:\n", encoding="utf-8")
    assert last_crash(log) == ("2026-12-06T09:00:00+08:00", "access violation")
    log.write_text(start + "Fatal Python error: Segmentation fault\n" + start.replace("42", "43") + end.replace("42", "43"),
                   encoding="utf-8")
    assert last_crash(log) is None  # a crash before the last start is not the last run's
    assert last_crash(tmp_path / "none.log") is None


def test_the_notice_stays_over_the_window_until_dismissed(qtbot, engine, tmp_path, monkeypatch) -> None:
    """The crash notice was a status message, replaced at once by "Looking into …" when a folder opened."""
    from conftest import open_window

    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        banner = win.show_notice("The last session ended unexpectedly (2026-12-06 09:00, Segmentation fault)")
        win.statusBar().showMessage("Looking into a folder…")
        assert banner.isVisibleTo(win) and "Segmentation fault" in banner.text() and "Dismiss" in banner.text()
        banner.linkActivated.emit("dismiss")
        assert not banner.isVisibleTo(win)
    finally:
        win.close()
