"""``python -m bench.trained_paths BUNDLE [BUNDLE ...] --data MANIFEST|FOLDER [--max-images 400] [--threads N] [--out DIR]``.

Issue #21, part 2: does an inference path keep a *trained* model's decisions? Every path of
:data:`models.inference.engine.PATHS` that this CPU offers (bf16 only where it runs bf16 natively) runs over the
same held-out images, none stopped early for speed (``optimize_bundle(..., screen_only=True)``), and is compared
with eager fp32 NCHW on those images: Top-1 agreement, routing agreement (auto-judge or re-judge and the
determined node, for a calibrated bundle), and the largest change of the top leaf's confidence. The verdict is the
guard's (:class:`models.inference.agreement.Criteria`: 99.5 % Top-1 and routing agreement; a first batch of at most
10 s). The screening speed of each path is one pass at its own moment: read speed from ``python -m bench engine``,
which times in alternation.

The full-size bundles it was written for come from the GPU (``bench/device_engine.sh``): ConvNeXt-T and
ResNet50+CBAM trained on synthetic micrographs and calibrated, judged on the seed-2 test set they never saw.

Writes ``OUT/trained_paths.json`` and ``OUT/trained_paths.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, log

GUARD = "99.5 % Top-1 and routing agreement, first batch <= 10 s"


def screen(bundle: Path, data: Path, *, max_images: int, threads: int | None,
           paths: list[str] | None = None) -> dict[str, Any]:
    """Every available path of ``bundle`` (or ``paths``) against eager on up to ``max_images`` images of ``data``."""
    from models.bundle.files import read_bundle_manifest
    from models.inference.optimize import image_list, machine_info, optimize_bundle, spread

    manifest = read_bundle_manifest(bundle)
    images = spread(image_list(data), max_images)
    t0 = time.perf_counter()
    result = optimize_bundle(bundle, images, candidates=paths, threads=(threads,) if threads else None, log=log,
                             screen_only=True)
    return {
        "bundle": str(bundle), "backbone": manifest.network.backbone + (
            f" + CBAM ({manifest.network.cbam})" if manifest.network.cbam not in (None, "none") else ""), "calibrated": manifest.calibration is not None,
        "weights_dtype": manifest.weights.dtype if manifest.weights else None, "images": result.record.images,
        "threads": result.record.candidates[0].get("threads"), "machine": machine_info(),
        "seconds": round(time.perf_counter() - t0, 1), "paths": [dict(c) for c in result.record.candidates],
    }


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * float(v):.1f} %"


def markdown(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        lines += [f"### {r['backbone']} ({r['images']} images, {r['threads']} threads, {r['machine']['cpu']}, bf16 "
                  f"{'native' if r['machine']['bf16'] else 'unavailable'})", "",
                  "| path | Top-1 agreement | routing agreement | largest confidence change | screening img/s | "
                  "first batch s | guard |", "|---|---|---|---|---|---|---|"]
        for c in r["paths"]:
            verdict = "kept" if c["accepted"] else (c["reason"] or "refused")
            change = "-" if c.get("max_prob_diff") is None else f"{c['max_prob_diff']:.4f}"
            speed = "-" if c.get("images_per_s") is None else f"{c['images_per_s']:.1f}"
            warm = "-" if c.get("warmup_s") is None else f"{c['warmup_s']:.1f}"
            lines.append(f"| {c['path']} | {_pct(c.get('top1_agreement'))} | {_pct(c.get('routing_agreement'))} | "
                         f"{change} | {speed} | {warm} | {verdict} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.trained_paths", description=__doc__.split("\n\n")[1])
    p.add_argument("bundles", nargs="+", type=Path, help="trained bundle folders (calibrated, for routing)")
    p.add_argument("--data", required=True, type=Path, help="held-out images: a manifest CSV or a folder")
    p.add_argument("--max-images", type=int, default=400, help="images, evenly spread over the data (default 400)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: the faster of all cores and "
                                                             "one less, as optimize probes)")
    p.add_argument("--paths", help="comma-separated paths besides eager (default: all of them)")
    p.add_argument("--out", type=Path, default=ROOT / "bench_results")
    args = p.parse_args(argv)
    missing = [str(b) for b in args.bundles if not (b / "manifest.json").is_file()]
    if missing:
        p.error(f"not a bundle folder (no manifest.json): {', '.join(missing)}")
    if args.max_images < 200:
        p.error("--max-images must be at least 200: the 99.5 % guard needs 200 images to allow one changed decision")
    results = []
    for bundle in args.bundles:
        log(f"[trained_paths] {bundle}: every path over {args.max_images} images at most")
        results.append(screen(bundle, args.data, max_images=args.max_images, threads=args.threads,
                              paths=[q.strip() for q in args.paths.split(",") if q.strip()] if args.paths else None))
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "trained_paths.json").write_text(json.dumps({"guard": GUARD, "results": results}, indent=2),
                                                     encoding="utf-8")
        (args.out / "trained_paths.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
