"""Migration 0009 computes the stored area of the labels already there and gives them their
ontology classes, on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import text

from tagscope.store.database import make_engine, upgrade

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
