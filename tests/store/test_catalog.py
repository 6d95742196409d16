"""The catalog on a real database: SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tagscope.domain import (
    AlreadyExistsError,
    JobStatus,
    Label,
    LabelKind,
    LabelSource,
    MediaInfo,
    NewItem,
    NotFoundError,
    ValidationError,
)
from tagscope.store import Catalog
from tagscope.store.schema import DatasetRow


def _item(path: str, *labels: Label) -> NewItem:
    return NewItem(path=path, media=MediaInfo(10, 4, 3, "JPEG", f"h-{path}"), labels=labels)


def _cls(name: str, main: bool = False) -> Label:
    return Label(LabelKind.CLASSIFICATION, name, is_main=main)


@pytest.fixture()
def catalog(database_url: str) -> Catalog:
    return Catalog.connect(database_url)


def test_migrations_create_every_table(catalog: Catalog) -> None:
    tables = set(inspect(catalog.engine).get_table_names())
    assert {"datasets", "items", "labels", "embedding_spaces", "jobs", "alembic_version"} <= tables
    # Connecting again runs no migration twice and keeps the data.
    catalog.create_dataset("kept")
    again = Catalog.connect(str(catalog.engine.url.render_as_string(hide_password=False)))
    assert [d.name for d in again.list_datasets()] == ["kept"]


def test_dataset_lifecycle_and_errors(catalog: Catalog) -> None:
    ds = catalog.create_dataset("birds", "herons and egrets")
    assert catalog.get_dataset("birds").description == "herons and egrets"
    with pytest.raises(AlreadyExistsError, match="'birds' already exists"):
        catalog.create_dataset("birds")
    with pytest.raises(ValidationError, match="invalid dataset name 'no good'"):
        catalog.create_dataset("no good")
    with pytest.raises(NotFoundError, match="no dataset named 'fish'"):
        catalog.get_dataset("fish")
    catalog.delete_dataset(ds.id)
    assert catalog.list_datasets() == []


def test_add_items_is_idempotent_and_keeps_new_labels(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d")
    added = catalog.add_items(ds.id, [_item("/a.jpg", _cls("dog", True)), _item("/b.jpg")])
    assert added == (2, 0, 1)
    # Same files again: nothing new. A new label on an existing item is added once.
    again = catalog.add_items(ds.id, [_item("/a.jpg", _cls("dog", True), _cls("pet"))])
    assert again == (0, 1, 1)
    assert catalog.count_items(ds.id) == 2
    a = catalog.existing_paths(ds.id, ["/a.jpg"])["/a.jpg"]
    assert sorted(lab.name for lab in catalog.item_labels(a)) == ["dog", "pet"]
    assert catalog.label_names(ds.id) == {"dog": 1, "pet": 1}
    assert catalog.list_datasets()[0].n_items == 2


def test_geometry_labels_round_trip(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d")
    box = Label(LabelKind.BOX, "dog", geometry={"bbox": [1.5, 2.0, 10.0, 20.0]})
    poly = Label(
        LabelKind.POLYGON,
        "dog",
        source=LabelSource.PREDICTION,
        score=0.9,
        geometry={"polygons": [[0, 0, 4, 0, 4, 4], [1, 1, 2, 1, 2, 2]]},
    )
    catalog.add_items(ds.id, [_item("/a.jpg", box, poly)])
    item_id = catalog.existing_paths(ds.id, ["/a.jpg"])["/a.jpg"]
    assert catalog.item_labels(item_id) == [box, poly]
    # Two boxes of the same class at different places are two labels.
    other = Label(LabelKind.BOX, "dog", geometry={"bbox": [50, 50, 5, 5]})
    assert catalog.add_labels([(item_id, other), (item_id, box)]) == 1


def test_labels_are_stored_with_their_area_and_read_back_with_their_id(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d")
    line = Label(LabelKind.POLYLINE, "road", geometry={"lines": [[0, 0, 3, 4]]})
    mask = Label(LabelKind.MASK, "dog", geometry={"rle": {"size": [3, 4], "counts": [1, 4, 7]}})
    box = Label(LabelKind.BOX, "dog", geometry={"bbox": [1.5, 2.0, 10.0, 20.0]})
    catalog.add_items(ds.id, [_item("/a.jpg", box, mask, line, _cls("cat"))])
    item_id = catalog.existing_paths(ds.id, ["/a.jpg"])["/a.jpg"]
    labels = catalog.item_labels(item_id)
    assert [(lab.kind, lab.area) for lab in labels] == [
        (LabelKind.BOX, 200.0),
        (LabelKind.MASK, 4.0),
        (LabelKind.POLYLINE, None),
        (LabelKind.CLASSIFICATION, None),
    ]
    assert labels[2].geometry == line.geometry
    assert catalog.get_label(labels[1].id or 0) == (item_id, mask)
    with pytest.raises(NotFoundError, match="no label with id 999"):
        catalog.get_label(999)


def test_label_filters_any_and_all(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d")
    catalog.add_items(
        ds.id,
        [
            _item("/1", _cls("dog"), _cls("cat")),
            _item("/2", _cls("dog")),
            _item("/3", _cls("cat")),
            _item("/4"),
        ],
    )
    ids = catalog.existing_paths(ds.id, ["/1", "/2", "/3", "/4"])
    assert catalog.items_with_labels(ds.id, ["dog", "cat"], "any") == {
        ids["/1"],
        ids["/2"],
        ids["/3"],
    }
    assert catalog.items_with_labels(ds.id, ["dog", "cat"], "all") == {ids["/1"]}
    assert catalog.items_with_labels(ds.id, ["fish"], "any") == set()


def test_iter_items_pages_in_id_order(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d")
    catalog.add_items(ds.id, [_item(f"/{i:04d}.jpg") for i in range(1234)])
    items = list(catalog.iter_items(ds.id, batch_size=100))
    assert len(items) == 1234
    assert [it.id for it in items] == sorted(it.id for it in items)
    assert items[0].media is not None and items[0].media.width == 4


def test_spaces_refuse_a_different_model_under_one_name(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d")
    catalog.ensure_space(ds.id, "clip", "clip", "openai/clip-vit-base-patch32", 512)
    catalog.ensure_space(ds.id, "clip", "clip", "openai/clip-vit-base-patch32", 512)
    with pytest.raises(AlreadyExistsError, match="use another space name"):
        catalog.ensure_space(ds.id, "clip", "clip", "other/model", 768)
    assert catalog.get_space(ds.id, "clip")["dim"] == 512
    with pytest.raises(NotFoundError, match="no embedding space 'text'"):
        catalog.get_space(ds.id, "text")


def test_jobs_record_status_and_progress(catalog: Catalog) -> None:
    job = catalog.create_job("embed", None, {"space": "clip"})
    assert job.status is JobStatus.QUEUED
    catalog.update_job(job.id, status=JobStatus.RUNNING, n_done=5, n_total=10)
    got = catalog.get_job(job.id)
    assert (got.status, got.progress, got.params) == (JobStatus.RUNNING, 0.5, {"space": "clip"})


def test_deleting_a_dataset_cascades(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d")
    catalog.add_items(ds.id, [_item("/a", _cls("dog"))])
    catalog.delete_dataset(ds.id)
    with catalog.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM items")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM labels")).scalar_one() == 0


_WRITER = textwrap.dedent(
    """
    import sys
    from tagscope.domain import MediaInfo, NewItem
    from tagscope.store import Catalog
    cat = Catalog.connect(sys.argv[1])
    ds = cat.get_dataset("shared")
    for i in range(40):
        path = f"/{sys.argv[2]}/{i}.jpg"
        cat.add_items(ds.id, [NewItem(path, MediaInfo(1, 1, 1, "JPEG", path))])
    """
)


def test_several_processes_share_one_sqlite_workspace(tmp_path: Path) -> None:
    """WAL mode: a server, the CLI and a notebook may write to one workspace at once."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog = Catalog.connect(url)
    ds = catalog.create_dataset("shared")
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, name]) for name in ("cli", "api")
    ]
    seen = [catalog.count_items(ds.id) for _ in range(20)]  # reading while they write
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert catalog.count_items(ds.id) == 80
    assert seen == sorted(seen)
    with catalog.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_items_keep_their_files_mtime_and_older_catalogs_migrate(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from tagscope.store.database import _MIGRATIONS, make_engine

    engine = make_engine(database_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        conn.execute(
            text(
                "INSERT INTO datasets (name, description, created_at) "
                "VALUES ('d', '', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO items (dataset_id, path, modality, size, content_hash, metadata, "
                "created_at) SELECT id, '/old.jpg', 'image', 10, 'h', '{}', CURRENT_TIMESTAMP "
                "FROM datasets"
            )
        )
    catalog = Catalog.connect(database_url)  # migrates to the latest
    ds = catalog.get_dataset("d")
    [old] = catalog.iter_items(ds.id)
    assert old.mtime_ns is None
    mtime = 1_764_000_000_123_456_789  # nanoseconds: beyond 32 bits
    new = NewItem("/new.jpg", MediaInfo(10, 4, 3, "JPEG", "h2"), mtime_ns=mtime)
    catalog.add_items(ds.id, [new])
    assert {it.path: it.mtime_ns for it in catalog.iter_items(ds.id)} == {
        "/old.jpg": None,
        "/new.jpg": mtime,
    }


def test_items_without_media_and_metadata_updates(catalog: Catalog) -> None:
    ds = catalog.create_dataset("clips")
    shot = NewItem("/v/a.mp4#shot=0", None, metadata={"video_id": 1, "start_ms": 0})
    assert catalog.add_items(ds.id, [_item("/v/a.jpg"), shot]) == (2, 0, 0)
    ids = catalog.existing_paths(ds.id, ["/v/a.jpg", "/v/a.mp4#shot=0"])
    assert catalog.get_item(ids["/v/a.mp4#shot=0"]).media is None

    revision = _revision(catalog, ds.id)
    catalog.update_item_metadata(
        {ids["/v/a.mp4#shot=0"]: {"start_ms": None, "series": "Echo"}, ids["/v/a.jpg"]: {"n": 2}}
    )
    assert catalog.get_item(ids["/v/a.mp4#shot=0"]).metadata == {"video_id": 1, "series": "Echo"}
    assert catalog.get_item(ids["/v/a.jpg"]).metadata == {"n": 2}
    assert _revision(catalog, ds.id) == revision + 1  # SQL's copy fetches its items again


def _revision(catalog: Catalog, dataset_id: int) -> int:
    with catalog.session() as s:
        return s.get(DatasetRow, dataset_id).revision
