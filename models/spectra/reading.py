"""Read an FTIR spectrum file into one normalised form: wavenumbers in cm⁻¹, ascending, and absorbance.

Two kinds of file are read:

* **JCAMP-DX** (``.jdx``, ``.dx``, ``.jcamp``), the instruments' exchange format, parsed by the maintained ``jcamp``
  package (plain ``(XY..XY)`` pairs, the ``(X++(Y..Y))`` table and its compressed ASDF forms). ``##XUNITS`` and
  ``##YUNITS`` say what the numbers are.
* **A two-column table** (``.csv``, ``.txt``): x, then y, separated by commas, semicolons, tabs or spaces (a decimal
  comma is read where the separator is a semicolon or a tab); an optional header row names the units
  (``wavenumber (cm-1)``, ``wavelength (um)``, ``absorbance``, ``transmittance (%)``; a title row may stand above it).
  Without a header the x unit is told from the range (above 100: cm⁻¹; else µm), and y values within 0–110 with a
  median above 10 are read as percent transmittance, any other y as absorbance; a note says what was assumed.
  Rows with an empty, NaN or infinite cell are dropped (and counted in a note).

Whatever the file holds becomes a :class:`Spectrum`: x converted to cm⁻¹ (from µm: 10⁴/x; from nm: 10⁷/x),
sorted ascending, duplicate x dropped; transmittance (fraction or percent) converted to absorbance ``-log10 T``
(T floored at 10⁻⁴, so an opaque band reads 4). Ordinate units that are neither (Kubelka-Munk, arbitrary units)
and reflectance are kept as they are and marked ``arbitrary``. A file that is not a readable infrared spectrum raises
:class:`SpectrumError` with a sentence that names the file and the problem.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.hashing import sha256_hex

JCAMP_SUFFIXES = frozenset({".jdx", ".dx", ".jcamp"})
TABLE_SUFFIXES = frozenset({".csv", ".txt"})
SPECTRUM_SUFFIXES = JCAMP_SUFFIXES | TABLE_SUFFIXES
"""File suffixes a spectrum may have (a table's suffixes are shared with other files: it is a spectrum only where it
is named as one, by a manifest or by its image's name)."""

MIN_POINTS = 16
MAX_BYTES = 64 << 20  # a mid-IR spectrum is a few hundred kB; anything this large is not one
IR_RANGE_CM1 = (100.0, 15_000.0)  # far- to near-infrared: wavenumbers outside are no infrared spectrum
KINDS = ("absorbance", "transmittance", "arbitrary")
T_FLOOR = 1e-4
_STDOUT_LOCK = threading.Lock()


class SpectrumError(ValueError):
    """A spectrum file that cannot be read; the message names the file and the problem."""


class NotATable(SpectrumError):
    """A table file (``.csv``, ``.txt``) without a single row of two numbers: no spectrum at all (a note, a list)."""


@dataclass(frozen=True, eq=False)
class Spectrum:
    """One spectrum, normalised.

    Attributes:
        wavenumbers: cm⁻¹, ascending, float64.
        absorbance: the ordinate as absorbance (or as given, for ``kind == "arbitrary"``), same length.
        kind: what the file held: ``absorbance``, ``transmittance`` (converted) or ``arbitrary`` (kept as given).
        sha256: of the file's bytes: the spectrum's identity in the store.
        name: the file's name.
        format: ``jcamp`` or ``table``.
        title: the file's title (JCAMP ``##TITLE``), or empty.
        notes: what the reading assumed or dropped, one sentence each (shown to the user, never an error).
    """

    wavenumbers: np.ndarray
    absorbance: np.ndarray
    kind: str
    sha256: str
    name: str
    format: str
    title: str = ""
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.wavenumbers)

    @property
    def span(self) -> tuple[float, float]:
        """The lowest and highest wavenumber (cm⁻¹)."""
        return float(self.wavenumbers[0]), float(self.wavenumbers[-1])

    def to_bytes(self) -> bytes:
        """The arrays as the store keeps them: float32 little-endian, the wavenumbers then the absorbance."""
        return np.concatenate([self.wavenumbers, self.absorbance]).astype("<f4").tobytes()

    @staticmethod
    def arrays_from_bytes(data: bytes) -> tuple[np.ndarray, np.ndarray]:
        """The (wavenumbers, absorbance) arrays of :meth:`to_bytes` (float64)."""
        values = np.frombuffer(data, dtype="<f4").astype(np.float64)
        half = len(values) // 2
        return values[:half], values[half:]


