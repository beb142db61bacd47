"""``fma-model tune``'s verdict on its best trial: is it ahead of the base config (trial 0) by more than the
validation images' noise? Each complete trial keeps the leaf its bundle gave every validation image
(:class:`ValRecorder`); :func:`versus_base` compares the best trial's with the base's, paired, with bootstrap
intervals (:func:`paired_gain`), and :func:`versus_base_line` says it in one log line. See :mod:`models.training.tune`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.training.validation import ExtraMetrics

__all__ = ["BASE_TRIAL_ATTR", "VAL_PRED_ATTR", "VAL_TARGETS_ATTR", "ValRecorder", "paired_gain", "versus_base",
           "versus_base_line"]

BASE_TRIAL_ATTR = "base_trial"
"""The study's user attribute naming the trial that ran the base config (0 in a study ``tune`` created)."""
VAL_PRED_ATTR, VAL_TARGETS_ATTR = "val_pred", "val_targets"
"""A trial's user attributes: the leaf its bundle gave each validation image, and those images' leaves."""


class ValRecorder:
    """The loop's ``val_metrics``, wrapped: it keeps the leaf given to each validation image at the latest call
    (after training, the bundle's validation) and returns the wrapped callable's metrics (none without one)."""

    def __init__(self, inner: ExtraMetrics | None) -> None:
        self.inner = inner
        self.pred: np.ndarray | None = None
        self.targets: np.ndarray | None = None

    def __call__(self, leaf_probs: Any, targets: Any) -> dict[str, float]:
        self.pred = np.asarray(leaf_probs).argmax(axis=1).astype(np.int64)
        self.targets = np.asarray(targets, dtype=np.int64)
        return self.inner(leaf_probs, targets) if self.inner is not None else {}


def paired_gain(pred_base: np.ndarray, pred_best: np.ndarray, targets: np.ndarray, *, n_boot: int = 1000,
                seed: int = 0) -> dict[str, dict[str, Any]]:
    """Top-1 and macro recall of ``pred_best`` minus ``pred_base`` on the same images, each with its paired 95 %
    bootstrap interval and a verdict: ``better``/``worse`` when the interval excludes 0, else ``tie``. The images
    are resampled together (paired) and within each leaf, so every resample holds every leaf as often as the
    images do (a leaf with two validation images is not dropped from the macro recall)."""
    from models.evaluation.compare import interval_verdict
    from models.training.posthoc import measure

    n_leaves = int(max(pred_base.max(), pred_best.max(), targets.max())) + 1
    keys = ("top1", "macro_recall")
    base, best = measure(pred_base, targets, n_leaves), measure(pred_best, targets, n_leaves)
    rng = np.random.default_rng(seed)
    by_leaf = [np.flatnonzero(targets == k) for k in np.unique(targets)]
    diffs = {k: np.empty(n_boot) for k in keys}
    for b in range(n_boot):
        i = np.concatenate([rng.choice(idx, idx.size) for idx in by_leaf])
        a, c = measure(pred_base[i], targets[i], n_leaves), measure(pred_best[i], targets[i], n_leaves)
        for k in keys:
            diffs[k][b] = c[k] - a[k]
    out: dict[str, dict[str, Any]] = {}
    for k in keys:
        low, high = (float(q) for q in np.quantile(diffs[k], [0.025, 0.975]))
        verdict = interval_verdict(low, high, ahead="better", behind="worse")
        out[k] = {"base": round(base[k], 5), "best": round(best[k], 5), "delta": round(best[k] - base[k], 5),
                  "ci": [round(low, 5), round(high, 5)], "verdict": verdict}
    return out


def versus_base(study: Any, objective: str = "top1") -> dict[str, Any] | None:
    """The best trial against the base config's trial on the validation images (:func:`paired_gain`), or None
    when the study has no base trial, or either trial has no complete validation record. The verdict is the
    objective's when it is ``top1`` or ``macro_recall``, else top-1's (``verdict_on`` says which)."""
    base_number = study.user_attrs.get(BASE_TRIAL_ATTR)
    try:
        best = study.best_trial
    except ValueError:
        return None
    base = next((t for t in study.trials if t.number == base_number and t.value is not None), None)
    if base is None:
        return None
    record: dict[str, Any] = {"base_trial": base.number, "best_trial": best.number}
    if best.number == base.number:
        return {**record, "verdict": "base"}
    attrs = [(t.user_attrs.get(VAL_PRED_ATTR), t.user_attrs.get(VAL_TARGETS_ATTR)) for t in (base, best)]
    if any(p is None for p, _t in attrs) or attrs[0][1] != attrs[1][1]:
        return None  # a study from before the record, or other validation images
    targets = np.asarray(attrs[0][1], dtype=np.int64)
    gain = paired_gain(np.asarray(attrs[0][0], dtype=np.int64), np.asarray(attrs[1][0], dtype=np.int64), targets)
    on = objective if objective in gain else "top1"
    return {**record, "n": int(targets.size), **gain, "verdict_on": on, "verdict": gain[on]["verdict"]}


def versus_base_line(vs: dict[str, Any] | None) -> str:
    """One log line for :func:`versus_base` (an empty string without a comparison)."""
    if vs is None:
        return ""
    if vs["verdict"] == "base":
        return f"[tune] the best trial is the base config (trial {vs['base_trial']}): no trial beat it on validation"
    t, m = vs["top1"], vs["macro_recall"]
    name = vs["verdict_on"].replace("_", " ")
    note = {"tie": f"a tie on {name}: within the noise of this many validation images, no evidence of a better recipe",
            "better": f"ahead on {name} beyond the noise of these validation images, but picked as the best of "
                      "many trials on them and one training seed: confirm with fma-model compare on test images",
            "worse": f"worse on {name} than the base"}[vs["verdict"]]
    return (f"[tune] best trial {vs['best_trial']} against the base config (trial {vs['base_trial']}) on {vs['n']} "
            f"validation images: top-1 {100 * t['delta']:+.1f} points (paired 95 % CI {100 * t['ci'][0]:+.1f} to "
            f"{100 * t['ci'][1]:+.1f}), macro recall {100 * m['delta']:+.1f} ({100 * m['ci'][0]:+.1f} to "
            f"{100 * m['ci'][1]:+.1f}): {note}")
