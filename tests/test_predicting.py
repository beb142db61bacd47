"""The Qt-free predicting service, ``fma-judge classify``, and stores made by earlier versions."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT, make_tiny_bundle, write_image

from app.services import batches
from app.services.predicting import ModelLoadError, PredictingService
from app.store import repo
from app.store.db import init_db, make_engine, session_scope
from app.store.records import FILE_REPLACED, PredictionRecord

OLD_STORE = ROOT / "tests" / "data" / "store_before_refactor.sqlite3"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, taxonomy) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("predicting") / "model", taxonomy, input_size=32)


@pytest.fixture()
def folder(tmp_path) -> Path:
    out = tmp_path / "batch"
    for i in range(11):
        write_image(out / f"img_{i:02d}.png", size=(48, 40), seed=i)
    (out / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return out


def test_predict_saves_each_chunk_and_hands_back_the_stored_records(engine, bundle, folder, monkeypatch):
    service = PredictingService(engine, chunk_size=4, first_chunk=2)
    info = service.load(bundle)
    with session_scope(engine, action="read") as s:
        assert repo.get_model_version(s, info.version) is not None  # registered on load
    opened = batches.open_folder(engine, folder)
    todo = service.todo(opened.items, list(opened.unreadable))
    assert len(todo) == 11 and len(opened.unreadable) == 1  # the broken header is not given to the model
    conversions = []
    real = PredictionRecord.from_prediction
    monkeypatch.setattr(PredictionRecord, "from_prediction",
                        classmethod(lambda cls, p, stamp=None: conversions.append(p.file) or real(p, stamp)))
    chunks = list(service.predict(todo))
    assert [len(c.items) for c in chunks] == [2, 4, 4, 1] and chunks[-1].done == chunks[-1].total == 11
    assert sorted(conversions) == sorted(path for _, path in todo)  # each prediction converted exactly once
    records = dict(pair for c in chunks for pair in c.items)
    assert all(r.id is not None and r.model_version == info.version and r.leaf for r in records.values())
    with session_scope(engine, action="read") as s:
        stored = repo.latest_predictions(s, list(records), model_version=info.version)
    assert {i: r.id for i, r in stored.items()} == {i: r.id for i, r in records.items()}
    assert service.todo(batches.batch_items(engine, opened.batch_id), list(opened.unreadable)) == []


def test_a_file_written_over_before_the_model_reads_it_gives_no_prediction_to_the_image_it_held(engine, bundle,
                                                                                             folder):
    """Walk-through: a file fixed in place between the folder's reading and the model's gave the old image (an empty
    file's) the new picture's prediction, and so every empty file opened later shows it."""
    service = PredictingService(engine, chunk_size=4, first_chunk=2)
    service.load(bundle)
    (folder / "zz_broken.png").unlink()
    (folder / "a_empty.png").write_bytes(b"")
    opened = batches.open_folder(engine, folder)
    empty = next(it.image for it in opened.items if it.image.path.endswith("a_empty.png"))
    target = next(it.image for it in opened.items if it.image.path.endswith("img_03.png"))
    original = Path(target.path).read_bytes()
    shutil.copyfile(folder / "img_07.png", target.path)  # written over with another picture
    write_image(folder / "a_empty.png", size=(48, 40), seed=99)  # the empty file fixed in place
    todo = service.todo(opened.items, [])  # (the window's first part: before the folder is read again)
    records = dict(pair for c in service.predict(todo) for pair in c.items)
    assert records[target.image_id].error == FILE_REPLACED and records[target.image_id].leaf is None
    assert records[empty.image_id].error == FILE_REPLACED and records[empty.image_id].leaf is None
    assert all(r.error is None and r.leaf for i, r in records.items() if i not in (target.image_id, empty.image_id))
    with session_scope(engine, action="read") as s:
        stored = repo.latest_predictions(s, [target.image_id, empty.image_id])
    assert {r.error for r in stored.values()} == {FILE_REPLACED}
    Path(target.path).write_bytes(original)  # put back: predicted at the next opening
    again = service.todo(batches.batch_items(engine, opened.batch_id), [])
    assert {i for i, _ in again} == {target.image_id, empty.image_id}
    records = dict(pair for c in service.predict(again) for pair in c.items)
    assert records[target.image_id].leaf and records[empty.image_id].error == FILE_REPLACED


def test_cancel_stops_after_the_current_chunk_and_keeps_what_was_saved(engine, bundle, folder):
    service = PredictingService(engine, chunk_size=4, first_chunk=2)
    service.load(bundle)
    opened = batches.open_folder(engine, folder)
    cancel = threading.Event()
    seen = []
    for chunk in service.predict(service.todo(opened.items, list(opened.unreadable)), cancel=cancel):
        seen.append(chunk)
        cancel.set()
    assert len(seen) == 1 and len(seen[0].items) == 2
    left = service.todo(batches.batch_items(engine, opened.batch_id), list(opened.unreadable))
    assert len(left) == 9


def test_a_bad_bundle_is_a_clear_error_and_nothing_runs(engine, tmp_path):
    service = PredictingService(engine)
    (tmp_path / "model.pth").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ModelLoadError, match="pickle"):
        service.load(tmp_path / "model.pth")
    with pytest.raises(ModelLoadError, match="no model is loaded"):
        list(service.predict([(1, "x.png")]))


def _broken(bundle: Path, out: Path, **changes) -> Path:
    """A copy of ``bundle`` whose manifest has ``changes`` (values the manifest check refuses)."""
    import json

    shutil.copytree(bundle, out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    (out / "manifest.json").write_text(json.dumps({**manifest, **changes}), encoding="utf-8")
    return out


def test_a_malformed_manifest_is_one_line_from_the_service_naming_the_field(engine, bundle, tmp_path):
    """#13: `input_size` 100000 or `std` 0 used to load, then every image failed as "cannot read image"."""
    service = PredictingService(engine)
    for name, changes, words in (("size", {"input_size": [3, 100000, 100000]}, "'input_size' must be"),
                                 ("std", {"std": [0.2, 0.0, 0.2]}, "'std' must be a positive finite number")):
        broken = _broken(bundle, tmp_path / name, **changes)
        for load in (service.load, PredictingService.read_manifest):
            with pytest.raises(ModelLoadError, match=words) as info:
                load(broken)
            assert str(info.value).startswith(f"{broken}/manifest.json: ") and "\n" not in str(info.value)
    assert service.predictor is None and service.info is None


def _classify(*args: str, tmp_path: Path, process: bool = False) -> subprocess.CompletedProcess:
    """``fma-judge classify ARGS``: in a process of its own (the console script) with ``process``, else called in
    this one (a process costs 3-4 s of start-up; the suite ran 12 of them in one test), with its output captured."""
    if process:
        exe = Path(sys.executable).parent / "fma-judge"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "app"]
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FMA_JUDGE_SETTINGS=str(tmp_path / "settings.ini"))
        return subprocess.run([*cmd, "classify", *args], capture_output=True, text=True, timeout=300, cwd=ROOT,
                              env=env)
    import contextlib
    import io
    from unittest import mock

    from app import commands
    from app.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, {"FMA_JUDGE_SETTINGS": str(tmp_path / "settings.ini")}), \
            mock.patch.object(commands, "_yield_to_windows", lambda: None), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):  # (nice would stay on this worker)
        try:
            rc = main(["classify", *args])
        except SystemExit as exc:  # argparse's usage error: the exit status a process would have
            rc = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(["fma-judge", "classify", *args], rc, out.getvalue(), err.getvalue())


