"""The frozen app's entry point (installer/fma-judge.spec): ``fma-judge`` as the console script runs it."""

import sys

from app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
