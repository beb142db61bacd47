"""The benchmark suite runs: `python -m bench all --quick` writes every JSON file with its keys (no timing asserts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT

EXPECTED = {
    "engine": {"convnext_tiny", "resnet50_cbam"},
    "pipeline": {"model_only", "end_to_end", "ratio", "target_ratio", "meets_target"},
    "ui": {"stall_p99_ms", "stall_max_ms", "first_prediction_s", "window_shown_s", "meets_target"},
    "store": {"rejudge_queue_first_page_s", "export_csv_s", "export_rows", "queue_total", "meets_target"},
}
ENGINE_KEYS = {"chosen_path", "eager_median", "chosen_median", "ratio", "agreement", "candidates", "tuning"}


def test_quick_benchmark_run_writes_every_result(tmp_path):
    out = tmp_path / "bench"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-m", "bench", "all", "--quick", "--out", str(out)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for name, keys in EXPECTED.items():
        doc = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        assert doc["benchmark"] == name and doc["quick"] is True
        assert {"machine", "peak_rss_mb", "wall_s", "results"} <= set(doc)
        assert doc["machine"]["cpu_count"] >= 1 and doc["machine"]["cpu"]
        assert keys <= set(doc["results"]), f"{name}: missing {keys - set(doc['results'])}"
    engine = json.loads((out / "engine.json").read_text(encoding="utf-8"))["results"]
    for family in EXPECTED["engine"]:
        fam = engine[family]
        assert set(fam) >= ENGINE_KEYS
        assert fam["candidates"][0]["path"] == "eager" and fam["candidates"][0]["accepted"] is True
        assert 0.0 <= fam["agreement"]["top1_agreement"] <= 1.0
    ui = json.loads((out / "ui.json").read_text(encoding="utf-8"))["results"]
    assert ui["predicted"] == ui["images"]  # the whole batch was classified in the window
    pipeline = json.loads((out / "pipeline.json").read_text(encoding="utf-8"))["results"]
    assert pipeline["end_to_end"]["images"] == pipeline["model_only"]["images"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["benchmarks"]) == set(EXPECTED) and all(r["ok"] for r in summary["benchmarks"].values())
    assert "engine" in res.stdout and "x" in res.stdout  # ratios were printed


def test_heatmap_layers_plays_every_recipe_on_correct_images(tmp_path, taxonomy, capsys):
    """bench.heatmap_layers on a tiny ConvNeXt: the images are labelled with its own predictions, so all play."""
    from conftest import make_tiny_bundle, write_image

    from bench import heatmap_layers
    from models.predictor import Predictor

    bundle = make_tiny_bundle(tmp_path / "b", taxonomy, family="convnext")
    images = [write_image(tmp_path / f"i{n}.png", size=(64, 64), seed=n) for n in range(4)]
    preds = Predictor(bundle).predict(images)
    lines = ["path,label,defect_bbox"] + [f"{p.file},{p.leaf},0 0 64 64" for p in preds]  # box = whole image
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert heatmap_layers.main([str(bundle), "--data", str(tmp_path / "m.csv"), "--every", "1", "--offset", "0"]) == 0
    out = capsys.readouterr().out
    assert "on 4 correctly classified images" in out
    rows = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(rows) == 6 and all(line.rstrip().endswith("100.0%") for line in rows)  # every peak is in the image
