"""Score tables: immutable versions, atomic publication, resumable parts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tagscope.domain import AlreadyExistsError, NotFoundError, ValidationError
from tagscope.store import scores as scores_module
from tagscope.store.scores import SCHEMA, ScoreTables, _cached_part

TAGS = ["dog", "street sign"]


@pytest.fixture()
def tables(tmp_path: Path) -> ScoreTables:
    return ScoreTables(tmp_path / "scores")


def _scores(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.arange(1, n + 1), rng.random((n, len(TAGS)), dtype=np.float32)


def test_write_is_long_tag_major_with_decisions(tables: ScoreTables) -> None:
    ids = np.array([5, 7, 9])
    scores = np.array([[0.9, 0.1], [0.7, 0.5], [0.2, 0.49]], dtype=np.float32)
    path = tables.write(3, "Street Scenes", 1, "visual", ids, TAGS, scores, {"dog": 0.7})
    assert path == tables.root / "street_scenes" / "3" / "visual" / "v000001"
    table = pq.read_table(tables.info(3, "street_scenes", 1).files)
    assert table.schema == SCHEMA
    rows = table.to_pylist()
    assert [(r["item_id"], r["tag"]) for r in rows] == [
        (5, "dog"), (7, "dog"), (9, "dog"),
        (5, "street sign"), (7, "street sign"), (9, "street sign"),
    ]  # fmt: skip
    # A score equal to the threshold is a positive (compared in float32, as in SQL).
    assert [r["decision"] for r in rows] == [True, True, False, False, True, False]
    assert {r["tag"]: r["threshold"] for r in rows} == pytest.approx(
        {"dog": 0.7, "street sign": 0.5}
    )
    assert {r["version"] for r in rows} == {1}


def test_each_part_has_a_wide_twin(tables: ScoreTables) -> None:
    """One row per item, item_id then a float32 column per tag named as the tag, the same
    scores as the long rows; the manifest says the version is wide."""
    w = tables.writer(1, "animals", 1, tags=TAGS, n_parts=2)
    ids, scores = _scores(10)
    w.write_part(1, ids[5:], scores[5:])
    w.write_part(0, ids[:5], scores[:5])
    w.finalize()
    info = tables.info(1, "animals", 1)
    assert info.wide and [p.name for p in info.wide_files] == [p.name for p in info.files]
    twins = pq.read_table(info.wide_files)
    assert twins.column_names == ["item_id", *TAGS]
    assert twins.schema.field("dog").type == "float"
    np.testing.assert_array_equal(twins.column("item_id").to_numpy(), ids)
    got = np.stack([twins.column(t).to_numpy() for t in TAGS], axis=1)
    np.testing.assert_array_equal(got, tables.load(1, "animals", 1)[2])


@pytest.mark.parametrize(
    ("tags", "parts"),
    [
        (TAGS, [np.arange(1, 6), np.arange(4, 9)]),  # item 4 and 5 in two parts
        (["Dog", "dog"], [np.arange(1, 6)]),  # one SQL name
        (["item_id", "dog"], [np.arange(1, 6)]),
    ],
)
def test_a_version_is_not_wide_when_twins_would_mislead(
    tables: ScoreTables, tags: list[str], parts: list[np.ndarray]
) -> None:
    """Parts sharing an item (the twins would show it twice) or tags that clash as columns
    leave the version long only: the SQL views pivot it as before."""
    w = tables.writer(1, "animals", 1, tags=tags, n_parts=len(parts))
    for i, ids in enumerate(parts):
        w.write_part(i, ids, np.full((len(ids), 2), 0.5, np.float32))
    w.finalize()
    info = tables.info(1, "animals", 1)
    assert not info.wide and info.wide_files == []


def test_load_reads_a_part_at_a_time(tables: ScoreTables) -> None:
    """A version of many parts loads into its matrix with memory near the matrix itself (the
    grid keeps it: 200M scores at 10M items x 20 tags), not the long table's ~25 bytes a score."""
    rng = np.random.default_rng(3)
    tags = [f"t{i}" for i in range(8)]
    ids = np.arange(1, 40_001)
    scores = rng.random((len(ids), len(tags)), dtype=np.float32)
    w = tables.writer(1, "animals", 1, tags=tags, n_parts=10)
    for part in range(10):
        w.write_part(part, ids[part * 4000 : (part + 1) * 4000], scores[part * 4000 :][:4000])
    w.finalize()
    tracemalloc.start()
    try:
        got_ids, got_tags, got = tables.load(1, "animals", 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got_tags == tags
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_array_equal(got, scores)
    assert peak < 3 * scores.nbytes  # the matrix (and its parts) + one part's rows


def test_load_merges_parts_out_of_id_order(tables: ScoreTables) -> None:
    ids, scores = _scores(30)
    w = tables.writer(1, "animals", 1, tags=TAGS, n_parts=3)
    w.write_part(0, ids[20:], scores[20:])  # parts need not hold ascending ids
    w.write_part(1, ids[:10], scores[:10])
    w.write_part(2, ids[10:20][::-1], scores[10:20][::-1])
    w.finalize()
    got_ids, _, got = tables.load(1, "animals", 1)
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_array_equal(got, scores)


def test_scores_of_some_items_reads_only_their_parts(tables: ScoreTables) -> None:
    """A grid page's scores come from the parts holding its items, not the whole version."""
    rng = np.random.default_rng(4)
    ids = np.arange(1, 1001) * 2  # even ids: odd ones have no score
    scores = rng.random((len(ids), len(TAGS)), dtype=np.float32)
    w = tables.writer(1, "animals", 1, tags=TAGS, n_parts=10)
    for part in range(10):
        w.write_part(part, ids[part * 100 : (part + 1) * 100], scores[part * 100 :][:100])
    w.finalize()
    info = tables.info(1, "animals", 1)
    _cached_part.cache_clear()
    wanted = np.array([1800, 3, 404, 402])
    got = tables.scores_of(info, wanted)
    np.testing.assert_array_equal(got[[0, 2, 3]], scores[[899, 201, 200]])
    assert np.isnan(got[1]).all()
    assert _cached_part.cache_info().currsize == 3  # parts 0, 2 and 8 of the 10


def test_scores_of_read_the_wide_twins_where_a_version_has_them(
    tables: ScoreTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twins hold the same scores as a matrix already; a version without them (written
    before they existed) reads its long parts."""
    ids, scores = _scores(40)
    tables.write(1, "animals", 1, "visual", ids, TAGS, scores)
    info = tables.info(1, "animals", 1)
    assert info.wide
    _cached_part.cache_clear()
    real = scores_module._part_matrix

    def no_long_parts(*args: object) -> None:
        raise AssertionError("read a long part")

    monkeypatch.setattr(scores_module, "_part_matrix", no_long_parts)
    np.testing.assert_array_equal(tables.scores_of(info, ids[::-1]), scores[::-1])
    monkeypatch.setattr(scores_module, "_part_matrix", real)
    manifest = info.path / "_manifest.json"
    spec = json.loads(manifest.read_text())
    spec.pop("wide")
    manifest.write_text(json.dumps(spec))
    _cached_part.cache_clear()
    before = tables.info(1, "animals", 1)
    assert not before.wide
    np.testing.assert_array_equal(tables.scores_of(before, ids[:7]), scores[:7])


def test_info_load_versions_latest(tables: ScoreTables) -> None:
    ids, scores = _scores(50)
    assert tables.latest(1, "animals") is None
    tables.write(1, "animals", 1, "visual", ids, TAGS, scores)
    tables.write(1, "animals", 2, "visual", ids, TAGS, scores / 2)
    tables.write(1, "animals", 1, "transcript", ids[:5], TAGS, scores[:5])
    assert tables.versions(1, "animals") == [1, 2]
    assert tables.latest(1, "Animals", "visual") == 2
    info = tables.info(1, "animals", 2)
    assert (info.tags, info.n_items, info.thresholds) == (tuple(TAGS), 50, dict.fromkeys(TAGS, 0.5))
    got_ids, got_tags, got = tables.load(1, "animals", 2)
    assert got_tags == TAGS
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_array_equal(got, scores / 2)
    assert [(v.group, v.dataset_id, v.modality, v.version) for v in tables.scored()] == [
        ("animals", 1, "visual", 2),
        ("animals", 1, "transcript", 1),
    ]
    with pytest.raises(NotFoundError, match="no score version 3"):
        tables.info(1, "animals", 3)


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_new_version_never_overwrites_an_old_one(tables: ScoreTables) -> None:
    ids, scores = _scores(20)
    path = tables.write(1, "animals", 1, "visual", ids, TAGS, scores)
    before = _contents(path)
    with pytest.raises(AlreadyExistsError, match=r"v000001 already exists.*immutable"):
        tables.write(1, "animals", 1, "visual", ids, TAGS, 1 - scores)
    with pytest.raises(AlreadyExistsError):
        tables.writer(1, "animals", 1, "visual", tags=TAGS, n_parts=2)
    assert _contents(path) == before
    tables.write(1, "animals", 2, "visual", ids, TAGS, 1 - scores)
    assert _contents(path) == before
    np.testing.assert_array_equal(tables.load(1, "animals", 1)[2], scores)


def test_a_racing_writer_cannot_publish_over_a_finished_version(tables: ScoreTables) -> None:
    ids, scores = _scores(10)
    first = tables.writer(1, "animals", 1, "visual", tags=TAGS)
    first.write_part(0, ids, scores)
    tables.write(1, "animals", 1, "visual", ids, TAGS, 1 - scores)  # published meanwhile
    with pytest.raises(AlreadyExistsError):
        first.finalize()
    np.testing.assert_array_equal(tables.load(1, "animals", 1)[2], 1 - scores)


_KILLED_JOB = """
import os, signal, sys
import numpy as np
from tagscope.store.scores import ScoreTables

w = ScoreTables(sys.argv[1]).writer(1, "animals", 1, "visual", tags=["dog", "street sign"],
                                    thresholds={"dog": 0.6}, n_parts=4)
for part in w.missing_parts():
    if part == 2:
        # Killed while writing part 2: a half-written temporary file stays behind.
        open(w.partial / ".part-00002.parquet.123.tmp", "wb").write(b"PAR1 half")
        os.kill(os.getpid(), signal.SIGKILL)
    ids = np.arange(part * 10, part * 10 + 10) + 1
    w.write_part(part, ids, np.full((10, 2), part / 10, dtype=np.float32))
"""


def test_a_killed_job_resumes_at_its_first_missing_part(tables: ScoreTables) -> None:
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_JOB), str(tables.root)], check=False
    )
    assert run.returncode == -9
    assert tables.versions(1, "animals") == []  # nothing published
    w = tables.writer(1, "animals", 1, "visual", tags=TAGS, thresholds={"dog": 0.6}, n_parts=4)
    assert w.done_parts() == [0, 1]
    assert w.missing_parts() == [2, 3]
    assert not list(w.partial.glob("*.tmp"))
    with pytest.raises(ValidationError, match="2 of 4 parts are missing"):
        w.finalize()
    for part in w.missing_parts():
        w.write_part(part, np.arange(part * 10, part * 10 + 10) + 1, np.full((10, 2), part / 10))
    path = w.finalize()
    assert not w.partial.exists()
    parts = [f"part-0000{i}.parquet" for i in range(4)]
    assert sorted(p.name for p in path.iterdir()) == ["_manifest.json", "_wide", *parts]
    assert [p.name for p in tables.info(1, "animals", 1).wide_files] == parts
    ids, _, scores = tables.load(1, "animals", 1)
    np.testing.assert_array_equal(ids, np.arange(1, 41))
    np.testing.assert_allclose(scores[:, 0], np.repeat([0.0, 0.1, 0.2, 0.3], 10))
    assert tables.info(1, "animals", 1).thresholds == {"dog": 0.6, "street sign": 0.5}


def test_resuming_with_another_definition_needs_restart(tables: ScoreTables) -> None:
    w = tables.writer(1, "animals", 1, "visual", tags=TAGS, n_parts=2)
    w.write_part(0, *_scores(5))
    with pytest.raises(ValidationError, match="other tags, thresholds or parts"):
        tables.writer(1, "animals", 1, "visual", tags=["dog"], n_parts=2)
    with pytest.raises(ValidationError, match="other tags"):
        tables.writer(1, "animals", 1, "visual", tags=TAGS, thresholds={"dog": 0.9}, n_parts=2)
    again = tables.writer(1, "animals", 1, "visual", tags=["dog"], n_parts=2, restart=True)
    assert again.missing_parts() == [0, 1]
    again.discard()
    assert not again.partial.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"modality": "audio"}, "unknown score modality 'audio'"),
        ({"version": 0}, "integer >= 1"),
        ({"group": "!!"}, "invalid group name"),
        ({"scores": np.full((3, 2), 1.5, dtype=np.float32)}, r"within \[0, 1\]"),
        ({"scores": np.full((3, 2), np.nan, dtype=np.float32)}, "finite"),
        ({"scores": np.zeros((3, 3), dtype=np.float32)}, r"shape \(n_items, n_tags\)"),
        ({"item_ids": np.array([1, 1, 2])}, "repeat within a part"),
        ({"tags": ["dog", "dog"]}, "tag names repeat"),
        ({"thresholds": {"cat": 0.5}}, "unknown tags"),
        ({"thresholds": {"dog": 2.0}}, "within 0..1"),
    ],
)
def test_bad_input_is_refused(tables: ScoreTables, kwargs: dict, message: str) -> None:
    args = {
        "dataset_id": 1,
        "group": "animals",
        "version": 1,
        "modality": "visual",
        "item_ids": np.array([1, 2, 3]),
        "tags": TAGS,
        "scores": np.zeros((3, 2), dtype=np.float32),
        "thresholds": None,
    }
    with pytest.raises(ValidationError, match=message):
        tables.write(**{**args, **kwargs})
    assert tables.scored() == []
