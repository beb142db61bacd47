"""The processes of one ``fma-judge classify`` run: one, or several started by ``torchrun`` (``torch.distributed``).

``torchrun --nproc_per_node N -m app classify FOLDER --db URL`` starts N processes on a machine (``--nnodes`` for
several machines); each takes its share of the batch's images, writes their predictions to the shared database, and
the ranks agree at the end (a barrier) before rank 0 reports the totals. The ranks talk through ``torch.distributed``
(``gloo`` on CPUs, ``nccl`` between GPUs), only to hand over the batch and to add up the counts: the predictions go
to the database. No Qt; torch is imported only when ``torchrun`` started the process.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, NoReturn


@dataclass
class Ranks:
    """One process alone (``rank`` 0 of 1): every step is its own."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    def share(self, value: Any) -> Any:
        """Rank 0's ``value``, on every rank."""
        return value

    def add_up(self, counts: Counter[str]) -> Counter[str]:
        """The sum of every rank's ``counts``, on every rank."""
        return Counter(counts)

    def barrier(self) -> None:
        """Wait until every rank is here."""

    def close(self) -> None:
        pass

    def leave(self, rc: int) -> NoReturn:
        """End this process with ``rc`` (one process alone: the ordinary way)."""
        raise SystemExit(rc)


class TorchRanks(Ranks):
    """The ranks of a ``torchrun`` launch (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT`` set)."""

    def __init__(self, backend: str, timeout_min: float = 60.0) -> None:
        import torch.distributed as dist

        super().__init__(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
        self._dist = dist
        if backend == "nccl":  # each rank its own GPU: NCCL's collectives run on the current device
            import torch

            torch.cuda.set_device(self.local_rank)
        dist.init_process_group(backend=backend, timeout=dt.timedelta(minutes=timeout_min))

    def share(self, value: Any) -> Any:
        box = [value if self.rank == 0 else None]
        self._dist.broadcast_object_list(box, src=0)
        return box[0]

    def add_up(self, counts: Counter[str]) -> Counter[str]:
        every: list[Any] = [None] * self.world
        self._dist.all_gather_object(every, dict(counts))
        return sum((Counter(c) for c in every), Counter())

    def barrier(self) -> None:
        self._dist.barrier()

    def close(self) -> None:
        if self._dist.is_initialized():
            self._dist.destroy_process_group()

    def leave(self, rc: int) -> NoReturn:
        """End this rank's process with ``rc`` once its work is saved and :meth:`close` ran, without the
        interpreter's teardown (:func:`models.sysinfo.leave_torchrun_rank` says why)."""
        from models.sysinfo import leave_torchrun_rank

        leave_torchrun_rank(rc)


def ranks_from_env(device: str) -> Ranks:
    """The ranks this process belongs to: a ``torchrun`` launch of more than one process, else itself alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "RANK" not in os.environ:
        return Ranks()
    return TorchRanks("nccl" if device.startswith("cuda") else "gloo")
