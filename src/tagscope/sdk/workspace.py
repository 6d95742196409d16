"""The Python SDK: a workspace and its datasets, over the same use cases as the CLI and API.

Examples
--------
>>> import tagscope as ts
>>> ws = ts.open("tagscope-data")                                   # doctest: +SKIP
>>> ds = ws.create_dataset("coco")                                  # doctest: +SKIP
>>> ds.import_coco("instances.json", images="val2017/", captions="captions.json")  # doctest: +SKIP
>>> ds.embed(kind="text")                                           # doctest: +SKIP
>>> [(h.score, h.path) for h in ds.search("a dog", space="text", k=3)]  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from tagscope._lazy import deferred
from tagscope.domain import Dataset as _DatasetRecord
from tagscope.domain import Hit, ImportReport, Item, Job, Label, NotFoundError, PairHit
from tagscope.domain.changes import ChangeSet, UndoResult
from tagscope.domain.collections import Collection
from tagscope.domain.ontology import Ontology, OntologyClass, Question, QuestionKind
from tagscope.domain.review import ResultSet
from tagscope.sdk import tags as _sdk_tags
from tagscope.sdk.label_jobs import LabelJob
from tagscope.sdk.models import Model
from tagscope.sdk.view import View
from tagscope.service import datasets as _datasets
from tagscope.service import history as _history
from tagscope.service import ontology as _ontology
from tagscope.service.history import UndoUserResult
from tagscope.service.workspace import Workspace as _Workspace

if TYPE_CHECKING:
    from tagscope.service import embeddings as _embeddings
    from tagscope.service import exports as _exports
    from tagscope.service import imports as _imports
    from tagscope.service import search as _search
    from tagscope.service import sql as _sql
    from tagscope.service import thumbnails as _thumbnails
    from tagscope.service.bulk import BulkResult
    from tagscope.service.labels import LabelEdit
    from tagscope.service.metadata_import import MetadataReport
    from tagscope.service.thumbnails import ThumbnailMode
    from tagscope.service.video_import import VideoImportReport
else:
    # Deferred: opening a workspace and listing datasets must not load models, indexes or DuckDB.
    _embeddings = deferred("tagscope.service.embeddings")
    _exports = deferred("tagscope.service.exports")
    _imports = deferred("tagscope.service.imports")
    _search = deferred("tagscope.service.search")
    _sql = deferred("tagscope.service.sql")
    _thumbnails = deferred("tagscope.service.thumbnails")

PathLike = str | os.PathLike[str]

_LISTED = 20  # dataset names a "no such dataset" message lists at most


@contextmanager
def _bar(enabled: bool, desc: str) -> Iterator[Callable[[int, int], None] | None]:
    """A tqdm bar (a widget in notebooks) fed by a use case's ``progress(n_done, n_total)``."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm  # deferred: tqdm.auto looks for IPython widgets

    bar = tqdm(desc=desc, unit="item")

    def report(n_done: int, n_total: int) -> None:
        bar.total = n_total
        bar.n = n_done
        bar.refresh()

    try:
        yield report
    finally:
        bar.close()


def open(root: PathLike | None = None) -> Workspace:
    """Open (creating if needed) a workspace: ``root``, else ``$TAGSCOPE_HOME``, else
    ``./tagscope-data``; ``$TAGSCOPE_DATABASE_URL`` puts the catalog in PostgreSQL."""
    return Workspace(_Workspace.open(root))


