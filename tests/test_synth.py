"""Tests for the synthetic FMA micrograph generator (the models.data.synth package)."""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.commands import synth as synth_command
from models.data import synth
from models.data.manifest import unknown_label
from models.data.splits import split_counts
from models.data.synth.canvas import stable_hash
from models.data.synth.defect import MIX_MAX, sample_params
from models.data.synth.particles import PARTICLE
from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy, load_taxonomy

TAX = load_taxonomy(DEMO_TAXONOMY_PATH)
ALL_KINDS = [*TAX.leaves, *(unknown_label(name) for name in synth.UNKNOWN_TYPES)]
PLAIN = synth.Optics(
    offset=(0.0, 0.0), exposure=1.0, white_balance=(1.0, 1.0, 1.0), gradient=0.0, gradient_angle=0.0,
    vignette=0.0, gamma=1.0, blur_px=0.0, noise=0.0, shot=0.0, noise_seed=0,
)  # fmt: skip


def _read(manifest: Path) -> tuple[list[str], list[dict[str, str]]]:
    with manifest.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _scene(kind: str, index: int, difficulty: float = synth.DIFFICULTY) -> synth.Scene:
    rng = np.random.default_rng([11, stable_hash(kind), index])
    return synth.make_scene(kind, rng, difficulty=difficulty)


def _generic_taxonomy() -> dict:
    """A taxonomy whose leaves (but ``scratch``) have no built-in renderer."""

    def leaf(i: str) -> dict:
        return {"id": i, "name": {"en": i, "zh_TW": i}}

    return {
        "id": "other", "name": {"en": "o", "zh_TW": "o"},
        "children": [{"id": "g", "name": {"en": "g", "zh_TW": "g"}, "children": [
            {"id": "sa", "name": {"en": "sa", "zh_TW": "sa"}, "children": [leaf("x_one"), leaf("x_two")]},
            {"id": "sb", "name": {"en": "sb", "zh_TW": "sb"}, "children": [leaf("scratch"), leaf("y_new")]},
        ]}],
    }  # fmt: skip


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a"
    return synth.generate(
        out,
        TAX,
        per_class=10,
        seed=3,
        unknown_classes=2,
        unknown_per_class=3,
        magnifications=(5, 20),
        size=48,
    )


# ------------------------------------------------------------------------------ data set and manifest
def test_manifest_columns_paths_and_values(small_set: Path) -> None:
    header, rows = _read(small_set)
    assert header == ["path", "label", "magnification", "defect_bbox", "defect_size_px", "split"]
    assert small_set.read_text(encoding="utf-8").startswith("path,label,magnification,")
    assert len(rows) == (18 * 10 + 2 * 3) * 2
    for row in rows:
        assert "\\" not in row["path"] and not Path(row["path"]).is_absolute()
        image = small_set.parent / row["path"]
        assert image.is_file()
        assert row["path"].endswith(f"_{row['magnification']}x.png")
        assert row["magnification"] in {"5", "20"}
        x0, y0, x1, y1 = (int(v) for v in row["defect_bbox"].split(" "))
        assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48
        assert (
            row["defect_size_px"] == f"{float(row['defect_size_px']):.1f}"
            and float(row["defect_size_px"]) > 0
        )
        assert row["split"] in {"train", "val", "test"}
    with Image.open(small_set.parent / rows[0]["path"]) as im:
        assert im.size == (48, 48) and im.mode == "RGB"


def test_labels_and_stratified_splits(small_set: Path) -> None:
    _, rows = _read(small_set)
    by_label: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    assert set(by_label) == {
        *TAX.leaves,
        "unknown:" + synth.UNKNOWN_TYPES[0],
        "unknown:" + synth.UNKNOWN_TYPES[1],
    }
    for label, items in by_label.items():
        views = [r for r in items if r["magnification"] == "20"]
        counts = {s: sum(r["split"] == s for r in views) for s in ("train", "val", "test")}
        assert counts == (
            {"train": 7, "val": 2, "test": 1} if ":" not in label else {"train": 1, "val": 1, "test": 1}
        )
        # all views of one sample share a split (no leakage between magnifications)
        split_of = {}
        for r in items:
            sample = r["path"].rsplit("_", 1)[0]
            assert split_of.setdefault(sample, r["split"]) == r["split"]
    unknown_dirs = {Path(r["path"]).parts[1] for r in rows if r["label"].startswith("unknown:")}
    assert unknown_dirs == {"unknown_" + synth.UNKNOWN_TYPES[0], "unknown_" + synth.UNKNOWN_TYPES[1]}


