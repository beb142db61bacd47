"""The spectrum head and its fusion with the image model (issue #20): features blind to a film's thickness, a head
trained on synthetic spectra, fusion per tree level that leaves an image without a spectrum unchanged, and synthetic
data sets that carry spectra."""

from __future__ import annotations

import numpy as np
import pytest

from models.data.manifest import read_manifest
from models.spectra.head import SpectrumHead, features, fuse
from models.spectra.synth import material_of, synth_spectrum

LEAVES = ("particle_organic", "particle_metal", "pi_residue", "photoresist_residue", "lc_stain", "water_mark")


def _data(rng: np.random.Generator, per_leaf: int) -> tuple[np.ndarray, list[str]]:
    x, y = [], []
    for leaf in LEAVES:
        for _ in range(per_leaf):
            wn, a = synth_spectrum(leaf, rng)
            x.append(features(wn[::-1], a[::-1]))
            y.append(leaf)
    return np.stack(x), y


def test_features_ignore_thickness_and_baseline_offset() -> None:
    wn, a = synth_spectrum("pi_residue", np.random.default_rng(0))
    np.testing.assert_allclose(features(wn, a), features(wn, 3.0 * a + 0.5), atol=1e-5)
    assert features(wn, a).shape == (901,) and np.isfinite(features(wn, a)).all()


def test_fusion_keeps_images_without_a_spectrum_and_weight_zero() -> None:
    rng = np.random.default_rng(1)
    leaf_probs = rng.dirichlet(np.ones(6), size=4).astype(np.float32)
    index = np.stack([np.array([0, 0, 0, 1, 1, 1]), np.arange(6)], axis=1)
    spec = [rng.dirichlet(np.ones(2), size=4), rng.dirichlet(np.ones(6), size=4)]
    np.testing.assert_allclose(fuse(leaf_probs, spec, index, 0.0), leaf_probs, rtol=1e-5)
    some = fuse(leaf_probs, spec, index, 1.0, has_spectrum=np.array([True, False, True, False]))
    np.testing.assert_array_equal(some[[1, 3]], leaf_probs[[1, 3]])
    expected = leaf_probs[0] * spec[0][0][index[:, 0]] * spec[1][0]
    np.testing.assert_allclose(some[0], expected / expected.sum(), rtol=1e-5)


def test_a_trained_head_tells_the_materials_apart_and_its_weight_is_chosen(taxonomy) -> None:
    pytest.importorskip("torch")
    from models.training.spectrum import choose_weight, train_head

    rng = np.random.default_rng(2)
    x_train, y_train = _data(rng, 12)
    x_val, y_val = _data(rng, 4)
    trained = train_head(taxonomy, x_train, y_train, x_val, y_val, epochs=200)
    banded = [i for i, leaf in enumerate(y_val) if material_of(leaf) != "metal"]
    assert trained.val_top1 >= 0.9 and len(banded) == 20
    again = SpectrumHead.from_tensors(trained.head.tensors(), 0.5)  # as a bundle would store it
    for a, b in zip(again.level_logits(x_val), trained.head.level_logits(x_val), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    index = np.asarray([taxonomy.level_indices(leaf) for leaf in taxonomy.leaves])
    truth = [taxonomy.leaves.index(leaf) for leaf in y_val]
    uniform = np.full((len(y_val), len(taxonomy.leaves)), 1 / len(taxonomy.leaves), np.float32)
    scores = choose_weight(trained.head, uniform, [[x] for x in x_val], truth, index)  # an image model that knows nothing
    assert scores[0.0] < 0.2 and trained.head.weight > 0 and scores[trained.head.weight] >= 0.9


def test_synthetic_data_sets_carry_spectra(tmp_path, taxonomy) -> None:
    from models.data.synth import generate

    manifest = generate(tmp_path / "synth", per_class=2, seed=3, spectra=0.5, unknown_classes=1, size=96)
    samples = read_manifest(manifest, taxonomy, verify_images=False).samples
    with_spectra = [s for s in samples if s.spectra]
    assert 0 < len(with_spectra) < len(samples) and not any(s.spectra for s in samples if s.is_unknown)
    for s in with_spectra:
        assert s.spectra == (s.path.with_suffix(".jdx"),) and s.spectra[0].is_file()
    again = generate(tmp_path / "again", per_class=2, seed=3, spectra=0.5, unknown_classes=1, size=96)
    assert again.read_text().replace(str(tmp_path / "again"), "") == manifest.read_text().replace(
        str(tmp_path / "synth"), "")  # deterministic
    plain = generate(tmp_path / "plain", per_class=2, seed=3, size=96)
    assert "spectrum" not in plain.read_text().splitlines()[0]
