"""Benchmarks of fma-judge: ``python -m bench engine|pipeline|ui|store|all [--quick] [--out DIR]``.

Every benchmark measures the thing and its reference side by side in the same run, prints the ratio
with the raw figures beside it, and writes ``DIR/<name>.json`` (with the machine, its load and the
peak RSS). ``--quick`` is the smoke run CI uses: tiny models and data, a few seconds each, figures
meaningless. Not part of the test suite (``tests/test_bench_smoke.py`` only checks the quick run).
"""
