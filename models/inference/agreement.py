"""The equality guard of the inference paths: when a path counts as keeping the predictions of ``eager``.

:func:`agreement` compares two leaf distributions of the same images (:class:`Scores`, with the unknown scores of a
bundle that has an unknown detector): the share of images with the same Top-1 leaf, the largest change of the
confidence and, for a calibrated bundle (``decide``: its routing, :func:`models.routing.policy.routing_decisions`),
the share of images routed the same (auto or re-judge, with the unknown score's threshold, the determined node and
the re-judge reasons);
a multi-label bundle's images are compared by their predicted sets and set routing (:attr:`Scores.decisions`).
:class:`Criteria` says what passes: Top-1 agreement, then the routing agreement of a calibrated
bundle (a confidence change matters only where it crosses a threshold, issue #21) or else the confidence change.

No torch.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Agreement", "Criteria", "Decide", "Scores", "agreement"]


@dataclass(frozen=True)
class Scores:
    """What a path gave for some images, as the guard compares it.

    Attributes:
        leaf_probs: (N, num_leaves) leaf distribution (temperature-scaled).
        unknown: (N,) unknown scores of the bundle's detector, None without one.
        decisions: per image, what the bundle decided when it is decided otherwise than by ``decide`` on the leaf
            distribution (a multi-label bundle: the predicted set and its set routing); None otherwise.
    """

    leaf_probs: np.ndarray
    unknown: np.ndarray | None = None
    decisions: tuple[Hashable, ...] | None = None

    @staticmethod
    def of(value: np.ndarray | Scores) -> Scores:
        """``value`` as Scores (a bare leaf-probability array has no unknown scores)."""
        return value if isinstance(value, Scores) else Scores(np.asarray(value))

    def __len__(self) -> int:
        return len(self.leaf_probs)

    def head(self, n: int) -> Scores:
        """The first ``n`` images."""
        return Scores(self.leaf_probs[:n], None if self.unknown is None else self.unknown[:n],
                      None if self.decisions is None else self.decisions[:n])

    @staticmethod
    def concat(parts: Sequence[Scores]) -> Scores:
        """The parts' images in order (the unknown scores and decisions only when every part has them)."""
        unknown = [p.unknown for p in parts]
        decisions = [p.decisions for p in parts]
        return Scores(np.concatenate([p.leaf_probs for p in parts]),
                      None if any(u is None for u in unknown) else np.concatenate(unknown),  # type: ignore[arg-type]
                      None if any(d is None for d in decisions) else tuple(x for d in decisions for x in d))


@dataclass(frozen=True)
class Criteria:
    """When a path counts as keeping the predictions of ``eager``.

    Attributes:
        min_top1_agreement: share of images whose Top-1 leaf must be the same.
        max_prob_diff: largest allowed change of the confidence (maximum leaf probability) of any image; it applies
            to an uncalibrated bundle only.
        min_routing_agreement: for a calibrated bundle, the share of images whose routing must be the same
            (auto or re-judge, and the determined node) in place of ``max_prob_diff``: a confidence change matters
            only where it crosses a threshold (issue #21).
    """

    min_top1_agreement: float = 0.995
    max_prob_diff: float = 0.01
    min_routing_agreement: float = 0.995

    def to_dict(self) -> dict[str, float]:
        return {"min_top1_agreement": self.min_top1_agreement, "max_prob_diff": self.max_prob_diff,
                "min_routing_agreement": self.min_routing_agreement}


@dataclass(frozen=True)
class Agreement:
    """How closely a path's leaf distributions match the reference's on the same images.

    Attributes:
        n: number of images compared.
        top1: share of images with the same arg-max leaf.
        max_prob_diff: max over images of |confidence(candidate) - confidence(reference)|.
        max_abs_diff: max over images and leaves of the absolute probability difference.
        routing: share of images routed the same (:data:`Decide`), None without a calibration.
    """

    n: int
    top1: float
    max_prob_diff: float
    max_abs_diff: float
    routing: float | None = None

    def passes(self, criteria: Criteria) -> bool:
        """True when the criteria hold (and at least one image was compared)."""
        return self.why_not(criteria) is None

    def why_not(self, criteria: Criteria) -> str | None:
        """The failed criterion in words, or None when :meth:`passes`: Top-1 agreement, then the routing agreement
        of a calibrated bundle or else the confidence change."""
        if self.n == 0:
            return "no images compared"
        if self.top1 < criteria.min_top1_agreement:
            return f"Top-1 agreement {self.top1:.2%} < {criteria.min_top1_agreement:.2%}"
        if self.routing is not None:
            if self.routing < criteria.min_routing_agreement:
                return f"routing agreement {self.routing:.2%} < {criteria.min_routing_agreement:.2%}"
            return None
        if self.max_prob_diff > criteria.max_prob_diff:
            return f"confidence moves by {self.max_prob_diff:.4f} > {criteria.max_prob_diff}"
        return None

    def to_dict(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {"n": self.n, "top1_agreement": round(self.top1, 6),
                                       "max_prob_diff": round(self.max_prob_diff, 6),
                                       "max_abs_diff": round(self.max_abs_diff, 6)}
        if self.routing is not None:
            out["routing_agreement"] = round(self.routing, 6)
        return out


Decide = Callable[[np.ndarray, np.ndarray | None], Sequence[Hashable]]
"""A calibrated bundle's routing of a (N, num_leaves) leaf distribution and the images' (N,) unknown scores (None:
not compared): one comparable decision per row (:func:`models.routing.policy.routing_decisions`)."""


def agreement(reference: np.ndarray | Scores, candidate: np.ndarray | Scores, decide: Decide | None = None) -> Agreement:
    """Compare two (N, num_leaves) leaf-probability arrays computed from the same N images (with ``decide``, also
    how many images the bundle's calibration routes the same; with the unknown scores of both sides when both have
    them).

    Raises:
        ValueError: the shapes differ or are not 2-D, or the arrays hold NaN/inf.
    """
    ref_scores, cand_scores = Scores.of(reference), Scores.of(candidate)
    ref = np.asarray(ref_scores.leaf_probs, dtype=np.float64)
    cand = np.asarray(cand_scores.leaf_probs, dtype=np.float64)
    if ref.ndim != 2 or ref.shape != cand.shape:
        raise ValueError(f"leaf probabilities must be two (N, leaves) arrays of one shape, got {ref.shape} and {cand.shape}")
    if not (np.isfinite(ref).all() and np.isfinite(cand).all()):
        raise ValueError("leaf probabilities hold NaN or infinite values")
    n = int(ref.shape[0])
    if n == 0:
        return Agreement(0, 0.0, 0.0, 0.0)
    same = np.argmax(ref, axis=1) == np.argmax(cand, axis=1)
    conf_diff = np.abs(ref.max(axis=1) - cand.max(axis=1))
    routing = None
    if ref_scores.decisions is not None and cand_scores.decisions is not None:  # decided otherwise (multi-label)
        routing = float(np.mean([a == b for a, b in zip(ref_scores.decisions, cand_scores.decisions, strict=True)]))
    elif decide is not None:
        both = ref_scores.unknown is not None and cand_scores.unknown is not None
        routing = float(np.mean([a == b for a, b in zip(decide(ref, ref_scores.unknown if both else None),
                                                        decide(cand, cand_scores.unknown if both else None),
                                                        strict=True)]))
    return Agreement(n=n, top1=float(same.mean()), max_prob_diff=float(conf_diff.max()),
                     max_abs_diff=float(np.abs(ref - cand).max()), routing=routing)
