"""Child processes of the ``reliability`` benchmark: each prints tagged JSON lines (``TAG {...}``) on stdout.

``open-folder FOLDER --db URL``
    opens the folder as the app does (:meth:`app.services.judging.JudgingService.open_folder`, on a new store)
    and prints ``OPENED`` with every item (path, the reason its header cannot be read) and every skipped file.

``judge FOLDER --db URL --analyst NAME --seed S [--count N] [--barrier DIR]``
    an analyst's session through the public services: ``make_engine`` + ``init_db`` + ``open_folder`` (with
    ``--barrier``: once everything is imported it writes ``DIR/NAME.ready`` and waits for ``DIR/go``, so that two
    writers start within a millisecond of each other), then judgments in a random mix
    (accept, choose, mark_unknown, add_note, undo, redo); ``N`` calls, or until killed when 0. Each judgment is
    printed (``ACK``, flushed) only after its call returned, i.e. after its commit: whatever was acknowledged
    must be in the store, whenever the process dies. ``STARTUP_FAIL`` when the store or the folder cannot be
    opened, ``ERR``/``CONFLICT`` for a call that raised (the session goes on, as the app's does), ``DONE`` at
    the end with the call latencies.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ACTIONS: tuple[tuple[str, int], ...] = (("choose", 30), ("accept", 25), ("unknown", 10), ("note", 15),
                                        ("undo", 12), ("redo", 8))
NOTES: tuple[str, ...] = ("scratch near the edge", "second look: particle or residue?", "重測 (re-measure)", "",
                          "=1+1 typed by mistake", "edge of die\nsee neighbour")


def say(tag: str, **fields: Any) -> None:
    print(f"{tag} {json.dumps(fields, ensure_ascii=False, default=str)}", flush=True)


def open_folder_main(args: argparse.Namespace) -> int:
    from app.services.judging import JudgingService
    from app.store.db import init_db, make_engine

    engine = make_engine(args.db)
    init_db(engine)
    t0 = time.perf_counter()
    opened = JudgingService(engine, "bench").open_folder(Path(args.folder))
    say("OPENED", seconds=round(time.perf_counter() - t0, 3), batch_id=opened.batch_id,
        items=[{"path": it.image.path, "reason": opened.unreadable.get(it.image.image_id)} for it in opened.items],
        skipped=[list(s) for s in opened.skipped])
    engine.dispose()
    return 0


def judge_main(args: argparse.Namespace) -> int:
    from app.services.judging import JudgingService
    from app.store.db import init_db, make_engine
    from app.store.errors import JudgmentConflictError
    from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy

    rng = random.Random(args.seed)
    leaves = Taxonomy.from_yaml(DEMO_TAXONOMY_PATH).leaves
    names, weights = zip(*ACTIONS, strict=True)
    if args.barrier:
        Path(args.barrier, f"{args.analyst}.ready").touch()
        go = Path(args.barrier, "go")
        while not go.exists():
            time.sleep(0.0005)
    say("START", t=time.time())
    try:
        engine = make_engine(args.db)
        init_db(engine)
        service = JudgingService(engine, args.analyst)
        opened = service.open_folder(Path(args.folder))
    except Exception as exc:  # what the app would show as "cannot open the database"
        say("STARTUP_FAIL", t=time.time(), error=f"{type(exc).__name__}: {exc}"[:2000], traceback=traceback.format_exc()[-3000:])
        return 3
    items = {it.image.image_id: it for it in opened.items}
    ids = sorted(items)
    say("READY", t=time.time(), batch_id=opened.batch_id, image_ids=ids)
    latencies: list[float] = []
    calls = errors = conflicts = 0
    while args.count == 0 or calls < args.count:
        action = rng.choices(names, weights)[0]
        item = items[rng.choice(ids)]
        calls += 1
        t0 = time.perf_counter()
        try:
            if action == "accept" and (item.prediction is None or not item.prediction.leaf):
                action = "choose"  # nothing predicted to accept: the analyst picks a type
            if action == "accept":
                rec = service.accept(item)
            elif action == "choose":
                rec = service.choose(item, rng.choice(leaves))
            elif action == "unknown":
                rec = service.mark_unknown(item)
            elif action == "note":
                rec = service.add_note(item, rng.choice(NOTES))
            elif action == "undo":
                rec = service.undo()
            else:
                rec = service.redo()
        except JudgmentConflictError as exc:  # undo/redo of an image another analyst judged since: by design
            conflicts += 1
            say("CONFLICT", action=action, error=str(exc)[:500])
            continue
        except Exception as exc:
            errors += 1
            say("ERR", action=action, error=f"{type(exc).__name__}: {exc}"[:2000],
                traceback=traceback.format_exc()[-3000:])
            continue
        latencies.append(time.perf_counter() - t0)
        if rec is None:  # nothing to undo or redo
            continue
        items[rec.image_id] = dataclasses.replace(items[rec.image_id], judgment=rec)
        say("ACK", id=rec.id, image_id=rec.image_id, leaf=rec.leaf, status=rec.status, action=rec.action,
            note=rec.note, analyst=rec.analyst)
    latencies.sort()
    say("DONE", t=time.time(), calls=calls, errors=errors, conflicts=conflicts,
        latency_ms={"p50": round(1000 * latencies[len(latencies) // 2], 2) if latencies else None,
                    "p95": round(1000 * latencies[int(len(latencies) * 0.95)], 2) if latencies else None,
                    "max": round(1000 * latencies[-1], 2) if latencies else None})
    engine.dispose()
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.reliability_child")
    sub = p.add_subparsers(dest="command", required=True)
    o = sub.add_parser("open-folder")
    o.add_argument("folder")
    o.add_argument("--db", required=True)
    j = sub.add_parser("judge")
    j.add_argument("folder")
    j.add_argument("--db", required=True)
    j.add_argument("--analyst", required=True)
    j.add_argument("--seed", type=int, default=0)
    j.add_argument("--count", type=int, default=0, help="calls to make (0: until killed)")
    j.add_argument("--barrier", help="folder: write NAME.ready there, then wait for a file named go")
    args = p.parse_args(argv)
    return open_folder_main(args) if args.command == "open-folder" else judge_main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
