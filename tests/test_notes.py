"""Notes are the image's data: carried by every later row (judging, undo, redo, bulk) until changed or cleared."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from store_backends import BACKENDS, fresh_engine

from app.services.judging import JudgingService
from app.store import queries, repo
from app.store.db import session_scope
from app.store.errors import JudgmentConflictError
from app.store.records import BatchItem, ImageRecord, PredictionRecord

MODEL = "notes-v1"


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path: Path):
    with fresh_engine(request.param, tmp_path, "notes.sqlite3") as eng:
        with session_scope(eng) as s:
            repo.register_model_version(s, version=MODEL, manifest={"name": "notes"})
        yield eng


def _image(s, name: str, tmp_path: Path, leaf: str = "scratch") -> tuple[ImageRecord, PredictionRecord]:
    img = repo.get_or_create_image(s, name * 64, tmp_path / f"{name}.png", 8, 8)
    pred = repo.save_prediction(s, img.image_id, PredictionRecord(
        leaf=leaf, confidence=0.7, path=("g", "s", leaf), top5=((leaf, ("g", "s", leaf), 0.7),), model_version=MODEL))
    return img, pred


def _item(engine: Engine, image: ImageRecord, prediction: PredictionRecord) -> BatchItem:
    """The item as the window holds it after the latest committed judgment."""
    with session_scope(engine, action="read") as s:
        current = repo.current_judgments(s, [image.image_id]).get(image.image_id)
    return BatchItem(image=image, prediction=prediction, judgment=current)


def _notes(engine: Engine, image_id: int) -> list[tuple[str, str, str | None]]:
    with session_scope(engine, action="read") as s:
        return [(j.action, j.status, j.note) for j in repo.judgment_history(s, image_id)]


def test_note_survives_unknown_undo_and_redo(engine: Engine, tmp_path: Path) -> None:
    """The issue's sequence: N (a note), U, Ctrl+Z, Ctrl+Shift+Z: every row still carries the note."""
    with session_scope(engine) as s:
        image, pred = _image(s, "a", tmp_path)
    service = JudgingService(engine, "amy")
    service.add_note(_item(engine, image, pred), "dust on the lens")
    service.mark_unknown(_item(engine, image, pred))
    assert service.undo().note == "dust on the lens"
    assert service.redo().note == "dust on the lens"
    assert _notes(engine, image.image_id) == [
        ("note", "reverted", "dust on the lens"),
        ("unknown", "unknown", "dust on the lens"),
        ("undo", "reverted", "dust on the lens"),
        ("redo", "unknown", "dust on the lens"),
    ]
    # judging again keeps it; an empty note clears it, and later rows stay without one
    service.accept(_item(engine, image, pred))
    service.add_note(_item(engine, image, pred), "   ")
    service.choose(_item(engine, image, pred), "crack")
    assert [n for *_, n in _notes(engine, image.image_id)[-3:]] == ["dust on the lens", None, None]


