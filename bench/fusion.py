"""``python -m bench.fusion [--work DIR] [--out DIR] [--per-class N] [--seed S]``: image-only vs image + FTIR spectrum
(issue #20).

A synthetic data set in the demo look with a spectrum beside every image (``fma-model synth --spectra 1``, a seed
the demo model never saw), the bundled demo model's predictions of its validation and test images, and a spectrum
head (:mod:`models.training.spectrum`) trained on the training split's spectra, its epoch and fusion weight chosen on
the validation split. On the test split it reports, image-only against fused, on the same images:

* leaf Top-1 over all leaves, and over the confusable siblings (the foreign-matter leaves whose materials the
  spectrum tells apart: organic / metal / glass particles, fiber, PI / photoresist residue, liquid-crystal stain,
  water mark), with the paired bootstrap interval of the difference (95 %);
* routing coverage at purity 0.99: the largest share of test images that a threshold on the Top-1 confidence keeps
  while their Top-1 accuracy stays at 0.99 or more (the same rule for both, read off the test set);
* the fused path for images without a spectrum, which must equal the image-only predictions.

Writes ``OUT/fusion.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, log, write_result

SIBLINGS = ("particle_metal", "particle_organic", "particle_glass", "fiber", "pi_residue", "photoresist_residue",
            "lc_stain", "water_mark")
TARGETS = {"sibling_top1_gain_pts": 5.0, "coverage_gain": 0.1}


def coverage_at_purity(confidence: np.ndarray, correct: np.ndarray, purity: float = 0.99) -> float:
    """The largest share of images kept by a confidence threshold while the kept ones are ``purity`` correct."""
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    kept = np.arange(1, len(order) + 1)
    ok = np.nonzero(hits / kept >= purity)[0]
    return float((ok[-1] + 1) / len(order)) if len(ok) else 0.0


def _features(samples) -> tuple[np.ndarray, list[list[Any]]]:
    """The head's features of each sample's (one) spectrum, and the spectra themselves."""
    from models.spectra import read_spectrum
    from models.spectra.head import features

    rows, spectra = [], []
    for s in samples:
        spectrum = read_spectrum(s.spectra[0])
        rows.append(features(spectrum.wavenumbers, spectrum.absorbance))
        spectra.append([spectrum])
    return np.stack(rows), spectra


def run(work: Path, per_class: int, seed: int) -> dict[str, Any]:
    from app.demo import DEMO_MODEL
    from models.data.manifest import read_manifest
    from models.data.synth import generate
    from models.evaluation.metrics import paired_bootstrap_ci
    from models.inference.collect import collect_outputs
    from models.inference.predictor import Predictor
    from models.spectra.head import fuse
    from models.training.spectrum import choose_weight, train_head

    data = work / f"fusion_synth_{per_class}_{seed}"
    manifest = data / "manifest.csv"
    if not manifest.is_file():
        log(f"[fusion] rendering {per_class} samples per leaf with spectra (seed {seed})")
        generate(data, per_class=per_class, seed=seed, spectra=1.0, workers=2, overwrite=True)
    predictor = Predictor(DEMO_MODEL, batch_size=16)
    taxonomy = predictor.taxonomy
    loaded = read_manifest(manifest, taxonomy, allow_unknown=False, verify_images=False).samples
    split = {name: [s for s in loaded if s.split == name and s.spectra] for name in ("train", "val", "test")}
    log(f"[fusion] {', '.join(f'{k} {len(v)}' for k, v in split.items())} images with a spectrum")
    shaped = {name: _features(samples) for name, samples in split.items()}
    x = {name: v[0] for name, v in shaped.items()}
    t = time.perf_counter()
    trained = train_head(taxonomy, x["train"], [s.label for s in split["train"]], x["val"],
                         [s.label for s in split["val"]], seed=seed)
    train_s = time.perf_counter() - t
    index = taxonomy.leaf_level_index

    def image_probs(samples) -> np.ndarray:
        out = collect_outputs(predictor, [s.path for s in samples])
        assert not out.errors, out.errors
        return predictor.probabilities(out.level_logits)[1]

    truth = {name: np.asarray([taxonomy.leaves.index(s.label) for s in split[name]]) for name in ("val", "test")}
    val_probs = image_probs(split["val"])
    weights = choose_weight(trained.head, val_probs, shaped["val"][1], truth["val"], index)
    head = trained.head
    test_probs = image_probs(split["test"])
    spec = head.level_probs(x["test"])
    fused = fuse(test_probs, spec, index, head.weight)
    alone = fuse(test_probs, spec, index, head.weight, has_spectrum=np.zeros(len(test_probs), bool))
    y = truth["test"]
    correct = {"image": (test_probs.argmax(1) == y).astype(float), "fused": (fused.argmax(1) == y).astype(float)}
    sib = np.isin(np.asarray([s.label for s in split["test"]]), SIBLINGS)
    res: dict[str, Any] = {"data": str(data.relative_to(ROOT) if data.is_relative_to(ROOT) else data),
                           "per_class": per_class, "seed": seed, "test_images": len(y), "sibling_images": int(sib.sum()),
                           "head": {"epoch": trained.epoch, "val_top1_spectrum_alone": round(trained.val_top1, 4),
                                    "train_s": round(train_s, 1), "fusion_weight": head.weight,
                                    "val_top1_by_weight": {str(k): round(v, 4) for k, v in weights.items()}},
                           "targets": TARGETS}
    for name, mask in (("all", np.ones(len(y), bool)), ("siblings", sib)):
        a, b = correct["image"][mask], correct["fused"][mask]
        low, high = paired_bootstrap_ci(a, b, n_boot=2000, seed=0)
        res[f"top1_{name}"] = {"image": round(float(a.mean()), 4), "fused": round(float(b.mean()), 4),
                               "gain_pts": round(100 * float(b.mean() - a.mean()), 1),
                               "gain_ci_pts": [round(100 * low, 1), round(100 * high, 1)]}
    res["coverage_at_0.99"] = {k: round(coverage_at_purity(p.max(1), correct[k]), 4)
                               for k, p in (("image", test_probs), ("fused", fused))}
    res["without_spectrum_equals_image"] = bool(np.array_equal(alone, test_probs.astype(np.float32)))
    res["meets_target"] = {
        "siblings": res["top1_siblings"]["gain_pts"] >= TARGETS["sibling_top1_gain_pts"],
        "coverage": res["coverage_at_0.99"]["fused"] - res["coverage_at_0.99"]["image"] >= TARGETS["coverage_gain"],
        "no_spectrum_unchanged": res["without_spectrum_equals_image"]}
    for name in ("all", "siblings"):
        r = res[f"top1_{name}"]
        log(f"  leaf Top-1 ({name}, {int(sib.sum()) if name == 'siblings' else len(y)} test images): image-only "
            f"{100 * r['image']:.1f} %, fused {100 * r['fused']:.1f} %, gain {r['gain_pts']:+.1f} pts "
            f"(95 % {r['gain_ci_pts'][0]:+.1f} to {r['gain_ci_pts'][1]:+.1f})")
    c = res["coverage_at_0.99"]
    log(f"  coverage at purity 0.99: image-only {c['image']:.3f}, fused {c['fused']:.3f} "
        f"(gain {c['fused'] - c['image']:+.3f}; target +0.1)")
    log(f"  spectrum head: epoch {trained.epoch}, alone {100 * trained.val_top1:.1f} % on val, fusion weight "
        f"{head.weight}, trained in {train_s:.1f} s; without a spectrum the fused path is the image's: "
        f"{res['without_spectrum_equals_image']}")
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fusion", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("bench_results"))
    p.add_argument("--work", type=Path, default=None, help="folder for the data set (default OUT/work)")
    p.add_argument("--per-class", type=int, default=40)
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    work = (args.work or args.out / "work").resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    write_result(args.out.resolve(), "fusion", False, run(work, args.per_class, args.seed), started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
