"""`fma-model compare`: the oracle coverage on a hand-made case, and the command's JSON and Markdown."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import make_tiny_bundle
from test_calibrate import make_dataset

from models.commands.cli import main as cli_main
from models.evaluation.compare import oracle_coverage, top1_difference
from models.evaluation.evaluate import never_predicted_warning


def test_oracle_coverage_hand_example():
    conf = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, False, True])
    assert oracle_coverage(conf, correct, 1.0) == (0.5, 0.8)
    assert oracle_coverage(conf, correct, 0.75) == (1.0, 0.6)  # 3 of 4 right
    assert oracle_coverage(conf, correct, 0.7) == (1.0, 0.6)
    assert oracle_coverage(conf, correct, 0.8) == (0.5, 0.8)  # 2/3 at 0.7 and 3/4 at 0.6 fall short
    # the two 0.8s go together: with one of them wrong, 1.0 purity keeps only the first image
    assert oracle_coverage(np.array([0.9, 0.8, 0.8]), np.array([True, True, False]), 1.0) == (pytest.approx(1 / 3), 0.9)
    assert oracle_coverage(np.array([0.9]), np.array([False]), 0.5) == (0.0, None)
    cov, thr = oracle_coverage(np.zeros(0), np.zeros(0, bool), 0.9)
    assert math.isnan(cov) and thr is None


def test_compare_command_writes_json_and_markdown(tmp_path, taxonomy, capsys):
    data = make_dataset(tmp_path / "d", taxonomy, per_class=6, unknown_types=1)
    a = make_tiny_bundle(tmp_path / "a", taxonomy, input_size=32, seed=0)
    b = make_tiny_bundle(tmp_path / "b", taxonomy, input_size=32, seed=1)
    assert cli_main(["calibrate", str(a), "--data", str(data), "--target-purity", "0.2", "--min-support", "1",
                     "--bound", "none", "--spot-check", "0"]) == 0
    capsys.readouterr()
    out = tmp_path / "cmp"
    assert cli_main(["compare", str(a), str(b), "--data", str(data), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "compare.json").read_text())
    assert result["target_purity"] == 0.2  # A's calibrated target by default
    assert result["split"] == "test" and result["same_taxonomy"] is True
    ma, mb = result["a"]["metrics"], result["b"]["metrics"]
    assert ma["n"] == mb["n"] == 18 * 2 + 2
    assert result["a"]["calibrated"] is True and result["b"]["calibrated"] is False
    assert "auto_coverage" in ma and "auto_purity" in ma and "auto_coverage" not in mb
    assert "unknown_auroc" in ma and "unknown_auroc" in mb  # B falls back to 1 - max p
    for m in (ma, mb):
        assert 0.0 <= m["oracle_coverage"] <= 1.0
    assert result["delta"]["top1"] == pytest.approx(mb["top1"] - ma["top1"], abs=1e-6)
    rows = result["per_class"]
    assert [r["leaf"] for r in rows] != [] and {r["leaf"] for r in rows} == set(taxonomy.leaves)
    changed = [round(abs(r["d_recall"]) * r["support"]) for r in rows]  # the most test images changed first
    assert changed == sorted(changed, reverse=True)
    assert all(r["name"] == taxonomy.name(r["leaf"], "en") for r in rows)
    for r in rows:
        assert r["d_recall"] == pytest.approx(r["recall_b"] - r["recall_a"], abs=1e-6)
    md = (out / "compare.md").read_text()
    assert md.startswith("# ") and "| top-1 |" in md and "## Per class" in md
    assert f"A: `{a}`; B: `{b}`." in md  # which folder was which
    from models.evaluation.compare import to_markdown

    result["per_class"][0]["support"] = 0  # a type the data has none of: its recall is n/a, not 0.0000
    row = next(line for line in to_markdown(result).splitlines() if line.startswith(f"| `{rows[0]['leaf']}`"))
    assert row.split(" | ")[3:6] == ["n/a", "n/a", "n/a"]
    assert md.count("\n| `") == 18 and "| top-1 |" in printed
    diff = result["top1_diff"]
    assert diff["n"] == 18 * 2 and diff["delta"] == pytest.approx(result["delta"]["top1"], abs=1e-6)
    low, high = diff["ci"]
    assert low <= diff["delta"] <= high
    assert diff["verdict"] == ("tie" if low <= 0 <= high else "B better" if low > 0 else "A better")
    for m in (ma, mb):
        assert m["top1_ci"][0] <= m["top1"] <= m["top1_ci"][1]
    line = next(t for t in printed.splitlines() if t.startswith("top-1: A "))
    assert f"over 36 images): {diff['verdict']}" in line and "95 % CI" in line and line in md
    # an explicit target changes the oracle column only
    assert cli_main(["compare", str(a), str(b), "--data", str(data), "--out", str(out), "--target-purity",
                     "0.99"]) == 0
    again = json.loads((out / "compare.json").read_text())
    assert again["target_purity"] == 0.99 and again["a"]["metrics"]["top1"] == ma["top1"]
    assert again["a"]["metrics"]["oracle_coverage"] <= ma["oracle_coverage"]


def test_top1_difference_pairs_images_by_path():
    a = {f"img{i}": i % 4 != 0 for i in range(40)}  # 75 %
    same = top1_difference(a, dict(a))
    assert same == {"n": 40, "delta": 0.0, "ci": [0.0, 0.0], "verdict": "tie"}
    better = {p: True for p in a} | {"extra": False}  # B fixes A's 10 mistakes; "extra" has no pair
    won = top1_difference(a, better)
    assert won["n"] == 40 and won["delta"] == pytest.approx(0.25) and won["verdict"] == "B better"
    assert 0.0 < won["ci"][0] <= 0.25 <= won["ci"][1]
    assert top1_difference(better, a)["verdict"] == "A better"
    one_off = dict(a) | {"img1": False}  # one image differs: no evidence either way
    assert top1_difference(a, one_off)["verdict"] == "tie"
    assert top1_difference({}, {})["verdict"] == "n/a"


def test_evaluate_and_compare_say_when_no_image_could_be_read(tmp_path, taxonomy, capsys):
    """A manifest whose files are all missing (a share not mounted) ended in "the 'stages' unknown score needs
    stage_stats", a routing error that sounded like a broken bundle."""
    data = make_dataset(tmp_path / "d", taxonomy, per_class=3, unknown_types=0)
    for image in (tmp_path / "d").rglob("*.png"):
        image.unlink()
    bundle = make_tiny_bundle(tmp_path / "a", taxonomy, input_size=32, seed=0)
    words = "no images to evaluate: the split is empty, or none of its files could be read"
    assert cli_main(["evaluate", str(bundle), "--data", str(data), "--split", "all", "--out", str(tmp_path / "e")]) == 2
    assert words in capsys.readouterr().err
    assert cli_main(["compare", str(bundle), str(bundle), "--data", str(data), "--split", "all"]) == 2
    assert words in capsys.readouterr().err
    cut = make_dataset(tmp_path / "c", taxonomy, per_class=3, unknown_types=0)  # headers read, pixels do not
    images = sorted((tmp_path / "c").rglob("*.png"))
    for image in images:
        image.write_bytes(image.read_bytes()[:120])
    assert cli_main(["evaluate", str(bundle), "--data", str(cut), "--split", "all", "--out", str(tmp_path / "e")]) == 2
    assert words in capsys.readouterr().err  # the manifest's reader finds them unreadable first and lists them
    from models.bundle.io import load_bundle
    from models.data.manifest import DataError, read_manifest
    from models.evaluation.evaluate import evaluate_bundle

    unchecked = list(read_manifest(cut, taxonomy, verify_images=False).samples)  # (an API caller's own list)
    with pytest.raises(DataError, match=f"none of the {len(images)} images to evaluate could be read"):
        evaluate_bundle(load_bundle(bundle), unchecked)


