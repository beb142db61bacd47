"""Plain frozen records that leave the store (to services and the UI). Never ORM objects.

Lists and dicts inside records (``shown``) are owned by the record: read them, do not mutate them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.data.manifest import MODEL_CALL_STATUS, ManifestRow, unknown_label
from models.imageio import OTHER_PICTURE, PictureFile, is_reach_reason

if TYPE_CHECKING:
    import numpy as np

    from models.inference.records import Prediction
    from models.taxonomy import Taxonomy

JUDGED_STATUSES: frozenset[str] = frozenset({"accepted", "corrected", "unknown"})
"""Judgment statuses that count as a decision (everything but ``reverted``); the store's schema uses them."""

AUTO_STATUS = MODEL_CALL_STATUS  # "auto"
"""A prediction's route when the model judged the image alone, and an export row's status for such an image (the
value training skips: :data:`models.data.manifest.MODEL_CALL_STATUS`)."""

ITEM_STATES: tuple[str, ...] = ("pending", "auto", "accepted", "corrected", "unknown", "rejudge", "error")
"""The states of a batch item, see :attr:`BatchItem.state`."""

UNKNOWN_LABEL = unknown_label("unlabelled")
"""Manifest label of an image an analyst marked "unknown / new defect type" (training uses it only as outlier
exposure, when ``loss.outlier_weight`` > 0)."""

EMBEDDING_DTYPE = "<f4"
"""Embeddings are stored as little-endian float32 bytes (numpy is imported by the functions that need it: the
app's window shows before numpy is imported)."""

RankedLeafTuple = tuple[str, tuple[str, ...], float]
"""One Top-k entry: (leaf id, path from the top-level group to the leaf, score)."""


def encode_embedding(vector: Any) -> bytes:
    """A 1-D vector (numpy array, list) as little-endian float32 bytes."""
    import numpy as np

    return np.asarray(vector, dtype=EMBEDDING_DTYPE).reshape(-1).tobytes()


def decode_embedding(data: bytes) -> np.ndarray:
    """The float32 vector stored by :func:`encode_embedding` (a read-only view)."""
    import numpy as np

    return np.frombuffer(data, dtype=EMBEDDING_DTYPE)


@dataclass(frozen=True)
class FileSeen:
    """A file to put in a batch (:func:`app.store.repo.add_files_to_batch`): either an image already known at
    this path with this size and modification time (``image_id``), or one just hashed (``sha256``, and its header
    size; None when the header cannot be read)."""

    path: str
    file_size: int
    mtime_ns: int
    image_id: int | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        if (self.image_id is None) == (self.sha256 is None):
            raise ValueError(f"{self.path}: a file seen needs exactly one of image_id and sha256")


@dataclass(frozen=True)
class ImageRecord:
    """An image as seen at one path (``position`` is its place in a batch, when it comes from one)."""

    image_id: int
    sha256: str
    path: str
    width: int | None
    height: int | None
    position: int | None = None


@dataclass(frozen=True)
class ModelVersionRecord:
    """A registered model version (its manifest stays in the store; see ``repo.model_manifest``)."""

    id: int
    version: str
    name: str
    bundle_path: str | None
    created_at: dt.datetime | None
    registered_at: dt.datetime


