"""Tags per modality on the sample video (issue 11): visual prompts score keyframes in the image
space, transcript prompts score cues in the text space (MiniLM), and the shot and video tables
aggregate the keyframes' scores, all joinable with ``items`` in SQL."""

from __future__ import annotations

import dataclasses
import pickle
import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tagscope.domain import ValidationError
from tagscope.jobs import LocalRunner
from tagscope.media.transcripts import read_transcript
from tagscope.service import Workspace, tag_scoring
from tagscope.service import tags as uc
from tagscope.service.embeddings import compute_embeddings
from tagscope.service.sql import run_sql
from tagscope.service.video_import import import_video
from tagscope.store import Catalog


def _publish(ws: Workspace) -> None:
    """Group ``media`` in the image space: ``browsers`` (its name as visual and transcript
    prompt) and ``plugins`` with a transcript prompt quoting cue 7."""
    uc.create_group(ws, "echo", "media", "browsers\nplugins", space="clip")
    uc.add_prompt(
        ws, "echo", "media", "plugins", "custom Flash and Silverlight plugins",
        modality="transcript",
    )  # fmt: skip
    job = tag_scoring.publish_group(ws, "echo", "media")
    assert job.result["tables"] == ["dt_media_transcript", "dt_media_visual"]


def test_transcript_scores_join_items_with_each_cue_text_and_time(
    echo: Workspace, shared_dir: Path
) -> None:
    _publish(echo)
    rows = run_sql(
        echo,
        "SELECT i.text, i.start_ms, i.end_ms, t.start_ms, t.end_ms, t.video_id, t.score, "
        "t.decision, t.version FROM dt_media_transcript t JOIN items i ON i.id = t.item_id "
        "WHERE t.tag = 'browsers' ORDER BY i.start_ms",
    ).rows
    cues = read_transcript(shared_dir / "data" / "video" / "mediaelement.srt").cues
    assert [r[:3] for r in rows] == [[c.text, c.start_ms, c.end_ms] for c in cues]
    (video_id,) = run_sql(echo, "SELECT id FROM items WHERE modality = 'video'").rows[0]
    for _text, start, end, t_start, t_end, t_video, score, decision, version in rows:
        assert (t_start, t_end, t_video, version) == (start, end, video_id, 1)
        assert 0.0 <= score <= 1.0 and decision == (score >= 0.5)
    # Scored by the words: every cue has a text vector, none of them a picture.
    n_cues = run_sql(echo, "SELECT count(*) FROM items WHERE modality = 'transcript'").rows
    assert n_cues == [[15]] and len(rows) == 15


def test_a_transcript_tag_ranks_the_matching_cue_first(echo: Workspace) -> None:
    _publish(echo)
    ranked = run_sql(
        echo,
        "SELECT i.text FROM dt_media_transcript t JOIN items i ON i.id = t.item_id "
        "WHERE t.tag = 'plugins' ORDER BY t.score DESC",
    ).rows
    assert ranked[0][0] == "For older browsers, it has custom Flash and Silverlight plugins"


