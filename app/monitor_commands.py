"""``fma-judge monitor`` (the purity monitor's figures, pauses and resumes) and ``fma-judge recalibrate`` (fit a
bundle's routing again on the store's judged images). No Qt; ``recalibrate`` imports torch to run the model.

    fma-judge monitor --model BUNDLE [--db URL] [--batch ID ...] [--check] [--resume PAUSE_ID]
                      [--pause LEAF [--why TEXT] [--by NAME]]
    fma-judge recalibrate --model BUNDLE [--db URL] [--out NEW_BUNDLE] [--since DATE] [--train-data MANIFEST]
                          [--force] ...

``monitor`` prints each paused leaf's evidence (the checks it was paused on, how many wrong, since when, and the
checks made since), each batch's drift against the limit (over it or not, paused or not) and how each pause lifts.
``recalibrate`` calibrates a copy (in place, hard links beside the bundle: its weights are not copied; with
``--out``, a whole copy there) and refuses (exit 1,
nothing written) a calibration that lets no leaf be auto-judged, unless ``--force``; in place, the live manifest is
replaced atomically only then, its previous one kept beside it as ``manifest.json.before-recalibrate-<UTC time>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import difflib
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from app.services.monitor import (
    BatchDrift,
    MonitorReport,
    MonitorSettings,
    Purity,
    PurityMonitor,
    shell_quoted,
)
from app.store import queries, repo
from app.store.db import open_store, require_existing, session_scope
from app.store.errors import ExportError, StoreError
from app.store.export import export_labels, parse_since
from app.store.urls import DB_HELP, describe_url, resolve_db_url, without_password
from models.bundle.files import MANIFEST_NAME, read_bundle_manifest
from models.bundle.manifest import BundleError
from models.calibration.report import needed_text
from models.commands.arguments import number
from models.sysinfo import DEVICE_HELP, device_arg


def _utc(when: dt.datetime) -> str:
    when = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)  # (SQLite reads UTC back naive)
    return f"{when.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _images(ids: tuple[int, ...], names: Mapping[int, str] | None = None, most: int = 10) -> str:
    """``ids`` as a lead finds them: "P004_20x.png in line 7 (image 12)", the first ``most``; the id alone where
    ``names`` has none."""
    names = names or {}
    shown = ", ".join(f"{names[i]} (image {i})" if i in names else f"image {i}" for i in ids[:most])
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")


def image_names(engine, ids: Iterable[int]) -> dict[int, str]:
    """Each image's file name where it was seen last, and the newest batch holding it ("P004_20x.png in line 7")."""
    with session_scope(engine, action="read") as s:
        return {image_id: name + (f" in {batch}" if batch else "") for image_id, name, batch in repo.image_places(
            s, list(ids))}


def _pause_state(p: Purity, settings: MonitorSettings) -> str:
    """A paused leaf's state: since when, the evidence it was paused on, and the checks made since."""
    pause = p.pause
    if pause is None:
        return "PAUSED"
    d = pause.detail
    if d.get("by_hand"):
        checks, wrong = p.during
        return (f"PAUSED by hand since {_utc(pause.started_at)} by {d.get('by', '?')}"
                + (f" ({d['why']})" if d.get("why") else "")
                + f"; during the pause {checks} checks, {wrong} wrong (it lifts by hand; a recalibration carries it "
                  "over)")
    state = f"PAUSED since {_utc(pause.started_at)}: {d.get('wrong', '?')} wrong, {d.get('checks', '?')} checked"
    if d.get("upper_bound") is not None and d.get("target") is not None:
        state += f", purity at most {float(d['upper_bound']):.3f} < {float(d['target']):.3f}"
    checks, wrong = p.during
    return state + (f"; during the pause {checks} checks, {wrong} wrong (it lifts at {settings.resume_checks} or "
                    f"more, at least {p.floor or 0.0:.3f} of them right)")


def _drift_verdict(b: BatchDrift, settings: MonitorSettings) -> str:
    """Whether a batch's drift is over the limit, and whether it is paused."""
    verdict = b.verdict(settings)
    return {
        "paused": "over the limit: PAUSED",
        "over": "over the limit, not paused yet (a check that acts pauses it: the app's, or --check)",
        "resumed": "over the limit, not paused: a lead resumed it for this calibration",
        "few": f"not judged yet ({b.predicted} of the {settings.drift_min_images} images it needs): not paused",
        "within": "not surely over the limit: not paused",
    }[verdict]


