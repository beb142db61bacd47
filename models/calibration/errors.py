"""The two errors of calibration: bad data or options (``calibrate``), and a malformed stored calibration."""

from __future__ import annotations

from models.data.manifest import DataError


class CalibrationError(DataError):
    """The data or options cannot produce a calibration; the message says why."""


class RoutingError(ValueError):
    """The calibration data of a bundle is malformed; the message says which key."""
