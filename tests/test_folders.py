"""ImageFolder trees (models.data.folders): class folders, nested paths, unknown folders, skipped files."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_image
from PIL import Image

from models.data.folders import read_image_folder
from models.data.manifest import UnknownLabelsError
from models.taxonomy import Taxonomy


def test_image_folder_flat_nested_and_unknown(tmp_path: Path, taxonomy: Taxonomy) -> None:
    root = tmp_path / "data"
    write_image(root / "scratch" / "s1.png", size=(4, 4), seed=1)
    write_image(root / "scratch" / "s2.PNG", size=(4, 4), seed=2)
    write_image(root / "foreign_matter" / "particle" / "fiber" / "f1.png", size=(4, 4), seed=3)
    Image.new("L", (4, 4), 3).save(root / "foreign_matter" / "particle" / "fiber" / "f2.tif")
    write_image(root / "unknown_new_blob" / "u1.png", size=(4, 4), seed=4)
    write_image(root / "unknown" / "halo" / "u2.png", size=(4, 4), seed=5)
    write_image(root / "loose.png", size=(4, 4), seed=6)
    (root / "scratch" / "notes.txt").write_text("x")
    (root / "scratch" / "manifest.csv").write_text("x")  # in a class folder: not the export's list
    (root / "readme.txt").write_text("x")
    (root / "scratch" / ".hidden.png").write_bytes(b"x")
    (root / "dent").mkdir()
    (root / "dent" / "broken.png").write_bytes(b"not a png")

    result = read_image_folder(root, taxonomy)
    labels = sorted((s.path.name, s.label) for s in result.samples)
    assert labels == [
        ("f1.png", "fiber"),
        ("f2.tif", "fiber"),
        ("s1.png", "scratch"),
        ("s2.PNG", "scratch"),
        ("u1.png", "unknown:new_blob"),
        ("u2.png", "unknown:halo"),
    ]
    assert all(s.source == str(root.resolve()) for s in result.samples)
    skipped = dict(result.skipped)
    assert set(skipped) == {"loose.png", "scratch/notes.txt", "scratch/manifest.csv", "readme.txt", "dent/broken.png"}
    assert skipped["dent/broken.png"].startswith("unreadable image")
    assert skipped["loose.png"].startswith("not in a class folder")
    assert skipped["scratch/notes.txt"] == "not an image file type: suffix '.txt'" == skipped["readme.txt"]
    assert skipped["scratch/manifest.csv"] == "not an image file type: suffix '.csv'"


def test_image_folder_bad_class_folders_raise_with_all_names(tmp_path: Path, taxonomy: Taxonomy) -> None:
    write_image(tmp_path / "scratch" / "a.png", size=(4, 4), seed=7)
    write_image(tmp_path / "scratchs" / "b.png", size=(4, 4), seed=8)
    write_image(tmp_path / "scratchs" / "c.png", size=(4, 4), seed=9)
    write_image(tmp_path / "structural" / "d.png", size=(4, 4), seed=10)
    with pytest.raises(UnknownLabelsError) as info:
        read_image_folder(tmp_path, taxonomy)
    assert info.value.labels == {"scratchs": 2, "structural": 1}
    assert info.value.not_leaf == {"structural"}
