"""In the window (issue #19): a colleague decided the image on screen meanwhile; Enter does not write over it, the
window shows theirs and says so, and judging again replaces it. Colleagues' judgments of the batch appear by
themselves (a poll every 30 s)."""

from __future__ import annotations

import re

import pytest
from conftest import make_rejudge_bundle, open_window, wait_on_screen, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.store import repo, stats
from app.store.db import session_scope


def _rejudging_batch(tmp_path, taxonomy, n: int):
    """A model that sends every image to a person, and a folder of ``n`` images: ``(bundle, folder)``."""
    bundle = make_rejudge_bundle(tmp_path / "model", taxonomy)
    folder = tmp_path / "batch"
    for i in range(n):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    return bundle, folder


def test_a_colleagues_decision_is_shown_not_overwritten(qtbot, engine, taxonomy, tmp_path, monkeypatch):
    bundle, folder = _rejudging_batch(tmp_path, taxonomy, 5)
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda _parent, _title, text: shown.append(text))
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        item = win.presenter.current_item
        image_id = item.image.image_id
        with session_scope(engine) as s:  # bob, on another workstation, decides it first
            repo.record_judgment(s, image_id=image_id, leaf="dent", action="picker", analyst="bob")
        qtbot.keyClick(win, Qt.Key.Key_Return)  # alice accepts what her screen shows
        # said in a notice over the image, not in a box (the keys pressed after a box went to it), and she goes on
        # to the next image as her key meant; Ctrl+Enter brings her back to it
        from PySide6.QtWidgets import QLabel

        (notice,) = [b for b in win.findChildren(QLabel) if b.isVisible() and "judged meanwhile by bob" in b.text()]
        assert "Your judgment was not saved; the image shows theirs." in notice.text()
        assert "Back to it (Ctrl+Enter)" in notice.text() and not shown
        with session_scope(engine, action="read") as s:
            assert [j.analyst for j in repo.judgment_history(s, image_id)] == ["bob"]
        assert win.current_image_id != image_id
        staying = win.current_image_id
        qtbot.keyClick(win, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Back to it
        assert win.current_image_id == image_id and not notice.isVisible()
        win.select(win.presenter.row_of(staying))
        # Shift+C refused so stays on the image, as a saved one does (the next key landed on an unseen image)
        from app.ui.picker import TaxonomyPicker

        with session_scope(engine) as s:
            repo.record_judgment(s, image_id=staying, leaf="crack", action="picker", analyst="bob")

        def pick(dlg) -> int:
            dlg.chosen = "dent"
            return 1

        monkeypatch.setattr(TaxonomyPicker, "exec", pick)
        win.add_label()
        assert win.current_image_id == staying
        (stayed,) = [b for b in win.findChildren(QLabel) if b.isVisible() and "judged meanwhile by bob" in b.text()]
        assert "Back to it" not in stayed.text()  # (it stayed on the image: no link back to it)
        win.select(win.presenter.row_of(image_id))  # back on the first, showing bob's decision
        assert win.presenter.current_item.judgment.analyst == "bob"
        assert win.presenter.state(win.presenter.current_item) == "corrected"
        # the next Enter would replace bob's decision: asked first, No by default (the team walk-through's Enter,
        # pressed by habit after the dialog, replaced the colleague's correction unasked)
        asked: list[tuple[str, str]] = []
        answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
        monkeypatch.setattr(QMessageBox, "question", lambda _p, title, text, _buttons, default: asked.append(
            (title, text)) or (default if default != QMessageBox.StandardButton.No else answers.pop(0)))
        qtbot.keyClick(win, Qt.Key.Key_Return)  # No
        with session_scope(engine, action="read") as s:
            assert [j.analyst for j in repo.judgment_history(s, image_id)] == ["bob"]
        assert win.statusBar().currentMessage().endswith(": the judgment of bob is kept.")
        assert asked[0][0] == "Judged by bob" and asked[0][1].startswith(f"{item.image.path.split('/')[-1]} was judged Dent by bob (")
        assert "Replace their judgment with" in asked[0][1]
        qtbot.keyClick(win, Qt.Key.Key_Return)  # she has seen it and says Yes: accepting again replaces it
        with session_scope(engine, action="read") as s:
            history = repo.judgment_history(s, image_id)
        assert [j.analyst for j in history] == ["bob", "alice"] and not shown and len(asked) == 2
        row = win.presenter.row_of(image_id)  # her own decision now: judged again without a question
        assert win._over_colleague(win.presenter.items[row], "crack") and len(asked) == 2

        # bob writes a note on it while alice's screen shows none: her N is refused (his is not replaced unseen),
        # she sees his, and her text is kept as the image's draft
        from app.ui.note_dialog import NoteDialog

        with session_scope(engine) as s:
            repo.note_images(s, [image_id], "bob note", analyst="bob")
        monkeypatch.setattr(NoteDialog, "ask", staticmethod(lambda *_a, **_k: "alice note"))
        win.select(win.presenter.row_of(image_id))
        qtbot.keyClick(win, Qt.Key.Key_N)
        assert len(shown) == 1 and "bob changed the note of img_" in shown[0] and "“bob note”" in shown[0]
        assert "Your note was not saved" in shown[0] and "N on the image brings it back" in shown[0]
        assert win.note_drafts.get(image_id) == "alice note"
        assert win.presenter.current_item.judgment.note == "bob note"
        assert "by alice at" in win.panel.judgment.text()  # his note carries her decision on: still hers
        with session_scope(engine, action="read") as s:
            assert repo.judgment_history(s, image_id)[-1].note == "bob note"

        # bob judges it again: alice's Ctrl+Z cannot undo hers; the window says so by name, shows his, and what
        # the next Ctrl+Z does (it said "Cannot undo judgment 29: image 22 …", untranslated, panel stale)
        with session_scope(engine) as s:
            repo.record_judgment(s, image_id=image_id, leaf="crack", action="picker", analyst="bob")
        qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        message = win.statusBar().currentMessage()
        assert message.startswith("Cannot undo on img_0.png: judged since by bob (") and "Crack" in message
        row = win.presenter.row_of(image_id)
        assert win.presenter.items[row].judgment.leaf == "crack" and len(shown) == 1

        # alice notes an image, bob writes his note over hers: her Ctrl+Z cannot undo hers. It wrote a row that
        # kept his note and said "Undone … now corrected" (team walk-through)
        noted = [it for it in win.presenter.items if it.judgment is None][-1].image.image_id  # (not bob's, below)
        monkeypatch.setattr(NoteDialog, "ask", staticmethod(lambda *_a, **_k: "alice: smear"))
        win.select(win.presenter.row_of(noted))
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_N)
        with session_scope(engine) as s:
            repo.note_images(s, [noted], "bob: not a smear, a scratch", analyst="bob")
        qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        message = win.statusBar().currentMessage()
        assert re.match(r"Cannot undo on img_\d\.png: bob changed its note since \(\d\d:\d\d\); theirs stays\.",
                        message), message
        with session_scope(engine, action="read") as s:
            history = repo.judgment_history(s, noted)
        assert [(j.analyst, j.note) for j in history] == [("alice", "alice: smear"),
                                                          ("bob", "bob: not a smear, a scratch")]
        assert win.presenter.items[win.presenter.row_of(noted)].judgment.note == "bob: not a smear, a scratch"

        # bob judges another image of the batch: the next poll shows it here (badge, counts), without a key
        other = next(it for it in win.presenter.items if it.judgment is None).image.image_id
        with session_scope(engine) as s:
            repo.record_judgment(s, image_id=other, leaf=None, action="unknown", analyst="bob")
        left = win.presenter.left()
        win.poll_colleagues()
        qtbot.waitUntil(lambda: win.presenter.left() == left - 1, timeout=10_000)
        row = win.presenter.row_of(other)
        assert win.presenter.state(win.presenter.items[row]) == "unknown"
        assert win.list_model.rows[win.list_model.row_of(other)].state == "unknown"

        # the server stops answering: an idle window said nothing (the first sign was a box on the next judgment);
        # the status bar says it from the next poll until a poll reaches the database again
        from app.store.errors import StoreError

        def down(*_a, **_k):
            raise StoreError.refused("read", "postgresql+psycopg://fma@db/team", "connection refused")

        real, win.service.judged_since = win.service.judged_since, down
        win.poll_colleagues()
        qtbot.waitUntil(lambda: win.status.store_label.isVisible(), timeout=10_000)
        assert win.status.store_label.text().startswith("Database not answering since ")
        assert "Cannot read the database postgresql+psycopg://fma@db/team: connection refused" in \
            win.status.store_label.toolTip()
        win.service.judged_since = real
        win.poll_colleagues()
        qtbot.waitUntil(lambda: not win.status.store_label.isVisible(), timeout=10_000)
        # a judgment that reaches the database says it answers again at once (it stayed until the next poll)
        win.service.judged_since = down
        win.poll_colleagues()
        qtbot.waitUntil(lambda: win.status.store_label.isVisible(), timeout=10_000)
        win.select(next(i for i, it in enumerate(win.presenter.items) if it.judgment is None))
        win.accept_current()
        assert not win.status.store_label.isVisible()
    finally:
        win.close()