def test_compare_says_which_images_it_left_out(tmp_path, taxonomy, capsys):
    """An image the model's reader refuses (over the pixel limit) was left out of both sides' figures without a
    word, and the two sides' counts compared the samples asked for, not the images read."""
    from PIL import Image

    data = make_dataset(tmp_path / "d", taxonomy, per_class=3, unknown_types=0)
    huge = sorted((tmp_path / "d").rglob("*.png"))[0]
    Image.new("1", (9000, 8000)).save(huge)
    bundle = make_tiny_bundle(tmp_path / "a", taxonomy, input_size=32, seed=0)
    assert cli_main(["compare", str(bundle), str(bundle), "--data", str(data), "--split", "all",
                     "--out", str(tmp_path / "cmp")]) == 0
    said = capsys.readouterr()
    assert f"A: 1 image(s) could not be read and are left out ({huge.name}: " in said.out + said.err
    result = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert result["a"]["metrics"]["n"] == result["b"]["metrics"]["n"] == 18 * 3 - 1


def test_evaluate_warns_about_never_predicted_leaves(tmp_path, taxonomy, capsys):
    assert never_predicted_warning({"never_predicted": []}) is None
    warning = never_predicted_warning({"never_predicted": ["dent"], "per_class": {"dent": {"support": 3}}})
    assert warning.startswith("WARNING: 1 leaf/leaves never predicted") and "dent (3 image(s))" in warning
    data = make_dataset(tmp_path / "d", taxonomy, per_class=6, unknown_types=0)
    bundle = make_tiny_bundle(tmp_path / "a", taxonomy, input_size=32, seed=0)  # untrained: few leaves said
    assert cli_main(["evaluate", str(bundle), "--data", str(data), "--out", str(tmp_path / "e")]) == 0
    err = capsys.readouterr().err
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    never = metrics["never_predicted"]
    assert never and set(never) < set(taxonomy.leaves)
    line = next(t for t in err.splitlines() if t.startswith("WARNING:"))
    assert line.startswith(f"WARNING: {len(never)} leaf/leaves never predicted")
    assert all(f"{leaf} (2 image(s))" in line for leaf in never)
    report = (tmp_path / "e" / "report.md").read_text()
    assert "**Never predicted:** " + ", ".join(f"`{x}`" for x in never) in report
    # an evaluation's folder takes it again (its plots are its own); a data set's or a batch's never (seen: the
    # three plots joined the batch of `evaluate --out lot1`, and the app judged them as defect images)
    assert cli_main(["evaluate", str(bundle), "--data", str(data), "--out", str(tmp_path / "e")]) == 0
    for folder in (data.parent, next(p for p in data.parent.rglob("*.png")).parent):
        before = sorted(folder.rglob("*"))
        assert cli_main(["evaluate", str(bundle), "--data", str(data), "--out", str(folder)]) == 2
        assert f"--out {folder} holds images (" in capsys.readouterr().err
        assert sorted(folder.rglob("*")) == before
        assert cli_main(["compare", str(bundle), str(bundle), "--data", str(data), "--out", str(folder)]) == 2
        assert f"--out {folder} holds images (" in capsys.readouterr().err
