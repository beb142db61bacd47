"""The one sha256 helper: of bytes, of text, or of a file's content (read in 1 MiB chunks)."""

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
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
