"""Training, resume, evaluation and the grid, end to end on tiny data and tiny models."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from models.commands.cli import main as cli_main
from models.training.config import ConfigError, load_config

TINY_SETS = [
    "network.backbone=convnext_tiny",
    'network.backbone_kwargs={"depths": [1, 1, 1, 1], "dims": [8, 16, 32, 64]}',
    "network.head_dim=16",
    "input_size=32",
    "batch_size=8",
    "num_workers=0",
    "epochs=2",
    "max_steps_per_epoch=3",
    "precision=fp32",
]


def _tiny_dataset(root: Path, taxonomy, per_class: int = 4) -> Path:
    """Each leaf gets its own colour; rows split 2 train / 1 val / 1 test."""
    rng = np.random.default_rng(0)
    rows = ["path,label,split,defect_bbox"]
    for i, leaf in enumerate(taxonomy.leaves):
        colour = np.array([(i * 53) % 255, (i * 97) % 255, (i * 151) % 255], dtype=np.float32)
        for j in range(per_class):
            arr = np.clip(colour + rng.normal(0, 20, (24, 24, 3)), 0, 255).astype(np.uint8)
            p = root / "img" / f"{leaf}_{j}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(p)
            split = "train" if j < per_class - 2 else ("val" if j == per_class - 2 else "test")
            rows.append(f"img/{p.name},{leaf},{split},0 0 24 24")
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, taxonomy) -> Path:
    return _tiny_dataset(tmp_path_factory.mktemp("data"), taxonomy)


def _train(out: Path, data: Path, *extra: str) -> int:
    args = ["train", "--data", str(data), "--out", str(out), "--no-progress"]
    for s in [*TINY_SETS, *extra]:
        args += ["--set", s]
    return cli_main(args)


def test_a_config_names_its_level_weights(tmp_path):
    """The default level weights changed once (equal, then leaf, 2026-12-06): a config records the name, so a
    checkpoint or best.yaml read later says which it trained with (null meant "equal" before)."""
    assert load_config(None, [])[0].loss.level_weights == "leaf"
    assert load_config(None, ["loss.kind=multilabel"])[0].loss.level_weights == "equal"
    assert load_config(None, ["loss.level_weights=[1,1,2]"])[0].loss.level_weights == [1.0, 1.0, 2.0]
    from models.training.checkpoint import _differences

    then = load_config(None, [])[0].to_dict()
    then["loss"]["level_weights"] = None  # a run started before the change
    assert any(d.startswith("loss.level_weights") for d in _differences(then, load_config(None, [])[0].to_dict()))


def test_config_refuses_unknown_keys_and_bad_values(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("epochs: 1\nbatch_size: 8\nepochs: 2\n")  # the second won unseen (team walk-through)
    with pytest.raises(ConfigError, match=r"c.yaml line 3: invalid YAML \(duplicate key 'epochs' in one mapping\)"):
        load_config(cfg)
    cfg.write_text("network:\n  backbone: resnet50\n  cbam: blocks\n  backbone: convnext_tiny\n")
    with pytest.raises(ConfigError, match="duplicate key 'backbone'"):
        load_config(cfg)
    cfg.write_text("epochs: 3\nnetwork:\n  backbone: resnet50\n  colour: red\n")
    with pytest.raises(ConfigError, match="colour"):
        load_config(cfg)
    cfg.write_text("epochs: 3\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key.*learning_rate"):
        load_config(cfg)
    with pytest.raises(ConfigError, match=r"epochs=0 \(expected a whole number of at least 1\)"):
        load_config(None, ["epochs=0"])
    cfg.write_text("epochs: [3\n")
    with pytest.raises(ConfigError, match="line"):
        load_config(cfg)
    for bad, words in (("augment.blur_p=2", r"augment\.blur_p must be a number in \[0\.0, 1\.0\], got 2"),
                       ("augment.hflip=2", "augment.hflip"), ("augment.brightness=-1", "augment.brightness"),
                       ("augment.contrast=abc", "augment.contrast"), ("augment.noise_std=-1", "augment.noise_std"),
                       ("augment.rot90=maybe", "augment.rot90 must be true or false"),
                       ("half_weights=yes_please", r"half_weights='yes_please' \(expected true or false\)"),
                       ("half_weights='false'", r"half_weights='false' \(expected true or false\)"),  # (was float16)
                       ("channels_last=maybe", r"channels_last='maybe' \(expected true or false\)"),
                       # YAML's yes/true and .inf passed, and ended in a traceback after the data or an epoch
                       ("batch_size=true", r"batch_size=True \(expected a whole number of at least 1\)"),
                       ("seed=yes", r"seed=True \(expected a whole number\)"),
                       ("num_workers=on", r"num_workers=True \(expected a whole number of 0 or more\)"),
                       ("lr=.inf", r"lr=inf \(expected a number above 0\)"), ("lr=yes", r"lr=True"),
                       ("weight_decay=.inf", r"weight_decay=inf"), ("min_lr=.nan", r"min_lr=nan")):
        with pytest.raises(ConfigError, match=words):  # torchvision's errors named no key, or none came at all
            load_config(None, [bad])
    # a --set mistake over a good file is the --set value's, not the file's (it was blamed on the YAML)
    cfg.write_text("epochs: 3\n")
    for bad, words in (("epochs=one", r"^--set: invalid value\(s\): epochs='one'"), ("lr=abc", r"^--set: 'lr'")):
        with pytest.raises(ConfigError, match=words):
            load_config(cfg, [bad])
    cfg.write_text("epochs: 0\n")  # the file's own mistake stays the file's
    with pytest.raises(ConfigError, match=f"^{re.escape(str(cfg))}: invalid value"):
        load_config(cfg, ["lr=0.001"])
    good, _ = load_config(None, ["network.backbone=resnet50", "network.cbam=true", "lr=3e-4"])
    assert good.network.backbone == "resnet50" and good.network.cbam == "blocks" and good.lr == 3e-4


def test_train_writes_bundle_history_and_checkpoint(tmp_path, dataset, taxonomy, capsys):
    out = tmp_path / "run"
    assert _train(out, dataset) == 0
    said = capsys.readouterr()  # where the backbone's weights came from (random ones were never said)
    assert "backbone weights: random (pretrained: false, no pretrained_file)" in said.out + said.err
    m = json.loads((out / "manifest.json").read_text())
    assert m["train"]["n_train"] == 36 and m["train"]["n_val"] == 18
    assert len(m["train"]["data_hash"]) == 64
    assert m["train"]["config"]["network"]["backbone"] == "convnext_tiny"
    assert m["metrics"]["split"] == "val" and 0.0 <= m["metrics"]["top1"] <= 1.0
    assert m["input_size"] == [3, 32, 32]
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"train_loss", "val_top1", "lr", "seconds", "peak_mem_mb"} <= set(rows[0])
    assert (out / "checkpoint" / "state.safetensors").exists()
    # the bundle predicts
    rc = cli_main(["predict", str(out), str(dataset.parent / "img" / "scratch_0.png"), "--json"])
    assert rc == 0


def test_training_is_deterministic_and_resume_continues_exactly(tmp_path, dataset, capsys):
    full, part = tmp_path / "full", tmp_path / "part"
    assert _train(full, dataset) == 0
    assert _train(part, dataset) == 0
    # same seed, same data: same weights
    a, b = load_file(str(full / "checkpoint" / "state.safetensors")), load_file(str(part / "checkpoint" / "state.safetensors"))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a if k.startswith("model."))

    # interrupted right after epoch 1 was checkpointed, then resumed: identical to the uninterrupted run
    interrupted = tmp_path / "interrupted"
    import models.training.loop as train_mod

    calls = {"n": 0}
    real = train_mod.save_checkpoint

    def crash_after_first(*args, **kwargs):
        real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    train_mod.save_checkpoint = crash_after_first
    try:
        capsys.readouterr()
        assert _train(interrupted, dataset) == 130
    finally:
        train_mod.save_checkpoint = real
    # what is kept and how it goes on, said (a lead read "interrupted" and the next run refused the folder)
    assert (f"fma-model train: interrupted; its checkpoint after epoch 1 is kept in {interrupted / 'checkpoint'}: "
            "the same command with --resume continues it") in capsys.readouterr().err
    assert len(list(csv.DictReader((interrupted / "metrics.csv").open()))) == 1
    assert cli_main(["train", "--data", str(dataset), "--out", str(interrupted), "--no-progress", "--resume",
                     *[a for s in TINY_SETS for a in ("--set", s)]]) == 0
    c = load_file(str(interrupted / "checkpoint" / "state.safetensors"))
    assert all(np.array_equal(a[k].numpy(), c[k].numpy()) for k in a if k.startswith("model."))
    assert len(list(csv.DictReader((interrupted / "metrics.csv").open()))) == 2


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, dataset, capsys):
    rc = cli_main(["train", "--data", str(dataset), "--out", str(tmp_path / "empty"), "--resume"])
    assert rc == 2 and "no checkpoint" in capsys.readouterr().err


def test_resume_continues_only_the_same_unfinished_run(tmp_path, dataset, capsys, monkeypatch):
    """--resume of a finished run refused (it rewrote the bundle's manifest and dropped its calibration); an
    interrupted run resumed with another --set or other data refused, naming what differs; the same: continued."""
    import models.training.loop as loop

    done = tmp_path / "done"
    assert _train(done, dataset) == 0
    manifest = json.loads((done / "manifest.json").read_text())
    manifest["routing"] = {"marker": "a calibration"}  # what calibrate would have added
    (done / "manifest.json").write_text(json.dumps(manifest))
    before = {p.name: p.read_bytes() for p in done.iterdir() if p.is_file()}
    capsys.readouterr()
    assert cli_main(["train", "--data", str(dataset), "--out", str(done), "--no-progress", "--resume",
                     *[a for s in TINY_SETS for a in ("--set", s)]]) == 2
    err = capsys.readouterr().err
    assert "finished and wrote its model" in err and f"--init-from {done}" in err
    assert {p.name: p.read_bytes() for p in done.iterdir() if p.is_file()} == before

    real = loop.save_checkpoint

    def stop_after_first(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", stop_after_first)
    cut = tmp_path / "cut"
    assert _train(cut, dataset) == 130
    monkeypatch.setattr(loop, "save_checkpoint", real)
    sets = [a for s in TINY_SETS for a in ("--set", s)]
    capsys.readouterr()
    assert cli_main(["train", "--data", str(dataset), "--out", str(cut), "--no-progress", "--resume", *sets,
                     "--set", "lr=0.01", "--set", "num_workers=1"]) == 2
    err = capsys.readouterr().err
    assert "these differ from it: lr: " in err and "0.01 now" in err and "num_workers" not in err
    other = dataset.parent / "one_label_changed.csv"  # (beside it: its paths are relative to its folder)
    rows = dataset.read_text().splitlines()
    header, first = rows[0].split(","), rows[1].split(",")
    label = header.index("label")
    first[label] = next(r.split(",")[label] for r in rows[2:] if r.split(",")[label] != first[label])
    other.write_text("\n".join([rows[0], ",".join(first), *rows[2:]]) + "\n")
    assert cli_main(["train", "--data", str(other), "--out", str(cut), "--no-progress", "--resume", *sets]) == 2
    err = capsys.readouterr().err
    assert "these differ from it: " in err and "the data: other images, labels or split" in err
    assert len(list(csv.DictReader((cut / "metrics.csv").open()))) == 1  # nothing was trained by the refusals
    assert cli_main(["train", "--data", str(dataset), "--out", str(cut), "--no-progress", "--resume", *sets]) == 0


def test_evaluate_and_calibrate_on_the_training_data_without_splits_keep_to_the_images_it_did_not_learn(
        tmp_path, dataset, capsys):
    """The README's own-data recipe passes one CSV without a split column to train, evaluate and calibrate: they
    used to score every image, its training images among them. Now the training's split is made again (checked
    against the data hash the bundle recorded) and only its held-out part is scored; a CSV that is only part of the
    training data says its figures include training images."""
    rows = dataset.read_text().splitlines()
    header = rows[0].split(",")
    drop = header.index("split")
    for i in range(6):  # images of a kind outside the tree, as an app export has them
        arr = np.random.default_rng(100 + i).integers(0, 255, (24, 24, 3), dtype=np.uint8)
        Image.fromarray(arr).save(dataset.parent / "img" / f"blob_{i}.png")
    plain = dataset.parent / "no_splits.csv"  # (beside it: its paths are relative to its folder)
    plain.write_text("\n".join([*(",".join(c for i, c in enumerate(r.split(",")) if i != drop) for r in rows),
                                *(f"img/blob_{i}.png,unknown:blob,0 0 24 24" for i in range(6))]) + "\n")
    out = tmp_path / "own"
    assert _train(out, plain) == 0
    made = capsys.readouterr().out
    assert "no split column: making a stratified 70/15/15 split" in made
    assert cli_main(["evaluate", str(out), "--data", str(plain), "--out", str(tmp_path / "ev")]) == 0
    captured = capsys.readouterr()
    assert "these are the images" in captured.err and "was trained on" in captured.err
    assert "unknown:* images, which it did not train on, go to validation and test" in captured.err
    n_test = int(captured.err.split(" test, ")[0].rsplit(" ", 1)[-1])
    assert 0 < n_test < len(rows) - 1
    scored = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert n_test < scored["n"] < n_test + 6  # the known test part, and some of the unknown images (not all)
    assert "WARNING: --split" not in captured.err
    # --split all on that data scores the images it learned from: said, with how many (it was silent)
    assert cli_main(["evaluate", str(out), "--data", str(plain), "--split", "all", "--out", str(tmp_path / "all")]) == 0
    err = capsys.readouterr().err
    n_train = int(err.split(" training images")[0].rsplit(" ", 1)[-1])
    assert (f"WARNING: --split all scores {n_train} images it trained on and " in err
            and "validation images that chose its best epoch" in err and "the figures are optimistic" in err), err
    exposed = tmp_path / "exposed"  # trained with outlier exposure: the unknown images were learned from
    assert _train(exposed, plain, "loss.outlier_weight=0.5") == 0
    capsys.readouterr()
    assert cli_main(["evaluate", str(exposed), "--data", str(plain), "--out", str(tmp_path / "ev3")]) == 0
    assert "its 6 unknown:* images were its outlier exposure" in capsys.readouterr().err
    assert json.loads((tmp_path / "ev3" / "metrics.json").read_text())["n"] == n_test
    assert cli_main(["calibrate", str(out), "--data", str(plain), "--target-purity", "0.5", "--min-support",
                     "1"]) in (0, 1)
    err = capsys.readouterr().err
    assert "these are the images" in err and "no split column; calibrating on all of it" not in err
    lines = plain.read_text().splitlines()
    plain.write_text("\n".join([lines[0], *lines[4:]]) + "\n")  # three known images taken out since training
    assert cli_main(["evaluate", str(out), "--data", str(plain), "--out", str(tmp_path / "ev2")]) == 0
    err = capsys.readouterr().err
    assert "WARNING: the data has no split column and" in err
    assert "holds the metrics.json of an earlier run" not in err  # (a new folder)
    # calibrating on that data takes all of it, and says so everywhere (the log said "of split 'val'")
    assert cli_main(["calibrate", str(out), "--data", str(plain), "--target-purity", "0.5", "--min-support", "1",
                     "--out", str(tmp_path / "cal_all")]) in (0, 1)
    err = capsys.readouterr().err
    assert "no split column; calibrating on all of it" in err and "of split 'all'" in err and "'val'" not in err
    assert json.loads((out / "manifest.json").read_text())["routing"]["calibrated_on"]["split"] == "all"
    assert cli_main(["evaluate", str(out), "--data", str(plain), "--out", str(tmp_path / "ev2")]) == 0
    assert f"--out {tmp_path / 'ev2'} holds the metrics.json of an earlier run (" in capsys.readouterr().err


def test_calibrating_on_a_set_of_its_own_fits_the_centroids_on_the_bundles_training_images(tmp_path, dataset,
                                                                                           capsys):
    """A calibration set rendered apart (--split 0,1,0) holds no training images: the unknown score's class
    centroids were fitted on the calibration images themselves, whose threshold then flagged 81 of 300 of the
    model's own training images (every new batch paused as "unlike the calibration data", 150-leaf walk-through).
    Now the bundle's recorded training data gives them; where it is gone, a warning says what to pass."""
    import shutil

    out = tmp_path / "model"
    assert _train(out, dataset) == 0
    rows = dataset.read_text().splitlines()
    split = rows[0].split(",").index("split")
    calib = dataset.parent / "calib_only.csv"  # (beside it: its paths are relative to its folder)
    calib.write_text("\n".join([rows[0], *(r for r in rows[1:] if r.split(",")[split] == "val")]) + "\n")
    n_train = sum(r.split(",")[split] == "train" for r in rows[1:])
    capsys.readouterr()
    args = ["calibrate", str(out), "--data", str(calib), "--target-purity", "0.5", "--min-support", "1",
            "--unknown-method", "cosine"]
    assert cli_main(args) in (0, 1)
    err = capsys.readouterr().err
    assert f"class centroids of the unknown score: {n_train} train images of {dataset}" in err, err
    fitted = json.loads((out / "manifest.json").read_text())["unknown"]["centroids_fitted_on"]
    assert fitted == {"split": "train", "n": n_train}
    moved = tmp_path / "moved.csv"
    shutil.move(dataset, moved)
    try:
        assert cli_main(args) in (0, 1)
        err = capsys.readouterr().err
        assert "warning: the data has no train images for the unknown score's class centroids" in err
        assert "its training data is not here" in err and "--data TRAIN.csv --data CALIBRATION.csv" in err
        assert json.loads((out / "manifest.json").read_text())["unknown"]["centroids_fitted_on"]["split"] == "val"
    finally:
        shutil.move(moved, dataset)
    path = rows[0].split(",").index("path")  # the manifest there, its training images not (a share not mounted)
    trained = [dataset.parent / r.split(",")[path] for r in rows[1:] if r.split(",")[split] == "train"]
    away = tmp_path / "away"
    away.mkdir()
    for i, image in enumerate(trained):
        shutil.move(image, away / f"{i}.png")
    try:
        assert cli_main(args) in (0, 1)
        assert "warning: the data has no train images for the unknown score's class centroids" in \
            capsys.readouterr().err  # (not "36 train images of …": none of them could be read)
        assert json.loads((out / "manifest.json").read_text())["unknown"]["centroids_fitted_on"]["split"] == "val"
    finally:
        for i, image in enumerate(trained):
            shutil.move(away / f"{i}.png", image)


