"""Shared fixtures: the demo taxonomy, tiny networks of each family, saved bundles, test images."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

ROOT = Path(__file__).resolve().parents[1]
# The real ImageNet weights (tests that need them skip without): ../shared beside the checkout, else the project's
# machines' /work/shared (a fresh clone elsewhere, as CI's, still finds them there).
SHARED_WEIGHTS = next((p for p in (ROOT.parent / "shared" / "weights" / "efficientnet_lite0_in1k.safetensors",
                                   Path("/work/shared/weights/efficientnet_lite0_in1k.safetensors")) if p.is_file()),
                      ROOT.parent / "shared" / "weights" / "efficientnet_lite0_in1k.safetensors")

# Tiny members of each backbone family the research compared (same code paths as full size).
TINY = {
    "convnext": {"backbone": "convnext_tiny", "backbone_kwargs": {"depths": [1, 1, 1, 1], "dims": [16, 32, 64, 128]}},
    "resnet_cbam": {"backbone": "resnet50", "cbam": True, "backbone_kwargs": {"layers": [1, 1, 1, 1]}},
    "vit": {"backbone": "vit_tiny_patch16_224",
            "backbone_kwargs": {"img_size": 64, "depth": 2, "embed_dim": 48, "num_heads": 3}},
}


# The test files that take minutes, slowest first: handed out before the others, so that with several workers
# (``dev.py test`` runs pytest-xdist, a file per worker at a time) the long ones do not start last.
# Measured 2026-12-02 (seconds on the 2-core machine): 318, 157, 95, 88, 86, 61, 47, 35, 34, 33.
SLOW_FILES = ("test_bench_smoke.py", "test_train.py", "test_queue.py", "test_app.py", "test_predicting.py",
              "test_store.py", "test_noninteractive.py", "test_demo_model.py", "test_cbam.py", "test_runtime.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FILES)))  # stable: the rest keep their order


MODAL = {"QMessageBox": ("warning", "critical", "information", "question", "about"),
         "QFileDialog": ("getOpenFileName", "getOpenFileNames", "getExistingDirectory", "getSaveFileName"),
         "QInputDialog": ("getText", "getMultiLineText", "getItem", "getInt", "getDouble")}
DIALOG_DEADLINE_MS = 30_000


@pytest.fixture(autouse=True)
def _priority_stays(monkeypatch):
    """``fma-judge classify`` lowers its process's CPU priority (``os.nice``): run in a test's own process, each call
    lowered the test worker's for the rest of the run. A test that checks it patches ``os.nice`` itself."""
    monkeypatch.setattr(os, "nice", lambda _n: 0, raising=False)


@pytest.fixture(autouse=True)
def _test_clicks_are_never_stale(request, monkeypatch):
    """Qt's test clicks carry made-up press times (2, 505, 1008 ms…), not 0: a click made after a test's code ran
    for 1.5 s without the event loop (a slow step, a loaded machine) was dropped as a stalled window's (a flaky-test
    hunt found it). The stale-keys tests keep the real limit."""
    if request.module.__name__.rsplit(".", 1)[-1] != "test_stale_keys":
        from app.ui import stale_keys

        monkeypatch.setattr(stale_keys, "STALE_S", 1e9)


@pytest.fixture(autouse=True)
def _no_unanswered_modal_dialog(monkeypatch):
    """A modal dialog that nobody answers would hang the test (offscreen, nobody clicks): it fails the test instead,
    naming the dialog. The message boxes and file dialogs fail at once (a test that expects one patches it itself,
    after this fixture); a dialog's ``exec`` runs (a test may answer it from a timer) and is rejected, failing the
    test, when still open after :data:`DIALOG_DEADLINE_MS`."""
    try:
        from PySide6 import QtWidgets
        from PySide6.QtCore import QTimer
    except ImportError:  # a machine without Qt's libraries: no dialog can open
        yield
        return

    opened: list[str] = []

    def refuse(kind: str):
        def modal(*args, **_kwargs):
            texts = [a for a in args if isinstance(a, str)]
            opened.append(f"{kind}{texts[:2]}")
            raise AssertionError(f"a modal dialog opened in a test, where nobody answers it: {opened[-1]}")
        return modal

    for cls, methods in MODAL.items():
        for method in methods:
            monkeypatch.setattr(getattr(QtWidgets, cls), method, refuse(f"{cls}.{method}"))
    from app.ui import file_dialogs  # the app's own file dialogs (they never open the files they list)

    for method in ("choose_folder", "choose_files", "choose_save_file"):
        monkeypatch.setattr(file_dialogs, method, refuse(f"file_dialogs.{method}"))
    real_exec = QtWidgets.QDialog.exec

    def exec_with_deadline(dialog, *args):
        def give_up() -> None:
            opened.append(f"{type(dialog).__name__} {dialog.windowTitle()!r} unanswered after {DIALOG_DEADLINE_MS} ms")
            dialog.reject()

        timer = QTimer(dialog)
        timer.setSingleShot(True)
        timer.timeout.connect(give_up)
        timer.start(DIALOG_DEADLINE_MS)
        try:
            return real_exec(dialog, *args)
        finally:
            with contextlib.suppress(RuntimeError):  # the dialog deleted itself on closing
                timer.stop()

    monkeypatch.setattr(QtWidgets.QDialog, "exec", exec_with_deadline)
    yield
    if opened:  # raised inside a Qt slot, the error was only printed
        pytest.fail(f"modal dialogs opened in the test: {opened}")