def test_classify_command_fills_a_batch_once(tmp_path, bundle, folder):
    db = f"sqlite:///{tmp_path / 'team.sqlite3'}"
    first = _classify(str(folder), "--db", db, "--model", str(bundle), tmp_path=tmp_path, process=True)
    assert first.returncode == 0, first.stderr
    assert "12 images; predicted 11 now" in first.stdout and "1 unreadable" in first.stdout
    named = [line for line in first.stdout.splitlines() if line.startswith("  unreadable: ")]
    assert len(named) == 1 and named[0].startswith(f"  unreadable: {folder / 'zz_broken.png'}: ")  # which, and why
    again = _classify(str(folder), "--db", db, "--model", str(bundle), tmp_path=tmp_path)
    assert again.returncode == 0 and "predicted 0 now" in again.stdout and "11 already" in again.stdout
    missing = _classify(str(tmp_path / "nope"), "--db", db, "--model", str(bundle), tmp_path=tmp_path)
    assert missing.returncode == 2 and f"{tmp_path / 'nope'} not found" in missing.stderr
    a_file = _classify(str(folder / "img_00.png"), "--db", db, "--model", str(bundle), tmp_path=tmp_path)
    assert a_file.returncode == 2 and "is a file, not a folder" in a_file.stderr
    two = tmp_path / "two"
    write_image(two / "good.png", size=(96, 80))
    cut = write_image(two / "cut.png", size=(96, 80), seed=3)
    cut.write_bytes(cut.read_bytes()[:200])  # the header reads, the pixels do not: the model stores an error
    mixed = _classify(str(two), "--db", db, "--model", str(bundle), tmp_path=tmp_path)
    assert "2 images; predicted 1 now" in mixed.stdout and "1 unreadable" in mixed.stdout, mixed.stdout
    assert "sub-folders" not in mixed.stdout
    write_image(tmp_path / "lot" / "line1" / "a.png", size=(96, 80))  # a lot's images in sub-folders only
    write_image(tmp_path / "lot" / "line2" / "b.png", size=(96, 80), seed=2)
    lot = _classify(str(tmp_path / "lot"), "--db", db, "--model", str(bundle), tmp_path=tmp_path)
    assert "0 images" in lot.stdout and "note: its sub-folders hold 2 more image(s); --recursive (-r)" in lot.stdout
    assert f"  unreadable: {two / 'cut.png'}: " in mixed.stdout  # the model's own reason, found while predicting
    bad_model = _classify(str(folder), "--db", db, "--model", str(tmp_path / "nope"), tmp_path=tmp_path)
    assert bad_model.returncode == 2 and "model bundle not found" in bad_model.stderr
    assert "Traceback" not in missing.stderr + bad_model.stderr
    assert "no --model given" not in first.stderr
    demo = _classify(str(two), "--db", f"sqlite:///{tmp_path / 'demo.sqlite3'}", tmp_path=tmp_path)
    assert demo.returncode == 0 and "warning: no --model given: the bundled demo model" in demo.stderr, demo.stderr
    # a team that deployed its model (fma-judge deploy): a run without --model takes it, as the app's windows do
    # (it took the demo model, so the night's calls were redone when an analyst opened the folder)
    engine = make_engine(db)
    with session_scope(engine) as s:
        repo.set_team_model(s, bundle_path=bundle, model_version="team", analyst="lead")
    team = _classify(str(two), "--db", db, tmp_path=tmp_path)
    assert team.returncode == 0 and f"no --model given: the team's model {bundle}" in team.stderr, team.stderr
    assert "demo" not in team.stderr
    with session_scope(engine) as s:  # deployed where this computer does not reach: said, nothing predicted
        repo.set_team_model(s, bundle_path=tmp_path / "share" / "v2", model_version="v2", analyst="lead")
    gone = _classify(str(two), "--db", db, tmp_path=tmp_path)
    assert gone.returncode == 2 and f"the team's model {tmp_path / 'share' / 'v2'} (fma-judge deploy, by lead) is " \
        "not reachable from here; give the model with --model BUNDLE" in gone.stderr, gone.stderr
    engine.dispose()


