"""The team's model (``fma-judge deploy``, migration 0012): kept in the database, loaded by every window started
without ``--model``, offered in a banner to the windows already open. A team on one database switched to a new model
only by each analyst's ``--model`` or Ctrl+M, so two windows on one batch routed it by two models (team lead
walk-through)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

import pytest
from conftest import make_rejudge_bundle, make_tiny_bundle, open_window, write_image
from store_backends import BACKENDS, fresh_engine

from app.store import repo
from app.store.db import session_scope
from models.bundle.files import read_bundle_manifest


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    with fresh_engine(request.param, tmp_path) as engine:
        yield engine


def test_a_deployment_is_the_newest_row_and_clearing_it_leaves_none(store, tmp_path) -> None:
    with session_scope(store, action="read") as s:
        assert repo.team_model(s) is None
    with session_scope(store) as s:
        first = repo.set_team_model(s, bundle_path=tmp_path / "v1", model_version="m-v1", analyst="lead")
    with session_scope(store) as s:
        second = repo.set_team_model(s, bundle_path=tmp_path / "v2", model_version="m-v2", analyst="lead")
    assert (first.bundle_path, first.model_version) == (str(tmp_path / "v1"), "m-v1")
    with session_scope(store, action="read") as s:
        now = repo.team_model(s)
    assert (now.bundle_path, now.model_version, now.set_by) == (str(tmp_path / "v2"), "m-v2", "lead") == (
        second.bundle_path, second.model_version, second.set_by)
    with session_scope(store) as s:
        assert repo.set_team_model(s, bundle_path=None, model_version=None, analyst="lead") is None
    with session_scope(store, action="read") as s:
        assert repo.team_model(s) is None


def test_fma_judge_deploy_records_says_and_refuses_what_is_no_bundle(tmp_path, taxonomy, capsys) -> None:
    from app.team_commands import deploy_main

    db = tmp_path / "team.sqlite3"
    bundle = make_tiny_bundle(tmp_path / "models" / "v2", taxonomy)
    version = read_bundle_manifest(bundle).model_version
    assert deploy_main(["--db", str(db), "--model", str(tmp_path / "models" / "nothing")]) == 2
    assert "fma-judge deploy: error:" in capsys.readouterr().err
    assert not db.exists()  # nothing was made for a refused bundle
    from app.store.db import init_db, make_engine

    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    engine.dispose()
    assert deploy_main(["--db", str(db), "--model", str(bundle), "--by", "lead"]) == 0
    out, err = capsys.readouterr()
    assert f"the team's model: {bundle} ({version}), deployed by lead on " in out
    # deployed, with what the lead should know: it routes nothing to auto-judging, and torch-free workstations
    # cannot run it (an uncalibrated 11-image bundle was deployed to the team without a word)
    assert "warning: it is not calibrated: it auto-judges nothing" in err
    assert "warning: workstations installed without torch cannot run it: it has no workstation runtime graphs" in err
    assert deploy_main(["--db", str(db)]) == 0 and f"the team's model: {bundle}" in capsys.readouterr().out
    moved = bundle.with_name("v2_moved")  # the status names a deployed folder this computer does not reach
    bundle.rename(moved)
    assert deploy_main(["--db", str(db)]) == 0
    assert f"warning: {bundle} is not reachable from this computer" in capsys.readouterr().err
    moved.rename(bundle)
    assert deploy_main(["--db", str(db), "--clear", "--by", "lead"]) == 0
    assert "no team model: each window loads its own" in capsys.readouterr().out


def test_deploy_refuses_a_damaged_bundle_and_says_when_the_deployed_folder_was_trained_over(tmp_path, taxonomy,
                                                                                            capsys) -> None:
    """Seen: a truncated weights file was deployed with exit 0, and every window then failed to load the team's
    model; a training into the deployed folder replaced the team's model while `deploy` still named the old one."""
    import shutil

    from app.store.db import init_db, make_engine
    from app.team_commands import deploy_main

    db = tmp_path / "team.sqlite3"
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    engine.dispose()
    good = make_tiny_bundle(tmp_path / "models" / "v2", taxonomy)
    for damage in ("truncated", "pickle"):
        bad = shutil.copytree(good, tmp_path / "models" / damage)
        weights = bad / "weights.safetensors"
        if damage == "truncated":
            weights.write_bytes(weights.read_bytes()[:-100])
        else:
            weights.write_bytes(b"\x80\x04\x95" + b"\x00" * 64)  # a pickle's start
        assert deploy_main(["--db", str(db), "--model", str(bad)]) == 2
        err = capsys.readouterr().err
        assert f"fma-judge deploy: error: {bad}: weights.safetensors is corrupted or was modified" in err, err
        assert "nothing deployed" in err
    import zipfile

    archive = tmp_path / "models" / "v2.zip"  # an archive whose weights member was damaged: a CRC error or a hash
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(good / "manifest.json", "manifest.json")
        zf.writestr("weights.safetensors", (good / "weights.safetensors").read_bytes()[:-100])
    assert deploy_main(["--db", str(db), "--model", str(archive)]) == 2
    assert "weights.safetensors does not match the sha256 in manifest.json" in capsys.readouterr().err
    assert deploy_main(["--db", str(db)]) == 0 and "no team model" in capsys.readouterr().out  # nothing recorded
    assert deploy_main(["--db", str(db), "--model", str(good)]) == 0
    deployed = read_bundle_manifest(good).model_version
    capsys.readouterr()
    shutil.rmtree(good)  # `fma-model train --out v2 --overwrite` into the deployed folder
    make_tiny_bundle(good, taxonomy, seed=1)
    now = read_bundle_manifest(good).model_version
    assert deploy_main(["--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert f"({deployed})" in out and f"warning: {good} now holds {now}, not the {deployed} deployed" in err, err
    (good / "manifest.json").unlink()  # while the training runs
    assert deploy_main(["--db", str(db)]) == 0
    assert "now holds no model it can read" in capsys.readouterr().err


def test_a_window_is_offered_the_team_model_and_loads_it(qtbot, engine, taxonomy, tmp_path, monkeypatch) -> None:
    ours = make_tiny_bundle(tmp_path / "ours", taxonomy, seed=0)
    theirs = make_tiny_bundle(tmp_path / "team", taxonomy, seed=1)
    win = open_window(qtbot, engine, ours, tmp_path, monkeypatch)
    try:
        assert win.model.version != read_bundle_manifest(theirs).model_version
        with session_scope(engine) as s:
            team = repo.set_team_model(s, bundle_path=theirs, model_version=read_bundle_manifest(theirs).model_version,
                                       analyst="lead")
        win.offer_team_model(team)
        from PySide6.QtWidgets import QLabel

        (banner,) = [b for b in win.findChildren(QLabel) if b.isVisible() and "model is now" in b.text()]
        assert "deployed by lead" in banner.text() and f"this window uses {win.model.version}" in banner.text()
        win.offer_team_model(team)  # once per deployment
        assert len([b for b in win.findChildren(QLabel) if "model is now" in b.text()]) == 1
        # a deployment made since replaces the banner (the older one loaded a model no longer the team's), and one
        # of the model this window uses takes it away
        third = make_tiny_bundle(tmp_path / "third", taxonomy, seed=2)
        with session_scope(engine) as s:
            newer = repo.set_team_model(s, bundle_path=third, model_version=read_bundle_manifest(third).model_version,
                                        analyst="lead")
        win.offer_team_model(newer)
        shown = [b for b in win.findChildren(QLabel) if b.isVisible() and "model is now" in b.text()]
        assert len(shown) == 1 and str(third) in shown[0].text() and not banner.isVisible()
        with session_scope(engine) as s:
            own = repo.set_team_model(s, bundle_path=ours, model_version=win.model.version, analyst="lead")
        win.offer_team_model(own)
        assert not [b for b in win.findChildren(QLabel) if b.isVisible() and "model is now" in b.text()]
        away = tmp_path / "share_not_connected" / "team_v9"  # a folder this workstation does not reach: said, with
        with session_scope(engine) as s:  # no link (it only failed to load), and offered once the share is there
            gone = repo.set_team_model(s, bundle_path=away, model_version="team_v9", analyst="lead")
        win.offer_team_model(gone)
        (unreached,) = [b for b in win.findChildren(QLabel) if b.isVisible() and "model is now" in b.text()]
        assert "does not reach that folder" in unreached.text() and "Load it" not in unreached.text()
        win.offer_team_model(gone)
        assert unreached.isVisible() and len([b for b in win.findChildren(QLabel) if "does not reach" in b.text()]) == 1
        shutil.copytree(theirs, away)
        win.offer_team_model(gone)
        (reached,) = [b for b in win.findChildren(QLabel) if b.isVisible() and "model is now" in b.text()]
        assert reached is not unreached and "Load it" in reached.text()
        reached.hide()  # dismissed; the share drops and comes back: not offered again (review)
        away.rename(away.with_name("v9_off"))
        win.offer_team_model(gone, False)
        away.with_name("v9_off").rename(away)
        win.offer_team_model(gone, True)
        assert not [b for b in win.findChildren(QLabel) if b.isVisible() and "model is now" in b.text()]
        with session_scope(engine) as s:  # deployed once more: offered again
            team = repo.set_team_model(s, bundle_path=theirs, model_version=read_bundle_manifest(theirs).model_version,
                                       analyst="lead")
        win.offer_team_model(team)
        (banner,) = [b for b in win.findChildren(QLabel) if b.isVisible() and "model is now" in b.text()]
        with qtbot.waitSignal(win.worker.modelLoaded, timeout=60_000):
            banner.linkActivated.emit("act")  # "Load it"
        assert win.model.version == team.model_version and not banner.isVisible()
        win.offer_team_model(team)  # the team's model loaded: nothing to offer
        assert not [b for b in win.findChildren(QLabel) if b.isVisible() and "model is now" in b.text()]
    finally:
        win.close()


def test_a_window_on_its_start_page_is_offered_a_model_deployed_meanwhile(qtbot, engine, taxonomy, tmp_path,
                                                                          monkeypatch) -> None:
    """The 30-second poll returned at once without a batch: a window left on its start page never offered the model
    a lead deployed (or recalibrated) meanwhile, until a batch was opened (team lead's walk-through)."""
    from PySide6.QtWidgets import QLabel

    ours = make_tiny_bundle(tmp_path / "ours", taxonomy, seed=0)
    theirs = make_tiny_bundle(tmp_path / "team", taxonomy, seed=1)
    win = open_window(qtbot, engine, ours, tmp_path, monkeypatch)
    try:
        assert win.presenter.batch is None
        with session_scope(engine) as s:
            repo.set_team_model(s, bundle_path=theirs, model_version=read_bundle_manifest(theirs).model_version,
                                analyst="lead")
        win.poll_colleagues()  # (the timer's call)
        qtbot.waitUntil(lambda: any(b.isVisible() and "model is now" in b.text() for b in win.findChildren(QLabel)),
                        timeout=10_000)
    finally:
        win.close()


def test_the_team_models_notice_is_taken_up_from_the_keyboard(qtbot, engine, taxonomy, tmp_path, monkeypatch) -> None:
    """Ctrl+Enter does what the notice's link does (a keyboard-only analyst could only dismiss it)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    ours = make_tiny_bundle(tmp_path / "ours", taxonomy, seed=0)
    theirs = make_tiny_bundle(tmp_path / "team", taxonomy, seed=1)
    win = open_window(qtbot, engine, ours, tmp_path, monkeypatch)
    for i in range(2):
        write_image(tmp_path / "lot" / f"img_{i}.png", size=(96, 80), seed=i)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(tmp_path / "lot")
        before = win.model.version
        win.activateWindow()
        qtbot.keyClick(win, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # nothing offered: said so
        assert "No notice" in win.statusBar().currentMessage()
        win.show_notice("Notes kept as drafts")  # a notice without an action, newer than the team's below
        with session_scope(engine) as s:
            team = repo.set_team_model(s, bundle_path=theirs, model_version=read_bundle_manifest(theirs).model_version,
                                       analyst="lead")
        win.poll_colleagues()  # the 30-second poll offers it (the folder looked at off the UI thread)
        qtbot.waitUntil(lambda: any(b.isVisible() and "model is now" in b.text() for b in win.findChildren(QLabel)),
                        timeout=10_000)
        win.show_notice("Another plain notice")
        (banner,) = [b for b in win.findChildren(QLabel) if b.isVisible() and "model is now" in b.text()]
        assert "Load it (Ctrl+Enter)" in banner.text() and "Dismiss (Esc)" in banner.text()
        with qtbot.waitSignal(win.worker.modelLoaded, timeout=60_000):
            qtbot.keyClick(win, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        assert win.model.version == team.model_version and not banner.isVisible()
        assert [b for b in win.findChildren(QLabel) if b.isVisible() and "plain notice" in b.text()]  # others stay
        # the open batch is predicted again by it: said (its counts and badges changed without a word)
        assert win.statusBar().currentMessage().startswith(f"Now using {team.model_version} (was {before}): the "
                                                           "open batch is predicted again by it")
    finally:
        win.close()


def test_a_window_started_without_a_model_takes_the_teams_where_it_reaches_it(tmp_path) -> None:
    from types import SimpleNamespace

    from app.store.records import TeamModelRecord
    from app.ui.app import _team_model_first

    team_dir = tmp_path / "team"
    team_dir.mkdir()
    record = TeamModelRecord(bundle_path=str(team_dir), model_version="v2", set_by="lead",
                             set_at=dt.datetime.now(dt.UTC))
    service = SimpleNamespace(team_model=lambda: record)
    assert _team_model_first(service, "/mine", "") == (str(team_dir), "", "")
    assert _team_model_first(service, "", "/gone") == (str(team_dir), "", "")  # (the remembered one is not there)
    record = dataclasses.replace(record, bundle_path=str(tmp_path / "unreachable"))
    assert _team_model_first(service, "/mine", "") == ("/mine", "", str(tmp_path / "unreachable"))
    assert _team_model_first(SimpleNamespace(team_model=lambda: None), "/mine", "") == ("/mine", "", "")

    def broken():
        raise RuntimeError("no such table: team_models")

    assert _team_model_first(SimpleNamespace(team_model=broken), "/mine", "") == ("/mine", "", "")


def test_a_recalibration_of_the_team_model_is_offered_to_a_window_on_the_old_one(qtbot, engine, taxonomy, tmp_path,
                                                                                monkeypatch) -> None:
    """Walk-through: ``recalibrate`` keeps the version, and a window that loaded the team's model before was never
    offered the new calibration (the banner compared versions only), so it routed by the old thresholds all day."""
    from PySide6.QtWidgets import QLabel

    from models.bundle.files import write_bundle_manifest

    first = make_rejudge_bundle(tmp_path / "team", taxonomy)
    win = open_window(qtbot, engine, first, tmp_path, monkeypatch)

    def banners() -> list:
        return [b for b in win.findChildren(QLabel) if b.isVisible() and "calibrated again" in b.text()]
    try:
        with session_scope(engine) as s:
            team = repo.set_team_model(s, bundle_path=first, model_version=win.model.version, analyst="lead")
        win.offer_team_model(team)
        assert not banners()  # the model this window has: nothing to offer
        bundle = shutil.copytree(first, tmp_path / "recal1")  # ``recalibrate --out recal1``, then ``deploy`` it
        manifest = read_bundle_manifest(bundle)
        write_bundle_manifest(bundle, manifest.replace(calibration=dataclasses.replace(
            manifest.calibration, created="2026-12-07T12:00:00+00:00")))
        with session_scope(engine) as s:
            team = repo.set_team_model(s, bundle_path=bundle, model_version=win.model.version, analyst="lead")
        win.offer_team_model(team)
        (banner,) = banners()
        assert str(bundle) in banner.text() and "still routes by the calibration it loaded" in banner.text()
        with qtbot.waitSignal(win.worker.modelLoaded, timeout=60_000):
            banner.linkActivated.emit("act")  # "Load it"
        assert win.model.manifest.routing_stamp == read_bundle_manifest(bundle).routing_stamp
        win.offer_team_model(team)
        assert not banners()
    finally:
        win.close()