def test_defect_size_scales_with_magnification(small_set: Path) -> None:
    _, rows = _read(small_set)
    size = {(r["path"].rsplit("_", 1)[0], r["magnification"]): float(r["defect_size_px"]) for r in rows}
    ratios = [size[(s, "20")] / size[(s, "5")] for (s, mag) in size if mag == "5" and size[(s, "5")] >= 5]
    assert ratios and all(abs(r - 4.0) < 0.1 for r in ratios)


def test_same_arguments_same_bytes_other_seed_differs(tmp_path: Path, small_set: Path) -> None:
    args = dict(per_class=10, unknown_classes=2, unknown_per_class=3, magnifications=(5, 20), size=48)
    again = synth.generate(tmp_path / "b", TAX, seed=3, **args)
    first, second = _tree_bytes(small_set.parent), _tree_bytes(again.parent)
    assert first.keys() == second.keys() and first == second
    tiny = dict(per_class=2, magnifications=(20,), size=48)
    one = _tree_bytes(synth.generate(tmp_path / "c", TAX, seed=1, **tiny).parent)
    other = _tree_bytes(synth.generate(tmp_path / "d", TAX, seed=2, **tiny).parent)
    assert one.keys() == other.keys()
    images = [k for k in one if k.endswith(".png")]
    assert sum(one[k] != other[k] for k in images) == len(images)


PINNED_PIXELS = "f785606fa9dfa4388cef3b13f1b6ab6dfea047a31bb69e71044c7845f86b9f58"
PINNED_MANIFEST = "ae3e994307647d6e9c6dbf30380409d51253de65c7cf9fe770925acacc35f5ca"
PINNED_GENERIC = {  # leaves of another taxonomy: image sha256, bbox, defect size in px (re-pinned for variants)
    "x_one": ("de4223352006447342dd49a5593b0f47d36e71e2549537ab994bec9c3c397641", (13, 14, 25, 31), 16.992526363312717),
    "y_new": ("7e5e41e5a04c8dd82b381dffcec45bacfe5c6cfe9f2ea92137658649ba454b83", (25, 0, 32, 48), 87.04144934171569),
}  # fmt: skip


def test_output_is_pinned(tmp_path: Path) -> None:
    """The same arguments give the same pixels and manifest as the generator did before it was split into
    modules (values computed with that code). Change the pins only for a deliberate change of the output
    (or a numpy/Pillow upgrade that changes the floating-point results), never to make a refactor pass."""
    manifest = synth.generate(
        tmp_path / "s", TAX, per_class=1, seed=7, size=32, unknown_classes=len(synth.UNKNOWN_TYPES),
        magnifications=(5, 20),
    )  # fmt: skip
    pixels = hashlib.sha256()
    for png in sorted(manifest.parent.rglob("*.png")):
        with Image.open(png) as image:
            pixels.update(png.relative_to(manifest.parent).as_posix().encode() + b"\0" + image.tobytes())
    assert pixels.hexdigest() == PINNED_PIXELS
    assert hashlib.sha256(manifest.read_bytes()).hexdigest() == PINNED_MANIFEST
    generic = Taxonomy.from_dict(_generic_taxonomy())
    for leaf, (digest, bbox, size_px) in PINNED_GENERIC.items():
        image, got_bbox, got_size = synth.render_sample(
            leaf, np.random.default_rng(5), magnification=20, size=48, taxonomy=generic
        )
        assert (hashlib.sha256(image.tobytes()).hexdigest(), got_bbox, got_size) == (digest, bbox, size_px)


