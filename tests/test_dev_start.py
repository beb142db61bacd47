"""dev.py's start-up check: the system libraries of Qt's xcb plugin, named with the install command.

The checks run with a fake library lookup and os-release text, so they do not depend on what this
machine has installed; only the table-against-wheel test reads the installed PySide6 files.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_spec = importlib.util.spec_from_file_location("fma_dev_script", ROOT / "dev.py")
dev = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dev)

X11 = {"DISPLAY": ":0"}
DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n'
FEDORA = 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\n'
ROCKY = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'
TUMBLEWEED = 'NAME="openSUSE Tumbleweed"\nID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n'
MANJARO = 'NAME="Manjaro Linux"\nID=manjaro\nID_LIKE=arch\n'
UNKNOWN = 'NAME="NixOS"\nID=nixos\n'


def without(*sonames: str):
    """A library lookup that finds everything except these."""
    return lambda soname: soname not in sonames


def everything(soname: str) -> bool:
    return True


def nothing(soname: str) -> bool:
    raise AssertionError(f"looked up {soname}, but no check was expected")


def install_line(message: str) -> str:
    return next(line.strip() for line in message.splitlines() if line.strip().startswith("sudo "))


def test_all_present_says_nothing():
    assert dev.xcb_problem(X11, "linux", everything, DEBIAN) is None


def test_two_missing_on_debian_names_them_and_the_apt_command_for_exactly_those():
    message = dev.xcb_problem(X11, "linux", without("libxcb-cursor.so.0", "libxcb-icccm.so.4"), DEBIAN)
    assert message is not None
    assert "libxcb-cursor.so.0" in message and "libxcb-icccm.so.4" in message
    assert "libxcb-keysyms.so.1" not in message
    assert install_line(message) == "sudo apt-get install libxcb-cursor0 libxcb-icccm4"


def test_ubuntu_is_debian():
    message = dev.xcb_problem(X11, "linux", without("libxcb-keysyms.so.1"), UBUNTU)
    assert install_line(message) == "sudo apt-get install libxcb-keysyms1"


def test_fedora_and_rhel_rebuilds_get_dnf():
    for os_release in (FEDORA, ROCKY):
        message = dev.xcb_problem(X11, "linux", without("libxcb-cursor.so.0", "libxcb-icccm.so.4"), os_release)
        assert install_line(message) == "sudo dnf install xcb-util-cursor xcb-util-wm"


def test_opensuse_gets_zypper_and_arch_derivatives_get_pacman():
    missing = without("libxcb-cursor.so.0")
    assert install_line(dev.xcb_problem(X11, "linux", missing, TUMBLEWEED)) == "sudo zypper install libxcb-cursor0"
    assert install_line(dev.xcb_problem(X11, "linux", missing, MANJARO)) == "sudo pacman -S --needed xcb-util-cursor"


def test_a_package_that_provides_several_missing_libraries_is_named_once():
    missing = without("libxcb-randr.so.0", "libxcb-shm.so.0", "libxcb-xkb.so.1")
    assert install_line(dev.xcb_problem(X11, "linux", missing, FEDORA)) == "sudo dnf install libxcb"
    assert install_line(dev.xcb_problem(X11, "linux", missing, DEBIAN)) == (
        "sudo apt-get install libxcb-randr0 libxcb-shm0 libxcb-xkb1")


@pytest.mark.parametrize("os_release", [UNKNOWN, ""])
def test_unknown_distribution_gets_the_library_names_and_a_generic_hint(os_release):
    message = dev.xcb_problem(X11, "linux", without("libxcb-cursor.so.0", "libxcb-icccm.so.4"), os_release)
    assert message is not None
    assert "libxcb-cursor.so.0" in message and "libxcb-icccm.so.4" in message
    assert "your distribution's package manager" in message
    for command in ("dnf", "zypper", "pacman"):
        assert command not in message


@pytest.mark.parametrize("platform", ["win32", "darwin", "cygwin"])
def test_no_check_off_linux(platform):
    assert dev.xcb_problem(X11, platform, nothing, DEBIAN) is None


@pytest.mark.parametrize("environ", [
    {"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"},
    {"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"},
    {"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"},          # xcb only as the fallback
    {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"},            # Wayland session with XWayland: Qt picks wayland
    {"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"},
    {},                                                           # no display at all (ssh, CI)
])
def test_no_check_when_qt_is_not_headed_for_x11(environ):
    assert dev.xcb_problem(environ, "linux", nothing, DEBIAN) is None


@pytest.mark.parametrize("environ", [
    {"DISPLAY": ":0"},
    {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"},
    {"QT_QPA_PLATFORM": "xcb"},
    {"QT_QPA_PLATFORM": "xcb:nomitshm", "WAYLAND_DISPLAY": "wayland-0"},
    {"QT_QPA_PLATFORM": "xcb;wayland", "WAYLAND_DISPLAY": "wayland-0"},
])
def test_check_when_qt_is_headed_for_x11(environ):
    assert dev.qt_uses_xcb(environ)
    assert dev.xcb_problem(environ, "linux", without("libxcb-cursor.so.0"), DEBIAN) is not None


def test_every_library_has_a_package_in_every_family():
    assert list(dev.INSTALL_COMMANDS) == ["debian", "fedora", "suse", "arch"]
    for soname, packages in dev.XCB_LIBRARIES.items():
        assert soname.startswith("lib") and ".so." in soname
        assert len(packages) == len(dev.INSTALL_COMMANDS) and all(packages), soname


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the dynamic loader of Linux")
def test_the_real_lookup_asks_the_dynamic_loader():
    assert dev._loadable("libc.so.6")
    assert not dev._loadable("libfma-judge-no-such-library.so.0")


def _needed(path: Path) -> set[str]:
    """DT_NEEDED entries of a 64-bit little-endian ELF shared object (what `readelf -d` lists)."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{path}: not ELF64 little-endian"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = set()
    for _name, sh_type, _flags, _addr, offset, size, link, *_ in sections:
        if sh_type != 6:  # SHT_DYNAMIC; its sh_link is the string table of the names
            continue
        strtab = sections[link][4]
        for pos in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, pos)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                end = data.index(b"\0", strtab + value)
                names.add(data[strtab + value:end].decode())
    return names


