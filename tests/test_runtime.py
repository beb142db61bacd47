"""The torch-free workstation runtime: numpy preprocessing and heatmap arithmetic equal to the torch path, exported
graphs that predict, route and explain as the torch Predictor does, and the app's prediction path with torch made
unimportable."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from PIL import Image

from models.bundle.manifest import BundleError
from models.commands.cli import main as cli_main
from models.data.transforms import build_eval_transform
from models.inference import arrays
from models.inference.predictor import Predictor
from models.inference.runtime import HEATMAP_FLIPS, RuntimePredictor
from tests.conftest import ROOT, make_tiny_bundle
from tests.test_calibrate import make_dataset

DEMO_BATCH = sorted((ROOT / "resources" / "demo" / "batch").glob("*.png"))


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
def test_numpy_preprocessing_equals_the_torch_transform(interpolation):
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    transform = build_eval_transform((224, 200), mean, std, interpolation)
    rng = np.random.default_rng(0)
    images = [Image.open(p) for p in DEMO_BATCH[:3]]
    images += [Image.fromarray(rng.integers(0, 255, (37, 91), dtype=np.uint8), "L"),  # grey, odd size, enlarged
               Image.fromarray(rng.integers(0, 255, (600, 500, 4), dtype=np.uint8), "RGBA")]
    for image in images:
        want = transform(image.convert("RGB")).numpy()
        got = arrays.preprocess(image, (224, 200), mean, std, interpolation)
        assert got.shape == want.shape == (3, 224, 200) and got.dtype == np.float32
        assert np.abs(got - want).max() <= 1e-3


def test_numpy_map_arithmetic_equals_torch():
    rng = np.random.default_rng(1)
    maps = rng.random((3, 7, 9)).astype(np.float32)
    want = F.interpolate(torch.from_numpy(maps)[:, None], size=(56, 40), mode="bilinear", align_corners=False)[:, 0]
    assert np.abs(arrays.resize_bilinear(maps, (56, 40)) - want.numpy()).max() < 1e-5
    big = rng.random((2, 64, 48)).astype(np.float32)
    want = TF.gaussian_blur(torch.from_numpy(big)[:, None], [25, 25], [4.0, 4.0])[:, 0]
    assert np.abs(arrays.gaussian_blur(big, 4.0) - want.numpy()).max() < 1e-5
    from models.inference.heatmaps import HEATMAP_FLIPS as TORCH_FLIPS

    assert HEATMAP_FLIPS == TORCH_FLIPS


@pytest.fixture(scope="module")
def exported(tmp_path_factory, taxonomy):
    """A tiny calibrated ConvNeXt (spot checks and the 'stages' unknown score: every routing input) with its runtime."""
    root = tmp_path_factory.mktemp("runtime")
    data = make_dataset(root, taxonomy)
    bundle = make_tiny_bundle(root / "bundle", taxonomy, input_size=64)
    assert cli_main(["calibrate", str(bundle), "--data", str(data), "--target-purity", "0.05", "--min-support", "1",
                     "--method", "per-leaf", "--bound", "none", "--spot-check", "0.3", "--unknown-method", "stages", "--unknown-fpr", "0.25",
                     "--out", str(root / "report")]) == 0
    assert cli_main(["export-runtime", str(bundle), "--data", str(data)]) == 0
    images = sorted((root / "img").glob("*.png"))[::5] + [DEMO_BATCH[0]]
    return bundle, images


def test_the_runtime_predicts_routes_and_explains_as_torch_does(exported, capsys):
    bundle, images = exported
    record = json.loads((bundle / "manifest.json").read_text())["runtime"]
    assert record["stage_strides"] == [4, 8, 16, 32] and record["heatmap"]["file"] == "runtime_heatmap.onnx"
    assert record["heatmap_views"] == len(HEATMAP_FLIPS)
    assert record["parity"]["max_leaf_prob_diff"] < 1e-3 and record["parity"]["max_heatmap_diff"] < 0.05
    torch_side, runtime = Predictor(bundle, inference=False), RuntimePredictor(bundle)
    bad = images[0].parent / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    want, got = torch_side.predict([*images, bad]), runtime.predict([*images, bad])
    assert got[-1].error and got[-1].error == want[-1].error
    routes = {p.route for p in got}
    assert {"auto", "rejudge"} <= routes or "spot_check" in routes
    for a, b in zip(want[:-1], got[:-1], strict=True):
        assert (a.leaf, a.route, a.reasons, [r.leaf for r in a.top5]) == (b.leaf, b.route, b.reasons, [r.leaf for r in b.top5])
        assert np.abs(a.leaf_probs - b.leaf_probs).max() < 1e-4
        assert np.abs(a.embedding - b.embedding).max() < 1e-3
        assert a.unknown_score == pytest.approx(b.unknown_score, abs=1e-3)
    for image in images[:3]:
        (hw, hk), (hr, rk) = torch_side.heatmap(image), runtime.heatmap(image)
        assert hk == rk == "gradcam" and hw.shape == hr.shape == (64, 64) and np.abs(hw - hr).max() < 0.05
    leaf = want[1].top5[2].leaf
    assert np.abs(torch_side.explain(images[1], leaf) - runtime.explain(images[1], leaf)).max() < 0.05
    assert isinstance(runtime.heatmaps([images[0], bad])[1], str)


def test_test_time_flips_give_the_same_predictions_on_the_runtime(exported, tmp_path):
    """A calibration with test-time flips (``calibrate --flips``) changes what both paths predict, the same way."""
    import shutil

    bundle, images = exported
    copy = shutil.copytree(bundle, tmp_path / "flipped")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["routing"]["flips"] = ["h", "v", "hv"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    torch_side, runtime = Predictor(copy, inference=False), RuntimePredictor(copy)
    assert torch_side.flips == runtime.flips == ("h", "v", "hv")
    alone = Predictor(bundle, inference=False).predict(images[:6])
    want, got = torch_side.predict(images[:6]), runtime.predict(images[:6])
    for a, b, c in zip(want, got, alone, strict=True):
        assert (a.leaf, a.route, a.reasons) == (b.leaf, b.route, b.reasons)
        assert np.abs(a.leaf_probs - b.leaf_probs).max() < 1e-4
        assert np.abs(a.embedding - c.embedding).max() < 1e-5  # the image's own: the unknown score reads it
    assert max(np.abs(a.leaf_probs - c.leaf_probs).max() for a, c in zip(want, alone, strict=True)) > 1e-3


def test_a_damaged_or_stale_runtime_graph_is_refused(exported, tmp_path):
    import shutil

    bundle, _ = exported
    copy = shutil.copytree(bundle, tmp_path / "copy")
    (copy / "runtime_predict.onnx").write_bytes(b"not a graph")
    with pytest.raises(BundleError, match=r"runtime_predict\.onnx does not match the sha256"):
        RuntimePredictor(copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["runtime"]["weights_sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="exported from other weights"):
        RuntimePredictor(copy)


def test_a_bundle_whose_runtime_graph_was_lost_runs_on_torch_and_says_why(exported, tmp_path, engine, qtbot):
    """A bundle exported for the workstation runtime, copied without runtime_predict.onnx (a share that
    filtered .onnx files): the app ran it on torch, slower, and nothing said so. Now the model's note says why the
    runtime is not used, and the status bar's model tooltip shows it."""
    import shutil

    from app.services.predicting import PredictingService
    from app.ui.statusbar import MainStatusBar

    bundle, _ = exported
    copy = shutil.copytree(bundle, tmp_path / "copy")
    (copy / "runtime_predict.onnx").unlink()
    info = PredictingService(engine).load(copy)
    assert info.engine != "onnx-runtime"
    assert info.engine_note is not None
    assert info.engine_note.startswith("not the workstation runtime: its runtime graph runtime_predict.onnx is missing")
    assert PredictingService(engine).load(bundle).engine_note is None  # the whole bundle: on the runtime, no note
    bar = MainStatusBar()
    qtbot.addWidget(bar)
    bar.set_model(info.version, path=str(copy), engine=info.engine, engine_note=info.engine_note)
    tip = bar.model_label.toolTip()
    assert f"Runs on {info.engine}" in tip and "Not on its fastest path: not the workstation runtime: its runtime graph" in tip


