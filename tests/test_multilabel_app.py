"""Images with more than one defect in the app (issue #20): judgments of a set of leaves in the store, accepted,
added to and taken off with keys, undone and redone, and exported as a multi-label training manifest."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import open_window, write_image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.services import batches
from app.services.judging import JudgingService
from app.services.queue import QueueService
from app.store import repo
from app.store.db import session_scope
from app.store.records import PredictionRecord
from models.data.manifest import read_manifest


def _predicted(engine, tmp_path, labels: tuple[str, ...], taxonomy, **routed):
    """A batch of one image with a stored prediction of ``labels`` (a multi-label model's set); ``routed``: its
    ``route`` and ``reasons``."""
    write_image(tmp_path / "lot" / "P0.png")
    opened = batches.open_folder(engine, tmp_path / "lot")
    (item,) = opened.items
    record = PredictionRecord(leaf=labels[0], confidence=0.7, path=("foreign_matter", "particle", labels[0]),
                              model_version="ml-1", labels=labels if len(labels) > 1 else (), **routed)
    with session_scope(engine) as s:
        repo.register_model_version(s, version="ml-1", manifest={"taxonomy": taxonomy.to_dict()},
                                    bundle_path="/nowhere")
        repo.save_prediction(s, item.image.image_id, record)
    return opened.batch_id, batches.batch_items(engine, opened.batch_id, "ml-1")[0]


def test_a_set_of_leaves_is_accepted_added_to_taken_off_undone_and_exported(engine, tmp_path, taxonomy):
    batch_id, item = _predicted(engine, tmp_path, ("particle_metal", "scratch"), taxonomy)
    assert item.prediction.labels == ("particle_metal", "scratch")
    assert item.prediction.shown()["labels"] == ["particle_metal", "scratch"]
    service = JudgingService(engine, "alice")
    service.batch_id = batch_id
    accepted = service.accept(item)
    assert accepted.labels == ("particle_metal", "scratch") and accepted.status == "accepted"
    item = batches.batch_items(engine, batch_id, "ml-1")[0]
    added = service.add_label(item, "water_mark")
    assert added.labels == ("particle_metal", "scratch", "water_mark") and added.status == "corrected"
    item = batches.batch_items(engine, batch_id, "ml-1")[0]
    taken = service.remove_label(item)
    assert taken.labels == ("particle_metal", "scratch") and taken.status == "accepted"  # the model's set again
    item = batches.batch_items(engine, batch_id, "ml-1")[0]
    single = service.remove_label(item)
    assert single.labels == ("particle_metal",) and single.status == "corrected"
    item = batches.batch_items(engine, batch_id, "ml-1")[0]
    with pytest.raises(ValueError, match="one defect type"):
        service.remove_label(item)
    undone = service.undo()
    assert undone.labels == ("particle_metal", "scratch")  # undo restores the whole set
    out = service.export(tmp_path / "labels.csv", "csv", batch_id=batch_id)
    with (tmp_path / "labels.csv").open(encoding="utf-8-sig") as handle:
        row = next(csv.DictReader(handle))
    assert out.count == 1 and row["label"] == "particle_metal;scratch"
    assert row["leaf_path"] == "foreign_matter/particle/particle_metal;structural/mechanical/scratch"
    assert read_manifest(tmp_path / "labels.csv", taxonomy).samples[0].labels == ("particle_metal", "scratch")
    service.export(tmp_path / "labels.json", "json", batch_id=batch_id)
    (obj,) = json.loads((tmp_path / "labels.json").read_text())
    assert obj["labels"] == ["particle_metal", "scratch"] and obj["leaf"] == "particle_metal"


def test_a_type_added_to_an_undecided_image_and_taken_off_leaves_it_undecided(engine, tmp_path, taxonomy):
    """Shift+C then X on an image nobody decided: undecided again, never "the model's call accepted by the
    analyst". A type taken off an image the analyst had accepted leaves it accepted."""
    batch_id, item = _predicted(engine, tmp_path, ("fiber",), taxonomy)
    service = JudgingService(engine, "alice")
    service.batch_id = batch_id
    assert service.add_label(item, "scratch").labels == ("fiber", "scratch")
    item = batches.batch_items(engine, batch_id, "ml-1")[0]
    assert service.add_label(item, "water_mark").labels == ("fiber", "scratch", "water_mark")
    service.add_note(batches.batch_items(engine, batch_id, "ml-1")[0], "two more defects?")
    item = batches.batch_items(engine, batch_id, "ml-1")[0]
    assert service.remove_label(item).labels == ("fiber", "scratch")  # scratch is still the analyst's
    item = batches.batch_items(engine, batch_id, "ml-1")[0]
    back = service.remove_label(item)
    assert (back.status, back.labels, back.note) == ("reverted", (), "two more defects?")
    item = batches.batch_items(engine, batch_id, "ml-1")[0]
    assert item.judgment is None or not item.judgment.is_decision
    assert service.labels_of(item) == ("fiber",)  # the model's guess, shown as before

    service.accept(item)  # the analyst's own decision: taking an added type off keeps it
    service.add_label(batches.batch_items(engine, batch_id, "ml-1")[0], "scratch")
    kept = service.remove_label(batches.batch_items(engine, batch_id, "ml-1")[0])
    assert (kept.status, kept.labels) == ("accepted", ("fiber",))

    # a note, in the window or the queue, keeps every type of a multi-label decision
    service.add_label(batches.batch_items(engine, batch_id, "ml-1")[0], "scratch")
    noted = service.add_note(batches.batch_items(engine, batch_id, "ml-1")[0], "checked twice")
    assert noted.labels == ("fiber", "scratch")
    (queued,) = QueueService(engine, "bob").note([item.image.image_id], "and once more")
    assert (queued.labels, queued.note) == (("fiber", "scratch"), "and once more")


def test_a_single_label_prediction_accepted_stays_one_leaf(engine, tmp_path, taxonomy):
    _batch, item = _predicted(engine, tmp_path, ("fiber",), taxonomy)
    assert item.prediction.labels == () and "labels" not in item.prediction.shown()
    service = JudgingService(engine, "alice")
    judged = service.accept(item)
    assert judged.labels == ("fiber",) and judged.extra_leaves == () and judged.status == "accepted"


def test_the_queue_shows_exports_and_bulk_accepts_the_whole_set(engine, tmp_path, taxonomy):
    from app.services.queue import QueueFilters
    from app.ui.queue_model import QueueTableModel

    _batch, item = _predicted(engine, tmp_path, ("particle_metal", "scratch"), taxonomy, route="rejudge",
                              reasons=("low_confidence",))
    queue = QueueService(engine, "alice")
    filters = QueueFilters("ml-1", include_judged=True)
    (row,) = queue.page(filters).rows
    assert row.labels == ("particle_metal", "scratch") and row.predicted_set == row.labels and row.judged_set == ()
    model = QueueTableModel()
    model.leaf_name = lambda leaf: taxonomy.name(leaf, "en") if leaf else "—"
    model.set_page(queue.page(filters), grouped=None)
    assert model.data(model.index(0, 1)) == "Metal particle + Scratch"
    (judged,) = queue.accept([item.image.image_id], model_version="ml-1")
    assert judged.labels == ("particle_metal", "scratch") and judged.status == "accepted"  # not just the first leaf
    (row,) = queue.page(filters).rows
    assert row.judged_labels == ("particle_metal", "scratch") and row.state == "accepted"
    (relabelled,) = queue.relabel([item.image.image_id], "fiber", model_version="ml-1")
    assert relabelled.labels == ("fiber",) and relabelled.status == "corrected"
    model.set_page(queue.page(filters), grouped=None)
    assert model.data(model.index(0, model.columnCount() - 1)).endswith("→ Fiber")
    assert queue.export_queue(tmp_path / "queue.csv", filters) == 1
    with (tmp_path / "queue.csv").open(encoding="utf-8-sig") as handle:
        out = next(csv.DictReader(handle))
    assert out["predicted_leaf"] == "particle_metal" and out["predicted_labels"] == "particle_metal;scratch"
    assert out["judged_leaf"] == "fiber" and out["judged_labels"] == ""


def _history(engine, image_id: int):
    from app.store import repo
    from app.store.db import session_scope

    with session_scope(engine, action="read") as s:
        return repo.judgment_history(s, image_id)


def test_shift_c_adds_a_defect_type_and_x_takes_it_off(qtbot, engine, tiny_bundle, tmp_path, monkeypatch, taxonomy):
    from app.ui.picker import TaxonomyPicker

    folder = tmp_path / "batch"
    for i in range(2):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    win = open_window(qtbot, engine, tiny_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        item = win.presenter.current_item
        predicted = item.prediction.leaf
        other = next(leaf for leaf in taxonomy.leaves if taxonomy.path(leaf)[0] != taxonomy.path(predicted)[0])

        titles, chosen = [], [other]

        def pick(dlg) -> int:
            titles.append(dlg.windowTitle())
            dlg.chosen = chosen[0]
            return 1

        monkeypatch.setattr(TaxonomyPicker, "exec", pick)
        qtbot.keyClick(win, Qt.Key.Key_C, Qt.KeyboardModifier.ShiftModifier)
        QApplication.processEvents()
        current = win.presenter.current_item.judgment
        assert current.labels == (predicted, other) and win.presenter.current_item is not None
        # the model's call became a type: said before (the picker's title) and after (it was silent)
        assert titles == [f"Add a defect type beside {win.presenter.name(predicted)}"]
        assert win.statusBar().currentMessage() == (
            f"img_0.png: 2 defect types, {win.presenter.name(predicted)}, {win.presenter.name(other)} · X takes off "
            "the last")
        assert win.current == 0  # the image stays on screen: another type can be added
        names = f"{win.presenter.name(predicted)} + {win.presenter.name(other)}"
        assert names in win.panel.judgment.text() and win.list_model.rows[0].label == names
        rows = len(_history(engine, item.image.image_id))
        qtbot.keyClick(win, Qt.Key.Key_C, Qt.KeyboardModifier.ShiftModifier)  # the same type again: a no-op row before
        QApplication.processEvents()
        assert len(_history(engine, item.image.image_id)) == rows
        assert win.statusBar().currentMessage() == f"{win.presenter.name(other)} is already one of this image's types"
        qtbot.keyClick(win, Qt.Key.Key_X)
        QApplication.processEvents()
        assert win.statusBar().currentMessage() == (  # (Shift+C's "2 defect types" stayed on after X: walk-through)
            f"img_0.png: {win.presenter.name(other)} taken off, now {win.presenter.name(predicted)}")
        back = win.presenter.current_item  # undecided, as before Shift+C: nobody accepted the model's call
        assert back.judgment is not None and not back.judgment.is_decision
        assert win.service.labels_of(back) == (predicted,) and "accepted" not in win.panel.judgment.text()
        chosen[0] = predicted  # undecided again: the model's call added to itself writes nothing, and says so
        rows = len(_history(engine, item.image.image_id))
        qtbot.keyClick(win, Qt.Key.Key_C, Qt.KeyboardModifier.ShiftModifier)
        QApplication.processEvents()
        assert len(_history(engine, item.image.image_id)) == rows
        assert win.statusBar().currentMessage() == f"{win.presenter.name(predicted)} is the model's call already: " \
                                                   "Enter accepts it"
        qtbot.keyClick(win, Qt.Key.Key_X)
        QApplication.processEvents()
        assert "one defect type" in win.statusBar().currentMessage()
    finally:
        win.close()


def test_the_panel_shows_a_multilabel_prediction(qtbot):
    from app.services.batch_presenter import PanelData
    from app.ui.prediction_panel import PredictionPanel

    panel = PredictionPanel()
    qtbot.addWidget(panel)
    base = dict(file_name="a.png", state="rejudge", leaf="particle_metal",
                path=("foreign_matter", "particle", "particle_metal"),
                path_names=("Foreign matter", "Particle", "Metal particle"), path_scores=(0.9, 0.8, 0.6))
    panel.show_data(PanelData(**base, predicted_set=("Metal particle", "Scratch")))
    assert panel.several.isVisibleTo(panel)
    assert panel.several.text().startswith("2 defects: Metal particle + Scratch")
    panel.show_data(PanelData(**base, predicted_set=("Metal particle",)))
    assert not panel.several.isVisibleTo(panel)


def test_the_dashboard_says_a_set_calibrated_model_is_calibrated_but_not_monitored(qtbot, engine, taxonomy):
    from app.services.dashboard import DashboardService
    from app.services.monitor import SETS_NOT_MONITORED
    from app.ui.dashboard_view import DashboardView

    multilabel = {"thresholds": {}, "n_val": 40, "min_positives": 5, "f1": {}, "routing": {}}
    with session_scope(engine) as s:
        for version, set_threshold in (("ml-sets", 0.93), ("ml-raw", None)):
            repo.register_model_version(s, version=version, bundle_path="/nowhere", manifest={
                "taxonomy": taxonomy.to_dict(), "loss": {"kind": "multilabel"},
                "multilabel": {**multilabel, "set_threshold": set_threshold, "target_purity": set_threshold}})
    service = DashboardService(engine)
    assert service.figures("ml-sets").monitor.why_not == SETS_NOT_MONITORED
    assert service.figures("ml-raw").monitor.why_not == "the model is not calibrated"
    notes = {}
    for version in ("ml-sets", "ml-raw"):
        view = DashboardView(service, model_version=version, lang="en")
        qtbot.addWidget(view)
        with qtbot.waitSignal(view.refreshed, timeout=20_000):
            view.refresh()
        notes[version] = view.monitor_note.text()
    assert "calibrated set threshold" in notes["ml-sets"] and "not calibrated" not in notes["ml-sets"]
    assert "not calibrated" in notes["ml-raw"]
