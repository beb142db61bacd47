"""The loaded bundle's files changed on disk (``fma-judge recalibrate``, the dashboard's one command, or a training
written into it): the window says so in a banner and loads it again from its link; it went on with the loaded model
without a word."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import make_rejudge_bundle, open_window

pytest.importorskip("pytestqt")


def test_a_recalibrated_bundle_on_disk_is_said_and_loaded_again(qtbot, engine, taxonomy, tmp_path, monkeypatch):
    bundle = make_rejudge_bundle(tmp_path / "model", taxonomy)
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    try:
        assert win.model_changed_banner is None
        (bundle / "metrics.csv").write_text("epoch\n1\n")  # another file of the folder: nothing said
        qtbot.wait(300)
        assert win.model_changed_banner is None or not win.model_changed_banner.isVisible()
        manifest = json.loads((bundle / "manifest.json").read_text())
        manifest["routing"]["spot_check"] = 0.05  # replaced by a new file, as calibrate writes it
        manifest["routing"]["created"] = "2026-12-06T05:30:00"
        assert f"Loaded from {bundle}" in win.status.model_label.toolTip()
        (bundle / "manifest.json.new").write_text(json.dumps(manifest))
        shutil.move(bundle / "manifest.json.new", bundle / "manifest.json")
        qtbot.waitUntil(lambda: win.model_changed_banner is not None and win.model_changed_banner.isVisible(),
                        timeout=5000)
        text = win.model_changed_banner.text()
        assert "changed on disk" in text and str(bundle) in text and win.model.version in text
        with qtbot.waitSignal(win.worker.modelLoaded, timeout=60_000):
            win.model_changed_banner.linkActivated.emit("reload")
        assert not win.model_changed_banner.isVisible()  # loaded again: the banner goes
        # the same version, so the status bar's model name is the same: its tooltip tells the new calibration
        qtbot.waitUntil(lambda: "Routing calibrated 2026-12-06 05:30:00" in win.status.model_label.toolTip(),
                        timeout=5000)
        (bundle / "manifest.json").write_text((bundle / "manifest.json").read_text() + " ")  # written in place
        qtbot.waitUntil(lambda: win.model_changed_banner.isVisible(), timeout=5000)  # the new file is watched too
    finally:
        win.close()


def test_a_model_that_cannot_be_loaded_leaves_the_window_with_the_one_it_used(qtbot, engine, taxonomy, tmp_path,
                                                                              monkeypatch):
    """The team's model on a share away (its banner's link, Ctrl+M): the window ended with no model at all."""
    bundle = make_rejudge_bundle(tmp_path / "model", taxonomy)
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    said: list[str] = []
    monkeypatch.setattr(win, "alert", lambda _box, _title, text, *, line: said.append(text))
    try:
        version = win.model.version
        team = tmp_path / "share_away" / "team_v9"
        win._team_offered = ((str(team), None), True)  # its banner's Load link was taken
        with qtbot.waitSignal(win.worker.modelLoaded, timeout=60_000):
            win.load_model(team)
        assert win._team_offered is None  # offered again at the next poll (it was not, once the share was back)
        said.clear()
        win._team_offered = ((str(team), None), True)  # another folder that fails: a dismissed banner stays away
        with qtbot.waitSignal(win.worker.modelLoaded, timeout=60_000):
            win.load_model(tmp_path / "elsewhere")
        assert win._team_offered == ((str(team), None), True) and len(said) == 1
        assert win.model is not None and win.model.version == version
        assert len(said) == 1 and "not found" in said[0] and f"goes on with the model it used: {bundle}" in said[0]
        assert str(bundle) in win.status.model_label.toolTip()
    finally:
        win.close()


def test_the_no_model_banner_goes_once_a_model_is_loaded(qtbot, engine, taxonomy, tmp_path, monkeypatch):
    """"No model is loaded" (the remembered model not there) stayed over a window that had loaded one with Ctrl+M
    (final walk-through)."""
    bundle = make_rejudge_bundle(tmp_path / "model", taxonomy)
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        win.no_model_banner = win.show_notice("The model this workstation uses is not there: /share/model_cbam")
        assert win.no_model_banner.isVisible()
        with qtbot.waitSignal(win.worker.modelLoaded, timeout=60_000):
            win.load_model(bundle)
        assert not win.no_model_banner.isVisible()
    finally:
        win.close()
