"""Map files: parts written once each, read back in item order, a map counted once its model is
saved, and the SQL view over them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tagscope.domain import MediaInfo, NewItem, NotFoundError, ValidationError
from tagscope.store import Catalog
from tagscope.store.maps import MapStore
from tagscope.store.scores import ScoreTables
from tagscope.store.sql import SqlEngine


def test_parts_accumulate_and_load_in_item_order(tmp_path: Path) -> None:
    maps = MapStore(tmp_path / "scores")
    maps.start(1, "clip", {"params": {"seed": 0}, "created_at": "now"})
    assert maps.find(1, "clip") is None  # no model yet: a fit under way
    assert maps.manifest(1, "clip") == {"params": {"seed": 0}, "created_at": "now"}
    maps.save_model(1, "clip", {"reducer": "fitted", "ids": [5, 3]})
    maps.write_part(1, "clip", [5, 3], [[0.5, 1.0], [2.0, -1.0]])
    first = maps.folder(1, "clip") / "part-00000.parquet"
    written = first.read_bytes()
    maps.write_part(1, "clip", [9], [[7.0, 8.0]])
    assert first.read_bytes() == written  # a part is never rewritten
    ids, xy = maps.load(1, "clip")
    assert ids.tolist() == [3, 5, 9] and xy.dtype == np.float32
    assert xy.tolist() == [[2.0, -1.0], [0.5, 1.0], [7.0, 8.0]]
    assert maps.placed_ids(1, "clip").tolist() == [3, 5, 9]
    assert maps.load_model(1, "clip") == {"reducer": "fitted", "ids": [5, 3]}
    assert [(m.dataset_id, m.space, len(m.files)) for m in maps.maps()] == [(1, "clip", 2)]
    assert not list(maps.folder(1, "clip").glob(".*"))  # no temporary file left


def test_bad_parts_and_names_are_refused(tmp_path: Path) -> None:
    maps = MapStore(tmp_path)
    with pytest.raises(ValidationError, match=r"invalid space name '\.\./x'"):
        maps.folder(1, "../x")
    maps.start(1, "s", {"params": {}, "created_at": "now"})
    with pytest.raises(ValidationError, match=r"expected \(n, 2\) coordinates for 2 items"):
        maps.write_part(1, "s", [1, 2], [[0.0, 0.0]])
    with pytest.raises(ValidationError, match="finite"):
        maps.write_part(1, "s", [1], [[np.nan, 0.0]])
    with pytest.raises(NotFoundError, match="no map of space 's'"):
        maps.load(1, "s")


def test_a_stale_temporary_file_is_discarded(tmp_path: Path) -> None:
    maps = MapStore(tmp_path)
    folder = maps.start(2, "s", {"params": {}, "created_at": "now"})
    (folder / ".part-00000.parquet.abcd.tmp").write_bytes(b"half a part")
    maps.discard_temporary(2, "s")
    assert sorted(p.name for p in folder.iterdir()) == ["_manifest.json"]
    maps.remove(2)
    assert not maps.folder(2).exists() and maps.maps() == []


def test_the_maps_view_shows_live_items_of_readable_datasets(tmp_path: Path) -> None:
    catalog = Catalog.connect(f"sqlite:///{tmp_path / 'catalog.db'}")
    scores = ScoreTables(tmp_path / "scores")
    maps = MapStore(scores.root)
    ids = {}
    for name in ("one", "two"):
        ds = catalog.create_dataset(name)
        media = MediaInfo(1, 4, 4, "jpeg", name)
        catalog.add_items(ds.id, [NewItem(f"/{name}/{i}.jpg", media) for i in range(3)])
        ids[name] = (ds.id, sorted(catalog.item_ids(ds.id)))
        maps.start(ds.id, "text", {"params": {}, "created_at": "now"})
        maps.save_model(ds.id, "text", {})
        maps.write_part(ds.id, "text", ids[name][1], np.arange(6).reshape(3, 2))
    engine = SqlEngine(catalog, scores)
    try:
        sql = "SELECT dataset, space, item_id, x, y FROM maps ORDER BY item_id"
        with engine.session({ids["one"][0]}) as s:
            rows = s.execute(sql).rows
        assert rows == [
            ("one", "text", i, 2.0 * n, 2.0 * n + 1) for n, i in enumerate(ids["one"][1])
        ]
        with engine.session() as s:
            assert s.execute("SELECT count(*) FROM maps").rows == [(6,)]
        with engine.session([]) as s:
            assert s.execute("SELECT count(*) FROM maps").rows == [(0,)]
    finally:
        engine.close()
