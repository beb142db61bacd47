"""``python -m bench engine|pipeline|ui|store|gallery|team|folder|sharded|tree|judging|reliability|spectra|all [--quick] [--out DIR] [--work DIR]``.

``all`` runs each benchmark in its own process (so each one's peak RSS is its own), in the order
engine, pipeline, ui, store, gallery, team, folder, sharded, tree, judging, reliability, spectra (the later ones reuse the bundles the engine benchmark
optimised), then prints and writes a summary (``DIR/summary.json``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, log, write_result

BENCHMARKS = ("engine", "pipeline", "ui", "store", "gallery", "team", "folder", "sharded", "tree", "judging",
              "reliability", "spectra")
QUICK_SKIPS = ("sharded",)  # its quick run is four torch start-ups (40 s); tests/test_predicting.py runs torchrun


def _run_one(name: str, out: Path, work: Path, quick: bool) -> int:
    started = time.perf_counter()
    log(f"== {name}{' (quick)' if quick else ''} ==")
    results = importlib.import_module(f"bench.{name}").run(work, quick)
    write_result(out, name, quick, results, started)
    return 0


def _summary(out: Path, quick: bool, codes: dict[str, int]) -> None:
    rows = {}
    for name in BENCHMARKS:
        if quick and name in QUICK_SKIPS:
            continue
        path = out / f"{name}.json"
        if not path.exists():
            rows[name] = {"ok": False, "rc": codes.get(name)}
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        r = doc["results"]
        row: dict = {"ok": codes.get(name) == 0, "wall_s": doc["wall_s"], "peak_rss_mb": doc["peak_rss_mb"]}
        if name == "engine":
            row.update({fam: {"path": v["chosen_path"], "ratio": v["ratio"], "top1": v["agreement"]["top1_agreement"],
                              "max_prob_diff": v["agreement"]["max_prob_diff"]} for fam, v in r.items()})
        elif name == "pipeline":
            row.update(ratio=r["ratio"], end_to_end=r["end_to_end"]["images_per_s"],
                       model_only=r["model_only"]["images_per_s"])
        elif name == "ui":
            row.update(stall_p99_ms=r["stall_p99_ms"], stall_max_ms=r["stall_max_ms"],
                       first_prediction_s=r["first_prediction_s"], window_shown_s=r["window_shown_s"])
        elif name == "judging":
            row.update({label: {"image_p95_ms": v["all"]["image_ms"]["p95"], "heatmap_p95_ms": v["all"]["heatmap_ms"]["p95"],
                                "first_prediction_s": v["first_prediction_s"],
                                "first_prediction_median_s": v["cold_starts"]["first_prediction_s"]["median"],
                                "lost": v["judgments"]["lost"]}
                        for label, v in r["runs"].items()})
        elif name == "store":
            row.update(rejudge_queue_s=r["rejudge_queue_first_page_s"], export_csv_s=r["export_csv_s"])
        elif name == "team":
            row.update({b: None if r[b] is None else {"per_s": r[b]["judgments_per_s"], "p99_ms": r[b]["commit_ms"]["p99"],
                                                      "lost": r[b]["lost"], "double": r[b]["double_judged"]}
                        for b in ("postgresql", "sqlite")})
        elif name == "folder":
            row.update(listed_s=r["window"].get("listed_s"), first_prediction_s=r["window"].get("first_prediction_s"),
                       stall_p99_ms=r["window"]["stall_p99_ms"], register_ratio=r.get("ratio_in_thread_over_workers"))
        elif name == "sharded":
            row.update(same_predictions=r["same_predictions"], wall_ratio=r["wall_ratio"], work_ratio=r.get("work_ratio"))
        elif name == "tree":
            row.update({lang: {"p99_ms": r["trees"][f"factory_150_{lang}"]["key_ms"]["p99"],
                               "max_ms": r["trees"][f"factory_150_{lang}"]["key_ms"]["max"],
                               "ratio_150_over_18": r[f"p99_ratio_150_over_18_{lang}"]} for lang in ("en", "zh_TW")})
            row.update(queue_by_type_s=r["queue"]["leaf_s"]["p50"], queue_by_node_s=r["queue"]["determined_s"]["p50"])
        elif name == "gallery":
            row.update(open_s=r["open_s"][0], filter_max_s=r["filter_max_s"], fps_p95=r["fps_p95"])
        elif name == "reliability":
            kill, writers = r["kill_restart"]["sqlite"], r["two_writers"]["sqlite"]
            row.update(corpus_kinds=r["corpus"]["kinds"], image_tracebacks=r["corpus"]["predict"]["tracebacks"],
                       image_hangs=r["corpus"]["predict"]["hangs"], image_peak_mb=r["corpus"]["predict"]["max_peak_mb"],
                       kills=kill["kills"], kill_lost=kill["lost_at_end"], integrity_failures=kill["integrity_failures"],
                       writer_startup_failures=writers["startup_failures"], writer_errors=writers["errors"],
                       writer_lost=writers["lost"], formula_cells=r["export_injection"]["formula_cells"],
                       bundle_tracebacks=r["bundles"]["tracebacks"], targets_missed=len(r["failures"]))
        rows[name] = row
    (out / "summary.json").write_text(json.dumps({"quick": quick, "benchmarks": rows}, indent=2) + "\n",
                                      encoding="utf-8")
    log("== summary ==")
    for name, row in rows.items():
        log(f"  {name:<11} " + ", ".join(f"{k}={v}" for k, v in row.items()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmark", choices=(*BENCHMARKS, "all"))
    p.add_argument("--quick", action="store_true", help="smoke run: tiny models and data (figures meaningless)")
    p.add_argument("--out", type=Path, default=Path("bench_results"), help="folder for the JSON results")
    p.add_argument("--work", type=Path, help="folder for bundles, images and databases (default OUT/work)")
    args = p.parse_args(argv)
    out = args.out.resolve()
    work = (args.work or out / "work").resolve()
    work.mkdir(parents=True, exist_ok=True)
    if args.benchmark != "all":
        return _run_one(args.benchmark, out, work, args.quick)
    codes: dict[str, int] = {}
    for name in BENCHMARKS:
        if args.quick and name in QUICK_SKIPS:
            continue
        cmd = [sys.executable, "-m", "bench", name, "--out", str(out), "--work", str(work)]
        codes[name] = subprocess.run([*cmd, *(["--quick"] if args.quick else [])], cwd=ROOT).returncode
    _summary(out, args.quick, codes)
    return max(codes.values())


if __name__ == "__main__":
    sys.exit(main())
