"""What exports read of the store, and the Parquet label table."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from tagscope.domain import MediaInfo, NewItem
from tagscope.store import Catalog
from tagscope.store.exports import LABEL_TABLE, LabelTableWriter, path_span


def test_path_span_is_in_byte_order_on_every_database(database_url: str) -> None:
    catalog = Catalog.connect(database_url)
    ds = catalog.create_dataset("d")
    assert path_span(catalog, ds.id) is None
    media = MediaInfo(1, 1, 1, "PNG", "h")
    # A language collation puts "a-b/..." after "a/..." (it compares letters first).
    paths = ["/r/a/x.png", "/r/a-b/y.png", "/r/aa/z.png"]
    catalog.add_items(ds.id, [NewItem(p, media) for p in paths])
    assert path_span(catalog, ds.id) == ("/r/a-b/y.png", "/r/aa/z.png")


def test_label_table_writes_a_row_group_per_write(tmp_path: Path) -> None:
    row = {name: None for name in LABEL_TABLE.names} | {"kind": "box", "bbox": [1.0, 2.0, 3.0, 4.0]}
    with LabelTableWriter(tmp_path / "t.parquet") as table:
        table.write([row, row])
        table.write([])
        table.write([row])
    read = pq.ParquetFile(tmp_path / "t.parquet")
    assert read.metadata.num_row_groups == 2 and read.schema_arrow == LABEL_TABLE
    assert read.read().to_pylist() == [row] * 3
