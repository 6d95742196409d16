"""`tagscope remote ...`: read a remote Tagscope server (its REST API) with an API token."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.models import print_models, print_predictions
from tagscope.cli.output import (
    JsonOpt,
    console,
    err_console,
    handle_errors,
    print_json,
    print_sql_result,
    print_table,
)

if TYPE_CHECKING:
    from tagscope.sdk import remote as sdk
else:
    sdk = deferred("tagscope.sdk.remote")

TOKEN_HELP = (
    "The API token is read from the environment variable TAGSCOPE_TOKEN (make one with "
    "`tagscope tokens create`), never from an option, which would land in the shell's history."
)

app = typer.Typer(
    help=f"Read a remote Tagscope server: datasets, items, search, SQL, models. {TOKEN_HELP}",
    no_args_is_help=True,
)


@app.callback()
def remote(
    ctx: typer.Context,
    url: str | None = typer.Option(
        None,
        "--url",
        envvar="TAGSCOPE_URL",
        help="The server, e.g. https://tagscope.example.org or http://127.0.0.1:8000.",
    ),
) -> None:
    ctx.obj = url


def _connect(ctx: typer.Context) -> sdk.RemoteWorkspace:
    # ctx.obj: the group's --url (or TAGSCOPE_URL); the token only from TAGSCOPE_TOKEN.
    return sdk.connect(ctx.obj)


@app.command()
@handle_errors
def me(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Who the token acts as: the user, its role, and its role on each dataset."""
    with _connect(ctx) as ws:
        who = ws.me()
    if as_json:
        print_json(who)
        return
    if not who.get("auth"):
        console.print("the server runs without authentication (--no-auth): every right")
        return
    console.print(f"{who['user']} (workspace role: {who['role'] or 'none'})")
    rows = [
        {"dataset": name, "role": d["role"], "actions": ", ".join(d["actions"])}
        for name, d in who["datasets"].items()
    ]
    print_table(rows, ["dataset", "role", "actions"], title="datasets")


@app.command()
@handle_errors
def datasets(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List the datasets the token may read."""
    with _connect(ctx) as ws:
        rows = [
            {"id": d.id, "name": d.name, "n_items": d.n_items, "description": d.description}
            for d in ws.datasets()
        ]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["id", "name", "n_items", "description"])


@app.command()
@handle_errors
def items(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="The dataset."),
    where: str | None = typer.Option(
        None, "--where", help="A grid filter: SQL over items, has_label(id, 'x'), tags_<g>.<t>."
    ),
    sort: str = typer.Option("id", "--sort", help="id, path, size, width, height, format, split."),
    desc: bool = typer.Option(False, "--desc", help="Descending order."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Items at most."),
    as_json: bool = JsonOpt,
) -> None:
    """The dataset's items matching a filter, as the grid pages them."""
    with _connect(ctx) as ws:
        ds = ws.dataset(dataset)
        found = list(ds.items(where, sort=sort, order="desc" if desc else "asc", limit=limit))
    if as_json:
        print_json(found)
        return
    rows = [_item_row(it) for it in found]
    print_table(rows, ["id", "path", "split", "labels", "tags"], title=dataset)
    err_console.print(f"{len(rows)} item(s)")


def _item_row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "path": item["path"],
        "split": item.get("split"),
        "labels": ", ".join(item.get("labels", [])),
        "tags": ", ".join(item.get("tags", [])),
    }


@app.command()
@handle_errors
def search(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="The dataset to search."),
    text: str = typer.Argument(..., help="What to look for, in words."),
    space: str | None = typer.Option(
        None, "--space", "-s", help="A clip or text space (default: the server's)."
    ),
    k: int = typer.Option(10, "--k", "-k", help="How many results at most."),
    as_json: bool = JsonOpt,
) -> None:
    """Items best matching a text, best first."""
    with _connect(ctx) as ws:
        hits = ws.dataset(dataset).search(text, space=space, k=k)
    if as_json:
        print_json(hits)
        return
    rows = [
        {"rank": i, "item": h.item_id, "score": h.score, "path": h.path}
        for i, h in enumerate(hits, 1)
    ]
    print_table(rows, ["rank", "item", "score", "path"], title=f'"{text}" in {dataset}')
    if not hits:
        console.print("no results")


@app.command()
@handle_errors
def sql(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="One read-only statement ('-': read it from stdin)."),
    limit: int = typer.Option(1000, "--limit", help="Rows returned at most."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds the query may run."),
    as_json: bool = JsonOpt,
) -> None:
    """Run read-only SQL on the server (over the datasets the token may read)."""
    if query == "-":
        query = sys.stdin.read()
    with _connect(ctx) as ws:
        result = ws.sql(query, limit=limit, timeout_s=timeout)
    print_sql_result(result, limit=limit, as_json=as_json)


@app.command()
@handle_errors
def models(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="The dataset."),
    as_json: bool = JsonOpt,
) -> None:
    """List the dataset's models."""
    with _connect(ctx) as ws:
        found = ws.dataset(dataset).models()
    if as_json:
        print_json(found)
    else:
        print_models(found, dataset)


@app.command()
@handle_errors
def predict(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="The dataset."),
    model: str = typer.Argument(..., help="The model."),
    images: list[Path] = typer.Argument(..., help="Image files.", exists=True, dir_okay=False),
    last: bool = typer.Option(False, "--last", help="The latest checkpoint, not the best."),
    as_json: bool = JsonOpt,
) -> None:
    """Predict image files with a model on the server (--json: the REST API's answer)."""
    with _connect(ctx) as ws:
        result = ws.dataset(dataset).predict(model, images, last=last)
    if as_json:
        print_json(result)
    else:
        print_predictions(result)
