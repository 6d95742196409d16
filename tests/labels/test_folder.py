"""Scanning a folder of images, with class sub-folders as labels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tagscope.domain import ImportProblem, LabelKind, ValidationError
from tagscope.labels.formats.folder import scan_folder


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")  # scanning goes by name; reading files is the importer's job


def test_a_tree_is_scanned_in_order_with_folder_labels(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "top.png",
        "cat/b.JPG",
        "cat/a.jpeg",
        "dog/puppies/p.webp",
        ".cache/hidden.jpg",
        "dog/.DS_Store",
        "dog/notes.txt",
        "dog/README",
    )
    parsed = scan_folder(tmp_path, labels_from_folders=True)
    found = {Path(e.path).relative_to(tmp_path).as_posix(): e for e in parsed.entries}
    assert list(found) == ["top.png", "cat/a.jpeg", "cat/b.JPG", "dog/puppies/p.webp"]
    assert found["top.png"].labels == ()
    assert [(lab.kind, lab.name, lab.is_main) for lab in found["cat/a.jpeg"].labels] == [
        (LabelKind.CLASSIFICATION, "cat", True)
    ]
    # The folder holding the image names it, however deep.
    assert [lab.name for lab in found["dog/puppies/p.webp"].labels] == ["puppies"]
    assert parsed.problems == [
        ImportProblem(str(tmp_path / "dog" / "README"), "not an image file type (no suffix)"),
        ImportProblem(str(tmp_path / "dog" / "notes.txt"), "not an image file type (.txt)"),
    ]


def test_without_folder_labels_no_labels_are_made(tmp_path: Path) -> None:
    _touch(tmp_path, "cat/a.jpg")
    assert [e.labels for e in scan_folder(tmp_path).entries] == [()]


def test_paths_are_absolute_and_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _touch(tmp_path, "photos/a.jpg")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link").symlink_to(tmp_path / "photos")
    [entry] = scan_folder(Path("link")).entries
    assert entry.path == str(tmp_path.resolve() / "photos" / "a.jpg")


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="nowhere is not a folder"):
        scan_folder(tmp_path / "nowhere")


def test_imagenette_has_ten_classes_of_fifty(imagenette: Path) -> None:
    parsed = scan_folder(imagenette, labels_from_folders=True)
    assert len(parsed.entries) == 500
    counts: dict[str, int] = {}
    for entry in parsed.entries:
        [label] = entry.labels
        counts[label.name] = counts.get(label.name, 0) + 1
    assert len(counts) == 10
    assert set(counts.values()) == {50}
    assert parsed.problems == [
        ImportProblem(str(imagenette / "labels.csv"), "not an image file type (.csv)")
    ]


def test_links_leading_out_of_the_folder_are_refused_and_never_followed(tmp_path: Path) -> None:
    _touch(tmp_path, "outside/far.jpg", "photos/cat/a.jpg")
    photos = tmp_path / "photos"
    (photos / "cat" / "passwd.jpg").symlink_to("/etc/passwd")
    (photos / "cat" / "far.jpg").symlink_to(tmp_path / "outside" / "far.jpg")
    (photos / "cat" / "same.jpg").symlink_to(photos / "cat" / "a.jpg")
    (photos / "cat" / "broken.jpg").symlink_to(photos / "nowhere.jpg")
    (photos / "dog").symlink_to(tmp_path / "outside")
    (photos / "again").symlink_to(photos / "cat")  # inside: its files are found in cat/
    parsed = scan_folder(photos, labels_from_folders=True)
    a = str(photos / "cat" / "a.jpg")
    assert [(e.path, e.labels[0].name) for e in parsed.entries] == [(a, "cat"), (a, "cat")]
    hint = "outside the folder (follow_symlinks (--follow-symlinks) allows it)"
    assert parsed.problems == [
        ImportProblem(
            str(photos / "dog"), f"'dog' is a symbolic link to {tmp_path / 'outside'}, {hint}"
        ),
        ImportProblem(
            str(photos / "cat" / "broken.jpg"),
            f"'broken.jpg' is a symbolic link to {photos / 'nowhere.jpg'}, which is not a file",
        ),
        ImportProblem(
            str(photos / "cat" / "far.jpg"),
            f"'far.jpg' is a symbolic link to {tmp_path / 'outside' / 'far.jpg'}, {hint}",
        ),
        ImportProblem(
            str(photos / "cat" / "passwd.jpg"),
            f"'passwd.jpg' is a symbolic link to /etc/passwd, {hint}",
        ),
    ]


def test_follow_symlinks_follows_links_to_images_and_folders_once(tmp_path: Path) -> None:
    _touch(tmp_path, "outside/far.jpg", "photos/cat/a.jpg")
    photos = tmp_path / "photos"
    (photos / "cat" / "passwd.jpg").symlink_to("/etc/passwd")
    (photos / "dog").symlink_to(tmp_path / "outside")
    (tmp_path / "outside" / "loop").symlink_to(tmp_path / "outside")
    parsed = scan_folder(photos, labels_from_folders=True, follow_symlinks=True)
    assert [(e.path, e.labels[0].name) for e in parsed.entries] == [
        (str(photos / "cat" / "a.jpg"), "cat"),
        (str(tmp_path / "outside" / "far.jpg"), "dog"),  # the link's name is the label
    ]
    assert [p.reason for p in parsed.problems] == [
        "'passwd.jpg' is a symbolic link to /etc/passwd, not an image file"
    ]


def test_a_pipe_named_like_an_image_is_reported_not_read(tmp_path: Path) -> None:
    _touch(tmp_path, "a.jpg")
    os.mkfifo(tmp_path / "b.jpg")  # reading it would wait forever
    parsed = scan_folder(tmp_path)
    assert [Path(e.path).name for e in parsed.entries] == ["a.jpg"]
    assert parsed.problems == [
        ImportProblem(
            str(tmp_path / "b.jpg"), "'b.jpg' is not a regular file (a pipe, socket or device)"
        )
    ]
