"""Curation funnel, split (stratified, deterministic, duplicate-safe) and the curate command."""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from PIL import Image

from models.commands.curate import add_arguments, run
from models.data.curate import DEFAULT_MAG_PATTERN, curate, magnification_from_name
from models.data.manifest import DataError, Sample, UnknownLabelsError, read_manifest
from models.data.splits import split_files, split_samples
from models.hashing import file_sha256
from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.from_yaml(DEMO_TAXONOMY_PATH)


def S(
    name: str, label: str, mag: float | None = None, size: float | None = None, split: str | None = None
) -> Sample:
    return Sample(Path("/data") / name, label, magnification=mag, defect_size_px=size, split=split)


def name_hash(path: Path) -> str:
    """Content hash stand-in for samples without files: the stem before any '~copy' suffix."""
    return path.stem.split("~")[0]


def hand_built_set() -> list[Sample]:
    samples: list[Sample] = []
    # scratch: 12 at 20x from the column (sizes 10..21), 3 at 5x
    samples += [S(f"scratch_{i}.png", "scratch", 20, 10 + i) for i in range(12)]
    samples += [S(f"scratch_lo_{i}.png", "scratch", 5, 15) for i in range(3)]
    # crack: magnification only in the file name: 7 at 20x (no size), 2 at 50x
    samples += [S(f"crack_{i}_20x.png", "crack") for i in range(7)]
    samples += [S(f"crack_{i}_50X_raw.png", "crack") for i in range(2)]
    # dent: 4 at 20x -> too few for min_per_class=5
    samples += [S(f"dent_{i}.png", "dent", 20, 12) for i in range(4)]
    # bubble: 3 with unknown magnification
    samples += [S(f"bubble_{i}.png", "bubble", None, 12) for i in range(3)]
    # two already-unknown samples, and one repeated path
    samples += [S("u_0.png", "unknown:blob", 20, 12), S("u_1.png", "unknown:blob", 20, 12)]
    samples.append(S("scratch_0.png", "scratch", 20, 10))
    return samples


def test_funnel_numbers_on_a_hand_built_set(tax: Taxonomy) -> None:
    result = curate(
        hand_built_set(), taxonomy=tax, magnification=20, min_size=12, max_size=19, min_per_class=5
    )
    rows = [(step.name, step.classes, step.images) for step in result.funnel]
    assert rows == [
        ("all images", 4, 33),  # 34 given, one repeated path
        ("known classes only", 4, 31),
        ("20x only", 3, 23),  # -3 scratch at 5x, -2 crack at 50x, -3 bubble unknown
        ("defect size within [12, 19] px", 3, 19),  # scratch sizes 10,11 and 20,21 removed; crack has no size
        ("classes with >= 5 images", 2, 15),  # dent (4) excluded
    ]
    assert result.duplicates == 1
    assert result.excluded_leaves == {"dent": 4}
    assert result.unknown_magnification == 3  # bubble only (crack's is read from the file names)
    assert result.no_size == 9
    assert "3 with unknown magnification" in result.funnel[2].detail
    assert "5x: 3" in result.funnel[2].detail and "50x: 2" in result.funnel[2].detail
    assert "removed 2 too small, 2 too large; kept 7 without a size" in result.funnel[3].detail
    assert Counter(s.label for s in result.samples) == {"scratch": 8, "crack": 7}
    # magnification parsed from the file name is written into the kept samples
    assert {s.magnification for s in result.samples} == {20.0}
    assert "crack" not in result.empty_leaves and "fiber" in result.empty_leaves

    report = result.report()
    assert re.search(r"20x only\s+3\s+23\s+8\s", report)
    assert "classes with >= 5 images: 2 classes, 15 images" in report
    assert "Excluded classes (1, dropped): dent 4" in report


def test_other_group_keeps_excluded_leaves_as_unknown(tax: Taxonomy) -> None:
    result = curate(hand_built_set(), taxonomy=tax, magnification=20, min_per_class=5, other_group=True)
    labels = Counter(s.label for s in result.samples)
    assert labels == {"scratch": 12, "crack": 7, "unknown:dent": 4}
    last = result.funnel[-1]
    assert (last.classes, last.images) == (2, 23)
    assert "4 unknown-labelled" in last.detail
    assert "kept as unknown:<leaf>" in result.report()


def test_keep_unknown_and_no_magnification_rule(tax: Taxonomy) -> None:
    result = curate(hand_built_set(), taxonomy=tax, magnification=None, min_per_class=0, keep_unknown=True)
    assert [s.name for s in result.funnel] == ["all images"]
    assert len(result.samples) == 33
    assert sum(s.label == "unknown:blob" for s in result.samples) == 2


def test_magnification_from_file_names() -> None:
    pattern = re.compile(DEFAULT_MAG_PATTERN)
    assert magnification_from_name("lot3_20x.png", pattern) == 20.0
    assert magnification_from_name("a_2.5X_001.tif", pattern) == 2.5
    assert magnification_from_name("lot5x_50x.png", pattern) == 50.0  # the last match wins
    assert magnification_from_name("x20.png", pattern) is None
    assert magnification_from_name("box.png", pattern) is None


