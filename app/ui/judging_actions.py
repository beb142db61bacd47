"""The judging keys of the main window: accept, Top-k, picker, unknown, note, undo/redo, move.

A mixin of :class:`app.ui.main_window.MainWindow`, kept apart so the window's file stays a layout and a set
of handlers. Every action runs one store call through :class:`app.services.judging.JudgingService` and shows
its result only once it is committed; a store that cannot be written says so and changes nothing on screen.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QAbstractItemView, QMessageBox
from shiboken6 import isValid

from app.store.errors import JudgmentConflictError, StoreError
from app.store.records import CONFIRM, SPECTRUM_ADDED, BatchItem, JudgmentRecord, same_decision, unpredicted
from app.ui import keymap
from app.ui.note_dialog import NoteDialog
from app.ui.picker import TaxonomyPicker
from app.ui.style import (
    file_reason_text,
    listed,
    note_author,
    state_label,
    store_reason_text,
    store_text,
    their_judgment,
    waiting_text,
)


class JudgingActions:
    """The judging keys; expects the window's ``presenter``, ``service``, ``help``, ``panel``, ``select``,
    ``alert``, ``_update_row`` and ``note_drafts``."""

    def _current_item(self) -> BatchItem | None:
        if self.help.isVisible() or not self._can_judge():
            return None
        return self.presenter.current_item

    def _can_judge(self) -> bool:
        """False (and the status bar says why) when the store is read-only: no dialog opens, nothing is sent. False
        too in the moment the window is on screen before its store is open (there is nothing to judge yet)."""
        if self.service is None:
            return False
        if self.service.read_only is None:
            return True
        self.statusBar().showMessage(QCoreApplication.translate(
            "Main", "Read-only database: judging is off ({why}).").format(why=store_reason_text(self.service.read_only)), 8000)
        return False

    def _not_shown(self, item: BatchItem | None) -> bool:
        """True, said in the status bar, when the image on screen cannot be shown: its file is out of reach now (a
        share away) or cannot be read, or its picture is not decoded yet. A judging key does nothing there, as the
        panel's buttons are off: Enter accepted the model's call and 2 its second type on the images of a share gone
        away, none of them seen, and U marked an unreadable file (whole-day walk-through)."""
        if item is None:
            return False
        image_id = item.image.image_id
        reason = self.images.unreached.get(image_id)
        if reason is None and self.presenter.state(item) == "error" and self.images.images.get(image_id) is None:
            p = item.prediction  # (on screen, decoded, it is shown whatever its stored prediction says)
            reason = self.presenter.errors.get(image_id) or (p.error if p is not None and p.error else "")
        if reason is None and image_id not in self.images:  # its picture still on its way: a key pressed with the
            self.statusBar().showMessage(QCoreApplication.translate(  # one before still on screen judged it unseen
                "Main", "Nothing judged: {file} is not on screen yet").format(file=Path(item.image.path).name), 4000)
            return True  # (a burst of Down then Enter accepted the 30th image, drawn blank: walk-through)
        if reason is None:
            return False
        self.statusBar().showMessage(QCoreApplication.translate(
            "Main", "Nothing judged: {file} cannot be shown ({why})").format(
            file=Path(item.image.path).name, why=file_reason_text(reason) if reason else
            QCoreApplication.translate("Main", "Cannot show this image")), 8000)
        return True

    def accept_current(self) -> None:
        item = self._current_item()
        if self._not_shown(item):
            return
        if item is not None and self.presenter.blind(item):
            self.open_picker()  # a blind check has no call to accept: Enter picks the type
            return
        if item is None or not self.presenter.shows_prediction(item):
            waiting = self.presenter.panel(self.current).waiting if item is not None else None
            if waiting:  # the key did nothing: said, with the panel's words (an early Enter seemed taken, and was not)
                self.statusBar().showMessage(QCoreApplication.translate("Main", "Nothing accepted: {why}").format(
                    why=waiting_text(waiting)), 6000)
            return
        called = item.prediction.predicted_set if item.prediction else ()
        mine = item.judgment
        # Enter accepts the model's call on an image no one decided; on one the analyst decided it keeps their
        # decision, writes nothing and goes on as a judgment does. Decided otherwise: stepping Down, Enter through
        # the auto-judged images put a 6 % call back over two corrections (zh_TW walk-through). Accepted already:
        # each Enter wrote another identical "accepted" row and undo step (owner's question). A correction a newer
        # model now agrees with is accepted (a new decision, counted for that model: review).
        if mine is not None and mine.is_decision and mine.decider == self.service.analyst and not (
                mine.status == "corrected" and same_decision(mine.labels, False, called)):
            if (nxt := self.presenter.next_open(self.current)) is not None:
                self.select(nxt)  # (all judged: it stays; a move would skip an image of the Down, Enter rhythm)
            fields = {"file": Path(item.image.path).name, "what": their_judgment(mine, self.presenter.name)["what"],
                      "keys": keymap.shown_keys(self.keymap, "top1", "picker", "unknown")}
            if mine.status == "accepted" and same_decision(mine.labels, False, called):
                text = QCoreApplication.translate(
                    "Main", "{file} is judged so already ({what}): nothing new was saved.").format(**fields)
            else:
                text = QCoreApplication.translate(
                    "Main", "{file} stays as you judged it ({what}): Enter does not put the model's call over your "
                            "decision; {keys} change it.").format(**fields)
            self.say_now(text, 8000)
            return
        if self._over_colleague(item, called):
            self._judge(lambda: self.service.accept(item))

    def choose_topk(self, k: int) -> None:
        item = self._current_item()
        if self._not_shown(item):
            return
        if item is not None and self.presenter.blind(item):
            self.statusBar().showMessage(QCoreApplication.translate(
                "Main", "Spot check: the model's answer is hidden; pick the type ({keys}).").format(
                keys=keymap.shown_keys(self.keymap, "accept", "picker")), 6000)
            return
        top = self.presenter.top_leaves(item) if item is not None else ()
        if len(top) < k:
            if top and self.presenter.shows_prediction(item):  # a subgroup of four types lists four
                self.statusBar().showMessage(QCoreApplication.translate(
                    "Main", "The list has {n} types: {keys} picks one of them.").format(
                    n=len(top), keys=keymap.shown_keys(self.keymap, *(f"top{j}" for j in range(1, len(top) + 1)))),
                    6000)
            return
        leaf = top[k - 1][0]  # the list on screen: the determined node's best five, or the whole tree's
        if self._over_colleague(item, (leaf,)):
            self._judge(lambda: self.service.choose(item, leaf, action="topk"))

    def toggle_top_scope(self) -> None:
        """A: the Top-5 of an image with a determined group or subgroup shows that node's leaves or the whole tree."""
        item = self._current_item()
        if item is not None and self.presenter.toggle_top_scope(item):
            self.panel.show_data(self.presenter.panel(self.current))

    def _types_to_pick(self):
        """The taxonomy the picker offers: the model's, else the one stored with the batch's predictions (a model
        that failed to load today, a batch predicted yesterday); None, said in the status bar, when neither is."""
        names = self.presenter.names
        if names is None:
            self.statusBar().showMessage(QCoreApplication.translate(
                "Main", "No defect types to pick from: no model is loaded and none has predicted this batch. Choose "
                        "one with “Model”."), 8000)
        return names

    def open_picker(self) -> None:
        item = self._current_item()
        if item is None or self._not_shown(item) or (names := self._types_to_pick()) is None:
            return
        current = item.judgment.leaf if item.judgment and item.judgment.leaf else \
            (item.prediction.leaf if item.prediction and not self.presenter.blind(item) else None)
        decided = item.judgment is not None and item.judgment.is_decision
        scope = None if decided else self.presenter.determined_node(item)
        found = self.spectrum_panel.lookup  # the spectrum's suggestion, when the panel shows this image's
        hit = found.suggestion if found is not None and found.image_id == item.image.image_id else None
        dlg = TaxonomyPicker(names, self.lang, self, current=current, scope=scope,
                             suggestion=(hit.leaf, hit.hqi) if hit is not None else None,
                             unknown_key=keymap.shown_key(self.keymap, "unknown"))
        if dlg.exec() and dlg.chosen and self._over_colleague(item, (dlg.chosen,)):
            self._judge(lambda: self.service.choose(item, dlg.chosen, action="picker"))

    def add_label(self) -> None:
        """Shift+C: one more defect on the image (a particle on a scratch): the picker's type joins its types."""
        item = self._current_item()
        if item is None or self._not_shown(item) or (names := self._types_to_pick()) is None:
            return
        blind = self.presenter.blind(item)
        before = self.service.labels_of(item, blind=blind)  # undecided: the model's call, which the type joins
        shown = listed(self.presenter.name(leaf) for leaf in before)
        dlg = TaxonomyPicker(names, self.lang, self)
        dlg.setWindowTitle(QCoreApplication.translate("Main", "Add a defect type beside {names}").format(names=shown)
                           if before else QCoreApplication.translate("Main", "Add a defect type"))
        if not (dlg.exec() and dlg.chosen):
            return
        decided = item.judgment is not None and item.judgment.is_decision
        if dlg.chosen in before:  # a row that changes nothing (undecided: the model's call twice)
            self.statusBar().showMessage((QCoreApplication.translate(
                "Main", "{name} is already one of this image's types") if decided else QCoreApplication.translate(
                "Main", "{name} is the model's call already: {key} accepts it")).format(
                name=self.presenter.name(dlg.chosen), key=keymap.shown_key(self.keymap, "accept")), 6000)
            return
        labels = (*before, dlg.chosen)
        if self._over_colleague(item, labels, edit=True) and self._judge(
                lambda: self.service.add_label(item, dlg.chosen, blind=blind), advance=False) and len(labels) > 1:
            # said: on an undecided image the model's call became one of the types without a word
            self.say_now(QCoreApplication.translate("Main", "{file}: {n} defect types, {names} · {key} takes off the "
                                                            "last").format(
                file=Path(item.image.path).name, n=len(labels), names=listed(map(self.presenter.name, labels)),
                key=keymap.shown_key(self.keymap, "remove_label")), 8000)

    def remove_label(self) -> None:
        """X: the last of the image's several defect types taken off."""
        item = self._current_item()
        if item is None or self._not_shown(item):
            return
        blind = self.presenter.blind(item)
        labels = self.service.labels_of(item, blind=blind)
        if len(labels) < 2:
            self.statusBar().showMessage(QCoreApplication.translate(
                "Main", "This image has one defect type: there is none to take off."), 5000)
            return
        if self._over_colleague(item, labels[:-1], edit=True) and self._judge(
                lambda: self.service.remove_label(item, blind=blind), advance=False):
            # said, in place of Shift+C's "2 defect types, …", which stayed on screen after X (walk-through)
            self.say_now(QCoreApplication.translate("Main", "{file}: {name} taken off, now {names}").format(
                file=Path(item.image.path).name, name=self.presenter.name(labels[-1]),
                names=listed(map(self.presenter.name, labels[:-1]))), 8000)

    def mark_unknown(self) -> None:
        item = self._current_item()
        if item is None or self._not_shown(item) or not self._over_colleague(item, ()):
            return
        self._judge(lambda: self.service.mark_unknown(item))

    def add_note(self) -> None:
        item = self._current_item()
        if item is None:
            return
        old = item.judgment.note if item.judgment and item.judgment.note else ""
        key = item.image.image_id
        text = NoteDialog.ask(self, Path(item.image.path).name, old, self.note_drafts, key,
                              author=note_author(item.judgment))
        if text is None:
            if key in self.note_drafts:
                self.statusBar().showMessage(QCoreApplication.translate(  # named: the analyst may move on meanwhile
                    "Main", "The note on {file} was not saved: {key} on that image brings your text back.").format(
                    file=Path(item.image.path).name, key=keymap.shown_keys(self.keymap, "note")), 10_000)
        elif text.strip() != old and not self._judge(lambda: self.service.add_note(item, text.strip()),
                                                     advance=False, note=True):
            self.note_drafts.keep(key, text, old)  # the store refused it: the text waits for the next N
        if (row := self.presenter.row_of(key)) is not None:
            self._update_row(row)  # its draft marker comes or goes

    def undo(self) -> None:
        self._step_back(redo=False)

    def redo(self) -> None:
        self._step_back(redo=True)

    def _step_back(self, *, redo: bool) -> None:
        """Ctrl+Z / Ctrl+Shift+Z, with a word on what they did (nothing said before: nothing to undo looked like a
        key that did not work, and "Every image of this batch is judged." stayed beside "1 left")."""
        if self.service is None:
            return
        if not (self.service.can_redo if redo else self.service.can_undo):
            self.statusBar().showMessage(QCoreApplication.translate("Main", "Nothing to redo") if redo else
                                         QCoreApplication.translate("Main", "Nothing to undo"), 4000)
            return
        records = []
        before = {it.image.image_id: it.judgment for it in self.presenter.items if it.judgment is not None}
        step = self.service.redo if redo else self.service.undo
        if not self._judge(lambda: records.append(step()) or records[-1], advance=False, focus_changed=True,
                           stepping="redo" if redo else "undo"):
            return
        row = self.presenter.row_of(records[-1].image_id) if records and records[-1] is not None else None
        if row is None:  # a judgment of a batch opened earlier in the session: not on screen
            self.statusBar().showMessage(
                QCoreApplication.translate("Main", "Redone on an image of another batch") if redo else
                QCoreApplication.translate("Main", "Undone on an image of another batch"), 6000)
            return
        item = self.presenter.items[row]
        state = state_label(self.presenter.state(item))
        name = Path(item.image.path).name
        note = item.judgment.note or "" if item.judgment is not None else ""
        was = before.get(item.image.image_id)
        if not redo and was is not None and was.action == CONFIRM and was.analyst == self.service.analyst:
            self.statusBar().showMessage(QCoreApplication.translate(  # (an undone agreement of this analyst's said
                "Main", "Undone on {file}: your agreement with {who}'s judgment is taken back").format(  # "now
                file=name, who=was.decider), 6000)  # corrected": team walk-through, review)
            return
        if note != (was.note or "" if was is not None else ""):  # a note undone said "now re-judge", as if nothing
            # happened
            back = (QCoreApplication.translate("Main", "Redone on {file}: its note is back") if redo else
                    QCoreApplication.translate("Main", "Undone on {file}: its note is back"))
            off = (QCoreApplication.translate("Main", "Redone on {file}: its note taken off") if redo else
                   QCoreApplication.translate("Main", "Undone on {file}: its note taken off"))
            self.statusBar().showMessage((back if note else off).format(file=name), 6000)
            return
        self.statusBar().showMessage(
            QCoreApplication.translate("Main", "Redone on {file}: now {state}").format(file=name, state=state)
            if redo else QCoreApplication.translate("Main", "Undone on {file}: now {state}").format(
                file=name, state=state), 6000)

    def _judge(self, action, advance: bool = True, focus_changed: bool = False, note: bool = False,
               stepping: str | None = None) -> bool:
        """Run one store action; show the result only once it is committed. False: nothing was stored (``note``:
        the action was a note, whose text the caller keeps as a draft; ``stepping``: an "undo" or "redo")."""
        replacing, self._replacing = getattr(self, "_replacing", None), None  # (_over_colleague's: said once saved)
        if not self._can_judge():
            return False
        if self.presenter.batch is not None:
            # Judgments go to the batch on screen. An opening stopped or superseded on its way may have pointed the
            # service at its own batch from the worker thread (a part accepted just before the Cancel was handled).
            self.service.batch_id = self.presenter.batch.batch_id
        try:
            record = action()
        except JudgmentConflictError as exc:  # nothing is wrong with the database: say why, no alarm box
            if stepping is not None and exc.current is not None:
                self._step_refused(exc.current, redo=stepping == "redo", note=exc.note)
            elif exc.current is None:
                self.statusBar().showMessage(str(exc), 10_000)
            else:
                self._judged_meanwhile(exc.current, note=note, note_changed=exc.note, advance=advance)
            return False
        except StoreError as exc:
            self._store_failed(exc, note=note, stepping=stepping)
            return False
        if getattr(self, "_store_away_since", None) is not None:  # it answers again: said now, not at the next poll
            self.store_answers(True)
        if record is None:
            return False
        i = self._apply_judgment(record)
        if i is None:
            return True
        self._update_counts()
        self.judgments_changed()  # the queue window, when open, lists it no longer
        p = self.presenter.items[i].prediction
        if p is not None and p.blind:  # a blind check decided (or undone): the monitor may pause or resume
            self.check_purity()
        if focus_changed and i != self.current:
            self.select(i)
        elif advance:
            if (nxt := self.presenter.next_open(i)) is None:
                self._say_all_judged()
            self.select(i if nxt is None else nxt)  # (all judged: it stays, for the analyst's Down, Enter rhythm)
        self._judged_in = self.presenter.batch.batch_id if self.presenter.batch is not None else None
        if replacing:
            self.say_now(replacing, 8000)
        return True

    def _say_all_judged(self) -> None:
        if self.presenter.list_filter.active and self.presenter.left():  # (none left at all: the batch is done)
            self.statusBar().showMessage(QCoreApplication.translate(
                "Main", "Every image the list shows is judged (the list is filtered: F, or Show all)."), 8000)
        else:
            self.statusBar().showMessage(QCoreApplication.translate("Main", "Every image of this batch is judged."), 8000)

    def say_if_all_judged(self, before: int) -> None:
        """No image is open now, ``before`` were when the counts were last shown, and this window judged in the
        batch: said, whatever closed the last one: a key (said by :meth:`_judge` too), or none (found unreadable
        decoding it, auto-judged by a late prediction). The last key had moved onto a cut-off JPEG still loading,
        which turned unreadable a moment later, and the analyst was left on it without a word (bug hunt)."""
        batch = self.presenter.batch
        if before and not self.presenter.left() and batch is not None and \
                getattr(self, "_judged_in", None) == batch.batch_id:
            self._say_all_judged()

    def say_now(self, text: str, ms: int) -> None:
        """A status line of the key just pressed; a colleague's hold on the image it moved to, said just after,
        goes beside it (:meth:`StoreUpkeep._say_held`), not over it."""
        self.statusBar().showMessage(text, ms)
        self.just_said = (text, time.monotonic())

    def _over_colleague(self, item: BatchItem, labels: tuple[str, ...], *, edit: bool = False) -> bool:
        """Whether a decision (the types it writes, ``labels``; none: unknown) may go on an image: one a colleague
        decided is judged again only once the analyst says so, No by default. (A new model predicted judged images
        again and Enter replaced a colleague's label with its call, unasked; after "judged meanwhile", the next Enter
        replaced the colleague's correction: team walk-through.) The same types as theirs write nothing (their
        decision, corrected or accepted, stays theirs) and go on to the next image. The analyst's own decisions are
        judged again freely; one judged otherwise (not a type added or taken off: ``edit``) says, once saved, what it
        replaced (a stray Enter on a judged image replaced "unknown" without a word)."""
        self._replacing = None
        theirs = item.judgment
        if theirs is None or not theirs.is_decision:
            return True
        args = their_judgment(theirs, self.presenter.name)
        if len(theirs.labels) > 1:  # several defects: all of them
            args["what"] = " + ".join(self.presenter.name(leaf) or leaf for leaf in theirs.labels)
        if theirs.decider == self.service.analyst:
            if not edit and not same_decision(theirs.labels, theirs.status == "unknown", labels):
                self._replacing = QCoreApplication.translate(  # (said by _judge once it is saved)
                    "Main", "{file}: your earlier judgment ({what}) is replaced; {key} brings it back.").format(
                    file=Path(item.image.path).name, what=args["what"], key=keymap.shown_keys(self.keymap, "undo"))
            return True
        if same_decision(theirs.labels, theirs.status == "unknown", labels):
            # the analyst's agreement is recorded beside their decision (once), for the agreement between analysts
            said = theirs.analyst == self.service.analyst and theirs.action == CONFIRM
            if said or self._judge(lambda: self.service.confirm(item, labels)):
                self.say_now(QCoreApplication.translate(
                    "Main", "{file} was judged so already by {who} ({when}): theirs is kept, and your agreement is "
                            "recorded.").format(file=Path(item.image.path).name, **args), 6000)
            if said and (nxt := self.presenter.next_open(self.current)) is not None:
                self.select(nxt)
            return False
        ours = " + ".join(self.presenter.name(leaf) or leaf for leaf in labels) if labels else \
            QCoreApplication.translate("Judgment", "unknown / new defect type")
        answer = QMessageBox.question(
            self, QCoreApplication.translate("Main", "Judged by {who}").format(who=args["who"]),
            QCoreApplication.translate(
                "Main", "{file} was judged {what} by {who} ({when}).\n\nReplace their judgment with {ours}?").format(
                file=Path(item.image.path).name, ours=ours, **args),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:  # (No said nothing: the key seemed not to work)
            self.statusBar().showMessage(QCoreApplication.translate(
                "Main", "{file}: the judgment of {who} is kept.").format(file=Path(item.image.path).name, **args), 6000)
        return answer == QMessageBox.StandardButton.Yes

    def _show_theirs(self, theirs: JudgmentRecord, *, note: bool = False) -> dict[str, str]:
        """Show a colleague's judgment that got in the way of ours; its file, who, when and what, for a message
        (``note``: who wrote its note and when, else who made its decision and when)."""
        i = self._apply_judgment(theirs)
        self._update_counts()
        self.judgments_changed()
        item = self.presenter.item(i) if i is not None else None
        return {"file": Path(item.image.path).name if item is not None else f"#{theirs.image_id}",
                **their_judgment(theirs, self.presenter.name, note=note)}

    def _step_refused(self, theirs: JudgmentRecord, *, redo: bool, note: bool = False) -> None:
        """An undo (redo) of a judgment the image has been judged again since (``note``: a note whose note was
        written over since): the image shows its judgment now, and the status bar says whose and what the next key
        will do (it goes on to the step before: pressed again because the first seemed not to work, it undid
        another image without a word)."""
        args = self._show_theirs(theirs, note=note)
        more = self.service.can_redo if redo else self.service.can_undo
        if note and note_author(theirs) is None:  # (the latest row carried the note on: its author unknown)
            text = QCoreApplication.translate("Main", "Cannot redo on {file}: its note was changed since.") if redo \
                else QCoreApplication.translate("Main", "Cannot undo on {file}: its note was changed since; it stays.")
        elif note:
            text = (QCoreApplication.translate("Main", "Cannot redo on {file}: {who} changed its note since ({when}).")
                    if redo else QCoreApplication.translate(
                        "Main", "Cannot undo on {file}: {who} changed its note since ({when}); theirs stays."))
        else:
            text = QCoreApplication.translate(
                "Main", "Cannot redo on {file}: judged since by {who} ({when}): {what}.") if redo else \
                QCoreApplication.translate("Main", "Cannot undo on {file}: judged since by {who} ({when}): {what}.")
        after = QCoreApplication.translate("Main", "The next redo goes to the step before it.") if redo else \
            QCoreApplication.translate("Main", "The next undo goes to your judgment before it.")
        self.statusBar().showMessage(text.format(**args) + ("  " + after if more else ""), 12_000)

    def _judged_meanwhile(self, theirs: JudgmentRecord, *, note: bool = False, note_changed: bool = False,
                          advance: bool = True) -> None:
        """Another analyst decided the image after it was shown here (``note``: or wrote its note): theirs is shown,
        ours was not saved; judging it again replaces theirs (a conflict resolved by a person, never by the last
        write). A note refused so is kept as the image's draft by the caller."""
        args = self._show_theirs(theirs, note=note_changed)
        key = keymap.shown_keys(self.keymap, "note")
        if note_changed:
            text = QCoreApplication.translate(
                "Main", "{who} changed the note of {file} meanwhile ({when}): “{theirs}”.\n\nYour note was not saved, "
                        "so that theirs is not replaced unseen. Your text is kept: {key} on the image brings it back.").format(
                theirs=theirs.note or QCoreApplication.translate("Main", "no note"), key=key, **args)
            self.alert(QMessageBox.information, QCoreApplication.translate("Main", "Note changed meanwhile"), text,
                       line=f"note changed meanwhile by {theirs.analyst}: not saved, kept as a draft")
            return
        if not note:
            self._judged_meanwhile_notice(theirs, args, advance=advance)
            return
        text = QCoreApplication.translate(
            "Main", "{file} was judged meanwhile by {who} ({when}): {what}.\n\nYour note was not saved. The image "
                    "now shows their judgment; your text is kept: {key} on the image brings it back.").format(
            key=key, **args)
        self.alert(QMessageBox.information, QCoreApplication.translate("Main", "Judged meanwhile"), text,
                   line=f"judged meanwhile by {theirs.analyst}: not saved")

    def _judged_meanwhile_notice(self, theirs: JudgmentRecord, args: dict[str, str], *, advance: bool = True) -> None:
        """A judgment refused because a colleague decided the image first: said in a notice over the image, with a
        link (Ctrl+Enter) back to it, and the window goes on to the next image as the key meant it to (``advance``:
        Shift+C and X stay on theirs, as they do after a judgment that is saved). A box here
        stopped the analyst's flow: the keys pressed after it went to the box (13 of 24 in the two-analyst
        walk-through), and the next Enter on the image asked again whether to replace the colleague's decision."""
        old = getattr(self, "_meanwhile_banner", None)
        if old is not None and isValid(old):
            old.hide()  # the newest one only: the earlier image is in the list, marked as the colleague's
            old.deleteLater()  # (a day of conflicts kept every one, hidden)
        image_id = theirs.image_id
        self._meanwhile_banner = self.show_notice(QCoreApplication.translate(
            "Main", "{file} was judged meanwhile by {who} ({when}): {what}. Your judgment was not saved; the image "
                    "shows theirs.").format(**args),
            action=(QCoreApplication.translate("Main", "Back to it"),  # (none when the window stays on it)
                    lambda: self.select(row) if (row := self.presenter.row_of(image_id)) is not None else None)
            if advance else None)
        row = self.presenter.row_of(image_id)
        nxt = self.presenter.next_open(row) if row is not None and advance else None
        if nxt is not None:
            self.select(nxt)

    def _apply_judgment(self, record: JudgmentRecord) -> int | None:
        i = self.presenter.apply_judgment(record)
        if i is not None:
            if not record.is_decision:
                self._waiting_again(i)
            self._update_row(i)
            if i == self.current:
                self.panel.show_data(self.presenter.panel(i))
                if self.presenter.blind(self.presenter.items[i]):  # a spot check undone: blind again, nothing
                    self.why.reset()  # of the model's call (no heatmap)
                self.refs.refresh(self.presenter.items[i])
                if not self.why.active:
                    self.show_attention()
        return i

    def _waiting_again(self, i: int) -> None:
        """An image waiting again (an undone decision, here or by a colleague): the store may have marked its
        prediction as made before a spectrum that came while it was decided; the window marks it too. A prediction
        that is stale for the loaded model (that, or a recalibration meanwhile) is made again: by a run of its own,
        or by the next one when a run is under way (a new run would cancel it) or a large folder is still being read
        (its end starts the run for everything listed)."""
        item, version = self.presenter.items[i], self.presenter.model_version
        p = item.prediction
        if p is None or version is None or self.model is None or self.model.version != version:
            return
        try:
            marked = p.model_version == version and p.calibration != SPECTRUM_ADDED and not p.error \
                and self.service.marked_for_spectra(item.image.image_id, version)
        except StoreError:  # the judgment is committed and shown; the next opening predicts it again
            marked = False
        if marked:
            self.presenter.apply_predictions([(item.image.image_id, replace(p, calibration=SPECTRUM_ADDED))])
        if not unpredicted([self.presenter.items[i]], version, self.presenter.errors, self.presenter.stamp):
            return
        if self._run_open:
            self._grown_in_run = True
        elif not self._growing:
            self._start_predictions()

    def set_list_filter(self, list_filter) -> None:
        """Filter and order the list (F); the image on screen stays, listed or not."""
        self.presenter.set_list_filter(list_filter)
        self._refresh_list()
        if self.presenter.current_item is not None:
            self.select(self.current)
            listed = self.list_model.row_of(self.presenter.current_item.image.image_id)
            if listed is not None:  # in the middle of the list's new order, not at its bottom edge
                self.list_view.scrollTo(self.list_model.index(listed), QAbstractItemView.ScrollHint.PositionAtCenter)
        self._refocus()  # "next" walks the new order: the model works ahead along it

    def _node_depth(self, node: str) -> int:
        names = self.presenter.names
        return names.node(node).depth if names is not None and node in names else 0

    def move(self, step: int) -> None:
        """``step`` rows down the list (up when negative), stopping at its ends; the list may be filtered."""
        if self.help.isVisible() or not self.list_model.rows:
            return
        item = self.presenter.current_item
        at = self.list_model.row_of(item.image.image_id) if item is not None else None
        listed = max(0, min(len(self.list_model.rows) - 1, (step - 1 if step > 0 else 0) if at is None else at + step))
        self.select(self._item_row(listed))

    def _store_failed(self, exc: Exception, *, note: bool = False, stepping: str | None = None) -> None:
        msg, what = store_text(exc), "note" if note else stepping or "judgment"
        if stepping == "undo":  # (it said "this judgment was not saved" of an undo)
            title = QCoreApplication.translate("Main", "Undo NOT saved")
            text = QCoreApplication.translate(
                "Main", "The database could not be written, so nothing was undone:\n\n{msg}\n\nEvery image keeps the "
                        "judgment it shows. Fix the problem (disk space, permissions, network) and undo again.").format(
                msg=msg)
        elif stepping == "redo":
            title = QCoreApplication.translate("Main", "Redo NOT saved")
            text = QCoreApplication.translate(
                "Main", "The database could not be written, so nothing was redone:\n\n{msg}\n\nEvery image keeps the "
                        "judgment it shows. Fix the problem (disk space, permissions, network) and redo again.").format(
                msg=msg)
        elif note:  # the text is not lost: it waits as a draft
            title = QCoreApplication.translate("Main", "Note NOT saved")
            text = QCoreApplication.translate(
                "Main", "The database could not be written, so this note was not saved:\n\n{msg}\n\nYour text is kept "
                        "on this computer: {key} on this image brings it back. Fix the problem (disk space, permissions, "
                        "network) and save it again.").format(msg=msg, key=keymap.shown_keys(self.keymap, "note"))
        else:
            title = QCoreApplication.translate("Main", "Judgment NOT saved")
            text = QCoreApplication.translate(
                "Main", "The database could not be written, so this judgment was not saved:\n\n{msg}\n\nThe image "
                        "keeps its previous state. Fix the problem (disk space, permissions, network) and judge it "
                        "again.").format(msg=msg)
        self.alert(QMessageBox.critical, title, text, line=f"{what} NOT saved: {exc}")
