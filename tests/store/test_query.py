"""SDK views compiled to SQL, on a real SQLite catalog, real score files and real DuckDB: the
compiled query equals the grid filter's, stays inside its dataset and refuses injections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tagscope.domain import (
    Label,
    LabelKind,
    MediaInfo,
    NewItem,
    NotFoundError,
    SqlError,
    SqlRefusedError,
    ValidationError,
)
from tagscope.domain.tags import Tag, Visibility
from tagscope.store import Catalog
from tagscope.store.query import (
    Limit,
    Ranked,
    Skip,
    SortBy,
    SortBySimilarity,
    Where,
    WhereLabel,
    WhereTag,
    append_stage,
    compile_view,
    run_compiled,
)
from tagscope.store.scores import ScoreTables
from tagscope.store.sql import QuerySession, SqlEngine
from tagscope.store.tag_catalog import TagCatalog

TAGS = ["dog", "street sign"]


def _item(i: int) -> NewItem:
    label = Label(LabelKind.CLASSIFICATION, "dog" if i % 2 else "cat", is_main=True)
    return NewItem(
        path=f"/media/{i:03d}.jpg",
        media=MediaInfo(1000 + i, 100 * i, 50, "jpeg", f"hash{i}"),
        labels=(label,),
    )


class World:
    """``birds`` (8 items) and ``fish`` (4), labels cat/dog, scores of the group ``Animals``."""

    def __init__(self, root: Path) -> None:
        self.catalog = Catalog.connect(f"sqlite:///{root / 'catalog.db'}")
        self.scores = ScoreTables(root / "scores")
        self.birds = self.catalog.create_dataset("birds")
        self.fish = self.catalog.create_dataset("fish")
        self.catalog.add_items(self.birds.id, [_item(i) for i in range(1, 9)])
        self.catalog.add_items(self.fish.id, [_item(i) for i in range(20, 24)])
        self.bird_ids = np.array(self.catalog.item_ids(self.birds.id))
        self.fish_ids = np.array(self.catalog.item_ids(self.fish.id))
        rng = np.random.default_rng(7)
        self.dog = rng.random((len(self.bird_ids), len(TAGS)), dtype=np.float32)
        self.scores.write(self.birds.id, "Animals", 1, "visual", self.bird_ids, TAGS, self.dog)
        fish_scores = rng.random((len(self.fish_ids), len(TAGS)), dtype=np.float32)
        self.scores.write(self.fish.id, "Animals", 1, "visual", self.fish_ids, TAGS, fish_scores)


@pytest.fixture()
def world(tmp_path: Path) -> World:
    return World(tmp_path)


@pytest.fixture()
def engine(world: World) -> SqlEngine:
    engine = SqlEngine(world.catalog, world.scores, timeout_s=20)
    yield engine
    engine.close()


@pytest.fixture()
def session(engine: SqlEngine) -> QuerySession:
    with engine.session() as s:
        yield s


def _ids(session: QuerySession, dataset: str, *stages: object) -> list[int]:
    compiled = compile_view(session, dataset, tuple(stages))
    return run_compiled(session, compiled.ids, max_rows=1000).column("id").to_pylist()


def _count(session: QuerySession, dataset: str, *stages: object) -> int:
    compiled = compile_view(session, dataset, tuple(stages))
    return run_compiled(session, compiled.count, max_rows=1).column("n")[0].as_py()


def test_filters_and_sorts_equal_the_grid_filter(session: QuerySession) -> None:
    stages = (Where("width > 200"), WhereLabel(("dog",)), SortBy("width", descending=True))
    grid = session.filter_items(
        "birds", "(width > 200) AND has_label(id, 'dog')", order_by="width", descending=True
    )
    assert _ids(session, "birds", *stages) == grid.ids and grid.ids
    assert _count(session, "birds", *stages) == grid.total
    assert _ids(session, "birds") == session.filter_items("birds").ids
    both = WhereLabel(("dog", "cat"), "all")
    assert _ids(session, "birds", both) == [] and _count(session, "birds", both) == 0
    assert len(_ids(session, "birds", WhereLabel(("dog", "cat")))) == 8


def test_where_tag_bounds_compare_in_float32(session: QuerySession, world: World) -> None:
    dog = world.dog[:, 0]
    ids = _ids(session, "birds", WhereTag("Animals", "dog", above=0.3, below=0.8))
    keep = (dog >= np.float32(0.3)) & (dog < np.float32(0.8))
    assert ids == world.bird_ids[keep].tolist()
    by_score = _ids(session, "birds", SortBy("tags_animals.dog", descending=True))
    assert by_score == world.bird_ids[np.argsort(-dog, kind="stable")].tolist()
    street = _ids(session, "birds", WhereTag("Animals", "street sign", above=0.5))
    assert street == world.bird_ids[world.dog[:, 1] >= np.float32(0.5)].tolist()


def test_where_tag_decided_follows_the_saved_threshold(engine: SqlEngine, world: World) -> None:
    tags = TagCatalog(world.catalog)
    group = tags.create_group(
        world.birds.id, "Animals", space="text", visibility=Visibility.SHAREABLE,
        tags=[Tag("dog"), Tag("street sign")],
    )  # fmt: skip
    tags.set_threshold(group.tag("dog").id, 0.25)
    decided = world.dog[:, 0] >= np.float32(0.25)
    with engine.session() as s:
        assert _ids(s, "birds", WhereTag("Animals", "dog", decided=True)) == (
            world.bird_ids[decided].tolist()
        )
        assert _ids(s, "birds", WhereTag("Animals", "dog", decided=False)) == (
            world.bird_ids[~decided].tolist()
        )
        assert _ids(s, "birds", WhereTag("Animals", "dog", above=0.25)) == (
            world.bird_ids[decided].tolist()
        )


def test_limit_and_skip_compose(session: QuerySession, world: World) -> None:
    ids = world.bird_ids.tolist()
    assert _ids(session, "birds", Limit(5)) == ids[:5]
    assert _ids(session, "birds", Skip(2), Limit(3)) == ids[2:5]
    assert _ids(session, "birds", Limit(5), Skip(2)) == ids[2:5]
    assert _ids(session, "birds", Limit(5), Skip(2), Skip(1), Limit(10)) == ids[3:5]
    assert _ids(session, "birds", Skip(20)) == [] and _count(session, "birds", Skip(6)) == 2
    assert _ids(session, "birds", Limit(0)) == []


def test_a_ranked_stage_keeps_its_ids_in_order_inside_the_dataset(
    session: QuerySession, world: World
) -> None:
    b, f = world.bird_ids.tolist(), world.fish_ids.tolist()
    ranked = Ranked((b[5], f[0], b[1], b[6]), (0.9, 0.8, 0.7, 0.6))
    assert _ids(session, "birds", ranked) == [b[5], b[1], b[6]]  # the fish item is left out
    assert _ids(session, "birds", ranked, WhereLabel(("dog",)), Limit(1)) == [b[6]]
    assert _ids(session, "birds", ranked, SortBy("id", descending=True)) == [b[6], b[5], b[1]]
    table = run_compiled(
        session, compile_view(session, "birds", (ranked,)).rows, max_rows=10
    ).to_pydict()
    assert table["id"] == [b[5], b[1], b[6]] and table["similarity"] == [0.9, 0.7, 0.6]
    assert "path" in table and "width" in table
    assert _ids(session, "birds", Ranked((), ())) == []


def test_the_compiled_sql_runs_as_is_in_the_console(session: QuerySession) -> None:
    stages = (Where("width >= 300"), Ranked((3, 1, 5), (0.5, 0.4, 0.3)), Limit(2))
    compiled = compile_view(session, "birds", stages)
    assert "LIMIT 2" in compiled.rows and "VALUES" in compiled.rows
    assert [r[0] for r in session.execute(compiled.rows).rows] == _ids(session, "birds", *stages)
    assert session.execute(compiled.count).rows == [(_count(session, "birds", *stages),)]


@pytest.mark.parametrize(
    "stage",
    [
        Where("false) OR (true"),
        Where("dataset = 'fish'"),
        Where("id IN (SELECT id FROM items WHERE dataset = 'fish')"),
        Where("true) UNION ALL SELECT id FROM items WHERE (true"),
        Where("true)) AS x, items WHERE ((true"),
        WhereLabel(("dog') OR true OR ('",)),
        WhereLabel(("x', 'y') OR (true",)),
    ],
)
def test_a_view_stays_inside_its_dataset(session: QuerySession, stage: object) -> None:
    """Whatever a stage says, only the dataset's own items come back (or it is refused)."""
    birds = set(session.filter_items("birds").ids)
    try:
        ids = _ids(session, "birds", Where("true"), stage)
    except SqlError as refused:
        assert refused.field == "where"
        return
    assert set(ids) <= birds


