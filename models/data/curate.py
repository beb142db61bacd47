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

import argparse
import math
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from models.data.manifest import (
    SPLITS,
    DataError,
    Sample,
    UnknownLabelsError,
    content_hash,
    is_unknown_label,
    load_data,
    parse_magnification,
    write_manifest,
)
from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy, TaxonomyError

DEFAULT_MAG_PATTERN = r"(?i)(\d+(?:\.\d+)?)x(?=\.[a-z0-9]+$|_)"
"""File-name magnification: ``..._20x.png`` or ``..._20x_003.png`` (the last match wins)."""

DEFAULT_FRACTIONS: tuple[float, float, float] = (0.7, 0.15, 0.15)
_SPLIT_PRIORITY = ("test", "val", "train")  # where a group with conflicting splits goes
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


@dataclass
class SplitResult:
    """Samples with a split, and what the splitter had to do.

    Attributes:
        samples: the input samples, in order, each with ``split`` set.
        duplicate_groups: groups of two or more files with identical content.
        duplicate_files: files in those groups.
        label_conflicts: identical-content groups whose files carry different labels.
        fixed_groups: groups whose existing splits disagreed and were moved into one split.
        fixed_files: files whose existing split was changed by that.
        kept_existing: files that kept the split they came with.
    """

    samples: list[Sample]
    duplicate_groups: int = 0
    duplicate_files: int = 0
    label_conflicts: int = 0
    fixed_groups: int = 0
    fixed_files: int = 0
    kept_existing: int = 0

    def counts(self) -> dict[str, dict[str, int]]:
        """``{label: {split: n}}`` with every split present, labels sorted."""
        table: dict[str, dict[str, int]] = {}
        for s in sorted(self.samples, key=lambda s: s.label):
            table.setdefault(s.label, dict.fromkeys(SPLITS, 0))[s.split or "train"] += 1
        return table

    def report(self) -> str:
        """Per-label split table and the duplicate/conflict notes."""
        table = self.counts()
        width = max([len("label"), *(len(k) for k in table)])
        lines = ["Split:", f"  {'label':<{width}}  " + "  ".join(f"{s:>6}" for s in SPLITS)]
        for label, row in table.items():
            lines.append(f"  {label:<{width}}  " + "  ".join(f"{row[s]:>6,}" for s in SPLITS))
        totals = {s: sum(row[s] for row in table.values()) for s in SPLITS}
        lines.append(f"  {'total':<{width}}  " + "  ".join(f"{totals[s]:>6,}" for s in SPLITS))
        if self.kept_existing:
            lines.append(f"Kept the existing split of {self.kept_existing:,} file(s).")
        if self.duplicate_groups:
            lines.append(
                f"Identical content: {self.duplicate_files:,} files in {self.duplicate_groups:,} groups, "
                "each group kept in one split."
            )
        if self.fixed_groups:
            lines.append(
                f"Fixed existing splits: {self.fixed_groups:,} group(s) of identical files were in different "
                f"splits; {self.fixed_files:,} file(s) moved."
            )
        if self.label_conflicts:
            lines.append(
                f"WARNING: {self.label_conflicts:,} group(s) of identical files carry different labels."
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
        n_before = len(current)
        current = [s for s in current if not is_unknown_label(s.label)]
        funnel.append(
            _step("known classes only", current, f"removed {n_before - len(current):,} unknown-labelled")
        )

    if magnification is not None:
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
        current = kept
        by_mag = ", ".join(f"{_fmt(m)}x: {n:,}" for m, n in sorted(other.items()))
        detail = f"removed {sum(other.values()):,} at other magnifications" + (
            f" ({by_mag})" if by_mag else ""
        )
        detail += f", {unknown_mag:,} with unknown magnification"
        funnel.append(_step(f"{_fmt(magnification)}x only", current, detail))

    if min_size is not None or max_size is not None:
        small = large = unsized = 0
        kept = []
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
        current = kept
        if min_size is not None and max_size is not None:
            name = f"defect size within [{_fmt(min_size)}, {_fmt(max_size)}] px"
        elif min_size is not None:
            name = f"defect size >= {_fmt(min_size)} px"
        else:
            name = f"defect size <= {_fmt(max_size)} px"  # type: ignore[arg-type]
        detail = f"removed {small:,} too small, {large:,} too large; kept {unsized:,} without a size"
        funnel.append(_step(name, current, detail))

    excluded: dict[str, int] = {}
    if min_per_class:
        counts = Counter(s.label for s in current if not is_unknown_label(s.label))
        excluded = {leaf: n for leaf, n in counts.items() if n < min_per_class}
        excluded = dict(sorted(excluded.items(), key=lambda kv: (-kv[1], kv[0])))
        n_excluded = sum(excluded.values())
        if other_group:
            current = [replace(s, label=f"unknown:{s.label}") if s.label in excluded else s for s in current]
            detail = f"{len(excluded)} classes excluded; {n_excluded:,} images relabelled unknown:<leaf>"
        else:
            current = [s for s in current if s.label not in excluded]
            detail = f"{len(excluded)} classes excluded; {n_excluded:,} images removed"
        funnel.append(_step(f"classes with >= {min_per_class} images", current, detail))

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


# ------------------------------------------------------------------------------------------ splitting
def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Validate train/val/test fractions (three numbers >= 0 summing to 1) and return them normalised.

    Raises:
        DataError: wrong count, a negative value, or a sum other than 1.
    """
    values = tuple(float(f) for f in fractions)
    if len(values) != 3:
        raise DataError(f"split fractions must be three numbers train,val,test; got {len(values)}")
    if any(not (v >= 0 and math.isfinite(v)) for v in values):
        raise DataError(f"split fractions must be >= 0, got {','.join(_fmt(v) for v in values)}")
    total = sum(values)
    if abs(total - 1.0) > 0.01:
        raise DataError(f"split fractions must sum to 1, got {','.join(_fmt(v) for v in values)} = {total:g}")
    return values[0] / total, values[1] / total, values[2] / total


def _targets(n: int, fractions: Sequence[float], rng: random.Random) -> list[int]:
    """Integer split sizes for ``n`` items: largest remainder, ties broken by ``rng``, and every split
    with a non-zero fraction gets at least one item when ``n`` allows it."""
    raw = [f * n for f in fractions]
    counts = [math.floor(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), rng.random()))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    active = [i for i, f in enumerate(fractions) if f > 0]
    if n >= len(active):
        for i in active:
            if counts[i] == 0:
                donor = max(range(len(counts)), key=lambda j: counts[j])
                counts[donor] -= 1
                counts[i] += 1
    return counts


def _group_label(labels: list[str]) -> str:
    counts = Counter(labels)
    best = max(counts.values())
    return min(label for label, n in counts.items() if n == best)


def assign_splits(
    samples: Sequence[Sample],
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    hash_fn: Callable[[Path], str] = content_hash,
    keep_existing: bool = True,
) -> SplitResult:
    """Give every sample a split; see :func:`split_samples`. Returns the details as well."""
    fr = check_fractions(fractions)
    for s in samples:
        if s.split is not None and s.split not in SPLITS:
            raise DataError(f"{s.path}: split {s.split!r} is not one of {', '.join(SPLITS)}")
    hash_of: dict[Path, str] = {}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        if s.path not in hash_of:
            hash_of[s.path] = hash_fn(s.path)
        groups[hash_of[s.path]].append(i)

    result = SplitResult(samples=[])
    assigned: dict[int, str] = {}
    pending: dict[str, list[tuple[str, list[int]]]] = defaultdict(list)  # stratum -> [(hash, members)]
    current: dict[str, Counter[str]] = defaultdict(Counter)  # stratum -> split counts so far
    for digest in sorted(groups):
        members = groups[digest]
        labels = [samples[i].label for i in members]
        label = _group_label(labels)
        if len(members) > 1:
            result.duplicate_groups += 1
            result.duplicate_files += len(members)
            if len(set(labels)) > 1:
                result.label_conflicts += 1
        existing = {samples[i].split for i in members if samples[i].split} if keep_existing else set()
        if not existing:
            pending[label].append((digest, members))
            continue
        chosen = next(s for s in _SPLIT_PRIORITY if s in existing)
        if len(existing) > 1:
            result.fixed_groups += 1
            result.fixed_files += sum(1 for i in members if samples[i].split not in (None, chosen))
        result.kept_existing += sum(1 for i in members if samples[i].split == chosen)
        for i in members:
            assigned[i] = chosen
        current[label][chosen] += len(members)

    for label in sorted(pending):
        rng = random.Random(f"{seed}|{label}")
        stratum_fr = fr
        if is_unknown_label(label) and fr[1] + fr[2] > 0:
            stratum_fr = (0.0, fr[1] / (fr[1] + fr[2]), fr[2] / (fr[1] + fr[2]))
        todo = pending[label]
        n_total = sum(len(m) for _, m in todo) + sum(current[label].values())
        target = _targets(n_total, stratum_fr, rng)
        deficit = [target[k] - current[label][name] for k, name in enumerate(SPLITS)]
        active = [k for k, f in enumerate(stratum_fr) if f > 0]
        rng.shuffle(todo)
        for _, members in todo:
            k = max(active, key=lambda j: (deficit[j], -j))
            deficit[k] -= len(members)
            for i in members:
                assigned[i] = SPLITS[k]

    result.samples = [replace(s, split=assigned[i]) for i, s in enumerate(samples)]
    return result


def split_samples(
    samples: Sequence[Sample],
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    hash_fn: Callable[[Path], str] = content_hash,
    keep_existing: bool = True,
) -> list[Sample]:
    """Assign train/val/test, stratified by label, deterministic for ``seed``.

    Files with identical content (``hash_fn``, sha256 of the bytes by default) form a group that goes to
    one split as a whole, so the same image never appears in two splits. With ``keep_existing`` a sample's
    existing split is kept (a group whose copies disagree goes to test, else val, else train); only the
    others are assigned, so that each label's split sizes approach ``fractions``. Every split with a
    non-zero fraction gets at least one group of a label that has enough groups. ``unknown:*`` labels are
    put in val/test only. The result does not depend on the input order.

    Args:
        samples: the samples to split.
        fractions: train, val, test fractions (summing to 1).
        seed: random seed; the same seed and data give the same split.
        hash_fn: content hash of a file.
        keep_existing: keep splits the samples already have.

    Returns:
        The samples in input order, each with ``split`` set.

    Raises:
        DataError: bad fractions, or a sample with an invalid split name.
    """
    return assign_splits(
        samples, fractions=fractions, seed=seed, hash_fn=hash_fn, keep_existing=keep_existing
    ).samples


# ------------------------------------------------------------------------------------------ CLI
def _magnification_arg(text: str) -> float | None:
    if text.strip().lower() in ("any", "all", "none"):
        return None
    try:
        value = parse_magnification(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, or 'any'") from None
    if value is None:
        raise argparse.ArgumentTypeError("magnification is empty (write e.g. 20, 20x or any)")
    return value


def _fractions_arg(text: str) -> tuple[float, float, float]:
    try:
        return check_fractions([float(p) for p in text.split(",")])
    except ValueError as exc:  # DataError is a ValueError
        raise argparse.ArgumentTypeError(f"{exc} (write e.g. 0.7,0.15,0.15)") from None


def _size_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of pixels") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of pixels >= 0")
    return value


def _count_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``curate`` options to ``parser``."""
    parser.add_argument("data", nargs="+", metavar="DATA", help="manifest .csv files and/or image folders")
    parser.add_argument("--out", required=True, type=Path, metavar="MANIFEST", help="manifest .csv to write")
    parser.add_argument(
        "--taxonomy", type=Path, default=DEMO_TAXONOMY_PATH, help="taxonomy YAML (default: the demo taxonomy)"
    )
    parser.add_argument(
        "--magnification",
        type=_magnification_arg,
        default=20.0,
        metavar="MAG",
        help="keep only this magnification, e.g. 20 or 20x; 'any' keeps all (default: 20)",
    )
    parser.add_argument(
        "--mag-pattern",
        default=DEFAULT_MAG_PATTERN,
        metavar="REGEX",
        help="regex whose group 1 is the magnification in a file name, used when the manifest has none "
        f"(default: {DEFAULT_MAG_PATTERN})",
    )
    parser.add_argument("--min-size", type=_size_arg, metavar="PX", help="smallest defect size in pixels")
    parser.add_argument("--max-size", type=_size_arg, metavar="PX", help="largest defect size in pixels")
    parser.add_argument(
        "--min-per-class",
        type=_count_arg,
        default=80,
        metavar="N",
        help="exclude leaves with fewer images (default: 80; 0 disables)",
    )
    parser.add_argument(
        "--other-group",
        action="store_true",
        help="keep images of excluded leaves as 'unknown:<leaf>' (to test unknown-defect detection) "
        "instead of dropping them",
    )
    parser.add_argument(
        "--keep-unknown", action="store_true", help="keep images that are already labelled unknown:<name>"
    )
    parser.add_argument(
        "--split",
        type=_fractions_arg,
        default=DEFAULT_FRACTIONS,
        metavar="TRAIN,VAL,TEST",
        help="split fractions (default: 0.7,0.15,0.15)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the split (default: 0)")
    parser.add_argument(
        "--resplit", action="store_true", help="ignore an existing split column and split everything anew"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``fma-model curate``: load, curate, split, write the manifest, print the reports.

    Returns:
        0 on success, 1 when no image is left, 2 on a data or taxonomy error (message on stderr).
    """
    try:
        out = Path(args.out).resolve()
        inputs = {Path(d).resolve() for d in args.data}
        if out in inputs:
            raise DataError(f"--out {out} is one of the inputs; write the curated manifest to a new file")
        taxonomy = Taxonomy.from_yaml(args.taxonomy)
        loaded = load_data(args.data, taxonomy)
        print(loaded.report())
        result = curate(
            loaded.samples,
            taxonomy=taxonomy,
            magnification=args.magnification,
            mag_pattern=args.mag_pattern,
            min_size=args.min_size,
            max_size=args.max_size,
            min_per_class=args.min_per_class,
            other_group=args.other_group,
            keep_unknown=args.keep_unknown,
        )
        print(result.report())
        if not result.samples:
            print("error: no images left after curation; nothing written", file=sys.stderr)
            return 1
        split = assign_splits(
            result.samples, fractions=args.split, seed=args.seed, keep_existing=not args.resplit
        )
        print(split.report())
        written = write_manifest(split.samples, out)
    except (DataError, TaxonomyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {written} ({len(split.samples):,} images).")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``python -m models.data.curate``); ``fma-model curate`` is the usual one."""
    parser = argparse.ArgumentParser(prog="fma-model curate", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
