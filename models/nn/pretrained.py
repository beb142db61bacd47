"""A backbone's weights from a local file (``network.pretrained_file``), checked to fit.

Only ``.safetensors`` files are read: a ``.pth``/``.pt`` checkpoint is a pickle, and unpickling a file can run code
in it (``torch.load(weights_only=True)`` narrows that, it does not remove it), so it is refused with how to get or
make the safetensors file. timm loads the file itself and only logs the keys it could not place: a file of another backbone, whose keys share no name with this one's,
left the backbone as it was initialised, and training went on from random weights after one warning line of
thousands of characters. :func:`from_local_file` cuts that line short and refuses such a file, by counting the
weights it set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from models.nn.config import WEIGHT_SUFFIXES, NetworkConfig, PretrainedFileError, weight_file_problem

__all__ = ["WEIGHT_SUFFIXES", "from_local_file"]



def from_local_file(config: NetworkConfig, kwargs: dict[str, Any], short: Callable[[BaseException], str]) -> nn.Module:
    """The backbone ``config`` names, with the weights of its ``pretrained_file`` (``kwargs``: timm's).

    Raises:
        FileNotFoundError: no such file.
        PretrainedFileError: a file name timm cannot read; a file timm could not load into the backbone (``short``
            cuts its message to a few lines); a file that sets fewer than half of the backbone's randomly initialised
            weights.
    """
    path = Path(str(config.pretrained_file)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"pretrained_file not found: {path}")
    problem = weight_file_problem(path, read=True)
    if problem:
        raise PretrainedFileError(problem)
    before = torch.get_rng_state()
    # a filter acts on the logger that logs, not on its parents: timm's own, whatever their names
    timm_logs = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict) if n.startswith("timm")]
    for log in timm_logs:
        log.addFilter(_shortened)
    try:
        model = timm.create_model(config.backbone, pretrained=True, pretrained_cfg_overlay={"file": str(path)},
                                  **kwargs)
    except Exception as exc:  # timm/torch raise many types here; give the user one clear message
        raise PretrainedFileError(
            f"could not load weights from {path} into backbone {config.backbone!r} (is it the file of another "
            f"backbone? set network.backbone to the one it was made for): {short(exc)}") from exc
    finally:
        for log in timm_logs:
            log.removeFilter(_shortened)
    _check_loaded(model, config, kwargs, before, path)
    return model


def _shortened(record: logging.LogRecord) -> bool:
    """A log filter that cuts a long message to its first 300 characters."""
    text = record.getMessage()
    if len(text) > 300:
        record.msg, record.args = f"{text[:300]} … ({len(text) - 300} more characters)", None
    return True


def _check_loaded(model: nn.Module, config: NetworkConfig, kwargs: dict, rng: torch.Tensor, path: Path) -> None:
    """Refuse weights that left most of the backbone as it was initialised. The same backbone is built again from
    the same random state, without the file: a weight the file set differs from it."""
    with torch.random.fork_rng(devices=[]):  # the caller's random state goes on as if this never ran
        torch.set_rng_state(rng)
        fresh = dict(timm.create_model(config.backbone, pretrained=False, **kwargs).named_parameters())
    # only the randomly initialised tensors tell: a norm's ones and a bias's zeros may be what a file holds too
    drawn = [(p, fresh[name]) for name, p in model.named_parameters()
             if name in fresh and fresh[name].numel() > 1 and not torch.all(fresh[name] == fresh[name].flatten()[0])]
    changed = sum(1 for p, init in drawn if not torch.equal(p.detach(), init.detach()))
    if changed < len(drawn) / 2:
        raise PretrainedFileError(
            f"pretrained_file {path} set {changed} of the {len(drawn)} randomly initialised weight tensors of backbone "
            f"{config.backbone!r}: it holds another backbone's weights (or none); set network.backbone to the one it "
            "was made for")