def test_train_never_writes_over_a_bundle_or_a_run_unless_told(tmp_path, dataset, capsys, monkeypatch):
    """One typo in --out must not replace a production model, nor a forgotten --resume hours of training: train
    refuses such an OUT before it reads a thing; --overwrite replaces it, leaving no file of the old bundle, and
    puts the old one back when the new run does not finish."""
    out = tmp_path / "model"
    assert _train(out, dataset) == 0
    (out / "spectrum_head.safetensors").write_bytes(b"the old bundle's")  # a file the new run would not write
    (out / "manifest.json.before-calibrate-20261205-000000").write_text("{}")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert _train(out, dataset) == 2
    err = capsys.readouterr().err
    assert f"--out {out} already holds a model (manifest.json, weights.safetensors, spectrum_head.safetensors" in err
    # (its checkpoint is there, but the run finished: --resume has nothing to continue, and is not offered)
    assert "--overwrite replaces it" in err and "--resume" not in err
    overwrite = ["--overwrite", "--no-progress", *[a for s in TINY_SETS for a in ("--set", s)]]
    # a run that fails after the old model was moved aside puts it back as it was
    assert cli_main(["train", "--data", str(tmp_path / "missing.csv"), "--out", str(out), *overwrite]) == 2
    assert "the run did not finish; the model in" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not list(out.glob(".before-overwrite-*"))
    # Ctrl+C in its second epoch: the old model back, and nothing offered to resume (it offered the old run's
    # checkpoint "after epoch 3", and --resume then said that run had finished)
    import models.training.loop as train_mod

    shutil.rmtree(out / "checkpoint")  # a bundle without its run (copied from elsewhere): this run's is not left
    real, saved = train_mod.save_checkpoint, []
    monkeypatch.setattr(train_mod, "save_checkpoint", lambda *a, **k: (real(*a, **k), saved.append(1),
                                                                        len(saved) == 1 and _interrupt()))
    assert cli_main(["train", "--data", str(dataset), "--out", str(out), *overwrite, "--set", "epochs=2"]) == 130
    err = capsys.readouterr().err
    assert "the run did not finish; the model in" in err and err.rstrip().endswith("fma-model train: interrupted")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not (out / "checkpoint").exists()
    monkeypatch.setattr(train_mod, "save_checkpoint", real)
    assert cli_main(["train", "--data", str(dataset), "--out", str(out), "--init-from", str(out), *overwrite]) == 2
    assert "is the bundle --overwrite would replace" in capsys.readouterr().err
    (out / "eval").mkdir()  # evaluate --out BUNDLE/eval: its plots make no data set of the bundle
    Image.new("RGB", (8, 8)).save(out / "eval" / "confusion_matrix.png")
    (out / "eval" / "metrics.json").write_text("{}")  # (written beside them)
    assert cli_main(["train", "--data", str(dataset), "--out", str(out), *overwrite]) == 0
    assert not (out / "spectrum_head.safetensors").exists() and (out / "manifest.json").exists()
    assert not list(out.glob("manifest.json.before-*")) and not list(out.glob(".before-overwrite-*"))
    bundle = tmp_path / "copied"  # a bundle without its run: --resume is not offered
    bundle.mkdir()
    (bundle / "manifest.json").write_text("{}")
    capsys.readouterr()
    assert _train(bundle, dataset) == 2
    err = capsys.readouterr().err
    assert "already holds a model (manifest.json): --overwrite replaces it" in err and "--resume" not in err
    with pytest.raises(SystemExit):  # either, not both
        cli_main(["train", "--data", str(dataset), "--out", str(out), "--resume", "--overwrite"])
    assert "not allowed with argument" in capsys.readouterr().err
    assert cli_main(["train", "--data", str(dataset), "--out", str(tmp_path / "f"), "--folds", "3",
                     "--overwrite"]) == 2
    assert "--overwrite does not apply to --folds" in capsys.readouterr().err
    afile = tmp_path / "a_file"
    afile.write_text("x")
    assert _train(afile, dataset) == 2 and "is a file: a bundle is a folder" in capsys.readouterr().err
    # a data set's folder (images in it, or in its type folders) is refused, --overwrite or not, --folds too; its
    # images stay
    for data_folder in (dataset.parent, dataset.parent / "img"):
        before = sorted(p.name for p in data_folder.iterdir())
        for extra in ([], ["--overwrite"], ["--folds", "3"]):
            assert cli_main(["train", "--data", str(dataset), "--out", str(data_folder), *extra, "--no-progress",
                             *[a for s in TINY_SETS for a in ("--set", s)]]) == 2
            assert f"--out {data_folder} holds images (" in capsys.readouterr().err
        assert sorted(p.name for p in data_folder.iterdir()) == before


