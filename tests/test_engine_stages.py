"""The stage statistics of the "stages" unknown score as outputs of every inference engine, and the guard comparing
the unknown score's routing (issue #21: a bundle with that score no longer has to run eagerly)."""

from __future__ import annotations

import functools
import json
import shutil

import numpy as np
import pytest
import torch
from conftest import make_tiny_bundle, write_image

from models.bundle.io import load_bundle
from models.hashing import sha256_hex
from models.inference import engine as eng
from models.inference.agreement import Criteria, Scores, agreement
from models.inference.engine import build_engine, export_onnx
from models.inference.predictor import Predictor
from models.nn.network import stage_statistics
from models.routing.policy import AUTO, REJUDGE, Calibration, routing_decisions
from models.routing.unknown import UnknownDetector

HAS_ORT = eng.unavailable_reason("onnx") is None
STRIDES = (8, 16)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, taxonomy):
    root = tmp_path_factory.mktemp("stages")
    return {f: make_tiny_bundle(root / f, taxonomy, family=f, input_size=64) for f in ("convnext", "resnet_cbam")}


def _hooked_statistics(model: torch.nn.Module, x: torch.Tensor) -> dict[int, np.ndarray]:
    """What the stages' own outputs give, read by plain forward hooks on the eager network."""
    seen: dict[int, torch.Tensor] = {}
    handles = [model.stage_at_stride(s).register_forward_hook(
        lambda _m, _i, out, s=s: seen.__setitem__(s, out)) for s in STRIDES]
    with torch.no_grad():
        model(x.contiguous())
    for h in handles:
        h.remove()
    return {s: stage_statistics(seen[s]) for s in STRIDES}


@pytest.mark.parametrize("family", ["convnext", "resnet_cbam"])
def test_every_engine_gives_the_stage_statistics_the_stages_produce(bundles, family):
    model = load_bundle(bundles[family]).model
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    want = _hooked_statistics(model, x)
    paths = ["eager", "channels_last"] + (["onnx"] if HAS_ORT else [])
    for path in paths:
        engine = build_engine(model, path, input_size=(64, 64), stage_strides=STRIDES)
        got = engine(x)
        assert set(STRIDES) <= set(engine.stage_strides) and set(STRIDES) <= set(got.stages), path
        for s in STRIDES:
            np.testing.assert_allclose(got.stages[s].numpy(), want[s], atol=2e-4, rtol=1e-4, err_msg=path)
        engine.close()
    plain = build_engine(model, "eager", input_size=(64, 64))
    assert plain.stage_strides == () and plain(x).stages == {}  # nobody asked: no cost
    hooks = sum(len(model.stage_at_stride(s)._forward_hooks) for s in STRIDES)
    eager = build_engine(model, "eager", input_size=(64, 64), stage_strides=STRIDES)
    eager.close()  # the engine's hooks come off the shared network again
    assert sum(len(model.stage_at_stride(s)._forward_hooks) for s in STRIDES) == hooks


def _with_onnx_choice(bundle, tmp_path, graph: bytes):
    out = shutil.copytree(bundle, tmp_path / "b")
    (out / eng.ONNX_FILE).write_bytes(graph)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["inference"] = {
        "format": eng.INFERENCE_FORMAT, "path": "onnx", "batch_size": 4, "threads": None,
        "temperature": float(manifest.get("temperature") or 1.0), "weights_sha256": manifest["weights"]["sha256"],
        "machine": {"cpu_count": 1}, "candidates": [{"path": "onnx", "images_per_s": 9.0, "accepted": True}],
        "onnx": {"path": "onnx", "file": eng.ONNX_FILE, "sha256": sha256_hex(graph), "bytes": len(graph)}}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


