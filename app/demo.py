"""Where the bundled demo lives (in a checkout and in an installed copy alike): its model and its batch."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The app's default model: the demo model with a CBAM after each backbone stage, whose attention map is the heatmap
# (resources/demo/README.md); resources/demo/model is the same model without CBAM, its starting point.
DEMO_MODEL = ROOT / "resources" / "demo" / "model_cbam"
DEMO_BATCH = ROOT / "resources" / "demo" / "batch"
