"""The video page's use case (SPEC F-24): one video with its shots, keyframes and transcript cues.

The items a video import made for a video (:mod:`tagscope.service.video_import`) carry its id as
``video_id``; the SQL engine finds them (an indexless scan of one column, where the catalog would
read every item's metadata), and the catalog gives their records.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagscope.domain import Item, Modality, NotFoundError
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.sql import sql_session
from tagscope.service.workspace import Workspace

# The items of one video asked for at most (a keyframe a second of 24 hours, and its cues).
MAX_PARTS = 200_000


@dataclass(frozen=True, slots=True)
class VideoDetail:
    """A video item and its parts, each list in time order."""

    video: Item
    dataset: str
    shots: list[Item]
    keyframes: list[Item]
    cues: list[Item]


def get_video(ws: Workspace, dataset: str, item_id: int) -> VideoDetail:
    """The video ``item_id`` of ``dataset`` with its shots, keyframes and cues.

    Raises
    ------
    NotFoundError
        No such dataset, no such item in it, or the item is not a video.
    """
    dataset_id = policy.dataset(ws, Action.READ, dataset).id
    video = ws.catalog.get_item(item_id)
    if video.dataset_id != dataset_id:
        raise NotFoundError(f"no item with id {item_id} in dataset {dataset!r}")
    if video.modality != Modality.VIDEO:
        raise NotFoundError(f"item {item_id} of {dataset!r} is a {video.modality}, not a video")
    with sql_session(ws) as session:
        ids = session.filter_items(dataset, f"video_id = {item_id}", limit=MAX_PARTS).ids
    parts = ws.catalog.get_items(ids)
    by_kind: dict[Modality, list[Item]] = {}
    for part in parts.values():
        by_kind.setdefault(part.modality, []).append(part)
    return VideoDetail(
        video,
        dataset,
        _in_order(by_kind.get(Modality.SHOT, []), "start_ms", "shot_index"),
        _in_order(by_kind.get(Modality.KEYFRAME, []), "keyframe_time_ms", "keyframe_index"),
        _in_order(by_kind.get(Modality.TRANSCRIPT, []), "start_ms", "cue_index"),
    )


def _in_order(items: list[Item], time_key: str, index_key: str) -> list[Item]:
    return sorted(
        items, key=lambda it: (it.metadata.get(time_key, 0), it.metadata.get(index_key, 0))
    )