def test_names_cannot_inject(session: QuerySession) -> None:
    assert _ids(session, "birds", WhereLabel(("dog') OR true OR ('",))) == []
    with pytest.raises(SqlRefusedError, match="a ';' in a filter"):
        compile_view(session, "birds", (Where("true; DROP VIEW items"),))
    with pytest.raises(SqlError, match="tag group 'animals; drop view items' has no scores"):
        compile_view(session, "birds", (WhereTag("animals; drop view items", "dog", above=0),))
    with pytest.raises(SqlError, match='no scored tag "dog\' OR true --"; its tags: dog'):
        compile_view(session, "birds", (WhereTag("Animals", "dog' OR true --", above=0),))
    with pytest.raises(SqlError, match="cannot sort by"):
        compile_view(session, "birds", (SortBy("width; DROP VIEW items"),))
    with pytest.raises(NotFoundError, match="no dataset named"):
        compile_view(session, "birds' OR true --", ())
    assert session.execute("SELECT count(*) FROM items").rows == [(12,)]


def test_stages_are_checked_when_made() -> None:
    with pytest.raises(ValidationError, match="filters and sorts must come before limit"):
        append_stage((Limit(3),), Where("true"))
    with pytest.raises(ValidationError, match="before limit"):
        append_stage((Skip(1),), SortBy("id"))
    assert append_stage((Where("true"),), Limit(3)) == (Where("true"), Limit(3))
    with pytest.raises(ValidationError, match="give above= and/or below=, or decided="):
        WhereTag("pets", "dog")
    with pytest.raises(ValidationError, match="give above"):
        WhereTag("pets", "dog", above=0.5, decided=True)
    with pytest.raises(ValidationError, match="k must be a positive integer"):
        SortBySimilarity(1, k=0)
    with pytest.raises(ValidationError, match=r"limit\(\) needs an integer >= 0"):
        Limit(-1)
    with pytest.raises(ValidationError, match="label names"):
        WhereLabel(())


def test_a_view_larger_than_max_rows_is_an_error(session: QuerySession) -> None:
    compiled = compile_view(session, "birds", ())
    with pytest.raises(SqlError, match=r"more than 3 rows \(max_rows\)"):
        run_compiled(session, compiled.ids, max_rows=3)
