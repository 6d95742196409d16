"""insert_rows stores exactly what SQLAlchemy's own insert stores (JSON text and SQL NULL, times,
booleans), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, text

from tagscope.domain import MediaInfo, NewItem
from tagscope.store.bulk_insert import insert_rows
from tagscope.store.catalog import Catalog
from tagscope.store.schema import LabelRow

COLUMNS = "kind, name, source, is_main, score, geometry, attributes, created_at, area"


def _row(item_id: int, key: str) -> dict:
    return {
        "item_id": item_id,
        "key": key,
        "kind": "box",
        "name": "dog",
        "source": "ground_truth",
        "is_main": True,
        "score": None,
        "geometry": {"bbox": [1.5, 2, 3, 4]} if key.startswith("g") else None,
        "attributes": {"answers": {"colour": ["red", "blue"]}, "é": 1},
        "created_at": datetime(2026, 12, 1, 13, 5, 6, 789012, tzinfo=UTC),
        "area": 12.0,
    }


def _utc(value: datetime) -> datetime:
    """SQLite gives back the naive UTC time, PostgreSQL the instant in its session's zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_rows_are_stored_as_sqlalchemy_stores_them(database_url: str) -> None:
    catalog = Catalog.connect(database_url)
    ds = catalog.create_dataset("d")
    catalog.add_items(ds.id, [NewItem("/a.jpg", MediaInfo(1, 8, 8, "JPEG", "h"))])
    (item,) = catalog.item_ids(ds.id)
    with catalog.session() as s:
        s.execute(insert(LabelRow.__table__), [_row(item, "g-orm"), _row(item, "n-orm")])
        insert_rows(s, LabelRow.__table__, [_row(item, "g-raw"), _row(item, "n-raw")])
    with catalog.engine.connect() as conn:  # the stored text itself, not what ORM reads back
        raw = {
            key: rest
            for key, *rest in conn.execute(
                text(f"SELECT key, {COLUMNS}, geometry IS NULL FROM labels ORDER BY key")
            )
        }
    assert raw["g-raw"] == raw["g-orm"] and raw["n-raw"] == raw["n-orm"]
    assert raw["g-raw"] != raw["n-raw"]  # the rows differ where they should
    with catalog.session() as s:
        read = {
            r.key: (r.geometry, r.attributes, _utc(r.created_at), r.is_main)
            for r in s.scalars(select(LabelRow))
        }
    assert read["g-raw"] == read["g-orm"]
    assert read["g-raw"][0] == {"bbox": [1.5, 2, 3, 4]}
    assert read["g-raw"][2] == datetime(2026, 12, 1, 13, 5, 6, 789012, tzinfo=UTC)
