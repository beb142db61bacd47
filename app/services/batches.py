"""Batches: opening a folder (or chosen files) into the store, and reading a batch back. No Qt.

A folder's images are identified by their content hash: re-opening a folder finds its batch and resumes where
it stood, and a file that moved keeps its history. Shared by the app (on a worker thread), the headless
pre-classifier (:meth:`app.services.predicting.PredictingService.classify_folder`) and the benchmarks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from app.services import file_facts, registrar, spectra
from app.services.file_facts import (
    FactReader,
    FolderNotFoundError,
    header_size,
    is_same_picture,
    read_facts,
    same_pictures,
)
from app.store import repo
from app.store.db import read_only, session_scope
from app.store.errors import NeverOpenedError
from app.store.records import (
    FILE_REPLACED,
    FILES_BATCH_NOTE,
    BatchItem,
    BatchSummary,
    FileSeen,
    ImageRecord,
    OpenedBatch,
    reach_error,
    unpredicted,
)
from models.bundle.manifest import BundleError, taxonomy_from_json
from models.imageio import (
    IMAGE_SUFFIXES,
    is_content_reason,
    is_image_file,
    os_error_reason,
    regular_file_reason,
)
from models.spectra import SPECTRUM_SUFFIXES, is_spectrum_candidate
from models.taxonomy import Taxonomy

__all__ = ["OpenedBatch", "Progress", "header_size", "open_files", "open_folder", "scan_folder", "unpredicted"]

Progress = Callable[[int, int], None]
FirstPart = Callable[[OpenedBatch], None]
FIRST = 64  # the first files registered (a screenful), read in the opening thread and handed over first
STEP = 1024  # files registered per write transaction after them
AHEAD = 2  # chunks read ahead by the worker processes while one is written
IN_THREAD = 512  # a folder with up to FIRST + IN_THREAD files is read in the opening thread (no process start-up)
PART_ROWS = 256  # the most items handed over at once (a chunk's 1,024 rows listed at once stalled the window 17 ms)
OUT_OF_PROCESS = 20_000  # a folder opened in parts with more files is registered after its first part by a child


UNSUPPORTED_IMAGE_SUFFIXES = frozenset({".gif", ".webp", ".heic", ".heif", ".avif", ".jp2", ".j2k", ".svg", ".ico",
                                        ".dng", ".nef", ".cr2", ".arw"})


LISTED_EVERY = 2048
""":func:`scan_folder` reports the entries listed so far after each folder and every this many entries, at most
every :data:`LISTED_GAP` seconds (a tree of many small folders would flood the window with reports)."""
LISTED_GAP = 0.1


def scan_folder(folder: Path, recursive: bool = False, spectra: list[Path] | None = None,
                texts: list[str] | None = None, listed: Callable[[int], None] | None = None,
                top_listed: Callable[[int], None] | None = None) -> tuple[list[Path], list[tuple[str, str]]]:
    """Image files of a folder (sorted by path; hidden files and folders skipped), and every other file with the reason
    it is not in the batch: an unsupported image format, a link to a missing file, a pipe, a folder named ``*.png``,
    or a file that is no image at all (notes, spreadsheets: listed so that nothing is left out unseen). With
    ``spectra``, the files that may be FTIR spectra (``.jdx``, ``.dx``, ``.jcamp``, ``.csv``, ``.txt``) go there
    instead, to be matched to their images (:func:`app.services.spectra.attach_pairs`). With ``texts``, the images'
    paths as text go there too, in the same order (a ``Path`` computes its text again: 1.5 µs a file). ``listed`` is
    called with the number of entries listed so far after each folder and every :data:`LISTED_EVERY` entries (a
    folder on a slow share can take a minute), the first time at once: what it raises stops the listing (a cancelled
    opening). ``top_listed`` is called once with the number of entries of ``folder`` itself, as soon as it is listed
    (before its sub-folders and before any entry is looked at).

    One directory listing per folder (``os.scandir``: no ``stat`` for a plain file), so 100,000 files list in well
    under a second. Sub-folders are entered through real folders only, never through links (a link can loop).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FolderNotFoundError(folder)
    # (sort key, path): the key is the path's parts as the OS compares them, joined by NUL, which sorts as the tuple
    # of parts would (a prefix first) but as one text: sorting 100,000 keys is one call that keeps the interpreter
    # lock from the window's thread, 71 ms with texts against 125 ms with tuples
    found: list[tuple[str, str]] = []
    skipped: list[tuple[str, tuple[str, str]]] = []
    below: list[tuple[str, str]] = [(str(folder), "")]  # (folder, the key prefix of its entries)
    seen, last = 0, -math.inf

    def report(last_one: bool = False) -> None:
        nonlocal last
        if listed is not None and (last_one or time.monotonic() - last >= LISTED_GAP):
            last = time.monotonic()
            listed(seen)

    while below:
        directory, rel = below.pop()
        entries: list[os.DirEntry] = []
        try:
            with os.scandir(directory) as listing:
                for entry in listing:  # counted as the OS lists them: one large folder on a slow share takes long
                    entries.append(entry)
                    seen += 1
                    if seen % LISTED_EVERY == 0:
                        report()
        except OSError as exc:
            seen -= len(entries)
            skipped.append((rel, (directory, f"cannot list the folder ({exc.strerror or exc})")))
            continue
        if top_listed is not None and not rel:
            top_listed(len(entries))
        for entry in entries:
            name = entry.name
            if name.startswith("."):  # hidden files and folders
                continue
            key = rel + os.path.normcase(name)
            suffix = os.path.splitext(name)[1].lower()
            if suffix in IMAGE_SUFFIXES and _entry_is(entry, "file"):
                found.append((key, entry.path))
            elif _entry_is(entry, "dir"):
                if recursive and not entry.is_symlink():
                    below.append((entry.path, key + "\0"))
                elif not recursive and suffix in IMAGE_SUFFIXES:
                    skipped.append((key, (entry.path, "is a folder, not an image file")))
            elif suffix in IMAGE_SUFFIXES:
                skipped.append((key, (entry.path, regular_file_reason(Path(entry.path)) or "cannot read the file")))
            elif spectra is not None and suffix in SPECTRUM_SUFFIXES and _entry_is(entry, "file"):
                spectra.append(Path(entry.path))
            elif suffix in UNSUPPORTED_IMAGE_SUFFIXES:
                skipped.append((key, (entry.path, f"format not supported ({suffix[1:].upper()}); convert it to PNG "
                                                  "or TIFF")))
            else:
                kind = f"a {suffix[1:].upper()} file" if suffix else "a file without a suffix"
                skipped.append((key, (entry.path, f"not an image ({kind}): images are PNG, JPEG, BMP or TIFF")))
        report()
    report(last_one=True)
    found.sort(key=lambda kp: kp[0])
    skipped.sort(key=lambda ks: ks[0])
    if texts is not None:
        texts.extend(p for _k, p in found)
    return [Path(p) for _k, p in found], [s for _k, s in skipped]


