"""The last step of ``fma-model optimize``: the chosen setting timed side by side with eager.

Every earlier step timed a path at its own moment, and a busy spell on a shared workstation can make any path look
faster than it is. Here the chosen setting and eager run in alternation (:mod:`models.inference.interleave`) on the
same images; a setting that is not faster side by side gives way to the next-fastest accepted path, at most
:data:`INTERLEAVED_TRIES` of them, and then eager is kept.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch

from models.inference.engine import BASELINE, Engine, EngineError, build_engine
from models.inference.interleave import Interleaved, interleave, over

INTERLEAVED_ROUNDS = 5
"""Rounds of a setting against eager (:func:`check`)."""
INTERLEAVED_TRIES = 3
"""Paths checked in alternation with eager, fastest first, before eager is kept."""


def confirm(candidates: Sequence[Any], graph_of: Callable[[Any], bytes | None], model: Any,
            input_size: tuple[int, int], batches: Sequence[torch.Tensor], eager_threads: int,
            say: Callable[[str], None], build: Callable[..., Engine] = build_engine,
            ) -> tuple[Any | None, Interleaved | None, list[str]]:
    """Check ``candidates`` (settings with ``path``, ``batch_size`` and ``threads``, fastest first) side by side
    with eager until one is faster, at most :data:`INTERLEAVED_TRIES`.

    Returns:
        ``(kept, timing, rejected)``: the first candidate faster side by side (or whose check could not run), or
        None; the last timing; the paths found no faster.
    """
    timing, rejected = None, []
    for candidate in list(candidates)[:INTERLEAVED_TRIES]:
        timing = check(candidate, graph_of(candidate), model, input_size, batches, eager_threads, say, build)
        if timing is None or timing.ratio > 1.0:
            return candidate, timing, rejected
        say(f"{candidate.path} is not faster than eager side by side ({timing.describe()})")
        rejected.append(candidate.path)
    return None, timing, rejected


def check(final: Any, graph: bytes | None, model: Any, input_size: tuple[int, int],
          batches: Sequence[torch.Tensor], eager_threads: int, say: Callable[[str], None],
          build: Callable[..., Engine] = build_engine) -> Interleaved | None:
    """One setting timed in alternation with eager on 32 images (or one batch of the setting, when larger); None
    when it cannot be built. Eager runs a copy of the network: building an engine sets the memory format of its
    network in place (channels-last, compiled paths)."""
    flat = torch.cat(list(batches))
    subset = flat[: max(32, int(final.batch_size or 16))]
    size = int(final.batch_size or 16)
    try:
        eager = build(copy.deepcopy(model).to(memory_format=torch.contiguous_format), BASELINE,
                      input_size=input_size)  # copied before the candidate puts its hooks on the network
        engine = build(model, final.path, input_size=input_size, onnx_model=graph, batch_size=size,
                       threads=final.threads)
    except (EngineError, RuntimeError, ValueError) as exc:
        say(f"interleaved check skipped: {short(exc)}")
        return None

    def timed(run: Any, threads: int, step: int) -> Callable[[], int]:
        return over(run, [subset[i:i + step] for i in range(0, len(subset), step)],
                    setup=functools.partial(torch.set_num_threads, threads))

    mine = timed(engine, int(final.threads or eager_threads), size)
    theirs = timed(eager, eager_threads, len(batches[0]))
    try:
        mine()  # warm-up (a rebuilt compiled path compiles again)
        timing = interleave(theirs, mine, INTERLEAVED_ROUNDS)
    finally:
        engine.close()
        model.to(memory_format=torch.contiguous_format)
    say(f"interleaved with eager: {final.path} (batch {size}, threads {final.threads}) {timing.describe()}")
    return timing


def short(exc: BaseException) -> str:
    """An error in one line: its type and the first line of its text."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
