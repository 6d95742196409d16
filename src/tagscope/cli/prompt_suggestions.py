"""`tagscope tags suggest`: further text prompts for a tag (F-30), and adding some or all.

The suggestions come from the LLM endpoint the judge uses (``TAGSCOPE_LLM_URL``,
``TAGSCOPE_LLM_MODEL``) or, without one, from the dataset's own captions and transcript cues
nearest the tag's prompts in its text space.
"""

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
    print_table,
)
from tagscope.domain import ValidationError

sug = deferred("tagscope.service.prompt_suggestions")


def _picked(spec: str, n: int) -> list[int]:
    """0-based indices of ``spec``: ``all`` or 1-based numbers ``1,3``."""
    if spec.strip().lower() == "all":
        return list(range(n))
    out: list[int] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part.isdigit() or not 1 <= int(part) <= n:
            raise ValidationError(
                f"--add {spec!r}: {part!r} is not a suggestion number (1 to {n}) nor 'all'",
                field="add",
            )
        out.append(int(part) - 1)
    return list(dict.fromkeys(out))


@handle_errors
def suggest(
    dataset: str,
    group: str,
    tag: str,
    modality: str = typer.Option("visual", "--modality", "-m", help="visual or transcript."),
    n: int = typer.Option(10, "-n", "--n", help="How many suggestions at most."),
    source: str = typer.Option(
        "auto", "--source", help="auto (the LLM endpoint if configured), llm or dataset."
    ),
    add: str | None = typer.Option(
        None, "--add", help="Add suggestions as positive prompts: all, or numbers like 1,3."
    ),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Suggest text prompts for a tag (from the LLM endpoint, else the dataset's own texts)."""
    ws = open_workspace(workspace)
    found = sug.suggest_prompts(ws, dataset, group, tag, modality=modality, n=n, source=source)
    texts = [s.text for s in found.suggestions]
    added = []
    if add is not None and texts:
        chosen = [texts[i] for i in _picked(add, len(texts))]
        added = sug.add_suggestions(ws, dataset, group, tag, chosen, modality=modality)
    if as_json:
        print_json({**_json(found), "added": added})
        return
    origin = (
        f"the LLM endpoint (model {found.model})"
        if found.source == "llm"
        else f"the dataset's texts (space {found.space}, {found.model})"
    )
    console.print(f"{len(texts)} {found.modality} prompt suggestion(s) for {tag!r} from {origin}")
    rows = [
        {
            "#": i + 1,
            "prompt": s.text,
            "score": s.score,
            "items": ", ".join(map(str, s.item_ids[:5])) + (" ..." if len(s.item_ids) > 5 else ""),
        }
        for i, s in enumerate(found.suggestions)
    ]
    columns = ["#", "prompt"] + (["score", "items"] if found.source == "dataset" else [])
    print_table(rows, columns, title=f"suggestions for {tag}")
    for p in added:
        console.print(f"added {p.polarity} {p.modality} prompt [{p.id}] {p.text!r}", markup=False)
    if add is None and texts:
        console.print(
            f"add them with `tagscope tags suggest {dataset} {group} {tag!r} --add all` "
            "(or --add 1,3)",
            markup=False,
        )


def _json(found: Any) -> dict[str, Any]:
    return {
        "tag": found.tag,
        "modality": str(found.modality),
        "source": found.source,
        "model": found.model,
        "space": found.space,
        "suggestions": [
            {"text": s.text, "score": s.score, "item_ids": list(s.item_ids)}
            for s in found.suggestions
        ],
    }
