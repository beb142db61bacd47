"""Train/val/test splits, and choosing a split to run on.

Two splitters, for two situations:

* :func:`split_samples` / :func:`split_files` split **files that exist** (``fma-model curate``, and
  ``train`` on data without a split column): files with identical content form one group that goes to
  one split as a whole, existing splits are kept, and each label is stratified towards the fractions.
  Ties between splits are broken at random (seeded per label).
* :func:`split_rendered` splits **images about to be rendered** (``fma-model synth``): there is no content
  yet to group by, so it assigns split names to a label's sample indices with a seeded permutation.
  Ties go to the earlier split, which keeps the generator's output identical for a given seed.

Both take their sizes from :func:`largest_remainder`.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from models.data.manifest import SPLITS, DataError, Sample, is_unknown_label
from models.hashing import file_sha256

DEFAULT_FRACTIONS: tuple[float, float, float] = (0.7, 0.15, 0.15)
_SPLIT_PRIORITY = ("test", "val", "train")  # where a group of identical files with conflicting splits goes


def _fmt(value: float) -> str:
    return f"{value:g}"


def select_split(samples: list[Sample], split: str) -> list[Sample]:
    """Samples of one split; ``all`` (or data without a split column) keeps everything.

    Raises:
        DataError: no sample has that split (the message lists the splits there are).
    """
    if split == "all" or all(s.split is None for s in samples):
        return samples
    chosen = [s for s in samples if s.split == split]
    if not chosen:
        found = sorted({s.split or "-" for s in samples})
        raise DataError(f"no samples in split {split!r}; the data has splits: {', '.join(found)}")
    return chosen


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


def largest_remainder(n: int, exact: Sequence[float], tie_key: Callable[[int], Any]) -> list[int]:
    """Integer sizes for ``n`` items from their exact shares (largest remainder, ties by ``tie_key``); every
    share above zero gets at least one item when ``n`` allows it (taken from the largest)."""
    counts = [math.floor(e) for e in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), tie_key(i)))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    active = [i for i, e in enumerate(exact) if e > 0]
    if n >= len(active):
        for i in active:
            if counts[i] == 0:
                donor = max(range(len(counts)), key=lambda j: (counts[j], -j))
                counts[donor] -= 1
                counts[i] += 1
    return counts


def _targets(n: int, fractions: Sequence[float], rng: random.Random) -> list[int]:
    """Split sizes of one label's groups: ties broken at random (``rng``)."""
    return largest_remainder(n, [f * n for f in fractions], lambda _i: rng.random())


def _group_label(labels: list[str]) -> str:
    counts = Counter(labels)
    best = max(counts.values())
    return min(label for label, n in counts.items() if n == best)


def split_files(
    samples: Sequence[Sample],
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    hash_fn: Callable[[Path], str] = file_sha256,
    keep_existing: bool = True,
) -> SplitResult:
    """Give every sample (a file) a split; see :func:`split_samples`. Returns the details as well."""
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
    hash_fn: Callable[[Path], str] = file_sha256,
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
    return split_files(
        samples, fractions=fractions, seed=seed, hash_fn=hash_fn, keep_existing=keep_existing
    ).samples


def held_out_copies(samples: Sequence[Sample], hash_fn: Callable[[Path], str] = file_sha256) -> set[int]:
    """The indices of the samples without a split (an app's label export beside data with a split column) that hold
    the same picture as a validation or test sample: training on them trains on held-out images under other names
    (a batch made of test images, judged and exported, taught the next model its own test set, and ``compare``
    called it better). Only files whose size a file on the other side has are read; none when nothing lacks a
    split. Unknown-type rows count as any other (an exported unknown copy of a held-out unknown is left out too)."""
    loose = [i for i, s in enumerate(samples) if s.split is None]
    held = [s.path for s in samples if s.split in ("val", "test")]
    if not loose or not held:
        return set()

    def size(path: Path) -> int:
        try:
            return path.stat().st_size
        except OSError:
            return -1

    def digest(path: Path) -> str | None:
        try:
            return hash_fn(path)
        except OSError:  # (not readable: not known to be a copy; training's own reading says why)
            return None

    # a copy has its original's size: only files of a size found on both sides are read (a 10,000-image set with
    # an export beside it read about 4,000 whole files to find none)
    held_sizes = {size(p) for p in held} - {-1}
    loose = [i for i in loose if size(samples[i].path) in held_sizes]
    loose_sizes = {size(samples[i].path) for i in loose}
    held_hashes = {digest(p) for p in held if size(p) in loose_sizes} - {None}
    return {i for i in loose if digest(samples[i].path) in held_hashes}


def split_counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Split ``n`` rendered items by fractions (largest remainder, ties to the earlier split)."""
    total = sum(fractions)
    return largest_remainder(n, [n * f / total for f in fractions], lambda i: i)


def split_rendered(label_hash: int, n: int, seed: int, fractions: Sequence[float]) -> list[str]:
    """Split names for samples 0..n-1 of one label about to be rendered: stratified, deterministic by seed.

    Args:
        label_hash: a stable hash of the label (the permutation differs per label).
        n: the label's number of samples.
        seed: the data set's seed.
        fractions: train, val, test fractions.
    """
    counts = split_counts(n, fractions)
    names = [name for name, c in zip(SPLITS, counts, strict=True) for _ in range(c)]
    perm = np.random.default_rng(np.random.SeedSequence([seed, label_hash, 0x5B117])).permutation(n)
    out = [""] * n
    for slot, idx in enumerate(perm):
        out[int(idx)] = names[slot]
    return out
