"""The main window's list state without Qt: states, next image to judge, counts, rows and panel data."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from app.services.batch_presenter import BatchPresenter, ReasonDetail
from app.services.batches import OpenedBatch
from app.store.records import BatchItem, ImageRecord, JudgmentRecord, PredictionRecord

NOW = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def _prediction(leaf: str | None, route: str | None = None, error: str | None = None, version: str = "v1",
                reasons: tuple[str, ...] = ()) -> PredictionRecord:
    return PredictionRecord(leaf=leaf, confidence=None if error else 0.9, path=("g", "s", leaf) if leaf else (),
                            top5=((leaf, ("g", "s", leaf), 0.9),) if leaf else (), route=route, reasons=reasons,
                            error=error, model_version=version, id=1)


def _judgment(image_id: int, leaf: str | None, status: str) -> JudgmentRecord:
    return JudgmentRecord(id=image_id * 10, image_id=image_id, leaf=leaf, status=status, action="x", analyst="amy",
                          created_at=NOW)


def _item(i: int, prediction=None, judgment=None) -> BatchItem:
    return BatchItem(ImageRecord(i, "0" * 64, f"/b/img_{i}.png", 64, 64, i), prediction, judgment)


@pytest.fixture()
def presenter(taxonomy) -> BatchPresenter:
    items = [
        _item(1, _prediction("scratch", "auto")),                          # auto-judged
        _item(2, _prediction("crack", "rejudge", reasons=("low_confidence",))),
        _item(3, _prediction("dent"), _judgment(3, "dent", "accepted")),   # done
        _item(4, None),                                                    # not predicted yet
        _item(5, _prediction(None, error="cannot read image")),            # the model could not read it
        _item(6, None),                                                    # its header is unreadable
    ]
    p = BatchPresenter(lang="zh_TW", unknown_text="未知")
    p.taxonomy = taxonomy
    first = p.open(OpenedBatch(7, "b", "/b", items, unreadable={6: "not a recognised image format"}))
    assert first == 1  # the first image that needs a person (the auto-judged one does not)
    return p


def test_a_batch_whose_only_open_images_are_unreadable_opens_on_none_of_them(taxonomy):
    """Reopened with every readable image judged, the batch opened on broken.png (seen in a day's walk-through):
    an unreadable image is not one to judge, whether its header or the model found it so."""
    p = BatchPresenter(lang="en", unknown_text="unknown")
    items = [_item(1, _prediction(None, error="cannot read image")), _item(2, None),
             _item(3, _prediction("dent"), _judgment(3, "dent", "accepted")), _item(4, _prediction("crack", "rejudge"))]
    assert p.open(OpenedBatch(7, "b", "/b", items, unreadable={2: "not a recognised image format"})) == 3
    assert p.open(OpenedBatch(7, "b", "/b", items[:3], unreadable={2: "not a recognised image format"})) == 2  # done
    assert p.open(OpenedBatch(7, "b", "/b", items[:2], unreadable={2: "not a recognised image format"})) == 0  # all


def test_states_counts_and_what_is_left(presenter):
    assert [presenter.state(it) for it in presenter.items] == ["auto", "rejudge", "accepted", "pending", "error",
                                                               "error"]
    assert presenter.counts() == {"pending": 1, "rejudge": 1, "auto": 1, "accepted": 1, "error": 2}
    assert presenter.left() == 2


def test_a_large_folder_grows_in_parts_and_the_counts_follow_every_change(presenter):
    """Parts that continue the batch are appended (a duplicate image once), the counts are kept in step with
    predictions, judgments and unreadable images without a recount, and a filter set meanwhile lists the new rows
    it passes at the end."""
    def recount() -> dict[str, int]:
        found = {}
        for it in presenter.items:
            found[presenter.state(it)] = found.get(presenter.state(it), 0) + 1
        return {k: v for k, v in presenter.counts().items() if v} == {k: v for k, v in found.items() if v}

    presenter.current = 1
    assert presenter.grow(OpenedBatch(7, "b", "/b", [_item(7), _item(8, _prediction("crack", "rejudge")), _item(1)],
                                      unreadable={9: "cut"}, continues=True)) == [6, 7]
    assert [it.image.image_id for it in presenter.items] == [1, 2, 3, 4, 5, 6, 7, 8] and presenter.current == 1
    assert presenter.counts()["pending"] == 2 and presenter.counts()["rejudge"] == 2 and recount()
    presenter.apply_predictions([(7, _prediction("dent", "rejudge")), (4, _prediction(None, error="bad"))])
    presenter.apply_judgment(_judgment(8, "crack", "accepted"))
    presenter.image_failed(2, "cannot decode")
    assert presenter.counts() == {"rejudge": 1, "auto": 1, "accepted": 2, "error": 4} and recount()
    from app.services.batch_presenter import ListFilter

    presenter.set_list_filter(ListFilter(states=frozenset({"pending"})))
    rows = presenter.grow(OpenedBatch(7, "b", "/b", [_item(9), _item(10, _prediction("dent", "auto"))],
                                      unreadable={9: "cut"}, continues=True))
    assert rows == [] and presenter.state(presenter.items[8]) == "error" and recount()  # 9 unreadable, 10 auto
    assert presenter.grow(OpenedBatch(7, "b", "/b", [_item(11)], continues=True)) == [10]
    assert presenter.shown_rows() == [10] and presenter.next_open(10) == 10


def test_next_open_walks_over_auto_judged_done_and_unreadable_images(presenter):
    assert presenter.next_open(1) == 3
    assert presenter.next_open(3) == 1  # wraps around
    presenter.apply_judgment(_judgment(2, "crack", "accepted"))
    presenter.apply_judgment(_judgment(4, None, "unknown"))
    assert presenter.next_open(0) is None and presenter.left() == 0


def test_predictions_arrive_and_errors_stick(presenter):
    rows = presenter.apply_predictions([(4, _prediction("fiber")), (5, _prediction(None, error="truncated")),
                                        (99, _prediction("fiber"))])
    assert rows == [3, 4]  # an image of another batch is ignored
    assert presenter.state(presenter.items[3]) == "pending" and presenter.items[3].prediction.leaf == "fiber"
    assert presenter.errors[5] == "truncated"
    assert presenter.todo("v1") == []  # 6 is unreadable, every other image has a v1 prediction
    assert [i for i, _ in presenter.todo("v2")] == [1, 2, 3, 4]


def test_rows_and_panel_speak_the_ui_language(presenter, taxonomy):
    rows = presenter.list_rows()
    assert rows[0].label == taxonomy.name("scratch", "zh_TW") and rows[0].confidence == 0.9
    assert rows[2].label == taxonomy.name("dent", "zh_TW") and rows[2].confidence is None  # a judgment, no score
    assert rows[5].label == "not a recognised image format" and rows[5].state == "error"
    assert rows[4].label == "cannot read image" and rows[4].state == "error"  # a stored prediction's reason
    presenter.apply_judgment(_judgment(2, None, "unknown"))
    assert presenter.list_row(1).label == "未知"
    panel = presenter.panel(2)
    assert (panel.judged_leaf, panel.judged_by, panel.state) == ("dent", "amy", "accepted")
    judged = presenter.panel(1)  # why it was routed to a person stays visible next to the judgment
    assert (judged.state, judged.judged_leaf) == ("unknown", None)
    assert [r.code for r in judged.reasons] == ["low_confidence"]
    assert presenter.panel(0).reasons == () and presenter.panel(0).leaf == "scratch"


def test_no_raw_id_is_ever_shown_and_the_panel_says_why_nothing_is(taxonomy):
    items = [_item(1, _prediction("scratch", version="v1")), _item(2, None)]
    p = BatchPresenter(lang="en", unknown_text="unknown")
    p.open(OpenedBatch(7, "b", "/b", items))  # no model yet, and no taxonomy stored with the batch
    assert p.list_row(0).label == "" and p.name("scratch") == ""  # never the id
    panel = p.panel(0)
    assert panel.leaf is None and panel.top5 == () and panel.waiting == "no_types"  # nothing to pick from either
    assert not p.shows_prediction(p.items[0])  # Enter does nothing on a prediction it cannot name
    p.set_model("loading", version="v1", taxonomy=taxonomy)  # the manifest is read before the weights load
    assert p.shows_prediction(p.items[0]) and p.list_row(0).label == taxonomy.name("scratch", "en")
    names = p.panel(0)
    assert names.path_names == ("", "", taxonomy.name("scratch", "en"))  # the fixture's "g"/"s" are no tree nodes
    assert names.top5[0].name == taxonomy.name("scratch", "en")
    assert p.panel(1).waiting == "loading"
    p.set_model("ready")
    assert p.panel(1).waiting == "predicting"


def test_a_batch_opened_before_any_model_is_named_by_the_taxonomy_stored_with_it(taxonomy):
    p = BatchPresenter()
    p.open(OpenedBatch(7, "b", "/b", [_item(1, _prediction("crack", version="v0")), _item(2, None)],
                       taxonomy=taxonomy))
    assert p.list_row(0).label == taxonomy.name("crack", "en") and p.shows_prediction(p.items[0])
    assert p.panel(1).waiting == "no_model" and p.names is taxonomy  # no model, but types to pick from (C)


def test_reasons_carry_the_thresholds_of_the_loaded_model(taxonomy):
    from models.routing.policy import Calibration
    from models.routing.unknown import UnknownDetector

    routing = Calibration(thresholds={"crack": 0.996, "dent": None}, unknown=UnknownDetector("energy", threshold=0.8),
                          spot_check=0.02, target_purity=0.99)
    low = PredictionRecord(leaf="crack", confidence=0.968, path=("g", "s", "crack"), route="rejudge",
                           reasons=("low_confidence", "possible_unknown"), unknown_score=0.91, model_version="v1", id=1)
    other = PredictionRecord(leaf="dent", confidence=0.992, route="rejudge", reasons=("leaf_below_target",),
                             model_version="v1", id=2)
    old = PredictionRecord(leaf="crack", confidence=0.5, route="rejudge", reasons=("low_confidence",),
                           model_version="v0", id=3)
    p = BatchPresenter()
    p.set_model("ready", version="v1", taxonomy=taxonomy, routing=routing)
    p.open(OpenedBatch(7, "b", "/b", [_item(1, low), _item(2, other), _item(3, old)]))
    assert p.panel(0).reasons == (ReasonDetail("low_confidence", 0.968, 0.996), ReasonDetail("possible_unknown", 0.91, 0.8))
    assert p.panel(1).reasons == (ReasonDetail("leaf_below_target", 0.992, 0.99),)
    assert p.panel(2).reasons == (ReasonDetail("low_confidence"),)  # another model's: no numbers to show

    # the same model calibrated again in place (fma-judge recalibrate): a decided image keeps the prediction of the
    # earlier calibration, whose thresholds are not these ("new-type score 0.996 > 1" was shown, seen under Xvfb)
    routing = dataclasses.replace(routing, created="2026-12-06T05:00:00")
    earlier = dataclasses.replace(low, calibration="2026-12-01T10:00:00", id=4)
    same = dataclasses.replace(low, calibration=routing.stamp, id=5)
    p.set_model("ready", version="v1", taxonomy=taxonomy, routing=routing)
    p.open(OpenedBatch(7, "b", "/b", [_item(4, earlier), _item(5, same), _item(1, low)]))
    assert p.panel(0).reasons == (ReasonDetail("low_confidence"), ReasonDetail("possible_unknown"))
    assert p.panel(1).reasons == p.panel(2).reasons == (ReasonDetail("low_confidence", 0.968, 0.996),
                                                        ReasonDetail("possible_unknown", 0.91, 0.8))  # (2: not stamped)


def test_a_rejudged_image_shows_the_group_or_subgroup_the_model_determined(taxonomy):
    from models.routing.policy import Calibration

    routing = Calibration(thresholds={"particle_metal": 0.95}, node_thresholds={"foreign_matter": 0.6, "particle": 0.8},
                          target_purity=0.99)
    path = ("foreign_matter", "particle", "particle_metal")

    def record(scores, route, reasons=(), version="v1", i=1):
        return PredictionRecord(leaf="particle_metal", confidence=scores[-1], path=path, path_scores=scores,
                                top5=(("particle_metal", path, scores[-1]),), route=route, reasons=reasons,
                                model_version=version, id=i)

    items = [_item(1, record((0.99, 0.9, 0.7), "rejudge", ("low_confidence",))),   # subgroup determined
             _item(2, record((0.7, 0.5, 0.4), "rejudge", ("low_confidence",))),    # group only
             _item(3, record((0.99, 0.98, 0.97), "auto")),                         # the leaf itself: auto
             _item(4, record((0.99, 0.9, 0.7), "rejudge", ("low_confidence", "possible_unknown"))),
             _item(5, record((0.99, 0.9, 0.7), "rejudge", ("low_confidence",), version="v0"))]  # another model
    p = BatchPresenter()
    p.set_model("ready", version="v1", taxonomy=taxonomy, routing=routing)
    p.open(OpenedBatch(7, "b", "/b", items))
    assert [p.panel(i).determined for i in range(5)] == [1, 0, None, None, None]
    assert [p.determined_node(p.items[i]) for i in range(5)] == ["particle", "foreign_matter", None, None, None]
    # a calibration whose node thresholds let flagged images climb: the flagged image shows its subgroup too
    p.set_model("ready", version="v1", taxonomy=taxonomy, routing=dataclasses.replace(routing, flagged_climb=True))
    assert p.panel(3).determined == 1 and p.determined_node(p.items[3]) == "particle"


def test_a_prediction_fused_with_spectra_is_shown_by_the_fused_routing(taxonomy):
    """A prediction fused with a spectrum was routed by the spectrum head's thresholds: its determined node and the
    numbers behind its reasons are the fused ones, not the image's (which would show "0.93 < 0.96" for a leaf whose
    fused threshold is 0.95, and a subgroup the fused routing does not determine)."""
    from models.routing.policy import Calibration

    image = Calibration(thresholds={"particle_metal": 0.96}, node_thresholds={"foreign_matter": 0.9, "particle": 0.8},
                        target_purity=0.99)
    fused = dataclasses.replace(image, thresholds={"particle_metal": 0.95},
                                node_thresholds={"foreign_matter": 0.6, "particle": 0.97})
    path = ("foreign_matter", "particle", "particle_metal")
    record = PredictionRecord(leaf="particle_metal", confidence=0.93, path=path, path_scores=(0.99, 0.9, 0.93),
                              route="rejudge", reasons=("low_confidence",), model_version="v1", id=1, spectra=1)
    p = BatchPresenter()
    p.set_model("ready", version="v1", taxonomy=taxonomy, routing=image, fused=fused)
    p.open(OpenedBatch(7, "b", "/b", [_item(1, record), _item(2, dataclasses.replace(record, id=2, spectra=0))]))
    assert p.panel(0).reasons == (ReasonDetail("low_confidence", 0.93, 0.95),)
    assert p.panel(0).determined == 0 and p.determined_node(p.items[0]) == "foreign_matter"
    # the same prediction of the image alone: the image's thresholds
    assert p.panel(1).reasons == (ReasonDetail("low_confidence", 0.93, 0.96),)
    assert p.panel(1).determined == 1 and p.determined_node(p.items[1]) == "particle"


def test_the_top5_keys_are_scoped_to_the_determined_node_and_a_widens(taxonomy):
    """An image whose group is determined lists that group's five best leaves (keys 1-5 choose among them); A
    switches to the whole tree's Top-5 and back. Without a determined node the prediction's own Top-5 shows."""
    from models.routing.policy import Calibration

    leaves = list(taxonomy.leaves)
    probs = np.full(len(leaves), 0.001)
    # the whole tree's best five mix both groups; foreign matter's leaves hold 0.9 in all
    for leaf, v in {"scratch": 0.05, "particle_metal": 0.4, "fiber": 0.2, "particle_organic": 0.15, "crack": 0.04,
                    "pi_residue": 0.1, "lc_stain": 0.03}.items():
        probs[leaves.index(leaf)] = v
    order = np.argsort(-probs)[:5]
    top5 = tuple((leaves[i], tuple(taxonomy.path(leaves[i])), float(probs[i])) for i in order)
    path = tuple(taxonomy.path("particle_metal"))
    routing = Calibration(thresholds={"particle_metal": 0.95}, node_thresholds={"foreign_matter": 0.6},
                          target_purity=0.99)
    record = PredictionRecord(leaf="particle_metal", confidence=0.4, path=path, path_scores=(0.9, 0.75, 0.4),
                              top5=top5, leaf_probs=tuple(probs),
                              route="rejudge", reasons=("low_confidence",), model_version="v1", id=1)
    p = BatchPresenter()
    p.set_model("ready", version="v1", taxonomy=taxonomy, routing=routing)
    p.open(OpenedBatch(7, "b", "/b", [_item(1, record), _item(2, dataclasses.replace(record, path_scores=(0.5, 0.4, 0.4),
                                                                                    id=2))]))
    assert [e[0] for e in top5] == ["particle_metal", "fiber", "particle_organic", "pi_residue", "scratch"]
    scoped = p.panel(0)
    assert [e.leaf for e in scoped.top5] == ["particle_metal", "fiber", "particle_organic", "pi_residue", "lc_stain"]
    assert scoped.top_scope == taxonomy.name("foreign_matter", "en") and scoped.top_widened is None
    # each row's ancestry leaves out the group the header names: the subgroup alone
    name = lambda n: taxonomy.name(n, "en")  # noqa: E731
    assert [e.parents for e in scoped.top5] == [name(taxonomy.path(e.leaf)[1]) for e in scoped.top5]
    assert [t[0] for t in p.top_leaves(p.items[0])] == [e.leaf for e in scoped.top5]  # what keys 1-5 choose
    assert p.toggle_top_scope(p.items[0])
    wide = p.panel(0)
    assert [e.leaf for e in wide.top5] == [e[0] for e in top5] and wide.top_widened == scoped.top_scope
    assert wide.top_scope is None and p.top_leaves(p.items[0]) == top5
    assert wide.top5[0].parents == " › ".join(name(n) for n in path[:-1])  # the whole tree: the whole ancestry
    assert p.toggle_top_scope(p.items[0]) and p.panel(0).top_scope  # A again: back to the group
    plain = p.panel(1)  # nothing determined: the prediction's own list, nothing to toggle
    assert [e.leaf for e in plain.top5] == [e[0] for e in top5] and plain.top_scope is plain.top_widened is None
    assert not p.toggle_top_scope(p.items[1])


def test_a_spot_check_is_shown_blind_until_it_is_decided(taxonomy):
    """A spot check (or a paused leaf's image) withholds the model's call: no path, Top-5, heatmap or list label;
    its reason is still said. Once decided, the call shows again."""
    items = [_item(1, _prediction("scratch", "rejudge", reasons=("spot_check",))),
             _item(2, _prediction("crack", "rejudge", reasons=("purity_paused",)))]
    p = BatchPresenter(lang="en", blind_text="spot check")
    p.taxonomy = taxonomy
    p.open(OpenedBatch(7, "b", "/b", items))
    for row in (0, 1):
        panel = p.panel(row)
        assert panel.blind and panel.leaf is None and panel.path == () and panel.top5 == ()
        # the same one reason for both: "its type paused" beside the dashboard's paused type told the hidden call
        assert panel.waiting is None and [r.code for r in panel.reasons] == ["blind_check"]
        assert p.list_row(row).label == "spot check" and p.list_row(row).confidence is None
        assert not p.shows_prediction(items[row]) and p.determined_node(items[row]) is None
    assert p.focus("v1", 2, {}).heatmap == frozenset()  # no heatmap is even made for it
    p.apply_judgment(_judgment(1, "crack", "corrected"))
    assert not p.panel(0).blind and p.panel(0).leaf == "scratch"


def test_the_list_filter_picks_states_and_types_orders_them_and_next_follows_it(presenter, taxonomy):
    from app.services.batch_presenter import ListFilter

    presenter.apply_predictions([(4, _prediction("fiber"))])
    waiting = presenter.set_list_filter(ListFilter(states=frozenset({"pending", "rejudge"})))
    assert waiting == [1, 3] and [r.image_id for r in presenter.list_rows()] == [2, 4]
    mechanical = presenter.set_list_filter(ListFilter(node="mechanical"))  # a subgroup: every type below it
    assert mechanical == [0, 1, 2]  # scratch (auto), crack, dent (judged)
    assert presenter.next_open(1) == 1  # only crack is listed and open: "next" stays within the list
    assert presenter.next_open(3) == 1  # from an image the filter hides: the list's first open one
    presenter.apply_judgment(_judgment(2, "crack", "accepted"))
    assert presenter.shown_rows() == [0, 1, 2]  # a judged image stays listed until the filter is set again
    assert presenter.next_open(1) is None  # nothing listed is left, although image 4 still waits
    assert presenter.set_list_filter(ListFilter(node="mechanical", states=frozenset({"rejudge"}))) == []

    by_type = presenter.set_list_filter(ListFilter(sort="type"))  # by name in the UI language; no type last
    names = [taxonomy.name(presenter.type_of(presenter.items[i]), "zh_TW") for i in by_type[:4]]
    assert names == sorted(names, key=str.casefold) and by_type[4:] == [4, 5]
    presenter.items[0] = dataclasses.replace(presenter.items[0], prediction=dataclasses.replace(
        presenter.items[0].prediction, confidence=0.2))
    assert presenter.set_list_filter(ListFilter(sort="confidence"))[0] == 0  # least sure first
    types = {node: n for node, _name, n in presenter.list_types()}
    assert types == {"structural": 3, "mechanical": 3, "scratch": 1, "crack": 1, "dent": 1, "foreign_matter": 1,
                     "particle": 1, "fiber": 1}
    assert presenter.set_list_filter(ListFilter()) == list(range(6)) and presenter.next_open(1) == 3
    with pytest.raises(ValueError, match="unknown list sort"):
        ListFilter(sort="size")
    presenter.set_list_filter(ListFilter(node="mechanical"))
    presenter.open(OpenedBatch(8, "next", "/n", list(presenter.items)))
    assert not presenter.list_filter.active and presenter.shown_rows() == list(range(6))  # a new batch: all of it


def test_a_judged_leaf_the_tree_on_screen_lacks_reads_as_its_id_marked(taxonomy) -> None:
    """A judgment made under an older tree ("old_bubble"), shown with a model whose tree lacks that leaf: the list's
    label was empty and the panel showed the bare id. Now both show the id marked as outside this model's tree
    (in the UI language); with no tree at all, the id alone."""
    items = [_item(1, _prediction("dent"), _judgment(1, "old_bubble", "corrected")),
             _item(2, _prediction("dent"), _judgment(2, "dent", "accepted"))]
    p = BatchPresenter(lang="en", outside_text="{leaf} (outside)")
    p.taxonomy = taxonomy
    p.open(OpenedBatch(7, "b", "/b", items))
    assert p.list_row(0).label == "old_bubble (outside)"
    assert p.list_row(1).label == taxonomy.name("dent", "en")
    assert p.panel(0).judged_name == "old_bubble (outside)"
    p.taxonomy = None
    assert p.list_row(0).label == "old_bubble" and p.list_row(1).label == "dent"


def test_a_batch_reopened_starts_after_the_image_the_analyst_judged_last(taxonomy):
    """Back after a restart, the analyst started on an image far behind where they stopped (a pause had sent it
    back to waiting; factory-scale walk-through): the first open image after their last judgment, the ones before
    it after the end; a colleague's judgments, or none, leave the batch's first open image."""
    p = BatchPresenter(lang="en", unknown_text="unknown")
    p.taxonomy = taxonomy

    def judged(i: int, who: str, jid: int) -> BatchItem:
        return _item(i, _prediction("dent", "rejudge"), dataclasses.replace(_judgment(i, "dent", "accepted"),
                                                                            id=jid, analyst=who))

    items = [_item(1, _prediction("crack", "rejudge")), judged(2, "amy", 20), judged(3, "amy", 35),
             _item(4, _prediction("crack", "rejudge")), judged(5, "bob", 90), _item(6, _prediction("crack", "rejudge"))]
    batch = OpenedBatch(7, "b", "/b", items)
    assert p.open(batch, analyst="amy") == 3  # after img_3, her last: img_4
    assert p.open(batch, analyst="bob") == 5  # after img_5: img_6
    assert p.open(batch, analyst="cyd") == 0 and p.open(batch) == 0  # nothing of theirs: the first open one
    last = [*items[:5], judged(6, "amy", 99)]
    assert p.open(OpenedBatch(7, "b", "/b", last), analyst="amy") == 0  # at the end: round to the first open one
    assert p.open(batch, analyst="amy", wanted=5) == 4  # an image asked for stays asked for
    undone = [*items[:2], _item(3, _prediction("dent", "rejudge"), dataclasses.replace(
        _judgment(3, None, "reverted"), id=36, analyst="amy")), *items[3:]]  # her last: Ctrl+Z on img_3's slip
    assert p.open(OpenedBatch(7, "b", "/b", undone), analyst="amy") == 2  # back on it (it came after the end)
    # her last judgment made in another lot (the same picture in both): a new lot opened past the images waiting
    # before it (scale walk-through); made here, or before batches were recorded, it counts
    elsewhere = [items[0], *(dataclasses.replace(it, judgment=dataclasses.replace(it.judgment, batch_id=3))
                             for it in items[1:3]), *items[3:]]
    assert p.open(OpenedBatch(7, "b", "/b", elsewhere), analyst="amy") == 0
    here = [*items[:2], _item(3, _prediction("dent", "rejudge"), dataclasses.replace(
        items[2].judgment, batch_id=7)), *items[3:]]
    assert p.open(OpenedBatch(7, "b", "/b", here), analyst="amy") == 3


def test_a_part_restates_only_the_rows_newly_unreadable(presenter, monkeypatch):
    """Each part of a folder read again carries every file found unreadable so far: a row held before is restated
    when its file turns unreadable, once, not at each of a 100,000-image folder's 390 parts."""
    restated: list[int] = []
    real = presenter._restate
    monkeypatch.setattr(presenter, "_restate", lambda i: (restated.append(i), real(i))[1])
    presenter.grow(OpenedBatch(7, "b", "/b", [], unreadable={6: "not a recognised image format", 4: "file not found"},
                               continues=True))
    assert restated == [3] and presenter.state(presenter.items[3]) == "error"  # image 4, held at row 3
    assert presenter.counts().get("pending", 0) == 0 and presenter.counts()["error"] == 3
    restated.clear()
    presenter.grow(OpenedBatch(7, "b", "/b", [_item(7)], continues=True,
                               unreadable={6: "not a recognised image format", 4: "file not found", 1: "file not found"}))
    assert restated == [0] and presenter.state(presenter.items[0]) == "error"  # only image 1 is new
    assert presenter.counts()["error"] == 4 and presenter.counts().get("auto", 0) == 0


def test_a_judged_image_whose_file_is_gone_says_so_beside_its_badge(presenter, qapp):
    """A judged image whose file was deleted (or written over) kept its "accepted" badge alone, the reason only in the
    panel: its row says why its file cannot be read beside the badge, and in its tooltip."""
    from PySide6.QtCore import Qt

    from app.store.records import FILE_REPLACED
    from app.ui.batch_list import BatchListModel

    presenter.grow(OpenedBatch(7, "b", "/b", [], continues=True,
                               unreadable={3: "file not found", 2: FILE_REPLACED, 6: "not a recognised image format"}))
    judged, undecided = presenter.list_row(2), presenter.list_row(1)
    assert (judged.state, judged.label, judged.file_problem) == ("accepted", presenter.name("dent"), "file not found")
    assert (undecided.state, undecided.label, undecided.file_problem) == ("error", presenter.name("crack"),
                                                                          FILE_REPLACED)
    unread = presenter.list_row(5)  # its reason is its label already
    assert (unread.state, unread.label, unread.file_problem) == ("error", "not a recognised image format", "")
    assert presenter.list_row(0).file_problem == ""
    model = BatchListModel()
    model.set_rows([judged, unread])
    tip = model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert tip.endswith("\nfile not found") and "\naccepted · " in tip, tip
    assert model.data(model.index(1), Qt.ItemDataRole.ToolTipRole).count("not a recognised image format") == 1
    asked: list = []
    model.pool.start = asked.append  # (the thumbnails' decoding)
    model.set_rows([undecided, presenter.list_row(0)])
    assert model.data(model.index(0), Qt.ItemDataRole.DecorationRole).isNull()  # written over: no picture
    model.data(model.index(1), Qt.ItemDataRole.DecorationRole)
    assert [job.path for job in asked] == [presenter.list_row(0).path]  # only the other row's file is decoded


def test_an_image_read_since_the_listing_stays_read_through_the_later_parts(presenter):
    """A file the listing did not reach (a share away) read since: each later part carries the listing's "file not
    found" again, which turned its row red again while its picture was on screen."""
    presenter.grow(OpenedBatch(7, "b", "/b", [], unreadable={4: "file not found"}, continues=True))
    assert presenter.state(presenter.items[3]) == "error"
    assert presenter.reached(4) and presenter.state(presenter.items[3]) == "pending"
    presenter.grow(OpenedBatch(7, "b", "/b", [_item(7)], continues=True,
                               unreadable={4: "file not found", 7: "not a recognised image format"}))
    assert presenter.state(presenter.items[3]) == "pending" and presenter.state(presenter.items[6]) == "error"
    presenter.reached(6)  # read, but its file is not an image: not a reason a read takes away
    presenter.grow(OpenedBatch(7, "b", "/b", [], continues=True, unreadable={6: "not a recognised image format"}))
    assert presenter.state(presenter.items[5]) == "error"
    presenter.open(OpenedBatch(7, "b", "/b", list(presenter.items), unreadable={4: "file not found"}))
    assert presenter.state(presenter.items[3]) == "error"  # opened again: its listing is new


def test_an_image_judged_here_stays_seen_here_when_a_note_from_another_batch_comes(taxonomy):
    """Review: an image waiting when read (seen_here False), decided here, then noted in another lot (a poll brought
    the note row, batch 3): its panel said the decision was made in another batch until a reload. A merge with an
    older read kept the older flag too."""
    from app.services.item_merge import kept, newest

    p = BatchPresenter(lang="en", unknown_text="unknown")
    p.taxonomy = taxonomy
    p.open(OpenedBatch(7, "b", "/b", [_item(1, _prediction("dent", "rejudge"))]))
    decided = dataclasses.replace(_judgment(1, "dent", "accepted"), batch_id=7)
    p.apply_judgment(decided)
    p.apply_judgment(dataclasses.replace(decided, id=99, action="note", note="seen in lot3", batch_id=3))
    assert p.items[0].seen_here and not p.panel(0).judged_elsewhere
    held, read = p.items[0], dataclasses.replace(p.items[0], seen_here=False)
    assert kept(held, read).seen_here and newest(held, read, None).seen_here
    assert kept(read, held).seen_here and newest(read, held, None).seen_here
