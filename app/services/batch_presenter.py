"""The open batch as the main window shows it: items, the current image, states, counts. No Qt.

:class:`BatchPresenter` holds the list state of the judging window and answers every question the view
asks (what does row *i* show, which image is next to judge, how many are left); the window only turns its
plain answers (:class:`ListRow`, :class:`PanelData`) into widgets. Records come in from the store (batch
items, stored predictions, judgments) and are never converted again here.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from app.services.item_merge import kept, newest
from app.services.note_drafts import NoteDrafts
from app.services.presenter_records import (
    BLIND_CHECK,
    LIST_SORTS,
    PATH_SEPARATOR,
    Focus,
    ListFilter,
    ListRow,
    PanelData,
    ReasonDetail,
    TopEntry,
    judged_elsewhere,
)
from app.store.records import (
    BatchItem,
    JudgmentRecord,
    OpenedBatch,
    PredictionRecord,
    picture_file,
    reach_error,
    unpredicted,
)
from models.imageio import is_reach_reason
from models.routing.policy import Calibration
from models.taxonomy import Taxonomy

__all__ = ["LIST_SORTS", "OPEN_STATES", "BatchPresenter", "ListFilter", "ListRow", "PanelData", "ReasonDetail", "TopEntry"]
MODEL_STATES = ("none", "loading", "ready", "read_only")  # read_only: names shown, the model never runs

OPEN_STATES = ("pending", "rejudge")
"""States that still need a person ("left" in the counts; where "next" goes)."""
COUNT_ORDER = ("pending", "rejudge", "auto", "accepted", "corrected", "unknown", "error")


class BatchPresenter:
    """The list state of the open batch.

    Args:
        lang: the UI language of leaf names.
        unknown_text: how a judgment "unknown / new defect type" reads in the list (in the UI language).
        blind_text: what a blind spot check's row says in place of the model's call.
        outside_text: how a judged leaf the tree on screen lacks reads (``{leaf}``: its id), e.g. a judgment made
            under an older tree, shown with a model of a newer one.
    """

    def __init__(self, *, lang: str = "en", unknown_text: str = "unknown / new defect type",
                 blind_text: str = "spot check", outside_text: str = "{leaf} (not in this model's tree)") -> None:
        self.lang = lang
        self.unknown_text, self.outside_text = unknown_text, outside_text
        self.blind_text = blind_text  # what a blind check's row says in place of the model's call
        self.taxonomy: Taxonomy | None = None  # the model's (set from its manifest before its weights load)
        self.routing: Calibration | None = None  # the model's calibration: the numbers behind the reasons
        self.fused_routing: Calibration | None = None  # its routing of a prediction fused with spectra
        self.drafts: NoteDrafts | None = None  # notes typed and not saved (the window's): a marker on their rows
        self.stamp: str | None = None  # what the model's routing was made under (stale predictions are re-routed)
        self.model_version: str | None = None
        self.model_state = "none"
        self.batch: OpenedBatch | None = None
        self.items: list[BatchItem] = []
        self.current = -1
        self.errors: dict[int, str] = {}  # image id -> why it cannot be shown or judged by the model
        self._read_since: set[int] = set()  # images read since the opening (reached): a later part's listing is older
        self.turned_unreadable: list[int] = []  # the rows held that the last grow() found unreadable now
        self._pos: dict[int, int] = {}
        self._states: list[str] = []  # each row's state, and how many rows are in each (counts(), kept in step)
        self._counts: Counter[str] = Counter()
        self.widened: set[int] = set()  # image ids whose Top-5 shows the whole tree, not the determined node
        self._subtrees: dict[str, frozenset[str]] = {}  # node -> the leaves under it (of self.taxonomy)
        self.claimed: dict[int, str] = {}  # image id -> the colleague who holds it now ("next" passes it over)
        self.list_filter = ListFilter()
        self._shown: list[int] | None = None  # the listed rows in list order; None: every row, in batch order
        self._shown_pos: dict[int, int] = {}

    # -- content -----------------------------------------------------------------------------------
    def open(self, opened: OpenedBatch, *, wanted: int | None = None, analyst: str | None = None) -> int:
        """Show a newly opened batch; returns the row to select (``wanted`` image, else the first open one after the
        image ``analyst`` judged last here (that one when an undo left it waiting), else the first open one: one back
        after a restart started far behind where they stopped, made waiting again by a pause (factory walk-through);
        those before it come after the batch's end, as "next" wraps)."""
        self.batch, self.claimed = opened, {}
        self.errors, self._read_since, self.widened, self.current = dict(opened.unreadable), set(), set(), -1
        self.list_filter = ListFilter()  # another batch: its own types and states, the whole list again
        self.set_items(opened.items)
        # the first image still waiting for a person after the analyst's last judgment made here (one made in another
        # lot opened a new lot past its waiting images: scale walk-through); an unreadable one is no image to judge
        # (the batch of a day whose only images left could not be read opened on one of them)
        mine = [(it.judgment.id, i) for i, it in enumerate(self.items) if analyst and it.judgment is not None
                and it.judgment.analyst == analyst and it.judgment.batch_id in (None, opened.batch_id)]
        after = max(mine)[1] if mine else 0  # (itself when it waits again: the analyst undid a slip there)
        order = [*range(after, len(self.items)), *range(after)]
        readable = (i for i in order if self.state(self.items[i]) != "error")
        first = next((i for i in readable if self.state(self.items[i]) in OPEN_STATES), None)
        if first is None:  # nothing open: the first readable image (a second walk only then)
            first = next((i for i, it in enumerate(self.items) if self.state(it) != "error"), 0)
        return self._pos.get(wanted, first) if wanted is not None else first

    def grow(self, opened: OpenedBatch) -> list[int]:
        """More of a batch whose first part is open (:func:`app.services.batches.open_folder` hands a large new
        folder over in parts while it registers the rest): the items follow those held (``opened.continues``), or,
        otherwise, are the whole batch, and those held keep what was applied to them since (predictions,
        judgments). The current image stays current. Returns the rows added to the list, at its end (a filter or
        sort set meanwhile lists those it passes after the others: the list never jumps under the analyst)."""
        unreadable = {i: why for i, why in opened.unreadable.items()  # (each part carries every file found
                      if not (i in self._read_since and is_reach_reason(why))}  # unreadable so far: restated once;
        newly = [image_id for image_id in unreadable if image_id not in self.errors]  # one read since stays read)
        self.errors = {**unreadable, **self.errors}
        self.turned_unreadable = [i for i in map(self._pos.get, newly) if i is not None]  # rows held, unreadable now
        for i in self.turned_unreadable:
            self._restate(i)
        if not opened.continues:
            self.batch = opened
            held = {it.image.image_id: it for it in self.items}
            current = self.current_item
            self.set_items([kept(held.get(it.image.image_id), it) for it in opened.items])
            if current is not None:
                self.current = self._pos.get(current.image.image_id, -1)
            return self.shown_rows()
        first = len(self.items)
        for it in opened.items:
            if it.image.image_id not in self._pos:  # a duplicate file is one image, listed once
                self._pos[it.image.image_id] = len(self.items)
                self.items.append(it)
                self._states.append(self.state(it))
                self._counts[self._states[-1]] += 1
        added = list(range(first, len(self.items)))
        if self._shown is None:
            return added
        passed = [i for i in added if self._passes(self.list_filter, self.items[i])]
        self._shown_pos.update({row: len(self._shown) + k for k, row in enumerate(passed)})
        self._shown.extend(passed)
        return passed

    def reload(self, items: Sequence[BatchItem]) -> list[int] | None:
        """The batch read again from the store while the window went on: each item as the store holds it, unless
        the window applied something newer since the read (a judgment, or a prediction of this model: by id and
        time); items the read did not see (a growing folder's parts) stay after the others. The current image stays
        current. Returns the rows that changed when the list is unfiltered and holds the same images in the same
        order (the window updates only those: a pause re-routes a few of 100,000), else None (made again)."""
        if self._shown is None and len(items) <= len(self.items) and all(
                a.image.image_id == b.image.image_id for a, b in zip(items, self.items, strict=False)):
            changed = []
            for i, it in enumerate(items):
                if (new := newest(self.items[i], it, self.model_version)) != self.items[i]:
                    self.items[i] = new
                    self._restate(i)
                    changed.append(i)
            return changed
        held = {it.image.image_id: it for it in self.items}
        current = self.current_item
        read = [newest(held.pop(it.image.image_id, None), it, self.model_version) for it in items]
        self.set_items(read + [it for it in self.items if it.image.image_id in held])
        if current is not None:
            self.current = self._pos.get(current.image.image_id, -1)
        return None

    def set_items(self, items: Sequence[BatchItem]) -> None:
        self.items = list(items)
        self._pos = {it.image.image_id: i for i, it in enumerate(self.items)}
        self._states = [self.state(it) for it in self.items]
        self._counts = Counter(self._states)
        self.set_list_filter(self.list_filter)

    def _restate(self, i: int) -> None:
        """Row ``i`` changed: keep :meth:`counts` (kept up to date, not recounted: 100,000 rows) in step."""
        new, old = self.state(self.items[i]), self._states[i]
        if new != old:
            self._counts[old] -= 1
            self._counts[new] += 1
            self._states[i] = new

    # -- the list's filter and order ---------------------------------------------------------------
    def set_list_filter(self, list_filter: ListFilter) -> list[int]:
        """Filter and order the list; returns the rows listed, in list order. The rows are chosen now: an image
        judged later stays listed (with its new state) until the filter is set again or the batch is read again,
        so the list never jumps under the analyst."""
        self.list_filter = list_filter
        self._shown = self._filtered(list_filter) if list_filter.active else None
        self._shown_pos = {row: k for k, row in enumerate(self._shown or ())}
        return self.shown_rows()

    def shown_rows(self) -> list[int]:
        """The rows the list shows, in its order."""
        return list(range(len(self.items))) if self._shown is None else list(self._shown)

    def type_of(self, item: BatchItem) -> str | None:
        """The image's type as the list sorts and filters it: the decision's leaf, else the predicted one (None for
        a blind check not judged yet: its call is hidden)."""
        j, p = item.judgment, item.prediction
        if j is not None and j.is_decision:
            return j.leaf
        if self.blind(item) or p is None or p.error:
            return None
        return p.leaf

    def _passes(self, f: ListFilter, item: BatchItem) -> bool:
        return (f.states is None or self.state(item) in f.states) and (
            f.node is None or self._under(self.type_of(item), f.node))

    def _filtered(self, f: ListFilter) -> list[int]:
        rows = [i for i, item in enumerate(self.items) if self._passes(f, item)]
        if f.sort == "confidence":
            def conf(i: int) -> float:
                p = self.items[i].prediction
                return 2.0 if self.blind(self.items[i]) or p is None or p.confidence is None else p.confidence
            rows.sort(key=lambda i: (conf(i), i))
        elif f.sort == "type":
            rows.sort(key=lambda i: ((self.name(t) or t).casefold() if (t := self.type_of(self.items[i])) else "\uffff", i))
        return rows

    def _under(self, leaf: str | None, node: str) -> bool:
        if leaf is None:
            return False
        names = self.names
        return leaf == node or (names is not None and leaf in names and node in names.path(leaf))

    def list_types(self) -> list[tuple[str, str, int]]:
        """``(node id, name, images)`` for every group, subgroup and type the batch's images are of (the list's type
        filter), in tree order; a node counts the images below it."""
        names = self.names
        counts: Counter[str] = Counter()
        for item in self.items:
            leaf = self.type_of(item)
            if leaf is None:
                continue
            for node in (names.path(leaf) if names is not None and leaf in names else [leaf]):
                counts[node] += 1
        return [(n, self.name(n) or n, counts[n]) for n in dict.fromkeys(self._tree_order(counts)) if counts.get(n)]

    def _tree_order(self, counts: Counter[str]) -> list[str]:
        """Each group, then its subgroups each followed by its types (the order of a tree), then any node the
        taxonomy does not know."""
        names = self.names
        if names is None:
            return sorted(counts)
        order = list(names.in_tree_order())
        return order + sorted(set(counts) - set(order))

    def row_of(self, image_id: int) -> int | None:
        return self._pos.get(image_id)

    def item(self, row: int) -> BatchItem | None:
        return self.items[row] if 0 <= row < len(self.items) else None

    @property
    def current_item(self) -> BatchItem | None:
        return self.item(self.current)

    def apply_predictions(self, pairs: Iterable[tuple[int, PredictionRecord]]) -> list[int]:
        """Stored predictions of the open batch's images; returns the rows that changed."""
        rows = []
        for image_id, record in pairs:
            i = self._pos.get(image_id)
            if i is None:
                continue
            if record.error and not is_reach_reason(record.error):
                self.errors[image_id] = record.error
            elif is_reach_reason(self.errors.get(image_id, "")):  # (read now, or the model's own "not found": it
                del self.errors[image_id]  # waits for the file, not marked unreadable: :func:`reach_error`)
            self.items[i] = replace(self.items[i], prediction=record)
            self._restate(i)
            rows.append(i)
        return rows

    def apply_judgment(self, record: JudgmentRecord) -> int | None:
        """A committed judgment (one written here: the image is seen here from now on); returns its row, or None
        when the image is not in the open batch."""
        if (i := self._pos.get(record.image_id)) is not None:
            self.items[i] = replace(self.items[i], judgment=record, seen_here=self.items[i].seen_here or (
                self.batch is not None and record.batch_id == self.batch.batch_id))
            self._restate(i)
        return i

    def image_failed(self, image_id: int, reason: str) -> None:
        """The image cannot be decoded for display (the first reason is kept)."""
        self.errors.setdefault(image_id, reason)
        if (i := self._pos.get(image_id)) is not None:
            self._restate(i)

    def reached(self, image_id: int) -> bool:
        """The image's file was read (its image decoded) after a file-system error had kept it from the window or
        the model (not found, permission denied: a share away; its prediction's error, stored in an earlier
        session too): that error goes, and the model should predict it again. Returns whether it had one."""
        i = self._pos.get(image_id)
        had = is_reach_reason(self.errors.get(image_id, ""))
        self._read_since.add(image_id)
        if had:
            del self.errors[image_id]
        if i is not None:
            self._restate(i)
        return had or (i is not None and reach_error(self.items[i].prediction))

    # -- questions ---------------------------------------------------------------------------------
    def state(self, item: BatchItem) -> str:
        """The item's state, ``error`` when it cannot be read and is not judged yet; ``pending`` for one whose
        prediction failed to reach its file (:func:`~app.store.records.reach_error`: it waits for its file)."""
        if item.image.image_id in self.errors and not (item.judgment and item.judgment.is_decision):
            return "error"
        state = item.state  # (a file the model did not reach: waiting, predicted again once it is read)
        return "pending" if state == "error" and reach_error(item.prediction) else state

    def next_open(self, after: int) -> int | None:
        """The next row in the list's order (wrapping around) that still needs a person; None when every image
        listed is judged. With a filter, only listed rows count (after a row not listed: from the top). Images a
        colleague holds (:attr:`claimed`) are passed over while any other is open."""
        held = None
        for j in self._open_after(after):
            if self.items[j].image.image_id not in self.claimed:
                return j
            held = j if held is None else held
        return held

    def open_ahead(self, n: int) -> list[int]:
        """The image ids of the next ``n`` rows after the current one that need a person, in the list's order."""
        return [self.items[j].image.image_id for j, _ in zip(self._open_after(self.current), range(n), strict=False)]

    def _open_after(self, after: int) -> Iterator[int]:
        order = self.shown_rows()
        start = self._shown_pos.get(after, -1) if self._shown is not None else after
        for step in range(1, len(order) + 1):
            j = order[(start + step) % len(order)]
            if self._states[j] in OPEN_STATES:  # (the presenter's state: a file not reached waits, unreadable not)
                yield j

    def focus(self, model_version: str, n: int, have_heatmap: Mapping[int, str | None]) -> Focus:
        """The image on screen and the next ``n`` in judging order (readable ones), and what of them the model
        still has to make: predictions of ``model_version``, and heatmaps: those not in ``have_heatmap`` (image id ->
        the leaf its heatmap explains) or explaining another leaf than :attr:`BatchItem.heatmap_leaf`."""
        images, predict, heatmap, leaves = [], set(), set(), {}
        for row in [self.current, *self.ahead(self.current, n)] if self.current_item is not None else []:
            item = self.items[row]
            image_id, p = item.image.image_id, item.prediction
            if image_id in self.errors:
                continue
            images.append((image_id, picture_file(item.image)))  # (only the picture of this image id)
            if p is None or p.model_version != model_version or reach_error(p):
                predict.add(image_id)  # (a file the model did not reach, read since: :meth:`reached`)
            leaf = item.heatmap_leaf
            if (p is None or not p.error) and have_heatmap.get(image_id, ()) != leaf and not self.blind(item):
                heatmap.add(image_id)
                if leaf:
                    leaves[image_id] = leaf
        return Focus(tuple(images), frozenset(predict), frozenset(heatmap), leaves)

    def ahead(self, row: int, n: int) -> list[int]:
        """The next ``n`` rows after ``row`` that "next" will walk to (judging order), nearest first."""
        out, at = [], row
        while len(out) < n and (nxt := self.next_open(at)) is not None and nxt != row and nxt not in out:
            out.append(nxt)
            at = nxt
        return out

    def counts(self) -> dict[str, int]:
        """Images per state, in :data:`COUNT_ORDER` (states with none left out)."""
        return {key: self._counts[key] for key in COUNT_ORDER if self._counts.get(key)}

    def left(self) -> int:
        counts = self.counts()
        return sum(counts.get(s, 0) for s in OPEN_STATES)

    def todo(self, model_version: str) -> list[tuple[int, str]]:
        """``(image_id, path)`` of the readable images to predict with ``model_version`` (none of its predictions,
        or an undecided one routed under an earlier calibration than the loaded one: :func:`unpredicted`), in the
        order the analyst will reach them: from the current image on, then the ones before it."""
        start = max(0, self.current)
        return unpredicted(self.items[start:] + self.items[:start], model_version, self.errors, self.stamp)

    def stale(self, todo: Iterable[tuple[int, str]], model_version: str) -> set[int]:
        """Those of ``todo`` that have a prediction of ``model_version``: it went stale (a spectrum, a recalibration),
        so the model predicts them again although it did once in this session."""
        return {i for i, _path in todo if (p := self.items[self._pos[i]].prediction) and p.model_version == model_version}

    def set_model(self, state: str, *, version: str | None = None, taxonomy: Taxonomy | None = None,
                  routing: Calibration | None = None, stamp: str | None = None,
                  fused: Calibration | None = None) -> None:
        """The model's state (``none``, ``loading``, ``ready``); with ``version``, its taxonomy, calibration,
        routing stamp (``BundleManifest.routing_stamp``; default the calibration's) and routing of predictions fused
        with spectra (``BundleManifest.fused_calibration``), read from its manifest before its weights load."""
        if state not in MODEL_STATES:
            raise ValueError(f"model state {state!r} is not one of {', '.join(MODEL_STATES)}")
        self.model_state = state
        if version is not None:
            self.model_version, self.taxonomy, self.routing, self.fused_routing = version, taxonomy, routing, fused
            self.stamp = stamp if stamp is not None else None if routing is None else routing.stamp
            self._subtrees = {}

    @property
    def names(self) -> Taxonomy | None:
        """The taxonomy names come from: the model's, else the one stored with the batch's predictions."""
        return self.taxonomy or (self.batch.taxonomy if self.batch is not None else None)

    def name(self, node_id: str | None) -> str:
        """A node's name in the UI language; empty when no taxonomy knows it (a raw id never reaches the screen)."""
        names = self.names
        if not node_id or names is None or node_id not in names:
            return ""
        return names.name(node_id, self.lang)

    def list_row(self, i: int) -> ListRow:
        item = self.items[i]
        label, conf, problem = "", None, self.errors.get(item.image.image_id, "")
        if decided := item.judgment is not None and item.judgment.is_decision:  # (not "X is on it": held 30 s more)
            label = self.judged_names(item.judgment.labels) if item.judgment.leaf else self.unknown_text
        elif self.blind(item):
            label = self.blind_text
        elif item.prediction is not None and item.prediction.leaf:
            label = self.names_of(item.prediction.predicted_set)
            conf = item.prediction.confidence
        else:  # unreadable: found opening, decoding or predicting (a stored prediction keeps its reason)
            p = item.prediction
            label, problem = problem or (p.error if p is not None and p.error and not reach_error(p) else ""), ""
        return ListRow(item.image.image_id, self.file_name(item), item.image.path, self.state(item), label,
                       conf, has_note=bool(item.judgment and item.judgment.note),
                       has_draft=self.drafts is not None and item.image.image_id in self.drafts,
                       held_by="" if decided else self.claimed.get(item.image.image_id, ""), file_problem=problem)

    def set_claimed(self, claimed: dict[int, str]) -> list[int]:
        """The images colleagues are on now (:attr:`claimed`); returns the rows whose holder changed (their list
        rows say who holds them)."""
        before, self.claimed = self.claimed, dict(claimed)
        changed = {i for i in before.keys() | self.claimed.keys() if before.get(i) != self.claimed.get(i)}
        return sorted(row for i in changed if (row := self._pos.get(i)) is not None)

    def names_of(self, leaves: Sequence[str]) -> str:
        """Several leaves as one text: ``Metal particle + Scratch`` (an image with more than one defect)."""
        return " + ".join(self.name(leaf) for leaf in leaves)

    def judged_names(self, leaves: Sequence[str]) -> str:
        """A decision's leaves as one text (:meth:`names_of`); a leaf the tree on screen lacks (judged under another
        tree) reads as its id, marked (:attr:`outside_text`): it showed as nothing in the list. With no tree at all
        (no model, no stored prediction names any) the id alone."""
        mark = self.outside_text if self.names is not None else "{leaf}"
        return " + ".join(self.name(leaf) or mark.format(leaf=leaf) for leaf in leaves)

    def file_name(self, item: BatchItem) -> str:
        """The image's name as the list and panel show it: with its sub-folder in a batch opened with sub-folders
        (``lot2/P001.png``), else the file name."""
        if (batch := self.batch) is not None and batch.recursive:
            path = Path(item.image.path)
            try:
                return path.relative_to(batch.source).as_posix()
            except ValueError:
                return path.name
        return os.path.basename(item.image.path)  # no Path object per row: the list makes 100,000 of them

    def list_rows(self) -> list[ListRow]:
        """The rows the list shows (:meth:`shown_rows`), in its order."""
        return [self.list_row(i) for i in self.shown_rows()]

    def panel(self, i: int) -> PanelData:
        item = self.items[i]
        p, j = item.prediction, item.judgment
        top, scope, scoped = self._top(item) if self.shows_prediction(item) else ((), None, False)
        # a scoped row's ancestry leaves out the scope and what is above it: the header names them
        named = frozenset(self.taxonomy.path(scope)) if scoped and scope and self.taxonomy is not None else frozenset()
        decided = j is not None and j.is_decision
        shown = p if self.shows_prediction(item) else None  # never half-named: no raw ids on screen
        blind = self.blind(item)  # (its one reason BLIND_CHECK: "its type paused" beside the dashboard's paused type
        waiting = None  # told the hidden call, so a random check and a paused type's image read alike: walk-through)
        again = reach_error(p)  # (the model did not reach its file: it waits for it, predicted again once read)
        if p is None or again or (p.leaf and shown is None and not blind):
            waiting = {"none": "no_model", "loading": "loading", "read_only": "read_only"}.get(self.model_state,
                                                                                              "predicting")
            if again and waiting == "predicting":  # ("Predicting… in the queue" of an image its model missed)
                waiting = "unreached"
            if waiting == "no_model" and self.names is None:
                waiting = "no_types"  # nothing to pick from either: no model read, no stored prediction names them
        return PanelData(
            file_name=self.file_name(item),
            state=self.state(item),
            leaf=shown.leaf if shown else None,
            path=shown.path if shown else (),
            path_names=tuple(self.name(n) for n in shown.path) if shown else (),
            path_scores=shown.path_scores if shown else (),
            top5=tuple(TopEntry(leaf, self.name(leaf), PATH_SEPARATOR.join(self.name(n) for n in path[:-1] if n not in named),
                                score)
                       for leaf, path, score in top) if shown else (),
            error=self.errors.get(item.image.image_id) or (p.error if p and not again else None),
            judged_leaf=j.leaf if decided else None,
            judged_name=self.judged_names(j.labels) if decided else "",
            judged_by=j.decider if decided else None,  # (a colleague's decision a note carried on stays theirs)
            judged_at=j.decided_when.astimezone().strftime("%Y-%m-%d %H:%M") if decided else None,
            judged_elsewhere=judged_elsewhere(item, self.batch.batch_id if self.batch is not None else None),
            note=j.note if j else None,
            reasons=(ReasonDetail(BLIND_CHECK),) if blind else self._reason_details(p) if shown else (),  # (below)
            model_version=p.model_version if p else "",
            waiting=waiting if not self.errors.get(item.image.image_id) else None,
            determined=self._determined(shown) if shown else None,
            blind=blind,
            top_scope=self.name(scope) if scope and scoped else None,
            top_widened=self.name(scope) if scope and not scoped else None,
            spectra=shown.spectra if shown else 0,
            predicted_set=tuple(self.name(leaf) for leaf in shown.labels) if shown else (),
        )

    def top_leaves(self, item: BatchItem) -> tuple[tuple[str, tuple[str, ...], float], ...]:
        """The Top-5 the panel shows, as ``(leaf, path, score)``: for an image whose group or subgroup the model
        determined, the five best leaves under that node (unless :meth:`toggle_top_scope` widened it); else the
        prediction's own Top-5. Keys 1–5 choose from this list."""
        return self._top(item)[0] if self.shows_prediction(item) else ()

    def toggle_top_scope(self, item: BatchItem) -> bool:
        """Key A: the Top-5 of an image with a determined node switches between that node and the whole tree.
        Returns False when the image has no determined node (nothing to switch)."""
        if self._top(item)[1] is None:
            return False
        self.widened ^= {item.image.image_id}
        return True

    def _top(self, item: BatchItem) -> tuple[tuple[tuple[str, tuple[str, ...], float], ...], str | None, bool]:
        """``(entries, determined node, scoped)``: scoped when the entries are the node's leaves only."""
        p = item.prediction
        if p is None:
            return (), None, False
        node = self.determined_node(item)
        taxonomy = self.taxonomy
        probs = p.leaf_probs
        if node is None or taxonomy is None or len(probs) != len(taxonomy.leaves):
            return p.top5, None, False  # nothing to scope to (or no distribution stored): no A to offer
        if item.image.image_id in self.widened:
            return p.top5, node, False
        if node not in self._subtrees:
            self._subtrees[node] = frozenset(leaf for leaf in taxonomy.leaves if node in taxonomy.path(leaf))
        inside = sorted((i for i, leaf in enumerate(taxonomy.leaves) if leaf in self._subtrees[node]),
                        key=lambda i: -probs[i])[:5]
        return tuple((taxonomy.leaves[i], tuple(taxonomy.path(taxonomy.leaves[i])), float(probs[i]))
                     for i in inside), node, True

    def determined_node(self, item: BatchItem) -> str | None:
        """The group or subgroup the model determined for an item sent to a person (the picker's first scope)."""
        p = item.prediction if self.shows_prediction(item) else None
        level = self._determined(p) if p is not None else None
        return None if p is None or level is None else p.path[level]

    def _determined(self, p: PredictionRecord) -> int | None:
        """The level of the deepest group/subgroup the loaded model's calibration determines for a re-judged
        prediction (see :attr:`PanelData.determined`)."""
        routing = self._routing_of(p)
        if routing is None or p.route != "rejudge" or len(p.path_scores) != len(p.path):
            return None
        _node, level = routing.determined(p.path, p.path_scores, p.reasons)
        return level if level is not None and level < len(p.path) - 1 else None

    def shows_prediction(self, item: BatchItem) -> bool:
        """True when the item's prediction is on screen (it exists and its names are known): only then can it
        be accepted."""
        p = item.prediction
        return (p is not None and bool(p.leaf) and not p.error and bool(self.name(p.leaf))
                and not self.blind(item))

    @staticmethod
    def blind(item: BatchItem) -> bool:
        """True while the item is a blind check (:attr:`PanelData.blind`): undecided, a spot check or a paused type's."""
        decided = item.judgment is not None and item.judgment.is_decision
        return item.prediction is not None and not decided and item.prediction.blind

    def _routing_of(self, p: PredictionRecord) -> Calibration | None:
        """The loaded model's routing that judged ``p``: the fused one for a prediction fused with spectra (its own
        leaf and node thresholds), else the image's; None for another model's prediction, or one routed under
        another calibration of this model (calibrated again in place: a decided image keeps its prediction, whose
        numbers are not the new thresholds')."""
        if p.model_version != self.model_version:
            return None
        if p.calibration is not None and self.routing is not None and p.calibration != self.routing.stamp:
            return None
        return self.fused_routing if p.spectra else self.routing

    def _reason_details(self, p: PredictionRecord) -> tuple[ReasonDetail, ...]:
        """The prediction's reasons, with numbers when it comes from the loaded model's calibration."""
        routing = self._routing_of(p)
        out = []
        for code in p.reasons:
            value = limit = None
            if routing is not None:
                if code == "low_confidence":
                    value, limit = p.confidence, routing.thresholds.get(p.leaf or "")
                elif code == "leaf_below_target":
                    value, limit = p.confidence, routing.target_purity
                elif code == "possible_unknown" and routing.unknown is not None:
                    value, limit = p.unknown_score, routing.unknown.threshold
                elif code == "spot_check":
                    limit = routing.spot_check  # never the leaf's own share: it would tell which leaf the call is
            out.append(ReasonDetail(code, value, limit))
        return tuple(out)
