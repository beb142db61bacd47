"""``fma-model tune --data MANIFEST --out DIR``: hyper-parameter search with Optuna (see :mod:`models.training.tune`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.commands.arguments import number, positive_int
from models.training.tune import OBJECTIVES, SPACES, TuneOptions, tune

_minutes = number(float, "a positive number of minutes", low=0, low_open=True)
_purity = number(float, "a purity between 0 and 1 (exclusive)", low=0, high=1, low_open=True, high_open=True)


def coverage_metric(target: float):
    """The loop's extra validation metric ``coverage``: the share of images routed automatically at ``target``."""
    from models.calibration.thresholds import auto_coverage

    def metric(leaf_probs, targets) -> dict[str, float]:
        return {"coverage": auto_coverage(leaf_probs, targets, target=target)}

    return metric


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Search training hyper-parameters (learning rates, weight decay, schedule, warmup, input size, head, loss, "
        "label smoothing, augmentation strengths) with Optuna: a seeded TPE sampler, and a median pruner fed "
        "each epoch's validation metric. Writes DIR/best.yaml (train it with `fma-model train --config`), "
        "trials.csv, summary.json and importance.png. Needs Optuna: pip install 'fma-judge[tune]'.")
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST",
                   help="manifest CSV or image folder, with a val split; repeat to combine")
    p.add_argument("--config", help="the base training config YAML (default: built-in defaults)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the study folder: study.sqlite3 (default storage), trials/, best.yaml, trials.csv, "
                        "summary.json, importance.png")
    p.add_argument("--trials", type=positive_int, default=20,
                   help="the most trials this run starts (default %(default)s; with --resume, more trials)")
    p.add_argument("--budget-minutes", type=_minutes, metavar="M",
                   help="start no new trial after M minutes (the running trial finishes); default: no limit")
    p.add_argument("--objective", choices=list(OBJECTIVES), default="top1",
                   help="the validation metric to maximise: leaf top-1, macro_recall (mean per-leaf recall), "
                        "hier_f1, or coverage (the share of images routed automatically at --target-purity, "
                        "each leaf's threshold fitted on the validation images, without temperature scaling) "
                        "(default %(default)s)")
    p.add_argument("--target-purity", type=_purity, metavar="P",
                   help="the purity per leaf for --objective coverage (e.g. 0.95); with another objective the "
                        "coverage is recorded in each trial's metrics.csv (val_coverage)")
    p.add_argument("--space", choices=SPACES, default="near",
                   help="near: each number searched around the base config's value (rates and weight decay within "
                        "a factor of 3, the others within a quarter of their range), the choices over all values; "
                        "wide: every number over its whole range (default %(default)s)")
    p.add_argument("--storage", metavar="URL",
                   help="an Optuna storage URL (sqlite:///..., postgresql://...); several processes may share "
                        "one study (default: sqlite:///DIR/study.sqlite3)")
    p.add_argument("--study-name", default="fma-tune", metavar="NAME",
                   help="the study's name in the storage (default %(default)s)")
    p.add_argument("--resume", action="store_true",
                   help="continue the existing study (without it an existing study is refused)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a base config key (dotted for nested keys); a key set here is not searched "
                        "(e.g. --set input_size=224 for a ViT backbone)")


def run(args: argparse.Namespace) -> int:
    options = TuneOptions(data=args.data, out=Path(args.out), config=args.config, overrides=tuple(args.overrides),
                          trials=args.trials, budget_minutes=args.budget_minutes, objective=args.objective,
                          storage=args.storage, study_name=args.study_name, resume=args.resume, space_mode=args.space,
                          val_metrics=coverage_metric(args.target_purity) if args.target_purity else None)
    study = tune(options, log=lambda m: print(m, flush=True))
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    if complete:
        print(f"best {args.objective} {study.best_value:.4f} (trial {study.best_trial.number}); "
              f"train it: fma-model train --config {Path(args.out) / 'best.yaml'} --data ... --out BUNDLE")
        return 0
    print("no trial completed")
    return 1
