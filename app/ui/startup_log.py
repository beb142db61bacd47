"""``FMA_JUDGE_STARTUP_LOG=FILE``: the app appends one JSON line per start-up event to FILE, with ``time.time()``.

Events: ``window_shown`` (the main window is painted on screen, before the database opens) and ``first_prediction`` (the
prediction panel first shows a prediction); between them, to see where a start-up spends its time:
``database_open``, ``manifest_read``, ``model_loaded`` and ``batch_opened`` (its first part, for a new folder). A launcher that notes the time before it starts the app gets launch →
window and launch → first prediction from them, for any build of the app, frozen included (``python -m bench
startup``). Without the variable nothing is written.
"""

from __future__ import annotations

import json
import os
import time

ENV = "FMA_JUDGE_STARTUP_LOG"
_seen: set[str] = set()


def mark(event: str) -> None:
    """Append ``event`` once per process (a no-op without :data:`ENV`, and on a file that cannot be written)."""
    path = os.environ.get(ENV)
    if not path or event in _seen:
        return
    _seen.add(event)
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": event, "t": time.time(), "pid": os.getpid()}) + "\n")
    except OSError:
        pass
