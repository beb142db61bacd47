"""Calibrating a bundle for routing (``fma-model calibrate``): temperature, per-leaf purity thresholds and the
unknown-defect score, fitted on held-out images; the result is a :class:`models.routing.policy.Calibration`."""
