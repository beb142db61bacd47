"""The images a bundle did not learn from, when its data has no split column (``evaluate``, ``calibrate``).

``train`` on a manifest without a split column makes a stratified 70/15/15 split with the config's seed
(:func:`models.training.data.split_for_training`) and records the hash of the images it trained and validated on
(``train.data_hash``, :func:`models.data.manifest.data_hash`). ``evaluate`` and ``calibrate`` given that same data
(the README's "training on your own data" passes one ``my_defects.csv`` to all three) used to score every image,
the model's own training images among them, without a word. :func:`recover_split` makes the training's split
again and checks it against the recorded hash: the same images, the same split, so the test and validation parts
are the ones the model never trained on. Data that only overlaps the training data is said to.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.data.manifest import Sample, data_hash
from models.data.splits import held_out_copies, split_samples
from models.hashing import file_sha256

__all__ = ["recorded_training_rows", "recover_split", "seen_split_warning"]


def recover_split(train: Any, samples: Sequence[Sample], sources: Sequence[str | Path],
                  bundle: str | Path) -> tuple[list[Sample], str | None]:
    """``(samples, line)``: with a split column (or no training record), the samples as they are and no line; data
    without one that is the very data ``train`` (a bundle's :class:`~models.bundle.records.TrainInfo`) was trained
    on, the samples with that training's split and a line that says so; data that names a training source but is
    not all of it, the samples as they are and a warning."""
    if train is None or not train.data_hash or any(s.split is not None for s in samples):
        return list(samples), None
    config = train.config or {}
    known = [s for s in samples if not s.is_unknown]
    seed = int(config.get("seed", 0) or 0)
    content = functools.cache(file_sha256)  # each file read once for the split and the hash
    split = split_samples(known, seed=seed, hash_fn=content) if known else []
    exposure = float((config.get("loss") or {}).get("outlier_weight", 0) or 0) > 0
    unknown = [s for s in samples if s.is_unknown]
    # training hashed its outlier-exposure images as loaded (no split), and only when it used them
    seen = [s for s in split if s.split in ("train", "val")] + (unknown if exposure else [])
    if data_hash(seen, content) == train.data_hash:
        counts = {name: sum(s.split == name for s in split) for name in ("train", "val", "test")}
        if exposure:  # learned from: kept out of the held-out parts
            unknown = [dataclasses.replace(s, split="train") for s in unknown]
            said = f"; its {len(unknown)} unknown:* images were its outlier exposure (split train)"
        else:  # never seen: shared between the held-out parts (split_samples puts unknown kinds in val and test)
            unknown = split_samples(unknown, seed=seed, hash_fn=content) if unknown else []
            said = (f"; its {len(unknown)} unknown:* images, which it did not train on, go to validation and test"
                    if unknown else "")
        line = (f"no split column: these are the images {bundle} was trained on, so the split its training made "
                f"(70/15/15, seed {seed}) is made again: {counts['test']} test, {counts['val']} validation and "
                f"{counts['train']} training images" + said)
        return split + unknown, line
    recorded = {_resolved(p) for p in train.data_sources}
    if recorded & {_resolved(p) for p in sources}:
        return list(samples), (f"WARNING: the data has no split column and {bundle} was trained on some of it "
                               f"({', '.join(train.data_sources)}): its training images are among those scored, "
                               "so the figures are optimistic; keep a test set apart (a split column, or other "
                               "images)")
    return list(samples), None


def seen_split_warning(train: Any, samples: Sequence[Sample], sources: Sequence[str | Path], bundle: str | Path,
                       split: str) -> str | None:
    """A warning when ``split`` (not ``test``) puts images the bundle learned from among those scored: the rows of
    split ``train`` (it trained on them) and ``val`` (they chose its best epoch and its post-hoc choices) of the
    data it was trained on (:func:`recover_split`'s split, or the data's own column when the data is a training
    source). None for other data, whose split column is not this bundle's."""
    if split == "test" or train is None or not train.data_sources:
        return None
    if not {_resolved(p) for p in train.data_sources} & {_resolved(p) for p in sources}:
        return None
    n = {name: sum(s.split == name for s in samples) for name in ("train", "val")}
    if not any(n.values()):
        return None
    parts = [f"{n['train']} images it trained on"] if n["train"] else []
    parts += [f"{n['val']} validation images that chose its best epoch"] if n["val"] else []
    return (f"WARNING: --split {split} scores {' and '.join(parts)} ({bundle} was trained on this data): the figures "
            "are optimistic; --split test scores only the images it never saw")


def recorded_training_rows(train: Any, taxonomy: Any, bundle: str | Path, split: str = "train"
                           ) -> tuple[list[Sample], str]:
    """The ``split`` rows (the images it trained on, by default) of the data ``train`` (a bundle's
    :class:`~models.bundle.records.TrainInfo`) names, read again from its recorded sources, and a line saying what
    was read or why nothing could be: a calibration set of its own (``--split 0,1,0``) holds no training images,
    and the class centroids of the embedding unknown scores were then fitted on the very images their threshold is
    set on, which flags many more new images than the threshold promises (every new batch looked like drift)."""
    from models.data.manifest import DataError, load_data

    sources = list(getattr(train, "data_sources", ()) or ())
    if not sources:
        return [], "the bundle names no training data"
    missing = [p for p in sources if not Path(p).exists()]
    if missing:
        return [], f"its training data is not here ({', '.join(missing)})"
    try:
        loaded = load_data(sources, taxonomy, verify_images=False)  # (the centroids' reading skips a bad one)
    except (DataError, OSError) as exc:
        return [], f"its training data cannot be read ({exc})"
    rows, _line = recover_split(train, loaded.samples, sources, bundle)
    # (load_data left out the files not there; a row without a split beside rows with one trained, as
    # models.training.data.split_for_training takes it: an app export beside the original data, less its copies of
    # held-out images)
    copies = held_out_copies(rows)
    chosen = [s for i, s in enumerate(rows) if (s.split or "train") == split and not s.is_unknown and i not in copies]
    if len(chosen) < 2:
        return [], f"its training data ({', '.join(sources)}) has no {split} images here"
    return chosen, f"{len(chosen)} {split} images of {', '.join(sources)}, the data {bundle} was trained on"


def _resolved(path: str | Path) -> str:
    try:
        return str(Path(path).expanduser().resolve())
    except OSError:
        return str(path)