def test_workers_do_not_change_the_output(tmp_path: Path) -> None:
    args = dict(per_class=3, seed=5, magnifications=(20,), size=40, unknown_classes=1)
    serial = synth.generate(tmp_path / "serial", TAX, workers=1, **args)
    parallel = synth.generate(tmp_path / "parallel", TAX, workers=2, **args)
    assert _tree_bytes(serial.parent) == _tree_bytes(parallel.parent)


def test_existing_output_refused_unless_overwrite(tmp_path: Path) -> None:
    args = dict(per_class=1, seed=0, size=32)
    synth.generate(tmp_path, TAX, **args)
    with pytest.raises(synth.SynthError, match="overwrite"):
        synth.generate(tmp_path, TAX, **args)
    stale = tmp_path / "images" / "scratch" / "stale.png"
    stale.write_bytes(b"x")
    synth.generate(tmp_path, TAX, overwrite=True, **args)
    assert not stale.exists() and (tmp_path / "manifest.csv").is_file()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(per_class=0), "per-class"),
        (dict(unknown_classes=len(synth.UNKNOWN_TYPES) + 1), "unknown-classes"),
        (dict(magnifications=(20, -5)), "magnification"),
        (dict(magnifications=()), "magnifications"),
        (dict(split=(0.5, 0.5)), "split"),
        (dict(size=4), "size"),
        (dict(seed=-1), "seed"),
        (dict(difficulty=1.5), "difficulty"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict, match: str) -> None:
    args = dict(per_class=1, seed=0, size=32) | kwargs
    with pytest.raises(synth.SynthError, match=match):
        synth.generate(tmp_path / "out", TAX, **args)
    assert not (tmp_path / "out" / "manifest.csv").exists()


def test_split_counts() -> None:
    assert split_counts(10, (0.7, 0.15, 0.15)) == [7, 2, 1]
    assert split_counts(3, (0.7, 0.15, 0.15)) == [1, 1, 1]
    assert split_counts(2, (0.7, 0.15, 0.15)) == [2, 0, 0]
    assert split_counts(100, (0.8, 0.2, 0.0)) == [80, 20, 0]
    assert sum(split_counts(37, (0.7, 0.15, 0.15))) == 37


def test_generic_leaves_of_another_taxonomy(tmp_path: Path) -> None:
    manifest = synth.generate(tmp_path, Taxonomy.from_dict(_generic_taxonomy()), per_class=2, seed=0, size=48)
    _, rows = _read(manifest)
    assert sorted({r["label"] for r in rows}) == ["scratch", "x_one", "x_two", "y_new"]
    with pytest.raises(synth.SynthError, match="no renderer"):
        synth.render_sample("x_one", np.random.default_rng(0), magnification=20, size=48)


def test_cli_arguments_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    synth_command.add_arguments(parser)
    args = parser.parse_args(
        [str(tmp_path / "out"), "--per-class", "1", "--seed", "4", "--unknown-classes", "2",
         "--magnifications", "5,20x,50", "--size", "32", "--workers", "1"]
    )  # fmt: skip
    assert synth_command.run(args) == 0
    assert "images" in capsys.readouterr().out
    _, rows = _read(tmp_path / "out" / "manifest.csv")
    assert len(rows) == 20 * 3 and {r["magnification"] for r in rows} == {"5", "20", "50"}
    one = parser.parse_args([str(tmp_path / "one"), "--per-class", "1", "--size", "32", "--workers", "1"])
    assert synth_command.run(one) == 0  # one image a leaf: every val and test split is empty, and it says so
    err = capsys.readouterr().err
    assert "synth: warning: 18 of 18 leaves have no val image (--per-class 1 is too few" in err
    assert "18 of 18 leaves have no test image" in err
    three = parser.parse_args([str(tmp_path / "three"), "--per-class", "3", "--size", "32", "--workers", "1"])
    assert synth_command.run(three) == 0 and "warning" not in capsys.readouterr().err  # one in each split
    bad = parser.parse_args([str(tmp_path / "bad"), "--split", "0.7,0.3"])
    with pytest.raises(synth.SynthError, match="split"):
        synth_command.run(bad)


