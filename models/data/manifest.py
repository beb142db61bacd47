"""Read and write training/evaluation data: manifest CSVs and ImageFolder-style trees.

A manifest is a CSV file with the columns ``path,label[,magnification][,defect_bbox][,defect_size_px][,split]``
(any other columns are ignored). ``path`` is relative to the manifest's folder, or absolute. ``label`` is a
leaf id, a full path ``group/subgroup/leaf``, or ``unknown:<name>`` for a defect outside the taxonomy.
``magnification`` may be written ``20``, ``20x`` or ``20X``; ``defect_bbox`` is ``"x0 y0 x1 y1"``.

An image folder holds one sub-folder per class: ``root/<leaf id>/*.png`` or the nested full path
``root/<group>/<subgroup>/<leaf>/*.png``. A folder named ``unknown_<name>`` (or ``unknown:<name>``, or
``unknown/<name>``) holds ``unknown:<name>`` samples.

Loading never drops anything silently: labels outside the taxonomy stop the run with one
:class:`UnknownLabelsError` that lists all of them; missing files, unreadable images, bad rows and
duplicates are skipped and listed in :attr:`LoadResult.skipped` with a reason.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from models.hashing import file_sha256, sha256_hex
from models.imageio import IMAGE_SUFFIXES
from models.taxonomy import Taxonomy, TaxonomyError

COLUMNS: tuple[str, ...] = ("path", "label", "magnification", "defect_bbox", "defect_size_px", "split")
"""Manifest columns in contract order; ``path`` and ``label`` are required."""

UNKNOWN_PREFIX = "unknown:"
SPLITS: tuple[str, ...] = ("train", "val", "test")
_SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
}  # fmt: skip
_MAG_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*[xX]?\s*$")
_UNKNOWN_DIR_RE = re.compile(r"^unknown[_:](.+)$", re.IGNORECASE)
_IGNORED_FILES = frozenset({"thumbs.db", "desktop.ini"})
_MAX_LISTED_LABELS = 30
_MAX_LISTED_PATHS = 5


class DataError(ValueError):
    """The data cannot be used as given; the message says what is wrong and where."""


class UnknownLabelsError(DataError):
    """Labels that are not classes of the taxonomy (unknown, not a leaf, or a wrong path).

    Attributes:
        labels: every bad label (as written) with the number of rows/images that use it.
        not_leaf: the subset of ``labels`` that name an inner node of the taxonomy.
        first_seen: for each bad label, where it first occurs (e.g. ``"a.csv row 4"``).
    """

    def __init__(
        self,
        labels: dict[str, int],
        *,
        taxonomy_id: str = "",
        not_leaf: Iterable[str] = (),
        hints: dict[str, str] | None = None,
        first_seen: dict[str, str] | None = None,
    ) -> None:
        self.labels = dict(labels)
        self.not_leaf = frozenset(not_leaf)
        self.hints = dict(hints or {})
        self.first_seen = dict(first_seen or {})
        super().__init__(self._message(taxonomy_id))

    def _message(self, taxonomy_id: str) -> str:
        n_rows = sum(self.labels.values())
        tax = f" of taxonomy {taxonomy_id!r}" if taxonomy_id else ""
        lines = [
            f"{len(self.labels)} label(s) are not classes{tax} ({n_rows} row(s)/image(s)). Fix them in the "
            "data, or write 'unknown:<name>' for defects outside the taxonomy:"
        ]
        ordered = sorted(self.labels)
        for label in ordered[:_MAX_LISTED_LABELS]:
            count = self.labels[label]
            text = f"  {label!r}: {count} row{'s' if count != 1 else ''}"
            if label in self.first_seen:
                text += f" (first: {self.first_seen[label]})"
            if label in self.hints:
                text += f" -- {self.hints[label]}"
            lines.append(text)
        if len(ordered) > _MAX_LISTED_LABELS:
            lines.append(f"  ... and {len(ordered) - _MAX_LISTED_LABELS} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class Sample:
    """One labelled image.

    Attributes:
        path: absolute, resolved file path.
        label: canonical leaf id, or ``"unknown:<name>"``.
        magnification: objective magnification (20.0 for "20x"), if known.
        defect_bbox: ``(x0, y0, x1, y1)`` in pixels, if known.
        defect_size_px: defect size in pixels, if known.
        split: ``"train"``, ``"val"`` or ``"test"``, if assigned.
        source: the manifest or folder the sample came from.
    """

    path: Path
    label: str
    magnification: float | None = None
    defect_bbox: tuple[int, int, int, int] | None = None
    defect_size_px: float | None = None
    split: str | None = None
    source: str = ""

    @property
    def is_unknown(self) -> bool:
        """True for an ``unknown:<name>`` sample (a defect outside the taxonomy)."""
        return is_unknown_label(self.label)


@dataclass
class LoadResult:
    """Samples that loaded, and every entry that was skipped with its reason.

    Reasons have the form ``"<category>: <detail>"`` (e.g. ``"missing file: ..."``); :meth:`report`
    groups them by category.
    """

    samples: list[Sample]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def skipped_by_reason(self) -> dict[str, list[str]]:
        """Skipped paths grouped by reason category, in first-seen order."""
        groups: dict[str, list[str]] = {}
        for path, reason in self.skipped:
            groups.setdefault(reason.split(":", 1)[0].strip(), []).append(path)
        return groups

    def report(self) -> str:
        """Human summary: how many loaded (classes, unknowns) and how many skipped, grouped by reason."""
        known = {s.label for s in self.samples if not s.is_unknown}
        n_unknown = sum(s.is_unknown for s in self.samples)
        src = f" from {len(self.sources)} source(s)" if self.sources else ""
        text = f"Loaded {len(self.samples):,} image(s) ({len(known)} classes"
        text += f", {n_unknown:,} unknown-labelled){src}." if n_unknown else f"){src}."
        lines = [text]
        if not self.skipped:
            lines.append("Skipped 0.")
            return "\n".join(lines)
        lines.append(f"Skipped {len(self.skipped):,}:")
        for category, paths in self.skipped_by_reason().items():
            shown = ", ".join(p or "<no path>" for p in paths[:_MAX_LISTED_PATHS])
            more = (
                f", ... and {len(paths) - _MAX_LISTED_PATHS:,} more" if len(paths) > _MAX_LISTED_PATHS else ""
            )
            lines.append(f"  {category}: {len(paths):,} ({shown}{more})")
        first = self.skipped[:_MAX_LISTED_PATHS]
        lines.append("First skipped entries:")
        lines.extend(f"  {p or '<no path>'}: {r}" for p, r in first)
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ field parsing
def is_unknown_label(label: str) -> bool:
    """True for labels of the form ``unknown:<name>``."""
    return label.startswith(UNKNOWN_PREFIX)


def unknown_label(name: str) -> str:
    """The label of a defect kind outside the taxonomy: ``unknown:<name>``."""
    return f"{UNKNOWN_PREFIX}{name}"


def parse_magnification(text: str) -> float | None:
    """Parse ``"20"``, ``"20x"``, ``"20X"`` or ``"2.5x"``; empty gives None.

    Raises:
        ValueError: not a positive number.
    """
    text = text.strip()
    if not text:
        return None
    match = _MAG_RE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"magnification {text!r} is not a positive number (write e.g. 20 or 20x)")
    return float(match.group(1))


def parse_bbox(text: str) -> tuple[int, int, int, int] | None:
    """Parse ``"x0 y0 x1 y1"`` (spaces, commas or semicolons between); empty gives None.

    Raises:
        ValueError: not four integers with x0 <= x1 and y0 <= y1.
    """
    text = text.strip()
    if not text:
        return None
    parts = [p for p in re.split(r"[\s,;]+", text) if p]
    values: list[int] = []
    for part in parts:
        try:
            number = float(part)
        except ValueError:
            number = float("nan")
        if not number.is_integer():
            raise ValueError(f"defect_bbox {text!r} must be four integers 'x0 y0 x1 y1'")
        values.append(int(number))
    if len(values) != 4:
        raise ValueError(
            f"defect_bbox {text!r} must be four integers 'x0 y0 x1 y1', got {len(values)} value(s)"
        )
    x0, y0, x1, y1 = values
    if x1 < x0 or y1 < y0:
        raise ValueError(f"defect_bbox {text!r} has x1 < x0 or y1 < y0")
    return x0, y0, x1, y1


def parse_size(text: str) -> float | None:
    """Parse a non-negative defect size in pixels; empty gives None.

    Raises:
        ValueError: not a non-negative finite number.
    """
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"defect_size_px {text!r} is not a number") from None
    if not (value >= 0 and value != float("inf")):
        raise ValueError(f"defect_size_px {text!r} must be a finite number >= 0")
    return value


def parse_split(text: str) -> str | None:
    """Normalise a split name (``train``/``val``/``test``; ``validation`` etc. accepted); empty gives None.

    Raises:
        ValueError: any other name.
    """
    text = text.strip()
    if not text:
        return None
    try:
        return _SPLIT_ALIASES[text.lower()]
    except KeyError:
        raise ValueError(f"split {text!r} is not one of {', '.join(SPLITS)}") from None


# ------------------------------------------------------------------------------------------ labels
class _LabelChecker:
    """Resolves labels against a taxonomy and collects every bad one before anything is raised."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._cache: dict[str, str | None] = {}
        self.bad: Counter[str] = Counter()
        self.first_seen: dict[str, str] = {}
        self.hints: dict[str, str] = {}
        self.not_leaf: set[str] = set()

    def resolve(self, label: str, where: str) -> str | None:
        """Canonical label, or None after recording ``label`` as bad (seen at ``where``)."""
        if label not in self._cache:
            self._cache[label] = self._resolve(label)
        result = self._cache[label]
        if result is None:
            self.bad[label] += 1
            self.first_seen.setdefault(label, where)
        return result

    def _resolve(self, label: str) -> str | None:
        if label[: len(UNKNOWN_PREFIX)].lower() == UNKNOWN_PREFIX:
            name = label[len(UNKNOWN_PREFIX) :].strip()
            if name:
                return UNKNOWN_PREFIX + name
            self.hints[label] = "'unknown:' needs a name, e.g. 'unknown:new_defect'"
            return None
        try:
            return self.taxonomy.resolve_label(label)
        except TaxonomyError:
            pass
        node_id = label.split("/")[-1].strip()
        if node_id in self.taxonomy:
            node = self.taxonomy.node(node_id)
            if not node.is_leaf:
                self.not_leaf.add(label)
                kids = ", ".join(node.children[:6]) + (", ..." if len(node.children) > 6 else "")
                self.hints[label] = f"{node_id!r} is not a leaf; use one of its children: {kids}"
            else:
                self.hints[label] = f"the path of {node_id!r} is {'/'.join(self.taxonomy.path(node_id))}"
        return None

    def raise_if_bad(self) -> None:
        if self.bad:
            raise UnknownLabelsError(
                dict(self.bad),
                taxonomy_id=self.taxonomy.id,
                not_leaf=self.not_leaf & set(self.bad),
                hints={k: v for k, v in self.hints.items() if k in self.bad},
                first_seen=self.first_seen,
            )


