"""Shared CLI plumbing: the workspace option, output as a table or JSON, progress bars, errors.

The consoles print data, never markup: labels, paths and SQL values such as ``[bold]`` or
``[/x]`` come out as they are (markup and emoji codes are off). Styled words are
:class:`rich.text.Text` spans, see :func:`styled`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from tagscope.domain import TagscopeError, ValidationError

if TYPE_CHECKING:
    from tagscope.service import Workspace

console = Console(markup=False, emoji=False)
err_console = Console(stderr=True, markup=False, emoji=False)

WorkspaceOpt = typer.Option(
    None, "--workspace", "-w", envvar="TAGSCOPE_HOME", help="Workspace folder."
)
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar.")
IdsArg = typer.Argument(..., help="Item ids, separated by commas or spaces: 1,2,5")

F = TypeVar("F", bound=Callable[..., Any])


class ShowByDefault(TyperGroup):
    """A first word that is not a command is a dataset: `tagscope ontology coco` runs
    `ontology show coco`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


def parse_ids(text: str, what: str = "item", field: str = "items") -> list[int]:
    """The ids in ``text``, integers separated by commas or spaces (``1,2 5``).

    Raises
    ------
    ValidationError
        No id, or a part that is not an integer (named); ``what`` says whose ids they are.
    """
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    bad = [p for p in parts if not p.isdigit()]
    if bad or not parts:
        raise ValidationError(
            f"{what} ids are integers separated by commas, got {', '.join(bad) or 'none'}",
            field=field,
        )
    return [int(p) for p in parts]


def open_workspace(path: Path | None) -> Workspace:
    from tagscope.service import Workspace  # deferred: SQLAlchemy and Alembic load here

    return Workspace.open(path)


def handle_errors(fn: F) -> F:
    """Turn Tagscope errors into one red line and exit status 1 (no traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TagscopeError as exc:
            err_console.print(styled(("error:", "red"), f" {exc}"))
            raise typer.Exit(1) from exc

    return wrapper  # type: ignore[return-value]


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_jsonable(value), indent=2) + "\n")


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line of plain text with styled spans: ``styled(("dog", "bold"), " 12 items")``."""
    return Text.assemble(*parts)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str = "") -> None:
    # Text cells and titles: data stays data on any console the table is printed on.
    table = Table(title=Text(title) if title else None)
    for col in columns:
        table.add_column(Text(col))
    for row in rows:
        table.add_row(*(_cell(row.get(col)) for col in columns))
    console.print(table)


def print_sql_result(result: Any, *, limit: int | None, as_json: bool) -> None:
    """A SQL result (the local engine's or a server's): JSON, or a table and a count line."""
    if as_json:
        keys = ("columns", "types", "rows", "n_rows", "truncated", "elapsed_ms")
        print_json({k: getattr(result, k) for k in keys})
        return
    print_table([dict(zip(result.columns, r, strict=True)) for r in result.rows], result.columns)
    more = f" (cut at {limit}; use --limit)" if result.truncated else ""
    err_console.print(f"{result.n_rows} row(s){more} in {result.elapsed_ms:.0f} ms")


def _cell(value: Any) -> Text:
    if isinstance(value, float):
        return Text(f"{value:.4f}")
    return Text("" if value is None else str(value))


@contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``report(n_done, n_total)`` callback drawing a bar on stderr."""
    if not enabled:
        yield lambda _done, _total: None
        return
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=None)

        def report(n_done: int, n_total: int) -> None:
            bar.update(task, completed=n_done, total=n_total)

        yield report
