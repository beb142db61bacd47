"""Note texts typed and not saved: what N brings back, kept on disk so that a crash or a closed app loses none. No Qt.

A draft is the text of the note editor that did not reach the database: typed and cancelled (Esc, a slip onto
Cancel), refused by the store (a disk that is full, a network database away), or still being typed (the editor
writes it as it goes). Drafts are keyed by image id, or by the sorted image ids of a queue selection, and kept per
database in one small JSON file (``{"format": 1, "drafts": {"12": "text", "12,13": "text"}, "over": {"12": "the
saved note it was typed over"}}``), replaced atomically on every change. The database's URL is never written: the
file is named by its hash.

Two windows of the app on one database (or two analysts' sessions on one profile) share the file: each change is
read, merged and written under a lock file beside it (``….json.lock``, created exclusively; one left by a process
that died is taken over after :data:`STALE_LOCK_S`), so one window's write does not drop the other's draft. A change
that cannot have the lock in :data:`LOCK_WAIT_S` is written anyway (a window that hangs is worse than that rare race).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path

from models.atomic import write_text

__all__ = ["NoteDrafts", "drafts_file"]

FORMAT = 1
LOCK_WAIT_S = 0.5
"""How long a change waits for another window's write of the file (milliseconds, in practice) before it writes
anyway: a draft written over a rare race beats a window that hangs."""
STALE_LOCK_S = 10.0
"""A lock file seen unchanged this long was left by a process that died between taking and releasing it."""


def drafts_file(folder: str | Path, db_url: str) -> Path:
    """Where the drafts of the database at ``db_url`` are kept, in ``folder``: one file per database, however its
    ``--db`` was written (a SQLite file's path or URL, ``C:\\x.sqlite`` or ``sqlite:///C:/x.sqlite``, are one file)."""
    from app.store.urls import sqlite_path  # (imports SQLAlchemy: never before the window is shown)

    path = sqlite_path(db_url)
    key = f"sqlite:///{os.path.normcase(os.path.abspath(path))}" if path is not None else db_url
    return Path(folder) / f"note-drafts-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}.json"


_LOCKS_SEEN: dict[Path, tuple[tuple[int, int], float]] = {}
"""A lock file found in the way: its (inode, modification time) and when this process first saw it so (monotonic)."""


@contextlib.contextmanager
def _locked(path: Path, wait_s: float | None = None) -> Iterator[bool]:
    """Hold ``path``'s lock file (``path`` + ``.lock``) for the block; yields False when it could not be had in
    ``wait_s`` (default :data:`LOCK_WAIT_S`; the block runs anyway). The lock is a file created exclusively, which
    every OS and network share keeps to one creator, unlike advisory locks; it holds a token of this holder, and is
    removed on release only while it still holds that token (not one taken over while this process was stopped)."""
    lock = path.with_name(path.name + ".lock")
    token = f"{os.getpid()}-{secrets.token_hex(8)}".encode()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    deadline, held = time.monotonic() + (LOCK_WAIT_S if wait_s is None else wait_s), False
    while not held:
        try:
            fd = os.open(lock, flags, 0o600)
        except (FileExistsError, PermissionError):  # held (on Windows also: a lock still being deleted)
            if _taken_over(lock):
                continue
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
            continue
        except OSError:  # a folder that cannot be written: the write below says why
            break
        try:
            os.write(fd, token)
        finally:
            os.close(fd)
        held = True
    try:
        yield held
    finally:
        if held:
            with contextlib.suppress(OSError):
                if lock.read_bytes() == token:
                    lock.unlink()


def _taken_over(lock: Path) -> bool:
    """Remove a lock left by a process that died holding it: one this process has seen unchanged (the same file,
    the same modification time) for :data:`STALE_LOCK_S` by its own clock (a file server's clock may differ).
    True when it was removed."""
    try:
        st = lock.stat()
    except OSError:
        return False  # gone already, or not to be seen: the next try says which
    key, now = (st.st_ino, st.st_mtime_ns), time.monotonic()
    seen = _LOCKS_SEEN.get(lock)
    if seen is None or seen[0] != key:
        _LOCKS_SEEN[lock] = (key, now)
        return False
    if now - seen[1] < STALE_LOCK_S:
        return False
    del _LOCKS_SEEN[lock]
    with contextlib.suppress(OSError):
        st = lock.stat()
        if (st.st_ino, st.st_mtime_ns) == key:  # (not one another window made a moment ago)
            lock.unlink()
    return True


def _text_key(key: Hashable) -> str:
    return ",".join(str(int(i)) for i in key) if isinstance(key, tuple) else str(int(key))


def _key(text: str) -> Hashable:
    parts = tuple(int(p) for p in text.split(","))
    return parts if len(parts) > 1 else parts[0]


class NoteDrafts:
    """Note texts typed and not saved, by key (an image id; a sorted tuple of them for a queue selection).

    In memory until :meth:`attach` names the file; from then on every change is written to it. ``error`` holds why
    the last write failed (None: the drafts on disk are the ones in memory).
    """

    def __init__(self) -> None:
        self._texts: dict[Hashable, str] = {}
        self._over: dict[Hashable, str] = {}  # the saved note each draft was typed over (:meth:`over`)
        self.path: Path | None = None
        self.error: str | None = None
        self.held: tuple[Hashable, ...] = ()  # the keys :meth:`attach` found on disk
        self.on_change: Callable[[], None] | None = None  # told after a draft is kept or dropped

    def attach(self, path: Path) -> int:
        """Keep the drafts in ``path`` from now on, adding those it holds (a run that crashed or was closed with
        drafts); returns how many it held. An unreadable file is set aside (``.bad``), never lost, and ``error``
        says so."""
        self.path, held = Path(path), {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("drafts"), dict):
                raise ValueError("not a drafts file of this version")
            held = {_key(k): v for k, v in data["drafts"].items() if isinstance(v, str) and v.strip()}
            over = data.get("over") if isinstance(data.get("over"), dict) else {}
            self._over.update({_key(k): v for k, v in over.items() if _key(k) in held and isinstance(v, str)})
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError; so is a key that is no image id
            self.error = f"could not read the unsaved notes in {self.path} ({exc})"
            with contextlib.suppress(OSError):  # set aside, or left where it is when even that fails
                self.path.replace(self.path.with_name(self.path.name + ".bad"))
        for key, text in held.items():
            self._texts.setdefault(key, text)
        self.held = tuple(held)
        if self._texts:
            self._save()
        return len(held)

    def get(self, key: Hashable) -> str | None:
        return self._texts.get(key)

    def over(self, key: Hashable) -> str | None:
        """The saved note ``key``'s draft was typed over ("" none); None: not known (a file of an earlier version).
        A colleague's note written since is then told apart from the one the analyst saw: the draft came back and
        replaced it, unseen (team walk-through)."""
        return self._over.get(key) if key in self._texts else None

    def keep(self, key: Hashable, text: str, note: str = "") -> bool:
        """Keep ``text``, typed over the saved ``note``, unless it is blank or ``note`` itself (then any older draft
        goes); True: kept. A draft kept again keeps the note it was first typed over."""
        if not text.strip() or text.strip() == note.strip():
            self.drop(key)
            return False
        if key not in self._texts:
            self._over[key] = note
        if self._texts.get(key) != text:
            self._texts[key] = text
            self._save(key)
        return True

    def seen(self, key: Hashable, note: str) -> None:
        """The analyst has seen the saved ``note`` beside ``key``'s draft: the draft is typed over it from now."""
        if key in self._texts and self._over.get(key) != note:
            self._over[key] = note
            self._save(key)

    def drop(self, key: Hashable) -> None:
        self._over.pop(key, None)
        if self._texts.pop(key, None) is not None:
            self._save(key)

    def held_left(self) -> tuple[Hashable, ...]:
        """The keys :meth:`attach` found on disk whose drafts are still unsaved."""
        return tuple(key for key in self.held if key in self._texts)

    def _save(self, key: Hashable | None = None) -> None:
        """Write this window's change (``key``'s draft, or all of them) over what the file holds now: two windows
        of the app on one database share the file, and writing the whole of one's drafts wiped the other's."""
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _locked(self.path):
                on_disk, over = self._on_disk()
                changed = self._texts if key is None else {key: self._texts.get(key)}
                for k, text in changed.items():
                    if text is None:
                        on_disk.pop(_text_key(k), None)
                        over.pop(_text_key(k), None)
                    else:
                        on_disk[_text_key(k)] = text
                        if k in self._over:
                            over[_text_key(k)] = self._over[k]
                write_text(self.path, json.dumps({"format": FORMAT, "drafts": on_disk, "over": over},
                                                 ensure_ascii=False))
            self.error = None
        except OSError as exc:  # a full disk, a read-only profile: the drafts stay in memory, the close asks
            self.error = f"could not write the unsaved notes to {self.path} ({exc})"
        if self.on_change is not None:
            self.on_change()

    def _on_disk(self) -> tuple[dict[str, str], dict[str, str]]:
        """The drafts the file holds now (another window's too) and the notes they were typed over; nothing when
        it is missing or unreadable (attach set an unreadable one aside)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}, {}
        ours = isinstance(data, dict) and data.get("format") == FORMAT
        drafts, over = (data.get("drafts"), data.get("over")) if ours else (None, None)
        drafts = {k: v for k, v in drafts.items() if isinstance(v, str)} if isinstance(drafts, dict) else {}
        return drafts, {k: v for k, v in over.items() if k in drafts and isinstance(v, str)} \
            if isinstance(over, dict) else {}

    def __contains__(self, key: Hashable) -> bool:
        return key in self._texts

    def __len__(self) -> int:
        return len(self._texts)