# ------------------------------------------------------------------------------------------ reading
@dataclass
class _Candidate:
    """A parsed entry whose file has not been checked yet."""

    written: str
    sample: Sample
    where: str


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


def _parse_manifest(
    path: Path, checker: _LabelChecker, allow_unknown: bool
) -> tuple[list[_Candidate], list[tuple[str, str]]]:
    header, rows = _read_csv_rows(path)
    missing = [c for c in ("path", "label") if c not in header]
    if missing:
        found = ", ".join(h for h in header if h) or "(none)"
        raise DataError(
            f"{path}: manifest has no {' or '.join(repr(m) for m in missing)} column "
            f"(columns found: {found}; expected path,label[,magnification][,defect_bbox]"
            "[,defect_size_px][,split])"
        )
    base, source = path.parent, str(path)
    candidates: list[_Candidate] = []
    skipped: list[tuple[str, str]] = []
    for line, row in rows:
        where = f"{path.name} row {line}"
        written = row["path"].strip()
        label_text = row["label"].strip()
        label = checker.resolve(label_text, where) if label_text else None
        problems: list[str] = []
        if not written:
            problems.append("empty path")
        if not label_text:
            problems.append("empty label")
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
        )
        candidates.append(_Candidate(written, sample, where))
    return candidates, skipped