def test_bad_rules_and_labels_are_refused(tax: Taxonomy) -> None:
    with pytest.raises(DataError, match="larger than max_size"):
        curate([], taxonomy=tax, min_size=10, max_size=5)
    with pytest.raises(DataError, match="magnification"):
        curate([], taxonomy=tax, magnification=-1)
    with pytest.raises(DataError, match="pattern"):
        curate([], taxonomy=tax, mag_pattern="(")
    with pytest.raises(UnknownLabelsError) as info:
        curate([S("a.png", "particle"), S("b.png", "bogus")], taxonomy=tax)
    assert info.value.labels == {"particle": 1, "bogus": 1}


def balanced(n_per_class: int, labels: tuple[str, ...] = ("scratch", "crack", "dent")) -> list[Sample]:
    return [S(f"{label}_{i}.png", label) for label in labels for i in range(n_per_class)]


def test_split_is_deterministic_and_order_independent() -> None:
    samples = balanced(20)
    a = split_samples(samples, seed=3, hash_fn=name_hash)
    b = split_samples(samples, seed=3, hash_fn=name_hash)
    c = split_samples(list(reversed(samples)), seed=3, hash_fn=name_hash)
    d = split_samples(samples, seed=4, hash_fn=name_hash)
    assert a == b
    assert {s.path: s.split for s in a} == {s.path: s.split for s in c}
    assert {s.path: s.split for s in a} != {s.path: s.split for s in d}
    assert [s.path for s in a] == [s.path for s in samples]  # input order kept


def test_split_is_stratified_with_every_class_in_every_split() -> None:
    samples = balanced(20) + balanced(10, ("bubble",)) + balanced(3, ("fiber",))
    out = split_samples(samples, fractions=(0.7, 0.15, 0.15), seed=0, hash_fn=name_hash)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for s in out:
        table[s.label][s.split] += 1
    for label in ("scratch", "crack", "dent"):
        assert table[label] == {"train": 14, "val": 3, "test": 3}
    assert table["bubble"]["train"] == 7 and {table["bubble"]["val"], table["bubble"]["test"]} == {1, 2}
    assert table["fiber"] == {"train": 1, "val": 1, "test": 1}


def test_unknown_labels_go_to_val_and_test_only() -> None:
    samples = balanced(10) + [S(f"u_{i}.png", "unknown:dent") for i in range(10)]
    out = split_samples(samples, hash_fn=name_hash)
    unknown = Counter(s.split for s in out if s.label == "unknown:dent")
    assert unknown == {"val": 5, "test": 5}


