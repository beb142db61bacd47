"""The files an export writes (:mod:`app.store.export` reads the rows): the training manifest CSV, the JSON list,
and the ImageFolder tree (the images copied into a folder per type, their spectra beside them, ``manifest.csv`` and
the notes' ``notes.csv``); and the check of where they go. No database here."""

from __future__ import annotations

import bisect
import contextlib
import csv
import filecmp
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from app.store.errors import ExportError
from app.store.export_lock import ExportLock, export_lock
from app.store.records import EXPORT_COLUMNS, ExportRow
from models.atomic import make_folder, replacing
from models.data.manifest import CsvWriter, ManifestRow, spreadsheet_safe, write_manifest
from models.hashing import CHUNK, file_sha256
from models.imageio import IMAGE_SUFFIXES
from models.spectra.reading import SPECTRUM_SUFFIXES

IMAGEFOLDER_MANIFEST = "manifest.csv"
IMAGEFOLDER_NOTES = "notes.csv"
UNKNOWN_FOLDER = "unknown_unlabelled"


def write_csv(rows: Iterator[ExportRow], out: Path, spectra: bool = False) -> int:
    """Write the rows as a training manifest (``path,label`` first, with ``spectrum`` when ``spectra``, then the
    other export columns).

    Paths under the CSV's folder are written relative to it; returns the number of rows.
    """
    count = 0

    def lines() -> Iterator[ManifestRow]:
        nonlocal count
        for row in rows:
            count += 1
            yield row.manifest_row()

    write_manifest(lines(), out, columns=("spectrum",) if spectra else (),
                   extra_columns=EXPORT_COLUMNS[2:], bom=True)  # [:2] is path,label; the BOM for Excel
    return count


def write_json(rows: Iterator[ExportRow], out: Path) -> int:
    count = 0
    make_folder(out.parent)
    with replacing(out) as handle:
        handle.write("[")
        for row in rows:
            handle.write(",\n  " if count else "\n  ")
            handle.write(json.dumps(row.to_json(), ensure_ascii=False))
            count += 1
        handle.write("\n]\n" if count else "]\n")
    return count


def _copied(rows: Iterator[ExportRow], folder: Path, skipped: list[tuple[str, str]],
            earlier: Mapping[str, list[Path]] | None = None, beside: _Spectra | None = None,
            keep: set[Path] | None = None, hashes: dict[Path, str] | None = None) -> Iterator[ExportRow]:
    """Copy each image to ``folder/<leaf>/<sha8>_<name>`` and yield the row pointing at the copy. ``earlier``:
    sha256 -> an earlier export's copies (:func:`_earlier_copies`); one of them stands in for a source file gone
    since (a share away), copied to the image's type with its spectra. An earlier copy whose spectra could not all
    be copied goes into ``keep``: never removed as stale (they are perhaps the only ones left: review)."""
    beside = beside if beside is not None else _Spectra()
    keep = keep if keep is not None else set()
    for row in rows:
        source = Path(row.path)
        target = folder / (row.leaf or UNKNOWN_FOLDER) / f"{row.sha256[:8]}_{source.name}"
        if not target.resolve().is_relative_to(folder.resolve()):  # a leaf id stored by an older version: ".."
            skipped.append((row.path, f"the type id {row.leaf!r} would write outside the export folder"))
            continue  # (checked first: an earlier copy moved to it was written outside: review)
        if row.path and not source.is_file():
            # its file gone since: an earlier copy serves, checked by its bytes, copied to its type's folder with its
            # spectra (relabelled since, it stayed under the old type for good; its spectra went with the old copy:
            # reviews); the old copy goes as stale once the export is written
            serving = [c for c in sorted((earlier or {}).get(row.sha256, ()), key=lambda c: c != target)
                       if _earlier_copy_serves(c, row.sha256, folder, hashes)]
            served = serving[0] if serving else None
            if served is not None and served != target:
                try:
                    make_folder(target.parent)
                    _copy_checked(served, target, row.sha256)
                    beside.add_image(target)
                except OSError as exc:
                    skipped.append((row.path, f"its file is gone and its earlier copy could not be copied: "
                                              f"{exc.strerror or exc}"))
                    keep.add(served)
                    continue
            for other in (c for c in serving if c != target):  # (to be removed as stale: their spectra come along)
                for spectrum in beside.beside(other):
                    copy = target.with_name(target.stem + spectrum.name[len(other.stem):])
                    try:
                        _copy_whole(spectrum, copy)
                        beside.add(copy)
                    except OSError as exc:
                        skipped.append((str(spectrum), f"spectrum not copied (its image was): {exc.strerror or exc}"))
                        keep.add(other)
            if served is not None:
                yield replace(row, path=str(target), spectra=tuple(map(str, beside.beside(target))))
                continue
        if not row.path or not source.is_file():
            skipped.append((row.path, "missing file: cannot copy"))
            continue
        make_folder(target.parent)  # (a folder that cannot be made stops the export: every file would fail)
        try:
            same = _copy_checked(source, target, row.sha256)
        except OSError as exc:
            skipped.append((row.path, f"cannot copy: {exc.strerror or exc}"))
            continue
        if not same:
            skipped.append((row.path, REPLACED_REASON))
            continue
        failed = len(skipped)
        copied = tuple(_copied_spectra(row, source, target, skipped))
        if len(skipped) > failed:  # a spectrum's file gone: the earlier copies keep theirs (the only ones left: review)
            keep.update((earlier or {}).get(row.sha256, ()))
        yield replace(row, path=str(target), spectra=copied)


