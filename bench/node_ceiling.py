"""``python -m bench.node_ceiling [--bundle B] [--data DIR] [--flips 1,2,4] [--out DIR]``: issue #17's ceiling, probed.

Issue #17 asks for group and subgroup determined on >= 0.90 of the images at purity 0.99. The most any threshold on
a level's confidence can take (:func:`bench.coverage_methods.node_frontier`, fitted on the judged images
themselves) bounds every calibration procedure; this benchmark asks what moves that bound, side by side on the same
images:

* **the unknown filter**: with the flagged images kept out of the node fit (the product until ``calibrate
  --flagged-climb`` became the default), an image flagged as a possible unknown gets no determined node, so every
  known image it flags is lost; the "nothing flagged" rows apply the level's threshold to every image, the
  unknown images counted as wrong (the bound of node thresholds fitted and applied regardless of the flag, as
  ``--flagged-climb`` fits them);
* **test-time flips**: the leaf distributions averaged over the image and its horizontal flip (2), and also the
  vertical and both (4), each pass through the bundle's :class:`~models.inference.predictor.Predictor`.

Those ceilings take one threshold over every image at a level, those whose leaf is determined included. The
product's promise is kept per level instead (:func:`models.calibration.ltt.node_thresholds`): the subgroup
threshold is fitted only on the images that climb to it, the hard ones. So each row also gives **the per-level
ceiling**: the share of known images with group and subgroup determined when the bundle's leaf thresholds decide
which images climb and the best subgroup threshold for the climbing images (plain precision >= the target, fitted
on them) takes the rest. In the "nothing flagged" rows the flagged images climb, as ``--flagged-climb`` has them
(their leaf is never determined; an unknown image counts as wrong). No calibration procedure with this model,
leaf threshold and confidence score can pass it on these images.

The default set is the seed-11 test set of the hierarchical-routing figures (720 known images, 81 of three unknown
kinds; rendered into ``--work`` when missing). Writes ``OUT/node_ceiling.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, log, write_result
from bench.coverage_methods import TEST, node_frontier, render_set

FLIPS = {1: ("none",), 2: ("none", "h"), 4: ("none", "h", "v", "hv")}
"""The passes averaged for each ``--flips`` value."""


def _flipped(image: Any, kind: str) -> Any:
    from PIL import Image

    if kind == "h":
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if kind == "v":
        return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    if kind == "hv":
        return image.transpose(Image.Transpose.ROTATE_180)
    return image


def passes(predictor: Any, paths: list[Path], kinds: tuple[str, ...]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each pass's leaf distributions, and the unflipped pass's possible-unknown flags."""
    from PIL import Image

    probs: dict[str, np.ndarray] = {}
    flagged = np.zeros(len(paths), dtype=bool)
    for kind in kinds:
        def images(kind: str = kind):
            for path in paths:
                with Image.open(path) as im:
                    yield _flipped(im.convert("RGB"), kind)

        preds = list(predictor.iter_predict(images()))
        probs[kind] = np.asarray([p.leaf_probs for p in preds])
        if kind == "none":
            flagged = np.asarray(["possible_unknown" in p.reasons for p in preds], dtype=bool)
        log(f"[ceiling] pass {kind}: {len(preds)} images")
    return probs, flagged


def per_level_ceiling(taxonomy: Any, target: float, leaf_cut: np.ndarray, data: Any, climb_flagged: bool) -> float:
    """The product's rule at its best (module doc): the share of known images whose subgroup (the deepest inner
    level) is determined, either below a determined leaf or by the best threshold on the climbing images' subgroup
    confidence, fitted on them. ``leaf_cut``: each leaf's threshold (inf: never determined)."""
    from models.calibration.ltt import leaf_determined
    from models.calibration.risk_control import plug_in_frontier
    from models.routing.policy import path_confidences

    best, scores = path_confidences(taxonomy, data.probs)
    known = data.targets >= 0
    truth = np.where(known, data.targets, 0)
    k = len(taxonomy.level_sizes) - 2
    leaf = leaf_determined(best, scores[-1], data.flagged, leaf_cut)
    inner = np.array([not taxonomy.node(n).is_leaf for n in taxonomy.levels[k]])[taxonomy.leaf_level_index[best, k]]
    climbing = (~leaf if climb_flagged else ~leaf & ~data.flagged) & inner  # (a ragged tree's leaf: its own cut)
    right = known & (taxonomy.leaf_level_index[best, k] == taxonomy.leaf_level_index[truth, k])
    taken = np.zeros(len(best), dtype=bool)
    taken[climbing] = plug_in_frontier(scores[k][climbing], right[climbing], target)
    return round(float(((leaf | taken) & known).sum() / known.sum()), 4)