def test_the_window_claims_what_it_shows_and_next_passes_over_a_colleagues_images(qtbot, engine, taxonomy,
                                                                                   tmp_path, monkeypatch):
    bundle, folder = _rejudging_batch(tmp_path, taxonomy, 4)
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        ids = [it.image.image_id for it in win.items]
        assert win.current_image_id == ids[0]
        with session_scope(engine, action="read") as s:  # the window holds what it shows and the next ones
            qtbot.waitUntil(lambda: repo.held_by_others(s, ids, "bob") == dict.fromkeys(ids, "alice"), timeout=10_000)
        with session_scope(engine) as s:  # bob's workstation: its claim on image 2 waits for alice's to lapse
            assert repo.claim(s, [ids[1]], "bob", lease_s=300) == {ids[1]: "alice"}
            repo.release(s, "alice", [ids[1]])
            assert repo.claim(s, [ids[1]], "bob", lease_s=300) == {}
        win.poll_colleagues()
        qtbot.waitUntil(lambda: win.presenter.claimed == {ids[1]: "bob"}, timeout=10_000)
        assert win.presenter.list_row(1).held_by == "bob"
        qtbot.keyClick(win, Qt.Key.Key_Return)  # accept image 1: "next" passes over bob's image 2
        assert win.current_image_id == ids[2]
        win.presenter.set_claimed({ids[0]: "bob"})  # a claim on an image decided: its judgment shown, not "bob is
        assert win.presenter.list_row(0).held_by == ""  # on it" (held 30 s after bob decided it: walk-through)
        # back on her own decided image, which bob's window holds ("Back to it" claimed it): nothing said of his hold,
        # and her window claims it not (team walk-through: "bob holds it: a judgment of yours would go against theirs")
        with session_scope(engine) as s:
            repo.release(s, "alice", [ids[0]])
            assert repo.claim(s, [ids[0]], "bob", lease_s=300) == {}
        win.presenter.set_claimed({ids[1]: "bob", ids[0]: "bob"})  # (as the next poll finds it)
        win.statusBar().clearMessage()
        win.select(0)
        wait_on_screen(qtbot, win)
        qtbot.wait(300)
        assert "holds" not in win.statusBar().currentMessage()
        with session_scope(engine, action="read") as s:
            assert repo.held_by_others(s, [ids[0]], "carol") == {ids[0]: "bob"}
        win.close()
        with session_scope(engine, action="read") as s:  # closing gives alice's claims back
            assert repo.held_by_others(s, ids, "carol") == {ids[0]: "bob", ids[1]: "bob"}
    finally:
        win.close()


