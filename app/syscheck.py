"""What an analyst's workstation needs from the operating system for the app's window: the system libraries of Qt's
X11 (xcb) platform plugin, and the command that installs them on this distribution.

Standard library only: ``dev.py`` loads this file by path before any virtual environment exists, and
``fma-judge --self-test`` (:mod:`app.selftest`) names the same libraries when Qt cannot open its window.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

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


def no_display(environ: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """What to say when the window has no display to open on (Linux, started over ssh or by a service with no
    ``DISPLAY`` nor Wayland, and no ``QT_QPA_PLATFORM``), or None. Qt's own words then blamed a missing xcb-cursor
    library and advised reinstalling (IT's walk-through)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux") or environ.get("QT_QPA_PLATFORM") or environ.get("DISPLAY") \
            or environ.get("WAYLAND_DISPLAY"):
        return None
    return ("fma-judge: no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set: started over "
            "ssh, or by a service?). Start it in the desktop session; the commands without a window (classify, "
            "export, backup, monitor, --self-test) and --screenshot need none.")


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
                find: Callable[[str], bool] | None = None, os_release: str | None = None, *,
                prefix: str = "[dev]", again: str = "run dev.py again.") -> str | None:
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
    lines = [f"{prefix} fma-judge cannot open its window: Qt's X11 platform plugin (xcb) needs system libraries",
             "      that are not installed: " + " ".join(missing)]
    if family is not None:
        lines += ["      Install them with", "", "          " + install_command(missing, family), ""]
    else:
        lines += ["      Install the packages that provide them with your distribution's package manager",
                  "      (on Debian/Ubuntu: " + install_command(missing, "debian") + ")"]
    lines.append(f"      and {again}")
    return "\n".join(lines)
