"""``fma-judge --self-test [--db URL] [--model BUNDLE]``: what IT runs after an install. No Qt in this process.

One line per check, ``PASS`` or ``FAIL`` with what was found, and exit status 0 only when every check passed:

* ``qt``: Qt's platform plugin opens (checked in a child process, :mod:`app.ui.qtcheck`, because a plugin that cannot
  load aborts the process); when the xcb plugin's system libraries are missing, they are named with the install
  command of the distribution (:mod:`app.syscheck`);
* ``font``: a font with Traditional Chinese glyphs is installed (the zh_TW interface needs one);
* ``model``: the bundle loads, predicts its reference image (``runtime.reference``, kept by ``fma-model
  export-runtime``) to the leaf the training machine gave it, with a heatmap;
* ``database``: reachable, writable (a write rolled back), at the newest schema revision (a new database is
  created, an older one upgraded, as the app would);
* ``disk``: free space where the database lives (SQLite) or the user data folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.demo import DEMO_BATCH, DEMO_MODEL, not_installed
from app.settings import remembered_model

MIN_FREE_BYTES = 1 << 30
"""Free disk space the ``disk`` check asks for: 1 GiB (a day of judgments is megabytes; backups are copies)."""
QT_TIMEOUT_S = 60
HEATMAP_NAMES = {"cbam": "CBAM attention", "gradcam": "LayerCAM"}
"""The heatmap kinds of :meth:`app.services.predicting.PredictingService.heatmap` as the app's caption names them."""


@dataclass(frozen=True)
class Check:
    """One line of the self-test."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name:<9} {self.detail}"


def child_command(*args: str) -> list[str]:
    """This program again with ``args``: the frozen executable itself, or ``python -m app``."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "app", *args]


