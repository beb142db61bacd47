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

    Returns:
        (metrics, raw) where raw holds leaf_probs, targets, unknown mask and read errors.
    """
    from models.metrics import compute_metrics
    from models.train import predict_samples

    tax = bundle.taxonomy
    res = predict_samples(bundle, samples, batch_size=batch_size, device=device)
    ok = np.array([i not in res["errors"] for i in range(len(samples))], dtype=bool)
    unknown = np.array([s.label.startswith("unknown:") for s in samples], dtype=bool)
    leaf_pos = {leaf: i for i, leaf in enumerate(tax.leaves)}
    targets = np.array([leaf_pos.get(s.label, -1) for s in samples], dtype=np.int64)
    keep = ok
    leaf_probs = res["leaf_probs"][keep]
    kwargs: dict[str, Any] = {}
    if unknown[keep].any():
        kwargs["unknown_mask"] = unknown[keep]
    metrics = compute_metrics(leaf_probs, targets[keep], tax, **kwargs)
    metrics["unreadable"] = len(res["errors"])
    raw = {"leaf_probs": leaf_probs, "targets": targets[keep], "unknown": unknown[keep],
           "errors": {str(samples[i].path): e for i, e in res["errors"].items()}}
    return metrics, raw


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="model bundle folder or .zip")
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST", help="manifest CSV or image folder")
    p.add_argument("--split", default="test", help="split to evaluate: train, val, test or all (default test)")
    p.add_argument("--out", required=True, help="output folder for metrics.json, plots and report.md")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--pointing-game", type=int, nargs="?", const=-1, default=None, metavar="N",
                   help="also play the pointing game (heatmap peak inside the defect box) on up to N correctly "
                        "classified images with a known box (all when N is omitted)")


def run(args: argparse.Namespace) -> int:
    from models.report import write_evaluation

    bundle = load_bundle(args.bundle, device=args.device)
    loaded = load_data(args.data, bundle.taxonomy)
    if loaded.skipped:
        print(loaded.report(), file=sys.stderr)
    samples = select_split(loaded.samples, args.split)
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
                                        "pointing_game", "pointing_game_n") if k in metrics}
    print(json.dumps(headline, indent=None))
    print(f"wrote {paths.get('report', Path(args.out) / 'report.md')}")
    return 0
