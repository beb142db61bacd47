"""Shared pieces of the benchmarks: machine facts, peak memory, JSON output, synthetic data, bundles."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.sysinfo import cpu_name, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROUTING_DEMO = ROOT / "resources" / "demo" / "model"
"""The first demo bundle (EfficientNet-Lite0), on which the README's routing figures of issue #17 were measured;
the routing benches default to it. The app's default is :data:`app.demo.DEMO_MODEL`."""


def exported_demo() -> Path:
    """The app's default demo model with its workstation runtime graphs, where ``installer/build.py`` writes it."""
    from app.demo import DEMO_MODEL

    return ROOT / "build" / "installer" / "demo" / DEMO_MODEL.name

# Full-size members of the two families the issue names; tiny ones (same code paths) for --quick.
FAMILIES: dict[str, dict[str, Any]] = {
    "convnext_tiny": {"backbone": "convnext_tiny"},
    "resnet50_cbam": {"backbone": "resnet50", "cbam": True},
}
TINY: dict[str, dict[str, Any]] = {
    "convnext_tiny": {"backbone": "convnext_tiny",
                      "backbone_kwargs": {"depths": [1, 1, 1, 1], "dims": [16, 32, 64, 128]}},
    "resnet50_cbam": {"backbone": "resnet50", "cbam": True, "backbone_kwargs": {"layers": [1, 1, 1, 1]}},
}


def log(msg: str) -> None:
    print(msg, flush=True)


def spinners(n: int) -> list[subprocess.Popen]:
    """One busy process per core asked for: the machine another job keeps busy (kill them when done)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine() -> dict[str, Any]:
    """What the figures depend on, including how busy the machine was."""
    info: dict[str, Any] = {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
                            "python": platform.python_version(), "load_average": load_average()}
    try:
        import torch

        from models.inference.engine import bf16_supported

        info.update(torch=torch.__version__, bf16=bf16_supported(), torch_threads=torch.get_num_threads())
    except ImportError:
        pass
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = None
    return info


def write_result(out: Path, name: str, quick: bool, results: dict[str, Any], started: float) -> Path:
    """Write ``out/<name>.json``: the results plus machine, timing and peak RSS."""
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": name,
        "quick": quick,
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "wall_s": round(time.perf_counter() - started, 2),
        "peak_rss_mb": peak_rss_mb(),
        "machine": machine(),
        "results": results,
    }
    path = out / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    log(f"peak RSS {doc['peak_rss_mb']} MiB; wrote {path}")
    return path


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def ratio_line(label: str, value: float, ref: float, unit: str, target: str = "") -> str:
    r = value / ref if ref else float("nan")
    return f"  {label:<44} {r:6.2f}x   ({value:.2f} vs {ref:.2f} {unit}){'  target ' + target if target else ''}"


# ------------------------------------------------------------------------------------------- data
def synth_images(folder: Path, n: int, *, size: int = 256, seed: int = 0) -> list[Path]:
    """``n`` micrograph-like PNGs (panel grid, a defect blob, sensor noise); reused when already there."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"img_{i:05d}.png" for i in range(n)]
    if all(p.exists() for p in paths):
        return paths
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for path in paths:
        period = rng.uniform(18, 40)
        grid = 0.5 + 0.25 * np.sign(np.sin(xx / period * np.pi)) * np.sign(np.sin(yy / period * np.pi))
        cx, cy = rng.uniform(0.2, 0.8, 2) * size
        r = rng.uniform(4, size / 6)
        blob = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)))
        tint = rng.uniform(0.6, 1.0, 3)
        img = grid[..., None] * tint - 0.4 * blob[..., None] * rng.uniform(0.3, 1.0, 3)
        img += rng.normal(0, 0.03, img.shape)
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8), mode="RGB").save(path)
    return paths


