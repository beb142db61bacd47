"""The spectrum head inside a bundle (issue #20): written and read back with its hash and shapes checked, fused by
the predictor only where an image has a spectrum, routed by its own calibration, and trained into a bundle by
``fma-model spectrum`` and by ``fma-model train`` with ``network.spectrum: true``."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import make_rejudge_bundle, make_tiny_bundle, write_image

from models.bundle.files import read_bundle_manifest, write_bundle_manifest
from models.bundle.manifest import BundleError, BundleManifest
from models.bundle.spectrum import SPECTRUM_HEAD_NAME, load_spectrum_head, write_spectrum_head
from models.commands.cli import main as cli_main
from models.spectra.head import SpectrumHead, fuse_rows
from models.spectra.library import GRID
from models.spectra.synth import X, synth_spectrum, write_jcamp

pytest.importorskip("torch")


def _head(taxonomy, seed: int = 0, weight: float = 1.0, sizes: list[int] | None = None) -> SpectrumHead:
    """A random head of the right shapes, sure enough of itself to move the image's distribution."""
    rng = np.random.default_rng(seed)
    hidden = [(rng.normal(0, 0.2, (len(GRID), 8)).astype(np.float32), np.zeros(8, np.float32))]
    levels = [(rng.normal(0, 2.0, (8, n)).astype(np.float32), np.zeros(n, np.float32))
              for n in (sizes or taxonomy.level_sizes)]
    return SpectrumHead(hidden, levels, weight)


def _spectrum(leaf: str, seed: int) -> SimpleNamespace:
    wn, a = synth_spectrum(leaf, np.random.default_rng(seed))
    return SimpleNamespace(wavenumbers=wn[::-1].copy(), absorbance=a[::-1].copy())


@pytest.fixture()
def bundle(tmp_path, tiny_bundle) -> Path:
    return Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))


def _manifest_with(path: Path, **section) -> None:
    data = json.loads((path / "manifest.json").read_text())
    data["spectrum"].update(section)
    (path / "manifest.json").write_text(json.dumps(data))


def test_a_spectrum_head_round_trips_through_the_bundle_and_a_bad_one_is_refused(bundle, taxonomy, tmp_path):
    head = _head(taxonomy, weight=0.75)
    manifest = write_spectrum_head(bundle, read_bundle_manifest(bundle), head, epoch=30, n_train=12)
    assert read_bundle_manifest(bundle).spectrum == manifest.spectrum
    record = manifest.spectrum
    assert record.file == SPECTRUM_HEAD_NAME and record.weight == 0.75 and record.epoch == 30
    assert record.features.startswith("derivative-400-4000") and not record.is_calibrated
    again = load_spectrum_head(bundle, manifest)
    for name, value in head.tensors().items():
        np.testing.assert_array_equal(again.tensors()[name], value)
    assert again.weight == 0.75
    # the same head read from an archive of the bundle
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in bundle.iterdir():
            zf.write(f, f.name)
    assert load_spectrum_head(archive, manifest).weight == 0.75
    with pytest.raises(BundleError, match="read-only"):
        write_spectrum_head(archive, manifest, head)
    # a head that does not fit the tree is never written
    with pytest.raises(BundleError, match="does not fit"):
        write_spectrum_head(bundle, manifest, _head(taxonomy, sizes=[2, 4, 17]))
    # a modified file, another feature recipe, an unknown key, a threshold out of range
    data = (bundle / SPECTRUM_HEAD_NAME).read_bytes()
    (bundle / SPECTRUM_HEAD_NAME).write_bytes(data[:-4] + b"\0\0\0\0")
    with pytest.raises(BundleError, match="corrupted or was modified"):
        load_spectrum_head(bundle, manifest)
    (bundle / SPECTRUM_HEAD_NAME).write_bytes(data)
    other = manifest.replace(spectrum=dataclasses.replace(record, features="raw-absorbance"))
    with pytest.raises(BundleError, match="features 'raw-absorbance'"):
        load_spectrum_head(bundle, other)
    _manifest_with(bundle, colour="red")
    with pytest.raises(BundleError, match="'spectrum' has unknown key"):
        read_bundle_manifest(bundle)
    write_bundle_manifest(bundle, manifest)
    _manifest_with(bundle, thresholds={"scratch": 1.5})
    with pytest.raises(BundleError, match=r"spectrum\.thresholds\.scratch"):
        read_bundle_manifest(bundle)