def test_shot_and_video_tables_aggregate_the_keyframe_scores(echo: Workspace) -> None:
    _publish(echo)
    visual = run_sql(
        echo,
        "SELECT v.item_id, v.tag, v.score, v.video_id, v.shot_id, v.keyframe_time_ms, "
        "i.metadata->>'shot_id', i.metadata->>'video_id', i.keyframe_time_ms, i.modality "
        "FROM dt_media_visual v JOIN items i ON i.id = v.item_id",
    ).rows
    assert len(visual) == 2 * 45 and {r[9] for r in visual} == {"keyframe"}
    for _, _, _, video, shot, time_ms, shot_meta, video_meta, item_time, _ in visual:
        assert (shot, video, time_ms) == (int(shot_meta), int(video_meta), item_time)
    # A threshold inside the range of the shots' scores, so both decisions occur.
    by_shot: dict[tuple[str, int], list[float]] = defaultdict(list)
    for _, tag, score, _, shot, *_ in visual:
        by_shot[(tag, shot)].append(score)
    browsers = sorted(max(s) for (tag, _), s in by_shot.items() if tag == "browsers")
    threshold = float(np.float32((browsers[len(browsers) // 2] + browsers[0]) / 2))
    uc.save_threshold(echo, "echo", "media", "browsers", threshold)
    limits = {"browsers": np.float32(threshold), "plugins": np.float32(0.5)}

    shots = run_sql(
        echo,
        "SELECT s.item_id, s.tag, s.score, s.mean_score, s.decision, s.threshold, s.version, "
        "s.video_id, s.start_ms, s.end_ms, i.start_ms, i.end_ms, i.modality "
        "FROM dt_media_shot s JOIN items i ON i.id = s.item_id",
    ).rows
    n_shots = run_sql(echo, "SELECT count(*) FROM items WHERE modality = 'shot'").rows[0][0]
    assert len(shots) == 2 * n_shots and len(by_shot) == len(shots)
    video_id = visual[0][3]
    for shot, tag, score, mean, decision, thr, version, video, start, end, s0, s1, kind in shots:
        scores = np.array(by_shot[(tag, shot)], np.float32)
        assert score == scores.max() and mean == pytest.approx(float(scores.mean()), rel=1e-6)
        assert decision == (np.float32(score) >= limits[tag]) and thr == limits[tag]
        assert (version, video, start, end, kind) == (1, video_id, s0, s1, "shot")
    assert {r[4] for r in shots if r[1] == "browsers"} == {True, False}

    videos = run_sql(
        echo,
        "SELECT v.item_id, v.tag, v.score, v.share_above, v.decision, v.n_shots, v.start_ms, "
        "v.end_ms, v.version, i.modality FROM dt_media_video v JOIN items i ON i.id = v.item_id "
        "ORDER BY v.tag",
    ).rows
    assert [r[1] for r in videos] == ["browsers", "plugins"]
    for item_id, tag, score, share, decision, count, start, end, version, kind in videos:
        maxima = np.array([max(s) for (t, _), s in by_shot.items() if t == tag], np.float32)
        assert (item_id, kind, count, version) == (video_id, "video", n_shots, 1)
        assert score == maxima.max() and decision == (maxima.max() >= limits[tag])
        assert share == pytest.approx(float((maxima >= limits[tag]).mean()))
        assert (start, end) == (min(r[8] for r in shots), max(r[9] for r in shots))
    assert 0.0 < videos[0][3] < 1.0  # some shots of the video show "browsers", some do not
    # The grid's wide view scores shots and videos too.
    wide = run_sql(echo, f"SELECT browsers FROM tags_media WHERE item_id = {video_id}").rows
    assert wide == [[videos[0][2]]]


def test_publishing_a_scored_video_dataset_again_keeps_its_version(echo: Workspace) -> None:
    _publish(echo)
    again = tag_scoring.publish_group(echo, "echo", "media")
    assert again.result["version"] == 1 and again.result["n_resumed"] == again.result["n_items"]


def test_transcripts_in_an_image_space_need_a_text_space(
    workspace: Workspace, make_video: Callable[..., Path], tiny_clip_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "clip.mp4", [((220, 30, 30), 30), ((20, 40, 210), 30)])
    (folder / "clip.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\na red wall\n")
    import_video(workspace, "clips", folder, keyframes="scene", thumbnails="none")
    compute_embeddings(workspace, "clips", space="clip", kind="clip", model=str(tiny_clip_dir))
    uc.create_group(workspace, "clips", "walls", "walls", space="clip")
    with pytest.raises(ValidationError, match=r"no text space for transcript prompts"):
        tag_scoring.publish_group(workspace, "clips", "walls")
    compute_embeddings(workspace, "clips", space="text", kind="text")
    job = tag_scoring.publish_group(workspace, "clips", "walls")
    assert job.result["tables"] == ["dt_walls_transcript", "dt_walls_visual"]


class _PicklingRunner(LocalRunner):
    """The local runner, but each shard is computed by a copy of the task that went through
    pickle, as another process would receive it; records the shards."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.shards: list[tag_scoring.ScoreShard] = []

    def map(self, task, shards):  # type: ignore[no-untyped-def]
        blob = pickle.dumps(task)
        for shard in shards:
            self.shards.append(shard)
            yield from pickle.loads(blob)(pickle.loads(pickle.dumps(shard)))


def test_scoring_maps_one_shard_per_part_reading_the_vectors_by_folder(
    coco_text_ws: Workspace,
) -> None:
    ws = coco_text_ws
    uc.create_group(ws, "coco", "pets", "dog\ncat")
    uc.publish_group(ws, "coco", "pets", chunk_size=20)
    tables = tag_scoring.score_tables(ws)
    ds = ws.dataset("coco")
    ids, _, scores = tables.load(ds.id, "pets", 1)
    shutil.rmtree(tables.path(ds.id, "pets", 1))  # the same version scored again, mapped
    runner = _PicklingRunner(ws.catalog)
    job = uc.publish_group(dataclasses.replace(ws, runner=runner), "coco", "pets", chunk_size=20)
    folder = str(ws.vectors(ds, "text").folder)
    assert [(s.table, s.part, len(s.ids), s.folder) for s in runner.shards] == [
        ("visual", p, n, folder) for p, n in enumerate([20, 20, 20, 19])
    ]
    assert job.result["n_scored"] == 79
    mapped_ids, _, mapped = tables.load(ds.id, "pets", 1)
    np.testing.assert_array_equal(mapped_ids, ids)
    np.testing.assert_array_equal(mapped, scores)


def test_a_worker_reads_a_spaces_vectors_once_until_they_change(coco_text_ws: Workspace) -> None:
    store = coco_text_ws.vectors(coco_text_ws.dataset("coco"), "text")
    first = tag_scoring._space_vectors(str(store.folder))
    assert tag_scoring._space_vectors(str(store.folder)) is first  # memory-mapped once
    ids, X = store.load()
    store.append(ids[:1], -np.asarray(X[:1], np.float32))  # the space embedded again
    store.compact()
    again = tag_scoring._space_vectors(str(store.folder))
    assert again is not first
    np.testing.assert_array_equal(again.X[0], -X[0])