class _Spectra:
    """The spectra copied beside an export's copies (``<sha8>_P001.spot2.jdx``, ``<sha8>_P001_spot2.jdx`` beside
    ``<sha8>_P001.png``: the name's start and a spectrum's suffix, never another file sharing the name; of two
    images whose names start alike, ``P001`` and ``P001_rework``, the longer one's: removing the first took the
    second's, review), each type folder listed once (a look-up per image listed the folder for each: an export
    whose sources were all gone took 14 s for 4,000 copies, review)."""

    def __init__(self) -> None:
        self._names: dict[Path, tuple[list[str], list[str]]] = {}

    def _listed(self, where: Path) -> tuple[list[str], list[str]]:
        """The folder's spectra and its images' stems, each sorted."""
        if where not in self._names:
            spectra, stems = [], []
            try:
                for entry in os.scandir(where):
                    suffix = Path(entry.name).suffix.lower()
                    if suffix in SPECTRUM_SUFFIXES and entry.is_file():
                        spectra.append(entry.name)
                    elif suffix in IMAGE_SUFFIXES:
                        stems.append(Path(entry.name).stem)
            except OSError:
                pass
            self._names[where] = (sorted(spectra), sorted(stems))
        return self._names[where]

    def fresh(self) -> None:
        """Forget the listings (the folders were written since)."""
        self._names.clear()

    def beside(self, copy: Path) -> list[Path]:
        names, stems = self._listed(copy.parent)
        longer, j = [], bisect.bisect_right(stems, copy.stem)  # (the stems it starts, sorted after it)
        while j < len(stems) and stems[j].startswith(copy.stem):
            longer.append(stems[j])
            j += 1
        found, i = [], bisect.bisect_left(names, copy.stem)
        while i < len(names) and names[i].startswith(copy.stem):
            if not any(names[i].startswith(s) for s in longer):
                found.append(copy.parent / names[i])
            i += 1
        return found

    def add(self, spectrum: Path) -> None:
        _insert(self._listed(spectrum.parent)[0], spectrum.name)

    def add_image(self, copy: Path) -> None:
        _insert(self._listed(copy.parent)[1], copy.stem)

    def remove(self, spectrum: Path) -> None:
        with contextlib.suppress(ValueError):
            self._listed(spectrum.parent)[0].remove(spectrum.name)


def _insert(names: list[str], name: str) -> None:
    """``name`` into the sorted list ``names``, once."""
    i = bisect.bisect_left(names, name)
    if i == len(names) or names[i] != name:
        names.insert(i, name)


