"""Manifest CSVs: labels, paths, bad rows, missing/corrupt files, loading several sources, writing, round trip."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from PIL import Image

from models.data.manifest import (
    DataError,
    LoadResult,
    ManifestRow,
    Sample,
    UnknownLabelsError,
    load_data,
    read_manifest,
    unknown_label,
    write_manifest,
)
from models.hashing import file_sha256
from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.from_yaml(DEMO_TAXONOMY_PATH)


_counter = iter(range(1_000_000))


def make_png(path: Path, value: int | None = None) -> Path:
    """A tiny PNG with unique content unless ``value`` is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    v = next(_counter) if value is None else value
    Image.new("RGB", (4, 4), (v % 256, (v // 256) % 256, 7)).save(path)
    return path


def write_text(path: Path, text: str, *, bom: bool = False, crlf: bool = False) -> Path:
    data = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode("utf-8"))
    return path


def test_reads_leaf_ids_full_paths_unknown_and_both_path_kinds(tmp_path: Path, tax: Taxonomy) -> None:
    make_png(tmp_path / "img" / "a_20x.png")
    make_png(tmp_path / "img" / "b.png")
    make_png(tmp_path / "img" / "c.png")
    abs_img = make_png(tmp_path / "elsewhere" / "d.png")
    text = (
        "Path,Label,Magnification,defect_bbox,defect_size_px,split,extra\n"
        "img/a_20x.png,scratch,20x,1 2 10 12,9.5,train,whatever\n"
        "img/b.png,foreign_matter/particle/fiber,5X,,,Validation,\n"
        "img/c.png,unknown:new_blob,,,,test,\n"
        f"{abs_img},structural/process/bubble,20,,,,\n"
    )
    manifest = write_text(tmp_path / "m.csv", text, bom=True, crlf=True)
    result = read_manifest(manifest, tax)

    assert result.skipped == []
    by_name = {s.path.name: s for s in result.samples}
    assert set(by_name) == {"a_20x.png", "b.png", "c.png", "d.png"}
    a = by_name["a_20x.png"]
    assert a.path == (tmp_path / "img" / "a_20x.png").resolve() and a.path.is_absolute()
    assert (a.label, a.magnification, a.defect_bbox, a.defect_size_px, a.split) == (
        "scratch",
        20.0,
        (1, 2, 10, 12),
        9.5,
        "train",
    )
    assert a.source == str(manifest.resolve())
    assert (by_name["b.png"].label, by_name["b.png"].magnification, by_name["b.png"].split) == (
        "fiber",
        5.0,
        "val",
    )
    assert by_name["c.png"].label == "unknown:new_blob" and by_name["c.png"].is_unknown
    assert by_name["d.png"].label == "bubble" and by_name["d.png"].path == abs_img.resolve()
    assert "Loaded 4 image(s)" in result.report()


def test_unknown_labels_are_all_collected_and_raised_once(tmp_path: Path, tax: Taxonomy) -> None:
    make_png(tmp_path / "ok.png")
    rows = [
        "path,label",
        "ok.png,scratch",
        "x1.png,bogus",
        "x2.png,zzz_other",
        "x3.png,bogus",
        "x4.png,Scratch",
    ]
    rows += ["x5.png,structural/mechanical/fiber", "x6.png,unknown:"]
    manifest = write_text(tmp_path / "m.csv", "\n".join(rows) + "\n")
    with pytest.raises(UnknownLabelsError) as info:
        read_manifest(manifest, tax)
    err = info.value
    assert err.labels == {
        "bogus": 2,
        "zzz_other": 1,
        "Scratch": 1,
        "structural/mechanical/fiber": 1,
        "unknown:": 1,
    }
    message = str(err)
    # every label is listed, sorted, with counts and where it was first seen
    positions = [message.index(repr(label)) for label in sorted(err.labels)]
    assert positions == sorted(positions)
    assert f"'bogus': 2 rows (first: {manifest} row 3)" in message  # the file with its folder
    assert "foreign_matter/particle/fiber" in message  # hint: the right path of 'fiber'
    assert isinstance(err, DataError)


def test_unknown_labels_message_is_truncated(tmp_path: Path, tax: Taxonomy) -> None:
    rows = ["path,label"] + [f"x{i}.png,bad_{i:02d}" for i in range(35)]
    manifest = write_text(tmp_path / "m.csv", "\n".join(rows) + "\n")
    with pytest.raises(UnknownLabelsError) as info:
        read_manifest(manifest, tax)
    assert len(info.value.labels) == 35
    assert "... and 5 more" in str(info.value)
    assert "bad_29" in str(info.value) and "bad_30" not in str(info.value)
    # no label fits at all: another tree's data, said so (it said "Fix them in the data" of 150 leaves)
    assert info.value.none_fit and str(info.value).startswith(
        f"no label of the data is a class of taxonomy {tax.id!r} (35 label(s), 35 row(s)/image(s)): the data are "
        "labelled for another tree. Give the tree they use: 'taxonomy: PATH' in the config")
    manifest = write_text(tmp_path / "m.csv", "\n".join([*rows, "ok.png,scratch"]) + "\n")
    with pytest.raises(UnknownLabelsError) as info:  # one that fits: the labels are to fix
        read_manifest(manifest, tax)
    assert not info.value.none_fit and "Fix them in the data" in str(info.value)


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_manifest_saved_with_another_separator_says_so(tmp_path: Path, tax: Taxonomy, sep: str, name: str) -> None:
    """Excel in many locales saves ';' between the columns: "no 'path' or 'label' column" did not say why."""
    text = sep.join(("path", "label", "split")) + "\n" + sep.join(("a.png", "crack", "val")) + "\n"
    manifest = write_text(tmp_path / "m.csv", text)
    with pytest.raises(DataError, match=f"its columns are separated by {name}, a manifest's by commas"):
        read_manifest(manifest, tax)
    from models.data.manifest import manifest_paths

    with pytest.raises(DataError, match=f"separated by {name}"):  # the reader of paths alone says so too
        manifest_paths(manifest)


def test_images_to_run_a_model_on_need_no_labels_and_an_empty_source_is_named(tmp_path: Path) -> None:
    """export-runtime --data refused a manifest without labels (it uses none), and an empty folder made it check
    its graphs on noise without a word."""
    from models.inference.optimize import image_list

    manifest = write_text(tmp_path / "m.csv", "path\nimg/a.png\n/abs/b.png\n")
    assert image_list(manifest) == [(tmp_path / "img" / "a.png").resolve(), Path("/abs/b.png")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no images in it"):
        image_list(tmp_path / "empty")
    with pytest.raises(DataError, match="no 'path' column"):
        image_list(write_text(tmp_path / "n.csv", "file,label\na.png,crack\n"))


def test_non_leaf_label_is_an_error_saying_not_a_leaf(tmp_path: Path, tax: Taxonomy) -> None:
    make_png(tmp_path / "a.png")
    manifest = write_text(tmp_path / "m.csv", "path,label\na.png,particle\na.png,foreign_matter/residue\n")
    with pytest.raises(UnknownLabelsError) as info:
        read_manifest(manifest, tax)
    assert info.value.not_leaf == {"particle", "foreign_matter/residue"}
    assert "'particle' is not a leaf" in str(info.value)
    assert "particle_metal" in str(info.value)  # suggests its children


def test_missing_and_corrupt_files_are_listed_counted_and_skipped(tmp_path: Path, tax: Taxonomy) -> None:
    make_png(tmp_path / "good.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    (tmp_path / "text.jpg").write_text("hello")
    rows = (
        "path,label\ngood.png,crack\nmissing1.png,crack\ncorrupt.png,dent\nmissing2.png,dent\ntext.jpg,dent\n"
    )
    manifest = write_text(tmp_path / "m.csv", rows)
    result = read_manifest(manifest, tax)

    assert [s.path.name for s in result.samples] == ["good.png"]
    assert len(result.skipped) == 4
    groups = result.skipped_by_reason()
    assert groups == {
        "missing file": ["missing1.png", "missing2.png"],
        "unreadable image": ["corrupt.png", "text.jpg"],
    }
    report = result.report()
    assert "Loaded 1 image(s)" in report and "Skipped 4" in report
    assert "missing file: 2 (missing1.png, missing2.png)" in report
    assert "unreadable image: 2" in report
    assert "relative paths are read from the manifest's own folder" not in report  # 2 of 5 missing: no hint


def test_a_manifest_moved_away_from_its_images_says_where_its_paths_are_read_from(tmp_path: Path,
                                                                                  tax: Taxonomy) -> None:
    """An exported CSV copied to another folder: every row "missing file", and nothing said why (helper-49)."""
    make_png(tmp_path / "images" / "a.png")
    make_png(tmp_path / "images" / "b.png")
    rows = "path,label\nimages/a.png,crack\nimages/b.png,dent\n"
    assert not read_manifest(write_text(tmp_path / "m.csv", rows), tax).skipped
    (tmp_path / "elsewhere").mkdir()
    moved = read_manifest(write_text(tmp_path / "elsewhere" / "m.csv", rows), tax)
    assert not moved.samples and len(moved.skipped) == 2
    assert "relative paths are read from the manifest's own folder" in moved.report()


def test_a_file_replaced_since_its_row_was_written_is_skipped_by_its_sha256(tmp_path: Path, tax: Taxonomy) -> None:
    """An export's CSV gives each file's sha256; a file replaced since (a later lot's P001_20x.png over this one)
    trained under the old label without a word (helper-49). A cell that is no hash is not checked."""
    from models.hashing import file_sha256

    a, b, _c = make_png(tmp_path / "a.png"), make_png(tmp_path / "b.png"), make_png(tmp_path / "c.png")
    rows = (f"path,label,sha256\na.png,crack,{file_sha256(a)}\nb.png,dent,{file_sha256(b).upper()}\n"
            "c.png,dent,not a hash\n")
    manifest = write_text(tmp_path / "m.csv", rows)
    assert [s.path.name for s in read_manifest(manifest, tax).samples] == ["a.png", "b.png", "c.png"]
    make_png(tmp_path / "b.png")  # another image under the same name
    result = read_manifest(manifest, tax)
    assert [s.path.name for s in result.samples] == ["a.png", "c.png"]
    assert result.skipped[0][0] == "b.png" and result.skipped[0][1].startswith("content changed: the file is not")
    assert "content changed: 1 (b.png)" in result.report()


def test_without_verification_only_existence_is_checked(tmp_path: Path, tax: Taxonomy) -> None:
    (tmp_path / "corrupt.png").write_bytes(b"garbage")
    manifest = write_text(tmp_path / "m.csv", "path,label\ncorrupt.png,dent\ngone.png,dent\n")
    result = read_manifest(manifest, tax, verify_images=False)
    assert [s.path.name for s in result.samples] == ["corrupt.png"]
    assert result.skipped[0][0] == "gone.png" and result.skipped[0][1].startswith("missing file")


def test_bad_fields_skip_the_row_naming_the_row_number(tmp_path: Path, tax: Taxonomy) -> None:
    for name in ("a", "b", "c", "d", "e"):
        make_png(tmp_path / f"{name}.png")
    text = (
        "path,label,magnification,defect_bbox,defect_size_px,split\n"
        "a.png,crack,abc,,,\n"
        "b.png,crack,20,1 2 3,,\n"
        "c.png,crack,20,,-4,\n"
        "d.png,crack,20,,,holdout\n"
        "e.png,crack,20.0x,0 0 3 3,4,\n"
        ",crack,20,,,\n"
    )
    result = read_manifest(write_text(tmp_path / "m.csv", text), tax)
    assert [s.path.name for s in result.samples] == ["e.png"]
    reasons = dict(result.skipped)
    assert "row 2" in reasons["a.png"] and "magnification 'abc'" in reasons["a.png"]
    assert "row 3" in reasons["b.png"] and "defect_bbox" in reasons["b.png"]
    assert "row 4" in reasons["c.png"] and "defect_size_px" in reasons["c.png"]
    assert "row 5" in reasons["d.png"] and "split 'holdout'" in reasons["d.png"]
    assert "row 7" in reasons[""] and "empty path" in reasons[""]
    assert set(result.skipped_by_reason()) == {"bad row"}


def test_missing_required_column_names_the_columns_found(tmp_path: Path, tax: Taxonomy) -> None:
    manifest = write_text(tmp_path / "m.csv", "file,class\na.png,crack\n")
    with pytest.raises(DataError, match=r"no 'path' or 'label' column \(columns found: file, class"):
        read_manifest(manifest, tax)
    with pytest.raises(DataError, match="manifest not found"):
        read_manifest(tmp_path / "nope.csv", tax)


def test_allow_unknown_false_skips_unknown_rows_with_a_reason(tmp_path: Path, tax: Taxonomy) -> None:
    make_png(tmp_path / "a.png")
    make_png(tmp_path / "b.png")
    manifest = write_text(tmp_path / "m.csv", "path,label\na.png,crack\nb.png,unknown:odd\n")
    result = read_manifest(manifest, tax, allow_unknown=False)
    assert [s.label for s in result.samples] == ["crack"]
    assert result.skipped[0][0] == "b.png" and "unknown:odd" in result.skipped[0][1]


def test_load_data_concatenates_sources_and_reports_duplicates_once(tmp_path: Path, tax: Taxonomy) -> None:
    shared = make_png(tmp_path / "set" / "crack" / "shared.png")
    make_png(tmp_path / "set" / "crack" / "only_folder.png")
    make_png(tmp_path / "export" / "new.png")
    text = f"path,label\nnew.png,dent\n{shared},dent\n{shared},dent\n"
    manifest = write_text(tmp_path / "export" / "export.csv", text)

    result = load_data([tmp_path / "set", str(manifest)], tax)
    names = [(s.path.name, s.label) for s in result.samples]
    assert names == [("only_folder.png", "crack"), ("shared.png", "crack"), ("new.png", "dent")]
    assert len(result.sources) == 2
    dup = [(p, r) for p, r in result.skipped if r.startswith("duplicate")]
    assert len(dup) == 2  # two repeats, each reported once
    assert "different label" in dup[0][1] and "kept 'crack'" in dup[0][1]
    assert result.skipped_by_reason().keys() == {"duplicate path with a different label"}


def test_load_data_collects_bad_labels_across_sources(tmp_path: Path, tax: Taxonomy) -> None:
    make_png(tmp_path / "folder" / "nonsense" / "a.png")
    manifest = write_text(tmp_path / "m.csv", "path,label\nx.png,bogus\n")
    with pytest.raises(UnknownLabelsError) as info:
        load_data([manifest, tmp_path / "folder"], tax)
    assert info.value.labels == {"bogus": 1, "nonsense": 1}
    with pytest.raises(DataError, match="data source not found"):
        load_data(tmp_path / "nothing_here", tax)
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(DataError, match=r"not a \.csv manifest"):
        load_data(tmp_path / "data.txt", tax)


def test_write_read_round_trip(tmp_path: Path, tax: Taxonomy) -> None:
    inside = make_png(tmp_path / "out" / "imgs" / "a.png").resolve()
    outside = make_png(tmp_path / "other" / "b.png").resolve()
    samples = [
        Sample(
            inside, "scratch", magnification=20.0, defect_bbox=(1, 2, 3, 4), defect_size_px=2.5, split="train"
        ),
        Sample(outside, "unknown:blob", magnification=2.5, split="test"),
    ]
    path = write_manifest(samples, tmp_path / "out" / "sub" / ".." / "manifest.csv")
    assert path == (tmp_path / "out" / "manifest.csv").resolve()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "path,label,magnification,defect_bbox,defect_size_px,split"
    assert lines[1] == "imgs/a.png,scratch,20,1 2 3 4,2.5,train"
    assert lines[2] == f"{outside.as_posix()},unknown:blob,2.5,,,test"

    back = read_manifest(path, tax)
    assert back.skipped == []
    strip = [
        (s.path, s.label, s.magnification, s.defect_bbox, s.defect_size_px, s.split) for s in back.samples
    ]
    assert strip == [
        (s.path, s.label, s.magnification, s.defect_bbox, s.defect_size_px, s.split) for s in samples
    ]


def test_write_only_columns_with_values(tmp_path: Path) -> None:
    img = make_png(tmp_path / "a.png").resolve()
    path = write_manifest([Sample(img, "crack"), Sample(img, "dent", split="val")], tmp_path / "m.csv")
    assert path.read_text().splitlines() == ["path,label,split", "a.png,crack,", "a.png,dent,val"]


def test_extra_columns_come_after_the_contract_and_round_trip(tmp_path: Path, tax: Taxonomy) -> None:
    inside = make_png(tmp_path / "data" / "day1" / "a.png").resolve()
    second = make_png(tmp_path / "data" / "b.png").resolve()
    outside = make_png(tmp_path / "elsewhere" / "c.png").resolve()
    rows = iter([
        ManifestRow(inside, "scratch", {"sha256": "aa", "status": "accepted", "split": "val"}),
        Sample(second, "dent", magnification=5.0),
        ManifestRow(outside, unknown_label("blob"), {"magnification": "20x", "sha256": "cc"}),
    ])  # fmt: skip
    path = write_manifest(rows, tmp_path / "data" / "m.csv", extra_columns=("sha256", "status"))
    assert path.read_text(encoding="utf-8").splitlines() == [
        "path,label,magnification,split,sha256,status",
        "day1/a.png,scratch,,val,aa,accepted",
        "b.png,dent,5,,,",
        f"{outside.as_posix()},unknown:blob,20x,,cc,",
    ]
    back = read_manifest(path, tax)  # the extra columns are ignored by readers
    assert back.skipped == []
    assert [(s.path, s.label, s.magnification, s.split) for s in back.samples] == [
        (inside, "scratch", None, "val"),
        (second, "dent", 5.0, None),
        (outside, "unknown:blob", 20.0, None),
    ]


def test_given_columns_are_streamed_in_contract_order(tmp_path: Path) -> None:
    def rows():
        yield ManifestRow("", "crack", {"split": "train"})
        yield ManifestRow(tmp_path / "x.png", "crack", {"defect_size_px": "3.0", "note": "n"})
        yield Sample(
            tmp_path / "y.png", "dent", magnification=20.0, split="test"
        )  # magnification not written

    path = write_manifest(
        rows(), tmp_path / "m.csv", columns=("split", "defect_size_px"), extra_columns=["note"]
    )
    assert path.read_text(encoding="utf-8").splitlines() == [
        "path,label,defect_size_px,split,note",
        ",crack,,train,",
        "x.png,crack,3.0,,n",
        "y.png,dent,,test,",
    ]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(columns=("label",)), "not optional manifest columns"),
        (dict(extra_columns=("split",)), "extra columns"),
        (dict(extra_columns=("note", "note")), "extra columns"),
        (dict(rows=[ManifestRow("a.png", "crack", {"sha265": "typo"})], extra_columns=("sha256",)), "sha265"),
    ],
)
def test_bad_columns_are_refused_and_the_old_manifest_is_kept(
    tmp_path: Path, kwargs: dict, match: str
) -> None:
    path = write_manifest([ManifestRow("a.png", "crack")], tmp_path / "m.csv")
    before = path.read_bytes()
    rows = kwargs.pop("rows", [ManifestRow("b.png", "dent")])
    with pytest.raises(ValueError, match=match):
        write_manifest(rows, path, **kwargs)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.csv"]


def test_a_failing_row_source_leaves_the_old_manifest(tmp_path: Path) -> None:
    path = write_manifest([ManifestRow("a.png", "crack")], tmp_path / "m.csv")
    before = path.read_bytes()

    def rows():
        yield ManifestRow("b.png", "dent")
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="went away"):
        write_manifest(rows(), path, columns=())
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.csv"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_manifest_gets_the_permissions_of_a_new_file(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        path = write_manifest([ManifestRow("a.png", "crack")], tmp_path / "m.csv")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by others, unlike a mkstemp file (0600)
        os.umask(0o077)
        write_manifest([ManifestRow("a.png", "crack")], path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(umask)


def test_content_hash_matches_sha256(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    (tmp_path / "f.bin").write_bytes(data)
    assert file_sha256(tmp_path / "f.bin") == hashlib.sha256(data).hexdigest()


def test_report_lists_first_paths_and_counts_more() -> None:
    result = LoadResult(samples=[], skipped=[(f"m{i}.png", "missing file: x") for i in range(8)])
    report = result.report()
    assert "missing file: 8 (m0.png, m1.png, m2.png, m3.png, m4.png, ... and 3 more)" in report


def test_an_exports_auto_judged_rows_are_skipped_before_their_labels_are_read(tmp_path, taxonomy) -> None:
    """``fma-judge export --status ...,auto`` marks the model's own calls ``status auto``: training skips them, even
    one whose type the training tree no longer has (it stopped the run as an unknown label)."""
    from models.data.manifest import read_manifest

    for name in ("a", "b", "c"):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{name}.png")
    leaf = taxonomy.leaves[0]
    (tmp_path / "m.csv").write_text(f"path,label,status\na.png,{leaf},accepted\nb.png,{leaf},auto\n"
                                    "c.png,a_type_retired_since,AUTO\n", encoding="utf-8")
    loaded = read_manifest(tmp_path / "m.csv", taxonomy)
    assert [s.path.name for s in loaded.samples] == ["a.png"]
    assert [p for p, why in loaded.skipped if "the model's own call" in why] == ["b.png", "c.png"]
    report = loaded.report()  # one line for all of them in the load report (a line each before)
    assert "  the model's own call: 2 (b.png, c.png)" in report, report
