"""What every view shares: the state badge colours and the UI words for states and routing reasons."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

STATE_COLOURS = {
    "pending": "#9aa0a6",
    "auto": "#12828a",
    "accepted": "#1e8e3e",
    "corrected": "#1a73e8",
    "unknown": "#9334e6",
    "rejudge": "#e37400",
    "error": "#d93025",
}


def state_label(state: str) -> str:
    return {
        "pending": QCoreApplication.translate("State", "pending"),
        "auto": QCoreApplication.translate("State", "auto-judged"),
        "accepted": QCoreApplication.translate("State", "accepted"),
        "corrected": QCoreApplication.translate("State", "corrected"),
        "unknown": QCoreApplication.translate("State", "unknown type"),
        "rejudge": QCoreApplication.translate("State", "re-judge"),
        "error": QCoreApplication.translate("State", "error"),
    }.get(state, state)


def reason_label(code: str) -> str:
    """A routing reason code in the UI language."""
    return {
        "low_confidence": QCoreApplication.translate("Queue", "low confidence"),
        "leaf_below_target": QCoreApplication.translate("Queue", "class below target"),
        "possible_unknown": QCoreApplication.translate("Queue", "possible new type"),
        "spot_check": QCoreApplication.translate("Queue", "spot check"),
    }.get(code, code)


APP_STYLE = (
    "QMainWindow, QWidget { background: #2b2d31; color: #e8eaed; }"
    "QToolBar { border: none; spacing: 6px; padding: 4px; }"
    "QPushButton { background: #3c4043; border: 1px solid #5f6368; border-radius: 4px;"
    " padding: 5px 10px; } QPushButton:hover { background: #4a4e52; }"
    "QStatusBar QLabel { padding: 0 8px; }"
)
"""The dark look of the main window (the queue and dashboard windows share its colours)."""
