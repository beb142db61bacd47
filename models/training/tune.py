"""``fma-model tune``: a hyper-parameter search over the training config, with Optuna.

Every trial is one :func:`models.training.loop.train` run of the base config (``--config`` plus ``--set``) with
values drawn from :data:`SEARCH_SPACE` by a seeded TPE sampler; the first trial of a new study is the base config
itself, its "auto" keys settled by the data as ``train`` would (:func:`base_params`), so the best trial is never
worse on validation than not tuning. By default (``--space near``, :func:`near_space`) each number is searched
around the base config's value, within a factor of :data:`NEAR_FACTOR` for the rates and the weight decay and a
quarter of the wide range for the others, and the choices (head, loss, imbalance method, schedule, flips) over all
their values (a number searched only under a choice the base does not make, such as ``warmup_epochs`` under
``onecycle``, keeps its whole range); ``--space wide`` searches every number over its whole range. On the grayscale
long-tail regime of ``python -m bench.regimes`` the wide space's nine random first trials reached 6-20 % validation
Top-1 against the base's 44 %: an hour on a 2-core CPU is spent mostly far from anything good. TPE models the
results once the base trial and :data:`STARTUP_TRIALS` random ones have finished (complete or pruned), from trial 5
on (Optuna's default waits for 10). A study keeps the space it was created with: ``--resume`` with another is
refused. The loop reports each epoch's validation metric to the trial (its ``on_epoch`` callback) and a median
pruner stops a trial whose metric falls below the median of the earlier trials at the same epoch. A trial's value is
the validation metric of the bundle it writes (its best epoch by validation top-1, after the leaf classifier's
change of ``imbalance: posthoc`` or ``crt``):

- ``top1``: leaf top-1 accuracy;
- ``macro_recall``: the mean recall of the leaves present in the validation split (rare classes count as much
  as common ones);
- ``hier_f1``: the hierarchical F1 (a near miss in the tree costs less);
- ``coverage``: the share of validation images routed automatically at ``--target-purity``, each leaf given
  its purity threshold (Clopper-Pearson, 95 %, at least 20 images predicted as the leaf) on the validation
  images themselves, without temperature scaling. The command supplies it
  (:func:`models.calibration.thresholds.auto_coverage`; ``training`` does not import ``calibration``).

The study lives in an Optuna storage (``sqlite:///DIR/study.sqlite3`` by default, or any database URL), so a search
can be resumed (``--resume``) and several processes, on one machine or several, can work on one study. Each trial
keeps its ``config.yaml`` and ``metrics.csv`` in ``DIR/trials/NNNN/`` (its weights are not kept: train the winner
with ``fma-model train --config DIR/best.yaml``). The results are written to ``DIR``: ``best.yaml``, ``trials.csv``,
``summary.json`` and ``importance.png``.

Each complete trial keeps the leaf its trained model gave every validation image (the bundle's weights before any
float16 saving, image only; an Optuna user attribute), so the results can say whether the best trial beats the base
config (trial 0) by more than the validation images' noise: its Top-1 and macro recall against the base's, with
paired 95 % bootstrap intervals over those images (:func:`versus_base`; ``summary.json``'s ``vs_base``, the log and
``best.yaml``'s header). With a few hundred validation images a gain of a point or two is usually a tie: then the
best trial's config is no evidence of a better recipe, only of a luckier draw. The interval covers only which
validation images were drawn: not the training seed's variance, and not the best having been picked among many
trials on these same images (its gain is never negative on its own objective), so even "better" is optimistic; train
it and run ``fma-model compare`` on test images, over several seeds where it matters.

Optuna is an optional dependency (the ``tune`` extra); it is imported only here, inside the functions.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from models.atomic import write_text
from models.training.config import TrainConfig
from models.training.tune_versus import (
    BASE_TRIAL_ATTR,
    VAL_PRED_ATTR,
    VAL_TARGETS_ATTR,
    ValRecorder,
    paired_gain,
    versus_base,
    versus_base_line,
)
from models.training.validation import ExtraMetrics

Log = Callable[[str], None]

OBJECTIVES: dict[str, str] = {"top1": "val_top1", "macro_recall": "val_macro_recall", "hier_f1": "val_hier_f1",
                              "coverage": "val_coverage"}
"""Objective name -> the column of the loop's ``metrics.csv`` row it reads (always maximised)."""

