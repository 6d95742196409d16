"""Tag groups in the catalog (migration 0002) on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from tagscope.domain import (
    AlreadyExistsError,
    Label,
    LabelKind,
    LabelSource,
    MediaInfo,
    Modality,
    NewItem,
    NotFoundError,
    ValidationError,
)
from tagscope.domain.tags import (
    Example,
    Polarity,
    PromptModality,
    ScoringStatus,
    Tag,
    TagState,
    TextPrompt,
    Visibility,
)
from tagscope.store import Catalog
from tagscope.store.database import make_engine
from tagscope.store.tag_catalog import TagCatalog, tag_from_dict, tag_to_dict


@pytest.fixture()
def catalog(database_url: str) -> Catalog:
    return Catalog.connect(database_url)


@pytest.fixture()
def tags(catalog: Catalog) -> TagCatalog:
    return TagCatalog(catalog)


def _dataset(catalog: Catalog, name: str, n: int = 4) -> tuple[int, list[int]]:
    ds = catalog.create_dataset(name)
    items = [
        NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"{name}{i}")) for i in range(n)
    ]
    catalog.add_items(ds.id, items)
    return ds.id, [it.id for it in catalog.iter_items(ds.id)]


def _new_group(tags: TagCatalog, dataset_id: int, name: str = "Animals"):  # type: ignore[no-untyped-def]
    return tags.create_group(
        dataset_id,
        name,
        space="text",
        visibility=Visibility.SHAREABLE,
        tags=[Tag("dog", prompts=(TextPrompt("dog"),)), Tag("cat", prompts=(TextPrompt("cat"),))],
    )


def test_migration_adds_the_tag_tables(catalog: Catalog) -> None:
    names = set(inspect(catalog.engine).get_table_names())
    assert {"tag_groups", "tags", "tag_prompts", "tag_examples", "tag_reviews"} <= names
    assert {"tag_group_versions", "tag_group_uses"} <= names


def test_migration_downgrades_and_upgrades_again(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from tagscope.store import database

    engine = make_engine(database_url)
    database.upgrade(engine)
    cfg = Config()
    cfg.set_main_option("script_location", str(database._MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert "tag_groups" not in inspect(engine).get_table_names()
    database.upgrade(engine)
    assert "tag_groups" in inspect(engine).get_table_names()
    engine.dispose()


def test_create_and_read_a_group(catalog: Catalog, tags: TagCatalog) -> None:
    ds, _ = _dataset(catalog, "coco")
    group = _new_group(tags, ds)
    assert (group.name, group.dataset, group.state, group.version) == (
        "Animals",
        "coco",
        TagState.DRAFT,
        0,
    )
    assert [t.name for t in group.tags] == ["dog", "cat"]
    assert group.tags[0].prompts[0].text == "dog" and group.tags[0].prompts[0].id is not None
    assert tags.get_group("animals").id == group.id  # names match case-insensitively
    assert [g.name for g in tags.list_groups(ds)] == ["Animals"]
    (use,) = tags.list_uses(group_id=group.id)
    assert use.is_training and use.status is ScoringStatus.UNSCORED and use.dataset == "coco"


def test_group_names_are_unique_per_workspace(catalog: Catalog, tags: TagCatalog) -> None:
    ds, _ = _dataset(catalog, "coco")
    other, _ = _dataset(catalog, "other")
    _new_group(tags, ds, "Animals")
    with pytest.raises(AlreadyExistsError, match=r"dt_animals_\*"):
        _new_group(tags, other, "animals")
    with pytest.raises(NotFoundError, match="no tag group named 'plants'"):
        tags.get_group("plants")


def test_edits_grow_revisions_and_make_published_groups_pending(
    catalog: Catalog, tags: TagCatalog
) -> None:
    ds, items = _dataset(catalog, "coco")
    group = _new_group(tags, ds)
    dog = group.tags[0]
    neg = tags.add_prompt(dog.id, TextPrompt("a wolf", Polarity.NEGATIVE))
    tags.update_prompt(dog.id, TextPrompt("a grey wolf", Polarity.NEGATIVE, id=neg.id))
    assert tags.mark_examples(dog.id, items[:2], Polarity.POSITIVE) == 2
    assert tags.mark_examples(dog.id, items[:2], Polarity.POSITIVE) == 0  # nothing changed
    assert tags.mark_examples(dog.id, items[1:3], Polarity.NEGATIVE) == 2
    group = tags.get_group("Animals")
    dog = group.tag("dog")
    assert dog.revision == 4 and group.state is TagState.DRAFT
    assert dog.texts(Polarity.NEGATIVE) == ["a grey wolf"]
    assert set(dog.examples) == {
        Example(items[0]),
        Example(items[1], Polarity.NEGATIVE),
        Example(items[2], Polarity.NEGATIVE),
    }

    version = tags.commit_version(group.id, {"dog": {"w": [1.0]}})
    assert version.version == 1 and tags.get_group("Animals").state is TagState.PUBLISHED
    # A threshold is a setting of the published version: neither pending nor a new revision.
    tags.set_threshold(dog.id, 0.7)
    after = tags.get_group("Animals")
    assert after.state is TagState.PUBLISHED and after.tag("dog").revision == 4
    assert after.tag("dog").threshold == 0.7
    tags.add_prompt(dog.id, TextPrompt("a puppy"))
    assert tags.get_group("Animals").state is TagState.PENDING
    assert tags.commit_version(group.id).version == 2

    # Versions are kept with their frozen definitions and models.
    v1, models = tags.get_version(group.id, 1)
    assert v1.tags[0].threshold == 0.5 and models == {"dog": {"w": [1.0]}}
    assert tags.get_version(group.id, 2)[0].tags[0].threshold == 0.7
    assert [v.version for v in tags.list_versions(group.id)] == [1, 2]
    with pytest.raises(NotFoundError, match="no version 3"):
        tags.get_version(group.id, 3)


def test_examples_must_come_from_the_training_dataset(catalog: Catalog, tags: TagCatalog) -> None:
    ds, _ = _dataset(catalog, "coco")
    _, foreign = _dataset(catalog, "other")
    dog = _new_group(tags, ds).tags[0]
    with pytest.raises(ValidationError, match=r"2 item.* not in the training dataset"):
        tags.mark_examples(dog.id, foreign[:2], Polarity.POSITIVE)


def test_remove_prompt_tag_and_unknown_ids(catalog: Catalog, tags: TagCatalog) -> None:
    ds, items = _dataset(catalog, "coco")
    group = _new_group(tags, ds)
    dog, cat = group.tags
    tags.remove_prompt(dog.id, dog.prompts[0].id)
    with pytest.raises(NotFoundError, match="no prompt"):
        tags.remove_prompt(dog.id, cat.prompts[0].id)  # another tag's prompt
    tags.mark_examples(dog.id, items[:3], Polarity.POSITIVE)
    assert tags.unmark_examples(dog.id, items[:1]) == 1
    tags.remove_tag(cat.id)
    tags.add_tag(group.id, Tag("horse"))
    with pytest.raises(AlreadyExistsError):
        tags.add_tag(group.id, Tag("dog"))
    tags.rename_tag(dog.id, "puppy")
    group = tags.get_group("Animals")
    assert [t.name for t in group.tags] == ["puppy", "horse"]
    assert group.tags[0].prompts == () and len(group.tags[0].examples) == 2
    with pytest.raises(NotFoundError):
        tags.set_threshold(10_000, 0.5)


def test_reviews_replace_earlier_ones(catalog: Catalog, tags: TagCatalog) -> None:
    ds, items = _dataset(catalog, "coco")
    dog = _new_group(tags, ds).tags[0]
    tags.add_reviews(dog.id, [(items[0], True), (items[1], False)])
    tags.add_reviews(dog.id, [(items[1], True)])
    assert tags.reviews(dog.id) == {items[0]: True, items[1]: True}


def test_uses_track_scoring_and_update_available(catalog: Catalog, tags: TagCatalog) -> None:
    ds, _ = _dataset(catalog, "coco")
    other, _ = _dataset(catalog, "other")
    group = _new_group(tags, ds)
    tags.commit_version(group.id)
    tags.add_use(group.id, other)
    tags.add_use(group.id, other)  # applying twice changes nothing
    tags.update_use(group.id, other, status=ScoringStatus.SCORED, version=1, n_done=4, n_total=4)
    tags.commit_version(group.id)
    uses = {u.dataset: u for u in tags.list_uses(group_id=group.id)}
    assert set(uses) == {"coco", "other"} and uses["coco"].is_training
    assert uses["other"].status is ScoringStatus.SCORED and uses["other"].update_available
    assert [g.name for g in tags.list_groups(other)] == ["Animals"]
    with pytest.raises(NotFoundError, match="does not use"):
        tags.get_use(group.id, 10_000)
    # Deleting a dataset removes its uses; deleting the training dataset removes the group.
    catalog.delete_dataset(other)
    assert [u.dataset for u in tags.list_uses(group_id=group.id)] == ["coco"]
    catalog.delete_dataset(ds)
    assert tags.list_groups() == []


def test_tag_dict_round_trip() -> None:
    tag = Tag(
        "dog",
        prompts=(TextPrompt("bark", Polarity.NEGATIVE, PromptModality.TRANSCRIPT),),
        examples=(Example(3, Polarity.NEGATIVE),),
        threshold=0.3,
        revision=2,
    )
    assert tag_from_dict(tag_to_dict(tag)) == tag


def test_items_by_modality_and_label_truth(catalog: Catalog, tags: TagCatalog) -> None:
    ds = catalog.create_dataset("video")
    media = MediaInfo(1, 1, 1, "JPEG", "h")
    catalog.add_items(
        ds.id,
        [
            NewItem("/v/0.jpg", media, labels=(Label(LabelKind.CLASSIFICATION, "Dog"),)),
            NewItem("/v/1.jpg", media, labels=(Label(LabelKind.BOX, "cat"),)),
            NewItem("/v/2.txt", media, modality=Modality.TRANSCRIPT),
            NewItem(
                "/v/3.jpg",
                media,
                modality=Modality.KEYFRAME,
                labels=(Label(LabelKind.CLASSIFICATION, "dog", LabelSource.PREDICTION),),
            ),
        ],
    )
    ids = [it.id for it in catalog.iter_items(ds.id)]
    assert tags.modality_counts(ds.id) == {"image": 2, "transcript": 1, "keyframe": 1}
    assert tags.item_ids(ds.id, ["image", "keyframe"]).tolist() == [ids[0], ids[1], ids[3]]
    # Ground-truth labels only (not predictions), names matched case-insensitively.
    assert tags.label_truth(ds.id, ["dog"]) == ({ids[0]}, {ids[0], ids[1]})