def test_the_table_is_what_the_installed_xcb_plugin_links():
    """Every library the installed plugin links is in the table (else Qt's raw error after all). A table entry the
    plugin no longer needs is only ever reported when it is missing, so extra entries are tolerated: a new PySide6
    that drops a library does not fail this test, one that adds a library does (add it to the table)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Qt's xcb plugin exists on Linux only")
    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        pytest.skip("PySide6 is not installed")
    qt = Path(spec.origin).parent / "Qt"
    plugin, qpa = qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6"
    if not (plugin.exists() and qpa.exists()):
        pytest.skip("not the PySide6 wheel layout (a distribution's PySide6?)")
    runtime = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1"}
    needed = {name for name in _needed(plugin) | _needed(qpa)
              if not name.startswith("libQt6") and name not in runtime}
    assert needed <= set(dev.XCB_LIBRARIES), sorted(needed - set(dev.XCB_LIBRARIES))


@pytest.fixture()
def demo_on_x11(monkeypatch):
    """`dev.py demo` on a Linux X11 desktop, with setup() and the app replaced by recorders."""
    calls = []
    monkeypatch.setattr(sys, "argv", ["dev.py", "demo"])
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(dev, "_read_os_release", lambda: DEBIAN)
    monkeypatch.setattr(dev, "setup", lambda: calls.append("setup") or Path("python"))
    monkeypatch.setattr(dev, "_run", lambda args, env=None: calls.append("run") or 0)
    return calls


def test_dev_demo_with_a_missing_library_exits_with_the_message_before_setting_up(demo_on_x11, monkeypatch,
                                                                                   capsys):
    monkeypatch.setattr(dev, "_loadable", without("libxcb-cursor.so.0"))
    assert dev.main() != 0
    err = capsys.readouterr().err
    assert "libxcb-cursor.so.0" in err
    assert "sudo apt-get install libxcb-cursor0" in err
    assert demo_on_x11 == []


def test_dev_demo_with_everything_present_goes_on_to_the_app(demo_on_x11, monkeypatch, capsys):
    monkeypatch.setattr(dev, "_loadable", everything)
    assert dev.main() == 0
    assert demo_on_x11 == ["setup", "run"]
    assert capsys.readouterr().err == ""


def test_dev_test_does_not_check(demo_on_x11, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["dev.py", "test"])
    monkeypatch.setattr(dev, "_loadable", nothing)
    dev.main()
    assert demo_on_x11[0] == "setup"


def test_fma_judge_itself_names_the_missing_libraries_before_qt_opens(monkeypatch, capsys):
    """The check ran in dev.py demo and --self-test only: fma-judge started directly printed Qt's one line,
    which named xcb-cursor0 although it was installed (seen under Xvfb)."""
    import app.__main__ as entry
    import app.syscheck as syscheck
    import app.ui.app as ui_app

    for name in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(syscheck, "_read_os_release", lambda: DEBIAN)
    monkeypatch.setattr(sys, "platform", "linux")
    started = []
    monkeypatch.setattr(ui_app, "run_app", lambda argv, **_kw: started.append(argv) or 0)
    monkeypatch.setattr(syscheck, "_loadable", without("libxcb-icccm.so.4", "libxcb-keysyms.so.1"))
    assert entry.main(["--demo"]) == 0 and started == [["--demo"]]  # Qt still tries: the check may be wrong
    err = capsys.readouterr().err
    assert err.lstrip().startswith("fma-judge cannot open its window") and "libxcb-icccm.so.4" in err
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in err and "fma-judge --self-test" in err
    monkeypatch.setattr(syscheck, "_loadable", everything)
    assert entry.main(["--demo"]) == 0 and capsys.readouterr().err == ""


def test_a_window_with_no_display_says_so_and_a_screenshot_needs_none() -> None:
    """Over ssh (no DISPLAY, no Wayland) Qt's own words blamed a missing xcb-cursor library and advised reinstalling."""
    from app.syscheck import no_display

    said = no_display({}, "linux")
    assert said is not None and said.startswith("fma-judge: no display to open the window on")
    assert no_display({"DISPLAY": ":0"}, "linux") is None and no_display({"WAYLAND_DISPLAY": "w"}, "linux") is None
    assert no_display({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None and no_display({}, "win32") is None


def test_help_and_version_need_no_display(monkeypatch, capsys) -> None:
    """Over ssh `fma-judge --help` said "no display" instead of listing the commands that run without one."""
    from app.__main__ import main

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and "commands without a window" in capsys.readouterr().out
    assert main(["--lang", "en", "--version"]) == 0 and capsys.readouterr().out.startswith("fma-judge 0.1.0")


@pytest.mark.parametrize("arg", ["--help", "-h", "help"])
def test_dev_help_prints_the_commands_and_succeeds_without_setting_up(arg, demo_on_x11, monkeypatch, capsys):
    """``dev.py --help`` printed the usage and exited 2, as for a command it does not know."""
    monkeypatch.setattr(sys, "argv", ["dev.py", arg])
    monkeypatch.setattr(dev, "_loadable", nothing)
    assert dev.main() == 0
    assert "python dev.py test" in capsys.readouterr().out and demo_on_x11 == []


def test_dev_with_an_unknown_command_names_it_and_fails(demo_on_x11, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["dev.py", "tset"])
    assert dev.main() == 2
    assert "unknown command 'tset'" in capsys.readouterr().err and demo_on_x11 == []
