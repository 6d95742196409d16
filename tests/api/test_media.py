"""Media and thumbnails: only files of known items, with caching headers; no path traversal."""

from __future__ import annotations

import io
import logging
import os
import shutil
from pathlib import Path

import fsspec
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tagscope.api.app import create_app
from tagscope.domain import NewItem
from tagscope.media.images import read_media_info
from tagscope.service import Workspace
from tagscope.service.imports import import_images


@pytest.fixture(scope="module")
def item(client: TestClient) -> dict:
    return client.get("/api/datasets/coco/items", params={"limit": 1}).json()["items"][0]


@pytest.mark.parametrize("kind", ["media", "thumbnail"])
def test_serves_image_with_etag_and_cache_control(
    client: TestClient, item: dict, kind: str
) -> None:
    r = client.get(f"/api/items/{item['id']}/{kind}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"].startswith("private, max-age=")
    assert r.headers["etag"].strip('"')
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.size[0] > 0


def test_media_etag_is_content_hash_and_revalidates(client: TestClient, item: dict) -> None:
    r = client.get(f"/api/items/{item['id']}/media")
    assert r.headers["etag"] == f'"{item["media"]["content_hash"]}"'
    again = client.get(
        f"/api/items/{item['id']}/media", headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("kind", ["media", "thumbnail"])
def test_unknown_item_is_404(client: TestClient, kind: str) -> None:
    r = client.get(f"/api/items/123456789/{kind}")
    assert r.status_code == 404
    assert r.json()["message"] == "no item with id 123456789"


TRAVERSALS = [
    "/api/items/../../../../etc/passwd",
    "/api/items/%2e%2e/media",
    "/api/items/%2e%2e%2f%2e%2e%2fetc%2fpasswd/media",
    "/api/items/..%2f..%2f..%2fetc%2fpasswd/thumbnail",
    "/api/items/%2Fetc%2Fpasswd/media",
    "/api/items//etc/passwd/media",
    "/api/items/1/media/../../../../etc/passwd",
    "/api/items/1/media?path=/etc/passwd",
    "/..%2f..%2f..%2fetc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "//etc/passwd",
]


@pytest.mark.parametrize("url", TRAVERSALS)
def test_path_traversal_never_serves_outside_files(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert b"root:" not in r.content
    if url.endswith("?path=/etc/passwd"):  # the unknown query parameter is ignored
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    else:
        assert 400 <= r.status_code < 500
        assert r.json()["status"] == r.status_code


@pytest.fixture()
def own(
    tmp_path: Path, coco_mini: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[TestClient, dict]:
    """A client over a workspace of its own: three photos copied to a folder the test may spoil,
    imported without thumbnails. Returns the client and {file name: item id}."""
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    photos = tmp_path / "photos"
    photos.mkdir()
    for src in sorted((coco_mini / "val2017").glob("*.jpg"))[:3]:
        shutil.copy(src, photos)
    ws = Workspace.open(tmp_path / "ws")
    assert import_images(ws, "mine", photos, thumbnails=False).n_added == 3
    ids = {Path(it.path).name: it.id for it in ws.catalog.iter_items(ws.dataset("mine").id)}
    app = create_app(ws, auth=False, web_dist=tmp_path / "no-web")
    return TestClient(app, base_url="http://localhost"), ids


def _spoil(path: Path, how: str, tmp_path: Path) -> None:
    if how == "size":
        path.write_bytes(path.read_bytes() + b"\0")
    elif how == "mtime":
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    elif how == "symlink":  # same size and time, but a link to another file
        other = tmp_path / "other.jpg"
        shutil.copy2(path, other)
        path.unlink()
        path.symlink_to(other)
    elif how == "folder":  # the folder holding it becomes a link to a copy
        copy = tmp_path / "copy"
        shutil.copytree(path.parent, copy)
        shutil.rmtree(path.parent)
        path.parent.symlink_to(copy)
    elif how == "passwd":
        path.unlink()
        path.symlink_to("/etc/passwd")
    else:
        path.unlink()


@pytest.mark.parametrize("kind", ["media", "thumbnail"])
@pytest.mark.parametrize("how", ["size", "mtime", "symlink", "folder", "passwd", "missing"])
def test_a_file_changed_after_import_is_not_served(
    own: tuple[TestClient, dict],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    how: str,
) -> None:
    client, ids = own
    name, item_id = sorted(ids.items())[0]
    other_id = sorted(ids.items())[1][1]
    _spoil(tmp_path / "photos" / name, how, tmp_path)
    with caplog.at_level(logging.WARNING, logger="tagscope.media"):
        r = client.get(f"/api/items/{item_id}/{kind}")
    assert r.status_code == 404
    assert b"root:" not in r.content
    what = "missing" if how == "missing" else "changed since its import"
    assert r.json()["message"] == f"the media file of item {item_id} is {what}"
    assert str(tmp_path) not in r.text  # the reason is for the server's log only
    [record] = [rec for rec in caplog.records if rec.name == "tagscope.media"]
    assert f"item {item_id}" in record.getMessage()
    reason = {
        "size": "its size changed",
        "mtime": "modified since import",
        "symlink": "a symbolic link (to",
        "folder": "a folder on its way became a symbolic link",
        "passwd": "a symbolic link (to /etc/passwd)",
        "missing": "file not found",
    }[how]
    assert reason in record.getMessage()
    if how != "folder":  # the other files are still served
        assert client.get(f"/api/items/{other_id}/{kind}").status_code == 200


def test_an_item_imported_before_times_were_recorded_is_checked_by_size(
    own: tuple[TestClient, dict], tmp_path: Path
) -> None:
    client, _ = own
    ws = client.app.state.workspace
    path = tmp_path / "photos" / "legacy.jpg"
    shutil.copy(next((tmp_path / "photos").glob("*.jpg")), path)
    ds = ws.dataset("mine")
    ws.catalog.add_items(ds.id, [NewItem(str(path), read_media_info(path))])  # no mtime_ns
    [item] = [it for it in ws.catalog.iter_items(ds.id) if it.path == str(path)]
    assert item.mtime_ns is None
    _spoil(path, "mtime", tmp_path)
    assert client.get(f"/api/items/{item.id}/media").status_code == 200
    _spoil(path, "size", tmp_path)
    assert client.get(f"/api/items/{item.id}/media").status_code == 404


# -- Range requests (a browser seeking a video) ----------------------------------------------


@pytest.fixture(scope="module")
def whole(client: TestClient, item: dict) -> bytes:
    return client.get(f"/api/items/{item['id']}/media").content


@pytest.mark.parametrize(
    ("asked", "first", "last"),
    [
        ("bytes=0-99", 0, 99),  # the first bytes
        ("bytes=1000-1999", 1000, 1999),  # a middle range
        ("bytes=-500", -500, -1),  # a suffix: the last 500
        ("bytes=2000-", 2000, -1),  # open-ended: to the end
    ],
)
def test_a_range_is_answered_206_with_its_bytes(
    client: TestClient, item: dict, whole: bytes, asked: str, first: int, last: int
) -> None:
    size = len(whole)
    first, last = first % size, last % size
    r = client.get(f"/api/items/{item['id']}/media", headers={"Range": asked})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert r.content == whole[first : last + 1]
    assert int(r.headers["content-length"]) == last - first + 1
    assert r.headers["etag"] == f'"{item["media"]["content_hash"]}"'


def test_a_range_past_the_end_is_clipped_to_the_file(
    client: TestClient, item: dict, whole: bytes
) -> None:
    size = len(whole)
    r = client.get(f"/api/items/{item['id']}/media", headers={"Range": f"bytes={size - 10}-"})
    assert r.status_code == 206 and r.content == whole[-10:]
    r = client.get(f"/api/items/{item['id']}/media", headers={"Range": "bytes=0-99999999"})
    assert r.status_code == 206 and r.content == whole
    assert r.headers["content-range"] == f"bytes 0-{size - 1}/{size}"


@pytest.mark.parametrize(
    "asked", ["bytes={size}-", "bytes=99999999-", "bytes=abc", "bytes=9-5", "items=0-9", "bytes=-0"]
)
def test_a_bad_range_is_416_with_the_size(
    client: TestClient, item: dict, whole: bytes, asked: str
) -> None:
    asked = asked.format(size=len(whole))
    r = client.get(f"/api/items/{item['id']}/media", headers={"Range": asked})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(whole)}"
    body = r.json()
    assert body["field"] == "range"
    assert body["message"] == (
        f"range {asked!r} of the media of item {item['id']} is malformed or past its end "
        f"({len(whole)} bytes)"
    )


def test_if_range_of_another_version_gets_the_whole_file(
    client: TestClient, item: dict, whole: bytes
) -> None:
    url = f"/api/items/{item['id']}/media"
    etag = client.get(url).headers["etag"]
    same = client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206 and same.content == whole[:10]
    other = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert other.status_code == 200 and other.content == whole


@pytest.mark.parametrize("how", ["size", "mtime", "symlink", "passwd"])
def test_a_range_of_a_changed_file_is_not_served(
    own: tuple[TestClient, dict], tmp_path: Path, how: str
) -> None:
    client, ids = own
    name, item_id = sorted(ids.items())[0]
    _spoil(tmp_path / "photos" / name, how, tmp_path)
    r = client.get(f"/api/items/{item_id}/media", headers={"Range": "bytes=0-9"})
    assert r.status_code == 404
    assert b"root:" not in r.content


def test_items_stored_by_uri_are_served_from_a_local_copy(
    tmp_path: Path, coco_mini: Path, memory: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items imported from an fsspec folder (here the in-process memory file system) are sent
    like local ones: the media from a copy fetched once into the cache, the thumbnail made from
    the URI; a file changed in the store since its import is a 404, as a local one is."""
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    fs, root = fsspec.core.url_to_fs(memory)
    sources = sorted((coco_mini / "val2017").glob("*.jpg"))[:2]
    for src in sources:
        fs.pipe_file(f"{root}/{src.name}", src.read_bytes())
    ws = Workspace.open(tmp_path / "ws")
    import_images(ws, "remote", memory)
    app = create_app(ws, auth=False, web_dist=tmp_path / "no-web")
    client = TestClient(app, base_url="http://localhost")
    items = client.get("/api/datasets/remote/items", params={"limit": 10}).json()["items"]
    by_name = {it["path"].rsplit("/", 1)[-1]: it for it in items}
    first = by_name[sources[0].name]
    assert first["path"] == f"memory://{root}/{sources[0].name}"
    media = client.get(f"/api/items/{first['id']}/media")
    assert media.status_code == 200
    assert media.content == sources[0].read_bytes()
    copy = ws.paths.cache / "media" / first["media"]["content_hash"]
    assert copy.read_bytes() == sources[0].read_bytes()
    thumb = client.get(f"/api/items/{first['id']}/thumbnail")
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.content)) as im:
        assert max(im.size) <= 256

    second = by_name[sources[1].name]
    fs.pipe_file(f"{root}/{sources[1].name}", b"changed")
    r = client.get(f"/api/items/{second['id']}/media")
    assert r.status_code == 404
    assert "changed since its import" in r.json()["message"]
    fs.rm(f"{root}/{sources[1].name}")
    r = client.get(f"/api/items/{second['id']}/thumbnail")
    assert r.status_code == 404
    assert "missing" in r.json()["message"]
