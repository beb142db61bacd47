"""The re-judge queue's table (it takes its keys before the window's shortcuts) and its actions: bulk accept,
relabel, unknown, undo, export, and selecting a group (a mixin of :class:`app.ui.queue_view.QueueView`).

Bulk judgments run on the UI thread, like every other judgment, so a row shows as done only once it is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import QCoreApplication, QEvent, QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QMessageBox, QTableView

from app.services.queue import QueueRow
from app.store.errors import JudgmentConflictError, ReadOnlyError, StoreError
from app.store.records import same_decision
from app.ui import file_dialogs
from app.ui.keymap import claim_keys
from app.ui.note_dialog import NoteDialog
from app.ui.picker import TaxonomyPicker
from app.ui.queue_gallery import MOVE_KEYS, QUEUE_KEYS, home_end_selection, queue_key
from app.ui.queue_model import (
    COLUMN_WIDTHS,
    GroupRow,
    QueueTableModel,
    conflict_text,
    decided_by,
    fitted_widths,
    heading_floors,
)
from app.ui.style import export_text, file_reason_text, listed, store_text
from app.ui.workers import Task


class QueueTable(QTableView):
    """Claims its keys before window shortcuts (the main window's Enter/C/arrows judge its own image), and fits its
    columns to its width until the analyst sizes one by hand.

    Signals:
        action(str): one of :data:`app.ui.queue_gallery.QUEUE_KEYS`' actions, or ``heading`` (Space on a heading).
    """

    action = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.sized_by_hand = False
        self._fitting = False
        self.setTabKeyNavigation(False)  # Tab and Shift+Tab leave the table for the filters (Shift+Tab moved the
        # selection to the last row instead: night-shift walk-through), as in the dashboard's tables
        self.verticalScrollBar().rangeChanged.connect(lambda *_: QTimer.singleShot(0, self, self.fit_columns))

    def setModel(self, model) -> None:
        super().setModel(model)
        self.horizontalHeader().sectionResized.connect(self._section_resized)
        self.fit_columns()

    def _section_resized(self, index: int, _old: int, _new: int) -> None:
        if not self._fitting and index < len(COLUMN_WIDTHS):  # the stretched state column follows the table
            self.sized_by_hand = True

    def fit_columns(self) -> None:
        """The columns at :func:`fitted_widths` of the table's width (not once the analyst sized one)."""
        if self.sized_by_hand:
            return
        self._fitting = True
        try:
            for col, width in enumerate(fitted_widths(self.viewport().width(), heading_floors(self))):
                self.setColumnWidth(col, width)
        finally:
            self._fitting = False

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_columns()
    KEYS: ClassVar[frozenset[Qt.Key]] = frozenset(QUEUE_KEYS) | MOVE_KEYS

    def event(self, event: QEvent) -> bool:
        return claim_keys(event, self.KEYS) or super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not queue_key(self, event, self.action.emit):
            super().keyPressEvent(event)
            if event.key() == Qt.Key.Key_End:
                self.action.emit("end")  # the last row loaded: the window says whether more follow

    def moveCursor(self, action: QAbstractItemView.CursorAction, modifiers: Qt.KeyboardModifier) -> QModelIndex:
        """Home and End go to the first and last row, as in the judging window's list (a table's own Home and End
        go to the first and last column of the row: with whole rows selected, nothing seemed to happen). End goes to
        the last row loaded; being at the end of the table loads the next page (``fetchMore``), so End again goes
        on: a factory's queue is never read whole to find its end."""
        if action in (QAbstractItemView.CursorAction.MoveHome, QAbstractItemView.CursorAction.MoveEnd):
            modifiers |= Qt.KeyboardModifier.ControlModifier
        return super().moveCursor(action, modifiers)

    def selectionCommand(self, index: QModelIndex, event: QEvent | None = None) -> QItemSelectionModel.SelectionFlag:
        return home_end_selection(event) or super().selectionCommand(index, event)


class QueueActions:
    """What the queue window's keys and buttons do. Expects the view's ``service``, ``model``, ``table``,
    ``active_view``, ``detail``, ``taxonomy``, ``lang``, ``model_version``, ``status_label``, ``judged``, ``openImage``, ``selected_rows``,
    ``filters``, ``refresh``, ``note_drafts`` and ``_start``."""

    _group_loading: tuple[int, object, frozenset[int]] | None = None
    """A group selected while the rest of its rows load: (heading row, its key, the images selected so far)."""
    BULK_ASK = 20
    """Accepting more images than this with one key asks first (:meth:`_bulk_accept_confirmed`)."""
    DONE_SHOWN_MS = 10_000
    """How long "Accepted 6 …" / "Undid 6 judgments" stays on the status line (as the main window's status bar)."""

    def _select_group(self, heading: int) -> None:
        """Select every row under a group heading (then Enter or C acts on the whole group). Rows load a page at a
        time: a group longer than what is loaded asks for the next pages and grows its selection as they come
        (Space then Enter accepted the 200 loaded of a group of 204, and the heading still said 204); meanwhile the
        bulk keys wait (:meth:`_still_loading`)."""
        rows = self.model.group_rows(heading)
        self._group_loading = None
        if not rows:
            return
        heading_row = self.model.rows[heading]
        view = self.active_view()
        selection = view.selectionModel()
        view.clearSelection()
        view.setCurrentIndex(self.model.index(rows[0], 0))
        flags = selection.SelectionFlag.Select | selection.SelectionFlag.Rows
        for row in rows:
            selection.select(self.model.index(row, 0), flags)
        if isinstance(heading_row, GroupRow) and heading_row.count is not None and heading_row.count > len(rows):
            self._group_loading = (heading, heading_row.key, frozenset(r.image_id for r in self.selected_rows()))
            self.status_label.setText(QCoreApplication.translate(
                "Queue", "Loading the rest of the group: {n} of its {m} images selected so far…")
                .format(n=len(rows), m=heading_row.count))
            self.model.fetchMore(QModelIndex())  # (a page already on its way: its arrival goes on)

    def _group_page_loaded(self) -> None:
        """A page came: a group still loading grows its selection, unless the analyst selected something else."""
        pending, self._group_loading = self._group_loading, None
        if pending is None:
            return
        heading, key, chosen = pending
        row = self.model.rows[heading] if heading < len(self.model.rows) else None
        if isinstance(row, GroupRow) and row.key == key and {r.image_id for r in self.selected_rows()} == chosen:
            self._select_group(heading)
            if self._group_loading is None:
                self.status_label.setText(QCoreApplication.translate(
                    "Queue", "All {n} images of the group are selected").format(n=len(self.selected_rows())))

    def _still_loading(self) -> bool:
        """True (and said) while a selected group's rows load: a bulk key would judge only part of it."""
        if self._group_loading is None:
            return False
        if {r.image_id for r in self.selected_rows()} != self._group_loading[2]:
            self._group_loading = None  # the analyst selected something else
            return False
        self.status_label.setText(QCoreApplication.translate(
            "Queue", "The group is still loading ({n} selected so far): a moment, then press the key again").format(
            n=len(self._group_loading[2])))
        return True

    def _scope(self, rows: list[QueueRow]) -> str | None:
        """The group or subgroup every row's model determined, when they share one (the picker's first scope)."""
        nodes = {r.determined for r in rows}
        return nodes.pop() if len(nodes) == 1 else None  # the picker ignores a leaf or an unknown id

    def _open_current(self) -> None:
        row = self.model.queue_row(self.table.currentIndex().row())
        if row is not None:
            self.openImage.emit(row.image_id)

    def _key_action(self, action: str) -> None:
        """A key of either view (:data:`app.ui.queue_gallery.QUEUE_KEYS`). A judging key pressed while the list
        reloads after this window's own judgment waits for the rows it brings (at most :data:`TYPE_AHEAD`)."""
        if self._after_own and action not in ("heading", "end", "open") and \
                any(r.image_id in self._own_judged for r in self.selected_rows()):
            self._typed_ahead.append(action)  # (on the rows just judged; on a row selected since, at once)
            return
        if action == "heading":
            self._select_group(self.table.currentIndex().row())
        elif action == "end":
            self.say_loaded(asked=True)
        else:
            {"accept": self.accept_selected, "relabel": self.relabel_selected, "unknown": self.unknown_selected,
             "note": self.note_selected, "open": self._open_current}.get(action, lambda: self.pick_top(action))()

    def _replay_typed(self) -> None:
        """The next key pressed while the list reloaded after a judgment, on the rows it brought; one that judged
        nothing drops the rest (they were for the rows after it: a key refused there fired at a later reload, on
        whatever was selected then: review)."""
        if not self._typed_ahead:
            return
        self._key_action(self._typed_ahead.popleft())
        if not self._after_own:
            self._typed_ahead.clear()

    def say_loaded(self, *, asked: bool) -> None:
        """End stopped at the last row loaded, not the queue's last: the line says how many are loaded (``asked``),
        and stays true as more pages arrive (it said "200 of the 851" after a Ctrl+A had loaded 400; walk-through),
        going once all are."""
        total, loaded = self.model.total, self.model.loaded
        said = getattr(self, "_loaded_said", None)
        if not asked and (not said or self.status_label.text() != said):
            return
        more = total is not None and loaded < total
        if not more and asked:
            return
        self._loaded_said = QCoreApplication.translate(
            "Queue", "{loaded} of the {total} rows are loaded: End again goes on").format(
            loaded=f"{loaded:,}", total=f"{total:,}") if more else ""
        self.status_label.setText(self._loaded_said)

    def _free(self, rows: list[QueueRow]) -> tuple[list[QueueRow], int]:
        """The rows no colleague's window is on, and how many others there were: the bulk keys leave those to them
        (an accept from here interrupted them with a conflict); when none is left, the status line says why."""
        held = [r for r in rows if r.held_by and r.state == "rejudge"]
        if held and len(held) == len(rows):
            self._refused(rows, QCoreApplication.translate(
                "Queue", "Nothing judged: {who} holds it (on it, or next in their list); it is left to them.").format(
                who=listed(sorted({r.held_by for r in held}))))
        return [r for r in rows if r not in held], len(held)

    def _not_shown(self, selected: list[QueueRow]) -> bool:
        """True, said, when the one image selected could not be shown in the pane (a share away, a broken file): it
        is not judged unseen (Enter accepted the model's call on it). A selection of many is a bulk decision the
        analyst takes on the model's calls, as before."""
        unshown = self.detail.unshown
        if len(selected) != 1 or unshown is None or unshown[0] != selected[0].image_id:
            return False
        self._refused(selected, QCoreApplication.translate("Queue", "Nothing judged: {file} cannot be shown ({why})")
                      .format(file=Path(selected[0].path).name, why=file_reason_text(unshown[1]) if unshown[1] else
                              QCoreApplication.translate("Main", "Cannot show this image")))
        return True

    def _refused(self, rows: list[QueueRow], text: str) -> None:
        """Say why a key judged nothing on ``rows``: until the selection moves off them (the line stayed under the
        next image, naming the last one's file)."""
        self.status_label.setText(text)
        self._refused_on = (frozenset(r.image_id for r in self.selected_rows()), text)

    def _selection_moved(self) -> None:
        """After the selection settles (a reload selects its rows again one by one: each step changed it)."""
        if self._refused_on is not None:
            QTimer.singleShot(0, self._selection_settled)

    def _selection_settled(self) -> None:
        if self._refused_on is not None and self._refused_on[0] != {r.image_id for r in self.selected_rows()}:
            if self.status_label.text() == self._refused_on[1]:  # (not a line said since)
                self.status_label.setText("")
            self._refused_on = None

    def _to_judge(self) -> tuple[list[QueueRow], int, int]:
        """The selected rows a bulk key judges, how many were left to colleagues on them, and how many judged ones
        were left as they are: a selection that still holds waiting images judges only those (the queue shown with
        its judged images, Space on a group whose exceptions were corrected one by one, then Enter: the
        corrections were replaced by the model's call); a selection of judged images only judges them again.
        Split before the colleagues' rows are left out: waiting rows all held by colleagues leave nothing to judge
        here, not the judged rows beside them."""
        self._theirs_kept, self._agreed = [], {}  # (a key's own: one that wrote nothing left it for the next key's line)
        if self._still_loading():
            return [], 0, 0
        selected = self.selected_rows()
        if not selected and self.model.rows:  # (a key on a heading, nothing selected, did nothing without a word)
            on_heading = isinstance(self.table.currentIndex().data(QueueTableModel.RowRole), GroupRow)
            self.status_label.setText(QCoreApplication.translate(
                "Queue", "Nothing selected: Space selects this group's images, then the key judges them")
                if on_heading else QCoreApplication.translate("Queue", "Nothing selected: select images first"))
            return [], 0, 0
        if not selected:  # (an empty list: what the last key did stays said)
            return [], 0, 0
        if self._not_shown(selected):
            return [], 0, 0
        # an image whose file holds another picture now is never judged unseen, in bulk neither (Ctrl+A, Enter
        # accepted it: its picture is gone for good)
        if (gone := [r for r in selected if r.replaced]) and len(gone) == len(selected):
            self._refused(selected, QCoreApplication.translate(
                "Queue", "Nothing judged: their files hold another picture now"))
            return [], 0, 0
        selected = [r for r in selected if not r.replaced]
        waiting = [r for r in selected if r.state == "rejudge"]
        judged = len(selected) - len(waiting) if waiting else 0
        rows, left = self._free(waiting if judged else selected)
        return rows, left, judged

    def accept_selected(self) -> None:
        """Accept each selected image's own prediction (Enter); more than :attr:`BULK_ASK` at once, asked first."""
        rows, left, kept = self._to_judge()
        otherwise, already = decided_by(rows, self.service.analyst)  # kept, as in the judging window (review)
        if (mine := otherwise + already) and len(mine) == len(rows):
            return self._refused(rows, QCoreApplication.translate(
                "Queue", "Nothing accepted: Enter does not put the model's call over your own decisions; C or U "
                         "change them") if otherwise else QCoreApplication.translate(
                "Queue", "Nothing accepted: you judged these so already"))
        left_as_is = {r.image_id for r in mine}  # (ids: comparing rows made Ctrl+A, Enter quadratic: review)
        rows = self._over_colleagues([r for r in rows if r.image_id not in left_as_is], lambda r: r.predicted_set)
        self._theirs_kept = [*self._theirs_kept, *mine]  # "2 left as gina judged them" (not "select only those")
        if rows and self.model_version and self._bulk_accept_confirmed(rows):
            self._judge(lambda: self.service.accept([r.image_id for r in rows], model_version=self.model_version,
                                                    waiting=_waiting(rows)),
                        QCoreApplication.translate("Queue", "Accepted 1 image"), QCoreApplication.translate("Queue", "Accepted {n} images"),
                        left=left, kept=kept)

    def _over_colleagues(self, rows: list[QueueRow], writes) -> list[QueueRow]:
        """The rows a key judges, ``writes(row)`` being the types it would write (none: unknown): judged images among
        them that colleagues decided are judged again only once the analyst says so (No by default: theirs are left,
        the other rows judged; with none, nothing is), as in the judging window (the state filter on "corrected" and bob, three rows, Enter: his corrections became
        the model's call without a word; review); those a colleague judged so already are left theirs, unasked."""
        def theirs(r: QueueRow) -> bool:
            return r.state != "rejudge" and bool(r.judged_by) and r.judged_by != self.service.analyst

        kept = [r for r in rows if theirs(r) and same_decision(r.judged_set, r.state == "unknown", writes(r))]
        rows = [r for r in rows if r not in kept]
        other = [r for r in rows if theirs(r)]
        self._theirs_kept = kept  # (said after the judging: the line counted only what was written)
        self._agreed = {r.image_id: tuple(writes(r)) for r in kept}  # (recorded as this analyst's agreement)
        t = QCoreApplication
        if kept and not rows and self._record_agreement():
            self.status_label.setText(t.translate(
                "Queue", "Judged so already by {who}: theirs is kept, and your agreement is recorded").format(
                who=listed(sorted({r.judged_by for r in kept}))))
        if not other:
            return rows
        who = listed(sorted({r.judged_by for r in other}))
        files = listed([Path(r.path).name for r in other[:3]] + (["…"] if len(other) > 3 else []))
        rest = len(rows) - len(other)
        if len(other) == 1:
            text = t.translate("Queue", "{files} was judged otherwise by {who}. Replace their judgment?").format(
                files=files, who=who)
        else:
            text = t.translate("Queue", "{n} of these images ({files}) were judged otherwise by {who}. Replace their "
                                        "judgments?").format(n=len(other), files=files, who=who)
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        if rest:  # the analyst's own and waiting rows beside them: No judges those, leaving the colleagues' alone
            text += "\n\n" + t.translate("Queue", "Yes: replace theirs too. No: leave theirs and judge the other {m}. "
                                                   "Cancel: judge none.").format(m=rest)
            buttons |= QMessageBox.StandardButton.Cancel
        answer = QMessageBox.question(self, t.translate("Queue", "Judged by colleagues"), text, buttons,
                                      QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            return rows
        if answer == QMessageBox.StandardButton.No and rest:
            self._theirs_kept = kept + other
            return [r for r in rows if r not in other]
        # (No, with nothing else to judge; Cancel; or the box closed): said, as every other key that writes nothing
        self._theirs_kept = []
        self.status_label.setText(t.translate("Queue", "Nothing judged: the judgments of {who} are kept").format(
            who=who))
        return []

    def _record_agreement(self) -> bool:
        """Record the analyst's agreement with the colleagues' decisions the key said again (``_agreed``): their
        decisions stay theirs; the dashboard's agreement between analysts counts it (it saw only disagreements).
        False: the store refused it (said)."""
        agreed, self._agreed = getattr(self, "_agreed", {}), {}
        if not agreed:
            return True
        try:
            records = self.service.confirm(agreed)
        except StoreError as exc:
            self.status_label.setText(QCoreApplication.translate(
                "Queue", "Your agreement with your colleagues' judgments was NOT saved: {msg}").format(msg=store_text(exc)))
            return False
        if records:
            self.judged.emit(list(records))
            self._update_buttons()  # (Ctrl+Z takes it back: its button stayed greyed)
        return True

    def _bulk_accept_confirmed(self, rows: list[QueueRow]) -> bool:
        """Whether to accept ``rows``: more than :attr:`BULK_ASK` images are asked first, saying how sure the model
        was and how many have no group or subgroup determined (Space then Enter accepted a group of 155 images at
        1–3 % confidence, without a word); the default answer is Cancel."""
        if len(rows) <= self.BULK_ASK:
            return True
        t = QCoreApplication
        sure = [r.confidence for r in rows if r.confidence is not None]
        text = t.translate("Queue", "Accept the model's type for {n} images as they are?").format(n=len(rows))
        if sure:
            text += " " + t.translate("Queue", "Its confidence in them is {low:.0%} to {high:.0%}.").format(low=min(sure),
                                                                                               high=max(sure))
        if (undetermined := sum(r.determined is None for r in rows)) > 0:
            text += " " + t.translate("Queue", "For {m} of them not even the group and subgroup are determined.").format(m=undetermined)
        total, loaded = self.model.total, self.model.loaded
        if total is not None and loaded < total and len(self.selected_rows()) >= loaded:  # (Ctrl+A: "Accept 200
            text += " " + t.translate("Queue", "Only the {loaded} rows loaded are selected, of the {total} the "
                                               "queue lists; the rest stay (End loads more).").format(  # images?" of 243)
                loaded=f"{loaded:,}", total=f"{total:,}")
        answer = QMessageBox.question(self, t.translate("Queue", "Accept {n} images?").format(n=len(rows)), text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def pick_top(self, action: str) -> None:
        """1 to 5 (``top1`` ... ``top5``): judge the one selected image as that type of its Top-5, the numbered list
        of the detail pane, as the judging window's digits do; with several selected the status line says to
        select one, or to relabel them all with C (each has its own Top-5)."""
        k = int(action.removeprefix("top"))
        selected = self.selected_rows()  # all of them: the pane shows one image's list, not one of a mixed selection
        if len(selected) > 1:
            self.status_label.setText(QCoreApplication.translate(
                "Queue", "{k} picks from one image's Top-5: select one image, or relabel the {n} selected with C")
                .format(k=k, n=len(selected)))
            return
        if self._not_shown(selected):
            return
        rows, left = self._free(selected)
        if not rows or not self.model_version:
            return
        detail = self.service.detail(rows[0].image_id, rows[0].prediction_id)  # the store's, not the pane's copy
        if detail is None:
            self.refresh(quiet=True)  # predicted again since it was listed: show it as it is now
            return
        if len(detail.top5) < k:
            self.status_label.setText(QCoreApplication.translate(
                "Queue", "This image's prediction has no type {k}").format(k=k))
            return
        leaf = detail.top5[k - 1][0]
        if not (rows := self._over_colleagues(rows, lambda _r: (leaf,))):
            return
        done = QCoreApplication.translate("Queue", "Judged 1 image: {name}")
        self._judge(lambda: self.service.relabel([rows[0].image_id], leaf, model_version=self.model_version,
                                                 waiting=_waiting(rows), action="topk"), done, done, left=left,
                    name=self.model.leaf_name(leaf))

    def relabel_selected(self) -> None:
        """Relabel every selected image to one leaf chosen in the taxonomy picker (C)."""
        rows, left, kept = self._to_judge()
        if not rows or not self.model_version:
            return
        if self.taxonomy is None:
            self.status_label.setText(QCoreApplication.translate("Queue", "Load a model to relabel (its taxonomy is needed)"))
            return
        shared = {r.leaf for r in rows}  # the rows' own type, when they share one: several types preselect none
        dialog = TaxonomyPicker(self.taxonomy, self.lang, self, current=shared.pop() if len(shared) == 1 else None,
                                scope=self._scope(rows))
        if len(rows) > 1:  # the picker says what its Enter does (it judged 16 images without a word of it)
            dialog.setWindowTitle(QCoreApplication.translate("Queue", "Relabel {n} images as…").format(n=len(rows)))
        if dialog.exec() and dialog.chosen and (rows := self._over_colleagues(rows, lambda _r: (dialog.chosen,))):
            leaf = dialog.chosen
            name = self.model.leaf_name(leaf)
            self._judge(lambda: self.service.relabel([r.image_id for r in rows], leaf, model_version=self.model_version,
                                                             waiting=_waiting(rows)),
                        QCoreApplication.translate("Queue", "Relabelled 1 image as {name}"),
                        QCoreApplication.translate("Queue", "Relabelled {n} images as {name}"),
                        left=left, kept=kept, name=name)
        self.active_view().setFocus()

    def unknown_selected(self) -> None:
        """Judge every selected image "unknown / new defect type" (U)."""
        rows, left, kept = self._to_judge()
        rows = self._over_colleagues(rows, lambda _r: ())
        if rows and self.model_version:
            self._judge(lambda: self.service.mark_unknown([r.image_id for r in rows], model_version=self.model_version,
                                                          waiting=_waiting(rows)),
                        QCoreApplication.translate("Queue", "Marked 1 image unknown / new type"),
                        QCoreApplication.translate("Queue", "Marked {n} images unknown / new type"), left=left,
                        kept=kept)

    def note_selected(self) -> None:
        """Set one note on every selected image (N); each keeps its decision, or stays waiting."""
        self._theirs_kept, self._agreed = [], {}
        rows = self.selected_rows()
        if not rows or self.service.read_only is not None:
            return
        name = Path(rows[0].path).name
        ids = [r.image_id for r in rows]
        seen = self.service.notes(ids)  # read now: the pane's copy may be older
        current, prompt = self._note_prompt(ids, seen)
        key = ids[0] if len(rows) == 1 else tuple(sorted(ids))  # one: the window's
        note = NoteDialog.ask(self, name, current, self.note_drafts, key, prompt=prompt)
        if note is None:
            if key in self.note_drafts:
                self.status_label.setText(QCoreApplication.translate(
                    "Queue", "The note was not saved: N on the same selection brings your text back."))
        elif not self._judge(lambda: self.service.note(ids, note, seen={i: seen.get(i, "") for i in ids}),
                             *((QCoreApplication.translate("Queue", "Noted 1 image"),
                                QCoreApplication.translate("Queue", "Noted {n} images")) if note.strip() else
                               (QCoreApplication.translate("Queue", "Removed the note of 1 image"),
                                QCoreApplication.translate("Queue", "Removed the note of {n} images")))):
            self.note_drafts.keep(key, note, current)  # the store refused it: the text waits for the next N
        self.active_view().setFocus()

    @staticmethod
    def _note_prompt(ids: list[int], notes: dict[int, str]) -> tuple[str, str | None]:
        """``(text the editor opens on, its prompt)`` for a note on ``ids`` (None: the one image's own prompt).
        Several images opened on an empty editor, which said nothing of their notes, and saving replaced them
        (seen: a second note on four noted images); now the editor opens on the note they share, or the prompt
        says how many have one that saving replaces."""
        shared = set(notes.values())
        if len(ids) == 1 or not notes or (len(shared) == 1 and len(notes) == len(ids)):
            return next(iter(shared), ""), None if len(ids) == 1 else QCoreApplication.translate(
                "Queue", "Note for the {n} selected images:").format(n=len(ids))  # (one sentence: in Chinese
        if len(notes) == 1:  # "…影像 的註記" had a space inside it)
            return "", QCoreApplication.translate(
                "Queue", "Note for the {n} selected images. One of them has a note of its own: what you save "
                         "replaces it (Ctrl+Z in the queue brings it back).").format(n=len(ids))
        return "", QCoreApplication.translate(
            "Queue", "Note for the {n} selected images. {k} of them have notes of their own: what you save "
                     "replaces them (Ctrl+Z in the queue brings them back).").format(n=len(ids), k=len(notes))

    def undo_last(self) -> None:
        """Undo the queue's last action not undone yet (Ctrl+Z; again: the one before); the images it brings back
        to the queue are selected again (the selection stayed on the row that had taken their place). With none
        left it says so (the line kept saying "Undid 1 judgment", as if the key had worked again)."""
        self._typed_ahead.clear()  # (keys for the rows after a judgment this undoes: a held Enter accepted the
        if not self.service.can_undo:  # undone image again once the undo's reload selected it: review)
            self.status_label.setText(QCoreApplication.translate(
                "Queue", "Nothing to undo: this window undoes what was done in it (the main window's Ctrl+Z undoes "
                         "what was judged there)."))
            return
        # the image named: an undo reaches back to what an earlier opening of this window did, perhaps in another
        # batch, and "Undid 1 judgment" did not say which (analyst's walk-through)
        note = self.service.undo_is_note  # (a note undone said "Undid the judgment on …": walk-through)
        self._judge(self.service.undo_last, QCoreApplication.translate("Queue", "Undid the note on {name}") if note
                    else QCoreApplication.translate("Queue", "Undid the judgment on {name}"),
                    QCoreApplication.translate("Queue", "Undid the notes on {n} images") if note
                    else QCoreApplication.translate("Queue", "Undid {n} judgments"), undo=True,
                    name=lambda records: self._file_name(records[0].image_id) if len(records) == 1 else "")

    def _file_name(self, image_id: int) -> str:
        """The image's file name for a message; ``#id`` when the store cannot say now (the undo is saved)."""
        try:
            return self.service.file_name(image_id)
        except StoreError:
            return f"#{image_id}"

    def _judge(self, action, done_one: str, done_many: str, *, left: int = 0, kept: int = 0,
               undo: bool = False, name: str | Callable[[list], str] = "") -> bool:
        """Run one bulk store action; False: nothing was stored (the status line or a box says why). The status
        line then says ``done_one`` (one image) or ``done_many`` (its ``{n}``), ``left``: how many selected rows
        were left to the colleagues on them, and ``kept``: how many judged ones were left as they are.
        ``undo``: the action is an undo: the reloaded list selects its images, not the rows selected now, and a
        refusal names the image and the colleague's judgment (it said "Cannot undo judgment 9: image 23 …")."""
        if not undo:  # the colleagues' decisions this key said again: the analyst's agreement, first (so that Ctrl+Z
            self._record_agreement()  # takes back the key's own judgments first)
        try:
            records = action()
        except (JudgmentConflictError, ReadOnlyError) as exc:  # nothing changed: say why, no dialog
            self.status_label.setText(conflict_text(exc, undo, self.service.file_name, self._leaf_name)
                                       if isinstance(exc, JudgmentConflictError)
                                      else store_text(exc))
            if isinstance(exc, JudgmentConflictError):
                self.refresh(quiet=True)  # show the images as they are now
            return False
        except StoreError as exc:
            QMessageBox.critical(self, QCoreApplication.translate("Queue", "Judgments NOT saved"),
                                 QCoreApplication.translate("Queue", "The database could not be written, so nothing was "
                                                            "saved:\n\n{msg}").format(msg=store_text(exc)))
            return False
        except ValueError as exc:
            self.status_label.setText(str(exc))
            return False
        self.judged.emit(list(records))
        self._reselect = {r.image_id for r in records} if undo else None
        if not undo:  # (the next key on these rows waits for the rows after them; an undo's are waiting again)
            self._after_own, self._own_judged = True, {r.image_id for r in records}
        self.refresh()
        name = name(list(records)) if callable(name) else name  # (the images an undo took back, named)
        done = (done_one if len(records) == 1 else done_many).format(n=len(records), name=name)  # (once: a name
        # with braces in it is not read as a placeholder)
        if left:
            done += "  ·  " + QCoreApplication.translate(
                "Queue", "{n} left to colleagues who hold them").format(n=left)
        if kept:
            done += "  ·  " + QCoreApplication.translate(
                "Queue", "{n} already judged left as they are (select only those to judge them again)").format(n=kept)
        theirs, self._theirs_kept = getattr(self, "_theirs_kept", []), []
        if theirs and not undo:  # colleagues' decisions left theirs (the same types, or No to replacing them)
            done += "  ·  " + QCoreApplication.translate("Queue", "{n} left as {who} judged them").format(
                n=len(theirs), who=listed(sorted({r.judged_by for r in theirs})))
        self.status_label.setText(done)  # cleared after a while unless something else was said meanwhile: it stayed
        QTimer.singleShot(self.DONE_SHOWN_MS, self, lambda: self.status_label.text() == done  # for hours, as if new
                          and self.status_label.setText(""))
        return True

    def export_queue(self) -> None:
        """Write every row the filters match to a CSV file (in the background)."""
        filters = self.filters()
        if filters is None:
            return
        place = self.export_folder()  # the last export's folder (it opened in the home folder every time)
        start = place if place is not None and place.is_dir() else Path.home()
        path = file_dialogs.choose_save_file(self, QCoreApplication.translate("Queue", "Export the queue"),
                                             str(start / "queue.csv"), "CSV (*.csv)")
        if not path:
            return
        task = Task(self.service.export_queue, Path(path), filters, self._leaf_name)
        task.signals.result.connect(lambda n: (self.status_label.setText(
            QCoreApplication.translate("Queue", "Exported {n} rows to {path}").format(n=n, path=path)),
            self.export_done(Path(path).parent)))
        task.signals.failed.connect(lambda exc: QMessageBox.warning(
            self, QCoreApplication.translate("Queue", "Export failed"), export_text(exc)))
        self._start(task)


def _waiting(rows: list[QueueRow]) -> list[int]:
    """The images the analyst saw waiting (a decision made meanwhile elsewhere is then a conflict)."""
    return [r.image_id for r in rows if r.state == "rejudge"]