def test_a_second_ctrl_c_while_the_old_model_is_put_back_is_held_back(tmp_path, monkeypatch):
    """Seen: Ctrl+C twice, 0.3 s apart, during `train --overwrite`: the second came while the old model was being
    put back, left it in .before-overwrite-*/ and the run said to --resume."""
    import signal

    from models.commands import train as cmd

    out = tmp_path / "model"
    out.mkdir()
    (out / "manifest.json").write_text("old")
    (out / "weights.safetensors").write_bytes(b"old")
    real = Path.rename

    def rename(self, target):  # a second Ctrl+C as the old model's first file goes back
        if ".before-overwrite-" in str(self):
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, target)

    with pytest.raises(KeyboardInterrupt) as stopped, cmd.replacing(out, cmd.bundle_parts(out)):
        (out / "manifest.json").write_text("new")
        monkeypatch.setattr(Path, "rename", rename)
        raise KeyboardInterrupt
    assert getattr(stopped.value, "old_model_back", False)
    assert (out / "manifest.json").read_text() == "old" and (out / "weights.safetensors").read_bytes() == b"old"
    assert not list(out.glob(".before-overwrite-*"))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl+C works again after


def test_a_data_sets_folder_is_found_two_folders_down_and_a_bundle_in_it_does_not_hide_it(tmp_path):
    """Seen: `train --out data` was allowed where `fma-model synth` had written data/images/<type>/*.png (two
    folders down), and once a bundle was in it, every later --overwrite was allowed too."""
    from models.commands.arguments import images_in, refuse_data_folder

    data = tmp_path / "data"
    (data / "images" / "scratch").mkdir(parents=True)
    (data / "images" / "scratch" / "a.png").write_bytes(b"x")
    (data / "manifest.csv").write_text("path,label\n")
    assert images_in(data) == [data / "images" / "scratch" / "a.png"]
    (data / "manifest.json").write_text("{}")  # a bundle trained into it
    (data / "weights.safetensors").write_bytes(b"")
    with pytest.raises(FileExistsError, match=r"holds images \(images/scratch/a.png \.\.\.\)"):
        refuse_data_folder(data, "a bundle")
    bundle = tmp_path / "bundle"  # a bundle's own images (its runtime reference, an evaluation's plots): none
    (bundle / "eval").mkdir(parents=True)
    (bundle / "manifest.json").write_text("{}")
    (bundle / "runtime_reference.png").write_bytes(b"x")
    (bundle / "eval" / "report.md").write_text("")
    (bundle / "eval" / "confusion_matrix.png").write_bytes(b"x")
    (bundle / "checkpoint").mkdir()
    (bundle / "checkpoint" / "x.png").write_bytes(b"x")
    (bundle / "heatmaps").mkdir()  # predict --heatmaps BUNDLE/heatmaps
    (bundle / "heatmaps" / "a_heatmap.png").write_bytes(b"x")
    assert images_in(bundle) == []
    refuse_data_folder(bundle, "a bundle")
    lot = tmp_path / "lot1"  # a batch an earlier `evaluate --out lot1` wrote into: its report does not hide it
    lot.mkdir()
    for name in ("P001_20x.png", "report.md", "metrics.json", "confusion_matrix.png", "manifest.json"):
        (lot / name).write_bytes(b"x")
    assert images_in(lot) == [lot / "P001_20x.png"]
    big = tmp_path / "big"  # a folder of many other files is not listed whole
    big.mkdir()
    for n in range(30):
        (big / f"n{n:02}.txt").write_bytes(b"")
    (big / "sub").mkdir()
    (big / "sub" / "zz.png").write_bytes(b"x")
    assert images_in(big, looked_at=10) == [] and images_in(big) == [big / "sub" / "zz.png"]


