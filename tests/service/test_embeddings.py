"""Computing and importing a dataset's vectors, on real photos and captions."""

from __future__ import annotations

import dataclasses
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tagscope.domain import (
    AlreadyExistsError,
    Dataset,
    JobStatus,
    ModelUnavailableError,
    NewItem,
    ValidationError,
)
from tagscope.embed import load_embedder
from tagscope.embed.phash import N_VARIANTS, PHashEmbedder, unpack_hashes
from tagscope.jobs import LocalRunner
from tagscope.media.images import load_rgb, read_media_info
from tagscope.service import Workspace
from tagscope.service.embeddings import compute_embeddings, import_vectors, phash_variant_store
from tagscope.service.search import search_similar
from tagscope.store import Catalog

MakeDataset = Callable[..., Dataset]


@pytest.fixture()
def photos(coco_mini: Path) -> list[Path]:
    return sorted((coco_mini / "val2017").glob("*.jpg"))[:12]


@pytest.fixture()
def spoiled(tmp_path: Path, photos: list[Path]) -> tuple[list[Path], Callable[[], None]]:
    """Three copies of a photo, and a function that spoils them once they are items: one is
    truncated, one replaced by text, one deleted (files change after an import)."""
    copies = [tmp_path / name for name in ("truncated.jpg", "notes.jpg", "gone.jpg")]
    for copy in copies:
        copy.write_bytes(photos[0].read_bytes())

    def spoil() -> None:
        copies[0].write_bytes(photos[0].read_bytes()[:2000])
        copies[1].write_text("not an image")
        copies[2].unlink()

    return copies, spoil


def _item_ids(ws: Workspace, name: str) -> list[int]:
    return [it.id for it in ws.catalog.iter_items(ws.dataset(name).id)]


def test_clip_space_end_to_end(
    workspace: Workspace,
    make_dataset: MakeDataset,
    photos: list[Path],
    spoiled: tuple[list[Path], Callable[[], None]],
    tiny_clip_dir: Path,
) -> None:
    copies, spoil = spoiled
    ds = make_dataset("coco", [*photos, *copies])
    spoil()
    seen: list[tuple[int, int]] = []

    job = compute_embeddings(
        workspace,
        "coco",
        kind="clip",
        model=str(tiny_clip_dir),
        batch_size=5,
        device="cpu",
        progress=lambda done, total: seen.append((done, total)),
    )

    assert job.kind == "embed" and job.status == JobStatus.DONE
    assert workspace.catalog.get_job(job.id).result == job.result
    r = job.result
    assert (r["space"], r["kind"], r["dim"]) == ("clip", "clip", 16)
    assert r["model"] == str(tiny_clip_dir.resolve())
    assert (r["n_items"], r["n_existing"], r["n_embedded"], r["n_skipped"]) == (15, 0, 12, 3)
    assert r["skipped"] == {"unreadable": 3}
    reasons = {Path(p["path"]).name: p["reason"] for p in r["problems"]}
    assert set(reasons) == {"truncated.jpg", "notes.jpg", "gone.jpg"}
    assert "file not found" in reasons["gone.jpg"]
    assert "not an image" in reasons["notes.jpg"]
    assert seen[-1] == (15, 15)

    space = workspace.catalog.get_space(ds.id, "clip")
    assert space == {
        "name": "clip",
        "kind": "clip",
        "model": str(tiny_clip_dir.resolve()),
        "dim": 16,
    }
    ids, vectors = workspace.vectors(ds, "clip").load()
    by_path = {it.path: it.id for it in workspace.catalog.iter_items(ds.id)}
    assert sorted(ids) == sorted(by_path[str(p)] for p in photos)
    np.testing.assert_allclose(np.linalg.norm(vectors.astype(np.float32), axis=1), 1, atol=2e-3)
    # The stored vectors are the model's vectors of the photos (float16 storage, reduced decode).
    clip = load_embedder("clip", str(tiny_clip_dir), device="cpu")
    direct = clip.encode_images([load_rgb(p) for p in photos])
    stored = vectors[np.searchsorted(ids, [by_path[str(p)] for p in photos])].astype(np.float32)
    assert (np.sum(direct * stored, axis=1) > 0.99).all()

    # A second run has nothing left but the unreadable files, reported again.
    again = compute_embeddings(workspace, "coco", model=str(tiny_clip_dir), device="cpu").result
    assert (again["n_existing"], again["n_embedded"], again["n_skipped"]) == (12, 0, 3)
    assert len(again["problems"]) == 3


