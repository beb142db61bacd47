"""Training the spectrum head (issue #20): a small perceptron per tree level over spectrum shapes, and its fusion
weight chosen on validation images (:mod:`models.spectra.head`).

The head trains in seconds on a CPU (a few hundred spectra of 901 points): full-batch AdamW with weight decay,
the summed cross-entropy of every level, Gaussian noise on the inputs, dropout, and the epoch of the lowest
validation log-loss kept. A calibrated head matters more than an accurate one: many types share a material (every
structural defect shows the glass substrate), and a head sure of a type its spectrum cannot tell overrules the image
(``python -m bench.fusion``: the head chosen by accuracy cost 5-18 points of Top-1 at fusion weights of 0.5-2). The fusion weight is the one of :data:`WEIGHTS` whose fused leaf Top-1 on the validation images with a
spectrum is best (ties: the smaller weight, the image model trusted more).

:func:`add_spectrum_head` is the whole step on a trained bundle: the spectra of the training images read and shaped,
the head fitted, the weight chosen on the validation images' fused predictions, and the head written into the
bundle (:mod:`models.bundle.spectrum`). ``fma-model train`` runs it after the image model when the config says
``network.spectrum: true``; ``fma-model spectrum`` runs it on a bundle trained before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.data.samples import Sample
from models.spectra import read_spectra
from models.spectra.head import SpectrumHead, fuse, row_level_probs, usable_features
from models.taxonomy import Taxonomy

Log = Callable[[str], None]


class SpectrumTrainingError(ValueError):
    """The spectrum head cannot be trained on this data (no spectra ...); the message says why."""

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


@dataclass
class SpectrumTraining:
    """What :func:`train_head` fitted: the head, the epoch kept, and its validation leaf accuracy alone."""

    head: SpectrumHead
    epoch: int
    val_top1: float


def level_targets(taxonomy: Taxonomy, leaves: Sequence[str]) -> np.ndarray:
    """(N, levels) index of each leaf's ancestor at each level."""
    return np.asarray([taxonomy.level_indices(leaf) for leaf in leaves], dtype=np.int64)