def _entry_is(entry: os.DirEntry, kind: str) -> bool:
    """``entry.is_file()`` / ``is_dir()`` (following links), False when the OS cannot tell."""
    try:
        return entry.is_file() if kind == "file" else entry.is_dir()
    except OSError:
        return False


def open_folder(engine: Engine, folder: Path, *, recursive: bool = False, progress: Progress | None = None,
                model_version: str | None = None, first_part: FirstPart | None = None) -> OpenedBatch:
    """Open (or resume) the batch of a folder: every file is read once (hashed, header checked).

    The items carry the predictions of ``model_version`` (None: each image's most recent prediction).
    ``progress`` gets (files registered, files) and, while the folder is listed, (entries listed so far, 0); what it
    raises stops the opening (a cancelled one stops during the listing too).
    ``first_part``, for a folder opened for the first time (its batch is empty), is called with the batch as its
    first chunk of files stands, while the rest is registered: the app shows and predicts those at once (on the
    development machine a 500-image folder took 0.3-0.5 s to register at start-up). For a batch opened before, it
    is called first with the batch as stored (read from the store; of its files only the headers of the few images
    the store could not decode are read), so that the analyst resumes
    where it stood, which may be anywhere in it, while the folder is read again: every file ``stat``-ed, the new
    ones registered and handed over as they are written (``continues``), and the result is what is new, or, when
    rows already handed over changed (a file renamed, a spectrum added), the whole batch again (not
    ``continues``); a row whose picture is in no file now is in ``unreadable`` (deleted, or :data:`FILE_REPLACED`).
    A 20,000-image folder's batch was on screen after 2.0 s of ``stat``s and writes, and is now
    after its 0.4 s read (``python -m bench folder``'s "re-open").

    A folder is one batch (:func:`app.store.repo.folder_batch`): opened with its sub-folders after a plain
    opening, the sub-folders' images join it; once recursive, a plain opening resumes it with its sub-folders.
    """
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise FolderNotFoundError(folder)
    if (why := read_only(engine)) is not None:
        return _open_read_only(engine, folder, recursive, model_version, why)
    with session_scope(engine) as s:
        batch = repo.folder_batch(s, folder, recursive=recursive, name=folder.name or str(folder))
    first = child = None
    found = spectra.OpeningSpectra(engine)  # FTIR spectra named after their images (known once the folder is scanned)
    shown: list[BatchItem] = []  # a batch opened before, handed over as stored while its folder is read again
    if first_part is not None and batch.total > 0:
        shown = batch_items(engine, batch.id, model_version)
        if shown:
            first_part(OpenedBatch(batch.id, batch.name, str(folder), shown, _undecodable(shown), [],
                                   stored_taxonomy(engine, shown), recursive=batch.recursive))
    if first_part is not None and (batch.total == 0 or shown):
        def first(part: OpenedBatch) -> None:  # its rows name their sub-folders from the start
            first_part(dataclasses.replace(part, recursive=batch.recursive))
        first = found.first(first)
    candidates: list[Path] = []
    texts: list[str] = []
    with contextlib.ExitStack() as stack:
        def top_listed(n: int) -> None:  # a large folder: the child's start-up overlaps the rest of the scan
            nonlocal child
            if n > OUT_OF_PROCESS:
                child = registrar.start(engine, batch.id, register_chunks)
                if child is not None:
                    stack.enter_context(child)

        listed = (lambda n: progress(n, 0)) if progress else None
        files, left_out = scan_folder(folder, batch.recursive, spectra=candidates, texts=texts, listed=listed,
                                      top_listed=top_listed if first is not None and not shown else None)
        if candidates:
            found.match(files, candidates)
        opened = _fill(engine, batch.id, batch.name, str(folder), files, progress, model_version, left_out, first,
                       child=child, texts=texts, shown=shown)
    # a cancelled opening stops there (not for a folder without images: (0, 0) would read as a listing)
    tick = (lambda: progress(len(files), len(files))) if progress and files else None
    below = 0 if batch.recursive else images_below(folder, tick=tick)
    opened = found.attach(opened, tick=tick)
    if opened.continues and found.changed & {it.image.image_id for it in shown}:  # a row on screen got a spectrum
        opened = _whole(engine, opened, model_version, found.changed)
    return dataclasses.replace(opened, recursive=batch.recursive, below=below)