def test_resumes_from_what_an_earlier_run_stored(
    workspace: Workspace, make_dataset: MakeDataset, photos: list[Path]
) -> None:
    """A killed run leaves whole chunks; the next run embeds only the other items."""
    ds = make_dataset("coco", photos)
    ids = _item_ids(workspace, "coco")
    first = compute_embeddings(workspace, "coco", kind="phash", batch_size=4).result
    assert first["n_embedded"] == 12
    done_ids, done_vectors = workspace.vectors(ds, "phash").load()
    done_vectors = np.array(done_vectors)

    # Keep only what a run killed after two chunks of 4 would have left.
    workspace.vectors(ds, "phash").remove(np.array(ids[8:]))
    assert len(workspace.vectors(ds, "phash")) == 8
    second = compute_embeddings(workspace, "coco", kind="phash", batch_size=4).result
    assert (second["n_existing"], second["n_embedded"]) == (8, 4)
    final_ids, final_vectors = workspace.vectors(ds, "phash").load()
    np.testing.assert_array_equal(final_ids, done_ids)
    np.testing.assert_array_equal(final_vectors, done_vectors)

    # New items: only they are embedded.
    more = sorted(Path(photos[0]).parent.glob("*.jpg"))[12:15]
    workspace.catalog.add_items(ds.id, [NewItem(str(p), read_media_info(p)) for p in more])
    third = compute_embeddings(workspace, "coco", space="phash").result
    assert (third["n_existing"], third["n_embedded"]) == (12, 3)


def test_text_space_embeds_captions_and_skips_items_without_text(
    workspace: Workspace,
    make_dataset: MakeDataset,
    coco_mini: Path,
    coco_captions: dict[str, str],
) -> None:
    names = sorted(coco_captions)[:40]
    paths = [coco_mini / "val2017" / n for n in names] + sorted(
        (coco_mini / "val2017").glob("*.jpg")
    )[-3:]
    paths = list(dict.fromkeys(paths))
    texts = [coco_captions.get(p.name) for p in paths]
    texts[0] = "  \n  "  # blank lines only: no text either
    ds = make_dataset("captions", paths, texts)

    job = compute_embeddings(workspace, "captions", kind="text", batch_size=16)

    r = job.result
    n_without = sum(1 for t in texts if not (t or "").strip())
    assert r["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert (r["n_embedded"], r["n_skipped"]) == (len(paths) - n_without, n_without)
    assert r["skipped"] == {"no text": n_without}
    assert r["problems"] == []
    ids, vectors = workspace.vectors(ds, "text").load()
    items = workspace.catalog.get_items([int(i) for i in ids])
    assert all((items[int(i)].text or "").strip() for i in ids)

    # A query embedded with the space's recorded model finds items about it.
    space = workspace.catalog.get_space(ds.id, "text")
    query = load_embedder(space["kind"], space["model"]).encode_texts(["a dog"])[0]
    best = ids[np.argsort(-(vectors.astype(np.float32) @ query))[:2]]
    for item_id in best:
        assert "dog" in (items[int(item_id)].text or "").lower()


def test_space_names_kinds_and_models(
    workspace: Workspace, make_dataset: MakeDataset, photos: list[Path], tiny_clip_dir: Path
) -> None:
    ds = make_dataset("coco", photos[:4])
    # The space name alone says the kind when it names one.
    assert compute_embeddings(workspace, "coco", space="phash").result["kind"] == "phash"
    # Another space of one kind, under its own name.
    r = compute_embeddings(workspace, "coco", space="tiny", kind="clip", model=str(tiny_clip_dir))
    assert (r.result["space"], r.result["kind"], r.result["n_embedded"]) == ("tiny", "clip", 4)
    # An existing space keeps its kind and model.
    again = compute_embeddings(workspace, "coco", space="tiny").result
    assert (again["kind"], again["model"], again["n_existing"]) == (
        "clip",
        str(tiny_clip_dir.resolve()),
        4,
    )
    with pytest.raises(AlreadyExistsError, match="already holds"):
        compute_embeddings(workspace, "coco", space="tiny", kind="phash")
    names = [s["name"] for s in workspace.catalog.list_spaces(ds.id)]
    assert names == ["phash", "tiny"]


def test_missing_model_records_nothing(
    workspace: Workspace, make_dataset: MakeDataset, photos: list[Path]
) -> None:
    ds = make_dataset("coco", photos[:2])
    with pytest.raises(ModelUnavailableError, match="--model"):
        compute_embeddings(workspace, "coco", kind="clip")
    assert workspace.catalog.list_spaces(ds.id) == []
    assert workspace.catalog.list_jobs(ds.id) == []


def test_bad_arguments(workspace: Workspace, make_dataset: MakeDataset, photos: list[Path]) -> None:
    make_dataset("coco", photos[:2])
    with pytest.raises(ValidationError, match="unknown embedding kind"):
        compute_embeddings(workspace, "coco", kind="dino")
    with pytest.raises(ValidationError, match="batch size"):
        compute_embeddings(workspace, "coco", kind="phash", batch_size=0)


# -- import_vectors ---------------------------------------------------------------------------


@pytest.fixture()
def small(workspace: Workspace, make_dataset: MakeDataset, photos: list[Path]) -> Dataset:
    make_dataset("other", photos[4:5])
    return make_dataset("small", photos[:4])


def _save_npy(folder: Path, ids: np.ndarray, vectors: np.ndarray, stem: str = "vecs") -> Path:
    np.save(folder / f"{stem}.npy", vectors)
    np.save(folder / f"{stem}.ids.npy", ids)
    return folder / f"{stem}.npy"


def test_import_npy_with_ids(workspace: Workspace, small: Dataset, tmp_path: Path) -> None:
    ids = np.array(_item_ids(workspace, "small"))
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(4, 8)).astype(np.float32) * 3
    report = import_vectors(workspace, "small", "mine", _save_npy(tmp_path, ids, vectors))
    assert report == {"space": "mine", "dim": 8, "n_imported": 4, "n_replaced": 0}
    assert workspace.catalog.get_space(small.id, "mine")["kind"] == "imported"
    got_ids, got = workspace.vectors(small, "mine").load()
    np.testing.assert_array_equal(got_ids, np.sort(ids))
    expected = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(got.astype(np.float32), expected[np.argsort(ids)], atol=2e-3)

    # Importing again replaces, and keys may be item paths.
    paths = np.array([it.path for it in workspace.catalog.iter_items(small.id)])
    again = import_vectors(workspace, "small", "mine", _save_npy(tmp_path, paths[:2], vectors[:2]))
    assert (again["n_imported"], again["n_replaced"]) == (2, 2)
    assert len(workspace.vectors(small, "mine")) == 4


