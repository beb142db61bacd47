"""``python -m bench.multilabel [--per-class N] [--test-per-class M] [--epochs E] [--work DIR] [--out DIR]``:
single-label against multi-label training on images with two defects (issue #20).

Three synthetic data sets in the demo look (difficulty 0.3, seeds the demo model never saw): a training set in which
30 % of each type's samples show a second defect of the other top-level group beside or partly over the
first (``fma-model synth --multi 0.3``: a particle on a scratch, a residue beside a crack), a two-defect test set
(``--multi 0.5``) and a plain one-defect test set. From the bundled demo model, two fine-tunings on the training set
with the same recipe (the demo's second-stage config, ``E`` epochs, no outlier images): ``single`` (the hierarchical
loss, each image's first label) and ``multi`` (``loss.kind: multilabel``: per-level sigmoid heads, presence
thresholds chosen per leaf on the validation images). Each of them, the demo model itself and ``multi_at_0.5`` (the
``multi`` bundle with every presence threshold at 0.5) is evaluated (``fma-model evaluate``'s code) on

* the two-defect test set: mean per-leaf average precision, subset accuracy (all images and those with two
  defects), hierarchical F1 over sets, predicted set size (:mod:`models.evaluation.multilabel`);
* the one-defect test set: leaf Top-1 and per-level Top-1, with the paired bootstrap interval (95 %) of ``multi``
  against ``single``: the single-label figures must not get worse.

Then the ``multi`` bundle's set routing (``fma-model calibrate`` on a multi-label bundle,
:mod:`models.calibration.sets`) is fitted on a fourth set (calibration, 30 % two-defect, seed 24) at target purity
0.99, 0.95, 0.9 and 0.8 and applied to both test sets: the share auto-judged and the share of those exactly right.

The bundles are cached in WORK (delete them to train again). Writes ``OUT/multilabel.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, log, write_result

CONFIG = ROOT / "resources" / "demo" / "finetune_oe.yaml"
DATA_VERSION = "beside"
"""Part of the cached data sets' folder names: bump it when the generator's two-defect images change (``beside``:
the second defect lies beside the first, no longer over it)."""


def _data(work: Path, name: str, per_class: int, seed: int, multi: float, split: tuple[float, float, float]) -> Path:
    from models.data.synth import generate

    folder = work / f"multilabel_{name}_{per_class}_{seed}_{DATA_VERSION}"
    if not (folder / "manifest.csv").is_file():
        log(f"[multilabel] rendering {name}: {per_class} samples per leaf, seed {seed}, two defects in {multi:.0%}")
        generate(folder, per_class=per_class, seed=seed, multi=multi, split=split, difficulty=0.3, workers=2,
                 overwrite=True)
    return folder / "manifest.csv"


def _train(work: Path, kind: str, data: Path, epochs: int, start: Path) -> Path:
    from models.bundle.files import read_bundle_manifest
    from models.training.config import load_config
    from models.training.loop import train

    started_from = read_bundle_manifest(start)
    # the starting model's version names the cache: a bundle fine-tuned from another model is not reused
    out = work / f"multilabel_{kind}_{data.parent.name}_e{epochs}_{started_from.model_version[-8:]}"
    if (out / "manifest.json").is_file():
        log(f"[multilabel] {kind}: the bundle trained before ({out})")
        return out
    cfg, base = load_config(CONFIG, [f"epochs={epochs}", "loss.outlier_weight=0",
                                     f"loss.kind={'multilabel' if kind == 'multi' else 'hierarchical'}",
                                     f"network.cbam={started_from.network.cbam}",
                                     "num_workers=0", "name=ml-" + kind])
    cfg.init_from = str(start)
    started = time.perf_counter()
    train(cfg, [str(data)], out, base_dir=base, log=lambda m: log(f"[multilabel] {kind}: {m}"), progress=False)
    log(f"[multilabel] {kind}: trained in {time.perf_counter() - started:.0f} s")
    return out


def _evaluate(bundle: Path, manifest: Path, *, at_half: bool = False) -> tuple[dict[str, Any], np.ndarray]:
    """``evaluate``'s metrics of a bundle on every image of a manifest, and whether each image's Top-1 is right;
    ``at_half``: with every presence threshold at 0.5 (the bundle's own, chosen on validation, put aside)."""
    import dataclasses

    from models.bundle.io import load_bundle
    from models.data.manifest import read_manifest
    from models.evaluation.evaluate import evaluate_bundle

    loaded = load_bundle(bundle)
    if at_half:
        loaded = dataclasses.replace(loaded, manifest=loaded.manifest.replace(multilabel=None))
    samples = read_manifest(manifest, loaded.taxonomy, allow_unknown=False).samples
    metrics, raw = evaluate_bundle(loaded, samples, batch_size=32)
    return metrics, (raw["leaf_probs"].argmax(axis=1) == raw["targets"]).astype(float)


def run(work: Path, per_class: int, test_per_class: int, epochs: int, start: Path | None = None) -> dict[str, Any]:
    """``start``: the bundle both models are fine-tuned from and compared with (default the app's demo model)."""
    from app.demo import DEMO_MODEL
    from models.evaluation.metrics import paired_bootstrap_ci

    start = Path(start) if start is not None else DEMO_MODEL

    train_set = _data(work, "train", per_class, 21, 0.3, (0.85, 0.15, 0.0))
    two = _data(work, "two_defects", test_per_class, 22, 0.5, (0.0, 0.0, 1.0))
    one = _data(work, "one_defect", test_per_class, 23, 0.0, (0.0, 0.0, 1.0))
    multi = _train(work, "multi", train_set, epochs, start)
    bundles = {"demo": start, "single": _train(work, "single", train_set, epochs, start), "multi": multi,
               "multi_at_0.5": multi}
    res: dict[str, Any] = {"per_class": per_class, "test_per_class": test_per_class, "epochs": epochs,
                           "config": str(CONFIG.relative_to(ROOT)), "bundle": str(start), "models": {}}
    correct = {}
    for name, bundle in bundles.items():
        started = time.perf_counter()
        on_two, _ = _evaluate(bundle, two, at_half=name == "multi_at_0.5")
        on_one, correct[name] = _evaluate(bundle, one, at_half=name == "multi_at_0.5")
        ml = on_two["multilabel"]
        res["models"][name] = {
            "two_defects": {k: ml[k] for k in ("n", "n_multi", "mean_ap", "subset_accuracy", "subset_accuracy_multi",
                                               "hier_f1", "label_cardinality", "predicted_cardinality")},
            "one_defect": {"n": on_one["n"], "top1": on_one["top1"], "level_top1": on_one["level_top1"]},
            "seconds": round(time.perf_counter() - started, 1)}
        log(f"  {name:12s} two defects: mean AP {ml['mean_ap']:.3f}, subset accuracy {ml['subset_accuracy']:.3f} "
            f"(two-defect images {ml['subset_accuracy_multi']:.3f}), hier F1 {ml['hier_f1']:.3f}, set size "
            f"{ml['predicted_cardinality']:.2f} (true {ml['label_cardinality']:.2f}); one defect: Top-1 "
            f"{100 * on_one['top1']:.1f} %")
    for base in ("single", "demo"):
        low, high = paired_bootstrap_ci(correct[base], correct["multi"], n_boot=2000, seed=0)
        gain = 100 * float(correct["multi"].mean() - correct[base].mean())
        res[f"one_defect_top1_multi_vs_{base}_pts"] = {"gain": round(gain, 1),
                                                       "ci": [round(100 * low, 1), round(100 * high, 1)]}
        log(f"  one-defect Top-1, multi against {base}: {gain:+.1f} pts (95 % {100 * low:+.1f} to {100 * high:+.1f})")
    calibration = _data(work, "calibration", per_class, 24, 0.3, (0.0, 1.0, 0.0))
    res["set_routing"] = _set_routing(multi, calibration, {"two_defects": two, "one_defect": one})
    return res


ROUTING_TARGETS = (0.99, 0.95, 0.9, 0.8)


def _set_routing(bundle: Path, calibration: Path, tests: dict[str, Path]) -> dict[str, Any]:
    """The multi-label bundle's set routing (``fma-model calibrate``'s :func:`~models.calibration.sets.fit_set_threshold`)
    fitted on ``calibration`` at each of :data:`ROUTING_TARGETS`, then applied to each test set: the share
    auto-judged and how many of those sets are exactly right."""
    from models.bundle.io import load_bundle
    from models.calibration.sets import fit_set_threshold
    from models.data.manifest import read_manifest
    from models.evaluation.multilabel import truth_matrix
    from models.inference.collect import collect_outputs
    from models.inference.outputs import present, set_auto, set_confidence
    from models.inference.predictor import Predictor

    predictor = Predictor(load_bundle(bundle), spectra=False)
    tax, thresholds = predictor.taxonomy, predictor.presence_thresholds

    def scored(manifest: Path) -> tuple[np.ndarray, np.ndarray]:
        samples = read_manifest(manifest, tax, allow_unknown=False).samples
        out = collect_outputs(predictor, [s.path for s in samples])
        scores = predictor.presence_scores(out.level_logits)
        return scores, truth_matrix([samples[i].labels for i in out.index], tax.leaves)

    fitted_on = scored(calibration)
    tested = {name: scored(m) for name, m in tests.items()}
    sure = set_confidence(fitted_on[0], thresholds)
    right = (present(fitted_on[0], thresholds) == fitted_on[1]).all(axis=1)
    surest = {str(k): round(float(right[np.argsort(-sure, kind="stable")[:k]].mean()), 4) for k in (50, 100, 200, 540)}
    res: dict[str, Any] = {"n_calibration": len(fitted_on[0]), "surest_right": surest}
    log("  calibration sets exactly right among the K surest: " + ", ".join(f"{k}: {v:.3f}" for k, v in surest.items()))
    for target in ROUTING_TARGETS:
        fit, _, exact = fit_set_threshold(*fitted_on, thresholds, target=target, confidence=0.95)
        row: dict[str, Any] = {"set_threshold": fit.threshold, "calibration_coverage": round(fit.n_auto / len(exact), 4),
                               "calibration_subset_accuracy": round(float(exact.mean()), 4)}
        for name, (scores, truth) in tested.items():
            right = (present(scores, thresholds) == truth).all(axis=1)
            auto = set_auto(scores, thresholds, fit.threshold)
            row[name] = {"n": len(right), "auto": round(float(auto.mean()), 4),
                         "purity": round(float(right[auto].mean()), 4) if auto.any() else None,
                         "right_overall": round(float(right.mean()), 4)}
        res[str(target)] = row
        log(f"  set routing at target {target:g}: threshold {fit.threshold}, calibration coverage "
            f"{row['calibration_coverage']:.3f}; " + "; ".join(
                f"{name}: auto {row[name]['auto']:.3f} at purity {row[name]['purity']}" for name in tested))
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.multilabel", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("bench_results"))
    p.add_argument("--work", type=Path, default=None, help="folder for the data sets and bundles (default OUT/work)")
    p.add_argument("--per-class", type=int, default=60, help="training samples per leaf (default 60)")
    p.add_argument("--test-per-class", type=int, default=40, help="test samples per leaf, each test set (default 40)")
    p.add_argument("--epochs", type=int, default=6, help="fine-tuning epochs (default 6)")
    p.add_argument("--bundle", type=Path, default=None,
                   help="the model fine-tuned and compared (default: the app's demo model, resources/demo/model_cbam)")
    args = p.parse_args(argv)
    work = (args.work or args.out / "work").resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    write_result(args.out.resolve(), "multilabel", False,
                 run(work, args.per_class, args.test_per_class, args.epochs, args.bundle), started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