def _whole(engine: Engine, opened: OpenedBatch, model_version: str | None, spectra_changed: set[int]) -> OpenedBatch:
    """``opened`` as the whole batch again (not ``continues``): rows handed over before changed."""
    items = spectra.spectra_changed(batch_items(engine, opened.batch_id, model_version), spectra_changed)
    return dataclasses.replace(opened, items=items, taxonomy=stored_taxonomy(engine, items), continues=False)


def images_below(folder: Path, limit: int = 10_000, max_entries: int = 50_000,
                 tick: Callable[[], None] | None = None) -> int:
    """How many image files the sub-folders of ``folder`` hold (hidden ones skipped), counted up to ``limit``
    images, and looking at ``max_entries`` directory entries at most (a deep tree of other files on a network
    share must not hold up the window): a plain opening says that more lie below. ``tick`` is called after each
    folder looked into: what it raises stops the count (a cancelled opening)."""
    count = seen = 0
    for root, dirs, names in os.walk(folder):
        if tick is not None:
            tick()
        seen += len(dirs) + len(names)
        if seen > max_entries:
            return count
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if Path(root) == folder:
            continue
        count += sum(1 for n in names if not n.startswith(".") and is_image_file(Path(n)))
        if count >= limit:
            return limit
    return count


def _open_read_only(engine: Engine, folder: Path, recursive: bool, model_version: str | None,
                    why: str) -> OpenedBatch:
    """The folder's batch as stored, from a read-only store (found as :func:`app.store.repo.folder_batch` finds it,
    with either recursive flag): files it does not hold are listed as left out."""
    with session_scope(engine, action="read") as s:
        existing = repo.find_batches_by_folder(s, folder)
    if not existing:
        raise NeverOpenedError(folder, why)
    batch = existing[0]
    # (the spectra are listed apart, as when the folder was opened: the stored ones show with their images)
    files, left_out = scan_folder(folder, recursive or batch.recursive, spectra=[])
    items = batch_items(engine, batch.id, model_version)
    held = {Path(it.image.path) for it in items}
    left_out = left_out + [(str(f), "not in this read-only database") for f in files if f not in held]
    return OpenedBatch(batch.id, batch.name, str(folder), items, _unreadable(items), left_out,
                       stored_taxonomy(engine, items), recursive=batch.recursive)