def test_large_spaces_get_their_search_index_at_import(
    workspace: Workspace, small: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tagscope.index.select as select

    ids = np.array(_item_ids(workspace, "small"))
    vectors = np.random.default_rng(1).normal(size=(4, 8)).astype(np.float32)
    import_vectors(workspace, "small", "exact", _save_npy(tmp_path, ids, vectors))
    assert not list(workspace.vectors(small, "exact").folder.glob("ivf-*.faiss"))

    monkeypatch.setattr(select, "EXACT_MAX_ROWS", 3)  # 4 vectors: over it, FAISS
    import_vectors(workspace, "small", "large", _save_npy(tmp_path, ids, vectors))
    built = list(workspace.vectors(small, "large").folder.glob("ivf-*.faiss"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    hits = search_similar(workspace, "small", item_id=int(ids[0]), space="large", k=3)
    exact = search_similar(workspace, "small", item_id=int(ids[0]), space="exact", k=3)
    assert [h.item_id for h in hits] == [h.item_id for h in exact]
    assert built[0].stat().st_mtime_ns == stamp  # the first search used it, built nothing


def test_import_parquet(workspace: Workspace, small: Dataset, tmp_path: Path) -> None:
    ids = _item_ids(workspace, "small")
    vectors = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.0, 0.0]]
    file = tmp_path / "v.parquet"
    pq.write_table(pa.table({"item_id": ids, "vector": vectors}), file)
    report = import_vectors(workspace, "small", "pq", file, kind="clip", model="my/clip")
    assert report["n_imported"] == 4
    assert workspace.catalog.get_space(small.id, "pq") == {
        "name": "pq",
        "kind": "clip",
        "model": "my/clip",
        "dim": 3,
    }
    _, got = workspace.vectors(small, "pq").load()
    np.testing.assert_allclose(got[1].astype(np.float32), [0, 1, 0])

    by_path = tmp_path / "p.parquet"
    paths = [it.path for it in workspace.catalog.iter_items(small.id)]
    pq.write_table(pa.table({"path": paths, "vector": vectors}), by_path)
    assert import_vectors(workspace, "small", "pq2", by_path)["n_imported"] == 4


def _bad_cases(ws: Workspace, tmp_path: Path) -> list[tuple[Path, dict, str]]:
    ids = np.array(_item_ids(ws, "small"))
    other = np.array(_item_ids(ws, "other"))
    v = np.ones((4, 8), np.float32)
    nan = v.copy()
    nan[2, 3] = np.nan
    zero = v.copy()
    zero[1] = 0
    cases = [
        (
            _save_npy(tmp_path, np.array([*ids[:3], 999_999]), v, "unknown"),
            {},
            r"1 item ids are not items of dataset 'small': 999999",
        ),
        (
            _save_npy(tmp_path, np.array([*ids[:3], other[0]]), v, "foreign"),
            {},
            f"not items of dataset 'small': {other[0]}",
        ),
        (
            _save_npy(tmp_path, np.array(["/nowhere/a.jpg", *ids[:3].astype(str)]), v, "paths"),
            {},
            "paths are not items of dataset 'small': '/nowhere/a.jpg'",
        ),
        (
            _save_npy(tmp_path, ids, nan, "nan"),
            {},
            r"1 vectors hold NaN or infinite values \(rows 2\)",
        ),
        (_save_npy(tmp_path, ids, zero, "zero"), {}, r"all zeros \(rows 1\)"),
        (
            _save_npy(tmp_path, ids, np.ones((4, 5), np.float32), "dims"),
            {},
            "vectors have 5 dimensions, space 'mine' holds 8",
        ),
        (
            _save_npy(tmp_path, np.array([ids[0], ids[0], ids[1], ids[2]]), v, "dup"),
            {},
            "items appear more than once",
        ),
        (_save_npy(tmp_path, ids[:3], v, "short"), {}, "holds 3 ids for the 4 rows"),
        (
            _save_npy(tmp_path, ids, np.ones(4, np.float32), "flat"),
            {},
            r"expected an \(n, d\) matrix",
        ),
        (_save_npy(tmp_path, ids, v.astype(str), "strings"), {}, "expected numbers"),
        (_save_npy(tmp_path, ids[:0], v[:0], "empty"), {}, "holds no vectors"),
    ]
    lonely = tmp_path / "lonely.npy"
    np.save(lonely, v)
    cases.append((lonely, {}, "lonely.ids.npy is missing"))
    cases.append((lonely, {"ids_file": tmp_path / "nope.npy"}, "nope.npy is missing"))
    (tmp_path / "garbage.npy").write_bytes(b"garbage")
    cases.append((tmp_path / "garbage.npy", {}, "garbage.npy: (not a plain NumPy|cannot read)"))
    cases.append((tmp_path / "v.csv", {}, "unsupported format"))
    cases.append((tmp_path / "absent.parquet", {}, "absent.parquet: file not found"))
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 nonsense")
    cases.append((tmp_path / "broken.parquet", {}, "cannot read it as Parquet"))
    cols = tmp_path / "cols.parquet"
    pq.write_table(pa.table({"id": ids, "embedding": [[1.0]] * 4}), cols)
    cases.append((cols, {}, r"expected columns 'item_id' \(or 'path'\) and 'vector'"))
    ragged = tmp_path / "ragged.parquet"
    pq.write_table(pa.table({"item_id": ids, "vector": [[1.0, 2.0]] * 3 + [[1.0]]}), ragged)
    cases.append((ragged, {}, "row 0 has 2 numbers, row 3 has 1"))
    nulls = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"item_id": ids, "vector": [[1.0] * 7 + [None], [1.0] * 8] * 2}), nulls)
    cases.append((nulls, {}, "NaN"))
    texty = tmp_path / "texty.parquet"
    pq.write_table(pa.table({"item_id": ids, "vector": ["a", "b", "c", "d"]}), texty)
    cases.append((texty, {}, "must hold lists of numbers"))
    return cases


