"""``fma-model compare``: two bundles on the same images, side by side.

Both bundles are evaluated with :func:`models.evaluation.evaluate.evaluate_bundle` on the same split. Besides
the usual metrics the comparison reports, for a target purity P:

* ``oracle_coverage``: the largest share of the known images that one global confidence threshold,
  chosen with hindsight on this very data, could auto-judge at purity >= P. It measures how well a
  model's confidences rank its own mistakes, independent of any calibration.
* for calibrated bundles, the real ``auto_coverage`` / ``auto_purity`` of their own thresholds,
  unknown filter and spot checks (what production would see).

Each top-1 comes with its 95 % bootstrap interval (``top1_ci``), and the difference B - A with a paired
bootstrap interval over the known images both bundles read (``top1_diff``): an interval that contains 0 is
called a tie, so a small gain on a small test set is not mistaken for progress.

Per-class recall and precision deltas (B - A) are listed, largest change first. ``compare.json``
holds everything; ``compare.md`` is the readable version (also printed).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from models.data.manifest import DataError
from models.evaluation.metrics import paired_bootstrap_ci

HEADLINE: tuple[tuple[str, str], ...] = (
    ("n", "images"),
    ("top1", "top-1"),
    ("top5", "top-5"),
    ("hier_f1", "hierarchical F1"),
    ("mistake_severity", "mistake severity (lower better)"),
    ("ece", "ECE (lower better)"),
    ("aurc", "AURC (lower better)"),
    ("oracle_coverage", "oracle coverage at P"),
    ("auto_coverage", "auto coverage (own calibration)"),
    ("auto_purity", "auto purity (own calibration)"),
    ("unknown_auroc", "unknown AUROC"),
    ("unknown_auto_rate", "unknowns auto-judged (lower better)"),
)


def oracle_coverage(confidence: np.ndarray, correct: np.ndarray, purity: float) -> tuple[float, float | None]:
    """Largest coverage one confidence threshold reaches at ``purity`` on this data, and that threshold.

    Images with equal confidence are kept or dropped together. Returns ``(0.0, None)`` when no
    threshold reaches the purity, ``(nan, None)`` without images.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if len(conf) == 0:
        return float("nan"), None
    order = np.argsort(-conf, kind="stable")
    conf, ok = conf[order], ok[order]
    hits = np.cumsum(ok)
    ends = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))
    passing = ends[hits[ends] >= purity * (ends + 1) - 1e-9]
    if len(passing) == 0:
        return 0.0, None
    end = int(passing.max())
    return (end + 1) / len(conf), float(conf[end])


def _summary(metrics: dict[str, Any], raw: dict[str, Any], purity: float) -> dict[str, Any]:
    known = ~raw["unknown"]
    probs = raw["leaf_probs"][known]
    correct = probs.argmax(axis=1) == raw["targets"][known] if len(probs) else np.zeros(0, dtype=bool)
    cov, thr = oracle_coverage(probs.max(axis=1) if len(probs) else np.zeros(0), correct, purity)
    out = {k: metrics[k] for k, _ in HEADLINE if k in metrics}
    out["oracle_coverage"] = cov
    out["oracle_threshold"] = thr
    out["level_top1"] = metrics.get("level_top1")
    out["top1_ci"] = metrics.get("top1_ci")
    return out


def _correct_by_path(samples: list[Any], raw: dict[str, Any]) -> dict[str, bool]:
    """``{path: top-1 right}`` over the known images the bundle read (``raw`` of ``evaluate_bundle``)."""
    kept = [str(s.path) for s in samples if str(s.path) not in raw["errors"]]
    known = ~raw["unknown"]
    right = raw["leaf_probs"].argmax(axis=1) == raw["targets"] if len(kept) else np.zeros(0, dtype=bool)
    return {path: bool(ok) for path, ok, k in zip(kept, right, known, strict=True) if k}


def interval_verdict(low: float, high: float, *, ahead: str, behind: str) -> str:
    """The verdict of a paired 95 % interval of B - A: ``tie`` when it contains 0 (a difference smaller than the
    noise), else ``ahead`` (B is better) or ``behind``."""
    return "tie" if low <= 0.0 <= high else (ahead if low > 0 else behind)