@pytest.mark.skipif(not HAS_ORT, reason="onnxruntime not installed")
def test_a_predictor_watching_stages_keeps_its_onnx_path(bundles, tmp_path):
    model = load_bundle(bundles["convnext"]).model
    bundle = _with_onnx_choice(bundles["convnext"], tmp_path, export_onnx(model, (64, 64)))
    image = write_image(tmp_path / "i.png")
    p = Predictor(bundle)
    p.watch_stages(STRIDES)
    assert p.engine.path == "onnx" and p.engine_note is None
    x = p.preprocess(image)[None]
    got = p.forward_batch(x).stage_stats
    reference = Predictor(bundles["convnext"], inference=False, channels_last=False)
    reference.watch_stages(STRIDES)
    want = reference.forward_batch(x).stage_stats
    for s in STRIDES:
        np.testing.assert_allclose(got[s], want[s], atol=2e-4, rtol=1e-4)
    reference.unwatch_stages()
    assert reference.forward_batch(x).stage_stats is None


@pytest.mark.skipif(not HAS_ORT, reason="onnxruntime not installed")
def test_an_onnx_graph_stored_without_stage_outputs_falls_back_to_torch(bundles, tmp_path):
    model = load_bundle(bundles["convnext"]).model
    bundle = _with_onnx_choice(bundles["convnext"], tmp_path, export_onnx(model, (64, 64), stage_strides=()))
    p = Predictor(bundle)
    assert p.engine.path == "onnx"
    p.watch_stages(STRIDES)
    assert p.engine.path in ("eager", "channels_last") and "does not give" in p.engine_note
    assert set(p.forward_batch(p.preprocess(write_image(tmp_path / "i.png"))[None]).stage_stats) == set(STRIDES)


def test_the_guard_compares_the_unknown_scores_routing(taxonomy):
    """A path that keeps every leaf but pushes two images' unknown scores over the threshold changes their routing."""
    leaves = taxonomy.leaves
    calibration = Calibration(thresholds=dict.fromkeys(leaves, 0.9),
                              unknown=UnknownDetector(method="max_softmax", threshold=0.5))
    decide = functools.partial(routing_decisions, calibration, taxonomy)
    probs = np.full((200, len(leaves)), 0.01 / (len(leaves) - 1))
    probs[:, 0] = 0.99
    scores = np.full(200, 0.1)
    crossed = scores.copy()
    crossed[:2] = 0.7
    assert [d[0] for d in decide(probs, crossed)[:3]] == [REJUDGE, REJUDGE, AUTO]
    assert decide(probs, crossed)[0][1] is None  # a possible unknown determines no node
    assert decide(probs, crossed)[0][2] == ("possible_unknown",) and decide(probs, scores)[0][2] == ()
    a = agreement(Scores(probs, scores), Scores(probs, crossed), decide)
    assert a.top1 == 1.0 and a.routing == pytest.approx(0.99) and not a.passes(Criteria())
    assert agreement(Scores(probs, scores), Scores(probs, scores + 0.2), decide).passes(Criteria())  # under 0.5
    assert agreement(Scores(probs, scores), Scores(probs), decide).routing == 1.0  # one side has none: not compared


def test_the_guard_sees_a_flag_move_that_keeps_the_route_and_the_node(taxonomy):
    """Under ``flagged_climb`` a low-confidence image keeps its route (re-judge) and its determined subgroup whether
    flagged or not; the flag moving is still a routing change: the analyst sees "possible new type" come or go."""
    import dataclasses

    leaves = taxonomy.leaves
    calibration = Calibration(thresholds=dict.fromkeys(leaves, 0.9), node_thresholds={"particle": 0.9},
                              unknown=UnknownDetector(method="max_softmax", threshold=0.5), flagged_climb=True)
    decide = functools.partial(routing_decisions, calibration, taxonomy)
    probs = np.full((200, len(leaves)), 1e-4)
    probs[:, leaves.index("particle_metal")], probs[:, leaves.index("particle_organic")] = 0.6, 0.39
    probs /= probs.sum(axis=1, keepdims=True)
    scores = np.full(200, 0.1)
    crossed = scores.copy()
    crossed[:2] = 0.7
    before, after = decide(probs, scores), decide(probs, crossed)
    assert before[0][:2] == after[0][:2] == (REJUDGE, "particle")  # route and node unchanged
    a = agreement(Scores(probs, scores), Scores(probs, crossed), decide)
    assert a.routing == pytest.approx(0.99) and not a.passes(Criteria())
    # without the rule the flagged image loses its node, which the comparison saw already
    old = functools.partial(routing_decisions, dataclasses.replace(calibration, flagged_climb=False), taxonomy)
    assert old(probs, crossed)[0][1] is None


