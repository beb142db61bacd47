"""Model bundle: round trips give identical predictions; tampered, pickle and mismatched bundles are refused."""

from __future__ import annotations

import json
import pickle
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_image

from models.bundle.files import read_bundle_manifest, write_bundle_manifest
from models.bundle.io import BundleError, load_bundle
from models.bundle.manifest import BundleManifest
from models.inference.predictor import Predictor
from models.routing.policy import Calibration


@pytest.fixture()
def images(tmp_path) -> list[Path]:
    return [write_image(tmp_path / f"img{i}.png", size=(70 + i, 50), seed=i) for i in range(4)]


def _probs(bundle, images) -> np.ndarray:
    return np.stack([p.leaf_probs for p in Predictor(bundle, batch_size=3).predict(images)])


def test_manifest_has_contract_keys(tiny_bundle, taxonomy):
    m = json.loads((tiny_bundle / "manifest.json").read_text(encoding="utf-8"))
    for key in ("format_version", "model_version", "created", "taxonomy", "backbone", "head", "loss",
                "input_size", "mean", "std", "train", "metrics"):
        assert key in m, key
    assert m["taxonomy"]["id"] == taxonomy.id
    assert m["weights"]["sha256"] and len(m["weights"]["sha256"]) == 64
    assert m["model_version"].startswith("tiny-convnext-")
    assert (tiny_bundle / "weights.safetensors").read_bytes()[:8] != b"\x80\x04\x95"  # not a pickle


def test_round_trip_gives_identical_predictions(tmp_path, taxonomy, images):
    from models.bundle.io import build_manifest, save_bundle
    from models.nn.config import NetworkConfig
    from models.nn.network import build_network

    torch.manual_seed(3)
    model = build_network(NetworkConfig(backbone="convnext_tiny", head="shared", head_dim=16,
                                         backbone_kwargs={"depths": [1, 1, 1, 1], "dims": [8, 16, 32, 64]}),
                          taxonomy, load_pretrained=False).eval()
    data_cfg = {"input_size": [3, 48, 48], "mean": [0.5] * 3, "std": [0.25] * 3}
    manifest = build_manifest(model=model, taxonomy=taxonomy, data_config=data_cfg)
    folder = save_bundle(tmp_path / "b", model, manifest)
    archive = save_bundle(tmp_path / "b.zip", model, manifest)
    loaded = load_bundle(folder)
    # identical weights
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.model.state_dict()[k]), k
    a, b = _probs(folder, images), _probs(archive, images)
    np.testing.assert_array_equal(a, b)
    assert loaded.taxonomy.fingerprint() == taxonomy.fingerprint()


def test_half_precision_bundle_is_smaller_and_close(tmp_path, taxonomy, tiny_bundle, images):
    from models.bundle.io import save_bundle

    loaded = load_bundle(tiny_bundle)
    half = save_bundle(tmp_path / "half", loaded.model, loaded.manifest.replace(model_version="", created=""),
                       half=True)
    assert (half / "weights.safetensors").stat().st_size < 0.6 * (tiny_bundle / "weights.safetensors").stat().st_size
    np.testing.assert_allclose(_probs(half, images), _probs(tiny_bundle, images), atol=2e-3)