def _what(pause, batch: Callable[[int | str], str]) -> str:
    """A pause's target in words: "leaf scratch", "batch 3 (lot3)"."""
    return batch(pause.target) if pause.scope == "batch" else f"{pause.scope} {pause.target}"


def _pause_lines(report: MonitorReport, bundle: str, names: Mapping[int, str] | None = None,
                 batch: Callable[[int | str], str] = lambda ref: f"batch {ref}") -> list[str]:
    """Each pause in force: what it was made on, since when, and the ways it lifts (``bundle``: the ``--model``
    argument, and ``--db`` where one is needed, as the commands it names take them)."""
    by_leaf = {p.leaf: p for p in report.leaves}
    settings, lines = report.settings, []
    for pause in report.pauses:
        d = pause.detail
        kind = "by hand" if d.get("by_hand") else pause.reason  # (its code, purity_paused, read as the checks')
        head = f"pause {pause.id}: {_what(pause, batch)} since {_utc(pause.started_at)} ({kind})"
        if pause.scope == "leaf" and d.get("by_hand"):
            evidence = f"paused by hand by {d.get('by', '?')}" + (f": {d['why']}" if d.get("why") else "")
            p = by_leaf.get(pause.target)
            if p is not None and p.wrong_images:  # (the checks during it found these wrong: a lead looks at them)
                evidence += f"; judged otherwise: {_images(p.wrong_images, names)}"
            lifts = None  # only by hand: not by itself, and a recalibration carries it over
        elif pause.scope == "leaf":
            p = by_leaf.get(pause.target)
            window = "since the calibration" if p is None or p.since is None else f"since {_utc(p.since)}"
            evidence = (f"paused on {d.get('wrong', '?')} wrong among the blind checks judged {window} "
                        f"({d.get('checks', '?')} checked)")
            if d.get("upper_bound") is not None and d.get("target") is not None:
                evidence += (f", purity at most {float(d['upper_bound']):.3f} at "
                             f"{float(d.get('confidence', settings.confidence)):.0%}, under the "
                             f"{float(d['target']):.3f} it is held to")
            if p is not None and p.wrong_images:
                evidence += f"; judged otherwise: {_images(p.wrong_images, names)}"
            during = p.during if p is not None else (0, 0)
            lifts = (f"it lifts by itself once {settings.resume_checks} or more blind checks made during it are at "
                     f"least {float(d.get('target', report.target or 0.0)):.3f} right (so far {during[0]}, "
                     f"{during[1]} wrong); ")
        else:
            evidence = (f"paused on {d.get('flagged', '?')} of {d.get('predicted', '?')} images flagged as "
                        "unfamiliar")
            if d.get("lower_bound") is not None and d.get("expected") is not None:
                ratio = float(d.get("ratio", settings.drift_ratio))
                evidence += (f", at least {float(d['lower_bound']):.1%}, over the limit "
                             f"{ratio * float(d['expected']):.1%} ({ratio:g}x the calibration's "
                             f"{float(d['expected']):.1%})")
            lifts = "it lifts "
        resume = f"by hand: fma-judge monitor --model {bundle} --resume {pause.id}"
        lines += [f"{head}: {evidence}", f"  it lifts only {resume} (a recalibration carries it over)" if lifts is None
                  else f"  {lifts}{resume}; or with a recalibration: fma-judge recalibrate --model {bundle} (in "
                       "place, the previous manifest kept beside it; --out NEW_FOLDER writes a copy), then load the "
                       "recalibrated bundle in the app"]
    return lines


