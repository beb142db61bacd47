"""Model bundle: round trips give identical predictions; tampered, pickle and mismatched bundles are refused."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, write_image

from models.bundle.files import bundle_stamp, read_bundle_manifest, write_bundle_manifest
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


def test_a_bundle_stamp_changes_when_calibration_rewrites_the_manifest_and_not_otherwise(tmp_path, tiny_bundle):
    b = shutil.copytree(tiny_bundle, tmp_path / "stamped")
    before = bundle_stamp(b)
    assert [name for name, *_ in before] == ["manifest.json", "weights.safetensors", "spectrum_head.safetensors"]
    assert before[2][1:] == (None, None)  # no spectrum head: missing, said as such
    (b / "metrics.csv").write_text("epoch\n1\n")  # another file of the folder
    assert bundle_stamp(b) == before
    manifest = read_bundle_manifest(b)
    write_bundle_manifest(b, manifest.replace(temperature=2.0))
    after = bundle_stamp(b)
    assert after != before and after[1] == before[1]  # the manifest moved, the weights did not
    assert bundle_stamp(tmp_path / "gone") == tuple((name, None, None) for name, *_ in before)


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
    with pytest.raises(BundleError, match=r"'weights.bytes' must be an integer"):
        BundleManifest.from_json({**data, "weights": {**data["weights"], "bytes": "8 MB"}})
    with pytest.raises(BundleError, match=r"'train.n_train' must be an integer"):
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


# -- #13: every manifest field is checked on load, with one line naming the bundle and the field -------------------
def _patched(**changes):
    """An edit of the manifest object: top-level keys replaced (None deletes one), written back as JSON."""
    def edit(m: dict) -> str:
        for key, value in changes.items():
            if value is None:
                m.pop(key, None)
            else:
                m[key] = value
        return json.dumps(m)
    return edit


def _in_section(section: str, **changes):
    """An edit of one typed section of the manifest (``train``, ``inference`` ...)."""
    return lambda m: json.dumps({**m, section: {**(m.get(section) or {}), **changes}})


def _nested_metrics(depth: int):
    """``metrics`` holding a list nested ``depth`` deep (written by hand: json.dumps itself would recurse)."""
    return lambda m: json.dumps({**m, "metrics": {}})[:-1] + ', "metrics": {"x": ' + "[" * depth + "]" * depth + "}}"


def _long_integer(m: dict) -> str:
    return json.dumps(m).replace('"input_size": [3, 64, 64]', '"input_size": [3, ' + "9" * 5000 + ", 64]")


_INFERENCE = {"format": 1, "path": "eager"}
MALFORMED: dict[str, tuple] = {  # case -> (edit of the manifest object, words the message must hold)
    "input_size 100000": (_patched(input_size=[3, 100000, 100000]), r"'input_size' must be \[3, height, width\].* "
                                                                    r"between 16 and 4096, got \[3, 100000, 100000\]"),
    "input_size -1": (_patched(input_size=[3, -1, 64]), "'input_size' must be"),
    "input_size abc": (_patched(input_size="abc"), "'input_size' must be .* got 'abc'"),
    "input_size 0": (_patched(input_size=[3, 0, 0]), "'input_size' must be"),
    "input_size scalar": (_patched(input_size=100000), "'input_size' must be .* got 100000"),
    "input_size 1 channel": (_patched(input_size=[1, 64, 64]), "'input_size' must be"),
    "input_size huge digits": (_long_integer, "unreadable JSON"),
    "std 0": (_patched(std=[0, 0.224, 0.225]), "'std' must be a positive finite number, got 0"),
    "std 400 digits": (lambda m: json.dumps(m).replace('"std": [0.229', '"std": [' + "9" * 400),
                       "'std' must be a positive finite number, got 9999"),
    "std NaN": (_patched(std=[float("nan"), 0.224, 0.225]), "'std' must be a positive finite number, got nan"),
    "mean 2 values": (_patched(mean=[0.5, 0.5]), "'mean' must be a list of 3 numbers"),
    "mean string": (_patched(mean=["0.5", 0.5, 0.5]), "'mean' must be a finite number"),
    "taxonomy list": (_patched(taxonomy=["scratch"]), "'taxonomy' must be an object"),
    "taxonomy missing": (_patched(taxonomy=None), "missing keys taxonomy"),
    "model_version missing": (_patched(model_version=None), "missing keys model_version"),
    "model_version number": (_patched(model_version=5), "'model_version' must be a string, got 5"),
    "backbone list": (_patched(backbone=["convnext_tiny"]), "'backbone' must be a string"),
    "format_version true": (_patched(format_version=True), "unsupported bundle format_version True"),
    "format_version list": (_patched(format_version=[1]), r"unsupported bundle format_version \[1\]"),
    "temperature 0": (_patched(temperature=0), "'temperature' must be a positive finite number, got 0"),
    "temperature text": (_patched(temperature="1.5"), "'temperature' must be a positive finite number"),
    "threshold above 1": (_patched(thresholds={"scratch": 1.5}), r"'thresholds.scratch' must be .* in \[0, 1\]"),
    "threshold text": (_patched(thresholds={"scratch": "0.9"}), "'thresholds.scratch' must be a finite number"),
    "unknown threshold NaN": (_patched(thresholds={}, unknown={"method": "energy", "threshold": float("nan")}),
                              "'unknown.threshold' must be a finite number"),
    "unknown variance 0": (_patched(thresholds={}, unknown={"method": "mahalanobis", "threshold": 1.0, "classes": ["a"],
                                                            "centroids": [[1.0]], "variance": [0.0]}),
                           "the unknown score's variances must be positive"),
    "network.head_dim 10**9": (_in_section("network", head_dim=10**9), "head_dim must be an integer between 1 and"),
    "routing notes list": (_patched(thresholds={}, routing={"notes": ["x"]}), "'routing.notes' must be an object"),
    "spot check 2": (_patched(thresholds={}, routing={"spot_check": 2}), "'routing.spot_check' must be"),
    "metrics list": (_patched(metrics=[1]), "'metrics' must be an object"),
    "train list": (_patched(train=[1]), "'train' must be an object"),
    "train.data_sources number": (_in_section("train", data_sources=5), "'train.data_sources' must be a list"),
    "train.init_from text": (_in_section("train", init_from="x"), "'train.init_from' must be an object or null"),
    "train.n_train negative": (_in_section("train", n_train=-3), "'train.n_train' must be >= 0, got -3"),
    "train.seconds NaN": (_in_section("train", seconds=float("nan")), "'train.seconds' must be a number or null"),
    "inference.candidates number": (_patched(inference={**_INFERENCE, "candidates": 5}),
                                    r"'inference.candidates' must be a list \(each item an object\)"),
    "inference.threads 0": (_patched(inference={**_INFERENCE, "threads": 0}), "'inference.threads' must be >= 1"),
    "nested 10000 deep": (_nested_metrics(10_000), "JSON nested 10002 levels deep; a bundle manifest has at most 32"),
    "nested 40 deep": (_nested_metrics(40), "JSON nested 42 levels deep"),
}


def malformed_bundle(tiny_bundle: Path, out: Path, case: str) -> Path:
    """A copy of ``tiny_bundle`` at ``out`` whose manifest is broken as the ``MALFORMED`` case says."""
    shutil.copytree(tiny_bundle, out)
    edit, _ = MALFORMED[case]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    (out / "manifest.json").write_text(edit(manifest), encoding="utf-8")
    return out


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_manifest_is_one_line_naming_the_bundle_and_the_field(tmp_path, tiny_bundle, case):
    """#13: a bad value is refused on load (it used to load, then blame every image), never a traceback."""
    b = malformed_bundle(tiny_bundle, tmp_path / "broken", case)
    for read in (read_bundle_manifest, load_bundle):
        with pytest.raises(BundleError, match=MALFORMED[case][1]) as info:
            read(b)
        message = str(info.value)
        assert message.startswith(f"{b}/manifest.json: ") and "\n" not in message and len(message) < 400, message


