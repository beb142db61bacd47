"""The plain records the batch presenter gives the main window (:mod:`app.services.batch_presenter`): a list row,
the prediction panel's content, a routing reason with its numbers, the list's filter and the images to work on
ahead. No Qt; the widgets only turn them into pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.store.records import BatchItem

__all__ = ["BLIND_CHECK", "LIST_SORTS", "PATH_SEPARATOR", "Focus", "ListFilter", "ListRow", "PanelData", "ReasonDetail", "TopEntry", "judged_elsewhere"]

LIST_SORTS = ("order", "confidence", "type")
"""How the batch list can be ordered: the batch's own order, the model's confidence (least sure first), or the type
(by its name in the UI language)."""


@dataclass(frozen=True)
class ListFilter:
    """What the batch list shows, and so where "next" and "previous" go.

    Attributes:
        states: the states listed (:data:`app.services.batch_presenter.COUNT_ORDER` values); None: every state.
        node: a tree node; only images whose type is that node or below it are listed (the decision's leaf, else
            the predicted leaf; a blind check's hidden call never counts). None: every type.
        sort: one of :data:`LIST_SORTS`.
    """

    states: frozenset[str] | None = None
    node: str | None = None
    sort: str = "order"

    def __post_init__(self) -> None:
        if self.sort not in LIST_SORTS:
            raise ValueError(f"unknown list sort {self.sort!r}; use one of {', '.join(LIST_SORTS)}")

    @property
    def active(self) -> bool:
        return self.states is not None or self.node is not None or self.sort != "order"


@dataclass(frozen=True)
class Focus:
    """What the model should make next for the analyst: ``images`` (``(image_id, path)``, the one on screen
    first, then judging order), the ids among them to predict, and those to make a heatmap of; ``leaves``: the leaf
    a heatmap explains where the prediction fused a spectrum (its leaf may not be the image model's Top-1)."""

    images: tuple[tuple[int, str], ...] = ()
    predict: frozenset[int] = frozenset()
    heatmap: frozenset[int] = frozenset()
    leaves: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ListRow:
    """One image as the batch list shows it.

    ``label`` is the judged or predicted leaf's name in the UI language, the reason an image cannot be
    read, or empty; ``confidence`` the prediction's, when the label is a prediction; ``has_note`` whether
    the image has a note; ``has_draft`` whether a note typed for it was not saved (N brings it back);
    ``held_by`` the colleague who is on it now (a team on one database), or empty; ``file_problem`` why its file
    cannot be read now (deleted, written over with another picture) when the label is its judgment or prediction (a
    judged image's file gone kept its "accepted" badge alone), or empty.
    """

    image_id: int
    file_name: str
    path: str
    state: str = "pending"
    label: str = ""
    confidence: float | None = None
    has_note: bool = False
    has_draft: bool = False
    held_by: str = ""
    file_problem: str = ""


BLIND_CHECK = "blind_check"
"""The one reason a blind image's panel gives (a random spot check, or an image of a paused type, alike)."""


@dataclass(frozen=True)
class ReasonDetail:
    """One routing reason with the numbers behind it, where the model's calibration is at hand.

    Attributes:
        code: a code of :data:`models.routing.policy.REASONS`, or :data:`BLIND_CHECK`.
        value: the image's number (its confidence, or its unknown-defect score), when known.
        limit: the threshold it missed (the leaf's auto threshold, the unknown threshold), or for
            ``leaf_below_target`` the target purity the leaf did not reach, or for ``spot_check`` the share
            of auto-judged images sent to a person.
    """

    code: str
    value: float | None = None
    limit: float | None = None


PATH_SEPARATOR = " › "
"""Between node names in a shown path (a Top-k row's parents); the panel cuts such a path by whole names."""


@dataclass(frozen=True)
class TopEntry:
    """One Top-k row of the panel: the leaf, its name, its parents' names (UI language, joined by
    :data:`PATH_SEPARATOR`) and its score. Under a scope (a determined group or subgroup) ``parents`` leaves out the
    scope and its ancestors, which the panel's header names: empty when the scope is the leaf's subgroup."""

    leaf: str
    name: str
    parents: str
    score: float


@dataclass(frozen=True)
class PanelData:
    """Everything the prediction panel shows for one image, names already in the UI language.

    ``waiting`` says why an image without a prediction has none yet: ``no_model``, ``no_types`` (no model, and no
    stored prediction of the batch names the types: nothing to pick from), ``loading`` (the model is
    loading) or ``predicting`` (it is in the queue of the prediction run); None otherwise.

    ``blind``: a spot check (or an image of a paused leaf) not judged yet: the model's call is withheld (no tree
    path, Top-5 or heatmap), the analyst picks the type.

    ``determined``: for an image sent to a person, the index in ``path`` of the deepest node the model still
    judges at the target purity (a group or subgroup: "Particle, determined: pick the type"); None when the leaf
    itself is judged, nothing is, or the calibration has no group/subgroup thresholds.

    ``top_scope``: the name of that determined node when ``top5`` holds only its leaves (the best five under it,
    keys 1–5 choose among them); ``top_widened``: its name when the analyst widened the list back to the whole
    tree (key A toggles between the two); both None for an image with no determined group or subgroup.

    ``spectra``: the FTIR spectra the model fused into the shown prediction (0: the image alone).

    ``predicted_set``: the names of a multi-label model's predicted leaves when it found more than one defect
    (empty otherwise).
    """

    file_name: str
    state: str
    leaf: str | None = None
    path: tuple[str, ...] = ()
    path_names: tuple[str, ...] = ()
    path_scores: tuple[float, ...] = ()
    top5: tuple[TopEntry, ...] = ()
    error: str | None = None
    judged_leaf: str | None = None
    judged_name: str = ""
    judged_by: str | None = None
    judged_at: str | None = None
    judged_elsewhere: bool = False
    """The decision was made in another batch holding the same picture (:func:`judged_elsewhere`)."""
    note: str | None = None
    reasons: tuple[ReasonDetail, ...] = ()
    model_version: str = ""
    waiting: str | None = None
    determined: int | None = None
    blind: bool = False
    top_scope: str | None = None
    top_widened: str | None = None
    spectra: int = 0
    predicted_set: tuple[str, ...] = ()


def judged_elsewhere(item: BatchItem, batch_id: int | None) -> bool:
    """Whether the image's decision was made in another batch than ``batch_id`` only: the same picture in an earlier
    lot (images are one by their bytes), its judgment carried over, and no row of its history written in this batch
    (:attr:`BatchItem.seen_here`: a note here, or the decision made here before a note elsewhere). A new lot showed
    such images accepted, unsaid, and the analyst could take them for their own or the model's (bug hunt)."""
    j = item.judgment
    return (j is not None and j.is_decision and j.batch_id is not None and batch_id is not None
            and j.batch_id != batch_id and not item.seen_here)
