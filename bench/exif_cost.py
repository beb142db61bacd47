"""What reading a picture's EXIF orientation costs every decode (``models.imageio.load_image``, since 2026-12-07).

``python -m bench.exif_cost [--rounds R] [--size WxH]``. Every picture the model judges, the screen shows or training
reads is decoded by ``load_image``, which now looks up the EXIF orientation tag (and turns the picture only where it
says so). Each round, in alternation, the same files are decoded with the look-up (now) and without it (before): the
demo batch's PNGs, and large JPEGs carrying an EXIF block that says "upright" (a camera's usual file). Prints the
median time of each and the median of the per-round ratios (now / before).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _jpegs(folder: Path, n: int, size: tuple[int, int]) -> list[Path]:
    from PIL import Image

    from models.imageio import ORIENTATION_TAG

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"camera_{i}.jpg"
        exif = Image.Exif()
        exif[ORIENTATION_TAG] = 1
        noise = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
        Image.fromarray(noise).resize(size).save(path, quality=92, exif=exif.tobytes())
        paths.append(path)
    return paths


def _timed(paths: list[Path]) -> float:
    from models.imageio import load_image

    start = time.perf_counter()
    for path in paths:
        load_image(path)
    return time.perf_counter() - start


def compare(paths: list[Path], rounds: int) -> tuple[float, float, float]:
    """Median seconds with the look-up, without it, and the median per-round ratio."""
    from models import imageio

    upright: Callable = imageio._upright
    now, before = [], []
    _timed(paths)  # (files in the page cache for both)
    for _ in range(rounds):
        now.append(_timed(paths))
        imageio._upright = lambda img: img
        try:
            before.append(_timed(paths))
        finally:
            imageio._upright = upright
    ratios = [a / b for a, b in zip(now, before, strict=True)]
    return statistics.median(now), statistics.median(before), statistics.median(ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--size", default="3000x2000", help="the JPEGs' size, WxH")
    args = parser.parse_args(argv)
    width, height = map(int, args.size.lower().split("x"))
    pngs = sorted((ROOT / "resources" / "demo" / "batch").glob("*.png"))
    with tempfile.TemporaryDirectory() as tmp:
        sets = {f"demo batch, {len(pngs)} PNGs": pngs,
                f"{width}x{height} JPEGs with EXIF, 4": _jpegs(Path(tmp), 4, (width, height))}
        for name, paths in sets.items():
            now, before, ratio = compare(paths, args.rounds)
            print(f"{name}: with the orientation look-up {now * 1000:.1f} ms, without {before * 1000:.1f} ms; "
                  f"median ratio {ratio:.3f} over {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