def read_spectrum(path: str | Path) -> Spectrum:
    """Read and normalise one spectrum file (JCAMP-DX or a two-column table, by its suffix).

    Raises:
        SpectrumError: the file is missing, unreadable, too large, or not an infrared spectrum.
    """
    path = Path(path)
    return parse_spectrum(read_spectrum_bytes(path), path.name)


def read_spectra(files: Sequence[str | Path], log: Callable[[str], None] | None = None) -> list[Spectrum]:
    """The readable spectra of ``files``; one that cannot be read is left out (and ``log`` told why)."""
    out = []
    for file in files:
        try:
            out.append(read_spectrum(file))
        except (SpectrumError, OSError) as exc:
            if log is not None:
                log(f"skipped spectrum {file}: {exc}")
    return out


def read_spectrum_bytes(path: Path) -> bytes:
    """A spectrum file's bytes (checked: a spectrum's suffix, readable, not too large).

    Raises:
        SpectrumError: why not.
    """
    if path.suffix.lower() not in SPECTRUM_SUFFIXES:
        raise SpectrumError(f"{path.name}: not a spectrum file (JCAMP-DX .jdx/.dx/.jcamp, or a .csv/.txt table)")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SpectrumError(f"{path.name}: {size / 2**20:.0f} MB is too large for a spectrum")
        return path.read_bytes()
    except FileNotFoundError:
        raise SpectrumError(f"{path.name}: file not found") from None
    except OSError as exc:
        raise SpectrumError(f"{path.name}: cannot read the file ({exc.strerror or exc})") from None


def parse_spectrum(data: bytes, name: str) -> Spectrum:
    """:func:`read_spectrum` of a file's bytes; ``name`` (with its suffix) tells the format."""
    if not data.strip():
        raise SpectrumError(f"{name}: the file is empty")
    if Path(name).suffix.lower() in JCAMP_SUFFIXES:
        x, y, x_unit, kind, title, notes = _jcamp(data, name)
        fmt = "jcamp"
    else:
        x, y, x_unit, kind, notes = _table(data, name)
        title, fmt = "", "table"
    return _normalised(x, y, x_unit, kind, name=name, sha256=sha256_hex(data), fmt=fmt, title=title, notes=notes)


