"""`tagscope models ...`: train classifiers and detectors on a dataset's labels, read their
statistics, set thresholds, predict image files, export an offline bundle."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    JsonOpt,
    QuietOpt,
    WorkspaceOpt,
    console,
    err_console,
    handle_errors,
    open_workspace,
    print_json,
    print_table,
    progress_bar,
)
from tagscope.domain import JobStatus, TagscopeError, ValidationError

uc = deferred("tagscope.service.models")
preds = deferred("tagscope.service.model_predictions")
jobs = deferred("tagscope.service.jobs")

app = typer.Typer(
    help="Models: train classifiers and detectors on the labels, statistics, predictions, export.",
    no_args_is_help=True,
)
_POLL_S = 0.2  # how often `models train` reads the job and the learning curve
_COLUMNS = ["name", "kind", "space", "status", "classes", "map", "best_epoch", "stop_reason"]


def _epoch_line(row: dict[str, Any]) -> str:
    """One epoch of the learning curve: ``epoch 7: loss 0.312 / 0.355, metric 0.71 / 0.64``."""

    def num(key: str) -> str:
        value = row.get(key)
        return "-" if value is None else f"{value:.4g}"

    return (
        f"epoch {row.get('epoch')}: loss {num('train_loss')} train / {num('val_loss')} val, "
        f"metric {num('train_metric')} train / {num('val_metric')} val"
    )


def _summary_row(m: dict[str, Any]) -> dict[str, Any]:
    """One row of the models table from a model's JSON (local ``to_dict()`` or REST)."""
    metrics = m["metrics"]
    return {
        **{k: m[k] for k in ("name", "kind", "space", "status")},
        "classes": len(m["classes"]),
        **{k: metrics.get(k) for k in ("map", "best_epoch", "stop_reason")},
    }


def print_models(models: list[dict[str, Any]], dataset: str) -> None:
    """The models table (``tagscope models list`` and ``remote models``)."""
    print_table([_summary_row(m) for m in models], _COLUMNS, title=f"models of {dataset}")


def print_predictions(result: dict[str, Any]) -> None:
    """The prediction JSON as lines: the predicted classes per file, its top-5 scores or its
    boxes (``tagscope models predict`` and ``remote predict``)."""
    for p in result["predictions"]:
        console.print(f"{p['file']}: {', '.join(p['predicted']) or '(none)'}")
        if p.get("scores") is not None:
            best = sorted(p["scores"].items(), key=lambda kv: -kv[1])[:5]
            console.print("  " + ", ".join(f"{c} {s:.3f}" for c, s in best))
        for box in p.get("boxes") or []:
            console.print(f"  {box['class']} {box['score']:.3f} at {box['bbox']}")


def _print_model(m: Any) -> None:
    print_table([_summary_row(m.to_dict())], _COLUMNS, title=f"model {m.name} of {m.dataset}")
    if m.error:
        console.print(f"error: {m.error}")
    if m.history:
        console.print(_epoch_line(m.history[-1]))
    rows = [
        {
            "class": c,
            "threshold": m.thresholds.get(c),
            "optimized": m.optimized_thresholds.get(c),
        }
        for c in m.classes
    ]
    if rows:
        print_table(rows, ["class", "threshold", "optimized"], title="thresholds")
    skipped = m.metrics.get("skipped_classes")
    if skipped:
        console.print(f"skipped classes (too few examples): {', '.join(map(str, skipped))}")


