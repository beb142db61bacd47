"""Routing: every reason code, spot-check determinism and rate, detectors round-tripping the manifest."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.routing.policy import (
    REASONS,
    Calibration,
    RoutingError,
    UnknownDetector,
    image_key,
    route,
    route_batch,
    spot_check_draw,
)
from models.routing.unknown import energy_score


def _cal(**kw) -> Calibration:
    base = {"thresholds": {"scratch": 0.9, "crack": None},
            "unknown": UnknownDetector("max_softmax", threshold=0.5), "spot_check": 0.0}
    return Calibration(**{**base, **kw})


def test_each_reason_and_combinations():
    cal = _cal()
    assert route(leaf="scratch", confidence=0.95, unknown_score=0.1, calibration=cal) == ("auto", [])
    assert route(leaf="scratch", confidence=0.9, unknown_score=0.1, calibration=cal) == ("auto", [])  # >= threshold
    assert route(leaf="scratch", confidence=0.85, unknown_score=0.1, calibration=cal) == ("rejudge", ["low_confidence"])
    assert route(leaf="crack", confidence=0.999, unknown_score=0.1, calibration=cal) == ("rejudge", ["leaf_below_target"])
    # a leaf the calibration never saw (e.g. a newer taxonomy) cannot be auto-judged either
    assert route(leaf="dent", confidence=1.0, unknown_score=0.0, calibration=cal) == ("rejudge", ["leaf_below_target"])
    assert route(leaf="scratch", confidence=0.99, unknown_score=0.7, calibration=cal) == ("rejudge", ["possible_unknown"])
    assert route(leaf="scratch", confidence=0.5, unknown_score=0.7, calibration=cal) == (
        "rejudge", ["low_confidence", "possible_unknown"])
    assert route(leaf="crack", confidence=0.5, unknown_score=0.51, calibration=cal)[1] == [
        "leaf_below_target", "possible_unknown"]
    # no unknown score (or no detector threshold) never flags
    assert route(leaf="scratch", confidence=0.95, unknown_score=None, calibration=cal) == ("auto", [])
    no_thr = _cal(unknown=UnknownDetector("max_softmax", threshold=None))
    assert route(leaf="scratch", confidence=0.95, unknown_score=0.99, calibration=no_thr) == ("auto", [])
    # spot check: only would-be-auto images are drawn; with share 1 all of them
    always = _cal(spot_check=1.0)
    assert always.route(leaf="scratch", confidence=0.95, unknown_score=0.1, key="abc") == ("rejudge", ["spot_check"])
    assert always.route(leaf="scratch", confidence=0.5, unknown_score=0.1, key="abc") == (
        "rejudge", ["low_confidence"])
    assert set(REASONS) == {"low_confidence", "leaf_below_target", "possible_unknown", "spot_check"}


def test_spot_check_is_deterministic_and_has_the_configured_rate():
    keys = [f"{i:08x}" for i in range(20000)]
    cal = _cal(spot_check=0.02, seed=7)
    routes = [cal.route(leaf="scratch", confidence=0.99, unknown_score=0.0, key=k) for k in keys]
    drawn = np.array([r == ("rejudge", ["spot_check"]) for r in routes])
    assert 0.017 < drawn.mean() < 0.023
    again = np.array([cal.route(leaf="scratch", confidence=0.99, unknown_score=0.0, key=k)[0] == "rejudge"
                      for k in keys])
    assert np.array_equal(drawn, again)
    other_seed = np.array([spot_check_draw(k, 8) < 0.02 for k in keys])
    assert not np.array_equal(drawn, other_seed)
    assert (drawn & other_seed).sum() < drawn.sum() / 4  # independent draws, not the same images
    assert 0.0 <= spot_check_draw("x", 0) < 1.0 and spot_check_draw("x", 0) == spot_check_draw("x", 0)


def test_image_key_depends_on_content_not_name(tmp_path):
    arr = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    (tmp_path / "renamed.png").write_bytes((tmp_path / "a.png").read_bytes())
    Image.fromarray(arr[::-1]).save(tmp_path / "b.png")
    assert image_key(tmp_path / "a.png") == image_key(tmp_path / "renamed.png")
    assert image_key(tmp_path / "a.png") != image_key(tmp_path / "b.png")
    assert image_key(Image.fromarray(arr)) == image_key(Image.fromarray(arr.copy()))
    assert image_key(Image.fromarray(arr)) != image_key(Image.fromarray(arr[::-1].copy()))


def test_energy_uses_all_levels_for_hierarchical_heads_and_only_leaves_for_flat():
    rng = np.random.default_rng(0)
    levels = [rng.normal(size=(5, 2)), rng.normal(size=(5, 4)), rng.normal(size=(5, 18))]
    shifted = [levels[0] + 3.0, levels[1], levels[2]]
    t = 1.5
    hier = energy_score(levels, t, flat=False)
    leaf_only = -t * np.log(np.exp(levels[2] / t).sum(axis=1))
    np.testing.assert_allclose(energy_score(levels, t, flat=True), leaf_only, rtol=1e-10)
    np.testing.assert_allclose(energy_score(shifted, t, flat=True), leaf_only, rtol=1e-10)
    # raising every logit of a level by 3 lowers that level's energy by exactly 3 (more "familiar")
    np.testing.assert_allclose(energy_score(shifted, t, flat=False), hier - 3.0, rtol=1e-10)


def test_detectors_round_trip_through_the_manifest_and_score_batches():
    rng = np.random.default_rng(1)
    centroids = rng.normal(size=(3, 6))
    unit = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
    x = rng.normal(size=(10, 6))
    for det in (UnknownDetector("cosine", threshold=0.3, classes=("a", "b", "c"), centroids=unit, center=np.zeros(6)),
                UnknownDetector("mahalanobis", threshold=2.0, classes=("a", "b", "c"), centroids=centroids,
                                variance=rng.uniform(0.5, 2.0, 6))):
        back = UnknownDetector.from_manifest(det.to_manifest(), temperature=1.0, flat=False)
        assert back.method == det.method and back.threshold == det.threshold and back.classes == det.classes
        np.testing.assert_allclose(back.score(embeddings=x), det.score(embeddings=x), rtol=1e-5, atol=1e-6)
    # mahalanobis against the direct formula
    var = rng.uniform(0.5, 2.0, 6)
    det = UnknownDetector("mahalanobis", classes=("a", "b", "c"), centroids=centroids, variance=var)
    direct = np.min([((x - c) ** 2 / var).mean(axis=1) for c in centroids], axis=0)
    np.testing.assert_allclose(det.score(embeddings=x), direct, rtol=1e-9)
    with pytest.raises(RoutingError, match="needs embeddings"):
        det.score(leaf_probs=np.full((1, 3), 1 / 3))
    with pytest.raises(RoutingError, match="centroids"):
        UnknownDetector("cosine", threshold=0.1)
    with pytest.raises(RoutingError, match="method"):
        UnknownDetector("psychic")


def test_calibration_from_manifest_and_route_batch():
    assert Calibration.from_manifest({"network": {"head": "independent"}}) is None
    manifest = {
        "network": {"head": "independent"}, "temperature": 2.0,
        "thresholds": {"a": 0.6, "b": None},
        "unknown": {"method": "max_softmax", "threshold": 0.5},
        "routing": {"spot_check": 0.0, "spot_check_seed": 3, "target_purity": 0.95, "notes": {"b": "support: 2"}},
    }
    cal = Calibration.from_manifest(manifest)
    assert cal.temperature == 2.0 and cal.seed == 3 and cal.target_purity == 0.95 and cal.unknown.threshold == 0.5
    probs = np.array([[0.7, 0.3], [0.55, 0.45], [0.2, 0.8], [0.45, 0.55]])
    routes, reasons, scores = route_batch(cal, ["a", "b"], leaf_probs=probs)
    np.testing.assert_allclose(scores, [0.3, 0.45, 0.2, 0.45])
    assert routes == ["auto", "rejudge", "rejudge", "rejudge"]
    assert reasons == [[], ["low_confidence"], ["leaf_below_target"], ["leaf_below_target"]]
    for bad in ({"thresholds": ["a"]}, {"thresholds": {"a": "high"}}, {"thresholds": {}, "unknown": {"x": 1}},
                {"thresholds": {}, "routing": {"spot_check": 2}}):
        with pytest.raises(RoutingError):
            Calibration.from_manifest({"network": {}, **bad})


# ------------------------------------------------------------------------------ stages ensemble
def _stages_detector(threshold: float | None = 0.9) -> UnknownDetector:
    """Two classes, two stages of width 2; references: energy and distances spread evenly over [0, 10]."""
    means = (np.array([[0.0, 0.0], [4.0, 4.0]]), np.array([[1.0, -1.0], [-1.0, 1.0]]))
    return UnknownDetector(
        "stages", threshold=threshold, classes=("scratch", "crack"), stage_strides=(8, 16), stage_means=means,
        stage_variances=(np.ones(2), np.ones(2)), references=tuple(np.linspace(-10, 10, 1001) if k == 0 else
                                                                   np.linspace(0.0, 10.0, 1001) for k in range(3)),
    )


def test_stages_score_is_the_largest_member_percentile():
    det = _stages_detector()
    logits = [np.array([[0.0, np.log(np.e**5 - 1)]])]  # logsumexp = 5: energy -5, the 25th percentile of [-10, 10]
    near = {8: np.array([[0.0, 0.0]]), 16: np.array([[1.0, -1.0]])}  # on a class mean: distance 0
    assert det.member_percentiles(level_logits=logits, stage_stats=near)[:, 0] == pytest.approx([0.25, 0.0, 0.0])
    assert det.score(level_logits=logits, stage_stats=near)[0] == pytest.approx(0.25)
    # away from the class means at stride 16 only: mean((3-1)^2, (1+1)^2) = 4 vs mean(4^2, 0) = 8 -> 4 -> 40 %
    far = {8: np.array([[0.0, 0.0]]), 16: np.array([[3.0, 1.0]])}
    assert det.score(level_logits=logits, stage_stats=far)[0] == pytest.approx(0.4)
    assert det.needs_stage_stats == (8, 16) and UnknownDetector("energy").needs_stage_stats == ()
    with pytest.raises(RoutingError, match="stage_stats"):
        det.score(level_logits=logits)
    with pytest.raises(RoutingError, match="stride-16"):
        det.score(level_logits=logits, stage_stats={8: near[8]})


def test_stages_detector_round_trips_the_manifest_and_routes():
    det = _stages_detector()
    doc = det.to_manifest()
    assert doc["members"] == ["energy", "stride 8", "stride 16"] and len(doc["references"]) == 3
    back = UnknownDetector.from_manifest(doc, temperature=1.0, flat=False)
    rng = np.random.default_rng(0)
    logits = [rng.normal(size=(6, 3))]
    stats = {8: rng.normal(size=(6, 2)) * 3, 16: rng.normal(size=(6, 2)) * 3}
    assert back.score(level_logits=logits, stage_stats=stats) == pytest.approx(det.score(level_logits=logits, stage_stats=stats))
    cal = Calibration(thresholds={"scratch": 0.0, "crack": 0.0}, unknown=back)
    probs = np.tile([[0.9, 0.1]], (6, 1))
    routes, reasons, scores = route_batch(cal, ["scratch", "crack"], leaf_probs=probs, level_logits=logits,
                                          stage_stats=stats)
    assert [("possible_unknown" in why) for why in reasons] == list(scores > 0.9)
    assert [r == "auto" for r in routes] == list(scores <= 0.9)
    broken = {**doc, "stages": doc["stages"][:1]}
    with pytest.raises(RoutingError, match="reference"):
        UnknownDetector.from_manifest(broken, temperature=1.0, flat=False)
    with pytest.raises(RoutingError):
        UnknownDetector.from_manifest({**doc, "stages": [{"means": [[0, 0]]}]}, temperature=1.0, flat=False)


def test_percentiles_grow_past_one_beyond_every_reference():
    from models.routing.unknown import percentile_of, reference_quantiles

    ref = reference_quantiles(np.linspace(0.0, 10.0, 50))
    p = percentile_of(ref, np.array([-5.0, 0.0, 5.0, 10.0, 10.5, 20.0]))
    assert p[:4] == pytest.approx([0.0, 0.0, 0.5, 1.0])
    assert 1.0 < p[4] < p[5]  # stranger than every known image: above any threshold of 1
    flat = percentile_of(reference_quantiles(np.ones(10)), np.array([1.0, 1.0 + 1e-3]))
    assert flat[0] == 1.0 and flat[1] > 1.0
