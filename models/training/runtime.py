"""Where a training run executes: device, ranks under ``torchrun``, mixed precision."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from models.sysinfo import peak_rss_mb
from models.training.config import ConfigError, TrainConfig


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    amp_dtype: torch.dtype | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def cpu_has_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AVX512-BF16 / AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def setup_runtime(cfg: TrainConfig) -> Runtime:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cfg.device == "auto":
        device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(cfg.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {cfg.device!r} requested but no CUDA GPU is available")
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    amp: torch.dtype | None = None
    p = cfg.precision
    if p == "auto":
        # On GPUs mixed precision is a clear win. On CPUs, bf16 autocast *training* was slower than fp32 on
        # the 2-core AVX512-BF16 development machine (EfficientNet-Lite0, 160 px: 6.7 vs 19 img/s), because
        # depthwise convolutions have no fast bf16 path; so "auto" keeps fp32 there and bf16 is opt-in.
        if device.type == "cuda":
            amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    elif p == "bf16":
        if device.type == "cpu" and not cpu_has_bf16():
            raise ConfigError("precision bf16 requested, but this CPU has no native bf16 support; use fp32")
        amp = torch.bfloat16
    elif p == "fp16":
        if device.type != "cuda":
            raise ConfigError("precision fp16 needs a CUDA GPU; use bf16 or fp32 on a CPU")
        amp = torch.float16
    return Runtime(device=device, rank=rank, world=world, local_rank=local_rank, amp_dtype=amp)


def peak_memory_mb(device: torch.device) -> float | None:
    """Peak memory of this process: CUDA allocator peak on GPU, peak RSS on CPU (where the OS tells)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mb()
