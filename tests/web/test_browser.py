"""The web app in real Chromium against a real server on coco-mini (text space over captions).

Each test drives the pages a person would use and checks what they show; state a test is not
about (a tag group to publish, reviews to evaluate) is set up through the REST API. Screenshots
of every page land under ``$TAGSCOPE_ARTIFACTS/<test name>/``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DATASET = "coco"  # the dataset of the web_workspace fixture
G = "/api/datasets/" + DATASET + "/tag-groups"


def _tag_url(group: str, tag: str) -> str:
    return f"{G}/{quote(group)}/tags/{quote(tag)}"


def _ok(r: httpx.Response) -> dict | list:
    assert r.status_code < 400, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


def _wait_job(api: httpx.Client, job_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _ok(api.get(f"/api/jobs/{job_id}"))
        if job["status"] in {"done", "error"}:
            assert job["status"] == "done", job
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def _create_group(api: httpx.Client, name: str, tags: str) -> dict:
    return _ok(api.post(G, json={"name": name, "tags": tags, "space": "text"}))


def _publish(api: httpx.Client, group: str) -> dict:
    job = _ok(api.post(f"{G}/{quote(group)}/publish", json={}))
    return _wait_job(api, job["id"])


def _item_ids_by_name(api: httpx.Client) -> dict[str, int]:
    out: dict[str, int] = {}
    cursor = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = _ok(api.get(f"/api/datasets/{DATASET}/items", params=params))
        out.update({it["name"]: it["id"] for it in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            return out


def _hash_query(url: str) -> dict[str, str]:
    fragment = urlsplit(url).fragment
    query = fragment.split("?", 1)[1] if "?" in fragment else ""
    return {k: v[0] for k, v in parse_qs(query).items()}


def _grid_total(page, not_: int | None = None) -> int:
    """The grid's total; with ``not_``, once it is another number (the filter's count has
    replaced the one before)."""
    # Read in the same tick as the check: the total re-renders while counts load.
    found = page.wait_for_function(
        "(old) => { const n = /^([\\d,]+) items/.exec(document.querySelector("
        "'[data-testid=grid-total]')?.textContent ?? '')?.[1]; "
        "return n && Number(n.replace(/,/g, '')) !== old ? n : null; }",
        arg=not_ if not_ is not None else -1,
    )
    return int(found.json_value().replace(",", ""))


# -- grid and item detail -------------------------------------------------------------------------


def test_grid_filter_and_item_detail(web, api, coco_truth):
    page, shot = web
    page.goto(f"/#/d/{DATASET}/grid")
    page.get_by_test_id("thumb").first.wait_for()
    total = _grid_total(page)
    assert total == len(coco_truth)
    shot("grid")

    # A SQL filter from the query bar narrows the grid to the matching items.
    page.get_by_label("SQL filter").fill("width > 600")
    page.get_by_test_id("query-run").click()
    page.wait_for_url(re.compile(r"where="))
    narrowed = _grid_total(page, not_=total)
    assert 0 < narrowed < total
    shot("grid-filtered")

    # A refused filter says why, instead of showing nothing.
    page.get_by_label("SQL filter").fill("width >>> 600")
    page.get_by_test_id("query-run").click()
    page.get_by_test_id("grid-error").wait_for()
    shot("grid-bad-filter")

    # The item page draws one box per box label.
    ids = _item_ids_by_name(api)
    name = max(coco_truth, key=lambda n: len(coco_truth[n]))
    detail = _ok(api.get(f"/api/items/{ids[name]}"))
    n_boxes = sum(1 for lab in detail["labels"] if lab["kind"] == "box")
    page.goto(f"/#/items/{ids[name]}")
    page.get_by_test_id("overlay").wait_for()
    assert page.get_by_test_id("box").count() == n_boxes > 0
    labels_text = page.get_by_test_id("labels").inner_text()
    for category in coco_truth[name]:
        assert category in labels_text
    # Its neighbours in the text space, without itself.
    similar = page.get_by_test_id("similar").get_by_test_id("thumb")
    similar.first.wait_for()
    neighbour_ids = similar.evaluate_all("els => els.map(e => Number(e.dataset.itemId))")
    assert neighbour_ids and ids[name] not in neighbour_ids
    shot("item")


def test_query_bar_completes_columns_tags_and_labels(web):
    page, shot = web
    page.goto(f"/#/d/{DATASET}/grid")
    page.get_by_test_id("thumb").first.wait_for()
    bar = page.get_by_label("SQL filter")
    # The example uses this dataset's own label and tag column (the demo group is published).
    page.wait_for_function(
        "() => /has_label\\(id, 'person'\\).*tags_demo\\./"
        ".test(document.querySelector('[data-testid=query-input]').placeholder)"
    )
    bar.press_sequentially("wid")
    page.get_by_test_id("completions").wait_for()
    assert "width" in page.get_by_test_id("completions").inner_text()
    bar.press("Tab")
    assert bar.input_value() == "width"
    bar.press_sequentially(" > 100 AND tags_demo.d")
    page.get_by_test_id("completions").get_by_text("tags_demo.dog").wait_for()
    bar.press("Enter")
    bar.press_sequentially(" >= 0 AND has_label(id, 'd")
    page.get_by_test_id("completions").get_by_text("has_label(id, 'dog')").click()
    assert bar.input_value() == "width > 100 AND tags_demo.dog >= 0 AND has_label(id, 'dog')"
    shot("completed")
    page.get_by_test_id("query-run").click()
    page.wait_for_url(re.compile(r"where="))
    assert 0 < _grid_total(page, not_=79) < 79


def _quick_labels(page, where: str) -> dict[str, int]:
    """The grid's quick-label chips (name -> count) once they are those of ``where``."""
    bar = page.locator(f"[data-testid=quick-labels][data-where={json.dumps(where)}]")
    bar.locator("[data-label]").first.wait_for()
    chips = bar.locator("[data-label]").evaluate_all(
        "els => els.map(e => [e.dataset.label, Number(e.dataset.count)])"
    )
    return dict(chips)