def test_tampered_weights_are_refused(tmp_path, tiny_bundle):
    bad = shutil.copytree(tiny_bundle, tmp_path / "bad")
    data = bytearray((bad / "weights.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (bad / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="corrupted or was modified"):
        load_bundle(bad)


def test_pickle_bundles_are_never_unpickled(tmp_path, tiny_bundle, monkeypatch):
    calls = []
    monkeypatch.setattr(pickle, "load", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(a))

    payload = pickle.dumps({"weights": [1, 2, 3]})
    # a .pth file handed over as a model
    pth = tmp_path / "model.pth"
    pth.write_bytes(payload)
    with pytest.raises(BundleError, match="pickle"):
        load_bundle(pth)
    # a folder with only a pickle checkpoint
    folder = tmp_path / "pickle_folder"
    folder.mkdir()
    (folder / "weights.pt").write_bytes(payload)
    with pytest.raises(BundleError, match="pickle files are never loaded"):
        load_bundle(folder)
    # a pickle disguised as weights.safetensors, with a matching sha256 in the manifest
    disguised = shutil.copytree(tiny_bundle, tmp_path / "disguised")
    (disguised / "weights.safetensors").write_bytes(payload)
    import hashlib

    m = json.loads((disguised / "manifest.json").read_text())
    m["weights"]["sha256"] = hashlib.sha256(payload).hexdigest()
    (disguised / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="not a valid safetensors"):
        load_bundle(disguised)
    assert calls == []


def test_unknown_format_version_is_refused(tmp_path, tiny_bundle):
    b = shutil.copytree(tiny_bundle, tmp_path / "v99")
    m = json.loads((b / "manifest.json").read_text())
    m["format_version"] = 99
    (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="unsupported bundle format_version 99"):
        load_bundle(b)


def test_taxonomy_that_does_not_match_weights_is_refused(tmp_path, tiny_bundle):
    b = shutil.copytree(tiny_bundle, tmp_path / "mismatch")
    m = json.loads((b / "manifest.json").read_text())
    # add a 19th leaf under the first subgroup
    m["taxonomy"]["children"][0]["children"][0]["children"].append(
        {"id": "particle_new", "name": {"en": "New", "zh_TW": "新"}})
    (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="taxonomy_fingerprint does not match the embedded taxonomy"):
        load_bundle(b)
    del m["taxonomy_fingerprint"]  # a hand-edited manifest without one: the weights' shapes still catch it
    (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match=r"do not match.*level sizes \[2, 4, 19\]"):
        load_bundle(b)


@pytest.mark.parametrize("broken", ["no_manifest", "no_weights", "bad_json", "missing_path", "not_zip"])
def test_missing_or_broken_files_have_clear_messages(tmp_path, tiny_bundle, broken):
    b = shutil.copytree(tiny_bundle, tmp_path / "b")
    expected = {"no_manifest": "manifest.json is missing", "no_weights": "weights.safetensors is missing",
                "bad_json": "invalid JSON at line", "missing_path": "not found", "not_zip": "not a model bundle"}
    target: Path = b
    if broken == "no_manifest":
        (b / "manifest.json").unlink()
    elif broken == "no_weights":
        (b / "weights.safetensors").unlink()
    elif broken == "bad_json":
        (b / "manifest.json").write_text('{\n "format_version": 1,\n oops\n}')
    elif broken == "missing_path":
        target = tmp_path / "nope"
    else:
        target = tmp_path / "model.bin.txt"
        target.write_text("hello")
    with pytest.raises(BundleError, match=expected[broken]):
        load_bundle(target)


def test_archive_without_manifest_is_refused(tmp_path):
    z = tmp_path / "x.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("weights.safetensors", b"abc")
    with pytest.raises(BundleError, match=r"archive has no manifest\.json"):
        load_bundle(z)


def test_rewritten_manifest_keeps_weights_valid(tmp_path, tiny_bundle):
    b = shutil.copytree(tiny_bundle, tmp_path / "cal")
    manifest = read_bundle_manifest(b)
    write_bundle_manifest(b, manifest.replace(temperature=2.0, calibration=Calibration(thresholds={"scratch": 0.9},
                                                                                      temperature=2.0)))
    loaded = load_bundle(b)
    assert loaded.manifest.temperature == 2.0
    assert loaded.manifest.calibration.thresholds == {"scratch": 0.9}


DEMO_MODEL = Path(__file__).resolve().parents[1] / "resources" / "demo" / "model"


@pytest.mark.skipif(not (DEMO_MODEL / "manifest.json").is_file(), reason="demo model not present")
def test_the_committed_demo_manifest_round_trips_exactly_through_the_typed_manifest():
    """A bundle written by the previous code (the committed demo) reads into the typed manifest and writes back
    to the same JSON, calibration and training provenance included."""
    data = json.loads((DEMO_MODEL / "manifest.json").read_text(encoding="utf-8"))
    manifest = BundleManifest.from_json(data)
    assert manifest.calibration is not None and manifest.calibration.unknown.method == "stages"
    assert manifest.train.init_from is not None and manifest.train.n_outliers == 896
    assert manifest.to_json() == data
    assert BundleManifest.from_json(manifest.to_json()) == manifest or manifest.to_json() == data


def test_manifest_refuses_unknown_keys_in_every_typed_section(tiny_bundle):
    data = json.loads((tiny_bundle / "manifest.json").read_text(encoding="utf-8"))
    for where, patch in (("top", {"surprise": 1}), ("train", {"train": {**data["train"], "oops": 1}}),
                         ("weights", {"weights": {**data["weights"], "extra": 2}}),
                         ("routing", {"thresholds": {"scratch": 0.5}, "routing": {"spot_chek": 0.1}}),
                         ("network", {"network": {**data["network"], "depth": 3}})):
        with pytest.raises(BundleError, match="unknown"):
            BundleManifest.from_json({**data, **patch})
        assert where


def test_calibration_round_trips_through_the_manifest(tiny_bundle, taxonomy):
    from models.routing.policy import CalibratedOn, UnknownFit
    from models.routing.unknown import UnknownDetector

    cal = Calibration(thresholds={leaf: (0.5 if i % 2 else None) for i, leaf in enumerate(taxonomy.leaves)},
                      unknown=UnknownDetector("energy", threshold=-3.25, temperature=1.5), spot_check=0.02, seed=7,
                      temperature=1.5, target_purity=0.99, notes={"scratch": "support: 3"}, min_support=20,
                      bound="clopper-pearson", confidence=0.95, unknown_fpr=0.05,
                      calibrated_on=CalibratedOn("ab" * 32, "val", 90, 10, ("m.csv",)), created="2026-11-30T00:00:00+00:00",
                      temperature_before=1.0, unknown_fit=UnknownFit("auroc", {"energy": 0.9}, 0.05, 0.05, 0.8,
                                                                     {"split": "train", "n": 40}))
    manifest = read_bundle_manifest(tiny_bundle).replace(temperature=1.5, calibration=cal)
    again = BundleManifest.from_json(json.loads(json.dumps(manifest.to_json())))
    assert again.calibration.to_manifest() == cal.to_manifest()
    assert again.calibration.thresholds == cal.thresholds and again.calibration.unknown.threshold == -3.25
    assert again.calibration.calibrated_on == cal.calibrated_on and again.calibration.unknown_fit == cal.unknown_fit


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_a_rewritten_manifest_stays_readable_to_others(tmp_path, tiny_bundle):
    """A calibrated or optimised bundle in a shared folder must stay readable to colleagues' apps and services."""
    import os

    b = shutil.copytree(tiny_bundle, tmp_path / "shared")
    old = os.umask(0o022)
    try:
        write_bundle_manifest(b, read_bundle_manifest(b).replace(temperature=1.25))
    finally:
        os.umask(old)
    assert (b / "manifest.json").stat().st_mode & 0o777 == 0o644
    assert not list(b.glob(".*.tmp"))


def test_typed_sections_refuse_wrong_types_and_incomplete_calibrations(tiny_bundle):
    data = json.loads((tiny_bundle / "manifest.json").read_text(encoding="utf-8"))
    with pytest.raises(BundleError, match=r"'weights.bytes' must be int"):
        BundleManifest.from_json({**data, "weights": {**data["weights"], "bytes": "8 MB"}})
    with pytest.raises(BundleError, match=r"'train.n_train' must be int"):
        BundleManifest.from_json({**data, "train": {**data["train"], "n_train": True}})
    with pytest.raises(BundleError, match="'routing' but no 'thresholds'"):
        BundleManifest.from_json({**data, "routing": {"spot_check": 0.1}})
    manifest = BundleManifest.from_json(data)
    with pytest.raises(BundleError, match=r"temperature 2\.0 differs from its calibration's 1\.0"):
        manifest.replace(temperature=2.0, calibration=Calibration(thresholds={"scratch": 0.9}))


def test_a_manifest_written_without_provenance_is_rewritten_without_inventing_it(tiny_bundle):
    data = json.loads((tiny_bundle / "manifest.json").read_text(encoding="utf-8"))
    bare = {k: v for k, v in data.items() if k not in ("train", "metrics")} | {"loss": {}}
    again = BundleManifest.from_json(bare).to_json()
    assert "train" not in again and again["loss"] == {} and again["metrics"] == {}
