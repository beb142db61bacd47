"""The headless ``fma-judge`` sub-commands: ``classify`` (pre-classify a folder), ``export`` (labels), ``backup``
and ``restore`` (the SQLite store's backups).

Neither imports Qt; ``classify`` imports torch only to load the model. The argument parsing lives here, the work
in :mod:`app.services.predicting` and :mod:`app.store.export`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections import Counter
from pathlib import Path

from app.demo import DEMO_MODEL, not_installed
from app.services.predicting import ModelLoadError, PredictingService
from app.services.ranks import Ranks, ranks_from_env
from app.store import repo
from app.store.backup import BACKUP_DIR, backup_to, list_backups, restore, rolling_backup
from app.store.db import (
    default_db_url,
    describe_url,
    open_store,
    refuse_new_relative,
    require_existing,
    session_scope,
    sqlite_path,
)
from app.store.errors import ExportError, StoreError
from app.store.export import FORMATS, export_labels, parse_since, parse_statuses
from app.store.export_files import existing_export
from app.store.urls import DB_HELP, is_store_file
from models.commands.arguments import positive_int
from models.sysinfo import device_arg


def export_main(argv: list[str]) -> int:
    """``fma-judge export``."""
    parser = argparse.ArgumentParser(prog="fma-judge export",
                                     description="Export the current judgments as labels (a training manifest).")
    add_export_arguments(parser)
    return run_export(parser.parse_args(argv))


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``fma-judge export`` options to ``parser``."""
    parser.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    parser.add_argument(
        "--out", required=True, metavar="PATH", help="output file (csv, json) or folder (imagefolder)"
    )
    parser.add_argument(
        "--format", required=True, choices=FORMATS, help="csv = training manifest for fma-model"
    )
    parser.add_argument("--batch", metavar="NAME|ID", help="only this batch's images (its name, as the app lists it, or id)")
    parser.add_argument(
        "--since", metavar="DATE", help="only judgments made since this date/time (local time)"
    )
    parser.add_argument(
        "--status", metavar="LIST",
        help="comma-separated subset of accepted,corrected,unknown (default all three), and of the images no person "
             "decided: auto (the model judged it alone), waiting, unreadable (every image of a batch accounted for, "
             "for a report; csv and json only; training skips them)"
    )
    parser.add_argument("--overwrite", action="store_true",
                        help="write over an existing CSV/JSON file, or an imagefolder's manifest.csv and notes.csv "
                             "(without it, export refuses them)")


