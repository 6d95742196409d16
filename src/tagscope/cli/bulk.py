"""`tagscope bulk-classify`: one classification on every item of a collection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    JsonOpt,
    WorkspaceOpt,
    console,
    handle_errors,
    open_workspace,
    print_json,
)
from tagscope.domain import ValidationError

uc = deferred("tagscope.service.bulk")


@handle_errors
def bulk_classify(
    dataset: str,
    collection: str,
    label: str = typer.Option(
        ..., "--class", "--label", help="The class (created in the ontology when missing)."
    ),
    answer: list[str] | None = typer.Option(
        None,
        "--answer",
        help="QUESTION=VALUE, an answer to one of the ontology's questions (repeat it; a "
        "checklist's options separated by commas).",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace the classification of items that have one."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only count what would change and what would be skipped."
    ),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Classify every item of COLLECTION as the class (its main label), with the answers; undo
    with `tagscope undo`. Items classified already are skipped unless --overwrite."""
    result = uc.bulk_classify(
        open_workspace(workspace),
        dataset,
        collection=collection,
        label=label,
        answers=_answers(answer or []),
        overwrite=overwrite,
        dry_run=dry_run,
    )
    if as_json:
        print_json(
            {
                "n_changed": result.n_changed,
                "n_skipped": result.n_skipped,
                "skipped": result.skipped,
                "change_set": result.change_set,
                "dry_run": result.dry_run,
            }
        )
        return
    verb = "would classify" if dry_run else "classified"
    console.print(f"{verb} {result.n_changed} item(s) as {label.strip()!r}")
    for reason, n in sorted(result.skipped.items()):
        console.print(f"skipped {n} item(s): {reason}")
    if result.change_set is not None:
        console.print(
            f"change-set {result.change_set} (undo: tagscope undo {dataset} {result.change_set})"
        )


def _answers(pairs: list[str]) -> dict[str, Any]:
    """``["pose=sitting", "color=black,white"]`` -> ``{"pose": "sitting", ...}`` (the service
    splits a checklist's options)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        question, sep, value = pair.partition("=")
        if not sep or not question.strip():
            raise ValidationError(f"an answer is QUESTION=VALUE, got {pair!r}", field="answers")
        out[question.strip()] = value.strip()
    return out
