"""Migrations of rows already there: 0009 computes the stored area of the labels and gives them
their ontology classes (SQLite and, in CI, PostgreSQL); 0013 rebuilds SQLite's tag tables."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from tagscope.domain import MediaInfo, NewItem
from tagscope.domain.tags import Polarity, Tag, TextPrompt, Visibility
from tagscope.store import Catalog
from tagscope.store.database import make_engine, upgrade
from tagscope.store.tag_catalog import TagCatalog

RLE = {"size": [3, 4], "counts": [2, 5, 5]}
LABELS = [  # kind, geometry, the area 0009 must store
    ("box", {"bbox": [1, 2, 3, 4.5]}, 13.5),
    ("polygon", {"polygons": [[0, 0, 10, 0, 10, 10, 0, 10], [3, 3, 3, 7, 7, 7, 7, 3]]}, 84.0),
    ("mask", {"rle": RLE}, 5.0),
    ("polyline", {"lines": [[0, 0, 5, 5]]}, None),
    ("classification", None, None),
]


def test_0009_backfills_the_areas_of_existing_labels(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0008")
    # More labels than a batch of the backfill, so that it goes round more than once.
    n_copies = 250
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO datasets (name, description, revision, created_at) "
                "VALUES ('d', '', 0, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO items (dataset_id, path, modality, metadata, created_at) "
                "SELECT id, '/d/0.jpg', 'image', '{}', CURRENT_TIMESTAMP FROM datasets"
            )
        )
        item_id = conn.execute(text("SELECT id FROM items")).scalar_one()
        rows = [
            {
                "item": item_id,
                "key": f"{copy}-{kind}",
                "kind": kind,
                "geometry": json.dumps(geometry) if geometry is not None else None,
            }
            for copy in range(n_copies)
            for kind, geometry, _ in LABELS
        ]
        conn.execute(
            text(
                "INSERT INTO labels (item_id, key, kind, name, source, is_main, geometry, "
                "attributes) VALUES (:item, :key, :kind, 'x', 'ground_truth', false, :geometry, "
                "'{}')"
            ),
            rows,
        )
    upgrade(engine, "0009")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT key, area FROM labels ORDER BY id")).all()
    engine.dispose()
    areas: dict[str, set[float | None]] = {}
    for key, area in stored:
        areas.setdefault(key.split("-", 1)[1], set()).add(area)
    assert len(stored) == n_copies * len(LABELS)
    assert areas == {kind: {area} for kind, _, area in LABELS}


def test_migration_0009_gives_the_labels_already_there_their_classes(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0008")
    with engine.begin() as conn:
        for name in ("a", "b"):
            conn.execute(
                text(
                    "INSERT INTO datasets (name, description, revision, created_at) "
                    "VALUES (:n, '', 0, CURRENT_TIMESTAMP)"
                ),
                {"n": name},
            )
        conn.execute(
            text(
                "INSERT INTO items (dataset_id, path, modality, metadata, created_at) "
                "SELECT id, '/x.jpg', 'image', '{}', CURRENT_TIMESTAMP FROM datasets"
            )
        )
        items = conn.execute(text("SELECT id FROM items ORDER BY dataset_id")).scalars().all()
        labels = [(items[0], "cat"), (items[0], "dog"), (items[1], "cat"), (items[1], "")]
        conn.execute(
            text(
                "INSERT INTO labels (item_id, key, kind, name, source, is_main, attributes) "
                "VALUES (:item, :key, 'classification', :name, 'ground_truth', false, '{}')"
            ),
            [{"item": i, "key": f"k{n}", "name": name} for n, (i, name) in enumerate(labels)],
        )
    upgrade(engine, "0009")
    with engine.connect() as conn:
        classes = conn.execute(
            text("SELECT id, dataset_id, name, color FROM ontology_classes ORDER BY id")
        ).all()
        stored = conn.execute(text("SELECT name, class_id FROM labels ORDER BY id")).all()
    engine.dispose()
    assert [(ds, name) for _, ds, name, _ in classes] == [(1, "cat"), (1, "dog"), (2, "cat")]
    assert classes[0][3] != classes[1][3]  # distinct colours within a dataset
    ids = [c[0] for c in classes]
    assert stored == [("cat", ids[0]), ("dog", ids[1]), ("cat", ids[2]), ("", None)]


def test_0013_rebuilds_the_tags_of_sqlite_keeping_every_row_and_never_reusing_an_id(
    tmp_path: Path,
) -> None:
    """The rebuild (with foreign keys off) keeps the tags' prompts, examples and reviews; after
    it, a tag added once the newest one was removed gets a new id, and removing a tag still
    takes its rows along."""
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    upgrade(engine, "0012")
    catalog = Catalog(engine)
    ds = catalog.create_dataset("d")
    catalog.add_items(
        ds.id, [NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}")) for i in range(3)]
    )
    ids = catalog.item_ids(ds.id)
    tags = TagCatalog(catalog)
    prompt = TextPrompt("a dog")
    group = tags.create_group(
        ds.id,
        "g",
        space="clip",
        visibility=Visibility.SECRET,
        tags=[Tag("dog", prompts=(prompt,)), Tag("cat", prompts=(prompt,))],
    )
    dog, cat = (group.tag(n).id or 0 for n in ("dog", "cat"))
    tags.mark_examples(dog, ids[:2], Polarity.POSITIVE)
    tags.add_reviews(cat, [(ids[2], True)])
    tables = ("tags", "tag_prompts", "tag_examples", "tag_reviews")

    def counts() -> dict[str, int]:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}

    before = counts()
    upgrade(engine)
    assert counts() == before == {"tags": 2, "tag_prompts": 2, "tag_examples": 2, "tag_reviews": 1}
    with engine.connect() as conn:
        sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'tags'")).scalar_one()
        assert "AUTOINCREMENT" in sql and conn.execute(text("PRAGMA foreign_keys")).scalar_one()
    tags.remove_tag(cat)  # the newest: SQLite used to give its id to the next tag
    assert counts()["tag_reviews"] == 0  # its review went with it
    tags.add_tag(group.id, Tag("bird"))
    assert tags.get_group_by_id(group.id).tag("bird").id == cat + 1
    engine.dispose()
