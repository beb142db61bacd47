"""``python -m bench.regimes [--work DIR] [--out DIR] [--tune-minutes 60] [--regimes tail,low,demo] [--rows ...]``.

Issue #14's table: the three synthetic regimes x {the plain reference, today's defaults, the new defaults
(hierarchical and flat), tuned}, every run with the same backbone (EfficientNet-Lite0 from the ImageNet file in
``../shared/weights``), input size, batch size, seed and epoch budget (:data:`BASE`). Each run is
``fma-model train`` + ``fma-model evaluate`` in subprocesses (:func:`models.training.grid.train_and_evaluate`);
each row is then compared with the plain reference on the same test images (paired bootstrap, 95 %), and the
tuned row with the new defaults. ``tuned`` runs ``fma-model tune --objective top1 --budget-minutes M`` on the
regime's validation split, then trains ``best.yaml`` with the same budget. With ``--tune-input-size`` the study
also searches the input size (``--input-size`` is its first trial's, and the fixed rows'), and the tuned row
trains at the size it chose; without it the input size stays fixed like the epochs.

``--seeds 0,1,2`` runs every row once per training seed (the data stay the same; seed 0's runs keep their old
folders, the others go to ``runs/REGIME/seedN/``) and adds a table of each row's mean ± standard deviation over
the seeds. The rows ``crt (hier)``, ``posthoc (flat)``, ``balanced_softmax (hier)`` and ``drw (hier)`` (run only
when ``--rows`` names them) train with an imbalance method ``auto`` does not take for that head on a long tail, and
are also compared with the new defaults of their head.

``--balanced-test N`` also renders, per regime, a test set of the same look with N images of every leaf (seed
100, no long tail) and evaluates every row on it too: on the long-tailed regime's own test split a rare leaf has 2-4
images, too few to tell a leaf never learned from an unlucky draw.

Writes ``OUT/regimes.json`` and ``OUT/regimes.md`` (rewritten after every run, so a long run can be read while it
goes on); the data, bundles, logs and the study stay under ``WORK``.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bench.common import ROOT, log, write_result

WEIGHTS = ROOT.parent / "shared" / "weights" / "efficientnet_lite0_in1k.safetensors"
EPOCHS = 6
INPUT_SIZE = 128

REGIMES: dict[str, list[str]] = {
    "demo": ["--per-class", "60", "--seed", "0"],
    "tail": ["--per-class", "200", "--seed", "0", "--grayscale", "--long-tail", "0.1", "--pattern", "pentile"],
    "low": ["--per-class", "30", "--seed", "0"],
}
"""``fma-model synth`` options of each regime: the demo look, grayscale long-tailed with the PenTile panel
pattern (20-200 images per leaf), low data (30 per leaf)."""

DEC01_LOSS = ["loss.kind=hierarchical", "loss.level_weights=equal"]
"""The loss of the defaults from 2026-12-01 to 2026-12-06 (the "new defaults (hier)" rows; the layer loss with the
leaf weighted since), pinned so that every row measured against them keeps its meaning."""

OLD_DEFAULTS = [*DEC01_LOSS, "lr=1e-3", "backbone_lr_scale=0.3", "imbalance=none", "augment.crop_scale=0.85", "augment.saturation=0.1", "augment.hue=0.02",
                "schedule=cosine", "loss.label_smoothing=0.0", "augment.rot90=true", "augment.brightness=0.2",
                "augment.contrast=0.2", "augment.blur_p=0.2", "augment.noise_std=0.02"]
"""The defaults before #14, pinned: no imbalance handling, warmup + cosine, no label smoothing, 90° turns, blur,
brightness/contrast/colour jitter and noise whatever the data, a fixed crop."""


def _rows() -> dict[str, list[str]]:
    from models.training.grid import FRAMEWORKS

    flat = ["network.head=flat", "loss.kind=flat"]
    return {
        "plain": [f"{k}={v}" for k, v in FRAMEWORKS["plain"].items()],
        "old defaults (hier)": OLD_DEFAULTS,
        "old defaults (flat)": OLD_DEFAULTS + flat,
        "defaults (hier)": [],
        "new defaults (hier)": DEC01_LOSS,
        "new defaults (flat)": flat,
        "crt (hier)": [*DEC01_LOSS, "imbalance=crt"],
        "posthoc (flat)": ["imbalance=posthoc", *flat],
        "balanced_softmax (hier)": [*DEC01_LOSS, "imbalance=balanced_softmax"],
        "drw (hier)": [*DEC01_LOSS, "imbalance=drw"],
        "no imbalance (hier)": [*DEC01_LOSS, "imbalance=none"],
        "flat head (hier loss)": [*DEC01_LOSS, "network.head=flat"],
        "leaf-weighted (hier)": ["loss.kind=hierarchical", "loss.level_weights=[0.25,0.25,1]"],
        "leaf-heavy (hier)": ["loss.kind=hierarchical", "loss.level_weights=[0.1,0.1,1]"],
        "leaf-weighted no dependence (hier)": ["loss.kind=hierarchical", "loss.level_weights=[0.25,0.25,1]",
                                               "loss.dependence_weight=0"],
        "no dependence (hier)": [*DEC01_LOSS, "loss.dependence_weight=0"],
        "crt (defaults hier)": ["imbalance=crt"],
        "balanced_softmax (defaults hier)": ["imbalance=balanced_softmax"],
    }


REFERENCE = {"tuned": "new defaults (hier)", "crt (hier)": "new defaults (hier)", "posthoc (flat)": "new defaults (flat)",
             "balanced_softmax (hier)": "new defaults (hier)", "drw (hier)": "new defaults (hier)",
             "no imbalance (hier)": "new defaults (hier)", "flat head (hier loss)": "new defaults (hier)",
             "leaf-weighted (hier)": "new defaults (hier)", "leaf-heavy (hier)": "new defaults (hier)",
             "leaf-weighted no dependence (hier)": "new defaults (hier)", "no dependence (hier)": "new defaults (hier)",
             "defaults (hier)": "new defaults (hier)", "crt (defaults hier)": "defaults (hier)",
             "balanced_softmax (defaults hier)": "defaults (hier)"}
"""Rows also compared (paired) with another row than ``plain``: the tuned row, and the imbalance methods ``auto`` does
not take for that head on a long tail (``crt``, ``balanced_softmax`` and ``drw`` for the hierarchical head,
``posthoc`` for the flat one, :mod:`models.training.inspection`), with the new defaults."""


def base_sets(epochs: int, input_size: int, seed: int = 0) -> list[str]:
    """What every run shares (``seed``: the training seed; the data are the same for every seed)."""
    return ["network.backbone=efficientnet_lite0", f"network.pretrained_file={WEIGHTS}", f"input_size={input_size}",
            f"epochs={epochs}", "batch_size=32", "num_workers=2", f"seed={seed}", "early_stopping_patience=0"]


def run_folder(work: Path, regime: str, row: str, seed: int) -> Path:
    """Where a row's run of ``seed`` lives under ``WORK`` (seed 0 where runs were before ``--seeds``)."""
    runs = work / "runs" / regime / (f"seed{seed}" if seed else "")
    return runs / row.replace(" ", "_").replace("(", "").replace(")", "")


