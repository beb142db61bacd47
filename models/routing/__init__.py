"""Routing: whether a prediction is auto-judged or goes to a person (numpy only, no torch).

:mod:`models.routing.policy` holds the calibrated policy of a bundle (:class:`~models.routing.policy.Calibration`:
per-leaf purity thresholds, the unknown-defect detector, spot checks) and applies it; :mod:`models.routing.unknown`
the unknown-defect scores. ``fma-model calibrate`` (:mod:`models.calibration`) fits them; the Predictor applies them.
"""