def test_quick_label_counts_follow_the_filter(web, coco_truth):
    page, shot = web
    page.goto(f"/#/d/{DATASET}/grid")
    page.get_by_test_id("thumb").first.wait_for()
    whole = _quick_labels(page, "")
    assert whole["person"] == sum("person" in names for names in coco_truth.values())
    shot("grid-quick-labels")

    # A label chip filters the grid; the chips then count only the items left.
    page.locator("[data-testid=quick-labels] [data-label='dining table']").click()
    where = "has_label(id, 'dining table')"
    page.wait_for_url(re.compile(r"where="))
    matching = [names for names in coco_truth.values() if "dining table" in names]
    assert _grid_total(page, not_=len(coco_truth)) == len(matching)
    facets = _quick_labels(page, where)
    assert facets["dining table"] == len(matching)
    assert facets["person"] == sum("person" in names for names in matching) < whole["person"]
    for name, n in facets.items():
        assert n == sum(name in names for names in matching), name
    shot("grid-quick-labels-filtered")


def _boxes_overlap(rects: list[dict]) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i, a in enumerate(rects)
        for j, b in enumerate(rects[i + 1 :], i + 1)
        if a["x"] < b["x"] + b["w"] - 0.5
        and b["x"] < a["x"] + a["w"] - 0.5
        and a["y"] < b["y"] + b["h"] - 0.5
        and b["y"] < a["y"] + a["h"] - 0.5
    ]


def test_item_opens_over_the_grid_with_previous_next_zoom_and_esc(web, api, coco_truth):
    page, shot = web
    ids = _item_ids_by_name(api)
    # The item with the most objects; COCO gives each object a box and a polygon row.
    name = max(coco_truth, key=lambda n: len(_ok(api.get(f"/api/items/{ids[n]}"))["labels"]))
    item_id = ids[name]
    detail = _ok(api.get(f"/api/items/{item_id}"))
    objects = {lab["attributes"]["coco_id"] for lab in detail["labels"] if lab["geometry"]}
    assert len(detail["labels"]) > len(objects)

    page.goto(f"/#/d/{DATASET}/grid")
    page.get_by_test_id("thumb").first.wait_for()
    order = page.get_by_test_id("thumb").evaluate_all(
        "els => els.map(e => Number(e.dataset.itemId))"
    )
    at = order.index(item_id)
    card = page.locator(f"[data-testid=thumb][data-item-id='{item_id}'] a.card-img")
    page.evaluate("document.querySelector('[data-testid=grid]').dataset.mark = 'kept'")
    card.click()
    overlay = page.get_by_test_id("item-overlay")
    overlay.get_by_test_id("overlay").wait_for()
    scrolled = page.evaluate("window.scrollY")  # the grid, scrolled to the card, under it
    assert scrolled > 0
    assert _hash_query(page.url)["item"] == str(item_id)
    assert overlay.get_by_test_id("object-count").inner_text() == f"{len(objects)} objects"
    # Every object's name is drawn, and no two names overlap.
    overlay.get_by_test_id("box-label").first.wait_for()
    rects = overlay.get_by_test_id("box-label").evaluate_all(
        "els => els.map(e => { const r = e.querySelector('rect').getBoundingClientRect();"
        " return {x: r.x, y: r.y, w: r.width, h: r.height}; })"
    )
    assert len(rects) == len(objects)
    assert not _boxes_overlap(rects)
    shot("item-over-grid")

    # Zoom makes the picture larger, inside a scrolling stage.
    before = overlay.get_by_test_id("stage").bounding_box()["width"]
    overlay.get_by_test_id("zoom-in").click()
    overlay.get_by_test_id("zoom-in").click()
    assert overlay.get_by_test_id("zoom-level").inner_text() == "200%"
    assert overlay.get_by_test_id("stage").bounding_box()["width"] > 1.9 * before
    shot("item-zoomed")

    # Arrow keys move to the next and previous item of the grid.
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "id => new URLSearchParams(location.hash.split('?')[1]).get('item') === String(id)",
        arg=order[at + 1],
    )
    overlay.get_by_test_id("overlay").wait_for()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "id => new URLSearchParams(location.hash.split('?')[1]).get('item') === String(id)",
        arg=item_id,
    )
    # Esc closes it: the grid is where it was (same elements, same scroll position; the
    # full-page screenshots above move the scroll, so it is set again first).
    page.evaluate(f"window.scrollTo(0, {scrolled})")
    page.keyboard.press("Escape")
    overlay.wait_for(state="detached")
    assert "item" not in _hash_query(page.url)
    assert page.evaluate("window.scrollY") == scrolled
    assert page.evaluate("document.querySelector('[data-testid=grid]').dataset.mark") == "kept"
    shot("grid-after-esc")


# -- search ---------------------------------------------------------------------------------------