def _synth(name: str, work: Path) -> Path:
    manifest = work / name / "manifest.csv"
    if not manifest.exists():
        log(f"[regimes] synth {name} ...")
        cmd = [sys.executable, "-m", "models.commands.cli", "synth", str(work / name), *REGIMES[name], "--workers", "2"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return manifest


def _balanced(name: str, work: Path, per_class: int) -> Path:
    """The regime's look with ``per_class`` test images of every leaf (module doc)."""
    manifest = work / f"{name}_balanced{per_class}" / "manifest.csv"
    if not manifest.exists():
        look, options = [], iter(REGIMES[name])
        for option in options:
            value = next(options) if option in ("--per-class", "--seed", "--long-tail", "--pattern") else None
            if option not in ("--per-class", "--seed", "--long-tail"):
                look += [option] + ([value] if value is not None else [])
        log(f"[regimes] synth {manifest.parent.name} ...")
        cmd = [sys.executable, "-m", "models.commands.cli", "synth", str(manifest.parent), *look, "--per-class",
               str(per_class), "--seed", "100", "--split", "0,0,1", "--workers", "2"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return manifest


def train_counts(manifest: Path) -> dict[str, int]:
    """Training images per leaf of a regime's manifest."""
    with manifest.open(newline="", encoding="utf-8") as fh:
        return dict(Counter(r["label"] for r in csv.DictReader(fh) if r.get("split") == "train"))


def thirds(counts: dict[str, int], per_class: dict[str, Any]) -> dict[str, float | None] | None:
    """Mean recall of the third of the leaves with the most training images (``head``), the ``middle`` third and
    the ``tail`` third (the rarest), from ``metrics.json``'s ``per_class``; None with fewer than three leaves, or
    when the largest count is under 3x the smallest (no tail to speak of: the thirds would be arbitrary)."""
    order = sorted(counts, key=lambda leaf: (-counts[leaf], leaf))
    k = len(order) // 3
    if k == 0 or counts[order[0]] < 3 * max(1, counts[order[-1]]):
        return None
    parts = {"head": order[:k], "middle": order[k:len(order) - k], "tail": order[len(order) - k:]}
    out: dict[str, float | None] = {}
    for part, leaves in parts.items():
        recalls = [per_class[leaf]["recall"] for leaf in leaves if (per_class.get(leaf) or {}).get("support")]
        out[part] = sum(recalls) / len(recalls) if recalls else None
    return out


def _evaluate_on(bundle: Path, manifest: Path, out: Path, counts: dict[str, int], reuse: bool = False
                 ) -> dict[str, Any]:
    """Leaf Top-1, macro and worst-leaf recall, the leaves with recall 0 and the recall by thirds of the training
    counts (:func:`thirds`), of a bundle on a test split (``reuse``: an evaluation already in ``out``)."""
    cmd = [sys.executable, "-m", "models.commands.cli", "evaluate", str(bundle), "--data", str(manifest), "--split",
           "test", "--out", str(out)]
    done = reuse and (out / "metrics.json").exists() and \
        (out / "metrics.json").stat().st_mtime > (bundle / "manifest.json").stat().st_mtime  # not of an older bundle
    if not done and subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT) != 0:
        return {"status": "evaluate failed"}
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    per_class = m.get("per_class") or {}
    zero = sorted(leaf for leaf, c in per_class.items() if c.get("support") and not c.get("recall"))
    return {"status": "ok", "top1": m.get("top1"), "macro_recall": m.get("macro_recall"),
            "worst_leaf_recall": m.get("worst_leaf_recall"), "recall_zero": zero, "n": m.get("n_known"),
            "thirds": thirds(counts, per_class)}


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    m = row.get("metrics") or {}
    return {"status": row.get("status"), "top1": m.get("top1"), "top1_ci": m.get("top1_ci"),
            "macro_recall": m.get("macro_recall"), "worst_leaf_recall": m.get("worst_leaf_recall"),
            "never_predicted": len(m.get("never_predicted") or []), "hier_f1": m.get("hier_f1"),
            "sec_per_epoch": row.get("sec_per_epoch"), "wall_s": row.get("wall_s")}


def _paired(bundle_a: Path, bundle_b: Path, manifest: Path) -> dict[str, Any]:
    from models.evaluation.compare import compare_bundles

    result = compare_bundles(bundle_a, bundle_b, [str(manifest)], split="test")
    return result["top1_diff"]


def _without_input_size(sets: list[str]) -> list[str]:
    return [s for s in sets if not s.startswith("input_size=")]


def _tune(manifest: Path, cell: Path, sets: list[str], minutes: float, input_size: int | None = None) -> Path | None:
    """``fma-model tune`` on ``manifest`` into ``cell/study``; ``input_size``: searched, this size first (None:
    fixed by ``sets``)."""
    study = cell / "study"
    cmd = [sys.executable, "-m", "models.commands.cli", "tune", "--data", str(manifest), "--out", str(study),
           "--objective", "top1", "--budget-minutes", str(minutes), "--trials", "1000"]
    if (study / "study.sqlite3").exists():
        cmd.append("--resume")
    cell.mkdir(parents=True, exist_ok=True)
    if input_size is not None:  # the base config's value, not a --set: tune searches what --set does not fix
        (cell / "tune_base.yaml").write_text(f"input_size: {input_size}\n", encoding="utf-8")
        cmd += ["--config", str(cell / "tune_base.yaml")]
        sets = _without_input_size(sets)
    for s in sets:  # the budget, backbone, (input size) and seed stay fixed; the rest is the tuner's to choose
        cmd += ["--set", s]
    with (cell / "tune.log").open("w", encoding="utf-8") as fh:
        rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT)
    best = study / "best.yaml"
    return best if rc == 0 and best.exists() else None


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    return f"{100 * v:.1f}" if isinstance(v, float) else str(v)