def test_a_window_closed_while_its_claim_is_on_its_way_gives_it_back(qtbot, engine, taxonomy, tmp_path,
                                                                     monkeypatch):
    """Closed (a stop signal) right after a claim was asked for: the close waits for the claim, which is written,
    while its result is still queued for the window; the images stayed claimed for the lease (a CI run)."""
    import threading
    import time

    bundle, folder = _rejudging_batch(tmp_path, taxonomy, 4)
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        ids = [it.image.image_id for it in win.items]
        qtbot.waitUntil(lambda: not win._claiming and bool(win._mine), timeout=10_000)
        win.service.release_claims()
        win._mine.clear()  # as at a fresh opening: its first claim not back yet
        asked, real = threading.Event(), win.service.claim

        def slow_claim(*args, **kwargs):  # (a thread of the pool)
            asked.set()
            time.sleep(0.3)  # the close comes meanwhile
            return real(*args, **kwargs)

        monkeypatch.setattr(win.service, "claim", slow_claim)
        win.claim_ahead(ids)
        assert asked.wait(10) and win._claiming and not win._mine
        win.close()  # waits for the pool (the claim is written), then gives back
        with session_scope(engine, action="read") as s:
            assert repo.held_by_others(s, ids, "carol") == {}
        win.claim_ahead(ids)  # (asked by an event left in the queue once closed): nothing asked
        assert not win._claiming
    finally:
        win.close()


