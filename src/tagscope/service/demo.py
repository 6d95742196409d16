"""The demo: a workspace with real sample media, embedded, searched and tagged.

The steps are ordinary use cases; this module only chooses the sample and the queries, so the
CLI's ``tagscope demo`` and the README stay a few lines long.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagscope.domain import AlreadyExistsError, Hit, ImportReport, PairHit, ValidationError
from tagscope.domain.models import Model
from tagscope.service import imports, models, search, tags
from tagscope.service.embeddings import compute_embeddings
from tagscope.service.samples import CocoSample, coco_splits, default_sample
from tagscope.service.sql import SqlResult, run_sql
from tagscope.service.tag_scoring import publish_group
from tagscope.service.workspace import Workspace

# Queries that make sense for either sample (COCO photos, scikit-image photos).
QUERIES = ("a dog", "a cat", "people riding horses", "a rocket or an airplane", "food on a table")

# A tag group learnt from its names alone (each name is its tag's first text prompt).
TAG_GROUP = "demo"
TAG_NAMES = "dog\ncat\nperson\nfood"
TAG_SUMMARY = f"""
SELECT tag, count(*) FILTER (WHERE decision) AS n_tagged, round(max(score), 3) AS top_score
FROM dt_{TAG_GROUP}_visual GROUP BY tag ORDER BY n_tagged DESC
"""

# A multi-label model of the objects the captions tell of, trained on the COCO labels (F-80).
MODEL = "objects"

Step = Callable[[str], None]


@dataclass
class DemoReport:
    dataset: str
    source: str
    imported: ImportReport
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    searches: dict[str, list[Hit]] = field(default_factory=dict)
    similar: tuple[Hit, list[Hit]] | None = None
    duplicates: list[PairHit] = field(default_factory=list)
    tags: SqlResult | None = None
    model: Model | None = None


def _samples(ws: Workspace, folder: Path | None) -> list[CocoSample]:
    if folder is None:
        return default_sample(ws.paths.root / "samples" / "skimage")
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise ValidationError(f"{folder} is not a folder", field="folder")
    return coco_splits(folder) or [CocoSample(folder.name, folder, None, None)]


def run_demo(
    ws: Workspace,
    folder: Path | None = None,
    *,
    dataset: str = "demo",
    step: Step = lambda _msg: None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoReport:
    """Import a sample, embed it (``text`` where items have text, ``phash`` always), search it,
    and, where items have text, learn a tag group from its names and score the dataset.

    Parameters
    ----------
    folder : Path, optional
        A folder of images (class sub-folders become labels) or a COCO folder with
        ``annotations/instances_<split>.json``; defaults to the shared coco-mini subset when
        present, else to scikit-image's photos.
    step : callable
        Told what happens next, for the CLI to print.
    """
    samples = _samples(ws, folder)
    demo = DemoReport(dataset, ", ".join(str(s.images) for s in samples), ImportReport())
    for sample in samples:
        step(f"importing {sample.name} from {sample.images}")
        if sample.annotations is not None:
            report = imports.import_coco(
                ws,
                dataset,
                sample.annotations,
                images=sample.images,
                captions=sample.captions,
                progress=progress,
            )
        else:
            report = imports.import_images(
                ws, dataset, sample.images, labels_from_folders=True, progress=progress
            )
        demo.imported.merge(report)

    for kind in ("text", "phash"):
        step(f"embedding in the {kind} space")
        job = compute_embeddings(ws, dataset, kind=kind, progress=progress)
        demo.spaces[kind] = job.result

    # Items without text of their own (a plain folder of images) leave the text space empty.
    if len(ws.vectors(ws.dataset(dataset), "text")):
        for query in QUERIES:
            demo.searches[query] = search.search_text(ws, dataset, query, space="text", k=3)
        best = demo.searches[QUERIES[0]]
        if best:
            hits = search.search_similar(ws, dataset, item_id=best[0].item_id, space="text", k=3)
            demo.similar = (best[0], hits)
        step(f"learning tags {TAG_NAMES.replace(chr(10), ', ')} from their names and scoring")
        # A second run scores the group the first one made.
        with contextlib.suppress(AlreadyExistsError):
            tags.create_group(ws, dataset, TAG_GROUP, TAG_NAMES, space="text")
        publish_group(ws, dataset, TAG_GROUP, on_progress=progress)
        demo.tags = run_sql(ws, TAG_SUMMARY)
        demo.model = _train_model(ws, dataset, step)
    demo.duplicates = search.find_duplicates(ws, dataset, space="phash")
    return demo


def _train_model(ws: Workspace, dataset: str, step: Step) -> Model | None:
    """Train the demo's model on the labelled items' captions (again on a second run); a sample
    without enough labels of two classes has none."""
    step(f"training the multi-label model {MODEL!r} on the labels, over the text space")
    try:
        model, _ = models.train_model(
            ws, dataset, MODEL, kind="multi-label", space="text", min_examples=4, restart=True
        )
    except ValidationError as exc:
        step(f"no model: {exc}")
        return None
    return model
