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


@pytest.mark.parametrize(("code", "kind", "words"), [
    (errno.EROFS, PermissionError, "is on a read-only file system"),
    (errno.ENOSPC, OSError, "(No space left on device)"),
])
def test_a_read_only_file_system_or_a_full_disk_names_the_file_meant_too(tmp_path, monkeypatch, code, kind,
                                                                         words) -> None:
    """An export to a read-only mount said "[Errno 30] Read-only file system: '…/.labels.csv.e6f814d2.tmp'", a hidden
    file the analyst never asked for (seen in a day's walk-through); only a refused folder was named before."""
    target = tmp_path / "labels.csv"

    def refuse(path, *args, **kwargs):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(kind) as info:
        atomic.write_text(target, "b\n")
    assert str(info.value).startswith(f"cannot write {target}") and words in str(info.value)
    assert ".tmp" not in str(info.value) and "Errno" not in str(info.value)


def test_a_disk_that_fills_while_the_file_is_written_names_the_file_meant(tmp_path, monkeypatch) -> None:
    """A full disk fails at write or close far more often than when the empty temporary is made; it said
    "[Errno 28] No space left on device" without a file name, and left nothing behind but must say which file."""
    target = tmp_path / "labels.csv"
    target.write_text("old\n", encoding="utf-8")

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError) as info:
        atomic.write_text(target, "new\n")
    assert str(info.value) == f"cannot write {target} (No space left on device)"
    assert target.read_text(encoding="utf-8") == "old\n" and [p.name for p in tmp_path.iterdir()] == ["labels.csv"]
    with pytest.raises(ValueError, match="not mine"), atomic.replacing(target) as handle:  # the caller's errors pass
        handle.write("x")
        raise ValueError("not mine")


def test_a_folder_that_cannot_be_made_names_the_folder_that_refused(tmp_path, monkeypatch) -> None:
    """An export into share/labels, share not there and its parent read-only: the folder named is the parent, which
    refused (it said "its folder share is read-only", a folder that does not exist)."""
    real = os.mkdir

    def mkdir(path, *args, **kwargs):
        if os.fspath(path) == str(tmp_path / "share"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    with pytest.raises(PermissionError) as info:
        atomic.make_folder(tmp_path / "share" / "labels")
    assert str(info.value) == (f"cannot write {tmp_path / 'share'}: its folder {tmp_path} is read-only for you "
                               "(Permission denied)")
    atomic.make_folder(tmp_path / "other" / "labels")  # made, parents and all
    assert (tmp_path / "other" / "labels").is_dir()
