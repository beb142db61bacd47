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
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".fma-installed"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


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
    return _run([str(py), "-m", "pytest", *sys.argv[2:]], env)


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
    if cmd not in commands:
        print(__doc__)
        return 2
    return commands[cmd](setup())


if __name__ == "__main__":
    sys.exit(main())