def to_markdown(results: dict[str, Any]) -> str:
    lines = ["| regime | row | leaf Top-1 % (95 % CI) | vs plain, pts (paired 95 % CI) | macro recall % | "
             "worst leaf recall % | leaves never predicted | s/epoch |", "|---|---|---|---|---|---|---|---|"]
    for regime, rows in results["regimes"].items():
        for name, r in rows.items():
            ci = r.get("top1_ci") or [None, None]
            d = r.get("vs_plain")
            vs = (f"{100 * d['delta']:+.1f} ({100 * d['ci'][0]:+.1f} to {100 * d['ci'][1]:+.1f}, {d['verdict']})"
                  if d else "–")
            if r.get("vs_new_defaults"):
                t = r["vs_new_defaults"]
                vs += (f"; vs {REFERENCE.get(name, 'new defaults')} {100 * t['delta']:+.1f} ({100 * t['ci'][0]:+.1f} to "
                       f"{100 * t['ci'][1]:+.1f}, {t['verdict']})")
            top1 = f"{_fmt(r.get('top1'))} ({_fmt(ci[0])}–{_fmt(ci[1])})" if r.get("top1") is not None else r["status"]
            lines.append(f"| {regime} | {name} | {top1} | {vs} | {_fmt(r.get('macro_recall'))} | "
                         f"{_fmt(r.get('worst_leaf_recall'))} | {r.get('never_predicted', '–')} | "
                         f"{r.get('sec_per_epoch') or '–'} |")
    balanced = [(regime, name, r["balanced"]) for regime, rows in results["regimes"].items()
                for name, r in rows.items() if r.get("balanced")]
    if balanced:
        lines += ["", f"Every leaf equally often ({results.get('balanced_test')} test images per leaf, the regime's look):",
                  "", "| regime | row | leaf Top-1 % | macro recall % | worst leaf recall % | recall % of the head / "
                  "middle / tail third of the leaves (by training images) | leaves with recall 0 |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {regime} | {name} | {_fmt(b.get('top1'))} | {_fmt(b.get('macro_recall'))} | "
                  f"{_fmt(b.get('worst_leaf_recall'))} | {_thirds_text(b.get('thirds'))} | "
                  f"{', '.join(b.get('recall_zero') or []) or 'none'} |"
                  if b.get("status") == "ok" else f"| {regime} | {name} | {b.get('status')} | | | | |"
                  for regime, name, b in balanced]
    studies = [(regime, r) for regime, rows in results["regimes"].items() for r in rows.values() if r.get("study")]
    if studies:
        from models.training.tune import versus_base_line

        lines.append("")
    for regime, r in studies:
        st = r["study"]
        states = ", ".join(f"{n} {k.lower()}" for k, n in sorted((st.get("n_trials_by_state") or {}).items()))
        vs = versus_base_line(st.get("vs_base")).removeprefix("[tune] ") or "no comparison with the base config"
        size = f" at input size {r['input_size']}" if r.get("input_size") not in (None, results.get("input_size")) else ""
        lines.append(f"- {regime}, tuned{size}: {st.get('n_trials')} trials ({states}); {vs}.")
    if len(results.get("seeds") or {}) > 1:
        lines += _seed_summary(results["seeds"])
    return "\n".join(lines) + "\n"


