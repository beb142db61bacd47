"""Trained full-size bundles for the engine benchmark (issue #21, part 2): does a fast path keep a *trained* model's
decisions?

A random network's outputs are near-uniform, so any rounding flips some Top-1s; only a trained model says whether bf16
or int8 change what an analyst would see. No pretrained ConvNeXt-T weights are on the development machine, so this
trains one from scratch on the demo's synthetic look (``bench/configs/convnext_tiny_synth*.yaml``: 14 epochs at
128 px, then 2 at the benchmark's 224 px) and calibrates it as the demo model is calibrated (target purity 0.99,
Learn-then-Test, the "stages" unknown score). With native bf16 (AVX512-BF16 or AMX) training runs in bf16 autocast,
about 3x faster than fp32 on a 2-core CPU: about an hour in all; without it, about three.

``python -m bench.trained convnext_tiny [--work bench_results/work]`` makes it once; ``python -m bench engine`` then
judges its ConvNeXt-T row on it (held-out images in the demo's look, as the demo row), and falls back to random
weights, saying so, while it is not there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.common import log

CONFIGS = Path(__file__).resolve().parent / "configs"
RECIPES: dict[str, tuple[str, ...]] = {"convnext_tiny": ("convnext_tiny_synth.yaml", "convnext_tiny_synth_224.yaml")}
"""Each family's training stages, in order; every stage after the first starts from the one before (--init-from)."""
TRAIN_DATA = ["--per-class", "300", "--seed", "1", "--unknown-classes", "3", "--unknown-per-class", "35",
              "--split", "0.9,0.1,0", "--difficulty", "0.3"]
CALIB_DATA = ["--per-class", "300", "--seed", "3", "--unknown-classes", "3", "--unknown-per-class", "60",
              "--split", "0.02,0.96,0.02", "--difficulty", "0.3"]
"""``fma-model synth`` options: the demo model's training set (its unknown kinds unused: no outlier exposure here),
and its calibration seed and look (a smaller set)."""
CALIBRATE = ["--split", "val", "--target-purity", "0.99", "--unknown-method", "stages"]


def trained_path(work: Path, family: str) -> Path:
    """Where the family's trained, calibrated bundle is kept (``work/trained/FAMILY/model``)."""
    return work / "trained" / family / "model"


def ready(work: Path, family: str) -> Path | None:
    """The family's trained bundle when it is there and calibrated, else None."""
    from models.bundle.files import read_bundle_manifest

    bundle = trained_path(work, family)
    if not (bundle / "manifest.json").is_file():
        return None
    return bundle if read_bundle_manifest(bundle).calibration is not None else None


def _fma_model(args: list[str]) -> None:
    from models.commands.cli import main as fma_model

    log("[trained] fma-model " + " ".join(args))
    if fma_model(args) != 0:
        raise SystemExit(f"[trained] fma-model {args[0]} failed")


def make(work: Path, family: str) -> Path:
    """Train and calibrate the family's bundle (each finished step is kept: a rerun goes on from there).

    Raises:
        SystemExit: no recipe for ``family``, or a step failed (its own message is printed above).
    """
    if family not in RECIPES:
        raise SystemExit(f"[trained] no recipe for {family!r}; known: {', '.join(RECIPES)}")
    done = ready(work, family)
    if done is not None:
        log(f"[trained] {family}: {done} is trained and calibrated already")
        return done
    from models.inference.engine import bf16_supported

    folder = trained_path(work, family).parent
    data = work / "trained" / "data"
    if not bf16_supported():
        log("[trained] this CPU has no native bf16: training runs in fp32, about three times as long")
    for name, options in (("train", TRAIN_DATA), ("calib", CALIB_DATA)):
        if not (data / name / "manifest.csv").is_file():
            _fma_model(["synth", str(data / name), *options, "--workers", "2", "--overwrite"])
    previous: Path | None = None
    stages = RECIPES[family]
    for i, config in enumerate(stages):
        out = trained_path(work, family) if i == len(stages) - 1 else folder / f"stage{i + 1}"
        if not (out / "manifest.json").is_file():
            extra = [] if bf16_supported() else ["--set", "precision=fp32"]
            if (out / "checkpoint").is_dir():  # an interrupted run goes on from its last epoch
                extra.append("--resume")
            _fma_model(["train", "--config", str(CONFIGS / config), "--data", str(data / "train" / "manifest.csv"),
                        "--out", str(out), "--no-progress", *extra,
                        *(["--init-from", str(previous)] if previous else [])])
        previous = out
    bundle = trained_path(work, family)
    _fma_model(["calibrate", str(bundle), "--data", str(data / "calib" / "manifest.csv"), *CALIBRATE])
    return bundle


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.trained", description=__doc__.split("\n\n")[0])
    p.add_argument("family", choices=sorted(RECIPES))
    p.add_argument("--work", type=Path, default=Path("bench_results/work"),
                   help="the benchmarks' work folder (default bench_results/work, as `python -m bench`)")
    args = p.parse_args(argv)
    log(f"[trained] {make(args.work, args.family)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