def _undecodable(tmp_path: Path) -> Path:
    """Two good images, a PNG cut to half its bytes (its header reads, its pixels do not: the model stores an error
    row) and a 0-byte one (its header does not read: never given to the model)."""
    out = tmp_path / "undecodable"
    for i in range(2):
        write_image(out / f"good_{i}.png", size=(96, 80), seed=i)
    half = write_image(out / "half.png", size=(96, 80), seed=7)
    half.write_bytes(half.read_bytes()[: half.stat().st_size // 2])
    (out / "zero.png").write_bytes(b"")
    return out


def test_classify_pauses_a_batch_unlike_the_calibration_data_as_the_app_would(tmp_path, taxonomy):
    """A batch classified headless (a scheduler) with a drift of 17x stayed auto-judged, the dashboard showing
    "on", until someone opened it in the app (QE walk-through). classify now looks at the batch as the app does
    when its predictions end: here every image is flagged unfamiliar (20x the calibration's 5 %), so it pauses."""
    from models.bundle.files import read_bundle_manifest, write_bundle_manifest
    from models.routing.policy import Calibration, UnknownFit
    from models.routing.unknown import UnknownDetector

    model = make_tiny_bundle(tmp_path / "calibrated", taxonomy)
    write_bundle_manifest(model, read_bundle_manifest(model).replace(calibration=Calibration(
        thresholds=dict.fromkeys(taxonomy.leaves, 0.0), target_purity=0.99, spot_check=0.0,
        unknown=UnknownDetector(method="max_softmax", threshold=-1.0, temperature=1.0),  # flags every image
        unknown_fit=UnknownFit(selected_by="option", fpr_target=0.05, known_flag_rate=0.05))))
    lot = tmp_path / "lot"
    for i in range(24):
        write_image(lot / f"img_{i:02d}.png", size=(64, 64), seed=i)
    db = f"sqlite:///{tmp_path / 'line.sqlite3'}"
    done = _classify(str(lot), "--db", db, "--model", str(model), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ("drift 20.0× the calibration's share of unfamiliar images (24 of 24 flagged): auto-judging paused for "
            "this batch") in done.stdout, done.stdout
    engine = make_engine(db)
    try:
        with session_scope(engine, action="read") as s:
            (pause,) = repo.pauses(s, read_bundle_manifest(model).model_version)
        assert (pause.scope, pause.reason) == ("batch", "batch_drift")
    finally:
        engine.dispose()
    small = tmp_path / "small lot"  # too few to judge: the line says so (it gave a drift and no verdict)
    for i in range(5):
        write_image(small / f"s_{i}.png", size=(64, 64), seed=50 + i)
    (small / "notes.txt").write_text("the shift's notes")  # and the files not in the batch are named (a copy too)
    (small / "s_0 copy.png").write_bytes((small / "s_0.png").read_bytes())
    done = _classify(str(small), "--db", db, "--model", str(model), tmp_path=tmp_path)
    assert "(5 of 5 flagged): not judged yet: 5 of the 20 images it takes; not paused" in done.stdout, done.stdout
    assert "2 file(s) of the folder not in the batch:" in done.stdout, done.stdout
    assert "notes.txt: not an image (a TXT file)" in done.stdout
    assert "the same picture as s_0.png: the batch holds it once, under that name" in done.stdout \
        or "the same picture as s_0 copy.png: the batch holds it once, under that name" in done.stdout, done.stdout


def test_classify_rerun_counts_an_image_it_could_not_decode_as_unreadable_not_predicted(tmp_path, bundle):
    """A re-run counted the truncated image's stored error row as "already had this model's prediction"."""
    folder, db = _undecodable(tmp_path), f"sqlite:///{tmp_path / 'team.sqlite3'}"
    first = _classify(str(folder), "--db", db, "--model", str(bundle), tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    assert ("4 images; predicted 2 now (not routed, the model has no calibration (fma-model calibrate): 2), "
            in first.stdout), first.stdout
    assert ", 0 already had this model's prediction, 2 unreadable" in first.stdout, first.stdout
    again = _classify(str(folder), "--db", db, "--model", str(bundle), tmp_path=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "4 images; predicted 0 now (-), 2 already had this model's prediction, 2 unreadable" in again.stdout, \
        again.stdout
    for run in (first, again):  # every run names both files, and why
        named = sorted(line.split(": ")[1] for line in run.stdout.splitlines() if line.startswith("  unreadable: "))
        assert named == [str(folder / "half.png"), str(folder / "zero.png")], run.stdout


def test_classify_folder_counts_a_decode_error_as_an_error_on_every_run(engine, bundle, tmp_path):
    folder = _undecodable(tmp_path)
    service = PredictingService(engine)
    service.load(bundle)
    first = service.classify_folder(folder)
    assert (first.images, first.predicted, first.already, first.errors, first.unreadable) == (4, 2, 0, 1, 1)
    assert sum(first.routes.values()) == 2 and not first.cancelled
    again = service.classify_folder(folder)  # the error row is this model's, not predicted again, still an error
    assert (again.images, again.predicted, again.already, again.errors, again.unreadable) == (4, 0, 2, 1, 1)
    assert again.routes == {} and not again.cancelled
    assert sorted(Path(path).name for path, _ in again.problems) == ["half.png", "zero.png"]


def _predictions(db: str) -> dict[str, tuple]:
    """sha256 -> (leaf, confidence, route, error) of every stored prediction."""
    from sqlalchemy import select

    from app.store.schema import Image, Prediction

    engine = make_engine(db)
    try:
        with session_scope(engine, action="read") as s:
            return {sha: (leaf, round(conf or 0.0, 4), route, error) for sha, leaf, conf, route, error in s.execute(
                select(Image.sha256, Prediction.leaf, Prediction.confidence, Prediction.route, Prediction.error)
                .join(Prediction, Prediction.image_id == Image.id))}
    finally:
        engine.dispose()


def test_torchrun_shards_the_classification_over_two_ranks_with_the_same_predictions(tmp_path, bundle, folder):
    """``torchrun --nproc_per_node 2 -m app classify``: two CPU ranks (gloo) each predict their share into one
    database, and the result is what one process stores; rank 0 reports the totals of both."""
    one = f"sqlite:///{tmp_path / 'one.sqlite3'}"
    assert _classify(str(folder), "--db", one, "--model", str(bundle), tmp_path=tmp_path).returncode == 0
    two = f"sqlite:///{tmp_path / 'two.sqlite3'}"
    env = dict(os.environ, FMA_JUDGE_SETTINGS=str(tmp_path / "settings.ini"), OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "app", "classify", str(folder), "--db", two, "--model", str(bundle)],
                         capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "12 images; predicted 11 now" in run.stdout and "1 unreadable" in run.stdout, run.stdout
    assert run.stdout.count("12 images") == 1  # rank 0 alone reports
    assert "rank 0/2: predicted" in run.stderr and "rank 1/2: predicted" in run.stderr and "2 ranks" in run.stderr
    sharded, alone = _predictions(two), _predictions(one)
    assert len(sharded) == 11 and sharded == alone


def test_the_app_opens_a_classified_folder_without_running_the_model(qtbot, tmp_path, bundle, folder, monkeypatch):
    pytest.importorskip("pytestqt")
    from app.services.judging import JudgingService
    from app.ui.app import open_settings
    from app.ui.main_window import MainWindow

    db = f"sqlite:///{tmp_path / 'team.sqlite3'}"
    assert _classify(str(folder), "--db", db, "--model", str(bundle), tmp_path=tmp_path).returncode == 0
    runs = []
    real = PredictingService.predict
    monkeypatch.setattr(PredictingService, "predict", lambda self, items, **kw: runs.append(items) or real(self, items,
                                                                                                             **kw))
    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    engine = make_engine(db)
    win = MainWindow(JudgingService(engine, "alice"), lang="en", settings=open_settings())
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.worker.modelLoaded, timeout=60_000):
        win.load_model(bundle)
    with qtbot.waitSignal(win.allPredicted, timeout=60_000):
        win.open_folder(folder)
    assert runs == []  # the model did not run again
    readable = [it for it in win.items if not it.image.path.endswith("zz_broken.png")]
    assert len(readable) == 11 and all(it.prediction is not None and it.prediction.id for it in readable)
    assert all(it.prediction.model_version == win.model.version for it in readable)
    assert win.list_model.counts() == {"pending": 11, "error": 1}
    win.close()
    engine.dispose()


def test_a_store_made_before_the_refactor_still_opens(tmp_path):
    """``tests/data/store_before_refactor.sqlite3`` was written by commit 4315e1a
    (see ``tests/data/README.md``): a batch of 4, its predictions, 4 judgments and an undo."""
    from models.bundle.manifest import BundleManifest

    db = shutil.copy(OLD_STORE, tmp_path / "old.sqlite3")
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    with session_scope(engine, action="read") as s:
        (version,) = repo.list_model_versions(s)
        manifest = BundleManifest.from_json(repo.model_manifest(s, version.version))
        (batch,) = repo.list_batches(s)
    assert manifest.model_version == version.version and len(manifest.taxonomy.leaves) == 18
    items = batches.batch_items(engine, batch.id, model_version=version.version)
    assert [it.state for it in items] == ["accepted", "corrected", "unknown", "pending"]
    assert all(it.prediction is not None and it.prediction.leaf for it in items)
    assert items[3].judgment is not None and items[3].judgment.status == "reverted"  # the undone note
    engine.dispose()


def test_classify_predicts_what_this_model_has_not_predicted_even_after_another_model(engine, taxonomy, tmp_path,
                                                                                        bundle, folder):
    other = make_tiny_bundle(tmp_path / "other", taxonomy, input_size=32, seed=5)
    first = PredictingService(engine)
    first.load(bundle)
    assert first.classify_folder(folder).predicted == 11
    second = PredictingService(engine)
    second.load(other)
    assert second.classify_folder(folder).predicted == 11
    again = first.classify_folder(folder)  # the newest predictions are the other model's, but this one has its own
    assert (again.predicted, again.already) == (0, 11)


def _window_warning_into(qtbot, engine, monkeypatch, warned: list | None = None):
    """A main window whose warning boxes are recorded in ``warned`` (or dropped) instead of shown."""
    from app.services.judging import JudgingService
    from app.ui.main_window import MainWindow

    monkeypatch.setattr("PySide6.QtWidgets.QMessageBox.warning",
                        lambda *a, **k: None if warned is None else warned.append(a))
    win = MainWindow(JudgingService(engine, "alice"), lang="en")
    qtbot.addWidget(win)
    return win


def _failed_load(qtbot, win, path) -> str:
    """Load ``path`` in the window; the message of the model load that failed."""
    with qtbot.waitSignal(win.worker.modelFailed, timeout=60_000) as failed:
        win.load_model(path)
    return failed.args[0]


def test_a_malformed_manifest_fails_the_model_load_in_the_app_with_its_message(qtbot, engine, bundle, tmp_path,
                                                                               monkeypatch, folder):
    pytest.importorskip("pytestqt")
    broken = _broken(bundle, tmp_path / "broken", input_size=[3, 100000, 100000])
    warned = []
    win = _window_warning_into(qtbot, engine, monkeypatch, warned)
    win.open_folder(folder)
    qtbot.waitUntil(lambda: len(win.items) > 0 and win.current == 0, timeout=30_000)
    message = _failed_load(qtbot, win, broken)
    assert message.startswith(f"{broken}/manifest.json: 'input_size' must be [3, height, width]")
    assert win.model is None and win.status.model_label.text() == "No model"
    assert len(warned) == 1 and message in warned[0][2]  # the analyst reads the same line
    # the start-up's order: the image on screen says the model is loading, then the load fails; it said "loading"
    # until another image was chosen
    win.presenter.set_model("loading")
    win.presenter.current = -1
    win.select(0)
    assert win.panel.waiting.text().startswith("The model is loading")
    win._model_failed("the weights are damaged")
    assert win.panel.waiting.text().startswith("No model is loaded"), win.panel.waiting.text()
    win.close()


def test_a_database_that_cannot_be_written_fails_the_model_load_in_the_app(qtbot, engine, bundle, monkeypatch):
    pytest.importorskip("pytestqt")
    from app.store.errors import StoreError

    def refuse(*_a, **_k):
        raise StoreError("Cannot write to the database sqlite:///x: attempt to write a readonly database")

    monkeypatch.setattr(repo, "register_model_version", refuse)
    win = _window_warning_into(qtbot, engine, monkeypatch)
    assert "readonly database" in _failed_load(qtbot, win, bundle)
    assert win.model is None and win.status.model_label.text() == "No model"
    win.close()


def test_a_module_missing_from_the_install_is_a_clear_model_error_and_the_app_leaves_loading(
        qtbot, engine, bundle, monkeypatch):
    """A frozen app built without a module the model needs (safetensors, for a spectrum head, until 2026-12-04) said
    nothing: the model thread died with the ImportError and the window waited for the model for ever. Now the load
    fails with the module's name, and any other failure of a load leaves no model (not the one before) and ends
    "loading the model"."""
    pytest.importorskip("pytestqt")

    def missing(*_a, **_k):
        raise ModuleNotFoundError("No module named 'safetensors'", name="safetensors")

    real_prepare = PredictingService._prepare
    monkeypatch.setattr(PredictingService, "_prepare", missing)
    with pytest.raises(ModelLoadError, match=r"lacks a module the model needs \(No module named 'safetensors'\)"):
        PredictingService(engine).load(bundle)

    win = _window_warning_into(qtbot, engine, monkeypatch)
    assert "No module named 'safetensors'" in _failed_load(qtbot, win, bundle)

    def odd(*_a, **_k):
        raise KeyError("spectrum")

    monkeypatch.setattr(PredictingService, "_prepare", odd)
    service = PredictingService(engine)
    monkeypatch.setattr(PredictingService, "_prepare", real_prepare)
    service.load(bundle)
    monkeypatch.setattr(PredictingService, "_prepare", odd)
    with pytest.raises(ModelLoadError, match=r"KeyError: 'spectrum'"):
        service.load(bundle)
    assert service.predictor is None  # never the model loaded before: the window says "No model"
    assert _failed_load(qtbot, win, bundle) == f"{bundle}: KeyError: 'spectrum'"
    assert win.model is None and win.status.model_label.text() == "No model"
    win.close()


def test_warm_makes_the_model_ahead_and_load_takes_it_or_its_error(engine, bundle, tmp_path, monkeypatch):
    """The app warms its model while the database opens: load() of that bundle reads and makes it only once; a
    bundle that cannot be read fails in load() with the warm-up's message; another path is read anew."""
    made: list[str] = []
    real = PredictingService._prepare

    def counted(self, path, on_manifest):
        made.append(Path(path).name)
        return real(self, path, on_manifest)

    monkeypatch.setattr(PredictingService, "_prepare", counted)
    service = PredictingService(None)  # the window makes its service before the store is open
    service.warm(bundle)
    service.engine = engine
    names: list[str] = []
    info = service.load(bundle, on_manifest=lambda m: names.append(m.model_version))
    assert made == [bundle.name] and names == [info.version] and service.predictor is not None
    service.warm(tmp_path / "missing")
    with pytest.raises(ModelLoadError, match="missing"):
        service.load(tmp_path / "missing")
    service.warm(tmp_path / "missing")
    service.load(bundle)  # not the warmed path: made anew
    assert made.count(bundle.name) == 2


def _calibrate_copy(bundle: Path, out: Path, taxonomy, *, created: str, leaf_cut: float | None) -> Path:
    """A copy of ``bundle`` with a hand-made calibration: every leaf at ``leaf_cut`` (None: never auto-judged),
    every group determined at any confidence."""
    import json

    shutil.copytree(bundle, out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["thresholds"] = dict.fromkeys(taxonomy.leaves, leaf_cut)
    manifest["routing"] = {"target_purity": 0.99, "created": created, "spot_check": 0.0,
                           "node_thresholds": dict.fromkeys(taxonomy.levels[0], 0.0)}
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return out


def test_a_recalibrated_bundle_routes_the_undecided_images_again(engine, bundle, folder, taxonomy, tmp_path):
    """Predictions keep the calibration they were routed under; after a recalibration (same model version) the
    images nobody has decided are predicted again, with the new routes and determined nodes; decided ones are not."""
    before = _calibrate_copy(bundle, tmp_path / "before", taxonomy, created="2026-11-01T00:00:00+00:00",
                             leaf_cut=None)
    after = _calibrate_copy(bundle, tmp_path / "after", taxonomy, created="2026-12-01T00:00:00+00:00",
                            leaf_cut=0.0)
    service = PredictingService(engine, chunk_size=4, first_chunk=2)
    info = service.load(before)
    opened = batches.open_folder(engine, folder)
    first = dict(p for c in service.predict(service.todo(opened.items, list(opened.unreadable))) for p in c.items)
    assert {(r.route, r.determined_level, r.calibration) for r in first.values()} == {
        ("rejudge", 0, "2026-11-01T00:00:00+00:00")}  # no leaf passes; the group is determined
    assert all(r.determined == r.path[0] for r in first.values())
    judged, held = list(first)[:2]
    with session_scope(engine) as s:
        repo.record_judgment(s, image_id=judged, leaf=first[judged].leaf, action="accept", analyst="alice")
        repo.save_prediction(s, held, dataclasses.replace(first[held], reasons=("low_confidence", "held_back")))
    items = batches.batch_items(engine, opened.batch_id)
    assert service.todo(items, list(opened.unreadable)) == []  # the same calibration: nothing to do

    assert service.load(after).version == info.version  # a recalibration keeps the version
    todo = service.todo(batches.batch_items(engine, opened.batch_id), list(opened.unreadable))
    assert sorted(i for i, _ in todo) == sorted(set(first) - {judged, held})  # held back: stays with a person
    again = dict(p for c in service.predict(todo) for p in c.items)
    assert {(r.route, r.calibration) for r in again.values()} == {("auto", "2026-12-01T00:00:00+00:00")}
    assert all(r.determined == r.leaf and r.determined_level == len(r.path) - 1 for r in again.values())
    assert all(len(r.leaf_probs) == len(taxonomy.leaves) and abs(max(r.leaf_probs) - r.confidence) < 1e-5
               and abs(sum(r.leaf_probs) - 1) < 1e-4 for r in again.values())  # the whole leaf distribution
    with session_scope(engine, action="read") as s:
        kept = repo.latest_predictions(s, [judged], model_version=info.version)[judged]
    assert (kept.route, kept.calibration) == ("rejudge", "2026-11-01T00:00:00+00:00")  # as it was judged
    assert service.todo(batches.batch_items(engine, opened.batch_id), list(opened.unreadable)) == []
