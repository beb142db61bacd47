"""``python -m bench.coverage_methods [--work DIR] [--out DIR] [--per-class N] [--calib DIR] [--bundle B]``: issue #17.

Five threshold procedures (one of them Learn-then-Test with three starts) (:mod:`models.calibration.risk_control`) fitted on the same calibration images and judged
on the same held-out test images, with the shipped demo model (its temperature and unknown detector unchanged, so
only the leaf thresholds differ): coverage of known images, purity of the auto-judged ones (an auto-judged image
outside the tree counts as wrong), and the worst leaf's purity.

The calibration set follows the demo's recipe (``resources/demo/README.md``: seed 3, difficulty 0.3, three unknown
kinds) at ``--per-class`` images per leaf; the test set is the seed-11 set of the hierarchical-routing figures (720
known images, 81 of three unknown kinds); ``--calib`` takes another rendered set (the bundle's own calibration set,
say). It also prints the ceiling of the group-and-subgroup goal and that goal under three rules (per level with the
flagged images kept out, as the product fitted it until 2026-12-04; over the union; per level with them climbing,
the product's since), judged on that test set and on the demo's seed-2 set, whose unknown kinds nothing has seen
(:func:`_node_promises`). Writes ``OUT/coverage_methods.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, ROUTING_DEMO, log, write_result

CALIB = ["--seed", "3", "--unknown-classes", "3", "--split", "0,1,0", "--difficulty", "0.3"]
TEST = ["--per-class", "40", "--seed", "11", "--unknown-classes", "3", "--unknown-per-class", "27", "--difficulty",
        "0.3", "--split", "0,0,1"]
NEVER_SEEN = ["--per-class", "40", "--seed", "2", "--unknown-types", "hair_loop,burn_mark,delamination_blister",
              "--unknown-per-class", "27", "--difficulty", "0.3"]
"""The demo's seed-2 test set (``resources/demo/README.md``): its unknown kinds are in no training or calibration set."""


def render_set(folder: Path, args: list[str]) -> None:
    from models.commands.cli import main as fma_model

    if not (folder / "manifest.csv").is_file() and fma_model(["synth", str(folder), "--workers", "2", *args]) != 0:
        raise SystemExit(f"fma-model synth failed for {folder}")


def _outputs(predictor: Any, folder: Path, taxonomy: Any) -> Any:
    """The model's leaf distributions, true leaves and unknown flags of a set (kept in ``outputs.npz`` beside it
    for this model and calibration)."""
    from models.calibration.risk_control import CalibrationData
    from models.data.manifest import read_manifest

    cache = folder / "outputs.npz"
    calibration = predictor.calibration
    made_by = f"{predictor.model_version} {None if calibration is None else calibration.created}"
    if cache.is_file():
        with np.load(cache) as saved:
            if "made_by" in saved and str(saved["made_by"]) == made_by:  # else another model or calibration made them
                return CalibrationData(saved["probs"], saved["targets"], saved["flagged"])

    samples = read_manifest(folder / "manifest.csv", taxonomy, verify_images=False).samples
    index = {leaf: i for i, leaf in enumerate(taxonomy.leaves)}
    probs, targets, flagged = [], [], []
    for s, p in zip(samples, predictor.iter_predict([str(s.path) for s in samples]), strict=True):
        probs.append(p.leaf_probs)
        targets.append(index.get(s.label, -1))
        flagged.append("possible_unknown" in p.reasons)
    data = CalibrationData(np.asarray(probs), np.asarray(targets), np.asarray(flagged, dtype=bool))
    np.savez(cache, probs=data.probs, targets=data.targets, flagged=data.flagged, made_by=np.asarray(made_by))
    return data