def test_unknown_types_pick_named_types_for_disjoint_sets(tmp_path: Path) -> None:
    calib = synth.generate(tmp_path / "calib", per_class=1, seed=1, size=40, unknown_classes=2)
    chosen = synth.UNKNOWN_TYPES[3:5]
    test = synth.generate(tmp_path / "test", per_class=1, seed=2, size=40,
                          unknown_types=[chosen[0], "unknown:" + chosen[1]], unknown_per_class=2)  # fmt: skip
    unknown = lambda m: {r["label"] for r in _read(m)[1] if r["label"].startswith("unknown:")}  # noqa: E731
    assert unknown(calib) == {"unknown:" + n for n in synth.UNKNOWN_TYPES[:2]}
    assert unknown(test) == {"unknown:" + n for n in chosen}
    assert sum(r["label"].startswith("unknown:") for r in _read(test)[1]) == 4
    for kwargs, message in [
        (dict(unknown_types=["no_such_defect"]), "no_such_defect"),
        (dict(unknown_types=[chosen[0], chosen[0]]), "duplicates"),
        (dict(unknown_types=[chosen[0]], unknown_classes=2), "disagrees"),
    ]:
        with pytest.raises(synth.SynthError, match=message):
            synth.generate(tmp_path / "bad", per_class=1, seed=0, size=40, **kwargs)
    assert not (tmp_path / "bad").exists()
    parser = argparse.ArgumentParser()
    synth_command.add_arguments(parser)
    args = parser.parse_args([str(tmp_path / "cli"), "--per-class", "1", "--size", "32", "--workers", "1",
                              "--unknown-types", ",".join(chosen)])  # fmt: skip
    assert synth_command.run(args) == 0
    assert unknown(tmp_path / "cli" / "manifest.csv") == {"unknown:" + n for n in chosen}


# ------------------------------------------------------------------------------ rendering
@pytest.mark.parametrize("magnification", [5, 20, 50])
def test_every_leaf_and_unknown_renders(magnification: float) -> None:
    for i, kind in enumerate(ALL_KINDS):
        rng = np.random.default_rng([magnification, i])
        image, bbox, size_px = synth.render_sample(kind, rng, magnification=magnification, size=64)
        assert image.size == (64, 64) and image.mode == "RGB"
        x0, y0, x1, y1 = bbox
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64, (kind, bbox)
        assert math.isfinite(size_px) and size_px > 0
        assert np.asarray(image).std() > 3, kind  # a pattern, not a flat field


def test_render_sample_is_deterministic_and_unknown_prefix_optional() -> None:
    a = synth.render_sample("crack", np.random.default_rng(9), magnification=20, size=64)
    b = synth.render_sample("crack", np.random.default_rng(9), magnification=20, size=64)
    c = synth.render_sample("crack", np.random.default_rng(10), magnification=20, size=64)
    assert a[0].tobytes() == b[0].tobytes() and a[1:] == b[1:]
    assert a[0].tobytes() != c[0].tobytes()
    u1 = synth.render_sample("unknown:corrosion", np.random.default_rng(1), magnification=20, size=64)
    u2 = synth.render_sample("corrosion", np.random.default_rng(1), magnification=20, size=64)
    assert u1[0].tobytes() == u2[0].tobytes()
    with pytest.raises(synth.SynthError, match="no renderer"):
        synth.render_sample("not_a_defect", np.random.default_rng(0), magnification=20, size=64)
    assert len(synth.UNKNOWN_TYPES) >= 6 and not set(synth.UNKNOWN_TYPES) & set(TAX.leaves)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_defect_changes_pixels_inside_its_box(kind: str) -> None:
    for index in range(2):
        scene = _scene(kind, index)
        optics = synth.sample_optics(np.random.default_rng(index), 96)
        with_defect, bbox, _ = synth.render_view(scene, optics, magnification=20, size=96)
        without, _, _ = synth.render_view(scene, optics, magnification=20, size=96, with_defect=False)
        diff = np.abs(with_defect.astype(np.int16) - without.astype(np.int16)).mean(-1)
        x0, y0, x1, y1 = bbox
        inside = np.zeros(diff.shape, bool)
        inside[y0:y1, x0:x1] = True
        assert np.percentile(diff[inside], 98) > 6, (kind, index, bbox)
        if (~inside).any():
            assert diff[inside].mean() > 3 * diff[~inside].mean(), (kind, index, bbox)