def _undecodable(items: Sequence[BatchItem]) -> dict[int, str]:
    """Why each image the store keeps no size for (it could not be decoded when registered) cannot be, from its
    header: those few files are read, the others not touched."""
    out = {}
    for it in items:
        if it.image.width is None:
            with contextlib.suppress(OSError):  # (not reached now: the folder's reading names it)
                if why := header_size(Path(it.image.path))[2]:
                    out[it.image.image_id] = why
    return out


def _unreadable(items: Sequence[BatchItem]) -> dict[int, str]:
    """Why each image without a prediction cannot be read, as far as its file's ``stat`` says (missing, a folder,
    empty; no file is opened: a batch of 100,000 on a share), and each the model did not reach whose file is gone
    from a folder that is here (deleted, not a share away: it would wait for good)."""
    out = {}
    for it in items:
        path, p = Path(it.image.path), it.prediction
        if (why := file_facts.stat_reason(path) if p is None else p.error if reach_error(p)
                and not path.exists() and path.parent.is_dir() else None) is not None:
            out[it.image.image_id] = why
    return out


def open_files(engine: Engine, files: Sequence[Path], *, progress: Progress | None = None,
               model_version: str | None = None, first_part: FirstPart | None = None) -> OpenedBatch:
    """A new batch from chosen (or dropped) files (items and ``first_part`` as in :func:`open_folder`).

    The FTIR spectra beside the chosen images, named after them, come with them (:func:`models.spectra.match_spectra`),
    as do spectrum files chosen with their images; a chosen spectrum whose image was not chosen is left out."""
    chosen = [Path(f) for f in files]
    given: list[Path] = []  # spectrum files chosen with the images
    left_out: list[tuple[str, str]] = []
    for f in (f for f in chosen if not is_image_file(f)):
        if is_spectrum_candidate(f.name) and f.is_file():
            given.append(f.resolve())
        else:
            left_out.append((str(f), f"format not supported ({f.suffix[1:].upper() or 'no suffix'}); convert it to "
                                     "PNG or TIFF"))
    files = []
    for f in filter(is_image_file, chosen):  # one stat per file
        if (reason := regular_file_reason(f)) is None:
            files.append(f.resolve())
        else:
            left_out.append((str(f), reason))
    common = Path(os.path.commonpath([str(f.parent) for f in files])) if files else Path.cwd()
    with session_scope(engine) as s:
        batch = repo.create_batch(s, name=repo.unique_batch_name(s, f"{len(files)} files from {common.name or common}",
                                                                  common),
                                  source_folder=common, recursive=False, notes=FILES_BATCH_NOTE, kind="files")
    found = spectra.OpeningSpectra(engine)
    mine, others = _spectra_beside(files, given)
    if mine or others:
        found.match(files, mine)
        found.left += others
    first = found.first(first_part) if first_part is not None else None
    return found.attach(_fill(engine, batch.id, batch.name, str(common), files, progress, model_version, left_out,
                              first))