INSTALL_HINT = "Optuna is not installed; install it with: pip install 'fma-judge[tune]' (or: pip install 'optuna>=4')"


SPACES = ("near", "wide")
"""``--space``: numbers searched around the base config's values, or over their whole ranges."""
NEAR_FACTOR = 3.0
"""``near``: a number drawn on a log scale (the rates, the weight decay) stays within base / 3 .. base * 3."""
NEAR_SHARE = 0.25
"""``near``: another number stays within base -/+ this share of its wide range (clipped to the range)."""
STARTUP_TRIALS = 4
"""Trials drawn at random (after the base trial) before TPE models the results."""


class TuneError(ValueError):
    """A search cannot start (an existing study without --resume, no validation split ...)."""


@dataclass(frozen=True)
class Param:
    """One searched config key.

    Args:
        key: the dotted config key, as ``--set`` writes it (``augment.crop_scale``).
        kind: ``"float"``, ``"log"`` (a float drawn on a log scale), ``"int"`` or ``"choice"``.
        low: the smallest value (float, log, int).
        high: the largest value (float, log, int).
        choices: the values of a ``"choice"``.
        when: ``(key, value)``: searched only when that (searched or fixed) key has that value.
    """

    key: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    choices: tuple[Any, ...] = ()
    when: tuple[str, Any] | None = None

    def suggest(self, trial: Any) -> Any:
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high))
        return trial.suggest_float(self.key, self.low, self.high, log=self.kind == "log")


# The search space: existing TrainConfig keys, one row each. Add a row to search a new key (e.g. an
# imbalance option); a key the user fixes with --set is not searched (fix input_size for a ViT, whose
# img_size is part of the network).
SEARCH_SPACE: tuple[Param, ...] = (
    Param("lr", "log", 1e-4, 3e-3),
    Param("backbone_lr_scale", "log", 0.03, 1.0),
    Param("weight_decay", "log", 1e-3, 0.2),
    Param("schedule", "choice", choices=("cosine", "onecycle")),
    Param("warmup_epochs", "float", 0.0, 3.0, when=("schedule", "cosine")),
    Param("input_size", "choice", choices=(160, 224, 288)),
    Param("network.head", "choice", choices=("flat", "independent", "shared")),
    Param("loss.kind", "choice", choices=("flat", "layer", "hierarchical")),
    Param("loss.dependence_weight", "float", 0.0, 2.0, when=("loss.kind", "hierarchical")),
    Param("loss.label_smoothing", "float", 0.0, 0.2),
    Param("imbalance", "choice", choices=("none", "balanced_sampling", "sqrt_sampling", "logit_adjust",
                                                   "balanced_softmax", "drw", "posthoc", "crt")),
    Param("augment.crop_scale", "float", 0.5, 1.0),
    Param("augment.hflip", "choice", choices=(0.0, 0.5)),
    Param("augment.vflip", "choice", choices=(0.0, 0.5)),
    Param("augment.rot90", "choice", choices=(False, True)),
    Param("augment.brightness", "float", 0.0, 0.4),
    Param("augment.contrast", "float", 0.0, 0.4),
    Param("augment.saturation", "float", 0.0, 0.2),
    Param("augment.hue", "float", 0.0, 0.05),
    Param("augment.blur_p", "float", 0.0, 0.5),
    Param("augment.noise_std", "float", 0.0, 0.05),
)