def test_grid_reads_its_config_and_manifests_before_the_first_cell(tmp_path, dataset, capsys):
    """A bad --set failed every cell in turn, a bad --test-data only after each cell had trained."""
    for bad, words in ((["--set", "epochs=ten"], "epochs='ten' (expected a whole number of at least 1)"),
                       (["--test-data", str(tmp_path / "nope.csv")], "nope.csv: manifest not found")):
        assert cli_main(["grid", "--data", str(dataset), "--out", str(tmp_path / "g"), "--tiny", *bad]) == 2
        assert words in capsys.readouterr().err
        assert not (tmp_path / "g").exists()  # no cell was started


def test_a_pickle_pretrained_file_is_refused_before_the_data_are_read(tmp_path, dataset, capsys, monkeypatch):
    """The name check of models.nn.config.weight_file_problem ran when the network was built, after a big data set
    had been read and inspected; now first, and a pickle is never opened (it need not even exist). So are a missing
    file, a torch.save zip renamed .safetensors (it said "another backbone? header too large"), a file cut short,
    and an unknown backbone: each was refused only after the data were read."""
    import torch

    import models.training.loop as loop

    monkeypatch.setattr(loop, "load_training_data", lambda *a, **k: pytest.fail("the data were read first"))
    torch.save({"w": torch.zeros(3)}, tmp_path / "zipped.safetensors")
    (tmp_path / "cut.safetensors").write_bytes((10_000).to_bytes(8, "little") + b'{"w": {"dtype"')
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1000)}, str(tmp_path / "whole.safetensors"))  # then cut in its data (review: a copy
    (tmp_path / "part.safetensors").write_bytes((tmp_path / "whole.safetensors").read_bytes()[:-1000])  # stopped)
    for setting, words in ((f"network.pretrained_file={tmp_path / 'backbone.pth'}", "is a pickle checkpoint (.pth)"),
                           (f"network.pretrained_file={tmp_path / 'backbone.SAFETENSORS'}",
                            "must end in .safetensors, in lower case"),
                           (f"network.pretrained_file={tmp_path / 'gone.safetensors'}", "pretrained_file not found"),
                           (f"network.pretrained_file={tmp_path / 'zipped.safetensors'}",
                            "is a PyTorch checkpoint (torch.save's zip, a pickle inside) named .safetensors"),
                           (f"network.pretrained_file={tmp_path / 'cut.safetensors'}",
                            "is not a safetensors file (22 bytes; its header does not read as one)"),
                           (f"network.pretrained_file={tmp_path / 'part.safetensors'}",
                            "is cut short or damaged: its header says"),
                           ("network.backbone=efficientnet_litex",
                            "network.backbone: unknown timm backbone 'efficientnet_litex' (did you mean efficientnet_lite")):
        rc = _train(tmp_path / "x", dataset, setting)
        assert rc == 2 and words in capsys.readouterr().err, setting
        assert not (tmp_path / "x").exists()