@dataclass(frozen=True)
class PredictionRecord:
    """A model's answer for one image, as stored.

    Attributes:
        leaf: predicted leaf id; None when ``error`` is set.
        confidence: the leaf's score; None when ``error`` is set.
        path: node ids from the top-level group down to ``leaf``.
        top5: (leaf, path, score) of the five best leaves.
        level_probs: per tree level, the probability of every node of that level.
        route: routing decision ("auto", "rejudge" ...), when routing ran.
        reasons: why it was routed so (stable codes, e.g. "low_confidence").
        unknown_score: novelty score, when the model has one.
        error: why the image could not be judged.
        model_version: the version string of the model bundle.
        embedding: pooled features as little-endian float32 bytes (see :func:`decode_embedding`).
        path_scores: confidence of each node on ``path``.
        determined, determined_level: the deepest node of ``path`` whose confidence meets the calibration's
            threshold for it, and its level (0 = group); None when nothing is (or the bundle is uncalibrated).
        calibration: the stamp of the calibration the route was made under (``Calibration.stamp``; None:
            uncalibrated, or stored before the store kept it).
        leaf_probs: the whole leaf distribution, in the taxonomy's leaf order (empty when stored before the
            store kept it).
        spectra: the FTIR spectra the model fused into the prediction (0: the image alone).
        labels: a multi-label bundle's predicted set, ``leaf`` first (empty: the leaf alone).
        id, image_id, created_at: set on records read from the store.
    """

    leaf: str | None
    confidence: float | None
    path: tuple[str, ...] = ()
    top5: tuple[RankedLeafTuple, ...] = ()
    level_probs: tuple[tuple[float, ...], ...] = ()
    route: str | None = None
    reasons: tuple[str, ...] = ()
    unknown_score: float | None = None
    error: str | None = None
    model_version: str = ""
    embedding: bytes | None = None
    path_scores: tuple[float, ...] = ()
    determined: str | None = None
    determined_level: int | None = None
    calibration: str | None = None
    leaf_probs: tuple[float, ...] = ()
    spectra: int = 0
    labels: tuple[str, ...] = ()
    id: int | None = None
    image_id: int | None = None
    created_at: dt.datetime | None = None

    @classmethod
    def from_prediction(cls, prediction: Prediction, calibration: str | None = None) -> PredictionRecord:
        """The store's form of a model's :class:`models.inference.records.Prediction` (the one conversion on
        the path from the model to the database; embeddings become float32 bytes). ``calibration``: the stamp
        of the calibration that routed it (``Calibration.stamp`` of the predictor's bundle)."""
        error = prediction.error
        return cls(
            leaf=None if error else prediction.leaf,
            confidence=None if error else float(prediction.confidence),
            path=tuple(prediction.path),
            top5=tuple((r.leaf, tuple(r.path), float(r.score)) for r in prediction.top5),
            level_probs=tuple(tuple(float(p) for p in level) for level in prediction.level_probs),
            route=prediction.route,
            reasons=tuple(prediction.reasons),
            unknown_score=None if prediction.unknown_score is None else float(prediction.unknown_score),
            error=error,
            model_version=prediction.model_version,
            embedding=None if prediction.embedding is None else encode_embedding(prediction.embedding),
            path_scores=tuple(float(s) for s in prediction.path_scores),
            determined=None if error else prediction.determined_node,
            determined_level=None if error else prediction.determined_level,
            calibration=calibration,
            leaf_probs=() if error or prediction.leaf_probs is None else tuple(float(v) for v in prediction.leaf_probs),
            spectra=0 if error else int(prediction.spectra),
            labels=() if error or len(prediction.labels) < 2 else tuple(prediction.labels),
        )

    @property
    def predicted_set(self) -> tuple[str, ...]:
        """Every leaf predicted, ``leaf`` first (``leaf`` alone for a single-label prediction; empty on an error)."""
        return self.labels or ((self.leaf,) if self.leaf else ())

    def embedding_vector(self) -> np.ndarray | None:
        """The embedding as a float32 vector, or None."""
        return None if self.embedding is None else decode_embedding(self.embedding)

    @property
    def blind(self) -> bool:
        """Judged without the model's call on screen: a spot check, or an image of a leaf whose auto-judging the
        purity monitor paused (its decision measures the auto-judgments, so it must not lean on them)."""
        return is_blind(self.reasons)

    def shown(self) -> dict[str, Any]:
        """The prediction as an analyst sees it: what ``judgments.shown`` records."""
        return {
            "leaf": self.leaf,
            "path": list(self.path),
            "confidence": self.confidence,
            "top5": [{"leaf": leaf, "score": score} for leaf, _path, score in self.top5],
            "route": self.route,
            "reasons": list(self.reasons),
            "model_version": self.model_version,
            **({"labels": list(self.labels)} if len(self.labels) > 1 else {}),
        }