def make_bundle(out: Path, family: str, *, quick: bool, seed: int = 0) -> Path:
    """A randomly initialised network of ``family`` saved as a real bundle (224 px; 64 px when quick).

    Random weights run exactly as fast as trained ones. The classifier logits of a random network are
    nearly flat, so they are scaled up (x8) to give confidences like a trained model's; otherwise every
    Top-1 is a near-tie and the agreement figures would say nothing.
    """
    import torch

    from models.bundle.io import build_manifest, save_bundle
    from models.nn.config import NetworkConfig
    from models.nn.network import build_network
    from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy

    if (out / "manifest.json").exists():
        return out
    taxonomy = Taxonomy.from_yaml(DEMO_TAXONOMY_PATH)
    torch.manual_seed(seed)
    cfg = NetworkConfig(head="independent", head_dim=256, **(TINY if quick else FAMILIES)[family])
    model = build_network(cfg, taxonomy, load_pretrained=False).eval()
    with torch.no_grad():
        for clf in model.head.classifiers:
            clf.weight.mul_(8.0)
            clf.bias.mul_(8.0)
    size = 64 if quick else 224
    data_cfg = {"input_size": [3, size, size], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                "interpolation": "bilinear"}
    manifest = build_manifest(model=model, taxonomy=taxonomy, data_config=data_cfg,
                              name=f"bench-{family}")
    return save_bundle(out, model, manifest)


def quick_candidates() -> list[str]:
    """The paths tried in --quick runs (torch.compile takes tens of seconds even on tiny models)."""
    return ["channels_last", "bf16_channels_last", "onnx"]


def same_model(copy: Path, source: Path) -> bool:
    """Whether a bundle folder a benchmark made from ``source`` (optimised, runtime graphs exported) still holds
    the same model: their manifests agree but for the inference path and the runtime graphs."""
    from models.bundle.files import read_parts

    def model(bundle: Path) -> str:
        manifest = json.loads(read_parts(bundle, weights=False)[0])
        manifest.pop("inference", None)
        manifest.pop("runtime", None)
        return json.dumps(manifest, sort_keys=True)

    return model(copy) == model(source)


def prepared_bundle(work: Path, family: str, *, quick: bool, images: Sequence[Path] | None = None,
                    say: Callable[[str], None] = log, source: Path | None = None) -> tuple[Path, dict[str, Any] | None]:
    """The family's bundle under ``work`` (a copy of ``source``, a trained bundle, when given, copied again when
    ``source`` changed: its manifest, the measured path aside; else random weights, :func:`make_bundle`),
    optimised (``fma-model optimize``) unless already done.

    Returns the bundle path and the optimisation summary when it ran now (None when reused).
    """
    import shutil

    from models.bundle.files import read_bundle_manifest
    from models.inference.optimize import optimize_bundle, save_result

    cached = work / "bundles" / family
    if source is not None and (cached / "manifest.json").exists() and not same_model(cached, source):
        say(f"[bench] {family}: {source} changed (weights or calibration) since the copy optimised before; "
            "copying it again")
        shutil.rmtree(cached)
    if source is None and (cached / "manifest.json").exists() and read_bundle_manifest(cached).train is not None:
        say(f"[bench] {family}: {cached} is a copy of a trained bundle no longer given; random weights again")
        shutil.rmtree(cached)
    if source is not None and not (cached / "manifest.json").exists():
        shutil.copytree(source, cached, dirs_exist_ok=True)
    bundle = cached if source is not None else make_bundle(cached, family, quick=quick)
    if read_bundle_manifest(bundle).inference is not None:
        return bundle, None
    imgs = list(images) if images is not None else synth_images(work / "images_opt", 16 if quick else 200, seed=1)
    t0 = time.perf_counter()
    result = optimize_bundle(bundle, imgs, candidates=quick_candidates() if quick else None,
                             batch_size=8 if quick else 16, batch_sizes=(8,) if quick else (8, 16, 32),
                             threads=(1,) if quick else None, log=say)
    save_result(bundle, result)
    return bundle, {"optimize_s": round(time.perf_counter() - t0, 1), "chosen": result.chosen}


