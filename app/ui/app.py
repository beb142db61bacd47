"""Application start-up: Qt app, language, settings, analyst, database, model, and the screenshot mode."""

from __future__ import annotations

import argparse
import contextlib
import gc
import getpass
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QEventLoop,
    QLibraryInfo,
    QLocale,
    QThreadPool,
    QTimer,
    QTranslator,
)
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox

from app import crash_log
from app.demo import DEMO_BATCH, DEMO_MODEL, not_installed
from app.services.predicting import device_arg
from app.settings import ANALYST_KEY, open_settings, remembered_model
from app.ui import startup_log
from app.ui.alerts import fail, say_uncaught
from app.ui.places import local_folder
from app.ui.stop_signals import close_on_stop

I18N_DIR = Path(__file__).resolve().parents[1] / "i18n"
POOL_WAIT_MS = 120_000
"""How long the closing app waits for background tasks (an export of a factory's labels) before the database goes."""
MODEL_LAST_WAIT_MS = 60_000
"""How much longer the app waits for the model thread's step before it exits without it (:func:`end_model_thread`)."""
STUCK: list = []
"""Windows whose model thread never ended, run inside another process (the tests): kept, as their threads run."""
LANGS = ("en", "zh_TW")


def system_language() -> str:
    name = QLocale.system().name()  # e.g. zh_TW, en_US
    return "zh_TW" if name.startswith(("zh_TW", "zh_HK", "zh_Hant")) else "en"


