"""``fma-judge``: the desktop judging application, and the headless ``classify``, ``export``, ``backup`` and ``restore`` (:mod:`app.commands`).

    fma-judge [FOLDER] [--model BUNDLE] [--db URL] [--lang en|zh_TW]
    fma-judge --demo --screenshot OUT.png [--lang en|zh_TW]
    fma-judge classify FOLDER [--db PATH|URL] [--model BUNDLE] [--recursive] [--device cpu]
    fma-judge export [--db PATH|URL] --out PATH --format csv|imagefolder|json [--batch ID] [--since DATE] [--status ...]
    fma-judge backup [--db PATH|URL] [--out FILE] [--keep N] [--list]
    fma-judge restore BACKUP|--newest [--db PATH|URL] [--list]
    fma-judge monitor --model BUNDLE [--db PATH|URL] [--batch ID] [--check] [--resume PAUSE_ID]   (app.monitor_commands)
    fma-judge recalibrate --model BUNDLE [--db PATH|URL] [--out NEW_BUNDLE] [--since DATE] [--train-data MANIFEST] [--force]
    fma-judge deploy [--model BUNDLE | --clear] [--db PATH|URL]   (app.team_commands: the team's model)
    fma-judge spectra show FILE ... | import FOLDER [--db PATH|URL] [--model BUNDLE]   (app.spectra_commands)
    fma-judge --self-test [--db PATH|URL] [--model BUNDLE]      (IT, after an install: app.selftest)

``classify`` and ``export`` run without Qt; the app imports torch only on its model thread, after the window
is shown.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in HEADLESS:
        return _headless(argv)
    if "--version" in argv:  # (IT's inventory of the installed versions)
        from app import __version__
        from app.store.db import HEAD_REVISION

        print(f"fma-judge {__version__} (database schema {HEAD_REVISION})")
        return 0
    if "--self-test" in argv:
        from app.selftest import run  # no Qt here; Qt is checked in a child process

        return run(argv)
    if argv[:1] == ["--self-test-qt"]:
        from app.ui.qtcheck import main as qt_check

        return qt_check()
    return _window(argv)


HEADLESS = ("export", "classify", "backup", "restore", "spectra", "deploy", "monitor", "recalibrate")
"""The commands that run without a window (no Qt)."""


def _headless(argv: list[str]) -> int:
    """A command without a window. A file or folder this account may not open, and a package this install leaves
    out (the workstation install has no torch: ``recalibrate`` runs the model), are said in one line with exit
    status 2; they ended in a traceback."""
    try:
        return _command(argv)
    except BrokenPipeError:  # `fma-judge monitor … | head`: the reader left, which is not an error (a traceback)
        from models.commands.cli import reader_left

        reader_left()
        return 0
    except PermissionError as exc:
        where = exc.filename or str(exc)
        print(f"fma-judge {argv[0]}: error: permission denied: {where} (this account may not open it; ask IT for "
              "access, or choose another place)", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        from models.commands.cli import missing_extra

        if (extra := missing_extra(exc)) is None:  # one of ours, or a package there but broken: its traceback
            raise
        print(f"fma-judge {argv[0]}: error: this install has no {exc.name} (the workstation install leaves out the "
              f"training packages); run it where fma-judge was installed with them: pip install \".[{extra}]\"",
              file=sys.stderr)
        return 2


def _command(argv: list[str]) -> int:
    if argv[0] in ("export", "classify", "backup", "restore"):
        from app import commands  # no Qt

        return getattr(commands, f"{argv[0]}_main")(argv[1:])
    if argv[0] == "spectra":
        from app.spectra_commands import spectra_main  # no Qt

        return spectra_main(argv[1:])
    if argv[0] == "deploy":
        from app.team_commands import deploy_main  # no Qt

        return deploy_main(argv[1:])
    from app import monitor_commands  # monitor, recalibrate; no Qt

    return getattr(monitor_commands, f"{argv[0]}_main")(argv[1:])


def _window(argv: list[str]) -> int:
    # No garbage-collector passes while the app starts: its imports (Qt, SQLAlchemy, ONNX Runtime) make hundreds of
    # thousands of long-lived objects, and the passes over them held the GIL for 0.1-0.3 s of every start on the
    # 2-core machine (python -m bench.startup). The window re-enables it once its store is attached (run_app).
    from app.syscheck import no_display, xcb_problem

    if (nowhere := no_display()) is not None and any(a in ("-h", "--help") for a in argv):
        nowhere = None  # the usage needs no display (over ssh it lists the commands that run without one)
    if nowhere is not None and any(a.startswith("--screenshot") for a in argv):
        import os

        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a picture needs no screen
    elif nowhere is not None:
        print(nowhere, file=sys.stderr)
        return 2
    problem = xcb_problem(prefix="", again="start fma-judge again (fma-judge --self-test checks the install).")
    if problem:  # said first: Qt then aborts with one line that names another library than the missing ones
        print(problem, file=sys.stderr, flush=True)
    gc.disable()
    try:
        from app.ui.app import run_app

        return run_app(argv, own_process=True)
    finally:
        gc.enable()  # (run_app enables it once the store is attached; this covers the ways out before that)


if __name__ == "__main__":
    sys.exit(main())
