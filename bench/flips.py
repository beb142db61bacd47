"""``python -m bench.flips [--bundle B] [--rounds 7] [--out DIR] [--compare EVAL_A EVAL_B ...]``: test-time flips.

What ``fma-model calibrate --flips`` costs and buys. **Cost**, measured side by side: the bundle's predictor on its
own inference path (the one ``optimize`` chose) over the demo batch's 42 images, the image alone against the image
with its flips (``h``; ``h,v,hv``), timed in alternation (:mod:`models.inference.interleave`), so the ratio is the
median of per-round ratios with its spread. **Gain**: ``--compare`` prints the routing figures of ``fma-model
evaluate`` folders side by side (the README's table: the shipped calibration against one with ``--flips h,v,hv`` on
the same calibration set, each evaluated on the same test sets). Writes ``OUT/flips.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, log, write_result

VIEWS = ((), ("h",), ("h", "v", "hv"))
BATCH = ROOT / "resources" / "demo" / "batch"
FIGURES = (("top1", "leaf Top-1"), ("auto_coverage", "auto-judged (all images)"), ("auto_purity", "their purity"))


def cost(bundle: Path, rounds: int, batch_size: int) -> dict[str, Any]:
    """Images/s of each set of views against the image alone, interleaved."""
    from models.imageio import IMAGE_SUFFIXES
    from models.inference.interleave import interleave, over
    from models.inference.predictor import Predictor

    predictor = Predictor(bundle)
    images = sorted(p for p in BATCH.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    x = predictor._stack([predictor.preprocess(p) for p in images])
    batches = [x[i:i + batch_size] for i in range(0, len(x), batch_size)]

    def with_views(views: tuple[str, ...]):
        def run(batch: Any) -> Any:
            predictor.flips = views
            return predictor.forward_views(batch)
        return over(run, batches)

    alone = with_views(())
    alone()  # warm-up
    out: dict[str, Any] = {"engine": predictor.engine_path, "images": len(images), "batch_size": batch_size}
    for views in VIEWS[1:]:
        candidate = with_views(views)
        candidate()
        timing = interleave(alone, candidate, rounds)
        name = ",".join(views)
        log(f"[flips] {name:<8} {1 / timing.ratio:.2f}x the time of the image alone: {timing.describe()} "
            f"({timing.median_speed('candidate'):.1f} vs {timing.median_speed('baseline'):.1f} img/s; "
            f"{len(views) + 1} forward passes against 1)")
        out[name] = timing.to_json()
    return out


def compare(folders: list[Path]) -> list[dict[str, Any]]:
    """The routing figures of ``evaluate`` folders (their ``metrics.json``), one row each."""
    rows = []
    for folder in folders:
        m = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        at_least = m.get("determined_at_least") or [None, None, None]
        row = {"folder": str(folder), **{k: m.get(k) for k, _ in FIGURES},
               "leaf_determined": at_least[-1], "group_and_subgroup": at_least[1] if len(at_least) > 2 else None,
               "hierarchical_purity_by_level": m.get("hierarchical_purity_by_level")}
        rows.append(row)

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    log(f"{'evaluation':<34} {'Top-1':>6} {'leaf det.':>9} {'grp+sub':>8} {'auto':>6} {'purity':>7}  purity by level")
    for r in rows:
        log(f"{Path(r['folder']).name:<34} {fmt(r['top1']):>6} {fmt(r['leaf_determined']):>9} "
            f"{fmt(r['group_and_subgroup']):>8} {fmt(r['auto_coverage']):>6} {fmt(r['auto_purity']):>7}  "
            f"{r['hierarchical_purity_by_level']}")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.flips", description=__doc__.split("\n")[0])
    p.add_argument("--bundle", type=Path, default=ROOT / "resources" / "demo" / "model_cbam")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--compare", type=Path, nargs="*", default=[], metavar="EVAL",
                   help="fma-model evaluate output folders to print side by side")
    p.add_argument("--out", type=Path, default=Path("bench_results"))
    args = p.parse_args(argv)
    started = time.perf_counter()
    results = {"cost": cost(args.bundle, args.rounds, args.batch_size), "compare": compare(args.compare)}
    write_result(args.out, "flips", False, results, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