def node_frontier(taxonomy: Any, target: float, sets: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per set and group/subgroup level: the share of images the unknown detector lets through whose node at that
    level is right, and the most known images one threshold on the node's confidence could take there at the target
    purity, fitted on the very images it is judged on (:func:`risk_control.plug_in_frontier`): the ceiling of the
    hierarchical goal "group and subgroup determined for >= 0.90 at 0.99" whatever the threshold rule."""
    from models.calibration.risk_control import plug_in_frontier
    from models.routing.policy import path_confidences

    out: dict[str, dict[str, float]] = {}
    for name, data in sets.items():
        best, scores = path_confidences(taxonomy, data.probs)
        known, ok = data.targets >= 0, ~data.flagged
        truth = np.where(known, data.targets, 0)
        for k in range(len(taxonomy.level_sizes) - 1):
            right = known & (taxonomy.leaf_level_index[best, k] == taxonomy.leaf_level_index[truth, k])
            taken = np.zeros(len(best), dtype=bool)
            taken[ok] = plug_in_frontier(scores[k][ok], right[ok], target)
            row = {"accuracy": round(float(right[ok].mean()), 4),
                   "best_coverage": round(float((taken & known).sum() / known.sum()), 4)}
            out[f"{name}, level {k}"] = row
            log(f"[coverage] {name}, level {k} ({'group' if k == 0 else 'subgroup'}): right for {row['accuracy']:.1%} "
                f"of the images not flagged; at most {row['best_coverage']:.3f} of the known images at {target:g} "
                "by any threshold on its confidence, fitted on these images")
    return out


def _union_fit(taxonomy: Any, cut: np.ndarray, data: Any, target: float, starts: int) -> dict[int, float | None]:
    """Per group/subgroup level, one Learn-then-Test threshold promising the target purity at that level over the
    images determined there *or deeper* (the union), instead of the product's promise over the images that climb
    to it (:func:`models.calibration.ltt.node_thresholds`)."""
    from models.calibration.ltt import leaf_determined, start_size
    from models.calibration.risk_control import ltt_threshold
    from models.routing.policy import path_confidences

    best, scores = path_confidences(taxonomy, data.probs)
    known = data.targets >= 0
    truth = np.where(known, data.targets, 0)
    deeper = leaf_determined(best, scores[-1], data.flagged, cut)
    out: dict[int, float | None] = {}
    for k in range(len(taxonomy.level_sizes) - 2, -1, -1):
        predicted = taxonomy.leaf_level_index[best, k]
        right = known & (predicted == taxonomy.leaf_level_index[truth, k])
        inner = np.array([not taxonomy.node(n).is_leaf for n in taxonomy.levels[k]])[predicted]
        seen = ~data.flagged & (inner | deeper)
        fit = ltt_threshold(np.where(deeper, 2.0, scores[k])[seen], right[seen], target=target,
                            min_set=start_size(int(seen.sum()), target, 0.95), starts=starts)
        out[k] = fit.threshold
        if fit.threshold is not None:
            deeper |= ~data.flagged & inner & (scores[k] >= fit.threshold)
    return out


def _node_promises(taxonomy: Any, target: float, leaf_cut: float | None, calib: Any, test: Any,
                   never_seen: Any = None) -> dict[str, Any]:
    """The group and subgroup thresholds under three rules, three starts each, fitted on ``calib`` and judged on
    ``test`` (and on ``never_seen``, a set whose unknown images are of kinds the calibration set lacks, when given):

    * ``each level`` (the product's promise): per level, over the images that climb to it, flagged images left out;
    * ``union``: per level, over the images determined there *or deeper*;
    * ``each level, flagged climb``: the product's promise with the images the unknown detector flags climbing too
      (their leaf never determined; an image outside the tree counts as wrong), so a flag no longer costs a known
      image its group and subgroup.

    Per rule and set: the share of known images with group and subgroup determined; the purity of the images
    determined at the subgroup or deeper and of those whose deepest determined node is the subgroup or the group,
    each counting an image outside the tree as wrong; and how many images outside the tree got a determined node."""
    from models.calibration.ltt import node_thresholds
    from models.routing.policy import Calibration

    cut = np.full(len(taxonomy.leaves), np.inf if leaf_cut is None else leaf_cut)
    leaf_cuts = dict.fromkeys(taxonomy.leaves, leaf_cut)

    def each_level(climb: bool) -> dict[int, float | None]:
        _, fits = node_thresholds(calib.probs, calib.targets, calib.flagged, taxonomy, leaf_cuts, target=target,
                                  confidence=0.95, starts=3, flagged_climb=climb)
        return {k: f.threshold for k, f in fits.items()}

    rules = {"each level": (each_level(False), False), "union": (_union_fit(taxonomy, cut, calib, target, starts=3), False),
             "each level, flagged climb": (each_level(True), True)}
    out: dict[str, Any] = {}
    for name, (thresholds, climb) in rules.items():
        cal = Calibration(thresholds=leaf_cuts, flagged_climb=climb,
                          node_thresholds={node: t for k, t in thresholds.items() for node in taxonomy.levels[k]
                                           if not taxonomy.node(node).is_leaf})
        out[name] = {"thresholds": thresholds, **_judged(taxonomy, cal, test)}
        if never_seen is not None:
            out[name]["never_seen"] = _judged(taxonomy, cal, never_seen)
        for label, row in (("", out[name]), (" (never-seen kinds)", out[name].get("never_seen"))):
            if row is not None:
                log(f"[coverage] node promise over {name}{label}: group and subgroup determined for "
                    f"{row['group_and_subgroup']:.3f} of the known test images (subgroup purity {row['union_purity']}); "
                    f"subgroup the deepest {row['subgroup_only']} (purity {row['subgroup_only_purity']}), group the "
                    f"deepest {row['group_only']} (purity {row['group_only_purity']}); {row['unknown_determined']} of "
                    f"{row['unknown']} images outside the tree with a determined node")
    return out


def _judged(taxonomy: Any, cal: Any, data: Any) -> dict[str, Any]:
    """Each image's determined node by the product's climbing rule, judged against the truth (an image outside the
    tree is wrong at every level)."""
    from models.routing.policy import determined_batch

    _, level = determined_batch(cal, taxonomy, data.probs, [("possible_unknown",) if f else () for f in data.flagged])
    best = np.asarray(data.probs).argmax(axis=1)  # the predicted leaf, whose path is judged
    known = data.targets >= 0
    truth = np.where(known, data.targets, 0)

    def purity(mask: np.ndarray, k: int) -> float:
        right = known & (taxonomy.leaf_level_index[best, k] == taxonomy.leaf_level_index[truth, k])
        return round(float(right[mask].mean()), 4) if mask.any() else float("nan")

    return {"group_and_subgroup": round(float((known & (level >= 1)).sum() / known.sum()), 4),
            "union_purity": purity(level >= 1, 1), "subgroup_only": int((level == 1).sum()),
            "subgroup_only_purity": purity(level == 1, 1), "group_only": int((level == 0).sum()),
            "group_only_purity": purity(level == 0, 0), "unknown": int((~known).sum()),
            "unknown_determined": int((~known & (level >= 0)).sum())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coverage_methods", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "coverage_methods")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results")
    parser.add_argument("--per-class", type=int, default=400, help="calibration images per leaf (default 400)")
    parser.add_argument("--calib", type=Path, help="a rendered calibration set (a folder with manifest.csv; every "
                        "image of it is used) instead of the seed-3 set at --per-class")
    parser.add_argument("--bundle", type=Path, default=ROUTING_DEMO,
                        help="the calibrated bundle whose temperature and unknown detector are kept "
                             "(default: resources/demo/model)")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    from models.bundle.io import load_bundle
    from models.calibration import risk_control as rc
    from models.inference.predictor import Predictor

    bundle = load_bundle(args.bundle)
    taxonomy = bundle.manifest.taxonomy
    target = bundle.manifest.calibration.target_purity
    predictor = Predictor(bundle, batch_size=32)
    calib_dir, test_dir = args.calib or args.work / f"calib{args.per_class}", args.work / "test11"
    if args.calib is None:
        render_set(calib_dir, ["--per-class", str(args.per_class), "--unknown-per-class", str(args.per_class // 5), *CALIB])
    elif not (calib_dir / "manifest.csv").is_file():
        raise SystemExit(f"--calib {calib_dir}: no manifest.csv there")
    render_set(test_dir, TEST)
    render_set(args.work / "test2", NEVER_SEEN)
    log("[coverage] predicting the calibration set")
    calib = _outputs(predictor, calib_dir, taxonomy)
    log("[coverage] predicting the test set")
    test = _outputs(predictor, test_dir, taxonomy)
    log("[coverage] predicting the never-seen kinds' test set")
    never_seen = _outputs(predictor, args.work / "test2", taxonomy)
    groups: dict[str, list[int]] = {}
    for i, leaf in enumerate(taxonomy.leaves):
        groups.setdefault(taxonomy.parent(leaf) or leaf, []).append(i)
    fitted = {
        "per_leaf": rc.per_leaf(calib, target=target),
        "pooled_siblings": rc.pooled_siblings(calib, groups, target=target),
        "ltt_global": rc.ltt_global(calib, target=target),
        "ltt_global_3_starts": rc.ltt_global(calib, target=target, starts=3),
        "ltt_per_leaf": rc.ltt_per_leaf(calib, target=target),
    }
    results: dict[str, Any] = {"calibration_set": str(calib_dir), "per_class": args.per_class, "target": target, "calibration_images": len(calib.targets),
                               "test_images": len(test.targets), "methods": {}}
    lines = ["| procedure | promise | leaves auto-judged | test coverage | test purity | worst leaf purity (>= 20 "
             "auto) | unknown auto-judged | calibration coverage |", "|---|---|---|---|---|---|---|---|"]
    promise = {"per_leaf": "each leaf", "pooled_siblings": "each subgroup", "ltt_global": "all auto-judged images",
               "ltt_global_3_starts": "all auto-judged images", "ltt_per_leaf": "all auto-judged images"}
    for name, thresholds in fitted.items():
        held, own = rc.routing_figures(test, thresholds), rc.routing_figures(calib, thresholds)
        results["methods"][name] = {"thresholds": dict(zip(taxonomy.leaves, thresholds, strict=True)),
                                    "test": held, "calibration": own}
        lines.append(f"| {name} | {promise[name]} | {sum(t is not None for t in thresholds)} | {held['coverage']:.3f} | "
                     f"{held['purity']:.4f} | {held['worst_leaf_purity']:.3f} | {held['unknown_auto']} | "
                     f"{own['coverage']:.3f} |")
        log(lines[-1])
    results["table"] = lines
    results["node_frontier"] = node_frontier(taxonomy, target, {"calibration": calib, "test": test})
    results["node_promises"] = _node_promises(taxonomy, target, fitted["ltt_global_3_starts"][0], calib, test,
                                               never_seen)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "coverage_methods.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_result(args.out, "coverage_methods", False, results, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