def _folder_label(parts: tuple[str, ...]) -> str:
    """Label text for an image whose parent folders (below the root) are ``parts``."""
    last = parts[-1]
    match = _UNKNOWN_DIR_RE.match(last)
    if match:
        return UNKNOWN_PREFIX + match.group(1)
    if len(parts) >= 2 and parts[-2].lower() == "unknown":
        return UNKNOWN_PREFIX + last
    if last.lower() == "unknown":
        return UNKNOWN_PREFIX + "unknown"
    return "/".join(parts)


def _parse_folder(
    root: Path, checker: _LabelChecker, allow_unknown: bool
) -> tuple[list[_Candidate], list[tuple[str, str]]]:
    if not root.is_dir():
        raise DataError(f"{root}: image folder not found")
    candidates: list[_Candidate] = []
    skipped: list[tuple[str, str]] = []
    source = str(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root)
        parts = rel_dir.parts
        for name in sorted(filenames):
            if name.startswith(".") or name.lower() in _IGNORED_FILES:
                continue
            written = (rel_dir / name).as_posix()
            if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append((written, f"not an image file type: suffix {Path(name).suffix or '(none)'!r}"))
                continue
            if not parts:
                skipped.append((written, "not in a class folder: images must be in root/<leaf id>/"))
                continue
            label = checker.resolve(_folder_label(parts), f"folder {rel_dir.as_posix()}/")
            if label is None:
                continue
            if is_unknown_label(label) and not allow_unknown:
                skipped.append((written, f"unknown-type label not allowed here: {label}"))
                continue
            sample = Sample(path=(Path(dirpath) / name).resolve(), label=label, source=source)
            candidates.append(_Candidate(written, sample, f"folder {rel_dir.as_posix()}/"))
    return candidates, skipped


