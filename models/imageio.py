"""Robust image decoding for microscope images.

FMA images arrive as PNG, JPEG, BMP or TIFF; 8- or 16-bit; grayscale, RGB,
RGBA or palette. Everything is turned into an 8-bit RGB :class:`PIL.Image.Image`
here, and every failure becomes an :class:`ImageLoadError` whose message names
the file and the reason, so that a batch can go on without it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

S = TypeVar("S")
R = TypeVar("R")

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})

# Refuse decompression bombs with a clear error rather than a warning.
Image.MAX_IMAGE_PIXELS = 256_000_000
ImageFile.LOAD_TRUNCATED_IMAGES = False


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
        arr = np.asarray(img)
        return Image.fromarray(_to_uint8(arr), mode="L").convert("RGB")
    if mode in {"RGBA", "LA", "PA"} or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(source: str | Path | bytes | Image.Image) -> Image.Image:
    """Decode an image file (or bytes, or an already opened image) to 8-bit RGB.

    Args:
        source: a path, the raw bytes of an image file, or a PIL image.

    Returns:
        A fully decoded RGB image.

    Raises:
        ImageLoadError: the file is missing, unreadable, not an image, truncated or too large.
    """
    if isinstance(source, Image.Image):
        return to_rgb(source)
    path: Path | None = None
    try:
        if isinstance(source, bytes | bytearray):
            fh = io.BytesIO(source)
        else:
            path = Path(source)
            if not path.exists():
                raise ImageLoadError(path, "file not found")
            if path.is_dir():
                raise ImageLoadError(path, "is a folder, not an image file")
            fh = io.BytesIO(path.read_bytes())
        with Image.open(fh) as img:
            img.load()
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            return to_rgb(img).copy()
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(path, "not a recognised image format (corrupt or wrong file type)") from None
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(path, f"image too large: {exc}") from None
    except PermissionError:
        raise ImageLoadError(path, "permission denied") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageLoadError(path, f"corrupt or truncated image ({exc})") from None


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
            for f in sorted(q for q in p.glob(pattern) if q.is_file()):
                if is_image_file(f):
                    out.append(f)
                else:
                    skipped += 1
        else:
            out.append(p)  # missing/corrupt files become error rows, never a crash
    return out, skipped