def _opened_by_bob(engine, taxonomy, tmp_path, n: int):
    """A re-judging model and a batch of ``n`` images bob opened first: ``(bundle, folder, image ids in order)``."""
    from app.services.judging import JudgingService

    bundle, folder = _rejudging_batch(tmp_path, taxonomy, n)
    return bundle, folder, [it.image.image_id for it in JudgingService(engine, "bob").open_folder(folder).items]


def test_a_batch_opened_on_an_image_a_colleague_holds_starts_on_the_next_free_one(qtbot, engine, taxonomy,
                                                                                   tmp_path, monkeypatch):
    """bob opened the batch moments earlier and holds its first images: alice's window starts on the next image
    nobody holds, and says why (it started on bob's, and her first Enter went against his)."""
    bundle, folder, ids = _opened_by_bob(engine, taxonomy, tmp_path, 4)
    with session_scope(engine) as s:
        assert repo.claim(s, ids[:2], "bob", lease_s=300) == {}
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        qtbot.waitUntil(lambda: win.current_image_id == ids[2], timeout=10_000)
        assert win.statusBar().currentMessage() == "bob holds img_0.png: you start on the next image nobody holds"
    finally:
        win.close()


def test_a_colleagues_block_of_claims_ahead_is_known_before_next_reaches_it(qtbot, engine, taxonomy, tmp_path,
                                                                           monkeypatch):
    """Two analysts on one batch in one order: bob's claims just past alice's five were learnt one image at a time,
    on arriving at each (her claim covered only her next five), and a quick Enter there went against his (a night
    shift: 13 of 263 keys saved nothing). Each claim now reads the colleagues' claims on the next images too."""
    bundle, folder, ids = _opened_by_bob(engine, taxonomy, tmp_path, 12)
    with session_scope(engine) as s:
        assert repo.claim(s, ids[6:9], "bob", lease_s=300) == {}
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    try:
        monkeypatch.setattr(win, "poll_colleagues", lambda: None)  # (what the 30 s poll learns is not what is tested)
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        qtbot.waitUntil(lambda: win.presenter.claimed == dict.fromkeys(ids[6:9], "bob"), timeout=10_000)
        win.select(win.presenter.row_of(ids[5]))
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_Return)  # accept image 6: "next" passes over bob's three
        assert win.current_image_id == ids[9]
        with session_scope(engine) as s:  # bob lets one go, and decides the one after alice's: the next claim's
            repo.release(s, "bob", [ids[7]])  # look ahead frees the one and shows the other decided (they were
            repo.record_judgment(s, image_id=ids[10], leaf=None, action="unknown", analyst="bob")  # learnt at
        qtbot.waitUntil(lambda: not win._claiming, timeout=10_000)  # the 30 s poll: her Enter there was refused)
        win._mine.clear()  # (as when its claims are due again)
        win.claim_ahead([ids[9], ids[11]])
        qtbot.waitUntil(lambda: win.presenter.claimed == {ids[6]: "bob", ids[8]: "bob"}, timeout=10_000)
        qtbot.waitUntil(lambda: win.presenter.state(win.presenter.item(win.presenter.row_of(ids[10]))) == "unknown",
                        timeout=10_000)
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_Return)  # accept image 10: "next" passes over bob's decided image 11
        assert win.current_image_id == ids[11]
    finally:
        win.close()