@contextlib.contextmanager
def pg_schema(base_url: str) -> Iterator[str]:
    """A URL of the scratch server whose connections use a new, empty schema (dropped afterwards)."""
    from sqlalchemy import make_url, text

    from app.store.db import make_engine

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base_url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def offscreen_window(tmp: Path, name: str, bundle: Path | None) -> tuple[Any, Any, Any, float]:
    """The app's main window, offscreen, on a fresh SQLite store ``tmp/NAME.sqlite3`` (settings ``tmp/NAME.ini``),
    shown, with ``bundle`` loaded (None: no model). Returns the QApplication, the engine, the window and the load
    time in seconds.

    Raises:
        RuntimeError: the model did not load.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    quiet_offscreen_qt()
    os.environ["FMA_JUDGE_SETTINGS"] = str(tmp / f"{name}.ini")
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from app.services.judging import JudgingService
    from app.store.db import init_db, make_engine
    from app.ui.app import open_settings
    from app.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    engine = make_engine(f"sqlite:///{tmp / f'{name}.sqlite3'}")
    init_db(engine)
    win = MainWindow(JudgingService(engine, "bench"), lang="en", settings=open_settings())
    win.show()
    if bundle is None:
        return app, engine, win, 0.0
    loop = QEventLoop()
    win.worker.modelLoaded.connect(lambda _i: loop.quit())
    win.worker.modelFailed.connect(lambda msg: (print(msg, file=sys.stderr), loop.quit()))
    t0 = time.perf_counter()
    win.load_model(bundle)
    loop.exec()
    if win.model is None:
        raise RuntimeError("the model did not load")
    return app, engine, win, time.perf_counter() - t0


class StallProbe:
    """The analyst's side of a window benchmark: a precise 10 ms ``QTimer`` notes how late each tick is (how long
    the event loop was held up), and every ``move_ms`` the window moves to the next image, each move timed.

    ``lateness`` (ms per tick), ``moves`` (ms per move) and ``worst`` ((s after :meth:`start`, ms late) of the
    ticks over 100 ms late) fill while it runs; ``on_tick`` is called at each tick (e.g. to re-arm a watchdog).
    """

    def __init__(self, win: Any, move_ms: int = 2000, on_tick: Callable[[], None] | None = None) -> None:
        from PySide6.QtCore import QElapsedTimer, Qt, QTimer

        self.win, self.on_tick = win, on_tick
        self.lateness: list[float] = []
        self.moves: list[float] = []
        self.worst: list[tuple[float, float]] = []
        self.t0 = 0.0
        self._clock = QElapsedTimer()
        self._last = 0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._mover = QTimer()
        self._mover.setInterval(move_ms)
        self._mover.timeout.connect(self._move)

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self._clock.start()
        self._timer.start()
        self._mover.start()

    def stop(self) -> None:
        self._timer.stop()
        self._mover.stop()

    def _tick(self) -> None:
        if self.on_tick is not None:
            self.on_tick()
        now = self._clock.nsecsElapsed()
        if self._last:
            self.lateness.append(max(0.0, (now - self._last) / 1e6 - 10.0))
            if self.lateness[-1] > 100:
                self.worst.append((round(time.perf_counter() - self.t0, 2), round(self.lateness[-1])))
        self._last = now

    def _move(self) -> None:
        win = self.win
        if win.items and win.current < len(win.items) - 1:
            t = time.perf_counter()
            win.move(1)
            self.moves.append((time.perf_counter() - t) * 1000)

    def figures(self) -> dict[str, Any]:
        """Ticks, stall p50/p99/max (ms), and the moves' median and max (ms)."""
        late, moves = self.lateness, self.moves
        return {"ticks": len(late), "stall_p50_ms": round(percentile(late, 50), 2),
                "stall_p99_ms": round(percentile(late, 99), 2), "stall_max_ms": round(max(late, default=0.0), 2),
                "move_next_ms_median": round(median(moves), 2) if moves else None,
                "move_next_ms_max": round(max(moves), 2) if moves else None, "moves": len(moves)}


def quiet_offscreen_qt() -> None:
    """Drop the offscreen plugin's "This plugin does not support propagateSizeHints()" (hundreds of lines in a
    bench's output, a newcomer's report) and pass every other Qt message on to stderr as Qt would."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_kind, _context, message: str) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)

