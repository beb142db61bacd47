"""``fma-model evaluate``: metrics.json, confusion matrix, reliability and risk–coverage plots, report.md."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from models.bundle import LoadedBundle, load_bundle
from models.data.manifest import DataError, Sample, load_data


def select_split(samples: list[Sample], split: str) -> list[Sample]:
    """Samples of one split; ``all`` (or a manifest without a split column) keeps everything."""
    if split == "all" or all(s.split is None for s in samples):
        return samples
    chosen = [s for s in samples if s.split == split]
    if not chosen:
        found = sorted({s.split or "-" for s in samples})
        raise DataError(f"no samples in split {split!r}; the data has splits: {', '.join(found)}")
    return chosen


def evaluate_bundle(bundle: LoadedBundle, samples: list[Sample], *, batch_size: int = 32,
                    device: str = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the bundle on samples and compute the metrics.

    With ``unknown:*`` samples the metrics get ``unknown_auroc`` (of the calibrated unknown score, or of
    ``1 - max leaf probability`` for an uncalibrated bundle; ``unknown_method`` says which). A calibrated
    bundle routes every image exactly as the Predictor does (thresholds, unknown filter, spot checks)
    and adds ``auto_coverage``, ``auto_purity``, ``unknown_auto_rate`` and ``route_reasons`` (counts).

    Returns:
        (metrics, raw) where raw holds leaf_probs, targets, unknown mask, read errors, and
        auto/reasons/unknown_scores (None when not computed).
    """
    from models.calibrate import collect_outputs, route_outputs
    from models.metrics import compute_metrics
    from models.predictor import Predictor
    from models.routing import REASONS

    tax = bundle.taxonomy
    predictor = Predictor(bundle, device=device, batch_size=batch_size)
    cal = predictor.calibration
    out = collect_outputs(predictor, [s.path for s in samples], keys=cal is not None and cal.spot_check > 0)
    kept = [samples[i] for i in out.index]
    unknown = np.array([s.label.startswith("unknown:") for s in kept], dtype=bool)
    leaf_pos = {leaf: i for i, leaf in enumerate(tax.leaves)}
    targets = np.array([leaf_pos.get(s.label, -1) for s in kept], dtype=np.int64)
    leaf_probs = out.leaf_probs
    kwargs: dict[str, Any] = {}
    auto = reasons = scores = None
    method = None
    if cal is not None:
        auto, reasons, scores = route_outputs(cal, tax, out)
        kwargs["auto_mask"] = auto
        method = cal.unknown.method if cal.unknown is not None else None
    if unknown.any():
        kwargs["unknown_mask"] = unknown
        if scores is None:
            scores, method = 1.0 - leaf_probs.max(axis=1).astype(np.float64), "max_softmax"
        kwargs["unknown_scores"] = scores
    metrics = compute_metrics(leaf_probs, targets, tax, **kwargs)
    if method is not None and unknown.any():
        metrics["unknown_method"] = method
    if reasons is not None:
        metrics["route_reasons"] = {r: sum(r in why for why in reasons) for r in REASONS}
    metrics["unreadable"] = len(out.errors)
    raw = {"leaf_probs": leaf_probs, "targets": targets, "unknown": unknown,
           "errors": {str(samples[i].path): e for i, e in out.errors.items()},
           "auto": auto, "reasons": reasons, "unknown_scores": scores}
    return metrics, raw


def select_unknown(samples: list[Sample], chosen: list[Sample], mode: str) -> list[Sample]:
    """Apply ``--unknown``: ``split`` keeps the split's unknown:* samples, ``all`` adds every unknown:*
    sample of the data whatever its split, ``none`` drops them."""
    if mode == "none":
        return [s for s in chosen if not s.is_unknown]
    if mode == "all":
        return [s for s in chosen if not s.is_unknown] + [s for s in samples if s.is_unknown]
    return chosen


def outlier_overlap_warning(manifest: dict, samples: list[Sample]) -> str | None:
    """A warning when train-split unknown:* images are scored by a bundle trained with outlier exposure."""
    n_outliers = int(((manifest.get("train") or {}).get("n_outliers")) or 0)
    overlap = sum(1 for s in samples if s.is_unknown and s.split == "train")
    if n_outliers and overlap:
        return (f"warning: {overlap} unknown:* image(s) of the train split are scored, and this bundle was trained "
                f"with {n_outliers} outlier-exposure images of a train split; if they are the same images, the "
                "unknown metrics are optimistic (use --unknown split or a separate test set)")
    return None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="model bundle folder or .zip")
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST", help="manifest CSV or image folder")
    p.add_argument("--split", default="test", help="split to evaluate: train, val, test or all (default test)")
    p.add_argument("--out", required=True, help="output folder for metrics.json, plots and report.md")
    p.add_argument("--unknown", choices=("split", "all", "none"), default="split",
                   help="unknown:* images: those of the split (default), all of the data's, or none")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--pointing-game", type=int, nargs="?", const=-1, default=None, metavar="N",
                   help="also play the pointing game (heatmap peak inside the defect box) on up to N correctly "
                        "classified images with a known box (all when N is omitted)")


def run(args: argparse.Namespace) -> int:
    from models.report import to_json_ready, write_evaluation

    bundle = load_bundle(args.bundle, device=args.device)
    loaded = load_data(args.data, bundle.taxonomy)
    if loaded.skipped:
        print(loaded.report(), file=sys.stderr)
    samples = select_unknown(loaded.samples, select_split(loaded.samples, args.split), args.unknown)
    if warning := outlier_overlap_warning(bundle.manifest, samples):
        print(warning, file=sys.stderr)
    metrics, raw = evaluate_bundle(bundle, samples, batch_size=args.batch_size, device=args.device)
    if args.pointing_game is not None:
        from models.pointing import pointing_game
        from models.predictor import Predictor

        ok = [s for s in samples if str(s.path) not in raw["errors"]]
        predicted = [bundle.taxonomy.leaves[int(np.argmax(p))] for p in raw["leaf_probs"]]
        pg = pointing_game(Predictor(bundle, device=args.device), ok, predicted,
                           limit=None if args.pointing_game < 0 else args.pointing_game)
        metrics["pointing_game"] = pg.accuracy
        metrics["pointing_game_n"] = pg.total
    known = ~raw["unknown"]
    title = f"{bundle.model_version} on {', '.join(args.data)} (split {args.split})"
    paths = write_evaluation(Path(args.out), metrics, leaf_probs=raw["leaf_probs"][known],
                             targets=raw["targets"][known], taxonomy=bundle.taxonomy, title=title)
    if raw["errors"]:
        (Path(args.out) / "unreadable.json").write_text(json.dumps(raw["errors"], indent=2), encoding="utf-8")
    headline = {k: metrics[k] for k in ("n", "top1", "top5", "hier_f1", "mistake_severity", "ece", "aurc",
                                        "pointing_game", "pointing_game_n", "unknown_auroc", "auto_coverage",
                                        "auto_purity", "unknown_auto_rate") if k in metrics}
    print(json.dumps(to_json_ready(headline), indent=None))
    print(f"wrote {paths.get('report', Path(args.out) / 'report.md')}")
    return 0