def _thirds_text(parts: dict[str, float | None] | None) -> str:
    return " / ".join(_fmt(parts.get(k)) for k in ("head", "middle", "tail")) if parts else "–"


def _spread(values: list[float]) -> str:
    if not values:
        return "–"
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    return f"{100 * mean:.1f} ± {100 * sd:.1f}"


def _seed_summary(seeds: dict[str, Any]) -> list[str]:
    """Mean ± standard deviation over the training seeds of every row run with all of them."""
    lines = ["", f"Over training seeds {', '.join(seeds)} (mean ± standard deviation; the data are the same):", "",
             "| regime | row | leaf Top-1 % | macro recall % | balanced set: Top-1 % | balanced set: head / middle / "
             "tail third recall % | leaves with recall 0 there, per seed |", "|---|---|---|---|---|---|---|"]
    first = next(iter(seeds.values()))
    for regime, rows in first.items():
        for name in rows:
            runs = [by_regime.get(regime, {}).get(name) or {} for by_regime in seeds.values()]
            if any(r.get("status") != "ok" for r in runs):
                continue
            balanced = [r.get("balanced") or {} for r in runs]
            zeros = ", ".join(str(len(b.get("recall_zero") or [])) if b.get("status") == "ok" else "–"
                              for b in balanced)
            parts = [b.get("thirds") or {} for b in balanced if b.get("status") == "ok"]
            by_third = " / ".join(_spread([p[k] for p in parts if p.get(k) is not None]) for k in ("head", "middle",
                                                                                                  "tail"))
            lines.append(f"| {regime} | {name} | {_spread([r['top1'] for r in runs])} | "
                         f"{_spread([r['macro_recall'] for r in runs])} | "
                         f"{_spread([b['top1'] for b in balanced if b.get('status') == 'ok'])} | {by_third} | "
                         f"{zeros} |")
    return lines


