"""Team: N analysts (processes) judging one batch at once on one store, PostgreSQL and SQLite (issue #19).

    python -m bench team [--quick]

Each simulated analyst is a process with its own :class:`app.services.judging.JudgingService`, as a workstation
runs it. It reads the batch once (its screen), then judges an image every 0.4 s (2.5 judgments/s; 20 analysts offer
50/s), choosing a type as the picker would; every 30 s it reads the judgments colleagues made (what the window's
poll does). Two runs per backend: with claims (each analyst takes the next five images nobody holds,
``JudgingService.claim_next``, as a headless client of a shared batch would; the window itself claims the image on
screen and the next four with ``claim`` and passes over colleagues' images), and without (every analyst on random
images it sees waiting: the worst case, before claims). A judgment made on a state the image no longer has is refused as a
conflict; the analyst then sees the colleague's decision. The pace is kept by the clock (a late judgment does not
shift the next ones), so a slow store shows as fewer judgments per second.

Measured per backend: judgments/s, commit latency (the ``choose`` call: transaction, lock, insert, commit)
p50 / p99, conflicts, and from the store afterwards: judgments acknowledged but missing (lost) and judgments
written over a decision their analyst never saw (double-judged without a conflict). Targets, 20 analysts on
PostgreSQL: >= 50 judgments/s sustained, commit p99 <= 100 ms, 0 lost, 0 double-judged; SQLite is reported as is.

PostgreSQL is the throwaway server of ``.ci/start_postgres.sh`` (started if needed; skipped when it cannot be).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, log, median, percentile, pg_schema

PACE_S = 0.4
POLL_S = 30.0
TARGETS = {"judgments_per_s": 50.0, "commit_p99_ms": 100.0, "lost": 0, "double_judged": 0}
LEAVES = ("scratch", "crack", "dent", "fiber", "bubble", "lc_stain")


def _analyst(url: str, batch_id: int, name: str, seconds: float, seed: int, out: str, start_at: float,
             claims: bool) -> None:
    """One workstation: judge waiting images at a fixed pace (``claims``: the next ones the store hands this analyst,
    five at a time, as the window claims what it is about to show; else random ones of its screen); log every
    acknowledged judgment."""
    from app.services.judging import JudgingService
    from app.store.db import make_engine
    from app.store.errors import JudgmentConflictError, StoreError

    rng = random.Random(seed)
    engine = make_engine(url)
    service = JudgingService(engine, name)
    service.batch_id = batch_id
    screen = {it.image.image_id: it for it in service.batch_items(batch_id)}
    seen, polled = None, time.monotonic()
    acked, conflicts, errors, latency, claim_s = [], 0, [], [], []
    mine: list[int] = []
    last_position: int | None = None
    while time.time() < start_at:
        time.sleep(0.005)
    t_end = time.monotonic() + seconds
    due = time.monotonic()
    while due < t_end:
        time.sleep(max(0.0, due - time.monotonic()))
        due += PACE_S
        if time.monotonic() - polled >= POLL_S:  # the window's poll: colleagues' judgments appear
            seen, changed = service.judged_since(seen, list(screen))
            for rec in changed:
                screen[rec.image_id] = dataclasses.replace(screen[rec.image_id], judgment=rec)
            polled = time.monotonic()
        if claims:
            if not mine:
                t0 = time.perf_counter()
                mine = service.claim_next(batch_id, 5, after_position=last_position)
                claim_s.append(time.perf_counter() - t0)
                if not mine:
                    break
            item = screen[mine.pop(0)]
            last_position = item.image.position
        else:
            waiting = [i for i, it in screen.items() if it.judgment is None or not it.judgment.is_decision]
            if not waiting:
                break
            item = screen[rng.choice(waiting)]
        j = item.judgment
        expected = ["pending", None] if j is None or not j.is_decision else [j.status, j.leaf]  # what it shows
        t0 = time.perf_counter()
        try:
            rec = service.choose(item, rng.choice(LEAVES))
        except JudgmentConflictError as exc:
            latency.append(time.perf_counter() - t0)
            conflicts += 1
            if exc.current is not None:
                screen[item.image.image_id] = dataclasses.replace(item, judgment=exc.current)
            continue
        except StoreError as exc:
            errors.append(str(exc).splitlines()[0])
            continue
        latency.append(time.perf_counter() - t0)
        acked.append([rec.id, item.image.image_id, expected])
        screen[item.image.image_id] = dataclasses.replace(item, judgment=rec)
    engine.dispose()
    Path(out).write_text(json.dumps({"acked": acked, "conflicts": conflicts, "errors": errors,
                                     "latency_s": latency, "claim_s": claim_s}), encoding="utf-8")


def _check(url: str, logs: list[dict]) -> dict[str, int]:
    """Lost: acknowledged ids not in the store. Double-judged: a judgment whose image had, just before it, a
    decision other than the one its analyst saw (the store let it write over a decision nobody showed them)."""
    from app.store import repo
    from app.store.db import make_engine, session_scope

    engine = make_engine(url)
    acked = [row for doc in logs for row in doc["acked"]]
    lost = double = 0
    with session_scope(engine, action="read") as s:
        histories: dict[int, list] = {}
        for _jid, image_id, _expected in acked:
            if image_id not in histories:
                histories[image_id] = repo.judgment_history(s, image_id)
        for jid, image_id, expected in acked:
            history = histories[image_id]
            ids = [j.id for j in history]
            if jid not in ids:
                lost += 1
                continue
            before = history[ids.index(jid) - 1] if ids.index(jid) > 0 else None
            if list(repo.state_of(before)) != expected:
                double += 1
    engine.dispose()
    return {"lost": lost, "double_judged": double}


def _make_batch(url: str, folder: Path, n: int) -> int:
    from PIL import Image

    from app.services.judging import JudgingService
    from app.store.db import init_db, make_engine

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = folder / f"img_{i:05d}.png"
        if not path.exists():
            Image.frombytes("L", (16, 16), i.to_bytes(4, "little") * 64).save(path)  # distinct: one image each
    engine = make_engine(url)
    init_db(engine)
    batch_id = JudgingService(engine, "setup").open_folder(folder).batch_id
    engine.dispose()
    return batch_id


def _pg_url() -> str | None:
    url = os.environ.get("FMA_TEST_PG_URL")
    if not url:
        res = subprocess.run(["bash", str(ROOT / ".ci" / "start_postgres.sh")], capture_output=True, text=True,
                             timeout=300)
        line = next((ln for ln in res.stdout.splitlines() if "FMA_TEST_PG_URL=" in ln), "")
        url = line.split("FMA_TEST_PG_URL=", 1)[1].strip().strip("'\"") if line else None
    return url or None


def _run_backend(label: str, url: str, folder: Path, tmp: Path, analysts: int, seconds: float,
                 images: int, claims: bool) -> dict[str, Any]:
    batch_id = _make_batch(url, folder, images)
    ctx = mp.get_context("spawn")
    start_at = time.time() + 3.0 + 0.25 * analysts  # every process imported and connected before the clock
    procs, outs = [], []
    for k in range(analysts):
        out = tmp / f"{label}_{claims}_{k}.json"
        outs.append(out)
        p = ctx.Process(target=_analyst, args=(url, batch_id, f"analyst{k:02d}", seconds, k, str(out), start_at,
                                               claims))
        p.start()
        procs.append(p)
    for p in procs:
        p.join(seconds + 120)
    logs = [json.loads(o.read_text(encoding="utf-8")) for o in outs if o.exists()]
    latency = [t for doc in logs for t in doc["latency_s"]]
    claim_s = [t for doc in logs for t in doc["claim_s"]]
    acked = sum(len(doc["acked"]) for doc in logs)
    result = {
        "analysts": analysts, "analysts_reported": len(logs), "seconds": seconds, "images": images,
        "offered_per_s": round(analysts / PACE_S, 1), "judgments": acked,
        "judgments_per_s": round(acked / seconds, 1),
        "attempts_per_s": round((acked + sum(doc["conflicts"] for doc in logs)) / seconds, 1),  # saved + refused
        "commit_ms": {"p50": round(median(latency) * 1000, 1), "p99": round(percentile(latency, 99) * 1000, 1),
                      "max": round(max(latency, default=0) * 1000, 1)},
        "claims": claims,
        "claim_next_ms": {"p50": round(median(claim_s) * 1000, 1), "p99": round(percentile(claim_s, 99) * 1000, 1)}
        if claim_s else None,
        "conflicts": sum(doc["conflicts"] for doc in logs),
        "errors": [e for doc in logs for e in doc["errors"]][:10],
        "error_count": sum(len(doc["errors"]) for doc in logs),
        **_check(url, logs),
    }
    log(f"  {label:<11} {'claims' if claims else 'no claims':<9} {analysts} analysts, {seconds:.0f} s: {result['judgments_per_s']:6.1f} judgments/s "
        f"({result['attempts_per_s']} tried of {result['offered_per_s']} offered), commit p50 {result['commit_ms']['p50']} ms, p99 "
        f"{result['commit_ms']['p99']} ms, {result['conflicts']} conflicts refused, {result['error_count']} errors, "
        f"lost {result['lost']}, double-judged {result['double_judged']}")
    return result


def run(work: Path, quick: bool) -> dict[str, Any]:
    analysts, seconds, images = (4, 3.0, 60) if quick else (20, 60.0, 6000)
    folder = work / f"team_images_{images}"
    results: dict[str, Any] = {"targets": TARGETS, "pace_s": PACE_S}
    with tempfile.TemporaryDirectory(prefix="fma-bench-team-") as tmp_name:
        tmp = Path(tmp_name)
        pg = _pg_url()
        if pg is None:
            log("  postgresql: no server could be started; skipped")
        for claims in (True,) if quick else (True, False):  # with claims; then on random images of one batch
            key = "" if claims else "_no_claims"
            if pg is not None:
                with pg_schema(pg) as url:
                    results["postgresql" + key] = _run_backend("postgresql", url, folder, tmp, analysts, seconds,
                                                               images, claims)
            else:
                results["postgresql" + key] = None
            results["sqlite" + key] = _run_backend(
                "sqlite", f"sqlite:///{tmp / f'team{key}.sqlite3'}", folder, tmp, analysts, seconds, images, claims)
    pgr = results["postgresql"]
    results["meets_target"] = None if pgr is None else {
        "judgments_per_s": pgr["judgments_per_s"] >= TARGETS["judgments_per_s"],
        "commit_p99": pgr["commit_ms"]["p99"] <= TARGETS["commit_p99_ms"],
        "lost": pgr["lost"] == 0, "double_judged": pgr["double_judged"] == 0,
        "every_analyst_reported_without_errors": pgr["analysts_reported"] == analysts and pgr["error_count"] == 0}
    return results