def ceilings(taxonomy: Any, target: float, probs: dict[str, np.ndarray], flagged: np.ndarray, targets: np.ndarray,
             flips: list[int], leaf_cut: np.ndarray) -> list[dict[str, Any]]:
    """One row per number of passes and flag rule: leaf Top-1 of the known images, each inner level's ceiling
    and the per-level ceiling of group and subgroup (module doc) under the leaf thresholds ``leaf_cut``."""
    from models.calibration.risk_control import CalibrationData

    rows = []
    known = targets >= 0
    for n in flips:
        mean = np.mean([probs[k] for k in FLIPS[n]], axis=0)
        top1 = float((mean.argmax(axis=1) == targets)[known].mean())
        for rule, flags in (("flagged kept out", flagged), ("nothing flagged", np.zeros_like(flagged))):
            name = f"{n} pass(es), {rule}"
            frontier = node_frontier(taxonomy, target, {name: CalibrationData(mean, targets, flags)})
            climb = rule == "nothing flagged"  # the flag still keeps the leaf from being determined
            rows.append({"passes": n, "flags": rule, "leaf_top1": round(top1, 4),
                         "per_level": per_level_ceiling(taxonomy, target, leaf_cut,
                                                        CalibrationData(mean, targets, flagged), climb),
                         **{f"level_{k}": frontier[f"{name}, level {k}"] for k in range(len(taxonomy.level_sizes) - 1)}})
    return rows


def to_markdown(rows: list[dict[str, Any]], flagged_share: float) -> str:
    lines = ["| passes averaged | unknown filter | leaf Top-1 (known) | group ceiling | subgroup ceiling | group and "
             "subgroup, per-level ceiling (flagged images climbing in the 'nothing flagged' rows) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['passes']} | {r['flags']} | {100 * r['leaf_top1']:.1f} % | {r['level_0']['best_coverage']:.3f} | "
              f"{r['level_1']['best_coverage']:.3f} | {r['per_level']:.3f} |" for r in rows]
    lines.append(f"\nKnown images flagged as possible unknowns: {100 * flagged_share:.2f} %.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.node_ceiling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "resources" / "demo" / "model_cbam",
                        help="a calibrated bundle (default: the app's demo model, resources/demo/model_cbam)")
    parser.add_argument("--data", type=Path, help="a rendered set (a folder with manifest.csv); default: the "
                        "seed-11 test set, rendered into --work/test11")
    parser.add_argument("--work", type=Path, default=ROOT / "data", help="where the default set is rendered")
    parser.add_argument("--flips", default="1,2,4", help="numbers of passes to average, of 1, 2, 4 (default 1,2,4)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results")
    args = parser.parse_args(argv)
    flips = [int(x) for x in args.flips.split(",")]
    if any(n not in FLIPS for n in flips):
        parser.error(f"--flips takes numbers of {sorted(FLIPS)}, got {args.flips!r}")
    started = time.perf_counter()

    from models.bundle.io import load_bundle
    from models.data.manifest import read_manifest
    from models.inference.predictor import Predictor

    bundle = load_bundle(args.bundle)
    taxonomy = bundle.manifest.taxonomy
    if bundle.manifest.calibration is None:
        raise SystemExit(f"{args.bundle}: not calibrated (run fma-model calibrate first)")
    target = bundle.manifest.calibration.target_purity
    folder = args.data or args.work / "test11"
    if args.data is None:
        render_set(folder, TEST)
    elif not (folder / "manifest.csv").is_file():
        raise SystemExit(f"--data {folder}: no manifest.csv there")
    samples = read_manifest(folder / "manifest.csv", taxonomy, verify_images=False).samples
    index = {leaf: i for i, leaf in enumerate(taxonomy.leaves)}
    targets = np.asarray([index.get(s.label, -1) for s in samples])
    kinds = tuple(dict.fromkeys(k for n in flips for k in FLIPS[n]))
    probs, flagged = passes(Predictor(bundle, batch_size=32), [s.path for s in samples], kinds)
    from models.calibration.thresholds import cut_array

    rows = ceilings(taxonomy, target, probs, flagged, targets, flips,
                    cut_array(bundle.manifest.calibration.thresholds, taxonomy.leaves))
    share = float(flagged[targets >= 0].mean())
    text = to_markdown(rows, share)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "node_ceiling.md").write_text(text, encoding="utf-8")
    write_result(args.out, "node_ceiling", False, {"bundle": str(args.bundle), "data": str(folder), "target": target,
                                                   "known_flagged_share": round(share, 4), "rows": rows}, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
