"""Every UI string is translated to Traditional Chinese, and the compiled .qm is up to date."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from PIL import Image

TS = ROOT / "app" / "i18n" / "fma_judge_zh_TW.ts"


def test_every_ui_string_has_a_chinese_translation(tmp_path):
    lupdate = Path(sys.executable).parent / "pyside6-lupdate"
    if not lupdate.exists():
        pytest.skip("pyside6-lupdate not installed")
    ts = tmp_path / "check.ts"
    shutil.copy(TS, ts)
    sources = sorted(str(p) for p in (ROOT / "app" / "ui").glob("*.py"))
    subprocess.run([str(lupdate), *sources, "-ts", str(ts), "-no-obsolete"], check=True, capture_output=True)
    text = ts.read_text(encoding="utf-8")
    assert 'type="unfinished"' not in text, "untranslated strings: run `python dev.py i18n` and translate them"
    assert text.count("<message") >= 80


def test_translator_switches_strings(qapp):
    from PySide6.QtCore import QCoreApplication, QTranslator

    from app.ui.app import I18N_DIR
    from app.ui.prediction_panel import state_label

    tr = QTranslator()
    assert tr.load("fma_judge_zh_TW", str(I18N_DIR))
    QCoreApplication.installTranslator(tr)
    try:
        assert state_label("pending") == "待判定"
        assert QCoreApplication.translate("Main", "Open the demo batch") == "開啟示範批次"
    finally:
        QCoreApplication.removeTranslator(tr)
    assert state_label("pending") == "pending"


def test_a_translation_file_rewritten_while_the_app_runs_changes_nothing_on_screen(qapp, tmp_path):
    """Qt maps a .qm loaded by name: rewritten in place (dev.py i18n, an install updated on a share), the running
    app crashed in translate or showed half its text in English (seen under Xvfb). The app loads a copy."""
    from PySide6.QtCore import QCoreApplication, QTranslator

    from app.ui.app import I18N_DIR, load_copy

    qm = tmp_path / "fma_judge_zh_TW.qm"
    shutil.copyfile(I18N_DIR / qm.name, qm)
    tr = QTranslator()
    assert load_copy(tr, qm)
    QCoreApplication.installTranslator(tr)
    try:
        assert QCoreApplication.translate("Main", "Open the demo batch") == "開啟示範批次"
        with open(qm, "r+b") as handle:  # the same file, rewritten in place
            handle.write(bytes(qm.stat().st_size))
        assert QCoreApplication.translate("Main", "Open the demo batch") == "開啟示範批次"
    finally:
        QCoreApplication.removeTranslator(tr)
    assert not load_copy(QTranslator(), tmp_path / "missing.qm")


def _in_chinese(words, keys) -> dict:
    """``{key: words(key)}`` with the Traditional Chinese translator installed."""
    from PySide6.QtCore import QCoreApplication, QTranslator

    from app.ui.app import I18N_DIR

    tr = QTranslator()
    assert tr.load("fma_judge_zh_TW", str(I18N_DIR))
    QCoreApplication.installTranslator(tr)
    try:
        return {key: words(key) for key in keys}
    finally:
        QCoreApplication.removeTranslator(tr)


def test_every_routing_reason_is_worded_in_both_languages(qapp):
    """Each code of the one routing-reason table has its own UI words (not the raw code), in English and Chinese."""

    from app.ui.style import reason_label
    from models.routing.policy import REASONS

    english = {code: reason_label(code) for code in REASONS}
    assert all(label and label != code for code, label in english.items()), english
    assert len(set(english.values())) == len(REASONS), english
    chinese = _in_chinese(reason_label, REASONS)
    assert all(chinese[code] not in (code, english[code]) for code in REASONS), chinese
    assert len(set(chinese.values())) == len(REASONS), chinese


def test_a_wrapped_reason_keeps_each_figure_with_its_percent_sign(qapp):
    """The reason line wraps in the narrow right column: "96.4%" is written as the bars write it, so it never breaks between the number and "%"."""
    from app.services.presenter_records import ReasonDetail
    from app.ui.style import reason_text

    details = [ReasonDetail("low_confidence", 0.79, 0.964), ReasonDetail("leaf_below_target", None, 0.99)]
    for words in ([reason_text(d) for d in details], list(_in_chinese(reason_text, details).values())):
        assert all("%" in text and " %" not in text and "\u00a0%" not in text for text in words), words
    assert "79.0%" in reason_text(details[0]) and "96.4%" in reason_text(details[0])
    close = reason_text(ReasonDetail("low_confidence", 0.96262, 0.96271))  # it read "96.3% < … 96.3%"
    assert "96.26% < this type's auto threshold 96.27%" in close


def test_every_reason_a_file_is_left_out_or_unreadable_is_worded_in_chinese(qapp, tmp_path, engine):
    """The reasons come from models.imageio and the batch services in English (the CLI's words); the UI shows them
    in its language, the detail after the known phrase (the decoder's own words) kept."""
    import os

    from app.services.batches import open_folder
    from app.services.file_facts import header_size
    from app.ui.style import file_reason_text
    from models.imageio import ImageLoadError, load_image

    folder = tmp_path / "odd"
    folder.mkdir()
    Image.new("RGB", (32, 32), "red").save(folder / "good.png")
    data = (folder / "good.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    (folder / "empty.png").write_bytes(b"")
    (folder / "junk.png").write_bytes(b"not an image at all")
    (folder / "x.png").mkdir()
    (folder / "gone.png").symlink_to(folder / "missing.png")
    (folder / "anim.gif").write_bytes(b"GIF89a")
    (folder / "notes.txt").write_text("a note")
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.png")
    reasons = {why for _path, why in open_folder(engine, folder).skipped}
    for name in ("cut.png", "empty.png", "junk.png", "missing.png"):
        try:
            load_image(folder / name)
        except ImageLoadError as exc:
            reasons.add(exc.reason)
        reasons.add(header_size(folder / name)[2])
    reasons.discard(None)
    from models.imageio import budget_reason  # the sizes' own words too (they were left in English)

    sizes = {budget_reason(9000, 9000), budget_reason(4000, 4000, jpeg=True, nbytes=1000)}
    reasons |= sizes
    assert len(reasons) >= 10, reasons
    chinese = _in_chinese(file_reason_text, reasons)
    untranslated = {why: text for why, text in chinese.items() if text[:6] == why[:6]}
    assert not untranslated, untranslated
    assert chinese["empty file (0 bytes): nothing was saved in it"] == "空白檔案（0 位元組）：檔案中沒有儲存任何內容"
    assert chinese["not an image (a TXT file): images are PNG, JPEG, BMP or TIFF"] == (
        "不是影像（TXT 檔案）：影像須為 PNG、JPEG、BMP 或 TIFF")
    assert not any(word in chinese[why] for why in sizes for word in ("pixels", "limit", "header", "byte")), \
        [chinese[why] for why in sizes]
    assert all(file_reason_text(why) == why for why in reasons)  # English without the translator
    assert file_reason_text("some new reason") == "some new reason"
    # the decoder's own words for a file cut short, in Chinese too ("影像損毀或不完整 (image file is truncated)")
    cut = "corrupt or truncated image (image file is truncated (3 bytes not processed))"
    assert file_reason_text(cut) == cut
    said = _in_chinese(file_reason_text, {cut})[cut]
    assert "image file is truncated" not in said and "(3 bytes not processed)" in said, said


def test_a_file_gone_or_locked_after_the_listing_gets_the_products_words(qapp, tmp_path, engine, monkeypatch):
    """A file seen before that disappears (or loses its permissions) between the folder's listing and its stat is
    left out as "file not found" / "permission denied", phrases the UI translates, not the system's English."""
    import errno
    import os

    from app.services import batches
    from app.ui.style import file_reason_text

    folder = tmp_path / "shared"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.new("RGB", (16, 16), "blue").save(folder / name)
    batches.open_folder(engine, folder)  # seen: the next opening stats them to see whether they changed
    real_stat = os.stat
    errors = {"a.png": FileNotFoundError(errno.ENOENT, "No such file or directory"),
              "b.png": PermissionError(errno.EACCES, "Permission denied")}

    def stat(path, *args, **kwargs):
        if (err := errors.get(Path(path).name)) is not None:
            raise err
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(batches.os, "stat", stat)
    skipped = dict(batches.open_folder(engine, folder).skipped)
    assert skipped == {str(folder / "a.png"): "file not found", str(folder / "b.png"): "permission denied"}
    chinese = _in_chinese(file_reason_text, set(skipped.values()))
    assert all(text != why for why, text in chinese.items()), chinese


def test_the_stores_errors_are_worded_in_chinese(qapp, tmp_path, monkeypatch):
    """A database that cannot be made or written said why in English inside a Chinese box ("Cannot check the database
    …: the file does not exist yet and the folder … is read-only for you", seen in a day's walk-through). The store's
    own messages, made by the store here, now read in Chinese; paths, URLs and the driver's words are kept."""
    import os
    import sqlite3

    from app.store import db
    from app.store.errors import ReadOnlyError, Reason, StoreError
    from app.ui.style import store_reason_text, store_text

    errors = []
    with pytest.raises(StoreError) as missing:
        db.open_store(f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}")
    errors.append(missing.value)
    url = f"sqlite:///{tmp_path / 'new.db'}"
    monkeypatch.setattr(os, "access", lambda *_a, **_k: False)  # (the tests run as root, whom no folder refuses)
    errors.append(db.store_error(sqlite3.OperationalError("unable to open database file"), url, "check"))
    monkeypatch.undo()
    errors.append(db.store_error(sqlite3.OperationalError("database or disk is full"), url, "write to"))
    errors.append(db.store_error(sqlite3.DatabaseError("file is not a database"), url, "open"))
    read_only = db.make_engine(url, read_only=True)  # ReadOnlyError's form (db.session_scope on a read-only store)
    with pytest.raises(ReadOnlyError) as refused, db.session_scope(read_only):
        pass
    read_only.dispose()
    errors.append(refused.value)
    errors.append(db.store_error(sqlite3.OperationalError("database or disk is full"), url, "create"))
    errors.append(db.store_error(sqlite3.OperationalError("database is locked"), url, "write to", 10.0, 10.04))
    with pytest.raises(StoreError) as other:
        db.make_engine("mysql://u@host/x")
    errors.append(other.value)
    server = "postgresql+psycopg://amy@db.fab/fma"  # (the URL carries no password: where it comes from is said)
    errors.append(db.store_error(sqlite3.OperationalError(
        'connection failed: FATAL:  password authentication failed for user "amy"'), server, "open"))
    assert "the server refused the password; give it with PGPASSWORD or a password file (~/.pgpass" in str(errors[-1])
    errors.append(db.store_error(sqlite3.OperationalError(  # none given: not said to be wrong (review)
        "connection failed: fe_sendauth: no password supplied"), server, "open"))
    assert "the server needs a password and none was given; give it with PGPASSWORD" in str(errors[-1])
    chinese = _in_chinese(store_text, errors)
    said = [chinese[e] for e in errors]
    assert said[0] == f"無法開啟資料庫 {errors[0].database}：資料夾 {tmp_path / 'no' / 'such'} 不存在"
    assert said[1].startswith("無法檢查資料庫 ") and said[1].endswith(
        f"檔案尚不存在，而資料夾 {tmp_path} 對您而言是唯讀的，因此無法建立")
    assert "：磁碟已滿 (database or disk is full)" in said[2]
    assert "此檔案不是 fma-judge 資料庫，或已損壞" in said[3]
    assert said[4].startswith("無法寫入資料庫 ") and said[4].endswith("；沒有任何變更"), said[4]
    assert "it was opened read-only" not in said[4] and "nothing was changed" not in said[4], said[4]
    assert said[5].startswith("無法建立資料庫 ") and "磁碟已滿" in said[5]
    assert "10.0" in said[6] and " 10 " in said[6] and "(database is locked)" in said[6], said[6]
    assert "waited" not in said[6] and "locked by another program" not in said[6], said[6]
    assert "SQLite" in said[7] and "keeps its judgments" not in said[7], said[7]
    assert said[8].startswith("無法開啟資料庫 ") and "PGPASSWORD" in said[8] and "伺服器拒絕了密碼" in said[8], said[8]
    assert "伺服器需要密碼" in said[9] and "PGPASSWORD" in said[9], said[9]
    assert all(store_text(e) == str(e) for e in errors)  # English without the translator
    assert store_text(RuntimeError("something else went wrong")) == "something else went wrong"
    assert store_text("plain words") == "plain words"
    path_reason = Reason("the file /x/db.sqlite is read-only for you", "file_read_only", path="/x/db.sqlite")
    assert _in_chinese(store_reason_text, [path_reason, "plain words"]) == {
        path_reason: "檔案 /x/db.sqlite 對您而言是唯讀的", "plain words": "plain words"}


def test_a_folder_never_opened_with_a_read_only_store_is_said_in_chinese(qapp, tmp_path):
    """A read-only database asked for a folder it never held said so in English inside a Chinese box."""
    import pickle

    from app.store.errors import NeverOpenedError, Reason
    from app.ui.style import open_text

    error = NeverOpenedError(tmp_path, Reason("it was opened read-only", "opened_read_only"))
    assert open_text(error) == (f"The folder {tmp_path} was never opened with this database, and it was opened "
                                "read-only: there is nothing of it to show.")
    assert pickle.loads(pickle.dumps(error)).folder == str(tmp_path)
    assert _in_chinese(open_text, [error])[error] == f"資料夾 {tmp_path} 從未以此資料庫開啟過，而它以唯讀方式開啟：沒有可顯示的內容。"


def test_every_kind_of_store_reason_is_worded_in_chinese(qapp):
    """Each kind :class:`app.store.errors.Reason` lists has its own Chinese words (a kind added to the store without
    them would show in English in a Chinese window)."""
    import re

    from app.store import errors
    from app.ui.style import store_reason_text

    kinds = re.findall(r'``"(\w+)"``', errors.Reason.__doc__)
    assert len(kinds) >= 14, kinds
    fields = {"detail": "driver words", "waited": "1.0", "most": "10", "folder": "/f", "path": "/p", "example": "/e",
              "kind": "a PNG image", "wal": "x.sqlite-wal"}
    reasons = [errors.Reason(f"English words of {kind}", kind, **fields) for kind in kinds]
    chinese = _in_chinese(store_reason_text, reasons)
    for reason in reasons:
        said = chinese[reason]
        assert said != str(reason) and not re.search(r"[a-z]{3,} [a-z]{3,} [a-z]{3,}", said.replace("driver words", "")
                                                     ), (reason.kind, said)


def test_an_exports_refusals_are_worded_in_chinese(qapp, tmp_path, engine):
    """The imagefolder refusal showed in English in the Chinese "Export failed" box (left open at stop 65). The
    refusals an analyst can meet from the export dialog and the queue's export, made by the code that says them,
    now read in Chinese, paths and names kept; an unknown message stays as it is."""
    from app.services.queue import QueueFilters, QueueService
    from app.store import repo
    from app.store.db import session_scope
    from app.store.export import ExportError, export_labels
    from app.ui.style import export_text

    batch = tmp_path / "day1"
    batch.mkdir()
    with session_scope(engine) as s:
        repo.create_batch(s, name="day1", source_folder=batch, kind="folder")
    messages = []
    for out, fmt in ((batch / "export", "imagefolder"), (tmp_path, "csv")):
        with pytest.raises(ExportError) as refused:
            export_labels(engine, out, fmt)
        messages.append(refused.value)
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ExportError) as refused:
        export_labels(engine, tmp_path / "file.txt", "imagefolder")
    messages.append(refused.value)
    with pytest.raises(ValueError) as refused:
        QueueService(engine, "ana").export_queue(tmp_path, QueueFilters(model_version="v1"))
    messages.append(refused.value)
    db_file = Path(engine.url.database)  # both forms of "the export is the database itself"
    with pytest.raises(ExportError) as refused:
        export_labels(engine, db_file, "csv")
    messages.append(refused.value)
    with pytest.raises(ValueError) as refused:
        QueueService(engine, "ana").export_queue(db_file, QueueFilters(model_version="v1"))
    messages.append(refused.value)
    chinese = _in_chinese(export_text, messages)
    assert chinese[messages[4]] == chinese[messages[5]] == f"{db_file} 是保存判定結果的資料庫：請為匯出檔另取名稱。"
    assert chinese[messages[0]] == (f"{batch / 'export'} 位於批次「day1」的資料夾（{batch}）之內：再次開啟時，該批次會把匯出的"
                                    "副本當成自己的影像。請將影像資料夾匯出到該資料夾以外的位置。")
    assert chinese[messages[1]] == f"{tmp_path} 是資料夾：請輸入檔案名稱，例如 labels.csv。"
    assert chinese[messages[2]] == f"{tmp_path / 'file.txt'} 是檔案：影像資料夾匯出需要一個資料夾。"
    assert chinese[messages[3]] == f"{tmp_path} 是資料夾：請輸入檔案名稱，例如 queue.csv。"
    assert export_text("something else went wrong") == "something else went wrong"
    assert export_text(ValueError("no reason given")) == "no reason given"  # an error without a sentence of its own
    assert export_text(messages[1]) == f"{tmp_path} is a folder: give a file name, such as labels.csv."  # English


def test_a_folder_that_cannot_be_opened_is_said_in_chinese(qtbot, engine, tmp_path, monkeypatch):
    """A batch folder that is gone (a share not connected) said "folder not found: /x" in English inside the Chinese
    "Cannot open" box; one that cannot be read said Python's "[Errno 13] Permission denied". Both are worded now,
    the path kept; the window's own error line stays English."""
    from PySide6.QtCore import QCoreApplication, QTranslator

    from app.services.judging import JudgingService
    from app.ui.app import I18N_DIR
    from app.ui.main_window import MainWindow
    from app.ui.style import open_text

    gone = tmp_path / "share" / "line7"
    said = _in_chinese(open_text, [PermissionError(13, "Permission denied", str(tmp_path / "locked"))])
    assert list(said.values()) == [f"無法讀取 {tmp_path / 'locked'}：您沒有讀取權限。"]
    tr = QTranslator()
    assert tr.load("fma_judge_zh_TW", str(I18N_DIR))
    QCoreApplication.installTranslator(tr)
    try:
        win = MainWindow(JudgingService(engine, "ana"), lang="zh_TW")
        qtbot.addWidget(win)
        boxes: list[tuple[str, str, str]] = []
        monkeypatch.setattr(win, "alert", lambda _box, title, text, *, line: boxes.append((title, text, line)))
        win.open_folder(gone)
        qtbot.waitUntil(lambda: bool(boxes), timeout=30_000)
    finally:
        QCoreApplication.removeTranslator(tr)
    title, text, line = boxes[0]
    assert title == "無法開啟" and text.startswith(f"資料夾 {gone} 不存在：") and "folder not found" not in text, boxes
    assert line == f"cannot open: folder not found: {gone}"
    win.close()
