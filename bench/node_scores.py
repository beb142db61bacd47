"""``python -m bench.node_scores [--bundle B] [--calib DIR] [--work DIR] [--out DIR]``: issue #17's subgroup
confidence, and the goal measured on three never-used test sets.

Issue #17 asks for group and subgroup determined on >= 0.90 of the known images at purity 0.99. The product takes a
group's or subgroup's confidence as the marginal of the combined leaf distribution (the sum of its leaves' scores,
:func:`models.routing.policy.path_confidences`). This benchmark asks whether another confidence of the same forward
pass determines more, side by side on the same images and under the product's own rule
(:func:`models.calibration.ltt.node_thresholds`: one Learn-then-Test threshold per level, fitted on the calibration
images that climb to it, the flagged ones with them, an image outside the tree counted as wrong; the bundle's leaf
thresholds and unknown flags unchanged):

* ``marginal``: the product's;
* ``head``: the level head's own softmax probability of the path's node (the combination with the other levels
  left out);
* ``head_product``: the group head's probability times the subgroup head's (the path's heads down to the level).

Each is fitted on the calibration set (``--calib``, the bundle's own: ``data/calib13_spec`` for the demo model, its
``val`` split) and judged on three test sets rendered into ``--work`` when missing: seed 11 (720 known, 81 of the
calibration set's unknown kinds), seed 2 (720 known, 81 of kinds nothing has seen) and seed 23 (five times seed 11:
3,600 known, 405 unknown). Per set and confidence: the share of known images with group and subgroup determined, the
images whose deepest node is the subgroup and their purity (unknown images counted wrong). The outputs are kept in
``outputs_levels.npz`` beside each set's manifest for this bundle and calibration. Writes
``OUT/node_scores.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, log, write_result
from bench.coverage_methods import NEVER_SEEN, TEST, render_set

LARGE = ["--per-class", "200", "--seed", "23", "--unknown-classes", "3", "--unknown-per-class", "135", "--difficulty",
         "0.3", "--split", "0,0,1"]
"""The seed-23 test set: the seed-11 set's look and share of unknown images, five times as many."""

SETS = {"seed 11": ("test11", TEST), "seed 2": ("test", NEVER_SEEN), "seed 23": ("test23", LARGE)}
KINDS = ("marginal", "head", "head_product")


def outputs(predictor: Any, folder: Path, split: str | None) -> dict[str, np.ndarray]:
    """Per level the head's distribution, the combined leaf distribution, the true leaves (-1: outside the tree) and
    the unknown flags of a set's images (of ``split``, or all), cached beside its manifest."""
    from models.data.manifest import read_manifest

    taxonomy = predictor.taxonomy
    cache = folder / "outputs_levels.npz"
    made_by = f"{predictor.model_version} {predictor.calibration.created} {split}"
    if cache.is_file():
        with np.load(cache) as saved:
            if str(saved["made_by"]) == made_by:
                return {k: saved[k] for k in saved.files if k != "made_by"}
    samples = read_manifest(folder / "manifest.csv", taxonomy, verify_images=False).samples
    samples = [s for s in samples if split is None or s.split == split]
    index = {leaf: i for i, leaf in enumerate(taxonomy.leaves)}
    levels: list[list[Any]] = [[] for _ in taxonomy.level_sizes]
    leaf, targets, flagged = [], [], []
    for s, p in zip(samples, predictor.iter_predict([str(s.path) for s in samples]), strict=True):
        for k, probs in enumerate(p.level_probs):
            levels[k].append(probs)
        leaf.append(p.leaf_probs)
        targets.append(index.get(s.label, -1))
        flagged.append("possible_unknown" in p.reasons)
    out = {**{f"level{k}": np.asarray(v, dtype=np.float32) for k, v in enumerate(levels)},
           "leaf": np.asarray(leaf, dtype=np.float32), "targets": np.asarray(targets),
           "flagged": np.asarray(flagged, dtype=bool)}
    np.savez(cache, made_by=np.asarray(made_by), **out)
    return out


