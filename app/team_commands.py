"""``fma-judge deploy``: the team's model, kept in the database every window of the team opens. No Qt.

    fma-judge deploy --model BUNDLE [--db PATH|URL] [--by NAME]   # this bundle for everyone
    fma-judge deploy --clear [--db PATH|URL]                      # each window its own model again
    fma-judge deploy [--db PATH|URL]                              # which one is deployed

A window started without ``--model`` loads the team's model (its analyst's remembered one otherwise), and a window
already open says in a banner that the team's model changed, with a link that loads it (its 30-second poll). The
bundle's path is stored as given, made absolute: on a team, a shared folder every workstation reaches under the same
name (``\\\\server\\models\\v2``, ``/mnt/models/v2``). A team on one database had no way to switch every window to a new
model: two analysts on one batch routed it by two models (team lead walk-through).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.store import repo
from app.store.db import open_store, session_scope
from app.store.errors import StoreError
from app.store.records import TeamModelRecord
from app.store.urls import DB_HELP, describe_url, require_existing
from models.bundle.files import damaged_files, read_bundle_manifest
from models.bundle.manifest import BundleError, BundleManifest
from models.inference.runtime import runtime_reason


def bundle_warnings(manifest: BundleManifest, bundle: Path) -> list[str]:
    """What a lead should know before a bundle becomes the whole team's (deployed all the same: a lead may mean it):
    it routes nothing to auto-judging, or workstations installed without torch cannot run it. A deployment of an
    uncalibrated 11-image bundle turned every auto-judged image of the open batches into re-judge without a word
    (team lead walk-through)."""
    out = []
    cal = manifest.calibration
    if cal is None or not cal.thresholds:
        out.append("it is not calibrated: it auto-judges nothing, every image goes to a person (fma-model calibrate "
                   "BUNDLE --data MANIFEST, or fma-judge recalibrate)")
    elif not any(v is not None for v in cal.thresholds.values()):
        out.append(f"its calibration auto-judges no type (0 of {len(cal.thresholds)} reach the target purity "
                   f"{cal.target_purity}): every image goes to a person")
    if (why := runtime_reason(manifest, bundle)) is not None:
        out.append(f"workstations installed without torch cannot run it: {why}")
    return out


def team_model_line(team: TeamModelRecord | None) -> str:
    """One line on the team's model, for the command's output."""
    if team is None:
        return "no team model: each window loads its own (--model, or the one its analyst last chose)"
    return (f"the team's model: {team.bundle_path} ({team.model_version or 'version unknown'}), deployed by "
            f"{team.set_by} on {team.set_at.astimezone():%Y-%m-%d %H:%M}")


def deploy_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fma-judge deploy",
        description="Make a model bundle the team's: every window started without --model loads it, and the windows "
                    "already open offer to load it. Without --model or --clear, says which one is deployed.")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--model", metavar="BUNDLE", help="the bundle folder (a path every workstation reaches)")
    what.add_argument("--clear", action="store_true", help="no team model: each window loads its own again")
    parser.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    parser.add_argument("--by", metavar="NAME", help="who deploys it (default: the analyst name this computer's app judges under, else its user name)")
    args = parser.parse_args(argv)
    bundle, version = None, None
    if args.model:
        bundle = Path(args.model).expanduser().absolute()
        try:
            manifest = read_bundle_manifest(bundle)  # (a folder that is no bundle is refused here)
            version = manifest.model_version
        except (BundleError, OSError) as exc:
            print(f"fma-judge deploy: error: {exc}", file=sys.stderr)
            return 2
        if damaged := damaged_files(bundle, manifest):  # (a truncated weights file went to the whole team, and
            print(f"fma-judge deploy: error: {bundle}: {'; '.join(damaged)}; nothing deployed (copy the bundle "
                  "again from where it was made)", file=sys.stderr)  # every window failed to load it)
            return 2
    try:
        require_existing(args.db)
        engine = open_store(args.db, writable=bool(args.model or args.clear)).engine
        if (args.model or args.clear) and not args.by:
            from app.settings import who_am_i  # (Qt's settings: loaded only for --by's default)

            args.by = who_am_i()
        try:
            with session_scope(engine) as s:
                team = repo.set_team_model(s, bundle_path=bundle, model_version=version, analyst=args.by) \
                    if (args.model or args.clear) else repo.team_model(s)
        finally:
            engine.dispose()
    except (StoreError, ValueError, OSError) as exc:
        print(f"fma-judge deploy: error: {exc}", file=sys.stderr)
        return 2
    print(f"{describe_url(engine.url)}: {team_model_line(team)}")
    if args.model:
        print("windows started without --model load it; the windows open now offer to (a banner, within 30 s)")
        for warning in bundle_warnings(manifest, bundle):
            print(f"fma-judge deploy: warning: {warning}", file=sys.stderr)
    elif team is not None and not args.clear and not team.reachable():
        print(f"fma-judge deploy: warning: {team.bundle_path} is not reachable from this computer; the windows that "
              "do not reach it keep their own model", file=sys.stderr)
    elif team is not None and not args.clear and team.model_version and (now := _version_now(team)) != team.model_version:
        print(f"fma-judge deploy: warning: {team.bundle_path} now holds "
              f"{now or 'no model it can read (a training into it under way, or a damaged manifest)'}, not the "
              f"{team.model_version} deployed: it was trained again into the same folder since; the windows load "
              "what it holds now, without the checks a deployment makes (deploy it again: fma-judge deploy --model "
              "FOLDER)", file=sys.stderr)
    return 0


def _version_now(team: TeamModelRecord) -> str | None:
    """The model version the deployed folder holds now (None: no manifest it can read)."""
    try:
        return read_bundle_manifest(team.bundle_path).model_version
    except (BundleError, OSError):
        return None

