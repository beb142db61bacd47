"""Where the bundled demo lives (in a checkout and in an installed copy alike): its model and its batch."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = ROOT / "resources" / "demo" / "model"
DEMO_BATCH = ROOT / "resources" / "demo" / "batch"