def _spectra_beside(images: Sequence[Path], given: Sequence[Path] = ()) -> tuple[list[Path], list[tuple[str, str]]]:
    """The spectrum files beside chosen ``images`` (or among the ``given`` files) that belong to them, and the
    ``given`` ones that do not, with the reason. One listing per folder. A file belongs to the image of its folder
    with the longest name it starts with, chosen or not: ``P001.spot2.jdx`` is ``P001.spot2.png``'s when there is
    one, and ``P001.png`` chosen alone does not take it (:func:`models.spectra.match_spectra`)."""
    chosen: dict[str, set[str]] = {}
    for image in images:
        chosen.setdefault(os.path.normcase(str(image.parent)), set()).add(os.path.normcase(image.stem))
    stems: dict[str, set[str]] = {}  # every image's name in those folders
    files = list(given)
    for folder in {str(image.parent) for image in images}:
        names = stems.setdefault(os.path.normcase(folder), set())
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            continue  # the images say so when they are read
        for entry in entries:
            base, suffix = os.path.splitext(entry.name)
            if entry.name.startswith("."):
                continue
            if suffix.lower() in IMAGE_SUFFIXES:
                names.add(os.path.normcase(base))
            elif is_spectrum_candidate(entry.name) and _entry_is(entry, "file"):
                files.append(Path(entry.path))
    mine: list[Path] = []
    others: list[tuple[str, str]] = []
    for path in dict.fromkeys(files):
        folder, base = os.path.normcase(str(path.parent)), os.path.normcase(path.stem)
        names = stems.get(folder, set())
        while base not in names and "." in base:  # "P001.spot2" belongs to "P001" unless P001.spot2.png is there
            base = base.rsplit(".", 1)[0]
        if base in chosen.get(folder, ()):
            mine.append(path)
        elif path in given:
            others.append((str(path), spectra.unmatched_reason(path) if base not in names else
                           "the spectrum of another image of its folder, which was not chosen"))
    return mine, others