def test_search_by_text_finds_dogs(web, coco_truth):
    page, shot = web
    page.goto(f"/#/d/{DATASET}/search")
    page.get_by_test_id("search-input").fill("a dog")
    page.get_by_test_id("search-run").click()
    page.get_by_test_id("result").first.wait_for()
    shot("search-a-dog")

    results = page.get_by_test_id("result")
    names = [
        Path(t).name for t in results.locator("img").evaluate_all("els => els.map(e => e.alt)")
    ]
    scores = [float(s) for s in results.evaluate_all("els => els.map(e => e.dataset.score)")]
    assert scores == sorted(scores, reverse=True)
    # The best matches are images whose COCO instances include a dog.
    top = names[:3]
    assert all("dog" in coco_truth[n] for n in top), [(n, coco_truth[n]) for n in top]

    # Label filters: "any" keeps items with one of the labels, "all" those with every one.
    def shown() -> list[str]:
        page.wait_for_function("() => !document.querySelector('.results[aria-busy=true]')")
        imgs = page.get_by_test_id("result").locator("img")
        return [Path(t).name for t in imgs.evaluate_all("els => els.map(e => e.alt)")]

    def searched(labels: list[str], mode: str) -> Callable[[Any], bool]:
        """The search request of these labels and mode (an earlier one may answer later)."""

        def match(response: Any) -> bool:
            if not response.url.endswith("/search") or response.request.method != "POST":
                return False
            body = json.loads(response.request.post_data or "{}")
            return sorted(body.get("labels") or []) == labels and body.get("label_mode", "any") in (
                mode,
                None,
            )

        return match

    for typed, labels in (("dog", ["dog"]), ("cat", ["cat", "dog"])):
        with page.expect_response(searched(labels, "any")):
            page.get_by_test_id("label-input").fill(typed)
            page.get_by_test_id("label-input").press("Enter")
    any_names = shown()
    assert any_names and all({"dog", "cat"} & coco_truth[n] for n in any_names)
    shot("search-labels-any")
    with page.expect_response(searched(["cat", "dog"], "all")):
        page.get_by_test_id("label-mode-all").check(force=True)
    all_names = shown()
    assert all_names and all({"dog", "cat"} <= coco_truth[n] for n in all_names)
    assert set(all_names) < set(any_names)
    shot("search-labels-all")