def test_a_weights_file_of_another_backbone_is_one_line_not_a_traceback(tmp_path, dataset, capsys):
    """A ResNet's (or EfficientNet's) weights given to the ConvNeXt of the default config ended ``train`` in a
    30-line traceback (KeyError, then RuntimeError; 150 lines of size mismatches for a ResNet of another depth). Now
    one error naming the backbone and the setting to change, exit 2."""
    import timm
    from safetensors.torch import save_file

    other = timm.create_model("resnet18", num_classes=0)
    foreign = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(foreign))
    rc = _train(tmp_path / "x", dataset, f"network.pretrained_file={foreign}", "network.pretrained=true")
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    assert "fma-model train: error: " in err and "'convnext_tiny'" in err and "set network.backbone" in err, err


def test_unknown_labels_stop_training(tmp_path, dataset, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(dataset.read_text().replace(",scratch,", ",scrach,", 1).replace("img/", str(dataset.parent / "img") + "/"))
    rc = _train(tmp_path / "x", bad)
    assert rc == 2 and "scrach" in capsys.readouterr().err


def test_evaluate_writes_contract_metrics(tmp_path, dataset):
    out = tmp_path / "run"
    assert _train(out, dataset, "epochs=1") == 0
    ev = tmp_path / "eval"
    assert cli_main(["evaluate", str(out), "--data", str(dataset), "--out", str(ev), "--split", "test",
                     "--pointing-game"]) == 0
    metrics = json.loads((ev / "metrics.json").read_text())
    for key in ("n", "top1", "top2", "top3", "top4", "top5", "level_top1", "hier_precision", "hier_recall",
                "hier_f1", "mistake_severity", "ece", "aurc", "per_class"):
        assert key in metrics, key
    assert metrics["n"] == 18  # the test split only
    # every box is the whole image here, so each correctly classified image is a hit
    assert metrics["pointing_game_n"] == round(metrics["top1"] * 18)
    if metrics["pointing_game_n"]:
        assert metrics["pointing_game"] == 1.0
    assert len(metrics["level_top1"]) == 3
    assert metrics["top1"] <= metrics["top3"] <= metrics["top5"]
    for name in ("confusion_matrix.png", "confusion_matrix.csv", "reliability.png", "risk_coverage.png", "report.md"):
        assert (ev / name).stat().st_size > 0, name


def test_grid_tiny_writes_table(tmp_path, dataset):
    out = tmp_path / "grid"
    rc = cli_main(["grid", "--data", str(dataset), "--out", str(out), "--tiny",  # two cells: each is two processes
                   "--backbones", "resnet50+cbam", "--frameworks", "flat", "hier-shared", "--set", "input_size=32"])
    assert rc == 0
    rows = list(csv.DictReader((out / "grid.csv").open()))
    assert [(r["backbone"], r["framework"]) for r in rows] == [("resnet50+cbam", "flat"), ("resnet50+cbam", "hier-shared")]
    for r in rows:
        assert r["status"] == "ok"
        assert 0 <= float(r["top1"]) <= float(r["top5"]) <= 1
        assert float(r["params_m"]) > 0 and float(r["weights_mb"]) > 0 and float(r["sec_per_epoch"]) > 0
    # CBAM adds parameters to the same backbone
    cbam_manifest = json.loads((out / "resnet50_cbam__flat" / "bundle" / "manifest.json").read_text())
    assert cbam_manifest["network"]["cbam"] is True  # blocks, written as older versions read it
    md = (out / "grid.md").read_text()
    assert md.startswith("| backbone | framework | top1") and md.count("\n") == 4


def test_distributed_training_with_torchrun_on_cpu(tmp_path, dataset):
    """Two processes, gloo backend: the DistributedDataParallel path that several GPUs use."""
    import os
    import shutil
    import subprocess
    import sys

    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun not installed")
    out = tmp_path / "ddp"
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "models.commands.cli", "train", "--data", str(dataset),
           "--out", str(out), "--no-progress", "--set", "device=cpu", "--set", "early_stopping_patience=1"]
    for s in TINY_SETS:
        cmd += ["--set", s]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "device cpu x2" in res.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["train"]["world_size"] == 2


# ----------------------------------------------------------------------------- outlier exposure
def _with_unknowns(dataset: Path, tmp_path: Path, n: int = 6) -> Path:
    """The tiny set plus n grey 'unknown:blob' training images (outside the taxonomy)."""
    rng = np.random.default_rng(1)
    rows = [f"{dataset.parent / 'img'}/{line}" if i else line
            for i, line in enumerate(dataset.read_text().splitlines())]
    for j in range(n):
        p = tmp_path / "unk" / f"blob_{j}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(128 + rng.normal(0, 40, (24, 24, 3)), 0, 255).astype(np.uint8)).save(p)
        rows.append(f"{p},unknown:blob,train,0 0 24 24")
    out = tmp_path / "with_unknowns.csv"
    out.write_text("\n".join(r.replace("img/img/", "img/") for r in rows) + "\n")
    return out


def test_unknown_images_are_outlier_exposure_only_when_weighted(tmp_path, dataset, monkeypatch, capsys):
    from models.nn.losses import HierarchicalLoss

    data = _with_unknowns(dataset, tmp_path)
    seen: list[int] = []
    real = HierarchicalLoss.outlier_term

    def spy(self, levels, sample_weight=None):
        seen.append(levels[0].shape[0])
        return real(self, levels, sample_weight)

    monkeypatch.setattr(HierarchicalLoss, "outlier_term", spy)
    assert _train(tmp_path / "plain", data) == 0
    assert seen == [] and "6 unknown:* training images not used" in capsys.readouterr().out
    plain = json.loads((tmp_path / "plain" / "manifest.json").read_text())["train"]
    assert plain["n_outliers"] == 0 and plain["n_train"] == 36

    assert _train(tmp_path / "oe", data, "loss.outlier_weight=0.5", "max_steps_per_epoch=null", "batch_size=6") == 0
    assert "outlier exposure: 6 unknown:* training images of 1 kind(s)" in capsys.readouterr().out
    oe = json.loads((tmp_path / "oe" / "manifest.json").read_text())["train"]
    assert oe["n_outliers"] == 6 and oe["n_train"] == 36 and oe["data_hash"] != plain["data_hash"]
    assert sum(seen) == 2 * 6  # every outlier image, once per epoch (42 images in batches of 6)
    assert oe["config"]["loss"]["outlier_weight"] == 0.5


