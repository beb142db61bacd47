"""``python -m bench.posthoc_taus [--work data/regimes224] [--regime tail] [--row NAME] [--seeds 0,1,2]``.

Would another ``tau`` of the post-hoc adjustment (:mod:`models.training.posthoc`) reach every leaf? For each
seed's bundle of a ``bench.regimes`` row trained with ``imbalance: posthoc``, the leaf logits of the regime's test
split (and of its balanced set, ``REGIME_balanced30``, where ``--balanced-test 30`` made one) are collected once,
the ``tau`` the training chose is taken back out of them, and every ``tau`` of :data:`~models.training.posthoc.TAUS`
is measured: Top-1, macro recall, the leaves at recall 0 and the worst leaf's recall. The chosen ``tau`` is marked
``*``. A reading of the test images, not a way to choose ``tau`` (that is the validation images' job).

Prints one line per seed, set and ``tau``; no files written.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from bench.regimes import run_folder
from models.inference.collect import collect_outputs
from models.inference.predictor import Predictor
from models.training.posthoc import TAUS, leaf_probs, log_prior, measure


def _rows(manifest: Path) -> list[dict[str, str]]:
    with manifest.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.posthoc_taus", description=__doc__.split("\n\n")[1])
    ap.add_argument("--work", type=Path, default=Path("data/regimes224"), help="bench.regimes' --work folder")
    ap.add_argument("--regime", default="tail")
    ap.add_argument("--row", default="leaf-weighted no dependence (hier)", help="a bench.regimes row name")
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args(argv)
    data = args.work / args.regime
    rows = _rows(data / "manifest.csv")
    sets = [("test", data, [r for r in rows if r["split"] == "test"])]
    balanced = args.work / f"{args.regime}_balanced30"
    if (balanced / "manifest.csv").is_file():
        sets.append(("balanced30", balanced, _rows(balanced / "manifest.csv")))
    train_counts: dict[str, int] = {}
    for r in rows:
        if r["split"] == "train":
            train_counts[r["label"]] = train_counts.get(r["label"], 0) + 1
    for seed in (int(s) for s in args.seeds.split(",")):
        bundle = run_folder(args.work, args.regime, args.row, seed) / "bundle"
        manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
        chosen = float(manifest["train"]["data_choices"]["imbalance_posthoc"]["value"])
        predictor = Predictor(bundle, device="cpu")
        taxonomy = predictor.taxonomy
        counts = [train_counts.get(leaf, 0) for leaf in taxonomy.leaves]
        shift = log_prior(counts)
        position = {leaf: i for i, leaf in enumerate(taxonomy.leaves)}
        for name, root, images in sets:
            out = collect_outputs(predictor, [root / r["path"] for r in images])
            targets = np.array([position[images[i]["label"]] for i in out.index])
            raw = np.asarray(out.level_logits[-1], dtype=np.float64) + chosen * shift  # the chosen tau taken out
            support = np.bincount(targets, minlength=len(counts))
            for tau in TAUS:
                pred = leaf_probs([*out.level_logits[:-1], raw - tau * shift], taxonomy.leaf_level_index,
                                  predictor.is_flat).argmax(axis=1)
                hits = np.bincount(targets[pred == targets], minlength=len(counts))
                seen = support > 0
                m = measure(pred, targets, len(counts))
                print(f"seed {seed} {name:10s} tau {tau:<4g}{'*' if tau == chosen else ' '} top1 {m['top1']:.3f} "
                      f"macro recall {m['macro_recall']:.3f} leaves at recall 0: {int((seen & (hits == 0)).sum())} "
                      f"worst leaf {float((hits[seen] / support[seen]).min()):.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
