"""Reliability: what the product does with hostile input and hard stops, measured through its public interfaces.

Five parts, each a table and a block of the results; every shortfall is a line in ``failures`` and a printed
``TARGET MISSED`` (the benchmark still exits 0: it is a measurement).

1. **Bad images**: a corpus of >= 20 kinds (truncated, random bytes, wrong suffix, bad CRC, decompression bombs
   small on disk and huge in pixels, huge header claims, 16-bit, CMYK, grayscale + alpha, palette, 1 x 1,
   100000 x 1, multi-frame TIFF, EXIF rotation, a FIFO, a folder and a dangling link named ``*.png``, an
   unreadable file, unsupported suffixes, odd file names) written into the work folder. Each file goes through
   ``fma-model predict BUNDLE FILE --json`` (the demo bundle) in a fresh process: exit status, one JSON row or a
   message, peak memory (the child's own ``ru_maxrss``), a timeout (a hang), no traceback. The folder of all of
   them plus 3 good images goes through the app's service path (``JudgingService.open_folder``, in a process of
   its own: every good image in the batch, every bad one in the batch or left out with a reason) and through
   ``fma-judge classify``. Targets: peak memory <= 1.5 GB for any single image; the folder opens with every good
   image; 0 tracebacks, 0 hangs.
2. **Kill and restart**: a child judges in a loop through ``JudgingService`` (accept, choose, mark_unknown,
   add_note, undo, redo) and prints each judgment after its call returned; it is SIGKILLed after a random delay
   (some during start-up), >= 25 times (5 with ``--quick``), each time restarted on the same store. After every
   kill the store is read back (``JudgingService.history``): every acknowledged judgment must be there, and the
   SQLite file must pass ``PRAGMA integrity_check`` and ``foreign_key_check``. Also on PostgreSQL when
   ``FMA_TEST_PG_URL`` names a scratch server. Target: 0 lost, 0 integrity failures.
3. **Two writers**: two processes start at the same instant on a new store (both ``make_engine`` + ``init_db`` +
   ``open_folder`` of the same folder), then judge (300 calls each; 50 with ``--quick``) with undo and redo;
   10 runs (2). Start-up failures, errors (an undo/redo refused because the other analyst judged the image since
   is the app's designed answer, counted apart as conflicts), acknowledged judgments lost, one folder opened as
   two batches, wall time. SQLite and, when set, PostgreSQL (a new schema per run, created by both at once). Then
   5 runs (1) on stores whose schema the parent created first (``*_initialised``): two writers judging at once,
   even when a first start fails. Target: 0 start-up failures, 0 errors, 0 lost.
4. **Export injection**: analyst names, notes and file names that start with ``=``, ``+``, ``-``, ``@``, a tab
   or CR, exported as CSV, JSON and an ImageFolder through ``JudgingService.export`` and ``fma-judge export``.
   Target: 0 CSV cells a spreadsheet would run as a formula, every CSV row read back as written, every note
   exported, no file outside ``--out``.
5. **Malformed bundles**: the demo bundle with its manifest or weights corrupted in >= 10 ways, through
   ``fma-model info`` and ``fma-model predict``. Target: 0 tracebacks, 0 hangs, exit 2 with a one-line message
   (``info`` exits 0 where only the weights are bad: it reads the manifest alone).

``--quick`` (the smoke run; figures meaningless): the corpus goes through one ``predict`` process and no
``classify``; 5 kills (2 on PostgreSQL) without predictions first; 2 writer runs of 50 calls (1 on PostgreSQL)
and 1 on a store created first; 4 bundle runs. Every ``fma-model`` start imports torch (~12 s on the 2-core machine), so the full run (about 70
of them, two at a time) takes 10-15 minutes there, more when the machine is busy.

``fma-model`` is run as ``python -m models.commands.cli`` and ``fma-judge`` as ``python -m app`` (this checkout's
code, whatever is installed). Child memory is read with ``os.wait4`` (POSIX); a child is killed when it passes
a safety cap (4 GB), so that a bomb cannot take the machine down, and that counts as over the target.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import pickle
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, log, pg_schema, synth_images

FMA_MODEL = (sys.executable, "-m", "models.commands.cli")
FMA_JUDGE = (sys.executable, "-m", "app")
CHILD = (sys.executable, "-m", "bench.reliability_child")
TARGETS = {"image_peak_mb": 1536.0, "tracebacks": 0, "hangs": 0, "lost": 0, "integrity_failures": 0,
           "startup_failures": 0, "writer_errors": 0, "formula_cells": 0, "files_outside_out": 0}
MEMORY_CAP_MB = 4096.0  # safety: a child past this is killed (and is over the target)
PREDICT_TIMEOUT_S = 120.0  # one image through a cold `fma-model predict` takes ~12 s on the 2-core machine
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: a CSV cell starting so is run as a formula
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------------- processes
@dataclass
class Ran:
    """One finished child process."""

    rc: int | None
    stdout: str
    stderr: str
    wall_s: float
    peak_mb: float | None
    timed_out: bool = False
    capped: bool = False

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr

    @property
    def message(self) -> str:
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        return lines[-1].strip() if lines else ""

    @property
    def stderr_lines(self) -> int:
        return sum(1 for ln in self.stderr.splitlines() if ln.strip())

    def lines(self, tag: str) -> list[dict[str, Any]]:
        """The child's ``TAG {json}`` lines (see :mod:`bench.reliability_child`)."""
        return tagged(self.stdout, tag)


