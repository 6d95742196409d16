"""The video page (F-24) and the grid's video items in real Chromium, over the sample video
(a 44.6 s webm with a 15-cue SRT) imported into its own dataset of the browser workspace.

Clicking a shot, a keyframe or a cue seeks the player: the video element's ``currentTime`` is read
after its ``seeked`` event, so the browser did seek (by Range requests, answered 206)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest

from tagscope.service import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DATASET = "echo"


@pytest.fixture(scope="module")
def video(web_workspace: Workspace, shared_dir: Path, tmp_path_factory, api: httpx.Client) -> dict:
    """The video's page data (GET /api/datasets/echo/videos/{id})."""
    from tagscope.domain import Modality
    from tagscope.service.video_import import import_video

    folder = tmp_path_factory.mktemp("echo")
    sample = shared_dir / "data" / "video"
    shutil.copy(sample / "echo-hereweare.webm", folder / "echo.webm")
    shutil.copy(sample / "mediaelement.srt", folder / "echo.srt")
    report = import_video(web_workspace, DATASET, folder, thumbnails="now")
    assert report.problems == [] and report.n_videos == 1
    ds = web_workspace.dataset(DATASET)
    [video_id] = [
        it.id for it in web_workspace.catalog.iter_items(ds.id) if it.modality == Modality.VIDEO
    ]
    r = api.get(f"/api/datasets/{DATASET}/videos/{video_id}")
    assert r.status_code == 200, r.text
    return r.json()


SEEKED = """async ([selector, index]) => {
  const v = document.querySelector('[data-testid=video-player]');
  const done = new Promise((ok) => v.addEventListener('seeked', () => ok(), { once: true }));
  document.querySelectorAll(selector)[index].click();
  await done;
  return v.currentTime;
}"""


def test_clicking_a_shot_keyframe_or_cue_seeks_the_player(web: tuple, video: dict) -> None:
    page, shot = web
    ranges: list[int] = []
    page.on(
        "response",
        lambda r: ranges.append(r.status) if "/media" in r.url and r.status == 206 else None,
    )
    video_id = video["video"]["id"]
    page.goto(f"/#/d/{DATASET}/videos/{video_id}")
    page.get_by_test_id("video-page").wait_for()
    player = page.get_by_test_id("video-player")
    page.wait_for_function(
        "document.querySelector('[data-testid=video-player]').readyState >= 1", timeout=30_000
    )
    duration = player.evaluate("v => v.duration")
    assert duration == pytest.approx(video["duration_ms"] / 1000, abs=0.5)
    shots = page.get_by_test_id("shot")
    assert shots.count() == len(video["shots"]) >= 3
    assert page.get_by_test_id("keyframe").count() == len(video["keyframes"]) == 45
    assert page.get_by_test_id("cue").count() == len(video["cues"]) == 15
    page.locator("[data-testid=keyframe] img").first.wait_for()
    shot("video-page")

    # A shot (the third, not the first): the player goes to its start.
    third = video["shots"][2]
    t = page.evaluate(SEEKED, ["[data-testid=shot]", 2])
    assert t == pytest.approx(third["start_ms"] / 1000, abs=0.5)
    assert shots.nth(2).get_attribute("class") == "shot-seg on"
    shot("after-shot-click")

    # A cue late in the video: the player goes to its start and the cue is marked current.
    cue = video["cues"][10]
    t = page.evaluate(SEEKED, ["[data-testid=cue]", 10])
    assert t == pytest.approx(cue["start_ms"] / 1000, abs=0.5)
    current = page.locator("[data-testid=cue][aria-current=true]")
    current.wait_for()
    assert current.get_attribute("data-start-ms") == str(cue["start_ms"])
    # A keyframe: its time.
    key = video["keyframes"][30]
    t = page.evaluate(SEEKED, ["[data-testid=keyframe]", 30])
    assert t == pytest.approx(key["time_ms"] / 1000, abs=0.5)
    # The strip follows the player: the current shot's first keyframe is in view.
    page.wait_for_function(
        """() => {
          const strip = document.querySelector('[data-testid=keyframe-strip]');
          const k = strip.querySelector('.keyframe.in-shot');
          return k && k.offsetLeft >= strip.scrollLeft
            && k.offsetLeft + k.offsetWidth <= strip.scrollLeft + strip.clientWidth;
        }""",
        timeout=5_000,
    )
    shot("after-keyframe-click")
    assert ranges, "the browser never got a 206 (Range) answer for the video"


def test_the_grid_filters_by_kind_and_opens_a_video_on_its_page(web: tuple, video: dict) -> None:
    page, shot = web
    page.goto(f"/#/d/{DATASET}/grid")
    kinds = page.get_by_test_id("modality")
    kinds.wait_for()
    options = kinds.locator("option").all_inner_texts()
    assert options[0] == "all"
    assert {o.split(" ")[0] for o in options[1:]} == {"keyframe", "shot", "transcript", "video"}
    n_all = len(video["shots"]) + len(video["keyframes"]) + len(video["cues"]) + 1
    total = page.get_by_test_id("grid-total")
    page.wait_for_function(
        "([el, n]) => el.textContent.startsWith(n + ' ')", arg=[total.element_handle(), n_all]
    )
    shot("grid-all-kinds")

    kinds.select_option("transcript")
    page.wait_for_url(re.compile(r"modality=transcript"))
    page.wait_for_function(
        "([el]) => el.textContent.startsWith('15 ')", arg=[total.element_handle()]
    )
    cards = page.locator("[data-testid=text-card][data-modality=transcript]")
    cards.first.wait_for()
    assert cards.count() == 15
    assert video["cues"][0]["text"] in cards.first.inner_text()
    shot("grid-transcript-cues")

    kinds.select_option("shot")
    page.wait_for_function(
        "([el, n]) => el.textContent.startsWith(n + ' ')",
        arg=[total.element_handle(), len(video["shots"])],
    )
    assert page.locator("[data-testid=text-card][data-modality=shot]").count() == len(
        video["shots"]
    )
    shot("grid-shots")

    kinds.select_option("video")
    page.wait_for_function(
        "([el]) => el.textContent.startsWith('1 ')", arg=[total.element_handle()]
    )
    page.locator(f"[data-testid=thumb][data-item-id='{video['video']['id']}'] .card-img").click()
    page.wait_for_url(re.compile(rf"/d/{DATASET}/videos/{video['video']['id']}$"))
    page.get_by_test_id("video-player").wait_for()
    shot("opened-video")


