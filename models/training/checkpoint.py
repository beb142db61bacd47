"""Checkpoints (safetensors + JSON, never a pickle), resuming, the best epoch's weights, and starting from a bundle."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from models.bundle.manifest import InitFrom
from models.nn.network import HierarchicalNet
from models.taxonomy import Taxonomy
from models.training.config import ConfigError, TrainConfig

Log = Callable[[str], None]


def save_checkpoint(folder: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_state = opt.state_dict()
    for pid, st in opt_state["state"].items():
        for k, v in st.items():
            tensors[f"opt.{pid}.{k}"] = torch.as_tensor(v).detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    tmp = folder / "state.safetensors.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, folder / "state.safetensors")
    groups = [{k: v for k, v in g.items() if k != "params"} | {"params": g["params"]} for g in opt_state["param_groups"]]
    (folder / "state.json.tmp").write_text(json.dumps({**state, "param_groups": groups}, indent=1), encoding="utf-8")
    os.replace(folder / "state.json.tmp", folder / "state.json")


RESUME_FREE = frozenset({"num_workers", "init_from", "device"})
"""Config keys ``--resume`` lets differ from the interrupted run's: how the data is read, the start's path as typed
(the checkpoint holds the weights and names the start), and the device (another GPU of the machine)."""


def refuse_finished(out: Path) -> None:
    """``--resume`` of ``out``: a :class:`ConfigError` when it holds no checkpoint, or a finished run (its bundle
    written: resuming it dropped the bundle's calibration). Said before any data is read."""
    from models.bundle.files import MANIFEST_NAME

    if not (out / "checkpoint" / "state.json").exists():
        raise ConfigError(f"--resume: no checkpoint in {out / 'checkpoint'}")
    if (out / MANIFEST_NAME).exists():
        raise ConfigError(f"--resume: the run in {out} finished and wrote its model ({MANIFEST_NAME}): nothing to "
                          f"resume. To train it further, --init-from {out} with another --out; --overwrite trains "
                          "it again from the start")


def check_resumable(out: Path, config: dict[str, Any], data_sha: str) -> None:
    """``--resume`` continues the run interrupted in ``out`` with the same config (``config``: the new run's, its
    data-aware choices made) and data (``data_sha``, "" when unknown), or raises a :class:`ConfigError` that names
    what differs: a run resumed with another learning rate, input size or data would be recorded as the one run it
    was not. A finished run, whose bundle is written, has nothing to resume (resuming it dropped the bundle's
    calibration)."""
    folder = out / "checkpoint"
    refuse_finished(out)
    try:
        saved = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot resume: checkpoint in {folder} is missing or damaged ({exc})") from exc
    differ = _differences(saved.get("config") or {}, config)
    if saved.get("data_sha") and data_sha and saved["data_sha"] != data_sha:  # (a new seed splits the data anew)
        differ.append("the data: other images, labels or split (files added, removed, relabelled or changed; "
                      "without a split column, another seed or outlier weight splits or picks them anew)")
    if differ:
        raise ConfigError(f"--resume continues the run in {out} as it was started; these differ from it: "
                          + "; ".join(differ[:6]) + (f" (and {len(differ) - 6} more)" if len(differ) > 6 else "")
                          + ". Give the same --config, --set values and --data, or train again with --overwrite")


def _differences(then: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    """``key: X then, Y now`` for every config value (dotted for nested ones) that differs, but :data:`RESUME_FREE`."""
    out = []
    for key in sorted(set(then) | set(now)):
        name = f"{prefix}{key}"
        if name in RESUME_FREE:
            continue
        a, b = then.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{name}.")
        elif a != b and not (isinstance(a, list | tuple) and isinstance(b, list | tuple) and list(a) == list(b)):
            out.append(f"{name}: {a!r} then, {b!r} now")
    return out


def checkpoint_taxonomy(out: Path) -> Taxonomy | None:
    """The tree an interrupted run in ``out`` was training, as its checkpoint keeps it (None: none kept, or no
    checkpoint): a ``--resume`` needs it when the run took its tree from a bundle that has moved since."""
    try:
        kept = json.loads((out / "checkpoint" / "state.json").read_text(encoding="utf-8")).get("taxonomy")
    except (OSError, ValueError):
        return None
    return Taxonomy.from_dict(kept, source=str(out / "checkpoint" / "state.json")) if kept else None


def same_tree(kept: Taxonomy | None, tree: Taxonomy, source: Path) -> Taxonomy:
    """``tree`` (read from ``source``), unless a resumed run's checkpoint ``kept`` another: a tree edited between
    the interruption and ``--resume`` would have trained heads of one tree on another's levels without a word.

    Raises:
        ConfigError: the two trees differ in their nodes or links.
    """
    if kept is not None and kept.fingerprint() != tree.fingerprint():
        raise ConfigError(f"--resume: the tree at {source} is not the one this run started with (its checkpoint keeps "
                          "that one): put the file back as it was, or train anew (--overwrite, or another --out)")
    return tree


def load_checkpoint(folder: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict[str, Any]:
    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        tensors = load_file(str(folder / "state.safetensors"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot resume: checkpoint in {folder} is missing or damaged ({exc})") from exc
    model_sd = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(model_sd, strict=True)
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            opt_state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": opt_state, "param_groups": state.pop("param_groups")})
    torch.set_rng_state(tensors["rng.torch"])
    return state


def save_weights(path: Path, model: torch.nn.Module) -> None:
    """The model's weights alone (the best epoch so far), as safetensors."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(path))


def load_weights(path: Path, model: torch.nn.Module) -> None:
    model.load_state_dict(load_file(str(path)))


def init_from_bundle(model: HierarchicalNet, cfg: TrainConfig, taxonomy: Taxonomy, log: Log) -> InitFrom:
    """Copy the weights of the bundle ``cfg.init_from`` into ``model`` (safetensors only, never a pickle).

    Raises:
        ConfigError: the bundle cannot be read, or its taxonomy or network differs from the config's.
    """
    from models.bundle.io import BundleError, load_bundle

    if not isinstance(cfg.init_from, str) or not cfg.init_from.strip():
        raise ConfigError(f"init_from must be the path of a model bundle, got {cfg.init_from!r}")
    path = Path(cfg.init_from).expanduser()
    try:
        source = load_bundle(path)
    except BundleError as exc:
        raise ConfigError(f"init_from: {exc}") from exc
    if source.taxonomy.fingerprint() != taxonomy.fingerprint():
        raise ConfigError(f"init_from: {path} was trained on another taxonomy "
                          f"({source.taxonomy.id} v{source.taxonomy.version}); its weights do not fit this run's "
                          f"({taxonomy.id} v{taxonomy.version})")
    # The typed configs, not their dicts: cbam is the mode ("none", "blocks", "stages") whether the manifest or the
    # config said it as the older true/false.
    theirs, ours = source.manifest.network, cfg.network
    # Stage CBAMs may be added to a bundle without them: they start as a uniform gate (a 1.25x scale of each stage's
    # output, models.nn.cbam), so the network starts close to the bundle's and learns its attention from there.
    adds_cbam = theirs.cbam == "none" and ours.cbam == "stages"
    differ = [k for k in ("backbone", "head", "cbam", "head_dim", "backbone_kwargs")
              if (getattr(theirs, k) or None) != (getattr(ours, k) or None) and not (k == "cbam" and adds_cbam)]
    if differ:
        raise ConfigError("init_from: the network differs from the bundle's: " + ", ".join(
            f"{k} {getattr(ours, k)!r} here, {getattr(theirs, k)!r} in {path}" for k in differ)
            + ". Without --config, train takes the bundle's own tree, network and input size (the training recipe "
              "is then the defaults'); or give the config it was trained with")
    try:
        missing, unexpected = model.load_state_dict({k: v.float() if v.is_floating_point() else v
                                                     for k, v in source.model.state_dict().items()}, strict=False)
    except RuntimeError as exc:
        raise ConfigError(f"init_from: the weights of {path} do not fit this network ({str(exc)[:300]})") from exc
    new = [k for k in missing if adds_cbam and k.startswith("backbone.cbam_stages.")]
    if unexpected or len(new) != len(missing):
        wrong = [k for k in missing if k not in new] + list(unexpected)
        raise ConfigError(f"init_from: the weights of {path} do not fit this network ({len(wrong)} key(s) differ: "
                          f"{', '.join(wrong[:5])})")
    log(f"starting from the weights of {path} ({source.model_version})"
        + (f", with a CBAM after each backbone stage added ({len(new)} new tensors)" if new else ""))
    if source.manifest.spectrum is not None:  # (the retraining loop lost it without a word: team walk-through)
        log(f"warning: {path} has an FTIR spectrum head; this run trains the image model alone, so the new bundle "
            "judges from images only until the head is fitted again: fma-model spectrum NEW_BUNDLE --data "
            "SPECTRA_MANIFEST (README, 'FTIR spectra')")
    return InitFrom(path=str(path), model_version=source.model_version)