@pytest.fixture(scope="module")
def dup_dataset(web_workspace, imagenette, tmp_path_factory) -> dict[str, str]:
    """A dataset ``dups`` of 6 imagenette images plus a resized, re-compressed copy of two of
    them, embedded in the ``phash`` space. Returns {copy file name: original file name}."""
    from PIL import Image

    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.imports import import_images

    folder = tmp_path_factory.mktemp("dups")
    sources = sorted(imagenette.glob("*/*.JPEG"))[::7][:6]
    for src in sources:
        (folder / src.name).write_bytes(src.read_bytes())
    copies = {}
    for src in sources[:2]:
        copy = folder / f"copy-{src.stem}.jpg"
        with Image.open(src) as im:
            im.convert("RGB").resize((im.width // 2, im.height // 2)).save(copy, quality=70)
        copies[copy.name] = src.name
    import_images(web_workspace, "dups", folder)
    compute_embeddings(web_workspace, "dups", kind="phash")
    return copies


def test_search_by_uploaded_image_and_near_duplicates(web, dup_dataset, imagenette):
    page, shot = web
    copy, original = next(iter(dup_dataset.items()))
    page.goto("/#/d/dups/search?mode=image")
    page.get_by_test_id("image-input").set_input_files(str(next(imagenette.glob(f"*/{original}"))))
    page.get_by_test_id("result").first.wait_for()
    names = page.get_by_test_id("result").locator("img").evaluate_all("els => els.map(e => e.alt)")
    # The uploaded file itself ranks first, its resized copy next.
    assert Path(names[0]).name == original
    assert Path(names[1]).name == copy
    shot("search-by-image")

    page.get_by_test_id("mode-duplicates").click()
    page.get_by_test_id("pair").first.wait_for()
    pairs = [
        {Path(n).name for n in p.locator("img").evaluate_all("els => els.map(e => e.alt)")}
        for p in page.get_by_test_id("pair").all()
    ]
    assert {frozenset(p) for p in pairs} == {frozenset(x) for x in dup_dataset.items()}
    shot("near-duplicates")


# -- tags -----------------------------------------------------------------------------------------


def test_create_tag_group_from_two_names(web, api):
    page, shot = web
    page.goto(f"/#/d/{DATASET}/tags")
    page.get_by_test_id("new-group").click()
    dialog = page.get_by_test_id("create-group-dialog")
    dialog.get_by_test_id("group-name").fill("bad group!")
    dialog.get_by_test_id("group-tags").fill("dog\ncat")
    dialog.get_by_test_id("create-group").click()
    error = dialog.get_by_test_id("create-group-error")
    error.wait_for()
    assert "group name" in error.inner_text().lower()
    shot("create-group-invalid")

    # The dataset has two spaces (text and phash): the dialog offers both, the semantic first.
    space = dialog.get_by_test_id("group-space")
    assert space.input_value() == "text"
    options = space.locator("option").evaluate_all("els => els.map(e => e.value)")
    assert sorted(options) == ["phash", "text"]

    dialog.get_by_test_id("group-name").fill("animals")
    dialog.get_by_test_id("create-group").click()
    page.wait_for_url(re.compile(r"#/d/coco/tags/animals$"))
    cards = page.get_by_test_id("tag-card")
    cards.first.wait_for()
    assert sorted(cards.evaluate_all("els => els.map(e => e.dataset.tag)")) == ["cat", "dog"]
    shot("group-page")

    group = _ok(api.get("/api/tag-groups/animals"))
    assert group["space"] == "text"
    assert [t["name"] for t in group["tags"]] == ["dog", "cat"]
    assert all(t["prompts"][0]["text"] == t["name"] for t in group["tags"])

    page.goto(f"/#/d/{DATASET}/tags")
    page.get_by_test_id("group").filter(has_text="animals").wait_for()
    shot("tags-management")


def _preview_sample(page) -> list[tuple[str, str]]:
    return page.get_by_test_id("preview-item").evaluate_all(
        "els => els.map(e => [e.dataset.itemId, e.dataset.score])"
    )


def test_mark_examples_on_preview_changes_sample(web, api):
    page, shot = web
    _create_group(api, "pets", "dog")
    page.goto(f"/#/d/{DATASET}/tags/pets/dog/preview")
    page.get_by_test_id("preview-item").first.wait_for()
    page.wait_for_function("() => !document.querySelector('.spin-slot .spinner')")
    before = _preview_sample(page)
    shot("preview-before")

    # The slider moves items between the sides at once (no wait for the server).
    positives = page.get_by_test_id("preview-positives").get_by_test_id("preview-item")
    n_pos = positives.count()
    page.get_by_test_id("threshold-input").fill("0.99")
    page.get_by_test_id("threshold-input").press("Enter")
    assert positives.count() <= n_pos
    page.wait_for_function("() => !document.querySelector('.spin-slot .spinner')")
    page.get_by_test_id("threshold-input").fill("0.50")
    page.get_by_test_id("threshold-input").press("Enter")
    page.wait_for_function("() => !document.querySelector('.spin-slot .spinner')")
    before = _preview_sample(page)

    # Bulk-mark the lowest-scoring items shown as positives, one high one as negative.
    ranked = sorted(before, key=lambda x: float(x[1]))
    chosen = [item_id for item_id, _ in ranked[:3]]
    for item_id in chosen:
        page.locator(f"[data-testid=preview-item][data-item-id='{item_id}']").first.hover()
        page.locator(
            f"[data-testid=preview-item][data-item-id='{item_id}'] [data-testid=select]"
        ).first.click()
    page.get_by_test_id("bulk-positive").click()
    top_id = ranked[-1][0]
    page.locator(
        f"[data-testid=preview-item][data-item-id='{top_id}'] [data-testid=mark-negative]"
    ).first.click()
    assert "3 positive, 1 negative" in page.get_by_test_id("staged-count").inner_text()
    shot("preview-staged")

    page.get_by_test_id("add-visual-prompts").click()
    page.wait_for_function(
        "before => JSON.stringify([...document.querySelectorAll('[data-testid=preview-item]')]"
        ".map(e => [e.dataset.itemId, e.dataset.score])) !== before",
        arg=_json(before),
    )
    page.wait_for_function("() => !document.querySelector('.spin-slot .spinner')")
    after = _preview_sample(page)
    assert after != before
    shot("preview-after")

    tag = next(t for t in _ok(api.get("/api/tag-groups/pets"))["tags"] if t["name"] == "dog")
    marked = {str(e["item_id"]): e["polarity"] for e in tag["examples"]}
    assert {i: marked.get(i) for i in chosen} == dict.fromkeys(chosen, "positive")
    assert marked.get(top_id) == "negative"


def _json(value) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def test_publish_and_watch_the_job_finish(web, api):
    page, shot = web
    _create_group(api, "vehicles", "car\nbus")
    page.goto(f"/#/d/{DATASET}/tags/vehicles")
    page.get_by_test_id("tag-card").first.wait_for()
    assert page.get_by_test_id("scoring-status").first.inner_text() == "unscored"
    shot("group-draft")

    page.get_by_test_id("publish").click()
    progress = page.locator("main [data-testid=job-progress]").first
    progress.wait_for()
    shot("publishing")
    page.wait_for_function(
        "() => document.querySelector('main [data-testid=job-progress]')"
        "?.dataset.status === 'done'",
        timeout=120_000,
    )
    page.wait_for_function(
        "() => document.querySelector('[data-testid=scoring-status]')?.textContent"
        ".startsWith('scored')"
    )
    shot("published")
    group = _ok(api.get("/api/tag-groups/vehicles"))
    assert group["state"] == "published" and group["version"] >= 1


@pytest.fixture(scope="module")
def dog_tag(api) -> dict:
    """A published group ``dogs`` with the tag ``dog``, reviewed on every item (COCO truth)."""
    _create_group(api, "dogs", "dog")
    _publish(api, "dogs")
    return _ok(api.get("/api/tag-groups/dogs"))


def test_histogram_bar_opens_filtered_grid(web, api, dog_tag):
    page, shot = web
    page.goto(f"/#/d/{DATASET}/tags/dogs/dog")
    page.get_by_test_id("hist-bar").first.wait_for()
    shot("tag-page")

    bars = page.get_by_test_id("hist-bar")
    counts = [int(c) for c in bars.evaluate_all("els => els.map(e => e.dataset.count)")]
    assert sum(counts) == len(_item_ids_by_name(api))
    # The minimum-score control zooms into the high scores.
    page.get_by_test_id("hist-min").fill("0.5")
    page.get_by_test_id("hist-min").press("Enter")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=hist-bar]')?.dataset.lo) >= 0.5"
    )
    shot("histogram-min-0.5")
    page.get_by_test_id("hist-min").fill("0")
    page.get_by_test_id("hist-min").press("Enter")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=hist-bar]')?.dataset.lo) === 0"
    )

    index = next(i for i, c in enumerate(counts) if c > 0)
    bar = bars.nth(index)
    expected = int(bar.get_attribute("data-count"))
    lo, hi = float(bar.get_attribute("data-lo")), float(bar.get_attribute("data-hi"))
    bar.click()
    page.wait_for_url(re.compile(r"#/d/coco/grid\?.*where="))
    where = unquote(_hash_query(page.url)["where"])
    assert where
    assert page.get_by_label("SQL filter").input_value() == where
    assert _grid_total(page) == expected
    page.get_by_test_id("thumb").first.wait_for()
    shot("grid-from-bar")

    # An item of the bar shows the tag's score within the bar's range.
    page.get_by_test_id("thumb").first.locator("a").first.click()
    page.get_by_test_id("tag-scores").wait_for()
    row = page.get_by_test_id("tag-scores").locator("tr", has_text="dogs")
    score = float(row.locator(".mono").inner_text())
    assert lo - 1e-3 <= score <= hi + 1e-3
    shot("item-with-score")


