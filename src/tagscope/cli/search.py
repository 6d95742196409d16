"""`tagscope search`, `tagscope similar` and `tagscope duplicates`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    JsonOpt,
    WorkspaceOpt,
    console,
    handle_errors,
    open_workspace,
    print_json,
    print_table,
)
from tagscope.domain import Hit, PairHit

uc = deferred("tagscope.service.search")


class Mode(StrEnum):
    ANY = "any"
    ALL = "all"


KOpt = typer.Option(10, "--k", "-k", help="How many results at most.")
MinScoreOpt = typer.Option(
    None, "--min-score", help="Leave out results scoring less (cosine, -1 to 1)."
)
LabelOpt = typer.Option(
    None, "--label", "-l", help="Only items with this label (repeat for several)."
)
ModeOpt = typer.Option(
    Mode.ANY, "--mode", help="With several --label: items with any of them, or all of them."
)


def _print_hits(hits: list[Hit], as_json: bool, title: str) -> None:
    if as_json:
        print_json(hits)
        return
    rows = [
        {"rank": i, "item": h.item_id, "score": h.score, "path": h.path}
        for i, h in enumerate(hits, 1)
    ]
    print_table(rows, ["rank", "item", "score", "path"], title=title)
    if not hits:
        console.print("no results")


@handle_errors
def search(
    dataset: str = typer.Argument(..., help="The dataset to search."),
    text: str = typer.Argument(..., help="What to look for, in words."),
    space: str = typer.Option("clip", "--space", "-s", help="A clip or text embedding space."),
    k: int = KOpt,
    min_score: float | None = MinScoreOpt,
    label: list[str] | None = LabelOpt,
    mode: Mode = ModeOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Items best matching a text, best first."""
    hits = uc.search_text(
        open_workspace(workspace),
        dataset,
        text,
        space=space,
        k=k,
        min_score=min_score,
        labels=label,
        mode=mode.value,
    )
    _print_hits(hits, as_json, f'"{text}" in {dataset} ({space})')


@handle_errors
def similar(
    dataset: str = typer.Argument(..., help="The dataset to search."),
    item: int | None = typer.Option(None, "--item", "-i", help="An item id of the dataset."),
    image: Path | None = typer.Option(None, "--image", help="An image file."),
    space: str = typer.Option("clip", "--space", "-s", help="The embedding space."),
    k: int = KOpt,
    min_score: float | None = MinScoreOpt,
    label: list[str] | None = LabelOpt,
    mode: Mode = ModeOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Items most similar to an item (--item) or an image (--image); the item itself is left out."""
    hits = uc.search_similar(
        open_workspace(workspace),
        dataset,
        item_id=item,
        image=image,
        space=space,
        k=k,
        min_score=min_score,
        labels=label,
        mode=mode.value,
    )
    query = f"item {item}" if item is not None else str(image)
    _print_hits(hits, as_json, f"like {query} in {dataset} ({space})")


@handle_errors
def duplicates(
    dataset: str = typer.Argument(..., help="The dataset to search."),
    space: str = typer.Option("phash", "--space", "-s", help="The embedding space."),
    min_score: float | None = typer.Option(
        None,
        "--min-score",
        help="Leave out pairs scoring less (default by space kind: phash 0.75, clip/text 0.95).",
    ),
    k: int | None = typer.Option(None, "--k", "-k", help="How many pairs at most."),
    label: list[str] | None = LabelOpt,
    mode: Mode = ModeOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """The most similar pairs of items (near-duplicates), best first."""
    pairs: list[PairHit] = uc.find_duplicates(
        open_workspace(workspace),
        dataset,
        space=space,
        min_score=min_score,
        k=k,
        labels=label,
        mode=mode.value,
    )
    if as_json:
        print_json(pairs)
        return
    rows = [
        {
            "a": p.a.item_id,
            "b": p.b.item_id,
            "score": p.score,
            "path a": p.a.path,
            "path b": p.b.path,
        }
        for p in pairs
    ]
    print_table(rows, ["a", "b", "score", "path a", "path b"], title=f"near-duplicates ({space})")
    console.print(f"{len(pairs)} pair(s)")
