"""Export from the app with the command line's formats and filters (issue #18)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import open_window, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import QDate
from PySide6.QtWidgets import QDialog

from app.ui.export_dialog import ExportDialog


def test_the_dialog_builds_the_request(qtbot, tmp_path: Path) -> None:
    dialog = ExportDialog(batch=(7, "lot7"), folder=tmp_path)
    qtbot.addWidget(dialog)
    req = dialog.request()
    assert (req.path, req.fmt, req.batch_id, req.since, req.statuses) == (
        tmp_path / "labels_lot7.csv", "csv", 7, None, ("accepted", "corrected", "unknown"))  # one file a batch
    dialog.format.setCurrentIndex(dialog.format.findData("json"))
    assert dialog.path.text() == str(tmp_path / "labels_lot7.json")
    dialog.format.setCurrentIndex(dialog.format.findData("imagefolder"))
    assert dialog.path.text() == str(tmp_path / "labels_lot7")
    dialog.scope.setCurrentIndex(dialog.scope.findData(None))
    assert dialog.path.text() == str(tmp_path / "labels_all")
    dialog.path.setText(str(tmp_path / "for_training"))  # typed: a change of scope keeps it
    dialog.scope.setCurrentIndex(dialog.scope.findData(7))
    assert dialog.path.text() == str(tmp_path / "for_training")
    dialog.scope.setCurrentIndex(dialog.scope.findData(None))
    dialog.status_boxes["unknown"].setChecked(False)
    dialog.since_box.setChecked(True)
    dialog.since.setDate(QDate(2026, 11, 30))
    req = dialog.request()
    assert req.batch_id is None and req.statuses == ("accepted", "corrected")
    assert dialog.format.currentData() == "imagefolder" and not dialog.status_boxes["auto"].isEnabled()
    dialog.format.setCurrentIndex(dialog.format.findData("csv"))
    assert dialog.status_boxes["auto"].isEnabled()
    dialog.status_boxes["auto"].setChecked(True)  # the model's own calls: asked for (unchecked at first)
    assert dialog.request().statuses == ("accepted", "corrected", "auto")
    dialog.status_boxes["waiting"].setChecked(True)  # every image accounted for, for a report
    dialog.status_boxes["unreadable"].setChecked(True)
    assert dialog.request().statuses == ("accepted", "corrected", "auto", "waiting", "unreadable")
    dialog.format.setCurrentIndex(dialog.format.findData("imagefolder"))  # never as class folders (labels)
    assert not dialog.status_boxes["auto"].isEnabled() and dialog.request().statuses == ("accepted", "corrected")
    dialog.format.setCurrentIndex(dialog.format.findData("json"))  # back: the ticks come back with it
    assert dialog.request().statuses == ("accepted", "corrected", "auto", "waiting", "unreadable")
    dialog.format.setCurrentIndex(dialog.format.findData("imagefolder"))
    assert (req.since.year, req.since.month, req.since.day, req.since.hour) == (2026, 11, 30, 0)
    assert req.since.tzinfo is not None
    for box in dialog.status_boxes.values():
        box.setChecked(False)
    assert not dialog.buttons.buttons()[0].isEnabled()  # nothing to export
    from PySide6.QtWidgets import QLabel
    labels = {label.text(): label.buddy() for label in dialog.findChildren(QLabel)}
    assert labels["&Write to:"] is dialog.path and labels["&Format:"] is dialog.format  # every Alt key has its field


def test_a_dated_batch_name_keeps_its_whole_date_in_the_file_name(qtbot, tmp_path: Path) -> None:
    dialog = ExportDialog(batch=(8, "2024.03.01"), folder=tmp_path)
    qtbot.addWidget(dialog)
    for fmt in ("imagefolder", "csv"):  # no dot: a change of format cannot cut it as a suffix
        dialog.format.setCurrentIndex(dialog.format.findData(fmt))
    assert dialog.path.text() == str(tmp_path / "labels_2024_03_01.csv")


def test_the_app_exports_json_of_this_batch_with_a_status_filter(qtbot, engine, tiny_bundle, tmp_path,
                                                                 monkeypatch) -> None:
    folder = tmp_path / "lot"
    for i in range(3):
        write_image(folder / f"img_{i}.png", seed=i)
    win = open_window(qtbot, engine, tiny_bundle, tmp_path, monkeypatch)
    out = tmp_path / "exports" / "out.json"
    out.parent.mkdir()
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        win.accept_current()
        win.mark_unknown()

        def fill(dialog) -> int:
            dialog.format.setCurrentIndex(dialog.format.findData("json"))
            dialog.path.setText(str(out))
            counts.append(dialog.count_line.text())
            dialog.status_boxes["unknown"].setChecked(False)
            counts.append(dialog.count_line.text())
            return 1

        counts: list[str] = []

        monkeypatch.setattr(ExportDialog, "exec", fill)
        win.export_labels()
        qtbot.waitUntil(lambda: "Exported 1 label to" in win.statusBar().currentMessage(), timeout=10_000)
        rows = json.loads(out.read_text())
        assert [(r["status"], Path(r["path"]).name) for r in rows] == [("accepted", "img_0.png")]
        assert counts == ["Images to export: 2", "Images to export: 1"]  # the dialog says what its choices export

        def tomorrow(dialog) -> int:  # nothing judged since: the dialog says so, and Export cannot be pressed
            dialog.since_box.setChecked(True)
            dialog.since.setDate(QDate.currentDate().addDays(1))
            counts.append((dialog.count_line.text(), dialog.buttons.buttons()[0].isEnabled()))
            return 0

        monkeypatch.setattr(ExportDialog, "exec", tomorrow)
        win.export_labels()
        assert counts[-1] == ("No judged image matches these choices: nothing to export.", False)

        # the next export suggests the folder of the last one, a name after the batch, and its format and scope
        # (the dialog forgot them: "Every batch" chosen again at every export, seen under Xvfb)
        suggested = []
        monkeypatch.setattr(ExportDialog, "exec", lambda dialog: suggested.append(
            (dialog.path.text(), dialog.format.currentData(), dialog.scope.currentData())) or 0)
        win.export_labels()
        assert suggested == [(str(out.parent / "labels_lot.json"), "json", win.presenter.batch.batch_id)]

        def every(dialog) -> int:
            dialog.scope.setCurrentIndex(dialog.scope.findData(None))
            dialog.format.setCurrentIndex(dialog.format.findData("csv"))
            dialog.status_boxes["auto"].setChecked(True)  # the day's whole result, for the line's records
            dialog.path.setText(str(out.parent / "all.csv"))
            return 1

        monkeypatch.setattr(ExportDialog, "exec", every)
        win.export_labels()
        qtbot.waitUntil(lambda: (out.parent / "all.csv").is_file() and "Exported" in win.statusBar().currentMessage(),
                        timeout=10_000)
        monkeypatch.setattr(ExportDialog, "exec", lambda dialog: suggested.append(
            (dialog.path.text(), dialog.format.currentData(), dialog.scope.currentData(),
             dialog.status_boxes["auto"].isChecked())) or 0)
        win.export_labels()  # the auto-judged box too (the next day's export had lost them)
        assert suggested[-1] == (str(out.parent / "labels_all.csv"), "csv", None, True)

        # a failed export (a read-only mount) says why, and "Exporting labels to …" no longer stays for good
        def refuse(*_a, **_k):
            raise PermissionError(f"cannot write {out}: its folder {out.parent} is on a read-only file system")

        said = []
        monkeypatch.setattr(win.service, "export", refuse)
        monkeypatch.setattr(win, "alert", lambda _box, title, text, *, line: said.append((title, text)))
        monkeypatch.setattr(ExportDialog, "exec", fill)
        win.export_labels()
        qtbot.waitUntil(lambda: bool(said), timeout=10_000)
        assert said == [("Export failed", f"cannot write {out}: its folder {out.parent} is on a read-only file "
                                          "system")]
        assert "Exporting" not in win.statusBar().currentMessage()

        # a refusal of the export's own is said from its fields, in the window's words (not the CLI's sentence)
        def is_folder(*_a, **_k):
            from app.store.errors import ExportError

            raise ExportError("CLI sentence", "is_folder", out=str(out.parent), example="labels.csv")

        monkeypatch.setattr(win.service, "export", is_folder)
        win.export_labels()
        qtbot.waitUntil(lambda: len(said) == 2, timeout=10_000)
        assert said[1] == ("Export failed", f"{out.parent} is a folder: give a file name, such as labels.csv.")
    finally:
        win.close()


@pytest.mark.parametrize("fmt", ["csv", "imagefolder"])
def test_exporting_over_an_earlier_export_asks_first(qtbot, tmp_path: Path, monkeypatch, fmt: str) -> None:
    from PySide6.QtWidgets import QMessageBox

    dialog = ExportDialog(batch=(7, "lot7"), folder=tmp_path)
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData(fmt))
    target = Path(dialog.path.text())
    asked: list[str] = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question", lambda _parent, _title, text, *_a: asked.append(text) or answer[0])
    finished: list[int] = []
    dialog.finished.connect(finished.append)
    dialog.accept()  # nothing there yet: no question, and nothing to write over (one written meanwhile: refused)
    assert finished == [QDialog.DialogCode.Accepted] and asked == [] and not dialog.request().overwrite
    if fmt == "csv":
        target.write_text("path,label\n")
    else:
        (target / "manifest.csv").parent.mkdir()
        (target / "manifest.csv").write_text("path,label\n")
    dialog.accept()  # No: the dialog stays open, its name ready to be changed
    assert len(asked) == 1 and target.name in asked[0] and finished == [QDialog.DialogCode.Accepted]
    answer[0] = QMessageBox.StandardButton.Yes
    dialog.accept()
    assert len(asked) == 2 and finished == [QDialog.DialogCode.Accepted] * 2 and dialog.request().overwrite
    (tmp_path / "empty").mkdir()  # an empty folder holds no export: nothing to ask
    dialog.format.setCurrentIndex(dialog.format.findData("imagefolder"))
    dialog.path.setText(str(tmp_path / "empty"))
    dialog.accept()
    assert len(asked) == 2


def test_the_demo_batch_suggests_no_export_inside_the_apps_own_files(qtbot, engine, tmp_path, monkeypatch) -> None:
    """Exporting the demo batch suggested resources/demo/labels_batch.csv, inside the app (seen in a day's
    walk-through; in an installed app a folder the analyst should not write to): the home folder instead."""
    demo = tmp_path / "resources" / "demo" / "batch"
    write_image(demo / "a.png", seed=1)
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        win.demo_batch = demo
        win.open_folder(demo)
        qtbot.waitUntil(lambda: win.presenter.batch is not None, timeout=30_000)
        suggested = []
        monkeypatch.setattr(ExportDialog, "exec", lambda dialog: suggested.append(dialog.path.text()) or 0)
        win.export_labels()
        assert suggested == [str(Path.home() / "labels_batch.csv")]
    finally:
        win.close()


def test_the_line_after_an_export_does_not_call_undecided_rows_labels(qtbot) -> None:
    """An export with the images no person decided said "Exported 30 labels", 12 of them with no label at all."""
    from app.store.export import ExportResult
    from app.ui.side_actions import export_done_text

    out = Path("/data/line7.csv")
    assert export_done_text(ExportResult(30, out, undecided=12)) == \
        f"Exported 30 rows to {out}: 18 judged, 12 no person decided (training skips them)"
    assert export_done_text(ExportResult(1, out)) == f"Exported 1 label to {out}"
    assert export_done_text(ExportResult(1, out, undecided=1)) == \
        f"Exported 1 row to {out}: no person decided it (training skips it)"  # (it read "1 rows … 0 judged")
    assert export_done_text(ExportResult(3, out, missing=("a.png",))) == \
        f"Exported 3 labels to {out}; 1 exported rows name files that are not there now or hold another picture now"
    assert export_done_text(ExportResult(3, out, removed=("scratch/1234abcd_a.png", "x/y.png"))) == \
        f"Exported 3 labels to {out}; 2 copies an earlier export made there under an old type removed (relabelled " \
        "since)"
    assert export_done_text(ExportResult(3, out, kept=("dent/1234abcd_f.png",))).endswith(
        "; 1 copy an earlier export made there is not in this export and stays (outside its scope, or its file "
        "gone): export into a new folder for one that holds only this export")