@pytest.fixture(scope="module")
def talk(web_workspace: Workspace, video: dict) -> str:
    """A tag of the video's cues from a transcript prompt (text space, MiniLM)."""
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.tag_scoring import publish_group
    from tagscope.service.tags import add_prompt, create_group

    compute_embeddings(web_workspace, DATASET, space="text", kind="text")
    create_group(web_workspace, DATASET, "talk", "browsers", space="text")
    add_prompt(web_workspace, DATASET, "talk", "browsers", "web browsers", modality="transcript")
    # The keyframes have no text vectors to stand for the background: a negative prompt does.
    add_prompt(web_workspace, DATASET, "talk", "browsers", "nothing", polarity="negative")
    job = publish_group(web_workspace, DATASET, "talk")
    assert job.status == "done", job.error
    return "browsers"


def _cue_scores(page: object, side: str) -> list[float]:
    rows = page.locator(f"[data-testid=preview-{side}] [data-testid=preview-cue]")
    return [float(x) for x in rows.evaluate_all("els => els.map(e => e.dataset.score)")]


def test_the_transcript_preview_tab_shows_positives_then_negatives_by_score(
    web: tuple, video: dict, talk: str
) -> None:
    page, shot = web
    page.goto(f"/#/d/{DATASET}/tags/talk/{talk}/preview?threshold=0.3")
    tabs = page.get_by_test_id("preview-tabs")
    tabs.wait_for()
    assert tabs.get_by_role("tab").all_inner_texts() == ["Frames", "Shots", "Transcript"]
    page.get_by_test_id("tab-transcript").click()
    # The transcript tab opens on its positives, the most sure first.
    positives = page.locator("[data-testid=preview-positives] [data-testid=preview-cue]")
    positives.first.wait_for()
    assert page.get_by_test_id("view-positives").is_checked()
    assert page.locator("[data-testid=preview-negatives]").count() == 0
    pos = _cue_scores(page, "positives")
    assert pos and pos == sorted(pos, reverse=True) and min(pos) >= 0.3
    texts = positives.all_inner_texts()
    assert any("browsers" in t for t in texts)
    shot("transcript-positives")

    page.get_by_test_id("view-negatives").check()
    negatives = page.locator("[data-testid=preview-negatives] [data-testid=preview-cue]")
    negatives.first.wait_for()
    assert page.locator("[data-testid=preview-positives]").count() == 0
    neg = _cue_scores(page, "negatives")
    assert neg and neg == sorted(neg, reverse=True) and max(neg) < 0.3
    assert len(pos) + len(neg) == len(video["cues"])
    shot("transcript-negatives")

    # A cue opens its video's page at its time.
    cue = {c["id"]: c for c in video["cues"]}[int(negatives.first.get_attribute("data-item-id"))]
    negatives.first.click()
    page.wait_for_url(re.compile(rf"/videos/{video['video']['id']}\?t={cue['start_ms']}$"))
    page.get_by_test_id("video-player").wait_for()


def test_the_video_page_shows_each_cues_score_for_the_chosen_tag(
    web: tuple, video: dict, talk: str, api: httpx.Client
) -> None:
    page, shot = web
    video_id = video["video"]["id"]
    r = api.post(
        "/api/sql",
        json={
            "sql": "SELECT item_id, score, decision FROM dt_talk_transcript "
            f"WHERE tag = '{talk}' ORDER BY item_id"
        },
    )
    assert r.status_code == 200, r.text
    expected = {row[0]: (row[1], row[2]) for row in r.json()["rows"]}
    assert sorted(expected) == sorted(c["id"] for c in video["cues"])
    page.goto(f"/#/d/{DATASET}/videos/{video_id}")
    assert page.get_by_test_id("cue-score").count() == 0  # no tag chosen yet
    page.get_by_test_id("cue-tag").select_option(f"talk/{talk}")
    page.wait_for_url(re.compile(r"tag=talk%2Fbrowsers"))
    scores = page.locator("[data-testid=cue] [data-testid=cue-score]")
    page.wait_for_function("document.querySelectorAll('[data-testid=cue-score]').length === 15")
    shown = page.locator("[data-testid=cue]").evaluate_all(
        "els => els.map(e => [Number(e.dataset.itemId), "
        "e.querySelector('[data-testid=cue-score]').textContent, "
        "e.querySelector('[data-testid=cue-score]').classList.contains('chip-tag')])"
    )
    for item_id, text, positive in shown:
        score, decision = expected[item_id]
        assert text == f"{score:.2f}"
        assert positive == decision
    assert scores.count() == 15
    shot("cue-scores")
