"""Tag groups and tags (F-20 to F-29).

Groups are read at ``/api/tag-groups``; everything that edits or scores a group happens in the
context of a dataset, as the use cases do: ``/api/datasets/{dataset}/tag-groups/{group}/...``
(a group is edited only from its training dataset; other datasets that apply it get ``403``).
Group and tag names go into the path URL-encoded (``street%20scenes``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64, Job
from tagscope.domain import tags as dt
from tagscope.service import background, browse, tag_scoring
from tagscope.service import tags as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api", tags=["tags"])

GROUP = "/datasets/{dataset}/tag-groups/{group}"
TAG = GROUP + "/tags/{tag}"

Polarity = Literal["positive", "negative"]
Modality = Literal["visual", "transcript"]


# -- bodies -------------------------------------------------------------------------------
class Prompt(BaseModel):
    id: int | None
    text: str
    polarity: str
    modality: str

    @classmethod
    def from_domain(cls, p: dt.TextPrompt) -> Prompt:
        return cls(id=p.id, text=p.text, polarity=str(p.polarity), modality=str(p.modality))


class Example(BaseModel):
    item_id: int
    polarity: str


class Tag(BaseModel):
    id: int | None
    name: str
    threshold: float
    revision: int
    is_autotag: bool
    prompts: list[Prompt]
    examples: list[Example]

    @classmethod
    def from_domain(cls, tag: dt.Tag) -> Tag:
        return cls(
            id=tag.id,
            name=tag.name,
            threshold=tag.threshold,
            revision=tag.revision,
            is_autotag=tag.is_autotag,
            prompts=[Prompt.from_domain(p) for p in tag.prompts],
            examples=[Example(item_id=e.item_id, polarity=str(e.polarity)) for e in tag.examples],
        )


class Scoring(BaseModel):
    """How one dataset uses a group: its scoring status and versions."""

    dataset: str
    is_training: bool
    status: str = Field(description="unscored | queued | scoring | scored | error")
    version: int | None = Field(description="version whose scores are current")
    latest_version: int
    target_version: int | None = Field(description="version being scored")
    update_available: bool
    n_done: int
    n_total: int
    error: str | None
    job_id: int | None

    @classmethod
    def from_domain(cls, u: dt.GroupUse) -> Scoring:
        return cls(
            dataset=u.dataset,
            is_training=u.is_training,
            status=str(u.status),
            version=u.version,
            latest_version=u.latest_version,
            target_version=u.target_version,
            update_available=u.update_available,
            n_done=u.n_done,
            n_total=u.n_total,
            error=u.error,
            job_id=u.job_id,
        )


class TagGroup(BaseModel):
    id: int
    name: str
    slug: str
    table: str = Field(description="SQL table of its visual scores: dt_<slug>_visual")
    dataset: str = Field(description="training dataset (the only one that edits it)")
    dataset_id: int
    space: str
    visibility: str
    state: str = Field(description="draft | published | pending")
    version: int = Field(description="latest committed version (0: never)")
    tags: list[Tag]
    scoring: Scoring | None = Field(
        None, description="the dataset's scoring status (in dataset listings)"
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="scored tag -> its column in SQL filters, tags_<group>.<column> "
        "(in dataset listings)",
    )

    @classmethod
    def from_domain(
        cls, g: dt.TagGroup, use: dt.GroupUse | None = None, columns: dict[str, str] | None = None
    ) -> TagGroup:
        return cls(
            id=g.id,
            name=g.name,
            slug=g.slug,
            table=g.table(),
            dataset=g.dataset,
            dataset_id=g.dataset_id,
            space=g.space,
            visibility=str(g.visibility),
            state=str(g.state),
            version=g.version,
            tags=[Tag.from_domain(t) for t in g.tags],
            scoring=Scoring.from_domain(use) if use is not None else None,
            columns=columns or {},
        )


class NewGroup(BaseModel):
    name: str = Field(description="ASCII letters, digits, spaces, '_' or '-'")
    tags: str = Field(description="tag names, one per line (letters, digits, spaces)")
    visibility: Literal["secret", "shareable"] = "secret"
    space: str | None = Field(None, description="embedding space; default: the dataset's only one")


class GroupChange(BaseModel):
    visibility: Literal["secret", "shareable"]


class NewTags(BaseModel):
    names: str = Field(description="tag names, one per line")


class TagChange(BaseModel):
    name: str


class NewPrompt(BaseModel):
    text: str
    polarity: Polarity = "positive"
    modality: Modality = "visual"


class PromptChange(BaseModel):
    text: str | None = None
    polarity: Polarity | None = None
    modality: Modality | None = None


class Marks(BaseModel):
    item_ids: list[Int64] = Field(min_length=1)
    polarity: Polarity = "positive"


class Unmarks(BaseModel):
    item_ids: list[Int64] = Field(min_length=1)


class Count(BaseModel):
    n: int = Field(description="how many records changed")


class Threshold(BaseModel):
    threshold: float = Field(ge=0.0, le=1.0)


class PublishRequest(BaseModel):
    visibility: Literal["secret", "shareable"] | None = None


class GroupVersion(BaseModel):
    version: int
    space: str
    tags: list[str]
    created_at: datetime | None


@router.get("/tag-groups", openapi_extra=needs(Action.READ))
def list_all_groups(ws: WorkspaceDep) -> list[TagGroup]:
    return [TagGroup.from_domain(g) for g in uc.list_groups(ws)]


@router.get("/tag-groups/{group}", openapi_extra=needs(Action.READ))
def get_group(group: str, ws: WorkspaceDep) -> TagGroup:
    return TagGroup.from_domain(uc.get_group(ws, group))


@router.get("/tag-groups/{group}/uses", openapi_extra=needs(Action.READ))
def list_uses(group: str, ws: WorkspaceDep) -> list[Scoring]:
    """The datasets using the group (training first), with status and "update available"."""
    return [Scoring.from_domain(u) for u in tag_scoring.list_uses(ws, group)]


@router.get("/tag-groups/{group}/versions", openapi_extra=needs(Action.READ))
def list_versions(group: str, ws: WorkspaceDep) -> list[GroupVersion]:
    return [
        GroupVersion(
            version=v.version,
            space=v.space,
            tags=[t.name for t in v.tags],
            created_at=v.created_at,
        )
        for v in tag_scoring.list_versions(ws, group)
    ]


@router.get("/datasets/{dataset}/tag-groups", openapi_extra=needs(Action.READ))
def list_groups(dataset: str, ws: WorkspaceDep) -> list[TagGroup]:
    """Groups the dataset uses (trained on it or applied to it), with its scoring status."""
    return [TagGroup.from_domain(*group) for group in browse.dataset_tag_groups(ws, dataset)]


@router.post(
    "/datasets/{dataset}/tag-groups",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Action.TAGS_EDIT),
)
def create_group(dataset: str, body: NewGroup, ws: WorkspaceDep) -> TagGroup:
    group = uc.create_group(
        ws, dataset, body.name, body.tags, visibility=body.visibility, space=body.space
    )
    return TagGroup.from_domain(group)


@router.patch(GROUP, openapi_extra=needs(Action.TAGS_EDIT))
def change_group(dataset: str, group: str, body: GroupChange, ws: WorkspaceDep) -> TagGroup:
    return TagGroup.from_domain(uc.set_visibility(ws, dataset, group, body.visibility))


@router.post(
    GROUP + "/publish", status_code=status.HTTP_202_ACCEPTED, openapi_extra=needs(Action.TAGS_EDIT)
)
def publish_group(
    dataset: str, group: str, ws: WorkspaceDep, body: PublishRequest | None = None
) -> Job:
    """Commit the group (fits its tags) and start scoring the training dataset."""
    visibility = body.visibility if body else None
    return Job.from_domain(background.start_publish(ws, dataset, group, visibility=visibility))


@router.post(
    GROUP + "/apply", status_code=status.HTTP_202_ACCEPTED, openapi_extra=needs(Action.TAGS_APPLY)
)
def apply_group(dataset: str, group: str, ws: WorkspaceDep) -> Job:
    """Apply a shareable, published group to ``dataset``: start scoring it."""
    return Job.from_domain(background.start_apply(ws, dataset, group))


# -- tags ---------------------------------------------------------------------------------
@router.post(
    GROUP + "/tags", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Action.TAGS_EDIT)
)
def add_tags(dataset: str, group: str, body: NewTags, ws: WorkspaceDep) -> TagGroup:
    return TagGroup.from_domain(uc.add_tags(ws, dataset, group, body.names))


@router.patch(TAG, openapi_extra=needs(Action.TAGS_EDIT))
def rename_tag(dataset: str, group: str, tag: str, body: TagChange, ws: WorkspaceDep) -> Tag:
    return Tag.from_domain(uc.rename_tag(ws, dataset, group, tag, body.name))


@router.delete(TAG, status_code=status.HTTP_204_NO_CONTENT, openapi_extra=needs(Action.TAGS_EDIT))
def remove_tag(dataset: str, group: str, tag: str, ws: WorkspaceDep) -> Response:
    uc.remove_tag(ws, dataset, group, tag)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- text prompts -------------------------------------------------------------------------
@router.post(
    TAG + "/prompts", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Action.TAGS_EDIT)
)
def add_prompt(dataset: str, group: str, tag: str, body: NewPrompt, ws: WorkspaceDep) -> Prompt:
    prompt = uc.add_prompt(
        ws, dataset, group, tag, body.text, polarity=body.polarity, modality=body.modality
    )
    return Prompt.from_domain(prompt)


@router.patch(TAG + "/prompts/{prompt_id}", openapi_extra=needs(Action.TAGS_EDIT))
def edit_prompt(
    dataset: str, group: str, tag: str, prompt_id: Int64, body: PromptChange, ws: WorkspaceDep
) -> Prompt:
    prompt = uc.edit_prompt(
        ws,
        dataset,
        group,
        tag,
        prompt_id,
        text=body.text,
        polarity=body.polarity,
        modality=body.modality,
    )
    return Prompt.from_domain(prompt)


@router.delete(
    TAG + "/prompts/{prompt_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Action.TAGS_EDIT),
)
def remove_prompt(
    dataset: str, group: str, tag: str, prompt_id: Int64, ws: WorkspaceDep
) -> Response:
    uc.remove_prompt(ws, dataset, group, tag, prompt_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- visual prompts (examples) ------------------------------------------------------------
@router.post(TAG + "/examples", openapi_extra=needs(Action.TAGS_EDIT))
def mark_items(dataset: str, group: str, tag: str, body: Marks, ws: WorkspaceDep) -> Count:
    """Mark items positive or negative, in bulk (marking again with the other polarity flips)."""
    return Count(n=uc.mark_items(ws, dataset, group, tag, body.item_ids, polarity=body.polarity))


@router.post(TAG + "/examples/remove", openapi_extra=needs(Action.TAGS_EDIT))
def unmark_items(dataset: str, group: str, tag: str, body: Unmarks, ws: WorkspaceDep) -> Count:
    return Count(n=uc.unmark_items(ws, dataset, group, tag, body.item_ids))


# -- threshold ----------------------------------------------------------------------------
@router.put(TAG + "/threshold", openapi_extra=needs(Action.TAGS_EDIT))
def save_threshold(dataset: str, group: str, tag: str, body: Threshold, ws: WorkspaceDep) -> Tag:
    return Tag.from_domain(uc.save_threshold(ws, dataset, group, tag, body.threshold))