@dataclass(frozen=True)
class JudgmentRecord:
    """One row of an image's judgment history.

    ``leaf`` is None for "unknown / new defect type" and for ``reverted`` (back to pending).
    ``shown`` is the prediction exactly as the analyst saw it (None when none was shown).
    ``extra_leaves``: the image's other defects' leaves, when it shows more than one (issue #20).
    """

    id: int
    image_id: int
    leaf: str | None
    status: str
    action: str
    analyst: str
    created_at: dt.datetime
    note: str | None = None
    model_version: str | None = None
    shown: dict[str, Any] | None = None
    batch_id: int | None = None
    prediction_id: int | None = None
    reverts_judgment_id: int | None = None
    extra_leaves: tuple[str, ...] = ()
    decided_by: str | None = None
    decided_at: dt.datetime | None = None

    @property
    def decider(self) -> str:
        """Who made the decision this row carries: its writer, unless it only carries one (a note on a colleague's
        decision, an undo that restores it)."""
        return self.decided_by or self.analyst

    @property
    def decided_when(self) -> dt.datetime:
        """When the decision this row carries was made (:attr:`decider`)."""
        return self.decided_at or self.created_at

    @property
    def labels(self) -> tuple[str, ...]:
        """Every leaf judged: ``leaf`` first, then :attr:`extra_leaves` (none for unknown or pending)."""
        return (self.leaf, *self.extra_leaves) if self.leaf else ()

    @property
    def is_decision(self) -> bool:
        """True unless this row put the image back to pending."""
        return self.status in JUDGED_STATUSES


@dataclass(frozen=True)
class BatchItem:
    """One image of a batch with its latest prediction and current judgment."""

    image: ImageRecord
    prediction: PredictionRecord | None
    judgment: JudgmentRecord | None
    seen_here: bool = False  # a row of its history was written in this batch, when it was read

    @property
    def state(self) -> str:
        """``accepted``/``corrected``/``unknown`` once judged (and not undone); otherwise ``error`` when the
        model could not read the image, ``rejudge`` when routing asked for a person, ``auto`` when routing
        auto-judged it (a person may still confirm or override it), else ``pending`` (not predicted yet, or
        an uncalibrated model)."""
        if self.judgment is not None and self.judgment.is_decision:
            return self.judgment.status
        if self.prediction is None:
            return "pending"
        if self.prediction.error:
            return "error"
        if self.prediction.route == "rejudge":
            return "rejudge"
        if self.prediction.route == "auto":
            return "auto"
        return "pending"

    @property
    def heatmap_leaf(self) -> str | None:
        """The leaf its heatmap explains: a prediction that fused a spectrum's leaf (it may not be the image model's
        Top-1, and a spectrum may come after the first heatmap), else None (the image model's Top-1)."""
        return self.prediction.leaf if self.prediction is not None and self.prediction.spectra else None


FILES_BATCH_NOTE = "opened from chosen files"
"""The notes of a batch made from chosen (or dropped) files, not from a folder: it is resumed as stored."""


@dataclass(frozen=True)
class BatchSummary:
    """A batch and how far it is judged."""

    id: int
    name: str
    source_folder: str
    recursive: bool
    created_at: dt.datetime
    notes: str | None
    total: int = 0
    accepted: int = 0
    corrected: int = 0
    unknown: int = 0
    updated_at: dt.datetime | None = None  # its latest judgment (set by ``recent_batches``), else None
    kind: str = "folder"  # or "files": made from chosen files (resumed as stored, never by its folder)
    auto: int = 0  # undecided images the model judged alone (set by ``recent_batches``; they are not "left")
    unreadable: int = 0  # undecided images whose file could not be read (set by ``recent_batches``; not "left")

    @property
    def judged(self) -> int:
        return self.accepted + self.corrected + self.unknown

    @property
    def pending(self) -> int:
        return self.total - self.judged

    @property
    def left(self) -> int:
        """Images still waiting for a person: neither decided nor auto-judged (see :attr:`auto`), nor unreadable
        (the judging window counts those apart too)."""
        return self.pending - self.auto - self.unreadable


