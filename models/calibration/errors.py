"""The error of calibration: the data or options cannot produce one."""

from __future__ import annotations

from models.data.manifest import DataError


class CalibrationError(DataError):
    """The data or options cannot produce a calibration; the message says why."""