def install_translators(app: QApplication, lang: str) -> list[QTranslator]:
    """Our strings, plus Qt's own (standard buttons and dialogs), for ``lang``."""
    out: list[QTranslator] = []
    if lang == "en":
        return out
    ours = QTranslator(app)
    if load_copy(ours, I18N_DIR / f"fma_judge_{lang}.qm"):
        app.installTranslator(ours)
        out.append(ours)
    qt = QTranslator(app)
    if qt.load(f"qtbase_{lang}", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
        app.installTranslator(qt)
        out.append(qt)
    return out


def load_copy(translator: QTranslator, qm: Path) -> bool:
    """Load ``qm`` from a copy in memory. Qt maps a .qm file it loads by name: rewritten while the app ran (an
    update of the install on a share, ``dev.py i18n``), it crashed the app in ``translate`` or mixed two
    languages on screen. Qt does not copy the data given to it, so the translator keeps it."""
    try:
        data = qm.read_bytes()
    except OSError:
        return False
    if not translator.load(data):
        return False
    translator.qm_data = data
    return True


def pick_cjk_font(app: QApplication) -> None:
    """Prefer a font that has Traditional Chinese glyphs, when one is installed (Noto CJK on Linux)."""
    families = set(QFontDatabase.families())
    for name in ("Noto Sans CJK TC", "Noto Sans TC", "Microsoft JhengHei UI", "Microsoft JhengHei",
                 "PingFang TC", "Noto Sans CJK JP", "WenQuanYi Zen Hei"):
        if name in families:
            font = QFont(app.font())
            font.setFamilies([font.family(), name])
            app.setFont(font)
            return


def default_analyst() -> str:
    """The operating system's user name: the analyst when the name dialog at start-up is cancelled."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError, ImportError):  # no such user entry, no login name in the environment
        name = ""
    return name.strip() or "analyst"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fma-judge", description="Judge FMA defect images with a local model.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands without a window (each has --help):\n" + "\n".join(f"  {c:<34}{what}" for c, what in (
            ("fma-judge classify FOLDER", "predict a folder into the database, headless (a scheduler, a server)"),
            ("fma-judge export --out PATH", "the judgments as labels: a training manifest, a folder or JSON"),
            ("fma-judge monitor --model M", "production purity from blind spot checks, drift, pauses"),
            ("fma-judge recalibrate --model M", "the routing fitted again on the judged images"),
            ("fma-judge spectra show|import", "FTIR spectra: read one, or attach a folder's to their images"),
            ("fma-judge deploy --model M", "the team's model, for every window and classify without --model"),
            ("fma-judge backup | restore", "copies of a SQLite database, and putting one back"),
            ("fma-judge --self-test", "checks an installation (IT, after installing)"),
            ("fma-judge --version", "this install's version and database schema"))))
    p.add_argument("folder", nargs="?", help="folder of images to open")
    p.add_argument("--model", help="model bundle (default: the team's model (fma-judge deploy) where this computer "
                                   "reaches it, else the last one used, else the bundled demo model)")
    p.add_argument("--db", metavar="PATH|URL",  # (app.store.urls.DB_HELP says more: imported later, with the store)
                   help="the database: a SQLite file's path or a URL, as for every command (fma-judge classify "
                        "--help says more; default: a SQLite file in your user data folder)")
    p.add_argument("--lang", choices=LANGS, help="UI language (default: settings, else the system's)")
    p.add_argument("--analyst", help="analyst name recorded with judgments (default: asked once, then remembered)")
    p.add_argument("--recursive", "-r", action="store_true", help="also open images in sub-folders")
    p.add_argument("--device", default="cpu", type=device_arg, help="cpu (default) or cuda")
    p.add_argument("--demo", action="store_true",
                   help="open the bundled demo batch with the bundled demo model (or --model's); the model later "
                        "starts load stays as it was")
    p.add_argument("--backup-every", type=_hours, metavar="HOURS",
                   help="rolling backups of a SQLite database every HOURS (default 4; 0 = off); remembered")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="open the batch, wait until every prediction is shown, save the window to OUT.png, exit")
    return p


def screenshot_problem(folder: Path | None, model: str, recursive: bool = False, out: Path | None = None
                       ) -> str | None:
    """Why a ``--screenshot`` run cannot make its picture (one line), or None; found before the window is built
    and torch imported, so a wrong argument fails in a second or two. ``out``: the picture's file (its kind and
    folder)."""
    from PySide6.QtGui import QImageWriter

    from app.services.batches import scan_folder

    if folder is None or not model:
        return "--screenshot needs a batch (FOLDER or --demo) and a model"
    if out is not None:
        kinds = sorted({bytes(f).decode().lower() for f in QImageWriter.supportedImageFormats()}
                       & {"png", "jpg", "jpeg", "bmp", "tif", "tiff"})
        if out.suffix.lower().lstrip(".") not in kinds:
            why = f"{out.suffix} is not a picture format" if out.suffix else "no picture format is given"
            others = ", .".join(k for k in kinds if k != "png")
            return f"--screenshot {out}: {why}; end the name with .png (or .{others})"
        parent = next((p for p in (out.parent, *out.parent.parents) if p.exists()), None)
        if parent is not None and not parent.is_dir():
            return f"--screenshot {out}: {parent} is a file, not a folder"
        if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
            return f"--screenshot {out}: the folder {parent} is read-only for you"
    if not folder.exists():
        return f"folder not found: {folder}"
    if not folder.is_dir():
        return f"not a folder: {folder}"
    if not scan_folder(folder, recursive)[0]:
        return f"no images (PNG, JPEG, BMP, TIFF) in {folder}"
    return None


def open_database(url: str | None, interactive: bool, parent=None):
    """The store's engine, opened and checked (``open_store``), or the exit code when the app cannot start.

    A damaged SQLite file: a user is offered its newest backup (the damaged file is kept beside it); without a
    user, or without a backup, the app says why on stderr (and in a box for a user) and exits 2.
    """
    from app.services.backups import newest_backup, restore_backup
    from app.store.db import open_store
    from app.store.errors import DamagedDatabaseError, StoreError
    from app.ui.style import store_text

    def cannot(exc: Exception) -> int:  # a box for a user, and the line on stderr in either mode
        if interactive:  # over the window: its dark theme, not a light box of its own
            QMessageBox.critical(parent, "fma-judge", QCoreApplication.translate(
                "Main", "The database cannot be opened:\n\n{msg}").format(msg=store_text(exc)))
        return fail(str(exc))

    try:
        return open_store(url).engine
    except DamagedDatabaseError as exc:
        backup = newest_backup(exc.path) if exc.path is not None and interactive else None
        if backup is None:
            return cannot(exc)
        when = backup.created.astimezone().strftime("%Y-%m-%d %H:%M")
        answer = QMessageBox.question(parent, "fma-judge", QCoreApplication.translate(
            "Main", "{msg}\n\nRestore the newest backup, made {when}? Judgments made after it are not in it. The "
                    "damaged file is kept beside it.").format(msg=store_text(exc), when=when),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes)
        if answer != QMessageBox.StandardButton.Yes:
            return fail(str(exc))
        try:
            kept = restore_backup(backup.path, exc.path)
            engine = open_store(url).engine
        except StoreError as again:
            return cannot(again)
        print(f"fma-judge: restored {exc.path} from {backup.path}; the damaged file is kept as {kept}",
              file=sys.stderr)
        return engine
    except StoreError as exc:
        return cannot(exc)


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 24 * 365:
        raise argparse.ArgumentTypeError(f"must be a number of hours from 0 (off) to 8760, not {text!r}")
    return value


def run_app(argv: list[str], *, own_process: bool = False) -> int:
    """The window's life: ``own_process`` when the process is the app's own (``fma-judge``), which may then leave
    at once past a model step that never ends (:func:`end_model_thread`); run inside another program (the tests),
    the window is kept alive instead."""
    args = build_parser().parse_args(argv)
    interactive = not args.screenshot  # a screenshot run has nobody to click a dialog away (app.ui.alerts)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("fma-judge")
    app.setOrganizationName("fma-judge")
    settings = open_settings()
    crash_file = crash_log.enable(local_folder(settings))  # a window that vanishes leaves its reason in crash.log
    if args.backup_every is not None:
        settings.setValue("backup_every_hours", args.backup_every)
    lang = args.lang or str(settings.value("lang", "") or "") or system_language()
    lang = lang if lang in LANGS else "en"
    install_translators(app, lang)
    pick_cjk_font(app)

    from app.ui.main_window import MainWindow

    analyst = args.analyst or str(settings.value(ANALYST_KEY, "") or "")
    if not analyst and args.screenshot:
        analyst = "demo"
    fallback = False
    if not analyst:
        from app.ui.style import APP_STYLE

        app.setStyleSheet(APP_STYLE)  # the first thing a new analyst sees, in the window's dark look (it has none yet)
    while not analyst:
        name, ok = QInputDialog.getText(None, "fma-judge", QCoreApplication.translate("Main", "Your name (recorded with every "
                                                                               "judgment):"), QLineEdit.EchoMode.Normal)
        if not ok:
            # Cancel does not quit: the app opens with the OS user name as the analyst, says so in the status
            # bar, and does not remember it (the next start asks again); Settings → Change analyst… sets a name.
            analyst, fallback = default_analyst(), True
            break
        analyst = name.strip()  # OK with an empty name asks again
    app.setStyleSheet("")  # (the windows set their own)
    if not fallback:
        settings.setValue(ANALYST_KEY, analyst)

    demo_batch = DEMO_BATCH if DEMO_BATCH.is_dir() else None
    folder = Path(args.folder) if args.folder else (demo_batch if args.demo else None)
    demo_model = str(DEMO_MODEL) if DEMO_MODEL.is_dir() else ""
    # --demo is the demo model on the demo batch, whatever model this workstation remembers (and keeps remembering)
    tour = args.demo and not args.model and bool(demo_model)
    model = args.model or (demo_model if tour else "") or remembered_model(settings) or demo_model
    missing = ""  # the model this workstation remembers is not there (a share not connected): say so, load none
    if model and not Path(model).exists() and not args.model:
        # (it was silently replaced by the demo model, which auto-judged the factory's images and became the
        # remembered model for good)
        missing, model = model, ""
    if args.demo and (demo_batch is None or not demo_model):  # (it said "needs a batch (FOLDER or --demo)")
        lacking = not_installed("the demo " + ("batch" if demo_batch is None else "model"))
        if not interactive:
            return fail(f"--demo: {lacking}")
    else:
        lacking = ""
    if not interactive and missing:
        return fail(f"the model this workstation uses is not there: {missing} (--model PATH takes another)")
    if not interactive and (problem := screenshot_problem(folder, model, args.recursive, Path(args.screenshot))):
        return fail(problem)

    # The window is on screen before the database opens: importing SQLAlchemy and the store takes longer than
    # building the window. Nothing can be judged until attach() (the window has no batch yet).
    window = MainWindow(lang=lang, demo_batch=demo_batch, settings=settings, device=args.device,
                        interactive=interactive, analyst=analyst)
    show_opening(app, window, model_coming=bool(model))
    startup_log.mark("window_shown")
    if model:
        window.warm_model(model)  # its ONNX Runtime session builds beside the store's imports
    made = _new_sqlite_file(args.db or os.environ.get("FMA_JUDGE_DB", "").strip() or None)  # --db (or urls.DB_ENV)
    # naming a file not there yet: the store makes it, said below
    engine = open_database(args.db, interactive, window)
    if isinstance(engine, int):
        window.close()
        return engine
    from app.services.judging import JudgingService
    from app.store.db import read_only

    if not interactive and (why := read_only(engine)) is not None:  # the model would never run: nothing to wait for
        engine.dispose()
        window.close()
        return fail(f"--screenshot needs a database it can write predictions to, and {why}")
    window.statusBar().clearMessage()
    startup_log.mark("database_open")
    window.attach(JudgingService(engine, analyst))
    team_missing = ""
    if not args.model and not tour:  # the team's model (fma-judge deploy) before the one this analyst last chose
        model, missing, team_missing = _team_model_first(window.service, model, missing)
    if not gc.isenabled():  # the start-up's pause (app.__main__): what it made lives on; later passes skip it
        gc.freeze()
        gc.enable()
    if interactive and made is not None and made.is_file():  # a mistyped --db: an empty window without a word
        window.show_notice(QCoreApplication.translate(
            "Main", "A new, empty database was made at {path}: nothing has been judged there yet. If you meant "
                    "another database, close the app and check --db.").format(path=made))
    if crash_log.previous_crash is not None:  # the window vanished last time: say so, and where IT finds why
        when, what = crash_log.previous_crash
        if what == crash_log.NOT_CLOSED and (n := crash_log.unclosed_count()) > 1:
            what = QCoreApplication.translate("Main", "{n} sessions were not closed: ended from outside, or the power "
                                                      "went").format(n=n)
        elif what == crash_log.NOT_CLOSED:  # (killed, logged out, the power went: the next start said nothing)
            what = QCoreApplication.translate("Main", "it was not closed: ended from outside, or the power went")
        window.show_notice(QCoreApplication.translate(
            "Main", "The session started {when} ended unexpectedly ({what}); every judgment and note shown as saved "
                    "is in the database. Details: {path}").format(
            when=when.replace("T", " ")[:16], what=what, path=local_folder(settings) / "crash.log"))
        if interactive:  # said to someone: not again at the next start (a screenshot run shows nobody)
            crash_log.mark_reported()
    if lacking:
        window.show_notice(f"--demo: {lacking}")  # (a line for IT, in English as the command line is)
    if team_missing:
        window.show_notice(QCoreApplication.translate(
            "Main", "The team's model is not reachable from this workstation: {path} (a network share not connected?). "
                    "This window uses the one it had.").format(path=team_missing))
    if missing:  # (gone once a model is loaded: ModelLoading._model_loaded)
        window.no_model_banner = window.show_notice(QCoreApplication.translate(
            "Main", "The model this workstation uses is not there: {path} (a network share not connected?). No model "
                    "is loaded, so nothing is predicted or auto-judged. Connect it and start again, or choose a model "
                    "with “Model”.").format(path=missing))
    if fallback:
        window.statusBar().showMessage(QCoreApplication.translate(
            "Main", "Judging as {name}: no name was given. Change it under Settings → Change analyst…").format(
            name=analyst), 12_000)  # a temporary message: the reading progress shows again after it
    # The window is on screen before torch is imported: the model loads on the model thread.
    if model:
        window.load_model(model, remember=not args.demo)  # a demo, also with --model, leaves the workstation's model
    if folder is not None:
        if not folder.is_dir():  # (a screenshot run stopped at screenshot_problem)
            QMessageBox.warning(window, "fma-judge", QCoreApplication.translate("Main", "Folder not found: {p}").format(p=folder))
        else:
            window.open_folder(folder, recursive=args.recursive)
    before_hook = sys.excepthook
    hook = say_uncaught(window, crash_file)  # from here on, what a key or click breaks is said on screen
    restore_signals = close_on_stop(app, lambda: close_for_stop(window))  # a logout, IT's kill, Ctrl+C
    # Windows' session end reaches Qt as aboutToQuit, and the process is ended right after it: the claims go back
    # there (after a close they are gone already, and this does nothing)
    app.aboutToQuit.connect(window.release_claims)
    rc = 1
    try:
        rc = _screenshot(app, window, Path(args.screenshot)) if args.screenshot else app.exec()
        return rc
    finally:
        restore_signals()
        # The pooled connections close: SQLite folds its write-ahead log into the database file when the last one
        # goes, so the .sqlite file alone holds every judgment (IT copies that file; it was a 4 KB shell beside
        # the data in the -wal file after every session). Tasks still running (an export, a backup, the queue's
        # or the dashboard's reads) finish first: the window waited 5 s for them.
        QThreadPool.globalInstance().waitForDone(POOL_WAIT_MS)
        engine.dispose()
        if sys.excepthook is hook:  # (a hook installed after ours stays)
            sys.excepthook = before_hook
        if not end_model_thread(window.worker, rc, settings=window.settings, leave=own_process):
            STUCK.append(window)  # (its thread object must outlive the thread; a test process goes on)


def end_model_thread(worker, rc: int, wait_ms: int | None = None, settings=None, leave: bool = True) -> bool:
    """Before the process exits: the model thread must have ended, or Qt aborts the process when the window's
    thread object goes ("QThread: Destroyed while thread is still running", exit status -6 where a stop signal or
    the close button asked a clean end; a crash report on Windows). The window waited
    :data:`~app.ui.workers.STOP_WAIT_MS` for its current step; a step can take longer (a model still loading on a
    busy machine, a file on a slow share): wait up to ``wait_ms`` more, saying so (Ctrl+C meanwhile only ends the
    wait), and if it has still not ended, leave at once with ``rc``, after what a normal exit does (the crash log's
    "ended" line, the helper processes stopped, ``settings`` written: the next start said the session had ended
    unexpectedly). Everything the analyst did is in the store by then (each judgment commits when it is
    acknowledged; the claims were given back at the close). Whether the thread ended (``leave`` False: the
    process goes on, the caller keeps the thread's window alive)."""
    import signal

    if not worker.isRunning():
        return True
    wait_ms = MODEL_LAST_WAIT_MS if wait_ms is None else wait_ms
    print(f"fma-judge: waiting for the model to finish its current step (up to {wait_ms // 1000} s)…",
          file=sys.stderr, flush=True)
    held = [(sig, signal.signal(sig, signal.SIG_IGN)) for sig in (signal.SIGINT, signal.SIGTERM)]
    try:  # (a second Ctrl+C after "waiting…" raised out of the wait, and Qt aborted the process: review)
        ended = worker.wait(wait_ms)
    finally:
        for sig, before in held:
            signal.signal(sig, before if before is not None else signal.SIG_DFL)
    if ended or not leave:
        return ended
    print("fma-judge: the model did not finish its step; closing without it (every judgment is saved)",
          file=sys.stderr, flush=True)
    if settings is not None:
        settings.sync()
    # os._exit runs no atexit handler: what ours would do, here (not all of them: shiboken's destroys the window,
    # and with it the running thread)
    if (registrar := sys.modules.get("app.services.registrar")) is not None:  # (imported: it may have children)
        registrar.stop_all()
    crash_log.mark_ended()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def close_for_stop(window, tries: int = 5) -> None:
    """Close the window for a stop signal (:mod:`app.ui.stop_signals`): a dialog open over it (a note being typed,
    a question) is cancelled first and the close waits until it is gone, so what the dialog does on cancel (a note's
    text kept as a draft) is done before the window lets go of the store; nobody is asked anything."""
    modal = QApplication.activeModalWidget()
    if modal is not None and modal is not window and tries > 0:
        modal.close()  # (a dialog's close is its cancel; its exec() returns once this slot is over)
        QTimer.singleShot(0, lambda: close_for_stop(window, tries - 1))
        return
    window.stopping = True  # (notes the drafts file could not take are not asked about: nobody may be there)
    window.close()
    QApplication.instance().quit()


def _team_model_first(service, model: str, missing: str) -> tuple[str, str, str]:
    """``(model, missing, team_missing)``: the team's model (``fma-judge deploy``) where one is deployed and this
    workstation reaches it, else the model chosen before and, ``team_missing``, the team's path it cannot reach. A
    store that cannot say (an older one, a read error) leaves the choice as it was."""
    try:
        team = service.team_model()
    except Exception:  # (the window opens all the same: its model is the one this workstation had)
        return model, missing, ""
    if team is None:
        return model, missing, ""
    if not team.reachable():
        return model, missing, team.bundle_path
    return team.bundle_path, "", ""


def _new_sqlite_file(db: str | None) -> Path | None:
    """The SQLite file a given ``--db`` names when it is not there yet (the store will make it), else None (no
    --db: the per-user database, made on a first start as expected; a server URL; a file that exists)."""
    if not db:
        return None
    from app.store.urls import sqlite_path  # (SQLAlchemy: imported once the window is on screen)

    try:
        path = sqlite_path(db)
    except Exception:  # a URL it cannot read: open_database says why
        return None
    return path if path is not None and not path.exists() else None


def show_opening(app: QApplication, window, *, model_coming: bool) -> None:
    """Show the new window, saying that the database is being opened (and, ``model_coming``, that a model loads),
    and paint it now. The message goes after ``show()``, so that the status bar makes room for it at the window's
    real width; the status bar's labels are transparent (:data:`app.ui.style.APP_STYLE`): its empty progress label,
    which Qt shows again after a relayout under a message, painted over the message's first letters ("ning the
    database…")."""
    if model_coming:
        window.status.set_model(None, loading=True)  # it is on its way (warm_model)
    window.show()
    window.statusBar().showMessage(QCoreApplication.translate("Main", "Opening the database…"))
    paint_now(app, window)


def paint_now(app: QApplication, window, wait_s: float = 0.5) -> None:
    """Draw the shown window now, before the caller's next long step (the event loop is not running yet): wait
    (up to ``wait_s``) for the window system to expose it, then paint it. Input events wait for the event loop."""
    handle = window.windowHandle()
    deadline = time.monotonic() + wait_s
    while handle is not None and not handle.isExposed() and time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        time.sleep(0.005)
    window.repaint()
    app.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)


