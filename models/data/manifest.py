"""Read and write training/evaluation data: manifest CSVs (and, through :func:`load_data`, image folders).

A manifest is a CSV file with the columns
``path,label[,magnification][,defect_bbox][,defect_size_px][,split][,spectrum]``; of a label export's further
columns, ``status`` (a row no person decided is skipped: :func:`read_manifest`) and ``sha256`` (checked against the
file when images are verified) are read, any other column is ignored.
``path`` is relative to the manifest's folder, or absolute; so are the FTIR spectrum files of ``spectrum``
(several separated by ``;``). ``label`` is a
leaf id, a full path ``group/subgroup/leaf``, or ``unknown:<name>`` for a defect outside the taxonomy; an image
with more than one defect lists its leaves separated by ``;`` (``particle_metal;scratch``: :attr:`Sample.labels`).
``magnification`` may be written ``20``, ``20x`` or ``20X``; ``defect_bbox`` is ``"x0 y0 x1 y1"``.

Image folders (``root/<leaf id>/*.png``) are read by :mod:`models.data.folders`; :func:`load_data` takes
both. Loading never drops anything silently: labels outside the taxonomy stop the run with one
:class:`UnknownLabelsError` that lists all of them; missing files, unreadable images, bad rows and
duplicates are skipped and listed in :attr:`LoadResult.skipped` with a reason.

:func:`write_manifest` is the one writer of manifest files: curated samples (``fma-model curate``), the
synthetic data set (``fma-model synth``) and the label export (``fma-judge export``) all go through it.

The shared vocabulary (:class:`Sample`, :class:`DataError`, :data:`UNKNOWN_PREFIX`, :func:`unknown_label`,
the field parsers, ...) lives in :mod:`models.data.samples` and is re-exported here.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.atomic import replacing
from models.data.folders import parse_folder, read_image_folder
from models.data.samples import (
    LABELS_SEPARATOR,
    SPLITS,
    UNKNOWN_PREFIX,
    Candidate,
    DataError,
    LabelChecker,
    LoadResult,
    Sample,
    UnknownLabelsError,
    finish_loading,
    format_bbox,
    format_number,
    is_unknown_label,
    label_counts,
    parse_bbox,
    parse_magnification,
    parse_size,
    parse_split,
    unknown_label,
)
from models.hashing import file_sha256, sha256_hex
from models.taxonomy import Taxonomy

__all__ = [
    "COLUMNS",
    "LABELS_SEPARATOR",
    "SPLITS",
    "UNKNOWN_PREFIX",
    "DataError",
    "LoadResult",
    "ManifestRow",
    "Sample",
    "UnknownLabelsError",
    "data_hash",
    "is_unknown_label",
    "label_counts",
    "load_data",
    "parse_bbox",
    "parse_magnification",
    "parse_size",
    "parse_split",
    "read_image_folder",
    "read_manifest",
    "split_spectra",
    "unknown_label",
    "write_manifest",
]

COLUMNS: tuple[str, ...] = ("path", "label", "magnification", "defect_bbox", "defect_size_px", "split", "spectrum")
"""Manifest columns in contract order; ``path`` and ``label`` are required."""


# ------------------------------------------------------------------------------------------ reading
def _resolve_path(written: str, base: Path) -> Path:
    text = written.strip()
    if os.sep == "/" and "\\" in text:
        text = text.replace("\\", "/")  # manifests written on Windows
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = base / path
    return path.resolve()


def _read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header (lower-cased) and ``(line number, row)`` pairs; BOM- and CRLF-tolerant."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: manifest not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: manifest is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read manifest ({exc.strerror or exc})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: manifest is empty (expected a header with columns path,label)")
        header = [h.strip().lower() for h in header]
        rows: list[tuple[int, dict[str, str]]] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise DataError(f"{path} line {reader.line_num}: CSV error: {exc}") from None
    return header, rows


def _other_separator(path: Path, header: list[str], needed: tuple[str, ...]) -> None:
    """Raise a :class:`DataError` that says so when the header is one cell of ``needed`` columns joined by
    semicolons or tabs (Excel's CSV in many locales), where "no 'path' column" would not say why."""
    for sep, name in ((";", "semicolons"), ("\t", "tabs")):
        if len(header) == 1 and all(c in header[0].split(sep) for c in needed):
            raise DataError(f"{path}: its columns are separated by {name}, a manifest's by commas (from Excel: "
                            "save as \"CSV UTF-8 (comma delimited)\")")


def manifest_paths(path: str | Path) -> list[Path]:
    """The image paths of a manifest's ``path`` column, its labels not read (they may be absent): images to run a
    model on, not to score it (``fma-model optimize`` and ``export-runtime --data``)."""
    path = Path(path)
    header, rows = _read_csv_rows(path)
    if "path" not in header:
        _other_separator(path, header, ("path",))
        raise DataError(f"{path}: manifest has no 'path' column (columns found: {', '.join(header) or '(none)'})")
    return [_resolve_path(row["path"], path.parent) for _n, row in rows if (row.get("path") or "").strip()]


def _parse_manifest(
    path: Path, checker: LabelChecker, allow_unknown: bool
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    header, rows = _read_csv_rows(path)
    missing = [c for c in ("path", "label") if c not in header]
    if missing:
        found = ", ".join(h for h in header if h) or "(none)"
        _other_separator(path, header, ("path", "label"))
        raise DataError(
            f"{path}: manifest has no {' or '.join(repr(m) for m in missing)} column "
            f"(columns found: {found}; expected path,label[,magnification][,defect_bbox]"
            "[,defect_size_px][,split][,spectrum])"
        )
    base, source = path.parent, str(path)
    candidates: list[Candidate] = []
    skipped: list[tuple[str, str]] = []
    for line, row in rows:
        where = f"{path} row {line}"  # (as given: two manifest.csv of two folders were told apart by nothing)
        written = row["path"].strip()
        status = (row.get("status") or "").strip().lower()
        if status in NOT_LABELS:  # an export's row no person decided (before its label is read: a type the training
            # tree no longer has would stop the run); "…call:" groups them in the load report, one line for all
            skipped.append((written, f"{NOT_LABELS[status]}: not a person's label (status {status}; {where})"))
            continue
        label_text = row["label"].strip()
        written_labels = list(dict.fromkeys(p.strip() for p in label_text.split(LABELS_SEPARATOR) if p.strip()))
        resolved = [checker.resolve(text, where) for text in written_labels]
        label = resolved[0] if resolved and None not in resolved else None
        problems: list[str] = []
        if not written:
            problems.append("empty path")
        if not written_labels:
            problems.append("empty label")
        elif len(resolved) > 1 and any(r is not None and is_unknown_label(r) for r in resolved):
            problems.append(f"an unknown type cannot be one of several labels: {label_text}")
        values: dict[str, object] = {}
        for column, parse in (
            ("magnification", parse_magnification),
            ("defect_bbox", parse_bbox),
            ("defect_size_px", parse_size),
            ("split", parse_split),
        ):
            try:
                values[column] = parse(row.get(column, ""))
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            skipped.append((written, f"bad row: {where}: {'; '.join(problems)}"))
            continue
        if label is None:
            continue  # reported by the checker; the run stops before files are checked
        if is_unknown_label(label) and not allow_unknown:
            skipped.append((written, f"unknown-type label not allowed here: {label} ({where})"))
            continue
        sample = Sample(
            path=_resolve_path(written, base),
            label=label,
            magnification=values["magnification"],  # type: ignore[arg-type]
            defect_bbox=values["defect_bbox"],  # type: ignore[arg-type]
            defect_size_px=values["defect_size_px"],  # type: ignore[arg-type]
            split=values["split"],  # type: ignore[arg-type]
            source=source,
            spectra=tuple(_resolve_path(p, base) for p in split_spectra(row.get("spectrum", ""))),
            extra_labels=tuple(dict.fromkeys(r for r in resolved[1:] if r is not None and r != label)),
        )
        digest = row.get("sha256", "").strip().lower()
        candidates.append(Candidate(written, sample, where, digest if _SHA256.fullmatch(digest) else ""))
    return candidates, skipped


def _parse_source(
    source: Path, checker: LabelChecker, allow_unknown: bool
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    if source.is_dir():
        return parse_folder(source, checker, allow_unknown)
    if source.suffix.lower() == ".csv":
        return _parse_manifest(source, checker, allow_unknown)
    if not source.exists():
        raise DataError(f"{source}: data source not found (expected a .csv manifest or an image folder)")
    raise DataError(f"{source}: not a .csv manifest or an image folder")


MODEL_CALL_STATUS = "auto"
"""A ``status`` cell of a row the model judged alone (``fma-judge export --status ...,auto``): not trained on, so the
model's own calls never become its labels."""
NOT_LABELS: dict[str, str] = {MODEL_CALL_STATUS: "the model's own call", "waiting": "waiting for a person",
                              "unreadable": "a file that could not be read"}
"""The ``status`` cells of an export's rows no person decided (skipped by training), with what each is."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
"""A manifest's ``sha256`` cell that names a content hash (anything else in it is not checked)."""


def read_manifest(
    path: str | Path, taxonomy: Taxonomy, *, allow_unknown: bool = True, verify_images: bool = True
) -> LoadResult:
    """Read a manifest CSV. A row whose ``status`` cell is ``auto``, ``waiting`` or ``unreadable`` (an export's image
    no person decided, :data:`NOT_LABELS`) is skipped and listed: the model's own calls are not trained on.

    Args:
        path: the manifest; relative image paths are taken from its folder.
        taxonomy: the labels are resolved to its leaf ids.
        allow_unknown: when False, ``unknown:<name>`` rows are skipped (and listed) instead of loaded.
        verify_images: open and verify each image with PIL; when False only existence is checked.

    Raises:
        DataError: the file is missing/unreadable, or lacks the ``path`` or ``label`` column.
        UnknownLabelsError: some labels are not leaves of the taxonomy (all of them are listed).
    """
    path = Path(path).resolve()
    checker = LabelChecker(taxonomy)
    candidates, skipped = _parse_manifest(path, checker, allow_unknown)
    checker.raise_if_bad()
    return finish_loading(candidates, skipped, verify_images, [str(path)])


def load_data(
    sources: str | Path | Sequence[str | Path],
    taxonomy: Taxonomy,
    *,
    allow_unknown: bool = True,
    verify_images: bool = True,
) -> LoadResult:
    """Load one or more manifests (``.csv``) and image folders, concatenated in order.

    Bad labels from all sources are collected before one :class:`UnknownLabelsError` is raised. A file
    listed more than once (in one source or across sources) is kept once, from its first occurrence;
    each repeat is reported in ``skipped``.

    Args:
        sources: a path or a sequence of paths.
        taxonomy: labels are resolved to its leaf ids.
        allow_unknown: see :func:`read_manifest`.
        verify_images: see :func:`read_manifest`.

    Raises:
        DataError: no sources, or a source is missing or of an unsupported kind.
        UnknownLabelsError: some labels are not leaves of the taxonomy.
    """
    items = [sources] if isinstance(sources, str | Path) else list(sources)
    if not items:
        raise DataError("no data sources given (pass a manifest .csv or an image folder)")
    checker = LabelChecker(taxonomy)
    candidates: list[Candidate] = []
    skipped: list[tuple[str, str]] = []
    names: list[str] = []
    for item in items:
        source = Path(item).resolve()
        found, bad = _parse_source(source, checker, allow_unknown)
        candidates.extend(found)
        skipped.extend(bad)
        names.append(str(source))
    checker.raise_if_bad()
    return finish_loading(candidates, skipped, verify_images, names)


# ------------------------------------------------------------------------------------------ writing
@dataclass(frozen=True)
class ManifestRow:
    """One manifest line given as text: a file, its label, and the cells of the other columns.

    Attributes:
        path: the file, absolute (or relative to the current folder); written relative to the manifest's
            folder when it is under it. An empty path is written empty.
        label: the label as written (use :func:`unknown_label` for a defect outside the taxonomy).
        cells: column name -> cell text, for optional contract columns (in the form the parsers read,
            e.g. ``"20"``, ``"1 2 3 4"``) and extra columns; a written column missing here is left empty.
    """

    path: str | os.PathLike[str]
    label: str
    cells: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_sample(cls, sample: Sample) -> ManifestRow:
        """A sample's line; its optional fields are written so that :func:`read_manifest` reads them back equal."""
        values = {
            "magnification": None if sample.magnification is None else format_number(sample.magnification),
            "defect_bbox": None if sample.defect_bbox is None else format_bbox(sample.defect_bbox),
            "defect_size_px": None if sample.defect_size_px is None else format_number(sample.defect_size_px),
            "split": sample.split,
            "spectrum": SPECTRA_SEPARATOR.join(str(p) for p in sample.spectra) or None,
        }
        return cls(sample.path, sample.label_text, {k: str(v) for k, v in values.items() if v is not None})


def write_manifest(
    rows: Iterable[Sample | ManifestRow],
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    extra_columns: Sequence[str] = (),
    bom: bool = False,
) -> Path:
    """Write a manifest CSV (UTF-8, ``\\n`` line ends) atomically; with ``bom``, the UTF-8 byte-order mark first,
    so that Excel reads its Chinese notes and names as such (the readers here skip it).

    The header is ``path,label``, then the optional contract columns in contract order, then
    ``extra_columns`` (which readers of the manifest ignore). Paths under the manifest's folder are written
    relative to it with forward slashes, others absolute; they are compared as text, not looked up on
    disk. Rows are written as they come (a database cursor can feed them) unless the columns have to be
    found first (``columns`` None).

    Args:
        rows: samples, or rows with their cells as text; iterated once.
        path: the manifest file; its folder is created if needed. The new file replaces an old one only
            once it is complete, with the permissions a newly created file gets.
        columns: optional contract columns to write (of ``magnification``, ``defect_bbox``,
            ``defect_size_px``, ``split``, ``spectrum``); None writes those that have a value in some row. Cells of
            the optional columns not written are left out.
        extra_columns: further columns after the contract columns, e.g. ``sha256``.

    Returns:
        The resolved manifest path.

    Raises:
        ValueError: ``columns`` names a column that is not optional in the contract, an extra column is a
            contract column or repeats, or a row has a cell for a column that is neither (a typo).
    """
    items: Iterable[ManifestRow] = (
        r if isinstance(r, ManifestRow) else ManifestRow.from_sample(r) for r in rows
    )
    if columns is None:
        items = list(items)
        present = {name for row in items for name, text in row.cells.items() if text}
        columns = [c for c in COLUMNS[2:] if c in present]
    header = _header(columns, extra_columns)
    known = frozenset(COLUMNS[2:]) | frozenset(extra_columns)  # contract cells not chosen are left out
    given = Path(path)
    target = given.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    bases = _folder_spellings(given, target)
    with replacing(target, bom=bom) as handle:
        writer = CsvWriter(handle)
        writer.writerow(header)
        for row in items:
            unexpected = row.cells.keys() - known
            if unexpected:
                raise ValueError(f"manifest row {row.path}: cells for unknown columns {sorted(unexpected)}")
            cells = [row.cells.get(name, "") for name in header[2:]]
            n_contract = len(header) - 2 - len(extra_columns)
            cells = cells[:n_contract] + [spreadsheet_safe(c) for c in cells[n_contract:]]
            if "spectrum" in header:  # its paths as the image's: relative to the manifest's folder when under it
                at = header.index("spectrum") - 2
                cells[at] = SPECTRA_SEPARATOR.join(_path_text(p, bases) for p in split_spectra(cells[at]))
            writer.writerow([_path_text(row.path, bases), row.label, *cells])
    return target


SPECTRA_SEPARATOR = ";"


def split_spectra(cell: str) -> list[str]:
    """The spectrum files of a ``spectrum`` cell (``a.jdx;b.csv``), as written."""
    return [part.strip() for part in cell.split(SPECTRA_SEPARATOR) if part.strip()]


def _header(columns: Sequence[str], extra_columns: Sequence[str]) -> list[str]:
    """``path,label``, the chosen optional columns in contract order, then the extra columns (all checked)."""
    bad = [c for c in columns if c not in COLUMNS[2:]]
    if bad:
        raise ValueError(f"not optional manifest columns: {bad} (choose from {', '.join(COLUMNS[2:])})")
    clash = [c for c in extra_columns if c in COLUMNS]
    if clash or len(set(extra_columns)) != len(extra_columns) or not all(extra_columns):
        raise ValueError(f"extra columns must be new, non-empty and distinct, got {list(extra_columns)}")
    return ["path", "label", *(c for c in COLUMNS[2:] if c in columns), *extra_columns]


def _folder_spellings(given: Path, resolved: Path) -> tuple[str, ...]:
    """The manifest folder as absolute and as resolved text, each ending with a separator (for prefix tests)."""
    spellings = dict.fromkeys([os.path.abspath(given.parent), str(resolved.parent)])
    return tuple(os.path.normcase(s.rstrip(os.sep) + os.sep) for s in spellings)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a CSV cell as a formula (OWASP, CSV injection)."""


class CsvWriter:
    """``csv.writer`` with ``\n`` line ends that also quotes a row with a carriage return in a cell.

    The csv module quotes only the line terminator's characters, so ``\r`` in a file name or a note would be
    written bare and split the row for every reader; such a row is written with every cell quoted.
    """

    def __init__(self, handle: Any) -> None:
        self._plain = csv.writer(handle, lineterminator="\n")
        self._quoted = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, row: Sequence[Any]) -> None:
        (self._quoted if any("\r" in str(cell) for cell in row) else self._plain).writerow(row)

    def writerows(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def spreadsheet_safe(text: str) -> str:
    """A free-text cell (an analyst's name, a note, a model version) that a spreadsheet shows as text: one that
    would start a formula gets a leading apostrophe (OWASP's advice), which spreadsheets hide."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _path_text(path: str | os.PathLike[str], bases: tuple[str, ...]) -> str:
    """Relative to the manifest's folder (forward slashes) when under it, else absolute; empty stays empty. A
    relative path that would start a spreadsheet formula (``=x.png``) is written ``./=x.png``: the same file."""
    text = os.fspath(path)
    if not text:
        return ""
    absolute = os.path.abspath(text)
    folded = os.path.normcase(absolute)
    for base in bases:
        if folded.startswith(base):
            relative = Path(absolute[len(base) :]).as_posix()
            return "./" + relative if relative.startswith(FORMULA_STARTS) else relative
    return absolute


def data_hash(samples: Sequence[Sample], hash_fn: Callable[[Path], str] = file_sha256) -> str:
    """sha256 over (content hash, label) pairs, order-independent: names the exact training data. ``hash_fn``: a
    file's content hash (a cached one where the files were hashed already)."""
    rows = sorted(f"{hash_fn(s.path)}\t{s.label_text}\t{s.split or ''}" for s in samples)
    return sha256_hex("\n".join(rows))
