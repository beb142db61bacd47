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


# --- system libraries of Qt's X11 (xcb) platform plugin ----------------------------------------------
# The DT_NEEDED entries of PySide6/Qt/plugins/platforms/libqxcb.so and PySide6/Qt/lib/libQt6XcbQpa.so.6
# (PySide6 6.12.0 wheel; libxcb-cursor has been a hard dependency since Qt 6.5), less what the wheel
# ships itself (libQt6*) and the C/C++ runtime (libc, libm, libstdc++, libgcc_s) that Python and PySide6
# need anyway. The xcbglintegrations plugins (libxcb-glx) are left out: Qt loads them only for OpenGL
# and carries on without them. tests/test_dev_start.py compares this table with the installed wheel.
# soname: (Debian/Ubuntu, Fedora/RHEL, openSUSE, Arch) package
XCB_LIBRARIES: dict[str, tuple[str, str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "libxcb-render-util0",
                                "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "libxcb-util1", "xcb-util"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb1", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb-xkb1", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11.so.6": ("libx11-6", "libX11", "libX11-6", "libx11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libX11-xcb1", "libx11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libGL1", "libglvnd"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "libglib-2_0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "libgthread-2_0-0", "glib2"),
}
# the columns of XCB_LIBRARIES, each with its install command
INSTALL_COMMANDS = {"debian": "sudo apt-get install", "fedora": "sudo dnf install",
                    "suse": "sudo zypper install", "arch": "sudo pacman -S --needed"}
# os-release ID / ID_LIKE words -> column (derivatives name their parent in ID_LIKE: Mint "ubuntu debian",
# Rocky "rhel centos fedora", Manjaro "arch", openSUSE Leap "suse opensuse")
_DISTRO_FAMILIES = {"debian": "debian", "ubuntu": "debian", "fedora": "fedora", "rhel": "fedora",
                    "centos": "fedora", "suse": "suse", "opensuse": "suse", "opensuse-leap": "suse",
                    "opensuse-tumbleweed": "suse", "sles": "suse", "arch": "arch"}


def qt_uses_xcb(environ: Mapping[str, str]) -> bool:
    """Whether Qt will try its xcb (X11) plugin first, as QGuiApplication decides it.

    QT_QPA_PLATFORM wins ("xcb", "wayland;xcb", "offscreen", "xcb:arg"): only its first entry counts.
    Unset, Qt tries Wayland first in a Wayland session, and X11 when DISPLAY is set; with neither there is
    no display to open, and installing libraries would not help.
    """
    requested = environ.get("QT_QPA_PLATFORM", "")
    if requested:
        return requested.split(";")[0].split(":")[0].strip() == "xcb"
    if "WAYLAND_DISPLAY" in environ or environ.get("XDG_SESSION_TYPE") == "wayland":
        return False
    return "DISPLAY" in environ


def _loadable(soname: str) -> bool:
    """Whether the dynamic loader can load this library now (the search Qt's plugin loader goes through)."""
    import ctypes
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def _read_os_release() -> str:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return ""


def distro_family(os_release: str) -> str | None:
    """The XCB_LIBRARIES column for this os-release text ("debian", "fedora", "suse", "arch"), or None."""
    fields = {}
    for line in os_release.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip("\"'")
    for word in [fields.get("ID", ""), *fields.get("ID_LIKE", "").split()]:
        if word.lower() in _DISTRO_FAMILIES:
            return _DISTRO_FAMILIES[word.lower()]
    return None


def install_command(missing: list[str], family: str) -> str:
    """The command that installs the packages providing these sonames, each package once."""
    column = list(INSTALL_COMMANDS).index(family)
    packages = dict.fromkeys(XCB_LIBRARIES[soname][column] for soname in missing)
    return " ".join([INSTALL_COMMANDS[family], *packages])


def xcb_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                find: Callable[[str], bool] | None = None, os_release: str | None = None) -> str | None:
    """What to tell the user when Qt's xcb plugin cannot load here, or None when there is nothing to say.

    Checks only on Linux when Qt is headed for X11 (qt_uses_xcb). The defaults are this process's
    environment and platform, the dynamic loader and /etc/os-release; tests pass their own.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux") or not qt_uses_xcb(environ):
        return None
    find = _loadable if find is None else find
    missing = [soname for soname in XCB_LIBRARIES if not find(soname)]
    if not missing:
        return None
    family = distro_family(_read_os_release() if os_release is None else os_release)
    lines = ["[dev] fma-judge cannot open its window: Qt's X11 platform plugin (xcb) needs system libraries",
             "      that are not installed: " + " ".join(missing)]
    if family is not None:
        lines += ["      Install them with", "", "          " + install_command(missing, family), ""]
    else:
        lines += ["      Install the packages that provide them with your distribution's package manager",
                  "      (on Debian/Ubuntu: " + install_command(missing, "debian") + ")"]
    lines.append("      and run dev.py again.")
    return "\n".join(lines)


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
    if cmd == "demo":
        # before setup(): a fresh machine learns what to install without waiting for pip first
        problem = xcb_problem()
        if problem is not None:
            print(problem, file=sys.stderr, flush=True)
            return 1
    return commands[cmd](setup())


if __name__ == "__main__":
    sys.exit(main())
