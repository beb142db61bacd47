"""``python -m bench.fusion [--bundle B] [--per-class N] [--seed S] [--work DIR] [--out DIR]``: image-only against
image + FTIR spectrum, through a bundle's spectrum head and its fused routing (issue #20).

A synthetic test set in the demo look with a spectrum beside every image (``fma-model synth --spectra 1``, a seed
neither the demo model nor its spectrum head saw; ``--difficulty`` 0.3 by default, as the data the demo was trained and
calibrated on) runs once through the bundle (default: the demo model). Each batch
gives, by the code path the app and ``fma-model predict`` run (:class:`models.inference.core.PredictorCore`), the
image-only prediction and route (the image calibration) and the fused one (the head's level distributions fused
with the image's, routed by the fused calibration of the manifest's ``spectrum`` section). On the same images it
reports:

* leaf Top-1 over all leaves and over the confusable siblings (the foreign-matter leaves whose materials the
  spectrum tells apart: organic / metal / glass particles, fiber, PI / photoresist residue, liquid-crystal stain,
  water mark), with the paired bootstrap interval of the difference (95 %);
* routing as the bundle routes: the share of images auto-judged (a spot check drawn from them counted with them)
  and their purity, with its exact lower bound (Clopper-Pearson, 95 %);
* coverage at purity 0.99 read off the test set (the largest share a confidence threshold keeps at 0.99 correct, the
  same rule for both: what the data allow, whatever the calibration);
* the fused path for images without a spectrum, which must give the image-only predictions and routes exactly.

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


def _routed(decisions, leaf: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Share auto-judged (spot checks drawn from them included) and their purity with its exact lower bound."""
    from models.calibration.thresholds import purity_lower_bound

    auto = np.array([d.route == "auto" or tuple(d.reasons) == ("spot_check",) for d in decisions])
    hits, n = int((leaf[auto] == truth[auto]).sum()), int(auto.sum())
    return {"coverage": round(float(auto.mean()), 4), "auto": n, "purity": round(hits / n, 4) if n else None,
            "purity_lower_95": round(purity_lower_bound(hits, n), 4) if n else None}


