"""The CLI prints data, never markup: labels, paths and SQL values like ``[/x]`` or ``[bold]``."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.cli.output import parse_ids
from tagscope.domain import ValidationError

runner = CliRunner()


@pytest.fixture()
def marked_up(tmp_path: Path) -> Path:
    """A workspace with a dataset whose labels and paths look like rich markup."""
    images = tmp_path / "img"
    (images / "[bold]").mkdir(parents=True)
    Image.new("RGB", (16, 16), "red").save(images / "[bold]" / "a[x].png")
    Image.new("RGB", (16, 16), "blue").save(images / "b[bold].png")
    (images / "list.csv").write_text("[bold]/a[x].png,[/x]\nb[bold].png,[bold]\n")
    ws = tmp_path / "ws"
    _ok("import", "csv", "marks", str(images / "list.csv"), "-q", "-w", str(ws))
    return ws


def _ok(*args: str) -> str:
    out = runner.invoke(app, list(args), terminal_width=200)
    assert out.exit_code == 0, out.output
    return out.stdout


def test_labels_print_as_they_are(marked_up: Path) -> None:
    out = _ok("datasets", "info", "marks", "-w", str(marked_up))
    assert "[/x]" in out and "[bold]" in out


def test_paths_and_sql_values_print_as_they_are(marked_up: Path) -> None:
    sql = "SELECT split_part(path, '/img/', 2) AS p, '[/x] and [bold]' AS v, ':smile:' AS e "
    sql += "FROM items ORDER BY path"
    out = _ok("sql", sql, "-w", str(marked_up))
    assert "[bold]/a[x].png" in out and "b[bold].png" in out
    assert "[/x] and [bold]" in out and ":smile:" in out


def test_errors_print_the_input_as_it_is(tmp_path: Path) -> None:
    out = runner.invoke(app, ["datasets", "create", "[bold]x", "-w", str(tmp_path / "ws")])
    assert out.exit_code == 1
    assert "'[bold]x'" in out.stderr


def test_ids_are_integers_separated_by_commas_or_spaces_and_a_bad_one_is_named() -> None:
    assert parse_ids(" 1,2  5,") == [1, 2, 5]
    with pytest.raises(ValidationError, match=r"^item ids are integers .*, got x, -3$") as err:
        parse_ids("1,x,-3")
    assert err.value.field == "items"
    with pytest.raises(ValidationError, match=r"^change ids .*, got none$") as err:
        parse_ids(" , ", "change", field="ids")
    assert err.value.field == "ids"