def train_head(taxonomy: Taxonomy, x_train: np.ndarray, y_train: Sequence[str], x_val: np.ndarray,
               y_val: Sequence[str], *, hidden: int = 32, epochs: int = 400, lr: float = 3e-3,
               weight_decay: float = 1e-2, noise: float = 0.3, seed: int = 0) -> SpectrumTraining:
    """Fit a :class:`SpectrumHead` on features (:func:`models.spectra.head.features`) and their leaf labels."""
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    sizes = taxonomy.level_sizes
    xt = torch.as_tensor(np.asarray(x_train, np.float32))
    yt = torch.as_tensor(level_targets(taxonomy, y_train))
    xv = np.asarray(x_val, np.float32)
    val_leaf = np.asarray([taxonomy.leaves.index(leaf) for leaf in y_val])
    body = torch.nn.Sequential(torch.nn.Linear(xt.shape[1], hidden), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                               torch.nn.Linear(hidden, hidden), torch.nn.ReLU())
    heads = torch.nn.ModuleList(torch.nn.Linear(hidden, n) for n in sizes)
    params = [*body.parameters(), *heads.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    index = taxonomy.leaf_level_index
    best: tuple[float, int, SpectrumHead] | None = None
    for epoch in range(1, epochs + 1):
        body.train()
        h = body(xt + noise * torch.randn(xt.shape, generator=gen))
        loss = sum(torch.nn.functional.cross_entropy(head(h), yt[:, k]) for k, head in enumerate(heads))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if epoch % 10 and epoch != epochs:
            continue
        body.eval()
        head = _export(body, heads)
        nll, top1 = _leaf_scores(head, xv, val_leaf, index) if len(xv) else (-epoch, 0.0)
        if best is None or nll < best[0]:
            best = (nll, epoch, head, top1)
    assert best is not None
    return SpectrumTraining(best[2], best[1], best[3])


def choose_weight(head: SpectrumHead, leaf_probs: np.ndarray, rows: Sequence[Sequence[np.ndarray]],
                  truth: Sequence[int], leaf_level_index: np.ndarray) -> dict[float, float]:
    """Fused leaf Top-1 on validation images with a spectrum (``rows``: the features of each image's spectra,
    :func:`models.spectra.head.usable_features`) for each of :data:`WEIGHTS`; sets ``head.weight`` to the best (the
    smaller on a tie) and returns them all."""
    truth_arr = np.asarray(truth)
    level, counts = row_level_probs(head, rows)  # the head runs once; only the weight changes
    if level is None:
        raise SpectrumTrainingError("no validation image has a spectrum to choose the fusion weight on")
    scores = {w: float((fuse(leaf_probs, level, leaf_level_index, w, has_spectrum=counts > 0).argmax(1)
                        == truth_arr).mean()) for w in WEIGHTS}
    head.weight = max(WEIGHTS, key=lambda w: (scores[w], -w))
    return scores


def check_spectra(train: Sequence[Sample], val: Sequence[Sample], bundle: str | Path, *, multilabel: bool) -> None:
    """Refuse, before any training, what the spectrum head cannot be trained on or written into: training or
    validation images without a single spectrum among them, a multi-label model (its scores are no distribution to
    fuse with), an archive as the bundle (read-only).

    Raises:
        SpectrumTrainingError: naming what is wrong.
    """
    from models.bundle.files import ARCHIVE_SUFFIXES

    if multilabel:
        raise SpectrumTrainingError("a multi-label model (loss.kind multilabel) has no spectrum head: its leaf scores "
                                    "are no distribution to fuse a spectrum's with")
    if Path(bundle).suffix.lower() in ARCHIVE_SUFFIXES:
        raise SpectrumTrainingError(f"{bundle}: archives are read-only; a spectrum head is written into a bundle "
                                    "folder")
    for name, samples in (("training", train), ("validation", val)):
        if not any(s.spectra for s in samples):
            raise SpectrumTrainingError(
                f"no {name} image has a spectrum, and the spectrum head needs some: give the manifest a 'spectrum' "
                "column, or put each image's .jdx/.csv spectrum beside it with the same stem")


def add_spectrum_head(bundle: str | Path, train: Sequence[Sample], val: Sequence[Sample], *, seed: int = 0,
                      log: Log = print, batch_size: int = 16, device: str = "cpu") -> dict[str, Any]:
    """Train a spectrum head for the bundle folder ``bundle`` and write it into the bundle (see the module doc).

    Args:
        train: the images whose spectra the head learns from (each spectrum one example of its image's leaf).
        val: the images that choose the head's epoch and fusion weight (those with a spectrum).

    Returns:
        What was fitted: ``{"n_train", "n_val", "epoch", "val_top1_alone", "fusion_weight", "val_top1_by_weight",
        "seconds"}``.

    Raises:
        SpectrumTrainingError: no training or validation image with a readable spectrum on the grid, or what
            :func:`check_spectra` refuses.
        BundleError: the bundle cannot be read or written.
    """
    from models.bundle.files import read_bundle_manifest
    from models.bundle.spectrum import write_spectrum_head
    from models.inference.collect import collect_outputs
    from models.inference.predictor import Predictor

    started = time.perf_counter()
    bundle = Path(bundle)
    manifest = read_bundle_manifest(bundle)
    check_spectra(train, val, bundle, multilabel=manifest.is_multilabel)
    taxonomy = manifest.taxonomy
    known = set(taxonomy.leaves)
    sets = {}
    for name, samples in (("training", train), ("validation", val)):
        chosen = [s for s in samples if s.spectra and s.label in known]
        rows = [usable_features(read_spectra(s.spectra, log)) for s in chosen]  # the fusion's evidence only
        keep = [i for i, r in enumerate(rows) if r]
        if not keep:
            raise SpectrumTrainingError(f"no {name} image has a readable spectrum between 400 and 4000 cm-1: the "
                                        f"spectrum head needs {name} images with spectra")
        sets[name] = ([chosen[i] for i in keep], [rows[i] for i in keep])
    (train_s, train_rows), (val_s, val_rows) = sets["training"], sets["validation"]
    x_train = np.stack([x for row in train_rows for x in row])
    y_train = [s.label for s, row in zip(train_s, train_rows, strict=True) for _ in row]
    x_val = np.stack([row[0] for row in val_rows])
    log(f"spectrum head: {len(x_train)} spectra of {len(train_s)} training images, {len(val_s)} validation images")
    trained = train_head(taxonomy, x_train, y_train, x_val, [s.label for s in val_s], seed=seed)
    predictor = Predictor(bundle, batch_size=batch_size, device=device, spectra=False)
    out = collect_outputs(predictor, [s.path for s in val_s])
    rows = [val_rows[i] for i in out.index]
    truth = [taxonomy.leaves.index(val_s[i].label) for i in out.index]
    scores = choose_weight(trained.head, out.leaf_probs, rows, truth, taxonomy.leaf_level_index)
    summary = {"n_train": len(train_s), "n_val": len(rows), "epoch": trained.epoch,
               "val_top1_alone": round(trained.val_top1, 4), "fusion_weight": trained.head.weight,
               "val_top1_by_weight": {str(k): round(v, 4) for k, v in scores.items()}}
    write_spectrum_head(bundle, predictor.manifest, trained.head, epoch=trained.epoch, n_train=len(train_s),
                        n_val=len(rows), val_top1_alone=round(trained.val_top1, 4),
                        val_top1_by_weight=summary["val_top1_by_weight"])
    summary["seconds"] = round(time.perf_counter() - started, 1)
    log(f"spectrum head: epoch {trained.epoch}, alone {100 * trained.val_top1:.1f} % leaf Top-1 on validation; "
        f"fusion weight {trained.head.weight} (fused validation Top-1 {100 * scores[trained.head.weight]:.1f} %, "
        f"image alone {100 * scores[0.0]:.1f} %); written into {bundle}")
    if predictor.calibration is not None:
        log("the bundle's routing was calibrated on images alone, so it does not fuse spectra yet: run "
            "`fma-model calibrate` again on images with spectra")
    return summary


def _export(body, heads) -> SpectrumHead:
    linear = [m for m in body if hasattr(m, "weight")]
    hidden = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linear]
    levels = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in heads]
    return SpectrumHead(hidden, levels)


def _leaf_scores(head: SpectrumHead, x: np.ndarray, leaf: np.ndarray, index: np.ndarray) -> tuple[float, float]:
    """The head's leaf log-loss and Top-1 on validation spectra (its levels combined as the image model's are)."""
    probs = head.level_probs(x)
    log = sum(np.log(np.clip(p[:, index[:, k]], 1e-12, None)) for k, p in enumerate(probs))
    log = log - np.log(np.exp(log - log.max(1, keepdims=True)).sum(1, keepdims=True)) - log.max(1, keepdims=True)
    return float(-log[np.arange(len(leaf)), leaf].mean()), float((np.argmax(log, axis=1) == leaf).mean())
