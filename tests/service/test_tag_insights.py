"""Previews and histograms of shots and videos: their keyframes' scores aggregated, as the SQL
tables ``dt_<group>_shot`` and ``_video`` compute them."""

from __future__ import annotations

import pytest

from tagscope.service import Workspace, tag_insights, tag_scoring
from tagscope.service import tags as uc
from tagscope.service.sql import run_sql


def _scores(preview: tag_insights.TagPreview) -> dict[int, float]:
    return {s.item_id: s.score for s in [*preview.positives, *preview.negatives]}


def test_shot_and_video_previews_score_by_their_keyframes(echo: Workspace) -> None:
    uc.create_group(echo, "echo", "media", "browsers", space="clip")
    n_shots = run_sql(echo, "SELECT count(*) FROM items WHERE modality = 'shot'").rows[0][0]
    live = tag_insights.preview_tag(echo, "echo", "media", "browsers", modality="shot", n=100)
    assert live.live and live.n_positive + live.n_negative == n_shots

    tag_scoring.publish_group(echo, "echo", "media")
    for table in ("shot", "video"):
        preview = tag_insights.preview_tag(
            echo, "echo", "media", "browsers", modality=table, n=100, stratified=False
        )
        expected = dict(
            run_sql(
                echo, f"SELECT item_id, score FROM dt_media_{table} WHERE tag = 'browsers'"
            ).rows
        )
        assert not preview.live and _scores(preview) == pytest.approx(expected)
        histogram = tag_insights.tag_histogram(echo, "echo", "media", "browsers", modality=table)
        assert histogram.n_items == len(expected) == (n_shots if table == "shot" else 1)
