"""Search use cases on real data: COCO captions (text space), planted near-duplicates among
imagenette photos (phash space), a tiny random CLIP end to end, and every refused input."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import delete, event

from tagscope.domain import (
    Dataset,
    Label,
    LabelKind,
    MediaInfo,
    NewItem,
    NotFoundError,
    ValidationError,
)
from tagscope.embed.phash import MODEL as PHASH_MODEL
from tagscope.index import faiss_index
from tagscope.index.flat import FlatIndex
from tagscope.service import Workspace
from tagscope.service.embeddings import compute_embeddings, import_vectors, phash_variant_store
from tagscope.service.imports import import_coco, import_images
from tagscope.service.search import (
    default_min_score,
    find_duplicates,
    search_similar,
    search_text,
)
from tagscope.store.schema import ItemRow

# -- COCO val2017: instances + captions, embedded in the `text` space ------------------------------


@pytest.fixture(scope="module")
def coco_truth(coco_mini: Path) -> dict[str, set[str]]:
    """File name -> the category names of its COCO instances."""
    doc = json.loads((coco_mini / "annotations" / "instances_val2017.json").read_text())
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    names = {im["id"]: im["file_name"] for im in doc["images"]}
    truth: dict[str, set[str]] = {name: set() for name in names.values()}
    for ann in doc["annotations"]:
        truth[names[ann["image_id"]]].add(cats[ann["category_id"]])
    return truth


@pytest.fixture(scope="module")
def coco_ws(tmp_path_factory: pytest.TempPathFactory, coco_mini: Path) -> Workspace:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TAGSCOPE_DATABASE_URL", raising=False)
        ws = Workspace.open(tmp_path_factory.mktemp("coco") / "ws")
    ann = coco_mini / "annotations"
    report = import_coco(
        ws,
        "coco",
        ann / "instances_val2017.json",
        images=coco_mini / "val2017",
        captions=ann / "captions_val2017.json",
        thumbnails=False,
    )
    assert report.n_added == 79 and not report.problems
    job = compute_embeddings(ws, "coco", kind="text")
    assert job.result["n_embedded"] == 79
    return ws


def names(hits: list) -> list[str]:
    return [Path(h.path).name for h in hits]


@pytest.mark.slow
def test_a_dog_ranks_dog_images_first(coco_ws: Workspace, coco_truth: dict[str, set[str]]) -> None:
    dogs = {name for name, cats in coco_truth.items() if "dog" in cats}
    assert len(dogs) == 3
    hits = search_text(coco_ws, "coco", "a dog", space="text", k=10)
    assert len(hits) == 10
    assert set(names(hits)[: len(dogs)]) == dogs
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and -1 <= scores[-1] <= scores[0] <= 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("labels", "mode"),
    [
        (["dog"], "any"),
        (["dog", "cat"], "any"),
        (["person", "car"], "any"),
        (["person", "car"], "all"),
        (["person", "bottle", "cup"], "all"),
        (["dog", "cat", "no such label"], "all"),
    ],
)
def test_label_filters_any_and_all(
    coco_ws: Workspace, coco_truth: dict[str, set[str]], labels: list[str], mode: str
) -> None:
    pick = any if mode == "any" else all
    want = {name for name, cats in coco_truth.items() if pick(lab in cats for lab in labels)}
    hits = search_text(coco_ws, "coco", "a photo", space="text", k=500, labels=labels, mode=mode)
    assert set(names(hits)) == want and len(hits) == len(want)
    if not want:
        return
    query = next(h for h in search_text(coco_ws, "coco", "a photo", space="text", k=500))
    similar = search_similar(
        coco_ws, "coco", item_id=query.item_id, space="text", k=500, labels=labels, mode=mode
    )
    assert set(names(similar)) == want - {Path(query.path).name}
    pairs = find_duplicates(
        coco_ws, "coco", space="text", min_score=-1.0, k=10_000, labels=labels, mode=mode
    )
    assert len(pairs) == len(want) * (len(want) - 1) // 2  # every pair of them, once
    assert {Path(p.a.path).name for p in pairs} | {Path(p.b.path).name for p in pairs} <= want


@pytest.mark.slow
def test_min_score_and_k(coco_ws: Workspace) -> None:
    every = search_text(coco_ws, "coco", "people eating", space="text", k=1000)
    assert len(every) == 79
    cut = every[5].score
    hits = search_text(coco_ws, "coco", "people eating", space="text", k=1000, min_score=cut)
    assert hits == [h for h in every if h.score >= cut]
    assert search_text(coco_ws, "coco", "people eating", space="text", k=3) == every[:3]
    assert search_text(coco_ws, "coco", "people eating", space="text", min_score=1.0) == []


@pytest.mark.slow
def test_similar_item_leaves_the_query_out(coco_ws: Workspace) -> None:
    query = search_text(coco_ws, "coco", "a dog", space="text", k=1)[0]
    hits = search_similar(coco_ws, "coco", item_id=query.item_id, space="text", k=100)
    assert len(hits) == 78 and query.item_id not in {h.item_id for h in hits}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_search_counts_no_items(coco_ws: Workspace) -> None:
    """Counting a dataset's items takes 0.4 s at 10M: a search's dataset check does not."""
    query = search_text(coco_ws, "coco", "a dog", space="text", k=1)[0]
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement.lower())

    event.listen(coco_ws.catalog.engine, "before_cursor_execute", record)
    try:
        hits = search_similar(coco_ws, "coco", item_id=query.item_id, space="text", k=5)
    finally:
        event.remove(coco_ws.catalog.engine, "before_cursor_execute", record)
    assert len(hits) == 5 and statements
    assert not [s for s in statements if "count(" in s]


@pytest.mark.slow
def test_refused_inputs(coco_ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no dataset"):
        search_text(coco_ws, "nope", "a dog", space="text")
    with pytest.raises(NotFoundError, match="space 'clip'"):
        search_text(coco_ws, "coco", "a dog")  # never embedded with clip
    for text in ("", "   "):
        with pytest.raises(ValidationError, match="empty"):
            search_text(coco_ws, "coco", text, space="text")
    for k in (0, -3):
        with pytest.raises(ValidationError, match="k must be"):
            search_text(coco_ws, "coco", "a dog", space="text", k=k)
    with pytest.raises(ValidationError, match="mode"):
        search_text(coco_ws, "coco", "a dog", space="text", labels=["dog"], mode="some")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="min_score"):
        search_text(coco_ws, "coco", "a dog", space="text", min_score=float("nan"))
    with pytest.raises(ValidationError, match="exactly one"):
        search_similar(coco_ws, "coco", space="text")
    with pytest.raises(NotFoundError, match="no item"):
        search_similar(coco_ws, "coco", item_id=10**9, space="text")
    with pytest.raises(ValidationError, match="text"):
        search_similar(coco_ws, "coco", image=Image.new("RGB", (8, 8)), space="text")
    with pytest.raises(ValidationError, match="k must be"):
        find_duplicates(coco_ws, "coco", space="text", k=0)
    with pytest.raises(NotFoundError):
        find_duplicates(coco_ws, "coco", space="nope")


# -- near-duplicates: planted copies among imagenette-dev, phash space ----------------------------


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, imagenette: Path) -> tuple[Workspace, set]:
    """The 500 originals (read in place) and 20 of them again, resized to 0.7x and re-saved as
    JPEG quality 60, in one dataset embedded with phash; returns the planted (original, copy)
    path pairs."""
    root = tmp_path_factory.mktemp("nette")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TAGSCOPE_DATABASE_URL", raising=False)
        ws = Workspace.open(root / "ws")
    originals = sorted(imagenette.rglob("*.JPEG"))
    assert len(originals) == 500
    rng = np.random.default_rng(0)
    copies = root / "copies"
    copies.mkdir()
    pairs = set()
    for i, j in enumerate(sorted(rng.choice(500, 20, replace=False))):
        with Image.open(originals[j]) as im:
            small = im.convert("RGB").resize(
                (round(im.width * 0.7), round(im.height * 0.7)), Image.Resampling.BILINEAR
            )
        target = copies / f"copy-{i:02d}.jpg"
        small.save(target, quality=60)
        pairs.add((str(originals[j]), str(target)))
    import_images(ws, "nette", imagenette, labels_from_folders=True, thumbnails=False)
    import_images(ws, "nette", copies, thumbnails=False)
    assert compute_embeddings(ws, "nette", kind="phash").result["n_embedded"] == 520
    return ws, pairs


def test_duplicates_finds_every_planted_pair_and_no_other(planted: tuple[Workspace, set]) -> None:
    ws, want = planted
    pairs = find_duplicates(ws, "nette")  # phash, default threshold
    assert {tuple(sorted((p.a.path, p.b.path))) for p in pairs} == {tuple(sorted(w)) for w in want}
    assert all(p.a.item_id < p.b.item_id and p.score >= default_min_score("phash") for p in pairs)
    assert [p.score for p in pairs] == sorted((p.score for p in pairs), reverse=True)
    # The margin the default stands on: the closest pair of different photos is far below it.
    wider = find_duplicates(ws, "nette", min_score=0.0, k=len(want) + 1)
    assert wider[-1].score <= default_min_score("phash") - 0.1
    assert len(find_duplicates(ws, "nette", k=5)) == 5


def test_similar_by_image_finds_the_original(planted: tuple[Workspace, set]) -> None:
    ws, want = planted
    original, copy = sorted(want)[0]
    for image in (copy, Path(copy), Path(copy).read_bytes(), Image.open(copy)):
        hits = search_similar(ws, "nette", image=image, space="phash", k=3)
        assert hits[0].path in {original, copy} and hits[0].score >= 0.9
    with pytest.raises(ValidationError, match="not found"):
        search_similar(ws, "nette", image="/no/such/file.jpg", space="phash")
    with pytest.raises(ValidationError, match="cannot read"):
        search_similar(ws, "nette", image=b"not an image", space="phash")
    with pytest.raises(ValidationError, match="cannot embed text"):
        search_text(ws, "nette", "a dog", space="phash")


def test_label_filter_on_duplicates(planted: tuple[Workspace, set]) -> None:
    """Both items of a pair must pass the filter: the copies carry no class label."""
    ws, _ = planted
    classes = list(ws.catalog.label_names(ws.dataset("nette").id))
    assert len(classes) == 10
    assert find_duplicates(ws, "nette", labels=classes) == []
    assert len(find_duplicates(ws, "nette", labels=classes, min_score=0.0, k=3)) == 3


@pytest.fixture(scope="module")
def mirrored_and_cropped(
    tmp_path_factory: pytest.TempPathFactory, imagenette: Path
) -> tuple[Workspace, dict[str, set]]:
    """The 500 originals and 20 of them again, 10 mirrored and 10 cropped to 90% of the picture
    at a random place, each re-saved as JPEG quality 80; returns the planted pairs by kind."""
    root = tmp_path_factory.mktemp("variants")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TAGSCOPE_DATABASE_URL", raising=False)
        ws = Workspace.open(root / "ws")
    originals = sorted(imagenette.rglob("*.JPEG"))
    rng = np.random.default_rng(1)
    copies = root / "copies"
    copies.mkdir()
    planted: dict[str, set] = {"flip": set(), "crop": set()}
    for i, j in enumerate(rng.choice(500, 20, replace=False)):
        with Image.open(originals[j]) as im:
            im = im.convert("RGB")
            if i < 10:
                kind, copy = "flip", im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            else:
                cw, ch = round(im.width * 0.9**0.5), round(im.height * 0.9**0.5)
                x, y = (int(rng.integers(0, n + 1)) for n in (im.width - cw, im.height - ch))
                kind, copy = "crop", im.crop((x, y, x + cw, y + ch))
        target = copies / f"{kind}-{i:02d}.jpg"
        copy.save(target, quality=80)
        planted[kind].add(tuple(sorted((str(originals[j]), str(target)))))
    import_images(ws, "mixed", imagenette, thumbnails=False)
    import_images(ws, "mixed", copies, thumbnails=False)
    assert compute_embeddings(ws, "mixed", kind="phash").result["n_embedded"] == 520
    return ws, planted


def test_stored_variants_give_the_pairs_the_images_give(
    mirrored_and_cropped: tuple[Workspace, dict[str, set]], tmp_path: Path
) -> None:
    """The flips and crops the embedding job stored find exactly the pairs (and scores) that
    hashing every image again finds, as it does for a space embedded before they were stored:
    at the default threshold (multi-index hashing) and a lower one (the dense scan)."""
    ws, planted = mirrored_and_cropped
    variants = phash_variant_store(ws.vectors(ws.dataset("mixed"), "phash")).folder
    stored = {s: find_duplicates(ws, "mixed", min_score=s) for s in (None, 0.6)}
    assert len({tuple(sorted((p.a.path, p.b.path))) for p in stored[None]} & planted["flip"]) == 10
    shutil.move(variants, tmp_path / "variants")
    try:
        assert {s: find_duplicates(ws, "mixed", min_score=s) for s in (None, 0.6)} == stored
    finally:
        shutil.move(tmp_path / "variants", variants)


def test_duplicates_find_mirror_images_and_crops(
    mirrored_and_cropped: tuple[Workspace, dict[str, set]],
) -> None:
    """Found through the hashes of each image's flip and crops, with no pair of different
    photos: the hashes of whole images alone miss every flip."""
    ws, planted = mirrored_and_cropped
    found = {tuple(sorted((p.a.path, p.b.path))) for p in find_duplicates(ws, "mixed")}
    assert found <= planted["flip"] | planted["crop"]
    assert len(found & planted["flip"]) == 10
    assert len(found & planted["crop"]) >= 9
    # The stored variants need no file: a copy's file gone changes nothing.
    pair = sorted(planted["flip"])[0]
    [copy] = [Path(p) for p in pair if Path(p).name.startswith("flip-")]  # never an original
    copy.unlink()
    assert {tuple(sorted((p.a.path, p.b.path))) for p in find_duplicates(ws, "mixed")} == found


def test_duplicates_read_no_image_and_no_stale_variant(
    workspace: Workspace, imagenette: Path, tmp_path: Path
) -> None:
    """With every file gone after the embedding, mirror images are still found (through the
    stored variants); an item whose vector was replaced since (here by another photo's hash)
    no longer pairs through the variants stored with its old one."""
    photos = sorted(imagenette.rglob("*.JPEG"))[:12]
    folder = tmp_path / "files"
    folder.mkdir()
    for i, path in enumerate(photos):
        shutil.copy(path, folder / f"photo-{i:02d}.jpg")
    for i in (0, 1):
        with Image.open(photos[i]) as im:
            im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / f"flip-{i:02d}.jpg")
    import_images(workspace, "gone", folder, thumbnails=False)
    assert compute_embeddings(workspace, "gone", kind="phash").result["n_embedded"] == 14
    shutil.rmtree(folder)
    names = {(Path(p.a.path).name, Path(p.b.path).name) for p in find_duplicates(workspace, "gone")}
    assert names == {("flip-00.jpg", "photo-00.jpg"), ("flip-01.jpg", "photo-01.jpg")}

    ds = workspace.dataset("gone")
    ids, vectors = workspace.vectors(ds, "phash").load()
    by_name = {Path(it.path).name: it.id for it in workspace.catalog.iter_items(ds.id)}
    replaced = tmp_path / "replaced.npy"
    np.save(replaced, np.asarray(vectors[[np.searchsorted(ids, by_name["photo-05.jpg"])]]))
    np.save(tmp_path / "replaced.ids.npy", np.array([by_name["flip-01.jpg"]]))
    import_vectors(workspace, "gone", "phash", replaced, kind="phash", model=PHASH_MODEL)
    names = {(Path(p.a.path).name, Path(p.b.path).name) for p in find_duplicates(workspace, "gone")}
    assert names == {("flip-00.jpg", "photo-00.jpg"), ("flip-01.jpg", "photo-05.jpg")}


# -- vectors of deleted items; the FAISS backend behind the service ------------------------------


@pytest.fixture()
def small(workspace: Workspace, make_dataset: Callable[..., Dataset], imagenette: Path) -> Dataset:
    """Eight real items with hand-made vectors in an imported space: item 0 and 7 identical."""
    ds = make_dataset("small", sorted(imagenette.rglob("*.JPEG"))[:8])
    ids = np.asarray(workspace.catalog.item_ids(ds.id))
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((8, 16)).astype(np.float32)
    vectors[7] = vectors[0]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    workspace.vectors(ds, "own").append(ids, vectors)
    workspace.catalog.ensure_space(ds.id, "own", "imported", "hand-made", 16)
    return ds


def test_vectors_of_deleted_items_are_ignored(workspace: Workspace, small: Dataset) -> None:
    ids = workspace.catalog.item_ids(small.id)
    first, twin = ids[0], ids[7]
    assert search_similar(workspace, "small", item_id=first, space="own", k=1)[0].item_id == twin
    [pair] = find_duplicates(workspace, "small", space="own")
    assert (pair.a.item_id, pair.b.item_id) == (first, twin)
    with workspace.catalog.session() as s:
        s.execute(delete(ItemRow).where(ItemRow.id == twin))
    hits = search_similar(workspace, "small", item_id=first, space="own", k=10)
    assert len(hits) == 6 and twin not in {h.item_id for h in hits}
    assert find_duplicates(workspace, "small", space="own") == []
    with pytest.raises(NotFoundError):
        search_similar(workspace, "small", item_id=twin, space="own")


def test_item_of_another_dataset_is_refused(
    workspace: Workspace, small: Dataset, make_dataset: Callable[..., Dataset], imagenette: Path
) -> None:
    other = make_dataset("other", sorted(imagenette.rglob("*.JPEG"))[8:10])
    stranger = workspace.catalog.item_ids(other.id)[0]
    with pytest.raises(NotFoundError, match="not in dataset"):
        search_similar(workspace, "small", item_id=stranger, space="own")


def test_item_without_a_vector_is_refused(
    workspace: Workspace, small: Dataset, imagenette: Path
) -> None:
    from tagscope.service.imports import import_images as add

    add(workspace, "small", imagenette / "tench", thumbnails=False)
    newcomer = max(workspace.catalog.item_ids(small.id))
    with pytest.raises(ValidationError, match="no vector"):
        search_similar(workspace, "small", item_id=newcomer, space="own")


def test_faiss_backend_above_the_threshold(
    workspace: Workspace, small: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tagscope.index.select as select

    ids = workspace.catalog.item_ids(small.id)
    exact = search_similar(workspace, "small", item_id=ids[2], space="own", k=7)
    monkeypatch.setattr(select, "EXACT_MAX_ROWS", 4)
    assert search_similar(workspace, "small", item_id=ids[2], space="own", k=7) == exact
    folder = workspace.vectors(small, "own").folder
    assert len(list(folder.glob("ivf-*.faiss"))) == 1


def test_similar_items_through_the_compressed_index(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big space's path, forced at 6,000 rows: fast-scan codes, re-ranked from the vectors;
    the query's own item is left out by asking one more hit, with and without a label filter."""
    import tagscope.index.select as select

    ds = workspace.catalog.create_dataset("big", "")
    workspace.catalog.add_items(
        ds.id,
        [NewItem(f"/big/{i}.jpg", MediaInfo(100, 8, 8, "JPEG", f"{i:064x}")) for i in range(6_000)],
    )
    ids = np.asarray(workspace.catalog.item_ids(ds.id), np.int64)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((60, 32)).astype(np.float32)
    x = centres[rng.integers(0, 60, len(ids))] + 0.6 * rng.standard_normal((len(ids), 32))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    workspace.vectors(ds, "own").append(ids, x.astype(np.float32))
    workspace.catalog.ensure_space(ds.id, "own", "imported", "hand-made", 32)
    workspace.catalog.add_labels(
        (int(i), Label(LabelKind.CLASSIFICATION, "even")) for i in ids[::2]
    )
    monkeypatch.setattr(select, "EXACT_MAX_ROWS", 1_000)
    monkeypatch.setattr(faiss_index, "COMPRESS_ABOVE_BYTES", 0)
    monkeypatch.setattr(faiss_index, "EXACT_BELOW", 100)
    _, vectors = workspace.vectors(ds, "own").load()
    flat = FlatIndex(vectors)
    found, n = 0, 0
    for row in range(0, 6_000, 300):
        for labels in (None, ["even"]):
            hits = search_similar(
                workspace, "big", item_id=int(ids[row]), space="own", k=10, labels=labels
            )
            mask = (
                np.ones(len(ids), bool) if labels is None else np.isin(np.arange(len(ids)) % 2, 0)
            )
            mask[row] = False
            want = ids[flat.search(vectors[row].astype(np.float32), 10, mask=mask)[1][0]]
            got = [h.item_id for h in hits]
            assert len(got) == 10 and int(ids[row]) not in got
            assert labels is None or all(g in set(ids[::2].tolist()) for g in got)
            found, n = found + len(set(got) & set(want.tolist())), n + 10
    assert found / n >= 0.95
    index = select.open_index(vectors, cache_dir=workspace.vectors(ds, "own").folder)
    assert isinstance(index, faiss_index.FaissIndex) and index.reranks
    assert isinstance(index.index, faiss_index.faiss.IndexIVFPQFastScan)
    hits = search_similar(workspace, "big", item_id=int(ids[0]), space="own", k=3, min_score=0.0)
    assert len(hits) == 3 and int(ids[0]) not in {h.item_id for h in hits}


# -- the clip path end to end with a tiny random CLIP (plumbing only) ----------------------------


@pytest.mark.slow
def test_tiny_clip_end_to_end(
    workspace: Workspace,
    make_dataset: Callable[..., Dataset],
    imagenette: Path,
    tiny_clip_dir: Path,
) -> None:
    paths = sorted(imagenette.rglob("*.JPEG"))[::50]  # one photo of each class
    ds = make_dataset("clip10", paths)
    job = compute_embeddings(workspace, "clip10", kind="clip", model=str(tiny_clip_dir))
    assert job.result["n_embedded"] == 10
    assert workspace.catalog.get_space(ds.id, "clip")["dim"] == 16

    hits = search_text(workspace, "clip10", "a photo of a dog", k=4)
    assert len(hits) == 4 and len({h.item_id for h in hits}) == 4
    assert {h.path for h in hits} <= {str(p) for p in paths}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    ids = workspace.catalog.item_ids(ds.id)
    hits = search_similar(workspace, "clip10", item_id=ids[3], k=100)
    assert len(hits) == 9 and ids[3] not in {h.item_id for h in hits}

    buf = io.BytesIO()
    with Image.open(paths[3]) as im:
        im.convert("RGB").save(buf, format="PNG")  # the same pixels, another file format
    by_image = search_similar(workspace, "clip10", image=buf.getvalue(), k=10)
    assert len(by_image) == 10 and by_image[0].item_id == ids[3]
    assert by_image[0].score == pytest.approx(1.0, abs=2e-3)


def test_an_image_query_above_the_pixel_limit_is_refused_before_decoding(
    planted: tuple[Workspace, set], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, want = planted
    original, copy = sorted(want)[0]
    big = io.BytesIO()
    Image.open(copy).convert("RGB").resize((3000, 2000)).save(big, "PNG", compress_level=1)
    monkeypatch.setenv("TAGSCOPE_MAX_IMAGE_PIXELS", "8000000")
    # Decoded at a reduced scale (strip by strip), it still finds the photo it was made from.
    hits = search_similar(ws, "nette", image=big.getvalue(), space="phash", k=3)
    assert hits[0].path in {original, copy}
    monkeypatch.setenv("TAGSCOPE_MAX_IMAGE_PIXELS", "1000000")
    with pytest.raises(ValidationError, match=r"image too large: 6\.0 megapixels"):
        search_similar(ws, "nette", image=big.getvalue(), space="phash")
    monkeypatch.setenv("TAGSCOPE_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(ValidationError, match=r"above the limit of 0\.001 ") as caught:
        search_similar(ws, "nette", image=copy, space="phash")  # a path: same limit, named
    assert caught.value.field == "image" and copy in str(caught.value)