def _check_image(path: Path, verify: bool) -> str | None:
    """None if the file is usable, else a skip reason ``"<category>: <detail>"`` (detail may be empty)."""
    if not path.exists():
        return "missing file: "
    if not path.is_file():
        return "not a file: "
    if not verify:
        return None
    try:
        with Image.open(path) as img:
            img.verify()
    except Exception as exc:  # PIL raises many exception types for corrupt data
        return f"unreadable image: {str(exc) or type(exc).__name__} "
    return None


def _finish(
    candidates: list[_Candidate], skipped: list[tuple[str, str]], verify_images: bool, sources: list[str]
) -> LoadResult:
    """Drop duplicate paths (first kept), check files, and build the result."""
    samples: list[Sample] = []
    seen: dict[str, _Candidate] = {}
    for cand in candidates:
        key = os.path.normcase(str(cand.sample.path))
        first = seen.get(key)
        if first is not None:
            if first.sample.label != cand.sample.label:
                reason = (
                    f"duplicate path with a different label: kept {first.sample.label!r} from {first.where}, "
                    f"ignored {cand.sample.label!r} from {cand.where}"
                )
            else:
                reason = f"duplicate path: already listed in {first.where} (ignored {cand.where})"
            skipped.append((cand.written, reason))
            continue
        seen[key] = cand
        problem = _check_image(cand.sample.path, verify_images)
        if problem is not None:
            skipped.append((cand.written, f"{problem}({cand.where}: {cand.sample.path})"))
            continue
        samples.append(cand.sample)
    return LoadResult(samples=samples, skipped=skipped, sources=sources)


