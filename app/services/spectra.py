"""FTIR spectra beside the images (issue #20): found in an opened folder, stored, attached, read back.

:func:`attach_pairs` runs when a folder is opened (:func:`app.services.batches.open_folder`): the spectrum files the
scan found, matched to images by name (:func:`models.spectra.match_spectra`; the first images' before they are
shown, the rest once the folder is registered), are read and normalised
(:func:`models.spectra.parse_spectrum`), stored once by content hash and attached to their images. A file already
stored is not parsed again. Nothing here stops the opening: a spectrum that cannot be read, or a JCAMP-DX file no
image claims, is listed with its reason among the files left out, beside the images that could not be read.

:class:`SpectrumSearch` is what the spectrum panel asks: an image's spectra, each with its closest references by
hit quality (:class:`models.spectra.library.Library`) among the imported reference library and the spectra of
judged images, and the type they suggest. :func:`import_library` imports a reference library folder
(``<type id>/<spectrum files>``).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from app.store import repo
from app.store.db import session_scope
from app.store.errors import StoreError
from app.store.records import SPECTRUM_ADDED, BatchItem, OpenedBatch, ReferenceRecord, SpectrumRecord
from models.hashing import sha256_hex
from models.spectra import (
    SPECTRUM_SUFFIXES,
    Spectrum,
    SpectrumError,
    is_jcamp,
    match_spectra,
    parse_spectrum,
    read_spectrum_bytes,
)
from models.spectra.library import Library, on_grid, peaks, shape
from models.spectra.reading import NotATable

__all__ = ["LibraryImport", "OpeningSpectra", "SpectrumHit", "SpectrumLookup", "SpectrumSearch", "attach_pairs",
           "import_library", "spectra_of"]

TICK = 25
"""Spectrum files read or parsed between two calls of :func:`attach_pairs`'s ``tick`` (a few hundred ms)."""


def attach_pairs(engine: Engine, pairs: Mapping[Path, Sequence[Path]], *,
                 tick: Callable[[], None] | None = None) -> tuple[list[tuple[str, str]], set[int]]:
    """Attach spectrum files to their registered images (``{image: [its spectrum files]}``, from
    :func:`models.spectra.match_spectra`).

    The files are read and parsed outside any transaction, and what is new is written in one short one at the end:
    the analyst judges the first images of a large folder meanwhile, and a judgment must not wait for the write lock
    while spectra are parsed (about 9 ms each). ``tick`` is called every :data:`TICK` files read or parsed: an
    opening cancelled meanwhile (the app closes) raises there, before anything is written.

    Returns:
        ``(left_out, changed)``: ``(path, reason)`` for each file left out (a spectrum that cannot be read, a table
        that holds no numbers: then it is no spectrum, an ordinary file that is not an image, or the spectrum of an
        image left out of the batch), and the ids of the images whose spectra changed (their stored predictions
        were made without them: :data:`app.store.records.SPECTRUM_ADDED`).
    """
    left_out: list[tuple[str, str]] = []
    if not pairs:
        return left_out, set()
    owners = list(pairs)
    with session_scope(engine, action="read") as s:
        found = repo.images_at_paths(s, [_facts(image) for image in owners])
    files: list[tuple[int, Path, str, bytes]] = []  # (image id, file, content hash, bytes)
    for image, record in zip(owners, found, strict=True):
        for path in pairs[image]:
            if record is None:  # the image itself was left out (unreadable): its spectra go with it
                left_out.append((str(path), f"spectrum of {image.name}, which is not in the batch"))
                continue
            if tick is not None and len(files) % TICK == 0:
                tick()
            try:
                data = read_spectrum_bytes(path)
            except SpectrumError as exc:
                left_out.append((str(path), f"spectrum not attached: {exc}"))
                continue
            files.append((record.image_id, path, sha256_hex(data), data))
    with session_scope(engine, action="read") as s:
        known = repo.known_spectra(s, [sha for _i, _p, sha, _d in files])
    new: dict[str, Spectrum] = {}
    links: list[tuple[int, Path, str]] = []
    for k, (image_id, path, sha, data) in enumerate(files):
        if tick is not None and k % TICK == 0:
            tick()
        if sha not in known and sha not in new:
            reason = _parsed(data, path, new)
            if reason is not None:
                left_out.append((str(path), reason))
                continue
        links.append((image_id, path, sha))
    links = list({(i, sha): (i, path, sha) for i, path, sha in links}.values())  # one link per spectrum: two files
    # of the same bytes beside an image are one spectrum, recorded at the last one's path (stable when opened again)
    if links and known:  # opened again: the links already recorded as they are need no write
        with session_scope(engine, action="read") as s:
            fresh = repo.unlinked(s, [(i, known[sha], str(path)) for i, path, sha in links if sha in known])
        links = [(i, path, sha) for i, path, sha in links if sha not in known or (i, known[sha], str(path)) in fresh]
    changed: set[int] = set()
    if links:
        with session_scope(engine) as s:
            ids = dict(known)
            for sha, spectrum in new.items():
                ids[sha] = repo.add_spectrum(s, spectrum)
            for image_id, path, sha in links:
                if repo.attach_spectrum(s, image_id, ids[sha], str(path)):
                    changed.add(image_id)
    return left_out, changed


