"""Label export: CSV training manifest (round trip through read_manifest), JSON, ImageFolder, filters, CLI."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from conftest import write_image
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from store_backends import BACKENDS, fresh_engine

from app.commands import add_export_arguments, run_export
from app.store import repo
from app.store.db import init_db, make_engine, session_scope
from app.store.errors import ExportError
from app.store.export import count_export_rows, export_labels, iter_export_rows
from app.store.records import EXPORT_COLUMNS, PredictionRecord
from app.store.urls import describe_url, sqlite_path
from models.data.manifest import read_image_folder, read_manifest
from models.hashing import file_sha256

MODEL = "tiny-20250101000000-abcdef12"
OLD = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class Store:
    engine: Engine
    url: str
    data: Path
    paths: dict[str, Path]
    batch1: int
    batch2: int


def _predicted(leaf: str, taxonomy) -> PredictionRecord:
    path = tuple(taxonomy.path(leaf))
    return PredictionRecord(
        leaf=leaf, confidence=0.8, path=path, top5=((leaf, path, 0.8),), model_version=MODEL
    )


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path: Path, taxonomy) -> Store:
    """Two batches: a accepted, b corrected, c unknown, d undone, e never judged; f corrected long ago, g re-judged.

    Notes: b has one (commas, quotes, a line break, Chinese); g's, written on its first judgment, is carried.

    On SQLite, and on PostgreSQL when ``FMA_TEST_PG_URL`` is set.
    """
    with fresh_engine(request.param, tmp_path) as engine:
        yield _fill(engine, tmp_path, taxonomy)


def _fill(engine: Engine, tmp_path: Path, taxonomy) -> Store:
    data = tmp_path / "data"
    paths = {
        n: write_image(data / ("day1" if n < "f" else "day2") / f"{n}.png", seed=i)
        for i, n in enumerate("abcdefg")
    }
    url = engine.url.render_as_string(hide_password=False)
    with session_scope(engine) as s:
        repo.register_model_version(
            s, version=MODEL, manifest={"name": "tiny", "taxonomy": taxonomy.to_dict()}
        )
        b1 = repo.create_batch(s, name="day1", source_folder=data / "day1")
        b2 = repo.create_batch(s, name="day2", source_folder=data / "day2")
        ids, preds = {}, {}
        for name, path in paths.items():
            batch = b1 if name < "f" else b2
            img = repo.get_or_create_image(s, file_sha256(path), path, 80, 60)
            repo.add_to_batch(s, batch.id, img.image_id, path)
            ids[name] = img.image_id
            preds[name] = repo.save_prediction(s, img.image_id, _predicted("scratch", taxonomy)).id

        def judge(name: str, leaf: str | None, **kw):
            return repo.record_judgment(
                s, image_id=ids[name], leaf=leaf, action="picker", analyst=kw.pop("analyst", "amy"),
                prediction_id=preds[name], **kw,
            )  # fmt: skip

        judge("a", "scratch")
        judge("b", "crack", note=NOTE_B)
        judge("c", None)
        repo.revert_judgment(s, judge("d", "dent").id, analyst="amy")
        judge("f", "dent", created_at=OLD, analyst="bob")
        judge("g", "crack", created_at=OLD, note="edge of the panel")
        judge("g", "scratch", analyst="bob")  # the note is the image's: carried to bob's judgment
    return Store(engine, url, data, paths, b1.id, b2.id)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"  # the BOM: Excel reads the Chinese notes as such
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _by_name(rows, key: str = "path") -> dict[str, dict]:
    return {Path(r[key]).stem: r for r in rows}


EXPECTED = {"a": "scratch", "b": "crack", "c": "unknown:unlabelled", "f": "dent", "g": "scratch"}
NOTE_B = 'fibre, "long"\n看起來像刮痕'
NOTES = {"a": "", "b": NOTE_B, "c": "", "f": "", "g": "edge of the panel"}


def test_each_row_names_its_batch_and_the_confidence_the_analyst_saw(store: Store, taxonomy) -> None:
    """A lead's pivot by lot and by confidence needed the batch and the model's confidence beside each label
    (month-end walk-through): the batch exported, else the one judged in, else the newest listing the image."""
    with session_scope(store.engine) as s:
        b3 = repo.create_batch(s, name="rerun, lot 7", source_folder=store.data / "rerun").id
        img_a = repo.get_or_create_image(s, file_sha256(store.paths["a"]), store.paths["a"], 80, 60).image_id
        repo.add_to_batch(s, b3, img_a, store.paths["a"])  # a listed again later, judged in day1 before
        repo.record_judgment(s, image_id=img_a, leaf="scratch", action="picker", analyst="amy", batch_id=store.batch1,
                             shown={"leaf": "crack", "confidence": 0.61237})
        img_g = repo.get_or_create_image(s, file_sha256(store.paths["g"]), store.paths["g"], 80, 60).image_id
        repo.record_judgment(s, image_id=img_g, leaf="scratch", action="picker", analyst="amy",  # judged blind: no
                             shown={"leaf": "scratch", "confidence": 0.7, "reasons": ["spot_check"]})  # confidence
    out = store.data / "labels.csv"
    export_labels(store.engine, out, "csv", statuses=frozenset({"accepted", "corrected", "unknown", "waiting"}))
    rows = _by_name(_csv_rows(out))
    assert {n: (r["batch"], r["confidence"]) for n, r in rows.items()} == {
        "a": ("day1", "0.6124"), "b": ("day1", "0.8000"), "c": ("day1", "0.8000"), "d": ("day1", "0.8000"),
        "e": ("day1", "0.8000"), "f": ("day2", "0.8000"), "g": ("day2", "")}
    assert list(rows["a"])[-3:] == ["confidence", "batch", "note"]
    out = store.data / "day2.json"
    export_labels(store.engine, out, "json", batch_id=store.batch2)
    with open(out, encoding="utf-8") as handle:
        assert {Path(r["path"]).stem: (r["batch"], r["confidence"]) for r in json.load(handle)} == {
            "f": ("day2", 0.8), "g": ("day2", None)}


@pytest.mark.parametrize("fmt", ["csv", "json", "imagefolder"])
def test_progress_is_reported_as_rows_are_written(store: Store, fmt, monkeypatch) -> None:
    from app.store import export

    monkeypatch.setattr(export, "PROGRESS_EVERY", 2)
    seen: list[tuple[int, int]] = []
    out = store.data / ("out" if fmt == "imagefolder" else f"labels.{fmt}")
    result = export_labels(store.engine, out, fmt, progress=lambda n, total: seen.append((n, total)))
    assert result.count == 5 and seen == [(2, 0), (4, 0)]


def test_csv_is_a_training_manifest(store: Store, taxonomy) -> None:
    out = store.data / "labels.csv"
    result = export_labels(store.engine, out, "csv")
    assert result.count == 5 and result.path == out
    assert result.skipped == ()  # d, undone back to pending, is not judged: not exported, and not "skipped"
    with open(out, encoding="utf-8-sig") as handle:
        assert handle.readline().strip() == ",".join(EXPORT_COLUMNS)
    rows = _by_name(_csv_rows(out))
    assert {n: r["label"] for n, r in rows.items()} == EXPECTED
    assert rows["a"]["path"] == "day1/a.png"  # relative: the images are under the CSV's folder
    assert rows["a"]["sha256"] == file_sha256(store.paths["a"])
    assert rows["b"]["leaf_path"] == "structural/mechanical/crack"
    assert rows["c"]["leaf_path"] == ""
    assert {n: r["status"] for n, r in rows.items()} == {
        "a": "accepted", "b": "corrected", "c": "unknown", "f": "corrected", "g": "accepted",
    }  # fmt: skip
    assert rows["g"]["analyst"] == "bob" and rows["f"]["judged_at"] == "2024-01-01T12:00:00+00:00"
    assert rows["b"]["model_version"] == MODEL and rows["b"]["predicted_leaf"] == "scratch"
    assert EXPORT_COLUMNS[-1] == "note" and {n: r["note"] for n, r in rows.items()} == NOTES

    loaded = read_manifest(out, taxonomy)  # what `fma-model train --data labels.csv` reads
    assert loaded.skipped == []
    assert {s.path.stem: s.label for s in loaded.samples} == EXPECTED
    assert {s.path for s in loaded.samples} == {store.paths[n].resolve() for n in EXPECTED}
    # images judged "unknown / new type" become outlier-exposure images for `train` (loss.outlier_weight > 0)
    from models.training.data import split_for_training

    parts = split_for_training(loaded.samples, seed=0, log=lambda _msg: None)
    assert [s.path.stem for s in parts["outliers"]] == ["c"]
    assert sorted(s.path.stem for part in ("train", "val", "test") for s in parts[part]) == ["a", "b", "f", "g"]


def test_csv_outside_the_data_folder_has_absolute_paths(store: Store, tmp_path: Path, taxonomy) -> None:
    out = tmp_path / "exports" / "labels.csv"
    export_labels(store.engine, out, "csv")
    rows = _csv_rows(out)
    assert all(Path(r["path"]).is_absolute() for r in rows)
    assert {s.path.stem: s.label for s in read_manifest(out, taxonomy).samples} == EXPECTED


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"batch": 2}, {"f", "g"}),
        ({"since": dt.datetime(2024, 6, 1, tzinfo=dt.UTC)}, {"a", "b", "c", "g"}),
        ({"statuses": {"corrected"}}, {"b", "f"}),
        ({"statuses": {"unknown"}}, {"c"}),
        ({"batch": 1, "statuses": {"accepted", "unknown"}}, {"a", "c"}),
    ],
)
def test_filters(store: Store, tmp_path: Path, filters: dict, expected: set[str]) -> None:
    filters = dict(filters)  # the parameter's dict is shared by every backend's run
    batch = {1: store.batch1, 2: store.batch2}.get(filters.pop("batch", None))
    result = export_labels(store.engine, tmp_path / "f.csv", "csv", batch_id=batch, **filters)
    assert set(_by_name(_csv_rows(tmp_path / "f.csv"))) == expected
    assert result.count == len(expected)
    with Session(store.engine) as session:  # the export dialog's count: the same images (an undone one: none)
        assert count_export_rows(session, batch_id=batch, **filters) == len(expected)


def test_json_export(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "labels.json"
    with session_scope(store.engine) as session:  # a Session works as well as an Engine
        result = export_labels(session, out, "json")
    items = json.loads(out.read_text(encoding="utf-8"))
    assert result.count == len(items) == 5
    rows = _by_name(items)
    assert set(rows["a"]) == {*EXPORT_COLUMNS, "leaf", "history_count", "spectra", "labels"} and rows["a"]["spectra"] == []
    assert rows["g"]["history_count"] == 2 and rows["a"]["history_count"] == 1
    assert rows["c"]["leaf"] is None and rows["c"]["label"] == "unknown:unlabelled"
    assert {n: r["note"] for n, r in rows.items()} == {n: note or None for n, note in NOTES.items()}
    assert rows["b"]["path"] == str(store.paths["b"])
    empty = export_labels(
        store.engine, tmp_path / "none.json", "json", statuses={"unknown"}, since=dt.datetime.now()
    )
    assert empty.count == 0 and json.loads((tmp_path / "none.json").read_text()) == []


def test_imagefolder_export(store: Store, tmp_path: Path, taxonomy) -> None:
    store.paths["g"].unlink()  # a file that is gone cannot be copied: listed, not fatal
    out = tmp_path / "tree"
    result = export_labels(store.engine, out, "imagefolder")
    assert result.count == 4 and result.path == out
    assert [(Path(p).name, r) for p, r in result.skipped] == [("g.png", "missing file: cannot copy")]
    sha_a = file_sha256(store.paths["a"])
    assert (out / "scratch" / f"{sha_a[:8]}_a.png").read_bytes() == store.paths["a"].read_bytes()
    assert len(list((out / "unknown_unlabelled").iterdir())) == 1
    manifest = out / "manifest.csv"
    assert _csv_rows(manifest)[0]["path"].split("/")[0] in {"scratch", "crack", "dent", "unknown_unlabelled"}
    labels = {s.path.name.split("_", 1)[1]: s.label for s in read_manifest(manifest, taxonomy).samples}
    expected = {f"{n}.png": label for n, label in EXPECTED.items() if n != "g"}
    assert labels == expected
    as_folder = read_image_folder(out, taxonomy)
    assert {s.path.name.split("_", 1)[1]: s.label for s in as_folder.samples} == expected
    # the export's own files beside the class folders are said as such ("not an image file type" puzzled a lead)
    assert [(p, r.split(":")[0]) for p, r in as_folder.skipped] == [
        ("manifest.csv", "the image-folder export's list of its images, not read with the folder"),
        ("notes.csv", "the image-folder export's notes")]
    # notes: a column of manifest.csv, and the sidecar notes.csv (path relative to the folder, noted images only)
    sha_b = file_sha256(store.paths["b"])
    assert {Path(r["path"]).stem.split("_", 1)[1]: r["note"] for r in _csv_rows(manifest)} == {
        n: note for n, note in NOTES.items() if n != "g"}
    assert _csv_rows(out / "notes.csv") == [{"path": f"crack/{sha_b[:8]}_b.png", "note": NOTE_B}]
    assert (out / _csv_rows(out / "notes.csv")[0]["path"]).is_file()


def test_an_imagefolder_export_again_removes_the_copies_it_no_longer_lists(store: Store, tmp_path: Path, taxonomy,
                                                                          capsys) -> None:
    """Exported, a relabelled (scratch to crack), exported again with --overwrite: the old copy stayed under
    scratch/ beside the new one under crack/, and a training on the folder by its class folders learned it as both
    (team lead's walk-through). Now the earlier export's copies this one does not list go, with their spectra and
    an emptied type folder; a file the export did not make stays, and so do the copies outside the new scope."""
    out = tmp_path / "tree"
    export_labels(store.engine, out, "imagefolder")
    sha_a = file_sha256(store.paths["a"])
    old = out / "scratch" / f"{sha_a[:8]}_a.png"
    (old.parent / f"{old.stem}.spot1.jdx").write_text("##TITLE=a\n")  # a spectrum copied beside it
    (old.parent / f"{old.stem}_spot2.jdx").write_text("##TITLE=a\n")  # ("_spot2": left behind before, review)
    labelme = old.parent / f"{old.stem}.json"  # an annotation beside the copy: not a spectrum, not ours
    labelme.write_text("{}")
    mine = out / "scratch" / "my_reference.png"  # the lead's own file: never the export's to remove
    shutil.copyfile(store.paths["a"], mine)
    with session_scope(store.engine) as s:
        img = repo.get_or_create_image(s, sha_a, store.paths["a"], 80, 60).image_id
        repo.record_judgment(s, image_id=img, leaf="crack", action="picker", analyst="amy")
    args = argparse.ArgumentParser()
    add_export_arguments(args)
    assert run_export(args.parse_args(["--db", store.url, "--out", str(out), "--format", "imagefolder",
                                       "--overwrite"])) == 0
    said = capsys.readouterr().out
    assert f"Removed 1 copy an earlier export made in {out} under a type the image no longer has" in said, said
    assert not old.exists() and not (old.parent / f"{old.stem}.spot1.jdx").exists() and mine.is_file()
    assert not (old.parent / f"{old.stem}_spot2.jdx").exists() and labelme.is_file()
    assert (out / "crack" / f"{sha_a[:8]}_a.png").is_file()
    as_folder = read_image_folder(out, taxonomy)  # by its class folders: a once, as crack (and the lead's file)
    assert sorted(s.label for s in as_folder.samples if s.path.name.endswith("_a.png")) == ["crack"]
    labelme.unlink()
    before = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    # a narrower scope keeps the copies outside it and says so (they went: with their files gone, the only copies
    # left; a --since that matched nothing emptied the folder: review)
    assert run_export(args.parse_args(["--db", store.url, "--out", str(out), "--format", "imagefolder",
                                       "--overwrite", "--status", "corrected"])) == 0
    err = capsys.readouterr().err
    assert "copies an earlier export made in" in err and "are not in this export's manifest.csv" in err, err
    assert {p.relative_to(out).as_posix() for p in out.rglob("*.png")} == before
    nothing = export_labels(store.engine, out, "imagefolder", since=dt.datetime(2099, 1, 1, tzinfo=dt.UTC))
    assert nothing.count == 0 and nothing.removed == ()  # every copy kept and counted, listed before or not
    assert {Path(p).relative_to(out).as_posix() for p in nothing.kept} == before - {"scratch/my_reference.png"}
    assert {p.relative_to(out).as_posix() for p in out.rglob("*.png")} == before
    # an image outside the narrower scope, relabelled after it (out of the manifest, its copy stayed under the old
    # type for good, and trained as both: review): the next export that copies it removes the old copy
    sha_g = file_sha256(store.paths["g"])
    g_copy = next(out.glob(f"*/{sha_g[:8]}_g.png"))
    with session_scope(store.engine) as s:
        g_id = repo.get_or_create_image(s, sha_g, store.paths["g"], 80, 60).image_id
        repo.record_judgment(s, image_id=g_id, leaf="dent" if g_copy.parent.name != "dent" else "crack",
                             action="picker", analyst="amy")
    relabelled = export_labels(store.engine, out, "imagefolder")
    assert str(g_copy) in relabelled.removed and not g_copy.exists()
    assert len(list(out.glob(f"*/{sha_g[:8]}_g.png"))) == 1
    export_labels(store.engine, out, "imagefolder", statuses=frozenset({"corrected"}))
    # a judged image whose file is gone since (a share away, a folder moved): its earlier copy was removed as stale,
    # the only copy left (review); now it stays and is exported from it
    sha_f = file_sha256(store.paths["f"])
    f_copy = out / "dent" / f"{sha_f[:8]}_f.png"
    assert f_copy.is_file()
    store.paths["f"].unlink()
    again = export_labels(store.engine, out, "imagefolder", statuses=frozenset({"corrected"}))
    assert again.removed == () and again.skipped == () and f_copy.is_file()
    assert "dent/" + f_copy.name in {r["path"] for r in _csv_rows(out / "manifest.csv")}
    # and relabelled after its file went: the copy moves to its new type (it stayed under dent/, unlisted, for good)
    # with the spectra beside it (they went with the old copy, the only ones left: review)
    (f_copy.parent / f"{f_copy.stem}_spot2.jdx").write_text("##TITLE=f\n")
    with session_scope(store.engine) as s:
        f_id = repo.get_or_create_image(s, sha_f, store.paths["f"], 80, 60).image_id
        repo.record_judgment(s, image_id=f_id, leaf="crack", action="picker", analyst="amy")
    moved = export_labels(store.engine, out, "imagefolder", statuses=frozenset({"corrected"}))
    crack_copy = out / "crack" / f_copy.name
    assert crack_copy.is_file() and not f_copy.exists() and str(f_copy) in moved.removed
    assert "crack/" + f_copy.name in {r["path"] for r in _csv_rows(out / "manifest.csv")}
    assert (crack_copy.parent / f"{crack_copy.stem}_spot2.jdx").read_text() == "##TITLE=f\n"
    assert not (f_copy.parent / f"{f_copy.stem}_spot2.jdx").exists()


@pytest.mark.parametrize("where", ["the export's folder", "a type's folder"])
def test_an_imagefolder_export_onto_a_read_only_share_says_so_as_a_csv_export_does(store: Store, tmp_path: Path,
                                                                                     monkeypatch, where) -> None:
    """It said "[Errno 30] Read-only file system: '…/l.imagefolder'" in the window and the command line, where a CSV
    export said which folder is read-only (retraining walk-through)."""
    import errno

    out = tmp_path / "share" / "labels"
    real = Path.mkdir
    blocked = out if where == "the export's folder" else None

    def mkdir(self, *args, **kwargs):
        if self == blocked or (blocked is None and self.parent == out):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(PermissionError) as info:
        export_labels(store.engine, out, "imagefolder")
    said = str(info.value)
    assert said.startswith(f"cannot write {out if blocked else out / ''}") and said.count("cannot write") == 1
    assert said.endswith("is on a read-only file system")


def test_an_imagefolder_export_leaves_out_a_file_written_over_with_another_picture(store: Store, tmp_path: Path) -> None:
    """A judged image's file written over with another picture since (its path kept) was copied under the judged
    type: another picture, labelled wrong, in the data a retraining learns from. It is left out, and said so."""
    from app.store.export_files import REPLACED_REASON

    whole = export_labels(store.engine, tmp_path / "before", "imagefolder")
    store.paths["b"].write_bytes(store.paths["a"].read_bytes())  # another picture under b's name
    out = tmp_path / "tree"
    result = export_labels(store.engine, out, "imagefolder")
    assert result.count == whole.count - 1
    assert [(Path(p).name, r) for p, r in result.skipped] == [("b.png", REPLACED_REASON)]
    assert not any(p.name.endswith("_b.png") for p in out.rglob("*.png"))  # no copy left behind
    assert "b.png" not in (out / "manifest.csv").read_text(encoding="utf-8-sig")
    assert not [p for p in out.rglob("*") if ".part-" in p.name]
    # exported again into the first export's folder: its copy of the judged picture stays, and is exported
    (copy,) = [p for p in (tmp_path / "before").rglob("*_b.png")]
    kept = copy.read_bytes()
    again = export_labels(store.engine, tmp_path / "before", "imagefolder")
    assert again.count == whole.count and not again.skipped and copy.read_bytes() == kept
    with session_scope(store.engine) as s:  # its folder opened again: a's picture seen at b's path, later
        repo.get_or_create_image(s, file_sha256(store.paths["a"]), store.paths["b"], 8, 8)
    for fmt in ("csv", "json"):  # a report keeps the row (the label is the record) and says its file is not it
        report = export_labels(store.engine, tmp_path / f"labels.{fmt}", fmt)
        assert report.count == whole.count and report.missing == (str(store.paths["b"]),)
    from app.store.export_files import _copy_checked

    with pytest.raises(FileNotFoundError):  # the file not reached (a share away) as it is copied: the copy stays too
        _copy_checked(tmp_path / "away" / "b.png", copy, "0" * 64)
    assert copy.read_bytes() == kept and not [p for p in copy.parent.iterdir() if ".part-" in p.name]


def test_an_imagefolder_export_into_a_batchs_folder_is_refused(store: Store, tmp_path: Path) -> None:
    """Opened again, the batch took the copies for its own images and moved its rows to them (an analyst's export
    into the batch's folder, seen under Xvfb); a CSV there is only a file, and a folder beside the batch is fine."""
    for out in (store.data / "day1", store.data / "day1" / "export", store.data / "day2" / "x" / "y"):
        with pytest.raises(ExportError, match=r"is inside the folder of batch 'day[12]'.*outside it"):
            export_labels(store.engine, out, "imagefolder")
        assert not (out / "manifest.csv").exists() and not (out / "scratch").exists()
    assert export_labels(store.engine, store.data / "day1" / "labels.csv", "csv").count == 5
    assert export_labels(store.engine, store.data / "day1-export", "imagefolder").count == 5
    # a batch of chosen files keeps their common parent (a drive's root, a home folder) and is never listed again
    # from it: no refusal under it
    with session_scope(store.engine) as s:
        repo.create_batch(s, name="picked", source_folder=tmp_path, kind="files")
    assert export_labels(store.engine, tmp_path / "elsewhere", "imagefolder").count == 5
    # a path that reaches the folder through a link is the folder
    link = tmp_path / "link-to-day2"
    link.symlink_to(store.data / "day2", target_is_directory=True)
    with pytest.raises(ExportError, match="is inside the folder of batch 'day2'"):
        export_labels(store.engine, link / "export", "imagefolder")


def test_moved_file_exports_its_latest_path(store: Store, tmp_path: Path, taxonomy) -> None:
    moved = tmp_path / "archive" / "b_renamed.png"
    moved.parent.mkdir()
    shutil.move(store.paths["b"], moved)
    with session_scope(store.engine) as s:
        repo.get_or_create_image(s, file_sha256(moved), moved, 80, 60)
    out = tmp_path / "labels.csv"
    export_labels(store.engine, out, "csv")
    loaded = {s.path: s.label for s in read_manifest(out, taxonomy).samples}
    assert loaded[moved.resolve()] == "crack"


def test_leaf_paths_from_a_given_taxonomy_and_unknown_leaves(store: Store, tmp_path: Path, taxonomy) -> None:
    small = taxonomy.to_dict()
    small["children"] = [small["children"][1]]  # structural only: dent/crack/scratch stay, nothing else
    from models.taxonomy import Taxonomy

    with session_scope(store.engine) as s:
        img = repo.get_or_create_image(s, "f" * 64, store.data / "x.png", 1, 1)
        repo.record_judgment(s, image_id=img.image_id, leaf="fiber", action="picker", analyst="amy")
        skipped: list[tuple[str, str]] = []
        rows = list(iter_export_rows(s, taxonomy=Taxonomy.from_dict(small), skipped=skipped))
    assert {Path(r.path).stem for r in rows} == {"a", "b", "c", "f", "g"}
    assert [(Path(p).name, r) for p, r in skipped if "fiber" in r] == [
        ("x.png", "leaf 'fiber' is not a class of taxonomy 'fma_demo'")
    ]


def test_without_any_taxonomy_leaf_path_is_empty(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bare.sqlite3'}")
    init_db(engine)
    with session_scope(engine) as s:
        img = repo.get_or_create_image(s, "a" * 64, tmp_path / "a.png", 1, 1)
        repo.record_judgment(s, image_id=img.image_id, leaf="scratch", action="picker", analyst="amy")
    result = export_labels(engine, tmp_path / "l.csv", "csv")
    (row,) = _csv_rows(tmp_path / "l.csv")
    assert result.count == 1 and (row["label"], row["leaf_path"], row["model_version"]) == ("scratch", "", "")
    engine.dispose()


def test_bad_arguments(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown export format"):
        export_labels(store.engine, tmp_path / "x", "parquet")
    with pytest.raises(ExportError, match="unknown status filter reverted"):
        export_labels(store.engine, tmp_path / "x.csv", "csv", statuses={"reverted"})
    with pytest.raises(ExportError, match="is a folder"):
        export_labels(store.engine, tmp_path, "csv")
    with pytest.raises(ExportError, match="no batch with id or name '999'; the newest: 'day2', 'day1'"):
        export_labels(store.engine, tmp_path / "x.csv", "csv", batch_id=999)
    db = sqlite_path(store.engine.url)
    if db is not None:  # an export given the database's own name (or its WAL's) would replace the judgments
        for name in (db.name, db.name + "-wal"):
            with pytest.raises(ExportError, match="is the database the judgments are kept in"):
                export_labels(store.engine, db.with_name(name), "csv")
        assert export_labels(store.engine, tmp_path / "after.csv", "csv").count > 0  # still there


def test_a_batch_is_exported_by_its_name(store: Store, tmp_path: Path) -> None:
    by_id = export_labels(store.engine, tmp_path / "id.csv", "csv", batch_id=store.batch1)
    by_name = export_labels(store.engine, tmp_path / "name.csv", "csv", batch_id="day1")
    assert by_name.count == by_id.count > 0
    assert (tmp_path / "name.csv").read_text() == (tmp_path / "id.csv").read_text()
    with session_scope(store.engine) as s:  # a store made before names were unique: the id is asked for
        twin = repo.create_batch(s, name="day1", source_folder=tmp_path / "elsewhere")
    with pytest.raises(ExportError, match=f"2 batches are named 'day1' \\(ids {store.batch1}, {twin.id}\\)"):
        export_labels(store.engine, tmp_path / "x.csv", "csv", batch_id="day1")


def _cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fma-judge export")
    add_export_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], taxonomy) -> None:
    out = tmp_path / "cli.csv"
    code = run_export(_cli("--db", store.url, "--out", str(out), "--format", "csv", "--status", "accepted,corrected",
                    "--since", "2024-06-01", "--batch", "day1"))  # fmt: skip
    assert code == 0
    said = capsys.readouterr()
    assert "Exported 2 label(s)" in said.out and "Note: no judged image" not in said.err
    assert run_export(_cli("--db", store.url, "--out", str(tmp_path / "none.csv"), "--format", "csv", "--since",
                           "2099-01-01", "--batch", "day1")) == 0  # nothing matches: said, not just a 0
    said = capsys.readouterr()
    assert "Exported 0 label(s)" in said.out
    assert f"Note: no judged image in {describe_url(store.url)} matches batch day1; since 2099-01-01" in said.err
    assert {s.path.stem: s.label for s in read_manifest(out, taxonomy).samples} == {
        "a": "scratch",
        "b": "crack",
    }
    assert run_export(_cli("--db", store.url, "--out", str(out), "--format", "csv", "--status", "maybe")) == 2
    assert "unknown status filter maybe" in capsys.readouterr().err
    assert run_export(_cli("--db", store.url, "--out", str(out), "--format", "csv", "--since", "last week")) == 2
    # a batch that is not there is a bad option like those (it exited 1, as a database that cannot be read)
    assert run_export(_cli("--db", store.url, "--out", str(tmp_path / "nb.csv"), "--format", "csv", "--batch",
                           "nosuch")) == 2
    assert "no batch with id or name 'nosuch'; the newest: " in capsys.readouterr().err
    missing = f"sqlite:///{tmp_path / 'nothing.sqlite3'}"
    assert run_export(_cli("--db", missing, "--out", str(tmp_path / "cli.json"), "--format", "json")) == 2
    assert "no fma-judge database at" in capsys.readouterr().err
    assert not (tmp_path / "nothing.sqlite3").exists()


def test_the_cli_lists_no_undone_image_as_skipped(store: Store, tmp_path: Path, capsys) -> None:
    """An image judged and then undone is back to pending: not judged, like one never judged. The export listed
    each as "Skipped ... undone: back to pending", a line per image that nobody could act on."""
    assert run_export(_cli("--db", store.url, "--out", str(tmp_path / "all.csv"), "--format", "csv")) == 0
    out = capsys.readouterr().out
    assert out == f"Exported 5 label(s) to {tmp_path / 'all.csv'}\n"
    store.paths["g"].unlink()  # what is still listed: a judged image left out, and why
    assert run_export(_cli("--db", store.url, "--out", str(tmp_path / "tree"), "--format", "imagefolder")) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["Skipped 1:", f"  {store.paths['g']}: missing file: cannot copy"]
    # a CSV keeps the row (the label is the record) and says that its file is not there now (helper-49: 36 rows
    # to moved files were written without a word, and training skipped them later)
    assert run_export(_cli("--db", store.url, "--out", str(tmp_path / "moved.csv"), "--format", "csv")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Exported 5 label(s) to {tmp_path / 'moved.csv'}"
    assert out[1].startswith("Note: 1 exported row(s) name files that are not there now") and str(store.paths["g"]) in out[1]


def test_the_cli_never_writes_over_a_file_or_a_data_set_unless_told(store: Store, tmp_path: Path, capsys) -> None:
    """An export over a data set's folder replaced its manifest.csv (73 rows became 9), and one into an existing
    file replaced it, without a word: now each is refused unless --overwrite (the app asks, see
    test_export_dialog)."""
    data = tmp_path / "data_set"
    data.mkdir()
    (data / "manifest.csv").write_text("path,label\n" + "x.png,scratch\n" * 72, encoding="utf-8")
    before = (data / "manifest.csv").read_text(encoding="utf-8")
    assert run_export(_cli("--db", store.url, "--out", str(data), "--format", "imagefolder")) == 2
    assert (f"{data / 'manifest.csv'} exists (an earlier export or a data set's manifest); --overwrite writes over "
            "it, or choose another --out") in capsys.readouterr().err
    assert (data / "manifest.csv").read_text(encoding="utf-8") == before
    labels = tmp_path / "labels.csv"
    labels.write_text("mine", encoding="utf-8")
    assert run_export(_cli("--db", store.url, "--out", str(labels), "--format", "csv")) == 2
    assert "exists (a file)" in capsys.readouterr().err and labels.read_text(encoding="utf-8") == "mine"
    assert run_export(_cli("--db", store.url, "--out", str(labels), "--format", "csv", "--overwrite")) == 0
    assert labels.read_text(encoding="utf-8-sig").startswith("path,label")
    assert run_export(_cli("--db", store.url, "--out", str(data), "--format", "imagefolder", "--overwrite")) == 0
    assert (data / "manifest.csv").read_text(encoding="utf-8") != before
    db = sqlite_path(store.url)
    if db is not None:  # the database itself: refused as such, never "--overwrite writes over it"
        assert run_export(_cli("--db", store.url, "--out", str(db), "--format", "csv")) == 2
        err = capsys.readouterr().err
        assert "is the database the judgments are kept in" in err and "--overwrite" not in err


def test_csv_cells_never_start_a_spreadsheet_formula(tmp_path: Path, taxonomy) -> None:
    """OWASP CSV injection: an analyst name, a note or a file name that starts with = + - @ (or tab, CR) is
    written so that a spreadsheet shows it as text; the manifest still trains on the same files."""
    engine = make_engine(f"sqlite:///{tmp_path / 'inject.sqlite3'}")
    init_db(engine)
    data = tmp_path / "data"
    evil = write_image(data / "=HYPERLINK(1).png", seed=1)
    plain = write_image(data / "plain.png", seed=2)
    with session_scope(engine) as s:
        repo.register_model_version(s, version="@model", manifest={"name": "x", "taxonomy": taxonomy.to_dict()})
        batch = repo.create_batch(s, name="b", source_folder=data)
        for path, analyst, note in [(evil, "=cmd|' /C calc'!A0", "@SUM(1+1)"), (plain, "+amy", "-\tscratch")]:
            img = repo.get_or_create_image(s, file_sha256(path), path, 80, 60)
            repo.add_to_batch(s, batch.id, img.image_id, path)
            pred = repo.save_prediction(s, img.image_id, PredictionRecord(
                leaf="scratch", confidence=0.8, path=tuple(taxonomy.path("scratch")),
                top5=(("scratch", tuple(taxonomy.path("scratch")), 0.8),), model_version="@model"))
            repo.record_judgment(s, image_id=img.image_id, leaf="dent", action="picker", analyst=analyst,
                                 prediction_id=pred.id, note=note)
    out = data / "labels.csv"
    export_labels(engine, out, "csv")
    with open(out, encoding="utf-8-sig", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], cells
    rows = {r["path"]: r for r in _csv_rows(out)}
    assert set(rows) == {"./=HYPERLINK(1).png", "plain.png"}
    assert rows["./=HYPERLINK(1).png"]["analyst"] == "'=cmd|' /C calc'!A0"
    assert rows["plain.png"]["note"] == "'-\tscratch" and rows["plain.png"]["model_version"] == "'@model"
    loaded = read_manifest(out, taxonomy)  # the same two files still train
    assert {s.path for s in loaded.samples} == {evil.resolve(), plain.resolve()}
    folder = tmp_path / "folder_export"
    export_labels(engine, folder, "imagefolder")
    with open(folder / "notes.csv", encoding="utf-8-sig", newline="") as handle:
        notes = [cell for row in csv.reader(handle) for cell in row]
    assert "'@SUM(1+1)" in notes and not [c for c in notes if c.startswith(("=", "+", "-", "@"))]
    engine.dispose()


def test_a_carriage_return_in_a_file_name_or_note_keeps_its_csv_row_whole(tmp_path: Path, taxonomy) -> None:
    """The csv module quotes only the line terminator (``\\n``): a bare ``\\r`` split the row for every reader."""
    engine = make_engine(f"sqlite:///{tmp_path / 'cr.sqlite3'}")
    init_db(engine)
    data = tmp_path / "data"
    odd = write_image(data / "\rr.png", seed=1)
    with session_scope(engine) as s:
        repo.register_model_version(s, version="v", manifest={"name": "x", "taxonomy": taxonomy.to_dict()})
        batch = repo.create_batch(s, name="b", source_folder=data)
        img = repo.get_or_create_image(s, file_sha256(odd), odd, 80, 60)
        repo.add_to_batch(s, batch.id, img.image_id, odd)
        repo.record_judgment(s, image_id=img.image_id, leaf="dent", action="picker", analyst="amy",
                             note="line one\rline two")
    out = data / "labels.csv"
    export_labels(engine, out, "csv")
    rows = _csv_rows(out)
    assert len(rows) == 1 and rows[0]["path"] == "./\rr.png" and rows[0]["note"] == "line one\rline two"
    assert [s.path for s in read_manifest(out, taxonomy).samples] == [odd.resolve()]
    folder = tmp_path / "folder_export"
    export_labels(engine, folder, "imagefolder")
    with open(folder / "notes.csv", encoding="utf-8-sig", newline="") as handle:
        assert [row[1] for row in csv.reader(handle)][1:] == ["line one\rline two"]
    engine.dispose()


def test_an_imagefolder_export_never_writes_outside_its_folder(tmp_path: Path, taxonomy) -> None:
    """A leaf id stored before ids were checked (``..``) must not make the copy land beside ``--out``."""
    engine = make_engine(f"sqlite:///{tmp_path / 'escape.sqlite3'}")
    init_db(engine)
    data = tmp_path / "data"
    image = write_image(data / "a.png", seed=1)
    with session_scope(engine) as s:
        img = repo.get_or_create_image(s, file_sha256(image), image, 80, 60)
        batch = repo.create_batch(s, name="b", source_folder=data)
        repo.add_to_batch(s, batch.id, img.image_id, image)
        repo.record_judgment(s, image_id=img.image_id, leaf="..", action="picker", analyst="amy")
    out = tmp_path / "exports" / "labels"
    result = export_labels(engine, out, "imagefolder")
    assert result.count == 0
    assert [reason for _, reason in result.skipped] == ["the type id '..' would write outside the export folder"]
    assert not [p for p in (tmp_path / "exports").rglob("*.png")]  # nothing copied, inside or beside
    engine.dispose()


def test_auto_judged_images_are_exported_only_when_asked_and_training_skips_them(store: Store, tmp_path: Path,
                                                                                 taxonomy, capsys) -> None:
    """A batch's whole result for a report: ``auto`` adds the images the model judged alone that no person decided
    (status auto, the model's type, no analyst), after the judged rows; training on the export skips them."""
    with session_scope(store.engine) as s:
        ids = {Path(p).stem: repo.get_or_create_image(s, file_sha256(p), p, 80, 60).image_id
               for p in store.paths.values()}
        for name in "ade":  # a: accepted (stays so); d: its judgment undone (no decision); e: never judged
            repo.save_prediction(s, ids[name], replace(_predicted("dent", taxonomy), route="auto"))
    assert set(_by_name(_csv_rows(export_labels(store.engine, tmp_path / "default.csv", "csv").path))) == set(EXPECTED)
    result = export_labels(store.engine, tmp_path / "auto.csv", "csv", statuses={"auto"})
    rows = _by_name(_csv_rows(result.path))
    assert set(rows) == {"d", "e"} and result.count == result.undecided == 2
    assert {k: rows["e"][k] for k in ("label", "status", "analyst", "predicted_leaf", "model_version")} == {
        "label": "dent", "status": "auto", "analyst": "", "predicted_leaf": "dent", "model_version": MODEL}
    assert rows["e"]["leaf_path"] == "/".join(taxonomy.path("dent"))
    everything = {"accepted", "corrected", "unknown", "auto"}
    whole = export_labels(store.engine, tmp_path / "all.csv", "csv", statuses=everything)
    names = [Path(r["path"]).stem for r in _csv_rows(whole.path)]
    assert set(names) == {*EXPECTED, "d", "e"} and names[-2:] in (["d", "e"], ["e", "d"])  # the judged rows first
    assert whole.undecided == 2 and whole.count == len(EXPECTED) + 2
    with Session(store.engine) as session:  # the export dialog's count agrees
        assert count_export_rows(session, statuses=everything) == whole.count
        assert count_export_rows(session, statuses={"auto"}, batch_id=store.batch2) == 0
        assert count_export_rows(session, statuses={"auto"}, since=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)) == 0
    with pytest.raises(ExportError, match="not as an image folder") as refused:  # a class folder is a label
        export_labels(store.engine, tmp_path / "folder", "imagefolder", statuses=everything)
    assert refused.value.reason == "auto_folder" and not (tmp_path / "folder").exists()
    items = {Path(r["path"]).stem: r for r in json.loads(export_labels(
        store.engine, tmp_path / "auto.json", "json", statuses={"auto"}).path.read_text(encoding="utf-8"))}
    assert items["e"]["status"] == "auto" and items["e"]["leaf"] == "dent" and items["e"]["labels"] == ["dent"]
    loaded = read_manifest(whole.path, taxonomy, verify_images=False)  # training: the people's labels only
    assert {Path(s.path).stem for s in loaded.samples} == set(EXPECTED)  # (c: unknown, an outlier-exposure row)
    assert {Path(p).stem for p, why in loaded.skipped if "model's own call" in why} == {"d", "e"}
    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    assert run_export(parser.parse_args(["--db", store.url, "--out", str(tmp_path / "cli.csv"), "--format", "csv",
                                         "--status", "accepted,auto"])) == 0
    assert capsys.readouterr().out == f"Exported 4 row(s) to {tmp_path / 'cli.csv'}: 2 judged, 2 no person decided " \
        "(status auto, waiting or unreadable; training skips them)\n"
    assert run_export(parser.parse_args(["--db", store.url, "--out", str(tmp_path / "bad.csv"), "--format", "csv",
                                         "--status", "automatic"])) == 2
    assert "use some of accepted, auto, corrected, unknown, unreadable, waiting" in capsys.readouterr().err


def test_an_export_beside_data_with_a_split_trains_and_its_rows_count_as_training_rows(tmp_path: Path,
                                                                                        taxonomy) -> None:
    """The retraining loop: the data's own manifest has a split column, the app's export has none. Training took the
    export's rows as training images without a word, and calibrate's class centroids left them out while saying
    they were the data the bundle trained on (team walk-through): both now take them as training rows, and train
    says so."""
    from types import SimpleNamespace

    from models.data.manifest import load_data
    from models.training.data import split_for_training
    from models.training.held_out import recorded_training_rows

    own, export = tmp_path / "train.csv", tmp_path / "labels.csv"
    leaves = taxonomy.leaves[:3]
    for i in range(len(leaves) * 2):
        write_image(tmp_path / "img" / f"o{i}.png", seed=i)
        write_image(tmp_path / "img" / f"e{i}.png", seed=50 + i)
    own.write_text("path,label,split\n" + "".join(f"img/o{i}.png,{leaf},{'train' if i < 3 else 'val'}\n"
                                                  for i, leaf in enumerate(leaves * 2)), encoding="utf-8")
    export.write_text("path,label\n" + "".join(f"img/e{i}.png,{leaf}\n" for i, leaf in enumerate(leaves * 2)),
                      encoding="utf-8")
    said: list[str] = []
    parts = split_for_training(load_data([own, export], taxonomy).samples, seed=0, log=said.append)
    assert len(parts["train"]) == 3 + 6 and len(parts["val"]) == 3
    assert said == ["6 image(s) without a split (labels.csv) beside data with one: they are training images"]
    train = SimpleNamespace(data_sources=[str(own), str(export)], data_hash="x", config={})
    rows, line = recorded_training_rows(train, taxonomy, tmp_path / "bundle")
    assert len(rows) == 9 and line.startswith("9 train images of "), line


def test_exported_copies_of_held_out_images_are_not_trained_on(tmp_path: Path, taxonomy) -> None:
    """A batch made of copies of the data's test images, judged and exported, then trained on beside the data: the
    next model learned its own test set under other names, and ``compare`` called it better (retraining walk-through).
    Such rows are left out, and said; the export's other rows train; calibrate's centroids read the same rows."""
    from types import SimpleNamespace

    from models.data.manifest import load_data
    from models.training.data import split_for_training
    from models.training.held_out import recorded_training_rows

    own, export = tmp_path / "data.csv", tmp_path / "labels.csv"
    leaves = taxonomy.leaves[:3]
    for i in range(6):
        write_image(tmp_path / "img" / f"o{i}.png", seed=i)
    (tmp_path / "batch").mkdir()
    for i in (3, 5):  # a validation and a test image, copied into a batch and judged there
        shutil.copyfile(tmp_path / "img" / f"o{i}.png", tmp_path / "batch" / f"copy{i}.png")
    write_image(tmp_path / "batch" / "new.png", seed=99)
    splits = ["train", "train", "train", "val", "test", "test"]
    own.write_text("path,label,split\n" + "".join(f"img/o{i}.png,{leaves[i % 3]},{splits[i]}\n" for i in range(6)),
                   encoding="utf-8")
    export.write_text(f"path,label\nbatch/copy3.png,{leaves[0]}\nbatch/copy5.png,{leaves[2]}\n"
                      f"batch/new.png,{leaves[1]}\n", encoding="utf-8")
    said: list[str] = []
    parts = split_for_training(load_data([own, export], taxonomy).samples, seed=0, log=said.append)
    assert sorted(s.path.name for s in parts["train"]) == ["new.png", "o0.png", "o1.png", "o2.png"]
    assert said == ["3 image(s) without a split (labels.csv) beside data with one: they are training images, but 2 "
                    "image(s) without a split hold the same picture as a validation or test image and are left out "
                    "(trained on, the held-out images would be seen under other names, e.g. copy3.png)"]
    train = SimpleNamespace(data_sources=[str(own), str(export)], data_hash="x", config={})
    rows, _line = recorded_training_rows(train, taxonomy, tmp_path / "bundle")
    assert sorted(s.path.name for s in rows) == ["new.png", "o0.png", "o1.png", "o2.png"]


def test_a_batchs_export_names_its_own_file_of_a_picture_two_batches_hold(store: Store, tmp_path: Path) -> None:
    """The same picture in two lots (a copy): lot A's export named lot B's file, the path the store saw last, and
    lot A's own file was in no export (night-shift walk-through). A batch's export names the batch's own file
    while it is there; the export of every batch keeps the newest path."""
    copy = tmp_path / "lot_b" / "a copy of a.png"
    copy.parent.mkdir()
    shutil.copyfile(store.paths["a"], copy)
    with session_scope(store.engine) as s:
        lot_b = repo.create_batch(s, name="lot_b", source_folder=copy.parent)
        image = repo.get_or_create_image(s, file_sha256(copy), copy, 80, 60)  # seen last at the copy
        repo.add_to_batch(s, lot_b.id, image.image_id, copy)
    own = {Path(r["path"]).name for r in _csv_rows(export_labels(store.engine, tmp_path / "one.csv", "csv",
                                                                  batch_id=store.batch1).path)}
    assert "a.png" in own and "a copy of a.png" not in own
    theirs = {Path(r["path"]).name for r in _csv_rows(export_labels(store.engine, tmp_path / "b.csv", "csv",
                                                                     batch_id=lot_b.id).path)}
    assert theirs == {"a copy of a.png"}
    store.paths["a"].unlink()  # lot A's file gone since: its export names where the picture is now
    gone = {Path(r["path"]).name for r in _csv_rows(export_labels(store.engine, tmp_path / "gone.csv", "csv",
                                                                   batch_id=store.batch1).path)}
    assert "a copy of a.png" in gone


def test_a_batchs_export_can_account_for_every_image(store: Store, tmp_path: Path, taxonomy) -> None:
    """For the line's records (night-shift walk-through): besides the decisions and the auto-judged images, the
    ones still waiting for a person and the unreadable ones, each with its status and no label; training skips
    them all."""
    with session_scope(store.engine) as s:
        ids = {Path(p).stem: repo.get_or_create_image(s, file_sha256(p), p, 80, 60).image_id
               for p in store.paths.values()}
        repo.save_prediction(s, ids["e"], replace(_predicted("dent", taxonomy), route="auto"))
        waiting = write_image(store.data / "day1" / "h.png", seed=40)
        h = repo.get_or_create_image(s, file_sha256(waiting), waiting, 80, 60)
        repo.add_to_batch(s, store.batch1, h.image_id, waiting)
        repo.save_prediction(s, h.image_id, replace(_predicted("crack", taxonomy), route="rejudge"))
        check = write_image(store.data / "day1" / "j.png", seed=41)  # a blind spot check waiting for its analyst
        j = repo.get_or_create_image(s, file_sha256(check), check, 80, 60)
        repo.add_to_batch(s, store.batch1, j.image_id, check)
        repo.save_prediction(s, j.image_id, replace(_predicted("dent", taxonomy), route="rejudge",
                                                    reasons=("spot_check",)))
        broken = store.data / "day1" / "i.png"
        broken.write_bytes(b"not an image")
        i = repo.get_or_create_image(s, file_sha256(broken), broken, None, None)  # no size: never decoded
        repo.add_to_batch(s, store.batch1, i.image_id, broken)
    every = {"accepted", "corrected", "unknown", "auto", "waiting", "unreadable"}
    result = export_labels(store.engine, tmp_path / "day1.csv", "csv", batch_id=store.batch1, statuses=every)
    rows = _by_name(_csv_rows(result.path))
    # day1: a accepted, b corrected, c unknown, d waiting (undone, its prediction not auto), e auto, h waiting, i unreadable
    assert {n: r["status"] for n, r in rows.items()} == {"a": "accepted", "b": "corrected", "c": "unknown",
                                                         "d": "waiting", "e": "auto", "h": "waiting", "i": "unreadable",
                                                         "j": "waiting"}
    assert (rows["h"]["label"], rows["h"]["predicted_leaf"], rows["h"]["analyst"]) == ("", "crack", "")
    assert (rows["j"]["label"], rows["j"]["predicted_leaf"]) == ("", "")  # a blind check's call stays unseen
    assert rows["i"]["label"] == "" and rows["e"]["label"] == "dent"
    with Session(store.engine) as session:
        assert count_export_rows(session, batch_id=store.batch1, statuses=every) == result.count == 8
        assert count_export_rows(session, batch_id=store.batch1, statuses={"waiting"}) == 3
    loaded = read_manifest(result.path, taxonomy, verify_images=False)
    assert {Path(s.path).stem for s in loaded.samples} == {"a", "b", "c"}
    skipped = {Path(p).stem: why.split(":")[0] for p, why in loaded.skipped}
    assert skipped == {"d": "waiting for a person", "e": "the model's own call", "h": "waiting for a person",
                       "i": "a file that could not be read", "j": "waiting for a person"}
    with pytest.raises(ExportError, match="not as an image folder"):
        export_labels(store.engine, tmp_path / "folder", "imagefolder", statuses={"accepted", "waiting"})
    parser = argparse.ArgumentParser()  # a bad combination of options: exit 2, as a bad --batch
    add_export_arguments(parser)
    assert run_export(parser.parse_args(["--db", store.url, "--out", str(tmp_path / "f"), "--format", "imagefolder",
                                         "--status", "accepted,auto"])) == 2


def test_only_an_exports_own_copies_inside_its_folder_count_as_earlier_copies(tmp_path: Path) -> None:
    """`_earlier_copies` reads the export's ledger and an earlier manifest.csv: a row that names a file outside the
    folder ("/x", "..", a Windows drive) or of another form (a data set's own manifest) is never one to remove
    (review); a file no export listed (a lead's backup of a type folder, a date-named reference) is none either (a
    scan of the folder removed a backup: review)."""
    from app.store.export_files import EXPORT_LEDGER, _earlier_copies

    sha = "ab12cd34" + "0" * 56
    rows = [f"scratch/{sha[:8]}_a.png", f"../{sha[:8]}_b.png", f"/{sha[:8]}_c.png", f"C:/{sha[:8]}_d.png",
            "scratch/a.png", f"scratch/sub/{sha[:8]}_e.png"]
    (tmp_path / "manifest.csv").write_text("path,label,sha256\n" + "".join(f"{r},scratch,{sha}\n" for r in rows),
                                           encoding="utf-8")
    (tmp_path / EXPORT_LEDGER).write_text(f"path,sha256\ncrack/{sha[:8]}_f.png,{sha}\n..\\{sha[:8]}_g.png,{sha}\n",
                                          encoding="utf-8")
    for name in (f"crack_checked/{sha[:8]}_a.png", "crack/20261207_reference.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    skipped: list[tuple[str, str]] = []
    assert _earlier_copies(tmp_path, skipped) == {tmp_path / "scratch" / f"{sha[:8]}_a.png": sha,
                                                  tmp_path / "crack" / f"{sha[:8]}_f.png": sha}
    assert skipped == []


@pytest.mark.parametrize(("saved", "encoding"), [
    pytest.param("path;sha256\r\ncrack/{short}_f.png;{sha}\r\n", "utf-8", id="semicolons"),
    pytest.param("path,sha256\ncrack/{short}_f\u00e9.png,{sha}\n", "utf-16", id="utf-16"),
])
def test_a_ledger_that_cannot_be_read_is_set_aside_and_said(tmp_path: Path, saved: str, encoding: str) -> None:
    """A ledger saved by a spreadsheet with ";" or in another encoding was read as empty and written over with this
    export's rows alone: the earlier copies it listed were forgotten without a word (review). It is set aside under
    another name, the export says so, and the copies it listed stay."""
    from app.store.export_files import EXPORT_LEDGER, write_imagefolder
    from models.hashing import file_sha256

    out = tmp_path / "tree"
    source = write_image(tmp_path / "src" / "P001.png")
    row = export_row(path=str(source), sha256=file_sha256(source), leaf="scratch")
    other = "ab12cd34" + "0" * 56
    ledger = out / EXPORT_LEDGER
    ledger.parent.mkdir()
    ledger.write_text(saved.format(short=other[:8], sha=other), encoding=encoding, newline="")
    before = ledger.read_bytes()
    skipped: list[tuple[str, str]] = []
    assert write_imagefolder(iter([row]), out, skipped)[0] == 1
    aside = [p for p in out.iterdir() if p.name.startswith(".fma-export-copies.unreadable-")]
    assert len(aside) == 1 and aside[0].read_bytes() == before
    assert len(skipped) == 1 and skipped[0][0] == str(ledger) and skipped[0][1].startswith(
        "the ledger of earlier copies cannot be read (") and f"set aside as {aside[0].name}" in skipped[0][1]
    assert f"scratch/{row.sha256[:8]}_P001.png" in ledger.read_text(encoding="utf-8")  # a new one, this export's


def test_an_earlier_copy_is_never_moved_outside_the_export_folder(tmp_path: Path) -> None:
    """A type id stored by an older version ("../outside") and its file gone since: the earlier copy was moved to
    it, outside the folder, before the check that refuses such a path (review)."""
    from app.store.export_files import _copied
    from models.hashing import file_sha256

    folder = tmp_path / "tree"
    earlier = write_image(tmp_path / "src" / "P001.png")
    sha = file_sha256(earlier)
    copy = folder / "scratch" / f"{sha[:8]}_P001.png"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(earlier, copy)
    earlier.unlink()  # the source is gone: the earlier copy would serve
    row = export_row(path=str(earlier), sha256=sha, leaf="../outside")
    skipped: list[tuple[str, str]] = []
    assert list(_copied(iter([row]), folder, skipped, {sha: [copy]})) == []
    assert skipped == [(str(earlier), "the type id '../outside' would write outside the export folder")]
    assert not (tmp_path / "outside").exists() and copy.is_file()


def export_row(**fields):
    from app.store.records import ExportRow

    return ExportRow(**{"label": fields.get("leaf") or "", "leaf_path": "", "status": "corrected", "analyst": "amy",
                        "judged_at": dt.datetime(2026, 12, 7, tzinfo=dt.UTC), "model_version": None,
                        "predicted_leaf": None, **fields})


def test_an_imagefolder_export_removes_nothing_it_did_not_make_nor_the_last_spectra(tmp_path: Path,
                                                                                   monkeypatch) -> None:
    """Review of a folder scan: a lead's backup of a type folder inside the export (`crack_checked/`) was taken for
    earlier copies and removed; and an earlier copy standing in for a gone source was removed with its spectra when
    they could not be copied to the new type (the only ones left)."""
    from app.store import export_files
    from app.store.export_files import write_imagefolder
    from models.hashing import file_sha256

    out = tmp_path / "tree"
    sources = [write_image(tmp_path / "src" / f"P00{i}.png", seed=i) for i in range(2)]
    rows = [export_row(path=str(p), sha256=file_sha256(p), leaf="crack") for p in sources]
    assert write_imagefolder(iter(rows), out, [])[0] == 2
    shutil.copytree(out / "crack", out / "crack_checked")  # the lead's backup
    count, removed, kept = write_imagefolder(iter(rows), out, [])
    assert (count, removed, kept) == (2, (), ()) and len(list((out / "crack_checked").glob("*.png"))) == 2
    # P000's file gone, relabelled to dent, its spectra not copyable (a full disk): the crack copy stays
    old = out / "crack" / f"{rows[0].sha256[:8]}_P000.png"
    (old.parent / f"{old.stem}.spot1.jdx").write_text("##TITLE=P000\n")
    sources[0].unlink()
    real = shutil.copyfile

    def full_disk(src, dst, *a, **k):
        if ".jdx" in Path(dst).name:  # a part written, then the disk is full (the part was taken for the whole)
            Path(dst).write_text("##TITLE=P0")
            raise OSError(28, "No space left on device")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(export_files.shutil, "copyfile", full_disk)
    skipped: list[tuple[str, str]] = []
    count, removed, kept = write_imagefolder(iter([replace(rows[0], leaf="dent"), rows[1]]), out, skipped)
    assert count == 2 and removed == () and str(old) in kept
    assert old.is_file() and (old.parent / f"{old.stem}.spot1.jdx").is_file()
    assert skipped == [(str(old.parent / f"{old.stem}.spot1.jdx"),
                        "spectrum not copied (its image was): No space left on device")]
    assert (out / "dent" / old.name).is_file() and not list((out / "dent").glob("*.jdx*"))
    again: list[tuple[str, str]] = []  # still full: the crack copy and its spectrum stay
    assert write_imagefolder(iter([replace(rows[0], leaf="dent"), rows[1]]), out, again)[1] == ()
    assert (old.parent / f"{old.stem}.spot1.jdx").read_text() == "##TITLE=P000\n" and len(again) == 1
    monkeypatch.setattr(export_files.shutil, "copyfile", real)  # room again: the next export moves it whole
    count, removed, kept = write_imagefolder(iter([replace(rows[0], leaf="dent"), rows[1]]), out, [])
    assert removed == (str(old),) and (out / "dent" / f"{old.stem}.spot1.jdx").is_file() and not old.exists()


def test_an_imagefolder_export_keeps_the_spectra_and_copies_a_ledger_knows(tmp_path: Path, monkeypatch) -> None:
    """Review of the ledger: removing P001's old copy took the spectra of the new P001_rework beside it; a spectrum
    whose file was gone was lost with the old copy it was beside; an export stopped midway wrote no ledger, and its
    copies were lost track of; a ledger row reaching this export's copy through a folder link removed it."""
    from app.store import export_files
    from app.store.export_files import EXPORT_LEDGER, write_imagefolder
    from models.hashing import file_sha256

    out, src = tmp_path / "tree", tmp_path / "src"
    p1 = write_image(src / "P001.png", seed=1)
    (src / "P001.spot1.jdx").write_text("##TITLE=P001\n")
    row = export_row(path=str(p1), sha256=file_sha256(p1), leaf="scratch", spectra=(str(src / "P001.spot1.jdx"),))
    write_imagefolder(iter([row]), out, [])
    old = out / "scratch" / f"{row.sha256[:8]}_P001.png"
    # the same picture renamed P001_rework (its spectrum too), its first file gone: one copy and spectrum left
    renamed = src / "P001_rework.png"
    p1.rename(renamed)
    (src / "P001.spot1.jdx").rename(src / "P001_rework.spot1.jdx")
    moved = replace(row, path=str(renamed), spectra=(str(src / "P001_rework.spot1.jdx"),))
    _count, removed, _kept = write_imagefolder(iter([moved]), out, [])
    new = out / "scratch" / f"{row.sha256[:8]}_P001_rework.png"
    assert removed == (str(old),) and new.is_file()
    assert (new.parent / f"{new.stem}.spot1.jdx").read_text() == "##TITLE=P001\n"  # (it went with the old copy)
    # relabelled, its spectrum's file gone: the copy under the old type keeps the only spectrum left
    (src / "P001_rework.spot1.jdx").unlink()
    skipped: list[tuple[str, str]] = []
    _count, removed, kept = write_imagefolder(iter([replace(moved, leaf="dent")]), out, skipped)
    assert removed == () and str(new) in kept and (new.parent / f"{new.stem}.spot1.jdx").is_file()
    assert [why for _p, why in skipped] == ["spectrum not copied (its image was): No such file or directory"]
    # a ledger row reaching the dent copy through a folder link is not taken for a stale copy of it
    (out / "dent_link").symlink_to(out / "dent", target_is_directory=True)
    with (out / EXPORT_LEDGER).open("a", encoding="utf-8") as ledger:
        ledger.write(f"dent_link/{new.name},{row.sha256}\n")
    renamed.unlink()  # (its file gone: the earlier copies stand in)
    _count, removed, _kept = write_imagefolder(iter([replace(moved, leaf="dent")]), out, [])
    assert (out / "dent" / new.name).is_file() and str(out / "dent_link" / new.name) not in removed
    # an export stopped midway (a type folder that cannot be made) still writes the ledger: its copies are known
    (out / "dent_link").unlink()
    p2 = write_image(src / "P002.png", seed=2)
    second = export_row(path=str(p2), sha256=file_sha256(p2), leaf="crack")
    real = export_files.make_folder
    monkeypatch.setattr(export_files, "make_folder",
                        lambda f: (_ for _ in ()).throw(PermissionError(13, "Permission denied")) if f.name == "fiber"
                        else real(f))
    p3 = write_image(src / "P003.png", seed=3)
    with pytest.raises(PermissionError):
        write_imagefolder(iter([second, export_row(path=str(p3), sha256=file_sha256(p3), leaf="fiber")]), out, [])
    monkeypatch.setattr(export_files, "make_folder", real)
    assert f"crack/{second.sha256[:8]}_P002.png" in (out / EXPORT_LEDGER).read_text()
    _count, removed, _kept = write_imagefolder(iter([replace(second, leaf="fiber")]), out, [])
    assert removed == (str(out / "crack" / f"{second.sha256[:8]}_P002.png"),)  # (it stayed under crack for good)


def test_a_second_imagefolder_export_into_the_folder_at_once_is_refused_and_a_dead_ones_lock_taken_over(
        tmp_path: Path, monkeypatch) -> None:
    """Two exports into one folder at once each removed the copies their relabelled images left under an old type,
    and racing on an image whose source is gone could remove each other's only copy (review): the second is refused,
    saying who exports there since when; a lock an export that died left behind stops no one for good; the lock is
    gone once an export ends, finished or stopped."""
    import os
    import threading

    from app.store import export_files, export_lock
    from app.store.export_files import write_imagefolder
    from app.store.export_lock import EXPORT_LOCK
    from models.hashing import file_sha256

    out = tmp_path / "tree"
    sources = [write_image(tmp_path / "src" / f"P00{i}.png", seed=i) for i in range(3)]
    rows = [export_row(path=str(p), sha256=file_sha256(p), leaf="crack") for p in sources]
    inside, go_on = threading.Event(), threading.Event()
    real = export_files._copy_checked

    def slow_copy(source, target, sha256):  # the first export stops in its first copy until told to go on
        inside.set()
        assert go_on.wait(10)
        return real(source, target, sha256)

    monkeypatch.setattr(export_files, "_copy_checked", slow_copy)
    first: list = []
    worker = threading.Thread(target=lambda: first.append(write_imagefolder(iter(rows), out, [])))
    worker.start()
    try:
        assert inside.wait(10)
        monkeypatch.setattr(export_lock.getpass, "getuser", lambda: "gina")
        with pytest.raises(ExportError) as refused:
            write_imagefolder(iter([replace(rows[0], leaf="dent")]), out, [])
        assert refused.value.reason == "busy" and "another export is writing into this folder now (" in \
            str(refused.value) and "since " in str(refused.value)
        assert not (out / "dent").exists()  # nothing of the second was written
    finally:
        go_on.set()
        worker.join(10)
    assert first and first[0][0] == 3 and not (out / EXPORT_LOCK).exists()
    monkeypatch.setattr(export_files, "_copy_checked", real)
    # a lock left by an export that died: refused while fresh, taken over once stale
    (out / EXPORT_LOCK).write_text('{"user": "bob", "host": "ws-7", "since": "2026-12-08T09:00:00+00:00"}')
    with pytest.raises(ExportError) as refused:
        write_imagefolder(iter(rows), out, [])
    assert refused.value.fields["who"] == "bob on ws-7"
    old = (out / EXPORT_LOCK).stat().st_mtime - 3 * export_lock.STALE_S
    os.utime(out / EXPORT_LOCK, (old, old))
    monkeypatch.setattr(export_lock, "WATCH_S", 0.2)  # (seen unchanged that long too: dead)
    assert write_imagefolder(iter([replace(rows[0], leaf="dent"), *rows[1:]]), out, [])[0] == 3
    assert (out / "dent").is_dir() and not (out / EXPORT_LOCK).exists()
    # the analyst exporting is named beside the account (a shared workstation account names no one); an export
    # told not to write over an earlier one looks again under the lock (two started at once both passed the look
    # before it and wrote: team walk-through)
    inside.clear()
    go_on.clear()
    monkeypatch.setattr(export_files, "_copy_checked", slow_copy)
    worker = threading.Thread(target=lambda: write_imagefolder(iter(rows[:1]), out, [], by="amy"))
    worker.start()
    try:
        assert inside.wait(10)
        with pytest.raises(ExportError) as refused:
            write_imagefolder(iter(rows), out, [])
        assert refused.value.fields["who"].startswith("amy (") and "another export is writing into this folder " \
            "now (amy (" in str(refused.value)
    finally:
        go_on.set()
        worker.join(10)
    monkeypatch.setattr(export_files, "_copy_checked", real)
    with pytest.raises(ExportError) as refused:
        write_imagefolder(iter(rows), out, [], overwrite=False)
    assert refused.value.reason == "exists" and "--overwrite writes over it" in str(refused.value)
    fresh = tmp_path / "fresh"
    assert write_imagefolder(iter(rows), fresh, [], overwrite=False)[0] == 3
    # an export that stops midway lets the folder go
    monkeypatch.setattr(export_files, "make_folder", lambda _f: (_ for _ in ()).throw(PermissionError(13, "denied")))
    with pytest.raises(PermissionError):
        write_imagefolder(iter([replace(rows[1], leaf="fiber")]), out, [])
    assert not (out / EXPORT_LOCK).exists()


def test_the_export_lock_is_taken_over_by_one_export_only_and_never_by_its_times_alone(tmp_path: Path,
                                                                                        monkeypatch) -> None:
    """Reviews of the lock: two exports that found one dead lock each removed the other's fresh lock and both wrote;
    a lock that could not be read let a second export write beside it; a lock touched by a live export but old by
    this computer's clock (a share's clock behind) was taken; a lock that went while it was watched refused the
    export all the same; a killed export's lock stopped the retry for two minutes; an export whose lock was taken
    over went on writing, and one that could not read its own lock once stopped and left it behind."""
    import json
    import os
    import socket
    import subprocess
    import sys
    import threading
    import time

    from app.store import export_lock
    from app.store.export_lock import EXPORT_LOCK, ExportLock, _holder, _take_over

    monkeypatch.setattr(export_lock, "WATCH_S", 0.3)
    folder = tmp_path / "tree"
    folder.mkdir()
    lock = folder / EXPORT_LOCK
    dead = '{"user": "bob", "host": "ws-7", "since": "2026-12-08T09:00:00+00:00"}'
    lock.write_text(dead)
    old = time.time() - 3 * export_lock.STALE_S
    os.utime(lock, (old, old))
    seen = _holder(lock)[2]
    _take_over(lock, seen, "bob", "09:00")  # export A takes it over, and makes its own
    with export_lock.export_lock(folder, by="amy"):
        mine = lock.read_text()
        _take_over(lock, seen, "bob", "09:00")  # export B, which found the same dead lock: A's new one stays
        assert lock.read_text() == mine
        with pytest.raises(ExportError) as refused, export_lock.export_lock(folder):  # and B is refused
            pass
        assert refused.value.fields["who"].startswith("amy (")
    assert not lock.exists()
    # a lock that cannot be read is a lock all the same (a folder of that name here)
    lock.mkdir()
    with pytest.raises(ExportError) as refused, export_lock.export_lock(folder):
        pass
    assert refused.value.reason == "busy" and refused.value.fields["who"] == ""
    lock.rmdir()
    # old by the clock, but touched while watched: alive
    lock.write_text(dead)
    os.utime(lock, (old, old))
    toucher = threading.Timer(0.1, lambda: os.utime(lock))
    toucher.start()
    with pytest.raises(ExportError), export_lock.export_lock(folder):
        pass
    toucher.join()
    # old by the clock, and gone while watched (its export finished): this export goes on, locked
    os.utime(lock, (old, old))
    finisher = threading.Timer(0.1, lock.unlink)
    finisher.start()
    with export_lock.export_lock(folder) as held:
        assert held.held and held.ours()
    finisher.join()
    # a lock of this computer whose process is gone: taken at once, however fresh
    if os.name == "posix":
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        said = {"user": "me", "host": socket.gethostname(), "system": export_lock._system(), "pid": gone.pid,
                "since": "2026-12-08T09:00:00+00:00"}
        lock.write_text(json.dumps(said))
        with export_lock.export_lock(folder) as held:
            assert held.ours() is bool(said["system"])  # (no boot id known here: only the times decide)
        # the same host name on another system (a cloned workstation, a container): the times decide
        lock.write_text(json.dumps({**said, "system": "another-boot/pid:[1]"}))
        with pytest.raises(ExportError), export_lock.export_lock(folder):
            pass
        # this process's own pid with a token it no longer holds: left behind, taken at once
        lock.write_text(json.dumps({**said, "pid": os.getpid(), "token": "long-gone"}))
        with export_lock.export_lock(folder) as held:
            assert held.ours() is bool(said["system"])
        lock.unlink(missing_ok=True)
    # touched while held, whatever the export does; taken over by another export: this one stops at its next row
    monkeypatch.setattr(export_lock, "BEAT_S", 0.05)
    with pytest.raises(ExportError) as stopped, export_lock.export_lock(folder) as held:
        before = lock.stat().st_mtime_ns
        time.sleep(0.3)
        assert lock.stat().st_mtime_ns > before  # (a long copy: the thread touched it)
        lock.write_text(json.dumps({"user": "carol", "host": "ws-9", "token": "theirs",
                                    "since": "2026-12-08T09:00:00+00:00"}))
        time.sleep(0.3)
        held.beat()
    assert "took this folder over" in str(stopped.value) and "carol" in lock.read_text()  # (theirs stays)
    lock.unlink()
    # its own lock not readable for a moment (a share's blip): it goes on, and removes the lock at the end
    monkeypatch.setattr(ExportLock, "ours", lambda self: None)
    with export_lock.export_lock(folder) as held:
        time.sleep(0.3)
        held.beat()
    assert not lock.exists()


def test_an_export_never_goes_on_unlocked_nor_writes_its_ledger_into_a_folder_taken_over(tmp_path: Path,
                                                                                          monkeypatch) -> None:
    """Third review of the lock: after its tries an export went on unlocked (both wrote); a lock that could not be
    looked at was judged dead; an export whose lock was taken over went on removing files and wrote its ledger into
    the other's folder; a full disk while the lock was written left an empty lock that stopped the next export."""
    import json

    from app.store import export_files, export_lock
    from app.store.export_files import EXPORT_LEDGER, write_imagefolder
    from app.store.export_lock import EXPORT_LOCK
    from models.hashing import file_sha256

    monkeypatch.setattr(export_lock, "TRY_S", 0.3)
    folder = tmp_path / "tree"
    folder.mkdir()
    lock = folder / EXPORT_LOCK
    lock.write_text('{"user": "bob", "host": "ws-7", "since": "2026-12-08T09:00:00+00:00"}')
    monkeypatch.setattr(export_lock, "_dead", lambda *_a: True)  # dead, but another export always takes it first
    monkeypatch.setattr(export_lock, "_take_over", lambda *_a: None)
    with pytest.raises(ExportError) as refused, export_lock.export_lock(folder):
        pass
    assert refused.value.reason == "busy"
    monkeypatch.undo()
    monkeypatch.setattr(export_lock, "TRY_S", 0.3)
    monkeypatch.setattr(export_lock, "_holder", lambda _p: ("", "?", None, {}))  # never to be looked at
    with pytest.raises(ExportError), export_lock.export_lock(folder):
        pass
    assert lock.exists()  # (never judged dead, never removed)
    monkeypatch.undo()
    lock.unlink()
    # taken over while it copies: it stops, removes nothing more and writes no ledger there
    out = tmp_path / "out"
    sources = [write_image(tmp_path / "src" / f"P00{i}.png", seed=i) for i in range(3)]
    rows = [export_row(path=str(p), sha256=file_sha256(p), leaf="crack") for p in sources]
    real = export_files._copy_checked
    calls = []

    def swapped(source, target, sha256):
        calls.append(target)
        if len(calls) == 2:  # another export takes the lock over (this one taken for dead)
            (out / EXPORT_LOCK).write_text(json.dumps({"user": "carol", "host": "ws-9", "token": "theirs",
                                                       "since": "2026-12-08T09:00:00+00:00"}))
        return real(source, target, sha256)

    monkeypatch.setattr(export_files, "_copy_checked", swapped)
    monkeypatch.setattr(export_lock, "CHECK_S", 0.0)
    with pytest.raises(ExportError) as stopped:
        write_imagefolder(iter(rows), out, [])
    assert "took this folder over" in str(stopped.value)
    assert not (out / EXPORT_LEDGER).exists() and "carol" in (out / EXPORT_LOCK).read_text()
    monkeypatch.undo()
    # a full disk while the lock is written: no empty lock left behind
    (out / EXPORT_LOCK).unlink()
    real_write = export_lock.os.write
    monkeypatch.setattr(export_lock.os, "write", lambda *_a: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(OSError), export_lock.export_lock(out):
        pass
    monkeypatch.setattr(export_lock.os, "write", real_write)
    assert not (out / EXPORT_LOCK).exists() and not export_lock._LIVE