def test_a_huge_manifest_is_refused_before_it_is_read(tmp_path, tiny_bundle, monkeypatch):
    from models.bundle import files

    b = shutil.copytree(tiny_bundle, tmp_path / "huge")
    with open(b / "manifest.json", "r+b") as f:  # sparse: no disk, and never read
        f.truncate(files.MAX_MANIFEST_BYTES + 1)
    with pytest.raises(BundleError, match=r"manifest\.json: 64\.0 MiB is too big for a bundle manifest"):
        read_bundle_manifest(b)
    z = tmp_path / "huge.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(b / "manifest.json", "manifest.json")
    monkeypatch.setattr(zipfile.ZipExtFile, "read", lambda *a: pytest.fail("the archive's manifest was read"))
    with pytest.raises(BundleError, match="too big for a bundle manifest"):
        load_bundle(z)


@pytest.mark.skipif(not (DEMO_MODEL / "manifest.json").is_file(), reason="demo model not present")
def test_the_demo_bundle_passes_every_check():
    """The committed demo (calibrated, stage statistics) is far inside the size and depth bounds."""
    from models.bundle.files import MAX_JSON_DEPTH, MAX_MANIFEST_BYTES, json_depth

    text = (DEMO_MODEL / "manifest.json").read_text(encoding="utf-8")
    assert json_depth(text) <= MAX_JSON_DEPTH // 2 and len(text) < MAX_MANIFEST_BYTES // 50
    assert load_bundle(DEMO_MODEL).manifest.calibration is not None
    assert json_depth('{"a": "[[[[\\" [[", "b": [[1, {}]]}') == 4  # brackets inside strings do not count


