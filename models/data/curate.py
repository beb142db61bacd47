"""Curation: filter a data set by rules, report the funnel, and split it into train/val/test.

``fma-model curate DATA... --out MANIFEST [rules...]`` loads manifests and image folders, applies the
rules in this order and prints one funnel row per rule (classes and images left after it):

1. unknown-labelled images are dropped unless ``--keep-unknown``;
2. ``--magnification 20`` keeps images at that magnification (from the manifest column, else parsed from
   the file name with ``--mag-pattern``); images whose magnification is unknown are counted and dropped;
3. ``--min-size`` / ``--max-size`` keep images whose ``defect_size_px`` is in range; images without a
   size are counted and kept;
4. ``--min-per-class 80`` excludes leaves with fewer images. They are listed with their counts and
   dropped or, with ``--other-group``, relabelled ``unknown:<leaf>`` so that they can later test
   unknown-defect detection.

The split is stratified by label and deterministic for a seed. Files with identical content (sha256 of
the bytes) are one group and always land in the same split. An existing ``split`` column is kept unless
``--resplit``, but a group whose copies sit in different splits is moved to one split (test, else val,
else train) and reported. Unknown-labelled images are put in val/test only: they are never trained on.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from models.data.manifest import (
    DataError,
    Sample,
    UnknownLabelsError,
    is_unknown_label,
    parse_magnification,
    unknown_label,
)
from models.taxonomy import Taxonomy

DEFAULT_MAG_PATTERN = r"(?i)(\d+(?:\.\d+)?)x(?=\.[a-z0-9]+$|_)"
"""File-name magnification: ``..._20x.png`` or ``..._20x_003.png`` (the last match wins)."""

_MAX_LISTED = 12


# ------------------------------------------------------------------------------------------ results
@dataclass
class CurationStep:
    """One funnel row: the rule, and the classes/images left after it."""

    name: str
    classes: int
    images: int
    detail: str


@dataclass
class CurationResult:
    """Curated samples and how they were obtained.

    Attributes:
        samples: the samples left (magnification filled in from file names where it was missing).
        funnel: one step per rule, starting with "all images".
        excluded_leaves: leaves below ``min_per_class`` with their image counts.
        duplicates: repeated paths removed from the input (first kept).
        empty_leaves: taxonomy leaves with no image at all in the input.
        unknown_magnification: input images whose magnification is unknown.
        no_size: input images without ``defect_size_px``.
        other_group: whether excluded leaves were kept as ``unknown:<leaf>``.
    """

    samples: list[Sample]
    funnel: list[CurationStep]
    excluded_leaves: dict[str, int]
    duplicates: int
    empty_leaves: list[str] = field(default_factory=list)
    unknown_magnification: int = 0
    no_size: int = 0
    other_group: bool = False

    def report(self) -> str:
        """The funnel as a table, a one-line summary, and the excluded classes."""
        name_w = max([len("step"), *(len(s.name) for s in self.funnel)])
        lines = [
            "Curation funnel:",
            f"  {'step':<{name_w}}  {'classes':>7}  {'images':>9}  {'removed':>9}  notes",
        ]
        previous: int | None = None
        for step in self.funnel:
            removed = "" if previous is None else f"{previous - step.images:,}"
            lines.append(
                f"  {step.name:<{name_w}}  {step.classes:>7,}  {step.images:>9,}  {removed:>9}  {step.detail}"
            )
            previous = step.images
        lines.append(
            " -> ".join(f"{s.name}: {s.classes:,} classes, {s.images:,} images" for s in self.funnel)
        )
        if self.excluded_leaves:
            what = "kept as unknown:<leaf>" if self.other_group else "dropped"
            lines.append(
                f"Excluded classes ({len(self.excluded_leaves)}, {what}): "
                + _format_counts(self.excluded_leaves)
            )
        if self.duplicates:
            lines.append(f"Repeated paths removed: {self.duplicates:,}")
        if self.empty_leaves:
            lines.append(
                f"Taxonomy leaves with no images ({len(self.empty_leaves)}): " + ", ".join(self.empty_leaves)
            )
        return "\n".join(lines)


def _format_counts(counts: dict[str, int]) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k} {v:,}" for k, v in items[:_MAX_LISTED])
    return text + (f", ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def _n_classes(samples: Iterable[Sample]) -> int:
    return len({s.label for s in samples if not is_unknown_label(s.label)})


def _step(name: str, samples: list[Sample], detail: str) -> CurationStep:
    n_unknown = sum(is_unknown_label(s.label) for s in samples)
    if n_unknown:
        detail = f"{detail}; {n_unknown:,} unknown-labelled" if detail else f"{n_unknown:,} unknown-labelled"
    return CurationStep(name, _n_classes(samples), len(samples), detail)


def _fmt(value: float) -> str:
    return f"{value:g}"


# ------------------------------------------------------------------------------------------ curation
def magnification_from_name(name: str, pattern: re.Pattern[str]) -> float | None:
    """Magnification parsed from a file name with ``pattern`` (group 1; the last match wins)."""
    matches = list(pattern.finditer(name))
    if not matches:
        return None
    try:
        return parse_magnification(matches[-1].group(1))
    except ValueError:
        return None


def _compile_pattern(mag_pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    try:
        pattern = re.compile(mag_pattern)
    except re.error as exc:
        raise DataError(f"bad magnification pattern {mag_pattern!r}: {exc}") from None
    if pattern.groups < 1:
        raise DataError(f"magnification pattern {pattern.pattern!r} needs a group that captures the number")
    return pattern


def _check_rules(
    magnification: float | None, min_size: float | None, max_size: float | None, min_per_class: int | None
) -> None:
    if magnification is not None and not (magnification > 0 and math.isfinite(magnification)):
        raise DataError(f"magnification must be a positive number, got {magnification!r}")
    for name, value in (("min_size", min_size), ("max_size", max_size)):
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise DataError(f"{name} must be a number >= 0, got {value!r}")
    if min_size is not None and max_size is not None and min_size > max_size:
        raise DataError(f"min_size ({_fmt(min_size)}) is larger than max_size ({_fmt(max_size)})")
    if min_per_class is not None and min_per_class < 0:
        raise DataError(f"min_per_class must be >= 0, got {min_per_class}")


def _check_labels(samples: Sequence[Sample], taxonomy: Taxonomy) -> None:
    leaves = set(taxonomy.leaves)
    bad = Counter(s.label for s in samples if s.label not in leaves and not is_unknown_label(s.label))
    if bad:
        raise UnknownLabelsError(dict(bad), taxonomy_id=taxonomy.id)


def curate(
    samples: Sequence[Sample],
    *,
    taxonomy: Taxonomy,
    magnification: float | None = 20,
    mag_pattern: str | re.Pattern[str] = DEFAULT_MAG_PATTERN,
    min_size: float | None = None,
    max_size: float | None = None,
    min_per_class: int | None = 80,
    other_group: bool = False,
    keep_unknown: bool = False,
) -> CurationResult:
    """Apply the curation rules in order and record the funnel.

    Args:
        samples: loaded samples (labels are canonical leaf ids or ``unknown:<name>``).
        taxonomy: the class tree; labels must be its leaves.
        magnification: keep only this magnification; None keeps all (unknown ones included).
        mag_pattern: regex whose group 1 is the magnification in a file name, used when the sample has none.
        min_size: keep defects at least this many pixels (samples without a size are kept).
        max_size: keep defects at most this many pixels (samples without a size are kept).
        min_per_class: exclude leaves with fewer images; 0 or None disables the rule.
        other_group: relabel excluded leaves' images ``unknown:<leaf>`` instead of dropping them.
        keep_unknown: keep samples that were already unknown-labelled.

    Returns:
        The curated samples, the funnel and the excluded leaves.

    Raises:
        DataError: a bad rule value or pattern.
        UnknownLabelsError: a sample label is neither a leaf nor ``unknown:<name>``.
    """
    _check_rules(magnification, min_size, max_size, min_per_class)
    pattern = _compile_pattern(mag_pattern)
    _check_labels(samples, taxonomy)

    current, from_name = _unique_with_magnification(samples, pattern)
    duplicates = len(samples) - len(current)
    n_unknown_mag = sum(s.magnification is None for s in current)
    n_no_size = sum(s.defect_size_px is None for s in current)
    present = {s.label for s in current}
    empty_leaves = [leaf for leaf in taxonomy.leaves if leaf not in present]

    notes = [f"magnification from file name: {from_name:,}", f"unknown magnification: {n_unknown_mag:,}"]
    notes.append(f"no defect size: {n_no_size:,}")
    if duplicates:
        notes.append(f"repeated paths removed: {duplicates:,}")
    funnel = [_step("all images", current, "; ".join(notes))]
    if not keep_unknown and any(is_unknown_label(s.label) for s in current):
        current = _record(funnel, *_known_only(current))
    if magnification is not None:
        current = _record(funnel, *_at_magnification(current, magnification))
    if min_size is not None or max_size is not None:
        current = _record(funnel, *_within_size(current, min_size, max_size))
    excluded: dict[str, int] = {}
    if min_per_class:
        excluded = _small_classes(current, min_per_class)
        current = _record(funnel, *_without_classes(current, excluded, min_per_class, other_group))

    return CurationResult(
        samples=current,
        funnel=funnel,
        excluded_leaves=excluded,
        duplicates=duplicates,
        empty_leaves=empty_leaves,
        unknown_magnification=n_unknown_mag,
        no_size=n_no_size,
        other_group=other_group,
    )


# ------------------------------------------------------------------------------------------ rules
def _record(funnel: list[CurationStep], kept: list[Sample], name: str, detail: str) -> list[Sample]:
    """Append a rule's funnel row (the rule's name, what is left after it, the detail); return ``kept``."""
    funnel.append(_step(name, kept, detail))
    return kept


def _unique_with_magnification(
    samples: Sequence[Sample], pattern: re.Pattern[str]
) -> tuple[list[Sample], int]:
    """Each path once (first kept), with the magnification parsed from the file name where the sample has
    none; returns the samples and how many magnifications came from file names."""
    seen: set[Path] = set()
    current: list[Sample] = []
    from_name = 0
    for s in samples:
        if s.path in seen:
            continue
        seen.add(s.path)
        if s.magnification is None:
            mag = magnification_from_name(Path(s.path).name, pattern)
            if mag is not None:
                s = replace(s, magnification=mag)
                from_name += 1
        current.append(s)
    return current, from_name


def _known_only(current: list[Sample]) -> tuple[list[Sample], str, str]:
    """Rule 1: drop unknown-labelled samples. Returns (kept, funnel row name, detail)."""
    kept = [s for s in current if not is_unknown_label(s.label)]
    return kept, "known classes only", f"removed {len(current) - len(kept):,} unknown-labelled"


def _at_magnification(current: list[Sample], magnification: float) -> tuple[list[Sample], str, str]:
    """Rule 2: keep samples at ``magnification`` (unknown magnifications are dropped and counted)."""
    other: Counter[float] = Counter()
    unknown_mag = 0
    kept: list[Sample] = []
    for s in current:
        if s.magnification is None:
            unknown_mag += 1
        elif math.isclose(s.magnification, magnification, rel_tol=1e-6):
            kept.append(s)
        else:
            other[s.magnification] += 1
    by_mag = ", ".join(f"{_fmt(m)}x: {n:,}" for m, n in sorted(other.items()))
    detail = f"removed {sum(other.values()):,} at other magnifications" + (f" ({by_mag})" if by_mag else "")
    detail += f", {unknown_mag:,} with unknown magnification"
    return kept, f"{_fmt(magnification)}x only", detail


def _within_size(
    current: list[Sample], min_size: float | None, max_size: float | None
) -> tuple[list[Sample], str, str]:
    """Rule 3: keep defects within the size range (samples without a size are kept and counted)."""
    small = large = unsized = 0
    kept: list[Sample] = []
    for s in current:
        size = s.defect_size_px
        if size is None:
            unsized += 1
            kept.append(s)
        elif min_size is not None and size < min_size:
            small += 1
        elif max_size is not None and size > max_size:
            large += 1
        else:
            kept.append(s)
    if min_size is not None and max_size is not None:
        name = f"defect size within [{_fmt(min_size)}, {_fmt(max_size)}] px"
    elif min_size is not None:
        name = f"defect size >= {_fmt(min_size)} px"
    else:
        name = f"defect size <= {_fmt(max_size)} px"  # type: ignore[arg-type]
    return kept, name, f"removed {small:,} too small, {large:,} too large; kept {unsized:,} without a size"


def _small_classes(current: list[Sample], min_per_class: int) -> dict[str, int]:
    """Leaves with fewer than ``min_per_class`` images, with their counts (most images first)."""
    counts = Counter(s.label for s in current if not is_unknown_label(s.label))
    excluded = {leaf: n for leaf, n in counts.items() if n < min_per_class}
    return dict(sorted(excluded.items(), key=lambda kv: (-kv[1], kv[0])))


def _without_classes(
    current: list[Sample], excluded: dict[str, int], min_per_class: int, other_group: bool
) -> tuple[list[Sample], str, str]:
    """Rule 4: drop the excluded leaves' images, or relabel them ``unknown:<leaf>`` (``other_group``)."""
    n_excluded = sum(excluded.values())
    if other_group:
        kept = [replace(s, label=unknown_label(s.label), extra_labels=()) if s.label in excluded else s
                for s in current]
        detail = f"{len(excluded)} classes excluded; {n_excluded:,} images relabelled unknown:<leaf>"
    else:
        kept = [s for s in current if s.label not in excluded]
        detail = f"{len(excluded)} classes excluded; {n_excluded:,} images removed"
    return kept, f"classes with >= {min_per_class} images", detail
