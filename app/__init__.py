"""fma-judge desktop application (PySide6) and its store."""

__version__ = "0.1.0"  # as pyproject.toml's (tests/test_cli_help.py holds them together); fma-judge --version