def run(bundle: Path, work: Path, per_class: int, seed: int, difficulty: float = 0.3) -> dict[str, Any]:
    from models.data.manifest import read_manifest
    from models.data.synth import generate
    from models.evaluation.metrics import paired_bootstrap_ci
    from models.inference.predictor import Predictor
    from models.spectra import read_spectra

    predictor = Predictor(bundle, batch_size=16)
    if predictor.fused_calibration is None:
        raise SystemExit(f"{bundle}: no calibrated spectrum head (fma-model spectrum, then fma-model calibrate on "
                         "images with spectra)")
    data = work / f"fusion_synth_{per_class}_{seed}" if difficulty == 0.5 else \
        work / f"fusion_synth_{per_class}_{seed}_d{difficulty:g}"
    manifest = data / "manifest.csv"
    if not manifest.is_file():
        log(f"[fusion] rendering {per_class} samples per leaf with spectra (seed {seed}, difficulty {difficulty:g})")
        generate(data, per_class=per_class, seed=seed, spectra=1.0, workers=2, overwrite=True, difficulty=difficulty)
    taxonomy = predictor.taxonomy
    samples = [s for s in read_manifest(manifest, taxonomy, allow_unknown=False, verify_images=False).samples
               if s.spectra]
    spectra = [read_spectra(s.spectra, log) for s in samples]
    log(f"[fusion] {len(samples)} test images with a spectrum, through {predictor.model_version}")
    wants_key = predictor.calibration.draws_spot_checks
    probs: dict[str, list[np.ndarray]] = {"image": [], "fused": []}
    decisions: dict[str, list[Any]] = {"image": [], "fused": []}
    index: list[int] = []
    unchanged = True
    started = time.perf_counter()
    for batch in predictor.run_batches([s.path for s in samples], keys=wants_key):
        if batch.out is None:
            log(f"[fusion] unreadable: {batch.items[0].name}: {batch.items[0].error}")
            continue
        keys = [d.key for d in batch.items]
        out = batch.out
        fused = predictor.fuse(out.leaf_probs, [spectra[d.index] for d in batch.items])
        alone = predictor.fuse(out.leaf_probs, [[] for _ in batch.items])
        image_routes = predictor.route(out, keys)
        unchanged &= bool(np.array_equal(alone[0], out.leaf_probs) and predictor.route(out, keys, alone) == image_routes)
        probs["image"].append(out.leaf_probs)
        probs["fused"].append(fused[0])
        decisions["image"] += image_routes
        decisions["fused"] += predictor.route(out, keys, fused)
        index += [d.index for d in batch.items]
    seconds = time.perf_counter() - started
    y = np.asarray([taxonomy.leaves.index(samples[i].label) for i in index])
    p = {k: np.concatenate(v) for k, v in probs.items()}
    leaf = {k: v.argmax(1) for k, v in p.items()}
    correct = {k: (v == y).astype(float) for k, v in leaf.items()}
    sib = np.isin(np.asarray([samples[i].label for i in index]), SIBLINGS)
    rec = predictor.manifest.spectrum
    res: dict[str, Any] = {
        "bundle": str(bundle.relative_to(ROOT) if bundle.is_relative_to(ROOT) else bundle),
        "model_version": predictor.model_version,
        "data": str(data.relative_to(ROOT) if data.is_relative_to(ROOT) else data),
        "per_class": per_class, "seed": seed, "difficulty": difficulty, "test_images": len(y),
        "sibling_images": int(sib.sum()),
        "head": {"fusion_weight": rec.weight, "epoch": rec.epoch, "n_train": rec.n_train,
                 "val_top1_alone": rec.val_top1_alone, "calibrated_on": dict(rec.calibrated_on)},
        "seconds": round(seconds, 1), "targets": TARGETS}
    for name, mask in (("all", np.ones(len(y), bool)), ("siblings", sib)):
        a, b = correct["image"][mask], correct["fused"][mask]
        low, high = paired_bootstrap_ci(a, b, n_boot=2000, seed=0)
        res[f"top1_{name}"] = {"image": round(float(a.mean()), 4), "fused": round(float(b.mean()), 4),
                               "gain_pts": round(100 * float(b.mean() - a.mean()), 1),
                               "gain_ci_pts": [round(100 * low, 1), round(100 * high, 1)]}
    res["routing"] = {k: _routed(decisions[k], leaf[k], y) for k in ("image", "fused")}
    res["target_purity"] = predictor.calibration.target_purity
    res["coverage_at_0.99_oracle"] = {k: round(coverage_at_purity(v.max(1), correct[k]), 4) for k, v in p.items()}
    res["without_spectrum_equals_image"] = unchanged
    routed = res["routing"]
    res["meets_target"] = {
        "siblings": res["top1_siblings"]["gain_pts"] >= TARGETS["sibling_top1_gain_pts"],
        "coverage": routed["fused"]["coverage"] - routed["image"]["coverage"] >= TARGETS["coverage_gain"],
        "purity_kept": all(r["purity"] is None or r["purity"] >= res["target_purity"] for r in routed.values()),
        "no_spectrum_unchanged": unchanged}
    for name in ("all", "siblings"):
        r = res[f"top1_{name}"]
        log(f"  leaf Top-1 ({name}, {int(sib.sum()) if name == 'siblings' else len(y)} test images): image-only "
            f"{100 * r['image']:.1f} %, fused {100 * r['fused']:.1f} %, gain {r['gain_pts']:+.1f} pts "
            f"(95 % {r['gain_ci_pts'][0]:+.1f} to {r['gain_ci_pts'][1]:+.1f})")
    for k in ("image", "fused"):
        r = routed[k]
        log(f"  routing, {k}: auto-judged {r['coverage']:.3f} ({r['auto']} images) at purity {r['purity']} "
            f"(lower 95 % bound {r['purity_lower_95']})")
    c = res["coverage_at_0.99_oracle"]
    log(f"  coverage at purity 0.99 read off the test set: image-only {c['image']:.3f}, fused {c['fused']:.3f}")
    log(f"  without a spectrum the fused path is the image's: {unchanged}; {seconds:.0f} s")
    return res


def main(argv: list[str] | None = None) -> int:
    from app.demo import DEMO_MODEL

    p = argparse.ArgumentParser(prog="python -m bench.fusion", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", type=Path, default=DEMO_MODEL, help="bundle with a calibrated spectrum head "
                                                                   "(default: the demo model)")
    p.add_argument("--out", type=Path, default=Path("bench_results"))
    p.add_argument("--work", type=Path, default=None, help="folder for the data set (default OUT/work)")
    p.add_argument("--per-class", type=int, default=40)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--difficulty", type=float, default=0.3,
                   help="sibling overlap of the test images (default 0.3: the demo's data, its calibration set's; "
                        "0.5 is harder than anything the demo was calibrated on)")
    args = p.parse_args(argv)
    work = (args.work or args.out / "work").resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    write_result(args.out.resolve(), "fusion", False,
                 run(args.bundle.resolve(), work, args.per_class, args.seed, args.difficulty), started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
