"""``fma-model train --folds K``: a cross-validated estimate of a training recipe, for small data sets.

With a few dozen images per leaf, one test split of 15 % holds a handful of images per leaf and its Top-1 moves
by several points from one split to the next. Cross-validation uses every image once as a test image:

1. The known images of the data (the manifest's own split column is ignored) are dealt into ``K`` folds,
   stratified by leaf, files with identical content always in the same fold (:func:`assign_folds`).
2. Run ``i`` tests on fold ``i``, selects its best epoch on fold ``i + 1`` (mod ``K``) and trains on the other
   ``K - 2`` folds. ``unknown:*`` images stay training images (outlier exposure when weighted) in every run.
3. Every run writes ``OUT/fold_i/manifest.csv`` (the split it used, so a run can be repeated alone),
   ``OUT/fold_i/bundle`` and ``OUT/fold_i/metrics.json`` (the evaluation of its test fold).
4. ``OUT/folds.json`` and ``OUT/folds.md`` hold each fold's figures and their mean, standard deviation (over the
   folds), minimum and maximum; the log ends with one line per figure, ``top1 MEAN ± SD (MIN–MAX, K folds)``.

It measures the recipe (config + data), not one model: to ship a model, train it without ``--folds``.
``--resume`` keeps the folds already evaluated and continues an interrupted one from its checkpoint.
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from models.atomic import write_text
from models.data.manifest import Sample, load_data, write_manifest
from models.hashing import file_sha256
from models.sysinfo import resolve_device
from models.training.config import ConfigError, TrainConfig

Log = Callable[[str], None]

FIGURES = ("top1", "top5", "macro_recall", "worst_leaf_recall", "hier_f1")
"""The evaluation figures summarised over the folds (keys of ``metrics.json``)."""


def assign_folds(samples: Sequence[Sample], k: int, seed: int,
                 hash_fn: Callable[[Path], str] = file_sha256) -> list[int]:
    """The fold (0..k-1) of every sample: stratified by label, identical files together, seeded.

    Within a label the groups of identical files are shuffled (seeded by the seed and the label) and each goes to
    the fold that holds the fewest images of that label so far (ties: the lower fold), so fold sizes of a label
    differ by at most the largest group. The result does not depend on the input order.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        groups[hash_fn(s.path)].append(i)
    by_label: dict[str, list[list[int]]] = defaultdict(list)
    for digest in sorted(groups):
        members = groups[digest]
        labels = sorted(samples[i].label for i in members)
        by_label[max(labels, key=labels.count)].append(members)
    fold = [0] * len(samples)
    for label in sorted(by_label):
        todo = by_label[label]
        random.Random(f"{seed}|{label}").shuffle(todo)
        sizes = [0] * k
        for members in todo:
            target = min(range(k), key=lambda j: (sizes[j], j))
            sizes[target] += len(members)
            for i in members:
                fold[i] = target
    return fold