def top1_difference(correct_a: dict[str, bool], correct_b: dict[str, bool], *, n_boot: int = 1000,
                    seed: int = 0) -> dict[str, Any]:
    """Top-1 of B minus top-1 of A over the images both scored, with its paired 95 % bootstrap interval.

    Returns:
        ``{"n", "delta", "ci": [low, high], "verdict"}``; the verdict is ``tie`` when the interval contains
        0, else ``B better`` or ``A better`` (``n/a`` without common images).
    """
    common = sorted(set(correct_a) & set(correct_b))
    a = np.array([correct_a[p] for p in common], dtype=np.float64)
    b = np.array([correct_b[p] for p in common], dtype=np.float64)
    low, high = paired_bootstrap_ci(a, b, n_boot=n_boot, seed=seed)
    verdict = interval_verdict(low, high, ahead="B better", behind="A better") if common else "n/a"
    delta = float(b.mean() - a.mean()) if common else float("nan")
    return {"n": len(common), "delta": delta, "ci": [low, high], "verdict": verdict}


def verdict_line(result: dict[str, Any]) -> str:
    """One line: each bundle's top-1 with its interval, and the paired difference with its verdict."""
    def with_ci(value: Any, ci: Any) -> str:
        ci = ci or [None, None]
        return f"{_fmt(value)} (95 % CI {_fmt(ci[0])}–{_fmt(ci[1])})"

    a, b, d = result["a"]["metrics"], result["b"]["metrics"], result["top1_diff"]
    return (f"top-1: A {with_ci(a.get('top1'), a.get('top1_ci'))}, B {with_ci(b.get('top1'), b.get('top1_ci'))}; "
            f"B - A {_fmt(d['delta'], signed=True)} (paired 95 % CI {_fmt(d['ci'][0], signed=True)} to "
            f"{_fmt(d['ci'][1], signed=True)} over {d['n']} images): {d['verdict']}"
            + (" (the interval contains 0)" if d["verdict"] == "tie" else ""))


def compare_bundles(
    bundle_a: str | Path,
    bundle_b: str | Path,
    data: list[str],
    *,
    split: str = "test",
    target_purity: float | None = None,
    unknown: str = "split",
    batch_size: int = 32,
    device: str = "cpu",
    log: Any = None,
) -> dict[str, Any]:
    """Evaluate two bundles on the same data and return the comparison (see the module docstring).

    Args:
        bundle_a: the reference bundle.
        bundle_b: the candidate bundle; deltas are B - A.
        data: manifest CSVs / image folders.
        split: split to evaluate.
        target_purity: P for the oracle coverage; default the calibrated target of A (or B), else 0.99.
        unknown: ``split``, ``all`` or ``none`` (as ``evaluate --unknown``).
        batch_size: images per forward pass.
        device: torch device.
        log: callable for progress messages.
    """
    from models.bundle.io import load_bundle
    from models.data.manifest import load_data
    from models.data.splits import select_split
    from models.evaluation.evaluate import evaluate_bundle, outlier_overlap_warning, select_unknown

    say = log or (lambda _m: None)
    bundles = [load_bundle(bundle_a, device=device), load_bundle(bundle_b, device=device)]
    if target_purity is None:
        targets = [b.manifest.target_purity for b in bundles]
        target_purity = float(next((t for t in targets if t is not None), 0.99))
    if not 0.0 < target_purity < 1.0:
        raise DataError(f"--target-purity must lie strictly between 0 and 1, got {target_purity}")
    same_tree = bundles[0].taxonomy.fingerprint() == bundles[1].taxonomy.fingerprint()
    if not same_tree:
        say("note: the two bundles have different taxonomies; per-class deltas cover their common leaves")
    sides: list[dict[str, Any]] = []
    correct: list[dict[str, bool]] = []
    per_class: list[dict[str, Any]] = []
    n_images: list[int] = []
    loaded = None
    for name, path, bundle in zip(("a", "b"), (bundle_a, bundle_b), bundles, strict=True):
        if loaded is None or not same_tree:
            loaded = load_data(data, bundle.taxonomy)
        samples = select_unknown(loaded.samples, select_split(loaded.samples, split), unknown)
        if warning := outlier_overlap_warning(bundle.manifest.n_outliers, samples):
            say(f"{name.upper()}: {warning}")
        n_images.append(len(samples))
        say(f"evaluating {name.upper()} ({bundle.model_version}) on {len(samples)} image(s)")
        metrics, raw = evaluate_bundle(bundle, samples, batch_size=batch_size, device=device)
        if raw["errors"]:  # left out of the figures: said, and counted (both sides must score the same images)
            first = "; ".join(f"{Path(p).name}: {why}" for p, why in list(raw["errors"].items())[:3])
            say(f"{name.upper()}: {len(raw['errors'])} image(s) could not be read and are left out ({first}"
                f"{' …' if len(raw['errors']) > 3 else ''})")
        n_images[-1] -= len(raw["errors"])
        correct.append(_correct_by_path(samples, raw))
        sides.append({
            "bundle": str(path), "model_version": bundle.model_version, "calibrated": bundle.manifest.calibration is not None,
            "target_purity_own": bundle.manifest.target_purity,
            "metrics": _summary(metrics, raw, target_purity), "per_class": metrics["per_class"],
        })
    if n_images[0] != n_images[1]:
        raise DataError(f"the two bundles read different image sets ({n_images[0]} vs {n_images[1]})")
    a_pc, b_pc = sides[0].pop("per_class"), sides[1].pop("per_class")
    for leaf in [leaf for leaf in a_pc if leaf in b_pc]:
        ra, rb = a_pc[leaf], b_pc[leaf]
        per_class.append({
            "leaf": leaf, "name": bundles[0].taxonomy.name(leaf, "en"), "support": ra["support"],
            "recall_a": ra["recall"], "recall_b": rb["recall"], "d_recall": rb["recall"] - ra["recall"],
            "precision_a": ra["precision"], "precision_b": rb["precision"],
            "d_precision": rb["precision"] - ra["precision"],
        })
    # the most test images changed first (a change of 1.0 on one image led a lead's report), then the largest change
    per_class.sort(key=lambda r: (-round(abs(r["d_recall"]) * r["support"]),
                                  -max(abs(r["d_recall"]), abs(r["d_precision"])), r["leaf"]))
    delta = {}
    for key, _ in HEADLINE:
        va, vb = sides[0]["metrics"].get(key), sides[1]["metrics"].get(key)
        if isinstance(va, int | float) and isinstance(vb, int | float):
            delta[key] = vb - va
    return {"data": [str(d) for d in data], "split": split, "target_purity": target_purity,
            "same_taxonomy": same_tree, "a": sides[0], "b": sides[1], "delta": delta,
            "top1_diff": top1_difference(correct[0], correct[1]), "per_class": per_class}


