"""The re-judge queue: filters, sorts, facet counts and paging across batches; bulk judgments with their
database rows; the queue service and its CSV export; correctness at 200 000 images; the queue view."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.util
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import bench_store_queue, write_image
from sqlalchemy import update
from store_backends import BACKENDS, fresh_engine

from app.services.queue import EXPORT_COLUMNS, QueueFilters, QueueService
from app.store import queries, repo
from app.store.db import make_engine, session_scope
from app.store.errors import JudgmentConflictError
from app.store.records import PredictionRecord
from app.store.schema import Prediction
from app.store.urls import sqlite_path

V1, V0 = "model-v1", "model-v0"
NOW = dt.datetime(2025, 3, 20, 12, 0, tzinfo=dt.UTC)

# name: (batches, leaf, confidence, route, reasons, hours before NOW the prediction was made)
IMAGES = {
    "img0": ("A", "scratch", 0.30, "rejudge", ("low_confidence",), 10),
    "img1": ("A", "crack", 0.55, "rejudge", ("low_confidence", "possible_unknown"), 50),
    "img2": ("B", "dent", 0.95, "rejudge", ("leaf_below_target",), 200),
    "img3": ("B", "scratch", 0.97, "auto", (), 300),
    "img4": ("AB", "fiber", 0.85, "rejudge", ("held_back",), 5),  # (a spot check is not listed: test_monitor.py)
    "img5": ("B", "crack", 0.40, "rejudge", ("low_confidence",), 30),  # judged: not in the queue
    "img6": ("B", "bubble", 0.20, "rejudge", ("low_confidence", "possible_unknown"), 100),  # judged, undone
    "img7": ("B", "scratch", 0.10, None, (), 1),  # only model-v0 predicted it
}
DETERMINED = {"img0": "mechanical", "img2": "structural", "img4": "fiber"}  # the others: nothing determined


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def pred(leaf: str | None, conf: float | None, route, reasons=(), version: str = V1,
         determined: str | None = None) -> PredictionRecord:
    return PredictionRecord(
        determined=determined,
        leaf=leaf,
        confidence=conf,
        path=("g", "s", leaf) if leaf else (),
        top5=((leaf, ("g", "s", leaf), conf),) if leaf else (),
        route=route,
        reasons=tuple(reasons),
        model_version=version,
        embedding=np.arange(4, dtype=np.float32).tobytes(),
    )


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path: Path):
    """An empty store on SQLite, and on PostgreSQL when ``FMA_TEST_PG_URL`` is set."""
    with fresh_engine(request.param, tmp_path, "queue.sqlite3") as eng:
        yield eng


@pytest.fixture
def store(engine, tmp_path: Path) -> dict[str, int]:
    """The images of :data:`IMAGES`; returns name -> image id."""
    ids: dict[str, int] = {}
    with session_scope(engine) as s:
        repo.register_model_version(s, version=V1, manifest={"name": "v1"})
        repo.register_model_version(s, version=V0, manifest={"name": "v0"})
        batches = {b: repo.create_batch(s, name=f"batch {b}", source_folder=tmp_path / b).id for b in "AB"}
        for name, (member, leaf, conf, route, reasons, hours) in IMAGES.items():
            image = repo.get_or_create_image(s, sha(name), tmp_path / "old" / f"{name}.png", 64, 64,
                                             seen_at=NOW - dt.timedelta(days=30))
            for b in member:
                write_image(tmp_path / b / f"{name}.png", size=(64, 64), seed=len(ids))  # (the pane shows it: one
                repo.add_to_batch(s, batches[b], image.image_id, tmp_path / b / f"{name}.png")  # not shown is not judged)
                repo.get_or_create_image(s, sha(name), tmp_path / b / f"{name}.png", 64, 64,
                                         seen_at=NOW - dt.timedelta(hours=1))
            ids[name] = image.image_id
            if route is not None:
                saved = repo.save_prediction(s, image.image_id,
                                             pred(leaf, conf, route, reasons, determined=DETERMINED.get(name)))
                s.execute(update(Prediction).where(Prediction.id == saved.id)
                          .values(created_at=NOW - dt.timedelta(hours=hours)))
            repo.save_prediction(s, image.image_id, pred("crack", 0.05, "rejudge", ["low_confidence"], V0))
        repo.record_judgment(s, image_id=ids["img5"], leaf="crack", action="accept", analyst="carol",
                             shown={"leaf": "crack"})
        j6 = repo.record_judgment(s, image_id=ids["img6"], leaf="bubble", action="accept", analyst="carol",
                                  shown={"leaf": "bubble"})
        repo.revert_judgment(s, j6.id, analyst="carol")
    ids["A"], ids["B"] = batches["A"], batches["B"]
    return ids


def queue(engine, **kw):
    with session_scope(engine, action="read") as s:
        return queries.rejudge_queue(s, model_version=V1, **kw)


def names(page, ids) -> list[str]:
    by_id = {v: k for k, v in ids.items() if k.startswith("img")}
    return [by_id[r.image_id] for r in page.rows]


# ------------------------------------------------------------------------------------------ queue
def test_queue_lists_undecided_rejudge_images_of_the_model_version_with_counts(engine, store) -> None:
    page = queue(engine)
    assert names(page, store) == ["img6", "img0", "img1", "img4", "img2"]  # least confident first
    assert page.total == 5
    assert page.counts_by_reason == {"low_confidence": 3, "possible_unknown": 2, "leaf_below_target": 1,
                                     "held_back": 1}
    assert page.counts_by_leaf == {"bubble": 1, "scratch": 1, "crack": 1, "fiber": 1, "dent": 1}
    row = page.rows[3]
    assert row.image_id == store["img4"] and row.leaf == "fiber" and row.confidence == pytest.approx(0.85)
    assert row.reasons == ("held_back",) and row.state == "rejudge" and row.judged_leaf is None
    assert row.batch_ids == (store["A"], store["B"]) and row.batch_name == "batch A, batch B"
    assert row.path.endswith("/B/img4.png")  # the most recently seen path, not the old one
    assert row.created_at == NOW - dt.timedelta(hours=5)
    assert row.age(NOW) == dt.timedelta(hours=5)
    # img7, waiting under model v0's prediction only, is not listed: it is counted (a lead read the backlog short)
    assert page.other_model == 1
    assert queue(engine, batch_id=store["A"]).other_model == 0  # (in batch B)
    assert queue(engine, older_than=dt.timedelta(days=1)).other_model == 0  # (predicted today: the age filter too)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("confidence", ["img6", "img0", "img1", "img4", "img2"]),
        ("age", ["img2", "img6", "img1", "img0", "img4"]),  # oldest first
        ("leaf", ["img6", "img1", "img2", "img4", "img0"]),  # bubble, crack, dent, fiber, scratch
        ("reason", ["img6", "img0", "img1", "img2", "img4"]),  # low_confidence, leaf_below_target, held_back
        ("batch", ["img0", "img1", "img2", "img4", "img6"]),  # arrival order
        ("determined", ["img6", "img1", "img4", "img0", "img2"]),  # nothing, fiber, mechanical, structural
    ],
)
def test_queue_sorts_and_reverses(engine, store, sort, expected) -> None:
    assert names(queue(engine, sort=sort), store) == expected
    assert names(queue(engine, sort=sort, descending=True), store) == expected[::-1]


def test_leaf_and_determined_sorts_follow_a_given_order(engine, store) -> None:
    order = ("scratch", "structural", "fiber", "crack", "mechanical", "dent", "bubble")  # e.g. by shown name
    assert names(queue(engine, sort="leaf", node_order=order), store) == ["img0", "img4", "img1", "img2", "img6"]
    # nothing determined first (NULL), then structural, fiber, mechanical as ordered
    assert names(queue(engine, sort="determined", node_order=order), store) == ["img1", "img6", "img2", "img4",
                                                                                  "img0"]
    assert names(queue(engine, sort="leaf", node_order=("dent",)), store) == ["img2", "img6", "img1", "img4", "img0"]


def test_a_150_leaf_trees_order_sorts_the_same(engine, store) -> None:
    """245 nodes (more than a 150-leaf tree's 188): the rank is a binary search over the ids in byte order, on both backends;
    ids that sort differently under a language's collation (case, "_", "-") must not move a row."""
    real = ("scratch", "structural", "fiber", "crack", "mechanical", "dent", "bubble")
    tricky = ["Scratch", "scratch_", "scratcH", "_dent", "dent0", "Dent", "crac", "fiber-x", "fiber_x", "Bubble",
              "bubble-", "a_b", "ab", "A", "z", "Z9", "mechanical_"]
    fakes = tricky + [f"{p}{i:03d}" for i, p in zip(range(223), ["leaf_", "Node-", "_x", "m"] * 56, strict=False)]
    order = []
    for k, node in enumerate(real):  # the real nodes spread through the order, in the order of the test above
        order += fakes[k * 34:(k + 1) * 34] + [node]
    assert len(order) == 245
    assert names(queue(engine, sort="leaf", node_order=tuple(order)), store) == ["img0", "img4", "img1", "img2", "img6"]
    assert names(queue(engine, sort="determined", node_order=tuple(order)), store) == ["img1", "img6", "img2", "img4",
                                                                                         "img0"]


def test_queue_groups_by_determined_node_with_counts(engine, store) -> None:
    page = queue(engine, sort="determined")
    assert page.counts_by_determined == {None: 2, "fiber": 1, "mechanical": 1, "structural": 1}
    assert {names(page, store)[i]: r.determined for i, r in enumerate(page.rows)} == {
        "img6": None, "img1": None, **{k: v for k, v in DETERMINED.items()}}
    assert queue(engine).counts_by_determined == {}  # counted only when grouped by it
    assert queue(engine, sort="determined", leaf="scratch").counts_by_determined == {"mechanical": 1}


def test_queue_filters_and_facet_counts(engine, store) -> None:
    by_reason = queue(engine, reasons=["possible_unknown"])
    assert names(by_reason, store) == ["img6", "img1"] and by_reason.total == 2
    assert by_reason.counts_by_reason["low_confidence"] == 3  # the reason facet ignores the reason filter
    assert by_reason.counts_by_leaf == {"bubble": 1, "crack": 1}  # the leaf facet applies it
    two = queue(engine, reasons=["held_back", "leaf_below_target"])
    assert names(two, store) == ["img4", "img2"]
    assert queue(engine, reasons=[]).total == 0

    crack = queue(engine, leaf="crack")
    assert names(crack, store) == ["img1"] and crack.total == 1
    assert crack.counts_by_leaf["scratch"] == 1  # the leaf facet ignores the leaf filter
    assert crack.counts_by_reason == {"low_confidence": 1, "possible_unknown": 1}

    in_a = queue(engine, batch_id=store["A"])
    assert names(in_a, store) == ["img0", "img1", "img4"]
    assert names(queue(engine, batch_id=store["B"]), store) == ["img6", "img4", "img2"]
    assert names(queue(engine, min_conf=0.3, max_conf=0.9), store) == ["img0", "img1", "img4"]
    assert names(queue(engine, older_than=dt.timedelta(days=3650)), store) == []  # nothing ten years old
    assert queue(engine, older_than=dt.timedelta(days=1)).total == 5
    assert names(queue(engine, older_than=NOW - dt.timedelta(hours=60)), store) == ["img6", "img2"]
    both = queue(engine, batch_id=store["B"], reasons=["low_confidence"], max_conf=0.5)
    assert names(both, store) == ["img6"]


def test_queue_filters_by_state_and_analyst(engine, store) -> None:
    waiting = names(queue(engine), store)
    assert names(queue(engine, states=("rejudge",)), store) == waiting
    assert names(queue(engine, states=("accepted",)), store) == ["img5"]  # carol accepted it
    assert sorted(names(queue(engine, states=("rejudge", "accepted")), store)) == sorted([*waiting, "img5"])
    assert names(queue(engine, states=("corrected", "unknown")), store) == []
    assert names(queue(engine, analyst="carol"), store) == ["img5"]  # her decisions only (img6's was undone)
    assert names(queue(engine, analyst="nobody"), store) == []
    assert queue(engine, states=()).total == 0
    with pytest.raises(ValueError, match="unknown queue state"):
        queue(engine, states=("done",))
    with session_scope(engine, action="read") as s:
        assert queries.analysts(s) == ["carol"]


def test_include_judged_shows_decisions_and_undo_puts_an_image_back(engine, store) -> None:
    page = queue(engine, include_judged=True)
    assert names(page, store) == ["img6", "img0", "img5", "img1", "img4", "img2"]
    img5 = page.rows[2]
    assert (img5.state, img5.judged_leaf, img5.judged_by) == ("accepted", "crack", "carol")
    assert page.rows[0].state == "rejudge"  # img6 was judged and undone: pending again


def test_pages_cover_the_queue_exactly_once(engine, store) -> None:
    full = names(queue(engine, sort="age"), store)
    pages = [queue(engine, sort="age", offset=o, limit=2) for o in (0, 2, 4, 6)]
    assert [n for p in pages for n in names(p, store)] == full
    assert all(p.total == 5 for p in pages) and pages[-1].rows == []


def test_rows_and_counts_can_be_read_apart(engine, store) -> None:
    """The view reads a page's rows first and its counts next (each is a scan less than both together)."""
    for kw in ({}, {"reasons": ["possible_unknown"]}, {"leaf": "crack"}, {"sort": "determined"}):
        both = queue(engine, **kw)
        rows, counts = queue(engine, facets=False, **kw), queue(engine, rows=False, **kw)
        assert rows.rows == both.rows and rows.total is None and not rows.counts_by_leaf
        assert counts.rows == [] and counts.total == both.total
        assert (counts.counts_by_leaf, counts.counts_by_reason, counts.counts_by_determined) == \
            (both.counts_by_leaf, both.counts_by_reason, both.counts_by_determined)
    assert queue(engine, facets=False, reasons=[]).rows == []
    under = queue(engine, leaves=("scratch", "crack"))  # the types under a subgroup
    assert sorted(names(under, store)) == ["img0", "img1"] and under.total == 2
    assert queue(engine, leaves=("scratch", "crack"), leaf="crack").total == 1 and queue(engine, leaves=()).total == 0


def test_queue_refuses_bad_arguments_and_knows_no_unregistered_version(engine, store) -> None:
    with pytest.raises(ValueError, match="unknown queue sort"):
        queue(engine, sort="size")
    with pytest.raises(ValueError, match="between 0 and 1"):
        queue(engine, min_conf=1.5)
    with pytest.raises(ValueError, match="naive"):
        queue(engine, older_than=dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="bad page"):
        queue(engine, limit=0)
    with session_scope(engine, action="read") as s:
        empty = queries.rejudge_queue(s, model_version="never-registered")
    assert empty.rows == [] and empty.total == 0


# ------------------------------------------------------------------------------------------ bulk
def test_bulk_accept_and_relabel_append_judgments(engine, store) -> None:
    with session_scope(engine) as s:
        accepted = queries.bulk_judge(s, [store["img0"], store["img1"], store["img0"]], analyst="dave",
                                      model_version=V1)
    assert [j.image_id for j in accepted] == [store["img0"], store["img1"]]  # duplicates judged once
    with session_scope(engine, action="read") as s:
        (j0,) = repo.judgment_history(s, store["img0"])
        p0 = repo.latest_predictions(s, [store["img0"]], model_version=V1)[store["img0"]]
    assert (j0.status, j0.leaf, j0.action, j0.analyst, j0.model_version) == ("accepted", "scratch", "bulk", "dave", V1)
    assert j0.prediction_id == p0.id and j0.shown["leaf"] == "scratch" and j0.shown["reasons"] == ["low_confidence"]
    assert names(queue(engine), store) == ["img6", "img4", "img2"]

    with session_scope(engine) as s:
        relabelled = queries.bulk_judge(s, [store["img2"], store["img4"]], leaf="dent", analyst="dave",
                                        model_version=V1)
    assert [(j.leaf, j.status) for j in relabelled] == [("dent", "accepted"), ("dent", "corrected")]
    with session_scope(engine) as s:  # judging a judged image again appends; history is kept
        queries.bulk_judge(s, [store["img5"]], leaf="scratch", analyst="dave", model_version=V1)
    with session_scope(engine, action="read") as s:
        history = repo.judgment_history(s, store["img5"])
    assert [(h.leaf, h.status, h.analyst) for h in history] == [("crack", "accepted", "carol"),
                                                               ("scratch", "corrected", "dave")]
    assert names(queue(engine), store) == ["img6"]


def test_bulk_accept_without_a_prediction_writes_nothing(engine, store) -> None:
    with pytest.raises(ValueError, match=r"without a prediction of model-v1.*relabel them instead"), \
            session_scope(engine) as s:
        queries.bulk_judge(s, [store["img0"], store["img7"]], analyst="dave", model_version=V1)
    with session_scope(engine, action="read") as s:
        assert repo.judgment_history(s, store["img0"]) == []
        with pytest.raises(ValueError, match="leaf must be"):
            queries.bulk_judge(s, [store["img0"]], leaf="  ", analyst="dave", model_version=V1)


# ------------------------------------------------------------------------------------------ service
def test_service_pages_accepts_undoes_and_exports(engine, store, tmp_path: Path) -> None:
    service = QueueService(engine, "erin")
    filters = QueueFilters(model_version=V1, batch_id=store["A"])
    assert [r.image_id for r in service.page(filters).rows] == [store["img0"], store["img1"], store["img4"]]
    assert [b[:2] for b in service.batches()] == [(store["B"], "batch B"), (store["A"], "batch A")]
    assert all(b[2].tzinfo is not None for b in service.batches())  # the menu shows each batch's date
    assert service.model_versions()[0] in (V0, V1) and set(service.model_versions()) == {V0, V1}

    records = service.accept([store["img0"], store["img1"]], model_version=V1)
    assert [r.analyst for r in records] == ["erin", "erin"] and service.can_undo
    assert service.page(filters).total == 1
    undone = service.undo_last()
    assert [u.status for u in undone] == ["reverted", "reverted"] and not service.can_undo
    assert service.page(filters).total == 3
    # several actions: Ctrl+Z takes them back newest first (it undid only the last one)
    service.accept([store["img0"]], model_version=V1)
    service.mark_unknown([store["img1"]], model_version=V1)
    assert [u.image_id for u in service.undo_last()] == [store["img1"]] and service.can_undo
    assert [u.image_id for u in service.undo_last()] == [store["img0"]] and not service.can_undo
    assert service.undo_last() == [] and service.page(filters).total == 3
    # a step a colleague's judgment made impossible leaves the history, the ones before stay; a database that
    # could not be written keeps the step for the next try
    service.accept([store["img0"]], model_version=V1)
    erins = service.accept([store["img1"]], model_version=V1)[0].id
    with session_scope(engine) as s:
        franks = repo.record_judgment(s, image_id=store["img1"], leaf="fiber", action="picker", analyst="frank").id
    with pytest.raises(JudgmentConflictError):
        service.undo_last()
    from app.store.errors import StoreError

    real = repo.revert_judgment
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(repo, "revert_judgment", lambda *a, **k: (_ for _ in ()).throw(StoreError("disk full")))
        with pytest.raises(StoreError):
            service.undo_last()
    assert repo.revert_judgment is real and service.can_undo
    assert [u.image_id for u in service.undo_last()] == [store["img0"]] and not service.can_undo
    with session_scope(engine) as s:  # (img1 back to waiting for the rest of the test)
        repo.revert_judgment(s, franks, analyst="frank")
        repo.revert_judgment(s, erins, analyst="erin")

    service.relabel([store["img4"]], "scratch", model_version=V1)
    with session_scope(engine) as s:  # someone judges it again: the undo no longer applies
        repo.record_judgment(s, image_id=store["img4"], leaf="fiber", action="picker", analyst="frank")
    with pytest.raises(JudgmentConflictError):
        service.undo_last()
    with session_scope(engine) as s:  # a colleague's note on frank's decision: the decision stays frank's
        repo.note_images(s, [store["img4"]], "seen", analyst="gina")

    out = tmp_path / "exports" / "queue.csv"
    count = service.export_queue(out, QueueFilters(model_version=V1, include_judged=True, sort="age"))
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # a byte-order mark: Excel on a Chinese Windows reads UTF-8
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert count == len(rows) == 6
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [r["image_id"] for r in rows] == [str(store[n]) for n in ("img2", "img6", "img1", "img5", "img0", "img4")]
    img1 = next(r for r in rows if r["image_id"] == str(store["img1"]))
    assert img1["reasons"] == "low_confidence;possible_unknown" and img1["state"] == "rejudge"
    assert img1["path"].endswith("/A/img1.png") and img1["batches"] == "batch A"
    img4 = next(r for r in rows if r["image_id"] == str(store["img4"]))
    assert (img4["state"], img4["judged_leaf"], img4["judged_by"]) == ("corrected", "fiber", "frank")
    with pytest.raises(ValueError, match="is a folder"):
        service.export_queue(tmp_path, QueueFilters(model_version=V1))
    db = sqlite_path(engine.url)
    if db is not None:
        with pytest.raises(ValueError, match="is the database the judgments are kept in"):
            service.export_queue(db, QueueFilters(model_version=V1))
    with pytest.raises(ValueError, match="unknown queue sort"):
        QueueFilters(model_version=V1, sort="nope")


# ------------------------------------------------------------------------------------------ 200k
_bench = bench_store_queue


def test_queue_is_right_on_200k_images(tmp_path: Path) -> None:
    bench = _bench()
    truth = bench.build_store(tmp_path / "big.sqlite3", 200_000)
    engine = make_engine(f"sqlite:///{tmp_path / 'big.sqlite3'}")
    try:
        blind = truth.reasons[:, bench.REASONS.index("spot_check")]  # judged in their batch, not in the queue
        waiting = truth.rejudge & ~truth.decided & ~blind
        ids = np.arange(1, len(waiting) + 1)
        with session_scope(engine, action="read") as s:
            page = queries.rejudge_queue(s, model_version=bench.VERSION)
            assert page.total == int(waiting.sum()) > 50_000
            assert page.blind_waiting == int((truth.rejudge & ~truth.decided & blind).sum()) > 0  # said, not listed
            assert page.counts_by_leaf == {leaf: int((waiting & (truth.leaf == k)).sum())
                                           for k, leaf in enumerate(bench.LEAVES)}
            assert page.counts_by_reason == {reason: int((waiting & truth.reasons[:, k]).sum())
                                             for k, reason in enumerate(bench.REASONS) if reason != "spot_check"}
            order = np.lexsort((ids[waiting], truth.confidence[waiting]))
            assert [r.image_id for r in page.rows] == ids[waiting][order][:200].tolist()
            assert all(r.path.startswith("/data/") for r in page.rows)  # latest path, not /old/

            newest = queries.rejudge_queue(s, model_version=bench.VERSION, sort="age", descending=True, limit=3)
            stamps = truth.created_seconds[waiting]
            expected = ids[waiting][np.lexsort((ids[waiting], stamps))][::-1][:3]
            assert [r.image_id for r in newest.rows] == expected.tolist()

            sel = queries.rejudge_queue(s, model_version=bench.VERSION, batch_id=8, leaf="crack",
                                        reasons=["possible_unknown", "spot_check"], min_conf=0.3, max_conf=0.9)
            mask = (waiting & (truth.batch == 7) & (truth.leaf == bench.LEAVES.index("crack"))
                    & (truth.reasons[:, bench.REASONS.index("possible_unknown")]
                       | truth.reasons[:, bench.REASONS.index("spot_check")])
                    & (truth.confidence >= 0.3) & (truth.confidence <= 0.9))
            assert sel.total == int(mask.sum()) > 0
            assert sorted(r.image_id for r in sel.rows) == ids[mask].tolist()

            first = queries.rejudge_queue(s, model_version=bench.VERSION, batch_id=1, limit=10_000)
            in_first = waiting & ((truth.batch == 0) | truth.also_in_first_batch)
            assert first.total == int(in_first.sum())
            assert first.blind_waiting == int((truth.rejudge & ~truth.decided & blind & (
                (truth.batch == 0) | truth.also_in_first_batch)).sum()) > 0  # the batch filter alone applies
            # the leaf, reason and confidence filters would tell a blind check's hidden call: only the batch counts
            assert sel.blind_waiting == int((truth.rejudge & ~truth.decided & blind & (truth.batch == 7)).sum()) > 0
            assert {r.image_id for r in first.rows} == set(ids[in_first].tolist())
            median = float(np.median(truth.created_seconds))  # the age filter tells nothing of a call: it counts too
            older = queries.rejudge_queue(s, model_version=bench.VERSION, batch_id=1, limit=1, older_than=(
                bench.BASE_TIME + dt.timedelta(seconds=median)))
            assert older.blind_waiting == int((truth.rejudge & ~truth.decided & blind & (truth.created_seconds < median) & (
                (truth.batch == 0) | truth.also_in_first_batch)).sum()) > 0
            assert older.blind_waiting < first.blind_waiting

            everything = queries.rejudge_queue(s, model_version=bench.VERSION, include_judged=True)
            assert everything.total == int((truth.rejudge & (~blind | truth.decided)).sum())
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------ widget
HAS_QT = importlib.util.find_spec("pytestqt") is not None
needs_qt = pytest.mark.skipif(not HAS_QT, reason="pytest-qt not installed")
SQLITE_ONLY = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the SQL is covered above


@pytest.fixture
def queue_window(qtbot, engine, store, taxonomy, tmp_path, monkeypatch):
    """The queue view inside a main window that has its own Return shortcut (as the app's window does)."""
    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QKeySequence, QShortcut
    from PySide6.QtWidgets import QApplication, QMainWindow

    from app.ui.queue_view import QueueView

    window = QMainWindow()
    view = QueueView(QueueService(engine, "gina"), taxonomy=taxonomy, lang="en", model_version=V1)
    window.setCentralWidget(view)
    window.stolen = []
    for key in ("Return", "C"):
        shortcut = QShortcut(QKeySequence(key), window)
        shortcut.activated.connect(lambda key=key: window.stolen.append(key))
    window.resize(1300, 520)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh()
    view.table.setFocus()
    # a test before on this worker may have left Ctrl down in Qt's idea of the keyboard (a keyClick with Ctrl:
    # its release carries the modifier), and selectRow then toggles the row instead of selecting it
    qtbot.keyRelease(view.table, Qt.Key.Key_Control)
    assert QApplication.keyboardModifiers() == Qt.KeyboardModifier.NoModifier
    yield window, view
    _wait_for_pool()


def _wait_for_pool() -> None:
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(5000)


def _ids(view) -> list[int]:
    return [r.image_id for r in (view.model.queue_row(i) for i in range(view.model.rowCount())) if r]


@needs_qt
@SQLITE_ONLY
def test_the_queue_says_how_many_blind_checks_wait_in_their_batch(qtbot, queue_window, engine, store,
                                                                   tmp_path) -> None:
    """A spot check is never listed (its row would show the hidden call), so the window's re-judge count is higher
    than the queue's: the counts line says why, and for a batch filter counts that batch's checks only."""
    _window, view = queue_window
    other = "under another model's predictions: 1 (opening their batch predicts them with this one)"  # (img7)
    assert view.counts_label.text() == f"5 waiting  ·  {other}  ·  1 selected"
    with session_scope(engine) as s:
        image = repo.get_or_create_image(s, sha("blind"), tmp_path / "A" / "blind.png", 64, 64)
        repo.add_to_batch(s, store["A"], image.image_id, tmp_path / "A" / "blind.png")
        repo.save_prediction(s, image.image_id, pred("crack", 0.99, "rejudge", ["spot_check"]))
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh()
    assert view.counts_label.text() == f"5 waiting  ·  blind checks (in their batch): 1  ·  {other}  ·  1 selected"
    assert store["A"] != store["B"]
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.batch_combo.setCurrentIndex(view.batch_combo.findData(store["B"]))
    assert "blind" not in view.counts_label.text() and other in view.counts_label.text()
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.batch_combo.setCurrentIndex(view.batch_combo.findData(store["A"]))
    assert "another model" not in view.counts_label.text()  # (img7 is in batch B)


@needs_qt
@SQLITE_ONLY
def test_the_queue_says_who_is_on_an_image_and_leaves_it_to_them(qtbot, queue_window, engine) -> None:
    """bob's window is on an image of the queue: its row says so, and the bulk keys judge the others and leave his
    (an accept from the queue interrupted him with a conflict)."""
    from PySide6.QtCore import Qt

    _window, view = queue_window
    first, second = _ids(view)[:2]
    with session_scope(engine) as s:
        assert repo.claim(s, [first], "bob", lease_s=300) == {}
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh()
    row = view.model.queue_row(0)
    assert row.image_id == first and row.held_by == "bob"
    assert view.model.data(view.model.index(0, view.model.COLUMNS.index("state"))) == "bob holds it"
    view.table.setFocus()
    view.table.selectRow(0)
    qtbot.keyClick(view.table, Qt.Key.Key_Return)  # his alone: nothing judged, and why
    assert view.status_label.text() == "Nothing judged: bob holds it (on it, or next in their list); it is left to them."
    qtbot.keyClick(view.table, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)  # his and the next
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert view.status_label.text() == "Accepted 1 image  ·  1 left to colleagues who hold them"
    with session_scope(engine, action="read") as s:
        judged = repo.current_judgments(s, [first, second])
    assert (first not in judged or not judged[first].is_decision) and judged[second].status == "accepted"


@needs_qt
@SQLITE_ONLY
def test_the_detail_pane_follows_a_reload_that_judged_its_image(qtbot, queue_window) -> None:
    """Ctrl+A, U: every waiting image judged, the list empty, and the pane no longer shows one as waiting."""
    from PySide6.QtCore import Qt

    _window, view = queue_window
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_Home)
    shown = view.detail.row
    assert shown is not None and shown.state == "rejudge"
    qtbot.keyClick(view.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_U)
    assert _ids(view) == [] and view.detail.row is None
    # the list is empty: the pane says so ("Select an image to see it here" asked for what was not there)
    assert view.detail.viewer._message.text().startswith("No image in this list: nothing waits")