def _parse_source(
    source: Path, checker: _LabelChecker, allow_unknown: bool
) -> tuple[list[_Candidate], list[tuple[str, str]]]:
    if source.is_dir():
        return _parse_folder(source, checker, allow_unknown)
    if source.suffix.lower() == ".csv":
        return _parse_manifest(source, checker, allow_unknown)
    if not source.exists():
        raise DataError(f"{source}: data source not found (expected a .csv manifest or an image folder)")
    raise DataError(f"{source}: not a .csv manifest or an image folder")


def read_manifest(
    path: str | Path, taxonomy: Taxonomy, *, allow_unknown: bool = True, verify_images: bool = True
) -> LoadResult:
    """Read a manifest CSV.

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
    checker = _LabelChecker(taxonomy)
    candidates, skipped = _parse_manifest(path, checker, allow_unknown)
    checker.raise_if_bad()
    return _finish(candidates, skipped, verify_images, [str(path)])


def read_image_folder(
    root: str | Path, taxonomy: Taxonomy, *, allow_unknown: bool = True, verify_images: bool = True
) -> LoadResult:
    """Read an ImageFolder-style tree: ``root/<leaf id>/*.png`` or ``root/<group>/<sub>/<leaf>/*.png``.

    Supported suffixes: .png .jpg .jpeg .bmp .tif .tiff (any case). Folders ``unknown_<name>``,
    ``unknown:<name>`` and ``unknown/<name>`` give ``unknown:<name>`` samples. Other files are listed
    as skipped; hidden files are ignored.

    Args:
        root: the top folder.
        taxonomy: folder names are resolved to its leaf ids.
        allow_unknown: when False, unknown-type images are skipped (and listed).
        verify_images: open and verify each image with PIL; when False only existence is checked.

    Raises:
        DataError: the folder does not exist.
        UnknownLabelsError: some class folders are not leaves of the taxonomy (all are listed).
    """
    root = Path(root).resolve()
    checker = _LabelChecker(taxonomy)
    candidates, skipped = _parse_folder(root, checker, allow_unknown)
    checker.raise_if_bad()
    return _finish(candidates, skipped, verify_images, [str(root)])


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
    checker = _LabelChecker(taxonomy)
    candidates: list[_Candidate] = []
    skipped: list[tuple[str, str]] = []
    names: list[str] = []
    for item in items:
        source = Path(item).resolve()
        found, bad = _parse_source(source, checker, allow_unknown)
        candidates.extend(found)
        skipped.extend(bad)
        names.append(str(source))
    checker.raise_if_bad()
    return _finish(candidates, skipped, verify_images, names)


# ------------------------------------------------------------------------------------------ writing
def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _manifest_path_text(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix() if os.sep == "/" else str(path)


def write_manifest(samples: Sequence[Sample], path: str | Path) -> Path:
    """Write samples as a manifest CSV (UTF-8, ``\\n`` line ends), atomically.

    Paths under the manifest's folder are written relative to it with forward slashes, others absolute.
    Only the optional columns that have a value in some sample are written, in contract order.

    Args:
        samples: the samples to write.
        path: the manifest file; its folder is created if needed.

    Returns:
        The resolved manifest path.
    """
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.parent
    optional = [c for c in COLUMNS[2:] if any(getattr(s, c) is not None for s in samples)]
    columns = ["path", "label", *optional]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for s in samples:
        row = [_manifest_path_text(Path(s.path).resolve(), base), s.label]
        for column in optional:
            value = getattr(s, column)
            if value is None:
                row.append("")
            elif column == "defect_bbox":
                row.append(" ".join(str(int(v)) for v in value))
            elif column in ("magnification", "defect_size_px"):
                row.append(_format_number(value))
            else:
                row.append(str(value))
        writer.writerow(row)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=base)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def data_hash(samples: Sequence[Sample]) -> str:
    """sha256 over (content hash, label) pairs, order-independent: names the exact training data."""
    rows = sorted(f"{file_sha256(s.path)}\t{s.label}\t{s.split or ''}" for s in samples)
    return sha256_hex("\n".join(rows))



def label_counts(samples: Iterable[Sample]) -> dict[str, int]:
    """Number of samples per label, most common first (ties by label)."""
    counts: defaultdict[str, int] = defaultdict(int)
    for s in samples:
        counts[s.label] += 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