# ------------------------------------------------------------------------------------------ JCAMP-DX
def _jcamp(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray, str, str, str, list[str]]:
    import jcamp

    if not data.lstrip().startswith(b"##"):
        raise SpectrumError(f"{name}: not a JCAMP-DX file (it does not start with a ##TITLE= line)")
    said = io.StringIO()  # the package prints its checks' failures: they become notes
    try:
        # (the redirect swaps sys.stdout for the whole process: one parse at a time, or two overlapping parses
        # would leave it pointing at a StringIO)
        with _STDOUT_LOCK, contextlib.redirect_stdout(said):
            parsed = jcamp.read(io.BytesIO(data))
    except KeyError as exc:  # a header the data table needs: ##FIRSTX=, ##LASTX=, ##XFACTOR= … (it said 'firstx')
        raise SpectrumError(f"{name}: not a readable JCAMP-DX spectrum (its ##{str(exc.args[0]).upper()}= line "
                            "is missing, which its data table needs)") from None
    except Exception as exc:  # the package raises whatever its parsing meets (ValueError, IndexError …)
        raise SpectrumError(f"{name}: not a readable JCAMP-DX spectrum ({type(exc).__name__}: {exc})") from None
    if parsed.get("children"):  # a compound file (##DATA TYPE=LINK): its first block that holds data
        blocks = [b for b in parsed["children"] if len(b.get("y", ())) > 0]
        if not blocks:
            raise SpectrumError(f"{name}: the JCAMP-DX file's blocks hold no data")
        parsed = blocks[0]
    notes = [f"the file's checks: {line.strip()}" for line in said.getvalue().splitlines()[:3] if line.strip()]
    x = np.asarray(parsed.get("x", ()), dtype=np.float64)
    y = np.asarray(parsed.get("y", ()), dtype=np.float64)
    if len(x) != len(y):
        raise SpectrumError(f"{name}: {len(x)} x values but {len(y)} y values (a damaged JCAMP-DX table)")
    x_unit = _x_unit(str(parsed.get("xunits", "")), x, notes)
    kind = _y_kind(str(parsed.get("yunits", "")), y, notes)
    return x, y, x_unit, kind, str(parsed.get("title", "")).strip(), notes