def test_undoing_the_note_itself_takes_it_back_and_redo_restores_it(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        image, pred = _image(s, "b", tmp_path)
    service = JudgingService(engine, "amy")
    service.accept(_item(engine, image, pred))
    service.add_note(_item(engine, image, pred), "first")
    service.add_note(_item(engine, image, pred), "second")
    assert service.undo().note == "first"  # undo of the second note: the first comes back
    assert service.undo().note is None  # undo of the first note: none
    assert service.undo().note is None  # undo of the accept: back to pending, still no note
    assert service.redo().note is None  # the accept again
    assert service.redo().note == "first"
    assert service.redo().note == "second"
    assert [(a, st) for a, st, _ in _notes(engine, image.image_id)][-1] == ("redo", "accepted")


def test_store_carries_the_note_to_rows_of_other_analysts_and_bulk_actions(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        a, pa = _image(s, "c", tmp_path)
        b, _pb = _image(s, "d", tmp_path)
        repo.record_judgment(s, image_id=a.image_id, leaf="scratch", action="accept", analyst="amy", note="check edge")
        repo.record_judgment(s, image_id=a.image_id, leaf="crack", action="picker", analyst="bob")  # carried
        assert repo.current_note(s, a.image_id) == "check edge"
        assert repo.current_notes(s, [a.image_id, b.image_id, 999]) == {a.image_id: "check edge"}
        bulk = queries.bulk_judge(s, [a.image_id, b.image_id], analyst="carol", model_version=MODEL)
        assert [r.note for r in bulk] == ["check edge", None]
        cleared = repo.record_judgment(s, image_id=a.image_id, leaf="dent", action="picker", analyst="bob", note="")
        assert cleared.note is None and repo.current_note(s, a.image_id) is None
        forced = queries.bulk_judge(s, [a.image_id, b.image_id], analyst="carol", model_version=MODEL, note="lot 7")
        assert [r.note for r in forced] == ["lot 7", "lot 7"]
        # an undo of a judgment that did not write the note keeps the newer one
        undo = repo.revert_judgment(s, forced[1].id, analyst="carol")
        assert undo.note is None  # forced[1] set "lot 7" on b: undoing it takes it back
        repo.record_judgment(s, image_id=a.image_id, leaf=pa.leaf, action="note", analyst="amy", note="newer",
                             status="accepted")  # fmt: skip
        assert repo.revert_judgment(s, forced[0].id, analyst="carol").note == "newer"  # not judged again since


def test_a_colleagues_note_is_never_replaced_unseen(engine: Engine, tmp_path: Path) -> None:
    """bob writes a note while alice's editor is open on the note she saw: hers is refused (she keeps her text as a
    draft and sees his); in the queue too. A note written over the one seen goes through."""
    from app.services.queue import QueueService
    from app.store.errors import JudgmentConflictError

    with session_scope(engine) as s:
        image, pred = _image(s, "c", tmp_path)
    alice, bob = JudgingService(engine, "alice"), JudgingService(engine, "bob")
    bob.choose(_item(engine, image, pred), "crack")
    seen_by_alice = _item(engine, image, pred)  # her window, before bob's note
    bob.add_note(_item(engine, image, pred), "bob note")
    with pytest.raises(JudgmentConflictError) as refused:
        alice.add_note(seen_by_alice, "queue note by alice")
    assert refused.value.note and refused.value.current.note == "bob note"
    queue = QueueService(engine, "alice")
    with pytest.raises(JudgmentConflictError, match="note was changed meanwhile by bob"):
        queue.note([image.image_id], "queue note by alice", seen="")  # her editor showed no note
    assert _notes(engine, image.image_id)[-1] == ("note", "corrected", "bob note")
    queue.note([image.image_id], "queue note by alice", seen="bob note")  # written over the one she saw
    alice.add_note(_item(engine, image, pred), "bob note, and alice's")
    assert [n for *_, n in _notes(engine, image.image_id)] == [None, "bob note", "queue note by alice",
                                                                "bob note, and alice's"]


def test_a_note_or_an_undo_keeps_a_colleagues_decision_theirs(engine: Engine, tmp_path: Path) -> None:
    """bob corrects; alice writes a note on it, carol another from the queue, alice undoes hers: the history says who
    wrote each row, and the panel, the queue and the export still say bob decided it, when he did (they named the
    note's writer and time: a training manifest's analyst was wrong)."""
    import csv

    from app.services.queue import QueueService
    from app.store.export import export_labels

    with session_scope(engine) as s:
        image, pred = _image(s, "d", tmp_path)
    bob_row = JudgingService(engine, "bob").choose(_item(engine, image, pred), "crack")
    alice = JudgingService(engine, "alice")
    noted = alice.add_note(_item(engine, image, pred), "looked again: a crack")
    assert (noted.analyst, noted.decider, noted.decided_when) == ("alice", "bob", bob_row.created_at)
    (queued,) = QueueService(engine, "carol").note([image.image_id], "agreed")
    assert (queued.analyst, queued.decider) == ("carol", "bob")
    with pytest.raises(JudgmentConflictError) as refused:  # her note is carol's now: nothing of hers to undo (it
        alice.undo()  # wrote a row that kept carol's and said "Undone": team walk-through)
    assert refused.value.note and refused.value.current.note == "agreed"
    alice.add_note(_item(engine, image, pred), "agreed: a crack")
    assert alice.undo().decider == "bob"  # her note undone: bob's decision, still his
    with session_scope(engine, action="read") as s:
        history = repo.judgment_history(s, image.image_id)
    assert [j.analyst for j in history] == ["bob", "alice", "carol", "alice", "alice"]  # who wrote each row
    assert history[-1].note == "agreed"  # (carol's back)
    out = export_labels(engine, tmp_path / "labels.csv", "csv")
    with (tmp_path / "labels.csv").open(encoding="utf-8-sig") as fh:
        (row,) = [r for r in csv.DictReader(fh) if r["path"].endswith("d.png")]
    assert out.count >= 1 and row["analyst"] == "bob"
    assert row["judged_at"].startswith(bob_row.created_at.strftime("%Y-%m-%dT%H:%M"))
    assert "." not in row["judged_at"] and len(row["judged_at"]) == len("2026-12-06T23:16:16+00:00")  # to the second
    assert QueueService(engine, "dave").analysts() == ["bob"]  # the queue's "judged by" filter: deciders only