def run(work: Path, out: Path, regimes: list[str], tune_minutes: float, tune_regimes: list[str], epochs: int,
        input_size: int, reuse: bool = False, rows: list[str] | None = None, balanced: int = 0,
        seeds: list[int] | None = None, tune_input_size: bool = False) -> dict[str, Any]:
    """Every row of every regime, once per training seed (``results["regimes"]``: the first seed's;
    ``results["seeds"]``: every seed's)."""
    seeds = seeds or [0]
    if not WEIGHTS.exists():
        raise SystemExit(f"the ImageNet weights are missing: {WEIGHTS} (see ../shared/weights/README.md)")
    results: dict[str, Any] = {"epochs": epochs, "input_size": input_size, "tune_minutes": tune_minutes,
                               "tune_input_size": tune_input_size,
                               "balanced_test": balanced, "base": base_sets(epochs, input_size, seeds[0]),
                               "old_defaults": OLD_DEFAULTS, "regimes": {}, "seeds": {}}
    for seed in seeds:
        results["seeds"][str(seed)] = by_regime = {}
        if seed == seeds[0]:
            results["regimes"] = by_regime
        _run_seed(work, out, results, by_regime, seed, regimes, tune_minutes, tune_regimes, epochs, input_size,
                  reuse, rows, balanced, tune_input_size)
    return results


