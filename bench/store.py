"""Store: on a SQLite database of 200 000 images with predictions and judgments, time the two big reads.

* Opening the re-judge queue: ``app.services.queue.QueueService.page`` without counts, what the queue view calls
  first (the first page of 200 rows, in a session of its own). Target < 0.5 s. Then, as the view does next,
  ``QueueService.counts`` (the total and the per-reason and per-leaf counts: a scan of the whole queue), reported.
* Exporting every image's current label to a CSV training manifest (``app.store.export.export_labels``,
  what "Export labels…" and ``fma-judge export`` do). Target < 10 s.

The database comes from :func:`bench.store_queue.build_store` (raw SQL, the queue tests use the same
generator), with 768-float embeddings in every prediction row like ConvNeXt-T's, so rows are as large as
real ones; only the timed calls above go through the app's APIs.
The reference of each figure is its target: the ratio printed is target / measured (>= 1 meets it).

Also timed on the same file, as every start-up and the backup timer meet them: opening the store through
``app.store.db.open_store`` (its ``PRAGMA quick_check`` included; the app waits for it before the window) and one
rolling backup (``app.store.backup.backup_to``, SQLite's online backup API, then a check of the copy).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import log, median

TARGETS = {"rejudge_queue_first_page_s": 0.5, "export_csv_s": 10.0}


def run(work: Path, quick: bool) -> dict[str, Any]:
    from app.services.queue import QueueFilters, QueueService
    from app.store.backup import backup_to
    from app.store.db import make_engine, open_store
    from app.store.export import export_labels
    from bench.store_queue import VERSION, build_store
    from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy

    n = 2_000 if quick else 200_000
    dim = 0 if quick else 768
    taxonomy = Taxonomy.from_yaml(DEMO_TAXONOMY_PATH)
    with tempfile.TemporaryDirectory(prefix="fma-bench-store-") as tmp:
        db = Path(tmp) / "store.sqlite3"
        log(f"[store] building a store of {n:,} images (embedding dim {dim})")
        t0 = time.perf_counter()
        build_store(db, n, embedding_dim=dim)
        build_s = time.perf_counter() - t0
        size_mb = db.stat().st_size / 2**20
        engine = make_engine(f"sqlite:///{db}")
        queue = QueueService(engine, analyst="bench")
        queue_times: list[float] = []
        count_times: list[float] = []
        total = 0
        for _ in range(3):  # the first run meets a cold connection and page cache
            t0 = time.perf_counter()
            queue.page(QueueFilters(model_version=VERSION), facets=False)
            queue_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            total = queue.counts(QueueFilters(model_version=VERSION)).total
            count_times.append(time.perf_counter() - t0)
        export_times: list[float] = []
        count = 0
        for i in range(1 if not quick else 2):
            out = Path(tmp) / f"labels_{i}.csv"
            t0 = time.perf_counter()
            res = export_labels(engine, out, "csv", taxonomy=taxonomy)
            export_times.append(time.perf_counter() - t0)
            count = res.count
        engine.dispose()
        t0 = time.perf_counter()
        open_store(f"sqlite:///{db}").engine.dispose()
        open_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        backup_to(db, Path(tmp) / "backups" / "store-backup.sqlite3")
        backup_s = time.perf_counter() - t0
    first_page = queue_times[0]
    export_s = min(export_times)
    log(f"  {'re-judge queue, first page (cold)':<44} {first_page:7.3f} s   "
        f"(warm {median(queue_times[1:]):.3f} s; {total:,} images in the queue)   target < 0.5 s "
        f"-> {TARGETS['rejudge_queue_first_page_s'] / first_page:5.2f}x margin")
    log(f"  {'  ... its counts, read next':<44} {count_times[0]:7.3f} s   (warm {median(count_times[1:]):.3f} s)")
    log(f"  {'export all current labels to CSV':<44} {export_s:7.3f} s   ({count:,} rows)   target < 10 s "
        f"-> {TARGETS['export_csv_s'] / export_s:5.2f}x margin")
    log(f"  {'open the store (integrity check included)':<44} {open_s:7.3f} s   ({size_mb:,.0f} MB file)")
    log(f"  {'one rolling backup (copy + check)':<44} {backup_s:7.3f} s")
    return {
        "open_store_s": round(open_s, 3), "backup_s": round(backup_s, 3),
        "images": n, "embedding_dim": dim, "build_s": round(build_s, 2), "db_mb": round(size_mb, 1),
        "rejudge_queue_first_page_s": round(first_page, 4),
        "rejudge_queue_runs_s": [round(t, 4) for t in queue_times], "queue_total": total,
        "rejudge_queue_counts_s": [round(t, 4) for t in count_times],
        "export_csv_s": round(export_s, 3), "export_rows": count,
        "targets_s": TARGETS,
        "meets_target": {"rejudge_queue": first_page < TARGETS["rejudge_queue_first_page_s"],
                         "export_csv": export_s < TARGETS["export_csv_s"]},
    }
