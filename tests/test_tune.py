"""fma-model tune (a tiny Optuna study), the one-cycle schedule and grid's `plain` reference row."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import optuna
import pytest

from models.commands.cli import main as cli_main
from models.data.transforms import AugmentConfig
from models.training.config import TrainConfig, load_config
from models.training.schedule import onecycle_factor, schedule_factor
from tests.test_train import TINY_SETS, _tiny_dataset

# Tiny trials: the tiny network of test_train, one epoch of one step.
TUNE_SETS = [s for s in TINY_SETS if not s.startswith(("epochs=", "max_steps", "batch_size"))] + [
    "epochs=1", "max_steps_per_epoch=1", "batch_size=4", "network.head=flat"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, taxonomy) -> Path:
    return _tiny_dataset(tmp_path_factory.mktemp("data"), taxonomy)


def _tune(out: Path, data: Path, *extra: str) -> int:
    args = ["tune", "--data", str(data), "--out", str(out)]
    for s in TUNE_SETS:
        args += ["--set", s]
    return cli_main([*args, *extra])


def _rows(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((out / "trials.csv").open(encoding="utf-8")))


def test_tiny_study_writes_results_and_resume_adds_trials(tmp_path, dataset, capsys):
    out = tmp_path / "study"
    assert _tune(out, dataset, "--trials", "1", "--objective", "macro_recall") == 0
    (row,) = _rows(out)
    assert row["number"] == "0" and row["state"] == "COMPLETE"
    assert 0 <= float(row["value"]) <= 1 and float(row["duration_s"]) > 0
    assert "param_lr" in row and "param_input_size" not in row  # --set keys are not searched
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == "macro_recall" and summary["n_trials_by_state"] == {"COMPLETE": 1}
    assert summary["best_value"] == float(row["value"])
    cfg, _ = load_config(out / "best.yaml")  # loadable by `fma-model train --config`
    assert cfg.lr == pytest.approx(summary["best_params"]["lr"]) == pytest.approx(float(row["param_lr"]))
    assert cfg.input_size == 32 and cfg.network.head == "flat"
    text = capsys.readouterr().out
    assert "importance.png skipped: 1 complete trial(s)" in text
    # the first trial is the base config as train would run it: the defaults, "auto" settled by the data
    assert "trial 0 is the base config" in text
    assert float(row["param_lr"]) == TrainConfig().lr and row["param_schedule"] == TrainConfig().schedule
    assert row["param_imbalance"] == "none"  # auto, on a balanced data set
    assert row["param_augment.rot90"] == str(AugmentConfig().rot90)
    assert (out / "trials" / "0000" / "metrics.csv").exists() and not (out / "trials" / "0000" / "run").exists()

    # an existing study is refused without --resume (one line, exit 2) ...
    assert _tune(out, dataset, "--trials", "1", "--objective", "macro_recall") == 2
    err = capsys.readouterr().err
    assert "--resume" in err and err.count("\n") == 1
    # ... and continued with it, with new values
    assert _tune(out, dataset, "--trials", "1", "--objective", "macro_recall", "--resume") == 0
    rows = _rows(out)
    assert [r["number"] for r in rows] == ["0", "1"] and rows[0]["param_lr"] != rows[1]["param_lr"]
    assert json.loads((out / "summary.json").read_text())["n_trials"] == 2


def test_resume_without_a_study_and_a_missing_optuna_are_one_line(tmp_path, dataset, capsys, monkeypatch):
    assert _tune(tmp_path / "none", dataset, "--resume") == 2
    assert "no study" in capsys.readouterr().err
    # a storage that is no URL is a line naming it (it was SQLAlchemy's traceback), and leaves no empty --out
    assert _tune(tmp_path / "bad", dataset, "--storage", "notaurl") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open the study's storage notaurl: " in err
    assert not (tmp_path / "bad").exists()
    monkeypatch.setitem(__import__("sys").modules, "optuna", None)  # `import optuna` raises ImportError
    assert _tune(tmp_path / "x", dataset) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install" in err and "optuna" in err


def test_budget_stops_starting_trials(tmp_path, dataset):
    out = tmp_path / "study"
    assert _tune(out, dataset, "--trials", "5", "--budget-minutes", "0.0001") == 0
    assert len(_rows(out)) == 1


def test_epoch_reporter_prunes_when_the_pruner_says_so():
    from models.training.tune import epoch_reporter

    class FakeTrial:
        def __init__(self, prune: bool) -> None:
            self.prune, self.reports = prune, []

        def report(self, value, step):
            self.reports.append((step, value))

        def should_prune(self):
            return self.prune

    keep = FakeTrial(prune=False)
    epoch_reporter(keep, "val_top1", optuna)({"epoch": 1, "val_top1": 0.25})
    assert keep.reports == [(1, 0.25)]
    stop = FakeTrial(prune=True)
    with pytest.raises(optuna.TrialPruned):
        epoch_reporter(stop, "val_hier_f1", optuna)({"epoch": 2, "val_top1": 0.1, "val_hier_f1": 0.5})
    assert stop.reports == [(2, 0.5)]


def test_a_pruned_trial_stops_training_and_is_recorded_as_pruned(tmp_path, dataset):
    from models.training.tune import TuneOptions, tune

    class AlwaysPrune(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    out = tmp_path / "study"
    study = tune(TuneOptions(data=[str(dataset)], out=out, overrides=[*TUNE_SETS, "epochs=2"], trials=1),
                 log=lambda _m: None, pruner=AlwaysPrune())
    assert [t.state.name for t in study.trials] == ["PRUNED"]
    assert _rows(out)[0]["state"] == "PRUNED"
    history = list(csv.DictReader((out / "trials" / "0000" / "metrics.csv").open()))
    assert len(history) == 1  # training stopped after the first epoch of two
    assert not (out / "best.yaml").exists()
    assert json.loads((out / "summary.json").read_text())["n_trials_by_state"] == {"PRUNED": 1}


def test_importance_plot_needs_two_complete_trials(tmp_path):
    from models.training.tune import _importance_plot

    dist = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True),
            "loss.kind": optuna.distributions.CategoricalDistribution(["flat", "hierarchical"])}
    study = optuna.create_study(direction="maximize")
    lines: list[str] = []
    study.add_trial(optuna.trial.create_trial(params={"lr": 1e-3, "loss.kind": "flat"}, distributions=dist, value=0.5))
    _importance_plot(study, tmp_path / "one.png", lines.append)
    assert not (tmp_path / "one.png").exists() and "1 complete trial(s), 2 needed" in lines[-1]
    for i, lr in enumerate([2e-4, 5e-4, 3e-3, 8e-3]):
        study.add_trial(optuna.trial.create_trial(params={"lr": lr, "loss.kind": ["flat", "hierarchical"][i % 2]},
                                                  distributions=dist, value=0.1 * i))
    _importance_plot(study, tmp_path / "importance.png", lines.append)
    assert (tmp_path / "importance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_onecycle_rises_then_falls():
    total = 100
    f = [onecycle_factor(s, total) for s in range(total)]
    peak = max(range(total), key=f.__getitem__)
    assert peak == 30 and f[peak] == pytest.approx(1.0)
    assert f[0] == pytest.approx(1 / 25)
    assert f[-1] == pytest.approx(1 / 25e4)
    assert all(a < b for a, b in itertools.pairwise(f[:peak + 1]))
    assert all(a > b for a, b in itertools.pairwise(f[peak:]))
    # halfway up the rise, halfway between start and peak (cosine)
    assert f[15] == pytest.approx((1 / 25 + 1) / 2)
    # the loop's schedule switch: onecycle ignores warmup and min_lr; cosine keeps its warmup
    assert schedule_factor("onecycle", 0, total, warmup=10, min_ratio=0.5) == pytest.approx(1 / 25)
    assert schedule_factor("cosine", 0, total, warmup=10, min_ratio=0.5) == pytest.approx(0.1)


def test_grid_plain_row_is_flat_with_the_standard_recipe(tmp_path, dataset, monkeypatch):
    import contextlib
    import sys

    import models.training.grid as grid

    def in_process(cmd, stdout, stderr):  # the cells' train and evaluate, without two interpreter start-ups
        assert cmd[:3] == [sys.executable, "-m", "models.commands.cli"]
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stdout):
            return cli_main(cmd[3:])

    monkeypatch.setattr(grid.subprocess, "call", in_process)
    out = tmp_path / "grid"
    rc = cli_main(["grid", "--data", str(dataset), "--out", str(out), "--tiny", "--backbones", "convnext_tiny",
                   "--frameworks", "plain", "--set", "input_size=32"])
    assert rc == 0
    rows = list(csv.DictReader((out / "grid.csv").open()))
    assert [(r["backbone"], r["framework"], r["status"]) for r in rows] == [("convnext_tiny", "plain", "ok")]
    config = json.loads((out / "convnext_tiny__plain" / "bundle" / "manifest.json").read_text())["train"]["config"]
    assert config["schedule"] == "onecycle" and config["network"]["head"] == "flat"
    assert config["loss"]["kind"] == "flat" and config["loss"]["label_smoothing"] == 0.1
    from models.data.transforms import AugmentConfig
    from models.training.grid import PLAIN_AUGMENT

    assert set(PLAIN_AUGMENT) == set(AugmentConfig().to_dict())  # a new augmentation must be set for plain too
    aug = config["augment"]
    assert aug["hflip"] == aug["vflip"] == 0.5 and aug["rot90"] is False and aug["crop_scale"] == 1.0
    assert aug["blur_p"] == aug["noise_std"] == aug["brightness"] == 0


def test_a_failing_trial_is_recorded_and_the_search_goes_on(tmp_path, dataset):
    from models.training.tune import Param, TuneOptions, tune

    out = tmp_path / "study"
    bad = (Param("lr", "float", -2.0, -1.0),)  # TrainConfig refuses a negative learning rate
    study = tune(TuneOptions(data=[str(dataset)], out=out, overrides=TUNE_SETS, trials=2, space=bad),
                 log=lambda _m: None)
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL"]
    assert [r["state"] for r in _rows(out)] == ["FAIL", "FAIL"] and not (out / "best.yaml").exists()
    assert json.loads((out / "summary.json").read_text())["best_value"] is None


def test_auto_coverage_counts_the_images_of_leaves_that_reach_the_purity():
    import numpy as np

    from models.calibration.thresholds import auto_coverage

    probs = np.zeros((40, 3))
    probs[:30, 0] = 0.9  # 30 images predicted as leaf 0, all right
    probs[30:, 1] = 0.8  # 10 predicted as leaf 1: fewer than min_support 20
    probs[probs.sum(1) == 0.9, 2] = 0.1
    probs[probs.sum(1) == 0.8, 2] = 0.2
    targets = np.array([0] * 30 + [1] * 10)
    assert auto_coverage(probs, targets, target=0.9) == pytest.approx(30 / 40)  # 30/30: lower bound 0.905
    assert auto_coverage(probs, targets, target=0.95) == 0.0  # 59 right images would be needed
    assert auto_coverage(probs, targets, target=0.9, min_support=5) == pytest.approx(30 / 40)  # 10/10: lower bound 0.74
    assert auto_coverage(probs[:0], targets[:0], target=0.9) == 0.0


def test_coverage_objective(tmp_path, dataset, capsys):
    assert _tune(tmp_path / "a", dataset, "--objective", "coverage") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--target-purity" in err
    out = tmp_path / "b"
    assert _tune(out, dataset, "--trials", "1", "--objective", "coverage", "--target-purity", "0.9") == 0
    (row,) = _rows(out)
    history = list(csv.DictReader((out / "trials" / "0000" / "metrics.csv").open()))
    assert float(row["value"]) == max(float(h["val_coverage"]) for h in history)
    assert json.loads((out / "summary.json").read_text())["objective"] == "coverage"


def test_paired_gain_calls_a_small_gain_a_tie_and_a_large_one_better():
    import numpy as np

    from models.training.tune import paired_gain

    targets = np.repeat(np.arange(10), 30)  # 300 validation images, 30 of each leaf
    base = targets.copy()
    base[:150] = (targets[:150] + 1) % 10  # right on half of them
    small, large = base.copy(), base.copy()
    small[:10] = targets[:10]  # ten more right and six fewer, as two similar trials differ: +1.3 points
    small[150:156] = (targets[150:156] + 2) % 10
    large[:60] = targets[:60]  # sixty more right: +20 points
    tie = paired_gain(base, small, targets)
    assert tie["top1"]["delta"] == pytest.approx(4 / 300, abs=1e-5) and tie["top1"]["verdict"] == "tie"
    assert tie["top1"]["ci"][0] <= 0 <= tie["top1"]["ci"][1]
    better = paired_gain(base, large, targets)
    assert better["top1"]["verdict"] == "better" and better["top1"]["ci"][0] > 0.1
    assert better["macro_recall"]["verdict"] == "better" and better["macro_recall"]["base"] == pytest.approx(0.5)
    assert paired_gain(large, base, targets)["top1"]["verdict"] == "worse"
    same = paired_gain(base, base, targets)["top1"]
    assert same["delta"] == 0 and same["ci"] == [0, 0] and same["verdict"] == "tie"


def test_versus_base_compares_the_best_trial_with_trial_0_on_the_same_images():
    import numpy as np

    from models.training.tune import BASE_TRIAL_ATTR, versus_base, versus_base_line

    targets = np.repeat(np.arange(6), 20)
    base_pred = np.where(np.arange(120) < 60, (targets + 1) % 6, targets)
    dist = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}

    def study_with(*trials):
        study = optuna.create_study(direction="maximize")
        study.set_user_attr(BASE_TRIAL_ATTR, 0)
        for value, pred, tgt in trials:
            attrs = {} if pred is None else {"val_pred": pred.tolist(), "val_targets": tgt.tolist()}
            study.add_trial(optuna.trial.create_trial(params={"lr": 1e-3}, distributions=dist, value=value,
                                                      user_attrs=attrs))
        return study

    vs = versus_base(study_with((0.5, base_pred, targets), (0.95, targets, targets)))
    assert vs["base_trial"] == 0 and vs["best_trial"] == 1 and vs["n"] == 120 and vs["verdict"] == "better"
    assert vs["top1"]["delta"] == pytest.approx(0.5) and vs["verdict_on"] == "top1"
    assert "+50.0 points" in versus_base_line(vs) and "ahead on top1" in versus_base_line(vs)
    assert versus_base(study_with((0.5, base_pred, targets), (0.95, targets, targets)), "hier_f1")["verdict_on"] == "top1"
    near = base_pred.copy()
    near[:2] = targets[:2]
    vs = versus_base(study_with((0.5, base_pred, targets), (0.52, near, targets)), "macro_recall")
    assert vs["verdict"] == "tie" and vs["verdict_on"] == "macro_recall" and "a tie on macro recall" in versus_base_line(vs)
    assert versus_base(study_with((0.9, base_pred, targets), (0.5, targets, targets)))["verdict"] == "base"
    # no comparison: a trial without the record (a study from before it), or other validation images
    assert versus_base(study_with((0.5, None, None), (0.9, targets, targets))) is None
    assert versus_base(study_with((0.5, base_pred, targets), (0.9, targets[:60], targets[:60]))) is None
    assert versus_base_line(None) == ""


def test_a_study_records_each_trials_validation_calls_and_compares_with_the_base(tmp_path, dataset, monkeypatch):
    import models.training.tune as tune_module
    from models.training.tune import TuneOptions, tune

    calls: list[int] = []

    class Counting(tune_module.ValRecorder):
        def __call__(self, leaf_probs, targets):
            calls.append(len(targets))
            return super().__call__(leaf_probs, targets)

    monkeypatch.setattr(tune_module, "ValRecorder", Counting)
    out = tmp_path / "study"
    lines: list[str] = []
    study = tune(TuneOptions(data=[str(dataset)], out=out, overrides=[*TUNE_SETS, "epochs=2"], trials=2),
                 log=lines.append)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert len(calls) == 2 * 3  # per trial: each epoch's validation, then the bundle's; the record is the last
    for t in study.trials:
        pred, targets = t.user_attrs["val_pred"], t.user_attrs["val_targets"]
        assert len(pred) == len(targets) > 0
        # the record is the bundle's: its top-1 is the trial's value (the objective is top1)
        assert sum(p == g for p, g in zip(pred, targets, strict=True)) / len(pred) == pytest.approx(t.value, abs=1e-4)
    vs = json.loads((out / "summary.json").read_text())["vs_base"]
    assert vs["base_trial"] == 0 and vs["best_trial"] == study.best_trial.number
    header = (out / "best.yaml").read_text().splitlines()[1]
    if vs["verdict"] == "base":
        assert "the best trial is the base config" in header
    else:
        assert vs["n"] == len(study.trials[0].user_attrs["val_pred"]) and header.startswith("# best trial")
    assert any(line.startswith("[tune] best trial") or "is the base config (trial 0)" in line for line in lines)


def test_near_space_narrows_numbers_around_the_base_and_keeps_the_choices():
    from models.training.tune import NEAR_FACTOR, SEARCH_SPACE, Param, near_space

    base = {"lr": 0.0005, "weight_decay": 0.15, "loss.label_smoothing": 0.1, "augment.crop_scale": 0.9,
            "network.head": "independent"}
    space = {p.key: p for p in near_space(SEARCH_SPACE, base)}
    wide = {p.key: p for p in SEARCH_SPACE}
    assert (space["lr"].low, space["lr"].high) == pytest.approx((0.0005 / NEAR_FACTOR, 0.0005 * NEAR_FACTOR))
    assert space["weight_decay"].high == wide["weight_decay"].high  # 0.45 clipped to the wide range's 0.2
    assert (space["loss.label_smoothing"].low, space["loss.label_smoothing"].high) == pytest.approx((0.05, 0.15))
    assert (space["augment.crop_scale"].low, space["augment.crop_scale"].high) == pytest.approx((0.775, 1.0))
    assert space["network.head"] == wide["network.head"]  # a choice keeps every value
    assert space["backbone_lr_scale"] == wide["backbone_lr_scale"]  # no base value: the whole range
    (ints,) = near_space((Param("n", "int", 0, 10),), {"n": 5})
    assert (ints.low, ints.high) == (2, 8)


def test_a_near_study_draws_inside_the_narrowed_ranges_and_says_them(tmp_path, dataset):
    from models.training.tune import NEAR_FACTOR, TuneOptions, tune

    out = tmp_path / "near"
    lines: list[str] = []
    study = tune(TuneOptions(data=[str(dataset)], out=out, overrides=TUNE_SETS, trials=3), log=lines.append)
    lr = TrainConfig().lr
    low, high = lr / NEAR_FACTOR, min(3e-3, lr * NEAR_FACTOR)  # clipped to the wide range
    assert all(low <= t.params["lr"] <= high for t in study.trials)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["space"] == "near" and summary["ranges"]["lr"] == pytest.approx([low, high])
    assert any(line.startswith("[tune] space near: lr ") for line in lines)
    (choices,) = [line for line in lines if line.startswith("[tune] choices: ")]
    assert "schedule cosine/onecycle" in choices and "--set KEY=VALUE keeps a key out of the search" in choices
    assert "input_size" not in choices  # (TUNE_SETS fixes it)
    assert "network.head_dim" not in summary["ranges"]
    wide = tune(TuneOptions(data=[str(dataset)], out=tmp_path / "wide", overrides=[*TUNE_SETS, "lr=0.001"], trials=1,
                            space_mode="wide"), log=lambda _m: None)
    assert wide.user_attrs["space"] == "wide" and "lr" not in wide.trials[0].params
    ranges = json.loads((tmp_path / "wide" / "summary.json").read_text())["ranges"]
    assert "lr" not in ranges and ranges["weight_decay"] == [1e-3, 0.2]  # a key fixed with --set is not searched
    # a study keeps its space: resuming it with the other is refused (one line, exit 2)
    assert _tune(tmp_path / "wide", dataset, "--trials", "1", "--resume") == 2
    with pytest.raises(SystemExit) as refused:  # argparse refuses another value
        _tune(tmp_path / "x", dataset, "--space", "narrow")
    assert refused.value.code == 2


def test_the_first_trial_is_the_base_even_at_an_unusual_or_unset_input_size(tmp_path, dataset):
    """A base input size outside the searched choices (128) is trial 0's and joins the choices; an unset one is
    the backbone's own size, as train takes it (before, trial 0 drew one of 160/224/288 at random)."""
    from models.nn.network import resolve_data_config
    from models.training.tune import SEARCH_SPACE, TuneOptions, base_params, tune, with_base_choices

    values = base_params({"input_size": 128, "imbalance": "auto", "network": {"head": "flat"}}, SEARCH_SPACE, set())
    assert values["input_size"] == 128 and "imbalance" not in values  # an unsettled "auto" is drawn as before
    space = {p.key: p for p in with_base_choices(SEARCH_SPACE, values)}
    assert space["input_size"].choices == (128, 160, 224, 288)
    assert space["network.head"].choices == next(p for p in SEARCH_SPACE if p.key == "network.head").choices

    sets = [s for s in TUNE_SETS if not s.startswith("input_size=")]
    runs = {}
    for name, extra in (("unset", []), ("128", ["input_size: 128"])):
        base = tmp_path / f"{name}.yaml"
        base.write_text("\n".join(extra) + "\n", encoding="utf-8")
        runs[name] = tune(TuneOptions(data=[str(dataset)], out=tmp_path / name, config=str(base), overrides=sets,
                                      trials=1), log=lambda _m: None)
    own = resolve_data_config(load_config(None, TUNE_SETS)[0].network)["input_size"][1]
    assert runs["unset"].trials[0].params["input_size"] == own == 224
    assert runs["128"].trials[0].params["input_size"] == 128
    assert json.loads((tmp_path / "128" / "summary.json").read_text())["space"] == "near"
    # resumed with another base size, or a study made before the base joined the choices: the study's own choices
    # (Optuna refused the changed value space, and every trial failed quietly until the budget ran out)
    resumed = tune(TuneOptions(data=[str(dataset)], out=tmp_path / "128", config=str(tmp_path / "unset.yaml"),
                               overrides=sets, trials=1, resume=True), log=lambda _m: None)
    assert [t.state.name for t in resumed.trials] == ["COMPLETE", "COMPLETE"]
    assert resumed.user_attrs["choices"]["input_size"] == [128, 160, 224, 288]
    runs["unset"].set_user_attr("choices", None)  # as a study made before 2026-12-06 has it: the usual choices
    again = tune(TuneOptions(data=[str(dataset)], out=tmp_path / "unset", config=str(tmp_path / "128.yaml"),
                             overrides=sets, trials=1, resume=True), log=lambda _m: None)
    assert [t.state.name for t in again.trials] == ["COMPLETE", "COMPLETE"]