def run_export(args: argparse.Namespace) -> int:
    """Run ``fma-judge export``; prints a summary. Returns 0 on success, 2 when it could not export (a bad option,
    a database that cannot be read, an output that cannot be written), as every ``fma-judge`` command."""
    try:
        since = parse_since(args.since) if args.since else None
        statuses = parse_statuses(args.status) if args.status else None
    except ExportError as exc:
        print(f"fma-judge export: error: {exc}", file=sys.stderr)
        return 2
    clash = existing_export(args.out, args.format)
    if clash is not None and not args.overwrite and not is_store_file(args.db or default_db_url(), clash):
        # (the database itself: the export says so, rather than offer --overwrite)
        what = "an earlier export or a data set's manifest" if args.format == "imagefolder" else "a file"
        print(f"fma-judge export: error: {clash} exists ({what}); --overwrite writes over it, or choose another --out",
              file=sys.stderr)
        return 2
    url = args.db or default_db_url()
    try:
        require_existing(url)
        engine = open_store(url).engine  # a read-only database exports too
        try:
            result = export_labels(
                engine, args.out, args.format, batch_id=args.batch, since=since, statuses=statuses,
                overwrite=args.overwrite,
            )
        finally:
            engine.dispose()
    except (StoreError, ExportError, OSError) as exc:
        print(f"fma-judge export: error: {exc}", file=sys.stderr)
        return 2  # (a database error was 1 here and 2 in classify, monitor and recalibrate)
    if result.undecided:  # (not "N labels": those rows carry no person's label)
        print(f"Exported {result.count:,} row(s) to {result.path}: {result.count - result.undecided:,} judged, "
              f"{result.undecided:,} no person decided (status auto, waiting or unreadable; training skips them)")
    else:
        print(f"Exported {result.count:,} label(s) to {result.path}")
    if result.removed:  # (they stayed: an image relabelled since had a copy under each type)
        print(f"Removed {len(result.removed):,} cop{'y' if len(result.removed) == 1 else 'ies'} an earlier export "
              f"made in {result.path} under a type the " + ("image no longer has" if len(result.removed) == 1 else
                                                            "images no longer have") + " (relabelled since)")
    if result.kept:  # (removing them lost the only copies of images whose files were gone: review)
        print(f"Note: {len(result.kept):,} cop{'y' if len(result.kept) == 1 else 'ies'} an earlier export made in "
              f"{result.path} {'is' if len(result.kept) == 1 else 'are'} not in this export's manifest.csv (outside "
              f"its scope, or the file gone since) and stay{'s' if len(result.kept) == 1 else ''}, e.g. "
              f"{result.kept[0]}; a training by the type folders would learn them too: export into a new folder "
              "for one that holds only this export", file=sys.stderr)
    if not result.count and not result.skipped:
        asked = [f"batch {args.batch}" if args.batch else "", f"since {args.since}" if args.since else "",
                 f"status {args.status}" if args.status else ""]
        scope = "; ".join(a for a in asked if a)
        print(f"Note: no judged image in {describe_url(url)}{' matches ' + scope if scope else ''} (an image still "
              "waiting for its judgment is not exported)", file=sys.stderr)
    if result.skipped:
        print(f"Skipped {len(result.skipped):,}:")
        for path_text, reason in result.skipped[:10]:
            print(f"  {path_text or '<no path>'}: {reason}")
        if len(result.skipped) > 10:
            print(f"  ... and {len(result.skipped) - 10:,} more")
    if result.missing:
        print(f"Note: {len(result.missing):,} exported row(s) name files that are not there now, or hold another "
              "picture now (moved, deleted or written over since they were judged?): their labels are kept, but "
              "training skips them. First: "
              + ", ".join(result.missing[:3]))
    return 0


PROBLEMS_SHOWN = 10
"""How many unreadable files ``classify`` names (the count covers them all)."""


ROUTE_WORDS = {"auto": "auto-judged", "rejudge": "to re-judge",
               "none": "not routed, the model has no calibration (fma-model calibrate):"}
"""The routes of ``classify``'s summary line ("none 2" said nothing of why)."""