def test_walking_the_list_gives_back_what_it_left_and_says_a_colleagues_image_at_once(qtbot, engine, taxonomy,
                                                                                    tmp_path, monkeypatch):
    """A team walk: bob walked 35 images down the list and held all 36 for the lease (alice's queue showed every
    waiting row as his), and alice, arrowing onto an image bob held, was told nothing once her window knew it."""
    bundle, folder, ids = _opened_by_bob(engine, taxonomy, tmp_path, 10)
    with session_scope(engine) as s:
        assert repo.claim(s, [ids[6]], "bob", lease_s=300) == {}
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)

    def alices() -> set[int]:
        with session_scope(engine, action="read") as s:
            return {i for i, who in repo.held_by_others(s, ids, "carol").items() if who == "alice"}

    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        assert win.current_image_id == ids[0]
        qtbot.waitUntil(lambda: alices() == set(ids[:5]), timeout=10_000)
        for _ in range(5):
            qtbot.keyClick(win, Qt.Key.Key_Down)
        assert win.current_image_id == ids[5]
        # the images left behind are given back with the next claim (about every third image): those three and more
        # behind at least, while the one on screen is held
        qtbot.waitUntil(lambda: not alices() & set(ids[:3]) and ids[5] in alices(), timeout=10_000)
        qtbot.waitUntil(lambda: win.presenter.claimed == {ids[6]: "bob"}, timeout=10_000)  # (the claim's answer)
        # the list says who is on it (it marked nothing: an analyst saw "next" skip it without knowing why)
        listed = win.list_model.rows[win.list_model.row_of(ids[6])]
        assert listed.held_by == "bob" and "bob is on it now" in win.list_model.data(
            win.list_model.index(win.list_model.row_of(ids[6])), Qt.ItemDataRole.ToolTipRole)
        assert all(not r.held_by for r in win.list_model.rows if r.image_id != ids[6])
        win.statusBar().clearMessage()
        qtbot.keyClick(win, Qt.Key.Key_Down)  # onto bob's image: said at once, from what the window knows
        assert win.current_image_id == ids[6]
        assert win.statusBar().currentMessage() == "bob holds img_6.png: a judgment of yours would go against theirs"
        qtbot.keyClick(win, Qt.Key.Key_Down)  # on past it: the message of bob's image goes at once (it stayed 10 s)
        assert win.current_image_id == ids[7] and win.statusBar().currentMessage() == ""
        qtbot.keyClick(win, Qt.Key.Key_Up)
        assert win.statusBar().currentMessage() == "bob holds img_6.png: a judgment of yours would go against theirs"
        # asked again from there: bob has let it go meanwhile, so it is alice's now and the message goes
        with session_scope(engine) as s:
            repo.release(s, "bob")
        qtbot.keyClick(win, Qt.Key.Key_Up)
        qtbot.keyClick(win, Qt.Key.Key_Down)
        qtbot.waitUntil(lambda: ids[6] in alices() and ids[6] not in win.presenter.claimed, timeout=10_000)
        qtbot.waitUntil(lambda: win.statusBar().currentMessage() == "", timeout=10_000)
        assert win.list_model.rows[win.list_model.row_of(ids[6])].held_by == ""  # (his no longer)
    finally:
        win.close()


def test_judging_ones_own_image_otherwise_says_what_it_replaced(qtbot, engine, taxonomy, tmp_path, monkeypatch):
    """A stray Enter on an image the analyst had marked unknown replaced it with the model's call without a word
    (after a filter's Show all put the cursor there; factory-scale walk-through), and stepping Down, Enter through
    auto-judged images put a 6 % call back over two corrections, the line saying so gone at the next key (zh_TW
    walk-through): Enter keeps the analyst's own decision and says which keys change it; a digit judges it again,
    saying what it replaced and that Ctrl+Z brings it back."""
    bundle, folder = _rejudging_batch(tmp_path, taxonomy, 3)
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        image_id = win.presenter.current_item.image.image_id
        qtbot.keyClick(win, Qt.Key.Key_U)
        win.select(win.presenter.row_of(image_id))
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_Return)
        with session_scope(engine, action="read") as s:
            assert [j.status for j in repo.judgment_history(s, image_id)] == ["unknown"]
        assert win.statusBar().currentMessage() == (
            "img_0.png stays as you judged it (unknown / new defect type): Enter does not put the model's call over "
            "your decision; 1/C/U change it.")
        assert win.presenter.row_of(image_id) != win.current  # on to the next open one, as a judgment goes on
        win.select(win.presenter.row_of(image_id))
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_1)
        with session_scope(engine, action="read") as s:
            history = [j.status for j in repo.judgment_history(s, image_id)]
            assert len(history) == 2 and history[0] == "unknown" and history[1] != "unknown"
        assert win.statusBar().currentMessage() == \
            "img_0.png: your earlier judgment (unknown / new defect type) is replaced; Ctrl+Z brings it back."
        win.select(win.presenter.row_of(image_id))
        win.statusBar().clearMessage()
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_1)  # the same again (a second press of one key): nothing said of it
        with session_scope(engine, action="read") as s:
            assert len(repo.judgment_history(s, image_id)) == 3
        assert "replaced" not in win.statusBar().currentMessage()
        win.select(win.presenter.row_of(image_id))
        wait_on_screen(qtbot, win)
        called = win.presenter.current_item.prediction.predicted_set
        assert win.presenter.current_item.judgment.labels == called  # (1 is the model's call)
        qtbot.keyClick(win, Qt.Key.Key_Return)  # accepted already: another identical row and undo step each time
        with session_scope(engine, action="read") as s:
            assert len(repo.judgment_history(s, image_id)) == 3
        name = win.presenter.name(called[0])
        assert win.statusBar().currentMessage() == f"img_0.png is judged so already ({name}): nothing new was saved."
        assert win.presenter.row_of(image_id) != win.current  # on to the next open one
        win.select(win.presenter.row_of(image_id))
        with session_scope(engine) as s:  # a colleague judged it meanwhile: nothing replaced, nothing said of it
            repo.record_judgment(s, image_id=image_id, leaf=None, action="unknown", analyst="bob")
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_U)
        assert "replaced" not in win.statusBar().currentMessage()
    finally:
        win.close()