MONITOR_REASONS: tuple[str, ...] = ("purity_paused", "batch_drift", "held_back")
"""Routing reasons the purity monitor gives (:mod:`app.services.monitor`), after the model's own
(:data:`models.routing.policy.REASONS`): a paused leaf's would-be-auto image, an image of a batch unlike the
calibration data, and an image held back by a pause that a recalibration ended (it stays with a person)."""
SPECTRUM_ADDED = "spectrum added"
"""The calibration stamp a prediction gets when a spectrum is attached to its image afterwards (issue #20): no
calibration has it, so :func:`unpredicted` takes the prediction as stale and the image is predicted again, with its
spectrum by a model with a spectrum head (an image-only model predicts it once more, the same; a decided image is
not predicted again, whatever its stamp)."""


BLIND_REASONS: frozenset[str] = frozenset({"spot_check", "purity_paused"})
"""Reasons of images judged blind: would-be-auto images, whose decisions measure the auto-judgments' purity."""


def is_blind(reasons: Collection[str]) -> bool:
    """True when an image with these routing reasons is judged without the model's call on screen."""
    return any(r in BLIND_REASONS for r in reasons)


@dataclass(frozen=True)
class PauseRecord:
    """A pause of auto-judging by the purity monitor (``routing_pauses``).

    Attributes:
        scope: ``leaf`` (``target`` is a leaf id) or ``batch`` (``target`` is a batch id, as text).
        reason: the routing reason it gives the images it holds back (``purity_paused``, ``batch_drift``).
        calibration: the calibration it was measured against (the manifest's ``routing.created``).
        detail: the evidence (spot checks and wrong ones, the bound; or the batch's flagged share).
        ended_at, end_reason: when and why it ended (``purity_recovered``, ``checks_undone``, ``recalibrated``,
            ``resumed``);
            None while it is in force.
    """

    id: int
    model_version: str
    calibration: str
    scope: str
    target: str
    reason: str
    detail: dict[str, Any]
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    end_reason: str | None = None


@dataclass(frozen=True)
class SpotCheck:
    """The outcome of one blind check of an auto-judgment: the model's leaf against the analyst's decision.

    ``judged_leaf`` is None for an image judged unknown (a new defect type): the model's call was wrong.
    """

    image_id: int
    reason: str
    predicted_leaf: str
    judged_leaf: str | None
    status: str
    judged_at: dt.datetime
    batch_id: int | None = None
    fused: bool = False  # the prediction was fused with FTIR spectra: routed, and promised, by the fused calibration

    @property
    def correct(self) -> bool:
        return self.status != "unknown" and self.judged_leaf == self.predicted_leaf


EXPORT_COLUMNS: tuple[str, ...] = (
    "path", "label", "sha256", "leaf_path", "status", "analyst", "judged_at", "model_version", "predicted_leaf",
    "confidence", "batch", "note",
)  # fmt: skip
"""CSV columns of a label export; ``path,label`` first so the file is a training manifest (training reads
``path,label``, skips a row whose ``status`` says no person decided it, checks ``sha256`` against the file, and
ignores the other columns). ``confidence`` is the model's for its call as the analyst saw it
(empty where none was shown: a blind check, no prediction); ``batch`` the batch's name (the one exported, else the
one the image was judged in, else the newest that lists it); ``note`` is the image's note, empty when it has none."""


