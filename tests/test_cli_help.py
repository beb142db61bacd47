"""``fma-judge --help`` names the commands without a window (it named export only), and each one it names runs."""

from __future__ import annotations

import re

import pytest


def test_the_help_names_every_headless_command_and_each_answers_its_own_help(capsys) -> None:
    from app.__main__ import main
    from app.ui.app import build_parser

    text = build_parser().format_help()
    named = re.findall(r"^  fma-judge (\w[\w-]*)", text, flags=re.MULTILINE)
    assert {"classify", "export", "monitor", "recalibrate", "spectra", "backup"} <= set(named)
    for command in [*named, "restore"]:
        with pytest.raises(SystemExit) as stop:
            main([command, "--help"])
        assert stop.value.code == 0, command
        assert f"fma-judge {command}" in capsys.readouterr().out, command


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_fma_model_without_torch_says_which_extra_to_install(command) -> None:
    """The workstation install (`pip install .`) has `fma-model` but no torch: every command ended in a
    ModuleNotFoundError traceback. Now one line names the missing package and the extra that brings it."""
    import subprocess
    import sys

    blocked = "import sys; sys.modules['torch'] = None; from models.commands.cli import main; "
    res = subprocess.run([sys.executable, "-c", blocked + f"sys.exit(main([{command!r}, 'x']))"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fma-model {command}: needs ") and "Traceback" not in res.stderr
    assert 'needs torch' in lines[0] and 'pip install ".[train]"' in lines[0]


def test_fma_model_info_reads_a_bundle_without_torch() -> None:
    """IT inspects a workstation's bundle with `fma-model info`: it said "needs torch" though it reads a manifest
    only (its error types were imported from the training modules); a bad bundle is still one line."""
    import subprocess
    import sys

    from conftest import ROOT

    blocked = "import sys; sys.modules['torch'] = None; from models.commands.cli import main; "
    bundle = ROOT / "resources" / "demo" / "model_cbam"
    res = subprocess.run([sys.executable, "-c", blocked + f"sys.exit(main(['info', {str(bundle)!r}]))"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.startswith("model_version : fma-demo-"), res.stderr
    res = subprocess.run([sys.executable, "-c", blocked + "sys.exit(main(['info', 'nowhere']))"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.startswith("fma-model info: error: ") and "Traceback" not in res.stderr
    # with torch installed, `info` does not import it either (2.7 s where 0.15 s do)
    code = (f"import sys; from models.commands.cli import main; main(['info', {str(bundle)!r}]); "
            "print('torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip().splitlines()[-1] == "False", res.stdout + res.stderr


def test_without_the_demo_installed_the_commands_that_default_to_it_say_so(tmp_path, monkeypatch, capsys) -> None:
    """`pip install .` leaves the demo out: the self-test said "model bundle not found" for a path in site-packages
    nobody gave, and `classify` without --model the same; now both say the demo is not installed here, and what
    to give instead."""
    from app import commands, selftest

    gone = tmp_path / "site-packages" / "resources" / "demo" / "model_cbam"
    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "s.ini"))  # no model remembered: the demo's
    monkeypatch.setattr(selftest, "DEMO_MODEL", gone)
    monkeypatch.setattr(selftest, "check_qt", lambda: ())
    lines: list[str] = []
    assert selftest.run(["--self-test", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"], out=lines.append) == 1
    model = next(line for line in lines if " model " in f" {line} ")
    assert "the demo model is not installed with this copy of fma-judge" in model and "--model BUNDLE" in model, lines
    monkeypatch.setattr(commands, "DEMO_MODEL", gone)
    (tmp_path / "batch").mkdir()
    from conftest import write_image

    write_image(tmp_path / "batch" / "a.png")
    from app.__main__ import main

    assert main(["classify", str(tmp_path / "batch"), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"]) == 2
    err = capsys.readouterr().err
    assert "the demo model is not installed with this copy of fma-judge" in err and "--model BUNDLE" in err, err


def test_the_self_test_checks_the_model_the_window_loads(tmp_path, monkeypatch) -> None:
    """It checked the demo model whatever the workstation's window loads: IT saw PASS for a model nobody uses, and
    nothing of a factory model on a share that is not connected."""
    from app import selftest
    from app.selftest import Check

    settings = tmp_path / "s.ini"
    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(settings))
    monkeypatch.setattr(selftest, "check_qt", lambda: ())
    checked: list = []
    monkeypatch.setattr(selftest, "check_model", lambda bundle: checked.append(bundle) or Check("model", True, "ok"))
    factory = tmp_path / "share" / "factory_v3"
    settings.write_text(f"[General]\nmodel_path={factory.as_posix()}\n", encoding="utf-8")
    lines: list[str] = []
    assert selftest.run(["--self-test", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"], out=lines.append) == 1
    assert checked == [] and any(f"the model this workstation uses is not there: {factory}" in line for line in lines)
    factory.mkdir(parents=True)
    assert selftest.run(["--self-test", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"], out=lines.append) == 0
    assert checked == [factory]
    other = tmp_path / "other"
    selftest.run(["--self-test", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "--model", str(other)], out=lines.append)
    assert checked == [factory, other]  # --model wins


def test_a_place_this_account_may_not_open_and_a_missing_package_are_one_line(monkeypatch, capsys, tmp_path) -> None:
    """IT's walk-through: a folder with no access ended ``backup``, ``export`` and the self-test in a traceback (the
    window vanished), and ``recalibrate`` on the workstation install in ``No module named 'torch'``."""
    from pathlib import Path

    import app.commands
    import app.monitor_commands
    from app.__main__ import main
    from app.store.store_file import not_a_store_file

    def denied(_argv):
        raise PermissionError(13, "Permission denied", "/srv/fma/backups")

    monkeypatch.setattr(app.commands, "backup_main", denied)
    assert main(["backup", "--db", "x.sqlite3"]) == 2
    assert capsys.readouterr().err == ("fma-judge backup: error: permission denied: /srv/fma/backups (this account may not "
                                       "open it; ask IT for access, or choose another place)\n")

    def no_torch(_argv):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(app.monitor_commands, "recalibrate_main", no_torch)
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # (as the workstation install: torch is not there)
    assert main(["recalibrate", "--model", "m"]) == 2
    assert capsys.readouterr().err.startswith("fma-judge recalibrate: error: this install has no torch (the workstation "
                                              "install leaves out the training packages)")

    def broken(_argv):  # a module of the project's own missing is a bug: its traceback, not the training advice
        raise ModuleNotFoundError("No module named 'app.services.gone'", name="app.services.gone")

    monkeypatch.setattr(app.monitor_commands, "recalibrate_main", broken)
    with pytest.raises(ModuleNotFoundError):
        main(["recalibrate", "--model", "m"])

    def no_entry(self, *a, **k):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_dir", no_entry)
    reason = not_a_store_file(tmp_path / "locked" / "x.sqlite3")
    assert reason is not None and reason.kind == "no_permission" and f"{tmp_path / 'locked'}: permission denied" in str(
        reason)


def test_a_gpu_asked_of_an_install_without_torch_is_one_line(monkeypatch) -> None:
    """``--device cuda`` on the workstation install (no torch) ended in ``No module named 'torch'``."""
    import argparse
    import sys

    from models.sysinfo import device_arg

    monkeypatch.setitem(sys.modules, "torch", None)  # (an import of it fails as in an install without it)
    with pytest.raises(argparse.ArgumentTypeError, match="this install has no torch, so no GPU support"):
        device_arg("cuda")
    assert device_arg("cpu") == "cpu"


def test_classify_of_a_folder_it_cannot_list_fails(monkeypatch, capsys, tmp_path) -> None:
    """It printed "0 images" and a left-out line, and exited 0: a scheduled run looked fine."""
    from pathlib import Path

    from app.__main__ import main

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", denied)
    assert main(["classify", str(tmp_path), "--db", f"sqlite:///{tmp_path / 'x.sqlite3'}"]) == 2
    assert capsys.readouterr().err == f"fma-judge classify: error: cannot list {tmp_path}: Permission denied\n"


def test_version_is_the_packages_and_names_the_schema(capsys) -> None:
    """IT could not inventory the installed versions (no --version)."""
    import tomllib

    from conftest import ROOT

    from app import __version__
    from app.__main__ import main
    from app.store.db import HEAD_REVISION
    from app.ui.app import build_parser

    assert __version__ == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"fma-judge {__version__} (database schema {HEAD_REVISION})\n"
    assert "fma-judge deploy --model M" in build_parser().format_help()


def test_a_reader_that_leaves_early_is_no_error(monkeypatch) -> None:
    """`fma-judge monitor … | head` ended in a BrokenPipeError traceback."""
    import app.monitor_commands
    from app.__main__ import main

    def piped(_argv):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(app.monitor_commands, "monitor_main", piped)
    assert main(["monitor", "--model", "m"]) == 0