class Workspace:
    """A workspace: datasets, their media, vectors and scores."""

    def __init__(self, service_ws: _Workspace) -> None:
        self._ws = service_ws

    @property
    def root(self) -> str:
        return str(self._ws.paths.root)

    def datasets(self) -> list[str]:
        return [d.name for d in _datasets.list_datasets(self._ws)]

    def dataset(self, name: str) -> Dataset:
        """The existing dataset ``name`` (see :meth:`create_dataset` to make one).

        Raises
        ------
        NotFoundError
            No dataset has that name; the message lists the workspace's datasets and the
            closest name, so a misspelling never creates an empty dataset.
        """
        try:
            self._ws.dataset(name)
        except NotFoundError:
            raise NotFoundError(_missing_dataset(name, self.datasets())) from None
        return Dataset(self._ws, name)

    def create_dataset(self, name: str, *, description: str = "") -> Dataset:
        """A new, empty dataset ``name``.

        Raises
        ------
        AlreadyExistsError
            A dataset has that name already (open it with :meth:`dataset`).
        ValidationError
            The name is not a valid dataset name.
        """
        _datasets.create_dataset(self._ws, name, description)
        return Dataset(self._ws, name)

    def delete_dataset(self, name: str) -> None:
        _datasets.delete_dataset(self._ws, name)

    def sql(
        self,
        query: str,
        *,
        limit: int = 10_000,
        timeout_s: float = 10.0,
        max_bytes: int = 64 * 2**20,
        max_columns: int = 1_000,
    ) -> _sql.SqlResult:
        """Run read-only SQL over ``items``, ``labels`` and tag scores (``dt_<group>_visual``,
        ``tags_<group>``); ``.rows``, ``.columns``, ``.records()``. Limits: rows, seconds,
        result bytes, columns, and memory (``TAGSCOPE_SQL_MEMORY_LIMIT``, default 4GB)."""
        return _sql.run_sql(
            self._ws,
            query,
            limit=limit,
            timeout_s=timeout_s,
            max_bytes=max_bytes,
            max_columns=max_columns,
        )

    def sql_tables(self) -> dict[str, list[tuple[str, str]]]:
        """The tables a query can read, with their (column, type) pairs."""
        return _sql.list_tables(self._ws)

    def __repr__(self) -> str:
        return f"Workspace({self.root!r})"


