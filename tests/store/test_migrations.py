"""Migration 0009 computes the stored area of the labels already there, on SQLite and (in CI)
PostgreSQL."""

from __future__ import annotations

import json

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from tagscope.store import database
from tagscope.store.database import make_engine

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
    cfg = Config()
    cfg.set_main_option("script_location", str(database._MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0008")
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
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT key, area FROM labels ORDER BY id")).all()
    engine.dispose()
    areas: dict[str, set[float | None]] = {}
    for key, area in stored:
        areas.setdefault(key.split("-", 1)[1], set()).add(area)
    assert len(stored) == n_copies * len(LABELS)
    assert areas == {kind: {area} for kind, _, area in LABELS}
