"""The image on screen, asked for ahead and still waiting for a thread: decoded first, or behind the others.

``python -m bench.decode_ahead [--images N] [--rounds R] [--size WxH]``. The window decodes the image on screen and
the next :data:`app.ui.main_window.LOOKAHEAD` in judging order on the application's thread pool (two threads on a
2-core workstation). An analyst who jumps ahead (Next waiting past images the model judged, a click in the list, a
burst of Down) lands on an image asked for ahead whose decode still waits behind the others. Until 2026-12-07 its
urgent request was dropped (it was "on its way"); now the waiting decode is asked for again at the screen's priority
(:meth:`app.ui.image_cache.ImageCache.request`). Each round, in alternation, the same images are asked for ahead in
a fresh cache, then the last one comes on screen: "before" does nothing more (what the old code did), "now" asks for
it urgently; the time until it is decoded is printed for both, with the median of the per-round ratios.

Then the image list's thumbnails of the same JPEGs (:func:`app.ui.image_cache.decode_thumbnail`, 144 px): decoded
whole and then made small (before 2026-12-07), against decoded at the smallest JPEG scale that covers the thumbnail
(``load_image(side=)``), in alternation, one thread. Last, the UI thread's share of showing one of them in the
viewer: the image's own pixmap, against its preview made in the decoding thread (since 2026-12-07).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _images(folder: Path, n: int, size: tuple[int, int]) -> list[str]:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"large_{i}.jpg"
        noise = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
        Image.fromarray(noise).resize(size).save(path, quality=92)  # a large micrograph-sized JPEG
        paths.append(str(path))
    return paths


def _round(paths: list[str], urgent: bool, threads: int) -> float:
    """Seconds from the last image coming on screen to its decode, the others asked for ahead just before."""
    from PySide6.QtCore import QCoreApplication, QThreadPool

    from app.ui.image_cache import ImageCache
    from app.ui.workers import TaskRunner

    pool = QThreadPool()
    pool.setMaxThreadCount(threads)
    cache = ImageCache(TaskRunner(pool))
    last = len(paths) - 1
    for i, path in enumerate(paths):
        cache.request(i, path)  # the next images in judging order, asked for ahead
    t0 = time.perf_counter()
    if urgent:
        cache.request(last, paths[last], urgent=True)  # the analyst is on it now
    while last not in cache.images:
        QCoreApplication.processEvents()
        time.sleep(0.001)
        if time.perf_counter() - t0 > 300:
            raise RuntimeError(f"{paths[last]} was not decoded in 300 s")
    took = time.perf_counter() - t0
    pool.waitForDone()
    QCoreApplication.processEvents()
    return took


def _thumbnails(paths: list[str], rounds: int, side: int = 144) -> tuple[list[float], list[float]]:
    """Seconds per thumbnail, decoded whole then made small, and decoded small; in alternation."""
    from app.ui.image_cache import decode_thumbnail, pil_to_qimage
    from models.imageio import load_image

    def whole(path: str) -> None:
        img = load_image(path)
        img.thumbnail((side, side))
        pil_to_qimage(img)

    before, now = [], []
    for _ in range(rounds):
        for path in paths:
            t0 = time.perf_counter()
            whole(path)
            before.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            decode_thumbnail(path, side)
            now.append(time.perf_counter() - t0)
    return before, now


def _viewer(paths: list[str], rounds: int) -> tuple[list[float], list[float]]:
    """Milliseconds of ``ImageViewer.set_image`` plus a paint, the image alone and with its preview; alternating."""
    from app.ui.image_cache import decode_with_facts
    from app.ui.viewer import ImageViewer

    viewer = ImageViewer()
    viewer.resize(1000, 800)
    viewer.show()
    decoded = [decode_with_facts(path) for path in paths]
    whole, preview = [], []
    for _ in range(rounds):
        for image, _why, _facts, small in decoded:
            for out, kw in ((whole, {}), (preview, {"preview": small})):
                t0 = time.perf_counter()
                viewer.set_image(image, **kw)
                viewer.viewport().grab()
                out.append((time.perf_counter() - t0) * 1000)
    viewer.close()
    return whole, preview


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.decode_ahead", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=5, help="the image on screen and the four asked for ahead")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--size", default="6000x4000", help="each JPEG's size (a microscope camera's)")
    p.add_argument("--threads", type=int, default=2, help="the pool's threads (the workstation's cores)")
    args = p.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="fma-bench-decode-") as tmp:
        paths = _images(Path(tmp), args.images, (w, h))
        _round(paths, True, args.threads)  # warm: the imports, the file cache
        before, now = [], []
        for _ in range(args.rounds):
            before.append(_round(paths, False, args.threads))
            now.append(_round(paths, True, args.threads))
        thumbs_before, thumbs_now = _thumbnails(paths, args.rounds)
        shown_whole, shown_preview = _viewer(paths, args.rounds)
    ratios = sorted(n / b for n, b in zip(now, before, strict=True))
    print(f"{args.images} JPEGs of {w}x{h} asked for ahead on {args.threads} threads, the last one then on screen; "
          f"{args.rounds} rounds, alternating")
    print(f"  before (behind the others): median {statistics.median(before):.3f} s "
          f"({min(before):.3f}-{max(before):.3f})")
    print(f"  now (asked for again, first): median {statistics.median(now):.3f} s ({min(now):.3f}-{max(now):.3f})")
    print(f"  ratio now/before, median of rounds: {statistics.median(ratios):.2f}x "
          f"({ratios[0]:.2f}-{ratios[-1]:.2f})")
    per = sorted(n / b for n, b in zip(thumbs_now, thumbs_before, strict=True))
    print(f"the list's 144-px thumbnails of the same JPEGs, {len(per)} of each, alternating, one thread:")
    print(f"  decoded whole, then made small: median {statistics.median(thumbs_before) * 1000:.0f} ms")
    print(f"  decoded small (load_image side=): median {statistics.median(thumbs_now) * 1000:.0f} ms")
    print(f"  ratio small/whole, median of pairs: {statistics.median(per):.3f}x ({per[0]:.3f}-{per[-1]:.3f})")
    shown = sorted(p / w for p, w in zip(shown_preview, shown_whole, strict=True))
    print(f"the viewer showing one of them (set_image and a paint, the UI thread), {len(shown)} of each, alternating:")
    print(f"  its own pixmap: median {statistics.median(shown_whole):.0f} ms; through its preview: median "
          f"{statistics.median(shown_preview):.0f} ms; ratio {statistics.median(shown):.2f}x "
          f"({shown[0]:.2f}-{shown[-1]:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
