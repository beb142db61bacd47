"""Test-time flips: the views a calibration may average with each image (``routing.flips``, issue #17).

A micrograph flipped is the same defect, so a calibration may be fitted on the level logits of the image and its
flipped copies averaged (:attr:`models.routing.policy.Calibration.flips`); every predictor of the bundle then
averages the same views (:meth:`models.inference.core.PredictorCore.forward_views`).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["FLIPS", "flips_problem"]

FLIPS = ("h", "v", "hv")
"""The views: horizontal, vertical, both."""


def flips_problem(flips: Sequence[str]) -> str | None:
    """What is wrong with a list of test-time flips (``None`` when nothing is): each must be one of :data:`FLIPS`,
    and none twice. One wording for ``calibrate --flips`` and :class:`Calibration`, each adding its own name."""
    bad = [str(f) for f in flips if f not in FLIPS]
    if not bad and len(set(flips)) == len(flips):
        return None
    return (f"must be distinct views of {', '.join(FLIPS)}, got {','.join(map(str, flips))[:60]}"
            + (f" ({', '.join(bad)} unknown)" if bad else ""))