def _fill(engine: Engine, batch_id: int, name: str, source: str, files: list[Path],
          progress: Progress | None, model_version: str | None,
          left_out: Sequence[tuple[str, str]] = (), first_part: FirstPart | None = None,
          child: registrar.Child | None = None, texts: Sequence[str] | None = None,
          shown: Sequence[BatchItem] = ()) -> OpenedBatch:
    """Register ``files`` in the batch a chunk at a time, and return the batch's items (``texts``: their paths as
    text, handed to a child as they are; ``shown``: the batch's items handed over before, as stored).

    Per chunk: which files are known unchanged (one read), the content hash and header of the others, outside any
    transaction, then one short write transaction (the write lock is not held while files are read, so the model
    thread registering its version does not wait for the disk). The first :data:`FIRST` files are read here and
    registered first; the rest are read :data:`AHEAD` chunks ahead by worker processes (:class:`FactReader`) while
    this thread writes, :data:`STEP` files a transaction.

    With ``first_part``, every registered chunk is handed over as it is written (the first as the batch, the next
    ones with ``continues``), and the batch returned holds only the items not handed over yet (``continues``): the
    app lists and predicts a 100,000-image folder's first screenful while the rest is registered, without reading
    or holding the batch twice. Past :data:`OUT_OF_PROCESS` files, a child process registers the rest
    (:mod:`app.services.registrar`; ``child`` when it was started already) and this thread only hands its chunks
    over: the writing's Python work holds another interpreter's lock than the window's.

    With ``shown``, the parts and the result continue them (with what cannot be read among them in ``unreadable``),
    unless a file of theirs was renamed: then the result is the whole batch again.
    """
    unreadable: dict[int, str] = {}
    skipped: list[tuple[str, str]] = list(left_out)
    total = len(files)
    parts = first_part is not None and (total > FIRST or bool(shown))
    done = 0  # files registered
    delivered = shown[-1].image.position + 1 if shown else 0  # type: ignore[operator]  # positions handed over
    now: dict[int | None, tuple[int, str]] = {}  # position -> (image, path) as written (a copy's last path wins)
    copied = False  # a later chunk wrote a row handed over in a part before: a copy of its picture, named after it

    def written(size: int, records: list[ImageRecord], fresh: set[int], more: bool) -> None:
        nonlocal delivered, done, copied
        done += size
        if shown:
            now.update((r.position, (r.image_id, r.path)) for r in records)
        elif delivered and any(r.position is not None and r.position < delivered for r in records):
            copied = True  # (its row is under the copy's name now: the list kept the first, which the batch did not
            # hold; walk-through. A first opening's positions are not all kept: 100,000 of them took 42 MB)
        if progress:
            progress(done, total)
        if parts and more and (items := _new_items(engine, batch_id, model_version, delivered, records, fresh)):
            for a in range(0, len(items), PART_ROWS):  # the window lists each at once: a few ms of its thread
                some = items[a:a + PART_ROWS]
                first_part(OpenedBatch(batch_id, name, source, some, dict(unreadable),  # type: ignore[misc]
                                       list(skipped), stored_taxonomy(engine, some) if not delivered else None,
                                       continues=bool(delivered)))
                delivered = some[-1].image.position + 1

    if child is None and parts and total > OUT_OF_PROCESS:  # files in sub-folders: started now
        child = registrar.start(engine, batch_id, register_chunks)
    if child is None or not parts or total <= OUT_OF_PROCESS:
        for chunk in register_chunks(engine, batch_id, files, skipped, unreadable):
            written(*chunk)
    else:
        with child:
            for chunk in register_chunks(engine, batch_id, files[:FIRST], skipped, unreadable):
                written(*chunk[:3], True)
            rest = texts[FIRST:] if texts else files[FIRST:]  # 100,000 paths' str(): 0.15 s under the window's GIL
            for chunk in child.chunks(rest, skipped, unreadable):  # the rest, as the child writes it
                written(*chunk)
            if child.left is not None:  # the child stopped: this thread registers what it did not report
                for chunk in register_chunks(engine, batch_id, files[FIRST + child.left:], skipped, unreadable):
                    written(*chunk)
    written_ids, written_at = {i for i, _p in now.values()}, {p: i for i, p in now.values()}
    why_left = dict(skipped)
    for it in shown:  # a row handed over before whose picture is in no file now: deleted (it waited for good), or
        if it.image.image_id not in written_ids and it.image.image_id not in unreadable:  # written over (with a
            why = why_left.get(it.image.path, "file not found")  # copy of another of the batch's pictures too)
            new = unreadable.get(written_at.get(it.image.path, -1), "")  # (written over with what is no image:
            unreadable[it.image.image_id] = new if is_content_reason(new) else FILE_REPLACED \
                if it.image.path in written_at or is_same_picture(why) else why  # said so, not "another picture")
    items = batch_items(engine, batch_id, model_version, start=delivered)
    opened = OpenedBatch(batch_id, name, source, items, unreadable, skipped,
                         stored_taxonomy(engine, items) if not delivered else None, continues=bool(delivered))
    # a row handed over before is at another file now (renamed, or ``copied``; compared once all is written: a
    # picture's copies in two chunks set its path back and forth)
    moved = copied or any(now.get(it.image.position, (it.image.image_id, it.image.path)) !=
                          (it.image.image_id, it.image.path) for it in shown)
    return _whole(engine, opened, model_version, set()) if moved else opened


