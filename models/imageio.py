"""Robust image decoding for microscope images.

FMA images arrive as PNG, JPEG, BMP or TIFF; 8- or 16-bit; grayscale, RGB,
RGBA or palette. Everything is turned into an 8-bit RGB :class:`PIL.Image.Image`
here, and every failure becomes an :class:`ImageLoadError` whose message names
the file and the reason, so that a batch can go on without it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:  # numpy is imported by the 16-bit path that needs it (not on the way to the app's window)
    import numpy as np

S = TypeVar("S")
R = TypeVar("R")

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})

MAX_PIXELS = 64_000_000
"""The decoding budget: an image with more pixels (an 8000 x 8000 RGB image is 192 MB decoded) is refused from
its header, before anything is decoded, with a reason naming its size; a JPEG is decoded at a reduced scale
instead when that brings it under the budget. A 388 KB PNG of 20000 x 20000 pixels would need 4.6 GB."""

# Pillow's own guard (a warning above its limit, an error above twice) stays as a last line far behind ours: a
# JPEG up to 64 times the budget is decoded at 1/8 scale.
Image.MAX_IMAGE_PIXELS = 32 * MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Between Pillow's limit and twice it, Pillow only warns (on stderr, once per header read): our budget has refused
# such an image already, with a reason the user sees, so the warning is noise in the terminal and the logs.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageLoadError(OSError):
    """An image could not be read. ``reason`` is a short human-readable cause."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = str(path) if path is not None else None
        self.reason = reason
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{reason}")


def is_image_file(path: str | Path) -> bool:
    """True when the file name has one of the supported image suffixes."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale a 16-bit or float array to 0..255 using its own dynamic range.

    Microscope cameras often fill only part of the 16-bit range, so a fixed
    ``/257`` would give nearly black images; a percentile stretch keeps detail.
    """
    import numpy as np

    arr = arr.astype(np.float32)
    lo, hi = np.percentile(arr, [0.5, 99.5]) if arr.size > 16 else (float(arr.min()), float(arr.max()))
    if hi <= lo:
        hi = lo + 1.0
    out = np.clip((arr - lo) / (hi - lo), 0.0, 1.0) * 255.0
    return (out + 0.5).astype(np.uint8)


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow image mode to 8-bit RGB.

    Args:
        img: an opened image in any mode (``1``, ``L``, ``P``, ``I;16``, ``I``, ``F``, ``RGBA``, ``CMYK`` ...).

    Returns:
        An RGB image; alpha is composited on black (the microscope background).
    """
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}:
        import numpy as np

        arr = np.asarray(img)
        return Image.fromarray(_to_uint8(arr), mode="L").convert("RGB")
    if mode in {"RGBA", "LA", "PA"} or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


EMPTY_FILE = "empty file (0 bytes): nothing was saved in it"
"""The reason given for an image file without a single byte (an interrupted copy or save)."""
NOT_AN_IMAGE = "not a recognised image format (corrupt or wrong file type)"
"""The reason given for a file no image decoder recognises."""
CUT_SHORT = "corrupt or truncated image"
"""How the reason for an image whose pixels cannot all be decoded starts (the decoder's words follow)."""
TOO_LARGE = "image too large"
"""How the reason for an image over the pixel budget starts (its size follows)."""


OTHER_PICTURE = "its file holds another picture now"
"""Why a :class:`PictureFile` was not decoded: its file was written over with another picture since it was hashed
(the prediction of that picture would be stored under the image it replaced)."""


class PictureFile(str):
    """A path that must hold one known picture: :func:`load_image` checks the bytes it reads against ``sha256``
    (which it reads whole anyway) and refuses another picture with :data:`OTHER_PICTURE`. A ``str``, so it goes
    wherever a path goes (the predictors' image sources, ``Path(...)``, comparisons with plain paths)."""

    sha256: str

    def __new__(cls, path: str | os.PathLike[str], sha256: str) -> PictureFile:
        self = super().__new__(cls, os.fspath(path))
        self.sha256 = sha256
        return self

    def __getnewargs__(self) -> tuple[str, str]:  # pickled (``classify`` under torchrun hands the paths over)
        return str(self), self.sha256


def is_content_reason(reason: str) -> bool:
    """Whether a reason of :func:`load_image` is about what the file holds (empty, not an image, cut short, too
    large), which reading it again will not change; not about reaching it (missing, permission denied)."""
    return reason in (EMPTY_FILE, NOT_AN_IMAGE) or reason.startswith((CUT_SHORT, TOO_LARGE))


REACH_REASONS = ("file not found", "permission denied")
REACH_PREFIX = "cannot read the file ("
"""The reasons of :func:`os_error_reason` (:func:`is_reach_reason`; the store counts them in SQL by these)."""


def is_reach_reason(reason: str) -> bool:
    """Whether a reason of :func:`load_image` is about reaching the file (:func:`os_error_reason`: not found,
    permission denied, an input/output error of a share), which the next read may not meet."""
    return reason in REACH_REASONS or reason.startswith(REACH_PREFIX)


def os_error_reason(exc: OSError) -> str:
    """A failed file-system call as a reason in the product's words (the phrases the UI translates): file not
    found, permission denied, else "cannot read the file (the system's words)". An ``OSError`` made from such a
    reason (no ``errno``) is that reason."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if exc.errno is None:
        return str(exc)
    return f"cannot read the file ({exc.strerror or exc})"


def regular_file_reason(path: Path) -> str | None:
    """Why a path cannot be read as an image file without opening it (None: a regular file).

    Opening a FIFO blocks until someone writes to it, and a device can be endless: only regular files are read.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return "file not found (or a link to a missing file)" if path.is_symlink() else "file not found"
    except OSError as exc:
        return os_error_reason(exc)
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not an image file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a pipe, device or socket)"
    return None


