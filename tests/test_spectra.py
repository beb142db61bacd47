"""FTIR spectra as data (issue #20): JCAMP-DX and two-column tables read and normalised (cm⁻¹ ascending,
absorbance), files matched to images by name, stored by content hash, attached when a folder opens, read back from
manifests and image folders, and exported with the labels."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_image
from store_backends import BACKENDS, fresh_engine

from app.services import batches
from app.services import spectra as spectra_service
from app.store import repo
from app.store.db import session_scope
from app.store.export import export_labels
from models.data.manifest import read_image_folder, read_manifest, write_manifest
from models.spectra import SpectrumError, match_spectra, parse_spectrum, read_spectrum

WAVENUMBERS = np.arange(4000.0, 399.0, -20.0)  # 181 points, descending as instruments write them


def _absorbance(x: np.ndarray, band: float = 2920.0) -> np.ndarray:
    return 0.05 + 0.8 * np.exp(-(((x - band) / 60.0) ** 2))


def _jcamp_table(path: Path, y: np.ndarray, *, yunits: str = "ABSORBANCE", factor: float = 1e-4) -> Path:
    """A JCAMP-DX file in the (X++(Y..Y)) form with integer ordinates and a YFACTOR, as instruments write."""
    ints = np.round(y / factor).astype(int)
    lines = ["##TITLE=organic residue", "##JCAMP-DX=4.24", "##DATA TYPE=INFRARED SPECTRUM", "##XUNITS=1/CM",
             f"##YUNITS={yunits}", "##XFACTOR=1.0", f"##YFACTOR={factor}", f"##FIRSTX={WAVENUMBERS[0]}",
             f"##LASTX={WAVENUMBERS[-1]}", f"##NPOINTS={len(WAVENUMBERS)}", "##XYDATA=(X++(Y..Y))"]
    for start in range(0, len(ints), 10):
        lines.append(f"{WAVENUMBERS[start]:.0f} " + " ".join(str(v) for v in ints[start:start + 10]))
    lines.append("##END=")
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def _sqz(value: int) -> str:
    """A number in the JCAMP-DX squeezed form (its first digit, and sign, as a letter)."""
    text = str(abs(value))
    first = "@ABCDEFGHI"[int(text[0])] if value >= 0 else "@abcdefghi"[int(text[0])]
    return first + text[1:]


def test_a_jcamp_table_with_a_y_factor_reads_as_ascending_absorbance(tmp_path: Path) -> None:
    y = _absorbance(WAVENUMBERS)
    spectrum = read_spectrum(_jcamp_table(tmp_path / "P001.jdx", y))
    assert spectrum.format == "jcamp" and spectrum.kind == "absorbance" and spectrum.title == "organic residue"
    assert len(spectrum) == len(WAVENUMBERS) and spectrum.span == (400.0, 4000.0)
    assert np.all(np.diff(spectrum.wavenumbers) > 0)
    np.testing.assert_allclose(spectrum.absorbance, y[::-1], atol=1e-4)
    assert spectrum.wavenumbers[np.argmax(spectrum.absorbance)] == 2920.0


def test_percent_transmittance_becomes_absorbance(tmp_path: Path) -> None:
    a = _absorbance(WAVENUMBERS, band=1720.0)
    spectrum = read_spectrum(_jcamp_table(tmp_path / "t.dx", 100.0 * 10 ** (-a), yunits="%TRANSMITTANCE",
                                          factor=1e-3))
    assert spectrum.kind == "transmittance"
    np.testing.assert_allclose(spectrum.absorbance, a[::-1], atol=2e-3)


def test_squeezed_jcamp_and_wavelength_pairs(tmp_path: Path) -> None:
    y = np.round(_absorbance(WAVENUMBERS) * 1000).astype(int)
    lines = ["##TITLE=squeezed", "##JCAMP-DX=5.01", "##XUNITS=1/CM", "##YUNITS=ABSORBANCE", "##YFACTOR=0.001",
             f"##FIRSTX={WAVENUMBERS[0]}", f"##LASTX={WAVENUMBERS[-1]}", f"##NPOINTS={len(WAVENUMBERS)}",
             "##XYDATA=(X++(Y..Y))"]
    lines += [f"{WAVENUMBERS[s]:.0f}" + "".join(_sqz(int(v)) for v in y[s:s + 8]) for s in range(0, len(y), 8)]
    squeezed = read_spectrum(_write(tmp_path / "sq.jdx", "\n".join([*lines, "##END="])))
    np.testing.assert_allclose(squeezed.absorbance, y[::-1] / 1000.0, atol=1e-9)

    microns = 1e4 / WAVENUMBERS
    pairs = ["##TITLE=pairs", "##JCAMP-DX=5.01", "##XUNITS=MICROMETERS", "##YUNITS=TRANSMITTANCE",
             f"##NPOINTS={len(microns)}", "##XYPOINTS=(XY..XY)"]
    pairs += [f"{m:.6f}, {t:.6f}" for m, t in zip(microns, 10 ** -_absorbance(WAVENUMBERS), strict=True)]
    spectrum = read_spectrum(_write(tmp_path / "um.jcamp", "\n".join([*pairs, "##END="])))
    np.testing.assert_allclose(spectrum.wavenumbers, WAVENUMBERS[::-1], rtol=1e-5)
    np.testing.assert_allclose(spectrum.absorbance, _absorbance(WAVENUMBERS)[::-1], atol=1e-5)


def _write(path: Path, text: str) -> Path:
    path.write_text(text + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "kind", "assumed"), [
    ("wavenumber (cm-1),absorbance\n{rows}", "absorbance", False),
    ("Wellenzahl;Transmission (%)\n{rows_eu}", "transmittance", False),
    ("{rows_t}", "transmittance", True),  # no header: values up to 100 read as percent transmittance
    ("{rows_ws}", "absorbance", True),  # no header, whitespace: absorbance
])
def test_two_column_tables(tmp_path: Path, text: str, kind: str, assumed: bool) -> None:
    a = _absorbance(WAVENUMBERS)
    t = 100 * 10 ** -a
    rows = "\n".join(f"{x},{y:.6f}" for x, y in zip(WAVENUMBERS, a, strict=True))
    rows_eu = "\n".join(f"{x:.1f};{v:.6f}".replace(".", ",") for x, v in zip(WAVENUMBERS, t, strict=True))
    rows_t = "\n".join(f"{x},{v:.6f}" for x, v in zip(WAVENUMBERS, t, strict=True))
    rows_ws = "\n".join(f"{x}\t {y:.6f}".replace("\t", " ") for x, y in zip(WAVENUMBERS, a, strict=True))
    path = _write(tmp_path / "s.csv", text.format(rows=rows, rows_eu=rows_eu, rows_t=rows_t, rows_ws=rows_ws))
    spectrum = read_spectrum(path)
    assert spectrum.kind == kind and spectrum.format == "table"
    assert any("not stated" in n for n in spectrum.notes) == assumed
    np.testing.assert_allclose(spectrum.wavenumbers, WAVENUMBERS[::-1])
    np.testing.assert_allclose(spectrum.absorbance, a[::-1], atol=1e-5)


@pytest.mark.parametrize(("name", "content", "says"), [
    ("e.jdx", "", "empty"),
    ("n.jdx", "just some text\n1 2\n", "not a JCAMP-DX file"),
    ("few.csv", "4000,0.1\n3000,0.2\n2000,0.3\n", "3 data points"),
    ("bad.csv", "x,y\n4000,0.1\n3990,oops\n", "row 3 is not two numbers"),
    ("uv.csv", "\n".join(f"{w},{0.1}" for w in range(200, 800, 10)), None),  # read as µm? no: 200-790 in cm-1
    ("vis.csv", "\n".join(f"{w},0.1" for w in range(20_000, 26_000, 100)), "outside the infrared"),
    ("notes.xlsx", "x", "not a spectrum file"),
])
def test_files_that_are_no_spectrum_say_why(tmp_path: Path, name: str, content: str, says: str | None) -> None:
    path = _write(tmp_path / name, content)
    if says is None:
        assert len(read_spectrum(path)) == 60
        return
    with pytest.raises(SpectrumError, match=says) as caught:
        read_spectrum(path)
    assert name in str(caught.value)
    with pytest.raises(SpectrumError, match="file not found"):
        read_spectrum(tmp_path / "missing.jdx")


def test_spectrum_bytes_round_trip_and_content_hash(tmp_path: Path) -> None:
    data = _jcamp_table(tmp_path / "a.jdx", _absorbance(WAVENUMBERS)).read_bytes()
    one, two = parse_spectrum(data, "a.jdx"), parse_spectrum(data, "b.jdx")
    assert one.sha256 == two.sha256 != parse_spectrum(data + b"$$ comment\n", "a.jdx").sha256
    x, y = one.arrays_from_bytes(one.to_bytes())
    np.testing.assert_allclose(x, one.wavenumbers, rtol=1e-6)
    np.testing.assert_allclose(y, one.absorbance, rtol=1e-6)


def test_matching_by_name() -> None:
    d, e = Path("/data/lot1"), Path("/data/lot2")
    images = [d / "P001.png", d / "P002.tif", d / "lot.P003.png", d / "lot.png", e / "P001.png"]
    candidates = [d / "P001.jdx", d / "P001.spot2.jdx", d / "P002.csv", d / "lot.P003.jdx", d / "lot.x.jdx",
                  d / "P009.jdx", d / "notes.csv", e / "P001.dx"]
    pairs, unmatched = match_spectra(images, candidates)
    assert pairs == {d / "P001.png": [d / "P001.jdx", d / "P001.spot2.jdx"], d / "P002.tif": [d / "P002.csv"],
                     d / "lot.P003.png": [d / "lot.P003.jdx"], d / "lot.png": [d / "lot.x.jdx"],
                     e / "P001.png": [e / "P001.dx"]}
    assert unmatched == [d / "P009.jdx", d / "notes.csv"]


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path: Path):
    with fresh_engine(request.param, tmp_path, "spectra.sqlite3") as eng:
        yield eng


def _folder_with_spectra(root: Path) -> Path:
    for i in range(4):
        write_image(root / f"P00{i}.png", seed=i)
    _jcamp_table(root / "P000.jdx", _absorbance(WAVENUMBERS))
    _jcamp_table(root / "P000.spot2.jdx", _absorbance(WAVENUMBERS, band=1720.0))
    _write(root / "P001.csv", "\n".join(f"{x},{y}" for x, y in zip(WAVENUMBERS, _absorbance(WAVENUMBERS, 3300.0),
                                                                  strict=True)))
    _write(root / "P002.txt", "this is an analyst's note, not a spectrum")
    _write(root / "P003.csv", "4000,0.1\n3990,0.1\n3980,oops\n")  # a damaged table
    _write(root / "P003.spot2.csv", "id,blob\n7," + "x" * 200_000)  # a cell the csv module refuses
    _jcamp_table(root / "orphan.jdx", _absorbance(WAVENUMBERS))
    _write(root / "notes.csv", "lot,comment\n1,fine\n")
    return root


def test_opening_a_folder_attaches_its_spectra_and_lists_the_rest(engine, tmp_path: Path, monkeypatch) -> None:
    folder = _folder_with_spectra(tmp_path / "lot")
    opened = batches.open_folder(engine, folder)
    assert len(opened.items) == 4  # spectra are no images
    reasons = {Path(p).name: r for p, r in opened.skipped}
    assert reasons["orphan.jdx"].startswith("a spectrum with no image of the same name")
    assert reasons["notes.csv"].startswith("not an image (a CSV file)")
    assert reasons["P002.txt"].startswith("not an image (a TXT file)")  # a note beside its image: no spectrum
    assert reasons["P003.csv"].startswith("spectrum not attached: P003.csv: row 3 is not two numbers")
    assert reasons["P003.spot2.csv"].startswith("spectrum not attached: P003.spot2.csv: row 2 cannot be read")
    assert set(reasons) == {"orphan.jdx", "notes.csv", "P002.txt", "P003.csv", "P003.spot2.csv"}
    ids = {Path(it.image.path).name: it.image.image_id for it in opened.items}
    first = spectra_service.spectra_of(engine, ids["P000.png"])
    assert [s.name for s in first] == ["P000.jdx", "P000.spot2.jdx"] and first[0].title == "organic residue"
    assert [s.wavenumbers[np.argmax(s.absorbance)] for s in first] == [2920.0, 1720.0]
    assert [s.kind for s in spectra_service.spectra_of(engine, ids["P001.png"])] == ["absorbance"]
    assert spectra_service.spectra_of(engine, ids["P003.png"]) == []
    attached = []
    with monkeypatch.context() as m:
        m.setattr(repo, "attach_spectrum", lambda *a, **k: attached.append(a[1:]))
        again = batches.open_folder(engine, folder)  # resumed: nothing attached twice, nothing written
    assert {Path(p).name for p, _r in again.skipped} == set(reasons) and attached == []
    with session_scope(engine, action="read") as s:
        assert sum(len(v) for v in repo.spectrum_paths(s).values()) == 3
        shared = repo.add_spectrum(s, read_spectrum(folder / "orphan.jdx"))  # same bytes as P000.jdx: one row
        assert shared == first[0].spectrum_id
    _write(folder / "P001.csv", "\n".join(f"{x},{y}" for x, y in zip(WAVENUMBERS, _absorbance(WAVENUMBERS, 1100.0),
                                                                     strict=True)))  # measured again
    batches.open_folder(engine, folder)
    again = spectra_service.spectra_of(engine, ids["P001.png"])
    assert len(again) == 1 and again[0].wavenumbers[np.argmax(again[0].absorbance)] == 1100.0


def test_chosen_files_bring_the_spectra_beside_them(engine, tmp_path: Path) -> None:
    """"Open files…" (or a drop): the chosen images' spectra come with them; a spectrum chosen with them is matched
    or left out with its reason; the other images' spectra and files beside them are not the batch's business."""
    folder = _folder_with_spectra(tmp_path / "lot")
    write_image(folder / "P000.spot2.png", seed=9)  # P000.spot2.jdx is this image's, not P000.png's
    opened = batches.open_files(engine, [folder / "P000.png", folder / "P002.png", folder / "orphan.jdx",
                                         folder / "P001.csv"])
    assert sorted(Path(it.image.path).name for it in opened.items) == ["P000.png", "P002.png"]
    reasons = {Path(p).name: r for p, r in opened.skipped}
    assert reasons["orphan.jdx"].startswith("a spectrum with no image of the same name")
    assert reasons["P001.csv"] == "the spectrum of another image of its folder, which was not chosen"
    assert reasons["P002.txt"].startswith("not an image (a TXT file)")  # beside P002.png: read, and no spectrum
    assert set(reasons) == {"orphan.jdx", "P001.csv", "P002.txt"}  # P003's damaged tables: not chosen, not read
    ids = {Path(it.image.path).name: it.image.image_id for it in opened.items}
    assert [s.name for s in spectra_service.spectra_of(engine, ids["P000.png"])] == ["P000.jdx"]
    assert spectra_service.spectra_of(engine, ids["P002.png"]) == []


def test_export_carries_the_spectra(engine, tmp_path: Path, taxonomy) -> None:
    folder = _folder_with_spectra(tmp_path / "lot")
    opened = batches.open_folder(engine, folder)
    leaf = taxonomy.leaves[0]
    with session_scope(engine) as s:
        for item in opened.items[:2]:
            repo.record_judgment(s, image_id=item.image.image_id, leaf=leaf, action="picker", analyst="amy",
                                 batch_id=opened.batch_id)
    out = tmp_path / "labels.csv"
    export_labels(engine, out, "csv")
    with out.open(encoding="utf-8-sig") as handle:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(handle)}
    # under the CSV's folder: relative to it, as the image paths are
    assert rows["P000.png"]["spectrum"].split(";") == ["lot/P000.jdx", "lot/P000.spot2.jdx"]
    assert rows["P001.png"]["spectrum"] == "lot/P001.csv"
    samples = {s.path.name: s for s in read_manifest(out, taxonomy).samples}  # the export is a manifest
    assert samples["P000.png"].spectra == (folder / "P000.jdx", folder / "P000.spot2.jdx")

    export_labels(engine, tmp_path / "labels.json", "json")
    items = {Path(i["path"]).name: i for i in json.loads((tmp_path / "labels.json").read_text(encoding="utf-8"))}
    assert items["P001.png"]["spectra"] == [str(folder / "P001.csv")]

    tree = tmp_path / "tree"
    (folder / "P001.csv").unlink()  # a spectrum gone: listed, its image exported all the same
    result = export_labels(engine, tree, "imagefolder")
    assert result.count == 2 and [r for _p, r in result.skipped if "spectrum" in r] == [
        "spectrum not copied (its image was): No such file or directory"]
    loaded = {s.path.name.split("_", 1)[1]: s for s in read_image_folder(tree, taxonomy).samples}
    assert [p.name.split("_", 1)[1] for p in loaded["P000.png"].spectra] == ["P000.jdx", "P000.spot2.jdx"]
    assert loaded["P001.png"].spectra == ()
    from_manifest = {s.path.name.split("_", 1)[1]: s for s in read_manifest(tree / "manifest.csv", taxonomy).samples}
    assert from_manifest["P000.png"].spectra == loaded["P000.png"].spectra


def test_a_store_without_spectra_exports_as_before(engine, tmp_path: Path, taxonomy) -> None:
    write_image(tmp_path / "lot" / "a.png")
    opened = batches.open_folder(engine, tmp_path / "lot")
    with session_scope(engine) as s:
        repo.record_judgment(s, image_id=opened.items[0].image.image_id, leaf=taxonomy.leaves[0],
                             action="picker", analyst="amy", batch_id=opened.batch_id)
    export_labels(engine, tmp_path / "labels.csv", "csv")
    header = (tmp_path / "labels.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert "spectrum" not in header and header[:2] == ["path", "label"]


def test_manifest_spectrum_column_round_trip(tmp_path: Path, taxonomy) -> None:
    image = write_image(tmp_path / "data" / "a.png")
    spec = _jcamp_table(tmp_path / "data" / "a.jdx", _absorbance(WAVENUMBERS))
    far = _jcamp_table(tmp_path / "elsewhere.jdx", _absorbance(WAVENUMBERS))
    manifest = tmp_path / "data" / "m.csv"
    leaf = taxonomy.leaves[0]
    _write(manifest, f"path,label,spectrum\na.png,{leaf},a.jdx; {far}\n")
    sample = read_manifest(manifest, taxonomy).samples[0]
    assert sample.path == image.resolve() and sample.spectra == (spec.resolve(), far.resolve())
    again = write_manifest([sample], tmp_path / "data" / "copy.csv")
    with again.open(encoding="utf-8-sig") as handle:
        row = next(csv.DictReader(handle))
    assert row["spectrum"] == f"a.jdx;{far.resolve()}"  # relative under the manifest's folder, as paths are
    assert read_manifest(again, taxonomy).samples[0].spectra == sample.spectra


def test_a_store_that_cannot_keep_the_spectra_still_opens_the_images(engine, tmp_path: Path, monkeypatch) -> None:
    from app.store.errors import StoreError

    def refuse(*_args, **_kw):
        raise StoreError("the database is full")

    monkeypatch.setattr(spectra_service, "attach_pairs", refuse)
    opened = batches.open_folder(engine, _folder_with_spectra(tmp_path / "lot"))
    assert len(opened.items) == 4
    reasons = {Path(p).name: r for p, r in opened.skipped}
    assert reasons["P000.jdx"] == "spectrum not stored: the database is full" and len(reasons) == 8


def test_table_details_title_rows_gaps_reflectance_and_strong_bands(tmp_path: Path) -> None:
    a = _absorbance(WAVENUMBERS)
    rows = [f"{x},{y:.6f}" for x, y in zip(WAVENUMBERS, a, strict=True)]
    rows[10], rows[20] = f"{WAVENUMBERS[10]},NaN", f"{WAVENUMBERS[20]},"
    titled = read_spectrum(_write(tmp_path / "t.csv", "Sample P001, lot 7\nwavenumber (cm-1),absorbance\n"
                                  + "\n".join(rows)))
    assert len(titled) == len(WAVENUMBERS) - 2 and "2 rows without a finite value dropped" in titled.notes
    reflect = read_spectrum(_write(tmp_path / "r.csv", "wavenumber,Reflectance (%)\n" + "\n".join(
        f"{x},{50 + 10 * y:.4f}" for x, y in zip(WAVENUMBERS, a, strict=True))))
    assert reflect.kind == "arbitrary" and reflect.absorbance.max() == pytest.approx(50 + 10 * a.max(), abs=1e-3)
    strong = read_spectrum(_write(tmp_path / "s.csv", "\n".join(  # absorbance up to 3, no header: still absorbance
        f"{x},{3 * y:.6f}" for x, y in zip(WAVENUMBERS, a, strict=True))))
    assert strong.kind == "absorbance" and strong.absorbance.max() == pytest.approx(3 * a.max(), abs=1e-5)


def test_an_opening_cancelled_while_its_spectra_are_read_stops_before_writing_them(engine, tmp_path: Path) -> None:
    """The app closes while a folder's spectra are read: the opening stops at its next report (the window's task
    raises there), nothing of them is written, and the next opening attaches them all."""
    folder = _folder_with_spectra(tmp_path / "lot")
    reports: list[tuple[int, int]] = []

    class Closed(Exception):
        pass

    def progress(done: int, total: int) -> None:
        if (done, total) in reports:  # registered: this report is one of the spectra's, and the app is closing
            raise Closed
        reports.append((done, total))

    with pytest.raises(Closed):
        batches.open_folder(engine, folder, progress=progress)
    with session_scope(engine, action="read") as s:
        assert repo.spectrum_paths(s) == {}
    batches.open_folder(engine, folder)
    with session_scope(engine, action="read") as s:
        assert sum(len(v) for v in repo.spectrum_paths(s).values()) == 3
