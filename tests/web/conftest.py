"""Browser-test fixtures: a workspace made from coco-mini, a real server on a free port, Chromium.

The server is uvicorn in a thread of the test process, serving the built web app
(``src/tagscope/web/dist``; built with ``npm run build`` when missing). Chromium is Debian's
``/usr/bin/chromium`` (``.ci/run`` installs it); no browser is ever downloaded. Each test gets a
fresh browser context and saves a screenshot of every page it visits under ``$TAGSCOPE_ARTIFACTS``
(default ``./test-artifacts``), in a folder named after the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from tests.live_server import serve

from tagscope.service import Workspace

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
DIST = ROOT / "src" / "tagscope" / "web" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("TAGSCOPE_ARTIFACTS", ROOT / "test-artifacts"))
DATASET = "coco"
PHOTOS = "photos"  # a second dataset, with only the phash space


def _build_web_app() -> Path:
    """The built web app; builds it (``npm ci`` + ``npm run build``) when it is missing."""
    if (DIST / "index.html").is_file():
        return DIST
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            f"the web app is not built ({DIST} is missing) and npm is not on PATH: "
            "run scripts/setup.sh, or `cd web && npm ci && npm run build`"
        )
    if not (WEB / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    done = subprocess.run([npm, "run", "build"], cwd=WEB, capture_output=True, text=True)
    if done.returncode != 0 or not (DIST / "index.html").is_file():
        pytest.fail(f"`npm run build` failed in {WEB}:\n{done.stdout}\n{done.stderr}")
    return DIST


@pytest.fixture(scope="session")
def web_dist() -> Path:
    return _build_web_app()


@pytest.fixture(scope="session")
def coco_truth(coco_mini: Path) -> dict[str, set[str]]:
    """COCO val2017 categories by file name: ``{"000000000139.jpg": {"person", "tv", ...}}``."""
    doc = json.loads((coco_mini / "annotations" / "instances_val2017.json").read_text())
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    names = {im["id"]: im["file_name"] for im in doc["images"]}
    truth: dict[str, set[str]] = {name: set() for name in names.values()}
    for a in doc["annotations"]:
        truth[names[a["image_id"]]].add(cats[a["category_id"]])
    return truth


@pytest.fixture(scope="session")
def web_workspace(
    tmp_path_factory: pytest.TempPathFactory, coco_mini: Path, imagenette: Path
) -> Workspace:
    """A workspace like the demo's (``tagscope demo``), small enough to build in seconds.

    - ``coco``: coco-mini's val2017 images with instances and captions, embedded in two spaces,
      ``text`` (captions) and ``phash``, with the demo's published tag group ``demo``;
    - ``photos``: 12 imagenette photos (class folders as labels), in the ``phash`` space only.
    """
    from tagscope.service import demo
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.imports import import_coco, import_images
    from tagscope.service.tag_scoring import publish_group
    from tagscope.service.tags import create_group

    ws = Workspace.open(tmp_path_factory.mktemp("web") / "ws")
    annotations = coco_mini / "annotations"
    import_coco(
        ws,
        DATASET,
        annotations / "instances_val2017.json",
        images=coco_mini / "val2017",
        captions=annotations / "captions_val2017.json",
    )
    for kind in ("text", "phash"):
        compute_embeddings(ws, DATASET, kind=kind)
    create_group(ws, DATASET, demo.TAG_GROUP, demo.TAG_NAMES, space="text")
    publish_group(ws, DATASET, demo.TAG_GROUP)

    photos = tmp_path_factory.mktemp("photos")
    for src in sorted(imagenette.glob("*/*.JPEG"))[::40][:12]:
        (photos / src.parent.name).mkdir(exist_ok=True)
        (photos / src.parent.name / src.name).write_bytes(src.read_bytes())
    import_images(ws, PHOTOS, photos, labels_from_folders=True)
    compute_embeddings(ws, PHOTOS, kind="phash")
    return ws


@pytest.fixture(scope="session")
def server(web_workspace: Workspace, web_dist: Path) -> Iterator[str]:
    """The base URL of a real uvicorn server over the workspace, serving the built web app."""
    from tagscope.api.app import create_app

    app = create_app(web_workspace, auth=False, web_dist=web_dist)
    with serve(app) as base:
        yield base


@pytest.fixture(scope="session")
def api(server: str) -> Iterator[httpx.Client]:
    """An HTTP client of the test server, for setting up state the test is not about."""
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


class Shots:
    """Saves numbered screenshots of a page under ``$TAGSCOPE_ARTIFACTS/<test name>/``."""

    def __init__(self, page: object, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.n = 0

    def __call__(self, name: str) -> Path:
        self.n += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.n:02d}-{name}.png"
        # The whole page, with sticky bars where a person sees them: a viewport as tall as the
        # document (up to 4000 px) for the shot, then back.
        viewport = self.page.viewport_size
        height = self.page.evaluate("Math.min(document.documentElement.scrollHeight, 4000)")
        if viewport and height > viewport["height"]:
            self.page.set_viewport_size({"width": viewport["width"], "height": height})
            try:
                self.page.screenshot(path=str(path))
            finally:
                self.page.set_viewport_size(viewport)
        else:
            self.page.screenshot(path=str(path))
        return path


@pytest.fixture()
def web(chromium: object, server: str, request: pytest.FixtureRequest) -> Iterator[tuple]:
    """``(page, shot)``: a fresh page on the test server and its screenshot saver.

    The test fails on any uncaught error in the page. A last screenshot (``zz-end``) is always
    taken, so a failing test shows where it stopped.
    """
    with _browser_page(chromium, server, request) as page_and_shot:
        yield page_and_shot


@contextmanager
def _browser_page(chromium: object, base: str, request: pytest.FixtureRequest) -> Iterator[tuple]:
    """``(page, shot)`` in a fresh browser context on the server at ``base`` (see ``web``)."""
    context = chromium.new_context(base_url=base, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    shot = Shots(page, folder)
    try:
        yield page, shot
    finally:
        try:
            shot("zz-end")
        finally:
            context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


# -- a server with accounts ---------------------------------------------------------------------

ALPHA, BETA = "alpha", "beta"  # the two datasets of the workspace with accounts
ACCESS_GROUP = "looks"  # a tag group of alpha
PASSWORD = "correct horse battery"
# name -> (workspace-wide role, {dataset: role})
ACCESS_USERS: dict[str, tuple[str | None, dict[str, str]]] = {
    "vera": (None, {ALPHA: "viewer"}),  # a viewer of alpha, nothing of beta
    "eddie": ("editor", {}),  # an editor of every dataset
}


@pytest.fixture(scope="session")
def access_workspace(tmp_path_factory: pytest.TempPathFactory, imagenette: Path) -> Workspace:
    """A workspace with accounts (:data:`ACCESS_USERS`, password :data:`PASSWORD`) and two
    datasets of imagenette photos (class folders as labels): ``alpha`` (12 photos, phash space,
    the draft tag group ``looks``, its tag ``dog`` with 2 positive and 2 negative examples) and
    ``beta`` (6 photos)."""
    from tagscope.service import accounts
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.imports import import_images
    from tagscope.service.tags import create_group, mark_items, remove_prompt

    ws = Workspace.open(tmp_path_factory.mktemp("access") / "ws")
    photos = sorted(imagenette.glob("*/*.JPEG"))[::40]
    for name, chosen in ((ALPHA, photos[:12]), (BETA, photos[12:18])):
        folder = tmp_path_factory.mktemp(name)
        for src in chosen:
            (folder / src.parent.name).mkdir(exist_ok=True)
            (folder / src.parent.name / src.name).write_bytes(src.read_bytes())
        import_images(ws, name, folder, labels_from_folders=True)
    compute_embeddings(ws, ALPHA, kind="phash")
    # phash embeds no text: the tags learn from examples only (so that the preview works).
    group = create_group(ws, ALPHA, ACCESS_GROUP, "dog\nchurch", space="phash")
    for tag in group.tags:
        for prompt in tag.prompts:
            remove_prompt(ws, ALPHA, ACCESS_GROUP, tag.name, prompt.id)
    ids = ws.catalog.item_ids(ws.dataset(ALPHA).id)
    mark_items(ws, ALPHA, ACCESS_GROUP, "dog", ids[:2])
    mark_items(ws, ALPHA, ACCESS_GROUP, "dog", ids[2:4], polarity="negative")
    for user, (role, per_dataset) in ACCESS_USERS.items():
        accounts.add_user(ws, user, PASSWORD, role=role)
        for dataset, dataset_role in per_dataset.items():
            accounts.set_role(ws, user, dataset_role, dataset=dataset)
    return ws


@pytest.fixture(scope="session")
def access_server(access_workspace: Workspace, web_dist: Path) -> Iterator[str]:
    """The base URL of a real server WITH accounts (``create_app(ws, auth=True)``)."""
    from tagscope.api.app import create_app

    with serve(create_app(access_workspace, auth=True, web_dist=web_dist)) as base:
        yield base


@pytest.fixture()
def access_web(
    chromium: object, access_server: str, request: pytest.FixtureRequest
) -> Iterator[tuple]:
    """``(page, shot)`` on the server with accounts, logged out (see ``web``)."""
    with _browser_page(chromium, access_server, request) as page_and_shot:
        yield page_and_shot


LOCKOUT_FAILURES = 2  # failed logins before the lock-out server locks an account out


@pytest.fixture(scope="session")
def lockout_server(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[str]:
    """A server with accounts that locks out after :data:`LOCKOUT_FAILURES` failed logins (one
    account, ``lucy``), on a workspace of its own: a lock-out also locks the address out, which
    would lock every other test out of the server with accounts."""
    from tagscope.api.app import create_app
    from tagscope.service import accounts
    from tagscope.service.accounts import AuthSettings, LockoutPolicy

    ws = Workspace.open(tmp_path_factory.mktemp("lockout") / "ws")
    accounts.add_user(ws, "lucy", PASSWORD, role="viewer")
    settings = AuthSettings(lockout=LockoutPolicy(max_failures=LOCKOUT_FAILURES, base_delay_s=60))
    with serve(create_app(ws, auth=True, auth_settings=settings, web_dist=web_dist)) as base:
        yield base


@pytest.fixture()
def lockout_web(
    chromium: object, lockout_server: str, request: pytest.FixtureRequest
) -> Iterator[tuple]:
    """``(page, shot)`` on the lock-out server (see ``web``)."""
    with _browser_page(chromium, lockout_server, request) as page_and_shot:
        yield page_and_shot
