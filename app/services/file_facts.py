"""What opening a folder reads of each new file: its content hash and its header's size (never a full decode).

No Qt and no store: this module is light enough (Pillow and :mod:`models.imageio`) for the worker processes that read
a large folder's files in parallel (:class:`FactReader`). A folder of 100,000 images is read by ``min(4, cores)``
processes while the opening thread writes the store; a few hundred files are read in the opening thread, since
starting a process costs more than reading them.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import struct
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from models.hashing import file_sha256_and_head
from models.imageio import EMPTY_FILE, NOT_AN_IMAGE, TOO_LARGE, budget_reason, regular_file_reason

Facts = tuple[str, int | None, int | None, str | None, int, int]
"""sha256, width, height, why it is not decoded (None: fine), file size, modification time (ns)."""
SUB = 256  # files per job handed to a worker process


class FolderNotFoundError(FileNotFoundError):
    """A batch's folder is not there (moved, renamed, or on a drive or share not connected); ``folder`` names it."""

    def __init__(self, folder: Path) -> None:
        super().__init__(f"folder not found: {folder}")
        self.folder = folder

    def __reduce__(self) -> tuple:  # (across processes: the folder, not the message, makes it again)
        return type(self), (self.folder,)


def header_size(path: Path) -> tuple[int | None, int | None, str | None]:
    """Width and height from the image header (no full decode), or the reason it cannot be read.

    An image over the decoding budget (:data:`models.imageio.MAX_PIXELS`) keeps its size and gets the reason: it
    is listed with the batch (unreadable, with that reason), and never decoded.
    """
    if (reason := regular_file_reason(path)) is not None:
        return None, None, reason
    try:
        nbytes = path.stat().st_size
    except OSError as exc:
        return None, None, f"cannot read image header ({exc})"
    return _header(path, nbytes)


def _header(path: Path, nbytes: int) -> tuple[int | None, int | None, str | None]:
    try:
        with Image.open(path) as im:
            width, height, jpeg = int(im.width), int(im.height), im.format == "JPEG"
    except UnidentifiedImageError:
        if nbytes == 0:
            return None, None, EMPTY_FILE
        return None, None, NOT_AN_IMAGE
    except Image.DecompressionBombError as exc:  # Pillow's own guard, far over the budget
        return None, None, f"{TOO_LARGE} ({exc})"
    except (OSError, ValueError, SyntaxError) as exc:
        return None, None, f"cannot read image header ({exc})"
    return width, height, budget_reason(width, height, jpeg=jpeg, nbytes=nbytes)


def png_size(head: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG from its first bytes (signature, then an IHDR chunk whose CRC checks), without
    Pillow: a third of the time of reading a 100,000-image folder went to opening each header with it. None: not
    such a PNG (Pillow reads it, and says what is wrong)."""
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[8:16] != b"\x00\x00\x00\rIHDR":
        return None
    if zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
        return None
    width, height = struct.unpack(">II", head[16:24])
    return (width, height) if width and height else None


def read_facts(paths: Sequence[str]) -> list[Facts | OSError]:
    """Each file's content hash, header size, size and modification time (one ``stat``); a file that cannot be read
    at all, or is no longer a regular file, gives an ``OSError`` (one bad file never fails the others). Runs in a
    worker process or in the caller's thread."""
    out: list[Facts | OSError] = []
    for text in paths:
        path = Path(text)
        try:
            st = os.stat(text)
            if not stat.S_ISREG(st.st_mode):  # replaced since the folder was listed: never read a pipe
                out.append(OSError(regular_file_reason(path) or "not a regular file"))
                continue
            sha, head = file_sha256_and_head(path)  # read once: a PNG's size is in its first 24 bytes
            if (size := png_size(head)) is not None:
                width, height, reason = *size, budget_reason(*size)
            else:
                width, height, reason = _header(path, st.st_size)
            out.append((sha, width, height, reason, st.st_size, st.st_mtime_ns))
        except OSError as exc:
            out.append(exc)
    return out


def _quiet_worker() -> None:
    """A worker yields the CPU to the app's UI and model threads (it only reads files ahead of them)."""
    if hasattr(os, "nice"):
        os.nice(5)


class FactReader:
    """Reads files' facts (:func:`read_facts`) in worker processes, or in the caller's thread when ``parallel`` is
    false or no process can be started (a locked-down workstation, a frozen app without ``freeze_support``): the
    folder opens either way, only slower.

    ``submit(paths)`` starts reading and returns a function that waits for the facts, in the order of ``paths``. A
    worker that dies (a file that crashes the image library) takes its jobs with it: those files are read again in
    this thread. Use as a context manager: the processes stop when it exits.
    """

    def __init__(self, parallel: bool, workers: int | None = None) -> None:
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None
        self.parallel = parallel
        self.failure: str | None = None  # why the processes were given up (None: they were not)

    def __enter__(self) -> FactReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, paths: Sequence[str]) -> Callable[[], list[Facts | OSError]]:
        paths = list(paths)
        pool = self._started() if self.parallel and paths else None
        if pool is None:
            return lambda: read_facts(paths)
        try:
            jobs: list[tuple[list[str], Future]] = [(paths[i:i + SUB], pool.submit(read_facts, paths[i:i + SUB]))
                                                    for i in range(0, len(paths), SUB)]
        except (BrokenProcessPool, RuntimeError, OSError) as exc:
            self._give_up(exc)
            return lambda: read_facts(paths)

        def wait() -> list[Facts | OSError]:
            out: list[Facts | OSError] = []
            for part, job in jobs:
                try:
                    out.extend(job.result())
                except (BrokenProcessPool, OSError) as exc:  # the worker died under these files
                    self._give_up(exc)
                    out.extend(read_facts(part))
            return out

        return wait

    def _started(self) -> ProcessPoolExecutor | None:
        if self._pool is None and self.failure is None:
            try:  # spawn: the app's process has Qt and model threads, which a fork would copy mid-flight
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_quiet_worker)
            except (OSError, ValueError, RuntimeError) as exc:
                self._give_up(exc)
        return self._pool

    def _give_up(self, exc: BaseException) -> None:
        self.failure = f"{type(exc).__name__}: {exc}"
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


SAME_PICTURE = "the same picture as "
"""How a copy's reason in ``skipped`` starts (:func:`same_pictures`)."""


def is_same_picture(reason: str) -> bool:
    """Whether a left-out file's reason says it holds the same picture as another file of the batch."""
    return reason.startswith(SAME_PICTURE)


def same_pictures(files: Sequence[tuple[int, str]], listed: dict[int, str], skipped: list[tuple[str, str]]) -> None:
    """Files that are the same picture as another of the batch (a copy under another name), given as ``(image id,
    path)`` in the order registered: the batch holds the picture once, under the last of its names (``listed``:
    image id -> that name, kept across a folder's chunks), and the others join ``skipped`` with that reason. They
    vanished from the list, the classify output and the export without a word (night-shift walk-through)."""
    for image_id, path in files:
        earlier = listed.get(image_id)
        if earlier is not None and earlier != path:
            skipped.append((earlier, f"{SAME_PICTURE}{Path(path).name}: the batch holds it once, under that name"))
        listed[image_id] = path


def stat_reason(path: Path) -> str | None:
    """One ``stat`` for a plain file (the usual case); what else it is, :func:`regular_file_reason` says."""
    try:
        st = path.stat()
    except OSError:
        return regular_file_reason(path)  # (missing, a link to a missing file, no permission: it says which)
    if not stat.S_ISREG(st.st_mode):
        return regular_file_reason(path)
    return EMPTY_FILE if st.st_size == 0 else None