def test_grid_chips_and_sort_follow_the_server(web, api):
    """The grid's tag chips are the server's decisions at the saved threshold, not score >= 0.5,
    and its score sort uses the column the server names."""
    page, shot = web
    _create_group(api, "chips", "dog")
    _publish(api, "chips")
    rows = _ok(
        api.get(
            f"/api/datasets/{DATASET}/items",
            params={"sort": "tags_chips.dog", "order": "desc", "limit": 500},
        )
    )["items"]
    ranked = [next(t["score"] for t in it["tag_scores"] if t["group"] == "chips") for it in rows]
    at_half = sum(s >= 0.5 for s in ranked)
    k = 1 if at_half >= 2 else at_half + 2  # a count that score >= 0.5 would not give
    threshold = round((ranked[k - 1] + ranked[k]) / 2, 6)
    _ok(api.put(_tag_url("chips", "dog") + "/threshold", json={"threshold": threshold}))

    page.goto(f"/#/d/{DATASET}/grid")
    page.get_by_test_id("thumb").first.wait_for()
    sort = page.get_by_test_id("sort")
    sort.locator("option[value='tags_chips.dog']").wait_for(state="attached")
    sort.select_option("tags_chips.dog")
    page.wait_for_url(re.compile(r"sort=tags_chips\.dog"))
    page.get_by_test_id("thumb").first.wait_for()
    chips = page.locator("[data-testid=tag-chip][data-column='tags_chips.dog']")
    page.wait_for_function(
        "n => document.querySelectorAll(\"[data-testid=tag-chip][data-column='tags_chips.dog']\")"
        ".length === n",
        arg=k,
    )
    assert chips.count() == k != at_half
    # The first k thumbnails carry the chip: the best scores, sorted by the server.
    first = page.get_by_test_id("thumb").nth(k - 1)
    assert first.locator("[data-testid=tag-chip][data-column='tags_chips.dog']").count() == 1
    shot("grid-chips-at-saved-threshold")


def test_add_from_uncertain_marks_examples(web, api, dog_tag):
    page, shot = web
    page.goto(f"/#/d/{DATASET}/tags/dogs/dog/preview")
    page.get_by_test_id("preview-item").first.wait_for()
    page.get_by_test_id("add-from-uncertain").click()
    dialog = page.get_by_test_id("dialog-uncertain")
    items = dialog.get_by_test_id("preview-item")
    items.first.wait_for()
    scores = [float(x) for x in items.evaluate_all("els => els.map(e => e.dataset.score)")]
    threshold = next(t for t in dog_tag["tags"] if t["name"] == "dog")["threshold"]
    # The uncertain items lie around the decision boundary, not at the extremes.
    assert min(abs(s - threshold) for s in scores) < 0.25
    ids = items.evaluate_all("els => els.map(e => e.dataset.itemId)")[:2]
    dialog.locator(f"[data-item-id='{ids[0]}'] [data-testid=mark-positive]").click()
    dialog.locator(f"[data-item-id='{ids[1]}'] [data-testid=mark-negative]").click()
    shot("uncertain-marked")
    dialog.get_by_test_id("dialog-add").click()
    dialog.wait_for(state="hidden")
    shot("preview-after-uncertain")
    tag = next(t for t in _ok(api.get("/api/tag-groups/dogs"))["tags"] if t["name"] == "dog")
    marked = {str(e["item_id"]): e["polarity"] for e in tag["examples"]}
    assert marked.get(ids[0]) == "positive"
    assert marked.get(ids[1]) == "negative"


def test_metrics_slider_and_save_threshold(web, api, dog_tag, coco_truth):
    page, shot = web
    ids = _item_ids_by_name(api)
    reviews = [{"item_id": ids[n], "label": "dog" in cats} for n, cats in coco_truth.items()]
    _ok(api.post(_tag_url("dogs", "dog") + "/reviews", json={"reviews": reviews}))

    page.goto(f"/#/d/{DATASET}/tags/dogs/dog/metrics")
    page.get_by_test_id("metrics-chart").wait_for()
    assert page.get_by_test_id("recommended-line").count() == 1
    shot("metrics")

    slider = page.get_by_test_id("metrics-slider")
    slider.fill("0.9")  # a range input takes a value like a person dragging it
    assert page.get_by_test_id("metrics-threshold").inner_text() == "0.90"
    assert page.get_by_test_id("metrics-input").input_value() == "0.90"
    slider.fill("0.1")
    assert page.get_by_test_id("metrics-threshold").inner_text() == "0.10"
    low = {m: page.get_by_test_id(f"value-{m}").inner_text() for m in ("recall", "precision")}
    slider.fill("0.95")
    high = {m: page.get_by_test_id(f"value-{m}").inner_text() for m in ("recall", "precision")}
    assert float(high["recall"]) <= float(low["recall"])
    shot("metrics-slider-moved")

    # The input box sets the same threshold; saving keeps the user here and the group published
    # (a threshold is a setting of the published version, not a new definition).
    page.get_by_test_id("metrics-input").fill("0.37")
    page.get_by_test_id("metrics-input").press("Enter")
    assert page.get_by_test_id("metrics-threshold").inner_text() == "0.37"
    url = page.url
    before = _ok(api.post(f"{G}/dogs/publish", json={}))  # published: nothing pending
    _wait_job(api, before["id"])
    assert _ok(api.get("/api/tag-groups/dogs"))["state"] == "published"
    page.get_by_test_id("save-threshold").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=saved-threshold]')?.textContent === '0.37'"
    )
    assert page.url == url
    shot("metrics-after-save")
    group = _ok(api.get("/api/tag-groups/dogs"))
    assert group["state"] == "published"
    tag = next(t for t in group["tags"] if t["name"] == "dog")
    assert tag["threshold"] == pytest.approx(0.37)

    # The preview opens at the saved threshold from here.
    page.get_by_test_id("preview-at-threshold").click()
    page.wait_for_url(re.compile(r"/preview\?threshold=0\.37"))
    page.get_by_test_id("preview-item").first.wait_for()
    assert page.get_by_test_id("threshold-input").input_value() == "0.37"
    shot("preview-at-saved-threshold")