def tagged(text: str, tag: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith(tag + " "):
            with contextlib.suppress(json.JSONDecodeError):  # a line cut short by a kill was never acknowledged
                out.append(json.loads(line[len(tag) + 1:]))
    return out


def child_env() -> dict[str, str]:
    return dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def run_measured(cmd: Sequence[str], *, timeout_s: float, cap_mb: float | None = MEMORY_CAP_MB) -> Ran:
    """Run ``cmd`` (cwd: the checkout) to its end, with its own peak memory (``os.wait4``), a timeout and a
    memory cap (polled): past either the child is killed and the result says so."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT,
                                env=child_env())
        timed_out = capped = False
        peak: float | None = None
        if hasattr(os, "wait4"):
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - t0 > timeout_s:
                    timed_out = True
                elif cap_mb is not None and _rss_mb(proc.pid) > cap_mb:
                    capped = True
                if timed_out or capped:
                    proc.kill()
                    _, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.02)
            proc.returncode = os.waitstatus_to_exitcode(status)
            peak = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)
        else:  # no per-child figures here: time and exit status only
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                proc.kill()
                proc.wait()
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return Ran(proc.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                   round(wall, 2), None if peak is None else round(peak, 1), timed_out, capped)


def run_all(cmds: Sequence[Sequence[str]], *, timeout_s: float, jobs: int) -> list[Ran]:
    """:func:`run_measured` over ``cmds``, ``jobs`` at a time (each child's memory is its own)."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda c: run_measured(c, timeout_s=timeout_s), cmds))


class Failures(list):
    """The results' ``failures``: each one printed as a ``TARGET MISSED`` line when added."""

    def miss(self, text: str) -> None:
        self.append(text)
        log(f"  TARGET MISSED: {text}")


# ------------------------------------------------------------------------------------------- the corpus
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width: int, height: int, bit_depth: int = 8, *, rows: int | None = None) -> bytes:
    """A grayscale PNG of zeros, streamed (a 20000 x 20000 one is ~390 KB and never exists in memory);
    ``rows`` < height gives a stream that ends early (its header still claims the full size)."""
    row = b"\x00" * (1 + (width * bit_depth + 7) // 8)
    comp = zlib.compressobj(6)
    data = b"".join(comp.compress(row) for _ in range(height if rows is None else rows)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _jpeg_claiming(good_jpeg: bytes, width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) claims ``width`` x ``height``."""
    at = good_jpeg.index(b"\xff\xc0")
    return good_jpeg[:at + 5] + struct.pack(">HH", height, width) + good_jpeg[at + 9:]


def _bmp_claiming(good_bmp: bytes, width: int, height: int) -> bytes:
    return good_bmp[:18] + struct.pack("<ii", width, height) + good_bmp[26:]


@dataclass
class Kind:
    name: str
    file: str  # the name in the corpus folder
    expect: str  # "predict" (a valid image), "reason" (a reason, never a crash) or "either"
    note: str = ""
    testable: bool = True


def build_corpus(folder: Path, good: Sequence[Path]) -> tuple[list[Kind], list[Path]]:
    """Write every kind of bad image into ``folder`` (emptied first) plus 3 good images; returns the kinds and
    the good images' paths."""
    from PIL import Image

    if folder.exists():
        shutil.rmtree(folder)  # (a chmod 000 file, a FIFO, a link: all removable from a writable folder)
    folder.mkdir(parents=True)
    goods = []
    for i, src in enumerate(good[:3]):
        goods.append(folder / f"good_{i + 1}.png")
        shutil.copyfile(src, goods[-1])
    base = Image.open(good[0]).convert("RGB")
    png = goods[0].read_bytes()
    jpeg_buf = folder / ".tmp.jpg"
    base.save(jpeg_buf, quality=90)
    jpeg = jpeg_buf.read_bytes()
    base.save(jpeg_buf.with_suffix(".bmp"))
    bmp = jpeg_buf.with_suffix(".bmp").read_bytes()
    jpeg_buf.unlink()
    jpeg_buf.with_suffix(".bmp").unlink()
    kinds: list[Kind] = []

    def add(kind: Kind, write: Callable[[Path], None]) -> None:
        write(folder / kind.file)
        kinds.append(kind)

    def data(payload: bytes) -> Callable[[Path], None]:
        return lambda p: p.write_bytes(payload)

    idat = png.index(b"IDAT")
    add(Kind("truncated_png", "truncated.png", "reason"), data(png[: len(png) // 2]))
    add(Kind("truncated_jpeg", "truncated.jpg", "reason"), data(jpeg[: len(jpeg) // 2]))
    add(Kind("zero_bytes", "empty.png", "reason"), data(b""))
    add(Kind("random_bytes_png", "random.png", "reason"), data(np.random.default_rng(0).bytes(4096)))
    add(Kind("text_as_jpg", "notes.jpg", "reason"), data(b"this is a text file, not a JPEG\n" * 20))
    add(Kind("png_bad_crc", "bad_crc.png", "reason", "the IHDR chunk's CRC is wrong"),
        data(png[:29] + bytes([png[29] ^ 0xFF]) + png[30:]))
    add(Kind("png_corrupt_idat", "corrupt_idat.png", "either", "one compressed byte flipped, CRC left"),
        data(png[: idat + 40] + bytes([png[idat + 40] ^ 0xFF]) + png[idat + 41:]))
    add(Kind("png_bomb_20000", "bomb_20000.png", "reason", "20000 x 20000 gray, ~390 KB"), data(_png(20000, 20000)))
    add(Kind("png_bomb_40000", "bomb_40000.png", "reason", "40000 x 40000 1-bit, ~190 KB"),
        data(_png(40000, 40000, 1)))
    add(Kind("png_header_100000", "claims_100000.png", "reason", "IHDR claims 100000 x 100000, 10 rows of data"),
        data(_png(100000, 100000, 1, rows=10)))
    add(Kind("jpeg_header_65500", "claims_65500.jpg", "reason", "SOF claims 65500 x 65500 (over the budget at 1/8)"),
        data(_jpeg_claiming(jpeg, 65500, 65500)))
    add(Kind("jpeg_header_20000", "claims_20000.jpg", "reason", "SOF claims 20000 x 20000 (1/8 scale fits)"),
        data(_jpeg_claiming(jpeg, 20000, 20000)))
    add(Kind("bmp_header_50000", "claims_50000.bmp", "reason", "BMP header claims 50000 x 50000"),
        data(_bmp_claiming(bmp, 50000, 50000)))
    add(Kind("png_ztxt_bomb", "ztxt_bomb.png", "either", "a zTXt chunk inflating to 100 MB"),
        data(png[:33] + _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * 100_000_000, 9)) + png[33:]))
    gray16 = (np.linspace(0, 4000, 256 * 256).reshape(256, 256) + 1000).astype(np.uint16)
    add(Kind("png_16bit", "gray16.png", "predict"), lambda p: Image.fromarray(gray16).save(p))
    add(Kind("jpeg_cmyk", "cmyk.jpg", "predict"), lambda p: base.convert("CMYK").save(p))
    add(Kind("png_gray_alpha", "gray_alpha.png", "predict"), lambda p: base.convert("LA").save(p))
    add(Kind("png_palette", "palette.png", "predict", "with a transparent entry"),
        lambda p: base.convert("P", palette=Image.Palette.ADAPTIVE).save(p, transparency=0))
    add(Kind("png_1x1", "one_pixel.png", "predict"), lambda p: Image.new("RGB", (1, 1), (90, 90, 90)).save(p))
    add(Kind("png_100000x1", "wide.png", "predict"), lambda p: Image.new("L", (100000, 1), 128).save(p))
    add(Kind("png_1x100000", "tall.png", "predict"), lambda p: Image.new("L", (1, 100000), 128).save(p))
    add(Kind("tiff_multiframe", "frames.tif", "predict", "3 frames"),
        lambda p: base.save(p, save_all=True, append_images=[base.rotate(90), base.rotate(180)]))

    def exif_rotated(p: Path) -> None:
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: rotate 90
        base.resize((320, 200)).save(p, exif=exif)

    add(Kind("jpeg_exif_rotated", "exif_rotated.jpg", "predict"), exif_rotated)
    # every file has content of its own: the store knows an image by its content hash
    add(Kind("png_named_jpg", "png_inside.jpg", "predict", "PNG content, .jpg name"),
        lambda p: base.rotate(10).save(p, format="PNG"))
    add(Kind("unicode_spaces_name", "ünï cødé 名前 with spaces.png", "predict"), lambda p: base.rotate(20).save(p))
    add(Kind("newline_name", "new\nline.png", "predict"), lambda p: base.rotate(45).save(p))
    add(Kind("gif_suffix", "anim.gif", "either", "not an app format"), lambda p: base.rotate(60).save(p))
    add(Kind("webp_suffix", "photo.webp", "either", "not an app format"), lambda p: base.rotate(70).save(p))
    add(Kind("directory_named_png", "y.png", "reason"), lambda p: p.mkdir())
    add(Kind("dangling_symlink", "z.png", "reason"), lambda p: p.symlink_to(folder / "missing_target.png"))
    if hasattr(os, "mkfifo"):
        add(Kind("fifo_named_png", "x.png", "reason", "opening it would block"), lambda p: os.mkfifo(p))
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    def unreadable(p: Path) -> None:
        base.rotate(80).save(p)
        os.chmod(p, 0)

    add(Kind("unreadable_chmod_000", "unreadable.png", "reason",
             "not testable as root (chmod 000 does not deny root reads)" if as_root else "", testable=not as_root),
        unreadable)
    return kinds, goods


def _predict_outcome(ran: Ran, file_name: str | None = None) -> dict[str, Any]:
    """What ``fma-model predict --json`` answered for one file (``file_name``: pick its row of a batch)."""
    rows = []
    for line in ran.stdout.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            obj = json.loads(line)
            if isinstance(obj, dict) and (file_name is None or Path(obj.get("file", "")).name == file_name):
                rows.append(obj)
    if rows:
        row = rows[0]
        outcome = "reason" if row.get("error") else "predicted"
        detail = row.get("error") or row.get("leaf")
    else:
        outcome, detail = ("message", ran.message) if ran.message else ("nothing", "")
    return {"rc": ran.rc, "rows": len(rows), "outcome": outcome, "detail": (detail or "")[:300],
            "peak_mb": ran.peak_mb, "wall_s": ran.wall_s, "traceback": ran.traceback, "timed_out": ran.timed_out,
            "memory_capped": ran.capped}


def part_corpus(work: Path, quick: bool, fails: Failures) -> dict[str, Any]:
    from app.demo import DEMO_BATCH, DEMO_MODEL

    log("[reliability] 1. bad images: building the corpus")
    t0 = time.perf_counter()
    folder = work / "corpus"
    kinds, goods = build_corpus(folder, sorted(DEMO_BATCH.glob("*.png")))
    build_s = round(time.perf_counter() - t0, 1)
    files = [str(folder / k.file) for k in kinds]
    rows: dict[str, dict[str, Any]] = {}
    if quick:  # one process over every file (cold starts cost ~12 s each here)
        ran = run_measured([*FMA_MODEL, "predict", str(DEMO_MODEL), *files, "--json"], timeout_s=4 * PREDICT_TIMEOUT_S)
        for k in kinds:
            rows[k.name] = _predict_outcome(ran, k.file) | {"peak_mb": None, "wall_s": None}
            if rows[k.name]["rows"] == 0 and (folder / k.file).is_dir():  # a folder given is searched for images
                rows[k.name].update(outcome="folder", detail="a folder: searched, no images in it")
        batch = {"rc": ran.rc, "peak_mb": ran.peak_mb, "wall_s": ran.wall_s, "traceback": ran.traceback,
                 "timed_out": ran.timed_out, "memory_capped": ran.capped}
        baseline = None
        mode = "one process for all files"
    else:
        # the first run is a good image: the memory of a normal prediction, to compare with
        rans = run_all([[*FMA_MODEL, "predict", str(DEMO_MODEL), f, "--json"] for f in [str(goods[0]), *files]],
                       timeout_s=PREDICT_TIMEOUT_S, jobs=2)
        baseline = _predict_outcome(rans[0])
        for k, ran in zip(kinds, rans[1:], strict=True):
            rows[k.name] = _predict_outcome(ran)
        batch = None
        mode = "one fresh process per file"
    log(f"  {'kind':<22} {'expect':<8} {'rc':>3} {'peak MB':>8} {'s':>6}  outcome")
    if baseline is not None:
        log(f"  {'(a good image)':<22} {'predict':<8} {baseline['rc']!s:>3} {baseline['peak_mb']!s:>8} "
            f"{baseline['wall_s']!s:>6}  {baseline['outcome']}: {baseline['detail'][:70]!r}")
    for k in kinds:
        r = rows[k.name]
        ok_answer = r["rows"] == 1 or (r["rows"] == 0 and r["outcome"] in ("message", "folder"))
        r.update(expect=k.expect, file=k.file, note=k.note, testable=k.testable, answered=ok_answer,
                 as_expected=k.expect == "either" or (k.expect == "predict") == (r["outcome"] == "predicted"))
        log(f"  {k.name:<22} {k.expect:<8} {r['rc']!s:>3} {r['peak_mb']!s:>8} {r['wall_s']!s:>6}  "
            f"{r['outcome']}: {r['detail'][:70]!r}{'' if k.testable else '  (' + k.note + ')'}")
    per_file = list(rows.values()) if batch is None else [batch]
    peaks = [r["peak_mb"] for r in per_file if r["peak_mb"] is not None]
    predict = {"mode": mode, "tracebacks": sum(r["traceback"] for r in per_file),
               "hangs": sum(r["timed_out"] for r in per_file), "memory_capped": sum(r["memory_capped"] for r in per_file),
               "max_peak_mb": max(peaks) if peaks else None,
               "good_image_peak_mb": baseline["peak_mb"] if baseline else None,
               "good_image_wall_s": baseline["wall_s"] if baseline else None,
               "over_memory_target": [k.name for k in kinds if (rows[k.name]["peak_mb"] or 0) > TARGETS["image_peak_mb"]
                                      or rows[k.name]["memory_capped"]],
               "unanswered": [k.name for k in kinds if not rows[k.name]["answered"]],
               "not_as_expected": [k.name for k in kinds if not rows[k.name]["as_expected"] and k.testable],
               "exit_codes": sorted({r["rc"] for r in rows.values() if r["rc"] is not None}), "batch": batch}
    if predict["tracebacks"]:
        fails.miss(f"corpus: fma-model predict printed {predict['tracebacks']} traceback(s): "
                   + ", ".join(k.name for k in kinds if rows[k.name]["traceback"]))
    if predict["hangs"]:
        fails.miss(f"corpus: fma-model predict hung (> {PREDICT_TIMEOUT_S:.0f} s) on: "
                   + ", ".join(k.name for k in kinds if rows[k.name]["timed_out"]))
    if predict["over_memory_target"]:
        fails.miss(f"corpus: peak memory over {TARGETS['image_peak_mb']:.0f} MB on: "
                   + ", ".join(predict["over_memory_target"]))
    if predict["unanswered"]:
        fails.miss("corpus: neither a JSON row nor a message from fma-model predict on: "
                   + ", ".join(predict["unanswered"]))
    if predict["not_as_expected"]:
        fails.miss("corpus: valid image not predicted, or bad image predicted: "
                   + ", ".join(f"{n} ({rows[n]['outcome']}: {rows[n]['detail'][:80]})"
                               for n in predict["not_as_expected"]))
    service = _corpus_service(work, folder, kinds, goods, fails)
    # a cold classify costs ~20 s: not in --quick
    classify = {"skipped": "--quick"} if quick else _corpus_classify(work, folder, goods, fails)
    return {"kinds": len(kinds), "good_images": len(goods), "build_s": build_s, "rows": rows, "predict": predict,
            "service": service, "classify": classify}


def _corpus_service(work: Path, folder: Path, kinds: list[Kind], goods: list[Path], fails: Failures) -> dict[str, Any]:
    db = work / "corpus_open.sqlite3"
    _remove_db(db)
    ran = run_measured([*CHILD, "open-folder", str(folder), "--db", f"sqlite:///{db}"], timeout_s=300)
    opened = ran.lines("OPENED")
    res: dict[str, Any] = {"rc": ran.rc, "peak_mb": ran.peak_mb, "wall_s": ran.wall_s, "traceback": ran.traceback,
                           "timed_out": ran.timed_out, "memory_capped": ran.capped}
    if not opened:
        res["error"] = ran.message or "no OPENED line"
        fails.miss(f"corpus: JudgingService.open_folder failed on the corpus folder: {res['error'][:300]}")
        return res
    doc = opened[0]
    items = {Path(i["path"]).name: i["reason"] for i in doc["items"]}
    skipped = {Path(p).name: r for p, r in doc["skipped"]}
    per_kind = {}
    for k in kinds:
        if k.file in items:
            per_kind[k.name] = {"where": "batch", "reason": items[k.file]}
        elif k.file in skipped:
            per_kind[k.name] = {"where": "skipped", "reason": skipped[k.file]}
        else:
            per_kind[k.name] = {"where": "missing", "reason": None}
    res.update(open_s=doc["seconds"], items=len(items), skipped=len(skipped), per_kind=per_kind,
               good_in_batch=sum(g.name in items and items[g.name] is None for g in goods),
               missing=[n for n, v in per_kind.items() if v["where"] == "missing"],
               skipped_without_reason=[n for n, v in per_kind.items() if v["where"] == "skipped" and not v["reason"]])
    log(f"  service path (open_folder): {len(items)} in the batch ({sum(r is not None for r in items.values())} "
        f"with a reason), {len(skipped)} left out with a reason; good images in the batch "
        f"{res['good_in_batch']}/{len(goods)}; peak {ran.peak_mb} MB, {doc['seconds']} s")
    for name, v in per_kind.items():
        log(f"    {name:<22} {v['where']:<8} {(v['reason'] or '-')[:90]}")
    if res["good_in_batch"] < len(goods):
        fails.miss(f"corpus: open_folder lost good images ({res['good_in_batch']}/{len(goods)} in the batch)")
    if res["missing"] or res["skipped_without_reason"]:
        fails.miss(f"corpus: open_folder neither listed nor gave a reason for: "
                   f"{', '.join(res['missing'] + res['skipped_without_reason'])}")
    if ran.traceback or ran.timed_out or ran.capped or ran.rc != 0:
        fails.miss(f"corpus: open_folder process rc {ran.rc}, traceback {ran.traceback}, hang {ran.timed_out}")
    if (ran.peak_mb or 0) > TARGETS["image_peak_mb"]:
        fails.miss(f"corpus: open_folder peak memory {ran.peak_mb} MB")
    return res


def _corpus_classify(work: Path, folder: Path, goods: list[Path], fails: Failures) -> dict[str, Any]:
    from app.services.judging import JudgingService
    from app.store.db import make_engine

    db = work / "corpus_classify.sqlite3"
    _remove_db(db)
    url = f"sqlite:///{db}"
    ran = run_measured([*FMA_JUDGE, "classify", str(folder), "--db", url], timeout_s=600)
    summary = next((ln for ln in reversed(ran.stdout.splitlines()) if ln.strip()), "")
    res: dict[str, Any] = {"rc": ran.rc, "peak_mb": ran.peak_mb, "wall_s": ran.wall_s, "traceback": ran.traceback,
                           "timed_out": ran.timed_out, "memory_capped": ran.capped, "summary": summary,
                           "message": ran.message if ran.rc else ""}
    if db.exists() and ran.rc == 0:
        engine = make_engine(url)
        try:
            opened = JudgingService(engine, "bench").open_folder(folder)  # finds the batch classify made
            preds = {Path(it.image.path).name: it.prediction for it in opened.items}
        finally:
            engine.dispose()
        res["good_predicted"] = sum(1 for g in goods if preds.get(g.name) is not None and not preds[g.name].error)
        res["predicted_with_error"] = sum(1 for p in preds.values() if p is not None and p.error)
        res["not_predicted"] = sum(1 for p in preds.values() if p is None)
    log(f"  fma-judge classify: rc {ran.rc}, {ran.wall_s} s, peak {ran.peak_mb} MB; {summary[:150]}")
    if ran.rc != 0 or ran.traceback or ran.timed_out or ran.capped:
        fails.miss(f"corpus: fma-judge classify rc {ran.rc}, traceback {ran.traceback}, hang {ran.timed_out}, "
                   f"memory cap {ran.capped}: {ran.message[:200]}")
    elif res.get("good_predicted", 0) < len(goods):
        fails.miss(f"corpus: fma-judge classify predicted {res.get('good_predicted')}/{len(goods)} good images")
    if (ran.peak_mb or 0) > TARGETS["image_peak_mb"]:
        fails.miss(f"corpus: fma-judge classify peak memory {ran.peak_mb} MB")
    return res


# ------------------------------------------------------------------------------------------- stores
def _remove_db(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        p.unlink(missing_ok=True)


def sqlite_integrity(path: Path) -> list[str]:
    """Problems ``PRAGMA integrity_check`` and ``foreign_key_check`` find (a plain sqlite3 connection)."""
    conn = sqlite3.connect(path)
    try:
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key: {r}" for r in conn.execute("PRAGMA foreign_key_check")]
    finally:
        conn.close()
    return problems


def check_acks(url: str, acks: Sequence[dict[str, Any]], analysts: Sequence[str],
               image_ids: Sequence[int] = ()) -> dict[str, Any]:
    """Read the store back through the service: which acknowledged judgments are missing or changed, and how
    many rows the analysts left that nobody acknowledged (committed just before a kill)."""
    from app.services.judging import JudgingService
    from app.store.db import make_engine

    engine = make_engine(url)
    try:
        reader = JudgingService(engine, "bench-reader")
        by_image: dict[int, dict[int, Any]] = {}
        for image_id in sorted({a["image_id"] for a in acks} | set(image_ids)):
            by_image[image_id] = {r.id: r for r in reader.history(image_id)}
        lost = []
        for a in acks:
            row = by_image.get(a["image_id"], {}).get(a["id"])
            if row is None or (row.leaf, row.status, row.action, row.note, row.analyst) != (
                    a["leaf"], a["status"], a["action"], a["note"], a["analyst"]):
                lost.append(a)
        acked = {a["id"] for a in acks}
        unacked = sum(1 for rows in by_image.values() for r in rows.values()
                      if r.analyst in analysts and r.id not in acked)
    finally:
        engine.dispose()
    return {"lost": len(lost), "lost_examples": lost[:5], "stored_unacknowledged": unacked}


def _judge_cmd(folder: Path, url: str, analyst: str, seed: int, count: int = 0, barrier: Path | None = None
               ) -> list[str]:
    return [*CHILD, "judge", str(folder), "--db", url, "--analyst", analyst, "--seed", str(seed),
            "--count", str(count), *(["--barrier", str(barrier)] if barrier else [])]


def _images(work: Path, name: str, n: int) -> Path:
    """A folder of ``n`` small distinct images (copies of the demo batch)."""
    from app.demo import DEMO_BATCH

    folder = work / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for src in sorted(DEMO_BATCH.glob("*.png"))[:n]:
        shutil.copyfile(src, folder / src.name)
    return folder


def kill_loop(work: Path, url: str, sqlite_file: Path | None, folder: Path, kills: int, seed: int) -> dict[str, Any]:
    """SIGKILL a judging child ``kills`` times after random delays; check the store after each kill."""
    rng = random.Random(seed)
    analyst = "killed-analyst"
    all_acks: list[dict[str, Any]] = []
    image_ids: set[int] = set()
    res: dict[str, Any] = {"kills": 0, "killed_before_ready": 0, "ended_by_itself": 0, "acknowledged": 0,
                           "lost": 0, "integrity_failures": 0, "integrity_problems": [], "errors": 0,
                           "startup_failures": 0, "tracebacks": 0, "delays_s": []}
    logs = work / "kill_logs"
    logs.mkdir(exist_ok=True)
    for k in range(kills):
        out, err = logs / f"kill_{k}.out", logs / f"kill_{k}.err"
        # even kills: a random time after the start (often during start-up: init_db, open_folder);
        # odd ones: a random time after the child is judging
        after_ready = k % 2 == 1
        delay = rng.uniform(0.05, 2.0) if after_ready else rng.uniform(0.3, 4.0)
        with open(out, "wb") as fo, open(err, "wb") as fe:
            proc = subprocess.Popen(_judge_cmd(folder, url, analyst, seed * 1000 + k), stdout=fo, stderr=fe,
                                    stdin=subprocess.DEVNULL, cwd=ROOT, env=child_env())
            deadline = time.monotonic() + 120
            while after_ready and proc.poll() is None and time.monotonic() < deadline and b"READY " not in \
                    out.read_bytes():
                time.sleep(0.01)
            try:
                proc.wait(timeout=delay)
                res["ended_by_itself"] += 1  # it died before the kill: a crash
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                res["kills"] += 1
        text = out.read_text(encoding="utf-8", errors="replace")
        errtext = err.read_text(encoding="utf-8", errors="replace")
        acks = tagged(text, "ACK")
        ready = tagged(text, "READY")
        image_ids |= set(ready[0]["image_ids"]) if ready else set()
        res["killed_before_ready"] += not ready
        res["errors"] += len(tagged(text, "ERR"))
        res["startup_failures"] += len(tagged(text, "STARTUP_FAIL"))
        res["tracebacks"] += "Traceback (most recent call last)" in errtext
        res["delays_s"].append(round(delay, 2))
        all_acks += acks
        if sqlite_file is not None and sqlite_file.exists():
            problems = sqlite_integrity(sqlite_file)
            if problems:
                res["integrity_failures"] += 1
                res["integrity_problems"] += [f"kill {k}: {p}" for p in problems[:5]]
        res["lost"] += check_acks(url, acks, [analyst])["lost"]
    final = check_acks(url, all_acks, [analyst], sorted(image_ids))  # and at the end, all of them again
    res.update(acknowledged=len(all_acks), lost_at_end=final["lost"], lost_examples=final["lost_examples"],
               stored_unacknowledged=final["stored_unacknowledged"])
    return res


def part_kill(work: Path, quick: bool, fails: Failures, pg_url: str) -> dict[str, Any]:
    kills = 5 if quick else 25
    pg_kills = 2 if quick else 5
    folder = _images(work, "kill_images", 8)
    out: dict[str, Any] = {}
    log(f"[reliability] 2. kill and restart: {kills} SIGKILLs on SQLite"
        + (f", {pg_kills} on PostgreSQL" if pg_url else " (PostgreSQL: FMA_TEST_PG_URL not set, skipped)"))
    db = work / "kill.sqlite3"
    _remove_db(db)
    url = f"sqlite:///{db}"

    def predicted_first(target_url: str) -> dict[str, Any]:
        if quick:  # accept falls back to choose without predictions; a cold classify costs ~15 s
            return {"classified": False}
        ran = run_measured([*FMA_JUDGE, "classify", str(folder), "--db", target_url], timeout_s=600)
        return {"classified": ran.rc == 0, "classify_rc": ran.rc, "classify_message": ran.message[:300]}

    t0 = time.perf_counter()
    out["sqlite"] = predicted_first(url) | kill_loop(work, url, db, folder, kills, seed=1)
    out["sqlite"]["wall_s"] = round(time.perf_counter() - t0, 1)
    if pg_url:
        t0 = time.perf_counter()
        with pg_schema(pg_url) as schema_url:
            out["postgresql"] = (predicted_first(schema_url)
                                 | kill_loop(work, schema_url, None, folder, pg_kills, seed=2))
        out["postgresql"]["wall_s"] = round(time.perf_counter() - t0, 1)
        out["postgresql"]["integrity"] = "not checked (the server's own recovery; no file to check)"
    else:
        out["postgresql"] = {"skipped": "FMA_TEST_PG_URL not set"}
    log(f"  {'backend':<11} {'kills':>5} {'<ready':>6} {'acked':>6} {'lost':>5} {'integrity':>9} {'errors':>6} "
        f"{'unacked':>7} {'s':>6}")
    for backend, r in out.items():
        if "skipped" in r:
            log(f"  {backend:<11} skipped: {r['skipped']}")
            continue
        log(f"  {backend:<11} {r['kills']:>5} {r['killed_before_ready']:>6} {r['acknowledged']:>6} "
            f"{max(r['lost'], r['lost_at_end']):>5} {r['integrity_failures'] if backend == 'sqlite' else '-':>9} "
            f"{r['errors'] + r['startup_failures']:>6} {r['stored_unacknowledged']:>7} {r['wall_s']:>6}")
        if r["lost"] or r["lost_at_end"]:
            fails.miss(f"kill/{backend}: {max(r['lost'], r['lost_at_end'])} acknowledged judgment(s) lost")
        if r["integrity_failures"]:
            fails.miss(f"kill/{backend}: {r['integrity_failures']} integrity check failure(s): "
                       f"{r['integrity_problems'][:3]}")
        if r["ended_by_itself"] or r["tracebacks"] or r["errors"] or r["startup_failures"]:
            fails.miss(f"kill/{backend}: the judging child crashed {r['ended_by_itself']} time(s), "
                       f"{r['errors']} error(s), {r['startup_failures']} start-up failure(s)")
        if not quick and not r["classified"]:
            fails.miss(f"kill/{backend}: fma-judge classify of 8 demo images failed first (rc {r['classify_rc']}): "
                       f"{r['classify_message'][:200]}")
        if r["acknowledged"] == 0:
            fails.miss(f"kill/{backend}: nothing was acknowledged before the kills (nothing tested)")
    return out


# ------------------------------------------------------------------------------------------- two writers
def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:300]


def writers_run(folder: Path, url: str, calls: int, seed: int) -> dict[str, Any]:
    """Two judging children started at the same instant on a new store; their figures and the check."""
    analysts = ("writer-a", "writer-b")
    with tempfile.TemporaryDirectory(prefix="fma-bench-barrier-") as barrier:
        cmds = [_judge_cmd(folder, url, a, seed * 10 + i, count=calls, barrier=Path(barrier))
                for i, a in enumerate(analysts)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(run_measured, c, timeout_s=300, cap_mb=None) for c in cmds]
            deadline = time.monotonic() + 120  # both have imported everything: let them go together
            while time.monotonic() < deadline and not all(Path(barrier, f"{a}.ready").exists() for a in analysts):
                time.sleep(0.005)
            Path(barrier, "go").touch()
            start_at = time.time()
            rans = [f.result() for f in futures]
    r: dict[str, Any] = {"startup_failures": 0, "startup_errors": [], "errors": 0, "error_examples": [],
                         "conflicts": 0, "acknowledged": 0, "hangs": 0, "tracebacks": 0, "crashes": 0,
                         "batch_ids": [], "startup_fail_after_s": [], "latency_ms": []}
    acks: list[dict[str, Any]] = []
    image_ids: set[int] = set()
    done_at: list[float] = []
    starts: list[float] = []
    for ran in rans:
        fail = ran.lines("STARTUP_FAIL")
        ready = ran.lines("READY")
        done = ran.lines("DONE")
        start = ran.lines("START")
        if start:
            starts.append(start[0]["t"])
        if fail or not ready:
            r["startup_failures"] += 1
            if fail:
                r["startup_fail_after_s"].append(round(fail[0]["t"] - start_at, 3))
            r["startup_errors"].append(_first_line(fail[0]["error"] if fail else ran.message or f"rc {ran.rc}"))
        else:
            r["batch_ids"].append(ready[0]["batch_id"])
            image_ids |= set(ready[0]["image_ids"])
        errs = ran.lines("ERR")
        r["errors"] += len(errs)
        r["error_examples"] += [_first_line(e["error"]) for e in errs[:3]]
        r["conflicts"] += len(ran.lines("CONFLICT"))
        r["hangs"] += ran.timed_out
        r["tracebacks"] += ran.traceback
        r["crashes"] += ran.rc not in (0, 3) and not ran.timed_out
        acks += ran.lines("ACK")
        if done:
            done_at.append(done[0]["t"])
            r["latency_ms"].append(done[0]["latency_ms"])
    r["start_skew_ms"] = round(1000 * (max(starts) - min(starts)), 2) if len(starts) == 2 else None
    r["acknowledged"] = len(acks)
    check = check_acks(url, acks, analysts, sorted(image_ids)) if acks else {"lost": 0, "stored_unacknowledged": 0}
    r["lost"], r["stored_unacknowledged"] = check["lost"], check["stored_unacknowledged"]
    r["wall_s"] = round(max(done_at) - start_at, 2) if done_at else None
    r["same_batch"] = len(set(r["batch_ids"])) <= 1
    return r


def part_writers(work: Path, quick: bool, fails: Failures, pg_url: str) -> dict[str, Any]:
    from app.store.db import init_db, make_engine

    runs, calls = (2, 50) if quick else (10, 300)
    pg_runs = 1 if quick else runs
    folder = _images(work, "writer_images", 12)
    log(f"[reliability] 3. two writers: {runs} runs x 2 processes x {calls} calls on SQLite"
        + (f", {pg_runs} runs on PostgreSQL" if pg_url else " (PostgreSQL: FMA_TEST_PG_URL not set, skipped)")
        + "; then on stores created beforehand (the judging itself, whatever the first start does)")
    out: dict[str, Any] = {}
    # (label, backend, runs, schema created by the parent first): when one writer of a fresh store fails to
    # start, the judging is measured with one writer only; the "*_initialised" rows measure two at once
    backends: list[tuple[str, str, int, bool]] = [("sqlite", "sqlite", runs, False)]
    backends += [("postgresql", "postgresql", pg_runs, False)] if pg_url else []
    backends += [("sqlite_initialised", "sqlite", 1 if quick else runs // 2, True)]
    backends += [("postgresql_initialised", "postgresql", runs // 2, True)] if pg_url and not quick else []

    def initialised(url: str) -> str:
        engine = make_engine(url)
        init_db(engine)
        engine.dispose()
        return url

    for label, backend, n, init_first in backends:
        per_run = []
        for i in range(n):
            if backend == "sqlite":
                db = work / f"writers_{i}.sqlite3"
                _remove_db(db)
                url = f"sqlite:///{db}"
                r = writers_run(folder, initialised(url) if init_first else url, calls, seed=i + 50 * init_first)
                r["integrity_problems"] = sqlite_integrity(db) if db.exists() else []
            else:
                with pg_schema(pg_url) as url:
                    r = writers_run(folder, initialised(url) if init_first else url, calls,
                                    seed=100 + i + 50 * init_first)
            per_run.append(r)
        tot = {key: sum(r[key] for r in per_run) for key in
               ("startup_failures", "errors", "conflicts", "acknowledged", "lost", "hangs", "tracebacks", "crashes")}
        walls = [r["wall_s"] for r in per_run if r["wall_s"] is not None]
        out[label] = tot | {
            "runs": n, "calls_per_writer": calls, "schema_created_first": init_first, "wall_s_max": max(walls) if walls else None,
            "wall_s_median": sorted(walls)[len(walls) // 2] if walls else None,
            "runs_with_two_batches": sum(not r["same_batch"] for r in per_run),
            "integrity_failures": sum(bool(r.get("integrity_problems")) for r in per_run),
            "startup_errors": sorted({e for r in per_run for e in r["startup_errors"]})[:5],
            "startup_fail_after_s": [t for r in per_run for t in r["startup_fail_after_s"]],
            "start_skew_ms_max": max((r["start_skew_ms"] for r in per_run if r["start_skew_ms"] is not None),
                                     default=None),
            "error_examples": sorted({e for r in per_run for e in r["error_examples"]})[:5], "per_run": per_run}
    if not pg_url:
        out["postgresql"] = {"skipped": "FMA_TEST_PG_URL not set"}
    log(f"  {'store':<22} {'runs':>4} {'start-up fail':>13} {'errors':>6} {'conflicts':>9} {'acked':>6} "
        f"{'lost':>5} {'hangs':>5} {'wall s max':>10}")
    for backend, r in out.items():
        if "skipped" in r:
            log(f"  {backend:<22} skipped: {r['skipped']}")
            continue
        log(f"  {backend:<22} {r['runs']:>4} {r['startup_failures']:>13} {r['errors']:>6} {r['conflicts']:>9} "
            f"{r['acknowledged']:>6} {r['lost']:>5} {r['hangs']:>5} {r['wall_s_max']!s:>10}")
        for e in r["startup_errors"][:2]:
            log(f"    start-up failure: {e[:200]}")
        for e in r["error_examples"]:
            log(f"    error: {e[:200]}")
        if r["startup_failures"]:
            fails.miss(f"writers/{backend}: {r['startup_failures']} start-up failure(s) in {r['runs']} runs: "
                       f"{r['startup_errors'][:2]}")
        if r["errors"]:
            fails.miss(f"writers/{backend}: {r['errors']} error(s) while judging: {r['error_examples'][:2]}")
        if r["lost"]:
            fails.miss(f"writers/{backend}: {r['lost']} acknowledged judgment(s) lost")
        if r["runs_with_two_batches"]:
            fails.miss(f"writers/{backend}: in {r['runs_with_two_batches']} run(s) the two writers opened the same "
                       f"folder as two batches (open_folder's find-or-create is not atomic across processes)")
        if r["hangs"] or r["tracebacks"] or r["crashes"] or r["integrity_failures"]:
            fails.miss(f"writers/{backend}: {r['hangs']} hang(s), {r['tracebacks']} traceback(s), "
                       f"{r['crashes']} crash(es), {r['integrity_failures']} integrity failure(s)")
    return out


# ------------------------------------------------------------------------------------------- export injection
INJECT_FILES = ("=cmd.png", "@x.png", "-y.png", "+z.png", "\tt.png", "\rr.png", '=HYPERLINK("x";"y").png', "plain.png")
INJECT_ANALYSTS = ("=1+1", "+1", "-1+2", "@SUM(A1)", "\t=tab", "\r=cr", '=HYPERLINK("http://x")', "plain analyst")
INJECT_NOTES = ("=2+2", "+cmd|' /C calc'!A0", "-3+3", "@SUM(1,2)", "\t=1", "\r=1", "plain note", "line one\n=line two")


def _formula_cells(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [cell for row in csv.reader(fh) for cell in row if cell.startswith(FORMULA_STARTS)]


def _broken_rows(path: Path, expected_rows: int) -> int:
    """Rows a CSV reader does not read back as written: rows without the header's number of cells, plus the
    difference from the number of rows written (a line break inside an unquoted cell splits its row)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return expected_rows
    return max(sum(len(r) != len(rows[0]) for r in rows[1:]), abs(len(rows) - 1 - expected_rows))


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


def part_export(work: Path, fails: Failures) -> dict[str, Any]:
    import dataclasses

    from app.services.judging import JudgingService
    from app.store.db import init_db, make_engine
    from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy

    log("[reliability] 4. export injection: names, notes and file names starting with = + - @ tab CR")
    root = work / "inject"
    if root.exists():
        shutil.rmtree(root)
    images = root / "images"
    images.mkdir(parents=True)
    for src, name in zip(synth_images(root / "src", len(INJECT_FILES), size=64, seed=7), INJECT_FILES, strict=True):
        shutil.copyfile(src, images / name)
    shutil.rmtree(root / "src")
    db = root / "store.sqlite3"
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    init_db(engine)
    leaves = Taxonomy.from_yaml(DEMO_TAXONOMY_PATH).leaves
    expected_notes: dict[str, str] = {}
    svc = JudgingService(engine, "bench")
    try:
        items = svc.open_folder(images).items
        for i, item in enumerate(items):
            analyst = JudgingService(engine, INJECT_ANALYSTS[i % len(INJECT_ANALYSTS)])
            analyst.batch_id = svc.batch_id
            rec = analyst.mark_unknown(item) if i % 3 == 0 else analyst.choose(item, leaves[i % len(leaves)])
            note = INJECT_NOTES[i % len(INJECT_NOTES)]
            analyst.add_note(dataclasses.replace(item, judgment=rec), note)
            expected_notes[Path(item.image.path).name] = note.strip()
        out = root / "out"
        before = _files_under(root)
        t0 = time.perf_counter()
        made = {"service.csv": svc.export(out / "service.csv", "csv"),
                "service.json": svc.export(out / "service.json", "json"),
                "service_imagefolder": svc.export(out / "service_imagefolder", "imagefolder"),
                "in_images_folder.csv": svc.export(images / "labels.csv", "csv")}  # relative paths: ./=cmd.png
    finally:
        engine.dispose()
    cli: dict[str, Any] = {}
    for fmt, target in (("csv", out / "cli.csv"), ("json", out / "cli.json"), ("imagefolder", out / "cli_imagefolder")):
        ran = run_measured([*FMA_JUDGE, "export", "--db", url, "--out", str(target), "--format", fmt], timeout_s=120)
        cli[fmt] = {"rc": ran.rc, "traceback": ran.traceback, "message": ran.message if ran.rc else ""}
    export_s = round(time.perf_counter() - t0, 2)
    csvs = {"service.csv": out / "service.csv", "cli.csv": out / "cli.csv",
            "in_images_folder.csv": images / "labels.csv",
            "service_imagefolder/manifest.csv": out / "service_imagefolder" / "manifest.csv",
            "service_imagefolder/notes.csv": out / "service_imagefolder" / "notes.csv",
            "cli_imagefolder/manifest.csv": out / "cli_imagefolder" / "manifest.csv",
            "cli_imagefolder/notes.csv": out / "cli_imagefolder" / "notes.csv"}
    formula = {name: _formula_cells(p) if p.exists() else ["<file missing>"] for name, p in csvs.items()}
    n_notes = sum(bool(n) for n in expected_notes.values())
    broken = {name: _broken_rows(p, n_notes if name.endswith("notes.csv") else len(INJECT_FILES)) if p.exists()
              else -1 for name, p in csvs.items()}
    # notes: the CSV's note column (a formula-like note gets a leading apostrophe), the JSON's note field
    notes_missing: dict[str, list[str]] = {}
    for name in ("service.csv", "cli.csv", "in_images_folder.csv"):
        path = csvs[name]
        got = {}
        if path.exists():
            with open(path, newline="", encoding="utf-8-sig") as fh:
                got = {Path(r["path"]).name: r.get("note", "") for r in csv.DictReader(fh)}
        notes_missing[name] = [f for f, n in expected_notes.items()
                               if n and got.get(f) not in (n, "'" + n)]
    for name in ("service.json", "cli.json"):
        path = out / name
        got = {Path(r["path"]).name: r["note"] for r in json.loads(path.read_text(encoding="utf-8"))} if path.exists() \
            else {}
        notes_missing[name] = [f for f, n in expected_notes.items() if n and got.get(f) != n]
    for name in ("service_imagefolder/notes.csv", "cli_imagefolder/notes.csv"):
        path = csvs[name]
        found = {}
        if path.exists():
            with open(path, newline="", encoding="utf-8-sig") as fh:  # path: <leaf>/<sha8>_<file name>
                found = {Path(r["path"]).name.split("_", 1)[-1]: r["note"] for r in csv.DictReader(fh)}
        notes_missing[name] = [f for f, n in expected_notes.items() if n and found.get(f) not in (n, "'" + n)]
    # nothing written outside the outputs
    after = _files_under(root)
    allowed = (out.resolve(),)
    outside = sorted(str(p) for p in after - before
                     if not p.resolve().is_relative_to(allowed[0]) and p != images / "labels.csv"
                     and not p.name.startswith("store.sqlite3"))
    escaped = sorted(str(p) for d in ("service_imagefolder", "cli_imagefolder") if (out / d).exists()
                     for p in _files_under(out / d) if not p.resolve().is_relative_to((out / d).resolve()))
    counts = {name: r.count for name, r in made.items()}
    res = {"images": len(INJECT_FILES), "exported": counts, "export_s": export_s, "cli": cli,
           "formula_cells": sum(len(v) for v in formula.values()),
           "formula_cells_by_file": {k: len(v) for k, v in formula.items()},
           "formula_examples": [c for v in formula.values() for c in v][:10],
           "csv_rows_broken": sum(abs(v) for v in broken.values()), "csv_rows_broken_by_file": broken,
           "notes_missing": sum(len(v) for v in notes_missing.values()), "notes_missing_by_file": notes_missing,
           "files_outside_out": len(outside) + len(escaped), "outside_examples": (outside + escaped)[:5],
           "skipped": {name: list(r.skipped)[:5] for name, r in made.items() if r.skipped}}
    log(f"  {'file':<34} {'formula cells':>13} {'rows broken':>11} {'notes missing':>13}")
    for name in csvs:
        log(f"  {name:<34} {len(formula[name]):>13} {broken[name]:>11} "
            f"{len(notes_missing[name]) if name in notes_missing else '-':>13}")
    for name in ("service.json", "cli.json"):
        log(f"  {name:<34} {'-':>13} {'-':>11} {len(notes_missing[name]):>13}")
    log(f"  rows exported {counts}; CLI exits {[v['rc'] for v in cli.values()]}; files outside --out "
        f"{res['files_outside_out']}")
    if res["formula_cells"]:
        fails.miss(f"export: {res['formula_cells']} CSV cell(s) a spreadsheet would run as a formula: "
                   f"{res['formula_examples'][:5]}")
    if res["csv_rows_broken"]:
        fails.miss(f"export: {res['csv_rows_broken']} CSV row(s) do not read back as written (a file name or note "
                   f"with a bare CR is written unquoted, and CSV readers split the row there): "
                   f"{ {k: v for k, v in broken.items() if v} }")
    if res["notes_missing"]:
        fails.miss(f"export: {res['notes_missing']} note(s) missing or changed: "
                   f"{ {k: v for k, v in notes_missing.items() if v} }")
    if res["files_outside_out"]:
        fails.miss(f"export: {res['files_outside_out']} file(s) written outside --out: {res['outside_examples']}")
    if any(v["rc"] != 0 or v["traceback"] for v in cli.values()):
        fails.miss(f"export: fma-judge export failed: {cli}")
    if any(c != len(INJECT_FILES) for c in counts.values()):
        fails.miss(f"export: not every judged image was exported: {counts}")
    return res


# ------------------------------------------------------------------------------------------- bundles
@dataclass
class BadBundle:
    name: str
    info_rc: int | None  # what `fma-model info` should exit with (None: only the weights are bad, not run)
    manifest: Callable[[dict[str, Any], str], str | bytes] | None = None  # (manifest, its text) -> new text
    weights: Callable[[bytes], bytes | None] | None = None  # new weights (None: no weights file)
    rehash: bool = True  # write the new weights' sha256 into the manifest (so the hash check does not hide it)


_DROP = object()


def _with(**changes: Any) -> Callable[[dict[str, Any], str], str]:
    def edit(m: dict[str, Any], _text: str) -> str:
        for key, value in changes.items():
            if value is _DROP:
                m.pop(key, None)
            else:
                m[key] = value
        return json.dumps(m, indent=2)
    return edit


def _wrong_shapes(weights: bytes) -> bytes:
    from safetensors.numpy import load, save

    tensors = load(weights)
    key = next(k for k in sorted(tensors) if tensors[k].ndim == 2)  # a classifier or projection matrix
    tensors[key] = np.zeros((tensors[key].shape[0] + 3, tensors[key].shape[1]), dtype=tensors[key].dtype)
    return save(tensors, metadata={"format": "pt"})


BAD_BUNDLES: tuple[BadBundle, ...] = (
    BadBundle("invalid_json", 2, manifest=lambda _m, t: t[: len(t) // 2]),
    BadBundle("empty_manifest", 2, manifest=lambda _m, _t: ""),
    BadBundle("manifest_is_a_list", 2, manifest=lambda _m, _t: "[1, 2, 3]"),
    BadBundle("not_utf8", 2, manifest=lambda _m, t: t.replace('"name"', '"n\udcffame"', 1).encode(
        "utf-8", "surrogateescape")),
    BadBundle("input_size_100000", 2, manifest=_with(input_size=[3, 100000, 100000])),
    BadBundle("input_size_-1", 2, manifest=_with(input_size=[3, -1, -1])),
    BadBundle("input_size_abc", 2, manifest=_with(input_size="abc")),
    BadBundle("std_zero", 2, manifest=_with(std=[0.0, 0.0, 0.0])),
    BadBundle("std_nan", 2, manifest=_with(std=[float("nan")] * 3)),
    BadBundle("mean_two_values", 2, manifest=_with(mean=[0.5, 0.5])),
    BadBundle("missing_taxonomy", 2, manifest=_with(taxonomy=_DROP)),
    BadBundle("missing_input_size", 2, manifest=_with(input_size=_DROP)),
    BadBundle("empty_taxonomy", 2, manifest=_with(taxonomy={})),
    BadBundle("format_version_999", 2, manifest=_with(format_version=999)),
    BadBundle("nested_10000_levels", 2, manifest=lambda _m, t: '{"deep": ' + "[" * 10000 + "]" * 10000 + ", " + t.lstrip()[1:]),
    BadBundle("weights_pickle", None, weights=lambda _w: pickle.dumps({"conv.weight": [0.0] * 16})),
    BadBundle("weights_pickle_stale_hash", None, weights=lambda _w: pickle.dumps({"conv.weight": [0.0] * 16}),
              rehash=False),
    BadBundle("weights_truncated", None, weights=lambda w: w[: len(w) // 2]),
    BadBundle("weights_missing", None, weights=lambda _w: None),
    BadBundle("weights_wrong_shapes", None, weights=_wrong_shapes),
    BadBundle("safetensors_huge_header", None, weights=lambda w: struct.pack("<Q", 2**62) + w[8:]),
)


QUICK_BUNDLE_RUNS = {("nested_10000_levels", "info"), ("invalid_json", "info"), ("input_size_abc", "predict"),
                     ("weights_truncated", "predict")}


def build_bad_bundle(demo: Path, dest: Path, case: BadBundle) -> Path:
    from models.hashing import sha256_hex

    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    text = (demo / "manifest.json").read_text(encoding="utf-8")
    weights = (demo / "weights.safetensors").read_bytes()
    manifest = json.loads(text)
    new_weights: bytes | None = weights
    if case.weights is not None:
        new_weights = case.weights(weights)
        if case.rehash and new_weights is not None:
            manifest["weights"] = dict(manifest["weights"], sha256=sha256_hex(new_weights), bytes=len(new_weights))
            text = json.dumps(manifest, indent=2)
    new_text = case.manifest(manifest, text) if case.manifest is not None else text
    (dest / "manifest.json").write_bytes(new_text if isinstance(new_text, bytes) else new_text.encode("utf-8"))
    if new_weights is weights:
        try:
            os.link(demo / "weights.safetensors", dest / "weights.safetensors")  # 8.8 MB, 20 times
        except OSError:
            shutil.copyfile(demo / "weights.safetensors", dest / "weights.safetensors")
    elif new_weights is not None:
        (dest / "weights.safetensors").write_bytes(new_weights)
    return dest


def _cli_check(ran: Ran, expect_rc: int) -> dict[str, Any]:
    return {"rc": ran.rc, "expected_rc": expect_rc, "traceback": ran.traceback, "timed_out": ran.timed_out,
            "memory_capped": ran.capped, "stderr_lines": ran.stderr_lines, "message": ran.message[:300],
            "peak_mb": ran.peak_mb, "wall_s": ran.wall_s,
            "ok": (ran.rc == expect_rc and not ran.traceback and not ran.timed_out and not ran.capped
                   and (expect_rc == 0 or ran.stderr_lines == 1))}


def part_bundles(work: Path, quick: bool, fails: Failures) -> dict[str, Any]:
    from app.demo import DEMO_BATCH, DEMO_MODEL

    cases = list(BAD_BUNDLES)
    root = work / "bad_bundles"
    bundles = {c.name: build_bad_bundle(DEMO_MODEL, root / c.name, c) for c in cases}
    image = str(sorted(DEMO_BATCH.glob("*.png"))[0])
    # `info` reads the manifest alone: it is run where the manifest is broken. Every CLI start imports torch
    # (~12 s here), so --quick runs two of each.
    plan = [(c, cmd) for c in cases for cmd in ("info", "predict") if cmd == "predict" or c.info_rc is not None]
    if quick:
        plan = [(c, cmd) for c, cmd in plan if (c.name, cmd) in QUICK_BUNDLE_RUNS]
    log(f"[reliability] 5. malformed bundles: {len(cases)} ways, {len(plan)} runs of fma-model info / predict")
    cmds = [[*FMA_MODEL, cmd, str(bundles[c.name]), *([image, "--json"] if cmd == "predict" else [])]
            for c, cmd in plan]
    rows: dict[str, dict[str, Any]] = {c.name: {} for c in cases}
    for (c, cmd), ran in zip(plan, run_all(cmds, timeout_s=PREDICT_TIMEOUT_S, jobs=2), strict=True):
        rows[c.name][cmd] = _cli_check(ran, 2 if cmd == "predict" else c.info_rc)
    rows = {name: r for name, r in rows.items() if r}
    checks = [v for r in rows.values() for v in r.values()]
    res = {"cases": len(cases), "runs": len(checks), "tracebacks": sum(v["traceback"] for v in checks),
           "hangs": sum(v["timed_out"] for v in checks), "memory_capped": sum(v["memory_capped"] for v in checks),
           "unexpected_exit": sum(v["rc"] != v["expected_rc"] for v in checks),
           "not_one_line": sum(v["rc"] == 2 and v["stderr_lines"] != 1 for v in checks),
           "max_peak_mb": max((v["peak_mb"] for v in checks if v["peak_mb"] is not None), default=None),
           "rows": rows}
    log(f"  {'case':<26} {'info rc':>7} {'predict rc':>10} {'tb':>3}  message")
    for name, r in rows.items():
        i, p = r.get("info"), r.get("predict")
        tb = any(v["traceback"] for v in r.values())
        shown = next((v for v in (i, p) if v is not None and not v["ok"]), p or i)
        log(f"  {name:<26} {(i['rc'] if i else '-')!s:>7} {(p['rc'] if p else '-')!s:>10} {'yes' if tb else '':>3}  "
            f"{shown['message'][:100]}")
    bad = {f"{name} {cmd}": v for name, r in rows.items() for cmd, v in r.items() if not v["ok"]}
    if res["tracebacks"]:
        fails.miss(f"bundles: {res['tracebacks']} traceback(s): "
                   + ", ".join(k for k, v in bad.items() if v["traceback"]))
    if res["hangs"] or res["memory_capped"]:
        fails.miss(f"bundles: {res['hangs']} hang(s), {res['memory_capped']} run(s) past the memory cap: "
                   + ", ".join(k for k, v in bad.items() if v["timed_out"] or v["memory_capped"]))
    wrong = {k: v for k, v in bad.items() if not v["traceback"] and not v["timed_out"] and not v["memory_capped"]}
    if wrong:
        fails.miss("bundles: not the expected exit status with a one-line message: " + ", ".join(
            f"{k} (rc {v['rc']}, expected {v['expected_rc']}, {v['stderr_lines']} stderr line(s))"
            for k, v in wrong.items()))
    return res


# ------------------------------------------------------------------------------------------- run
def run(work: Path, quick: bool) -> dict[str, Any]:
    work = work / "reliability"
    work.mkdir(parents=True, exist_ok=True)
    pg_url = os.environ.get("FMA_TEST_PG_URL", "")
    fails = Failures()
    t0 = time.perf_counter()
    results: dict[str, Any] = {"targets": TARGETS, "memory_cap_mb": MEMORY_CAP_MB,
                               "predict_timeout_s": PREDICT_TIMEOUT_S, "postgresql": bool(pg_url),
                               "as_root": hasattr(os, "geteuid") and os.geteuid() == 0, "part_s": {}}
    parts: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("corpus", lambda: part_corpus(work, quick, fails)),
        ("kill_restart", lambda: part_kill(work, quick, fails, pg_url)),
        ("two_writers", lambda: part_writers(work, quick, fails, pg_url)),
        ("export_injection", lambda: part_export(work, fails)),
        ("bundles", lambda: part_bundles(work, quick, fails)),
    ]
    for name, part in parts:
        started = time.perf_counter()
        results[name] = part()
        results["part_s"][name] = round(time.perf_counter() - started, 1)
    results["failures"] = list(fails)
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    log(f"[reliability] {len(fails)} target(s) missed" + (":" if fails else ""))
    for f in fails:
        log(f"  TARGET MISSED: {f}")
    return results
