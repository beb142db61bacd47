"""Test-time flips (``fma-model calibrate --flips``): a calibration fitted on the mean level logits of an image and
its flipped views makes every prediction of the bundle the same way (torch and the workstation runtime), ``fma-judge
recalibrate`` keeps them, and a bad view is refused with its name."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.commands.cli import main as cli_main
from models.inference.predictor import Predictor
from models.routing.policy import Calibration, RoutingError
from tests.conftest import make_tiny_bundle
from tests.test_calibrate import make_dataset

LOOSE = ["--target-purity", "0.05", "--min-support", "1", "--method", "per-leaf", "--bound", "none",
         "--spot-check", "0"]


def _mean_of_views(predictor: Predictor, image, views) -> np.ndarray:
    """The leaf distribution of the mean level logits over the image and its flips, computed by hand."""
    x = predictor.preprocess(image)[None]
    logits = [predictor.forward_batch(x.flip(dims) if dims else x).level_logits for dims in views]
    return predictor.probabilities([np.mean([v[k] for v in logits], axis=0) for k in range(len(logits[0]))])[1][0]


def test_a_calibration_with_flips_predicts_on_the_mean_of_the_views(tmp_path, taxonomy, capsys) -> None:
    data = make_dataset(tmp_path, taxonomy)
    bundle = make_tiny_bundle(tmp_path / "bundle", taxonomy, input_size=32)
    image = sorted((tmp_path / "img").glob("*.png"))[3]
    plain = Predictor(bundle, inference=False).predict([image])[0].leaf_probs
    assert cli_main(["calibrate", str(bundle), "--data", str(data), *LOOSE, "--flips", "h,v",
                     "--out", str(tmp_path / "report")]) == 0
    assert "test-time flips: h, v (each image and 2 flipped view(s)" in capsys.readouterr().out
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["routing"]["flips"] == ["h", "v"] and Calibration.from_manifest(manifest).flips == ("h", "v")
    assert cli_main(["info", str(bundle)]) == 0
    assert "test-time flips h,v: 3 passes per image)" in capsys.readouterr().out
    predictor = Predictor(bundle, inference=False)
    assert predictor.flips == ("h", "v")
    got = predictor.predict([image])[0]
    assert np.abs(got.leaf_probs - _mean_of_views(predictor, image, [(), (3,), (2,)])).max() < 1e-5
    predictor.flips = ()  # the image alone, at the new temperature: another distribution
    assert np.abs(predictor.predict([image])[0].leaf_probs - got.leaf_probs).max() > 1e-4
    assert np.abs(plain - got.leaf_probs).max() > 1e-4
    # calibrated again without flips: none recorded, the image alone again
    assert cli_main(["calibrate", str(bundle), "--data", str(data), *LOOSE, "--flips", "none",
                     "--out", str(tmp_path / "report")]) == 0
    assert "flips" not in json.loads((bundle / "manifest.json").read_text())["routing"]
    assert Predictor(bundle, inference=False).flips == ()


def test_a_bad_view_is_refused_by_name(tmp_path, taxonomy, capsys) -> None:
    data = make_dataset(tmp_path, taxonomy, per_class=3)
    bundle = make_tiny_bundle(tmp_path / "bundle", taxonomy, input_size=32)
    before = (bundle / "manifest.json").read_text()
    assert cli_main(["calibrate", str(bundle), "--data", str(data), *LOOSE, "--flips", "h,x"]) != 0
    assert "--flips must be distinct views of h, v, hv, got h,x (x unknown)" in capsys.readouterr().err
    assert cli_main(["calibrate", str(bundle), "--data", str(data), *LOOSE, "--flips", "h,h"]) != 0
    assert "--flips must be distinct views" in capsys.readouterr().err
    assert (bundle / "manifest.json").read_text() == before  # nothing written
    manifest = json.loads(before)
    with pytest.raises(RoutingError, match=r"flips must be distinct views of h, v, hv, got r90 \(r90 unknown\)"):
        Calibration(thresholds={}, flips=("r90",))
    manifest.update({"temperature": 1.0, "thresholds": {}, "routing": {"flips": "h"}})
    with pytest.raises(RoutingError, match=r"routing\.flips"):
        Calibration.from_manifest(manifest)
