"""What exports need of the store: the span of a dataset's paths, and Parquet label tables."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select

from tagscope.store.catalog import Catalog
from tagscope.store.schema import ItemRow

# One row per label: the item's path and size, the label, and its geometry twice: typed columns
# for the common kinds and the whole geometry as JSON (any kind, bit-exact).
LABEL_TABLE = pa.schema(
    [
        ("item_id", pa.int64()),
        ("path", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("source", pa.string()),
        ("is_main", pa.bool_()),
        ("score", pa.float64()),
        ("bbox", pa.list_(pa.float64())),
        ("polygons", pa.list_(pa.list_(pa.float64()))),
        ("lines", pa.list_(pa.list_(pa.float64()))),
        ("area", pa.float64()),
        ("geometry", pa.string()),
        ("attributes", pa.string()),
    ]
)


def path_span(catalog: Catalog, dataset_id: int) -> tuple[str, str] | None:
    """The smallest and the largest item path of the dataset in byte order (None when it has
    no items); PostgreSQL's language collations would order ``a-b`` and ``a/`` otherwise."""
    path: Any = ItemRow.path
    if catalog.engine.dialect.name == "postgresql":
        path = path.collate("C")
    stmt = select(func.min(path), func.max(path)).where(ItemRow.dataset_id == dataset_id)
    with catalog.session() as s:
        first, last = s.execute(stmt).one()
    return None if first is None else (first, last)


class LabelTableWriter:
    """Writes rows of :data:`LABEL_TABLE` to a Parquet file, a row group per ``write``."""

    def __init__(self, path: Path) -> None:
        self.writer = pq.ParquetWriter(path, LABEL_TABLE)

    def write(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.writer.write_table(pa.Table.from_pylist(rows, schema=LABEL_TABLE))

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> LabelTableWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
