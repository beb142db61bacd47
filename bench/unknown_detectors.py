"""Which score catches defect kinds outside the taxonomy? Unknown-defect detectors side by side.

``python -m bench.unknown_detectors BUNDLE --calib MANIFEST --data MANIFEST [--fpr 0.05] [--every 5]``

Runs the bundle once over every ``--every``-th image of the calibration split (``--calib-split``,
default ``val``) and over all images of ``--data`` (known images plus ``unknown:*`` ones), and scores
each image with several detectors (higher = more likely a new defect kind):

* ``energy`` and ``max_softmax``: the bundle's outputs (routing's methods of the same names);
* ``mahalanobis@emb``: distance of the embedding to the nearest class mean (shared diagonal variance),
  as routing's ``mahalanobis``;
* ``mahalanobis@sN``: the same on the channel means and standard deviations of the backbone stage of
  stride N (4, 8, 16, 32; CNN backbones with timm ``feature_info``). Early stages see texture, colour and
  thickness, which the classifier's last features may have learnt to ignore;
* ``ensemble``: energy and every stage together: each score becomes its percentile among known
  calibration images, the ensemble takes the largest.

Class means are fitted on half of the known calibration images (true labels); each detector's threshold
flags ``--fpr`` of the other half. The operating point applies the bundle's own per-leaf confidence
thresholds first (no spot checks), then the detector, and prints per detector: unknown AUROC on
``--data`` (and on the calibration unknowns, if any), unknown images auto-judged, purity and coverage
of the auto-judged images, and which unknown kinds got through. Not the product's routing: a
measurement to choose the next detector by (see the README's routing section).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable

import numpy as np
import torch

from models.data.manifest import Sample, load_data
from models.imageio import ImageLoadError
from models.metrics import auroc
from models.predictor import Predictor
from models.routing import energy_score

STRIDES = (4, 8, 16, 32)


class _Collected:
    """Per-image outputs of one pass: leaf probabilities, scores and stage statistics."""

    def __init__(self, predictor: Predictor, samples: list[Sample], stages: dict[int, torch.nn.Module],
                 batch_size: int = 32) -> None:
        stats: dict[int, list[np.ndarray]] = {s: [] for s in stages}
        hooks = [module.register_forward_hook(
            lambda _m, _i, out, s=s: stats[s].append(
                torch.cat([out.float().mean((2, 3)), out.float().std((2, 3), correction=0)], 1).cpu().numpy()))
            for s, module in stages.items()]
        probs, energy, emb, kept = [], [], [], []
        flat = predictor.is_flat
        try:
            for start in range(0, len(samples), batch_size):
                xs = []
                for sample in samples[start:start + batch_size]:
                    try:
                        xs.append(predictor.preprocess(sample.path))
                        kept.append(sample)
                    except ImageLoadError as exc:
                        print(f"  skipped {sample.path}: {exc}")
                if not xs:
                    continue
                out = predictor.forward_batch(torch.stack(xs))  # eager engine (inference=False): the hooks fire
                probs.append(out.leaf_probs)
                energy.append(energy_score(out.level_logits, predictor.temperature, flat=flat))
                emb.append(out.embedding)
        finally:
            for h in hooks:
                h.remove()
        leaves = predictor.taxonomy.leaves
        self.samples = kept
        self.labels = np.array([s.label for s in kept])
        self.unknown = np.array([s.is_unknown for s in kept], dtype=bool)
        self.truth = np.array([leaves.index(s.label) if not s.is_unknown else -1 for s in kept])
        self.probs = np.concatenate(probs)
        self.pred = self.probs.argmax(1)
        self.features: dict[str, np.ndarray] = {"emb": np.concatenate(emb)}
        self.features.update({f"s{s}": np.concatenate(v) for s, v in stats.items()})
        self.scores: dict[str, np.ndarray] = {"energy": np.concatenate(energy), "max_softmax": 1 - self.probs.max(1)}


def _mahalanobis(features: np.ndarray, labels: np.ndarray, n_classes: int) -> Callable[[np.ndarray], np.ndarray]:
    """Distance to the nearest class mean with one shared diagonal variance (classes without images skipped)."""
    present = [c for c in range(n_classes) if (labels == c).any()]
    means = np.stack([features[labels == c].mean(0) for c in present])
    var = np.mean([features[labels == c].var(0) for c in present], 0) + 1e-6
    return lambda x: (((x[:, None, :] - means[None]) ** 2) / var).mean(2).min(1)


def _percentile(reference: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.sort(reference), x, side="right") / len(reference)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.unknown_detectors", description=__doc__.split("\n")[0])
    p.add_argument("bundle", help="a calibrated bundle (its per-leaf thresholds give the operating point)")
    p.add_argument("--calib", required=True, help="calibration manifest (known images, optionally unknown:*)")
    p.add_argument("--calib-split", default="val", help="split of --calib to use (default val; 'all' = every row)")
    p.add_argument("--data", required=True, help="test manifest with known and unknown:* images (every row)")
    p.add_argument("--every", type=int, default=5, help="use every N-th calibration image (default 5)")
    p.add_argument("--fpr", type=float, default=0.05, help="share of known images each detector flags (default 0.05)")
    args = p.parse_args(argv)

    predictor = Predictor(args.bundle, inference=False)
    calibration = predictor.calibration
    if calibration is None:
        raise SystemExit(f"{args.bundle} is not calibrated: run fma-model calibrate first")
    tax = predictor.taxonomy
    stages = {s: m for s in STRIDES if (m := predictor.model.stage_at_stride(s)) is not None}
    calib_rows = [s for s in load_data(args.calib, tax).samples
                  if args.calib_split == "all" or s.split == args.calib_split][:: max(1, args.every)]
    cal = _Collected(predictor, calib_rows, stages)
    test = _Collected(predictor, load_data(args.data, tax).samples, stages)
    known = np.flatnonzero(~cal.unknown)
    fit, ref = known[0::2], known[1::2]
    if len(ref) < 20 or not test.unknown.any():
        raise SystemExit("need at least 40 known calibration images and some unknown:* images in --data")

    for name, feats in cal.features.items():
        dist = _mahalanobis(feats[fit], cal.truth[fit], len(tax.leaves))
        label = "mahalanobis@emb" if name == "emb" else f"mahalanobis@{name}"
        cal.scores[label], test.scores[label] = dist(feats), dist(test.features[name])
    members = ["energy"] + [f"mahalanobis@s{s}" for s in stages]
    for c in (cal, test):
        c.scores["ensemble"] = np.max([_percentile(cal.scores[m][ref], c.scores[m]) for m in members], 0)

    thresholds = [calibration.thresholds.get(leaf) for leaf in tax.leaves]
    conf = test.probs.max(1)
    base_auto = np.array([thresholds[k] is not None and conf[i] >= thresholds[k] for i, k in enumerate(test.pred)])
    right = test.pred == test.truth
    n_unknown = int(test.unknown.sum())
    print(f"{len(cal.samples)} calibration images ({len(ref)} set the thresholds), {len(test.samples)} test "
          f"images ({n_unknown} unknown); each detector flags {args.fpr:.0%} of known calibration images")
    print(f"  {'detector':18s} {'AUROC':>6s} {'cal':>6s} {'unknown auto':>13s} {'purity':>7s} {'coverage':>9s}  got through")
    for name, score in test.scores.items():
        threshold = np.quantile(cal.scores[name][ref], 1 - args.fpr)
        auto = base_auto & (score <= threshold)
        got = auto & test.unknown
        cal_auc = auroc(cal.scores[name], cal.unknown) if cal.unknown.any() else float("nan")
        kinds = ", ".join(f"{k.removeprefix('unknown:')} {n}" for k, n in Counter(test.labels[got]).most_common())
        print(f"  {name:18s} {auroc(score, test.unknown):6.3f} {cal_auc:6.3f} {int(got.sum()):>5d} of {n_unknown:<5d}"
              f" {right[auto].mean() if auto.any() else float('nan'):7.3f} {auto.mean():9.3f}  {kinds or '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