@needs_qt
@SQLITE_ONLY
def test_one_image_the_pane_cannot_show_is_not_judged_by_its_keys(qtbot, queue_window, engine, store,
                                                                  tmp_path) -> None:
    """Its share away, the pane said "file not found" and Enter accepted, U marked unknown, the image nobody saw
    (verification walk-through). A selection of several is still a bulk decision on the model's calls."""
    from PySide6.QtCore import Qt

    _window, view = queue_window
    row = _ids(view).index(store["img0"])
    path = view.model.rows[row].path
    Path(path).rename(path + ".away")
    view.table.selectRow(row)
    qtbot.waitUntil(lambda: view.detail.unshown is not None and view.detail.unshown[0] == store["img0"],
                    timeout=10_000)
    assert not view.accept_btn.isEnabled() and not view.unknown_btn.isEnabled()  # its buttons as its keys
    for key in (Qt.Key.Key_Return, Qt.Key.Key_U, Qt.Key.Key_1):
        qtbot.keyClick(view.table, key)
        assert view.status_label.text() == f"Nothing judged: {Path(path).name} cannot be shown (file not found)"
    with session_scope(engine, action="read") as s:
        assert store["img0"] not in repo.current_judgments(s, [store["img0"]])
    view.table.selectRow(row)
    assert view.status_label.text().startswith("Nothing judged")  # the same image: still said
    view.table.selectRow(row + 1 if row + 1 < view.model.rowCount() else row - 1)
    qtbot.waitUntil(lambda: view.status_label.text() == "", timeout=2000)  # another image: the line is gone
    flags = view.table.selectionModel().SelectionFlag
    view.table.selectionModel().setCurrentIndex(view.model.index(row, 0), flags.ClearAndSelect | flags.Rows)
    qtbot.waitUntil(lambda: view.detail.unshown is not None and view.detail.unshown[0] == store["img0"],
                    timeout=10_000)
    Path(path + ".away").rename(path)  # put back, and the list read again (F5): the same row, shown and judgeable
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):  # (it stayed "file not found", its keys off, until
        view.refresh()  # another row was selected and this one again)
    qtbot.waitUntil(lambda: view.detail.unshown is None and view.detail.viewer.has_image, timeout=10_000)
    assert view.accept_btn.isEnabled() and view.selected_rows()[0].image_id == store["img0"]