def test_judging_again_what_a_colleague_decided_asks_only_when_it_changes_their_types(qtbot, engine, taxonomy,
                                                                                       tmp_path, monkeypatch):
    """The same types as a colleague's change nothing (their correction stays theirs: the analyst's agreement is
    recorded beside it, once, for the dashboard's agreement between analysts, which saw only disagreements) and go
    on; other types, or a type added to their set (Shift+C), ask first; the question names every type of a set
    (review)."""
    bundle, folder = _rejudging_batch(tmp_path, taxonomy, 3)
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda _p, _title, text, _buttons, default: asked.append(text)
                        or QMessageBox.StandardButton.No)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        item = win.presenter.current_item
        image_id, predicted = item.image.image_id, item.prediction.leaf
        with session_scope(engine) as s:  # bob corrected it to what this model now predicts
            repo.record_judgment(s, image_id=image_id, leaf=predicted, action="picker", analyst="bob",
                                 status="corrected")
        win.poll_colleagues()
        qtbot.waitUntil(lambda: win.presenter.current_item.judgment is not None, timeout=10_000)
        qtbot.keyClick(win, Qt.Key.Key_Return)  # the same type: theirs stays, nothing asked, on to the next
        with session_scope(engine, action="read") as s:
            history = repo.judgment_history(s, image_id)
            assert [(j.analyst, j.action, j.status, j.leaf, j.decider) for j in history] == [
                ("bob", "picker", "corrected", predicted, "bob"), ("alice", "confirm", "corrected", predicted, "bob")]
            assert [(a.analyst_a, a.analyst_b, a.n, a.observed) for a in stats.analyst_agreement(s)] == [
                ("alice", "bob", 1, 1.0)]
        assert asked == [] and win.current_image_id != image_id
        assert "was judged so already by bob" in win.statusBar().currentMessage()
        assert "your agreement is recorded" in win.statusBar().currentMessage()
        agreed = win.statusBar().currentMessage()
        win._say_held("carol")  # the image it moved to is a colleague's: said beside it, not over it (it went in a
        assert win.statusBar().currentMessage().startswith(agreed + "  ·  carol holds ")  # frame; walk-through)
        assert win.presenter.items[win.presenter.row_of(image_id)].judgment.decider == "bob"  # (the panel: bob's)
        win.select(win.presenter.row_of(image_id))
        wait_on_screen(qtbot, win)
        qtbot.keyClick(win, Qt.Key.Key_Return)  # said again: recorded once
        with session_scope(engine, action="read") as s:
            assert len(repo.judgment_history(s, image_id)) == 2
        win.select(win.presenter.row_of(image_id))
        qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Z takes the agreement back
        with session_scope(engine, action="read") as s:
            now = repo.current_judgments(s, [image_id])[image_id]
            assert (now.action, now.decider, now.leaf) == ("undo", "bob", predicted) and not stats.analyst_agreement(s)
        assert win.statusBar().currentMessage().endswith(": your agreement with bob's judgment is taken back")  # (it
        # said "now corrected", as if her own correction were undone: team walk-through)
        win.select(win.presenter.row_of(image_id) + 1)
        other = win.presenter.current_item.image.image_id
        with session_scope(engine) as s:  # bob: two defects on the next one
            repo.record_judgment(s, image_id=other, leaf="crack", extra_leaves=["dent"], action="picker",
                                 analyst="bob")
        win.poll_colleagues()
        qtbot.waitUntil(lambda: win.presenter.current_item.judgment is not None, timeout=10_000)
        qtbot.keyClick(win, Qt.Key.Key_Return)  # the model's one type over bob's two: asked, both named, No
        assert len(asked) == 1 and "was judged Crack + Dent by bob" in asked[0], asked
        with session_scope(engine, action="read") as s:
            assert len(repo.judgment_history(s, other)) == 1
    finally:
        win.close()
