"""JSON lists: ``name``, ``mainClassificationLabel``, ``classificationLabels``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tagscope.domain import ImportProblem, ValidationError
from tagscope.labels.formats.json_list import read_json_list


def _write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_entries_give_files_with_main_and_other_labels(tmp_path: Path) -> None:
    doc = [
        {"name": "a.jpg", "mainClassificationLabel": "cat", "classificationLabels": ["cat", "pet"]},
        {"name": "b.jpg", "classificationLabels": ["dog", "pet"]},
        {"name": "c.jpg", "mainClassificationLabel": "cow"},
        {"name": "d.jpg", "mainClassificationLabel": None, "classificationLabels": []},
    ]
    parsed = read_json_list(_write(tmp_path / "list.json", doc))
    assert parsed.problems == []
    assert [e.path for e in parsed.entries] == [str(tmp_path / f"{n}.jpg") for n in "abcd"]
    assert [[(lab.name, lab.is_main) for lab in e.labels] for e in parsed.entries] == [
        [("cat", True), ("pet", False)],
        [("dog", False), ("pet", False)],
        [("cow", True)],
        [],
    ]


def test_unusable_entries_are_reported_by_index(tmp_path: Path) -> None:
    doc = [
        {"name": "ok.jpg", "mainClassificationLabel": "cat"},
        {"mainClassificationLabel": "dog"},
        "b.jpg",
        {"name": ""},
        {"name": "c.jpg", "mainClassificationLabel": 3},
        {"name": "d.jpg", "classificationLabels": "dog"},
        {"name": "e.jpg"},
    ]
    parsed = read_json_list(_write(tmp_path / "list.json", doc), base=tmp_path / "media")
    assert [e.path for e in parsed.entries] == [
        str(tmp_path / "media" / "ok.jpg"),
        str(tmp_path / "media" / "e.jpg"),
    ]
    assert parsed.problems == [
        ImportProblem("list.json[1]", "entry has no 'name'"),
        ImportProblem("list.json[2]", "entry is a str, not an object"),
        ImportProblem("list.json[3]", "'name' must be a non-empty string"),
        ImportProblem("list.json[4]", "'mainClassificationLabel' must be a string"),
        ImportProblem("list.json[5]", "'classificationLabels' must be a list of strings"),
    ]


def test_invalid_json_is_refused_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text('[\n  {"name": "a.jpg"},\n  {"name": "b.jpg",}\n]')
    with pytest.raises(ValidationError) as caught:
        read_json_list(path)
    assert str(caught.value) == (
        "list.json: invalid JSON at line 3, column 20: Expecting property name enclosed in "
        "double quotes"
    )


def test_a_document_that_is_not_a_list_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        read_json_list(_write(tmp_path / "list.json", {"name": "a.jpg"}))
    assert str(caught.value) == "list.json: expected a JSON list of entries, found dict"


def test_names_leading_out_of_the_folder_are_refused_by_index(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "passwd.jpg").symlink_to("/etc/passwd")
    doc = [
        {"name": "../x.jpg"},
        {"name": "/etc/passwd"},
        {"name": "passwd.jpg"},
        {"name": "ok.jpg"},
    ]
    parsed = read_json_list(_write(tmp_path / "list.json", doc), base=tmp_path / "media")
    assert [e.path for e in parsed.entries] == [str(tmp_path / "media" / "ok.jpg")]
    assert [(p.source, p.reason.split(":")[0]) for p in parsed.problems] == [
        ("list.json[0]", "file name '../x.jpg' leads out of the folder ('..')"),
        ("list.json[1]", "absolute file name '/etc/passwd'"),
        (
            "list.json[2]",
            "'passwd.jpg' is a symbolic link to /etc/passwd, outside the folder (follow_symlinks "
            "(--follow-symlinks) allows it)",
        ),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[" * 100_000, "list.json: cannot be read as JSON: nested too deeply"),
        (b"[" + b"9" * 5000 + b"]", "list.json: cannot be read as JSON: Exceeds the limit"),
        (
            b'[\n{"name": "a.jpg"},\n{"name": "\xff"}]',
            "list.json: line 3 is not UTF-8 text (byte 31)",
        ),
    ],
)
def test_json_that_python_cannot_read_is_refused_with_the_reason(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "list.json"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as caught:
        read_json_list(path)
    assert str(caught.value).startswith(message)
