"""``fma-judge``: the desktop judging application, and ``fma-judge export``.

    fma-judge [FOLDER] [--model BUNDLE] [--db URL] [--lang en|zh_TW]
    fma-judge --demo --screenshot OUT.png [--lang en|zh_TW]
    fma-judge export [--db URL] --out PATH --format csv|imagefolder|json [--batch ID] [--since DATE] [--status ...]

The export runs without Qt; the app imports torch only on its model thread, after the window is shown.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def export_main(argv: list[str]) -> int:
    from app.store import export

    parser = argparse.ArgumentParser(prog="fma-judge export",
                                     description="Export the current judgments as labels (a training manifest).")
    export.add_arguments(parser)
    return int(export.run(parser.parse_args(argv)) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "export":
        return export_main(argv[1:])
    from app.ui.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