def fold_split(samples: Sequence[Sample], folds: Sequence[int], i: int, k: int) -> list[Sample]:
    """Run ``i``'s samples: fold ``i`` is test, fold ``i + 1`` (mod k) val, the rest train; unknowns train."""
    def split_of(s: Sample, f: int) -> str:
        if s.is_unknown:
            return "train"
        return "test" if f == i else "val" if f == (i + 1) % k else "train"

    return [replace(s, split=split_of(s, f)) for s, f in zip(samples, folds, strict=True)]


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Mean, standard deviation (n - 1), min and max of every figure over the folds that have it."""
    out: dict[str, dict[str, float | None]] = {}
    for name in FIGURES:
        values = [float(r[name]) for r in rows if isinstance(r.get(name), int | float) and math.isfinite(r[name])]
        if not values:
            out[name] = {"mean": None, "std": None, "min": None, "max": None, "n": 0}
            continue
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        out[name] = {"mean": mean, "std": std, "min": min(values), "max": max(values), "n": len(values)}
    return out


def summary_lines(summary: dict[str, dict[str, Any]]) -> list[str]:
    """``top1 MEAN ± SD (MIN–MAX, K folds)``, three decimals, for every figure."""
    lines = []
    for name, s in summary.items():
        if s["mean"] is None:
            lines.append(f"{name} –")
        else:
            lines.append(f"{name} {s['mean']:.3f} ± {s['std']:.3f} ({s['min']:.3f}–{s['max']:.3f}, {s['n']} folds)")
    return lines


def to_markdown(rows: Sequence[dict[str, Any]], summary: dict[str, dict[str, Any]]) -> str:
    head = ["fold", "test images", *FIGURES, "never predicted"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else "–" if v is None else str(v)

    for r in rows:
        lines.append("| " + " | ".join([str(r["fold"]), str(r["n_test"]), *(cell(r.get(f)) for f in FIGURES),
                                        str(len(r.get("never_predicted") or []))]) + " |")
    for stat in ("mean", "std", "min", "max"):
        lines.append("| " + " | ".join([stat, "", *(cell(summary[f][stat]) for f in FIGURES), ""]) + " |")
    return "\n".join(lines) + "\n"


def cross_validate(cfg: TrainConfig, data: Sequence[str | Path], out: str | Path, k: int, *, resume: bool = False,
                   base_dir: Path | None = None, log: Log = print, progress: bool = True) -> dict[str, Any]:
    """Train and evaluate ``k`` runs (see the module docstring); returns what ``folds.json`` holds.

    Raises:
        ConfigError: ``k`` < 3, or fewer known images than folds.
    """
    from models.bundle.io import load_bundle
    from models.evaluation.evaluate import evaluate_bundle
    from models.evaluation.report import to_json_ready
    from models.training.loop import resolve_taxonomy, train

    if k < 3:
        raise ConfigError(f"--folds needs at least 3 folds (test, validation and training), got {k}")
    out = Path(out)
    taxonomy = resolve_taxonomy(cfg, base_dir)
    loaded = load_data(list(data), taxonomy)
    if loaded.skipped:
        log(loaded.report())
    known = [s for s in loaded.samples if not s.is_unknown]
    if len(known) < k:
        raise ConfigError(f"--folds {k}: the data has only {len(known)} known image(s)")
    samples = known + [s for s in loaded.samples if s.is_unknown]
    folds = assign_folds(samples, k, cfg.seed)
    counts: dict[str, int] = defaultdict(int)
    for s in known:
        counts[s.label] += 1
    thin = sorted(label for label, n in counts.items() if n < k)
    if thin:
        log(f"warning: {len(thin)} leaf/leaves have fewer images than folds, so some folds test without them: "
            f"{', '.join(thin[:10])}{' ...' if len(thin) > 10 else ''}")
    log(f"cross-validation: {len(known)} known images in {k} folds (seed {cfg.seed}); each run trains on {k - 2}, "
        "selects its epoch on the next and tests on its own")
    device = resolve_device(cfg.device)
    rows: list[dict[str, Any]] = []
    for i in range(k):
        folder = out / f"fold_{i + 1}"
        done = folder / "metrics.json"
        if resume and done.exists():
            rows.append(json.loads(done.read_text(encoding="utf-8"))["fold_summary"])
            log(f"[fold {i + 1}/{k}] already evaluated: top1 {rows[-1]['top1']:.3f}")
            continue
        split = fold_split(samples, folds, i, k)
        manifest = write_manifest(split, folder / "manifest.csv")
        test = [s for s in split if s.split == "test"]
        log(f"[fold {i + 1}/{k}] training on {sum(s.split == 'train' and not s.is_unknown for s in split)}, "
            f"validating on {sum(s.split == 'val' for s in split)}, testing on {len(test)} images")
        bundle_dir = folder / "bundle"
        if resume and (bundle_dir / "manifest.json").exists():  # trained, stopped before its evaluation
            log(f"[fold {i + 1}/{k}] already trained: evaluating it")
        else:
            again = resume and (bundle_dir / "checkpoint" / "state.json").exists()
            train(cfg, [manifest], bundle_dir, resume=again, base_dir=base_dir, progress=progress,
                  log=lambda m, i=i: log(f"[fold {i + 1}/{k}] {m}"))
        metrics, _raw = evaluate_bundle(load_bundle(bundle_dir, device=device), test, batch_size=max(8, cfg.batch_size),
                                        device=device)
        row = {"fold": i + 1, "n_test": len(test), **{f: metrics.get(f) for f in FIGURES},
               "never_predicted": metrics.get("never_predicted") or []}
        write_text(done, json.dumps(to_json_ready({"fold_summary": row, "metrics": metrics}), indent=2) + "\n")
        log(f"[fold {i + 1}/{k}] test top1 {row['top1']:.3f}, macro recall {row['macro_recall']:.3f}")
        rows.append(row)
    summary = summarise(rows)
    result = {"k": k, "seed": cfg.seed, "n_known": len(known), "folds": rows, "summary": summary}
    write_text(out / "folds.json", json.dumps(to_json_ready(result), indent=2) + "\n")
    write_text(out / "folds.md", to_markdown(rows, summary))
    for line in summary_lines(summary):
        log(f"cross-validated {line}")
    log(f"wrote {out / 'folds.json'} and {out / 'folds.md'} (the fold bundles are estimates; to ship a model, "
        "train without --folds)")
    return result
