"""Child process of :mod:`bench.two_analysts`: one ``fma-judge`` window pressing Enter at a steady pace.

Options come as JSON in ``BENCH_TWO``: ``look`` (the window's ``StoreUpkeep.LOOK_AHEAD``), ``pace_s``, ``timeout_s``.
Once the batch is on screen with a prediction, it presses Enter every ``pace_s`` until no image is left for a person
(``presenter.left() == 0``) or the time is up, and prints one JSON line: ``keys`` pressed, ``saved`` (the window
showed the judgment as done), ``refused`` (the colleague had decided the image meanwhile: the window said so and
saved nothing), ``other`` (keys that did neither: no prediction on screen, an image the window would not judge).
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    options = json.loads(os.environ.get("BENCH_TWO") or "{}")
    pace_s, timeout_s = float(options.get("pace_s", 0.45)), float(options.get("timeout_s", 240.0))
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.ui.store_upkeep import StoreUpkeep

    StoreUpkeep.LOOK_AHEAD = int(options.get("look", getattr(StoreUpkeep, "LOOK_AHEAD", 0)))  # (a checkout before
    # 2026-12-07 has none: the bench runs there too, as "before")
    app = QApplication([sys.argv[0]])
    t0 = time.time()
    state = {"win": None, "keys": 0, "saved": 0, "refused": 0, "other": 0}

    def attach() -> None:
        found = [w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow" and w.isVisible()]
        if not found:
            QTimer.singleShot(5, attach)
            return
        win = state["win"] = found[0]
        real_judge, real_meanwhile = win._judge, win._judged_meanwhile

        def judge(*args, **kwargs):
            saved = real_judge(*args, **kwargs)
            state["saved"] += bool(saved)
            return saved

        def meanwhile(*args, **kwargs):
            state["refused"] += 1
            return real_meanwhile(*args, **kwargs)

        win._judge, win._judged_meanwhile = judge, meanwhile
        win._store_failed = lambda exc, **_kw: finish(f"store error: {exc}")  # (no modal box nobody closes)
        QTimer.singleShot(50, wait_for_batch)

    def wait_for_batch() -> None:
        win = state["win"]
        item = win.presenter.current_item
        if item is None or not win.presenter.shows_prediction(item):
            if time.time() - t0 > timeout_s:
                finish("timeout before the batch was on screen")
                return
            QTimer.singleShot(20, wait_for_batch)
            return
        QTimer.singleShot(int(pace_s * 1000), press)

    def press() -> None:
        win = state["win"]
        if win.presenter.left() == 0:
            finish(None)
            return
        if time.time() - t0 > timeout_s:
            finish("timeout")
            return
        saved, refused = state["saved"], state["refused"]
        QTest.keyClick(win, Qt.Key.Key_Return)
        state["keys"] += 1
        state["other"] += state["saved"] == saved and state["refused"] == refused
        QTimer.singleShot(int(pace_s * 1000), press)

    def finish(error: str | None) -> None:
        win = state["win"]
        out = {k: state[k] for k in ("keys", "saved", "refused", "other")}
        out.update(analyst=win.service.analyst if win is not None else None, error=error,
                   seconds=round(time.time() - t0, 1))
        print("BENCH " + json.dumps(out), flush=True)
        os._exit(0)

    QTimer.singleShot(0, attach)
    from app.ui.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
