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
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(web_workspace: Workspace, web_dist: Path) -> Iterator[str]:
    """The base URL of a real uvicorn server over the workspace, serving the built web app."""
    import uvicorn

    from tagscope.api.app import create_app

    app = create_app(web_workspace, web_dist=web_dist)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="tagscope-test-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield base
    srv.should_exit = True
    thread.join(10)


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
    context = chromium.new_context(base_url=server, viewport={"width": 1400, "height": 900})
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