def test_identical_content_never_crosses_splits(tmp_path: Path) -> None:
    samples: list[Sample] = []
    for label in ("scratch", "crack"):
        for i in range(12):
            path = tmp_path / label / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            # every image has a twin with the same bytes under another name
            value = (i // 2) + (100 if label == "crack" else 0)
            Image.new("L", (4, 4), value).save(path)
            samples.append(Sample(path.resolve(), label))
    for seed in range(5):
        result = split_files(samples, seed=seed)
        splits_of: dict[bytes, set[str]] = defaultdict(set)
        for s in result.samples:
            splits_of[s.path.read_bytes()].add(s.split)
        assert all(len(v) == 1 for v in splits_of.values())
        assert result.duplicate_groups == 12 and result.duplicate_files == 24
        assert {s.split for s in result.samples} == {"train", "val", "test"}


def test_existing_split_is_kept_but_fixed_when_content_crosses() -> None:
    samples = [
        S("a.png", "scratch", split="train"),
        S("a~copy.png", "scratch", split="test"),  # same content as a.png, other split
        S("b.png", "scratch", split="val"),
        S("b~copy.png", "scratch"),  # joins its twin's split
    ] + [S(f"new_{i}.png", "scratch") for i in range(16)]
    result = split_files(samples, hash_fn=name_hash)
    split = {s.path.name: s.split for s in result.samples}
    assert split["a.png"] == split["a~copy.png"] == "test"
    assert split["b.png"] == split["b~copy.png"] == "val"
    assert (result.fixed_groups, result.fixed_files) == (1, 1)
    assert result.kept_existing == 2
    assert "Fixed existing splits: 1 group(s)" in result.report()
    # the new samples fill the class up towards 14/3/3
    assert Counter(result.counts()["scratch"]) == {"train": 14, "val": 3, "test": 3}

    fresh = split_files(samples, hash_fn=name_hash, keep_existing=False)
    assert fresh.fixed_groups == 0 and fresh.kept_existing == 0


def test_bad_fractions_are_refused() -> None:
    with pytest.raises(DataError, match="sum to 1"):
        split_samples(balanced(2), fractions=(0.5, 0.2, 0.2), hash_fn=name_hash)
    with pytest.raises(DataError, match="three numbers"):
        split_samples(balanced(2), fractions=(0.5, 0.5), hash_fn=name_hash)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def _synthetic_set(root: Path) -> Path:
    """A manifest in the synthetic generator's layout: 10 scratch, 10 crack at 20x, 3 dent, 4 at 5x."""
    rows = ["path,label,magnification,defect_bbox,defect_size_px,split"]
    k = 0
    for label, n, mag in (("scratch", 10, 20), ("crack", 10, 20), ("dent", 3, 20), ("scratch", 4, 5)):
        for i in range(n):
            name = f"images/{label}_{i}_{mag}x.png"
            (root / "images").mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (4, 4), (k % 256, k // 256, 1)).save(root / name)
            k += 1
            rows.append(f"{name},{label},,2 2 6 6,{4 + i},")
    path = root / "synth.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_run_writes_a_split_manifest(
    tmp_path: Path, tax: Taxonomy, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _synthetic_set(tmp_path / "synth")
    out = tmp_path / "curated" / "train.csv"
    args = _parse([str(manifest), "--out", str(out), "--min-per-class", "5", "--other-group", "--seed", "1"])
    assert args.magnification == 20.0 and args.taxonomy == DEMO_TAXONOMY_PATH
    assert run(args) == 0
    text = capsys.readouterr().out
    assert "classes with >= 5 images: 2 classes, 23 images" in text
    assert f"Wrote {out.resolve()}" in text

    header = out.read_text().splitlines()[0]
    assert header == "path,label,magnification,defect_bbox,defect_size_px,split"
    back = read_manifest(out, tax)
    assert back.skipped == [] and len(back.samples) == 23
    assert Counter(s.label for s in back.samples) == {"scratch": 10, "crack": 10, "unknown:dent": 3}
    assert all(s.split in ("train", "val", "test") for s in back.samples)
    assert all(s.magnification == 20.0 for s in back.samples)
    assert not any(s.label == "unknown:dent" and s.split == "train" for s in back.samples)

    # a second run keeps the split column unless --resplit
    again = tmp_path / "again.csv"
    assert (
        run(_parse([str(out), "--out", str(again), "--min-per-class", "0", "--keep-unknown", "--seed", "9"]))
        == 0
    )
    assert {s.path: s.split for s in read_manifest(again, tax).samples} == {
        s.path: s.split for s in back.samples
    }
    resplit = tmp_path / "resplit.csv"
    argv = [
        str(out),
        "--out",
        str(resplit),
        "--min-per-class",
        "0",
        "--keep-unknown",
        "--seed",
        "9",
        "--resplit",
    ]
    assert run(_parse(argv)) == 0
    assert {s.path: s.split for s in read_manifest(resplit, tax).samples} != {
        s.path: s.split for s in back.samples
    }


def test_run_reports_errors_and_empty_results(
    tmp_path: Path, tax: Taxonomy, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\na.png,bogus\n")
    assert run(_parse([str(bad), "--out", str(tmp_path / "o.csv")])) == 2
    assert "'bogus'" in capsys.readouterr().err
    manifest = _synthetic_set(tmp_path / "s")
    assert run(_parse([str(manifest), "--out", str(tmp_path / "o.csv"), "--magnification", "50x"])) == 1
    assert "no images left" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
    assert run(_parse([str(manifest), "--out", str(manifest)])) == 2
    with pytest.raises(SystemExit):
        _parse([str(manifest), "--out", "x.csv", "--split", "0.9,0.2,0.1"])


def test_held_out_copies_reads_only_files_whose_size_a_held_out_file_has(tmp_path) -> None:
    """Exported rows (no split) that copy a validation or test image are found by content; only the files whose
    size matches one on the other side are read (a large data set with an export beside it read every held-out
    file); a file that cannot be read is no copy."""
    from models.data.splits import held_out_copies

    def at(name: str, data: bytes, split: str | None) -> Sample:
        (tmp_path / name).write_bytes(data)
        return Sample(path=tmp_path / name, label="scratch", split=split)

    samples = [at("val.png", b"v" * 10, "val"), at("test.png", b"t" * 12, "test"), at("train.png", b"r" * 14, "train"),
               at("copy_of_test.png", b"t" * 12, None), at("same_size.png", b"x" * 10, None),
               at("other.png", b"o" * 99, None), at("copy_of_train.png", b"r" * 14, None)]
    read: list[str] = []

    def counted(path):
        read.append(path.name)
        return file_sha256(path)

    assert held_out_copies(samples, counted) == {3}
    assert sorted(set(read)) == ["copy_of_test.png", "same_size.png", "test.png", "val.png"]
    (tmp_path / "gone.png").write_bytes(b"t" * 12)
    gone = Sample(path=tmp_path / "gone.png", label="scratch")
    (tmp_path / "gone.png").unlink()
    assert held_out_copies([*samples, gone]) == {3}
    assert held_out_copies([s for s in samples if s.split is not None]) == set()  # nothing without a split