def format_report(report: MonitorReport, bundle: str = "BUNDLE", db: str | None = None,
                  names: Mapping[int, str] | None = None, batches: Mapping[int, str] | None = None) -> str:
    """The monitor's figures as a plain-text table (the command's output; the dashboard shows the same).
    ``bundle`` and ``db``: the bundle's path and the ``--db`` given, as the commands it names should take them;
    ``names``: image id -> file and batch (:func:`image_names`) for the images the checks found wrong; ``batches``:
    batch id -> name ("batch 3 (lot3)": the dashboard names them, the command said "batch 3")."""
    batches = batches or {}

    def batch(ref: int | str) -> str:
        name = batches.get(int(ref)) if str(ref).isdigit() else None
        return f"batch {ref}" + (f" ({name})" if name else "")
    if db:
        bundle = f"{bundle} --db {shell_quoted(without_password(db))}"
    if report.why_not:
        return f"{report.model_version}: nothing to monitor ({report.why_not})"
    target = report.target or 0.0
    settings = report.settings
    lines = [f"model {report.model_version}, calibration of {report.calibration}, target purity {target:.3f}, "
             f"bounds at {settings.confidence:.0%}",
             f"{'leaf':<24} {'checks':>7} {'wrong':>6} {'purity':>8} {'bounds':>15}  state"]
    for p in (*report.leaves, *(() if report.overall is None else (report.overall,))):
        est = "-" if p.estimate is None else f"{p.estimate:.3f}"
        state = _pause_state(p, settings) if p.paused else ("below target" if p.below else "ok")
        if state == "ok" and p.under_so_far:
            state = "ok (under it so far, too few checks to tell)"  # as the dashboard says
        if p.floor is not None and p.floor < target:
            state += f" (held to its calibration floor {p.floor:.3f})"
        if p.leaf is None:
            counted = sum(leaf.checks for leaf in report.leaves)
            # (a type's row starts again at its pause or resume; "all leaves 14 checks 2 wrong" over rows of 0 wrong
            # read as a wrong total: team lead's walk-through)
            state = "" if counted == p.checks else (f"every check since the calibration; a type's row counts those "
                                                    f"since its last pause or resume ({counted} in all)")
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
        share = "" if not b.predicted else f"{b.flagged / b.predicted:.1%}; "
        lines.append(f"{batch(b.batch_id)}: {b.flagged}/{b.predicted} images flagged as unfamiliar "
                     f"({share}calibration {b.expected:.1%}), drift score {score}; limit {settings.drift_ratio:g}x "
                     f"the calibration's ({b.limit(settings):.1%}), its share at least {b.low:.1%} at "
                     f"{settings.confidence:.0%}: {_drift_verdict(b, settings)}")
    lines += _pause_lines(report, bundle, names, batch)
    for pause in report.started:
        lines.append(f"now paused: {_what(pause, batch)} ({pause.reason})")
    for pause in report.ended:
        lines.append(f"ended: {_what(pause, batch)} ({pause.end_reason})")
    return "\n".join(lines)


