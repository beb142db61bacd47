"""Inference engines and the equality guard of `fma-model optimize` (no assertion depends on timing)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_bundle, write_image
from PIL import Image

from models.bundle.io import load_bundle
from models.commands.cli import main as cli_main
from models.inference import engine as eng
from models.inference import optimize as opt
from models.inference import side_by_side
from models.inference.agreement import Agreement, Criteria, agreement
from models.inference.engine import RawOutput, build_engine, engine_from_manifest
from models.inference.optimize import CandidateResult, choose, judge
from models.inference.predictor import Predictor

HAS_ORT = eng.unavailable_reason("onnx") is None


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """A stored choice sets torch's (process-wide) thread count; give the other tests theirs back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _probs(n: int, leaves: int = 18, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, leaves)) * 3
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


# ------------------------------------------------------------------------------ agreement / guard
def test_agreement_of_identical_arrays_is_perfect():
    p = _probs(50)
    a = agreement(p, p.copy())
    assert (a.n, a.top1, a.max_prob_diff, a.max_abs_diff) == (50, 1.0, 0.0, 0.0)
    assert a.passes(Criteria()) and a.why_not(Criteria()) is None


def test_one_changed_top1_in_200_passes_two_do_not():
    ref = _probs(200)
    cand = ref.copy()
    flip = [3, 77]
    for i in flip:  # swap the top two leaves: Top-1 changes, the confidence does not
        order = np.argsort(-cand[i])
        cand[i, [order[0], order[1]]] = cand[i, [order[1], order[0]]]
    one = ref.copy()
    one[3] = cand[3]
    a1, a2 = agreement(ref, one), agreement(ref, cand)
    assert a1.top1 == pytest.approx(0.995) and a1.passes(Criteria())
    assert a2.top1 == pytest.approx(0.99) and not a2.passes(Criteria())
    assert "Top-1 agreement 99.00%" in a2.why_not(Criteria())


def test_a_confidence_change_above_0_01_fails_even_with_the_same_top1():
    ref = _probs(300, seed=1)
    cand = ref.copy()
    i = 10
    top = int(np.argmax(cand[i]))
    other = int(np.argsort(-cand[i])[-1])
    cand[i, top] -= 0.011  # still the arg-max (the spread logits make the top leaf far ahead)
    cand[i, other] += 0.011
    assert int(np.argmax(cand[i])) == top
    a = agreement(ref, cand)
    assert a.top1 == 1.0 and a.max_prob_diff == pytest.approx(0.011, abs=1e-9)
    assert not a.passes(Criteria()) and "confidence moves by 0.0110" in a.why_not(Criteria())
    cand[i, top] += 0.002
    cand[i, other] -= 0.002
    assert agreement(ref, cand).passes(Criteria())  # 0.009 is within the guard


def test_a_calibrated_bundle_judges_a_path_by_the_routing_it_keeps(taxonomy):
    """A confidence change that crosses no threshold is harmless; one that flips routes is not (issue #21)."""
    import functools

    from models.routing.policy import Calibration, routing_decisions

    leaves = taxonomy.leaves
    decide = functools.partial(routing_decisions, Calibration(thresholds=dict.fromkeys(leaves, 0.9)), taxonomy)
    ref = np.full((200, len(leaves)), 0.01 / (len(leaves) - 1), dtype=np.float64)
    ref[:, 0] = 0.99  # every image confidently the first leaf: auto-judged
    ref[:100, 0], ref[:100, 1] = 0.5, 0.49  # half unsure: to a person
    moved = ref.copy()
    moved[100:, 0] -= 0.05  # the sure ones lose 0.05 (still >= 0.9): routes unchanged
    moved[100:, 2] += 0.05
    a = agreement(ref, moved, decide)
    assert a.top1 == 1.0 and a.routing == 1.0 and a.max_prob_diff == pytest.approx(0.05)
    assert a.passes(Criteria()) and a.to_dict()["routing_agreement"] == 1.0
    assert not agreement(ref, moved).passes(Criteria())  # without a calibration the 0.05 change is refused
    crossed = moved.copy()
    crossed[100:102, 0], crossed[100:102, 2] = 0.89, 0.1  # two images fall below the threshold
    b = agreement(ref, crossed, decide)
    assert b.routing == pytest.approx(0.99) and not b.passes(Criteria())
    assert "routing agreement 99.00% < 99.50%" in b.why_not(Criteria())