@dataclass(frozen=True)
class TuneOptions:
    """One ``fma-model tune`` run.

    Args:
        data: manifest CSVs or image folders (train and val splits as for ``train``).
        out: the study folder.
        config: the base config YAML, or None for the defaults.
        overrides: ``key=value`` overrides of the base config; their keys are not searched.
        trials: the most trials this run starts.
        budget_minutes: start no new trial after this many minutes (None: no limit).
        objective: a key of :data:`OBJECTIVES`.
        storage: an Optuna storage URL (None: ``sqlite:///OUT/study.sqlite3``).
        study_name: the study's name in the storage.
        resume: continue the existing study (without it an existing study is refused).
        space: the searched parameters, over their whole ranges.
        space_mode: one of :data:`SPACES`: ``near`` narrows ``space``'s numbers around the base config's values.
        val_metrics: more per-epoch validation metrics for the loop (``coverage`` must come from here).
    """

    data: Sequence[str]
    out: Path
    config: str | None = None
    overrides: Sequence[str] = ()
    trials: int = 20
    budget_minutes: float | None = None
    objective: str = "top1"
    storage: str | None = None
    study_name: str = "fma-tune"
    resume: bool = False
    space: Sequence[Param] = field(default_factory=lambda: SEARCH_SPACE)
    space_mode: str = "near"
    val_metrics: ExtraMetrics | None = None

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.out / 'study.sqlite3').resolve()}"


def import_optuna() -> Any:
    """Optuna, or a :class:`TuneError` that says how to install it."""
    try:
        import optuna
    except ImportError:
        raise TuneError(INSTALL_HINT) from None
    return optuna


def fixed_keys(overrides: Sequence[str]) -> set[str]:
    """The dotted keys ``--set`` fixes."""
    return {item.split("=", 1)[0].strip() for item in overrides if "=" in item}


def _get(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for k in key.split("."):
        node = node.get(k) if isinstance(node, dict) else None
    return node


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = data
    for k in parents:
        node = node.setdefault(k, {})
    node[last] = value


def suggest_config(trial: Any, base: dict[str, Any], space: Sequence[Param], fixed: set[str]) -> dict[str, Any]:
    """The base config (a ``TrainConfig.to_dict()``) with the trial's values of the searched keys."""
    cfg = json.loads(json.dumps(base))  # a deep copy
    for p in space:  # (a key --set fixes, or one searched only under a choice this trial did not make, is left)
        if p.key not in fixed and (p.when is None or _get(cfg, p.when[0]) == p.when[1]):
            _set(cfg, p.key, p.suggest(trial))
    return cfg


def base_params(base: dict[str, Any], space: Sequence[Param], fixed: set[str]) -> dict[str, Any]:
    """The base config's own values of the searched keys, for the study's first trial (keys whose value the
    space cannot hold, such as an "auto" left unresolved, are left out and drawn as usual). A choice's value of
    the same type as its choices but not among them (``input_size: 128``) is kept: :func:`with_base_choices`
    adds it to the space."""
    params: dict[str, Any] = {}
    for p in space:
        if p.key in fixed or (p.when is not None and _get(base, p.when[0]) != p.when[1]):
            continue
        value = _get(base, p.key)
        if p.kind == "choice":
            ok = value not in (None, "auto") and all(type(value) is type(c) for c in p.choices)
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and p.low <= value <= p.high
        if ok:
            params[p.key] = value
    return params


def with_base_choices(space: Sequence[Param], base: dict[str, Any]) -> tuple[Param, ...]:
    """``space`` with each choice's base value (:func:`base_params`) among its choices, first: the study's first
    trial is then the base config itself even where the base is not one of the usual values (an input size of
    128, say), and the sampler can come back to it."""
    return tuple(replace(p, choices=(base[p.key], *p.choices))
                 if p.kind == "choice" and p.key in base and base[p.key] not in p.choices else p for p in space)


def near_space(space: Sequence[Param], base: dict[str, Any]) -> tuple[Param, ...]:
    """``space`` with each number's range narrowed around its value in ``base`` (:func:`base_params`' values):
    ``log`` within a factor of :data:`NEAR_FACTOR`, ``float`` and ``int`` within :data:`NEAR_SHARE` of the range
    on each side, clipped to the range. Choices, and keys without a base value, keep their whole range."""
    out = []
    for p in space:
        value = base.get(p.key)
        if p.kind == "choice" or value is None:
            out.append(p)
            continue
        if p.kind == "log":
            low, high = value / NEAR_FACTOR, value * NEAR_FACTOR
        else:
            width = (p.high - p.low) * NEAR_SHARE
            low, high = value - width, value + width
            if p.kind == "int":
                low, high = math.floor(low), math.ceil(high)
        out.append(replace(p, low=max(p.low, low), high=min(p.high, high)))
    return tuple(out)


def _final_value(metrics: dict[str, Any], column: str) -> float | None:
    """The objective on the bundle a trial wrote (its best epoch, after any post-hoc adjustment): the value of
    ``metrics.csv``'s ``val_KEY`` column is the bundle's ``KEY``, or ``KEY`` of the extra metrics."""
    key = column.removeprefix("val_")
    value = metrics.get(key, (metrics.get("extra") or {}).get(key))
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def epoch_reporter(trial: Any, column: str, optuna: Any) -> Callable[[dict[str, Any]], None]:
    """The loop's ``on_epoch`` callback: report the epoch's validation metric; raise ``TrialPruned`` when the
    pruner says so (which ends the training run)."""

    def report(row: dict[str, Any]) -> None:
        value = row.get(column)
        if value is None:
            return
        trial.report(float(value), step=int(row["epoch"]))
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {row['epoch']} ({column}={value})")

    return report


def _open_study(options: TuneOptions, optuna: Any, pruner: Any, seed: int, made: Path | None) -> Any:
    url = options.storage_url
    try:
        optuna.load_study(study_name=options.study_name, storage=url)
        exists = True
    except KeyError:
        exists = False
    except Exception as exc:  # a URL that is none, a database away: optuna and SQLAlchemy raise many kinds
        if made is not None and not any(made.iterdir()):
            made.rmdir()  # (no empty --out folder left behind)
        why = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise TuneError(f"cannot open the study's storage {url}: {why}") from exc
    if exists and not options.resume:
        raise TuneError(f"a study named {options.study_name!r} already exists in {url}; "
                        "use --resume to continue it, or another --out / --study-name")
    if not exists and options.resume:
        raise TuneError(f"--resume: no study named {options.study_name!r} in {url}")
    if exists:
        study = optuna.load_study(study_name=options.study_name, storage=url)
        if study.user_attrs.get("objective") not in (None, options.objective):
            raise TuneError(f"the study {options.study_name!r} maximises {study.user_attrs['objective']}, "
                            f"not {options.objective}")
        if study.user_attrs.get("space") not in (None, options.space_mode):
            raise TuneError(f"the study {options.study_name!r} searches the {study.user_attrs['space']} space, "
                            f"not {options.space_mode}: resume it with --space {study.user_attrs['space']}")
    else:
        study = optuna.create_study(study_name=options.study_name, storage=url, direction="maximize")
        study.set_user_attr("objective", options.objective)
    study.set_user_attr("space", options.space_mode)
    # A resumed study (or a second process) draws new values, not the first run's again.
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials), n_startup_trials=1 + STARTUP_TRIALS)
    study.pruner = pruner
    return study


