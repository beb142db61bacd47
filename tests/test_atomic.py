"""Replacing a file atomically (models/atomic.py): a folder that cannot be written is named with the file meant."""

from __future__ import annotations

import errno
import os

import pytest

from models import atomic


def test_a_read_only_folder_names_the_file_meant_not_the_temporary_one(tmp_path, monkeypatch) -> None:
    target = tmp_path / "labels.csv"
    atomic.write_text(target, "a\n")
    assert target.read_text(encoding="utf-8") == "a\n" and [p.name for p in tmp_path.iterdir()] == ["labels.csv"]

    def refuse(path, *args, **kwargs):  # (the tests run as root, whom no folder refuses)
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(PermissionError) as info:
        atomic.write_text(target, "b\n")
    assert str(info.value) == f"cannot write {target}: its folder {tmp_path} is read-only for you (Permission denied)"
    assert ".tmp" not in str(info.value)
