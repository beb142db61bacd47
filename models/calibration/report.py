"""The reports of ``fma-model calibrate`` (and ``fma-judge recalibrate``): the table it prints, ``calibration.json``
and the risk-coverage plot, from a :class:`models.calibration.calibrate.CalibrationResult`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.calibration.calibrate import CalibrationResult
    from models.calibration.thresholds import LeafThreshold


def needed_text(options) -> str:
    """How many judged images a threshold needs at the least under ``options`` (a ``CalibrationOptions``), in
    words: what ``fma-judge recalibrate``'s refusal and ``fma-model calibrate``'s warning say."""
    from models.calibration.thresholds import images_needed

    need = images_needed(options.target_purity, bound=options.bound, confidence=options.confidence)
    promise = f"purity {options.target_purity:g} at {options.confidence:.0%} confidence"
    if options.method == "per-leaf":
        return (f"to show {promise}, a defect type needs at least {max(need, options.min_support)} judged images "
                "predicted as it, all right (more when some are wrong)")
    return (f"to show {promise}, at least {need} judged images of known types are needed, all right (more when some "
            f"are wrong), and a defect type takes part with at least {options.min_support} predicted as it")


def _threshold_row(name: str, lt: LeafThreshold, without: str) -> str:
    """One row of the leaf or node table; ``without`` heads the note of a row without a threshold."""
    if lt.threshold is None:
        note = f"{without}: " + (lt.reason or "").split(":", 1)[0]
        return f"{name:<22} {lt.support:>7} {'-':>9} {'-':>8} {'-':>7} {'-':>6}  {note}"
    return (f"{name:<22} {lt.support:>7} {lt.threshold:>9.4f} {lt.coverage:>8.3f} "
            f"{lt.purity:>7.3f} {lt.purity_lower:>6.3f}")


def _starts(starts: int, asked: int) -> str:
    """How many starting points the leaves' fixed sequence had (``--ltt-starts``; fewer than asked when the images
    were too few for the later ones)."""
    fewer = f" (of {asked} asked: too few images for more)" if starts < asked else ""
    return f", one start{fewer}" if starts <= 1 else f", {starts} starts at 1/{starts} of the error budget each{fewer}"


FLOOR_WARNING = 0.1
"""A leaf floor this far under the target is said as a warning: the purity monitor would let that type's production
purity fall that far before it pauses it."""


def floors_lines(result: CalibrationResult) -> list[str]:
    """The leaves one promise over all auto-judged images lets under the target (``routing.leaf_floor``): each with
    its share right at or above the threshold, since the purity monitor holds it to that floor, not to the target. A
    recalibration on a team's judged images passed with crack at 8 of 9 right (floor 0.571) and said nothing; only
    `fma-judge monitor` showed the floor (team lead's walk-through)."""
    floors = result.calibration.leaf_floor
    if not floors:
        return []
    target = result.options.target_purity

    def said(leaf: str) -> str:
        lt = result.leaves.get(leaf)
        right = "" if lt is None else f" ({round(lt.purity * lt.n_auto)} of {lt.n_auto} right at or above the threshold)"
        return f"{leaf} {floors[leaf]:.3f}{right}"

    weak = sorted(leaf for leaf, floor in floors.items() if floor < target - FLOOR_WARNING)
    lines = ["", f"under the target {target:g} on these images, so held by the purity monitor to their own floor: "
                 + "; ".join(said(leaf) for leaf in sorted(floors))]
    if weak:
        lines.append(f"warning: {', '.join(weak)} may be auto-judged at a purity far under {target:g} before the "
                     "monitor pauses them; judge more of their images and recalibrate, or pause them by hand "
                     "(fma-judge monitor --pause TYPE)")
    return lines


def format_table(result: CalibrationResult) -> str:
    """The per-leaf table and the overall lines, as printed by the command."""
    head = f"{'leaf':<22} {'support':>7} {'threshold':>9} {'coverage':>8} {'purity':>7} {'lower':>6}  note"
    lines = [head, "-" * len(head)]
    lines += [_threshold_row(leaf, lt, "always re-judge") for leaf, lt in result.leaves.items()]
    s = result.summary
    opts = result.options
    if s.get("method") == "ltt":
        fit = s["ltt"]["leaf"]
        lines += ["", f"method ltt: purity >= {opts.target_purity:g} over all auto-judged images, with probability "
                      f"{opts.confidence:g} (Learn-then-Test{_starts(fit.get('starts', 1), opts.ltt_starts)}); one threshold "
                  + ("none" if fit["threshold"] is None else f"{fit['threshold']:.4f}: {fit['n_auto']} of "
                     f"{fit['candidates']} calibration images at or above, {fit['errors']} wrong, "
                     f"p = {fit['pvalue']:.3g}")]
    else:
        lines += ["", f"method per-leaf: each leaf's purity >= {opts.target_purity:g} ({opts.bound} bound at "
                      f"{opts.confidence:g})"]

    def pct(v: float) -> str:
        return "n/a" if not math.isfinite(v) else f"{v:.3f}"

    lines += [
        "",
        f"known images auto-judged by the thresholds: coverage {pct(s['threshold_coverage'])}, "
        f"purity {pct(s['threshold_purity'])} "
        f"({s['leaves_with_threshold']}/{len(result.leaves)} leaves have a threshold)",
        f"with unknown filter and spot checks (all {s['n']} images): auto coverage {pct(s['auto_coverage'])}, "
        f"purity {pct(s['auto_purity'])}"
        + (f", unknowns auto-judged {pct(s['unknown_auto_rate'])}" if s["n_unknown"] else ""),
        "re-judge reasons: " + ", ".join(f"{k} {v}" for k, v in s["reasons"].items()),
    ]
    lines += floors_lines(result)
    if flips := result.calibration.flips:
        lines.append(f"test-time flips: {', '.join(flips)} (each image and {len(flips)} flipped view(s), level "
                     "logits averaged; the bundle predicts so from now on)")
    if result.nodes:
        lines += ["", f"{'group / subgroup':<22} {'support':>7} {'threshold':>9} {'coverage':>8} {'purity':>7} "
                      f"{'lower':>6}"]
        lines += [_threshold_row(node, lt, "never determined") for node, lt in result.nodes.items()]
        at_least = s["determined_at_least"]
        lines.append("determined (known images, climbing from the leaf): "
                     + ", ".join(f"level {k} or deeper {pct(v)}" for k, v in enumerate(at_least))
                     + f"; none {pct(s['determined_level_share']['none'])}; purity of the known images' "
                     f"determined nodes {pct(s['hierarchical_purity'])}"
                     + (f"; images outside the tree with a determined node: {s['unknown_determined']} of "
                        f"{s['n_unknown']}" if s["n_unknown"] else "")  # (the summary is always calibrate's own)
                     + ("; flagged images climb (--flagged-climb)" if result.calibration.flagged_climb else ""))
    return "\n".join(lines)


def write_reports(out_dir: str | Path, result: CalibrationResult, *, title: str = "") -> dict[str, Path]:
    """Write ``calibration.json`` and ``risk_coverage.png`` into ``out_dir``."""
    from models.evaluation.report import to_json_ready

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "title": title,
        "summary": result.summary,
        "per_leaf": {leaf: lt.__dict__ for leaf, lt in result.leaves.items()},
        "manifest_updates": result.manifest_updates(),
        "risk_coverage": result.curve,
    }
    paths = {"calibration.json": out / "calibration.json", "risk_coverage.png": out / "risk_coverage.png"}
    paths["calibration.json"].write_text(
        json.dumps(to_json_ready(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    _plot(paths["risk_coverage.png"], result, title)
    return paths


def _plot(path: Path, result: CalibrationResult, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.8), dpi=120)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    cov, risk = result.curve["coverage"], result.curve["risk"]
    target = result.options.target_purity
    if cov:
        ax.plot(cov, risk, color="tab:blue", linewidth=1.8, label="one global confidence threshold")
    ax.axhline(1 - target, color="tab:red", linestyle="--", linewidth=1, label=f"target risk {1 - target:.3g}")
    s = result.summary
    if math.isfinite(s["threshold_purity"]):
        ax.plot([s["threshold_coverage"]], [1 - s["threshold_purity"]], "o", color="tab:green",
                label=f"per-leaf thresholds (coverage {s['threshold_coverage']:.2f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, min(1.02, max(max(risk, default=0.0) * 1.1, (1 - target) * 2, 0.02)))
    ax.set_xlabel("coverage (share auto-judged)")
    ax.set_ylabel("risk (1 - purity)")
    ax.set_title(title or "Risk-coverage on the calibration split", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