@needs_qt
@SQLITE_ONLY
def test_an_image_whose_file_was_written_over_shows_no_picture_and_is_not_judged_by_its_keys(
        qtbot, queue_window, engine, store) -> None:
    """Its file written over with another picture (seen at its path since, an image of its own): the pane and the
    tile showed that picture under this image's prediction, and Enter accepted it. Nothing is shown, the pane says
    why, and its keys judge nothing."""
    from PySide6.QtCore import Qt

    _window, view = queue_window
    path = view.model.rows[_ids(view).index(store["img0"])].path
    with session_scope(engine) as s:  # the folder opened again: another picture at its path
        repo.get_or_create_image(s, "f" * 64, path, 8, 8)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh()
    row = _ids(view).index(store["img0"])
    assert view.model.rows[row].replaced and not any(r.replaced for i, r in enumerate(view.model.rows) if i != row)
    view.table.selectRow(row)
    qtbot.waitUntil(lambda: view.detail.unshown is not None and view.detail.unshown[0] == store["img0"],
                    timeout=10_000)
    assert view.detail.viewer._message.text() == "its file holds another picture now"
    assert not view.detail.viewer.has_image and not view.accept_btn.isEnabled()
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert view.status_label.text() == (f"Nothing judged: {Path(path).name} cannot be shown (its file holds another "
                                        "picture now)")
    with session_scope(engine, action="read") as s:
        assert store["img0"] not in repo.current_judgments(s, [store["img0"]])
    # in bulk neither (Ctrl+A, Enter accepted it with the others): the others are judged, it is not
    qtbot.keyClick(view.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    others = [r.image_id for r in view.selected_rows() if not r.replaced and r.state == "rejudge"]
    assert len(view.selected_rows()) > 1 and others
    view._bulk_accept_confirmed = lambda rows: True  # (the question a large selection asks)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    with session_scope(engine, action="read") as s:
        judged = repo.current_judgments(s, [store["img0"], *others])
    assert store["img0"] not in judged and set(others) <= set(judged)
    qtbot.keyClick(view.table, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)  # the gallery: its tile says why
    assert view.active_view() is view.gallery
    shot, tile = view.gallery.viewport().grab().toImage(), view.gallery.visualRect(view.model.index(0, 0))
    assert "#f28b82" in {shot.pixelColor(x, y).name() for x in range(tile.left(), tile.right())  # the reason, in red
                         for y in range(tile.top(), tile.top() + tile.height() // 2)}


@needs_qt
@SQLITE_ONLY
def test_a_refusal_about_several_rows_stays_through_a_quiet_reload(qtbot, queue_window) -> None:
    """A reload (the 30 s poll, a judgment in the main window) selects the rows again one by one: the first step
    differed from the refused selection, and the line went while the same rows stayed selected (review)."""
    from PySide6.QtWidgets import QApplication

    _window, view = queue_window
    qtbot.waitUntil(lambda: view.model.total is not None and not view._runner._tasks, timeout=10_000)  # (loaded)
    flags = view.table.selectionModel().SelectionFlag  # (not selectRow: it toggles while a test before left Ctrl
    view.table.selectionModel().select(view.model.index(0, 0), flags.ClearAndSelect | flags.Rows)  # down)
    view.table.selectionModel().select(view.model.index(1, 0), flags.Select | flags.Rows)
    assert len(view.selected_rows()) == 2
    view._refused(view.selected_rows()[:1], "Nothing judged: they are someone else's")  # (a subset: the waiting)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh(quiet=True)
    for _ in range(3):
        QApplication.processEvents()
    assert len(view.selected_rows()) == 2 and view.status_label.text() == "Nothing judged: they are someone else's"
    view.table.selectionModel().select(view.model.index(2, 0), flags.ClearAndSelect | flags.Rows)
    qtbot.waitUntil(lambda: view.status_label.text() == "", timeout=2000)


@needs_qt
@SQLITE_ONLY
def test_what_a_key_did_is_said_no_more_after_a_filter_change_or_a_reopen(qtbot, queue_window) -> None:
    """The last key's line stayed when a filter showed other rows, and came back when the queue was closed and
    opened again (zh_TW walk-through)."""
    _window, view = queue_window
    qtbot.waitUntil(lambda: view.model.total is not None and not view._runner._tasks, timeout=10_000)
    view.table.selectRow(0)
    view._refused(view.selected_rows(), "Nothing accepted: you judged these so already")
    assert view.status_label.text() == "Nothing accepted: you judged these so already"
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.age_combo.setCurrentIndex(1)
    assert "judged these so already" not in view.status_label.text()
    view._refused(view.selected_rows(), "Nothing accepted: you judged these so already")
    view.hide()
    view.show()
    assert view.status_label.text() == ""


@needs_qt
@SQLITE_ONLY
def test_an_undone_note_is_said_to_be_a_note(qtbot, queue_window) -> None:
    """Ctrl+Z of a note said "Undid the judgment on P005_20x.png", though only the note went (walk-through)."""
    _window, view = queue_window
    qtbot.waitUntil(lambda: view.model.total is not None and not view._runner._tasks, timeout=10_000)
    ids = [r.image_id for r in view.model.rows[:2]]
    view.service.note(ids[:1], "smear")
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.undo_last()
    assert view.status_label.text() == f"Undid the note on {view.service.file_name(ids[0])}"
    view.service.note(ids, "smear")
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.undo_last()
    assert view.status_label.text() == "Undid the notes on 2 images"
    assert not view.service.can_undo and not view.service.undo_is_note


@needs_qt
@SQLITE_ONLY
def test_a_gallery_tile_whose_file_is_gone_says_so_and_is_read_again_when_it_is_back(qtbot, queue_window) -> None:
    """Its file deleted (or its share away), the tile said "cannot be read", where the pane said "file not found";
    and it said so until the window closed, the file back or not."""
    from PySide6.QtCore import Qt

    _window, view = queue_window
    path = view.model.rows[0].path
    Path(path).rename(path + ".away")
    qtbot.keyClick(view.table, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert view.active_view() is view.gallery
    loader = view.gallery.loader
    qtbot.waitUntil(lambda: loader.cached(path) is not None, timeout=10_000)
    assert loader.cached(path).isNull() and loader.reason(path) == "file not found"
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh(quiet=True)  # the 30 s poll: the tile keeps saying why (it painted as loading, wordless)
    assert loader.cached(path).isNull() and loader.reason(path) == "file not found"
    view.gallery.viewport().repaint()  # asked again, still not there: still said, not asked again and again
    qtbot.waitUntil(lambda: loader.pending == 0, timeout=10_000)
    asked: list[str] = []
    real_ask = loader._ask
    loader._ask = lambda p: (asked.append(p), real_ask(p))
    view.gallery.viewport().repaint()
    assert loader.reason(path) == "file not found" and path not in asked
    Path(path + ".away").rename(path)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh()
    view.gallery.viewport().repaint()
    qtbot.waitUntil(lambda: loader.cached(path) is not None and not loader.cached(path).isNull(), timeout=10_000)
    assert loader.reason(path) is None
    Path(path).rename(path + ".away")  # gone again once its picture was made: the next page read says so (the
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):  # tile kept the picture, the pane "file not found")
        view.refresh(quiet=True)
    qtbot.waitUntil(lambda: loader.reason(path) == "file not found" and loader.cached(path).isNull(), timeout=10_000)
    Path(path + ".away").rename(path)


@needs_qt
@SQLITE_ONLY
def test_the_filters_keep_their_place_when_the_counts_arrive(qtbot, queue_window) -> None:
    """The rows come first, the counts a moment later: the menus keep their width (the filters right of them
    jumped under the pointer), and their lists open as wide as their longest item."""
    from PySide6.QtWidgets import QApplication

    _window, view = queue_window
    combos = (view.reason_combo, view.leaf_combo, view.batch_combo)
    before = [c.sizeHint().width() for c in combos]
    view._fill_combos(queries.QueuePage(rows=[], total=0, counts_by_reason={r: 123_456 for r in queries.REASONS},
                                        counts_by_leaf={"scratch": 98_765}))
    QApplication.processEvents()
    assert [c.sizeHint().width() for c in combos] == before
    assert view.reason_combo.view().minimumWidth() >= view.reason_combo.view().sizeHintForColumn(0)


@needs_qt
@SQLITE_ONLY
def test_the_queue_window_fits_a_narrow_screen(qtbot, queue_window) -> None:
    """The filters and buttons wrap (app.ui.flow_layout): in one row each they made the window at least 1365
    pixels wide, past the edge of a 1024 screen or of half a 1920 one, where its buttons could not be reached."""
    from PySide6.QtWidgets import QApplication

    window, view = queue_window
    assert window.minimumSizeHint().width() <= 960
    window.resize(960, 600)
    qtbot.waitUntil(lambda: view.width() <= 960)
    QApplication.processEvents()

    def place(w):
        return w.rect().translated(w.mapTo(view, w.rect().topLeft()))

    shown = [view.reason_combo, view.leaf_combo, view.batch_combo, view.age_combo, view.max_conf, view.sort_combo,
             view.group_combo, view.gallery_btn, view.counts_label, view.accept_btn, view.relabel_btn,
             view.unknown_btn, view.note_btn, view.undo_btn, view.export_btn, view.refresh_btn]
    for w in shown:  # each whole inside the window, and none over the table or another
        assert view.rect().contains(place(w)), (w, place(w), view.rect())
        assert not place(w).intersects(place(view.splitter)), w
    assert not any(place(a).intersects(place(b)) for n, a in enumerate(shown) for b in shown[n + 1:])
    assert place(view.reason_combo).top() != place(view.max_conf).top()  # the first filter row took two lines


@needs_qt
@SQLITE_ONLY
def test_queue_view_bulk_accept_with_enter_relabel_with_c_and_undo(qtbot, queue_window, engine, store) -> None:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    window, view = queue_window
    assert _ids(view) == [store[n] for n in ("img6", "img0", "img1", "img4", "img2")]
    assert view.counts_label.text().startswith("5 waiting")
    assert "low confidence (3)" in [view.reason_combo.itemText(i) for i in range(view.reason_combo.count())]
    assert view.model.index(0, 1).data() == "Bubble"  # leaf names from the taxonomy

    # End and Home: the last and the first row (a table's own went to the row's last and first column)
    qtbot.keyClick(view.table, Qt.Key.Key_End)
    assert [r.image_id for r in view.selected_rows()] == [store["img2"]]
    qtbot.keyClick(view.table, Qt.Key.Key_Home, Qt.KeyboardModifier.ShiftModifier)  # Shift: all rows between
    assert len(view.selected_rows()) == 5
    qtbot.keyClick(view.table, Qt.Key.Key_End)
    # keyboard: first row, Shift+Down extends the selection, Enter accepts both
    qtbot.keyClick(view.table, Qt.Key.Key_Home)
    qtbot.keyClick(view.table, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert [r.image_id for r in view.selected_rows()] == [store["img6"], store["img0"]]
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert window.stolen == []  # the table claimed Enter before the window's shortcut
    for name, leaf in (("img6", "bubble"), ("img0", "scratch")):
        with session_scope(engine, action="read") as s:
            last = repo.judgment_history(s, store[name])[-1]
        assert (last.status, last.leaf, last.action, last.analyst) == ("accepted", leaf, "bulk", "gina")
    assert _ids(view) == [store[n] for n in ("img1", "img4", "img2")]
    assert view.counts_label.text().startswith("3 waiting") and "blind" not in view.counts_label.text()
    assert "Accepted 2 images" in view.status_label.text()
    assert [r.image_id for r in view.selected_rows()] == [store["img1"]]  # the next one is ready
    # in a narrower window the line is seen all the same: beside the buttons it got no width below ~1,300 px
    window.resize(1100, 520)
    qtbot.waitUntil(lambda: view.width() <= 1100)
    QApplication.processEvents()
    assert view.status_label.isVisible() and view.status_label.width() > view.width() // 2
    # the counts beside it, in two lines at most (beside the buttons they took 11 here, and three at 1366 x 768 and
    # 125 %: walk-through)
    assert view.counts_label.height() <= 2 * view.counts_label.fontMetrics().height() + 2, view.counts_label.text()
    assert view.counts_label.geometry().bottom() < min(b.mapTo(view, b.rect().topLeft()).y()
                                                       for b in (view.accept_btn, view.undo_btn))

    # C relabels the selection with the picker (typing filters, Enter chooses); two rows of different predicted
    # types preselect neither (the first row's type, preselected, was one Enter away from relabelling both to it)
    preselected = []

    def pick() -> None:
        dialog = QApplication.activeModalWidget()
        preselected.append((dialog.current, dialog.tree.currentIndex().isValid(), dialog.windowTitle()))
        dialog.search.setText("crack")
        qtbot.keyClick(dialog.search, Qt.Key.Key_Return)

    qtbot.keyClick(view.table, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)  # img1 + img4
    QTimer.singleShot(200, pick)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_C)
    assert window.stolen == []
    with session_scope(engine, action="read") as s:
        judged = repo.current_judgments(s, [store["img1"], store["img4"]])
    assert {(j.leaf, j.status) for j in judged.values()} == {("crack", "accepted"), ("crack", "corrected")}
    assert preselected == [(None, False, "Relabel 2 images as…")]  # the picker says what Enter will do
    assert view.status_label.text() == "Relabelled 2 images as Crack"  # and the line which type
    assert _ids(view) == [store["img2"]]
    window.activateWindow()  # the offscreen platform does not hand activation back after a modal dialog
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)

    # Ctrl+Z undoes the last bulk action: both images are waiting again
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _ids(view) == [store[n] for n in ("img1", "img4", "img2")]
    with session_scope(engine, action="read") as s:
        assert repo.judgment_history(s, store["img4"])[-1].status == "reverted"

    # O opens the current image
    with qtbot.waitSignal(view.openImage, timeout=2000) as opened:
        qtbot.keyClick(view.table, Qt.Key.Key_O)
    assert opened.args[0] in _ids(view)


@needs_qt
@SQLITE_ONLY
def test_a_bulk_key_on_a_selection_with_waiting_images_leaves_the_judged_ones_as_they_are(
        qtbot, queue_window, engine, store, monkeypatch) -> None:
    """The queue shown with its judged images: an analyst corrects one image, selects them all and presses Enter
    for the rest. The correction was replaced by the model's call (a wrong label exported for training); now a
    selection that still holds waiting images judges only those, and says so. Judged images selected alone are
    judged again, as asked."""
    from PySide6.QtCore import Qt

    _window, view = queue_window
    with session_scope(engine) as s:  # img0 corrected to crack (predicted scratch)
        queries.bulk_judge(s, [store["img0"]], leaf="crack", analyst="gina", model_version=V1)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.state_combo.setCurrentIndex(view.state_combo.findText("Waiting or judged"))
    shown = {r.image_id: r.state for r in (view.model.queue_row(i) for i in range(view.model.rowCount())) if r}
    assert shown[store["img0"]] == "corrected" and shown[store["img5"]] == "accepted"
    age = view.model.COLUMNS.index("age")  # a judged image waits no longer (it read "3 min", "waiting 3 min")
    row5 = next(i for i in range(view.model.rowCount()) if (r := view.model.queue_row(i)) and r.image_id == store["img5"])
    assert view.model.index(row5, age).data() == "—"
    view.table.selectRow(row5)
    qtbot.waitUntil(lambda: "judged by carol" in view.detail.text.text(), timeout=5_000)
    qtbot.keyClick(view.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(view.selected_rows()) == len(shown) == 6
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    with session_scope(engine, action="read") as s:
        now = repo.current_judgments(s, list(shown))
    assert (now[store["img0"]].leaf, now[store["img0"]].status, now[store["img0"]].analyst) == (
        "crack", "corrected", "gina")
    assert (now[store["img5"]].leaf, now[store["img5"]].analyst) == ("crack", "carol")
    waiting = [i for i, state in shown.items() if state == "rejudge"]
    assert len(waiting) == 4 and all((now[i].status, now[i].action) == ("accepted", "bulk") for i in waiting)
    assert "Accepted 4 images" in view.status_label.text()
    assert "2 already judged left as they are" in view.status_label.text()

    # judged images beside a waiting one a colleague's window is on: nothing is judged (the colleague's row was left
    # out first, and then the judged ones were taken for a selection of judged images only)
    with session_scope(engine) as s:
        extra = repo.get_or_create_image(s, sha("img9"), Path("/x/img9.png"), 64, 64).image_id
        repo.add_to_batch(s, store["A"], extra, Path("/x/img9.png"))
        repo.save_prediction(s, extra, pred("dent", 0.3, "rejudge", ("low_confidence",)))
        assert repo.claim(s, [extra], "bob", lease_s=300) == {}
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh()
    view.table.clearSelection()
    for i in range(view.model.rowCount()):
        if (row := view.model.queue_row(i)) is not None and row.image_id in (extra, store["img0"], store["img5"]):
            view.table.selectionModel().select(view.model.index(i, 0), view.table.selectionModel().SelectionFlag.Select
                                               | view.table.selectionModel().SelectionFlag.Rows)
    assert len(view.selected_rows()) == 3
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    with session_scope(engine, action="read") as s:
        now = repo.current_judgments(s, [store["img0"], store["img5"], extra])
    assert (now[store["img0"]].leaf, now[store["img0"]].status) == ("crack", "corrected")
    assert now[store["img5"]].analyst == "carol" and extra not in now
    assert view.status_label.text().startswith("Nothing judged: bob holds it")

    # the judged images alone: judged again (U here), as the analyst asked
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.state_combo.setCurrentIndex(view.state_combo.findText("Corrected"))
    assert _ids(view) == [store["img0"]]
    qtbot.keyClick(view.table, Qt.Key.Key_Home)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_U)
    with session_scope(engine, action="read") as s:
        assert repo.current_judgments(s, [store["img0"]])[store["img0"]].status == "unknown"
    assert "already judged" not in view.status_label.text()

    # a colleague's decision (carol accepted img5): asked first, No by default, as in the judging window (review)
    from PySide6.QtWidgets import QMessageBox

    asked, answers = [], [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda _p, title, text, _b, default: asked.append((title, text))
                        or answers.pop(0))
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.state_combo.setCurrentIndex(view.state_combo.findText("Accepted"))
    view.table.clearSelection()
    view.table.selectRow(next(i for i in range(view.model.rowCount())
                              if (r := view.model.queue_row(i)) is not None and r.image_id == store["img5"]))
    assert [r.image_id for r in view.selected_rows()] == [store["img5"]]
    qtbot.keyClick(view.table, Qt.Key.Key_Return)  # the type carol accepted: nothing asked, nothing written
    assert asked == [] and view.status_label.text() == \
        "Judged so already by carol: theirs is kept, and your agreement is recorded"
    with session_scope(engine, action="read") as s:  # (for the agreement between analysts: it saw only disagreements)
        now = repo.current_judgments(s, [store["img5"]])[store["img5"]]
        assert (now.analyst, now.action, now.decider, now.status) == ("gina", "confirm", "carol", "accepted")
    assert view.undo_btn.isEnabled()  # Ctrl+Z takes it back: its button stayed greyed (verification walk-through)
    qtbot.keyClick(view.table, Qt.Key.Key_U)  # another decision: asked; No, nothing written
    with session_scope(engine, action="read") as s:
        assert repo.current_judgments(s, [store["img5"]])[store["img5"]].decider == "carol"
    assert asked == [("Judged by colleagues", "img5.png was judged otherwise by carol. Replace their judgment?")]
    assert view.status_label.text() == "Nothing judged: the judgments of carol are kept"  # (No said nothing)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_U)  # Yes
    with session_scope(engine, action="read") as s:
        now = repo.current_judgments(s, [store["img5"]])[store["img5"]]
    assert (now.status, now.analyst) == ("unknown", "gina") and len(asked) == 2

    # a selection with the analyst's own rows beside a colleague's: No leaves the colleague's and judges the others
    # (it judged none, without a word), Cancel judges none; the question names the files
    import dataclasses

    row = view.model.queue_row(next(i for i in range(view.model.rowCount()) if view.model.queue_row(i)))
    theirs = [dataclasses.replace(row, image_id=90 + i, path=f"/lot/P00{i}.png", state="accepted", judged_by="bob",
                                  judged_leaf="crack") for i in range(4)]
    mine = dataclasses.replace(row, image_id=99, path="/lot/P009.png", state="accepted", judged_by="gina",
                               judged_leaf="crack")
    asked.clear()
    answers[:] = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Cancel]
    assert view._over_colleagues([*theirs, mine], lambda _r: ("dent",)) == [mine]
    assert asked[0][1] == ("4 of these images (P000.png, P001.png, P002.png, …) were judged otherwise by bob. Replace "
                           "their judgments?\n\nYes: replace theirs too. No: leave theirs and judge the other 1. "
                           "Cancel: judge none.")
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):  # what was written, then what was left to bob
        assert view._judge(lambda: [], "Marked 1 image", "Marked {n} images")
    assert view.status_label.text() == "Marked 0 images  ·  4 left as bob judged them"
    assert view._over_colleagues([*theirs, mine], lambda _r: ("dent",)) == []
    assert view.status_label.text() == "Nothing judged: the judgments of bob are kept"
    view._theirs_kept = theirs  # (left by a key that wrote nothing) the next key starts without it: its line said
    view._to_judge()  # "Noted 1 image · 1 left as carol judged them" after a no-op Enter (review)
    assert view._theirs_kept == []
    # Enter on the analyst's own corrections (the state filter on "corrected"): kept, as in the judging window
    # (they became the model's call: review)
    from app.ui.queue_model import decided_by

    own = dataclasses.replace(mine, state="corrected", judged_leaf="crack", leaf="dent", labels=(), judged_labels=())
    same = dataclasses.replace(own, image_id=98, state="accepted", judged_leaf="dent")
    assert decided_by([own, same, *theirs], "gina") == ([own], [same])
    # her "unknown" on an image the model could not read (no call): left as it is, not accepted (the bulk
    # acceptance refused the whole selection: review); a correction a newer model agrees with is accepted
    unread = dataclasses.replace(own, image_id=96, state="unknown", leaf=None, labels=(), judged_leaf=None)
    agreed = dataclasses.replace(own, image_id=95, state="corrected", judged_leaf="dent")
    assert decided_by([unread, agreed], "gina") == ([], [unread])
    view._to_judge = lambda: ([own, same], 0, 0)
    view.accept_selected()
    assert view.status_label.text() == ("Nothing accepted: Enter does not put the model's call over your own "
                                        "decisions; C or U change them")
    view._to_judge = lambda: ([same], 0, 0)  # accepted already: another identical row and undo step each time
    view.accept_selected()
    assert view.status_label.text() == "Nothing accepted: you judged these so already"
    waits = dataclasses.replace(own, image_id=97, state="rejudge", judged_by=None, judged_leaf=None)
    view._to_judge = lambda: ([waits, own, same], 0, 0)  # beside an image that waits: that one is accepted, and the
    judged: list[dict] = []  # line says the others were left as gina judged them (not "select only those to judge")
    monkeypatch.setattr(view, "_judge", lambda _action, *_a, **k: judged.append(k))
    view.accept_selected()
    assert [k["kept"] for k in judged] == [0] and view._theirs_kept == [own, same]
    view._theirs_kept = []