def _copy_whole(source: Path, target: Path) -> None:
    """Copy a spectrum through a file beside ``target`` put in its place once whole (a full disk left a part of it
    under the name, taken for the whole the next time: review); one there with the same bytes is left."""
    if target.is_file() and filecmp.cmp(source, target, shallow=False):
        return
    part = target.with_name(f".{target.name}.part-{os.getpid()}")
    try:
        shutil.copyfile(source, part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def _earlier_copy_serves(target: Path, sha256: str, folder: Path, hashes: dict[Path, str] | None = None) -> bool:
    """Whether an earlier export's copy of the judged picture is at ``target`` (inside ``folder``), by its bytes;
    ``hashes`` keeps each file's sha256 for the export's next question about it (a copy that served a gone source
    was read again when it was found stale: review)."""
    try:
        if not (sha256 and target.resolve().is_relative_to(folder.resolve()) and target.is_file()):
            return False
        digest = hashes.get(target) if hashes is not None else None
        if digest is None:
            digest = file_sha256(target)
            if hashes is not None:
                hashes[target] = digest
        return digest == sha256
    except OSError:
        return False


REPLACED_REASON = "its file holds another picture now (written over since it was judged): not copied"
"""Why an ImageFolder export left out a judged image whose file no longer holds the picture judged (a folder's file
written over with another picture kept its path: it was copied under the old picture's type; a training on the
folder by its class folders learned it so, one on its ``manifest.csv`` skipped it by its sha256)."""


def _copy_checked(source: Path, target: Path, sha256: str) -> bool:
    """Copy ``source`` to ``target`` hashing it on the way (one read, into a file beside ``target`` put in its place
    once it checks out); True when its bytes are those of ``sha256``, else False and ``target`` is as it was (an
    earlier export's copy of the judged picture stays, and is exported: True).

    Raises:
        OSError: the file cannot be read or the copy written (``target`` as it was).
    """
    digest = hashlib.sha256()
    part = target.with_name(f".{target.name}.part-{os.getpid()}")
    try:
        with open(source, "rb") as src, open(part, "wb") as dst:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                digest.update(chunk)
                dst.write(chunk)
        if sha256 and digest.hexdigest() != sha256:  # an earlier export's copy of the judged picture still serves
            return target.is_file() and file_sha256(target) == sha256
        os.replace(part, target)
        return True
    finally:
        part.unlink(missing_ok=True)


def _copied_spectra(row: ExportRow, source: Path, target: Path, skipped: list[tuple[str, str]]) -> Iterator[str]:
    """Copy the row's spectra beside the image's copy, named after it (``P001.spot2.jdx`` beside ``<sha8>_P001.png``
    becomes ``<sha8>_P001.spot2.jdx``), so that they pair by name again; a spectrum that cannot be copied is listed
    (the image is exported all the same)."""
    for spectrum in map(Path, row.spectra):
        name = spectrum.name
        tail = name[len(source.stem):] if name.lower().startswith(source.stem.lower()) else "." + name
        copy = target.with_name(target.stem + tail)
        try:
            _copy_whole(spectrum, copy)
        except OSError as exc:
            skipped.append((str(spectrum), f"spectrum not copied (its image was): {exc.strerror or exc}"))
            continue
        yield str(copy)


EXPORT_LEDGER = ".fma-export-copies.csv"
"""Every copy the exports into an imagefolder made that is still there (``path,sha256``), kept by each export: its
own and the earlier ones it leaves. A narrower export leaves copies out of its ``manifest.csv``; read from the
manifest alone, such a copy stayed under its old type for good once its image was relabelled (review). Only a copy
listed here or in the manifest is ever removed: never a file the export did not make (a scan of the folder took a
lead's backup of a type folder for copies, and removed it: review)."""


def write_imagefolder(rows: Iterator[ExportRow], folder: Path, skipped: list[tuple[str, str]],
                      spectra: bool = False, *, overwrite: bool = True,
                      by: str | None = None) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
    """Copy the images (:func:`_copied`), write ``manifest.csv``, the notes' sidecar ``notes.csv`` and the ledger
    (:data:`EXPORT_LEDGER`), and remove the copies an earlier export there made of the images this one copied under
    another type (relabelled since: :func:`_earlier_copies`).

    Returns:
        ``(rows exported, paths of the earlier copies removed, paths of the earlier copies this export does not
        list and left in place)``: outside its scope, or their file gone since.

    Raises:
        ExportError: ``"busy"``, another export writes into the folder now (:func:`export_lock`, naming ``by``);
            ``"exists"``, without ``overwrite``, the folder holds a ``manifest.csv``.
    """
    # One export into a folder at a time: two could remove each other's copies. Without ``overwrite`` an earlier
    # export is looked for again under the lock: the caller's look came first, and two exports started at once both
    # passed it and wrote (team walk-through).
    with export_lock(folder, by=by) as lock:
        if not overwrite and (manifest := existing_export(folder, "imagefolder")) is not None:
            raise ExportError(f"{manifest}: exists (written since this export began: another export?); --overwrite "
                              "writes over it, or choose another --out", "exists", out=str(folder))
        return _write_imagefolder(rows, folder, skipped, spectra, lock)


def _write_imagefolder(rows: Iterator[ExportRow], folder: Path, skipped: list[tuple[str, str]], spectra: bool,
                       lock: ExportLock) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
    notes: list[tuple[str, str]] = []
    earlier = _earlier_copies(folder, skipped)
    by_sha: dict[str, list[Path]] = {}
    for path, sha in earlier.items():
        by_sha.setdefault(sha, []).append(path)
    written: dict[Path, str] = {}
    beside, keep, hashes = _Spectra(), set(), {}

    def noted(copies: Iterator[ExportRow]) -> Iterator[ExportRow]:
        for row in copies:
            written[Path(row.path)] = row.sha256
            if row.note:
                notes.append((Path(row.path).relative_to(folder).as_posix(), row.note))
            yield row

    removed: tuple[str, ...] = ()
    try:
        beating = (lock.beat() or row for row in rows)  # (each row: one whose lock was taken over stops)
        count = write_csv(noted(_copied(beating, folder, skipped, by_sha, beside, keep, hashes)),
                          folder / IMAGEFOLDER_MANIFEST, spectra)
        lock.beat(now=True)  # (the manifest written: the notes, the removals and the ledger only while ours)
        with replacing(folder / IMAGEFOLDER_NOTES, bom=True) as handle:
            writer = CsvWriter(handle)
            writer.writerow(("path", "note"))
            writer.writerows((path, spreadsheet_safe(note)) for path, note in notes)
        # stale: an earlier copy of a picture this export copied elsewhere (relabelled since), still holding it,
        # and not the same file by another path (a folder link, a name differing in case: the export removed its
        # own copy, review). The others stay: outside this export's scope, or their file gone (perhaps the only
        # copy left: a narrower --since removed them all: review)
        copies = {sha: path for path, sha in written.items()}
        candidates = [(p, sha) for p, sha in earlier.items() if p not in written and p not in keep and sha in copies]
        ours = {_file_id(p) for p in written} if candidates else set()  # (a stat per copy: only when one is asked)
        stale = {p for p, sha in candidates if _file_id(p) not in ours and _earlier_copy_serves(p, sha, folder, hashes)}
        lock.beat()
        beside.fresh()  # (the export wrote into the folders: a copy named like a stale one's start is seen)
        removed = tuple(_remove_stale(sorted(stale), skipped, beside,
                                      lambda p: lock.beat(now=True) or copies[earlier[p]].is_file()))
    finally:  # the ledger even when the export stops midway: its copies so far are known to the next (review);
        gone = set(removed)  # not into a folder another export has taken over, though (it writes its own)
        kept = [p for p in sorted(earlier) if p not in written and str(p) not in gone and p.is_file()]
        if lock.kept() or not lock.held:
            with replacing(folder / EXPORT_LEDGER) as handle:
                ledger = CsvWriter(handle)
                ledger.writerow(("path", "sha256"))
                ledger.writerows((p.relative_to(folder).as_posix(), sha) for p, sha in
                                 sorted([*written.items(), *((p, earlier[p]) for p in kept)]))
    return count, removed, tuple(map(str, kept))


def _file_id(path: Path) -> tuple[int, int] | None:
    """The file ``path`` names, whatever the path to it (device and inode); None when it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _earlier_copies(folder: Path, skipped: list[tuple[str, str]]) -> dict[Path, str]:
    """The image copies earlier exports into ``folder`` made (copy -> sha256), by its ledger
    (:data:`EXPORT_LEDGER`) and its ``manifest.csv``: rows ``TYPE/<sha8>_NAME`` whose ``sha256`` starts with that
    prefix, in a type folder of this one. Rows of any other form (a data set's own manifest) are never counted, so
    nothing but an export's own copies is ever removed. A ledger that cannot be read (saved by a spreadsheet in
    another encoding or with ``;``) is set aside under another name, said in ``skipped``: rewritten, its rows were
    lost without a word (review)."""
    found: dict[Path, str] = {}
    for name in (IMAGEFOLDER_MANIFEST, EXPORT_LEDGER):
        try:
            with (folder / name).open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                rows = list(reader)
                unread = None if {"path", "sha256"} <= set(reader.fieldnames or ()) else "no path,sha256 columns"
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            rows, unread = [], str(getattr(exc, "strerror", None) or exc)
        if unread is not None and name == EXPORT_LEDGER:
            _set_aside(folder / name, unread, skipped)
        for row in rows:
            path, sha = (row.get("path") or "").replace("\\", "/"), (row.get("sha256") or "").lower()
            parts = Path(path).parts
            if len(sha) == 64 and len(parts) == 2 and parts[1].startswith(sha[:8] + "_") and ":" not in parts[0]:
                copy = folder / parts[0] / parts[1]
                if copy.parent.resolve().parent == folder.resolve():  # a type folder of this one ("/", "..": not)
                    found[copy] = sha
    return found


def _set_aside(ledger: Path, why: str, skipped: list[tuple[str, str]]) -> None:
    aside = ledger.with_name(f"{ledger.stem}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}{ledger.suffix}")
    try:
        ledger.replace(aside)
    except OSError as exc:
        skipped.append((str(ledger), f"the ledger of earlier copies cannot be read ({why}) nor set aside "
                                     f"({exc.strerror or exc}): the copies it lists stay in place"))
        return
    skipped.append((str(ledger), f"the ledger of earlier copies cannot be read ({why}): set aside as {aside.name}; "
                                 "the copies it lists stay in place"))


def _remove_stale(paths: list[Path], skipped: list[tuple[str, str]], beside: _Spectra,
                  superseded: Callable[[Path], bool]) -> Iterator[str]:
    """Remove each earlier copy, the spectra copied beside it, and its type's folder once empty (an empty class
    folder stops torchvision's ImageFolder), while ``superseded(copy)`` (this export's copy of it is there: another
    export into the folder at once may have removed it); one that cannot be removed is listed in ``skipped``."""
    for path in paths:
        if not superseded(path):
            continue
        try:
            for spectrum in beside.beside(path):  # (P001_spot2.jdx, copied as <sha8>_P001_spot2.jdx, stayed: review)
                spectrum.unlink(missing_ok=True)
                beside.remove(spectrum)
            path.unlink(missing_ok=True)
        except OSError as exc:
            skipped.append((str(path), f"an earlier export's copy, which this export does not list, could not be "
                                       f"removed: {exc.strerror or exc}"))
            continue
        yield str(path)
        with contextlib.suppress(OSError):  # not empty (other images of the type), or not ours to remove
            path.parent.rmdir()


def existing_export(out: str | os.PathLike[str], fmt: str) -> Path | None:
    """What an export to ``out`` would write over: the CSV or JSON file itself, or an imagefolder's
    ``manifest.csv`` (an earlier export there, or a data set's own manifest); None when nothing. The app asks
    before it goes on; ``fma-judge export`` goes on only with ``--overwrite``."""
    out = Path(out).expanduser()
    clash = out / "manifest.csv" if fmt == "imagefolder" else out
    return clash if clash.is_file() else None


def check_out(out: Path, fmt: str) -> Path:
    out = out.expanduser().absolute()
    if fmt == "imagefolder":
        if out.exists() and not out.is_dir():
            raise ExportError(f"{out}: exists and is not a folder (imagefolder export needs a folder)", "not_folder",
                              out=str(out))
    elif out.is_dir():
        raise ExportError(f"{out}: is a folder; give a file name for the {fmt} export (e.g. labels.{fmt})", "is_folder",
                          out=str(out), example=f"labels.{fmt}")
    return out
