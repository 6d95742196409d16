"""`tagscope tags ...`: tag groups, prompts, examples, preview, publish, apply, evaluate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from tagscope.cli import ground_truth, prompt_suggestions
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
    styled,
)
from tagscope.domain.tags import SCORE_CHUNK_SIZE, TagGroup

uc = deferred("tagscope.service.tags")

app = typer.Typer(
    help="Tag groups: create, refine with prompts and examples, publish, apply, evaluate.",
    no_args_is_help=True,
)
prompt_app = typer.Typer(help="Add, edit or remove a tag's text prompts.", no_args_is_help=True)
app.add_typer(prompt_app, name="prompt")
for verb in (ground_truth.review, ground_truth.reviews, ground_truth.judge):
    app.command()(verb)
app.command()(prompt_suggestions.suggest)

NegativeOpt = typer.Option(False, "--negative", "-n", help="A negative (what to ignore).")
ModalityOpt = typer.Option("visual", "--modality", "-m", help="visual or transcript.")


def _names(names: list[str] | None, from_file: Path | None) -> str:
    if from_file is not None:
        return sys.stdin.read() if str(from_file) == "-" else from_file.read_text()
    return "\n".join(names or [])


def _group_json(group: TagGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "table": group.table(),
        "dataset": group.dataset,
        "space": group.space,
        "visibility": str(group.visibility),
        "state": str(group.state),
        "version": group.version,
        "tags": [
            {
                "name": t.name,
                "threshold": t.threshold,
                "revision": t.revision,
                "prompts": [
                    {
                        "id": p.id,
                        "text": p.text,
                        "polarity": str(p.polarity),
                        "modality": str(p.modality),
                    }
                    for p in t.prompts
                ],
                "examples": [
                    {"item_id": e.item_id, "polarity": str(e.polarity)} for e in t.examples
                ],
            }
            for t in group.tags
        ],
    }


# -- groups -------------------------------------------------------------------------------
@app.command()
@handle_errors
def create(
    dataset: str,
    group: str,
    names: list[str] | None = typer.Argument(None, help="Tag names (or use --from-file)."),
    from_file: Path | None = typer.Option(
        None, "--from-file", "-f", help="Tag names, one per line ('-': stdin)."
    ),
    visibility: str = typer.Option("secret", "--visibility", help="secret or shareable."),
    space: str | None = typer.Option(None, "--space", help="Embedding space to learn from."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Create a tag group on DATASET; each name becomes a tag and its first text prompt."""
    grp = uc.create_group(
        open_workspace(workspace),
        dataset,
        group,
        _names(names, from_file),
        visibility=visibility,
        space=space,
    )
    chosen = "" if space else " (the default semantic space; choose another with --space)"
    console.print(
        f"created tag group {grp.name!r} on {grp.dataset!r} with {len(grp.tags)} tag(s): "
        + ", ".join(t.name for t in grp.tags)
        + f"\nspace {grp.space!r}{chosen}"
    )


