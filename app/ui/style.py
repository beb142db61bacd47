"""What every view shares: the state badge colours, the UI words for states and routing reasons, and the
dark style sheets."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QWidget

from app.store.errors import NeverOpenedError
from app.store.records import FILE_REPLACED
from models.imageio import CUT_SHORT, EMPTY_FILE, NOT_AN_IMAGE, TOO_LARGE

PROBLEM_COLOUR = "#f28b82"
"""Why a file cannot be read or shown now (deleted, written over, not an image), beside a badge or on a tile."""

STATE_COLOURS = {
    "pending": "#9aa0a6",
    "auto": "#12828a",
    "accepted": "#1e8e3e",
    "corrected": "#1a73e8",
    "unknown": "#9334e6",
    "rejudge": "#e37400",
    "error": "#d93025",
}


def banner_link(href: str, text: str) -> str:
    """A link in an info banner (``QLabel#infoBanner``), in a blue that reads on it (Qt's default link blue does not)."""
    return f'<a href="{href}" style="color: #8ab4f8;">{html.escape(text)}</a>'


def state_label(state: str) -> str:
    return {
        "pending": QCoreApplication.translate("State", "pending"),
        "auto": QCoreApplication.translate("State", "auto-judged"),
        "accepted": QCoreApplication.translate("State", "accepted"),
        "corrected": QCoreApplication.translate("State", "corrected"),
        "unknown": QCoreApplication.translate("State", "unknown type"),
        "rejudge": QCoreApplication.translate("State", "re-judge"),
        "error": QCoreApplication.translate("State", "unreadable"),  # (as the start page, the filter and classify say)
    }.get(state, state)


def listed(items: Iterable[str], *, strong: bool = False) -> str:
    """Translated items in one line, with the UI language's separator (English ", ", Chinese "、"); ``strong``: the
    separator between clauses (English "; ", Chinese "；")."""
    sep = (QCoreApplication.translate("List", "; ") if strong else QCoreApplication.translate("List", ", "))
    return sep.join(items)


def cjk_joined(text: str) -> str:
    """Sentences put together with English spaces, without the space after a Chinese full stop or closing mark
    ("…信賴界限。 校準時…": seen on the dashboard); English text is left as it is."""
    return re.sub(r"(?<=[。！？；：）」]) +", "", text)


def reason_label(code: str) -> str:
    """A routing reason code in the UI language."""
    return {
        "low_confidence": QCoreApplication.translate("Queue", "low confidence"),
        "leaf_below_target": QCoreApplication.translate("Queue", "class below target"),
        "possible_unknown": QCoreApplication.translate("Queue", "possible new type"),
        "spot_check": QCoreApplication.translate("Queue", "spot check"),
        # (the checks found its purity below target, or a lead paused it by hand: the dashboard says which)
        "purity_paused": QCoreApplication.translate("Queue", "auto-judging of its type paused"),
        "batch_drift": QCoreApplication.translate("Queue", "batch unlike calibration data"),
        "held_back": QCoreApplication.translate("Queue", "held back by an earlier pause"),
        "blind_check": QCoreApplication.translate("Queue", "a blind check: the model's call is hidden until you judge it"),
    }.get(code, code)


_DARK = (
    "QWidget { background: #2b2d31; color: #e8eaed; }"
    # The item under the keys (a menu's, a drop-down list's): the dark background above hid Qt's own highlight, so
    # the Settings menu and the filters' lists showed no current item at all (zh_TW walk-through)
    "QMenu { border: 1px solid #5f6368; } QMenu::item { padding: 4px 24px 4px 24px; }"
    " QMenu::item:selected { background: #174ea6; color: white; } QMenu::item:disabled { color: #80868b; }"
    " QMenu::separator { height: 1px; background: #5f6368; margin: 4px 8px; }"
    "QComboBox, QComboBox QAbstractItemView { selection-background-color: #174ea6; selection-color: white; }"
)
_BUTTONS = (
    "QPushButton { background: #3c4043; border: 1px solid #5f6368; border-radius: 4px; padding: 5px 10px; }"
    "QPushButton:hover { background: #4a4e52; }"
    # the default button (Enter) and the widget the keys are on, visible: a question's Yes and No looked the same,
    # and in the queue an arrow changed a filter nobody could see had the keys (walk-through)
    "QPushButton:default, QPushButton:focus { border: 1px solid #8ab4f8; }"
)

APP_STYLE = (
    _DARK
    + "QToolBar { border: none; spacing: 6px; padding: 4px; }"
    + _BUTTONS
    + "QPushButton:disabled { color: #80868b; }"
    # transparent: a label Qt has not hidden under a message (an empty one, shown again by a relayout) hid its letters
    + "QStatusBar QLabel { padding: 0 8px; background: transparent; }"
    + "QLabel#readOnlyBanner { background: #5c4a00; color: #fde293; padding: 6px 10px; font-weight: bold; }"
    + "QLabel#monitorBanner { background: #5c2b00; color: #fdd663; padding: 6px 10px; font-weight: bold; }"
    + "QLabel#infoBanner { background: #1f3a5f; color: #d2e3fc; padding: 6px 10px; }"
)
"""The dark look of the main window."""

WINDOW_STYLE = (
    _DARK
    + "QTableView { background: #202124; alternate-background-color: #26272b; gridline-color: #3c4043;"
    " selection-background-color: #174ea6; selection-color: white; border: none; }"
    "QHeaderView::section { background: #2b2d31; color: #bdc1c6; padding: 4px; border: none;"
    " border-bottom: 1px solid #3c4043; }"
    "QComboBox { background: #3c4043; border: 1px solid #5f6368; border-radius: 4px; padding: 2px 6px; }"
    "QSpinBox { background: #3c4043; }"
    "QComboBox:disabled, QCheckBox:disabled { color: #80868b; }"
    "QComboBox:focus, QSpinBox:focus { border: 1px solid #8ab4f8; }"
    "QCheckBox::indicator { width: 12px; height: 12px; border: 1px solid #9aa0a6; border-radius: 2px;"
    " background: #202124; } QCheckBox::indicator:checked { background: #8ab4f8; border-color: #8ab4f8; }"
    + _BUTTONS
    + "QPushButton:disabled { color: #80868b; }"
)
"""The look of the views shown as windows of their own (the queue, the dashboard): the main window's colours
and buttons plus tables and filter controls, complete in itself so that a view looks right standing alone."""


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"  # as the bars write it; no space, so a wrapped reason never leaves "%" alone


def _file_phrases() -> dict[str, str]:
    t = QCoreApplication  # lupdate reads every translate() call below
    return {
        "file not found (or a link to a missing file)":
            t.translate("FileReason", "file not found (or a link to a missing file)"),
        "file not found": t.translate("FileReason", "file not found"),
        "permission denied": t.translate("FileReason", "permission denied"),
        "cannot read the file": t.translate("FileReason", "cannot read the file"),
        "cannot list the folder": t.translate("FileReason", "cannot list the folder"),
        "is a folder, not an image file": t.translate("FileReason", "is a folder, not an image file"),
        "not a regular file (a pipe, device or socket)":
            t.translate("FileReason", "not a regular file (a pipe, device or socket)"),
        EMPTY_FILE: t.translate("FileReason", "empty file (0 bytes): nothing was saved in it"),
        NOT_AN_IMAGE: t.translate("FileReason", "not a recognised image format (corrupt or wrong file type)"),
        TOO_LARGE: t.translate("FileReason", "image too large"),
        CUT_SHORT: t.translate("FileReason", "corrupt or truncated image"),
        "cannot read image header": t.translate("FileReason", "cannot read image header"),
        "cannot read image": t.translate("FileReason", "cannot read image"),
        FILE_REPLACED: t.translate("FileReason", "its file holds another picture now"),
    }


def away_text(reason: str, *, reading: bool = False) -> str:
    """The viewer's words for an image whose file was not reached (a share away): why, and what happens next;
    ``reading``: its folder is being read again (a file renamed since shows once it is read)."""
    if reading:
        return QCoreApplication.translate(
            "Main", "{why}: the folder is being read again. A file renamed since shows under its new name once it is "
                    "read.").format(why=_capitalised(file_reason_text(reason)))
    return QCoreApplication.translate(
        "Main", "{why}: not reached now (a network share away?). It is read again when you come back to this image; "
                "nothing can be judged on it until it shows.").format(why=_capitalised(file_reason_text(reason)))


def replaced_text() -> str:
    """The viewer's words for an image whose file was written over with another picture (:data:`FILE_REPLACED`)."""
    return QCoreApplication.translate(
        "Main", "Its file holds another picture now (listed at the end of the batch): this image cannot be shown, "
                "and what was judged on it stays.")


LOADING_SAID_MS = 150
"""An image on screen still being read this long after it was asked for says so (:func:`loading_text`)."""


def loading_text(path: str) -> str:
    """The viewer's words while the image on screen is still being read (said only once it takes a while)."""
    return QCoreApplication.translate("Main", "Reading {file}…").format(file=Path(path).name)


def _capitalised(text: str) -> str:
    """A phrase that starts a sentence ("File not found: …"); a script without case is unchanged."""
    return text[:1].upper() + text[1:]


def file_reason_text(reason: str) -> str:
    """Why a file cannot be read or shown (``models.imageio`` and the batch services say it in English), in the UI
    language: the known phrase at its start is translated; what follows (the decoder's or the file system's own
    words, sizes) is kept as it is. An unknown reason comes back unchanged."""
    if m := re.fullmatch(r"format not supported \((.*)\); convert it to PNG or TIFF", reason):
        return QCoreApplication.translate("FileReason", "format not supported ({kind}); convert it to PNG or "
                                                        "TIFF").format(kind=m.group(1))
    if m := re.fullmatch(r"not an image \((.*)\): images are PNG, JPEG, BMP or TIFF", reason):
        kind = m.group(1)
        if kind == "a file without a suffix":
            kind = QCoreApplication.translate("FileReason", "a file without a suffix")
        elif k := re.fullmatch(r"a (\S+) file", kind):
            kind = QCoreApplication.translate("FileReason", "a {ext} file").format(ext=k.group(1))
        return QCoreApplication.translate("FileReason", "not an image ({kind}): images are PNG, JPEG, BMP or "
                                                        "TIFF").format(kind=kind)
    if m := re.fullmatch(r"the same picture as (.+): the batch holds it once, under that name", reason):
        return QCoreApplication.translate("FileReason", "the same picture as {name}: the batch holds it once, under "
                                                        "that name").format(name=m.group(1))
    if m := re.fullmatch(r"image too large: (\d+) x (\d+) pixels \((\d+) million\) is over the limit of (\d+) million "
                         r"pixels", reason):  # (models.imageio.budget_reason: the sizes said in the UI's words too)
        return QCoreApplication.translate(
            "FileReason", "image too large: {width} x {height} pixels ({n} million) is over the limit of {limit} "
                          "million pixels").format(width=m.group(1), height=m.group(2), n=m.group(3), limit=m.group(4))
    if m := re.fullmatch(r"corrupt or truncated image: a ([\d,]+)-byte JPEG cannot hold the (\d+) x (\d+) pixels its "
                         r"header claims", reason):
        return QCoreApplication.translate(
            "FileReason", "corrupt or truncated image: a {nbytes}-byte JPEG cannot hold the {width} x {height} pixels "
                          "its header claims").format(nbytes=m.group(1), width=m.group(2), height=m.group(3))
    phrases = _file_phrases()
    for start in sorted(phrases, key=len, reverse=True):  # "file not found (or ...)" before "file not found"
        if reason.startswith(start):
            rest = reason[len(start):]
            for words, said in _decoder_phrases().items():  # the decoder's commonest words, in the UI language too
                rest = rest.replace(f"({words}", f"({said}")  # ("影像損毀或不完整 (image file is truncated)": walk-through)
            return phrases[start] + rest
    return reason


def _decoder_phrases() -> dict[str, str]:
    """Pillow's words for the commonest damaged files, as :func:`file_reason_text` says them: themselves in English
    (what follows them, a count of bytes, stays as it is)."""
    t = QCoreApplication
    return {"image file is truncated": t.translate("FileReason", "image file is truncated"),
            "broken data stream when reading image file":
                t.translate("FileReason", "broken data stream when reading image file"),
            "Truncated File Read": t.translate("FileReason", "Truncated File Read")}


def reason_text(detail) -> str:
    """A routing reason with the numbers behind it (:class:`app.services.batch_presenter.ReasonDetail`), in the UI
    language; the plain reason where the numbers are not known (a prediction of another model version)."""
    code, value, limit = detail.code, detail.value, detail.limit
    if code == "low_confidence" and value is not None and limit is not None:
        digits = next((d for d in (1, 2, 3, 4) if f"{value * 100:.{d}f}" != f"{limit * 100:.{d}f}"), 4)  # ("96.3%
        return QCoreApplication.translate("Reason", "confidence {value} < this type's auto threshold {limit}").format(
            value=f"{value * 100:.{digits}f}%", limit=f"{limit * 100:.{digits}f}%")  # < 96.3%": as many as differ)
    if code == "leaf_below_target" and limit is not None:
        return QCoreApplication.translate(
            "Reason", "this type is always re-judged: calibration could not show purity {limit} for it (too few of "
                      "its images, or too many wrong)"
        ).format(limit=_pct(limit))
    if code == "possible_unknown" and value is not None and limit is not None:
        return QCoreApplication.translate("Reason", "new-type score {value} > {limit}").format(
            value=f"{value:.3g}", limit=f"{limit:.3g}")
    if code == "spot_check" and limit is not None:
        return QCoreApplication.translate("Reason", "random spot check ({share} of the images the model would "
                                                    "judge alone)").format(share=f"{limit * 100:g}%")
    return reason_label(code)


def waiting_text(code: str) -> str:
    """Why an image shows no prediction yet (``PanelData.waiting``), in the UI language."""
    return {
        "no_model": QCoreApplication.translate("Panel", "No model is loaded: choose one with “Model” to get "
                                                        "predictions. You can still judge with C or U."),
        "no_types": QCoreApplication.translate("Panel", "No model is loaded, and no defect types are known for this "
                                                        "batch yet: choose a model with “Model” to get predictions "
                                                        "and the types to pick from. Until then U marks an image as a "
                                                        "new type and N writes a note."),
        "loading": QCoreApplication.translate("Panel", "The model is loading; its prediction for this image "
                                                       "follows: press Enter once it is shown."),
        "predicting": QCoreApplication.translate("Panel", "Predicting… this image is in the queue: press Enter "
                                                          "once its prediction is shown."),
        "read_only": QCoreApplication.translate("Panel", "Not predicted: the database is read-only, so the model "
                                                         "does not run."),
        "unreached": QCoreApplication.translate("Panel", "Not predicted yet: the model did not reach its file (a "
                                                         "network share away?). It is predicted once the file is "
                                                         "read again."),
    }.get(code, code)


def window_shortcuts(view: QWidget, bindings: Sequence[tuple[str, Callable[[], object]]],
                     rows: Callable[[], QWidget] | None = None) -> None:
    """Shortcuts of a view that may be its own window (queue, dashboard), plus Esc closing it when it is one
    (an open menu or dialog takes its own Esc first); with ``rows`` (the view's list), Esc anywhere else in the
    view (a filter, a button, the detail pane) goes to the list first."""
    def close_window() -> None:
        focus = QApplication.focusWidget()
        if rows is not None and focus is not None and focus is not rows() and view.isAncestorOf(focus):
            rows().setFocus()  # Esc in a filter hands the keys back to the rows first (no key did: the queue's
            return  # Alt+G or Alt+T left the arrows and Enter in the menu; in the detail pane, reached by Tab
            # unseen, Esc closed the whole queue: zh_TW walk-throughs)
        if view.isWindow():
            view.close()

    for keys, slot in (*bindings, ("Esc", close_window)):
        shortcut = QShortcut(QKeySequence(keys), view)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(slot)


def store_text(error: BaseException | str) -> str:
    """A store error (:class:`app.store.errors.StoreError`, said in English: "Cannot open the database sqlite:///…: the
    folder … is read-only for you, …") in the UI language, from its parts: the action, the reason and its fields
    translated, paths, URLs and the driver's own words kept. Any other error or text comes back as it is."""
    t = QCoreApplication
    action = getattr(error, "action", None)
    if action is None:
        return str(error)
    actions = {"open": t.translate("Store", "open"), "check": t.translate("Store", "check"),
               "use": t.translate("Store", "use"), "read": t.translate("Store", "read"),
               "write to": t.translate("Store", "write to"), "create": t.translate("Store", "create"),
               "upgrade": t.translate("Store", "upgrade")}
    return t.translate("Store", "Cannot {action} the database {db}: {reason}").format(
        action=actions.get(action, action) + (t.translate("Store", " read-only") if error.read_only else ""),
        db=error.database, reason=store_reason_text(error.reason)) + (
        t.translate("Store", "; nothing was changed") if error.unchanged else "")


def store_line(error: BaseException) -> str:
    """:func:`store_text`'s first line (the error's type when it says nothing): for a status line."""
    return (store_text(error) or type(error).__name__).splitlines()[0]


def open_text(error: BaseException | str) -> str:
    """Why a batch could not be opened, in the UI language: a folder that is not there or cannot be read, a store
    error (:func:`store_text`); anything else as it is."""
    t = QCoreApplication
    if (folder := getattr(error, "folder", None)) is not None and isinstance(error, FileNotFoundError):
        return t.translate("Main", "The folder {folder} is not there: moved, renamed, or on a drive or share that is "
                                   "not connected.").format(folder=folder)
    if isinstance(error, PermissionError) and error.filename:
        return t.translate("Main", "{path} cannot be read: you have no permission to read it.").format(
            path=error.filename)
    if isinstance(error, NeverOpenedError):
        return t.translate("Main", "The folder {folder} was never opened with this database, and {why}: there is "
                                   "nothing of it to show.").format(folder=error.folder, why=store_reason_text(error.why))
    return store_text(error)


def store_reason_text(reason: str) -> str:
    """A store's reason alone (a :class:`app.store.errors.Reason`, as a read-only store's ``read_only``) in the UI
    language, as in :func:`store_text`; plain words come back as they are."""
    t = QCoreApplication
    fields = getattr(reason, "fields", {})
    detail = f" ({fields['detail']})" if fields.get("detail") else ""
    match getattr(reason, "kind", None):
        case "read_only":
            return t.translate("Store", "the database file or its folder is read-only") + detail
        case "disk_full":
            return t.translate("Store", "the disk is full") + detail
        case "no_permission":
            return t.translate("Store", "the file cannot be opened; check its permissions") + detail
        case "damaged":
            return t.translate("Store", "the file is not an fma-judge database or it is damaged") + detail
        case "password" if fields.get("given") == "False":
            return t.translate("Store", "the server needs a password and none was given; give it with PGPASSWORD or a "
                                        "password file (~/.pgpass, on Windows %APPDATA%\\postgresql\\pgpass.conf)") + detail
        case "password":
            return t.translate("Store", "the server refused the password; give it with PGPASSWORD or a password file "
                                        "(~/.pgpass, on Windows %APPDATA%\\postgresql\\pgpass.conf)") + detail
        case "locked":
            waited = "" if not fields["waited"] else (
                t.translate("Store", " (waited {waited} s of at most {most} s)") if fields["most"] else
                t.translate("Store", " (waited {waited} s)")).format(**fields)
            return t.translate("Store", "the database is locked by another program{waited}; close other fma-judge "
                                        "windows and retry").format(waited=waited) + detail
        case "no_rights":
            return t.translate("Store", "the server refused this login the rights it needs on the database (its "
                                        "tables, or the database itself); ask its administrator to grant them") + detail
        case "no_folder":
            return t.translate("Store", "the folder {folder} does not exist").format(**fields)
        case "cannot_create":
            return t.translate("Store", "the file does not exist yet and the folder {folder} is read-only for you, so "
                                        "it cannot be made").format(**fields)
        case "file_read_only":
            return t.translate("Store", "the file {path} is read-only for you").format(**fields)
        case "path_read_only":
            return t.translate("Store", "{path} (or its folder) is read-only for you").format(**fields)
        case "is_folder":
            return t.translate("Store", "{path} is a folder: give a database file, such as {example}").format(**fields)
        case "not_database":
            kinds = {"a PNG image": t.translate("Store", "a PNG image"), "a JPEG image": t.translate("Store", "a JPEG image"),
                     "a TIFF image": t.translate("Store", "a TIFF image"), "a ZIP file": t.translate("Store", "a ZIP file"),
                     "a PDF file": t.translate("Store", "a PDF file"),
                     "another kind of file": t.translate("Store", "another kind of file")}  # (store_file.FILE_KINDS)
            return t.translate("Store", "{path} is not a database ({kind}): give the fma-judge database file, or a new "
                                        "file name").format(path=fields["path"], kind=kinds.get(fields["kind"], fields["kind"]))
        case "opened_read_only":
            return t.translate("Store", "it was opened read-only")
        case "unsupported":
            return t.translate("Store", "fma-judge keeps its judgments in SQLite (sqlite:///PATH) or PostgreSQL "
                                        "(postgresql+psycopg://USER@HOST/DB) only")
        case "wal_unreadable":
            return t.translate("Store", "its newest changes are in {wal}, which cannot be read without write access to "
                                        "{folder}").format(**fields)
    return str(reason)


def note_author(record) -> str | None:
    """Who wrote the note a :class:`~app.store.records.JudgmentRecord` carries, when that row wrote it (a note row);
    None when the row only carried it on (a judgment, a confirmation): its writer may not be the note's author."""
    return record.analyst if record is not None and record.action == "note" else None


def their_judgment(record, leaf_name: Callable[[str], str | None], *, note: bool = False) -> dict[str, str]:
    """A colleague's judgment (a :class:`~app.store.records.JudgmentRecord`) for a message in the UI language: ``who``
    and ``when`` (local time, HH:MM) of its decision, or of its note with ``note``, and ``what`` it says (the type's
    name by ``leaf_name``, unknown, or back to waiting for an undone one)."""
    if record.status == "reverted":
        what = QCoreApplication.translate("Judgment", "back to waiting")
    elif record.leaf:
        what = leaf_name(record.leaf) or record.leaf
    else:
        what = QCoreApplication.translate("Judgment", "unknown / new defect type")
    who, when = (record.analyst, record.created_at) if note else (record.decider, record.decided_when)
    return {"who": who, "when": when.astimezone().strftime("%H:%M"), "what": what}


def export_text(error: BaseException | str) -> str:
    """An export's refusal in the UI language: an :class:`~app.store.errors.ExportError` with a ``reason`` said from
    its fields (paths and names kept); another error or message as :func:`store_text` (a database's refusal
    translated, anything else unchanged). An analyst in Traditional Chinese read the imagefolder refusal in English."""
    t = QCoreApplication
    fields = getattr(error, "fields", {})
    match getattr(error, "reason", None):
        case "inside_batch":
            return t.translate("Export", "{out} is inside the folder of batch “{name}” ({folder}): opened again, that "
                                         "batch would take the exported copies for its own images. Export the image "
                                         "folder somewhere outside it.").format(**fields)
        case "is_store":
            return t.translate("Export", "{out} is the database the judgments are kept in: give the export another "
                                         "name.").format(**fields)
        case "is_folder":
            return t.translate("Export", "{out} is a folder: give a file name, such as {example}.").format(**fields)
        case "not_folder":
            return t.translate("Export", "{out} is a file: an image-folder export needs a folder.").format(**fields)
        case "stale_lock":
            return t.translate("Export", "{path} was left by an export that died, and this account cannot remove it: "
                                         "remove it (or ask IT to), then export again.").format(**fields)
        case "exists":
            return t.translate("Export", "Another export wrote into {out} meanwhile (its manifest.csv is there now): "
                                         "export again to replace it, or choose another folder.").format(**fields)
        case "busy" if fields.get("who"):
            return t.translate("Export", "Another export is writing into {out} now ({who}, since {since}): export "
                                         "again when it has finished.").format(**fields)
        case "busy":
            return t.translate("Export", "Another export is writing into {out} now (since {since}): export again "
                                         "when it has finished.").format(**fields)
        case "auto_folder":
            return t.translate("Export", "The auto-judged images are exported as CSV or JSON (a report), not as an "
                                         "image folder: training would read their folders as labels.")
    return store_text(error)


def dropped_keys_text(n: int, wait: float) -> str:
    """What :class:`app.ui.stale_keys.StaleKeys` did, for the analyst."""
    text = (QCoreApplication.translate("Main", "A key or click made while the window was not answering ({s:.0f} s) "
                                               "was not used") if n == 1 else
            QCoreApplication.translate("Main", "{n} keys or clicks made while the window was not answering ({s:.0f} s) "
                                               "were not used"))
    return text.format(n=n, s=max(1.0, wait)) + QCoreApplication.translate(
        "Main", ": look at the image on screen, then press again.")