def _follow(
    ws: Any, model: Any, job: Any, report: Callable[[int, int], None], *, show_epochs: bool
) -> tuple[Any, Any]:
    """Wait for a training job started in this process, drawing its progress and printing the
    learning curve's latest epoch (at most every second, and the last); Ctrl-C asks it to stop
    (keeping the best checkpoint) and waits for that. Raises the job's error, if it fails."""
    printed, printed_at, stopping = 0, float("-inf"), False
    while job.status not in (JobStatus.DONE, JobStatus.ERROR):
        try:
            time.sleep(_POLL_S)
            job = jobs.get_job(ws, job.id)  # first: once done, the model read next is final
            model = uc.get_model(ws, model.dataset, model.name)
            n = len(model.history)
            ended = job.status in (JobStatus.DONE, JobStatus.ERROR)
            if show_epochs and n > printed and (ended or time.monotonic() - printed_at >= 1):
                err_console.print(_epoch_line(model.history[-1]))
                printed, printed_at = n, time.monotonic()
            # The curve, not the job's progress: that is written at most twice a second.
            report(n, max(job.n_total, n))
        except KeyboardInterrupt:
            if stopping:
                raise
            stopping = True
            err_console.print("stopping: the model keeps its best checkpoint (Ctrl-C again quits)")
            with suppress(ValidationError):  # it finished meanwhile
                uc.stop_model(ws, model.dataset, model.name)
    if job.status == JobStatus.ERROR:
        raise TagscopeError(f"training model {model.name!r} failed: {job.error}")
    return model, job


