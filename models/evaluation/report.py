"""Write an evaluation folder: metrics.json, the confusion matrix (CSV + PNG), calibration and
risk-coverage figures, and a Markdown report that ties them together.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas, never through
``pyplot``, so writing a report needs no display and does not change the backend of a host process
(the desktop app may be running Qt).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.evaluation.metrics import confusion_matrix, reliability_bins, risk_coverage_curve

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from models.taxonomy import Taxonomy

__all__ = ["to_json_ready", "write_evaluation", "write_metrics_json"]

_DIGITS = 6
_ANNOTATE_MAX_CLASSES = 30
_DPI = 120


def to_json_ready(value: Any) -> Any:
    """Plain JSON data from metrics: numpy scalars/arrays unwrapped, floats rounded to 6 digits,
    NaN and infinities turned into ``None``, mapping keys turned into strings."""
    if isinstance(value, dict):
        return {str(key): to_json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_json_ready(item) for item in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return round(number, _DIGITS) if math.isfinite(number) else None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"cannot write a {type(value).__name__} to metrics.json: {value!r}")


def write_metrics_json(path: str | Path, metrics: dict) -> Path:
    """Write ``metrics`` as JSON (indent 2, sorted keys, floats rounded to 6 digits, NaN -> null)."""
    path = Path(path)
    text = json.dumps(to_json_ready(metrics), indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _known_predictions(
    leaf_probs: np.ndarray, targets: np.ndarray, unknown_mask: np.ndarray | None, num_leaves: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted leaf, true leaf and confidence of the known samples."""
    probs = np.asarray(leaf_probs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if probs.ndim != 2 or probs.shape[1] != num_leaves:
        raise ValueError(f"leaf_probs must have shape (N, {num_leaves}) for this taxonomy, got {probs.shape}")
    if targets.shape != (len(probs),):
        raise ValueError(f"targets must have shape ({len(probs)},), got {targets.shape}")
    if unknown_mask is None:
        known = targets >= 0
    else:
        unknown = np.asarray(unknown_mask, dtype=bool)
        if unknown.shape != targets.shape:
            raise ValueError(f"unknown_mask must have shape {targets.shape}, got {unknown.shape}")
        known = ~unknown
    probs, targets = probs[known], targets[known]
    if len(targets) and (targets.min() < 0 or targets.max() >= num_leaves):
        raise ValueError(f"targets of known samples must lie in [0, {num_leaves})")
    pred = np.argsort(-probs, axis=1, kind="stable")[:, 0] if len(probs) else np.zeros(0, dtype=np.int64)
    confidence = probs.max(axis=1) if len(probs) else np.zeros(0)
    return pred, targets, confidence


def _blocks(ids: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal values: ``(start, stop, value)`` per run."""
    runs: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or ids[i] != ids[start]:
            runs.append((start, i, int(ids[start])))
            start = i
    return runs


def _new_figure(width: float, height: float) -> Figure:
    """A figure bound to the Agg canvas explicitly (no pyplot, no global backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def _plot_confusion(path: Path, matrix: np.ndarray, taxonomy: Taxonomy, title: str) -> None:
    n = len(taxonomy.leaves)
    side = float(np.clip(0.42 * n + 3.0, 6.0, 40.0))
    cell_points = side * 72.0 * 0.75 / n  # rough height of one matrix row, in points
    tick_size = float(np.clip(cell_points * 0.55, 4.0, 9.0))
    label_size = float(np.clip(side * 0.45, 10.0, 18.0))
    figure = _new_figure(side + 1.6, side)
    ax = figure.add_subplot(1, 1, 1)
    support = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(support > 0, matrix / np.maximum(support, 1), 0.0)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    colorbar = figure.colorbar(image, ax=ax, fraction=0.04, shrink=0.8, pad=1.0 / side)
    colorbar.set_label("share of the true class (row)", fontsize=label_size)
    positions = np.arange(n)
    ax.set_xticks(
        positions, labels=taxonomy.leaves, rotation=60, ha="right", rotation_mode="anchor", fontsize=tick_size
    )
    ax.set_yticks(positions, labels=taxonomy.leaves, fontsize=tick_size)
    ax.set_xlabel("predicted leaf", fontsize=label_size)
    ax.set_ylabel("true leaf", fontsize=label_size)
    if n <= _ANNOTATE_MAX_CLASSES:
        annotate_size = float(np.clip(12.0 - n / 4.0, 6.0, 10.0))
        for t, p in zip(*np.nonzero(matrix), strict=True):
            color = "white" if share[t, p] > 0.55 else "black"
            ax.text(p, t, str(matrix[t, p]), ha="center", va="center", fontsize=annotate_size, color=color)
    index = np.asarray(taxonomy.leaf_level_index)
    if taxonomy.num_levels >= 2:
        subgroup_runs = _blocks(index[:, -2])
        group_starts = {start for start, _, _ in _blocks(index[:, 0])}
        for start, _, _ in subgroup_runs[1:]:
            width = 2.2 if start in group_starts else 1.0
            ax.axhline(start - 0.5, color="0.25", linewidth=width)
            ax.axvline(start - 0.5, color="0.25", linewidth=width)
        level = taxonomy.levels[-2]
        centers = [(start + stop - 1) / 2 for start, stop, _ in subgroup_runs]
        names = [level[value] for _, _, value in subgroup_runs]
        top = ax.secondary_xaxis("top")
        top.set_xticks(centers, labels=names, fontsize=tick_size + 0.5, rotation=0 if len(names) <= 8 else 90)
        top.tick_params(length=0)
        right = ax.secondary_yaxis("right")
        right.set_yticks(
            centers,
            labels=names,
            fontsize=tick_size + 0.5,
            rotation=-90 if len(names) <= 8 else 0,
            va="center",
        )
        right.tick_params(length=0)
    total = int(matrix.sum())
    accuracy = np.trace(matrix) / total if total else float("nan")
    heading = f"{title} - confusion matrix" if title else "Confusion matrix"
    ax.set_title(
        f"{heading}\n{total} known samples, top-1 {accuracy:.3f} (colour: row share, text: count)",
        pad=28 if taxonomy.num_levels >= 2 else 8,
        fontsize=label_size,
    )
    figure.tight_layout()
    figure.savefig(path)


def _plot_reliability(path: Path, confidence: np.ndarray, correct: np.ndarray, n_bins: int, ece: Any) -> None:
    bins = reliability_bins(confidence, correct, n_bins)
    edges = bins["edges"]
    centers = (edges[:-1] + edges[1:]) / 2
    width = edges[1] - edges[0]
    filled = bins["count"] > 0
    figure = _new_figure(6.4, 7.0)
    grid = figure.add_gridspec(2, 1, height_ratios=[3, 1], hspace=0.08)
    ax = figure.add_subplot(grid[0])
    hist = figure.add_subplot(grid[1], sharex=ax)
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.4", linewidth=1, label="perfect calibration")
    ax.bar(
        centers[filled],
        bins["accuracy"][filled],
        width=width * 0.95,
        color="tab:blue",
        edgecolor="navy",
        label="accuracy",
    )
    gap_bottom = np.minimum(bins["accuracy"], bins["confidence"])[filled]
    gap = np.abs(bins["accuracy"] - bins["confidence"])[filled]
    ax.bar(
        centers[filled],
        gap,
        bottom=gap_bottom,
        width=width * 0.95,
        facecolor="none",
        hatch="///",
        edgecolor="tab:red",
        linewidth=1.0,
        label="gap to mean confidence",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ece_text = f"{float(ece):.4f}" if ece is not None and math.isfinite(float(ece)) else "n/a"
    ax.set_title(f"Reliability (max leaf probability, {n_bins} bins), ECE = {ece_text}")
    ax.legend(loc="upper left", fontsize=8)
    ax.tick_params(labelbottom=False)
    if not filled.any():
        ax.text(0.5, 0.5, "no known samples", ha="center", va="center", transform=ax.transAxes)
    hist.bar(centers, bins["count"], width=width * 0.95, color="0.55")
    hist.set_xlabel("confidence (max leaf probability)")
    hist.set_ylabel("samples")
    figure.subplots_adjust(left=0.12, right=0.97, top=0.94, bottom=0.08)
    figure.savefig(path)


def _plot_risk_coverage(path: Path, confidence: np.ndarray, correct: np.ndarray, aurc: Any) -> None:
    figure = _new_figure(6.4, 4.8)
    ax = figure.add_subplot(1, 1, 1)
    if len(correct):
        coverage, risk = risk_coverage_curve(confidence, correct)
        # The oracle ranks every correct sample above every wrong one: the best possible curve.
        _, best = risk_coverage_curve(correct.astype(np.float64), correct)
        aurc_text = f"{float(aurc):.4f}" if aurc is not None and math.isfinite(float(aurc)) else "n/a"
        ax.plot(coverage, risk, color="tab:blue", linewidth=1.8, label=f"model (AURC {aurc_text})")
        ax.plot(
            coverage,
            best,
            color="tab:green",
            linestyle="--",
            linewidth=1.2,
            label=f"oracle ranking (AURC {best.mean():.4f})",
        )
        ax.axhline(
            risk[-1],
            color="0.5",
            linestyle=":",
            linewidth=1,
            label=f"error at full coverage ({risk[-1]:.3f})",
        )
        ax.set_ylim(0, max(float(risk.max()) * 1.1, 0.05))
        ax.legend(loc="upper left", fontsize=8)
    else:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "no known samples", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(0, 1)
    ax.set_xlabel("coverage (share kept, most confident first)")
    ax.set_ylabel("risk (error rate among kept)")
    ax.set_title("Risk-coverage (confidence = max leaf probability)")
    ax.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)


def _write_confusion_csv(path: Path, matrix: np.ndarray, leaves: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true\\pred", *leaves])
        for leaf, row in zip(leaves, matrix.tolist(), strict=True):
            writer.writerow([leaf, *row])


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):.4f}" if math.isfinite(float(value)) else "n/a"
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, float | int) for v in value):
        low, high = (_fmt(float(v)) for v in value)
        return "n/a" if "n/a" in (low, high) else f"{low} – {high}"  # an interval
    return str(value)