# ---------------------------------------------------------------------------------- init_from
def _matrices(folder: Path) -> dict[str, np.ndarray]:
    """The bundle's conv and linear weights (not the batch-norm statistics, which move in any forward pass)."""
    w = load_file(str(folder / "weights.safetensors"))
    return {k: w[k].float().numpy() for k in w if w[k].ndim >= 2}


def test_init_from_starts_from_a_bundles_weights(tmp_path, dataset, capsys):
    base = tmp_path / "base"
    assert _train(base, dataset) == 0
    version = json.loads((base / "manifest.json").read_text())["model_version"]
    still = ("epochs=1", "max_steps_per_epoch=1", "lr=1e-12", "min_lr=1e-13", "seed=7")
    fine, fresh = tmp_path / "fine", tmp_path / "fresh"
    assert cli_main(["train", "--data", str(dataset), "--out", str(fine), "--no-progress", "--init-from", str(base),
                     *[a for s in (*TINY_SETS, *still) for a in ("--set", s)]]) == 0
    assert _train(fresh, dataset, *still) == 0
    a, b, c = _matrices(base), _matrices(fine), _matrices(fresh)
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-6
    assert max(float(np.abs(a[k] - c[k]).max()) for k in a) > 1e-2
    m = json.loads((fine / "manifest.json").read_text())
    assert m["train"]["init_from"] == {"path": str(base), "model_version": version}
    assert json.loads((fresh / "manifest.json").read_text())["train"]["init_from"] is None
    # the checkpoint keeps the provenance, so a resumed fine-tune still names its start
    assert json.loads((fine / "checkpoint" / "state.json").read_text())["init_from"]["model_version"] == version
    out = capsys.readouterr().out
    assert f"starting from the weights of {base}" in out and "FTIR spectrum head" not in out
    # a bundle with an FTIR spectrum head: the new one is trained without it, and train says so (the README's
    # retraining loop lost the demo model's head without a word: team walk-through)
    from test_spectrum_bundle import _head

    from models.bundle.files import read_bundle_manifest
    from models.bundle.spectrum import write_spectrum_head

    write_spectrum_head(base, read_bundle_manifest(base), _head(read_bundle_manifest(base).taxonomy))
    again = tmp_path / "again"
    assert cli_main(["train", "--data", str(dataset), "--out", str(again), "--no-progress", "--init-from", str(base),
                     *[a for s in (*TINY_SETS, *still) for a in ("--set", s)]]) == 0
    assert f"warning: {base} has an FTIR spectrum head; this run trains the image model alone" in \
        capsys.readouterr().out
    assert read_bundle_manifest(again).spectrum is None


def test_an_init_from_that_is_no_bundle_is_refused_before_the_data_is_read(tmp_path, capsys, monkeypatch):
    """Its refusal came after every training image was read and checked (minutes on a factory's set)."""
    import models.training.data as training_data

    read: list = []
    monkeypatch.setattr(training_data, "load_data", lambda *a, **k: read.append(a) or pytest.fail("data read"))
    (tmp_path / "not_a_bundle").mkdir()
    (tmp_path / "weights.pt").write_bytes(b"PK\x03\x04 a torch file")
    for start in ("not_a_bundle", "weights.pt"):
        assert cli_main(["train", "--data", str(tmp_path / "data.csv"), "--out", str(tmp_path / "out"),
                         "--no-progress", "--init-from", str(tmp_path / start)]) == 2
        assert f"init_from: {tmp_path / start}" in capsys.readouterr().err and read == []


def test_init_from_without_a_config_takes_the_bundles_network(tmp_path, dataset, capsys):
    """Fine-tuning with --init-from and no --config failed after reading the data ("the network differs from the
    bundle's": the default config's backbone); now the bundle's network and input size are taken, and said."""
    base = tmp_path / "base"
    assert _train(base, dataset, "epochs=1", "max_steps_per_epoch=1") == 0
    capsys.readouterr()
    fine = tmp_path / "fine"
    assert cli_main(["train", "--data", str(dataset), "--out", str(fine), "--no-progress", "--init-from", str(base),
                     "--set", "epochs=1", "--set", "max_steps_per_epoch=1", "--set", "batch_size=8",
                     "--set", "num_workers=0"]) == 0
    assert "no --config: the tree, network and input size of" in capsys.readouterr().err
    m = json.loads((fine / "manifest.json").read_text())
    assert m["train"]["config"]["network"]["backbone"] == "convnext_tiny" and m["input_size"][1:] == [32, 32]
    assert m["train"]["config"]["taxonomy"] == str(base.resolve())
    assert cli_main(["info", str(fine)]) == 0  # where it came from, said
    base_version = json.loads((base / "manifest.json").read_text())["model_version"]
    assert f"; fine-tuned from {base_version} ({base})" in capsys.readouterr().out
    # a --resume takes them from its checkpoint, which the run started with (the bundle may have moved since); the
    # values go in as they are, not through --set text (YAML read 1e-06 as a string)
    from models.commands.train import _start_network

    state = tmp_path / "cut" / "checkpoint" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"config": {"input_size": 48, "network": {
        "backbone": "convnext_tiny", "backbone_kwargs": {"layer_scale_init_value": 1e-06}, "head": "flat"}}}))
    start = _start_network(tmp_path / "moved away", tmp_path / "cut", resume=True)
    assert start == {"input_size": 48, "network": {"backbone": "convnext_tiny", "head": "flat",
                                                   "backbone_kwargs": {"layer_scale_init_value": 1e-06}}}
    assert load_config(None, ["network.head_dim=8"], start)[0].network.backbone_kwargs == {
        "layer_scale_init_value": 1e-06}
    assert _start_network(tmp_path / "moved away", tmp_path / "fresh", resume=False) is None
    # a --set of a network key still wins (and the start's own check then says what differs)
    assert cli_main(["train", "--data", str(dataset), "--out", str(tmp_path / "other"), "--no-progress",
                     "--init-from", str(base), "--set", "network.head_dim=32", "--set", "epochs=1",
                     "--set", "num_workers=0"]) == 2
    assert "head_dim" in capsys.readouterr().err


