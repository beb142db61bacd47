"""The open batch as the main window shows it: items, the current image, states, counts. No Qt.

:class:`BatchPresenter` holds the list state of the judging window and answers every question the view
asks (what does row *i* show, which image is next to judge, how many are left); the window only turns its
plain answers (:class:`ListRow`, :class:`PanelData`) into widgets. Records come in from the store (batch
items, stored predictions, judgments) and are never converted again here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from app.services.batches import OpenedBatch, unpredicted
from app.store.records import BatchItem, JudgmentRecord, PredictionRecord
from models.taxonomy import Taxonomy

__all__ = ["OPEN_STATES", "BatchPresenter", "ListRow", "PanelData"]

OPEN_STATES = ("pending", "rejudge")
"""States that still need a person ("left" in the counts; where "next" goes)."""
COUNT_ORDER = ("pending", "rejudge", "auto", "accepted", "corrected", "unknown", "error")


@dataclass(frozen=True)
class ListRow:
    """One image as the batch list shows it.

    ``label`` is the judged or predicted leaf's name in the UI language, the reason an image cannot be
    read, or empty; ``confidence`` the prediction's, when the label is a prediction; ``has_note`` whether
    the image has a note.
    """

    image_id: int
    file_name: str
    path: str
    state: str = "pending"
    label: str = ""
    confidence: float | None = None
    has_note: bool = False


@dataclass(frozen=True)
class PanelData:
    """Everything the prediction panel shows for one image (``reasons`` are routing codes)."""

    file_name: str
    state: str
    leaf: str | None = None
    path: tuple[str, ...] = ()
    path_scores: tuple[float, ...] = ()
    top5: tuple[tuple[str, tuple[str, ...], float], ...] = ()
    error: str | None = None
    judged_leaf: str | None = None
    judged_by: str | None = None
    judged_at: str | None = None
    note: str | None = None
    reasons: tuple[str, ...] = ()
    model_version: str = ""


class BatchPresenter:
    """The list state of the open batch.

    Args:
        lang: the UI language of leaf names.
        unknown_text: how a judgment "unknown / new defect type" reads in the list (in the UI language).
    """

    def __init__(self, *, lang: str = "en", unknown_text: str = "unknown / new defect type") -> None:
        self.lang = lang
        self.unknown_text = unknown_text
        self.taxonomy: Taxonomy | None = None
        self.batch: OpenedBatch | None = None
        self.items: list[BatchItem] = []
        self.current = -1
        self.errors: dict[int, str] = {}  # image id -> why it cannot be shown or judged by the model
        self._pos: dict[int, int] = {}

    # -- content -----------------------------------------------------------------------------------
    def open(self, opened: OpenedBatch, *, wanted: int | None = None) -> int:
        """Show a newly opened batch; returns the row to select (``wanted`` image, else the first open one)."""
        self.batch = opened
        self.errors = dict(opened.unreadable)
        self.current = -1
        self.set_items(opened.items)
        first = next((i for i, it in enumerate(self.items) if it.state in OPEN_STATES), 0)
        return self._pos.get(wanted, first) if wanted is not None else first

    def set_items(self, items: Sequence[BatchItem]) -> None:
        self.items = list(items)
        self._pos = {it.image.image_id: i for i, it in enumerate(self.items)}

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
            if record.error:
                self.errors[image_id] = record.error
            self.items[i] = replace(self.items[i], prediction=record)
            rows.append(i)
        return rows

    def apply_judgment(self, record: JudgmentRecord) -> int | None:
        """A committed judgment; returns its row, or None when the image is not in the open batch."""
        i = self._pos.get(record.image_id)
        if i is not None:
            self.items[i] = replace(self.items[i], judgment=record)
        return i

    def image_failed(self, image_id: int, reason: str) -> None:
        """The image cannot be decoded for display (the first reason is kept)."""
        self.errors.setdefault(image_id, reason)

    # -- questions ---------------------------------------------------------------------------------
    def state(self, item: BatchItem) -> str:
        """The item's state, ``error`` when it cannot be read and is not judged yet."""
        if item.image.image_id in self.errors and not (item.judgment and item.judgment.is_decision):
            return "error"
        return item.state

    def next_open(self, after: int) -> int | None:
        """The next row (wrapping around) that still needs a person; None when every image is judged."""
        n = len(self.items)
        for step in range(1, n + 1):
            j = (after + step) % n
            if self.items[j].state in OPEN_STATES and self.state(self.items[j]) != "error":
                return j
        return None

    def counts(self) -> dict[str, int]:
        """Images per state, in :data:`COUNT_ORDER` (states with none left out)."""
        found = Counter(self.state(it) for it in self.items)
        return {key: found[key] for key in COUNT_ORDER if found.get(key)}

    def left(self) -> int:
        counts = self.counts()
        return sum(counts.get(s, 0) for s in OPEN_STATES)

    def todo(self, model_version: str) -> list[tuple[int, str]]:
        """``(image_id, path)`` of the readable images without a prediction of ``model_version``."""
        return unpredicted(self.items, model_version, self.errors)

    def name(self, node_id: str | None) -> str:
        """A node's name in the UI language (its id when the taxonomy does not know it)."""
        if not node_id:
            return ""
        if self.taxonomy is None or node_id not in self.taxonomy:
            return node_id
        return self.taxonomy.name(node_id, self.lang)

    def list_row(self, i: int) -> ListRow:
        item = self.items[i]
        label, conf = "", None
        if item.judgment is not None and item.judgment.is_decision:
            label = self.name(item.judgment.leaf) if item.judgment.leaf else self.unknown_text
        elif item.prediction is not None and item.prediction.leaf:
            label, conf = self.name(item.prediction.leaf), item.prediction.confidence
        elif item.image.image_id in self.errors:
            label = self.errors[item.image.image_id]
        return ListRow(item.image.image_id, Path(item.image.path).name, item.image.path, self.state(item), label,
                       conf, has_note=bool(item.judgment and item.judgment.note))

    def list_rows(self) -> list[ListRow]:
        return [self.list_row(i) for i in range(len(self.items))]

    def panel(self, i: int) -> PanelData:
        item = self.items[i]
        p, j = item.prediction, item.judgment
        decided = j is not None and j.is_decision
        return PanelData(
            file_name=Path(item.image.path).name,
            state=self.state(item),
            leaf=p.leaf if p else None,
            path=p.path if p else (),
            path_scores=p.path_scores if p else (),
            top5=p.top5 if p else (),
            error=self.errors.get(item.image.image_id) or (p.error if p else None),
            judged_leaf=j.leaf if decided else None,
            judged_by=j.analyst if decided else None,
            judged_at=j.created_at.astimezone().strftime("%Y-%m-%d %H:%M") if decided else None,
            note=j.note if j else None,
            reasons=p.reasons if p else (),
            model_version=p.model_version if p else "",
        )