@app.command("list")
@handle_errors
def list_(
    dataset: str | None = typer.Argument(None, help="Only groups this dataset uses."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List tag groups."""
    groups = uc.list_groups(open_workspace(workspace), dataset)
    rows = [
        {
            "name": g.name,
            "dataset": g.dataset,
            "state": str(g.state),
            "version": g.version,
            "visibility": str(g.visibility),
            "tags": ", ".join(t.name for t in g.tags),
            "table": g.table(),
        }
        for g in groups
    ]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["name", "dataset", "state", "version", "visibility", "tags", "table"])


@app.command()
@handle_errors
def show(group: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Show a group's tags with their prompts (and prompt ids), examples and thresholds."""
    grp = uc.get_group(open_workspace(workspace), group)
    data = _group_json(grp)
    if as_json:
        print_json(data)
        return
    console.print(
        styled(
            (grp.name, "bold"),
            f" on {grp.dataset!r} ({grp.state}, version {grp.version}, "
            f"{grp.visibility}, space {grp.space!r}); SQL table {grp.table()}",
        )
    )
    for tag in data["tags"]:
        n_pos = sum(e["polarity"] == "positive" for e in tag["examples"])
        n_neg = len(tag["examples"]) - n_pos
        console.print(
            styled(
                "  ",
                (tag["name"], "bold"),
                f": threshold {tag['threshold']:.2f}, "
                f"{n_pos} positive / {n_neg} negative example(s)",
            )
        )
        for p in tag["prompts"]:
            sign = "+" if p["polarity"] == "positive" else "-"
            console.print(f"    [{p['id']}] {sign} {p['modality']}: {p['text']}")


@app.command()
@handle_errors
def visibility(dataset: str, group: str, value: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Make a group secret or shareable."""
    grp = uc.set_visibility(open_workspace(workspace), dataset, group, value)
    console.print(f"tag group {grp.name!r} is {grp.visibility}")


# -- tags ---------------------------------------------------------------------------------
@app.command("add")
@handle_errors
def add_tags(
    dataset: str,
    group: str,
    names: list[str] | None = typer.Argument(None),
    from_file: Path | None = typer.Option(None, "--from-file", "-f"),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Add tags to a group."""
    grp = uc.add_tags(open_workspace(workspace), dataset, group, _names(names, from_file))
    console.print(f"{grp.name!r} has tags: " + ", ".join(t.name for t in grp.tags))


@app.command()
@handle_errors
def rename(
    dataset: str, group: str, tag: str, new_name: str, workspace: Path | None = WorkspaceOpt
) -> None:
    """Rename a tag."""
    uc.rename_tag(open_workspace(workspace), dataset, group, tag, new_name)
    console.print(f"renamed {tag!r} to {new_name!r}")


@app.command()
@handle_errors
def remove(dataset: str, group: str, tag: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Remove a tag from a group."""
    uc.remove_tag(open_workspace(workspace), dataset, group, tag)
    console.print(f"removed tag {tag!r}")


# -- text prompts -------------------------------------------------------------------------
@prompt_app.command("add")
@handle_errors
def prompt_add(
    dataset: str,
    group: str,
    tag: str,
    text: str,
    negative: bool = NegativeOpt,
    modality: str = ModalityOpt,
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Add a text prompt to a tag."""
    p = uc.add_prompt(
        open_workspace(workspace),
        dataset,
        group,
        tag,
        text,
        polarity="negative" if negative else "positive",
        modality=modality,
    )
    console.print(f"added {p.polarity} {p.modality} prompt [{p.id}] {p.text!r}")


@prompt_app.command("edit")
@handle_errors
def prompt_edit(
    dataset: str,
    group: str,
    tag: str,
    prompt_id: int,
    text: str | None = typer.Option(None, "--text"),
    polarity: str | None = typer.Option(None, "--polarity", help="positive or negative."),
    modality: str | None = typer.Option(None, "--modality", help="visual or transcript."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Change a prompt's text, polarity or modality (ids: `tagscope tags show GROUP`)."""
    p = uc.edit_prompt(
        open_workspace(workspace),
        dataset,
        group,
        tag,
        prompt_id,
        text=text,
        polarity=polarity,
        modality=modality,
    )
    console.print(f"prompt [{p.id}] is now {p.polarity} {p.modality}: {p.text!r}")


@prompt_app.command("remove")
@handle_errors
def prompt_remove(
    dataset: str, group: str, tag: str, prompt_id: int, workspace: Path | None = WorkspaceOpt
) -> None:
    """Remove a prompt (ids: `tagscope tags show GROUP`)."""
    uc.remove_prompt(open_workspace(workspace), dataset, group, tag, prompt_id)
    console.print(f"removed prompt [{prompt_id}]")


# -- examples, threshold, reviews ---------------------------------------------------------
@app.command()
@handle_errors
def mark(
    dataset: str,
    group: str,
    tag: str,
    item_ids: list[int],
    negative: bool = NegativeOpt,
    unmark: bool = typer.Option(False, "--remove", help="Remove the items from the examples."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Mark items as positive (or --negative) examples of a tag, in bulk."""
    ws = open_workspace(workspace)
    if unmark:
        n = uc.unmark_items(ws, dataset, group, tag, item_ids)
        console.print(f"removed {n} example(s) from {tag!r}")
        return
    polarity = "negative" if negative else "positive"
    n = uc.mark_items(ws, dataset, group, tag, item_ids, polarity=polarity)
    console.print(f"marked {n} item(s) {polarity} for {tag!r}")


@app.command()
@handle_errors
def threshold(
    dataset: str, group: str, tag: str, value: float, workspace: Path | None = WorkspaceOpt
) -> None:
    """Save a tag's threshold (used in the decision column of the next score files)."""
    t = uc.save_threshold(open_workspace(workspace), dataset, group, tag, value)
    console.print(f"threshold of {t.name!r} is {t.threshold:.3f}; publish again to apply it")


# -- preview, uncertain (F-24, F-25) ------------------------------------------------------
def _scored_rows(items: list[uc.ScoredItem], side: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for it in items:
        row: dict[str, Any] = {"item_id": it.item_id, "score": it.score, "path": it.path}
        if side:
            row = {"side": side, **row}
        row["text"] = (it.text or "").split("\n", 1)[0][:60]
        rows.append(row)
    return rows


@app.command()
@handle_errors
def preview(
    dataset: str,
    group: str,
    tag: str,
    threshold_: float | None = typer.Option(None, "--threshold", "-t", help="Default: saved."),
    view: str = typer.Option("compare", "--view", help="compare, positives or negatives."),
    n: int = typer.Option(12, "--n", help="Items per side."),
    modality: str = typer.Option("visual", "--modality", "-m"),
    stratified: bool | None = typer.Option(
        None, "--stratified/--random", help="10 per score bucket (default once scored)."
    ),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show a sample of a tag's positives and negatives at a threshold."""
    p = uc.preview_tag(
        open_workspace(workspace),
        dataset,
        group,
        tag,
        threshold=threshold_,
        view=view,
        n=n,
        modality=modality,
        stratified=stratified,
    )
    if as_json:
        print_json(p)
        return
    how = "stratified sample" if p.stratified else "random sample"
    source = "current definition (not published)" if p.live else f"scores of version {p.version}"
    console.print(
        styled(
            (p.tag, "bold"),
            f" at threshold {p.threshold:.2f}: {p.n_positive} positive, "
            f"{p.n_negative} negative ({how}; {source})",
        )
    )
    rows = _scored_rows(p.positives, "+") + _scored_rows(p.negatives, "-")
    print_table(rows, ["side", "item_id", "score", "path", "text"])


@app.command()
@handle_errors
def uncertain(
    dataset: str,
    group: str,
    tag: str,
    k: int = typer.Option(20, "--k", help="How many items."),
    diversity: float = typer.Option(0.5, "--diversity", help="0: nearest only; 1: spread."),
    modality: str = typer.Option("visual", "--modality", "-m"),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Items nearest the tag's decision boundary, diverse: the ones worth labelling next."""
    items = uc.uncertain_items(
        open_workspace(workspace),
        dataset,
        group,
        tag,
        k=k,
        diversity=diversity,
        modality=modality,
    )
    if as_json:
        print_json(items)
    else:
        print_table(_scored_rows(items), ["item_id", "score", "path", "text"])


# -- publish, apply, uses, versions (F-26, F-27) ------------------------------------------
ChunkOpt = typer.Option(SCORE_CHUNK_SIZE, "--chunk-size", help="Items per score-file part.")


def _report_job(job: Any, verb: str) -> None:
    r = job.result
    resumed = f", {r['n_resumed']} already there" if r.get("n_resumed") else ""
    console.print(
        f"{verb} {r['group']!r} version {r['version']} on {r['dataset']!r}: "
        f"{r['n_scored']} item(s) scored{resumed}; SQL: {', '.join(r['tables'])}"
    )


@app.command()
@handle_errors
def publish(
    dataset: str,
    group: str,
    visibility_: str | None = typer.Option(None, "--visibility", help="secret or shareable."),
    chunk_size: int = ChunkOpt,
    quiet: bool = QuietOpt,
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Publish (commit) a group and score its training dataset; resumes a killed run."""
    ws = open_workspace(workspace)
    with progress_bar("scoring", enabled=not quiet) as report:
        job = uc.publish_group(
            ws, dataset, group, visibility=visibility_, chunk_size=chunk_size, on_progress=report
        )
    _report_job(job, "published")


@app.command()
@handle_errors
def apply(
    dataset: str,
    group: str,
    chunk_size: int = ChunkOpt,
    quiet: bool = QuietOpt,
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Apply a shareable group to DATASET and score it (again: update to the latest version)."""
    ws = open_workspace(workspace)
    with progress_bar("scoring", enabled=not quiet) as report:
        job = uc.apply_group(ws, dataset, group, chunk_size=chunk_size, on_progress=report)
    _report_job(job, "applied")


def _use_rows(uses: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "group": u.group,
            "dataset": u.dataset,
            "role": "training" if u.is_training else "applied",
            "status": str(u.status),
            "version": u.version,
            "latest_version": u.latest_version,
            "update_available": u.update_available,
            "progress": f"{u.n_done}/{u.n_total}",
            "error": u.error,
        }
        for u in uses
    ]


@app.command()
@handle_errors
def uses(
    group: str | None = typer.Argument(None, help="A group: the datasets using it."),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="The groups it uses."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Datasets using a group (or groups a dataset uses): scoring status, update available."""
    ws = open_workspace(workspace)
    if (group is None) == (dataset is None):
        raise typer.BadParameter("give a GROUP or --dataset")
    found = uc.list_uses(ws, group) if group else uc.dataset_uses(ws, dataset or "")
    rows = _use_rows(found)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        row["update"] = "available" if row.pop("update_available") else ""
    cols = ["group", "dataset", "role", "status", "version", "update", "progress"]
    print_table(rows, [*cols, "error"] if any(r["error"] for r in rows) else cols)


@app.command()
@handle_errors
def versions(group: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """The committed versions of a group (all kept)."""
    found = uc.list_versions(open_workspace(workspace), group)
    rows = [
        {
            "version": v.version,
            "created_at": v.created_at,
            "tags": ", ".join(f"{t.name} ({t.threshold:.2f})" for t in v.tags),
        }
        for v in found
    ]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["version", "created_at", "tags"])


# -- histogram, evaluation (F-28, F-29) ---------------------------------------------------
@app.command()
@handle_errors
def histogram(
    dataset: str,
    group: str,
    tag: str,
    bins: int = typer.Option(20, "--bins"),
    min_score: float = typer.Option(0.0, "--min-score", help="Zoom into the rare positives."),
    modality: str = typer.Option("visual", "--modality", "-m"),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Histogram of a tag's scores, each bin with the grid filter that selects its items."""
    h = uc.tag_histogram(
        open_workspace(workspace),
        dataset,
        group,
        tag,
        bins=bins,
        min_score=min_score,
        modality=modality,
    )
    if as_json:
        print_json(h)
        return
    top = max((b.count for b in h.bins), default=0) or 1
    rows = [
        {
            "range": f"{b.lo:.3f}-{b.hi:.3f}",
            "count": b.count,
            "bar": "#" * round(30 * b.count / top),
            "where": b.where,
        }
        for b in h.bins
    ]
    console.print(
        styled(
            (h.tag, "bold"),
            f" (version {h.version}): {h.n_items} items, {h.n_below} below "
            f"{h.min_score:g}; tagged: {h.where_tagged}",
        )
    )
    print_table(rows, ["range", "count", "bar", "where"])


@app.command()
@handle_errors
def evaluate(
    dataset: str,
    group: str,
    tag: str,
    metric: str = typer.Option("f1", "--metric", help="f1, f0.5, precision, recall, accuracy."),
    labels: list[str] | None = typer.Option(
        None, "--label", "-l", help="Label names meaning the tag (default: the tag's name)."
    ),
    save: bool = typer.Option(False, "--save", help="Save the recommended threshold."),
    modality: str = typer.Option("visual", "--modality", "-m"),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Precision, recall, F1, F0.5 and accuracy over thresholds; the recommended threshold."""
    ws = open_workspace(workspace)
    e = uc.evaluate_tag(ws, dataset, group, tag, metric=metric, labels=labels, modality=modality)
    if save:
        uc.save_threshold(ws, dataset, group, tag, e.recommended_threshold)
    if as_json:
        print_json(e)
        return
    console.print(
        styled(
            (e.tag, "bold"),
            f": {e.n_positive} positive / {e.n_negative} negative ground-truth "
            f"item(s) ({e.n_reviewed} reviewed, {e.n_from_labels} from labels "
            f"{', '.join(e.label_names)})",
        )
    )
    rows = [
        {"threshold": f"{e.recommended_threshold:.2f} (best {e.metric})", **e.at_recommended},
        {"threshold": f"{e.threshold:.2f} (saved)", **e.at_threshold},
    ]
    print_table(rows, ["threshold", "precision", "recall", "f1", "f0.5", "accuracy"])
    if save:
        console.print(f"saved threshold {e.recommended_threshold:.2f}; publish again to apply it")