def test_a_fine_tuning_run_resumes_after_its_start_bundle_moved(tmp_path, dataset, capsys, monkeypatch):
    """--init-from BUNDLE without --config takes the bundle's tree; the run, interrupted, could not --resume once the
    bundle had moved ("taxonomy file not found"), although its checkpoint holds the weights. The checkpoint now
    keeps the tree it trains, and a resume takes it when the bundle is gone."""
    import shutil

    from models.training import loop

    base = tmp_path / "base"
    assert _train(base, dataset, "epochs=1", "max_steps_per_epoch=1") == 0
    real = loop.save_checkpoint

    def stop_after_first(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", stop_after_first)
    fine = tmp_path / "fine"
    args = ["train", "--data", str(dataset), "--out", str(fine), "--no-progress", "--init-from", str(base),
            "--set", "epochs=2", "--set", "max_steps_per_epoch=1", "--set", "batch_size=8", "--set", "num_workers=0"]
    assert cli_main(args) == 130
    monkeypatch.setattr(loop, "save_checkpoint", real)
    shutil.move(base, tmp_path / "elsewhere")
    capsys.readouterr()
    assert cli_main([*args, "--resume"]) == 0, capsys.readouterr().err
    m = json.loads((fine / "manifest.json").read_text())
    assert m["taxonomy"] == json.loads((tmp_path / "elsewhere" / "manifest.json").read_text())["taxonomy"]
    assert len(list(csv.DictReader((fine / "metrics.csv").open()))) == 2


def test_a_resume_refuses_a_tree_edited_since_the_run_started(tree150, taxonomy) -> None:
    """The checkpoint keeps the tree it trains: a tree file edited between the interruption and --resume is refused
    (it would have been taken without a word); the same tree, however read, passes."""
    from models.taxonomy import Taxonomy
    from models.training.checkpoint import same_tree

    source = Path("taxonomy.yaml")
    assert same_tree(None, tree150, source) is tree150
    assert same_tree(Taxonomy.from_dict(taxonomy.to_dict()), taxonomy, source) is taxonomy
    with pytest.raises(ConfigError, match="is not the one this run started with"):
        same_tree(taxonomy, tree150, source)


def test_init_from_a_different_network_or_a_missing_bundle_is_a_clear_error(tmp_path, dataset, capsys):
    base = tmp_path / "base"
    assert _train(base, dataset, "epochs=1", "max_steps_per_epoch=1") == 0
    capsys.readouterr()
    assert _train(tmp_path / "x", dataset, f"init_from={base}", "network.head_dim=8") == 2
    err = capsys.readouterr().err
    assert "head_dim 8 here, 16 in" in err and str(base) in err
    assert "Without --config, train takes the bundle's own tree, network and input size (the training recipe is " \
        "then the defaults')" in err  # what to do about it, and what it does
    assert _train(tmp_path / "y", dataset, f"init_from={tmp_path / 'nope'}") == 2
    assert "init_from" in capsys.readouterr().err
    # same backbone name, other layer sizes: named, not a traceback
    assert _train(tmp_path / "z", dataset, f"init_from={base}",
                  'network.backbone_kwargs={"depths": [1, 1, 1, 1], "dims": [8, 16, 32, 48]}') == 2
    assert "backbone_kwargs" in capsys.readouterr().err
    # --init-from takes the path as typed (YAML would read 2024.10 as the number 2024.1)
    odd = tmp_path / "2024.10"
    assert cli_main(["train", "--data", str(dataset), "--out", str(tmp_path / "w"), "--no-progress",
                     "--init-from", str(odd), *[a for s in TINY_SETS for a in ("--set", s)]]) == 2
    assert "2024.10" in capsys.readouterr().err


def test_evaluate_warns_when_train_split_unknowns_meet_an_outlier_exposed_bundle():
    from models.data.manifest import Sample
    from models.evaluation.evaluate import outlier_overlap_warning

    samples = [Sample(path=Path("a.png"), label="unknown:blob", split="train"),
               Sample(path=Path("b.png"), label="unknown:blob", split="test"),
               Sample(path=Path("c.png"), label="scratch", split="train")]
    warning = outlier_overlap_warning(96, samples)
    assert warning and "1 unknown:* image(s) of the train split" in warning and "96" in warning
    assert outlier_overlap_warning(0, samples) is None
    assert outlier_overlap_warning(96, samples[1:]) is None


def test_grid_research_cpu_preset_sets_its_cells_and_scores_heatmaps(tmp_path, dataset):
    """The reduced research preset: its settings reach the cell (ViT at 128 px), evaluation runs on --test-data,
    and the row has per-level Top-1 and the pointing game."""
    out = tmp_path / "grid"
    rc = cli_main(["grid", "--preset", "research-cpu", "--data", str(dataset), "--test-data", str(dataset),
                   "--split", "all", "--out", str(out), "--tiny", "--backbones", "vit_small_patch16_224",
                   "--frameworks", "hier-shared", "--pointing-game", "4", "--set", "epochs=1",
                   "--set", "network.pretrained=false"])
    assert rc == 0
    (row,) = list(csv.DictReader((out / "grid.csv").open()))
    assert (row["backbone"], row["framework"], row["status"]) == ("vit_small_patch16_224", "hier-shared", "ok")
    assert len(row["level_top1"].split(" / ")) == 3
    assert 0 <= float(row["pointing_game"]) <= 1
    manifest = json.loads((out / "vit_small_patch16_224__hier-shared" / "bundle" / "manifest.json").read_text())
    assert manifest["input_size"][1:] == [128, 128]
    assert manifest["network"]["backbone_kwargs"] == {"img_size": 128}
    assert manifest["train"]["config"]["epochs"] == 1  # --set applies after the preset
    metrics = json.loads((out / "vit_small_patch16_224__hier-shared" / "eval" / "metrics.json").read_text())
    assert metrics["n"] == sum(1 for _ in (dataset.open())) - 1  # --split all of --test-data: every image


def test_time_budget_plans_the_epochs_that_fit_and_ends_the_schedule_there(tmp_path, dataset, monkeypatch):
    from types import SimpleNamespace

    import models.training.loop as loop
    from models.training.loop import _fit_budget, _Run

    lines: list[str] = []

    def fresh(epochs: int = 30) -> SimpleNamespace:
        return SimpleNamespace(cfg=SimpleNamespace(max_minutes=1.0, epochs=epochs), rt=SimpleNamespace(world=1),
                               epochs=epochs)

    run = fresh()
    _fit_budget(run, done=1, elapsed=20.0, last_epoch=20.0, log=lines.append)  # the first epoch's pace: no plan
    assert run.epochs == 30 and not lines
    _fit_budget(run, done=2, elapsed=30.0, last_epoch=10.0, log=lines.append)  # 30 s left at 10 s an epoch
    assert run.epochs == 5 and "5 of 30 epochs fit" in lines[-1]
    _fit_budget(run, done=3, elapsed=34.0, last_epoch=4.0, log=lines.append)  # faster now: a plan never grows
    assert run.epochs == 5
    _fit_budget(run, done=4, elapsed=70.0, last_epoch=4.0, log=lines.append)  # over budget: stop after this one
    assert run.epochs == 4
    n = len(lines)
    _fit_budget(run, done=4, elapsed=1.0, last_epoch=0.1, log=lines.append)  # the schedule has ended: no re-plan
    assert run.epochs == 4 and len(lines) == n
    run = fresh()
    _fit_budget(run, done=1, elapsed=61.0, last_epoch=61.0, log=lines.append)  # spent after the first: stop
    assert run.epochs == 1
    run = fresh(epochs=5)
    _fit_budget(run, done=2, elapsed=2.0, last_epoch=1.0, log=lines.append)  # room for more: never above epochs
    assert run.epochs == 5
    assert _Run.total_steps.fget(SimpleNamespace(steps_per_epoch=10, epochs=3, cfg=run.cfg)) == 30  # the schedule

    # end to end: a budget far smaller than one epoch stops after the first (which ran on the config's plan) and
    # still writes a bundle
    short = tmp_path / "short"
    assert _train(short, dataset, "epochs=40", "max_minutes=0.00001") == 0
    assert len(list(csv.DictReader((short / "metrics.csv").open()))) == 1
    assert json.loads((short / "manifest.json").read_text())["train"]["epochs_run"] == 1
    roomy = tmp_path / "roomy"
    assert _train(roomy, dataset, "max_minutes=60") == 0
    assert len(list(csv.DictReader((roomy / "metrics.csv").open()))) == 2
    with pytest.raises(ConfigError, match="max_minutes"):
        load_config(None, ["max_minutes=0"])

    # the plan and the time used survive --resume: a run planned down to 3 of 6 epochs, stopped after its second,
    # resumes with 3 (not 6) and the time it had used
    def plan_three(run, done, elapsed, last_epoch, log):
        if done == 2:
            run.epochs = 3

    seen: list[float] = []
    real_fit, real_save = loop._fit_budget, loop.save_checkpoint
    monkeypatch.setattr(loop, "_fit_budget", plan_three)

    def stop_after_second(*args, **kwargs):
        real_save(*args, **kwargs)
        if args[3]["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", stop_after_second)
    planned = tmp_path / "planned"
    assert _train(planned, dataset, "epochs=6", "max_minutes=60") == 130
    state = json.loads((planned / "checkpoint" / "state.json").read_text())
    assert state["planned_epochs"] == 3 and state["seconds"] > 0
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    monkeypatch.setattr(loop, "_fit_budget", lambda run, done, elapsed, last, log: (seen.append(elapsed),
                                                                                      real_fit(run, done, elapsed,
                                                                                               last, log)))
    assert cli_main(["train", "--data", str(dataset), "--out", str(planned), "--no-progress", "--resume",
                     *[a for s in [*TINY_SETS, "epochs=6", "max_minutes=60"] for a in ("--set", s)]]) == 0
    assert len(list(csv.DictReader((planned / "metrics.csv").open()))) == 3
    assert seen and seen[0] > state["seconds"]  # the budget counts the first session's time too


def test_evaluate_says_which_images_it_could_not_read_and_left_out(tmp_path, taxonomy, tiny_bundle, capsys):
    """An image of the data that cannot be decoded was left out of every figure with a word only in
    unreadable.json ("Loaded 3 image(s)", then n 2): now stderr and the report say it, with the reason."""
    data = _tiny_dataset(tmp_path / "data", taxonomy)
    broken = tmp_path / "data" / "img" / f"{taxonomy.leaves[0]}_3.png"  # a test image over the pixel limit: the
    Image.new("1", (9000, 8000)).save(broken)  # data loader takes it, the model's reader refuses it
    ev = tmp_path / "ev"
    assert cli_main(["evaluate", str(tiny_bundle), "--data", str(data), "--split", "test", "--out", str(ev)]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 image(s) could not be read and are left out of the metrics" in err and broken.name in err, err
    assert json.loads((ev / "metrics.json").read_text())["n"] == len(taxonomy.leaves) - 1
    assert "**Left out:** 1 image(s) could not be read" in (ev / "report.md").read_text(encoding="utf-8")


def test_evaluate_and_compare_with_a_file_as_out_say_so_first(tmp_path, taxonomy, tiny_bundle, capsys):
    """``evaluate --out labels.csv`` ran the whole evaluation, then said "[Errno 20] Not a directory:
    'labels.csv/unreadable.json'"; now one line names the file, before the bundle is loaded."""
    data = _tiny_dataset(tmp_path / "data", taxonomy)
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n", encoding="utf-8")
    for out in (labels, labels / "eval"):  # the file itself, or a folder under it
        for argv in (["evaluate", str(tiny_bundle), "--data", str(data), "--out", str(out)],
                     ["compare", str(tiny_bundle), str(tiny_bundle), "--data", str(data), "--out", str(out)]):
            assert cli_main(argv) == 2
            err = capsys.readouterr().err
            assert f"--out {out}: {labels} is a file; give a folder" in err and "Errno" not in err, err
    assert labels.read_text(encoding="utf-8") == "path,label\n"


def test_init_from_without_a_config_takes_the_bundles_tree(tmp_path, capsys):
    """The README's retraining of the 150-leaf model (``--init-from`` and its data, no ``--config``) was refused:
    "150 label(s) are not classes of taxonomy 'fma_demo'" (the default config's tree). Now the bundle's tree."""
    from models.taxonomy import Taxonomy

    tree = Path(__file__).resolve().parents[1] / "resources" / "taxonomy" / "fma_150.yaml"
    data = _tiny_dataset(tmp_path / "data", Taxonomy.from_yaml(tree), per_class=3)
    base = tmp_path / "base"
    assert _train(base, data, "epochs=1", "max_steps_per_epoch=1", f"taxonomy={tree}") == 0
    fine = tmp_path / "fine"
    assert cli_main(["train", "--data", str(data), "--out", str(fine), "--no-progress", "--init-from", str(base),
                     "--set", "epochs=1", "--set", "max_steps_per_epoch=1", "--set", "batch_size=8",
                     "--set", "num_workers=0"]) == 0, capsys.readouterr().err
    m = json.loads((fine / "manifest.json").read_text())
    assert m["taxonomy"]["id"] == json.loads((base / "manifest.json").read_text())["taxonomy"]["id"] != "fma_demo"


def _interrupt() -> None:
    raise KeyboardInterrupt


def test_a_training_that_diverges_says_so_in_one_line(tmp_path, dataset, capsys, monkeypatch):
    """lr=inf (now refused) or a learning rate merely too high: the network's outputs became NaN and the run ended
    in the metrics' traceback ("leaf_probs contains NaN or infinite values"). It ends with what to change."""
    from types import SimpleNamespace

    import models.inference.collect as collect

    real = collect.collect_outputs

    def diverged(predictor, paths, *a, **k):
        out = real(predictor, paths, *a, **k)
        return SimpleNamespace(index=out.index, leaf_probs=np.full_like(out.leaf_probs, np.nan))

    monkeypatch.setattr(collect, "collect_outputs", diverged)
    assert _train(tmp_path / "run", dataset) == 2
    err = capsys.readouterr().err
    assert "fma-model train: error: training diverged: the network's outputs became NaN or infinite" in err, err
    assert "Traceback" not in err


def test_an_out_this_account_cannot_write_is_refused_before_the_data_is_read(tmp_path, dataset, capsys, monkeypatch):
    """Seen as a user without rights: `train --out ro/v3` read and checked the data, then ended with "[Errno 13]
    Permission denied: 'ro/v3'" (root writes anywhere: the file system's refusal is simulated)."""
    from models.commands import arguments

    real = os.open

    def refused(path, flags, *a):
        if ".fma-write-test-" in str(path):
            raise PermissionError(13, "Permission denied")
        return real(path, flags, *a)

    monkeypatch.setattr(arguments.os, "open", refused)
    assert _train(tmp_path / "ro" / "v3", dataset) == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path / 'ro' / 'v3'}: {tmp_path} cannot be written (Permission denied); choose another --out" \
        in err, err
    assert not (tmp_path / "ro").exists()
    monkeypatch.undo()
    arguments.refuse_unwritable_out(tmp_path / "ok" / "v3")  # a folder it can write: nothing refused, nothing left
    assert not list(tmp_path.glob(".fma-write-test-*"))
