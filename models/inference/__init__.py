"""Running a bundle: the Predictor, its typed records, inference engines and heatmaps."""

import os

# ONNX Runtime's own telemetry, on Linux too since its 1DS provider (a device id and a queue of events under
# ~/.cache/Microsoft/DeveloperTools/.onnxruntime, found by IT on an offline workstation): opted out before any
# module here imports it. (Its releases before microsoft/onnxruntime#29843 still write the device id file.)
os.environ.setdefault("ORT_TELEMETRY_DISABLED", "1")
