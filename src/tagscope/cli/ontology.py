"""`tagscope ontology ...`: a dataset's classes (name, colour, hotkey) and classification
questions. `tagscope ontology DATASET` shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    JsonOpt,
    ShowByDefault,
    WorkspaceOpt,
    console,
    handle_errors,
    open_workspace,
    print_json,
    print_table,
)

uc = deferred("tagscope.service.ontology")


app = typer.Typer(
    cls=ShowByDefault,
    help="A dataset's ontology: classes (name, colour, hotkey) and classification questions. "
    "`tagscope ontology DATASET` shows it.",
    no_args_is_help=True,
)
ColorOpt = typer.Option(None, "--color", help="The colour, #rrggbb (default: from a palette).")
HotkeyOpt = typer.Option(None, "--hotkey", help="One digit or letter; '' removes it.")


def _class_row(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "color": c.color,
        "hotkey": c.hotkey,
        "n_labels": c.n_labels,
    }


def _question_row(q: Any) -> dict[str, Any]:
    return {
        "id": q.id,
        "name": q.name,
        "kind": str(q.kind),
        "options": list(q.options),
        "required": q.required,
    }


@app.command()
@handle_errors
def show(dataset: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Show the dataset's classes (with their number of labels) and questions."""
    found = uc.ontology(open_workspace(workspace), dataset)
    classes = [_class_row(c) for c in found.classes]
    questions = [_question_row(q) for q in found.questions]
    if as_json:
        print_json({"classes": classes, "questions": questions})
        return
    print_table(
        classes, ["id", "name", "color", "hotkey", "n_labels"], title=f"classes of {dataset}"
    )
    rows = [{**q, "options": ", ".join(q["options"])} for q in questions]
    print_table(rows, ["id", "name", "kind", "options", "required"], title="questions")


@app.command("add-class")
@handle_errors
def add_class(
    dataset: str,
    name: str,
    color: str | None = ColorOpt,
    hotkey: str | None = HotkeyOpt,
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Add a class to the dataset's ontology."""
    made = uc.add_class(open_workspace(workspace), dataset, name, color=color, hotkey=hotkey)
    console.print(f"added class {made.name!r} ({made.color})")


@app.command("rename-class")
@handle_errors
def rename_class(
    dataset: str, name: str, new_name: str, workspace: Path | None = WorkspaceOpt
) -> None:
    """Rename a class and every label of it, in one change-set (`tagscope undo` undoes it)."""
    edit = uc.update_class(open_workspace(workspace), dataset, name, new_name=new_name)
    done = edit.ontology_class
    console.print(f"renamed class {name.strip()!r} to {done.name!r} ({done.n_labels} label(s))")
    _print_change_set(dataset, edit.change_set)


@app.command("set-class")
@handle_errors
def set_class(
    dataset: str,
    name: str,
    color: str | None = ColorOpt,
    hotkey: str | None = HotkeyOpt,
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Change a class's colour or hotkey."""
    edit = uc.update_class(open_workspace(workspace), dataset, name, color=color, hotkey=hotkey)
    done = edit.ontology_class
    console.print(f"class {done.name!r}: colour {done.color}, hotkey {done.hotkey or 'none'}")
    _print_change_set(dataset, edit.change_set)


@app.command("delete-class")
@handle_errors
def delete_class(dataset: str, name: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Delete a class no label uses."""
    change_set = uc.delete_class(open_workspace(workspace), dataset, name)
    console.print(f"deleted class {name.strip()!r}")
    _print_change_set(dataset, change_set)


@app.command("add-question")
@handle_errors
def add_question(
    dataset: str,
    name: str,
    kind: str = typer.Option(..., "--kind", help="radio, checklist or text."),
    options: list[str] | None = typer.Option(
        None, "--option", "-o", help="An option (repeat it); none for a text question."
    ),
    required: bool = typer.Option(False, "--required", help="Every classification answers it."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Add a classification question to the dataset's ontology."""
    made = uc.add_question(
        open_workspace(workspace), dataset, name, kind, options or (), required=required
    )
    console.print(f"added {made.kind} question {made.name!r}")


@app.command("delete-question")
@handle_errors
def delete_question(dataset: str, name: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Delete a question (answers given already stay on the labels)."""
    uc.delete_question(open_workspace(workspace), dataset, name)
    console.print(f"deleted question {name.strip()!r}")


def _print_change_set(dataset: str, change_set: int | None) -> None:
    if change_set is None:
        console.print("nothing changed")
    else:
        console.print(f"change-set {change_set} (undo: tagscope undo {dataset} {change_set})")