def test_import_bad_inputs_name_file_and_problem(
    workspace: Workspace, small: Dataset, tmp_path: Path
) -> None:
    ids = np.array(_item_ids(workspace, "small"))
    good = _save_npy(tmp_path, ids, np.eye(4, 8, dtype=np.float32), "good")
    import_vectors(workspace, "small", "mine", good)
    before_ids, before = workspace.vectors(small, "mine").load()
    before = np.array(before)

    for file, kwargs, message in _bad_cases(workspace, tmp_path):
        with pytest.raises(ValidationError, match=message) as err:
            import_vectors(workspace, "small", "mine", file, **kwargs)
        assert str(err.value).startswith(str(file.parent)), err.value

    after_ids, after = workspace.vectors(small, "mine").load()
    np.testing.assert_array_equal(after_ids, before_ids)
    np.testing.assert_array_equal(after, before)


def test_import_needs_the_model_for_a_model_kind(
    workspace: Workspace, small: Dataset, tmp_path: Path
) -> None:
    good = _save_npy(tmp_path, np.array(_item_ids(workspace, "small")), np.ones((4, 3)))
    with pytest.raises(ValidationError, match="need the model"):
        import_vectors(workspace, "small", "s", good, kind="clip")
    with pytest.raises(ValidationError, match="unknown kind 'bert'"):
        import_vectors(workspace, "small", "s", good, kind="bert", model="x")


