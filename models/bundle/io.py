"""Model bundles on disk: ``weights.safetensors`` + ``manifest.json``, in a folder or a zip archive.

A bundle is everything needed to rebuild and run a trained model, and nothing
that can execute code: weights are read with :mod:`safetensors` only (never
unpickled) and the manifest is plain JSON, parsed into the typed
:class:`models.bundle.manifest.BundleManifest` (the taxonomy, the network/loss
configuration, the preprocessing, the training provenance and the metrics, plus
the optional calibration and measured inference path added later by
``fma-model calibrate`` and ``fma-model optimize``).

Loading refuses, with a message that names the problem:
- a missing path, folder without ``manifest.json`` or ``weights.safetensors``;
- a pickle checkpoint (``.pt``/``.pth``/``.ckpt``) handed over as a bundle;
- an unknown ``format_version``;
- weights whose sha256 differs from the manifest's (corrupted or modified);
- a taxonomy that does not match the shapes of the weights.
"""

from __future__ import annotations

import datetime as _dt
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from models.atomic import write_text
from models.bundle.files import (
    ARCHIVE_SUFFIXES,
    MANIFEST_NAME,
    WEIGHTS_NAME,
    manifest_text,
    parse_manifest,
    read_parts,
)
from models.bundle.manifest import BundleError, BundleManifest, TrainInfo, WeightsInfo
from models.hashing import sha256_hex
from models.nn.config import LossConfig
from models.nn.network import HierarchicalNet, build_network
from models.taxonomy import Taxonomy