def test_llm_judge_button_says_how_to_configure_it(web, dog_tag, monkeypatch):
    page, shot = web
    monkeypatch.delenv("TAGSCOPE_LLM_URL", raising=False)
    page.goto(f"/#/d/{DATASET}/tags/dogs/dog/truth")
    note = page.get_by_test_id("judge-not-configured")
    note.wait_for()
    assert "TAGSCOPE_LLM_URL" in note.inner_text()
    assert page.get_by_test_id("run-judge").is_disabled()
    shot("judge-not-configured")


def test_llm_judge_proposals_are_cleaned_on_the_ground_truth_page(web, api, fake_llm):
    page, shot = web
    fake_llm.yes_words = {"cat", "kitten"}
    _create_group(api, "judged", "cat")
    _publish(api, "judged")

    page.goto(f"/#/d/{DATASET}/tags/judged/cat/metrics")
    page.get_by_test_id("to-truth").click()
    page.get_by_test_id("truth-page").wait_for()
    page.get_by_test_id("judge-n").fill("20")
    page.get_by_test_id("judge-n").press("Enter")
    page.get_by_test_id("run-judge").click()
    cards = page.get_by_test_id("review")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=review]').length === 20")
    page.wait_for_function("() => !document.querySelector('[data-testid=run-judge]').disabled")
    shot("judged")
    verdicts = cards.locator("[data-testid=verdict]").all_inner_texts()
    assert all(v.endswith("LLM") for v in verdicts)
    proposals = _ok(api.get(_tag_url("judged", "cat") + "/reviews"))
    assert len(proposals) == 20
    expected = {
        r["item_id"]: any(w in (r["text"] or "").lower() for w in fake_llm.yes_words)
        for r in proposals
    }
    assert all(r["label"] == expected[r["item_id"]] for r in proposals)

    # Remove one proposal and flip another: the page and the API agree.
    first = int(cards.first.get_attribute("data-item-id"))
    cards.first.get_by_test_id("remove").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=review]').length === 19")
    second = cards.first
    flipped = int(second.get_attribute("data-item-id"))
    second.get_by_test_id("flip").click()
    page.locator(f"[data-item-id='{flipped}'] [data-testid=verdict]", has_text="person").wait_for()
    page.get_by_test_id("show-person").check()
    assert page.get_by_test_id("review").count() == 1
    shot("cleaned")
    now = {r["item_id"]: r for r in _ok(api.get(_tag_url("judged", "cat") + "/reviews"))}
    assert first not in now and len(now) == 19
    assert now[flipped]["source"] == "person"
    assert now[flipped]["label"] is (not expected[flipped])

    # A person reviews an item of a sample on the same page.
    page.get_by_test_id("show-all").check()
    item = page.get_by_test_id("to-review-item").first
    item.wait_for()
    mine = int(item.get_attribute("data-item-id"))
    assert mine not in now  # the sample leaves out what is reviewed already
    item.get_by_test_id("review-no").click()
    page.locator(f"[data-testid=reviews] [data-item-id='{mine}']").wait_for()
    assert page.locator(f"[data-testid=to-review] [data-item-id='{mine}']").count() == 0
    shot("reviewed-by-hand")
    now = {r["item_id"]: r for r in _ok(api.get(_tag_url("judged", "cat") + "/reviews"))}
    assert (now[mine]["label"], now[mine]["source"]) == (False, "person")


# -- SQL ------------------------------------------------------------------------------------------


def test_sql_console_runs_queries_and_explains_refusals(web, coco_truth):
    page, shot = web
    page.goto(f"/#/d/{DATASET}/sql")
    editor = page.get_by_test_id("sql-editor")
    editor.fill(f"SELECT count(*) AS n FROM items WHERE dataset = '{DATASET}'")
    page.get_by_test_id("sql-run").click()
    table = page.get_by_test_id("sql-results")
    table.wait_for()
    assert table.locator("th").all_inner_texts() == ["n"]
    assert table.locator("tbody td").first.inner_text() == str(len(coco_truth))
    shot("sql-count")

    editor.fill(
        "SELECT l.name, count(DISTINCT l.item_id) AS n FROM labels l "
        f"JOIN items i ON i.id = l.item_id WHERE i.dataset = '{DATASET}' "
        "GROUP BY l.name ORDER BY n DESC, l.name LIMIT 5"
    )
    editor.press("Control+Enter")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=sql-results] th')?.textContent === 'name'"
    )
    first = page.get_by_test_id("sql-results").locator("tbody tr").first
    assert first.locator("td").first.inner_text() == "person"
    shot("sql-labels")

    for refused in ("DELETE FROM items", "SELECT * FROM read_csv('/etc/passwd')"):
        editor.fill(refused)
        page.get_by_test_id("sql-run").click()
        error = page.get_by_test_id("sql-error")
        error.wait_for()
        assert error.inner_text().startswith("Refused")
        assert page.get_by_test_id("sql-results").count() == 0
        shot("sql-refused")