@pytest.mark.parametrize("command", ["info", "predict"])
def test_fma_model_on_a_malformed_bundle_exits_2_with_one_line(tmp_path, tiny_bundle, command):
    b = malformed_bundle(tiny_bundle, tmp_path / "broken", "input_size 100000")
    image = write_image(tmp_path / "a.png")
    argv = [str(b)] if command == "info" else [str(b), str(image)]
    res = subprocess.run([sys.executable, "-m", "models.commands.cli", command, *argv], capture_output=True,
                         text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert res.stderr.strip().splitlines() == [
        f"fma-model {command}: error: {b}/manifest.json: 'input_size' must be [3, height, width] with height and "
        "width integers between 16 and 4096, got [3, 100000, 100000]"]
    assert res.stdout == ""


BATCH_OPTIONS = [("calibrate", ["--data", "m.csv"], "--batch-size", "0"),
                 ("compare", ["B", "--data", "m.csv"], "--batch-size", "0"),
                 ("evaluate", ["--data", "m.csv", "--out", "o"], "--batch-size", "-4"),
                 ("predict", ["a.png"], "--batch-size", "0"),
                 ("optimize", ["--data", "m.csv"], "--batch-size", "0"),
                 ("optimize", ["--data", "m.csv"], "--batch-sizes", "8,0"),
                 ("optimize", ["--data", "m.csv"], "--threads", "0")]


@pytest.mark.parametrize(("command", "rest", "option", "value"), BATCH_OPTIONS)
def test_a_batch_size_below_1_is_an_argparse_error_naming_the_option(capsys, command, rest, option, value):
    """#13: `--batch-size 0` used to be clamped to 1 in silence (`--batch-sizes 8,0` was a traceback)."""
    from models.commands.cli import main as cli_main

    with pytest.raises(SystemExit) as exited:
        cli_main([command, "BUNDLE", *rest, option, value])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in err
    assert f"fma-model {command}: error: argument {option}: must be " in err and f"got '{value}'" in err


def test_kept_manifests_stop_at_the_newest_few(tmp_path, monkeypatch):
    """Each calibration keeps the manifest it replaces; a weekly recalibration of a 150-leaf bundle left a half-
    megabyte copy each time, for ever. The newest KEPT_MANIFESTS copies stay (in time order, two runs in one second
    each their own), older ones go; other files and other kinds of copy are not touched."""
    from models.bundle import files

    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"v": 0}')
    stamps = ["20261201-090000", "20261202-090000", "20261203-090000", "20261203-090000-2", "20261203-090000-10",
              "20261204-090000"]
    for stamp in stamps:
        (folder / f"manifest.json.before-calibrate-{stamp}").write_text(stamp)
    (folder / "manifest.json.before-other-20261101-000000").write_text("other")
    (folder / "notes.txt").write_text("mine")

    class Clock:
        @staticmethod
        def now(tz):
            import datetime as dt

            return dt.datetime(2026, 12, 5, 9, 0, tzinfo=tz)

    monkeypatch.setattr(files, "datetime", Clock)
    kept = files.keep_previous_manifest(folder, "calibrate")
    assert kept.name == "manifest.json.before-calibrate-20261205-090000" and kept.read_text() == '{"v": 0}'
    left = sorted(p.name.removeprefix("manifest.json.before-calibrate-")
                  for p in folder.glob("manifest.json.before-calibrate-*"))
    assert files.KEPT_MANIFESTS == 5
    assert left == sorted(["20261203-090000", "20261203-090000-2", "20261203-090000-10", "20261204-090000",
                           "20261205-090000"])
    assert (folder / "manifest.json.before-other-20261101-000000").exists() and (folder / "notes.txt").exists()
    # a copy renamed by hand stays; the copy just made stays even when the others have newer stamps (a bundle from a
    # machine whose clock ran ahead), and the oldest of those go instead
    (folder / "manifest.json.before-calibrate-the-good-one").write_text("mine")
    for stamp in ("20271201-090000", "20271202-090000", "20271203-090000", "20271204-090000", "20271205-090000"):
        (folder / f"manifest.json.before-calibrate-{stamp}").write_text(stamp)
    again = files.keep_previous_manifest(folder, "calibrate")
    left = sorted(p.name.removeprefix("manifest.json.before-calibrate-")
                  for p in folder.glob("manifest.json.before-calibrate-*"))
    assert again.exists() and again.name.endswith("20261205-090000-2")
    assert left == sorted(["20261205-090000-2", "20271202-090000", "20271203-090000", "20271204-090000",
                           "20271205-090000", "the-good-one"])


def test_a_manifest_saved_with_a_byte_order_mark_is_read_and_looking_it_up_reads_no_weights(tiny_bundle, tmp_path,
                                                                                            monkeypatch):
    """Windows Notepad saves UTF-8 with a byte-order mark: the bundle was refused ("Unexpected UTF-8 BOM"). And a
    manifest look-up (a window's poll of the team's model) read the whole weights file with it."""
    bundle = shutil.copytree(tiny_bundle, tmp_path / "notepad")
    text = (bundle / "manifest.json").read_text(encoding="utf-8")
    (bundle / "manifest.json").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert read_bundle_manifest(bundle).model_version == read_bundle_manifest(tiny_bundle).model_version
    load_bundle(bundle)  # and loads
    read = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or b"")
    read_bundle_manifest(bundle)
    assert "weights.safetensors" not in read
