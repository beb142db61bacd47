"""``fma-judge --self-test-qt``: the child process of the self-test's ``qt`` and ``font`` checks (:mod:`app.selftest`).

Opens Qt's platform plugin (the process aborts if it cannot, which is why this runs apart) and prints one JSON line:
the platform, the Qt version, the installed families with Traditional Chinese glyphs, and whether the app's font
choice (:func:`app.ui.app.pick_cjk_font`) draws a sample of the zh_TW interface without missing glyphs.
"""

from __future__ import annotations

import json

SAMPLE = "缺陷判定接受未知類型重新判定"
"""Characters of the Traditional Chinese interface (accept, unknown type, re-judge ...)."""


def main() -> int:
    from PySide6.QtCore import qVersion
    from PySide6.QtGui import QFontDatabase, QFontMetrics
    from PySide6.QtWidgets import QApplication

    from app.ui.app import pick_cjk_font

    app = QApplication.instance() or QApplication(["fma-judge"])
    pick_cjk_font(app)
    families = QFontDatabase.families(QFontDatabase.WritingSystem.TraditionalChinese)
    metrics = QFontMetrics(app.font())
    sample_ok = bool(families) and all(metrics.inFontUcs4(ord(ch)) for ch in SAMPLE) if families else False
    if families and not sample_ok:  # the chosen font lacks glyphs: does any Traditional Chinese family have them?
        from PySide6.QtGui import QFont

        sample_ok = any(all(QFontMetrics(QFont(f)).inFontUcs4(ord(ch)) for ch in SAMPLE) for f in families[:5])
    print(json.dumps({"platform": app.platformName(), "qt": qVersion(), "cjk_fonts": list(families)[:10],
                      "sample_ok": sample_ok}, ensure_ascii=False))
    return 0
