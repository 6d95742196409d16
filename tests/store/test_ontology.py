"""The ontology repository: classes created for label names with distinct palette colours, and
a class's change-log record put back (renaming its labels), on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import pytest

from tagscope.domain import Label, LabelKind, MediaInfo, NewItem, ValidationError
from tagscope.domain.ontology import PALETTE, palette_colors
from tagscope.store.catalog import Catalog
from tagscope.store.ontology import RECORD, OntologyCatalog
from tagscope.store.schema import DatasetRow


@pytest.fixture()
def catalog(database_url: str) -> Catalog:
    return Catalog.connect(database_url)


def _items(catalog: Catalog, name: str, labels: list[tuple[Label, ...]]) -> tuple[int, list[int]]:
    ds = catalog.create_dataset(name)
    catalog.add_items(
        ds.id,
        [
            NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"{name}{i}"), labels=lab)
            for i, lab in enumerate(labels)
        ],
    )
    return ds.id, catalog.item_ids(ds.id)


def _revision(catalog: Catalog, dataset_id: int) -> int:
    with catalog.session() as s:
        row = s.get(DatasetRow, dataset_id)
        assert row is not None
        return row.revision


def test_palette_colours_are_distinct_past_the_palette() -> None:
    colors = palette_colors({PALETTE[0]}, 60)
    assert len(set(colors)) == 60 and PALETTE[0] not in colors
    assert colors[: len(PALETTE) - 1] == list(PALETTE[1:])
    assert all(len(c) == 7 and c.startswith("#") for c in colors)


def test_class_ids_creates_the_missing_classes_once(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d")
    repo = OntologyCatalog(catalog)
    first = repo.class_ids(ds.id, ["cat", "dog", "cat", ""])
    assert sorted(first) == ["cat", "dog"]
    assert repo.class_ids(ds.id, ["dog", "owl"], create=False) == {"dog": first["dog"]}
    more = repo.class_ids(ds.id, ["dog", "owl"])
    assert more["dog"] == first["dog"] and more["owl"] not in first.values()
    colors = [c.color for c in repo.list_classes(ds.id)]
    assert len(set(colors)) == 3 and set(colors) <= set(PALETTE)


def test_labels_added_get_their_dataset_s_class(catalog: Catalog) -> None:
    cat = Label(LabelKind.CLASSIFICATION, "cat")
    box = Label(LabelKind.BOX, "cat", geometry={"bbox": [0, 0, 2, 2]})
    a, a_items = _items(catalog, "a", [(cat, box)])
    b, b_items = _items(catalog, "b", [(cat,)])
    repo = OntologyCatalog(catalog)
    a_cat = repo.class_ids(a, ["cat"], create=False)["cat"]
    b_cat = repo.class_ids(b, ["cat"], create=False)["cat"]
    assert a_cat != b_cat
    assert [lab.class_id for lab in catalog.item_labels(a_items[0])] == [a_cat, a_cat]
    assert [lab.class_id for lab in catalog.item_labels(b_items[0])] == [b_cat]
    assert [(c.name, c.n_labels) for c in repo.list_classes(a)] == [("cat", 2)]


def test_restoring_a_record_renames_the_labels_and_a_used_class_stays(catalog: Catalog) -> None:
    ds, items = _items(catalog, "d", [(Label(LabelKind.CLASSIFICATION, "cat"),)])
    repo = OntologyCatalog(catalog)
    class_id = repo.class_ids(ds, ["cat"])["cat"]
    record = repo.states(class_id)[RECORD]
    revision = _revision(catalog, ds)
    repo.restore(class_id, {RECORD: {**record, "name": "lynx", "hotkey": "l"}})
    assert [lab.name for lab in catalog.item_labels(items[0])] == ["lynx"]
    assert repo.states(class_id)[RECORD] == {**record, "name": "lynx", "hotkey": "l"}
    assert repo.describe(class_id) == "class 'lynx'"
    with pytest.raises(ValidationError, match="class 'lynx' is used by 1 label"):
        repo.restore(class_id, {RECORD: None})
    assert _revision(catalog, ds) == revision + 1  # the SQL copy fetches the dataset again


def test_a_deleted_class_comes_back_under_its_id(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d")
    repo = OntologyCatalog(catalog)
    made = repo.add_class(ds.id, "owl", color="#123456", hotkey="o")
    record = repo.states(made.id)[RECORD]
    repo.restore(made.id, {RECORD: None})
    assert (
        repo.states(made.id) == {} and repo.describe(made.id) == f"class {made.id}, deleted since"
    )
    repo.restore(made.id, {RECORD: record})
    assert repo.list_classes(ds.id) == [made]
