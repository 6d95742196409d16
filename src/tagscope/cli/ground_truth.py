"""`tagscope tags review / reviews / judge`: a tag's ground truth (F-29).

People record reviews; an LLM judge (any OpenAI-compatible endpoint, configured with
``TAGSCOPE_LLM_URL`` and ``TAGSCOPE_LLM_MODEL``) proposes them for a stratified sample; people
list the proposals and remove the wrong ones before ``tagscope tags evaluate``.
"""

from __future__ import annotations

from pathlib import Path

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
    print_table,
    progress_bar,
)

uc = deferred("tagscope.service.tags")
gt = deferred("tagscope.service.ground_truth")


@handle_errors
def review(
    dataset: str,
    group: str,
    tag: str,
    item_ids: list[int],
    no: bool = typer.Option(False, "--no", help="The items do NOT show the tag."),
    remove: bool = typer.Option(False, "--remove", help="Remove the items' reviews instead."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Record ground truth: the items show the tag (or, with --no, do not); or --remove it."""
    ws = open_workspace(workspace)
    if remove:
        n = gt.remove_reviews(ws, dataset, group, tag, item_ids)
        console.print(f"removed {n} review(s) of {tag!r}")
        return
    n = uc.add_reviews(ws, dataset, group, tag, dict.fromkeys(item_ids, not no))
    console.print(f"recorded {n} review(s) for {tag!r}")


@handle_errors
def reviews(
    dataset: str,
    group: str,
    tag: str,
    source: str | None = typer.Option(None, "--source", help="person or llm (default: both)."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List the tag's reviews: the verdict, who gave it (a person or the LLM judge) and why."""
    found = gt.list_reviews(open_workspace(workspace), dataset, group, tag, source=source)
    if as_json:
        print_json(found)
        return
    rows = [
        {
            "item_id": r.item_id,
            "shows": "yes" if r.label else "no",
            "source": r.source,
            "reason": (r.reason or "")[:60],
            "path": Path(r.path).name,
        }
        for r in found
    ]
    print_table(rows, ["item_id", "shows", "source", "reason", "path"], title=f"reviews of {tag}")


@handle_errors
def judge(
    dataset: str,
    group: str,
    tag: str,
    n: int = typer.Option(400, "--n", help="Items to ask about (a stratified sample)."),
    modality: str = typer.Option("visual", "--modality", "-m"),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Ask the configured LLM judge about a sample; its verdicts become reviews to clean."""
    ws = open_workspace(workspace)
    with progress_bar(f"judging {tag}", enabled=not quiet) as report:
        job = gt.judge_tag(ws, dataset, group, tag, n=n, modality=modality, progress=report)
    result = job.result or {}
    if as_json:
        print_json(result)
        return
    console.print(
        f"{result['n_judged']} item(s) judged ({result['n_positive']} show {tag!r}), "
        f"{result['n_skipped']} already reviewed, {result['n_failed']} failed"
    )
    for problem in result["problems"][:20]:
        console.print(f"  item {problem['item_id']}: {problem['reason']}", markup=False)
    console.print(f"check them with `tagscope tags reviews {dataset} {group} {tag!r} --source llm`")