@pytest.fixture(scope="session")
def taxonomy():
    from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy

    return Taxonomy.from_yaml(DEMO_TAXONOMY_PATH)


def make_tiny_bundle(out: Path, taxonomy, family: str = "convnext", head: str = "independent",
                     input_size: int = 64, seed: int = 0, **extra) -> Path:
    """A randomly initialised tiny network saved as a real bundle."""
    from models.bundle.io import build_manifest, save_bundle
    from models.nn.config import NetworkConfig
    from models.nn.network import build_network

    torch.manual_seed(seed)
    cfg = NetworkConfig(head=head, head_dim=32, **TINY[family])
    model = build_network(cfg, taxonomy, load_pretrained=False).eval()
    data_cfg = {"input_size": [3, input_size, input_size], "mean": [0.485, 0.456, 0.406],
                "std": [0.229, 0.224, 0.225], "interpolation": "bilinear"}
    manifest = build_manifest(model=model, taxonomy=taxonomy, data_config=data_cfg,
                              name=f"tiny-{family}", **extra)
    return save_bundle(out, model, manifest)


@pytest.fixture(scope="session")
def tree150():
    """The factory-scale tree: 150 leaves over 4 ragged levels (resources/taxonomy/fma_150.yaml)."""
    from models.taxonomy import Taxonomy

    return Taxonomy.from_yaml(Path(__file__).resolve().parents[1] / "resources/taxonomy/fma_150.yaml")


@pytest.fixture()
def engine(tmp_path):
    """A fresh SQLite store, migrated (test modules that run on PostgreSQL too define their own)."""
    from app.store.db import init_db, make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    init_db(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, taxonomy) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny", taxonomy)


def write_image(path: Path, mode: str = "RGB", size: tuple[int, int] = (80, 60), seed: int = 0) -> Path:
    """Write a random image in a given Pillow mode (RGB, L, RGBA, I;16 ...)."""
    rng = np.random.default_rng(seed)
    w, h = size
    if mode == "I;16":
        img = Image.fromarray(rng.integers(1000, 40000, (h, w), dtype=np.uint16))
    elif mode == "L":
        img = Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8), mode="L")
    elif mode == "RGBA":
        img = Image.fromarray(rng.integers(0, 255, (h, w, 4), dtype=np.uint8), mode="RGBA")
    else:
        img = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), mode="RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def make_rejudge_bundle(out: Path, taxonomy, family: str = "convnext") -> Path:
    """A tiny bundle calibrated so that every image goes to a person (no leaf has a threshold)."""
    from models.bundle.files import read_bundle_manifest, write_bundle_manifest
    from models.routing.policy import Calibration

    path = make_tiny_bundle(out, taxonomy, family=family)
    cal = Calibration(thresholds=dict.fromkeys(taxonomy.leaves), target_purity=0.99,
                      created="2025-01-01T00:00:00+00:00", temperature=1.0)
    write_bundle_manifest(path, read_bundle_manifest(path).replace(temperature=1.0, calibration=cal))
    return path


def open_window(qtbot, engine, bundle: Path | None, tmp_path: Path, monkeypatch, *, analyst: str = "alice",
                lang: str = "en"):
    """The main window on ``engine`` with ``bundle`` loaded (None: no model), shown and exposed, settings in
    ``tmp_path``. The caller closes it (a fixture yields it, then calls ``close()``)."""
    from app.services.judging import JudgingService
    from app.ui.app import open_settings
    from app.ui.main_window import MainWindow

    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    win = MainWindow(JudgingService(engine, analyst), lang=lang, settings=open_settings())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    if bundle is not None:
        with qtbot.waitSignal(win.worker.modelLoaded, timeout=60_000):
            win.load_model(bundle)
    return win


def bench_store_queue():
    """``bench/store_queue.py`` as a module: the 200k-image queue store generator the queue tests check against."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_store_queue", ROOT / "bench" / "store_queue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_on_screen(qtbot, win) -> None:
    """Until the image on screen is drawn: a judging key on one not drawn yet judges nothing (since 2026-12-07)."""
    qtbot.waitUntil(lambda: win.current_image_id in win.images, timeout=10_000)