_HEADLINE: tuple[tuple[str, str], ...] = (
    ("n", "Samples"),
    ("n_known", "Known samples"),
    ("n_unknown", "Unknown samples"),
    ("top1", "Top-1 accuracy (leaf)"),
    ("top1_ci", "Top-1 95 % bootstrap interval"),
    ("macro_recall", "Macro recall (mean over leaves with test images)"),
    ("worst_leaf_recall", "Worst leaf recall"),
    ("head_top1", "Top-1 on the head third of the leaves (most training images)"),
    ("tail_top1", "Top-1 on the tail third of the leaves (fewest training images)"),
    ("tail_macro_recall", "Macro recall on the tail third"),
    ("tail_never_predicted", "Tail leaves never predicted"),
    ("tail_train_max", "Tail: at most this many training images per leaf"),
    ("top2", "Top-2 accuracy"),
    ("top3", "Top-3 accuracy"),
    ("top4", "Top-4 accuracy"),
    ("top5", "Top-5 accuracy"),
    ("hier_precision", "Hierarchical precision"),
    ("hier_recall", "Hierarchical recall"),
    ("hier_f1", "Hierarchical F1"),
    ("mistake_severity", "Mistake severity (mean tree distance of wrong top-1)"),
    ("ece", "ECE (max leaf probability)"),
    ("aurc", "AURC (lower is better)"),
    ("unknown_auroc", "Unknown AUROC"),
    ("auto_coverage", "Auto-judged share of all samples"),
    ("auto_purity", "Purity of auto-judged samples"),
    ("unknown_auto_rate", "Unknowns auto-judged"),
)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _level_label(taxonomy: Taxonomy, level: int) -> str:
    if level == taxonomy.num_levels - 1:
        return f"Level {level} top-1 (leaves)"
    if level == 0:
        return "Level 0 top-1 (groups)"
    return f"Level {level} top-1"


