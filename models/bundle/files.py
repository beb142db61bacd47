"""Reading and writing a bundle's files without torch: the manifest of a folder or ``.zip``, its raw weights.

:mod:`models.bundle.io` rebuilds the network from these (and writes new bundles); the app reads a manifest
through here before any weights load, so the names of its taxonomy are on screen at once.
"""

from __future__ import annotations

import contextlib
import json
import re
import zipfile
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path

from models.atomic import write_text
from models.bundle.manifest import BundleError, BundleManifest
from models.nn.config import PICKLE_SUFFIXES

MANIFEST_NAME = "manifest.json"
WEIGHTS_NAME = "weights.safetensors"
SPECTRUM_HEAD_NAME = "spectrum_head.safetensors"
"""The spectrum head beside the weights (:mod:`models.bundle.spectrum`, issue #20)."""
STAMPED_NAMES = (MANIFEST_NAME, WEIGHTS_NAME, SPECTRUM_HEAD_NAME)
"""The files of a bundle folder whose change on disk a loaded model's user is told of (a recalibration, a
retraining into it)."""
ARCHIVE_SUFFIXES = frozenset({".zip", ".fmab"})
MAX_MANIFEST_BYTES = 64 * 2**20
"""The largest manifest.json read. A calibrated manifest of a big backbone and tree holds tens of MB of unknown-score
statistics (one row of 2 x channels numbers per leaf and stage, written indented); a bigger file is not a manifest."""
MAX_JSON_DEPTH = 32
"""The deepest nesting of arrays and objects in a manifest (the demo's, with a 3-level taxonomy, is 9; each further
level of a taxonomy adds 2)."""
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def bundle_stamp(folder: str | Path) -> tuple[tuple[str, int | None, int | None], ...]:
    """Each of :data:`STAMPED_NAMES`'s modification time (ns) and size in a bundle folder (None, None: missing).

    Two stamps of one folder differ when `calibrate`, `recalibrate` or a training into it rewrote a file.
    """
    out = []
    for name in STAMPED_NAMES:
        try:
            st = (Path(folder) / name).stat()
            out.append((name, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((name, None, None))
    return tuple(out)


def manifest_text(manifest: BundleManifest) -> str:
    """The manifest.json text of ``manifest``, checked as loading will check it (a bundle is never written that
    cannot be read back).

    Raises:
        BundleError: a field that loading would refuse.
    """
    text = json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n"
    BundleManifest.from_json(json.loads(text), source=f"the manifest to write ({manifest.name})")
    return text


def write_bundle_manifest(path: str | Path, manifest: BundleManifest) -> BundleManifest:
    """Replace a bundle folder's manifest (calibration and optimisation add to it); written atomically.

    Raises:
        BundleError: an archive (read-only), or the file cannot be written.
    """
    path = Path(path)
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        raise BundleError(f"{path}: archives are read-only; extract the bundle to a folder to update it")
    try:
        write_text(path / MANIFEST_NAME, manifest_text(manifest))
    except OSError as exc:
        raise BundleError(f"cannot write {path / MANIFEST_NAME}: {exc}") from exc
    return manifest


KEPT_MANIFESTS = 5
"""How many copies :func:`keep_previous_manifest` keeps of one kind (a weekly recalibration of a 150-leaf bundle
left a half-megabyte copy each time, for ever); the oldest go."""


def keep_previous_manifest(path: str | Path, why: str) -> Path | None:
    """Copy a bundle folder's manifest to ``manifest.json.before-<why>-<UTC time>`` before a command replaces
    what it holds (a calibration that came out worse is undone by copying it back); None when there is none.
    The newest :data:`KEPT_MANIFESTS` copies of ``why`` stay, older ones are deleted.

    Raises:
        BundleError: the copy cannot be written (then the command must not replace the manifest either).
    """
    source = Path(path) / MANIFEST_NAME
    if not source.is_file():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target, n = source.with_name(f"{MANIFEST_NAME}.before-{why}-{stamp}"), 1
    while target.exists():  # two runs in one second: each keeps its own
        n += 1
        target = source.with_name(f"{MANIFEST_NAME}.before-{why}-{stamp}-{n}")
    try:
        write_text(target, source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BundleError(f"cannot keep a copy of {source} before {why} ({exc}); nothing was changed") from exc
    # Only this function's own names go, oldest stamp first ("…-101010" before "…-101010-2"), never the copy just
    # made (a bundle from a machine whose clock ran ahead has newer stamps) nor one renamed by hand; a copy that
    # cannot be deleted just stays.
    pattern = re.compile(re.escape(f"{MANIFEST_NAME}.before-{why}-") + r"(\d{8}-\d{6})(?:-(\d+))?")
    own = sorted((m.group(1), int(m.group(2) or 1), p) for p in source.parent.iterdir()
                 if p != target and (m := pattern.fullmatch(p.name)))
    for *_stamp, old in own[:max(0, len(own) - (KEPT_MANIFESTS - 1))]:
        with contextlib.suppress(OSError):
            old.unlink()
    return target


def read_parts(path: Path, weights: bool = True) -> tuple[str, bytes | None]:
    """Return (manifest text, weights bytes or None) from a folder or archive; ``weights`` False: the manifest only
    (the weights, 110 MB for a ConvNeXt-T, were read at every manifest look-up: a window's poll of the team model)."""
    read_weights = weights
    if not path.exists():
        raise BundleError(f"model bundle not found: {path}")
    suffix = path.suffix.lower()
    if path.is_file():
        if suffix in PICKLE_SUFFIXES:
            raise BundleError(
                f"{path} looks like a pickle checkpoint; fma-judge never unpickles model files. "
                f"A model bundle is a folder (or .zip) with {WEIGHTS_NAME} and {MANIFEST_NAME}."
            )
        if not zipfile.is_zipfile(path):
            raise BundleError(
                f"{path} is not a model bundle: expected a folder or .zip with {WEIGHTS_NAME} and {MANIFEST_NAME}"
            )
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                if MANIFEST_NAME not in names:
                    raise BundleError(f"{path}: archive has no {MANIFEST_NAME}")
                _check_size(zf.getinfo(MANIFEST_NAME).file_size, path)
                text = zf.read(MANIFEST_NAME).decode("utf-8")
                weights = zf.read(WEIGHTS_NAME) if read_weights and WEIGHTS_NAME in names else None
        except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as exc:
            raise BundleError(f"{path}: corrupted bundle archive ({exc})") from exc
        return text, weights
    manifest_file = path / MANIFEST_NAME
    if not manifest_file.is_file():
        pickles = sorted(p.name for p in path.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        hint = f" (found {', '.join(pickles)}: pickle files are never loaded)" if pickles else ""
        raise BundleError(f"{path}: not a model bundle, {MANIFEST_NAME} is missing{hint}")
    try:
        _check_size(manifest_file.stat().st_size, path)
        text = manifest_file.read_text(encoding="utf-8")
        weights_file = path / WEIGHTS_NAME
        weights = weights_file.read_bytes() if read_weights and weights_file.is_file() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: cannot read bundle ({exc})") from exc
    return text, weights


def read_member(path: Path, name: str) -> bytes:
    """The bytes of one file of a bundle folder or archive (the spectrum head ...).

    Raises:
        BundleError: the bundle has no such file, or it cannot be read.
    """
    try:
        if path.is_file():
            with zipfile.ZipFile(path) as zf:
                if name not in zf.namelist():
                    raise BundleError(f"{path}: archive has no {name}")
                return zf.read(name)
        member = path / name
        if not member.is_file():
            raise BundleError(f"{path}: {name} is missing")
        return member.read_bytes()
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{path}: cannot read {name} ({exc})") from exc


def _check_size(size: int, path: Path) -> None:
    if size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{path}/{MANIFEST_NAME}: {size / 2**20:.1f} MiB is too big for a bundle manifest "
                          f"(at most {MAX_MANIFEST_BYTES // 2**20} MiB)")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in the JSON ``text``, counted without parsing it (strings skipped)."""
    brackets = _JSON_STRING.sub("", text).encode("utf-8", "replace").translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def parse_manifest(text: str, path: Path) -> BundleManifest:
    """Parse and check a manifest's text; ``path`` is the bundle, named in every message.

    Raises:
        BundleError: too deeply nested (checked before parsing: never a RecursionError), not JSON, or not a valid
            manifest (:meth:`BundleManifest.from_json`).
    """
    source = f"{path}/{MANIFEST_NAME}"
    text = text.removeprefix("\ufeff")  # saved by Windows Notepad ("Unexpected UTF-8 BOM" refused it)
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise BundleError(f"{source}: JSON nested {depth} levels deep; a bundle manifest has at most {MAX_JSON_DEPTH}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{source}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise BundleError(f"{source}: unreadable JSON ({exc})") from exc
    return BundleManifest.from_json(data, source=source)


def read_bundle_manifest(path: str | Path) -> BundleManifest:
    """Read and validate only the manifest of a bundle (cheap: no weights, no network)."""
    path = Path(path)
    text, _ = read_parts(path, weights=False)
    return parse_manifest(text, path)


def damaged_files(folder: str | Path, manifest: BundleManifest) -> list[str]:
    """The files of a bundle folder, or the members of a bundle archive, that do not match the sha256 its manifest
    records (empty when all do): the weights, the spectrum head, the runtime graphs (of which
    loading reads only the prediction's: a damaged "Why this type?" graph passed, and failed on the analyst's W)
    and whether the weights are those the graphs were made from. Read whole: seconds for a large backbone.
    ``fma-judge deploy`` refuses such a bundle (a truncated weights file was deployed to the whole team) and the
    self-test reports it."""
    from models.hashing import file_sha256

    folder = Path(folder)
    if folder.is_file():  # an archive: its members, each streamed (a zip with a damaged weights member deployed)
        return _damaged_members(folder, manifest)
    if not folder.is_dir():
        return []
    hashes: dict[str, str | None] = {}

    def sha(name: str) -> str | None:  # None: missing, no regular file of the folder, or unreadable (said once)
        if name not in hashes:
            path = folder / name
            if Path(name).name != name or not path.is_file():  # (a manifest naming /dev/zero hung the check)
                hashes[name] = None
                wrong.append(f"{name} is missing or is not a file of the bundle")
                return None
            try:
                hashes[name] = file_sha256(path)
            except OSError as exc:
                hashes[name] = None
                wrong.append(f"{name} cannot be read ({exc.strerror or exc})")
        return hashes[name]

    wrong: list[str] = []
    weights = manifest.weights
    runtime_only = manifest.runtime is not None and not (folder / WEIGHTS_NAME).exists()  # (its graphs are checked)
    if weights is not None and weights.sha256 and not runtime_only and (got := sha(weights.file)) is not None \
            and got != weights.sha256:
        wrong.append(f"{weights.file} is corrupted or was modified (sha256 differs from the manifest's)")
    if manifest.spectrum is not None and (got := sha(manifest.spectrum.file)) is not None \
            and got != manifest.spectrum.sha256:
        wrong.append(f"{manifest.spectrum.file} does not match the sha256 in manifest.json")
    runtime = manifest.runtime
    if runtime is not None:
        for graph in (runtime.predict, runtime.heatmap):
            if graph is not None and (got := sha(graph.file)) is not None and got != graph.sha256:
                wrong.append(f"{graph.file} does not match the sha256 in manifest.json")
        if (folder / WEIGHTS_NAME).is_file() and runtime.weights_sha256 and \
                sha(WEIGHTS_NAME) not in (None, runtime.weights_sha256):
            wrong.append(f"{WEIGHTS_NAME} is not the weights its runtime graphs were made from")
    return wrong


def _damaged_members(archive: Path, manifest: BundleManifest) -> list[str]:
    """:func:`damaged_files` for a bundle archive: each member the manifest vouches for, hashed as it is read."""
    import hashlib

    expected = {manifest.weights.file: manifest.weights.sha256} if manifest.weights and manifest.weights.sha256 \
        else {}
    if manifest.spectrum is not None:
        expected[manifest.spectrum.file] = manifest.spectrum.sha256
    if manifest.runtime is not None:
        expected.update({g.file: g.sha256 for g in (manifest.runtime.predict, manifest.runtime.heatmap) if g})
    wrong = []
    try:
        with zipfile.ZipFile(archive) as zf:
            names = set(zf.namelist())
            for name, want in expected.items():
                if name not in names:
                    wrong.append(f"{name} is missing from the archive")
                    continue
                digest = hashlib.sha256()
                with zf.open(name) as member:
                    for chunk in iter(lambda m=member: m.read(1 << 20), b""):
                        digest.update(chunk)
                if digest.hexdigest() != want:
                    wrong.append(f"{name} does not match the sha256 in manifest.json")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:  # (a CRC error is a BadZipFile)
        wrong.append(f"the archive cannot be read ({exc})")
    return wrong