def _screenshot(app: QApplication, window, out: Path, timeout_s: int = 900) -> int:
    """Wait for every prediction and the first heatmap, then save the window. An error the window would show in
    a box (the model cannot be loaded, the batch cannot be opened) ends the run with its line and code 2."""
    state = {"rc": 1}

    def save() -> None:
        with contextlib.suppress(OSError):  # a folder that cannot be made: the save fails and says so
            out.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(out))
        state["rc"] = 0 if ok else 1
        if not ok:
            print(f"fma-judge: cannot write {out}", file=sys.stderr)
        window.close()
        app.quit()

    def all_predicted() -> None:
        rows = [i for i, it in enumerate(window.items) if it.prediction is not None and it.prediction.leaf]
        window.select(rows[0] if rows else 0)
        if window.viewer.has_heatmap or not rows:
            QTimer.singleShot(200, save)
        else:
            window.heatmapShown.connect(lambda _i: QTimer.singleShot(200, save))
            QTimer.singleShot(60_000, save)  # a model without heatmaps still gets its screenshot

    def give_up() -> None:
        print(f"fma-judge: predictions not finished after {timeout_s} s", file=sys.stderr)
        app.quit()

    window.allPredicted.connect(all_predicted)
    QTimer.singleShot(timeout_s * 1000, give_up)
    rc = app.exec()  # USER_ERROR when the window met an error (app.ui.alerts)
    if window.isVisible():  # an error ended the loop: the window's own clean-up (an opening still registering the
        window.close()      # folder, the thread pools, the model thread) before Python exits under their feet
    else:
        window.worker.stop()
    return rc or state["rc"]