def test_the_predictor_fuses_spectra_and_leaves_images_without_one_unchanged(bundle, taxonomy, tmp_path):
    from models.inference.predictor import Predictor

    images = [str(write_image(tmp_path / f"i{k}.png", seed=k)) for k in range(4)]
    plain = Predictor(bundle).predict(images)
    write_spectrum_head(bundle, read_bundle_manifest(bundle), _head(taxonomy))
    predictor = Predictor(bundle)
    assert predictor.fuses_spectra
    flat = SimpleNamespace(wavenumbers=X[::-1].copy(), absorbance=np.zeros(len(X)))  # no shape: not evidence
    given = {0: [_spectrum("particle_organic", 0)], 1: [],
             2: [_spectrum("particle_metal", 1), _spectrum("particle_metal", 2)], 3: [flat]}
    asked: list[tuple[int, str]] = []

    def spectra(index: int, name: str) -> list:
        asked.append((index, name))
        return given[index]

    fused = predictor.predict(images, spectra=spectra)
    assert asked == list(enumerate(images))
    assert [p.spectra for p in fused] == [1, 0, 2, 0]
    for k in (1, 3):  # no usable spectrum: the image model's prediction, unchanged
        np.testing.assert_array_equal(fused[k].leaf_probs, plain[k].leaf_probs)
        assert fused[k].level_probs == plain[k].level_probs
    expected, _ = fuse_rows(predictor.spectrum_head, np.stack([p.leaf_probs for p in plain]),
                            [given[k] for k in range(4)], taxonomy.leaf_level_index)
    for k in (0, 2):
        np.testing.assert_allclose(fused[k].leaf_probs, expected[k], rtol=1e-5)
        assert not np.allclose(fused[k].leaf_probs, plain[k].leaf_probs)
        assert fused[k].leaf == taxonomy.leaves[int(expected[k].argmax())]
        assert all(abs(sum(level) - 1) < 1e-4 for level in fused[k].level_probs)  # marginals of the fused
        assert fused[k].to_json(taxonomy)["spectra"] == fused[k].spectra
    assert [p.spectra for p in predictor.predict(images)] == [0, 0, 0, 0]  # no spectra handed over: images alone


def test_fma_model_predict_fuses_the_spectra_beside_the_images(bundle, taxonomy, tmp_path, capsys):
    write_spectrum_head(bundle, read_bundle_manifest(bundle), _head(taxonomy))
    folder = tmp_path / "lot"
    for k in range(3):
        write_image(folder / f"P{k}.png", seed=k)
    wn, a = synth_spectrum("particle_organic", np.random.default_rng(0))
    write_jcamp(folder / "P0.jdx", wn, a, "P0")
    write_jcamp(folder / "P2.spot2.jdx", wn, a, "P2")
    (folder / "P1.jdx").write_text("not a spectrum")  # reported, and P1 judged on its image alone

    def lines(*extra: str) -> dict[str, int]:
        assert cli_main(["predict", str(bundle), str(folder), "--json", *extra]) == 0
        return {Path(r["file"]).name: r["spectra"] for r in map(json.loads, capsys.readouterr().out.splitlines())}

    assert lines() == {"P0.png": 1, "P1.png": 0, "P2.png": 1}
    assert lines("--no-spectra") == {"P0.png": 0, "P1.png": 0, "P2.png": 0}
    assert cli_main(["info", str(bundle)]) == 0
    assert "spectrum head : yes (fusion weight 1" in capsys.readouterr().out


def test_a_calibrated_bundle_fuses_once_its_head_is_calibrated_and_routes_by_the_fused_thresholds(taxonomy, tmp_path):
    from models.inference.predictor import Predictor

    bundle = make_rejudge_bundle(tmp_path / "b", taxonomy)  # no leaf reaches the target: every image to a person
    manifest = write_spectrum_head(bundle, read_bundle_manifest(bundle), _head(taxonomy))
    images = [str(write_image(tmp_path / f"i{k}.png", seed=k)) for k in range(2)]

    def spectra(index: int, name: str) -> list:
        return [_spectrum("pi_residue", index)] if index == 0 else []

    uncalibrated_head = Predictor(bundle)
    assert not uncalibrated_head.fuses_spectra  # its routing promise was measured on images alone
    assert manifest.fused_calibration is None and uncalibrated_head.fused_calibration is None
    assert [p.spectra for p in uncalibrated_head.predict(images, spectra=spectra)] == [0, 0]
    record = dataclasses.replace(manifest.spectrum, thresholds=dict.fromkeys(taxonomy.leaves, 0.0),
                                 created="2026-12-02T00:00:00+00:00")
    write_bundle_manifest(bundle, manifest.replace(spectrum=record))
    predictor = Predictor(bundle)
    assert predictor.fuses_spectra
    fused = read_bundle_manifest(bundle).fused_calibration  # what the app shows a fused prediction's reasons by
    assert fused is not None and fused.thresholds == record.thresholds and fused.unknown == manifest.calibration.unknown
    assert fused.node_thresholds == record.node_thresholds and fused.stamp == manifest.calibration.stamp
    with_spectrum, without = predictor.predict(images, spectra=spectra)
    assert with_spectrum.spectra == 1 and with_spectrum.route == "auto" and with_spectrum.reasons == ()
    assert with_spectrum.determined_node == with_spectrum.leaf
    assert without.spectra == 0 and without.route == "rejudge" and "leaf_below_target" in without.reasons