class _StagesMoved:
    """An engine that keeps every leaf but moves the stage statistics (only them) far from eager's."""

    path = "channels_last"
    channels_last = False

    def __init__(self, engine):
        self.inner, self.stage_strides = engine, engine.stage_strides

    def __call__(self, x):
        raw = self.inner(x)
        raw.stages = {s: v * 5.0 + 3.0 for s, v in raw.stages.items()}
        return raw

    def close(self):
        self.inner.close()


def test_optimize_judges_a_stages_bundle_by_the_unknown_routing_it_keeps(tmp_path, taxonomy, monkeypatch):
    from test_calibrate import calibrate_with_stages, make_dataset

    from models.inference import optimize as opt

    data = make_dataset(tmp_path, taxonomy)
    bundle = make_tiny_bundle(tmp_path / "bundle", taxonomy, input_size=64)
    assert calibrate_with_stages(bundle, data, tmp_path / "report", 0.25) == 0
    real_build = opt.build_engine
    built = []

    def build(model, path, **kw):
        built.append((path, tuple(kw.get("stage_strides", ()))))
        engine = real_build(model, path, **kw)
        return _StagesMoved(engine) if path == "channels_last" else engine

    monkeypatch.setattr(opt, "build_engine", build)
    images = sorted((data.parent / "img").glob("*.png"))[:24]
    cands = ["channels_last", "torch_int8_dynamic"] + (["onnx"] if HAS_ORT else [])
    result = opt.optimize_bundle(bundle, images, candidates=cands, batch_size=8, batch_sizes=(8,), threads=[1])
    by_path = {c.path: c for c in result.candidates}
    assert {p for p, strides in built if strides == (4, 8, 16, 32)} >= {"eager", *cands}  # all asked for the stages
    assert by_path["eager"].accepted and by_path["eager"].agreement.routing == 1.0
    moved = by_path["channels_last"]
    assert moved.agreement.top1 == 1.0 and not moved.accepted and "routing agreement" in moved.reason
    assert not by_path["torch_int8_dynamic"].accepted and "stages" in by_path["torch_int8_dynamic"].reason
    if HAS_ORT:
        assert by_path["onnx"].accepted and by_path["onnx"].agreement.routing == 1.0


def test_a_multilabel_bundle_is_judged_by_the_sets_it_predicts_and_routes(tmp_path, taxonomy):
    """Same Top-1, one more leaf present on half the images: the guard sees the sets change."""
    import copy

    from models.inference.optimize import guard_scores

    bundle = make_tiny_bundle(tmp_path / "ml", taxonomy, input_size=64)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["loss"] = {**(manifest.get("loss") or {}), "kind": "multilabel"}
    manifest["multilabel"] = {"thresholds": {}, "n_val": 40, "min_positives": 5, "f1": {}, "set_threshold": 0.2,
                              "target_purity": 0.9, "routing": {"created": "2026-12-02T00:00:00+00:00"}}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    p = Predictor(bundle)
    assert p.is_multilabel
    out = p.forward_batch(torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(2)))
    best = taxonomy.leaves[0]
    other = next(leaf for leaf in taxonomy.leaves[1:] if taxonomy.path(leaf)[:-1] == taxonomy.path(best)[:-1])
    index = taxonomy.leaf_level_index
    for logits in out.level_logits:
        logits[:] = -10.0
    for k, logits in enumerate(out.level_logits):  # every image shows the first leaf, surely
        logits[:, index[0, k]] = 10.0
    moved = copy.deepcopy(out)
    moved.level_logits[-1][:2, index[taxonomy.leaves.index(other), -1]] = 8.0  # a second leaf on two images
    for o in (out, moved):
        o.level_probs, o.leaf_probs = p.probabilities(o.level_logits)
    ref, cand = guard_scores(p, out), guard_scores(p, moved)
    assert ref.decisions[0][0] == (0,) and cand.decisions[0][0] == (0, taxonomy.leaves.index(other))
    a = agreement(ref, cand)
    assert a.top1 == 1.0 and a.routing == 0.5 and not a.passes(Criteria())
    assert agreement(ref, ref).passes(Criteria())
