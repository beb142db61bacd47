"""The files an export writes (:mod:`app.store.export` reads the rows): the training manifest CSV, the JSON list,
and the ImageFolder tree (the images copied into a folder per type, their spectra beside them, ``manifest.csv`` and
the notes' ``notes.csv``); and the check of where they go. No database here."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from app.store.errors import ExportError
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
            earlier: Mapping[str, list[Path]] | None = None) -> Iterator[ExportRow]:
    """Copy each image to ``folder/<leaf>/<sha8>_<name>`` and yield the row pointing at the copy. ``earlier``:
    an earlier export's copies by file name (:func:`_export_copies`); one of the judged picture stands in for a
    source file gone since (a share away), with its spectra."""
    for row in rows:
        source = Path(row.path)
        target = folder / (row.leaf or UNKNOWN_FOLDER) / f"{row.sha256[:8]}_{source.name}"
        if not target.resolve().is_relative_to(folder.resolve()):  # a leaf id stored by an older version: ".."
            skipped.append((row.path, f"the type id {row.leaf!r} would write outside the export folder"))
            continue  # (checked first: an earlier copy moved to it was written outside: review)
        if row.path and not source.is_file():
            # its file gone since: an earlier copy serves, copied to its type's folder with its spectra (relabelled
            # since, it stayed under the old type for good; its spectra went with the old copy: reviews), checked
            # by its bytes; the old copy goes as stale once the export is written
            served = next((c for c in sorted((earlier or {}).get(target.name, ()), key=lambda c: c != target)
                           if _earlier_copy_serves(c, row.sha256, folder)), None)
            if served is not None and served != target:
                make_folder(target.parent)
                with contextlib.suppress(OSError):
                    if _copy_checked(served, target, row.sha256):
                        for spectrum in _beside(served):
                            shutil.copyfile(spectrum, target.with_name(target.stem + spectrum.name[len(served.stem):]))
            if served is not None and target.is_file():
                yield replace(row, path=str(target), spectra=tuple(map(str, _beside(target))))
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
        yield replace(row, path=str(target), spectra=tuple(_copied_spectra(row, source, target, skipped)))


def _beside(copy: Path) -> list[Path]:
    """The spectra copied beside an export's copy (``<sha8>_P001.spot2.jdx``, ``<sha8>_P001_spot2.jdx`` beside
    ``<sha8>_P001.png``): its name's start and a spectrum's suffix, never another file sharing the name."""
    try:
        return sorted(p for p in copy.parent.glob(glob.escape(copy.stem) + "*")
                      if p != copy and p.suffix.lower() in SPECTRUM_SUFFIXES and p.is_file())
    except OSError:
        return []


def _earlier_copy_serves(target: Path, sha256: str, folder: Path) -> bool:
    """Whether an earlier export's copy of the judged picture is at ``target`` (inside ``folder``), by its bytes."""
    try:
        return bool(sha256) and target.resolve().is_relative_to(folder.resolve()) and target.is_file() and \
            file_sha256(target) == sha256
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
            shutil.copyfile(spectrum, copy)
        except OSError as exc:
            skipped.append((str(spectrum), f"spectrum not copied (its image was): {exc.strerror or exc}"))
            continue
        yield str(copy)


def write_imagefolder(rows: Iterator[ExportRow], folder: Path, skipped: list[tuple[str, str]],
                       spectra: bool = False) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
    """Copy the images (:func:`_copied`), write ``manifest.csv`` and the notes' sidecar ``notes.csv``, and remove
    the copies an earlier export there made of the images this one copied under another type (relabelled since:
    :func:`_export_copies`).

    Returns:
        ``(rows exported, paths of the earlier copies removed, paths of the earlier copies this export does not
        list and left in place)``: outside its scope, or their file gone since.
    """
    notes: list[tuple[str, str]] = []
    earlier = _export_copies(folder)
    written: dict[Path, str] = {}

    def noted(copies: Iterator[ExportRow]) -> Iterator[ExportRow]:
        for row in copies:
            written[Path(row.path)] = row.sha256
            if row.note:
                notes.append((Path(row.path).relative_to(folder).as_posix(), row.note))
            yield row

    count = write_csv(noted(_copied(rows, folder, skipped, earlier)), folder / IMAGEFOLDER_MANIFEST, spectra)
    with replacing(folder / IMAGEFOLDER_NOTES, bom=True) as handle:
        writer = CsvWriter(handle)
        writer.writerow(("path", "note"))
        writer.writerows((path, spreadsheet_safe(note)) for path, note in notes)
    # stale: a copy, under another type, of a picture this export copied (relabelled since), by its bytes. The
    # other copies stay, whether an earlier manifest listed them or not (a narrower export's left them out, and a
    # relabel after it kept the old copy for good: review): outside this export's scope, or their file gone (the
    # only copy left, perhaps: a narrower --since removed them all: review)
    stale = [path for copy, sha in written.items() for path in earlier.get(copy.name, ())
             if path not in written and _earlier_copy_serves(path, sha, folder)]
    kept = tuple(str(p) for paths in earlier.values() for p in sorted(paths) if p not in written and p not in stale)
    return count, tuple(_remove_stale(sorted(set(stale)), skipped)), kept


_COPY_NAME = re.compile(r"[0-9a-f]{8}_.+")


def _export_copies(folder: Path) -> dict[str, list[Path]]:
    """The copies an export into ``folder`` made, by file name: the images in its type folders named
    ``<first 8 of sha256>_NAME``. Read from the folder, not from its ``manifest.csv``: a narrower export leaves the
    copies outside its scope in place and out of its manifest. Only a copy whose bytes are a picture the export
    copies under another type is ever removed (a data set's own file of that form included: the same picture)."""
    found: dict[str, list[Path]] = {}
    try:
        types = [Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return {}
    for kind in types:
        try:
            names = [e.name for e in os.scandir(kind) if e.is_file(follow_symlinks=False)]
        except OSError:
            continue
        for name in names:
            if _COPY_NAME.fullmatch(name) and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.setdefault(name, []).append(kind / name)
    return found


def _remove_stale(paths: list[Path], skipped: list[tuple[str, str]]) -> Iterator[str]:
    """Remove each earlier copy, the spectra copied beside it, and its type's folder once empty (an empty class
    folder stops torchvision's ImageFolder); one that cannot be removed is listed in ``skipped``."""
    for path in paths:
        try:
            for spectrum in _beside(path):  # (P001_spot2.jdx, copied as <sha8>_P001_spot2.jdx, stayed: review)
                spectrum.unlink(missing_ok=True)
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
