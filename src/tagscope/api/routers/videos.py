"""``/api/datasets/{name}/videos/{item_id}``: a video with its shots, keyframes and transcript cues
in one answer (the web app's video page); times in milliseconds."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Item, thumbnail_url
from tagscope.domain import Item as DomainItem
from tagscope.service import videos as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/videos", tags=["videos"])


class Shot(BaseModel):
    id: int
    index: int
    start_ms: int
    end_ms: int
    keyframe_indexes: list[int]


class Keyframe(BaseModel):
    id: int
    index: int
    time_ms: int
    shot_id: int | None
    thumbnail_url: str


class Cue(BaseModel):
    id: int
    index: int
    start_ms: int
    end_ms: int
    text: str
    shot_id: int | None = Field(description="the shot it overlaps most")


class Video(BaseModel):
    video: Item = Field(description="the video item: duration_ms, fps, codec in its metadata")
    dataset: str
    duration_ms: int
    shots: list[Shot]
    keyframes: list[Keyframe]
    cues: list[Cue]


@router.get("/{item_id}", response_model=Video, openapi_extra=needs(Action.READ))
def get_video(name: str, item_id: int, ws: WorkspaceDep) -> Video:
    d = uc.get_video(ws, name, item_id)
    return Video(
        video=Item.from_domain(d.video),
        dataset=d.dataset,
        duration_ms=int(d.video.metadata.get("duration_ms") or 0),
        shots=[_shot(s) for s in d.shots],
        keyframes=[_keyframe(k) for k in d.keyframes],
        cues=[_cue(c) for c in d.cues],
    )


def _shot(s: DomainItem) -> Shot:
    m = s.metadata
    return Shot(
        id=s.id,
        index=m["shot_index"],
        start_ms=m["start_ms"],
        end_ms=m["end_ms"],
        keyframe_indexes=m.get("keyframe_indexes", []),
    )


def _keyframe(k: DomainItem) -> Keyframe:
    m = k.metadata
    return Keyframe(
        id=k.id,
        index=m["keyframe_index"],
        time_ms=m["keyframe_time_ms"],
        shot_id=m.get("shot_id"),
        thumbnail_url=thumbnail_url(k),
    )


def _cue(c: DomainItem) -> Cue:
    m = c.metadata
    return Cue(
        id=c.id,
        index=m["cue_index"],
        start_ms=m["start_ms"],
        end_ms=m["end_ms"],
        text=c.text or "",
        shot_id=m.get("shot_id"),
    )