def monitor_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fma-judge monitor",
        description="Production purity from blind spot checks, per leaf and overall, batch drift, and the pauses "
                    "of auto-judging (the app runs the same check after every blind judgment).")
    parser.add_argument("--model", required=True, help="the model bundle whose calibration is monitored")
    parser.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    parser.add_argument("--batch", action="append", default=[], metavar="NAME|ID",
                        help="also the drift score of this batch: its name, as the app lists it, or id (repeatable)")
    parser.add_argument("--check", action="store_true",
                        help="act on the figures: pause or resume as the app would (default: only show them)")
    parser.add_argument("--resume", type=int, metavar="PAUSE_ID", help="lift a pause by hand")
    parser.add_argument("--pause", metavar="LEAF",
                        help="pause auto-judging of this defect type by hand (its id or its name, as the app shows "
                             "it: \"Organic particle\"): its images go to people, blind, until --resume (a "
                             "recalibration carries it over)")
    parser.add_argument("--why", default="", help="with --pause: the reason, shown with the pause")
    parser.add_argument("--by", metavar="NAME", help="with --pause: who pauses it (default: the analyst name this computer's app judges under, else its user name)")
    parser.add_argument("--confidence", default=MonitorSettings.confidence,
                        type=number(float, "a probability between 0 and 1", low=0.0, high=1.0, low_open=True,
                                    high_open=True),
                        help=f"of the purity bounds and the drift rule (default {MonitorSettings.confidence:g})")
    args = parser.parse_args(argv)
    if (args.why or args.by) and not args.pause:
        parser.error("--why and --by go with --pause")
    try:
        manifest = read_bundle_manifest(args.model)
        if args.pause is not None:
            args.pause = _leaf_named(manifest.taxonomy, args.pause, manifest.model_version)
        if args.pause is not None and manifest.calibration is None:
            raise ValueError(f"{manifest.model_version} is not calibrated: it auto-judges nothing to pause")
        require_existing(args.db)  # (a look at the figures made an empty database file)
        engine = open_store(args.db, writable=bool(args.check or args.resume or args.pause)).engine
        with session_scope(engine, action="read") as s:  # a batch that is not there is named, never "0/0 images"
            batch_ids = [repo.batch_by_ref(s, ref) for ref in args.batch]
        monitor = PurityMonitor(engine, MonitorSettings(confidence=args.confidence))
        if args.resume is not None:
            pause, *_ = lifted = monitor.resume(args.resume)
            also = ", ".join(str(p.id) for p in lifted if p.id != args.resume)  # (its carried copies named too)
            print(f"resumed auto-judging of {pause.scope} {pause.target}" + ("" if not also else f" (pause {args.resume}"
                  + (" and its carried copy, pause " if pause.id == args.resume else ", carried over a recalibration "
                     "as pause ") + also + ")"))
        if args.pause is not None:
            from app.settings import who_am_i  # (Qt's settings: loaded only for --by's default)
            pause, moved = monitor.pause_leaf(manifest.model_version, manifest.calibration, args.pause,
                                              by=args.by or who_am_i(), why=args.why)
            print(f"paused auto-judging of {args.pause} (pause {pause.id}, by {pause.detail.get('by')}): {moved:,} "
                  "auto-judged image(s) no person decided go to people now, blind; open windows follow within 30 s")
        report = monitor.check(manifest.model_version, manifest.calibration, batch_ids=batch_ids, act=args.check,
                               fused=manifest.fused_calibration)
        names = image_names(engine, {i for p in report.leaves if p.paused for i in p.wrong_images[:10]})
        with session_scope(engine, action="read") as s:
            batches = {i: name for i, name, _at in queries.batch_names(s)}
    except (BundleError, StoreError, ValueError, LookupError, OSError) as exc:
        print(f"fma-judge monitor: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report, shell_quoted(os.path.abspath(args.model)), _db_as_given_anywhere(args.db), names,
                        batches))
    return 0


def _db_as_given_anywhere(db: str | None) -> str | None:
    """``--db`` as the commands the report names take it from any folder: a relative SQLite path or URL made absolute (the
    report printed ``--model models/base``, which a lead's next command from another folder did not find)."""
    if not db or ("://" in db and not db.startswith("sqlite")):
        return db  # (a server's URL names no file)
    return resolve_db_url(db) if "://" in db else os.path.abspath(os.path.expanduser(db))


def _leaf_named(taxonomy, given: str, version: str) -> str:
    """The leaf id ``given`` names: an id, or a name in either language (any case); else a ValueError listing the
    types as ``id (name)`` (the help pointed at `fma-model info`, which lists no tree)."""
    wanted = given.strip().casefold()
    if wanted in {leaf.casefold(): leaf for leaf in taxonomy.leaves}:  # an id is one type
        return next(leaf for leaf in taxonomy.leaves if leaf.casefold() == wanted)
    found = [leaf for leaf in taxonomy.leaves
             if wanted in (taxonomy.name(leaf, "en").casefold(), taxonomy.name(leaf, "zh_TW").casefold())]
    if len(found) == 1:
        return found[0]
    listed = found or taxonomy.leaves  # (two types of one name: the 150-type tree has some; say which to give)
    names = {text.casefold(): leaf for leaf in taxonomy.leaves
             for text in (leaf, taxonomy.name(leaf, "en"), taxonomy.name(leaf, "zh_TW"))}
    near = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.75)  # a typo: "Organic partcle"
    meant = f"did you mean {names[near[0]]} ({taxonomy.name(names[near[0]], 'en')})? " if near and not found else ""
    raise ValueError((f"{given!r} names {len(found)} defect types of {version}; give one of their ids: " if found else
                      f"{given!r} is no defect type of {version}; {meant}its types: ")
                     + ", ".join(f"{leaf} ({taxonomy.name(leaf, 'en')})" for leaf in listed))