def test_agreement_refuses_mismatched_or_invalid_arrays():
    with pytest.raises(ValueError, match="one shape"):
        agreement(_probs(4), _probs(5))
    bad = _probs(4)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        agreement(_probs(4), bad)
    assert not agreement(np.zeros((0, 3)), np.zeros((0, 3))).passes(Criteria())


def test_judge_rejects_differing_predictions_and_slow_starts():
    ref = _probs(200, seed=2)
    perturbed = ref[:, ::-1].copy()  # every image gets another Top-1
    r = judge(CandidateResult("onnx", warmup_s=0.1, images_per_s=500.0, completed=True), ref, perturbed,
              Criteria(), 10.0)
    assert not r.accepted and r.reason.startswith("predictions differ") and r.agreement.top1 < 0.2
    slow = judge(CandidateResult("compile", warmup_s=42.0, images_per_s=500.0, completed=True), ref, ref,
                 Criteria(), 10.0)
    assert not slow.accepted and "42.0 s > 10 s" in slow.reason
    partial = judge(CandidateResult("bf16", warmup_s=0.1, images_per_s=1.0, completed=False), ref, ref[:32],
                    Criteria(), 10.0)
    assert not partial.accepted and partial.agreement.n == 32


def test_choose_takes_the_fastest_accepted_never_a_rejected_one():
    ok = Agreement(200, 1.0, 0.0, 0.0)
    results = [
        CandidateResult("eager", images_per_s=5.0, completed=True, agreement=ok),
        CandidateResult("bf16", images_per_s=50.0, completed=True, reason="predictions differ: x"),
        CandidateResult("onnx", images_per_s=9.0, completed=True, agreement=ok),
        CandidateResult("channels_last", images_per_s=7.0, completed=True, agreement=ok),
        CandidateResult("compile", images_per_s=99.0, completed=False, agreement=ok),
    ]
    assert choose(results).path == "onnx"
    with pytest.raises(ValueError, match="no inference path"):
        choose([results[1], results[4]])


def test_spread_keeps_the_ends_and_the_count():
    items = list(range(1000))
    picked = opt.spread(items, 10)
    assert len(picked) == 10 and picked[0] == 0 and picked[-1] == 999
    assert opt.spread(items[:5], 10) == items[:5]


# ------------------------------------------------------------------------------------- engines
@pytest.fixture(scope="module")
def bundles(tmp_path_factory, taxonomy) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("engine")
    return {f: make_tiny_bundle(root / f, taxonomy, family=f) for f in ("convnext", "resnet_cbam", "vit")}


def _batch(n: int = 5, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _close(a: RawOutput, b: RawOutput, atol: float) -> None:
    for x, y in zip(a.levels + [a.embedding], b.levels + [b.embedding], strict=True):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=atol, rtol=0)
    assert (a.cbam_map is None) == (b.cbam_map is None)
    if a.cbam_map is not None:
        np.testing.assert_allclose(a.cbam_map.numpy(), b.cbam_map.numpy(), atol=atol, rtol=0)


@pytest.mark.parametrize("family", ["convnext", "resnet_cbam", "vit"])
def test_fp32_paths_give_the_eager_outputs(bundles, family):
    model = load_bundle(bundles[family]).model
    size = 64
    x = _batch(size=size)
    ref = build_engine(model, "eager", input_size=(size, size))(x)
    assert len(ref.levels) == 3 and (ref.cbam_map is not None) == (family == "resnet_cbam")
    _close(build_engine(model, "channels_last", input_size=(size, size))(x), ref, 1e-4)
    if HAS_ORT:
        onnx = build_engine(model, "onnx", input_size=(size, size))
        _close(onnx(x), ref, 2e-4)
        _close(onnx(x[:1]), build_engine(model, "eager", input_size=(size, size))(x[:1]), 2e-4)  # dynamic batch