def tune(options: TuneOptions, *, log: Log = print, pruner: Any = None) -> Any:
    """Run the search and write its results to ``options.out``; return the Optuna study.

    Args:
        pruner: an Optuna pruner; None = ``MedianPruner`` (after 3 complete trials, from the second epoch).

    Raises:
        TuneError: Optuna is missing, the study exists without ``resume`` (or is missing with it), or the data
            has no validation split.
        ConfigError: the base config is invalid.
    """
    optuna = import_optuna()
    from models.training.config import load_config
    from models.training.data import load_training_data
    from models.training.loop import resolve_taxonomy, train

    if options.objective not in OBJECTIVES:
        raise TuneError(f"--objective must be one of {', '.join(OBJECTIVES)}, got {options.objective!r}")
    if options.objective == "coverage" and options.val_metrics is None:
        raise TuneError("--objective coverage needs --target-purity P")
    if options.space_mode not in SPACES:
        raise TuneError(f"--space must be one of {', '.join(SPACES)}, got {options.space_mode!r}")
    base_cfg, base_dir = load_config(options.config, options.overrides)
    if base_cfg.taxonomy is not None and base_dir is not None and not Path(base_cfg.taxonomy).is_absolute():
        base_cfg.taxonomy = str((base_dir / base_cfg.taxonomy).resolve())  # best.yaml lives elsewhere
    taxonomy = resolve_taxonomy(base_cfg, base_dir)
    samples = load_training_data(base_cfg, options.data, taxonomy, lambda _m: None)
    if not samples.val:
        raise TuneError("tune needs a validation split (rows with split=val, or a val fraction)")
    out = options.out
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = pruner or optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)
    study = _open_study(options, optuna, pruner, base_cfg.seed, out if made else None)
    base = base_cfg.to_dict()
    fixed = fixed_keys(options.overrides)
    # The base config as `train` would run it (its "auto" keys settled by the data): the first trial of a new
    # study, so the study's best is never worse on validation than not tuning at all, and the centre of `near`.
    from models.training.inspection import choose_settings, profile_data

    settled, _choices = choose_settings(base_cfg, profile_data(samples.train, taxonomy), validation=bool(samples.val))
    if settled.input_size is None and "input_size" not in fixed:  # the backbone's own size, as train takes it
        from models.nn.network import resolve_data_config

        settled = replace(settled, input_size=int(resolve_data_config(settled.network)["input_size"][1]))
    base_values = base_params(settled.to_dict(), options.space, fixed)
    space = with_base_choices(options.space, base_values)
    if study.trials:  # resumed: the choices it was made with (Optuna refuses a choice's values changed midway)
        made_with = study.user_attrs.get("choices") or {p.key: list(p.choices) for p in options.space
                                                        if p.kind == "choice"}  # (a study from before 2026-12-06)
        space = tuple(replace(p, choices=tuple(made_with[p.key])) if p.key in made_with else p for p in space)
    else:
        study.set_user_attr("choices", {p.key: list(p.choices) for p in space if p.kind == "choice"})
    space = space if options.space_mode == "wide" else near_space(space, base_values)
    if not study.trials:
        study.enqueue_trial(base_values)
        study.set_user_attr(BASE_TRIAL_ATTR, 0)
        log("[tune] trial 0 is the base config, as train would run it")
    space = tuple(p for p in space if p.key not in fixed)
    log(f"[tune] space {options.space_mode}: " + ", ".join(
        f"{p.key} {_fmt(p.low)}..{_fmt(p.high)}" for p in space if p.kind != "choice"))
    # a config's value is the first trial's, then searched like the rest (input_size: 64 in --config, then 224 in
    # trial 1, surprised a user on a slow machine): said, with the way to pin one
    log("[tune] choices: " + "; ".join(f"{p.key} {'/'.join(map(str, p.choices))}" for p in space if p.kind == "choice")
        + " (the config's values are trial 0's; --set KEY=VALUE keeps a key out of the search)")
    column = OBJECTIVES[options.objective]

    def objective(trial: Any) -> float:
        values = suggest_config(trial, base, space, fixed)
        cfg = TrainConfig.from_dict(values, source=f"trial {trial.number}")
        folder = out / "trials" / f"{trial.number:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
        log(f"[tune] trial {trial.number}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items()))
        recorder = ValRecorder(options.val_metrics)
        try:
            result = train(cfg, options.data, folder / "run", base_dir=base_dir, log=lambda _m: None,
                           progress=False, on_epoch=epoch_reporter(trial, column, optuna), val_metrics=recorder)
        finally:
            _keep_history(folder)
        final = _final_value(result.metrics, column)
        if final is None:
            raise TuneError(f"trial {trial.number}: no {column} (is the validation split empty?)")
        if recorder.pred is not None:  # the last call is the bundle's validation
            trial.set_user_attr(VAL_PRED_ATTR, recorder.pred.tolist())
            trial.set_user_attr(VAL_TARGETS_ATTR, recorder.targets.tolist())
        return final

    started = time.monotonic()
    timeout = options.budget_minutes * 60 if options.budget_minutes is not None else None
    try:
        # A trial that fails (out of memory at a large input size; timm asserts a ViT's input size) is recorded
        # as FAIL, with its error in the log, and the search goes on.
        study.optimize(objective, n_trials=options.trials, timeout=timeout,
                       catch=(RuntimeError, ValueError, AssertionError),
                       callbacks=[lambda s, t: log(_trial_line(t))])
    finally:
        write_results(study, base_cfg, out, options.objective, log, space)
    log(f"[tune] {len(study.trials)} trial(s) in the study, this run {time.monotonic() - started:.0f} s")
    return study


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _trial_line(t: Any) -> str:
    value = f" {t.value:.4f}" if t.value is not None else ""
    return f"[tune] trial {t.number}: {t.state.name}{value}"


def _keep_history(folder: Path) -> None:
    """Keep a trial's ``metrics.csv``; drop its checkpoints and bundle (the weights of every trial would
    fill a disk)."""
    run = folder / "run"
    if (run / "metrics.csv").exists():
        shutil.copyfile(run / "metrics.csv", folder / "metrics.csv")
    shutil.rmtree(run, ignore_errors=True)


def best_config(study: Any, base: TrainConfig) -> TrainConfig | None:
    """The base config with the best trial's values, or None before a trial completes."""
    try:
        best = study.best_trial
    except ValueError:
        return None
    data = base.to_dict()
    for key, value in best.params.items():
        _set(data, key, value)
    return TrainConfig.from_dict(data, source="best trial")


def write_results(study: Any, base: TrainConfig, out: Path, objective: str, log: Log = print,
                  space: Sequence[Param] = ()) -> None:
    """``trials.csv``, ``summary.json``, ``best.yaml`` (after a complete trial) and ``importance.png``."""
    trials = study.trials
    keys = sorted({k for t in trials for k in t.params})
    rows = [{
        "number": t.number, "state": t.state.name, "value": t.value,
        "duration_s": round(t.duration.total_seconds(), 2) if t.duration is not None else None,
        **{f"param_{k}": t.params.get(k) for k in keys},
    } for t in trials]
    with (out / "trials.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["number", "state", "value", "duration_s", *(f"param_{k}" for k in keys)])
        w.writeheader()
        w.writerows(rows)
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    cfg = best_config(study, base)
    summary: dict[str, Any] = {"objective": objective, "direction": "maximize", "n_trials": len(trials),
                               "n_trials_by_state": states, "best_value": None, "best_trial": None,
                               "best_params": None, "vs_base": None, "space": study.user_attrs.get("space"),
                               "ranges": {p.key: [p.low, p.high] for p in space if p.kind != "choice"}}
    if cfg is not None:
        vs = versus_base(study, objective)
        summary.update(best_value=study.best_value, best_trial=study.best_trial.number,
                       best_params=study.best_trial.params, vs_base=vs)
        line = versus_base_line(vs)
        if line:
            log(line)
        text = f"# fma-model tune: the best trial ({objective} {study.best_value:.4f}, trial " \
               f"{study.best_trial.number} of study {study.study_name!r})\n"
        if line:
            text += "# " + line.removeprefix("[tune] ") + "\n"
        write_text(out / "best.yaml", text + yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    else:
        log("[tune] no trial has completed: no best.yaml")
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    _importance_plot(study, out / "importance.png", log)


def _importance_plot(study: Any, path: Path, log: Log) -> None:
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        log(f"[tune] importance.png skipped: {len(complete)} complete trial(s), 2 needed")
        return
    try:
        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as exc:
        log(f"[tune] importance.png skipped: {exc}")
        return
    if not importances or not all(math.isfinite(v) for v in importances.values()):
        log("[tune] importance.png skipped: no parameter varied across the complete trials")
        return
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(importances)[::-1]
    fig = Figure(figsize=(7, 0.35 * len(names) + 1.2), dpi=100)
    FigureCanvasAgg(fig)  # no pyplot, no global backend switch
    ax = fig.add_subplot()
    ax.barh(names, [importances[n] for n in names], color="#4477aa")
    ax.set_xlabel(f"importance for {study.user_attrs.get('objective', 'the objective')} (optuna.importance)")
    ax.set_title(f"{study.study_name}: {len(complete)} complete trials")
    fig.tight_layout()
    fig.savefig(path)


__all__ = ["NEAR_FACTOR", "NEAR_SHARE", "OBJECTIVES", "SEARCH_SPACE", "SPACES", "STARTUP_TRIALS", "Param", "TuneError",
           "TuneOptions", "ValRecorder", "best_config", "epoch_reporter", "near_space", "paired_gain", "suggest_config",
           "tune", "versus_base", "versus_base_line", "with_base_choices", "write_results"]