def register_chunks(engine: Engine, batch_id: int, files: Sequence[Path], skipped: list[tuple[str, str]],
                    unreadable: dict[int, str]) -> Iterator[tuple[int, list[ImageRecord], set[int], bool]]:
    """Register ``files`` at the end of the batch, :data:`FIRST` and then :data:`STEP` a transaction; yields each
    written chunk as ``(files, records, ids of images new to the store, more to come)``. Files that cannot be read
    join ``skipped``; images whose file cannot be decoded, ``unreadable``."""
    total = len(files)
    bounds = [(0, min(FIRST, total))] + [(a, min(a + STEP, total)) for a in range(FIRST, total, STEP)]
    done = 0
    listed: dict[int, str] = {}  # image id -> the file the batch lists it under (the last copy registered)
    with FactReader(parallel=total > FIRST + IN_THREAD) as reader:
        pending: deque[tuple[int, Callable[[], list[tuple[FileSeen, str | None]]]]] = deque()  # (files, wait)
        for k, (a, b) in enumerate(bounds):
            pending.append((b - a, _read_chunk(engine, list(files[a:b]), skipped, reader if k else None)))
            last = k == len(bounds) - 1  # the first chunk is written once the workers have the next one
            while pending and (len(pending) > AHEAD or last or (k == 1 and done == 0)):
                size, wait = pending.popleft()
                seen = wait()
                records: list[ImageRecord] = []
                fresh: set[int] = set()
                if seen:
                    with session_scope(engine) as s:
                        records = repo.add_files_to_batch(s, batch_id, [f for f, _why in seen], fresh)
                    unreadable.update({r.image_id: why for r, (_f, why) in zip(records, seen, strict=True) if why})
                    same_pictures([(r.image_id, str(f.path)) for r, (f, _w) in zip(records, seen, strict=True)],
                                  listed, skipped)
                done += size
                yield size, records, fresh, bool(pending) or not last  # the last chunk comes with the result


def _new_items(engine: Engine, batch_id: int, model_version: str | None, start: int, records: list[ImageRecord],
               fresh: set[int]) -> list[BatchItem]:
    """The batch's items from position ``start`` on, just registered as ``records``: made from them when every image
    is new to the store (nothing predicted or judged it yet: no read), else read back."""
    if records and all(r.image_id in fresh for r in records):
        by_id = {r.image_id: r for r in records if r.position is not None and r.position >= start}
        return [BatchItem(r, None, None) for r in sorted(by_id.values(), key=lambda r: r.position)]
    return batch_items(engine, batch_id, model_version, start=start)


