#!/usr/bin/env python3
"""One entry point for setting up and running fma-judge from a checkout, on any OS.

    python dev.py demo     set up .venv if needed, then run the main job on the bundled demo
    python dev.py test     set up .venv if needed, then run ruff, the import contracts and the whole test suite
    python dev.py setup    only set up .venv
    python dev.py i18n     refresh app/i18n/*.ts from the UI sources and compile the .qm files
                           (translate new strings in the .ts with Qt Linguist: pyside6-linguist)

Setup creates ``.venv`` next to this file and installs the project (editable)
with its ``dev`` extra. It is skipped when pyproject.toml has not changed since
the last successful install. Only the Python standard library is used here.

Before ``demo`` sets anything up, on Linux with Qt headed for X11, it checks that
the system libraries of Qt's xcb platform plugin can be loaded
(``xcb_problem``), and when some cannot it names them with the install command
for the distribution instead of letting Qt fail with its raw plugin error.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".fma-installed"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


# --- system libraries of Qt's X11 (xcb) platform plugin: app/syscheck.py (standard library only, shared with
# `fma-judge --self-test`), loaded by path because the virtual environment may not exist yet
def _load_syscheck():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fma_syscheck", ROOT / "app" / "syscheck.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing look modules up by name
    spec.loader.exec_module(module)
    return module


_syscheck = _load_syscheck()
XCB_LIBRARIES, INSTALL_COMMANDS = _syscheck.XCB_LIBRARIES, _syscheck.INSTALL_COMMANDS
qt_uses_xcb, distro_family, install_command = _syscheck.qt_uses_xcb, _syscheck.distro_family, _syscheck.install_command


def _loadable(soname: str) -> bool:
    return _syscheck._loadable(soname)


def _read_os_release() -> str:
    return _syscheck._read_os_release()


def xcb_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                find: Callable[[str], bool] | None = None, os_release: str | None = None) -> str | None:
    """What to tell the user when Qt's xcb plugin cannot load here (see app/syscheck.py), or None."""
    return _syscheck.xcb_problem(environ, platform, find if find is not None else _loadable,
                                 _read_os_release() if os_release is None else os_release)


def setup() -> Path:
    """Create the virtual environment and install the project into it (idempotent)."""
    py = venv_python()
    if not py.exists():
        print(f"[dev] creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text().strip() == _fingerprint():
        return py
    print("[dev] installing fma-judge and its dependencies (first run takes a few minutes)", flush=True)
    subprocess.run([str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", f"{ROOT}[dev]"],
                   check=True, cwd=ROOT)
    STAMP.write_text(_fingerprint())
    return py


def _run(args: list[str], env: dict[str, str] | None = None) -> int:
    return subprocess.call(args, cwd=ROOT, env=env)


def demo(py: Path) -> int:
    """The main job: the judging app on the bundled demo model and demo batch."""
    bin_dir = py.parent
    judge = bin_dir / ("fma-judge.exe" if os.name == "nt" else "fma-judge")
    # --demo opens the demo batch unless a FOLDER is given among the extra arguments.
    return _run([str(judge), "--demo", *sys.argv[2:]])


def test(py: Path) -> int:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    rc = _run([str(py), "-m", "ruff", "check", "."], env)
    if rc != 0:
        print("[dev] ruff found problems (see above)", flush=True)
        return rc
    # the layering rules of ARCHITECTURE.md ([tool.importlinter] in pyproject.toml)
    lint = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    rc = _run([str(py), "-c", lint, "--no-cache", str(ROOT / "pyproject.toml")], env)
    if rc != 0:
        print("[dev] an import contract is broken (see above; the rules are in ARCHITECTURE.md)", flush=True)
        return rc
    return _run([str(py), "-m", "pytest", *_workers(py, sys.argv[2:]), *sys.argv[2:]], env)


def _workers(py: Path, args: list[str]) -> list[str]:
    """pytest-xdist options for the whole suite: one worker per core (at most 4), a test file per worker at a time
    (its module fixtures built once; ``tests/conftest.py`` hands out the slowest files first). Much of the suite
    waits on subprocesses, timers and the database: two workers on two cores took 13.0 minutes where one took 16.8.
    None when the arguments choose workers (``-n``, ``--dist``, ``-p no:xdist``) or name tests, on one core, or
    without xdist in the environment."""
    if any(a.startswith(("-n", "--numprocesses", "--dist")) or "xdist" in a or not a.startswith("-") for a in args):
        return []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2 or subprocess.run([str(py), "-c", "import xdist"], capture_output=True).returncode != 0:
        return []
    return ["-n", str(min(4, cores)), "--dist", "loadfile"]


def i18n(py: Path) -> int:
    tool_dir = py.parent
    sources = sorted(str(p) for p in (ROOT / "app" / "ui").glob("*.py"))
    for ts in sorted((ROOT / "app" / "i18n").glob("*.ts")):
        rc = _run([str(tool_dir / "pyside6-lupdate"), *sources, "-ts", str(ts), "-no-obsolete"])
        rc = rc or _run([str(tool_dir / "pyside6-lrelease"), str(ts), "-qm", str(ts.with_suffix(".qm"))])
        if rc:
            return rc
    return 0


def main() -> int:
    cmd = sys.argv[1] if len(sys.argv) > 1 else "demo"
    commands = {"demo": demo, "test": test, "i18n": i18n, "setup": lambda _py: 0}
    if cmd in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    if cmd not in commands:
        print(__doc__)
        print(f"dev.py: unknown command {cmd!r}", file=sys.stderr)
        return 2
    if cmd == "demo":
        # before setup(): a fresh machine learns what to install without waiting for pip first
        problem = xcb_problem()
        if problem is not None:
            print(problem, file=sys.stderr, flush=True)
            return 1
    return commands[cmd](setup())


if __name__ == "__main__":
    sys.exit(main())
