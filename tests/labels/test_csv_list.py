"""CSV lists: a file name, then its labels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tagscope.domain import ImportProblem, LabelKind, ValidationError
from tagscope.labels.formats.csv_list import read_csv_list
from tagscope.labels.formats.records import Entry


def _labels(entry: Entry) -> list[tuple[str, bool]]:
    return [(lab.name, lab.is_main) for lab in entry.labels]


def test_rows_give_files_and_labels_first_one_main(tmp_path: Path) -> None:
    csv = tmp_path / "lists" / "labels.csv"
    csv.parent.mkdir()
    csv.write_text(
        "filename,label\n"
        "a.jpg,cat\n"
        "\n"
        "sub/b.jpg, dog , animal,,dog\n"
        '"with, comma.jpg",bird\n'
        "c.jpg\n",
        encoding="utf-8-sig",
    )
    parsed = read_csv_list(csv, base=tmp_path)
    assert parsed.problems == []
    assert [e.path for e in parsed.entries] == [
        str(tmp_path / "a.jpg"),
        str(tmp_path / "sub" / "b.jpg"),
        str(tmp_path / "with, comma.jpg"),
        str(tmp_path / "c.jpg"),
    ]
    assert [_labels(e) for e in parsed.entries] == [
        [("cat", True)],
        [("dog", True), ("animal", False)],
        [("bird", True)],
        [],
    ]
    assert {lab.kind for e in parsed.entries for lab in e.labels} == {LabelKind.CLASSIFICATION}


def test_names_are_relative_to_the_csv_folder_by_default(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("sub/./a.jpg,x\n")
    [entry] = read_csv_list(csv).entries
    assert entry.path == str(tmp_path / "sub" / "a.jpg")


def test_names_leading_out_of_the_folder_are_refused_by_line(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"x")
    base = tmp_path / "photos"
    (base / "sub").mkdir(parents=True)
    (base / "ok.jpg").write_bytes(b"x")
    (base / "passwd.jpg").symlink_to("/etc/passwd")
    (base / "out.jpg").symlink_to(outside)
    (base / "inner.jpg").symlink_to(base / "ok.jpg")
    (base / "escape").symlink_to(tmp_path)
    csv = base / "labels.csv"
    csv.write_text(
        "../outside.jpg,a\n/etc/passwd,b\nsub/../../outside.jpg,c\npasswd.jpg,d\n"
        "out.jpg,e\nescape/outside.jpg,f\ninner.jpg,g\nok.jpg,h\n"
    )
    parsed = read_csv_list(csv)
    # A link inside the folder is its target: both rows name one file.
    assert [(e.path, e.labels[0].name) for e in parsed.entries] == [
        (str(base / "ok.jpg"), "g"),
        (str(base / "ok.jpg"), "h"),
    ]
    assert parsed.problems == [
        ImportProblem("labels.csv:1", "file name '../outside.jpg' leads out of the folder ('..')"),
        ImportProblem(
            "labels.csv:2", "absolute file name '/etc/passwd': names must be relative to the folder"
        ),
        ImportProblem(
            "labels.csv:3", "file name 'sub/../../outside.jpg' leads out of the folder ('..')"
        ),
        ImportProblem(
            "labels.csv:4",
            "'passwd.jpg' is a symbolic link to /etc/passwd, outside the folder "
            "(follow_symlinks (--follow-symlinks) allows it)",
        ),
        ImportProblem(
            "labels.csv:5",
            f"'out.jpg' is a symbolic link to {outside}, outside the folder "
            "(follow_symlinks (--follow-symlinks) allows it)",
        ),
        ImportProblem(
            "labels.csv:6",
            f"'escape/outside.jpg': a folder on its way is a symbolic link to {tmp_path}, outside "
            "the folder (follow_symlinks (--follow-symlinks) allows it)",
        ),
    ]


def test_follow_symlinks_allows_links_to_images_only(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"x")
    base = tmp_path / "photos"
    base.mkdir()
    (base / "passwd.jpg").symlink_to("/etc/passwd")
    (base / "out.jpg").symlink_to(outside)
    (base / "escape").symlink_to(tmp_path)
    csv = base / "labels.csv"
    csv.write_text("passwd.jpg,a\nout.jpg,b\nescape/outside.jpg,c\n../outside.jpg,d\n")
    parsed = read_csv_list(csv, follow_symlinks=True)
    assert [(e.path, e.labels[0].name) for e in parsed.entries] == [
        (str(outside), "b"),
        (str(outside), "c"),
    ]
    assert [p.source for p in parsed.problems] == ["labels.csv:1", "labels.csv:4"]
    assert parsed.problems[0].reason == (
        "'passwd.jpg' is a symbolic link to /etc/passwd, not an image file"
    )


def test_bad_rows_are_reported_by_line_and_the_rest_is_read(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text('a.jpg,cat\n"b.jpg"junk,dog\n,orphan\nc.jpg,cow\n"d.jpg,never closed\n')
    parsed = read_csv_list(csv)
    assert [Path(e.path).name for e in parsed.entries] == ["a.jpg", "c.jpg"]
    assert parsed.problems == [
        ImportProblem("labels.csv:2", "malformed row: ',' expected after '\"'"),
        ImportProblem("labels.csv:3", "empty file name"),
        ImportProblem("labels.csv:5", "malformed row: unexpected end of data"),
    ]


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_bytes("a.jpg,cat\nb.jpg,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ValidationError) as caught:
        read_csv_list(csv)
    assert str(caught.value) == "labels.csv: line 2 is not UTF-8 text (byte 19)"


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"labels\.csv: file not found$"):
        read_csv_list(tmp_path / "labels.csv")


def test_imagenette_labels(imagenette: Path) -> None:
    parsed = read_csv_list(imagenette / "labels.csv")
    assert parsed.problems == []
    assert len(parsed.entries) == 500
    assert all(Path(e.path).is_file() for e in parsed.entries)
    assert all(len(e.labels) == 1 and e.labels[0].is_main for e in parsed.entries)
    assert len({e.labels[0].name for e in parsed.entries}) == 10


def test_a_source_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="a folder, not a file"):
        read_csv_list(tmp_path)


def test_a_pipe_named_by_a_row_is_reported_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "b.jpg")
    (tmp_path / "labels.csv").write_text("b.jpg,x\n")
    parsed = read_csv_list(tmp_path / "labels.csv")
    assert parsed.entries == []
    assert parsed.problems == [
        ImportProblem("labels.csv:1", "'b.jpg' is not a regular file (a pipe, socket or device)")
    ]