def _read_chunk(engine: Engine, paths: list[Path], skipped: list[tuple[str, str]],
                reader: FactReader | None) -> Callable[[], list[tuple[FileSeen, str | None]]]:
    """Start reading a chunk of files (``reader`` None: in this thread, now); returns a function that waits for them
    and gives each readable file with the reason it is not decoded (None: it is fine). A file that cannot be read at
    all joins ``skipped``. Files seen before at their path are ``stat``-ed here and, when unchanged, not read again;
    the others (all of a new folder) are ``stat``-ed, hashed and header-read by the reader."""
    texts = [str(p) for p in paths]
    stats: dict[str, os.stat_result] = {}
    gone: set[str] = set()
    with session_scope(engine, action="read") as s:
        for text in repo.paths_seen(s, texts):
            try:
                stats[text] = os.stat(text)
            except OSError as exc:
                gone.add(text)
                skipped.append((text, os_error_reason(exc)))
        found = repo.images_at_paths(s, [(t, st.st_size, st.st_mtime_ns) for t, st in stats.items()])
    known = {t: image for t, image in zip(stats, found, strict=True) if image is not None}
    new = [t for t in texts if t not in known and t not in gone]
    facts = read_facts(new) if reader is None else None
    wait = reader.submit(new) if reader is not None else None

    def finish() -> list[tuple[FileSeen, str | None]]:
        got = dict(zip(new, facts if facts is not None else wait(), strict=True))  # type: ignore[misc]
        seen: list[tuple[FileSeen, str | None]] = []
        for text in texts:
            if (image := known.get(text)) is not None:
                st = stats[text]
                try:
                    why = None if image.width else header_size(Path(text))[2]
                except OSError as exc:
                    skipped.append((text, os_error_reason(exc)))
                    continue
                seen.append((FileSeen(text, st.st_size, st.st_mtime_ns, image_id=image.image_id), why))
            elif isinstance(fact := got.get(text), OSError):
                skipped.append((text, os_error_reason(fact)))
            elif fact is not None:
                sha, w, h, why, size, mtime = fact
                # an image that is not decoded (too large, a JPEG cut short) keeps no size: the store knows it for
                # one it cannot read (the start page counts it so), and a later opening reads its header again
                seen.append((FileSeen(text, size, mtime, sha256=sha, width=None if why else w,
                                      height=None if why else h), why))
        return seen

    return finish


def recent_batches(engine: Engine, limit: int = 10) -> list[BatchSummary]:
    """The batches worked on most recently, with their progress (the start page's list)."""
    with session_scope(engine, action="read") as s:
        return repo.recent_batches(s, limit)


def open_batch(engine: Engine, batch_id: int, model_version: str | None = None) -> OpenedBatch:
    """A stored batch as it stands, by id (a batch of chosen files, or of a folder that is no longer there): its
    files are not scanned again.

    Raises:
        ValueError: no batch has this id.
    """
    try:
        with session_scope(engine, action="read") as s:
            batch = repo.get_batch(s, batch_id)
    except LookupError:
        raise ValueError(f"no batch with id {batch_id}") from None
    items = batch_items(engine, batch_id, model_version)
    return OpenedBatch(batch.id, batch.name, batch.source_folder, items, _unreadable(items), [],
                       stored_taxonomy(engine, items), recursive=batch.recursive)


def stored_taxonomy(engine: Engine, items: Sequence[BatchItem]) -> Taxonomy | None:
    """The taxonomy stored with the newest registered model version among the items' predictions, or None."""
    versions = {it.prediction.model_version for it in items if it.prediction is not None}
    if not versions:
        return None
    with session_scope(engine, action="read") as s:
        newest = next((v for v in repo.list_model_versions(s) if v.version in versions), None)
        manifest = repo.model_manifest(s, newest.version) if newest is not None else None
    try:
        return taxonomy_from_json(manifest, source=f"model version {newest.version}") if manifest else None
    except BundleError:
        return None


def batch_items(engine: Engine, batch_id: int, model_version: str | None = None, start: int = 0) -> list[BatchItem]:
    """The images of a batch in order (from position ``start`` on), each with its latest prediction (of
    ``model_version``) and judgment."""
    with session_scope(engine, action="read") as s:
        return repo.batch_items(s, batch_id, model_version=model_version, start=start)


def batch_of_image(engine: Engine, image_id: int) -> BatchSummary | None:
    """The batch to open an image in: the newest folder batch holding it whose folder still exists, else the
    newest batch holding it at all (chosen files, or a folder gone: opened as stored); None when none does."""
    with session_scope(engine, action="read") as s:
        held = repo.batches_of_image(s, image_id)
    return next((b for b in held if b.kind == "folder" and Path(b.source_folder).is_dir()), held[0] if held else None)