def _spectral_dataset(root: Path, taxonomy, *, spectra: bool = True) -> Path:
    """test_train's tiny data set (each leaf its own colour; 2 train / 1 val / 1 test) and, beside each image, a
    spectrum of its material in the manifest's spectrum column."""
    from test_train import _tiny_dataset

    manifest = _tiny_dataset(root, taxonomy)
    if not spectra:
        return manifest
    rng = np.random.default_rng(0)
    with manifest.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        image = root / row["path"]
        write_jcamp(image.with_suffix(".jdx"), *synth_spectrum(row["label"], rng), row["label"])
        row["spectrum"] = str(Path(row["path"]).with_suffix(".jdx"))
    with manifest.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0]])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def test_fma_model_spectrum_trains_a_head_into_a_bundle_and_calibrate_fits_its_routing(bundle, taxonomy, tmp_path,
                                                                                       capsys):
    data = _spectral_dataset(tmp_path / "data", taxonomy)
    assert cli_main(["spectrum", str(bundle), "--data", str(data), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_train"] == 2 * len(taxonomy.leaves) and summary["n_val"] == len(taxonomy.leaves)
    assert summary["fusion_weight"] in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
    manifest: BundleManifest = read_bundle_manifest(bundle)
    assert manifest.spectrum.n_train == summary["n_train"] and manifest.spectrum.weight == summary["fusion_weight"]
    assert load_spectrum_head(bundle, manifest) is not None
    # calibrating the bundle fits the fused routing on the calibration images with a spectrum
    assert cli_main(["calibrate", str(bundle), "--data", str(data), "--split", "all", "--target-purity", "0.9",
                     "--min-support", "2", "--spot-check", "0", "--out", str(tmp_path / "cal")]) == 0
    calibrated = read_bundle_manifest(bundle)
    assert calibrated.spectrum.is_calibrated and set(calibrated.spectrum.thresholds) == set(taxonomy.leaves)
    assert calibrated.spectrum.calibrated_on["n"] == 4 * len(taxonomy.leaves)
    report = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    assert report["summary"]["spectrum"]["images"] == 4 * len(taxonomy.leaves)
    assert set(report["summary"]["spectrum"]["fused"]) == {"coverage", "purity"}


def test_a_spectrum_head_needs_images_with_spectra(bundle, taxonomy, tmp_path, capsys):
    bare = _spectral_dataset(tmp_path / "bare", taxonomy, spectra=False)
    assert cli_main(["spectrum", str(bundle), "--data", str(bare)]) == 2
    assert "no training image has a spectrum" in capsys.readouterr().err
    assert read_bundle_manifest(bundle).spectrum is None


def test_train_with_network_spectrum_writes_a_fused_bundle_and_refuses_data_without_spectra(taxonomy, tmp_path,
                                                                                           capsys):
    from test_train import TINY_SETS

    def train(data: Path, out: Path) -> int:
        args = ["train", "--data", str(data), "--out", str(out), "--no-progress", "--set", "network.spectrum=true"]
        for s in TINY_SETS:
            args += ["--set", s]
        return cli_main(args)

    bare = _spectral_dataset(tmp_path / "bare", taxonomy, spectra=False)
    assert train(bare, tmp_path / "nothing") == 2
    assert "no training image has a spectrum, and the spectrum head needs some" in capsys.readouterr().err
    assert not (tmp_path / "nothing" / "manifest.json").exists()  # refused before any training
    out = tmp_path / "run"
    assert train(_spectral_dataset(tmp_path / "data", taxonomy), out) == 0
    manifest = read_bundle_manifest(out)
    assert manifest.network.spectrum and manifest.spectrum is not None
    assert manifest.spectrum.n_train == 2 * len(taxonomy.leaves)
    assert "spectrum" not in make_tiny_bundle(tmp_path / "plain", taxonomy).joinpath("manifest.json").read_text()


def test_the_fused_fit_line_says_when_nothing_was_auto_judged() -> None:
    """``recalibrate --force`` printed "at purity None" where no calibration image was auto-judged."""
    from models.calibration.fused import summary_line

    line = summary_line({"images": 12, "image": {"coverage": 0.0, "purity": None},
                         "fused": {"coverage": 0.5, "purity": 0.991234}})
    assert "0.000 at purity - (none auto-judged) on the image alone, 0.500 at purity 0.991 fused" in line
    assert "None" not in line
