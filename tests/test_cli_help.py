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
