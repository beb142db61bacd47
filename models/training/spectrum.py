"""Training the spectrum head (issue #20): a small perceptron per tree level over spectrum shapes, and its fusion
weight chosen on validation images (:mod:`models.spectra.head`).

The head trains in seconds on a CPU (a few hundred spectra of 901 points): full-batch AdamW with weight decay,
the summed cross-entropy of every level, Gaussian noise on the inputs, dropout, and the epoch of the lowest
validation log-loss kept. A calibrated head matters more than an accurate one: many types share a material (every
structural defect shows the glass substrate), and a head sure of a type its spectrum cannot tell overrules the image
(``python -m bench.fusion``: the head chosen by accuracy cost 5-18 points of Top-1 at fusion weights of 0.5-2). The fusion weight is the one of :data:`WEIGHTS` whose fused leaf Top-1 on the validation images with a
spectrum is best (ties: the smaller weight, the image model trusted more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.spectra.head import SpectrumHead, fuse
from models.taxonomy import Taxonomy

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


def choose_weight(head: SpectrumHead, leaf_probs: np.ndarray, x: np.ndarray, truth: Sequence[int],
                  leaf_level_index: np.ndarray) -> dict[float, float]:
    """Fused leaf Top-1 on validation images with a spectrum for each of :data:`WEIGHTS`; sets ``head.weight`` to
    the best (the smaller on a tie) and returns them all."""
    spec = head.level_probs(x)
    truth_arr = np.asarray(truth)
    scores = {w: float((fuse(leaf_probs, spec, leaf_level_index, w).argmax(1) == truth_arr).mean()) for w in WEIGHTS}
    head.weight = max(WEIGHTS, key=lambda w: (scores[w], -w))
    return scores


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