@pytest.mark.parametrize("fmt", ["npy", "parquet"])
def test_import_reads_the_file_a_chunk_at_a_time(
    workspace: Workspace, small: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    import tagscope.store.vector_files as vector_files

    monkeypatch.setattr(vector_files, "CHUNK_ROWS", 3)  # 4 vectors: two chunks, checked and stored
    ids = np.array(_item_ids(workspace, "small"))
    vectors = np.random.default_rng(2).normal(size=(4, 8)).astype(np.float32)
    if fmt == "npy":
        file = _save_npy(tmp_path, ids, vectors)
    else:
        file = tmp_path / "vecs.parquet"
        pq.write_table(pa.table({"item_id": ids, "vector": vectors.tolist()}), file)
    bad = vectors.copy()
    bad[3] = np.nan  # in the second chunk: found before anything is stored
    with pytest.raises(ValidationError, match=r"1 vectors hold NaN .*rows 3\)"):
        import_vectors(workspace, "small", "mine", _save_npy(tmp_path, ids, bad, stem="bad"))
    assert len(workspace.vectors(small, "mine")) == 0
    import_vectors(workspace, "small", "mine", file)
    got_ids, got = workspace.vectors(small, "mine").load()
    np.testing.assert_array_equal(got_ids, np.sort(ids))
    expected = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(got.astype(np.float32), expected[np.argsort(ids)], atol=2e-3)


def test_phash_space_stores_each_items_variants_with_the_same_ids(
    workspace: Workspace,
    make_dataset: MakeDataset,
    photos: list[Path],
    spoiled: tuple[list[Path], Callable[[], None]],
) -> None:
    """The job stores, beside each vector, the packed hashes of the image and its flip and
    crops; removing items drops both; a space without them (embedded before they were stored)
    gets them from the next run, which hashes its items again."""
    copies, spoil = spoiled
    ds = make_dataset("coco", [*photos, *copies])
    spoil()
    first = compute_embeddings(workspace, "coco", kind="phash", batch_size=5).result
    assert (first["n_embedded"], first["n_skipped"]) == (12, 3)
    store = workspace.vectors(ds, "phash")
    ids, vectors = store.load()
    side_ids, packed = phash_variant_store(store).load()
    np.testing.assert_array_equal(side_ids, ids)
    assert packed.shape == (12, (1 + N_VARIANTS) * 8) and packed.dtype == np.uint8
    by_path = {it.path: it.id for it in workspace.catalog.iter_items(ds.id)}
    images = [load_rgb(p, min_side=PHashEmbedder.min_image_side) for p in photos]
    want = PHashEmbedder().encode_with_variants(images)[1].reshape(len(photos), -1)
    rows = np.searchsorted(ids, [by_path[str(p)] for p in photos])
    np.testing.assert_array_equal(packed[rows], want)
    np.testing.assert_array_equal(unpack_hashes(want.reshape(12, -1, 8))[:, 0], vectors[rows] > 0)

    store.remove(ids[:4])
    np.testing.assert_array_equal(phash_variant_store(store).ids(), ids[4:])
    shutil.rmtree(phash_variant_store(store).folder)  # as a space embedded before this
    again = compute_embeddings(workspace, "coco", space="phash").result
    assert (again["n_existing"], again["n_embedded"], again["n_skipped"]) == (0, 12, 3)
    np.testing.assert_array_equal(phash_variant_store(store).load()[1], packed)
    np.testing.assert_array_equal(store.load()[1], vectors)
    third = compute_embeddings(workspace, "coco", space="phash").result
    assert (third["n_existing"], third["n_embedded"]) == (12, 0)


def test_a_video_dataset_embeds_keyframes_as_pictures_and_cues_as_texts(
    workspace: Workspace, make_video: Callable[..., Path], tmp_path: Path
) -> None:
    from tagscope.domain import Modality
    from tagscope.service.video_import import import_video

    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "clip.mp4", [((220, 30, 30), 30), ((20, 40, 210), 30)])
    (folder / "clip.srt").write_text(
        "1\n00:00:00,000 --> 00:00:01,000\na red wall\n\n"
        "2\n00:00:01,200 --> 00:00:02,000\nthe sea is blue\n"
    )
    import_video(workspace, "clips", folder, keyframes="scene", thumbnails="none")
    ds = workspace.dataset("clips")
    by_modality: dict[Modality, list[int]] = {}
    for item in workspace.catalog.iter_items(ds.id):
        by_modality.setdefault(item.modality, []).append(item.id)
    assert {m: len(ids) for m, ids in by_modality.items()} == {
        Modality.VIDEO: 1, Modality.SHOT: 2, Modality.KEYFRAME: 2, Modality.TRANSCRIPT: 2,
    }  # fmt: skip

    pictures = compute_embeddings(workspace, "clips", space="phash", kind="phash").result
    # The video's file, its shots and its cues have no picture: skipped, not unreadable.
    assert pictures["skipped"] == {
        "no image (video)": 1, "no image (shot)": 2, "no image (transcript)": 2,
    }  # fmt: skip
    assert (pictures["n_embedded"], pictures["n_problems"], pictures["problems"]) == (2, 0, [])
    assert workspace.vectors(ds, "phash").ids().tolist() == by_modality[Modality.KEYFRAME]

    words = compute_embeddings(workspace, "clips", space="text", kind="text").result
    assert (words["n_embedded"], words["n_problems"]) == (2, 0)
    assert workspace.vectors(ds, "text").ids().tolist() == by_modality[Modality.TRANSCRIPT]


