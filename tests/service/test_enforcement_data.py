"""The policy enforced by the data use cases (F-90): datasets, the grid and items, search,
imports, embeddings, thumbnails, videos, jobs, exports, metadata, views and collections.

A real workspace with two datasets of small real images (``alpha``, ``beta``); callers are
identities built by hand (``ws.acting_as``): no account is needed to be one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from tagscope.domain import NotFoundError, PermissionDeniedError, ValidationError
from tagscope.domain.access import Identity, Role, Scope
from tagscope.service import Workspace, background, browse, collections, datasets, jobs, search
from tagscope.service import videos as videos_uc
from tagscope.service import views as views_uc
from tagscope.service.embeddings import compute_embeddings, import_vectors
from tagscope.service.exports import export_dataset
from tagscope.service.imports import import_csv, import_images
from tagscope.service.metadata_import import import_metadata
from tagscope.service.thumbnails import fill_thumbnails
from tagscope.service.video_import import import_video
from tagscope.store.access_schema import ApiTokenRow, UserDatasetRoleRow, UserRow
from tagscope.store.query import Where

N = 5  # images per dataset


def _images(folder: Path, seed: int) -> Path:
    """``N`` small real images, distinct by content (their pHashes differ), plus one copy."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(N):
        pixels = (rng.random((8, 8, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).resize((48, 40), Image.NEAREST).save(folder / f"img{i}.png")
    shutil.copy(folder / "img0.png", folder / "copy0.png")  # a near-duplicate pair
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace (SQLite) with ``alpha`` and ``beta`` imported and embedded (phash) by the
    owner. Built once; each test gets a copy."""
    root = tmp_path_factory.mktemp("enforcement")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TAGSCOPE_DATABASE_URL", raising=False)
        ws = Workspace.open(root / "ws")
        for seed, name in enumerate(("alpha", "beta")):
            folder = _images(root / "media" / name, seed)
            import_images(ws, name, folder, thumbnails="none")
            compute_embeddings(ws, name, kind="phash")
        ws.catalog.engine.dispose()
    yield root


@pytest.fixture()
def ws(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    shutil.copytree(template / "ws", tmp_path / "ws")  # items are the template's media files
    return Workspace.open(tmp_path / "ws")


@pytest.fixture()
def ids(ws: Workspace) -> dict[str, int]:
    return {name: ws.dataset(name).id for name in ("alpha", "beta")}


def _user(
    name: str,
    role: Role | None = None,
    on: dict[int, Role] | None = None,
    *,
    scope: Scope = Scope.ADMIN,
    token_dataset: int | None = None,
    user_id: int = 1,
) -> Identity:
    return Identity(
        name=name,
        role=role,
        dataset_roles=MappingProxyType(on or {}),
        scope=scope,
        token_dataset=token_dataset,
        user_id=user_id,
    )


@pytest.fixture()
def viewer(ws: Workspace, ids: dict[str, int]) -> Workspace:
    """A viewer of alpha, with no role on beta."""
    return ws.acting_as(_user("vera", on={ids["alpha"]: Role.VIEWER}))


@pytest.fixture()
def editor(ws: Workspace, ids: dict[str, int]) -> Workspace:
    """An editor of alpha (only), with no role on beta nor on the workspace."""
    return ws.acting_as(_user("eddie", on={ids["alpha"]: Role.EDITOR}, user_id=2))


def _item(ws: Workspace, dataset: str, n: int = 0) -> int:
    return ws.catalog.item_ids(ws.dataset(dataset).id)[n]


def _refused(call: Callable[..., object], who: str, action: str, *args: Any, **kwargs: Any) -> str:
    """Call ``call``, which must be refused with a message naming ``who`` and ``action``."""
    with pytest.raises(PermissionDeniedError) as refused:
        call(*args, **kwargs)
    message = str(refused.value)
    assert who in message
    assert action in message
    return message


# -- datasets ------------------------------------------------------------------------------


def test_lists_show_only_the_datasets_the_caller_may_read(ws: Workspace, viewer: Workspace) -> None:
    assert [d.name for d in datasets.list_datasets(ws)] == ["alpha", "beta"]
    assert [d.name for d in datasets.list_datasets(viewer)] == ["alpha"]
    nobody = ws.acting_as(_user("nobody"))
    assert datasets.list_datasets(nobody) == []
    everyone = ws.acting_as(_user("wendy", Role.VIEWER))
    assert [d.name for d in datasets.list_datasets(everyone)] == ["alpha", "beta"]


def test_describe_needs_a_role_on_the_dataset(viewer: Workspace) -> None:
    assert datasets.describe_dataset(viewer, "alpha")["n_items"] == N + 1
    message = _refused(datasets.describe_dataset, "vera", "read", viewer, "beta")
    assert "no role on dataset 'beta'" in message
    with pytest.raises(NotFoundError):  # an unknown name stays a 404
        datasets.describe_dataset(viewer, "gamma")


def test_creating_a_dataset_needs_a_workspace_role(ws: Workspace, editor: Workspace) -> None:
    _refused(datasets.create_dataset, "eddie", "dataset.create", editor, "gamma")
    assert "gamma" not in [d.name for d in datasets.list_datasets(ws)]
    team_editor = ws.acting_as(_user("erin", Role.EDITOR, user_id=3))
    assert datasets.create_dataset(team_editor, "gamma").name == "gamma"
    _refused(
        datasets.create_dataset,
        "vic",
        "dataset.create",
        ws.acting_as(_user("vic", Role.VIEWER)),
        "delta",
    )


def test_deleting_a_dataset_needs_admin_on_it(
    ws: Workspace, editor: Workspace, ids: dict[str, int]
) -> None:
    _refused(datasets.delete_dataset, "eddie", "dataset.delete", editor, "alpha")
    admin_of_alpha = ws.acting_as(_user("ada", on={ids["alpha"]: Role.ADMIN}, user_id=4))
    _refused(datasets.delete_dataset, "ada", "dataset.delete", admin_of_alpha, "beta")
    datasets.delete_dataset(admin_of_alpha, "alpha")
    assert [d.name for d in datasets.list_datasets(ws)] == ["beta"]


@pytest.fixture()
def any_ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    return Workspace.open(tmp_path / "any")


def test_roles_and_tokens_of_a_dataset_go_with_it(any_ws: Workspace) -> None:
    """Foreign keys ``ON DELETE CASCADE``: on SQLite they need ``PRAGMA foreign_keys``, which the
    catalog sets on every connection; a new dataset (SQLite may give it the old id) is reached
    by none of them."""
    ws = any_ws
    old = datasets.create_dataset(ws, "old")
    other = datasets.create_dataset(ws, "other")
    with ws.catalog.session() as s:
        s.add(UserRow(name="u", password_hash="x", role=None))
        s.flush()
        user_id = s.scalar(select(UserRow.id))
        s.add_all(
            [
                UserDatasetRoleRow(user_id=user_id, dataset_id=old.id, role="editor"),
                UserDatasetRoleRow(user_id=user_id, dataset_id=other.id, role="viewer"),
                ApiTokenRow(
                    user_id=user_id, name="t", token_hash="a" * 64, scope="read", dataset_id=old.id
                ),
                ApiTokenRow(user_id=user_id, name="all", token_hash="b" * 64, scope="read"),
            ]
        )
    datasets.delete_dataset(ws, "old")
    with ws.catalog.session() as s:
        roles = s.execute(select(UserDatasetRoleRow.dataset_id)).scalars().all()
        tokens = s.execute(select(ApiTokenRow.name)).scalars().all()
        assert roles == [other.id]
        assert tokens == ["all"]
        assert s.scalar(select(func.count()).select_from(UserRow)) == 1


# -- the grid and items --------------------------------------------------------------------


def test_the_grid_needs_read_on_its_dataset(viewer: Workspace) -> None:
    assert browse.list_items(viewer, "alpha", limit=2).total == N + 1
    assert browse.list_items(viewer, "alpha", where="width > 0", limit=2).total == N + 1
    assert browse.list_items(viewer, "alpha", sort="path", descending=True).total == N + 1
    _refused(browse.list_items, "vera", "read", viewer, "beta")
    _refused(browse.list_items, "vera", "read", viewer, "beta", where="width > 0")
    assert sum(browse.label_counts(viewer, "alpha").values()) == 0
    _refused(browse.label_counts, "vera", "read", viewer, "beta")
    _refused(browse.label_counts, "vera", "read", viewer, "beta", where="width > 0")
    _refused(browse.dataset_tag_groups, "vera", "read", viewer, "beta")
    assert browse.dataset_tag_groups(viewer, "alpha") == []


def test_a_grid_filter_cannot_probe_another_dataset(ws: Workspace, viewer: Workspace) -> None:
    probe = "EXISTS (SELECT 1 FROM items b WHERE b.dataset = 'beta')"
    assert browse.list_items(ws, "alpha", where=probe).total == N + 1
    assert browse.list_items(viewer, "alpha", where=probe).total == 0


def test_a_cursor_of_another_dataset_shows_none_of_its_items(
    ws: Workspace, viewer: Workspace
) -> None:
    page = browse.list_items(ws, "beta", where="width > 0", limit=2)  # a snapshot of beta's ids
    assert page.next_cursor
    alpha_ids = set(ws.catalog.item_ids(ws.dataset("alpha").id))
    after = browse.list_items(viewer, "alpha", where="width > 0", limit=2, cursor=page.next_cursor)
    assert {cell.item.id for cell in after.items} <= alpha_ids


def test_an_items_use_cases_need_read_on_its_dataset(ws: Workspace, viewer: Workspace) -> None:
    mine, theirs = _item(ws, "alpha"), _item(ws, "beta")
    assert browse.get_item(viewer, mine).dataset == "alpha"
    assert browse.get_media_file(viewer, mine).media_type == "image/png"
    assert browse.get_thumbnail_file(viewer, mine).media_type == "image/jpeg"
    assert browse.similar_items(viewer, mine, k=3)
    for call in (
        browse.get_item,
        browse.get_media_file,
        browse.get_thumbnail_file,
        browse.similar_items,
    ):
        message = _refused(call, "vera", "read", viewer, theirs)
        assert "dataset 'beta'" in message
    with pytest.raises(NotFoundError):  # an unknown item stays a 404
        browse.get_item(viewer, 10**9)


def test_videos_need_read_on_their_dataset(ws: Workspace, viewer: Workspace) -> None:
    with pytest.raises(NotFoundError, match="not a video"):  # allowed: it gets to the item
        videos_uc.get_video(viewer, "alpha", _item(ws, "alpha"))
    _refused(videos_uc.get_video, "vera", "read", viewer, "beta", _item(ws, "beta"))


# -- search --------------------------------------------------------------------------------


def test_search_needs_read_on_the_dataset(ws: Workspace, viewer: Workspace) -> None:
    mine = _item(ws, "alpha")
    assert search.search_similar(viewer, "alpha", item_id=mine, space="phash", k=2)
    pairs = search.find_duplicates(viewer, "alpha")
    assert pairs and pairs[0].score == pytest.approx(1.0)
    with pytest.raises(ValidationError, match="phash"):  # past the policy: phash has no text
        search.search_text(viewer, "alpha", "a cat", space="phash")
    _refused(search.search_text, "vera", "read", viewer, "beta", "a cat", space="phash")
    theirs = _item(ws, "beta")
    _refused(search.search_similar, "vera", "read", viewer, "beta", item_id=theirs, space="phash")
    _refused(search.find_duplicates, "vera", "read", viewer, "beta")


# -- imports, embeddings, thumbnails, metadata ---------------------------------------------


def test_importing_into_a_dataset_needs_edit_on_it(
    ws: Workspace, viewer: Workspace, editor: Workspace, tmp_path: Path
) -> None:
    folder = _images(tmp_path / "more", seed=9)
    # Refused before the source is read: a folder that does not exist is not even looked at.
    _refused(import_images, "vera", "dataset.edit", viewer, "alpha", tmp_path / "nowhere")
    _refused(import_images, "eddie", "dataset.edit", editor, "beta", folder)
    assert ws.dataset("alpha").n_items == ws.dataset("beta").n_items == N + 1
    report = import_images(editor, "alpha", folder, thumbnails="none")
    assert report.n_added == N + 1
    listing = tmp_path / "list.csv"
    listing.write_text("path\n" + "\n".join(p.name for p in sorted(folder.iterdir())) + "\n")
    _refused(import_csv, "vera", "dataset.edit", viewer, "alpha", listing, base=folder)
    assert import_csv(editor, "alpha", listing, base=folder).n_existing == N + 1


def test_an_import_creating_a_dataset_needs_a_workspace_role(
    ws: Workspace, editor: Workspace, tmp_path: Path
) -> None:
    folder = _images(tmp_path / "new", seed=7)
    _refused(import_images, "eddie", "dataset.create", editor, "gamma", folder)
    with pytest.raises(NotFoundError):
        ws.dataset("gamma")
    team_editor = ws.acting_as(_user("erin", Role.EDITOR, user_id=3))
    assert import_images(team_editor, "gamma", folder, thumbnails="none").n_added == N + 1


def test_a_video_import_needs_edit(viewer: Workspace, tmp_path: Path) -> None:
    _refused(import_video, "vera", "dataset.edit", viewer, "alpha", tmp_path / "nowhere")
    _refused(import_video, "vera", "dataset.create", viewer, "clips", tmp_path / "nowhere")


def test_embedding_needs_edit(
    ws: Workspace, viewer: Workspace, editor: Workspace, tmp_path: Path
) -> None:
    _refused(compute_embeddings, "vera", "dataset.edit", viewer, "alpha", kind="phash")
    _refused(compute_embeddings, "eddie", "dataset.edit", editor, "beta", kind="phash")
    job = compute_embeddings(editor, "alpha", space="phash2", kind="phash")
    assert job.result["n_embedded"] == N + 1
    # In the background (the REST API): refused before the model is looked at.
    _refused(background.start_embeddings, "vera", "dataset.edit", viewer, "alpha", model="nope")
    vectors = tmp_path / "v.npy"
    np.save(vectors, np.ones((1, 4), np.float32))
    np.save(tmp_path / "v.ids.npy", np.array([_item(ws, "alpha")]))
    _refused(import_vectors, "vera", "dataset.edit", viewer, "alpha", "mine", vectors)
    assert import_vectors(editor, "alpha", "mine", vectors)["n_imported"] == 1


def test_thumbnails_and_metadata_need_edit(
    ws: Workspace, viewer: Workspace, editor: Workspace, tmp_path: Path
) -> None:
    _refused(fill_thumbnails, "vera", "dataset.edit", viewer, "alpha")
    _refused(fill_thumbnails, "eddie", "dataset.edit", editor, "beta")
    assert fill_thumbnails(editor, "alpha").result["n_items"] == N + 1
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"img1.png": {"site": "north"}}))
    _refused(import_metadata, "vera", "dataset.edit", viewer, "alpha", meta)
    _refused(import_metadata, "eddie", "dataset.edit", editor, "beta", meta)
    assert import_metadata(editor, "alpha", meta).n_updated == 1


# -- jobs and exports ----------------------------------------------------------------------


def test_jobs_are_those_of_the_datasets_the_caller_may_read(
    ws: Workspace, viewer: Workspace, ids: dict[str, int]
) -> None:
    everything = jobs.list_jobs(ws)
    assert {j.dataset_id for j in everything} == {ids["alpha"], ids["beta"]}
    seen = jobs.list_jobs(viewer)
    assert seen and {j.dataset_id for j in seen} == {ids["alpha"]}
    assert jobs.list_jobs(viewer, "alpha") == seen
    _refused(jobs.list_jobs, "vera", "read", viewer, "beta")
    theirs = next(j for j in everything if j.dataset_id == ids["beta"])
    assert jobs.get_job(viewer, seen[0].id) == seen[0]
    assert "dataset 'beta'" in _refused(jobs.get_job, "vera", "read", viewer, theirs.id)
    with pytest.raises(NotFoundError):
        jobs.get_job(viewer, 10**9)


def test_a_job_of_no_dataset_is_the_workspace_admins(ws: Workspace, ids: dict[str, int]) -> None:
    job = ws.catalog.create_job("maintenance", None, {})
    admin = ws.acting_as(_user("root", Role.ADMIN))
    admin_of_alpha = ws.acting_as(_user("ada", on={ids["alpha"]: Role.ADMIN}))
    team_editor = ws.acting_as(_user("erin", Role.EDITOR))
    assert jobs.get_job(ws, job.id).id == job.id
    assert jobs.get_job(admin, job.id).id == job.id
    assert job.id in [j.id for j in jobs.list_jobs(admin)]
    for other in (admin_of_alpha, team_editor):
        assert job.id not in [j.id for j in jobs.list_jobs(other)]
        _refused(jobs.get_job, other.identity.name, f"job {job.id}", other, job.id)


def test_exporting_needs_read(ws: Workspace, viewer: Workspace, tmp_path: Path) -> None:
    report = export_dataset(viewer, "alpha", "csv", tmp_path / "out")
    assert report.n_items == N + 1
    _refused(export_dataset, "vera", "read", viewer, "beta", "csv", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


# -- views and collections -----------------------------------------------------------------


def test_views_need_read(viewer: Workspace) -> None:
    stages = (Where("width > 0"),)
    assert len(views_uc.view_ids(viewer, "alpha", stages)) == N + 1
    assert views_uc.count_view(viewer, "alpha", stages) == N + 1
    for call in (views_uc.view_ids, views_uc.count_view, views_uc.view_sql, views_uc.view_items):
        _refused(call, "vera", "read", viewer, "beta", stages)
    _refused(views_uc.save_collection, "vera", "collections.edit", viewer, "alpha", stages, "big")


def test_collections_need_collections_edit_to_change_and_read_to_see(
    ws: Workspace, viewer: Workspace, editor: Workspace
) -> None:
    first, second = ws.catalog.item_ids(ws.dataset("alpha").id)[:2]
    _refused(
        collections.create_collection,
        "vera",
        "collections.edit",
        viewer,
        "alpha",
        "pets",
        item_ids=[first],
    )
    made = collections.create_collection(editor, "alpha", "pets", item_ids=[first])
    assert made.n_items == 1
    collections.create_collection(editor, "alpha", "wide", where="width > 10")
    assert [c.title for c in collections.list_collections(viewer, "alpha")] == ["pets", "wide"]
    assert collections.get_collection(viewer, "alpha", "wide").n_items == N + 1
    assert collections.collection_item_ids(viewer, "alpha", "pets") == [first]
    assert "in_collection" in collections.grid_filter(viewer, "alpha", "pets")
    for call, args in (
        (collections.add_items, ("pets", [second])),
        (collections.remove_items, ("pets", [first])),
        (collections.freeze, ("wide",)),
        (collections.delete_collection, ("pets",)),
    ):
        _refused(call, "vera", "collections.edit", viewer, "alpha", *args)
    assert collections.add_items(editor, "alpha", "pets", [second]).n_items == 2
    assert collections.remove_items(editor, "alpha", "pets", [first]).n_items == 1
    assert collections.freeze(editor, "alpha", "wide").n_items == N + 1
    collections.delete_collection(editor, "alpha", "pets")
    for call, args in (
        (collections.list_collections, ()),
        (collections.get_collection, ("x",)),
        (collections.collection_item_ids, ("x",)),
        (collections.grid_filter, ("x",)),
    ):
        _refused(call, "vera", "read", viewer, "beta", *args)
    _refused(
        collections.create_collection,
        "eddie",
        "collections.edit",
        editor,
        "beta",
        "x",
        where="width > 0",
    )


# -- tokens and the owner ------------------------------------------------------------------


def test_a_read_token_cannot_change_anything(
    ws: Workspace, ids: dict[str, int], tmp_path: Path
) -> None:
    token = ws.acting_as(_user("ci", Role.EDITOR, scope=Scope.READ, user_id=5))
    assert browse.list_items(token, "beta").total == N + 1
    assert [d.name for d in datasets.list_datasets(token)] == ["alpha", "beta"]
    for message in (
        _refused(import_images, "ci", "dataset.edit", token, "alpha", tmp_path / "nowhere"),
        _refused(compute_embeddings, "ci", "dataset.edit", token, "alpha", kind="phash"),
        _refused(fill_thumbnails, "ci", "dataset.edit", token, "alpha"),
        _refused(
            collections.create_collection,
            "ci",
            "collections.edit",
            token,
            "alpha",
            "x",
            where="width > 0",
        ),
        _refused(datasets.create_dataset, "ci", "dataset.create", token, "gamma"),
    ):
        assert "token has scope read" in message


def test_a_token_of_one_dataset_reaches_only_it(ws: Workspace, ids: dict[str, int]) -> None:
    token = ws.acting_as(_user("ci", Role.ADMIN, token_dataset=ids["alpha"], user_id=5))
    assert [d.name for d in datasets.list_datasets(token)] == ["alpha"]
    assert {j.dataset_id for j in jobs.list_jobs(token)} == {ids["alpha"]}
    assert browse.list_items(token, "alpha").total == N + 1
    _refused(browse.list_items, "ci", "read", token, "beta")
    _refused(browse.get_item, "ci", "read", token, _item(ws, "beta"))
    _refused(search.find_duplicates, "ci", "read", token, "beta")
    _refused(datasets.create_dataset, "ci", "dataset.create", token, "gamma")
    assert (
        compute_embeddings(token, "alpha", space="p2", kind="phash").result["n_embedded"] == N + 1
    )


def test_the_owner_may_do_everything(ws: Workspace, tmp_path: Path) -> None:
    assert ws.identity.is_owner
    theirs = _item(ws, "beta")
    assert browse.get_item(ws, theirs).dataset == "beta"
    assert jobs.get_job(ws, jobs.list_jobs(ws, "beta")[0].id).dataset_id == ws.dataset("beta").id
    collections.create_collection(ws, "beta", "all", where="width > 0")
    assert export_dataset(ws, "beta", "json", tmp_path / "out").n_items == N + 1
    import_images(ws, "gamma", _images(tmp_path / "g", seed=3), thumbnails="none")
    datasets.delete_dataset(ws, "gamma")
    datasets.delete_dataset(ws, "beta")
    assert [d.name for d in datasets.list_datasets(ws)] == ["alpha"]