def recalibrate_main(argv: list[str]) -> int:
    from models.commands.calibrate import flips_arg, leaf_share

    parser = argparse.ArgumentParser(
        prog="fma-judge recalibrate",
        description="Fit the bundle's routing (temperature, thresholds, unknown detector) again on the images "
                    "analysts judged in the store; the pauses the purity checks made end when the app loads it (a "
                    "lead's pauses go on until --resume).")
    parser.add_argument("--model", required=True, help="the model bundle folder")
    parser.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    parser.add_argument("--out", help="write a recalibrated copy here (default: update --model in place, keeping "
                                      "its previous manifest beside it as manifest.json.before-recalibrate-<UTC time>)")
    parser.add_argument("--since", metavar="DATE",
                        help="judgments made since (default: since the model was made, so none of its training "
                             "images count)")
    parser.add_argument("--train-data", metavar="MANIFEST",
                        help="the training manifest: its train split gives the unknown detector's class centroids "
                             "(default: the training data the bundle records, where it is here; else the judged "
                             "images themselves, with a warning)")
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
    parser.add_argument("--force", action="store_true",
                        help="write the calibration even when it lets no defect type be auto-judged (refused "
                             "otherwise, exit status 1: too few judged images would replace a working calibration "
                             "with one that sends every image to a person)")
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


class Refused(Exception):
    """The recalibration was not written (too few judged images to calibrate any leaf); the message says why."""


def _refusal(n: int, known: int, since: Any, options: Any, calibrated: int | None, leaves: int,
             fit: dict | None = None) -> str:
    """Why nothing was written. ``fit``: the leaf threshold's Learn-then-Test fit (``summary["ltt"]["leaf"]``): when it
    tested no candidate, the images of the types that take part were too few, and the advice says how many more."""
    what = (f"{n} judged image(s) since {since.isoformat(sep=' ', timespec='minutes')}" if since else
            f"{n} judged image(s)")
    found = "are too few to calibrate any defect type" if calibrated is None else \
        f"calibrate no defect type (0 of {leaves} can be auto-judged)"
    from models.calibration.thresholds import images_needed

    need = images_needed(options.target_purity, confidence=options.confidence)
    if calibrated is not None and fit and not fit.get("tested") and fit.get("candidates", 0) < need:
        advice = (f" Of the {known} judged images, {fit.get('candidates', 0)} are of the types the model predicted "
                  f"at least {options.min_support} times among them, the only ones that take part; a threshold needs "
                  f"at least {need} of those, all right: about {need - fit.get('candidates', 0)} more judged images of "
                  "the model's usual types (the queue holds the uncertain ones; a batch judged whole adds them) "
                  "(the type by type table above says which take part).")
    else:
        took = (f"{fit['candidates']} of the {known} judged images, those of the types the model predicted at least "
                f"{options.min_support} times among them, took part and" if fit and fit.get("candidates") is not None
                else f"the {known} judged images")  # (not all of them count: a lead read "412 were enough")
        advice = (f" {took[0].upper()}{took[1:]} were enough to try: no type passed because too few are predicted as "
                  f"one type (at least {options.min_support} each), or because the model's confident calls are wrong "
                  f"too often among them to show purity {options.target_purity:g} (the table above, type by type; then "
                  "more images alone may never do). A lower --target-purity promises less; retraining on the judged "
                  "images (fma-judge export, then fma-model train --init-from BUNDLE) mends the model."
                  if calibrated is not None else "")
    return (f"refused: the {what} ({known} of known types) {found}: {needed_text(options)}. Nothing was written; the "
            "bundle's calibration is unchanged." + advice + " Judge more images (or give an earlier --since), or give "
            "--force to write a calibration that sends every image to a person")


def _link_or_copy(source: str, target: str) -> None:
    """The staging copy's files: hard links where the disk allows (a bundle's weights are not copied), the manifest
    always copied (calibrate replaces it by a new file, never writes into it; a link would be as safe, a copy is
    plainly so)."""
    if Path(source).name != MANIFEST_NAME:
        try:
            os.link(source, target)
            return
        except OSError:
            pass
    shutil.copy2(source, target)


def _staging_copy(bundle: Path, scratch: Path) -> Path:
    """A copy of the bundle folder to calibrate, beside it where it can be (the same disk: hard links), else in
    ``scratch``; without its calibration reports and kept manifests (calibrate reads neither)."""
    def skipped(folder: str, names: list[str]) -> list[str]:
        if Path(folder) != bundle:
            return []
        return [n for n in names if n == "calibration" or n.startswith(f"{MANIFEST_NAME}.before-")]

    try:
        home = Path(tempfile.mkdtemp(prefix=f".{bundle.name}.recalibrating-", dir=bundle.parent))
    except OSError:  # a read-only parent folder: the copy goes to the scratch folder
        home = Path(tempfile.mkdtemp(prefix="staging-", dir=scratch))
    staged = home / bundle.name
    try:
        shutil.copytree(bundle, staged, copy_function=_link_or_copy, ignore=skipped)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    return staged