def budget_reason(width: int, height: int, *, jpeg: bool = False, nbytes: int | None = None) -> str | None:
    """Why an image of this size is not decoded (None: within :data:`MAX_PIXELS`, or a JPEG that fits at 1/8).

    ``nbytes`` (a JPEG's file size) also catches a JPEG too small for the size its header claims: every 8 x 8
    block takes at least one bit, so a smaller file is truncated or forged, and libjpeg would fill the missing
    pixels with grey without an error (a model would classify a grey square).
    """
    if jpeg and nbytes is not None and nbytes * 8 < (width // 8) * (height // 8):
        return (f"{CUT_SHORT}: a {nbytes:,}-byte JPEG cannot hold the {width} x {height} pixels its "
                "header claims")
    if width * height <= MAX_PIXELS or (jpeg and (width // 8) * (height // 8) <= MAX_PIXELS):
        return None
    return (f"{TOO_LARGE}: {width} x {height} pixels ({width * height / 1e6:.0f} million) is over the limit of "
            f"{MAX_PIXELS / 1e6:.0f} million pixels")


def _within_budget(img: Image.Image, side: int | None = None) -> None:
    """Refuse an opened (not yet decoded) image over :data:`MAX_PIXELS`; a JPEG is set to decode smaller: to fit
    the budget, and (``side``: a thumbnail's) as small as still covers ``side`` x ``side``."""
    width, height = img.size
    jpeg = img.format == "JPEG"
    reason = budget_reason(width, height, jpeg=jpeg, nbytes=_size(img.fp) if jpeg else None)
    if reason is not None:
        raise ImageLoadError(None, reason)
    if not jpeg:
        return
    # the JPEG decoder scales by 1/2, 1/4 or 1/8 while decoding (draft: one call, before the decode)
    budget = next((s for s in (1, 2, 4, 8) if (width // s) * (height // s) <= MAX_PIXELS), 8)
    small = next((s for s in (8, 4, 2) if side and min(width, height) // s >= side), 1)
    if (scale := max(budget, small)) > 1:
        img.draft(img.mode, (width // scale, height // scale))


def _size(fh: Any) -> int | None:
    """The byte length of an open image's file object (None when it cannot be told)."""
    try:
        here = fh.tell()
        end = fh.seek(0, io.SEEK_END)
        fh.seek(here)
        return int(end)
    except (AttributeError, OSError, ValueError):
        return None


def load_image(source: str | Path | bytes | Image.Image, *, side: int | None = None) -> Image.Image:
    """Decode an image file (or bytes, or an already opened image) to 8-bit RGB.

    Args:
        source: a path (a :class:`PictureFile`: only the picture it names), the raw bytes of an image file, or a
            PIL image.
        side: for a thumbnail of at most this many pixels a side: a JPEG is decoded at 1/2, 1/4 or 1/8 of its size
            where that still covers ``side`` x ``side`` (a 6000 x 4000 micrograph's thumbnail decoded whole took
            most of a second); never for what the model sees (it was trained on whole decodes).

    Returns:
        A fully decoded RGB image.

    Raises:
        ImageLoadError: the file is missing, unreadable, not an image, truncated or too large, or (a
            :class:`PictureFile`) holds another picture.
    """
    if isinstance(source, Image.Image):
        return to_rgb(source)
    path: Path | None = None
    try:
        if isinstance(source, bytes | bytearray):
            fh = io.BytesIO(source)
        else:
            path = Path(source)
            if (reason := regular_file_reason(path)) is not None:
                raise ImageLoadError(path, reason)
            try:
                data = path.read_bytes()
            except OSError as exc:  # gone, or the share dropped, after the stat: not reached, not a bad file
                raise ImageLoadError(path, os_error_reason(exc)) from None
            if isinstance(source, PictureFile) and hashlib.sha256(data).hexdigest() != source.sha256:
                raise ImageLoadError(path, OTHER_PICTURE)
            fh = io.BytesIO(data)
        with Image.open(fh) as img:
            try:
                _within_budget(img, side)
            except ImageLoadError as exc:
                raise ImageLoadError(path, exc.reason) from None
            img.load()
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            return to_rgb(_upright(img)).copy()
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        if fh.getbuffer().nbytes == 0:
            raise ImageLoadError(path, EMPTY_FILE) from None
        raise ImageLoadError(path, NOT_AN_IMAGE) from None
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(path, f"{TOO_LARGE}: {exc}") from None
    except PermissionError:
        raise ImageLoadError(path, "permission denied") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageLoadError(path, f"{CUT_SHORT} ({exc})") from None


ORIENTATION_TAG = 0x0112
"""EXIF Orientation: 1 upright; 2-8 mirrored and/or turned (a camera held sideways, a microscope's export)."""


def _upright(img: Image.Image) -> Image.Image:
    """The picture as an image viewer shows it: turned (and mirrored) as its EXIF orientation says. The app showed,
    and the model judged, a photo taken sideways lying on its side, where the analyst's viewer showed it upright.
    The model, the screen and training all decode through :func:`load_image`, so they agree."""
    try:
        return ImageOps.exif_transpose(img) if img.getexif().get(ORIENTATION_TAG, 1) not in (1, None) else img
    except Exception:  # a damaged EXIF block: the pixels as they are (the picture itself decoded)
        return img


def decode_or_reason(decode: Callable[[S], R], source: S) -> tuple[R | None, str | None]:
    """``(decode(source), None)``, or ``(None, why)`` when the image cannot be read.

    The one place that turns a decoding failure into a reason for the user: an :class:`ImageLoadError`
    gives its reason; any other exception (a decoder bug on one odd file) is named, so that one image
    never stops a batch.
    """
    try:
        return decode(source), None
    except ImageLoadError as exc:
        return None, exc.reason
    except Exception as exc:
        return None, f"cannot read image ({type(exc).__name__}: {exc})"


def expand_paths(paths: Iterable[str | Path], recursive: bool = False) -> tuple[list[Path], int]:
    """Files named explicitly are always kept; folders contribute their image files (sorted).

    Returns the list and the number of non-image files skipped inside folders.
    """
    out: list[Path] = []
    skipped = 0
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            for f in sorted(p.glob(pattern)):
                if is_image_file(f) and not (recursive and f.is_dir()):
                    out.append(f)  # a pipe, a dangling link or a folder named *.png becomes a row with its reason
                elif f.is_file():
                    skipped += 1
        else:
            out.append(p)  # missing/corrupt files become error rows, never a crash
    return out, skipped


_MAGNIFICATION = re.compile(r"(?<![0-9A-Za-z.])(\d{1,4}(?:\.\d+)?)\s*[xX×](?![A-Za-z0-9])")
_BITS = {"1": 1, "L": 8, "P": 8, "LA": 8, "RGB": 8, "RGBA": 8, "CMYK": 8, "YCbCr": 8, "I;16": 16, "I;16B": 16,
         "I;16L": 16, "I;16N": 16, "I": 32, "F": 32}
_COLOUR = {"1": "black and white", "L": "grayscale", "LA": "grayscale + alpha", "P": "palette", "RGB": "RGB", "RGBA": "RGBA",
           "CMYK": "CMYK", "YCbCr": "YCbCr", "I;16": "grayscale", "I;16B": "grayscale", "I;16L": "grayscale",
           "I;16N": "grayscale", "I": "grayscale", "F": "float"}


@dataclass(frozen=True)
class ImageFacts:
    """What the analyst may want to know about an image file besides its pixels (the viewer's details line).

    Attributes:
        width, height: pixels. bits: bits per channel. colour: ``RGB``, ``grayscale`` ...
        file_bytes: the file's size.
        magnification: e.g. 20.0, read from a TIFF description or the file name (``P001_20x.png``), else None;
            ``magnification_from`` says which (``tiff``, ``name``).
        taken: when the image was captured (EXIF/TIFF date, ISO text) or, failing that, last saved (file time);
            ``taken_from`` says which (``exif``, ``file``).
    """

    width: int
    height: int
    bits: int | None
    colour: str
    file_bytes: int | None = None
    magnification: float | None = None
    magnification_from: str | None = None
    taken: str | None = None
    taken_from: str | None = None


def _header_bits(im: Image.Image) -> int | None:
    """Bits per channel as the file stores them (Pillow decodes 16-bit colour PNG and 48-bit TIFF as 8-bit
    ``RGB``): TIFF's BitsPerSample, else a 16-bit raw mode of the first tile; None to go by the mode."""
    tag = getattr(im, "tag_v2", None)
    if tag is not None and 258 in tag:
        value = tag[258]
        return int(max(value)) if isinstance(value, tuple) else int(value)
    raw = str(im.tile[0][3]) if getattr(im, "tile", None) else ""
    return 16 if ";16" in raw else None


def magnification_in(text: str) -> float | None:
    """The magnification a text names (``_20x``, ``50X``, ``20 ×``), or None."""
    found = _MAGNIFICATION.search(text or "")
    return float(found.group(1)) if found else None


def image_facts(path: str | Path) -> ImageFacts:
    """Size, bit depth, colour, file size, magnification and capture time of an image file (header only).

    Raises:
        OSError: the file cannot be read. PIL.UnidentifiedImageError: not an image.
    """
    path = Path(path)
    st = path.stat()
    with Image.open(path) as im:
        width, height, mode = int(im.width), int(im.height), im.mode
        bits = _header_bits(im)
        exif = im.getexif()
        # turned a quarter: the size as it is shown; a TIFF that Pillow opened upright already (its size no longer
        # the stored ImageWidth x ImageLength) is not turned again (review: Pillow 13 does so for TIFF)
        stored = (im.tag_v2.get(256), im.tag_v2.get(257)) if hasattr(im, "tag_v2") else (width, height)
        if exif.get(ORIENTATION_TAG) in (5, 6, 7, 8) and (width, height) == stored:
            width, height = height, width
        description = str(exif.get(270) or "")  # TIFF ImageDescription
        when = exif.get_ifd(0x8769).get(36867) or exif.get(306)  # DateTimeOriginal, DateTime
    mag, mag_from = magnification_in(description), "tiff"
    if mag is None:
        mag, mag_from = magnification_in(path.stem), "name"
    taken, taken_from = None, None
    if when:
        text = str(when).strip()
        taken, taken_from = (text[:10].replace(":", "-") + text[10:16]) if len(text) >= 16 else text, "exif"
    else:
        taken = dt.datetime.fromtimestamp(st.st_mtime).strftime("%Y-%m-%d %H:%M")
        taken_from = "file"
    return ImageFacts(width=width, height=height, bits=bits or _BITS.get(mode), colour=_COLOUR.get(mode, mode),
                      file_bytes=int(st.st_size), magnification=mag, magnification_from=None if mag is None else mag_from,
                      taken=taken, taken_from=taken_from)