@dataclass
class LoadedBundle:
    """A bundle read from disk: the rebuilt network (eval mode), its typed manifest and where it came from."""

    model: HierarchicalNet
    manifest: BundleManifest
    path: Path

    @property
    def taxonomy(self) -> Taxonomy:
        return self.manifest.taxonomy

    @property
    def model_version(self) -> str:
        return self.manifest.model_version

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the network expects."""
        return self.manifest.hw


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def make_model_version(name: str, weights_sha: str, created: str) -> str:
    """A readable, unique version id: ``<name>-<yyyymmddHHMMSS>-<sha8>``."""
    stamp = created.replace("-", "").replace(":", "").replace("T", "")[:14]
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "model"
    return f"{safe}-{stamp}-{weights_sha[:8]}"


def build_manifest(
    *,
    model: HierarchicalNet,
    taxonomy: Taxonomy,
    data_config: Mapping[str, Any],
    loss: LossConfig | None = None,
    train: TrainInfo | None = None,
    metrics: Mapping[str, Any] | None = None,
    name: str = "fma-model",
) -> BundleManifest:
    """The manifest of ``model`` (without the weights hash and version, which :func:`save_bundle` adds).

    Args:
        data_config: ``input_size`` (C, H, W), ``mean``, ``std`` and optionally ``interpolation`` (timm's
            data config, see :func:`models.nn.network.resolve_data_config`).
    """
    return BundleManifest(
        name=name,
        taxonomy=taxonomy,
        network=model.config,
        loss=loss or LossConfig(),
        input_size=tuple(int(v) for v in data_config["input_size"]),
        mean=tuple(float(v) for v in data_config["mean"]),
        std=tuple(float(v) for v in data_config["std"]),
        interpolation=str(data_config.get("interpolation", "bicubic")),
        train=train or TrainInfo(),
        metrics=dict(metrics or {}),
    )


def _state_dict_bytes(model: torch.nn.Module, half: bool) -> bytes:
    tensors: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        t = value.detach().to("cpu").contiguous()
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        tensors[key] = t
    return st_save(tensors, metadata={"format": "pt"})


def save_bundle(
    out: str | Path,
    model: HierarchicalNet,
    manifest: BundleManifest,
    *,
    half: bool = False,
    archive: bool | None = None,
) -> Path:
    """Write a bundle folder (or a ``.zip`` archive when ``out`` ends in .zip / ``archive=True``).

    Args:
        out: destination folder or archive path; an existing folder's two files are replaced.
        model: the trained network.
        manifest: from :func:`build_manifest`; ``created``, ``model_version`` and ``weights`` are filled in.
        half: store floating-point weights as float16 (halves the size; loading casts back to float32).
        archive: force (True) or forbid (False) the zip form; default decided by the suffix.

    Returns:
        The path written.
    """
    out = Path(out)
    data = _state_dict_bytes(model, half)
    sha = sha256_hex(data)
    created = manifest.created or _now_iso()
    manifest = manifest.replace(
        created=created,
        model_version=manifest.model_version or make_model_version(manifest.name, sha, created),
        weights=WeightsInfo(file=WEIGHTS_NAME, sha256=sha, dtype="float16" if half else "float32", bytes=len(data)),
    )
    text = manifest_text(manifest)
    as_archive = archive if archive is not None else out.suffix.lower() in ARCHIVE_SUFFIXES
    try:
        if as_archive:
            out.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr(MANIFEST_NAME, text)
                zf.writestr(WEIGHTS_NAME, data)
        else:
            out.mkdir(parents=True, exist_ok=True)
            (out / WEIGHTS_NAME).write_bytes(data)
            write_text(out / MANIFEST_NAME, text)
    except OSError as exc:
        raise BundleError(f"cannot write model bundle {out}: {exc}") from exc
    return out


def _check_shapes(model: torch.nn.Module, tensors: Mapping[str, torch.Tensor], path: Path, taxonomy: Taxonomy) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    mismatched = [
        f"{k}: weights {tuple(tensors[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in tensors and tuple(tensors[k].shape) != tuple(expected[k].shape)
    ]
    if not (missing or unexpected or mismatched):
        return
    parts = [f"{path}: the weights do not match the manifest's network/taxonomy "
             f"(taxonomy {taxonomy.id!r}: level sizes {taxonomy.level_sizes})."]
    if mismatched:
        parts.append("Shape mismatch: " + "; ".join(mismatched[:5]) + (" ..." if len(mismatched) > 5 else ""))
    if missing:
        parts.append(f"Missing tensors: {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
    if unexpected:
        parts.append(f"Unexpected tensors: {', '.join(unexpected[:5])}" + (" ..." if len(unexpected) > 5 else ""))
    raise BundleError(" ".join(parts))


def load_bundle(path: str | Path, *, device: str | torch.device = "cpu") -> LoadedBundle:
    """Load a bundle and rebuild its network, in eval mode, on ``device``.

    Never executes code from the bundle: JSON and safetensors only.

    Raises:
        BundleError: with a message naming what is wrong (see the module docstring).
    """
    path = Path(path)
    text, weights = read_parts(path)
    manifest = parse_manifest(text, path)
    if weights is None:
        raise BundleError(f"{path}: {WEIGHTS_NAME} is missing")
    if manifest.weights is not None and manifest.weights.sha256 and sha256_hex(weights) != manifest.weights.sha256:
        raise BundleError(
            f"{path}: {WEIGHTS_NAME} is corrupted or was modified (sha256 differs from the manifest's)"
        )
    try:
        tensors = st_load(weights)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise BundleError(f"{path}: {WEIGHTS_NAME} is not a valid safetensors file ({exc})") from exc
    try:
        model = build_network(manifest.network, manifest.taxonomy, load_pretrained=False)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise BundleError(f"{path}: cannot rebuild the network from the manifest: {exc}") from exc
    _check_shapes(model, tensors, path, manifest.taxonomy)
    float_dtype = next((v.dtype for v in model.state_dict().values() if v.is_floating_point()), torch.float32)
    tensors = {k: (v.to(float_dtype) if v.is_floating_point() else v) for k, v in tensors.items()}
    model.load_state_dict(tensors, strict=True)
    model.eval().to(device)
    return LoadedBundle(model=model, manifest=manifest, path=path)
