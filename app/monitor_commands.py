"""``fma-judge monitor`` (the purity monitor's figures, pauses and resumes) and ``fma-judge recalibrate`` (fit a
bundle's routing again on the store's judged images). No Qt; ``recalibrate`` imports torch to run the model.

    fma-judge monitor --model BUNDLE [--db URL] [--batch ID ...] [--check] [--resume PAUSE_ID]
    fma-judge recalibrate --model BUNDLE [--db URL] [--out NEW_BUNDLE] [--since DATE] [--train-data MANIFEST] ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.services.monitor import MonitorReport, MonitorSettings, PurityMonitor
from app.store import repo
from app.store.db import open_store, require_existing, session_scope
from app.store.errors import ExportError, StoreError
from app.store.export import export_labels, parse_since
from models.bundle.files import read_bundle_manifest
from models.bundle.manifest import BundleError
from models.commands.arguments import number
from models.sysinfo import DEVICE_HELP, device_arg


def format_report(report: MonitorReport) -> str:
    """The monitor's figures as a plain-text table (the command's output; the dashboard shows the same)."""
    if report.why_not:
        return f"{report.model_version}: nothing to monitor ({report.why_not})"
    target = report.target or 0.0
    lines = [f"model {report.model_version}, calibration of {report.calibration}, target purity {target:.3f}, "
             f"bounds at {report.settings.confidence:.0%}",
             f"{'leaf':<24} {'checks':>7} {'wrong':>6} {'purity':>8} {'bounds':>15}  state"]
    for p in (*report.leaves, *(() if report.overall is None else (report.overall,))):
        est = "-" if p.estimate is None else f"{p.estimate:.3f}"
        state = "PAUSED" if p.paused else ("below target" if p.below else "ok")
        if p.floor is not None and p.floor < target:
            state += f" (held to its calibration floor {p.floor:.3f})"
        if p.leaf is None:
            state = ""
        lines.append(f"{p.leaf or 'all leaves':<24} {p.checks:>7} {p.wrong:>6} {est:>8} "
                     f"{p.low:>7.3f}-{p.high:<7.3f}  {state}")
    if report.floors:  # a calibration with one promise over all leaves holds its weaker leaves to their own floor
        lines.append("held to their calibration floor instead of the target: "
                     + ", ".join(f"{leaf} {floor:.3f}" for leaf, floor in sorted(report.floors.items())))
    if report.fused_floors:  # a prediction fused with spectra is held to the fused calibration's floor
        lines.append("fused with a spectrum, held to the fused calibration's floor: "
                     + ", ".join(f"{leaf} {floor:.3f}" for leaf, floor in sorted(report.fused_floors.items())))
    for b in report.batches:
        score = "-" if b.score is None else f"{b.score:.2f}x"
        lines.append(f"batch {b.batch_id}: {b.flagged}/{b.predicted} images flagged as unfamiliar "
                     f"(calibration {b.expected:.1%}), drift score {score}{'  PAUSED' if b.paused else ''}")
    for pause in report.pauses:
        lines.append(f"pause {pause.id}: {pause.scope} {pause.target} since {pause.started_at:%Y-%m-%d %H:%M} UTC "
                     f"({pause.reason}); lift it with a recalibration, or --resume {pause.id}")
    for pause in report.started:
        lines.append(f"now paused: {pause.scope} {pause.target} ({pause.reason})")
    for pause in report.ended:
        lines.append(f"ended: {pause.scope} {pause.target} ({pause.end_reason})")
    return "\n".join(lines)


def monitor_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fma-judge monitor",
        description="Production purity from blind spot checks, per leaf and overall, batch drift, and the pauses "
                    "of auto-judging (the app runs the same check after every blind judgment).")
    parser.add_argument("--model", required=True, help="the model bundle whose calibration is monitored")
    parser.add_argument("--db", help="database URL (default: the per-user fma-judge database)")
    parser.add_argument("--batch", action="append", default=[], metavar="NAME|ID",
                        help="also the drift score of this batch: its name, as the app lists it, or id (repeatable)")
    parser.add_argument("--check", action="store_true",
                        help="act on the figures: pause or resume as the app would (default: only show them)")
    parser.add_argument("--resume", type=int, metavar="PAUSE_ID", help="lift a pause by hand")
    parser.add_argument("--confidence", default=MonitorSettings.confidence,
                        type=number(float, "a probability between 0 and 1", low=0.0, high=1.0, low_open=True,
                                    high_open=True),
                        help=f"of the purity bounds and the drift rule (default {MonitorSettings.confidence:g})")
    args = parser.parse_args(argv)
    try:
        manifest = read_bundle_manifest(args.model)
        require_existing(args.db)  # (a look at the figures made an empty database file)
        engine = open_store(args.db, writable=bool(args.check or args.resume)).engine
        with session_scope(engine, action="read") as s:  # a batch that is not there is named, never "0/0 images"
            batch_ids = [repo.batch_by_ref(s, ref) for ref in args.batch]
        monitor = PurityMonitor(engine, MonitorSettings(confidence=args.confidence))
        if args.resume is not None:
            pause = monitor.resume(args.resume)
            print(f"resumed auto-judging of {pause.scope} {pause.target}")
        report = monitor.check(manifest.model_version, manifest.calibration, batch_ids=batch_ids, act=args.check,
                               fused=manifest.fused_calibration)
    except (BundleError, StoreError, ValueError, LookupError, OSError) as exc:
        print(f"fma-judge monitor: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0


def recalibrate_main(argv: list[str]) -> int:
    from models.commands.calibrate import flips_arg, leaf_share

    parser = argparse.ArgumentParser(
        prog="fma-judge recalibrate",
        description="Fit the bundle's routing (temperature, thresholds, unknown detector) again on the images "
                    "analysts judged in the store; pauses of the old calibration end when the app loads it.")
    parser.add_argument("--model", required=True, help="the model bundle folder")
    parser.add_argument("--db", help="database URL (default: the per-user fma-judge database)")
    parser.add_argument("--out", help="write a recalibrated copy here (default: update --model in place)")
    parser.add_argument("--since", metavar="DATE",
                        help="judgments made since (default: since the model was made, so none of its training "
                             "images count)")
    parser.add_argument("--train-data", metavar="MANIFEST",
                        help="the training manifest: its train split gives the unknown detector's class centroids "
                             "(default: the judged images themselves)")
    parser.add_argument("--target-purity", type=float, help="default: the bundle's current calibration's")
    parser.add_argument("--spot-check", type=float, help="default: the bundle's current share")
    parser.add_argument("--spot-check-leaf", action="append", default=None, type=leaf_share, metavar="LEAF=SHARE",
                        help="a leaf's own share (repeatable; default: the bundle's current ones)")
    parser.add_argument("--min-support", type=int, help="default: the bundle's current calibration's")
    parser.add_argument("--method", choices=("ltt", "per-leaf"),
                        help="default: the bundle's current calibration's (per-leaf for one made before ltt existed)")
    parser.add_argument("--ltt-starts", type=int, metavar="K",
                        help="ltt's starting points (default: the bundle's current calibration's; 1 for an ltt calibration "
                             "that does not record them, made when one start was the only kind)")
    parser.add_argument("--flagged-climb", action=argparse.BooleanOptionalAction, default=None,
                        help="let images flagged as possible unknowns have their group or subgroup determined "
                             "(default: as the bundle's current ltt calibration does; on for any other)")
    parser.add_argument("--flips", type=flips_arg, metavar="VIEWS",
                        help="test-time flips, a comma list of h, v, hv, or none (default: the bundle's current "
                             "calibration's)")
    parser.add_argument("--device", default="cpu", type=device_arg, help=DEVICE_HELP)
    args = parser.parse_args(argv)
    try:
        return _recalibrate(args)
    except (BundleError, StoreError, ExportError, ValueError, OSError) as exc:
        print(f"fma-judge recalibrate: error: {exc}", file=sys.stderr)
        return 2


def _chosen_unknown_method(now: Any) -> str | None:
    """The unknown score the bundle's calibration was told to use (``--unknown-method``), else None: one it chose by
    AUROC is chosen again on the judged images."""
    if now is None or now.unknown is None or now.unknown_fit is None or now.unknown_fit.selected_by != "option":
        return None
    return now.unknown.method


def _recalibrate(args: argparse.Namespace) -> int:
    from models.calibration.calibrate import CalibrateOptions, calibrate
    from models.calibration.report import format_table, write_reports
    from models.data.manifest import load_data

    manifest = read_bundle_manifest(args.model)
    since = parse_since(args.since) if args.since else None
    if since is None and manifest.created:
        since = dt.datetime.fromisoformat(manifest.created)
        since = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
    target = Path(args.out) if args.out else Path(args.model)
    if args.out and target.exists():  # (both said only after the judged images were exported and read)
        raise ValueError(f"{target} exists; choose a new folder for the recalibrated bundle")
    engine = open_store(args.db).engine
    now = manifest.calibration  # what is not given stays as the bundle has it
    defaults = CalibrateOptions()

    def keep(given: Any, current: Any, default: Any) -> Any:
        return given if given is not None else current if current is not None else default

    options = CalibrateOptions(
        target_purity=keep(args.target_purity, now and now.target_purity, defaults.target_purity),
        min_support=keep(args.min_support, now and now.min_support, defaults.min_support),
        method=keep(args.method, now and (now.method or "per-leaf"), defaults.method),
        ltt_starts=keep(args.ltt_starts, now and now.starts_used, defaults.ltt_starts),
        flagged_climb=keep(args.flagged_climb, now.flagged_climb if now and now.method == "ltt" else None,
                           defaults.flagged_climb),  # a per-leaf calibration never records it: the default
        flips=keep(args.flips, now and now.flips, defaults.flips),
        bound=keep(None, now and now.bound, defaults.bound),
        confidence=keep(None, now and now.confidence, defaults.confidence),
        unknown_fpr=keep(None, now and now.unknown_fpr, defaults.unknown_fpr),
        unknown_method=keep(None, _chosen_unknown_method(now), defaults.unknown_method),
        spot_check=keep(args.spot_check, now and now.spot_check, defaults.spot_check),
        spot_check_by_leaf=dict(args.spot_check_leaf) if args.spot_check_leaf is not None else
        dict(now.spot_check_by_leaf) if now else {}, split="judged", sources=(f"store {engine.url.render_as_string(hide_password=True)}",),
        centroid_split="train" if args.train_data else "judged", device=args.device)
    options.validate()  # a --target-purity of 5 is refused before the slow part
    with tempfile.TemporaryDirectory(prefix="fma-recalibrate-") as tmp:
        labels = Path(tmp) / "judged.csv"
        exported = export_labels(engine, labels, "csv", since=since, taxonomy=manifest.taxonomy)
        if exported.count == 0:
            raise ValueError(f"no judged images in the store since {since:%Y-%m-%d %H:%M}" if since else
                             "no judged images in the store")
        loaded = load_data([str(labels)], manifest.taxonomy)
        if loaded.skipped:
            print(loaded.report(), file=sys.stderr)
        samples = list(loaded.samples)
        train = samples
        if args.train_data:
            train_loaded = load_data([args.train_data], manifest.taxonomy)
            train = [s for s in train_loaded.samples if s.split in (None, "train")]
        if args.out:
            shutil.copytree(args.model, target)
        print(f"{len(samples)} judged image(s) since {since or 'the beginning'}; calibrating {target}",
              file=sys.stderr)
        result = calibrate(target, samples, train, options, log=lambda m: print(m, file=sys.stderr))
    print(format_table(result))
    paths = write_reports(target / "calibration", result, title=f"{manifest.model_version} on judged images")
    print(f"wrote {target / 'manifest.json'} and {paths['calibration.json']}; load {target} in the app")
    return 0
