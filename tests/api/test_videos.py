"""``GET /api/datasets/{name}/videos/{item_id}``: the sample video (44.6 s webm, 15-cue SRT) with
its shots, keyframes and cues in one answer, and its media seekable by Range."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.domain import Modality
from tagscope.service import Workspace
from tagscope.service.video_import import import_video


@pytest.fixture(scope="module")
def video_ws(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Workspace:
    folder = tmp_path_factory.mktemp("sample")
    sample = shared_dir / "data" / "video"
    shutil.copy(sample / "echo-hereweare.webm", folder / "echo.webm")
    shutil.copy(sample / "mediaelement.srt", folder / "echo.srt")
    ws = Workspace.open(tmp_path_factory.mktemp("videos") / "ws")
    report = import_video(ws, "echo", folder)
    assert report.problems == [] and report.n_videos == 1
    return ws


@pytest.fixture(scope="module")
def vclient(video_ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    app = create_app(video_ws, auth=False, web_dist=tmp_path_factory.mktemp("no-web") / "dist")
    return TestClient(app, base_url="http://localhost")


def _ids(ws: Workspace, modality: Modality) -> list[int]:
    items = ws.catalog.iter_items(ws.dataset("echo").id)
    return [it.id for it in items if it.modality == modality]


@pytest.fixture(scope="module")
def video(video_ws: Workspace, vclient: TestClient) -> dict:
    [video_id] = _ids(video_ws, Modality.VIDEO)
    r = vclient.get(f"/api/datasets/echo/videos/{video_id}")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_video_comes_with_its_shots_keyframes_and_cues(video_ws: Workspace, video: dict) -> None:
    ws = video_ws
    assert video["dataset"] == "echo"
    assert video["video"]["modality"] == "video"
    assert video["video"]["name"] == "echo.webm"
    assert video["duration_ms"] == video["video"]["metadata"]["duration_ms"]
    assert 44_000 < video["duration_ms"] < 45_000
    shots, keyframes, cues = video["shots"], video["keyframes"], video["cues"]
    assert sorted(s["id"] for s in shots) == sorted(_ids(ws, Modality.SHOT))
    assert sorted(k["id"] for k in keyframes) == sorted(_ids(ws, Modality.KEYFRAME))
    assert sorted(c["id"] for c in cues) == sorted(_ids(ws, Modality.TRANSCRIPT))
    assert (len(keyframes), len(cues)) == (45, 15)  # a keyframe a second; the SRT's cues
    # Shots tile the video in order; each keyframe and cue lies in (overlaps) its shot.
    assert [s["index"] for s in shots] == list(range(len(shots)))
    assert shots[0]["start_ms"] == 0 and shots[-1]["end_ms"] == video["duration_ms"]
    for a, b in itertools.pairwise(shots):
        assert a["end_ms"] == b["start_ms"]
    by_id = {s["id"]: s for s in shots}
    assert [k["index"] for k in keyframes] == list(range(45))
    for k in keyframes:
        shot = by_id[k["shot_id"]]
        assert shot["start_ms"] <= k["time_ms"] < shot["end_ms"]
        assert k["index"] in shot["keyframe_indexes"]
        assert k["thumbnail_url"].startswith(f"/api/items/{k['id']}/thumbnail")
    assert cues[0]["text"] == (
        "HTML5 <video> and <audio> was supposed to be awesome, powerful, and fun."
    )
    assert (cues[0]["start_ms"], cues[0]["end_ms"]) == (100, 4000)
    assert [c["start_ms"] for c in cues] == sorted(c["start_ms"] for c in cues)
    for c in cues:
        shot = by_id[c["shot_id"]]
        assert min(c["end_ms"], shot["end_ms"]) > max(c["start_ms"], shot["start_ms"])


def test_the_keyframes_thumbnails_and_the_video_are_served(
    vclient: TestClient, video: dict
) -> None:
    k = video["keyframes"][3]
    r = vclient.get(k["thumbnail_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    size = video["video"]["media"]["size"]
    r = vclient.get(video["video"]["media_url"], headers={"Range": "bytes=1000000-1000099"})
    assert r.status_code == 206
    assert r.headers["content-type"] == "video/webm"
    assert r.headers["content-range"] == f"bytes 1000000-1000099/{size}"
    assert len(r.content) == 100


def test_not_a_video_or_not_there_is_404(
    video_ws: Workspace, vclient: TestClient, video: dict
) -> None:
    shot_id = video["shots"][0]["id"]
    r = vclient.get(f"/api/datasets/echo/videos/{shot_id}")
    assert r.status_code == 404
    assert r.json()["message"] == f"item {shot_id} of 'echo' is a shot, not a video"
    r = vclient.get("/api/datasets/echo/videos/987654")
    assert r.status_code == 404 and r.json()["message"] == "no item with id 987654"
    r = vclient.get(f"/api/datasets/nope/videos/{video['video']['id']}")
    assert r.status_code == 404 and r.json()["message"] == "no dataset named 'nope'"


def test_a_video_of_another_dataset_is_404(video_ws: Workspace, vclient: TestClient) -> None:
    [video_id] = _ids(video_ws, Modality.VIDEO)
    video_ws.catalog.create_dataset("other")
    r = vclient.get(f"/api/datasets/other/videos/{video_id}")
    assert r.status_code == 404
    assert r.json()["message"] == f"no item with id {video_id} in dataset 'other'"


@pytest.fixture(scope="module")
def talk(video_ws: Workspace) -> str:
    """A tag of the cues (text space, MiniLM) from a transcript prompt; its preview URL."""
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.tags import add_prompt, create_group

    compute_embeddings(video_ws, "echo", space="text", kind="text")
    create_group(video_ws, "echo", "talk", "browsers", space="text")
    add_prompt(video_ws, "echo", "talk", "browsers", "web browsers", modality="transcript")
    return "/api/datasets/echo/tag-groups/talk/tags/browsers/preview"


def test_the_transcript_preview_gives_cues_with_times_best_first(
    vclient: TestClient, video: dict, talk: str
) -> None:
    cues = {c["id"]: c for c in video["cues"]}
    full = vclient.get(talk, params={"modality": "transcript", "threshold": 0.0, "n": 100})
    assert full.status_code == 200, full.text
    scores = sorted((s["score"] for s in full.json()["positives"]), reverse=True)
    assert len(scores) == 15
    threshold = (scores[4] + scores[5]) / 2  # five positives, ten negatives
    sides = {}
    for view in ("positives", "negatives"):
        params = {"modality": "transcript", "threshold": threshold, "view": view, "n": 100}
        body = vclient.get(talk, params=params).json()
        assert body["modality"] == "transcript"
        sides[view] = body[view]
        assert body["positives" if view == "negatives" else "negatives"] == []
        got = [s["score"] for s in body[view]]
        assert got == sorted(got, reverse=True)  # by score within the side
        for s in body[view]:
            cue = cues[s["item_id"]]
            assert (s["text"], s["start_ms"], s["end_ms"]) == (
                cue["text"],
                cue["start_ms"],
                cue["end_ms"],
            )
            assert s["video_id"] == video["video"]["id"]
    assert [len(sides["positives"]), len(sides["negatives"])] == [5, 10]
    assert min(s["score"] for s in sides["positives"]) >= threshold
    assert max(s["score"] for s in sides["negatives"]) < threshold
    # The cue about browsers is among the positives.
    assert any("browsers" in s["text"] for s in sides["positives"])