class _PicklingRunner(LocalRunner):
    """The local runner, but each shard is computed by a copy of the task that went through
    pickle, as another process would receive it; records the pickled sizes and shards."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.task_bytes: list[int] = []
        self.shards: list[object] = []

    def map(self, task, shards):  # type: ignore[no-untyped-def]
        blob = pickle.dumps(task)
        self.task_bytes.append(len(blob))
        for shard in shards:
            self.shards.append(shard)
            yield from pickle.loads(blob)(pickle.loads(pickle.dumps(shard)))


def test_embedding_maps_shards_of_a_few_batches_through_the_runner(
    workspace: Workspace,
    make_dataset: MakeDataset,
    photos: list[Path],
    spoiled: tuple[list[Path], Callable[[], None]],
) -> None:
    copies, spoil = spoiled
    make_dataset("local", [*photos, *copies])
    make_dataset("mapped", [*photos, *copies])
    spoil()
    local = compute_embeddings(workspace, "local", kind="phash", batch_size=2).result
    runner = _PicklingRunner(workspace.catalog)
    ws = dataclasses.replace(workspace, runner=runner)
    mapped = compute_embeddings(ws, "mapped", kind="phash", batch_size=2).result
    # 15 items in shards of 4 batches of 2; the task names its model (no weights travel).
    assert [len(s) for s in runner.shards] == [8, 7] and runner.task_bytes[0] < 1000
    assert {k: v for k, v in mapped.items() if k != "problems"} == {
        k: v for k, v in local.items() if k != "problems"
    }
    assert [p["path"] for p in mapped["problems"]] == [p["path"] for p in local["problems"]]
    for space in (lambda ds: workspace.vectors(ds, "phash"),
                  lambda ds: phash_variant_store(workspace.vectors(ds, "phash"))):  # fmt: skip
        a = space(workspace.dataset("local")).load()[1]
        b = space(workspace.dataset("mapped")).load()[1]
        np.testing.assert_array_equal(a, b)