@dataclass(frozen=True)
class ExportRow:
    """One exported label: an image's current judgment.

    ``label`` is the leaf id, or :data:`UNKNOWN_LABEL` for images marked unknown; ``leaf_path`` is
    ``group/subgroup/leaf`` (empty for unknown, or when no taxonomy is known); ``note`` the image's note;
    ``spectra`` the paths of the FTIR spectra attached to the image (issue #20). An image judged to show more than
    one defect has them all in ``labels`` (``leaf`` first), and ``label`` and ``leaf_path`` list them separated by
    ``;`` (a training manifest's multi-label form).
    """

    path: str
    sha256: str
    label: str
    leaf: str | None
    leaf_path: str
    status: str
    analyst: str
    judged_at: dt.datetime
    model_version: str | None
    predicted_leaf: str | None
    history_count: int | None = None
    note: str | None = None
    batch: str = ""
    confidence: float | None = None
    spectra: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    def manifest_row(self) -> ManifestRow:
        """The CSV export line: ``path`` and ``label``, and the other :data:`EXPORT_COLUMNS` as cells."""
        cells = {
            "sha256": self.sha256,
            "leaf_path": self.leaf_path,
            "status": self.status,
            "analyst": self.analyst,
            "judged_at": self.judged_at.isoformat(timespec="seconds"),
            "model_version": self.model_version or "",
            "predicted_leaf": self.predicted_leaf or "",
            "confidence": "" if self.confidence is None else f"{self.confidence:.4f}",
            "batch": self.batch,
            "note": self.note or "",
            "spectrum": ";".join(self.spectra),
        }
        return ManifestRow(self.path, self.label, cells)

    def to_json(self) -> dict[str, Any]:
        """The JSON export object: the CSV fields (``note`` null when none) plus ``leaf`` and ``history_count``."""
        return {
            "path": self.path,
            "label": self.label,
            "sha256": self.sha256,
            "leaf": self.leaf,
            "leaf_path": self.leaf_path,
            "status": self.status,
            "analyst": self.analyst,
            "judged_at": self.judged_at.isoformat(timespec="seconds"),
            "model_version": self.model_version,
            "predicted_leaf": self.predicted_leaf,
            "confidence": self.confidence,
            "batch": self.batch or None,
            "note": self.note,
            "history_count": self.history_count,
            "spectra": list(self.spectra),
            "labels": list(self.labels),
        }


@dataclass(frozen=True)
class OpenedBatch:
    """A batch as opened: its items in order, and what could not be read at all."""

    batch_id: int
    name: str
    source: str
    items: list[BatchItem]
    unreadable: dict[int, str] = field(default_factory=dict)  # image id -> why its header cannot be read
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why): not in the batch at all
    taxonomy: Taxonomy | None = None  # of the newest model that predicted the items (names before a model loads)
    recursive: bool = False  # opened with its sub-folders (a folder's batch, once recursive, stays so)
    below: int = 0  # image files in sub-folders left out of a plain opening (counted up to 10,000)
    continues: bool = False  # the items follow those of the parts handed over before (a large new folder)


FILE_REPLACED = OTHER_PICTURE
"""Why an image of a batch cannot be shown any more: the file it was read from was written over with another picture
(which is another image, listed at the batch's end). Showing the file would show that picture under this image's
judgments. The model refuses it too (a :class:`~models.imageio.PictureFile` of :func:`unpredicted`), when the file
was written over after it was hashed."""


CONFIRM = "confirm"
"""The action of a row by which an analyst agrees with a colleague's decision: it carries that decision on (still
theirs: ``decided_by``), and the agreement between analysts (Cohen's kappa) counts it as the writer's own."""


def same_decision(judged: Collection[str], unknown: bool, writes: Collection[str]) -> bool:
    """Whether a decision writing the types ``writes`` (none: "unknown / new defect type") says what an image's
    decision says (its types ``judged``, or ``unknown``): judging a colleague's image so writes nothing, in the
    judging window and in the queue alike."""
    return unknown if not writes else (not unknown and set(judged) == set(writes))


def reach_error(p: PredictionRecord | None) -> bool:
    """Whether a prediction is the model's failure to reach the file (not found, permission denied: a share away):
    no mark on the image, which waits for its file and is predicted again once it is read."""
    return p is not None and bool(p.error) and is_reach_reason(p.error)