def test_compiled_path_pads_partial_batches(bundles, monkeypatch):
    calls: list[int] = []

    def fake_compile(fn, **_kw):  # stands in for inductor: records the shapes it is called with
        def run(x):
            calls.append(int(x.shape[0]))
            return fn(x)
        return run

    monkeypatch.setattr(torch, "compile", fake_compile)
    monkeypatch.setattr(eng, "unavailable_reason", lambda _p: None)
    model = load_bundle(bundles["resnet_cbam"]).model
    x = _batch(n=6)
    ref = build_engine(model, "eager", input_size=(64, 64))(x)
    out = build_engine(model, "compile", input_size=(64, 64), batch_size=4)(x)
    assert calls == [4, 4]  # 6 images: one full batch and one padded from 2 to 4
    _close(out, ref, 1e-4)


@pytest.mark.skipif(not eng.bf16_supported(), reason="no native bf16 on this CPU")
def test_bf16_paths_run_and_stay_close(bundles):
    model = load_bundle(bundles["convnext"]).model
    x = _batch()
    ref = build_engine(model, "eager", input_size=(64, 64))(x)
    out = build_engine(model, "bf16_channels_last", input_size=(64, 64))(x)
    assert all(t.dtype == torch.float32 for t in out.levels)
    assert max(float((a - b).abs().max()) for a, b in zip(out.levels, ref.levels, strict=True)) < 0.2


def test_unknown_or_unavailable_paths_are_refused(bundles, monkeypatch):
    model = load_bundle(bundles["convnext"]).model
    with pytest.raises(eng.EngineError, match="unknown inference path"):
        build_engine(model, "fp8", input_size=(64, 64))
    monkeypatch.setattr(eng, "bf16_supported", lambda: False)
    assert "no native bfloat16" in eng.unavailable_reason("bf16")
    with pytest.raises(eng.EngineError, match="bf16"):
        build_engine(model, "bf16", input_size=(64, 64))


# ------------------------------------------------------------------------------ stored choice
def _record(manifest: dict, path: str, candidates: list[tuple[str, float, bool]]) -> dict:
    return {"format": eng.INFERENCE_FORMAT, "path": path, "batch_size": 4, "threads": None,
            "temperature": float(manifest.get("temperature") or 1.0),
            "weights_sha256": manifest["weights"]["sha256"], "machine": {"cpu_count": 1},
            "candidates": [{"path": p, "images_per_s": s, "accepted": a} for p, s, a in candidates]}


def test_predictor_falls_back_to_the_next_accepted_path_with_a_warning(bundles, tmp_path, monkeypatch):
    bundle = shutil.copytree(bundles["convnext"], tmp_path / "b")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["inference"] = _record(manifest, "bf16_channels_last",
                                    [("eager", 5.0, True), ("bf16_channels_last", 10.0, True),
                                     ("channels_last", 7.0, True), ("onnx", 99.0, False)])
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(eng, "bf16_supported", lambda: False)
    with pytest.warns(RuntimeWarning, match="bf16_channels_last unavailable .*no native bfloat16.*using channels_last"):
        p = Predictor(bundle)
    assert p.engine.path == "channels_last" and p.batch_size == 4
    with pytest.warns(RuntimeWarning):
        assert Predictor(bundle, batch_size=3).batch_size == 3


def test_a_stale_choice_is_ignored(bundles, tmp_path):
    bundle = shutil.copytree(bundles["convnext"], tmp_path / "b")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["inference"] = _record(manifest, "onnx", [("onnx", 9.0, True)])
    manifest["inference"]["weights_sha256"] = "0" * 64
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(RuntimeWarning, match="weights changed"):
        p = Predictor(bundle)
    assert p.engine.path == "channels_last"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Predictor(bundle, inference=False).engine.path == "channels_last"