def _missing_dataset(name: str, existing: list[str]) -> str:
    """Why ``name`` does not open: what the workspace has, the closest name, how to create it."""
    create = f"create_dataset({name!r}) makes a new one"
    if not existing:
        return f"no dataset named {name!r}: the workspace has no datasets; {create}"
    close = difflib.get_close_matches(name, existing, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(existing[:_LISTED]) + (", ..." if len(existing) > _LISTED else "")
    return f"no dataset named {name!r}{hint} (datasets: {shown}; {create})"


class Dataset:
    """A dataset of a workspace. Methods are thin calls to the service layer's use cases."""

    def __init__(self, service_ws: _Workspace, name: str) -> None:
        self._ws = service_ws
        self.name = name

    def info(self) -> dict[str, Any]:
        """Counts, label names and embedding spaces."""
        return _datasets.describe_dataset(self._ws, self.name)

    def _record(self) -> _DatasetRecord:
        return self._ws.dataset(self.name)

    def __len__(self) -> int:
        return self._ws.catalog.count_items(self._record().id)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, {len(self)} items)"

    def items(self) -> Iterator[Item]:
        """Every item, in id order, fetched in batches."""
        return self._ws.catalog.iter_items(self._record().id)

    def item(self, item_id: int) -> Item:
        return self._ws.catalog.get_item(item_id)

    def labels(self, item_id: int) -> list[Label]:
        return self._ws.catalog.item_labels(item_id)

    # -- views ----------------------------------------------------------------------------
    def view(self) -> View:
        """The whole dataset as a lazy, immutable :class:`~tagscope.sdk.view.View`; the verbs
        below start one (``ds.where("width > 500").limit(10).ids()``)."""
        return View(self._ws, self.name)

    def where(self, expr: str) -> View:
        """See :meth:`View.where`."""
        return self.view().where(expr)

    def where_label(self, name: str, *names: str, mode: Literal["any", "all"] = "any") -> View:
        """See :meth:`View.where_label`."""
        return self.view().where_label(name, *names, mode=mode)

    def where_tag(
        self,
        group: str,
        tag: str,
        *,
        above: float | None = None,
        below: float | None = None,
        decided: bool | None = None,
    ) -> View:
        """See :meth:`View.where_tag`."""
        return self.view().where_tag(group, tag, above=above, below=below, decided=decided)

    def sort_by(self, column: str, *, descending: bool = False) -> View:
        """See :meth:`View.sort_by`."""
        return self.view().sort_by(column, descending=descending)

    def sort_by_similarity(self, item_id: int, *, k: int = 50, space: str | None = None) -> View:
        """See :meth:`View.sort_by_similarity`."""
        return self.view().sort_by_similarity(item_id, k=k, space=space)

    def limit(self, n: int) -> View:
        """See :meth:`View.limit`."""
        return self.view().limit(n)

    def skip(self, n: int) -> View:
        """See :meth:`View.skip`."""
        return self.view().skip(n)

    # -- history ----------------------------------------------------------------------------
    def history(
        self, *, limit: int = 100, user: str | None = None, since: datetime | None = None
    ) -> list[ChangeSet]:
        """The change-sets of people's edits (reviews, examples), newest first; only those of
        ``user`` made at or after ``since`` (a naive time is UTC) when given."""
        return _history.history(self._ws, self.name, limit=limit, actor=user, since=since)

    def undo(self, change_id: int, *, force: bool = False) -> UndoResult:
        """Undo change-set ``change_id`` with a new change-set; items changed since make it
        raise ``UndoConflictError`` naming them, unless ``force`` (then they stay as they are,
        listed in ``skipped``)."""
        return _history.undo(self._ws, self.name, change_id, force=force)

    def undo_user(self, user: str, since: datetime, *, force: bool = False) -> UndoUserResult:
        """Undo every change-set ``user`` made since ``since``, newest first, in one
        transaction (admins); an edit by someone else since raises ``UndoConflictError``
        naming the items, unless ``force``."""
        return _history.undo_user(self._ws, self.name, user, since, force=force)

    # -- collections ------------------------------------------------------------------------
    def collections(self) -> list[Collection]:
        """The collections, by title (a dynamic one's ``n_items`` is None: not evaluated)."""
        from tagscope.service import collections as _collections

        return _collections.list_collections(self._ws, self.name)

    def collection(self, title: str) -> Collection:
        """One collection, with its number of items (a dynamic one evaluated now)."""
        from tagscope.service import collections as _collections

        return _collections.get_collection(self._ws, self.name, title)

    def create_collection(
        self,
        title: str,
        *,
        where: str | None = None,
        item_ids: Sequence[int] | None = None,
        description: str = "",
    ) -> Collection:
        """A dynamic collection of a grid filter (``where``) or a static one of ``item_ids``;
        undoable like every change of a collection (:meth:`undo`)."""
        from tagscope.service import collections as _collections  # DuckDB: only when used

        return _collections.create_collection(
            self._ws, self.name, title, where=where, item_ids=item_ids, description=description
        )

    def bulk_classify(
        self,
        label: str,
        *,
        collection: str | None = None,
        item_ids: Sequence[int] | None = None,
        answers: dict[str, Any] | None = None,
        overwrite: bool = False,
        dry_run: bool = False,
    ) -> BulkResult:
        """Classify every item of ``collection`` (or of ``item_ids``) as class ``label`` (its
        main label; the class is created in the ontology when missing) with the question
        ``answers``; items classified already are skipped unless ``overwrite``. ``dry_run``
        only counts. One change-set: :meth:`undo` puts back exactly the labels there were."""
        from tagscope.service import bulk as _bulk  # DuckDB (dynamic collections): only when used

        return _bulk.bulk_classify(
            self._ws,
            self.name,
            collection=collection,
            item_ids=item_ids,
            label=label,
            answers=answers,
            overwrite=overwrite,
            dry_run=dry_run,
        )

    # -- import -----------------------------------------------------------------------------
    def import_images(
        self,
        folder: PathLike,
        *,
        labels_from_folders: bool = False,
        thumbnails: ThumbnailMode | bool = "defer",
        follow_symlinks: bool = False,
        progress: bool = True,
    ) -> ImportReport:
        """Import every image under ``folder``. ``thumbnails``: ``"defer"`` (default) makes now
        only those that need no decoding and leaves the rest to :meth:`fill_thumbnails` (or
        ``tagscope serve``, in the background); ``"now"`` (True) makes every one now, several
        times slower on photos; ``"none"`` (False) makes none (the web app makes each on first
        view). Names and links leading out of ``folder`` are refused and reported unless
        ``follow_symlinks`` allows links to images."""
        with _bar(progress, "import") as report:
            return _imports.import_images(
                self._ws,
                self.name,
                folder,
                labels_from_folders=labels_from_folders,
                thumbnails=thumbnails,
                follow_symlinks=follow_symlinks,
                progress=report,
            )

    def import_csv(
        self,
        path: PathLike,
        *,
        base: PathLike | None = None,
        thumbnails: ThumbnailMode | bool = "defer",
        follow_symlinks: bool = False,
        progress: bool = True,
    ) -> ImportReport:
        with _bar(progress, "import") as report:
            return _imports.import_csv(
                self._ws,
                self.name,
                path,
                base=base,
                thumbnails=thumbnails,
                follow_symlinks=follow_symlinks,
                progress=report,
            )

    def import_json(
        self,
        path: PathLike,
        *,
        base: PathLike | None = None,
        thumbnails: ThumbnailMode | bool = "defer",
        follow_symlinks: bool = False,
        progress: bool = True,
    ) -> ImportReport:
        with _bar(progress, "import") as report:
            return _imports.import_json(
                self._ws,
                self.name,
                path,
                base=base,
                thumbnails=thumbnails,
                follow_symlinks=follow_symlinks,
                progress=report,
            )

    def import_coco(
        self,
        annotations: PathLike,
        *,
        images: PathLike,
        captions: PathLike | None = None,
        thumbnails: ThumbnailMode | bool = "defer",
        follow_symlinks: bool = False,
        progress: bool = True,
    ) -> ImportReport:
        with _bar(progress, "import") as report:
            return _imports.import_coco(
                self._ws,
                self.name,
                annotations,
                images=images,
                captions=captions,
                thumbnails=thumbnails,
                follow_symlinks=follow_symlinks,
                progress=report,
            )

    def import_yolo(
        self,
        root: PathLike,
        *,
        thumbnails: ThumbnailMode | bool = "defer",
        follow_symlinks: bool = False,
        progress: bool = True,
    ) -> ImportReport:
        """Import a YOLO folder (``images/``, ``labels/*.txt``, ``data.yaml`` or
        ``classes.txt``): its boxes and polygons, in pixels; bad lines are reported as
        ``labels/<name>.txt:<line>`` (see ``service.imports.import_yolo``)."""
        with _bar(progress, "import") as report:
            return _imports.import_yolo(
                self._ws,
                self.name,
                root,
                thumbnails=thumbnails,
                follow_symlinks=follow_symlinks,
                progress=report,
            )

    def import_video(
        self,
        folder: PathLike,
        *,
        keyframes: str = "every:1s",
        transcripts: PathLike | None = None,
        thumbnails: ThumbnailMode | bool = "defer",
        follow_symlinks: bool = False,
        progress: bool = True,
    ) -> VideoImportReport:
        """Import every video under ``folder`` with its shots, keyframes (``"every:1s"``, or
        ``"scene"``: one per shot) and transcript cues (``<stem>.srt``/``.vtt`` next to it or in
        ``transcripts``); see ``service.video_import.import_video``. Progress counts seconds."""
        from tagscope.service import video_import as _video  # PyAV: only when used

        with _bar(progress, "import") as report:
            return _video.import_video(
                self._ws,
                self.name,
                folder,
                keyframes=keyframes,
                transcripts=transcripts,
                thumbnails=thumbnails,
                follow_symlinks=follow_symlinks,
                progress=report,
            )

    def import_metadata(self, path: PathLike, *, progress: bool = True) -> MetadataReport:
        """Merge the fields of a CSV or JSON file keyed by file name into the metadata of the
        dataset's videos and images (SQL columns of ``items``); see
        ``service.metadata_import.import_metadata``."""
        from tagscope.service import metadata_import as _metadata

        with _bar(progress, "metadata") as report:
            return _metadata.import_metadata(self._ws, self.name, path, progress=report)

    # -- export -----------------------------------------------------------------------------
    def export(
        self,
        fmt: Literal["coco", "yolo", "csv", "json", "parquet"],
        out: PathLike,
        *,
        source: Literal["ground_truth", "prediction", "prelabel"] | None = "ground_truth",
        overwrite: bool = False,
        copy_images: bool = False,
        progress: bool = True,
        result_set: str | None = None,
    ) -> _exports.ExportReport:
        """Write the items and labels (of ``source``; None: every source; or those of
        ``result_set``) into the folder ``out`` as COCO, YOLO, CSV, JSON or Parquet; names are
        relative to the report's ``root``. See ``service.exports.export_dataset``."""
        with _bar(progress, f"export {fmt}") as report:
            return _exports.export_dataset(
                self._ws,
                self.name,
                fmt,
                out,
                source=source,
                overwrite=overwrite,
                copy_images=copy_images,
                progress=report,
                result_set=result_set,
            )

    def fill_thumbnails(self, *, progress: bool = True) -> Job:
        """Make the thumbnails an import left to later, in parallel (a resumable job; see
        ``service.thumbnails.fill_thumbnails``)."""
        with _bar(progress, "thumbnails") as report:
            return _thumbnails.fill_thumbnails(self._ws, self.name, progress=report)

    # -- embeddings -------------------------------------------------------------------------
    def embed(
        self,
        *,
        kind: str | None = None,
        space: str | None = None,
        model: str | None = None,
        batch_size: int | None = None,
        device: str | None = None,
        progress: bool = True,
    ) -> Job:
        """Embed the items that have no vector in the space yet (see ``compute_embeddings``)."""
        with _bar(progress, f"embed {space or kind or 'clip'}") as report:
            return _embeddings.compute_embeddings(
                self._ws,
                self.name,
                space=space,
                kind=kind,
                model=model,
                batch_size=batch_size,
                device=device,
                progress=report,
            )

    def import_vectors(
        self,
        space: str,
        path: PathLike,
        *,
        ids_file: PathLike | None = None,
        kind: str = "imported",
        model: str | None = None,
    ) -> Job:
        """Import your own vectors into ``space`` (see ``service.embeddings.import_vectors``
        for the file formats), as a job like :meth:`embed`: ``job.result`` holds ``space``,
        ``dim``, ``n_imported`` and ``n_replaced``; a refused file raises and is recorded as
        the job's error."""
        params = {"space": space, "file": str(path), "kind": kind, "model": model}

        def work(_report: Callable[[int, int], None]) -> dict[str, Any]:
            return _embeddings.import_vectors(
                self._ws, self.name, space, path, ids_file=ids_file, kind=kind, model=model
            )

        return self._ws.runner.run("import_vectors", self._record().id, params, work)

    # -- tags -------------------------------------------------------------------------------
    def create_tag_group(
        self,
        name: str,
        tags: str | Sequence[str],
        *,
        visibility: Literal["secret", "shareable"] = "secret",
        space: str | None = None,
    ) -> _sdk_tags.TagGroup:
        """A draft tag group trained on this dataset; each tag name is its first prompt."""
        return _sdk_tags.create_group(
            self._ws, self.name, name, tags, visibility=visibility, space=space, bar=_bar
        )

    def tag_group(self, name: str) -> _sdk_tags.TagGroup:
        """A group this dataset trains (editable) or applies (scores only)."""
        group = _sdk_tags.TagGroup(self._ws, self.name, name, _bar)
        group.definition()  # fails at once for an unknown group
        return group

    def tag_groups(self) -> list[_sdk_tags.TagGroup]:
        return list(_sdk_tags.groups_of(self._ws, self.name, _bar))

    # -- search -----------------------------------------------------------------------------
    def search(
        self,
        text: str,
        *,
        space: str = "clip",
        k: int = 10,
        min_score: float | None = None,
        labels: Sequence[str] | None = None,
        mode: Literal["any", "all"] = "any",
    ) -> list[Hit]:
        """Items best matching ``text`` in ``space``, best first."""
        return _search.search_text(
            self._ws,
            self.name,
            text,
            space=space,
            k=k,
            min_score=min_score,
            labels=labels,
            mode=mode,
        )

    def similar(
        self,
        item_id: int | None = None,
        *,
        image: Any = None,
        space: str = "clip",
        k: int = 10,
        min_score: float | None = None,
        labels: Sequence[str] | None = None,
        mode: Literal["any", "all"] = "any",
    ) -> list[Hit]:
        """Items most similar to an item of the dataset or to an image (path, bytes, PIL)."""
        return _search.search_similar(
            self._ws,
            self.name,
            item_id=item_id,
            image=image,
            space=space,
            k=k,
            min_score=min_score,
            labels=labels,
            mode=mode,
        )

    def duplicates(
        self,
        *,
        space: str = "phash",
        min_score: float | None = None,
        k: int | None = None,
        labels: Sequence[str] | None = None,
        mode: Literal["any", "all"] = "any",
    ) -> list[PairHit]:
        """The most similar pairs of items (near-duplicates), best first."""
        return _search.find_duplicates(
            self._ws, self.name, space=space, min_score=min_score, k=k, labels=labels, mode=mode
        )

    # -- ontology ---------------------------------------------------------------------------
    def ontology(self) -> Ontology:
        """The classes (with their number of labels) and the classification questions."""
        return _ontology.ontology(self._ws, self.name)

    def add_class(
        self, name: str, *, color: str | None = None, hotkey: str | None = None
    ) -> OntologyClass:
        """A new class (``color`` #rrggbb, default from a palette; ``hotkey`` one key)."""
        return _ontology.add_class(self._ws, self.name, name, color=color, hotkey=hotkey)

    def rename_class(self, old: str, new: str) -> OntologyClass:
        """Rename a class and every label of it: one change-set (:meth:`undo` reverts it)."""
        return _ontology.update_class(self._ws, self.name, old, new_name=new).ontology_class

    def add_question(
        self,
        name: str,
        kind: QuestionKind | str,
        options: Sequence[str] = (),
        *,
        required: bool = False,
    ) -> Question:
        """A classification question: ``radio``, ``checklist`` (with ``options``) or ``text``."""
        return _ontology.add_question(self._ws, self.name, name, kind, options, required)

    # -- label edits ------------------------------------------------------------------------
    def add_label(self, item_id: int, label: Label) -> LabelEdit:
        """Add a ground-truth label to the item (geometry checked, class created when missing):
        one change-set (:meth:`undo` its ``change_set``); ``labels`` are the item's after."""
        from tagscope.service import labels as _labels

        return _labels.add_label(self._ws, self.name, item_id, label)

    def set_labels(self, item_id: int, labels: Sequence[Label]) -> LabelEdit:
        """Replace the item's ground-truth labels (predictions and prelabels stay)."""
        from tagscope.service import labels as _labels

        return _labels.set_labels(self._ws, self.name, item_id, labels)

    def update_label(
        self,
        label_id: int,
        *,
        name: str | None = None,
        geometry: dict[str, Any] | None = None,
        attributes: dict[str, Any] | None = None,
        is_main: bool | None = None,
    ) -> LabelEdit:
        """Change a ground-truth label's name, geometry, attributes or main flag."""
        from tagscope.service import labels as _labels

        return _labels.update_label(
            self._ws,
            self.name,
            label_id,
            name=name,
            geometry=geometry,
            attributes=attributes,
            is_main=is_main,
        )

    def delete_label(self, label_id: int) -> LabelEdit:
        """Delete a ground-truth label."""
        from tagscope.service import labels as _labels

        return _labels.delete_label(self._ws, self.name, label_id)

    # -- label jobs -------------------------------------------------------------------------
    def create_label_job(
        self,
        name: str,
        *,
        collection: str,
        assignees: Sequence[str] = (),
        tag: str | None = None,
        group: str | None = None,
        threshold: float | None = None,
        source_labels: Literal["prediction"] | None = None,
        model: str | None = None,
    ) -> LabelJob:
        """A label job of ``collection``: auto with ``tag`` and ``group`` (its decisions at
        ``threshold``) or ``source_labels="prediction"`` (of ``model``), which pre-labels the
        items now in one change-set (:meth:`undo` of ``job.info.params["change_set"]``
        removes them); else manual, its items given to ``assignees`` in turn."""
        from tagscope.service import label_jobs as _label_jobs  # DuckDB: only when used

        if tag is not None or group is not None or source_labels is not None:
            _label_jobs.create_auto_job(
                self._ws,
                self.name,
                name,
                collection,
                tag=tag,
                group=group,
                threshold=threshold,
                source_labels=source_labels,
                model=model,
            )
        else:
            _label_jobs.create_manual_job(self._ws, self.name, name, collection, assignees)
        return LabelJob(self._ws, self.name, name.strip())

    def label_job(self, name: str) -> LabelJob:
        """A label job of the dataset (fails at once for an unknown name)."""
        job = LabelJob(self._ws, self.name, name)
        job.info  # noqa: B018 -- fails at once for an unknown job
        return job

    def label_jobs(self) -> list[LabelJob]:
        """The dataset's label jobs, newest first."""
        from tagscope.service import label_jobs as _label_jobs

        return [
            LabelJob(self._ws, self.name, j.name)
            for j in _label_jobs.list_jobs(self._ws, self.name)
        ]

    # -- models -----------------------------------------------------------------------------
    def train_model(
        self,
        name: str,
        *,
        kind: Literal["single-label", "multi-label", "detector"],
        space: str | None = None,
        collection: str | None = None,
        where: str | None = None,
        validation: float | str = 0.2,
        progress: bool = True,
        **params: Any,
    ) -> Model:
        """Train a classifier (over ``space``'s vectors) or a detector on the dataset's labels
        (of ``collection`` or the items matching ``where``), to the end; ``validation`` is a
        held-out share (0.2, "20%") or ``"split"`` (the items whose split is validation);
        ``model.info.history`` is the learning curve, ``model.stop()`` from another thread
        stops it keeping the best checkpoint. ``params``: ``learning_rate``, ``time_limit``,
        ``patience``, ``max_epochs``, ``hidden``, ``background``, ``min_examples``, ``size``,
        ``seed``, ``restart`` (see ``service.models.train_model``); ``progress``: a bar of
        the epochs."""
        from tagscope.service import models as _models  # torch: only when used

        with _bar(progress, "train") as report:
            _models.train_model(
                self._ws,
                self.name,
                name,
                kind=kind,
                space=space,
                collection=collection,
                where=where,
                validation=validation,
                progress=report,
                **params,
            )
        return Model(self._ws, self.name, name)

    def model(self, name: str) -> Model:
        """A model of the dataset (fails at once for an unknown name)."""
        model = Model(self._ws, self.name, name)
        model.info  # noqa: B018 -- fails at once for an unknown model
        return model

    def models(self) -> list[Model]:
        from tagscope.service import models as _models

        return [
            Model(self._ws, self.name, m.name) for m in _models.list_models(self._ws, self.name)
        ]

    # -- result sets ------------------------------------------------------------------------
    def result_sets(self) -> list[ResultSet]:
        """The reviewed results of label jobs saved under a name (SQL views ``rs_<name>``);
        export one with ``export(fmt, out, result_set=name)``."""
        from tagscope.service import result_sets as _result_sets

        return _result_sets.list_result_sets(self._ws, self.name)

    def delete_result_set(self, name: str) -> None:
        from tagscope.service import result_sets as _result_sets

        _result_sets.delete_result_set(self._ws, self.name, name)