def unpredicted(items: Sequence[BatchItem], model_version: str | None, skip: Collection[int] = (),
                calibration: str | None = None) -> list[tuple[int, str]]:
    """``(image_id, path)`` of the items to predict with ``model_version``: those without a prediction of it, and
    those nobody has decided yet whose prediction was routed under another calibration than ``calibration`` (the
    loaded bundle's ``Calibration.stamp``; None: uncalibrated): after a recalibration their route, determined node
    and confidences are the old calibration's. Images the purity monitor sent to a person (a reason of
    :data:`MONITOR_REASONS`) stay with a person: a recalibration ends their pause and holds them back. The ids in
    ``skip`` (images that cannot be read) are left out. A prediction made before a spectrum was attached to its
    image has the stamp :data:`SPECTRUM_ADDED`, so it is predicted again too, and so is the error of a file the
    model did not reach (a share away: :func:`~models.imageio.is_reach_reason`), which the next read may find, or
    whose file held another picture (:data:`FILE_REPLACED`), which may be put back. Each path is a
    :class:`~models.imageio.PictureFile`: the model decodes only the picture the store knows under the image id (a
    file written over since gave the new picture's prediction to the old image, and to every image of its content)."""
    def stale(it: BatchItem) -> bool:
        p = it.prediction
        if p is None or p.model_version != model_version or reach_error(p) or p.error == FILE_REPLACED:
            return True
        decided = it.judgment is not None and it.judgment.is_decision
        held = any(r in MONITOR_REASONS for r in p.reasons)
        return not decided and not held and p.calibration != calibration and not p.error

    return [(it.image.image_id, picture_file(it.image)) for it in items if stale(it) and it.image.image_id not in skip]


def picture_file(image: ImageRecord) -> PictureFile:
    """The image's path as the model must read it: holding the picture the store hashed (:data:`FILE_REPLACED`)."""
    return PictureFile(image.path, image.sha256)


@dataclass(frozen=True, eq=False)
class SpectrumRecord:
    """An FTIR spectrum attached to an image (issue #20), as the app shows it.

    ``wavenumbers`` (cm⁻¹, ascending) and ``absorbance`` are float64 arrays of the same length; ``kind`` is what the
    file held (``absorbance``, ``transmittance``: converted, ``arbitrary``: kept as given); ``path`` is where the file
    lay when it was attached to the image.
    """

    spectrum_id: int
    sha256: str
    name: str
    path: str
    kind: str
    title: str
    wavenumbers: np.ndarray
    absorbance: np.ndarray


@dataclass(frozen=True, eq=False)
class ReferenceRecord:
    """A spectrum of a known defect type, to search a new spectrum against: from the reference library
    (``image_id`` None, ``source`` the file it was imported from) or of a judged image (``source`` its path). Its
    curve is read apart (:func:`app.store.repo.spectrum_arrays`), once per spectrum."""

    spectrum_id: int
    leaf: str
    name: str
    source: str
    image_id: int | None


@dataclass(frozen=True)
class TeamModelRecord:
    """The team's model in force (``fma-judge deploy``): the bundle every window started without ``--model``
    loads, its version when deployed, and who deployed it when."""

    bundle_path: str
    model_version: str | None
    set_by: str
    set_at: dt.datetime

    def reachable(self) -> bool:
        """Whether this computer reaches the bundle (a share not connected, a path of another site's: no); what
        ``classify`` without ``--model`` and a window's start both ask before taking it."""
        return Path(self.bundle_path).is_dir()

    def routing_stamp(self) -> str | None:
        """The deployed bundle's routing as its manifest says now (``BundleManifest.routing_stamp``): a
        recalibration, in place or into a copy deployed after, changes it and not the version; None when the
        manifest cannot be read or routes nothing."""
        from models.bundle.files import read_bundle_manifest
        from models.bundle.manifest import BundleError

        try:
            return read_bundle_manifest(self.bundle_path).routing_stamp
        except (BundleError, OSError, ValueError):
            return None