def _facts(image: Path) -> tuple[Path, int, int]:
    try:
        stat = os.stat(image)
    except OSError:
        return image, -1, -1
    return image, stat.st_size, stat.st_mtime_ns


def _parsed(data: bytes, path: Path, into: dict[str, Spectrum]) -> str | None:
    """Parse a spectrum file's bytes into ``into`` (by content hash); the reason it is left out, or None."""
    try:
        spectrum = parse_spectrum(data, path.name)
    except NotATable:  # a note or a list beside the image: no spectrum, an ordinary file
        return unmatched_reason(path)
    except SpectrumError as exc:
        return f"spectrum not attached: {exc}"
    except Exception as exc:  # whatever a damaged file makes a parser raise: listed, never the folder's failure
        return f"spectrum not attached: {path.name}: cannot be read ({type(exc).__name__}: {exc})"
    into[spectrum.sha256] = spectrum
    return None


def unmatched_reason(path: Path) -> str:
    if is_jcamp(path.name):
        return "a spectrum with no image of the same name (P001.jdx goes with P001.png)"
    suffix = path.suffix[1:].upper()
    return f"not an image (a {suffix} file): images are PNG, JPEG, BMP or TIFF"


def spectra_of(engine: Engine, image_id: int) -> list[SpectrumRecord]:
    """The spectra attached to an image (none: an empty list)."""
    with session_scope(engine) as s:
        return repo.spectra_of(s, image_id)


@dataclass(frozen=True, eq=False)
class SpectrumHit:
    """A reference close to a spectrum: its type, its hit quality (0–1), where it comes from, and its curve
    (``absorbance`` scaled and shifted onto the spectrum's, for the overlay)."""

    leaf: str
    hqi: float
    name: str
    source: str
    image_id: int | None
    wavenumbers: np.ndarray
    absorbance: np.ndarray

    @property
    def from_library(self) -> bool:
        return self.image_id is None


@dataclass(frozen=True, eq=False)
class SpectrumLookup:
    """An image's spectra, as the panel shows them: each spectrum, its labelled peaks and its closest references."""

    image_id: int
    spectra: list[SpectrumRecord]
    peaks: list[list[tuple[float, float]]] = field(default_factory=list)
    hits: list[list[SpectrumHit]] = field(default_factory=list)
    references: int = 0  # the reference spectra searched (those of other images): none alike is not none at all

    @property
    def suggestion(self) -> SpectrumHit | None:
        """The best hit over the image's spectra at or above :data:`SUGGEST_HQI`, or None."""
        found = [hit for i in range(len(self.hits)) if (hit := self.suggestion_for(i)) is not None]
        return max(found, key=lambda hit: hit.hqi, default=None)

    def suggestion_for(self, index: int) -> SpectrumHit | None:
        """The best hit of the image's spectrum ``index`` at or above :data:`SUGGEST_HQI`, or None."""
        hits = self.hits[index] if 0 <= index < len(self.hits) else []
        return hits[0] if hits and hits[0].hqi >= SUGGEST_HQI else None


SHOWN_HQI = 0.05
"""The hit quality from which a reference is listed at all: a best reference of "HQI 0.00" was offered, drawn over
the spectrum, for a spectrum like none of them."""
SUGGEST_HQI = 0.7
"""The hit quality from which the panel says "spectrum suggests: <type>"; a lower best hit is shown, not suggested.
On the synthetic spectra a spectrum of the same material scores 0.76 or more in 95 % of draws and one of another
material 0.22 at most (``python -m bench spectra``, "separation"; :data:`models.spectra.library.SMOOTH`); real
libraries differ: it is a first guess, to be checked against a factory's own judged spectra."""