@needs_qt
@SQLITE_ONLY
def test_digits_judge_the_one_selected_image_as_that_type_of_its_top5(qtbot, queue_window, engine, store) -> None:
    """The detail pane numbers the Top-5 as the judging window does; 1 to 5 did nothing in the queue."""
    import dataclasses

    from PySide6.QtCore import Qt

    window, view = queue_window
    with session_scope(engine) as s:  # img0's prediction again, with three types in its Top-5
        first = pred("scratch", 0.30, "rejudge", ("low_confidence",), determined="mechanical")
        repo.save_prediction(s, store["img0"], dataclasses.replace(first, top5=(
            ("scratch", ("g", "s", "scratch"), 0.30), ("crack", ("g", "s", "crack"), 0.25),
            ("dent", ("g", "s", "dent"), 0.2))))
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh()
    view.table.selectRow(_ids(view).index(store["img0"]))
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_2)
    assert window.stolen == []
    with session_scope(engine, action="read") as s:
        judged = repo.current_judgments(s, [store["img0"]])[store["img0"]]
    assert (judged.leaf, judged.status, judged.analyst, judged.action) == ("crack", "corrected", "gina", "topk")
    assert "Judged 1 image: Crack" in view.status_label.text()
    assert store["img0"] not in _ids(view)

    # several selected: each has its own Top-5, so the digit judges none and says what to do
    view.table.selectAll()
    waiting = set(_ids(view))
    qtbot.keyClick(view.table, Qt.Key.Key_1)
    assert "select one image, or relabel the 4 selected with C" in view.status_label.text()
    # a type the prediction does not have
    view.table.selectRow(_ids(view).index(store["img1"]))
    qtbot.keyClick(view.table, Qt.Key.Key_3)
    assert "has no type 3" in view.status_label.text()
    with session_scope(engine, action="read") as s:
        assert not any(j.is_decision for j in repo.current_judgments(s, list(waiting)).values())
    # 1 is the model's call, as Enter
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_1)
    with session_scope(engine, action="read") as s:
        judged = repo.current_judgments(s, [store["img1"]])[store["img1"]]
    assert (judged.leaf, judged.status) == ("crack", "accepted")
    assert [r.image_id for r in view.selected_rows()] != [store["img1"]]  # a neighbour took its place
    # Ctrl+Z brings it back, selected (the selection stayed on the neighbour, whom the next digit judged)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [r.image_id for r in view.selected_rows()] == [store["img1"]]
    assert view.detail.row is not None and view.detail.row.image_id == store["img1"]
    # judged again here, then by bob at his workstation: Ctrl+Z names the image and bob's judgment (it said
    # "Cannot undo judgment 9: image 23 was judged again since", ids only, in English)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_1)
    with session_scope(engine) as s:
        repo.record_judgment(s, image_id=store["img1"], leaf="dent", action="picker", analyst="bob")
    qtbot.keyClick(view.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    text = view.status_label.text()
    assert text.startswith("Nothing undone: img1") and "judged since by bob (" in text and text.endswith("): Dent."), text
    # the undo history: the refused step left it, Ctrl+Z goes to the ones before, and says when none is left
    for _ in range(6):
        qtbot.keyClick(view.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        if view.status_label.text().startswith("Nothing to undo"):
            break
        qtbot.waitUntil(lambda: view.status_label.text().startswith("Undid"), timeout=10_000)
    assert view.status_label.text().startswith("Nothing to undo: this window undoes what was done in it")
    # a done line goes after a while (it stayed for hours, as if just done); a refusal stays
    view.DONE_SHOWN_MS = 200
    view.table.clearSelection()
    view.table.selectRow(0)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):  # (said as the key is handled: read at once, as a
        qtbot.keyClick(view.table, Qt.Key.Key_1)  # loaded machine's page can take longer than the 200 ms)
        said = view.status_label.text()
    assert said.startswith("Judged 1 image: "), said
    qtbot.waitUntil(lambda: view.status_label.text() == "", timeout=5_000)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        said = view.status_label.text()
    assert said.startswith("Undid the judgment on ") and said.endswith(".png"), said  # which image (it said
    # "Undid 1 judgment" of one judged in another batch, minutes before: walk-through)
    qtbot.waitUntil(lambda: view.status_label.text() == "", timeout=5_000)
    qtbot.keyClick(view.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.wait(400)
    assert view.status_label.text().startswith("Nothing to undo: ")
    # several selected, two of them judged by bob and carol meanwhile: Enter saves none, says how many and by whom
    # (from the refusal's fields, not its English sentence)
    view.table.selectAll()
    chosen = [r.image_id for r in view.selected_rows()]
    with session_scope(engine) as s:
        for image_id, who in zip(chosen[:2], ("carol", "bob"), strict=True):
            repo.record_judgment(s, image_id=image_id, leaf="dent", action="picker", analyst=who)
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert view.status_label.text() == ("Nothing saved: 2 of the selected images were judged meanwhile (by bob, carol); "
                                        "the queue shows them as they are now."), view.status_label.text()
    with session_scope(engine, action="read") as s:
        assert not any(j.is_decision for j in repo.current_judgments(s, chosen[2:]).values())


@needs_qt
@SQLITE_ONLY
def test_space_on_a_heading_selects_the_whole_group_as_its_pages_load(qtbot, queue_window, engine, store,
                                                                      monkeypatch) -> None:
    """A factory-size queue loads 200 rows a page: Space then Enter accepted the 200 loaded of a group of 204 (seen
    with 2,520 images). Now the rest of the group loads and joins the selection; a bulk key meanwhile waits."""
    from PySide6.QtCore import Qt

    from app.ui import queue_view
    from app.ui.queue_model import QueueTableModel

    _window, view = queue_window
    monkeypatch.setattr(queue_view, "PAGE_SIZE", 1)
    more = [False]  # the view fetches by itself while it is not full: held back until the group is selected
    real = QueueTableModel.canFetchMore
    monkeypatch.setattr(QueueTableModel, "canFetchMore", lambda self, parent: more[0] and real(self, parent))
    with qtbot.waitSignal(view.rowsShown, timeout=10_000):
        view.group_combo.setCurrentIndex(view.group_combo.findData("determined"))
    qtbot.waitUntil(lambda: view.model.total == 5 and view.model.rows[0].count == 2, timeout=10_000)
    assert len(view.model.group_rows(0)) == 1  # one of the "Nothing determined" group's two rows is loaded
    view.table.setCurrentIndex(view.model.index(0, 0))
    more[0] = True
    gate, page = threading.Event(), view.service.page
    monkeypatch.setattr(view.service, "page", lambda *a, **k: gate.wait(10) and page(*a, **k))  # the page waits
    qtbot.keyClick(view.table, Qt.Key.Key_Space)
    assert "Loading the rest of the group: 1 of its 2 images" in view.status_label.text()
    qtbot.keyClick(view.table, Qt.Key.Key_Return)  # too soon: it would judge half the group
    assert view.status_label.text().startswith("The group is still loading (1 selected so far)")
    with session_scope(engine, action="read") as s:
        assert not any(j.is_decision for j in repo.current_judgments(s, [store["img6"], store["img1"]]).values())
    gate.set()
    qtbot.waitUntil(lambda: len(view.selected_rows()) == 2, timeout=10_000)
    assert {r.image_id for r in view.selected_rows()} == {store["img6"], store["img1"]}
    assert view.status_label.text() == "All 2 images of the group are selected"
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    with session_scope(engine, action="read") as s:
        assert all(j.status == "accepted" for j in repo.current_judgments(s, [store["img6"], store["img1"]]).values())


@needs_qt
@SQLITE_ONLY
def test_accepting_many_images_with_one_key_asks_first_saying_how_sure_the_model_was(qtbot, queue_window, engine,
                                                                                     store, monkeypatch) -> None:
    """Space on a "Nothing determined" heading, then Enter, accepted 155 images at 1-3 % confidence without a word
    (150-leaf walk-through). More than BULK_ASK images ask first (Cancel by default); Yes accepts them."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    _window, view = queue_window
    monkeypatch.setattr(type(view), "BULK_ASK", 3)
    asked, answers = [], [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda _parent, title, text, _buttons, default:
                        asked.append((title, text, default)) or answers.pop(0))
    view.table.selectAll()
    ids = [r.image_id for r in view.selected_rows()]
    assert len(ids) == 5
    qtbot.keyClick(view.table, Qt.Key.Key_Return)  # Cancel: nothing judged
    title, text, default = asked[0]
    assert title == "Accept 5 images?" and default == QMessageBox.StandardButton.Cancel
    assert text.startswith("Accept the model's type for 5 images as they are? Its confidence in them is "), text
    assert "not even the group and subgroup are determined" in text
    with session_scope(engine, action="read") as s:
        assert not any(j.is_decision for j in repo.current_judgments(s, ids).values())
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_Return)  # Yes
    with session_scope(engine, action="read") as s:
        assert all(j.status == "accepted" for j in repo.current_judgments(s, ids).values())
    assert len(asked) == 2


@needs_qt
@SQLITE_ONLY
def test_ctrl_home_onto_a_group_heading_leaves_nothing_selected_out_of_sight(qtbot, queue_window, engine,
                                                                             store) -> None:
    """Grouped, a row selected, then Ctrl+Home: the cursor went to the heading at the top while the row stayed
    selected out of sight ("1 selected", the detail pane empty), and Enter accepted it (seen at 150 leaves). Home
    and End now select the row they go to; on a heading, nothing."""
    from PySide6.QtCore import Qt

    from app.ui.queue_model import GroupRow

    _window, view = queue_window
    with qtbot.waitSignal(view.rowsShown, timeout=10_000):
        view.group_combo.setCurrentIndex(view.group_combo.findData("determined"))
    qtbot.waitUntil(lambda: view.model.total == 5, timeout=10_000)
    last = max(i for i, r in enumerate(view.model.rows) if not isinstance(r, GroupRow))
    view.table.selectRow(last)
    assert len(view.selected_rows()) == 1
    for modifier in (Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.NoModifier):
        view.table.selectRow(last)
        qtbot.keyClick(view.table, Qt.Key.Key_Home, modifier)
        assert isinstance(view.model.rows[view.table.currentIndex().row()], GroupRow)
        assert view.selected_rows() == []
    with session_scope(engine, action="read") as s:
        before = repo.current_judgments(s, list(store.values()))
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    with session_scope(engine, action="read") as s:
        assert repo.current_judgments(s, list(store.values())) == before  # Enter judged nothing
    qtbot.keyClick(view.table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    assert [r.image_id for r in view.selected_rows()] == [view.model.rows[last].image_id]
    qtbot.keyClick(view.table, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)  # the gallery: the same
    assert view.active_view() is view.gallery
    qtbot.keyClick(view.gallery, Qt.Key.Key_Home, Qt.KeyboardModifier.ControlModifier)
    assert isinstance(view.model.rows[view.gallery.currentIndex().row()], GroupRow) and view.selected_rows() == []


@needs_qt
@SQLITE_ONLY
def test_ctrl_down_and_up_go_from_group_heading_to_group_heading(qtbot, queue_window) -> None:
    """At 150 types a group of one image sat between groups of hundreds, reached only by arrows: Ctrl+Down and
    Ctrl+Up go to the next and the previous heading, with nothing selected, in the table and in the gallery."""
    from PySide6.QtCore import Qt

    from app.ui.queue_model import GroupRow

    _window, view = queue_window
    with qtbot.waitSignal(view.rowsShown, timeout=10_000):
        view.group_combo.setCurrentIndex(view.group_combo.findData("leaf"))
    qtbot.waitUntil(lambda: view.model.total == 5, timeout=10_000)
    headings = [i for i, r in enumerate(view.model.rows) if isinstance(r, GroupRow)]
    assert len(headings) >= 3, view.model.rows
    for widget in (view.table, view.gallery):
        if widget is view.gallery:
            qtbot.keyClick(view.table, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
            assert view.active_view() is view.gallery
        first_image = headings[0] + 1
        widget.setCurrentIndex(view.model.index(first_image, 0))
        seen = []
        for _ in headings:
            qtbot.keyClick(widget, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
            seen.append(widget.currentIndex().row())
            assert view.selected_rows() == []
        assert seen == [*headings[1:], headings[-1]]  # past the last heading the cursor stays
        qtbot.keyClick(widget, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
        assert widget.currentIndex().row() == headings[-2]
        widget.setCurrentIndex(view.model.index(headings[1] + 1, 0))  # inside a group: its own heading first
        qtbot.keyClick(widget, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
        assert widget.currentIndex().row() == headings[1]
        qtbot.keyClick(widget, Qt.Key.Key_Space)  # and Space there selects that group, as it does on any heading
        assert view.selected_rows() and all(
            r.image_id in {getattr(x, "image_id", None) for x in view.model.rows[headings[1]:headings[2]]}
            for r in view.selected_rows())


@needs_qt
@SQLITE_ONLY
def test_a_quiet_reload_keeps_the_cursor_on_a_group_heading(qtbot, queue_window) -> None:
    """The 30 s poll cleared a cursor on a heading (nothing selected): Space then did nothing, and the next Down went
    to the first heading at the top (zh_TW walk-through). The cursor stays on its heading, in both views."""
    from PySide6.QtCore import Qt

    from app.ui.queue_model import GroupRow

    _window, view = queue_window
    with qtbot.waitSignal(view.rowsShown, timeout=10_000):
        view.group_combo.setCurrentIndex(view.group_combo.findData("leaf"))
    qtbot.waitUntil(lambda: view.model.total == 5, timeout=10_000)
    headings = [i for i, r in enumerate(view.model.rows) if isinstance(r, GroupRow)]
    for widget in (view.table, view.gallery):
        if widget is view.gallery:
            qtbot.keyClick(view.table, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
        widget.setCurrentIndex(view.model.index(headings[0] + 1, 0))
        qtbot.keyClick(widget, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
        assert widget.currentIndex().row() == headings[1] and view.selected_rows() == []
        with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
            view.refresh(quiet=True)
        assert widget.currentIndex().row() == headings[1]
        # the heading under the cursor is lit (it looked like any other), the one it left is not
        from PySide6.QtCore import Qt as _Qt

        from app.ui.queue_model import HEADING_LIT

        fill = lambda row: view.model.index(row, 0).data(_Qt.ItemDataRole.BackgroundRole).color().name()  # noqa: E731
        assert fill(headings[1]) == HEADING_LIT and fill(headings[0]) != HEADING_LIT
        assert view.model.index(headings[1], 0).data().startswith("▶ ")
        qtbot.keyClick(widget, Qt.Key.Key_Return)  # nothing selected on a heading: said, not silently nothing
        assert view.status_label.text() == "Nothing selected: Space selects this group's images, then the key " \
                                           "judges them"
        qtbot.keyClick(widget, Qt.Key.Key_Space)
        group = {getattr(x, "image_id", None) for x in view.model.rows[headings[1]:headings[2]]}
        assert view.selected_rows() and {r.image_id for r in view.selected_rows()} <= group


@needs_qt
@SQLITE_ONLY
def test_queue_view_filters_sorts_groups_and_exports(qtbot, queue_window, store, tmp_path, monkeypatch) -> None:
    from PySide6.QtCore import QModelIndex, QPoint, Qt

    from app.ui import file_dialogs, queue_view
    from app.ui.queue_model import GroupRow

    window, view = queue_window
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.reason_combo.setCurrentIndex(view.reason_combo.findData("possible_unknown"))
    assert _ids(view) == [store["img6"], store["img1"]]
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.reason_combo.setCurrentIndex(0)

    # clicking the "Waiting" header sorts by age; clicking again reverses
    header = view.table.horizontalHeader()
    for _ in range(2):
        with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
            qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                             pos=QPoint(header.sectionViewportPosition(6) + 20, header.height() // 2))
        assert view.filters().sort == "age"
        expected = [store[n] for n in ("img2", "img6", "img1", "img0", "img4")]
        assert _ids(view) == (expected[::-1] if view.filters().descending else expected)
    assert view.sort_combo.currentData() == "age"

    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.batch_combo.setCurrentIndex(view.batch_combo.findData(store["A"]))
    assert sorted(_ids(view)) == sorted(store[n] for n in ("img0", "img1", "img4"))
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.batch_combo.setCurrentIndex(0)

    # the state and analyst filters: what carol decided
    assert [view.analyst_combo.itemData(i) for i in range(view.analyst_combo.count())] == [None, "carol"]
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.state_combo.setCurrentIndex(view.state_combo.findText("Judged"))
    assert _ids(view) == [store["img5"]] and view.counts_label.text().startswith("1 judged")
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.analyst_combo.setCurrentIndex(view.analyst_combo.findData("carol"))
    assert _ids(view) == [store["img5"]]
    for combo in (view.analyst_combo, view.state_combo):
        with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
            combo.setCurrentIndex(0)
    assert len(_ids(view)) == 5 and view.counts_label.text().startswith("5 waiting")

    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.group_combo.setCurrentIndex(view.group_combo.findData("leaf"))
    headings = [r for r in view.model.rows if isinstance(r, GroupRow)]
    assert [h.key for h in headings] == ["fiber", "scratch", "crack", "dent", "bubble"]  # in the tree's order
    assert all(h.count == 1 for h in headings) and view.table.columnSpan(0, 0) == view.model.columnCount()
    assert view.model.index(0, 0).data() == "Fiber — 1 waiting"
    window.grab().save("/tmp/queue_view_grouped.png")

    # grouped by the node the model determined: a click on a heading selects the group, C scopes the picker to it
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.group_combo.setCurrentIndex(view.group_combo.findData("determined"))
    headings = [(i, r) for i, r in enumerate(view.model.rows) if isinstance(r, GroupRow)]
    assert [(h.key, h.count) for _, h in headings] == [(None, 2), ("fiber", 1), ("structural", 1), ("mechanical", 1)]
    assert view.model.index(0, 0).data() == "Nothing determined — 2 waiting"
    assert view.model.index(headings[1][0], 0).data() == "Fiber (determined) — 1 waiting"  # a held-back leaf
    row, _ = headings[3]
    assert view.model.index(row, 0).data() == "Mechanical damage (determined) · pick the type — 1 waiting"
    view.model.waiting_only = False  # waiting or judged: still a type to pick for the waiting ones
    assert view.model.group_title(headings[3][1]) == "Mechanical damage (determined) · pick the type — 1 image"
    view.model.judged_only = True  # judged images only: they have their type, nothing to pick
    assert view.model.group_title(headings[3][1]) == "Mechanical damage (determined) — 1 image"
    view.model.waiting_only, view.model.judged_only = True, False
    assert not view.sort_combo.isEnabled()
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.table.visualRect(view.model.index(row, 0)).center())
    assert [r.image_id for r in view.selected_rows()] == [store["img0"]]
    assert view._scope(view.selected_rows()) == "mechanical"
    view.table.setCurrentIndex(view.model.index(0, 0))
    qtbot.keyClick(view.table, Qt.Key.Key_Space)  # Space on a heading selects its group
    assert sorted(r.image_id for r in view.selected_rows()) == sorted([store["img6"], store["img1"]])
    assert view._scope(view.selected_rows()) is None
    window.grab().save("/tmp/queue_view_determined.png")

    # scrolling to the end loads the next page (here 2 rows a page)
    monkeypatch.setattr(queue_view, "PAGE_SIZE", 2)
    pages: list = []
    view.pageLoaded.connect(lambda page: pages.append(page))  # the counts and the next pages, in whichever order they come
    with qtbot.waitSignal(view.rowsShown, timeout=10_000):  # the first page of the new grouping
        view.group_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: view.model.total == 5, timeout=10_000)  # and its counts

    def scroll_down() -> bool:  # the view also fetches by itself while it is not full
        view.table.scrollToBottom()
        if view.model.canFetchMore(QModelIndex()):
            view.model.fetchMore(QModelIndex())
        return view.model.loaded == view.model.total

    qtbot.waitUntil(scroll_down, timeout=10_000)
    assert [(p.offset, len(p.rows)) for p in pages if p.rows] == [(2, 2), (4, 1)]  # the next pages, 2 rows each
    assert _ids(view) == [r.image_id for r in view.service.page(view.filters()).rows]  # same order, no gaps
    assert len(_ids(view)) == 5

    out = tmp_path / "q.csv"
    asked, told = [], []
    monkeypatch.setattr(file_dialogs, "choose_save_file", lambda _p, _t, start, *a, **k: asked.append(start) or str(out))
    view.export_folder = lambda: tmp_path  # the last export's folder (it opened in the home folder every time)
    view.export_done = told.append
    view.export_queue()
    qtbot.waitUntil(lambda: "Exported 5 rows" in view.status_label.text(), timeout=10_000)
    assert asked == [str(tmp_path / "queue.csv")] and told == [tmp_path]
    assert len(out.read_text(encoding="utf-8").splitlines()) == 6
    with out.open(encoding="utf-8-sig") as fh:  # the names the window shows beside the ids (ids only in Excel)
        exported = list(csv.DictReader(fh))
    assert {(r["predicted_leaf"], r["predicted_name"]) for r in exported} >= {("bubble", "Bubble"), ("crack", "Crack")}
    assert {r["determined_name"] for r in exported if r["determined"] == "mechanical"} == {"Mechanical damage"}


@needs_qt
@SQLITE_ONLY
def test_a_choice_in_a_filter_menu_hands_the_keys_back_to_the_rows(qtbot, queue_window) -> None:
    """Group chosen with the mouse: the focus stayed in the menu, and Space reopened it instead of selecting."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    _window, view = queue_window
    combo = view.group_combo
    combo.setFocus()
    QApplication.processEvents()
    combo.showPopup()
    QApplication.processEvents()
    with qtbot.waitSignal(view.rowsShown, timeout=10_000):
        qtbot.keyClick(combo.view(), Qt.Key.Key_Down)  # (the list's current row: "No grouping", then the next)
        qtbot.keyClick(combo.view(), Qt.Key.Key_Return)  # chosen in the open list, as a click there does
    assert combo.currentIndex() == 1 and QApplication.focusWidget() is view.active_view()
    # the arrows on the closed menu step through its values and stay in it (each step sent the next key to the
    # rows, and an Esc meant for the menu closed the queue); Enter there hands the keys back
    combo.setFocus()
    QApplication.processEvents()
    with qtbot.waitSignal(view.rowsShown, timeout=10_000):
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentIndex() == 2 and QApplication.focusWidget() is combo
    qtbot.keyClick(combo, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is view.active_view()


@needs_qt
@SQLITE_ONLY
def test_end_says_when_more_rows_follow_than_are_loaded(qtbot, queue_window, monkeypatch) -> None:
    """End stops at the last row loaded (a page of 200): with 876 waiting, an analyst took that for the queue's end."""
    from PySide6.QtCore import Qt

    from app.ui import queue_view
    from app.ui.queue_model import QueueTableModel

    _window, view = queue_window
    monkeypatch.setattr(queue_view, "PAGE_SIZE", 2)
    monkeypatch.setattr(QueueTableModel, "canFetchMore", lambda self, parent: False)  # no page loads by itself
    with qtbot.waitSignal(view.rowsShown, timeout=10_000):
        view.refresh()
    qtbot.waitUntil(lambda: view.model.total == 5, timeout=10_000)
    for widget in (view.table, view.gallery):
        view.status_label.setText("")
        qtbot.keyClick(widget, Qt.Key.Key_End)
        assert view.status_label.text() == "2 of the 5 rows are loaded: End again goes on"
    for said in ("4 of the 5 rows are loaded: End again goes on", ""):  # more pages (a Ctrl+A, End again): the line
        with qtbot.waitSignal(view.pageLoaded, timeout=10_000):  # stays true, then goes
            view.model.moreWanted.emit(view.model.loaded)  # (as fetchMore asks)
        assert view.status_label.text() == said


@needs_qt
@SQLITE_ONLY
def test_a_failed_load_is_said_until_a_load_succeeds(qtbot, queue_window, monkeypatch) -> None:
    """A team walk: "Could not load the queue: … Connection refused" stayed beside the list reloaded after the
    database came back, F5 or not."""
    _window, view = queue_window
    real = view.service.page

    def down(*_a, **_k):
        raise ConnectionError("connection refused")

    monkeypatch.setattr(view.service, "page", down)
    view.refresh()
    qtbot.waitUntil(lambda: view.status_label.text().startswith("Could not load the queue: connection refused"))
    monkeypatch.setattr(view.service, "page", real)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh()
    assert view.status_label.text() == "" and view.model.total == 5


@needs_qt
@SQLITE_ONLY
def test_a_note_refused_for_a_colleagues_in_the_queue_says_theirs_and_keeps_the_text(qtbot, queue_window, engine, store,
                                                                                    monkeypatch) -> None:
    """The queue's note refusal showed the store's English sentence in the Chinese window; it now says whose note,
    when and what, in the UI language, and the text waits as the draft."""
    from app.ui.note_dialog import NoteDialog

    _window, view = queue_window
    view.table.clearSelection()
    view.table.selectRow(_ids(view).index(store["img1"]))
    assert [r.image_id for r in view.selected_rows()] == [store["img1"]]
    def typed_while_bob_wrote(*_a, **_k):  # bob saves his note while gina's editor is open
        with session_scope(engine) as s:
            repo.note_images(s, [store["img1"]], "bob note", analyst="bob")
        return "gina note"

    monkeypatch.setattr(NoteDialog, "ask", staticmethod(typed_while_bob_wrote))
    view.note_selected()
    text = view.status_label.text()
    # (several selected: the prompt is one sentence; in Chinese "已選取的 2 張影像 的註記" had a space inside)
    asked = []
    with monkeypatch.context() as patch:
        patch.setattr(NoteDialog, "ask", staticmethod(lambda *a, **k: asked.append(k.get("prompt"))))
        view.table.selectAll()
        view.note_selected()
        view.table.clearSelection()
        view.table.selectRow(_ids(view).index(store["img1"]))
    assert asked == [f"Note for the {len(_ids(view))} selected images. One of them has a note of its own: what you "
                     "save replaces it (Ctrl+Z in the queue brings it back)."]
    assert text.startswith("Not saved: bob changed the note meanwhile (") and "“bob note”" in text, text
    assert view.note_drafts.get(store["img1"]) == "gina note"


@needs_qt
def test_a_note_on_several_images_shows_the_note_they_share_or_says_it_replaces_theirs(qtbot, queue_window, engine,
                                                                                        store, monkeypatch) -> None:
    """Seen: a second note on four images noted together opened an empty editor, and saving replaced their notes
    without a word. The editor now opens on the note they share; where they differ the prompt says how many notes
    saving replaces; and a colleague's note written while the editor is open is never replaced unseen."""
    from app.ui.note_dialog import NoteDialog

    _window, view = queue_window
    ids = _ids(view)
    asked, answers = [], ["same note", "second note", None]

    def ask(_parent, _name, current, *_a, **k):
        asked.append((current, k.get("prompt")))
        return answers.pop(0)

    monkeypatch.setattr(NoteDialog, "ask", staticmethod(ask))

    def notes() -> dict[int, str]:
        with session_scope(engine, action="read") as s:
            return repo.current_notes(s, ids)

    view.table.selectAll()
    view.note_selected()  # none had a note
    assert notes() == dict.fromkeys(ids, "same note")
    view.table.selectAll()
    view.note_selected()  # the note they share, in the editor
    plain = f"Note for the {len(ids)} selected images:"
    assert asked == [("", plain), ("same note", plain)]
    assert notes() == dict.fromkeys(ids, "second note")
    with session_scope(engine) as s:
        repo.note_images(s, ids[:2], "bob's own", analyst="bob")
    view.table.selectAll()
    view.note_selected()  # cancelled
    assert asked[-1] == ("", f"Note for the {len(ids)} selected images. {len(ids)} of them have notes of their own: "
                             "what you save replaces them (Ctrl+Z in the queue brings them back).")

    def typed_while_bob_wrote(*_a, **_k):  # bob notes one of the images while the editor is open
        with session_scope(engine) as s:
            repo.note_images(s, [ids[-1]], "bob again", analyst="bob")
        return "third note"

    monkeypatch.setattr(NoteDialog, "ask", staticmethod(typed_while_bob_wrote))
    view.table.selectAll()
    view.note_selected()
    assert notes() == {**dict.fromkeys(ids, "second note"), ids[0]: "bob's own", ids[1]: "bob's own",
                       ids[-1]: "bob again"}  # nothing written over what bob wrote
    assert view.status_label.text().startswith("Not saved: bob changed the note meanwhile ("), view.status_label.text()


@needs_qt
@SQLITE_ONLY
def test_ctrl_down_past_the_last_loaded_heading_loads_the_next_page(qtbot, queue_window, monkeypatch) -> None:
    """Pages of 200 rows and groups of hundreds: the next heading was often on a page not loaded yet, and Ctrl+Down
    did nothing (review). It loads the next page and goes on to the heading there."""
    from PySide6.QtCore import Qt

    from app.ui import queue_view
    from app.ui.queue_model import GroupRow, QueueTableModel

    _window, view = queue_window
    monkeypatch.setattr(queue_view, "PAGE_SIZE", 2)
    allow = [False]  # no page loads by itself (the view fetches more whenever it can)
    real = QueueTableModel.canFetchMore
    monkeypatch.setattr(QueueTableModel, "canFetchMore", lambda self, parent: allow[0] and real(self, parent))
    with qtbot.waitSignal(view.rowsShown, timeout=10_000):
        view.group_combo.setCurrentIndex(view.group_combo.findData("leaf"))
    qtbot.waitUntil(lambda: view.model.total == 5 and view.model.loaded == 2, timeout=10_000)
    last_heading = max(i for i, r in enumerate(view.model.rows) if isinstance(r, GroupRow))
    view.table.setCurrentIndex(view.model.index(len(view.model.rows) - 1, 0))
    allow[0] = True
    qtbot.keyClick(view.table, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(view.model.rows[view.table.currentIndex().row()], GroupRow)
                    and view.table.currentIndex().row() > last_heading, timeout=10_000)
    assert view.model.loaded > 2 and view.selected_rows() == []


@needs_qt
@SQLITE_ONLY
def test_shift_tab_leaves_the_queue_table_for_the_filters(qtbot, queue_window) -> None:
    """Shift+Tab in the table moved the selection to the last row (night-shift walk-through); Tab and Shift+Tab now
    leave the table, as in the dashboard."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    window, view = queue_window
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    view.table.setFocus()
    view.table.selectRow(0)
    qtbot.keyClick(view.table, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is not view.table and view.table.currentIndex().row() == 0
    # Tab goes as the screen reads (Waiting came after State, and the rows led into the details unseen)
    view.reason_combo.setFocus()
    qtbot.waitUntil(view.reason_combo.hasFocus, timeout=2000)
    seen = [view.reason_combo]
    for _ in range(16):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        seen.append(QApplication.focusWidget())
    expected = [view.reason_combo, view.leaf_combo, view.batch_combo, view.age_combo, view.min_conf, view.max_conf,
                view.sort_combo, view.reverse_box, view.state_combo, view.group_combo, view.table,
                view.detail.text_area, view.reason_combo]  # (the analyst filter is off while only waiting images show)
    order = [w for w in seen if w in expected]
    assert order[:len(expected)] == expected, [type(w).__name__ + ":" + w.objectName() for w in order]


@needs_qt
@SQLITE_ONLY
def test_esc_in_a_filter_hands_the_keys_back_to_the_rows(qtbot, engine, store, taxonomy, tmp_path, monkeypatch):
    """Alt+G (the Group menu) left the keys there: no key went back to the rows but the mouse (zh_TW walk-through);
    Esc in a filter now does, and Esc on the rows closes the queue's window as before."""
    monkeypatch.setenv("FMA_JUDGE_SETTINGS", str(tmp_path / "settings.ini"))
    from PySide6.QtCore import Qt

    from app.ui.queue_view import QueueView

    view = QueueView(QueueService(engine, "gina"), taxonomy=taxonomy, lang="en", model_version=V1)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.activateWindow()
    view.group_combo.setFocus()
    qtbot.waitUntil(view.group_combo.hasFocus, timeout=2000)
    qtbot.keyClick(view.group_combo, Qt.Key.Key_Escape)
    assert view.isVisible() and view.table.hasFocus()
    # the detail pane, reached by Tab unseen: Esc there closed the whole queue, and the judging keys did nothing
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh()
    view.table.selectRow(0)
    first = view.selected_rows()[0].image_id
    pane = view.detail.text_area
    pane.setFocus()
    qtbot.waitUntil(pane.hasFocus, timeout=2000)
    qtbot.keyClick(pane, Qt.Key.Key_Escape)
    assert view.isVisible() and view.table.hasFocus()
    pane.setFocus()
    qtbot.waitUntil(pane.hasFocus, timeout=2000)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(pane, Qt.Key.Key_Return)  # Enter in the pane: the rows take it (and the focus)
    assert view.table.hasFocus() and first not in [r.image_id for r in view.model.rows if hasattr(r, "image_id")]
    # F1: the queue's keys (listed nowhere before); any key closes the help, and the rows have the keys again
    qtbot.keyClick(view.table, Qt.Key.Key_F1)
    assert view.help.isVisible() and any(keys.text() == "Space" for keys, _a in view.help.rows)
    qtbot.keyClick(view.help, Qt.Key.Key_Escape)  # (Esc closes the help, not the queue)
    assert not view.help.isVisible() and view.isVisible() and view.table.hasFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_Escape)
    assert not view.isVisible()
    view.show()
    view._toggle_help()
    assert view.help.isVisible()
    view.hide()  # the queue closed with its help up: reopened, the help is gone (the keys acted under it)
    view.show()
    assert not view.help.isVisible()
    view.hide()
    _wait_for_pool()


@needs_qt
@SQLITE_ONLY
def test_enter_pressed_again_while_the_list_reloads_judges_the_next_rows(qtbot, engine, queue_window) -> None:
    """Walk-through: three Enters 40 ms apart accepted two images and refused the third as "judged meanwhile (by
    ana)", the analyst's own judgment of a moment before: the list had not reloaded yet."""
    from PySide6.QtCore import Qt

    _window, view = queue_window
    waiting = [r.image_id for r in view.model.rows if r.state == "rejudge"]
    assert len(waiting) >= 3
    view.table.selectRow(_ids(view).index(waiting[0]))
    for _ in range(3):  # (no wait between them: each reload is still on its way)
        qtbot.keyClick(view.table, Qt.Key.Key_Return)

    def judged() -> dict:
        with session_scope(engine, action="read") as s:
            return repo.current_judgments(s, waiting)
    qtbot.waitUntil(lambda: len(judged()) == 3 and view.status_label.text() == "Accepted 1 image", timeout=10_000)
    _wait_for_pool()
    assert len(judged()) == 3 and {j.analyst for j in judged().values()} == {"gina"}
    assert "meanwhile" not in view.status_label.text() and view.status_label.text() == "Accepted 1 image"


@needs_qt
@SQLITE_ONLY
def test_the_bulk_question_says_when_only_the_rows_loaded_are_selected(qtbot, queue_window, monkeypatch) -> None:
    """Lead's walk-through: Ctrl+A with 243 waiting asked "Accept 200 images?": the first page only, not said."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from app.ui import queue_view

    _window, view = queue_window
    monkeypatch.setattr(queue_view, "PAGE_SIZE", 2)
    monkeypatch.setattr(view, "_load_more", lambda offset: None)  # (the rest not scrolled to)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.refresh()
    qtbot.waitUntil(lambda: view.model.total is not None, timeout=10_000)
    assert view.model.loaded == 2 < view.model.total
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda _p, _title, text, *a: asked.append(text)
                        or QMessageBox.StandardButton.Cancel)
    view.BULK_ASK = 0
    qtbot.keyClick(view.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    # said by the counts too, not only by the bulk question (scale walk-through: "200 selected" beside 309)
    assert f"2 selected: every row loaded, of {view.model.total} (more load as you scroll)" in view.counts_label.text()
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert asked and f"Only the 2 rows loaded are selected, of the {view.model.total} the queue lists" in asked[0]


@needs_qt
@SQLITE_ONLY
def test_a_long_file_name_is_cut_in_its_middle_keeping_the_numbers_that_tell_it_apart(qtbot, queue_window) -> None:
    """Walk-through at 1366 x 768: "particle_organic_00…" four times over, the numbers that differ cut away."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QStyleOptionViewItem

    _window, view = queue_window

    def elided(column: int) -> Qt.TextElideMode:  # as the column's delegate paints it
        option = QStyleOptionViewItem()
        view.table.initViewItemOption(option)  # (the view's, then the delegate's own)
        view.table.itemDelegateForIndex(view.model.index(0, column)).initStyleOption(option, view.model.index(0, column))
        return option.textElideMode

    assert elided(view.model.COLUMNS.index("file")) == Qt.TextElideMode.ElideMiddle
    # the reasons keep their start ("low confiden…ble new type" read worse than "low confidence · possib…")
    assert elided(view.model.COLUMNS.index("reasons")) == Qt.TextElideMode.ElideRight


@needs_qt
@SQLITE_ONLY
def test_an_undo_right_after_keys_held_for_the_reload_drops_them(qtbot, engine, queue_window) -> None:
    """Review: Enter, Enter, Ctrl+Z at once: the held Enter was replayed on the row the undo selected again, and the
    undone image was accepted again, the undo silently cancelled."""
    from PySide6.QtCore import Qt

    _window, view = queue_window
    waiting = [r.image_id for r in view.model.rows if r.state == "rejudge"]
    view.table.selectRow(_ids(view).index(waiting[0]))
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    qtbot.keyClick(view.table, Qt.Key.Key_Return)  # held: the list reloads
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.status_label.text().startswith("Undid the judgment on "), timeout=10_000)
    qtbot.wait(300)
    _wait_for_pool()
    with session_scope(engine, action="read") as s:
        assert not any(j.is_decision for j in repo.current_judgments(s, waiting).values())  # (its undo only)
    assert not view._typed_ahead