@pytest.mark.skipif(not HAS_ORT, reason="onnxruntime not installed")
def test_static_int8_without_its_stored_graph_falls_back(bundles, tmp_path):
    bundle = shutil.copytree(bundles["convnext"], tmp_path / "b")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["inference"] = _record(manifest, "onnx_int8", [("onnx_int8", 20.0, True), ("onnx", 9.0, True)])
    manifest["inference"]["onnx"] = {"path": "onnx_int8", "file": "inference.onnx", "sha256": "f" * 64}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_bundle(bundle)
    sel = engine_from_manifest(loaded.model, loaded.manifest.inference, bundle_path=bundle, input_size=(64, 64),
                               weights_sha256=loaded.manifest.weights.sha256,
                               temperature=loaded.manifest.effective_temperature, device=torch.device("cpu"))
    assert sel.engine.path == "onnx" and "inference.onnx is missing or does not match" in sel.note


# ------------------------------------------------------------------------------------ optimize
@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("opt_images")
    return [write_image(folder / f"{i:02d}.png", size=(72, 64), seed=i) for i in range(24)]


class _Perturbed(eng.Engine):
    """A deliberately wrong (and very fast) path: the eager outputs with the level logits reversed."""

    path = "channels_last"

    def __init__(self, model):
        self.inner = eng.TorchEngine(model, "eager")

    def __call__(self, x):
        raw = self.inner(x)
        return RawOutput([lv.flip(1) * 3 for lv in raw.levels], raw.embedding, raw.cbam_map)


def test_optimize_rejects_a_perturbed_path_and_never_chooses_it(bundles, images, monkeypatch):
    real_build = opt.build_engine

    def build(model, path, **kw):
        return _Perturbed(model) if path == "channels_last" else real_build(model, path, **kw)

    monkeypatch.setattr(opt, "build_engine", build)
    result = opt.optimize_bundle(bundles["convnext"], images, candidates=["channels_last"], batch_size=8,
                                 batch_sizes=(8,), threads=[1])
    by_path = {c.path: c for c in result.candidates}
    assert not by_path["channels_last"].accepted
    assert by_path["channels_last"].reason.startswith("predictions differ")
    assert by_path["eager"].accepted and by_path["eager"].agreement.top1 == 1.0
    assert result.chosen == "eager"
    assert result.record.candidates[1]["accepted"] is False


@pytest.mark.parametrize("ratio", [0.9, 1.3])
def test_optimize_keeps_a_path_only_when_it_is_faster_timed_in_alternation_with_eager(bundles, images, monkeypatch,
                                                                                      ratio):
    from models.inference.interleave import Interleaved

    real_run = opt.run_engine

    def screened_fast(engine, batches, postprocess, **kw):  # the screening sees channels_last far faster (a busy
        probs, warm, ips, done = real_run(engine, batches, postprocess, **kw)  # spell hit eager's turn; 3x was
        # not always enough on a loaded machine, where the real passes themselves differ by more)
        return probs, warm, ips * (1000.0 if getattr(engine, "path", "") == "channels_last" else 1.0), done

    seen = []

    def alternated(baseline, candidate, rounds, **kw):
        seen.append((baseline(), candidate(), rounds))  # both passes run the same images
        return Interleaved((10.0,) * rounds, (10.0 * ratio,) * rounds, ("baseline",) * rounds)

    monkeypatch.setattr(opt, "run_engine", screened_fast)
    monkeypatch.setattr(side_by_side, "interleave", alternated)
    result = opt.optimize_bundle(bundles["convnext"], images, candidates=["channels_last"], batch_size=8,
                                 batch_sizes=(8,), threads=[1])
    assert seen and seen[0][0] == seen[0][1] and seen[0][2] == side_by_side.INTERLEAVED_ROUNDS
    assert {c.path: c.accepted for c in result.candidates} == {"eager": True, "channels_last": True}
    if ratio <= 1.0:  # the screening's lead was the load's: eager stays
        assert result.chosen == "eager" and result.record.speedup_vs_eager == 1.0
        assert result.record.interleaved["rejected_path"] == "channels_last"
    else:
        assert result.chosen == "channels_last" and result.record.speedup_vs_eager == pytest.approx(1.3)
    assert result.record.interleaved["ratio"] == pytest.approx(ratio)
    assert len(result.record.interleaved["rounds"]) == side_by_side.INTERLEAVED_ROUNDS


