"""The `tagscope` command: one sub-module per area registers its verbs here."""

from __future__ import annotations

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


@app.command()
@handle_errors
def init(workspace: Path | None = WorkspaceOpt) -> None:
    """Create (or open) a workspace and bring its catalog up to date."""
    ws = open_workspace(workspace)
    console.print(f"workspace ready at {ws.paths.root}")


if __name__ == "__main__":
    app()
