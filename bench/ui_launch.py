"""Child process of the ``ui`` benchmark: start fma-judge as a user would and report when its window shows.

Reads the parent's launch time from ``BENCH_T0`` (``time.time()`` just before the process was started),
runs :func:`app.ui.app.run_app` with the given arguments, and from the first turn of its event loop
(the window has been shown) prints one JSON line and exits at once.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    t0 = float(os.environ.get("BENCH_T0") or time.time())
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])

    def probe() -> None:
        shown = [w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow" and w.isVisible()]
        if not shown:
            QTimer.singleShot(5, probe)
            return
        print(json.dumps({"window_shown_s": round(time.time() - t0, 3)}), flush=True)
        os._exit(0)  # do not wait for the model thread: only the window matters here

    QTimer.singleShot(0, probe)
    from app.ui.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