def _period_near(gray: np.ndarray, expected: float) -> tuple[float, float]:
    """Lag of the row-averaged autocorrelation peak within [0.6, 1.5] x expected, and its height.

    Rows are correlated one by one (shift-invariant), so the pattern's slight rotation does not matter.
    """
    rows = gray - gray.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(rows, n=2 * rows.shape[1], axis=1)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, : rows.shape[1]].mean(0)
    acf = acf / acf[0]
    lo, hi = max(2, int(0.6 * expected)), min(rows.shape[1] // 2, int(1.5 * expected) + 1)
    lag = lo + int(np.argmax(acf[lo:hi]))
    return float(lag), float(acf[lag])


def test_pattern_pitch_scales_with_magnification() -> None:
    for index in range(3):
        scene = _scene("bubble", index)
        for mag in (5, 20, 50):
            img, _, _ = synth.render_view(scene, PLAIN, magnification=mag, size=256, with_defect=False)
            expected = scene.pattern.ps / (synth.field_of_view(mag) / 256)  # sub-pixel pitch in pixels
            lag, height = _period_near(img.astype(np.float32).mean(-1), expected)
            assert abs(lag / expected - 1) < 0.1 and height > 0.2, (index, mag, lag, expected, height)


def test_siblings_look_more_alike_than_cousins() -> None:
    """Mean features of a few samples per leaf (defect minus clean background) are closer within subgroups."""

    def features(kind: str, index: int) -> np.ndarray:
        scene = _scene(kind, 100 + index)
        optics = synth.sample_optics(np.random.default_rng(index), 96)
        a, bbox, size_px = synth.render_view(scene, optics, magnification=20, size=96)
        b, _, _ = synth.render_view(scene, optics, magnification=20, size=96, with_defect=False)
        d = a.astype(np.float32) - b.astype(np.float32)
        mag = np.abs(d).mean(-1)
        changed = mag > 8
        sel = d[changed] if changed.any() else np.zeros((1, 3), np.float32)
        gy, gx = np.gradient(mag)
        edge = float(np.hypot(gx, gy)[changed].mean()) if changed.any() else 0.0
        w, h = bbox[2] - bbox[0], bbox[3] - bbox[1]
        return np.array([
            math.log1p(size_px), math.log1p(changed.mean() * 1000), *(sel.mean(0) / 40), np.abs(sel).mean() / 40,
            math.log1p(edge), math.log(max(w, 1) / max(h, 1)) ** 2, sel.std(0).mean() / 40,
            float((sel.mean(-1) > 0).mean()),
        ])  # fmt: skip

    feats = {leaf: np.stack([features(leaf, i) for i in range(6)]) for leaf in TAX.leaves}
    every = np.concatenate(list(feats.values()))
    mu, sd = every.mean(0), every.std(0) + 1e-6
    centre = {leaf: ((f - mu) / sd).mean(0) for leaf, f in feats.items()}
    siblings, cousins = [], []
    for a, b in itertools.combinations(TAX.leaves, 2):
        dist = float(np.linalg.norm(centre[a] - centre[b]))
        (siblings if TAX.tree_distance(a, b) == 1 else cousins).append(dist)
    assert np.mean(siblings) < 0.9 * np.mean(cousins), (np.mean(siblings), np.mean(cousins))


def test_difficulty_blends_parameters_towards_siblings() -> None:
    own = PARTICLE["particle_metal"]

    def outside_share(difficulty: float) -> float:
        rng = np.random.default_rng(0)
        out = 0
        for _ in range(300):
            p = sample_params(PARTICLE, "particle_metal", rng, difficulty)
            out += any(not (lo - 1e-9 <= p[k] <= hi + 1e-9) for k, (lo, hi) in own.items())
        return out / 300

    assert outside_share(0.0) == 0.0
    assert outside_share(1.0) > 0.5
    assert MIX_MAX < 1.0  # a sample never becomes fully its sibling


# ------------------------------------------------------------------------------ regimes (#14)
def test_grayscale_long_tail_regime(tmp_path: Path) -> None:
    """--grayscale writes 'L' PNGs; --long-tail gives falling counts with every leaf in val and test."""
    manifest = synth.generate(tmp_path, TAX, per_class=36, seed=1, size=16, long_tail=0.1, grayscale=True)
    _, rows = _read(manifest)
    counts = {leaf: sum(r["label"] == leaf for r in rows) for leaf in TAX.leaves}
    expected = [max(3, round(36 * 0.1 ** (k / 17))) for k in range(18)]
    assert sorted(counts.values(), reverse=True) == expected  # geometric, from 36 down to 4
    assert max(counts.values()) == 36 and min(counts.values()) < 30
    assert list(counts.values()) == synth.long_tail_counts(18, 36, 0.1, seed=1)
    for leaf in TAX.leaves:
        splits = {r["split"] for r in rows if r["label"] == leaf}
        assert {"val", "test"} <= splits, (leaf, counts[leaf], splits)
    for row in rows[:: len(rows) // 5]:
        with Image.open(tmp_path / row["path"]) as image:
            assert image.mode == "L" and image.size == (16, 16)


def test_long_tail_profile_follows_the_seed() -> None:
    one = synth.long_tail_counts(18, 200, 0.1, seed=3)
    assert one == synth.long_tail_counts(18, 200, 0.1, seed=3)
    other = synth.long_tail_counts(18, 200, 0.1, seed=4)
    assert other != one and sorted(other) == sorted(one)  # another leaf is rare, the same profile
    assert max(one) == 200 and min(one) == 20
    assert synth.long_tail_counts(4, 10, 1.0, seed=0) == [10] * 4
    assert min(synth.long_tail_counts(5, 10, 0.01, seed=0)) == 3  # one image per split at least
    for bad in (0.0, -0.5, 1.5, math.nan):
        with pytest.raises(synth.SynthError, match="long-tail"):
            synth.long_tail_counts(5, 10, bad, seed=0)


def _column_chroma_share(img: np.ndarray) -> float:
    """How much of the red-green contrast is constant down each column (1: vertical stripes)."""
    chroma = img[..., 0].astype(np.float64) - img[..., 1]
    return float(chroma.mean(axis=0).std() / chroma.std())


def test_pentile_pattern_differs_from_stripes() -> None:
    from dataclasses import replace

    shares = {"stripes": [], "pentile": []}
    for index in range(3):
        for layout in shares:
            rng = np.random.default_rng([11, index])
            scene = synth.make_scene("bubble", rng, pattern=layout)
            scene.pattern = replace(scene.pattern, angle=0.0)  # columns along the sub-pixel rows
            img, _, _ = synth.render_view(scene, PLAIN, magnification=20, size=128, with_defect=False)
            shares[layout].append(_column_chroma_share(img))
    # stripes: a column is one colour; pentile: R, G and B take turns down a column
    assert min(shares["stripes"]) > 0.8 and max(shares["pentile"]) < 0.4, shares
    with pytest.raises(synth.SynthError, match="--pattern"):
        synth.make_scene("bubble", np.random.default_rng(0), pattern="hexagons")


def test_cli_regime_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    synth_command.add_arguments(parser)
    args = parser.parse_args(
        [str(tmp_path / "out"), "--per-class", "6", "--seed", "2", "--size", "16", "--workers", "1",
         "--pattern", "pentile", "--grayscale", "--long-tail", "0.5"]
    )  # fmt: skip
    assert (args.pattern, args.grayscale, args.long_tail) == ("pentile", True, 0.5)
    assert synth_command.run(args) == 0
    assert "long tail, images per leaf 3..6" in capsys.readouterr().out
    _, rows = _read(tmp_path / "out" / "manifest.csv")
    assert len(rows) == sum(synth.long_tail_counts(18, 6, 0.5, seed=2))
    with Image.open(tmp_path / "out" / rows[0]["path"]) as image:
        assert image.mode == "L"
    with pytest.raises(SystemExit):
        parser.parse_args([str(tmp_path / "x"), "--pattern", "hexagons"])
