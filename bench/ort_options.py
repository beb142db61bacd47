"""``python -m bench.ort_options [--rounds N] [--out DIR]``: ONNX Runtime's session options against the ones the
engine uses (:class:`models.inference.engine.OnnxEngine`: all graph optimisations, the memory arena, spinning
threads, one thread per core), each variant timed in alternation with them (:mod:`models.inference.interleave`) on
the same ConvNeXt-T graph at 224 px (random weights: speed does not depend on them), batch 16. Issue #21 part 3: the
engine's settings should be ONNX Runtime's fastest here. Writes ``DIR/ort_options.json``; about two minutes.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from bench.common import load_average, log, write_result

VARIANTS: dict[str, dict[str, Any]] = {
    "no_spinning": {"config": {"session.intra_op.allow_spinning": "0"}},
    "denormals_as_zero": {"config": {"session.set_denormal_as_zero": "1"}},
    "no_memory_arena": {"arena": False},
    "extended_optimisations_only": {"level": "ORT_ENABLE_EXTENDED"},
    "one_thread": {"threads": 1},
}


def _session(graph: bytes, *, level: str = "ORT_ENABLE_ALL", arena: bool = True, threads: int | None = None,
             config: dict[str, str] | None = None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.enable_cpu_mem_arena = arena
    options.log_severity_level = 3
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def run(rounds: int) -> dict[str, Any]:
    import numpy as np
    import torch

    from models.inference.engine import export_onnx
    from models.inference.interleave import interleave
    from models.nn.config import NetworkConfig
    from models.nn.network import build_network
    from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy

    torch.manual_seed(0)
    model = build_network(NetworkConfig(head="independent", head_dim=256, backbone="convnext_tiny"),
                          Taxonomy.from_yaml(DEMO_TAXONOMY_PATH), load_pretrained=False).eval()
    graph = export_onnx(model, (224, 224))
    x = np.random.default_rng(0).standard_normal((16, 3, 224, 224)).astype(np.float32)

    def timed(session: Any) -> Any:
        def one_pass() -> int:
            session.run(None, {"input": x})
            return len(x)
        return one_pass

    engine_pass = timed(_session(graph))
    engine_pass()
    res: dict[str, Any] = {"model": "convnext_tiny 224 px", "batch": len(x), "rounds": rounds, "variants": {},
                           "load_before": load_average()}
    for name, settings in VARIANTS.items():
        variant = timed(_session(graph, **settings))
        variant()  # warm-up
        timing = interleave(engine_pass, variant, rounds)
        res["variants"][name] = {"settings": settings, "ratio_vs_engine": round(timing.ratio, 3),
                                 "spread": [round(v, 3) for v in timing.spread], "interleaved": timing.to_json()}
        log(f"[ort_options] {name}: {timing.describe()} of the engine's settings")
    res["load_after"] = load_average()
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path("bench_results"))
    args = p.parse_args()
    started = time.perf_counter()
    write_result(args.out, "ort_options", False, run(args.rounds), started)


if __name__ == "__main__":
    main()