def _install(staged: Path, live: Path, original: str) -> Path | None:
    """Put the staged manifest over the live bundle's, keeping the live one beside it; returns the kept copy."""
    from models.atomic import write_text
    from models.bundle.files import keep_previous_manifest

    manifest = live / MANIFEST_NAME
    if manifest.read_text(encoding="utf-8") != original:
        raise BundleError(f"{manifest} changed while it was recalibrated (a calibrate or optimize meanwhile?); "
                          "nothing was written: run fma-judge recalibrate again")
    kept = keep_previous_manifest(live, "recalibrate")
    try:
        write_text(manifest, (staged / MANIFEST_NAME).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BundleError(f"cannot write {manifest}: {exc}") from exc
    return kept


def _recalibrate(args: argparse.Namespace) -> int:
    try:
        return _recalibrated(args)
    except Refused as exc:
        print(f"fma-judge recalibrate: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl+C: the staging copy (or --out's half-made copy) is already removed
        done = getattr(args, "installed", None)
        print(f"fma-judge recalibrate: interrupted; {args.model} is as it was" if done is None else
              f"fma-judge recalibrate: interrupted while writing its reports; the new calibration is in place (the "
              f"previous manifest kept as {done})", file=sys.stderr)
        return 130


def _recalibrated(args: argparse.Namespace) -> int:
    from models.bundle.io import load_bundle
    from models.calibration.calibrate import CalibrateOptions, calibrate
    from models.calibration.report import format_table, write_reports
    from models.data.manifest import load_data

    manifest = read_bundle_manifest(args.model)
    load_bundle(args.model)  # weights that cannot be read: said now, of this bundle, not of its staging copy
    since = parse_since(args.since) if args.since else None
    if since is None and manifest.created:
        since = dt.datetime.fromisoformat(manifest.created)
        since = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
    live = Path(args.model)
    target = Path(args.out) if args.out else live
    if args.out and target.exists():  # (both said only after the judged images were exported and read)
        raise ValueError(f"{target} exists; choose a new folder for the recalibrated bundle")
    if not args.out and not live.is_dir():
        raise BundleError(f"{live}: archives are read-only; extract the bundle to a folder, or give --out")
    require_existing(args.db)  # (a mistyped --db made an empty database and said "no judged images" of it)
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
    from models.calibration.thresholds import images_needed

    with tempfile.TemporaryDirectory(prefix="fma-recalibrate-") as tmp:
        labels = Path(tmp) / "judged.csv"
        exported = export_labels(engine, labels, "csv", since=since, taxonomy=manifest.taxonomy)
        store = describe_url(engine.url)  # (a forgotten --db: the per-user database was read)
        if exported.skipped:  # judged under another tree (or another model's leaves): said, not dropped silently
            reasons = Counter(reason for _path, reason in exported.skipped)
            print(f"fma-judge recalibrate: {len(exported.skipped):,} judged image(s) in {store} left out: "
                  + "; ".join(f"{n:,} × {reason}" for reason, n in reasons.most_common(3))
                  + (f" (and {len(reasons) - 3:,} more reasons)" if len(reasons) > 3 else ""), file=sys.stderr)
        if exported.count == 0:
            raise ValueError(f"no judged images in the store {store} since {since:%Y-%m-%d %H:%M}"
                             + ("" if args.since else " (when the bundle was made; --since gives another start)")
                             if since else f"no judged images in the store {store}")
        loaded = load_data([str(labels)], manifest.taxonomy)
        if loaded.skipped:
            print(loaded.report(), file=sys.stderr)
        samples = list(loaded.samples)
        known = sum(not s.is_unknown for s in samples)
        leaves = len(manifest.taxonomy.leaves)
        needed = images_needed(options.target_purity, bound=options.bound, confidence=options.confidence)
        if known < needed and not args.force:  # no threshold can pass: said before the model runs
            raise Refused(_refusal(len(samples), known, since, options, None, leaves))
        train = samples
        if args.train_data:
            train_loaded = load_data([args.train_data], manifest.taxonomy)
            train = [s for s in train_loaded.samples if s.split in (None, "train")]
        else:  # the data the bundle was trained on, when it is still where the bundle says (judged images else)
            from models.training.held_out import recorded_training_rows

            recorded, said = recorded_training_rows(manifest.train, manifest.taxonomy, args.model)
            if recorded:
                train, options = recorded, dataclasses.replace(options, centroid_split="train")
            print(f"class centroids of the unknown score: {said}" if recorded else
                  f"class centroids of the unknown score: the judged images ({said}; --train-data MANIFEST gives "
                  "them: fitted on the judged images, the threshold flags more new images than it says)",
                  file=sys.stderr)
        # Calibrated on a copy: the live bundle (or --out) gets the result only once it calibrates some leaf.
        original = (live / MANIFEST_NAME).read_text(encoding="utf-8") if not args.out else ""
        try:
            staged = shutil.copytree(args.model, target) if args.out else _staging_copy(live, Path(tmp))
        except BaseException:  # (Ctrl+C included) no half-made --out copy stays
            if args.out:
                shutil.rmtree(target, ignore_errors=True)
            raise
        print(f"{len(samples)} judged image(s) since {since or 'the beginning'}; calibrating {target}",
              file=sys.stderr)

        def log(message: str) -> None:  # calibrate's lines on its own kept copy are the staging copy's (said below)
            if ".before-calibrate-" not in message and not message.startswith(("leaves that can be auto-judged",
                                                                                 "wrote calibration into")):
                # ("wrote calibration into" the staging copy read as the live bundle's, before a refusal that
                # said nothing was written; the end says what was)
                print(message.replace(str(staged), str(target)), file=sys.stderr)

        kept = None
        try:
            result = calibrate(staged, samples, train, options, log=log)
            calibrated = sum(t is not None for t in result.calibration.thresholds.values())
            if not calibrated and not args.force:
                print(format_table(result))
                raise Refused(_refusal(len(samples), known, since, options, calibrated, leaves,
                                       result.summary.get("ltt", {}).get("leaf")))
            if not args.out:
                kept = _install(Path(staged), live, original)
                args.installed = kept  # a Ctrl+C from here on finds the new calibration in place
        except BaseException:
            if args.out:
                shutil.rmtree(target, ignore_errors=True)  # the copy this command made: no half-made bundle stays
            raise
        finally:
            if not args.out:
                shutil.rmtree(Path(staged).parent, ignore_errors=True)
    print(format_table(result))
    paths = write_reports(target / "calibration", result, title=f"{manifest.model_version} on judged images")
    before = None if now is None else sum(t is not None for t in now.thresholds.values())
    line = (f"defect types that can be auto-judged: {calibrated} of {len(result.calibration.thresholds)}"
            + ("" if before is None else f" (before: {before})"))
    print(f"warning: {line}" if before is not None and calibrated < before else line)
    if kept is not None:
        print(f"kept the previous manifest (its calibration) as {kept}: copy it over {target / MANIFEST_NAME} to undo")
    print(f"wrote {target / MANIFEST_NAME} and {paths['calibration.json']}; load {target} in the app (the pauses "
          "the checks made end when it is loaded; a lead's go on)")
    model = shell_quoted(os.path.abspath(target))
    try:  # a lead's pauses go on under the new calibration (one ended unsaid when an analyst loaded it: walk-through)
        for p in PurityMonitor(engine).carry_over(manifest.model_version, result.calibration):
            print(f"a lead's pause goes on under the new calibration: pause {p.id}, {p.target}, by "
                  f"{p.detail.get('by') or '?'}" + (f" ({p.detail['why']})" if p.detail.get("why") else "")
                  + f"; fma-judge monitor --model {model} --resume {p.id} lifts it")
    except StoreError as exc:  # (the bundle is written: said, the command does not fail: review)
        print(f"a lead's pauses were not carried over now ({str(exc).splitlines()[0]}); a window's check does it")
    if args.out:  # a new folder: a team that deployed the old one goes on with it until it is deployed
        db = _db_as_given_anywhere(args.db)
        print(f"for a team: fma-judge deploy --model {model}"
              + (f" --db {shell_quoted(without_password(db))}" if db else "") + " makes it every window's model")
    return 0

