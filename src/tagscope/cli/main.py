"""The `tagscope` command: one sub-module per area registers its verbs here."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

import typer

from tagscope.cli import (
    bulk,
    collections,
    datasets,
    demo,
    embed,
    export,
    history,
    imports,
    label_jobs,
    labels,
    maps,
    models,
    ontology,
    remote,
    result_sets,
    review,
    search,
    serve,
    splits,
    sql,
    tags,
    thumbnails,
    tokens,
    users,
)
from tagscope.cli.output import WorkspaceOpt, console, handle_errors, open_workspace

app = typer.Typer(
    help="Tagscope: import, embed, search, tag and query image and video collections.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(datasets.app, name="datasets")
app.add_typer(collections.app, name="collections")
app.add_typer(ontology.app, name="ontology")
app.add_typer(labels.app, name="labels")
app.add_typer(imports.app, name="import")
app.command()(export.export)
app.command()(serve.serve)
app.command()(embed.embed)
app.command(name="map")(maps.map_dataset)
app.command()(thumbnails.thumbnails)
app.add_typer(embed.vectors_app, name="vectors")
app.add_typer(tags.app, name="tags")
app.command()(sql.sql)
app.command()(demo.demo)
app.command()(search.search)
app.command()(search.similar)
app.command()(search.duplicates)
app.command()(history.history)
app.command()(history.undo)
app.command(name="bulk-classify")(bulk.bulk_classify)
app.command(name="split")(splits.split)
app.add_typer(label_jobs.app, name="label-jobs")
app.add_typer(models.app, name="models")
app.add_typer(review.app, name="review")
app.add_typer(result_sets.app, name="result-sets")
app.add_typer(users.app, name="users")
app.add_typer(tokens.app, name="tokens")
app.add_typer(remote.app, name="remote")


class RunnerChoice(StrEnum):
    local = "local"
    ray = "ray"


@app.callback()
def main(
    runner: RunnerChoice | None = typer.Option(
        None,
        "--runner",
        envvar="TAGSCOPE_RUNNER",
        case_sensitive=False,
        help="Where jobs compute: in this process (local) or on a Ray cluster (ray).",
    ),
    ray_address: str | None = typer.Option(
        None,
        "--ray-address",
        envvar="TAGSCOPE_RAY_ADDRESS",
        help="The Ray cluster: ray://host:port, host:port; unset: a local Ray started on demand.",
    ),
) -> None:
    """Tagscope: import, embed, search, tag and query image and video collections."""
    # Through the environment: every workspace this process opens (and `serve`) picks the
    # runner there (tagscope.jobs.make_runner), with no option threaded through each verb.
    if runner is not None:
        os.environ["TAGSCOPE_RUNNER"] = runner.value
    if ray_address is not None:
        os.environ["TAGSCOPE_RAY_ADDRESS"] = ray_address


@app.command()
@handle_errors
def init(workspace: Path | None = WorkspaceOpt) -> None:
    """Create (or open) a workspace and bring its catalog up to date."""
    ws = open_workspace(workspace)
    console.print(f"workspace ready at {ws.paths.root}")


if __name__ == "__main__":
    app()
