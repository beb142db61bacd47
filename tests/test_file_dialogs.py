"""The app's file dialogs never open the files they list: a dialog on the database's folder keeps the store's
SQLite locks, and a judgment saved afterwards survives another fma-judge process on the same file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtWidgets")

LINUX_LOCKS = Path("/proc/locks")


def _locks_on(paths: list[Path]) -> int:
    """This process's POSIX locks on ``paths`` (Linux's /proc/locks: "... PID MAJ:MIN:INODE start end")."""
    inodes = {p.stat().st_ino for p in paths if p.exists()}
    held = 0
    for line in LINUX_LOCKS.read_text().splitlines():
        fields = line.split()
        pid, where = fields[4], fields[5] if len(fields) > 5 else ""
        if pid == str(os.getpid()) and int(where.rsplit(":", 1)[-1]) in inodes:
            held += 1
    return held


def _other_process(db: Path, sql: str) -> str:
    """``sql`` run by another process on ``db`` (as ``fma-judge monitor`` or a second window would): it opens the
    file, reads, and closes; the last connection on a WAL database checkpoints it and deletes the WAL."""
    code = ("import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n"
            "print(c.execute(sys.argv[2]).fetchall())\nc.close()\n")
    return subprocess.run([sys.executable, "-c", code, str(db), sql], check=True, capture_output=True,
                          text=True, timeout=60).stdout.strip()


@pytest.mark.skipif(not LINUX_LOCKS.exists(), reason="Linux's /proc/locks lists a process's file locks")
@pytest.mark.parametrize("mode", ["folder", "files", "save"])
def test_a_dialog_on_the_databases_folder_leaves_the_stores_locks_and_judgments_alone(qtbot, tmp_path: Path,
                                                                                      mode: str) -> None:
    from PySide6.QtWidgets import QLineEdit
    from sqlalchemy import text

    from app.store.db import open_store
    from app.ui import file_dialogs

    db = tmp_path / "judgments.sqlite"
    engine = open_store(f"sqlite:///{db}").engine
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE seen (n INTEGER)"))
            conn.execute(text("INSERT INTO seen VALUES (1)"))
        files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        held = _locks_on(files)
        assert held >= 2  # the database's shared lock and the WAL index's: what tells others it is in use

        # As an analyst does: the dialog on the folder that holds the database, its path typed (the completer
        # lists the folder too), the details view showing each file's type, then Cancel.
        dialog = file_dialogs.build(None, "Open", str(tmp_path), mode=mode, name_filter="All files (*)")
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        dialog.setViewMode(dialog.ViewMode.Detail)
        dialog.findChild(QLineEdit).setText(f"{tmp_path}/")
        qtbot.wait(1500)  # the file system model lists and types the files in its own thread
        dialog.reject()
        assert _locks_on(files) == held

        assert _other_process(db, "SELECT count(*) FROM seen") == "[(1,)]"
        with engine.begin() as conn:  # the window saves a judgment after the other process has come and gone
            conn.execute(text("INSERT INTO seen VALUES (2)"))
        assert _other_process(db, "SELECT n FROM seen ORDER BY n") == "[(1,), (2,)]"
    finally:
        engine.dispose()


def test_the_app_shows_no_file_dialog_but_its_own() -> None:
    """Every file dialog of the app goes through app/ui/file_dialogs.py (Qt's static ones read the files)."""
    root = Path(__file__).resolve().parents[1] / "app"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "file_dialogs.py" and "QFileDialog" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_the_icon_provider_names_a_file_by_its_name(qtbot) -> None:
    from PySide6.QtCore import QFileInfo

    from app.ui.file_dialogs import NameOnlyIconProvider

    provider = NameOnlyIconProvider()
    assert provider.type(QFileInfo(__file__)) == "PY file"
    assert provider.type(QFileInfo(str(Path(__file__).parent))) == "Folder"
    assert not provider.icon(QFileInfo(__file__)).isNull()


def test_the_open_dialogs_start_where_the_analyst_last_chose(qtbot, engine, tmp_path: Path, monkeypatch) -> None:
    from conftest import open_window, write_image

    from app.ui import file_dialogs

    lots = tmp_path / "line3"
    write_image(lots / "lot1" / "a.png")
    write_image(lots / "lot2" / "b.png")
    starts = []

    def chosen(answer):
        return lambda _parent, _caption, start="", *_a, **_k: (starts.append(start), answer)[1]

    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        monkeypatch.setattr(file_dialogs, "choose_folder", chosen(str(lots / "lot1")))
        win.choose_folder()
        qtbot.waitUntil(lambda: bool(win.presenter.items), timeout=10_000)
        monkeypatch.setattr(file_dialogs, "choose_files", chosen([str(lots / "lot2" / "b.png")]))
        win.choose_files()
        assert starts == ["", str(lots)]  # the second starts beside the folder chosen first
        win.settings.remove("open/folder")  # nothing chosen yet on this workstation: beside the batch on screen
        qtbot.waitUntil(lambda: win.presenter.batch is not None and "lot2" in win.presenter.batch.source, timeout=10_000)
        win.choose_files()
        assert starts[-1] == str(lots)
    finally:
        win.close()


def test_the_dialogs_speak_chinese_where_qts_own_translation_stops(qtbot) -> None:
    from PySide6.QtWidgets import QApplication, QLabel

    from app.ui import file_dialogs
    from app.ui.app import install_translators

    app = QApplication.instance()
    translators = install_translators(app, "zh_TW")
    try:
        dialog = file_dialogs.build(None, "x", "", mode="folder")
        qtbot.addWidget(dialog)
        texts = [label.text() for label in dialog.findChildren(QLabel)]
        if not file_dialogs.NATIVE:
            assert "尋找於(&L)：" in texts and "檔案類型(&T)：" in texts
            from PySide6.QtWidgets import QTreeView

            details = dialog.findChild(QTreeView, "treeView")  # its Size column holds a size whole ("50…iB")
            assert details.header().sectionSize(1) >= details.fontMetrics().horizontalAdvance("1023.9 MiB")
        assert not any(t.isascii() and t.strip() for t in texts)  # no English label left
    finally:
        for translator in translators:
            app.removeTranslator(translator)
