"""Time the re-judge queue, the dashboard and the similar-cases load on a synthetic store of 200 000 images.

    python bench/store_queue.py [--images 200000] [--db /tmp/queue_bench.sqlite3] [--keep]

Everything timed goes through the services the app uses, each call in its own session as in the app:

* ``app.services.queue.QueueService.page``: the first page (200 rows with the per-reason and per-leaf
  counts) for every sort and a few filters, and a page deep in the queue;
* ``app.services.dashboard.DashboardService.figures``: every dashboard figure, per week and per day;
* ``app.services.similar.SimilarCases.refresh``: loading every judged embedding (a fresh cache).

Prints seconds per call; the target is under 0.5 s for a first page on SQLite with 2 CPUs.
The store is seeded with raw SQL by :func:`build_store` (seconds for 200 000 images, which the repository
functions would take minutes for); tests/test_queue.py uses the same generator to check correctness.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.store.db import init_db, make_engine  # noqa: E402
from models.routing.policy import REASONS  # noqa: E402

VERSION = "bench-v1"
OTHER_VERSION = "bench-v0"
LEAVES = ("scratch", "crack", "particle_metal", "fiber", "bubble", "line_open", "lc_stain", "dent")
STATUSES = ("accepted", "corrected", "unknown")
BASE_TIME = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Truth:
    """What :func:`build_store` wrote, per image (index i = image id i + 1)."""

    leaf: np.ndarray  # index into LEAVES
    confidence: np.ndarray
    reasons: np.ndarray  # bool (n, len(REASONS)), columns in REASONS order
    decided: np.ndarray  # bool: the current judgment is a decision
    batch: np.ndarray  # index of the image's main batch (0-based; batch id = index + 1)
    also_in_first_batch: np.ndarray  # bool: additionally a member of batch 1
    created_seconds: np.ndarray  # prediction time = BASE_TIME + seconds

    @property
    def rejudge(self) -> np.ndarray:
        return self.reasons.any(axis=1)


def _stamp(seconds: np.ndarray) -> list[str]:
    """Naive UTC text, as the store writes datetimes on SQLite."""
    base = np.datetime64(BASE_TIME.replace(tzinfo=None), "us")
    stamps = base + seconds.astype("timedelta64[s]")
    return [str(s).replace("T", " ") for s in stamps]


def build_store(
    path: Path, n_images: int = 200_000, *, n_batches: int = 20, seed: int = 0, embedding_dim: int = 0
) -> Truth:
    """Write a migrated SQLite store with ``n_images`` images, their predictions and judgments.

    Bulk inserts through the driver's executemany (seconds for 200 000 images). Deterministic per seed.
    ``embedding_dim`` > 0 stores realistic prediction rows: an embedding of that size and Top-5 / level
    probabilities like the demo taxonomy's (a real row is several KB, which is what makes scans slow).
    """
    rng = np.random.default_rng(seed)
    n = n_images
    leaf = rng.integers(0, len(LEAVES), n)
    conf = np.round(rng.uniform(0.2, 1.0, n), 6)
    unknown = np.round(rng.uniform(0.0, 1.0, n), 6)
    reasons = np.zeros((n, len(REASONS)), dtype=bool)
    names = ("low_confidence", "leaf_below_target", "possible_unknown", "spot_check")
    low, below, novel, spot = (REASONS.index(code) for code in names)  # the routing's codes, by name
    reasons[:, low] = conf < 0.55
    reasons[:, below] = leaf == LEAVES.index("dent")
    reasons[:, novel] = unknown > 0.93
    reasons[:, spot] = ~reasons.any(axis=1) & (rng.random(n) < 0.03)
    batch = (np.arange(n) * n_batches) // n
    also_first = (np.arange(n) % 97 == 5) & (batch != 0)
    created = np.arange(n, dtype=np.int64) * 13 + rng.integers(0, 10, n)

    judged = rng.random(n) < 0.3
    status = rng.integers(0, 3, n)
    reverted = judged & (rng.random(n) < 0.1)  # judged, then undone back to pending
    twice = judged & ~reverted & (rng.random(n) < 0.05)  # corrected, then accepted
    decided = judged & ~reverted

    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    ids = np.arange(1, n + 1)
    texts = _stamp(created)
    first_seen = texts
    with engine.begin() as conn:
        run = conn.exec_driver_sql
        run(
            "INSERT INTO model_versions (id, version, name, manifest, registered_at) VALUES (?, ?, ?, ?, ?)",
            [(1, OTHER_VERSION, "old", "{}", texts[0]), (2, VERSION, "bench", "{}", texts[0])],
        )
        run(
            "INSERT INTO batches (id, name, source_folder, recursive, created_at) VALUES (?, ?, ?, 0, ?)",
            [(b + 1, f"batch-{b:02d}", f"/data/batch-{b:02d}", texts[0]) for b in range(n_batches)],
        )
        run(
            "INSERT INTO images (id, sha256, width, height, first_seen_at) VALUES (?, ?, 64, 64, ?)",
            [(int(i), f"{int(i):064x}", first_seen[k]) for k, i in enumerate(ids)],
        )
        paths = [
            (int(i), f"/data/batch-{int(batch[k]):02d}/img_{int(i):06d}.png", texts[k], texts[k])
            for k, i in enumerate(ids)
        ]
        paths += [
            (int(i), f"/old/img_{int(i):06d}.png", _stamp(np.array([0]))[0], _stamp(np.array([0]))[0])
            for i in ids[::50]
        ]
        run("INSERT INTO image_paths (image_id, path, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?)", paths)
        members = [(int(batch[k]) + 1, int(i), k, paths[k][1]) for k, i in enumerate(ids)]
        members += [(1, int(i), n + k, paths[int(i) - 1][1]) for k, i in enumerate(ids[also_first])]
        run("INSERT INTO batch_images (batch_id, image_id, position, path) VALUES (?, ?, ?, ?)", members)
        preds = []
        reason_rows = []
        top5 = json.dumps([{"leaf": lf, "path": ["g", "s", lf], "score": 0.123456} for lf in LEAVES[:5]])
        probs = json.dumps([[0.123456] * 2, [0.123456] * 4, [0.123456] * 18])
        blob = rng.standard_normal(embedding_dim).astype("<f4").tobytes() if embedding_dim else None
        if not embedding_dim:
            top5 = probs = "[]"
        for k, i in enumerate(ids):
            codes = [code for code, on in zip(REASONS, reasons[k], strict=True) if on]
            name = LEAVES[int(leaf[k])]
            preds.append(
                (
                    int(i), int(i), 2, name, float(conf[k]), json.dumps(["g", "s", name]), "[]", top5, probs,
                    blob, "rejudge" if codes else "auto", json.dumps(codes), float(unknown[k]), texts[k],
                )
            )  # fmt: skip
            reason_rows.extend((int(i), code) for code in codes)
        # the older version predicts the first tenth again, every image "rejudge" (must not leak in)
        for k in range(n // 10):
            preds.append(
                (n + k + 1, k + 1, 1, "scratch", 0.1, "[]", "[]", top5, probs, blob, "rejudge",
                 '["low_confidence"]', None, texts[k])
            )  # fmt: skip
            reason_rows.append((n + k + 1, "low_confidence"))
        run(
            "INSERT INTO predictions (id, image_id, model_version_id, leaf, confidence, path, path_scores, top5,"
            " level_probs, embedding, route, reasons, unknown_score, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            preds,
        )
        run("INSERT INTO prediction_reasons (prediction_id, reason) VALUES (?, ?)", reason_rows)
        judgments = []
        later = _stamp(created + 3600)
        for k in np.flatnonzero(judged):
            i, when = int(ids[k]), later[k]
            st = STATUSES[int(status[k])]
            if twice[k]:
                judgments.append((i, "bob", when, LEAVES[(int(leaf[k]) + 1) % 8], "corrected", "picker"))
            lf = None if st == "unknown" else LEAVES[int(leaf[k])] if st == "accepted" else LEAVES[(int(leaf[k]) + 3) % 8]
            judgments.append((i, "alice", when, lf, st, "accept"))
            if reverted[k]:
                judgments.append((i, "alice", when, None, "reverted", "undo"))
        judgments.sort(key=lambda r: r[2])
        run(
            "INSERT INTO judgments (image_id, analyst, created_at, leaf, status, action) VALUES (?, ?, ?, ?, ?, ?)",
            judgments,
        )
    engine.dispose()
    return Truth(
        leaf=leaf,
        confidence=conf,
        reasons=reasons,
        decided=decided,
        batch=batch,
        also_in_first_batch=also_first,
        created_seconds=created,
    )


def _time(label: str, fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    print(f"{label:<58s} {best:7.3f} s")
    return best


def main(argv: list[str] | None = None) -> int:
    from app.services.dashboard import DashboardService
    from app.services.queue import QUEUE_SORTS, QueueFilters, QueueService
    from app.services.similar import SimilarCases

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=200_000)
    p.add_argument("--db", type=Path, help="store file (default: a temporary file)")
    p.add_argument("--keep", action="store_true", help="reuse --db when it exists")
    p.add_argument("--embedding-dim", type=int, default=768,
                   help="stored embedding size (768 = ConvNeXt-T; 0 = tiny rows, as in the tests)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "queue_bench.sqlite3"
        if not (args.keep and db.exists()):
            db.unlink(missing_ok=True)
            t0 = time.perf_counter()
            build_store(db, args.images, embedding_dim=args.embedding_dim)
            print(f"{'build ' + str(args.images) + ' images':<58s} {time.perf_counter() - t0:7.3f} s")
        engine = make_engine(f"sqlite:///{db}")
        queue = QueueService(engine, analyst="bench")
        dashboard = DashboardService(engine)
        every = QueueFilters(model_version=VERSION)
        first_pages = {
            **{f"first page, sort={sort}": every.replace(sort=sort) for sort in QUEUE_SORTS},
            "first page, reason=possible_unknown": every.replace(reasons=("possible_unknown",)),
            "first page, batch 7 + leaf crack + conf 0.3..0.5": every.replace(
                batch_id=7, leaf="crack", min_conf=0.3, max_conf=0.5),
            "first page, include judged, sort=age desc": every.replace(
                include_judged=True, sort="age", descending=True),
        }
        worst = 0.0
        for label, filters in first_pages.items():
            worst = max(worst, _time(label, lambda filters=filters: queue.page(filters)))
        _time("page at offset 20000", lambda: queue.page(every, offset=20_000))
        _time("dashboard: every figure, per week", lambda: dashboard.figures(VERSION, period="week"))
        _time("dashboard: every figure, per day", lambda: dashboard.figures(VERSION, period="day"))
        if args.embedding_dim:
            _time("similar cases: load every judged embedding",
                  lambda: SimilarCases(engine).refresh(VERSION), repeat=1)
        engine.dispose()
        print(f"slowest first page: {worst:.3f} s (target < 0.5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