class SpectrumSearch:
    """Looks up an image's spectra and their closest references. The references are listed again only when they
    changed (a library import, a judgment of an image with a spectrum, a spectrum newly attached), and each
    reference's curve is read and shaped once: after a judgment the next look-up lists the references (one query)
    and reads only spectra it has not seen. Thread-safe: the panel asks on its own thread."""

    def __init__(self, engine: Engine, k: int = 3) -> None:
        self.engine = engine
        self.k = k
        self._lock = threading.Lock()
        self._version: tuple[int, int, int] | None = None
        self._refs: list[ReferenceRecord] = []
        self._library = Library([])
        self._curves: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # id -> (x, y, shape on the grid)

    def look_up(self, image_id: int) -> SpectrumLookup:
        """The image's spectra with their peaks and closest references: the best reference of each type, the ``k``
        best types (so that the next type's score tells how sure the first is). No spectra: an empty lookup."""
        with session_scope(self.engine, action="read") as s:
            spectra = repo.spectra_of(s, image_id)
            if not spectra:
                return SpectrumLookup(image_id, [])
            refs, library = self._references(s)
        found = [self._hits(library, refs, spectrum, image_id) for spectrum in spectra]
        return SpectrumLookup(image_id, spectra, [peaks(sp.wavenumbers, sp.absorbance) for sp in spectra], found,
                              references=sum(1 for r in refs if r.image_id != image_id))

    def _references(self, s) -> tuple[list[ReferenceRecord], Library]:
        version = repo.references_version(s)
        with self._lock:
            if version != self._version:
                refs = repo.reference_spectra(s)
                missing = {r.spectrum_id for r in refs} - self._curves.keys()
                for spectrum_id, (x, y) in repo.spectrum_arrays(s, missing).items():
                    self._curves[spectrum_id] = (x, y, shape(on_grid(x, y)).astype(np.float32))
                self._refs = refs
                self._library = Library([self._curves[r.spectrum_id][2] for r in refs], shaped=True)
                self._version = version
            return self._refs, self._library

    def _hits(self, library: Library, refs: list[ReferenceRecord], spectrum: SpectrumRecord,
              image_id: int) -> list[SpectrumHit]:
        hits: list[SpectrumHit] = []
        seen: set[str] = set()
        query = on_grid(spectrum.wavenumbers, spectrum.absorbance)
        for hit in library.search(query, k=len(library), min_hqi=SHOWN_HQI):
            ref = refs[hit.index]
            if ref.image_id == image_id or ref.leaf in seen:  # never itself; the best reference of each type
                continue
            seen.add(ref.leaf)
            x, y, _shape = self._curves[ref.spectrum_id]
            hits.append(SpectrumHit(ref.leaf, hit.hqi, ref.name, ref.source, ref.image_id, x, _fitted(query, x, y)))
            if len(hits) == self.k:
                break
        return hits