@app.command()
@handle_errors
def train(
    dataset: str,
    name: str,
    kind: str = typer.Option(..., "--kind", help="single-label, multi-label or detector."),
    space: str | None = typer.Option(
        None, "--space", "-s", help="Classifiers: the embedding space to learn on."
    ),
    collection: str | None = typer.Option(
        None, "--collection", "-c", help="Train on this collection's items only."
    ),
    where: str | None = typer.Option(
        None, "--where", help="Train on the items matching this SQL filter."
    ),
    validation: str = typer.Option(
        "0.2",
        "--validation",
        help="A share held out (stratified): 0.2 or 20%; or 'split' (the validation set).",
    ),
    learning_rate: float | None = typer.Option(None, "--learning-rate", "--lr", min=0.0),
    time_limit: float | None = typer.Option(None, "--time-limit", min=0.0, help="Seconds."),
    patience: int | None = typer.Option(
        None, "--patience", min=1, help="Epochs without a better validation loss before stopping."
    ),
    max_epochs: int | None = typer.Option(None, "--max-epochs", min=1),
    hidden: int = typer.Option(0, "--hidden", min=0, help="Classifiers: a hidden layer's width."),
    background: bool = typer.Option(
        False, "--background", help="Single-label: images without a class form 'background'."
    ),
    size: str = typer.Option("small", "--size", help="Detectors: small, medium or large."),
    fine_tune: bool = typer.Option(
        False, "--fine-tune", help="CLIP-space classifiers: fine-tune the image tower too (GPU)."
    ),
    seed: int = typer.Option(0, "--seed", min=0),
    restart: bool = typer.Option(False, "--restart", help="Replace a model of that name."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Train a model on the dataset's labels (a job: Ctrl-C or `models stop` from elsewhere
    keeps the best checkpoint; the same command resumes a killed one)."""
    ws = open_workspace(workspace)
    options = {
        "kind": kind, "space": space, "collection": collection, "where": where,
        "validation": validation, "learning_rate": learning_rate, "time_limit": time_limit,
        "patience": patience, "max_epochs": max_epochs, "hidden": hidden,
        "background": background, "size": size, "seed": seed, "restart": restart,
        "fine_tune": fine_tune,
    }  # fmt: skip
    model, job = uc.start_training(ws, dataset, name, **options)
    with progress_bar(f"training {name}", enabled=not quiet) as report:
        model, _ = _follow(ws, model, job, report, show_epochs=not quiet)
    if as_json:
        print_json(model.to_dict())
        return
    metrics = model.metrics
    console.print(
        f"model {model.name!r} ({model.kind}, {len(model.classes)} classes) is {model.status}: "
        f"stopped by {metrics.get('stop_reason')}, best epoch {metrics.get('best_epoch')}, "
        f"mAP {_num(metrics.get('map'))}"
        + (f", accuracy {_num(metrics['accuracy'])}" if "accuracy" in metrics else "")
        + f" on {metrics.get('n_validation')} validation items"
    )


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


@app.command("list")
@handle_errors
def list_(dataset: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """List the dataset's models."""
    models = uc.list_models(open_workspace(workspace), dataset)
    if as_json:
        print_json([m.to_dict() for m in models])
        return
    print_models([m.to_dict() for m in models], dataset)


@app.command()
@handle_errors
def show(
    dataset: str, name: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt
) -> None:
    """Show a model: status, metrics, the latest epoch, thresholds per class."""
    model = uc.get_model(open_workspace(workspace), dataset, name)
    if as_json:
        print_json(model.to_dict())
        return
    _print_model(model)


@app.command()
@handle_errors
def statistics(
    dataset: str,
    name: str,
    subset: str = typer.Option("validation", "--subset", help="validation or train."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Per class average precision and best threshold (max F1); accuracy for single-label."""
    stats = uc.model_statistics(open_workspace(workspace), dataset, name, subset=subset)
    if as_json:
        print_json(stats)
        return
    per_class = stats.get("per_class", {})
    rows = [
        {
            "class": c,
            "ap": s.get("ap", s.get("ap50")),
            "n_positive": s.get("n_positive"),
            "best_threshold": s.get("best_threshold"),
        }
        for c, s in per_class.items()
    ]
    print_table(rows, ["class", "ap", "n_positive", "best_threshold"], title=f"{name}: {subset}")
    extra = f", accuracy {_num(stats['accuracy'])}" if "accuracy" in stats else ""
    console.print(f"mAP {_num(stats.get('map'))}{extra}")


@app.command()
@handle_errors
def stop(dataset: str, name: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Stop a model's training: it keeps its best checkpoint."""
    model = uc.stop_model(open_workspace(workspace), dataset, name)
    console.print(f"stopping model {model.name!r} ({model.status})")


@app.command()
@handle_errors
def threshold(
    dataset: str,
    name: str,
    class_name: str | None = typer.Argument(None, metavar="[CLASS]", help="The class to set."),
    value: float | None = typer.Argument(None, help="Its threshold, in [0, 1]."),
    optimized: bool = typer.Option(
        False, "--optimized", help="Every class back to its optimized (max F1) threshold."
    ),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show the thresholds, set one class's (CLASS VALUE), or reset them all (--optimized)."""
    ws = open_workspace(workspace)
    if optimized and class_name is not None:
        raise ValidationError("give CLASS VALUE or --optimized, not both", field="class")
    if (class_name is None) != (value is None):
        raise ValidationError("give both CLASS and VALUE", field="value")
    if optimized:
        model = uc.set_thresholds(ws, dataset, name, None)
    elif class_name is not None:
        current = uc.get_model(ws, dataset, name).thresholds
        model = uc.set_thresholds(ws, dataset, name, {**current, class_name: value})
    else:
        model = uc.get_model(ws, dataset, name)
    if as_json:
        print_json({"thresholds": model.thresholds, "optimized": model.optimized_thresholds})
        return
    rows = [
        {"class": c, "threshold": model.thresholds.get(c), "optimized": t}
        for c, t in model.optimized_thresholds.items()
    ]
    print_table(rows, ["class", "threshold", "optimized"], title=f"thresholds of {name}")


@app.command()
@handle_errors
def predict(
    dataset: str,
    name: str,
    images: list[Path] = typer.Argument(..., help="Image files.", exists=True, dir_okay=False),
    last: bool = typer.Option(False, "--last", help="The latest checkpoint, not the best."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Predict image files: class scores per image (--json: the REST API's answer)."""
    files = [(p.name, p.read_bytes()) for p in images]
    result = preds.predict_images(
        open_workspace(workspace),
        dataset,
        name,
        files,
        checkpoint="last" if last else "best",
    )
    if as_json:
        print_json(result)
        return
    print_predictions(result)


@app.command()
@handle_errors
def export(
    dataset: str,
    name: str,
    out: Path = typer.Option(..., "--out", "-o", help="The bundle's folder."),
    last: bool = typer.Option(False, "--last", help="The latest checkpoint, not the best."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Export an offline bundle (ONNX, classes, thresholds); serve it with
    `tagscope-predict-server DIR`."""
    folder = uc.export_model(
        open_workspace(workspace), dataset, name, out, checkpoint="last" if last else "best"
    )
    console.print(
        f"exported model {name!r} to {folder}; serve it: tagscope-predict-server {folder}"
    )


@app.command()
@handle_errors
def delete(dataset: str, name: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Delete a model with its checkpoints and predictions."""
    uc.delete_model(open_workspace(workspace), dataset, name)
    console.print(f"deleted model {name!r}")
