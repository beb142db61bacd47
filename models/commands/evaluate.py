"""``fma-model evaluate BUNDLE --data MANIFEST``: metrics.json, plots and report.md (see :mod:`models.evaluation.evaluate`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from models.bundle.io import load_bundle
from models.commands.arguments import positive_int, refuse_data_folder, refuse_file_out, refuse_unwritable_out
from models.data.manifest import load_data
from models.data.splits import select_split
from models.evaluation.evaluate import (
    evaluate_bundle,
    never_predicted_warning,
    outlier_overlap_warning,
    select_unknown,
)
from models.evaluation.longtail import head_tail_metrics
from models.sysinfo import DEVICE_HELP, device_arg
from models.training.held_out import recover_split, seen_split_warning


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="model bundle folder or .zip")
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST", help="manifest CSV or image folder")
    p.add_argument("--split", default="test", help="split to evaluate: train, val, test or all (default test)")
    p.add_argument("--out", required=True, help="output folder for metrics.json, plots and report.md")
    p.add_argument("--unknown", choices=("split", "all", "none"), default="split",
                   help="unknown:* images: those of the split (default), all of the data's, or none")
    p.add_argument("--batch-size", type=positive_int, default=32, help="images per forward pass (default 32)")
    p.add_argument("--device", default="cpu", type=device_arg, help=DEVICE_HELP)
    p.add_argument("--pointing-game", type=int, nargs="?", const=-1, default=None, metavar="N",
                   help="also play the pointing game (heatmap peak inside the defect box) on up to N correctly "
                        "classified images with a known box (all when N is omitted)")


def run(args: argparse.Namespace) -> int:
    from models.evaluation.report import to_json_ready, write_evaluation

    refuse_file_out(args.out, "metrics.json, the plots and report.md", "metrics.json")
    refuse_data_folder(args.out, "an evaluation")
    refuse_unwritable_out(args.out)
    bundle = load_bundle(args.bundle, device=args.device)
    loaded = load_data(args.data, bundle.taxonomy)
    if loaded.skipped:
        print(loaded.report(), file=sys.stderr)
    everything, line = recover_split(bundle.manifest.train, loaded.samples, args.data, args.bundle)
    if line:  # no split column: the training's own split made again, or a warning that training images are in
        print(line, file=sys.stderr)
    samples = select_unknown(everything, select_split(everything, args.split), args.unknown)
    if warning := seen_split_warning(bundle.manifest.train, samples, args.data, args.bundle, args.split):
        print(warning, file=sys.stderr)
    if warning := outlier_overlap_warning(bundle.manifest.n_outliers, samples):
        print(warning, file=sys.stderr)
    metrics, raw = evaluate_bundle(bundle, samples, batch_size=args.batch_size, device=args.device)
    train_counts = Counter(s.label for s in everything if s.split == "train" and not s.is_unknown)
    if train_counts:  # the data's training rows: Top-1 on the head and the tail of the tree
        metrics.update(head_tail_metrics(raw["leaf_probs"], raw["targets"], bundle.taxonomy, train_counts))
    if args.pointing_game is not None:
        from models.evaluation.pointing import pointing_game
        from models.inference.predictor import Predictor

        ok = [s for s in samples if str(s.path) not in raw["errors"]]
        predicted = [bundle.taxonomy.leaves[int(np.argmax(p))] for p in raw["leaf_probs"]]
        pg = pointing_game(Predictor(bundle, device=args.device), ok, predicted,
                           limit=None if args.pointing_game < 0 else args.pointing_game)
        metrics["pointing_game"] = pg.accuracy
        metrics["pointing_game_n"] = pg.total
    known = ~raw["unknown"]
    title = f"{bundle.model_version} on {', '.join(args.data)} (split {args.split})"
    left_out = ""
    unreadable = Path(args.out) / "unreadable.json"
    unreadable.unlink(missing_ok=True)  # an earlier run's, in the same folder: not this run's
    if raw["errors"]:  # left out of every figure: said where it is read, not only in a file beside them
        unreadable.parent.mkdir(parents=True, exist_ok=True)
        unreadable.write_text(json.dumps(raw["errors"], indent=2), encoding="utf-8")
        first = "; ".join(f"{Path(p).name}: {why}" for p, why in list(raw["errors"].items())[:3])
        left_out = (f"{len(raw['errors'])} image(s) could not be read and are left out of the metrics ({first}"
                    f"{' …' if len(raw['errors']) > 3 else ''}); all in {unreadable.name}")
        print(f"warning: {left_out}", file=sys.stderr)
    metrics["model_version"] = bundle.model_version  # (the next evaluation into this folder says whose it replaces)
    before = _evaluated_there(Path(args.out))
    paths = write_evaluation(Path(args.out), metrics, leaf_probs=raw["leaf_probs"][known],
                             targets=raw["targets"][known], taxonomy=bundle.taxonomy, title=title,
                             extra_md=f"**Left out:** {left_out}.\n" if left_out else "")
    headline = {k: metrics[k] for k in ("n", "top1", "top1_ci", "top5", "macro_recall", "worst_leaf_recall",
                                        "worst_leaf", "hier_f1", "mistake_severity", "ece", "aurc",
                                        "pointing_game", "pointing_game_n", "unknown_auroc", "auto_coverage",
                                        "auto_purity", "unknown_auto_rate", "head_top1", "tail_top1",
                                        "tail_macro_recall", "tail_never_predicted") if k in metrics}
    print(json.dumps(to_json_ready(headline), indent=None))
    if not known.any():  # ("top1": null, "n": 2 read as two images scored: a lead's 11-image export had no test row)
        print(f"warning: no image of a known type was scored (split {args.split}: {int((~known).sum())} of "
              f"{len(known)} are outside the tree), so Top-1 and the other accuracy figures are empty; evaluate "
              "on a split that has images of the tree's types (--split all, or more images per type)",
              file=sys.stderr)
    if warning := never_predicted_warning(metrics):
        print(warning, file=sys.stderr)
    print(f"wrote {paths.get('report', Path(args.out) / 'report.md')}")
    if before and before != bundle.model_version:  # (one model's report replaced another's without a word)
        print(f"note: {args.out} held the evaluation of {before}: it is replaced by {bundle.model_version}'s "
              "(give each model its own --out to keep both)", file=sys.stderr)
    return 0


def _evaluated_there(out: Path) -> str | None:
    """The model version an earlier evaluation in ``out`` was of (None: none there, or one that did not say)."""
    try:
        version = json.loads((out / "metrics.json").read_text(encoding="utf-8")).get("model_version")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) and version else None
