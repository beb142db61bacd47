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
* ``ensemble``: routing's ``stages`` score, fitted as ``calibrate`` fits it (energy and every stage; each
  score becomes its percentile among known calibration images, the ensemble takes the largest).

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

import numpy as np

from models.calibration.fitting import class_means_and_variance, fit_stage_detector
from models.data.manifest import UNKNOWN_PREFIX, Sample, load_data
from models.evaluation.metrics import auroc
from models.inference.collect import collect_outputs
from models.inference.predictor import Predictor
from models.routing.unknown import energy_score, nearest_mahalanobis


class _Collected:
    """Per-image outputs of one pass: leaf probabilities, logits, embeddings and stage statistics."""

    def __init__(self, predictor: Predictor, samples: list[Sample]) -> None:
        out = collect_outputs(predictor, [s.path for s in samples])  # the product's own decoding and forward pass
        for i, reason in out.errors.items():
            print(f"  skipped {samples[i].path}: {reason}")
        kept = [samples[i] for i in out.index]
        leaves = predictor.taxonomy.leaves
        self.samples = kept
        self.labels = np.array([s.label for s in kept])
        self.unknown = np.array([s.is_unknown for s in kept], dtype=bool)
        self.truth = np.array([leaves.index(s.label) if not s.is_unknown else -1 for s in kept])
        self.probs = out.leaf_probs
        self.pred = self.probs.argmax(1)
        self.logits = out.level_logits
        self.stage_stats = out.stage_stats
        self.features: dict[str, np.ndarray] = {"emb": out.embeddings}
        self.features.update({f"s{s}": v for s, v in self.stage_stats.items()})
        self.scores: dict[str, np.ndarray] = {
            "energy": energy_score(self.logits, predictor.temperature, flat=predictor.is_flat),
            "max_softmax": 1 - self.probs.max(1),
        }

    def subset(self, rows: np.ndarray) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
        return [z[rows] for z in self.logits], {s: v[rows] for s, v in self.stage_stats.items()}


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
    predictor.watch_stages(predictor.model.stage_strides())  # the product's hooks and statistics
    calib_rows = [s for s in load_data(args.calib, tax).samples
                  if args.calib_split == "all" or s.split == args.calib_split][:: max(1, args.every)]
    cal = _Collected(predictor, calib_rows)
    test = _Collected(predictor, load_data(args.data, tax).samples)
    known = np.flatnonzero(~cal.unknown)
    fit, ref = known[0::2], known[1::2]
    if len(ref) < 20 or not test.unknown.any():
        raise SystemExit("need at least 40 known calibration images and some unknown:* images in --data")

    for name, feats in cal.features.items():
        _, means, var = class_means_and_variance(feats[fit].astype(np.float64), cal.truth[fit])
        label = "mahalanobis@emb" if name == "emb" else f"mahalanobis@{name}"
        cal.scores[label] = nearest_mahalanobis(feats, means, var)
        test.scores[label] = nearest_mahalanobis(test.features[name], means, var)
    if cal.stage_stats:  # the routing's "stages" detector, fitted exactly as calibrate fits it
        ref_logits, ref_stats = cal.subset(ref)
        ensemble = fit_stage_detector({s: v[fit] for s, v in cal.stage_stats.items()}, cal.truth[fit], tax.leaves,
                                      known_logits=ref_logits, known_stats=ref_stats,
                                      temperature=predictor.temperature, flat=predictor.is_flat)
        for c in (cal, test):
            c.scores["ensemble"] = ensemble.score(level_logits=c.logits, stage_stats=c.stage_stats)

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
        kinds = ", ".join(f"{k.removeprefix(UNKNOWN_PREFIX)} {n}" for k, n in Counter(test.labels[got]).most_common())
        print(f"  {name:18s} {auroc(score, test.unknown):6.3f} {cal_auc:6.3f} {int(got.sum()):>5d} of {n_unknown:<5d}"
              f" {right[auto].mean() if auto.any() else float('nan'):7.3f} {auto.mean():9.3f}  {kinds or '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
