"""`tagscope embed ...` and `tagscope vectors import ...`"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    JsonOpt,
    QuietOpt,
    WorkspaceOpt,
    console,
    handle_errors,
    open_workspace,
    print_json,
    progress_bar,
)

uc = deferred("tagscope.service.embeddings")

vectors_app = typer.Typer(
    help="Bring your own vectors into an embedding space.", no_args_is_help=True
)


@handle_errors
def embed(
    dataset: str = typer.Argument(..., help="The dataset to embed."),
    space: str | None = typer.Option(None, "--space", "-s", help="Space name (default: the kind)."),
    kind: str | None = typer.Option(
        None, "--kind", "-k", help="clip, text or phash (default: the space's kind, else clip)."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Hugging Face model id or local model folder (default: the space's model, else "
        "openai/clip-vit-base-patch32 for clip, all-MiniLM-L6-v2 for text).",
    ),
    batch_size: int | None = typer.Option(
        None, "--batch-size", "-b", min=1, help="Items per batch (each is saved as it is done)."
    ),
    device: str | None = typer.Option(
        None, "--device", help="cpu, cuda, cuda:N, mps or auto (default: auto)."
    ),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Embed the dataset's items that have no vector in the space yet (resumable)."""
    ws = open_workspace(workspace)
    with progress_bar(f"embedding {dataset}", enabled=not quiet) as report:
        job = uc.compute_embeddings(
            ws,
            dataset,
            space=space,
            kind=kind,
            model=model,
            batch_size=batch_size,
            device=device,
            progress=report,
        )
    result: dict[str, Any] = {"job_id": job.id, **job.result}
    if as_json:
        print_json(result)
        return
    console.print(
        f"space {result['space']!r} ({result['kind']}, {result['model']}, dim {result['dim']}): "
        f"embedded {result['n_embedded']}, already there {result['n_existing']}, "
        f"skipped {result['n_skipped']} of {result['n_items']} items"
    )
    for reason, n in result["skipped"].items():
        console.print(f"  skipped, {reason}: {n}")
    if result["problems"]:
        console.print("unreadable files:")
        for problem in result["problems"]:
            console.print(f"  {problem['path']}: {problem['reason']}", markup=False, soft_wrap=True)
        if result["n_problems"] > len(result["problems"]):
            console.print(f"  ... and {result['n_problems'] - len(result['problems'])} more")


@vectors_app.command("import")
@handle_errors
def import_(
    dataset: str = typer.Argument(..., help="The dataset the vectors belong to."),
    space: str = typer.Argument(..., help="The space to create or add to."),
    file: Path = typer.Argument(
        ...,
        help="A .npy (n, d) matrix with its ids in <stem>.ids.npy (item ids or item paths), or "
        "a .parquet file with columns item_id (or path) and vector.",
    ),
    ids: Path | None = typer.Option(
        None, "--ids", help="The ids file of a .npy matrix (default: <stem>.ids.npy beside it)."
    ),
    kind: str = typer.Option(
        "imported",
        "--kind",
        help="imported (no model), or clip / text when the vectors came from such a model.",
    ),
    model: str | None = typer.Option(
        None, "--model", help="The model that made the vectors (with --kind clip or text)."
    ),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Import your own vectors (unit-normalised on the way in)."""
    report = uc.import_vectors(
        open_workspace(workspace), dataset, space, file, ids_file=ids, kind=kind, model=model
    )
    if as_json:
        print_json(report)
        return
    console.print(
        f"imported {report['n_imported']} vectors (dim {report['dim']}) into space "
        f"{report['space']!r}; {report['n_replaced']} replaced earlier ones"
    )