# -- history and undo -----------------------------------------------------------------------------


def _reviews(api: httpx.Client, group: str, tag: str) -> dict[int, bool]:
    return {r["item_id"]: r["label"] for r in _ok(api.get(_tag_url(group, tag) + "/reviews"))}


def _review(api: httpx.Client, group: str, tag: str, labels: dict[int, bool]) -> dict:
    """Reviews the items through the API; returns the change-set it wrote (the newest)."""
    body = {"reviews": [{"item_id": i, "label": v} for i, v in labels.items()]}
    _ok(api.post(_tag_url(group, tag) + "/reviews", json=body))
    newest = _ok(api.get(f"/api/datasets/{DATASET}/history", params={"limit": 1}))[0]
    assert (newest["action"], newest["n_changes"]) == ("review", len(labels))
    return newest


def _change_set_row(page, change_id: int):
    return page.locator(f"[data-testid=change-set][data-change-id='{change_id}']")


def test_history_lists_reviews_and_undoes_them(web, api):
    page, shot = web
    _create_group(api, "undo-pets", "dog\ncat")
    ids = sorted(_item_ids_by_name(api).values())[:3]
    cs = _review(api, "undo-pets", "dog", {i: True for i in ids})

    page.goto(f"/#/d/{DATASET}/grid")
    page.get_by_test_id("nav-history").click()
    row = _change_set_row(page, cs["id"])
    row.wait_for()
    assert row.get_by_test_id("what").inner_text() == "reviewed 3 items for undo-pets / dog"
    assert row.get_by_test_id("state").inner_text().strip() == ""

    # Its changes: each item's thumbnail, no review before and "shows dog" after.
    row.get_by_test_id("expand").click()
    changes = page.get_by_test_id("changes").get_by_test_id("change")
    changes.first.wait_for()
    assert sorted(changes.evaluate_all("els => els.map(e => Number(e.dataset.itemId))")) == ids
    texts = page.get_by_test_id("changes").get_by_test_id("change-text").all_inner_texts()
    assert texts == ["not reviewed → shows dog"] * 3
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=change] img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    shot("history-expanded")

    row.get_by_test_id("undo").click()
    result = page.get_by_test_id("undo-result")
    result.wait_for()
    assert "restored 3" in result.inner_text() and "left" not in result.inner_text()
    # The list refreshes: the entry is undone (no second undo), and the undo is the newest entry.
    page.wait_for_function(
        f"() => document.querySelector(\"[data-change-id='{cs['id']}'] [data-testid=state]\")"
        "?.textContent.includes('undone by')"
    )
    assert row.get_by_test_id("undo").is_disabled()
    newest = page.get_by_test_id("change-set").first
    assert newest.get_attribute("data-action") == "undo"
    assert f"undoes #{cs['id']}" in newest.get_by_test_id("state").inner_text()
    assert newest.get_by_test_id("what").inner_text().startswith(f"undid #{cs['id']}")
    shot("history-undone")
    assert _reviews(api, "undo-pets", "dog") == {}


def test_history_blocked_undo_shows_the_item_and_undoes_the_rest(web, api):
    page, shot = web
    _create_group(api, "undo-blocked", "dog\ncat")
    a, b = sorted(_item_ids_by_name(api).values())[3:5]
    first = _review(api, "undo-blocked", "cat", {a: True, b: True})
    _review(api, "undo-blocked", "cat", {b: False})  # a later edit of b blocks undoing the first

    page.goto(f"/#/d/{DATASET}/history")
    row = _change_set_row(page, first["id"])
    row.get_by_test_id("undo").click()
    dialog = page.get_by_test_id("undo-blocked")
    blocked = dialog.get_by_test_id("blocked-item")
    blocked.first.wait_for()
    assert blocked.evaluate_all("els => els.map(e => Number(e.dataset.itemId))") == [b]
    assert "1 item changed since" in dialog.inner_text()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=blocked-item] img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    shot("history-blocked")
    assert _reviews(api, "undo-blocked", "cat") == {a: True, b: False}  # nothing undone yet

    dialog.get_by_test_id("undo-rest").click()
    result = page.get_by_test_id("undo-result")
    result.wait_for()
    assert "restored 1, left 1 as it is" in result.inner_text()
    dialog.wait_for(state="hidden")
    page.wait_for_function(
        f"() => document.querySelector(\"[data-change-id='{first['id']}'] [data-testid=state]\")"
        "?.textContent.includes('undone by')"
    )
    shot("history-forced")
    assert _reviews(api, "undo-blocked", "cat") == {b: False}


# -- collections ----------------------------------------------------------------------------------

C = f"/api/datasets/{DATASET}/collections"


def _all_grid_ids(page) -> list[int]:
    """The ids of every card of the grid, scrolling until all its pages have loaded."""
    total = _grid_total(page)
    cards = page.get_by_test_id("grid").get_by_test_id("thumb")
    deadline = time.monotonic() + 30
    while cards.count() < total and time.monotonic() < deadline:
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        time.sleep(0.1)
    return cards.evaluate_all("els => els.map(e => Number(e.dataset.itemId))")


def _collection_row(page, title: str):
    return page.locator(f"[data-testid=collection][data-title='{title}']")


