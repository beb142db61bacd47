"""``fma-judge``: the desktop judging application.

The window itself arrives with the app issue (#4). Until then this entry point
says so plainly and points to what already works.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    print(
        "fma-judge: the desktop judging app is not built yet (planned in issue #4).\n"
        "What works today is the model command line: run `fma-model --help`, e.g.\n"
        "  fma-model predict resources/demo/model resources/demo/batch --json",
        file=sys.stderr,
    )
    return 3


if __name__ == "__main__":
    sys.exit(main())