def classify_main(argv: list[str]) -> int:
    """Pre-classify a folder into the store, headless, exactly as the app would when it opens the folder."""
    parser = argparse.ArgumentParser(
        prog="fma-judge classify",
        description="Predict every image of a folder into the database, so that analysts open it with the "
                    "predictions already there (run it on a workstation or a server, e.g. from a scheduler).")
    parser.add_argument("folder", help="folder of images (the batch)")
    parser.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    parser.add_argument("--model", help="model bundle (default: the team's model, fma-judge deploy; without one, "
                                        f"the bundled demo model, {DEMO_MODEL})")
    parser.add_argument("--recursive", "-r", action="store_true",
                        help="also images in sub-folders (open it in the app the same way)")
    parser.add_argument("--device", default="cpu", type=device_arg, help="cpu (default) or cuda")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        what = "is a file, not a folder (classify takes a folder of images)" if folder.exists() else "not found"
        shown = folder if folder.is_absolute() else f"{folder} ({folder.absolute()})"  # (a scheduler's working folder)
        print(f"fma-judge classify: error: {shown} {what}", file=sys.stderr)
        return 2
    try:
        next(folder.iterdir(), None)
    except OSError as exc:  # (it printed "0 images" and a left-out line, and exited 0: a scheduler saw success)
        print(f"fma-judge classify: error: cannot list {folder}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    ranks = ranks_from_env(args.device)  # several processes when started by torchrun
    rc = _classify(args, folder, ranks)
    if ranks.world > 1:
        ranks.leave(rc)  # a torchrun rank ends here, past the interpreter's teardown
    return rc


def _team_model(engine) -> Path | None:
    """The team's model (``fma-judge deploy``) for a run without ``--model``, as the app's windows take it; None
    when none is deployed.

    Raises:
        ModelLoadError: one is deployed and this computer does not reach it (the demo model in its place would
            store the demo's calls for a real batch).
    """
    with session_scope(engine, action="read") as s:
        team = repo.team_model(s)
    if team is None:
        return None
    if not team.reachable():
        raise ModelLoadError(f"the team's model {team.bundle_path} (fma-judge deploy, by {team.set_by}) is not "
                             "reachable from here; give the model with --model BUNDLE")
    return Path(team.bundle_path)


CLASSIFY_NICE = 5
"""How much ``classify`` lowers its own CPU priority (POSIX ``nice``): a background batch, it yields the cores to the
analysts' windows on the same workstation. A window opening a folder while ``classify`` predicted another into the same
SQLite file hashed its files in worker processes that lower their own priority by 5 (they yield to the window's own
threads) and so got a quarter of a core each against ``classify``'s model threads: 7,992 files opened in 3.6-6.3 s
against 2.2-2.4 s with ``classify`` at nice 5 (waits for the store's write lock: under 0.1 s of either).
An idle machine runs it as fast as before."""


def _yield_to_windows() -> None:
    """Lower this process's CPU priority by :data:`CLASSIFY_NICE` before any thread starts (on Linux a thread takes
    its creator's priority: the model's threads, the decoders and the file readers started later all yield)."""
    if hasattr(os, "nice"):  # (Windows: no nice; the priority stays)
        with contextlib.suppress(OSError):
            os.nice(CLASSIFY_NICE)


def _classify(args: argparse.Namespace, folder: Path, ranks: Ranks) -> int:
    _yield_to_windows()
    model = Path(args.model) if args.model else DEMO_MODEL
    cancel = threading.Event()
    who = f"rank {ranks.rank}/{ranks.world}: " if ranks.world > 1 else ""
    device = f"cuda:{ranks.local_rank}" if ranks.world > 1 and args.device.startswith("cuda") else args.device

    def chunk_done(chunk) -> None:
        if chunk.done == chunk.total or chunk.done % 200 < len(chunk.items):
            print(f"{who}predicted {chunk.done}/{chunk.total}", file=sys.stderr, flush=True)

    engine = None
    try:
        service = None
        try:
            file = sqlite_path(args.db or default_db_url())
            new_file = file is not None and not file.is_file()  # said below: this run makes the database
            engine = open_store(args.db, writable=True).engine
            team = None if args.model else _team_model(engine)
            model = team or model
            if not args.model and team is None and not model.is_dir():
                raise ModelLoadError(f"{not_installed('the demo model')}: give the model with --model BUNDLE")
            service = PredictingService(engine, device=device)
            info = service.load(model)
        finally:  # every rank goes on only when every rank has the store and the model (else some would wait)
            loaded = ranks.add_up(Counter(failed=int(service is None or service.info is None)))
        if loaded["failed"]:
            raise ModelLoadError(f"{loaded['failed']} of {ranks.world} ranks could not load the model")
        if ranks.rank == 0:
            print(f"model {info.version} ({info.engine}); database {describe_url(engine.url)}"
                  + (" (created now)" if new_file else "")
                  + (f"; {ranks.world} ranks" if ranks.world > 1 else ""), file=sys.stderr)
            if team is not None:
                print(f"fma-judge classify: no --model given: the team's model {team} (fma-judge deploy)",
                      file=sys.stderr)
            elif not args.model:  # a scheduled run that forgot --model would store the demo's calls for real batches
                print(f"fma-judge classify: warning: no --model given: the bundled demo model ({DEMO_MODEL}) judges "
                      "these images; it knows only the demo's synthetic defects", file=sys.stderr)
        result = service.classify_folder(folder, recursive=args.recursive, on_chunk=chunk_done, cancel=cancel,
                                         ranks=ranks)
        drift = ""
        if ranks.rank == 0 and not result.cancelled:
            try:  # the predictions are saved: a check that fails is said, and the run's summary stands
                drift = _check_drift(engine, info, result)
            except (StoreError, ValueError) as exc:
                drift = f"warning: the batch's drift could not be checked ({exc}); the app checks it when it opens"
    except (ModelLoadError, StoreError, OSError) as exc:
        print(f"fma-judge classify: {who}error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fma-judge classify: interrupted; the predictions made so far are saved", file=sys.stderr)
        return 130
    finally:
        if engine is not None:
            engine.dispose()  # its connections closed before the process ends
        ranks.close()
    if ranks.rank > 0:
        return 0
    routes = ", ".join(f"{ROUTE_WORDS.get(k, k)} {v}" for k, v in sorted(result.routes.items())) or "-"
    print(f"{result.name}: {result.images} images; predicted {result.predicted} now ({routes}), "
          f"{result.already} already had this model's prediction, {result.errors + result.unreadable} unreadable")
    for path, why in result.problems[:PROBLEMS_SHOWN]:  # which files, and why: what a scheduled run's reader acts on
        print(f"  unreadable: {path}: {why}")
    if len(result.problems) > PROBLEMS_SHOWN:
        print(f"  … and {len(result.problems) - PROBLEMS_SHOWN} more (the app lists them all with the batch)")
    if result.left_out:  # (not said before: a scheduler's log did not show the folder's files not in the batch)
        print(f"{len(result.left_out)} file(s) of the folder not in the batch:")
        for path, why in result.left_out[:PROBLEMS_SHOWN]:
            print(f"  left out: {path}: {why}")
        if len(result.left_out) > PROBLEMS_SHOWN:
            print(f"  … and {len(result.left_out) - PROBLEMS_SHOWN} more (the app lists them: Ctrl+Shift+L)")
    if drift:
        print(drift)
    if not args.recursive:  # a lot's images in sub-folders (per line, per day): said, as the app asks
        from app.services.batches import images_below

        below = images_below(folder, limit=1000)
        if below:
            print(f"note: its sub-folders hold {below:,}{'+' if below >= 1000 else ''} more image(s); --recursive "
                  "(-r) classifies them too")
    return 0


def _check_drift(engine, info, result) -> str:
    """The purity monitor's look at the batch just classified, as the app makes when its predictions end: a batch
    unlike the calibration data is paused now (a headless run left it auto-judged, the dashboard showing a drift
    of 17× beside "on", until someone opened it in the app); returns the line to print about it, if any."""
    from app.services.monitor import PurityMonitor

    calibration = info.manifest.calibration
    if calibration is None or calibration.target_purity is None:
        return ""
    monitor = PurityMonitor(engine)
    report = monitor.check(info.version, calibration, batch_ids=[result.batch_id],
                           fused=info.manifest.fused_calibration)
    drift = next((d for d in report.batches if d.batch_id == result.batch_id), None)
    if drift is None or drift.score is None:
        return ""
    verdict, settings = drift.verdict(monitor.settings), monitor.settings
    said = {"paused": "auto-judging paused for this batch: it is unlike the calibration data; its auto-judged "
                      "images go to a person (the dashboard says what to do)",
            "resumed": "unlike the calibration data, but a lead resumed its auto-judging",
            "over": "over the limit, paused at the next check",
            # (the line said a drift of 4.6x and nothing more; the dashboard showed it beside "on")
            "few": f"not judged yet: {drift.predicted} of the {settings.drift_min_images} images it takes; not paused",
            "within": f"not surely over the limit of {drift.limit(settings):.1%} flagged: not paused",
            }.get(verdict, "")
    return f"drift {drift.score:.1f}× the calibration's share of unfamiliar images ({drift.flagged} of " \
           f"{drift.predicted} flagged)" + (f": {said}" if said else "")


def _sqlite_file(db: str | None) -> Path:
    """The SQLite file of ``--db`` (default: the per-user database); a server URL is a user error, and so is a
    relative path that names no file (a restore would make the database in the current folder)."""
    url = db or default_db_url()
    refuse_new_relative(url)  # (FMA_JUDGE_DB as --db: a restore made a database in the current folder)
    path = sqlite_path(url)
    if path is None:
        raise StoreError(f"{describe_url(url)} is not a SQLite file: back up a PostgreSQL database with pg_dump")
    return path


def backup_main(argv: list[str]) -> int:
    """``fma-judge backup``: a checked copy of the SQLite store now (the app also makes them on a timer)."""
    parser = argparse.ArgumentParser(
        prog="fma-judge backup",
        description=f"Copy the SQLite database while it is in use (SQLite's online backup API) into the "
                    f"'{BACKUP_DIR}' folder beside it, keeping the newest --keep, or into --out.")
    parser.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    parser.add_argument("--out", metavar="FILE", help="write the copy here instead (nothing is pruned)")
    parser.add_argument("--keep", type=positive_int, default=10, help="backups kept in the folder (default 10)")
    parser.add_argument("--list", action="store_true", help="list the backups, newest first, and exit")
    args = parser.parse_args(argv)
    try:
        path = _sqlite_file(args.db)
        if args.list:
            return _print_backups(path)
        if args.out:
            made = backup_to(path, Path(args.out))
        else:
            made = rolling_backup(path, every_s=0, keep=args.keep)
    except StoreError as exc:
        print(f"fma-judge backup: error: {exc}", file=sys.stderr)
        return 2
    print(f"Backed up {path} to {made}")
    return 0


def restore_main(argv: list[str]) -> int:
    """``fma-judge restore``: put a backup in place of the database (the replaced file is kept beside it)."""
    parser = argparse.ArgumentParser(
        prog="fma-judge restore",
        description="Replace the SQLite database by a backup. Close every fma-judge window on it first; the "
                    "replaced file is kept as <name>.before-restore-<time>.")
    parser.add_argument("backup", nargs="?", help="the backup file (see --list)")
    parser.add_argument("--newest", action="store_true", help="restore the newest backup")
    parser.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    parser.add_argument("--list", action="store_true", help="list the backups, newest first, and exit")
    args = parser.parse_args(argv)
    if not args.list and bool(args.backup) == args.newest:
        parser.error("give either a BACKUP file or --newest (see --list)")
    try:
        path = _sqlite_file(args.db)
        if args.list:
            return _print_backups(path)
        if args.newest:
            found = list_backups(path)
            if not found:
                raise StoreError(f"no backups of {path} in {path.parent / BACKUP_DIR}")
            source = found[0].path
        else:
            source = Path(args.backup)
        kept = restore(source, path)
    except StoreError as exc:
        print(f"fma-judge restore: error: {exc}", file=sys.stderr)
        return 2
    print(f"Restored {path} from {source}" + (f"; the replaced file is kept as {kept}" if kept else ""))
    return 0


def _print_backups(path: Path) -> int:
    found = list_backups(path)
    if not found:
        print(f"No backups of {path} (in {path.parent / BACKUP_DIR}).")
    for b in found:
        print(f"{b.created.astimezone():%Y-%m-%d %H:%M:%S}  {b.size / 1e6:8.1f} MB  {b.path}")
    return 0