BLOCK_TORCH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "torchvision", "timm", "pytorch_grad_cam", "cv2", "matplotlib"}:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: the workstation runtime must not import it)",
                                      name=name)
sys.meta_path.insert(0, Block())
"""


def test_the_apps_prediction_path_runs_with_torch_unimportable(exported, tmp_path):
    bundle, images = exported
    folder = tmp_path / "batch"
    folder.mkdir()
    for image in images[:6]:
        (folder / image.name).write_bytes(image.read_bytes())
    script = BLOCK_TORCH + textwrap.dedent(f"""
        import json
        from pathlib import Path
        from app.services.predicting import PredictingService
        from app.store.db import init_db, make_engine
        engine = make_engine("sqlite:///{tmp_path / 'store.sqlite3'}")
        init_db(engine)
        service = PredictingService(engine)
        info = service.load({str(bundle)!r})
        result = service.classify_folder(Path({str(folder)!r}))
        path = str(sorted(Path({str(folder)!r}).iterdir())[0])
        heatmap, kind = service.heatmap(path)
        why = service.explain(path, info.taxonomy.leaves[3])
        print(json.dumps({{"engine": info.engine, "torch_free": info.torch_free, "predicted": result.predicted,
                          "routes": result.routes, "kind": kind, "shape": list(heatmap.shape),
                          "why": float(why.max()), "torch": "torch" in sys.modules}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {**got, "engine": "onnx-runtime", "torch_free": True, "predicted": 6, "kind": "gradcam",
                   "shape": [64, 64], "why": 1.0, "torch": False}
    assert sum(got["routes"].values()) == 6


def test_without_torch_a_bundle_without_runtime_graphs_says_what_to_do(tiny_bundle, tmp_path):
    script = BLOCK_TORCH + textwrap.dedent(f"""
        from app.services.predicting import ModelLoadError, PredictingService
        from app.store.db import init_db, make_engine
        engine = make_engine("sqlite:///{tmp_path / 'store.sqlite3'}")
        init_db(engine)
        try:
            PredictingService(engine).load({str(tiny_bundle)!r})
        except ModelLoadError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "no torch" in out.stdout and "fma-model export-runtime" in out.stdout and "fma-judge[train]" in out.stdout


def test_export_runtime_refuses_an_archive(tmp_path, capsys):
    archive = tmp_path / "model.zip"
    archive.write_bytes(b"PK")
    assert cli_main(["export-runtime", str(archive)]) == 2
    assert "export-runtime needs a bundle folder" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ fma-judge --self-test
def test_self_test_passes_on_an_exported_bundle_and_names_each_failure(exported, tmp_path, monkeypatch):
    import shutil

    from app import selftest

    bundle, _ = exported
    lines: list[str] = []
    db = f"sqlite:///{tmp_path / 'it.sqlite3'}"
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert selftest.run(["--self-test", "--db", db, "--model", str(bundle)], out=lines.append) == 0, lines
    assert [ln.split()[:2] for ln in lines[:5]] == [["PASS", n] for n in ("qt", "font", "model", "database", "disk")]
    assert "as on the training machine" in lines[2] and "onnx-runtime" in lines[2] and "(created now)" in lines[3]
    assert "LayerCAM heatmap" in lines[2], lines[2]  # the app's caption's name (the store's kind is "gradcam")
    assert lines[-1] == "self-test: 5 of 5 checks passed"
    monkeypatch.setenv("FMA_JUDGE_RUNTIME", "torch")  # a checkout's torch path: named so ("on channels_last" said
    lines.clear()  # nothing to IT: lead's walk-through)
    assert selftest.run(["--self-test", "--db", db, "--model", str(bundle)], out=lines.append) == 0, lines
    assert f"{json.loads((bundle / 'manifest.json').read_text())['model_version']} on torch (" in lines[2], lines[2]
    monkeypatch.delenv("FMA_JUDGE_RUNTIME")

    # a model that no longer predicts its reference, and a database path that cannot be created
    wrong = shutil.copytree(bundle, tmp_path / "wrong")
    manifest = json.loads((wrong / "manifest.json").read_text())
    ref = manifest["runtime"]["reference"]
    ref["leaf"] = next(leaf for leaf in manifest["thresholds"] if leaf != ref["leaf"])
    (wrong / "manifest.json").write_text(json.dumps(manifest))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    lines.clear()
    assert selftest.run(["--self-test", "--db", f"sqlite:///{blocker / 'db.sqlite3'}", "--model", str(wrong)],
                        out=lines.append) == 1
    assert lines[2].startswith("FAIL  model") and f"the training machine gave {ref['leaf']}" in lines[2]
    assert lines[3].startswith("FAIL  database") and lines[-1].endswith("failed: model, database")

    # a module the model needs is missing from the install (a frozen app built without it): a FAIL line, not a crash
    import models.inference.runtime as runtime

    def missing(*_a, **_k):
        raise ModuleNotFoundError("No module named 'safetensors'", name="safetensors")

    monkeypatch.setattr(runtime, "RuntimePredictor", missing)
    lines.clear()
    assert selftest.run(["--self-test", "--db", db, "--model", str(bundle)], out=lines.append) == 1
    assert lines[2].startswith("FAIL  model") and "No module named 'safetensors'" in lines[2]
    assert lines[3].startswith("PASS  database") and lines[-1].endswith("failed: model")


def test_self_test_checks_every_file_the_manifest_vouches_for(exported, tmp_path):
    """IT's walk-through: a truncated LayerCAM graph passed (loading reads only the prediction's; the analyst's W
    then failed), and so did a pickle named weights.safetensors."""
    import shutil

    from app.selftest import check_model

    bundle, _ = exported
    heatmap = json.loads((bundle / "manifest.json").read_text())["runtime"]["heatmap"]["file"]
    cut = shutil.copytree(bundle, tmp_path / "cut")
    (cut / heatmap).write_bytes((cut / heatmap).read_bytes()[:1000])
    check = check_model(cut)
    assert not check.ok and f"{heatmap} does not match the sha256 in manifest.json" in check.detail, check.detail
    swapped = shutil.copytree(bundle, tmp_path / "swapped")
    (swapped / "weights.safetensors").write_bytes(b"\x80\x04\x95pickle")
    check = check_model(swapped)
    assert not check.ok and "weights.safetensors is not the weights its runtime graphs were made from" in check.detail


def test_a_recalibrated_bundle_still_passes_its_self_test(exported, tmp_path, taxonomy):
    """Calibrating a bundle that has a runtime again (another temperature, test-time flips) changes what it predicts
    for its reference image; the reference follows, so the workstation's self-test checks the model as it now is
    instead of failing every recalibrated bundle."""
    import shutil

    from app.selftest import check_model

    bundle, _ = exported
    copy = shutil.copytree(bundle, tmp_path / "recalibrated")
    before = json.loads((copy / "manifest.json").read_text())["runtime"]["reference"]
    data = make_dataset(tmp_path / "data", taxonomy)
    assert cli_main(["calibrate", str(copy), "--data", str(data), "--target-purity", "0.05", "--min-support", "1",
                     "--method", "per-leaf", "--bound", "none", "--spot-check", "0", "--flips", "h,v,hv",
                     "--out", str(tmp_path / "report")]) == 0
    after = json.loads((copy / "manifest.json").read_text())["runtime"]["reference"]
    assert after["sha256"] == before["sha256"] and after["confidence"] != before["confidence"]
    (want,) = Predictor(copy, inference=False).predict([copy / after["file"]])
    assert (after["leaf"], after["confidence"]) == (want.leaf, pytest.approx(want.confidence, abs=1e-6))
    check = check_model(copy)
    assert check.ok and "as on the training machine" in check.detail, check.detail
    (copy / "manifest.json").unlink()  # the bundle's path said once (it was "FAIL model X: X: not a model bundle")
    check = check_model(copy)
    assert not check.ok and check.detail.count(str(copy)) == 1 and "manifest.json" in check.detail, check.detail


def test_self_test_names_missing_qt_libraries_with_the_install_command(monkeypatch):
    from app import selftest, syscheck

    monkeypatch.setattr(selftest, "child_command", lambda *a: [sys.executable, "-c", "import sys; sys.exit(1)"])
    monkeypatch.setattr(syscheck, "_loadable", lambda soname: soname != "libxcb-cursor.so.0")
    monkeypatch.setattr(syscheck, "_read_os_release", lambda: "ID=ubuntu\nID_LIKE=debian\n")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    qt, font = selftest.check_qt()
    assert not qt.ok and not font.ok
    assert "libxcb-cursor.so.0" in qt.detail and "sudo apt-get install libxcb-cursor0" in qt.detail
    assert "run fma-judge --self-test again" in qt.detail


def test_exporting_a_cbam_bundle_checks_its_cbam_heatmap(tmp_path, taxonomy, capsys, monkeypatch):
    """The runtime graph of a CBAM network carries its attention heatmap: the export compares it with torch's and
    refuses a graph that moves it."""
    from models.bundle.io import load_bundle
    from models.inference import runtime_export

    bundle = make_tiny_bundle(tmp_path / "cbam", taxonomy, family="resnet_cbam", input_size=64)
    assert cli_main(["export-runtime", str(bundle), "--data", str(DEMO_BATCH[0].parent)]) == 0
    out = capsys.readouterr().out
    assert "CBAM heatmaps within" in out and "reference image kept (runtime_reference.png)" in out
    parity = json.loads((bundle / "manifest.json").read_text())["runtime"]["parity"]
    assert parity["max_cbam_heatmap_diff"] <= runtime_export.MAX_CBAM_DIFF
    # the app asks for the heatmap of the fused leaf when a spectrum changed it: CBAM attention either way, on both
    # paths (the runtime gave LayerCAM then, until 2026-12-04, so the installed app showed no CBAM on such images)
    from models.inference.predictor import Predictor

    other = load_bundle(bundle).manifest.taxonomy.leaves[-1]
    for predictor in (RuntimePredictor(bundle), Predictor(load_bundle(bundle))):
        assert predictor.heatmap(DEMO_BATCH[0])[1] == predictor.heatmap(DEMO_BATCH[0], leaf=other)[1] == "cbam"

    real = RuntimePredictor.forward_batch

    def moved(self, x):
        out = real(self, x)
        out.cbam_maps[...] += 0.1  # more than MAX_CBAM_DIFF, everywhere
        return out

    monkeypatch.setattr(RuntimePredictor, "forward_batch", moved)
    with pytest.raises(runtime_export.RuntimeExportError, match="CBAM heatmap pixel"):  # (no heatmap graph: 20 s less)
        runtime_export.export_runtime(load_bundle(bundle), images=DEMO_BATCH[:2], heatmap=False)
    monkeypatch.setattr(RuntimePredictor, "forward_batch",
                        lambda self, x: dataclasses.replace(real(self, x), cbam_maps=None))
    with pytest.raises(runtime_export.RuntimeExportError, match="lost the network's CBAM heatmap"):
        runtime_export.export_runtime(load_bundle(bundle), images=DEMO_BATCH[:2], heatmap=False)


def test_onnx_runtime_telemetry_is_opted_out_before_it_is_imported():
    """IT found ONNX Runtime's device id and an event queue in the analyst's home after a day's judging."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "ORT_TELEMETRY_DISABLED"}
    code = ("import models.inference.runtime, os, sys; "
            "print(os.environ.get('ORT_TELEMETRY_DISABLED'), 'onnxruntime' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == "1"


def test_without_torch_the_reason_the_model_needs_it_is_said_with_its_remedy(exported, tmp_path, monkeypatch):
    """IT's walk-through: FMA_JUDGE_RUNTIME=torch on the frozen app read "cannot run without it: None. Export it with
    fma-model export-runtime", and a zipped bundle "it is an archive. Export it with …"."""
    import shutil
    import sys

    from app.services.predicting import RUNTIME_ENV, ModelLoadError, PredictingService
    from app.store.db import init_db, make_engine

    bundle, _ = exported
    monkeypatch.setitem(sys.modules, "models.bundle.io", None)  # (the workstation install: no torch)
    engine = make_engine("sqlite://")
    init_db(engine)
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    with pytest.raises(ModelLoadError, match=f"model would need it: {RUNTIME_ENV}=torch asks for the torch path "
                                             r"\(unset it\); or install the training part"):
        PredictingService(engine).load(bundle)
    monkeypatch.delenv(RUNTIME_ENV)
    archive = shutil.make_archive(str(tmp_path / "bundle"), "zip", bundle)
    with pytest.raises(ModelLoadError, match="runs a bundle folder, not an archive: unzip it and give the folder"):
        PredictingService(engine).load(archive)
    engine.dispose()


def test_an_export_without_images_says_no_reference_image_was_kept(tmp_path, taxonomy, capsys):
    """Without --data the graphs are checked on noise and no reference image is kept: the workstation's self-test
    said so later, without saying how to mend it."""
    bundle = make_tiny_bundle(tmp_path / "b", taxonomy, input_size=32)
    assert cli_main(["export-runtime", str(bundle), "--no-heatmap"]) == 0
    out = capsys.readouterr().out
    assert "checked against torch on" in out and "noise images" in out
    assert "no reference image kept" in out and "give --data with a few of its images" in out
