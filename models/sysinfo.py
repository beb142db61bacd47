"""Facts about the machine and this process, without importing torch (benchmarks time start-up)."""

from __future__ import annotations

import platform
import re
import sys
from pathlib import Path
from typing import NoReturn


def cpu_name() -> str:
    """The CPU model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process in MiB (None where the OS does not tell, e.g. Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


_DEVICE_RE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


DEVICE_HELP = "where the model runs: cpu (the default), cuda, cuda:N or mps"


def device_arg(text: str) -> str:
    """An argparse ``type`` for ``--device``: ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, and only one this machine
    has (torch is imported only to check a GPU). A wrong value is one line from argparse, never a traceback."""
    import argparse

    name = text.strip().lower()
    if not _DEVICE_RE.match(name):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device: use cpu, cuda, cuda:N or mps")
    if name == "cpu":
        return name
    try:
        import torch
    except ImportError:  # the workstation install runs models on ONNX Runtime, on the CPU
        raise argparse.ArgumentTypeError(f"{name} is not available: this install has no torch, so no GPU support "
                                         "(the workstation install runs models on the CPU); use cpu") from None
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise argparse.ArgumentTypeError("mps is not available on this machine; use cpu")
        return name
    if not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{name} is not available: no CUDA GPU or driver on this machine; use cpu")
    index = int(name.split(":", 1)[1]) if ":" in name else 0
    if index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{name} is not available: this machine has {torch.cuda.device_count()} "
                                         "CUDA GPU(s), numbered from 0")
    return name


def resolve_device(device: str) -> str:
    """``"auto"``: ``"cuda"`` when torch sees a GPU, else ``"cpu"``; any other name is returned as it is."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def leave_torchrun_rank(rc: int) -> NoReturn:
    """End a ``torchrun`` rank with ``rc`` past the interpreter's teardown, its work saved and its process group
    destroyed: there a C++ thread of ``torch.distributed`` still joinable when the static destructors ran aborted a
    finished rank now and then (SIGABRT, about one ``fma-judge classify`` run in 30 under load), and torchrun
    reported the whole run failed. The logs and the output are flushed first."""
    import contextlib
    import logging
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(rc)
