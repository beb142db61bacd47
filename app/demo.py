"""Where the bundled demo lives (in a checkout and in an installed copy alike): its model and its batch."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The app's default model: the demo model with a CBAM after each backbone stage, whose attention map is the heatmap
# (resources/demo/README.md); resources/demo/model is the same model without CBAM, its starting point.
DEMO_MODEL = ROOT / "resources" / "demo" / "model_cbam"
DEMO_BATCH = ROOT / "resources" / "demo" / "batch"


def not_installed(what: str) -> str:
    """Why ``what`` (the demo model, the demo batch) is missing here, for a message: ``pip install .`` leaves the demo
    out (it is not part of a Python package); the installers and a checkout have it."""
    return (f"{what} is not installed with this copy of fma-judge (`pip install` leaves the demo out; the installers "
            "and a checkout of the repository have it)")
