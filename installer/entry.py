"""The frozen app's entry point (installer/fma-judge.spec): ``fma-judge`` as the console script runs it."""

import multiprocessing
import sys

from app.__main__ import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the processes reading and registering a large folder run this executable too
    sys.exit(main())