def _save_collection(page, button: str, title: str) -> None:
    page.get_by_test_id(button).click()
    dialog = page.get_by_test_id("save-collection-dialog")
    dialog.get_by_test_id("collection-title").fill(title)
    dialog.get_by_test_id("save-collection").click()


def test_collections_from_the_query_bar_and_the_selection(web, api):
    page, shot = web
    where = "width > 600 AND height < 450"
    page.goto(f"/#/d/{DATASET}/grid")
    page.get_by_test_id("thumb").first.wait_for()
    page.get_by_label("SQL filter").fill(where)
    page.get_by_test_id("query-run").click()
    page.wait_for_url(re.compile(r"where="))
    total = _grid_total(page, not_=79)  # the filter's count, not the whole dataset's
    matching = sorted(_all_grid_ids(page))
    assert 0 < total == len(matching)

    # The filter becomes a dynamic collection.
    _save_collection(page, "save-filter-collection", "web-wide")
    dialog = page.get_by_test_id("save-collection-dialog")
    dialog.wait_for(state="hidden")
    made = _ok(api.get(f"{C}/web-wide"))
    assert (made["kind"], made["filter"], made["item_ids"]) == ("dynamic", where, matching)

    # A title taken (409) and a filter that cannot run (400) are refused as the API says.
    _save_collection(page, "save-filter-collection", "web-wide")
    error = dialog.get_by_test_id("save-collection-error")
    error.wait_for()
    assert "'web-wide' already" in error.inner_text()
    shot("save-collection-taken")
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="hidden")
    page.get_by_label("SQL filter").fill("no_such_column > 1")
    page.get_by_test_id("query-run").click()
    page.wait_for_url(re.compile(r"no_such_column"))
    page.get_by_test_id("grid-error").wait_for()
    _save_collection(page, "save-filter-collection", "web-bad")
    error.wait_for()
    assert "no_such_column" in error.inner_text()
    dialog.get_by_role("button", name="Cancel").click()

    # Listed with the grid's count of its filter; a row opens the grid of exactly its items.
    page.get_by_test_id("nav-collections").click()
    row = _collection_row(page, "web-wide")
    row.wait_for()
    assert row.get_by_test_id("kind").inner_text() == "dynamic"
    assert row.get_by_test_id("filter").inner_text() == where
    page.wait_for_function(
        "() => /^\\d/.test(document.querySelector("
        "\"[data-title='web-wide'] [data-testid=n-items]\")?.textContent ?? '')"
    )
    assert int(row.get_by_test_id("n-items").inner_text().replace(",", "")) == total
    assert _collection_row(page, "web-bad").count() == 0
    shot("collections")
    row.get_by_test_id("filter").click()
    page.wait_for_url(re.compile(r"collection=web-wide"))
    assert _hash_query(page.url) == {"collection": "web-wide"}
    page.get_by_test_id("grid-collection").wait_for()
    assert sorted(_all_grid_ids(page)) == matching
    shot("grid-of-collection")

    # Two cards selected with Space become a static collection; their cards show its chip.
    page.goto(f"/#/d/{DATASET}/grid")
    cards = page.get_by_test_id("grid").get_by_test_id("thumb")
    cards.nth(1).wait_for()
    picked = sorted(cards.evaluate_all("els => els.slice(0, 2).map(e => Number(e.dataset.itemId))"))
    for i in (0, 1):
        cards.nth(i).locator("a.card-img").focus()
        page.keyboard.press(" ")
    assert page.get_by_test_id("selection-count").inner_text() == "2 selected"
    _save_collection(page, "save-selection-collection", "web-picked")
    dialog.wait_for(state="hidden")
    made = _ok(api.get(f"{C}/web-picked"))
    assert (made["kind"], made["filter"], made["item_ids"]) == ("static", None, picked)
    chips = page.get_by_test_id("collection-chip").filter(has_text="web-picked")
    chips.nth(1).wait_for()
    chip_ids = chips.evaluate_all(
        "els => els.map(e => Number(e.closest('[data-testid=thumb]').dataset.itemId))"
    )
    assert sorted(chip_ids) == picked
    shot("grid-collection-chips")

    # Freeze the dynamic one; delete the static one, after a confirmation.
    page.get_by_test_id("nav-collections").click()
    row = _collection_row(page, "web-wide")
    row.get_by_test_id("freeze").click()
    page.wait_for_function(
        "() => document.querySelector(\"[data-title='web-wide'] [data-testid=kind]\")"
        "?.textContent === 'static'"
    )
    assert row.get_by_test_id("freeze").count() == 0
    frozen = _ok(api.get(f"{C}/web-wide"))
    assert (frozen["kind"], frozen["item_ids"]) == ("static", matching)
    assert row.get_by_test_id("n-items").inner_text() == str(total)

    _collection_row(page, "web-picked").get_by_test_id("delete").click()
    confirm = page.get_by_test_id("delete-collection")
    confirm.wait_for()
    assert "Delete web-picked?" in confirm.inner_text()
    assert api.get(f"{C}/web-picked").status_code == 200  # nothing deleted before the confirmation
    shot("delete-confirm")
    confirm.get_by_test_id("confirm-delete").click()
    _collection_row(page, "web-picked").wait_for(state="detached")
    assert api.get(f"{C}/web-picked").status_code == 404
    assert _collection_row(page, "web-wide").count() == 1
    shot("collections-after")

    # The History page says what happened to the collection, in words.
    page.get_by_test_id("nav-history").click()
    newest = page.get_by_test_id("change-set").first
    newest.wait_for()
    what = newest.get_by_test_id("what").inner_text()
    assert what == "deleted the collection web-picked (2 items)"