def test_optimize_cli_stores_a_choice_the_predictor_uses(bundles, images, tmp_path, capsys):
    bundle = shutil.copytree(bundles["resnet_cbam"], tmp_path / "b")
    folder = images[0].parent
    cands = "channels_last,onnx" if HAS_ORT else "channels_last"
    rc = cli_main(["optimize", str(bundle), "--data", str(folder), "--max-images", "16", "--candidates", cands,
                   "--batch-size", "8", "--batch-sizes", "4,8", "--threads", "1"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "chosen:" in out and "eager" in out
    rec = json.loads((bundle / "manifest.json").read_text())["inference"]
    assert rec["format"] == 1 and rec["images"] == 16 and rec["family"] == "resnet+cbam"
    assert [c["path"] for c in rec["candidates"]] == ["eager", *cands.split(",")]
    assert all({"images_per_s", "top1_agreement", "max_prob_diff", "accepted"} <= set(c) for c in rec["candidates"])
    assert rec["criteria"] == {"min_top1_agreement": 0.995, "max_prob_diff": 0.01, "min_routing_agreement": 0.995,
                               "max_warmup_s": 10.0}
    assert {(t["batch_size"], t["threads"]) for t in rec["tuning"]} == {(4, 1), (8, 1)}
    assert (bundle / "inference.onnx").exists() == (rec["path"] == "onnx")
    p = Predictor(bundle)
    assert p.engine.path == rec["path"] and p.engine_note is None
    preds = p.predict(images[:6], heatmaps=True)
    ref = Predictor(bundle, inference=False).predict(images[:6])
    assert [a.leaf for a in preds] == [b.leaf for b in ref]
    assert all(a.heatmap_kind == "cbam" and a.heatmap.shape == (64, 64) for a in preds)


def test_optimize_refuses_an_archive(bundles, images, tmp_path):
    import zipfile

    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in bundles["convnext"].iterdir():
            zf.write(f, f.name)
    rc = cli_main(["optimize", str(archive), "--data", str(images[0].parent)])
    assert rc == 2


def test_optimize_checks_its_options_before_it_loads_anything(bundles, images, capsys):
    """An unknown path was a ValueError traceback after the model and the images had loaded; 0 images meant all."""
    folder = str(images[0].parent)
    for bad, words in ((["--candidates", "foo"], "unknown inference path(s) foo; known: channels_last"),
                       (["--max-images", "0"], "--max-images"), (["--max-warmup-s", "-1"], "--max-warmup-s")):
        with pytest.raises(SystemExit) as stop:
            cli_main(["optimize", str(bundles["convnext"]), "--data", folder, *bad])
        assert stop.value.code == 2 and words in capsys.readouterr().err


# ------------------------------------------------------------------------------------ pipeline
def test_decoding_runs_a_bounded_distance_ahead_and_first_batch_is_small(bundles):
    p = Predictor(bundles["convnext"], batch_size=4, decode_workers=1, inference=False)
    pulled = 0

    def images():
        nonlocal pulled
        for i in range(100):
            pulled += 1
            yield Image.fromarray(np.full((40, 40, 3), i, dtype=np.uint8))

    sizes: list[int] = []
    real = p.forward_batch
    p.forward_batch = lambda b: (sizes.append(int(b.shape[0])), real(b))[1]
    it = p.iter_predict(images(), first_batch=1)
    first = next(it)
    assert first.error is None and sizes == [1]
    assert pulled <= 2 * 4 + 1 + 4  # never the whole input
    rest = list(it)
    assert len(rest) == 99 and sizes[:3] == [1, 4, 4] and sum(sizes) == 100
    it2 = p.iter_predict(images())
    next(it2)
    it2.close()  # closing early must not hang or raise


def test_compiled_kernels_are_cached_in_a_per_user_folder_that_outlives_a_reboot(monkeypatch, tmp_path):
    monkeypatch.delenv(eng.COMPILE_CACHE_ENV, raising=False)
    folder = eng.compile_cache_dir()
    assert "fma-judge" in str(folder) and torch.__version__ in folder.name
    assert not str(folder).startswith(str(Path(__import__("tempfile").gettempdir())))
    monkeypatch.setenv(eng.COMPILE_CACHE_ENV, str(tmp_path / "mine"))
    assert eng.compile_cache_dir() == tmp_path / "mine"  # an administrator's choice wins


def test_a_path_no_faster_side_by_side_gives_way_to_the_next_fastest(bundles, images, monkeypatch):
    from models.inference.interleave import Interleaved

    real_run = opt.run_engine
    screened = {"channels_last": 30.0, "onnx": 20.0}

    def screened_fast(engine, batches, postprocess, **kw):  # the screening ranks channels_last first, onnx second
        probs, warm, _ips, done = real_run(engine, batches, postprocess, **kw)
        return probs, warm, screened.get(getattr(engine, "path", ""), 10.0), done

    checked = []

    def alternated(baseline, candidate, rounds, **kw):  # side by side channels_last is no faster; onnx is 1.4x
        baseline(), candidate()
        ratio = 0.95 if not checked else 1.4
        checked.append(ratio)
        return Interleaved((10.0,) * rounds, (10.0 * ratio,) * rounds, ("baseline",) * rounds)

    monkeypatch.setattr(opt, "run_engine", screened_fast)
    monkeypatch.setattr(side_by_side, "interleave", alternated)
    cands = ["channels_last", "onnx"] if HAS_ORT else ["channels_last"]
    result = opt.optimize_bundle(bundles["convnext"], images, candidates=cands, batch_size=8, batch_sizes=(8,),
                                 threads=[1])
    assert result.record.interleaved["rejected_paths"] == ["channels_last"]
    if HAS_ORT:
        assert checked == [0.95, 1.4] and result.chosen == "onnx"
        assert result.record.speedup_vs_eager == pytest.approx(1.4) and result.graph is not None
        assert result.record.onnx is not None and result.record.onnx.path == "onnx"
    else:
        assert result.chosen == "eager" and result.record.speedup_vs_eager == 1.0


def test_screen_only_judges_every_path_on_every_image_and_times_nothing_side_by_side(bundles, images, monkeypatch,
                                                                                     tmp_path):
    from bench import trained_paths

    real_run, real_build, aborts = opt.run_engine, opt.build_engine, []

    def slow_candidates(engine, batches, postprocess, **kw):  # every candidate far slower than eager: normally cut
        aborts.append(kw.get("abort_below"))
        probs, warm, ips, done = real_run(engine, batches, postprocess, **kw)
        return probs, warm, ips / (1 if getattr(engine, "path", "eager") == "eager" else 100), done

    def build(model, path, **kw):
        return _Perturbed(model) if path == "channels_last" else real_build(model, path, **kw)

    def never(*_a, **_k):
        raise AssertionError("screen_only times nothing in alternation")

    monkeypatch.setattr(opt, "run_engine", slow_candidates)
    monkeypatch.setattr(opt, "build_engine", build)
    monkeypatch.setattr(side_by_side, "interleave", never)
    result = opt.optimize_bundle(bundles["convnext"], images, candidates=["channels_last", "bf16"], batch_size=8,
                                 threads=[1], screen_only=True)
    assert aborts and all(a is None for a in aborts)  # no path stopped early for speed
    assert result.tuning == [] and result.record.interleaved == {}
    by_path = {c["path"]: c for c in result.record.candidates}
    assert by_path["channels_last"]["n"] == len(images) and by_path["channels_last"]["top1_agreement"] < 0.5
    assert not by_path["channels_last"]["accepted"] and result.chosen != "channels_last"

    # the bench reports the same evidence, a row per path
    assert trained_paths.main([str(bundles["convnext"]), "--data", str(images[0].parent), "--max-images", "200",
                               "--threads", "1", "--paths", "channels_last,bf16", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "trained_paths.json").read_text())
    rows = {c["path"]: c for c in doc["results"][0]["paths"]}
    assert rows["channels_last"]["reason"].startswith("predictions differ") and rows["eager"]["accepted"]
    md = (tmp_path / "trained_paths.md").read_text()
    assert "| channels_last |" in md and "predictions differ" in md
