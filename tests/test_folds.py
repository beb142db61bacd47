"""fma-model train --folds K: cross-validated estimates for small data (issue #14)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from models.commands.cli import main as cli_main
from models.data.manifest import Sample, read_manifest
from models.training.folds import assign_folds, fold_split, summarise, summary_lines
from tests.test_train import TINY_SETS, _tiny_dataset


def _samples(per_label: dict[str, int]) -> list[Sample]:
    return [Sample(path=Path(f"/x/{label}_{j}.png"), label=label) for label, n in per_label.items() for j in range(n)]


def _by_name(path: Path) -> str:
    return path.name


def test_folds_are_stratified_deterministic_and_order_free():
    samples = _samples({"a": 10, "b": 7, "c": 3})
    folds = assign_folds(samples, 3, seed=0, hash_fn=_by_name)
    for label in "abc":
        sizes = Counter(f for s, f in zip(samples, folds, strict=True) if s.label == label)
        assert max(sizes.values()) - min(sizes.get(k, 0) for k in range(3)) <= 1, (label, sizes)
    assert assign_folds(samples, 3, seed=0, hash_fn=_by_name) == folds
    by_path = dict(zip((s.path for s in samples), folds, strict=True))
    reversed_folds = assign_folds(samples[::-1], 3, seed=0, hash_fn=_by_name)
    assert dict(zip((s.path for s in samples[::-1]), reversed_folds, strict=True)) == by_path
    assert assign_folds(samples, 3, seed=1, hash_fn=_by_name) != folds


def test_identical_files_share_a_fold():
    samples = _samples({"a": 12})
    same = {s.path for s in samples[:4]}  # four copies of one image

    def content(path: Path) -> str:
        return "copy" if path in same else path.name

    folds = assign_folds(samples, 4, seed=3, hash_fn=content)
    assert len({f for s, f in zip(samples, folds, strict=True) if s.path in same}) == 1


def test_every_image_is_tested_once_and_validation_is_the_next_fold():
    samples = _samples({"a": 9, "b": 6}) + [Sample(path=Path("/x/u.png"), label="unknown:blob")]
    folds = assign_folds(samples, 3, seed=0, hash_fn=_by_name)
    tested: Counter[Path] = Counter()
    for i in range(3):
        split = fold_split(samples, folds, i, 3)
        for s, f in zip(split, folds, strict=True):
            if s.is_unknown:
                assert s.split == "train"  # outlier exposure, never a test class
                continue
            assert s.split == ("test" if f == i else "val" if f == (i + 1) % 3 else "train")
            tested[s.path] += s.split == "test"
    assert set(tested.values()) == {1} and len(tested) == 15


def test_summary_is_mean_and_sample_spread():
    rows = [{"top1": 0.6, "top5": 1.0}, {"top1": 0.8, "top5": 1.0}, {"top1": 0.7, "top5": None}]
    s = summarise(rows)
    assert s["top1"]["mean"] == pytest.approx(0.7) and s["top1"]["std"] == pytest.approx(0.1)
    assert (s["top1"]["min"], s["top1"]["max"], s["top1"]["n"]) == (0.6, 0.8, 3)
    assert s["top5"]["n"] == 2 and s["macro_recall"]["mean"] is None
    assert "top1 0.700 ± 0.100 (0.600–0.800, 3 folds)" in summary_lines(s)


def test_cli_cross_validates_and_resume_keeps_finished_folds(tmp_path, taxonomy, capsys):
    data = _tiny_dataset(tmp_path / "data", taxonomy, per_class=3)
    out = tmp_path / "cv"
    args = ["train", "--data", str(data), "--out", str(out), "--folds", "3", "--no-progress"]
    for s in [*TINY_SETS, "epochs=1", "max_steps_per_epoch=1"]:
        args += ["--set", s]
    assert cli_main(args) == 0
    result = json.loads((out / "folds.json").read_text())
    assert [r["fold"] for r in result["folds"]] == [1, 2, 3]
    assert sum(r["n_test"] for r in result["folds"]) == result["n_known"] == 3 * len(taxonomy.leaves)
    top1 = [r["top1"] for r in result["folds"]]
    assert result["summary"]["top1"]["mean"] == pytest.approx(sum(top1) / 3)
    for i in (1, 2, 3):  # each run's split is kept, and its test fold is a third of the data
        rows = read_manifest(out / f"fold_{i}" / "manifest.csv", taxonomy).samples
        assert Counter(s.split for s in rows) == {"train": 18, "val": 18, "test": 18}
        assert (out / f"fold_{i}" / "bundle" / "manifest.json").exists()
    assert "| mean |" in (out / "folds.md").read_text()
    assert "cross-validated top1" in capsys.readouterr().out

    (out / "fold_3" / "metrics.json").unlink()  # as if the run had stopped during fold 3
    import argparse

    from models.commands import cli

    stopped = argparse.Namespace(command="train", out=str(out), folds=3)  # what Ctrl+C there says (it said that
    assert "the folds evaluated so far are kept (fold_1, fold_2)" in cli._resumable(stopped)  # nothing was kept)
    assert cli_main([*args, "--resume"]) == 0
    text = capsys.readouterr().out
    assert "[fold 1/3] already evaluated" in text and "[fold 2/3] already evaluated" in text
    assert "[fold 3/3] already trained: evaluating it" in text and (out / "fold_3" / "metrics.json").exists()


def test_too_few_folds_or_images_are_refused(tmp_path, taxonomy, capsys):
    data = _tiny_dataset(tmp_path / "data", taxonomy, per_class=3)
    with pytest.raises(SystemExit):
        cli_main(["train", "--data", str(data), "--out", str(tmp_path / "o"), "--folds", "2"])
    assert "at least 3" in capsys.readouterr().err
