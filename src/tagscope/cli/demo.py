"""`tagscope demo`: a workspace with real sample media, embedded and searched, then served."""

from __future__ import annotations

from pathlib import Path

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    WorkspaceOpt,
    console,
    handle_errors,
    open_workspace,
    print_table,
    progress_bar,
    styled,
)

uc = deferred("tagscope.service.demo")


@handle_errors
def demo(
    folder: Path | None = typer.Argument(
        None, help="Images or a COCO folder; default: ../shared/data/coco-mini or skimage photos."
    ),
    workspace: Path | None = WorkspaceOpt,
    dataset: str = typer.Option("demo", help="Name of the demo dataset."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Then serve the web app."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port", "-p"),
) -> None:
    """Import sample media, embed, search and tag them, print the results, serve the web app."""
    ws = open_workspace(workspace)
    console.print(f"workspace: {ws.paths.root}")
    with progress_bar("working") as report:
        result = uc.run_demo(
            ws,
            folder,
            dataset=dataset,
            step=lambda msg: console.print(styled((">", "bold"), f" {msg}")),
            progress=report,
        )
    imp = result.imported
    console.print(
        f"imported {imp.n_added} new items ({imp.n_existing} already there, {imp.n_labels} labels"
        f", {len(imp.problems)} problems) from {result.source}"
    )
    for query, hits in result.searches.items():
        rows = [{"item": h.item_id, "score": h.score, "path": Path(h.path).name} for h in hits]
        print_table(rows, ["item", "score", "path"], title=f'text search: "{query}"')
    if result.similar:
        query_hit, hits = result.similar
        rows = [{"item": h.item_id, "score": h.score, "path": Path(h.path).name} for h in hits]
        print_table(rows, ["item", "score", "path"], title=f"similar to item {query_hit.item_id}")
    rows = [
        {"a": Path(p.a.path).name, "b": Path(p.b.path).name, "score": p.score}
        for p in result.duplicates[:10]
    ]
    print_table(rows, ["a", "b", "score"], title=f"near-duplicates ({len(result.duplicates)})")
    if result.tags is not None:
        rows = [dict(zip(result.tags.columns, row, strict=True)) for row in result.tags.rows]
        print_table(rows, result.tags.columns, title="tags (SQL over dt_demo_visual)")
    if result.model is not None:
        m = result.model
        console.print(
            f"model {m.name!r} ({m.kind}, {len(m.classes)} classes): validation mAP "
            f"{m.metrics['map']:.3f} on {m.metrics['n_validation']} items; its predictions are "
            f"the SQL view pred_{m.name}, its statistics in the web app's Models page"
        )
    if serve:
        from tagscope.cli.serve import is_loopback
        from tagscope.cli.serve import serve as serve_app

        # A newcomer's first look: no account to create first, reachable from this machine only.
        # On another host the accounts of `tagscope serve` apply.
        local = is_loopback(host)
        if local:
            console.print("the demo serves without accounts, for this machine only (--no-auth)")
        serve_app(host=host, port=port, no_auth=local, workspace=ws.paths.root)