def check_qt() -> tuple[Check, Check]:
    """The ``qt`` and ``font`` checks, from one child process that opens Qt's platform plugin."""
    from app.syscheck import xcb_problem

    try:
        out = subprocess.run(child_command("--self-test-qt"), capture_output=True, text=True, timeout=QT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("qt", False, f"cannot start the Qt check: {exc}"), Check("font", False, "not checked")
    report = _last_json(out.stdout)
    if out.returncode != 0 or report is None:
        problem = xcb_problem(prefix="", again="run fma-judge --self-test again.")
        lines = [ln.strip() for ln in out.stderr.splitlines() if ln.strip()]
        first = next((ln for ln in lines if ln.startswith("qt.qpa")), lines[0] if lines else "no output")
        why = " ".join(problem.split()) if problem else first
        return Check("qt", False, f"the platform plugin cannot open: {why}"), Check("font", False, "not checked")
    qt = Check("qt", True, f"platform plugin '{report['platform']}' opens (Qt {report['qt']})")
    fonts = report.get("cjk_fonts") or []
    if fonts and report.get("sample_ok"):
        font = Check("font", True, f"Traditional Chinese glyphs from {fonts[0]}"
                     + (f" (+{len(fonts) - 1} more)" if len(fonts) > 1 else ""))
    else:
        font = Check("font", False, "no installed font has Traditional Chinese glyphs; the zh_TW interface would show "
                     "boxes. Install Noto Sans CJK TC (Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; Windows "
                     "has Microsoft JhengHei)")
    return qt, font


def _last_json(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def check_model(bundle: Path) -> Check:
    """Load the bundle and predict its reference image (with a heatmap) as the app's model thread would."""
    from app.services.predicting import ModelLoadError, PredictingService
    from app.store.db import init_db, make_engine
    from models.bundle.files import damaged_files

    engine = make_engine("sqlite://")  # the model check writes its model version to a throw-away store
    init_db(engine)
    started = time.perf_counter()
    try:
        service = PredictingService(engine)
        info = service.load(bundle)
    except (ModelLoadError, OSError) as exc:  # the bundle's path once: most messages start with it
        return Check("model", False, str(exc) if str(exc).startswith(str(bundle)) else f"{bundle}: {exc}")
    except Exception as exc:  # a self-test reports, it does not crash: the line names what broke
        return Check("model", False, f"{bundle}: loading failed: {type(exc).__name__}: {exc}")
    loaded_s = time.perf_counter() - started
    on = info.engine if info.torch_free else f"torch ({info.engine})"  # ("on channels_last" told IT nothing)
    runtime = info.manifest.runtime
    if damaged := damaged_files(bundle, info.manifest):
        return Check("model", False, f"{info.version}: {'; '.join(damaged)} (damaged or replaced: copy the bundle "
                                     "again from where it was exported)")
    reference = runtime.reference if runtime is not None else None
    image = bundle / reference.file if reference is not None else None
    unchecked = image is None or not image.is_file()
    if unchecked:  # a bundle made without a reference image: it must at least predict an image with a heatmap
        image = next(iter(sorted(DEMO_BATCH.glob("*.png"))), None) if DEMO_BATCH.is_dir() else None
        if image is None:
            return Check("model", False, f"{info.version} loads on {on} but has no reference image to "
                                         "check it with (run `fma-model export-runtime --data IMAGES` on it)")
    try:
        (prediction,) = service.predictor.predict([image])
        heatmap, kind = service.heatmap(str(image))
    except Exception as exc:  # any failure of the installed model is the answer
        return Check("model", False, f"{info.version} on {on}: predicting {image.name} failed: {exc}")
    kind = HEATMAP_NAMES.get(kind, kind)  # as the app's caption names it
    if prediction.error or heatmap.shape != tuple(info.manifest.hw) or not (heatmap.max() > 0.99):
        return Check("model", False, f"{info.version} on {on}: {image.name}: "
                                     f"{prediction.error or 'the heatmap is empty or of the wrong size'}")
    if unchecked:
        return Check("model", True, f"{info.version} on {on} predicts {image.name} ({prediction.leaf}) with a "
                                    f"{kind} heatmap; it has no reference image, so what it predicts is not checked "
                                    "(fma-model export-runtime --data IMAGES keeps one)")
    if prediction.leaf != reference.leaf:
        got = f"{prediction.leaf} {prediction.confidence:.3f}"
        return Check("model", False, f"{info.version} on {on} predicted {image.name} as {got}; the training "
                                     f"machine gave {reference.leaf} {reference.confidence:.3f}")
    if abs(prediction.confidence - reference.confidence) > 1e-3:
        return Check("model", False, f"{info.version}: confidence {prediction.confidence:.4f} on {image.name}, "
                                     f"expected {reference.confidence:.4f}")
    return Check("model", True, f"{info.version} on {on}: {image.name} -> {prediction.leaf} "
                                f"{prediction.confidence:.1%} as on the training machine, {kind} heatmap; "
                                f"loaded in {loaded_s:.1f} s")


def check_database(url: str | None) -> tuple[Check, Path]:
    """Open the store as the app does, write a row and roll it back, and compare its revision with the newest."""
    from sqlalchemy import text

    from app.store.db import (
        current_revision,
        default_db_url,
        describe_url,
        head_revision,
        open_store,
        sqlite_path,
    )
    from app.store.errors import StoreError

    url = url or default_db_url()
    where = describe_url(url)
    path = sqlite_path(url)
    space = (path if path is not None else sqlite_path(default_db_url()) or Path.home()).parent
    try:
        existed = path is None or path.is_file()
    except OSError:  # a folder this account may not enter: open_store says so below
        existed = True
    try:
        engine = open_store(url, writable=True, upgrade=False).engine  # a look: the app upgrades, not the check
        try:
            with engine.connect() as conn:
                trans = conn.begin()
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
                trans.rollback()
            revision, head = current_revision(engine), head_revision()
        finally:
            engine.dispose()
    except StoreError as exc:
        return Check("database", False, str(exc)), space
    except Exception as exc:  # a driver's own error the store did not translate
        return Check("database", False, f"{where}: {type(exc).__name__}: {exc}"), space
    if revision != head:  # (it upgraded a team's database, and the workstations not yet updated were locked out)
        return Check("database", True, f"{where} reachable and writable, schema {revision}: older than this "
                                       f"version's ({head}); the first start of this version (the app or any "
                                       "command) upgrades it (a SQLite file is copied first), after which older "
                                       "installs cannot open it: update every workstation together"), space
    return Check("database", True, f"{where} reachable and writable, schema {head}"
                                   + ("" if existed else " (created now)")), space


def check_disk(folder: Path) -> Check:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError as exc:
        return Check("disk", False, f"cannot read the free space of {probe}: {exc}")
    detail = f"{free / (1 << 30):.1f} GiB free at {probe}"
    if free < MIN_FREE_BYTES:
        return Check("disk", False, f"{detail}; at least {MIN_FREE_BYTES >> 30} GiB needed")
    return Check("disk", True, detail)


def run(argv: list[str], *, out: Callable[[str], None] = print) -> int:
    from app.store.urls import DB_HELP

    p = argparse.ArgumentParser(prog="fma-judge --self-test", description="Check this installation; exit 0 when "
                                "every check passes.")
    p.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--db", metavar="PATH|URL", help="the database to check: " + DB_HELP.removeprefix("the database: "))
    p.add_argument("--model", help="model bundle to check (default: the one the window loads on this workstation, "
                                   "else the bundled demo model)")
    args = p.parse_args(argv)
    remembered = "" if args.model else remembered_model()  # it checked the demo model whatever the window loads
    bundle = Path(args.model or remembered) if args.model or remembered else DEMO_MODEL
    checks: list[Check] = []

    def report(check: Check) -> None:  # each line as soon as its check is done: a slow one shows where it is
        out(check.line())
        checks.append(check)

    for check in check_qt():
        report(check)
    if remembered and not bundle.exists():  # the window would load no model (a share not connected)
        report(Check("model", False, f"the model this workstation uses is not there: {bundle} (the window remembers "
                                     "it; --model BUNDLE checks another)"))
    elif args.model or bundle.is_dir():
        report(check_model(bundle))
    else:  # it said "model bundle not found" for a path inside site-packages the user never gave
        report(Check("model", False, f"{not_installed('the demo model')}: check this workstation's model with "
                                     "--model BUNDLE"))
    database, space = check_database(args.db)
    report(database)
    report(check_disk(space))
    failed = [c.name for c in checks if not c.ok]
    out(f"self-test: {len(checks) - len(failed)} of {len(checks)} checks passed"
        + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