def _fmt(value: Any, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:+d}" if signed else str(value)
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def to_markdown(result: dict[str, Any]) -> str:
    """The readable comparison: metrics side by side, then per-class deltas."""
    a, b = result["a"], result["b"]
    p = result["target_purity"]
    lines = [
        f"# {a['model_version']} (A) vs {b['model_version']} (B)",
        "",
        f"A: `{a['bundle']}`; B: `{b['bundle']}`.",  # (the heading's version ids alone: which folder was which?)
        "",
        f"Data {', '.join(result['data'])}, split `{result['split']}`; target purity P = {p:g}.",
        "",
        "| metric | A | B | B - A |",
        "|---|---:|---:|---:|",
        f"| calibrated | {_fmt(a['calibrated'])} | {_fmt(b['calibrated'])} | |",
    ]
    for key, label in HEADLINE:
        va, vb = a["metrics"].get(key), b["metrics"].get(key)
        if va is None and vb is None:
            continue
        lines.append(f"| {label} | {_fmt(va)} | {_fmt(vb)} | {_fmt(result['delta'].get(key), signed=True)} |")
    levels_a, levels_b = a["metrics"].get("level_top1") or [], b["metrics"].get("level_top1") or []
    for k, (va, vb) in enumerate(zip(levels_a, levels_b, strict=False)):
        lines.append(f"| level {k} top-1 | {_fmt(va)} | {_fmt(vb)} | {_fmt(vb - va, signed=True)} |")
    lines += [
        "",
        verdict_line(result),
        "",
        "Oracle coverage: the largest share of known images one confidence threshold, picked on this data, "
        "auto-judges at purity >= P. Auto coverage/purity use each bundle's own calibration.",
        "",
        "## Per class (most test images changed first; recall n/a where the data has none of the type)",
        "",
        "| leaf | name | support | recall A | recall B | Δ recall | precision A | precision B | Δ precision |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["per_class"]:
        none = not r["support"]  # (recall 0.0000 of no image read as a type always missed)
        lines.append(
            f"| `{r['leaf']}` | {r.get('name', '')} | {r['support']} | {_fmt(None if none else r['recall_a'])} | "
            f"{_fmt(None if none else r['recall_b'])} | {_fmt(None if none else r['d_recall'], signed=True)} | "
            f"{_fmt(r['precision_a'])} | {_fmt(r['precision_b'])} | {_fmt(r['d_precision'], signed=True)} |"
        )
    return "\n".join(lines) + "\n"


def write_comparison(out_dir: str | Path, result: dict[str, Any]) -> dict[str, Path]:
    """Write ``compare.json`` and ``compare.md``."""
    from models.evaluation.report import to_json_ready

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"compare.json": out / "compare.json", "compare.md": out / "compare.md"}
    paths["compare.json"].write_text(
        json.dumps(to_json_ready(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    paths["compare.md"].write_text(to_markdown(result), encoding="utf-8")
    return paths
