"""Hierarchical routing's figures on labelled images (issue #17): where the climbing rule stops, and how often
the node it stops at is right (``metrics.json``'s ``determined_*`` and ``hierarchical_*`` keys)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from models.taxonomy import Taxonomy

__all__ = ["hierarchical_selective"]


def hierarchical_selective(nodes: Sequence[str | None], levels: np.ndarray, targets: np.ndarray,
                           taxonomy: Taxonomy) -> dict[str, Any]:
    """The figures of hierarchical routing on known-label images (``metrics.json``'s keys of the same names).

    Args:
        nodes: each image's determined node (:meth:`models.routing.policy.Calibration.determined`), None: none.
        levels: its level (0 = group), -1 for none.
        targets: the true leaf indices.

    Returns:
        ``determined_level_share``: ``{"0": share, "1": ..., "none": share}`` (the deepest determined level);
        ``determined_at_least``: per level k, the share of images determined at level k or deeper (``[1]`` is
        "group and subgroup determined");
        ``hierarchical_coverage``: the share with any determined node; ``hierarchical_purity``: among those, the
        share whose determined node lies on the true path (NaN when none); ``hierarchical_purity_by_level``:
        the same per level (NaN where no image stops there).
    """
    levels = np.asarray(levels, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    n, depth = len(levels), len(taxonomy.level_sizes)
    if len(nodes) != n or len(targets) != n:
        raise ValueError(f"nodes, levels and targets differ in length ({len(nodes)}, {n}, {len(targets)})")
    right = np.array([node is not None and node in taxonomy.path(taxonomy.leaves[t])
                      for node, t in zip(nodes, targets, strict=True)], dtype=bool)
    determined = levels >= 0

    def share(mask: np.ndarray) -> float:
        return float(mask.mean()) if n else float("nan")

    def purity(mask: np.ndarray) -> float:
        return float(right[mask].mean()) if mask.any() else float("nan")

    return {
        "determined_level_share": {**{str(k): share(levels == k) for k in range(depth)}, "none": share(~determined)},
        "determined_at_least": [share(levels >= k) for k in range(depth)],
        "hierarchical_coverage": share(determined),
        "hierarchical_purity": purity(determined),
        "hierarchical_purity_by_level": [purity(levels == k) for k in range(depth)],
    }
