"""The one sha256 helper: of bytes, of text, or of a file's content (read in 1 MiB chunks, with its head)."""

from __future__ import annotations

import hashlib
import os

CHUNK = 1 << 20


def sha256_hex(data: bytes | str) -> str:
    """sha256 hex digest of bytes (text is encoded as UTF-8)."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 hex digest of a file's bytes, streamed (memory stays flat for any file size).

    Raises:
        OSError: the file cannot be read.
    """
    return file_sha256_and_head(path)[0]


def file_sha256_and_head(path: str | os.PathLike[str]) -> tuple[str, bytes]:
    """:func:`file_sha256`, and the file's first :data:`CHUNK` bytes (its header, read once with the content).

    Raises:
        OSError: the file cannot be read.
    """
    with open(path, "rb") as handle:
        head = handle.read(CHUNK)
        digest = hashlib.sha256(head)
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest(), head