def confidences(taxonomy: Any, data: dict[str, np.ndarray], kind: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """The arg-max leaf of each image and, per level, the ``kind`` confidence of its ancestor there (module doc)."""
    from models.routing.policy import path_confidences

    best, marginal = path_confidences(taxonomy, data["leaf"])
    if kind == "marginal":
        return best, marginal
    rows = np.arange(len(best))
    heads = [data[f"level{k}"][rows, taxonomy.leaf_level_index[best, k]].astype(np.float64)
             for k in range(len(taxonomy.level_sizes))]
    return best, heads if kind == "head" else list(np.cumprod(heads, axis=0))


def fit(taxonomy: Any, data: dict[str, np.ndarray], kind: str, cal: Any) -> dict[int, float]:
    """Per inner level, the product's threshold on the ``kind`` confidence: the bundle's own rule
    (:func:`models.calibration.ltt.node_thresholds`, with its confidence, starts and flagged-climb rule) given
    that confidence instead of the marginal."""
    from models.calibration.ltt import node_thresholds

    _nodes, fits = node_thresholds(data["leaf"], data["targets"], data["flagged"], taxonomy, cal.thresholds,
                                   target=cal.target_purity, confidence=cal.confidence or 0.95,
                                   starts=cal.ltt_starts or 1, flagged_climb=bool(cal.flagged_climb),
                                   level_scores=confidences(taxonomy, data, kind)[1])
    return {k: np.inf if f.threshold is None else float(f.threshold) for k, f in fits.items()}


def judged(taxonomy: Any, data: dict[str, np.ndarray], kind: str, leaf_cut: np.ndarray,
           cuts: dict[int, float], flagged_climb: bool = True) -> dict[str, Any]:
    """Group and subgroup determined on a set under thresholds ``cuts`` (module doc)."""
    from models.calibration.ltt import leaf_determined

    best, scores = confidences(taxonomy, data, kind)
    marginal = confidences(taxonomy, data, "marginal")[1]
    known = data["targets"] >= 0
    truth = np.where(known, data["targets"], 0)
    leaf = leaf_determined(best, marginal[-1], data["flagged"], leaf_cut)
    k = len(taxonomy.level_sizes) - 2
    subgroup = ~leaf & (scores[k] >= cuts[k]) & (flagged_climb | ~data["flagged"])
    right = known & (taxonomy.leaf_level_index[best, k] == taxonomy.leaf_level_index[truth, k])
    return {"group_and_subgroup": round(float(((leaf | subgroup) & known).sum() / known.sum()), 4),
            "known": int(known.sum()), "subgroup_deepest": int(subgroup.sum()),
            "subgroup_purity": round(float(right[subgroup].mean()), 4) if subgroup.any() else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.node_scores", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "resources" / "demo" / "model_cbam",
                        help="a calibrated bundle (default: the app's demo model, resources/demo/model_cbam)")
    parser.add_argument("--calib", type=Path, default=ROOT / "data" / "calib13_spec",
                        help="its calibration set, rendered (a folder with manifest.csv; its val split is used)")
    parser.add_argument("--work", type=Path, default=ROOT / "data", help="where the test sets are rendered")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if not (args.calib / "manifest.csv").is_file():
        raise SystemExit(f"--calib {args.calib}: no manifest.csv there (resources/demo/README.md renders the "
                         "demo model's)")

    from models.bundle.io import load_bundle
    from models.calibration.thresholds import cut_array
    from models.inference.predictor import Predictor

    bundle = load_bundle(args.bundle)
    cal = bundle.manifest.calibration
    if cal is None:
        raise SystemExit(f"{args.bundle}: not calibrated")
    taxonomy = bundle.manifest.taxonomy
    predictor = Predictor(bundle, batch_size=32, spectra=False)
    leaf_cut = cut_array(cal.thresholds, taxonomy.leaves)
    log("[node scores] predicting the calibration set")
    calib = outputs(predictor, args.calib, "val")
    sets = {}
    for name, (folder, synth_args) in SETS.items():
        render_set(args.work / folder, synth_args)
        log(f"[node scores] predicting the {name} set")
        sets[name] = outputs(predictor, args.work / folder, None)
    results: dict[str, Any] = {"bundle": str(args.bundle), "calibration_set": str(args.calib), "kinds": {}}
    for kind in KINDS:
        cuts = fit(taxonomy, calib, kind, cal)
        climb = bool(cal.flagged_climb)
        row = {"thresholds": {str(k): v for k, v in cuts.items()},
               "calibration": judged(taxonomy, calib, kind, leaf_cut, cuts, climb),
               **{name: judged(taxonomy, data, kind, leaf_cut, cuts, climb) for name, data in sets.items()}}
        results["kinds"][kind] = row
        log(f"[node scores] {kind}: subgroup threshold {cuts[len(cuts) - 1]:.5f}; " + "; ".join(
            f"{name} {r['group_and_subgroup']:.3f} ({r['subgroup_deepest']} at {r['subgroup_purity']})"
            for name, r in row.items() if name != "thresholds"))
    pooled = {kind: round(sum(r[n]["group_and_subgroup"] * r[n]["known"] for n in SETS)
                          / sum(r[n]["known"] for n in SETS), 4) for kind, r in results["kinds"].items()}
    results["pooled_test_sets"] = pooled
    log(f"[node scores] over the three test sets' known images: {pooled}")
    write_result(args.out, "node_scores", False, results, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