# ------------------------------------------------------------------------------------------ tables
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _table(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray, str, str, list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise SpectrumError(f"{name}: the file holds no rows")
    sep = _separator(lines[:20])
    decimal_comma = sep in (";", "\t")
    header: list[str] | None = None
    xs: list[float] = []
    ys: list[float] = []
    dropped = 0
    for number, line in enumerate(lines, 1):
        try:
            cells = _cells(line, sep)
        except csv.Error as exc:  # a cell the csv module refuses (over its field size limit …)
            raise SpectrumError(f"{name}: row {number} cannot be read as a table ({exc})") from None
        values = [_number(c, decimal_comma) for c in cells[:2]]
        if len(cells) >= 2 and all(_missing(c) or v is not None for c, v in zip(cells[:2], values, strict=True)):
            if any(v is None for v in values):  # NaN, inf or an empty cell: the point is dropped
                dropped += 1
                continue
        elif not xs and not dropped and number <= 3:  # a header row (the last of up to three above the data)
            header = cells
            continue
        else:
            raise (NotATable if not xs and not dropped else SpectrumError)(
                f"{name}: row {number} is not two numbers ({line.strip()[:60]!r}); a spectrum table holds x "
                "(wavenumber) and y (absorbance or transmittance) per row")
        xs.append(values[0])  # type: ignore[arg-type]
        ys.append(values[1])  # type: ignore[arg-type]
    if not xs:
        raise NotATable(f"{name}: no rows of two numbers; a spectrum table holds x (wavenumber) and y "
                        "(absorbance or transmittance) per row")
    x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    notes: list[str] = [f"{dropped} rows without a finite value dropped"] if dropped else []
    x_head = header[0] if header else ""
    y_head = header[1] if header and len(header) > 1 else ""
    x_unit = _x_unit(x_head, x, notes)
    kind = _y_kind(y_head, y, notes)
    return x, y, x_unit, kind, notes


def _separator(lines: list[str]) -> str | None:
    for sep in ("\t", ";", ","):
        if all(sep in line for line in lines[-5:]):
            return sep
    return None  # whitespace


def _cells(line: str, sep: str | None) -> list[str]:
    if sep is None:
        return line.split()
    return [c.strip() for c in next(csv.reader([line], delimiter=sep))]


def _missing(cell: str) -> bool:
    """A cell that stands for no value: empty, NaN or infinite."""
    return cell.strip().lower().lstrip("+-") in ("", "nan", "inf", "infinity", "na", "n/a")


def _number(cell: str, decimal_comma: bool) -> float | None:
    cell = cell.strip()
    if decimal_comma:
        cell = cell.replace(",", ".")
    if not _NUMBER.match(cell):
        return None
    value = float(cell)
    return value if math.isfinite(value) else None


# ------------------------------------------------------------------------------------------ units
def _x_unit(said: str, x: np.ndarray, notes: list[str]) -> str:
    """``cm-1``, ``um`` or ``nm``: from the unit the file states, else from the values' range."""
    words = said.lower().replace(" ", "")
    if any(w in words for w in ("1/cm", "cm-1", "cm^-1", "cm⁻¹", "wavenumber")):
        return "cm-1"
    if any(w in words for w in ("micromet", "micron", "µm", "μm", "um)", "(um")) or words == "um":
        return "um"
    if any(w in words for w in ("nanomet", "nm")):
        return "nm"
    if len(x) and float(np.nanmax(x)) <= 100:
        notes.append("x unit not stated: read as wavelength in µm (values up to 100)")
        return "um"
    if said:
        notes.append(f"x unit {said!r} not recognised: read as wavenumbers in cm⁻¹")
    elif len(x):
        notes.append("x unit not stated: read as wavenumbers in cm⁻¹")
    return "cm-1"


def _y_kind(said: str, y: np.ndarray, notes: list[str]) -> str:
    """``absorbance``, ``transmittance`` (a fraction), ``transmittance%`` or ``arbitrary``."""
    words = said.lower()
    percent = "%" in words or "percent" in words
    if "absorb" in words or words.strip() in ("a", "abs", "a.u. absorbance"):
        return "absorbance"
    if "reflect" in words or words.strip() in ("r", "%r"):
        notes.append(f"ordinate {said.strip()!r} is a reflectance: kept as given")
        return "arbitrary"
    if "transm" in words or words.strip() in ("t", "%t"):
        return "transmittance%" if percent or (len(y) and float(np.nanmax(y)) > 2) else "transmittance"
    if percent:
        return "transmittance%"
    if said.strip():
        notes.append(f"ordinate {said.strip()!r} is neither absorbance nor transmittance: kept as given")
        return "arbitrary"
    if len(y) and float(np.nanmin(y)) >= 0 and float(np.nanmax(y)) <= 110 and float(np.nanmedian(y)) > 10:
        notes.append("y unit not stated: read as percent transmittance (values within 0–110, median above 10)")
        return "transmittance%"
    notes.append("y unit not stated: read as absorbance")
    return "absorbance"


def _normalised(x: np.ndarray, y: np.ndarray, x_unit: str, kind: str, *, name: str, sha256: str, fmt: str,
                title: str, notes: list[str]) -> Spectrum:
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0)
    if (dropped := int((~keep).sum())) and keep.any():
        notes.append(f"{dropped} points without a finite value dropped")
    x, y = x[keep], y[keep]
    if len(x) < MIN_POINTS:
        raise SpectrumError(f"{name}: {len(x)} data points; a spectrum needs at least {MIN_POINTS}")
    if x_unit == "um":
        x = 1e4 / x
    elif x_unit == "nm":
        x = 1e7 / x
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    unique = np.concatenate([[True], np.diff(x) > 0])
    if not unique.all():
        notes.append(f"{int((~unique).sum())} repeated wavenumbers dropped")
        x, y = x[unique], y[unique]
    lo, hi = float(x[0]), float(x[-1])
    if lo < IR_RANGE_CM1[0] or hi > IR_RANGE_CM1[1]:
        raise SpectrumError(f"{name}: wavenumbers {lo:.0f}–{hi:.0f} cm⁻¹ lie outside the infrared "
                            f"({IR_RANGE_CM1[0]:.0f}–{IR_RANGE_CM1[1]:.0f} cm⁻¹); is the first column the wavenumber?")
    if kind.startswith("transmittance"):
        t = y / 100.0 if kind.endswith("%") else y
        y = -np.log10(np.clip(t, T_FLOOR, None))
        kind = "transmittance"
    return Spectrum(wavenumbers=x, absorbance=y, kind=kind, sha256=sha256, name=name, format=fmt, title=title,
                    notes=tuple(notes))