def _markdown(metrics: dict, taxonomy: Taxonomy, title: str, images: dict[str, Path], extra_md: str) -> str:
    lines = [
        f"# {title or 'Evaluation report'}",
        "",
        f"Taxonomy `{taxonomy.id}`"
        f" (version {taxonomy.version}, {len(taxonomy.leaves)} leaves, levels {taxonomy.level_sizes}).",
        "",
    ]
    lines += ["## Summary", "", "| Metric | Value |", "|---|---|"]
    level_rows: list[tuple[str, Any]] = []
    for level, value in enumerate(metrics.get("level_top1") or []):
        level_rows.append((_level_label(taxonomy, level), value))
    for key, label in _HEADLINE:
        if key in metrics:
            value = _fmt(metrics[key])
            if key == "worst_leaf_recall" and metrics.get("worst_leaf"):
                value += f" (`{metrics['worst_leaf']}`)"
            lines.append(f"| {label} | {value} |")
        if key == "top5":
            lines += [f"| {label_} | {_fmt(value)} |" for label_, value in level_rows]
    lines.append("")
    if metrics.get("level_top1_source") == "leaf_marginal":
        lines += ["Level accuracies use the leaf distribution summed onto each level.", ""]
    if never := metrics.get("never_predicted"):
        lines += [
            f"**Never predicted:** {', '.join(f'`{leaf}`' for leaf in never)} "
            f"({len(never)} leaf/leaves with test images that the model predicted for no image).",
            "",
        ]
    per_class = metrics.get("per_class") or {}
    if per_class:
        lines += [
            "## Per class",
            "",
            "| Leaf | Name | Parent | Precision | Recall | F1 | Support |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        for leaf in taxonomy.leaves:
            row = per_class.get(leaf)
            if row is None:
                continue
            parent = taxonomy.parent(leaf) or ""
            lines.append(
                f"| `{leaf}` | {_cell(taxonomy.name(leaf))} | {parent} | {_fmt(row.get('precision'))} | "
                f"{_fmt(row.get('recall'))} | {_fmt(row.get('f1'))} | {_fmt(row.get('support'))} |"
            )
        lines.append("")
    lines += ["## Figures", ""]
    captions = {
        "confusion_matrix.png": "Confusion matrix",
        "reliability.png": "Reliability diagram",
        "risk_coverage.png": "Risk-coverage curve",
    }
    for name, caption in captions.items():
        if name in images:
            lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    lines += [
        "The full confusion matrix is in [confusion_matrix.csv](confusion_matrix.csv) "
        "and every metric in [metrics.json](metrics.json).",
        "",
    ]
    if extra_md:
        lines += [extra_md.rstrip(), ""]
    return "\n".join(lines)


def write_evaluation(
    out_dir: str | Path,
    metrics: dict,
    *,
    leaf_probs: np.ndarray,
    targets: np.ndarray,
    taxonomy: Taxonomy,
    title: str = "",
    extra_md: str = "",
    unknown_mask: np.ndarray | None = None,
) -> dict[str, Path]:
    """Write the evaluation folder.

    Files: ``metrics.json`` (indent 2, sorted keys, floats rounded to 6 digits, NaN -> null),
    ``confusion_matrix.csv`` (first row and column are leaf ids; rows = true, columns =
    predicted), ``confusion_matrix.png``, ``reliability.png``, ``risk_coverage.png`` and
    ``report.md`` (summary table, per-class table, the figures by relative path, then
    ``extra_md``). The confusion matrix and figures use only known samples.

    Args:
        out_dir: folder to write into; created if missing, existing files are overwritten.
        metrics: the dict from :func:`models.evaluation.metrics.compute_metrics` (extra keys are kept).
        leaf_probs: ``(N, num_leaves)`` leaf distribution the metrics were computed from.
        targets: ``(N,)`` true leaf indices.
        taxonomy: the model's taxonomy.
        title: heading of the report and figure titles.
        extra_md: Markdown appended at the end of ``report.md``.
        unknown_mask: ``(N,)`` True for samples outside the taxonomy; when omitted, samples with
            a negative target are treated as unknown.

    Returns:
        ``{file name: path}`` for every file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    leaves = list(taxonomy.leaves)
    pred, known_targets, confidence = _known_predictions(leaf_probs, targets, unknown_mask, len(leaves))
    correct = pred == known_targets
    matrix = confusion_matrix(pred, known_targets, len(leaves))
    written: dict[str, Path] = {"metrics.json": write_metrics_json(out / "metrics.json", metrics)}
    written["confusion_matrix.csv"] = out / "confusion_matrix.csv"
    _write_confusion_csv(written["confusion_matrix.csv"], matrix, leaves)
    written["confusion_matrix.png"] = out / "confusion_matrix.png"
    _plot_confusion(written["confusion_matrix.png"], matrix, taxonomy, title)
    written["reliability.png"] = out / "reliability.png"
    n_bins = int(metrics.get("n_bins") or 15)
    _plot_reliability(written["reliability.png"], confidence, correct, n_bins, metrics.get("ece"))
    written["risk_coverage.png"] = out / "risk_coverage.png"
    _plot_risk_coverage(written["risk_coverage.png"], confidence, correct, metrics.get("aurc"))
    written["report.md"] = out / "report.md"
    written["report.md"].write_text(_markdown(metrics, taxonomy, title, written, extra_md), encoding="utf-8")
    return written