def _run_seed(work: Path, out: Path, results: dict[str, Any], by_regime: dict[str, Any], seed: int,
              regimes: list[str], tune_minutes: float, tune_regimes: list[str], epochs: int, input_size: int,
              reuse: bool, rows: list[str] | None, balanced: int, tune_input_size: bool = False) -> None:
    from models.training.grid import GridOptions, train_and_evaluate

    sets = base_sets(epochs, input_size, seed)

    def save() -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "regimes.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        (out / "regimes.md").write_text(to_markdown(results), encoding="utf-8")

    bundles: dict[tuple[str, str], Path] = {}
    # Every regime's fixed rows first, the (long) tuned rows last: the defaults' standing is known early.
    plan = [(regime, name, extra) for regime in regimes for name, extra in _rows().items()
            if (rows is None and name not in REFERENCE) or (rows is not None and name in rows)]
    plan += [(regime, "tuned", None) for regime in regimes if regime in tune_regimes and tune_minutes > 0]
    for regime, name, extra in plan:
        manifest = _synth(regime, work)
        options = GridOptions(data=[str(manifest)], overrides=sets, device="cpu")
        rows: dict[str, Any] = by_regime.setdefault(regime, {})
        cell = run_folder(work, regime, name, seed)
        config = None
        if extra is None:
            log(f"[regimes] {regime}: tune for {tune_minutes:g} min ...")
            best = cell / "study" / "best.yaml"
            if not (reuse and best.exists()):
                best = _tune(manifest, cell, sets, tune_minutes, input_size if tune_input_size else None)
            if best is None:
                rows[name] = {"status": f"tune failed, see {cell / 'tune.log'}"}
                save()
                continue
            config = str(best)
            if tune_input_size:  # the size best.yaml chose
                options = GridOptions(data=[str(manifest)], overrides=_without_input_size(sets), device="cpu")
        log(f"[regimes] {regime}: {name} ...")
        t0 = time.perf_counter()
        row = train_and_evaluate(cell, extra or [], options, config=config, reuse=reuse)
        rows[name] = _summary(row)
        if extra is None:  # the study's own verdict: its best trial against the base config, on validation
            summary = cell / "study" / "summary.json"
            if summary.exists():
                rows[name]["study"] = json.loads(summary.read_text(encoding="utf-8"))
            rows[name]["input_size"] = (yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}).get(
                "input_size", input_size)
        counts = train_counts(manifest)
        if row["status"] == "ok" and (cell / "eval" / "metrics.json").exists():
            per_class = json.loads((cell / "eval" / "metrics.json").read_text(encoding="utf-8")).get("per_class")
            rows[name]["thirds"] = thirds(counts, per_class or {})
        if row["status"] == "ok" and balanced:
            rows[name]["balanced"] = _evaluate_on(cell / "bundle", _balanced(regime, work, balanced),
                                                  cell / f"eval_balanced{balanced}", counts, reuse)
        if row["status"] == "ok":
            bundles[regime, name] = cell / "bundle"
            if name != "plain" and (regime, "plain") in bundles:
                rows[name]["vs_plain"] = _paired(bundles[regime, "plain"], bundles[regime, name], manifest)
            if (regime, REFERENCE.get(name)) in bundles:
                rows[name]["vs_new_defaults"] = _paired(bundles[regime, REFERENCE[name]], bundles[regime, name],
                                                        manifest)
        log(f"[regimes]   {rows[name]['status']} top1={rows[name].get('top1')} "
            f"macro_recall={rows[name].get('macro_recall')} ({time.perf_counter() - t0:.0f} s)")
        save()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.regimes", description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=ROOT / "data" / "regimes", help="data, bundles and logs")
    p.add_argument("--out", type=Path, default=ROOT / "bench_results", help="regimes.json and regimes.md")
    p.add_argument("--regimes", default="tail,low,demo", help="which regimes, in this order")
    p.add_argument("--tune-minutes", type=float, default=60.0, help="tune's budget (0 = no tuned row)")
    p.add_argument("--tune-regimes", default="tail", help="the regimes that get a tuned row")
    p.add_argument("--tune-input-size", action="store_true",
                   help="the study also searches the input size (--input-size is its first trial's and the fixed "
                        "rows'); the tuned row trains at the size it chose")
    p.add_argument("--reuse", action="store_true",
                   help="keep the runs already evaluated under WORK (delete a run's folder to train it again)")
    p.add_argument("--rows", default=None,
                   help="only these fixed rows, comma-separated (e.g. 'plain,new defaults (hier)'); default all "
                        "but crt (hier), posthoc (flat), balanced_softmax (hier) and drw (hier)")
    p.add_argument("--balanced-test", type=int, default=0, metavar="N",
                   help="also evaluate every row on a test set of the regime's look with N images per leaf")
    p.add_argument("--seeds", default="0",
                   help="training seeds, comma-separated (the data stay the same); with several, a mean ± sd table")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--input-size", type=int, default=INPUT_SIZE)
    args = p.parse_args(argv)
    started = time.perf_counter()
    regimes = [r for r in args.regimes.split(",") if r]
    unknown = sorted(set(regimes) - set(REGIMES))
    if unknown:
        p.error(f"unknown regime(s) {', '.join(unknown)}; known: {', '.join(REGIMES)}")
    if args.balanced_test < 0:
        p.error(f"--balanced-test must be 0 (off) or a number of images per leaf, got {args.balanced_test}")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        p.error(f"--seeds takes whole numbers separated by commas, got {args.seeds!r}")
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        p.error(f"--seeds needs distinct seeds of 0 or more, got {args.seeds!r}")
    rows = [r.strip() for r in args.rows.split(",")] if args.rows else None
    unknown_rows = sorted(set(rows or ()) - set(_rows()))
    if unknown_rows:
        p.error(f"unknown row(s) {', '.join(unknown_rows)}; known: {', '.join(_rows())}")
    results = run(args.work, args.out, regimes, args.tune_minutes, args.tune_regimes.split(","), args.epochs,
                  args.input_size, args.reuse, rows, args.balanced_test, seeds, args.tune_input_size)
    print(to_markdown(results))
    write_result(args.out, "regimes", False, results, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
