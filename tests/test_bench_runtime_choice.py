"""The workstation runtime decision of the engine benchmark (bench/runtime_choice.py, issue #21 part 4)."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
from conftest import make_tiny_bundle, write_image

from bench.runtime_choice import fastest_torch_path, install_size, runtime_decision
from models.inference import engine as eng

HAS_ORT = eng.unavailable_reason("onnx") is None


def test_the_fastest_accepted_torch_path_is_chosen_never_an_onnx_or_refused_one():
    record = SimpleNamespace(candidates=(
        {"path": "eager", "images_per_s": 5.0, "accepted": True},
        {"path": "onnx", "images_per_s": 20.0, "accepted": True},
        {"path": "torch_int8_dynamic", "images_per_s": 15.0, "accepted": False},
        {"path": "channels_last", "images_per_s": 7.0, "accepted": True}))
    assert fastest_torch_path(record) == "channels_last"
    assert fastest_torch_path(SimpleNamespace(candidates=())) == "eager"


def test_install_size_follows_the_requirements_and_leaves_the_shared_ones_out():
    size = install_size(["torch"])
    assert size["packages_mb"]["torch"] > 50 and "numpy" not in size["packages_mb"]
    assert len(size["packages_mb"]) > 1  # torch's own requirements (sympy, networkx ...) are counted
    assert size["total_mb"] == pytest.approx(sum(size["packages_mb"].values()), abs=0.1 * len(size["packages_mb"]))
    assert size["without_gpu_libraries_mb"] <= size["total_mb"]
    assert install_size(["no-such-distribution"])["total_mb"] == 0


@pytest.mark.skipif(not HAS_ORT, reason="onnxruntime not installed")
def test_runtime_decision_times_both_sides_on_the_same_images_and_compares_them(tmp_path, taxonomy):
    bundle = shutil.copytree(make_tiny_bundle(tmp_path / "t", taxonomy, input_size=64), tmp_path / "b")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["inference"] = {
        "format": eng.INFERENCE_FORMAT, "path": "channels_last", "batch_size": 4, "threads": None,
        "temperature": 1.0, "weights_sha256": manifest["weights"]["sha256"], "machine": {"cpu_count": 1},
        "candidates": [{"path": "channels_last", "images_per_s": 9.0, "accepted": True}]}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    images = [write_image(tmp_path / f"i{k}.png", seed=k) for k in range(6)]
    res = runtime_decision(bundle, images, rounds=2, check_images=images)
    assert res["torch_path"] == "channels_last" and res["images"] == 6
    assert len(res["interleaved"]["rounds"]) == 2 and res["runtime_median"] > 0 and res["torch_median"] > 0
    assert res["agreement"]["top1_agreement"] == 1.0 and res["agreement"]["max_prob_diff"] < 1e-3
    assert json.loads((bundle / "manifest.json").read_text())["runtime"]["predict"]["file"]  # exported once
    assert res["install"]["onnxruntime"]["total_mb"] > 1