def _fitted(query: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A reference's absorbance ``y`` scaled and shifted onto the query's (least squares over the wavenumbers both
    cover), so that the overlay compares shapes as the HQI does, not film thicknesses."""
    r = on_grid(x, y)
    both = ~np.isnan(query) & ~np.isnan(r)
    if both.sum() < 2 or float(np.var(r[both])) == 0.0:
        return y
    scale = float(np.cov(r[both], query[both], bias=True)[0, 1] / np.var(r[both]))
    shift = float(query[both].mean() - scale * r[both].mean())
    return y * scale + shift


@dataclass(frozen=True)
class LibraryImport:
    """What :func:`import_library` did: spectra added, already there, and files left out with their reasons."""

    added: int
    known: int
    skipped: list[tuple[str, str]]


IMPORT_STEP = 200
"""Library spectra written per transaction: the files are read and parsed outside any transaction, so an import of
thousands (about 9 ms each) never holds the write lock for more than a moment while analysts judge on the same
store."""


def import_library(engine: Engine, folder: Path, leaves: Collection[str] | None = None) -> LibraryImport:
    """Import a reference library: ``folder/<type id>/<spectrum files>`` (JCAMP-DX or tables; sub-folders of a type
    folder count as the type). ``leaves``: the known type ids (a folder named otherwise is listed, not imported);
    None accepts any folder name. A file already stored is not parsed again.

    Raises:
        FileNotFoundError: ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"library folder not found: {folder}")
    skipped: list[tuple[str, str]] = []
    paths: list[tuple[str, Path]] = []  # (type id, file): read a step at a time (a large library is never all in memory)
    for type_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if leaves is not None and type_dir.name not in leaves:
            skipped.append((str(type_dir), f"{type_dir.name!r} is no defect type of the model's tree"))
            continue
        for path in sorted(type_dir.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            if path.suffix.lower() not in SPECTRUM_SUFFIXES:
                skipped.append((str(path), "not a spectrum file (JCAMP-DX .jdx/.dx/.jcamp, or a .csv/.txt table)"))
                continue
            paths.append((type_dir.name, path))
    added = known = 0
    for start in range(0, len(paths), IMPORT_STEP):
        some: list[tuple[str, Path, str, bytes]] = []  # (type id, file, content hash, bytes)
        for leaf, path in paths[start:start + IMPORT_STEP]:
            try:
                data = read_spectrum_bytes(path)
            except SpectrumError as exc:
                skipped.append((str(path), str(exc)))
                continue
            some.append((leaf, path, sha256_hex(data), data))
        with session_scope(engine, action="read") as s:
            ids = repo.known_spectra(s, [sha for _leaf, _path, sha, _data in some])
        new: dict[str, Spectrum] = {}
        refs: list[tuple[str, Path, str]] = []
        for leaf, path, sha, data in some:
            if sha not in ids and sha not in new:
                try:
                    new[sha] = parse_spectrum(data, path.name)
                except SpectrumError as exc:
                    skipped.append((str(path), str(exc)))
                    continue
                except Exception as exc:  # whatever a damaged file makes a parser raise: listed, the import goes on
                    skipped.append((str(path), f"{path.name}: cannot be read ({type(exc).__name__}: {exc})"))
                    continue
            refs.append((leaf, path, sha))
        with session_scope(engine) as s:  # one short write transaction per step
            for sha, spectrum in new.items():
                ids[sha] = repo.add_spectrum(s, spectrum)
            for leaf, path, sha in refs:
                if repo.add_reference(s, ids[sha], leaf, str(path.resolve())):
                    added += 1
                else:
                    known += 1
    return LibraryImport(added, known, sorted(skipped))


class OpeningSpectra:
    """The FTIR spectra of one opening, matched to its images by name (:func:`models.spectra.match_spectra`): the
    first part's are attached before it is shown and predicted (:meth:`first`), the rest once every image is
    registered (:meth:`attach`); the files no image claims are listed as left out with their reason."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pairs: dict[Path, list[Path]] = {}
        self.left: list[tuple[str, str]] = []  # (file, reason) of the spectra left out so far
        self.matched = False
        self.changed: set[int] = set()  # the images whose spectra changed (their predictions marked)

    def match(self, images: Sequence[Path], candidates: Sequence[Path]) -> None:
        """Pair ``candidates`` with ``images``; those no image claims are left out with their reason."""
        pairs, unmatched = match_spectra(images, candidates)
        self.pairs.update(pairs)
        self.left += [(str(path), unmatched_reason(path)) for path in unmatched]
        self.matched = True

    def first(self, first_part: Callable[[OpenedBatch], None]) -> Callable[[OpenedBatch], None]:
        """``first_part``, handed each part with its images' spectra attached first."""
        def part(opened: OpenedBatch) -> None:
            if self.pairs:
                mine = {p: self.pairs.pop(p) for p in (Path(it.image.path) for it in opened.items) if p in self.pairs}
                opened = self._attach(opened, mine)
            first_part(opened)
        return part

    def attach(self, opened: OpenedBatch, *, tick: Callable[[], None] | None = None) -> OpenedBatch:
        """The whole batch once registered: the other spectra stored and attached, what was left out listed;
        ``tick`` as :func:`attach_pairs`'s."""
        if not self.matched:
            return opened
        opened = self._attach(opened, self.pairs, tick)
        self.pairs = {}
        return dataclasses.replace(opened, skipped=sorted([*opened.skipped, *self.left]))

    def _attach(self, opened: OpenedBatch, pairs: dict[Path, list[Path]],
                tick: Callable[[], None] | None = None) -> OpenedBatch:
        left, changed = _attach(self.engine, pairs, tick)
        self.left += left
        self.changed |= changed
        return dataclasses.replace(opened, items=spectra_changed(opened.items, changed))


def _attach(engine: Engine, pairs: dict[Path, list[Path]],
            tick: Callable[[], None] | None = None) -> tuple[list[tuple[str, str]], set[int]]:
    """:func:`attach_pairs`; a store that cannot keep them lists them as left out (the images
    are in the batch: the spectra's failure does not undo that)."""
    try:
        return attach_pairs(engine, pairs, tick=tick)
    except StoreError as exc:
        return [(str(path), f"spectrum not stored: {exc}") for paths in pairs.values() for path in paths], set()


def spectra_changed(items: list[BatchItem], changed: set[int]) -> list[BatchItem]:
    """The items, those whose spectra just changed with their prediction marked as the store marked it
    (:data:`app.store.records.SPECTRUM_ADDED`: predicted again with the spectrum; not a decided image's)."""
    if not changed:
        return items
    return [dataclasses.replace(it, prediction=dataclasses.replace(it.prediction, calibration=SPECTRUM_ADDED))
            if it.image.image_id in changed and it.prediction is not None
            and not (it.judgment is not None and it.judgment.is_decision) else it for it in items]
