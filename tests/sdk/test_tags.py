"""Tag groups and SQL through the SDK, on coco-mini (text space)."""

from __future__ import annotations

import pytest

from tagscope.domain import SqlRefusedError
from tagscope.domain.tags import ReadOnlyGroupError, TagState
from tagscope.sdk.workspace import Workspace as SdkWorkspace
from tagscope.service import Workspace


@pytest.mark.slow
def test_tag_groups_and_sql_in_a_few_lines(coco_text_ws: Workspace) -> None:
    ws = SdkWorkspace(coco_text_ws)
    coco = ws.dataset("coco")
    pets = coco.create_tag_group("pets", ["dog", "cat"], visibility="shareable")
    pets.add_prompt("dog", "a cat", negative=True)
    assert pets.preview("dog", n=3).live
    job = pets.publish(progress=False)
    assert job.result["n_scored"] == 79
    assert pets.definition().state is TagState.PUBLISHED

    train = ws.dataset("coco-train")
    applied = train.tag_group("pets")
    assert applied.apply(progress=False).result["n_scored"] == 80
    with pytest.raises(ReadOnlyGroupError):
        applied.add_prompt("dog", "a puppy")
    assert [g.name for g in train.tag_groups()] == ["pets"]

    result = ws.sql(
        "SELECT i.dataset, count(*) AS n FROM dt_pets_visual d JOIN items i ON i.id = d.item_id "
        "WHERE d.tag = 'dog' GROUP BY 1 ORDER BY 1"
    )
    assert result.records() == [{"dataset": "coco", "n": 79}, {"dataset": "coco-train", "n": 80}]
    with pytest.raises(SqlRefusedError):
        ws.sql("UPDATE items SET path = ''")


def test_ground_truth_from_a_judge_in_a_few_lines(coco_text_ws: Workspace, fake_llm) -> None:
    fake_llm.yes_words = {"cat"}
    coco = SdkWorkspace(coco_text_ws).dataset("coco")
    pets = coco.create_tag_group("pets", ["cat"])
    pets.publish(progress=False)
    assert pets.judge("cat", n=10, progress=False).result["n_judged"] == 10
    proposals = pets.reviews("cat", source="llm")
    assert len(proposals) == 10
    assert pets.remove_reviews("cat", [proposals[0].item_id]) == 1
    assert len(pets.reviews("cat")) == 9
