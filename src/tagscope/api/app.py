"""The REST API and the web app's server: ``create_app(workspace)``.

Every route lives under ``/api`` (OpenAPI UI at ``/docs``, schema at ``/openapi.json``); the built
web app (``tagscope/web/dist``) is served at ``/`` with ``index.html`` for every other path (the
single-page app routes on the client). Errors are JSON ``{"status", "message", "field"}``
(``field``: the offending input, or null): 404 unknown id or name, 409 name taken, 422 invalid
input, 400 refused SQL or bad request. Long work answers ``202`` with a job; poll
``GET /api/jobs/{job_id}`` for ``status`` (queued / running / done / error) and ``progress``.

Routes
------
``G`` = ``/api/datasets/{dataset}/tag-groups/{group}``, ``T`` = ``G/tags/{tag}`` (URL-encoded).
``J`` = ``/api/datasets/{name}/label-jobs`` (label jobs).
``R`` = ``/api/datasets/{name}/label-jobs/{job}/review`` (a submitted label job's review).
``O`` = ``/api/datasets/{name}/ontology`` (classes and classification questions).
``M`` = ``/api/datasets/{name}/models`` (trained classifiers and detectors).
Hits are ``{item_id, path, score, thumbnail_url, media_url}``.

=======  ==========================================  ==============================================
method   path                                        what
=======  ==========================================  ==============================================
POST     /api/auth/login                             ``{name, password}`` -> session cookie + me
POST     /api/auth/logout                            end the session -> 204
GET      /api/auth/me                                the caller: user, role, csrf_token, actions
                                                     per dataset (:mod:`.routers.auth`)
GET      /api/users, /api/tokens                     accounts, roles and API tokens (admin; one's
                                                     own tokens: anyone; :mod:`.routers.users`)
GET      /api/datasets                               datasets with item counts
POST     /api/datasets                               create ``{name, description}`` -> 201
GET      /api/datasets/{name}                        counts, labels (name -> n items), spaces
DELETE   /api/datasets/{name}                        delete (media files stay) -> 204
POST     /api/datasets/{name}/embed                  ``{space?, kind?, model?, batch_size?}`` -> 202
                                                     job (kind clip|text|phash)
POST     /api/datasets/{name}/maps                   ``{space, sample?, n_neighbors?, min_dist?,
                                                     seed?, refit?}`` -> 202 job (embedding_map)
GET      /api/datasets/{name}/maps                   [{space, n_points, n_items, stale, ...}]
GET      /api/datasets/{name}/maps/{space}           {space, n, ids, x, y, bounds}; ``/colors``
                                                     ``by`` (label|tag|field), ``group``, ``tag``,
                                                     ``field`` -> {by, kind, values, categories?}
GET      /api/datasets/{name}/items                  grid page: ``where`` (SQL filter over items,
                                                     ``has_label(id, 'x')``, ``tags_<group>.<tag>``;
                                                     F-42), ``sort`` (id|path|size|width|height|
                                                     format|split|tags_<group>.<tag>), ``order``
                                                     (asc|desc), ``limit`` (1..500, default 100),
                                                     ``offset`` or ``cursor`` (the previous
                                                     ``next_cursor``, same sort/order/where)
                                                     -> {items, total, next_cursor}; each item has
                                                     thumbnail_url, media_url, labels (names),
                                                     scores ("group/tag" -> score), tags
                                                     ("group/tag" at or above the threshold)
GET      /api/items/{item_id}                        detail: item, dataset, labels with geometry,
                                                     every tag score, tags
GET      /api/items/{item_id}/thumbnail              thumbnail (ETag, Cache-Control, 304)
GET      /api/items/{item_id}/media                  original media file (ETag, Cache-Control;
                                                     Range -> 206, a bad range -> 416)
GET      /api/datasets/{name}/videos/{item_id}       a video with its shots, keyframes and cues
                                                     (times in ms)
GET      /api/items/{item_id}/similar                ``space``, ``k``, ``min_score``, ``labels``
                                                     (repeat), ``label_mode`` (any|all) -> [hit]
POST     /api/datasets/{name}/search                 ``{text | item_id, space?, k=50, min_score?,
                                                     labels?, label_mode?}`` -> [hit]
POST     /api/datasets/{name}/search/image           multipart ``file`` + the same options as form
                                                     fields -> [hit]
GET      /api/datasets/{name}/duplicates             ``space`` (default phash), ``k``,
                                                     ``min_score``, ``labels``, ``label_mode``
                                                     -> [{a, b, score}]
GET      /api/datasets/{name}/history                change-sets of people's edits, newest first
GET      /api/datasets/{name}/history/{id}           one change-set, each item before and after
POST     /api/datasets/{name}/history/{id}/undo      ``{force?}``: the undoing change-set; 409
                                                     with ``items`` changed since
GET      /api/datasets/{name}/items/{id}/labels      the item's labels with id, class_id, author,
                                                     created_at, model, area; POST one (201), PUT
                                                     ``{labels}`` (its ground truth); PATCH or
                                                     DELETE /api/datasets/{name}/labels/{label_id};
                                                     each write -> {change_set, labels}
POST     /api/datasets/{name}/items/{id}/foreground  ``{rect, foreground?, background?, brush?,
                                                     iterations?, mask?, output?}``: GrabCut's
                                                     mask -> {mask (RLE), area, polygons?}
POST     /api/datasets/{name}/split                  ``{item_ids | collection, split}`` (train|
                                                     validation|test|null) -> {change_set,
                                                     n_changed}
GET      M                                           models: status, classes, thresholds, metrics,
                                                     history (the learning curve), job_id
POST     M                                           ``{name, kind, space?, collection?, where?,
                                                     validation?, learning_rate?, time_limit?,
                                                     patience?, max_epochs?, hidden?, ...}`` -> 202
                                                     {model, job}; GET, DELETE M/{model}
POST     M/{model}/stop                              stop training, keeping the best checkpoint
PUT      M/{model}/thresholds                        ``{thresholds: {class: t} | null}`` -> model
GET      M/{model}/statistics                        ``subset`` -> PR curves, AP, best thresholds
GET      M/{model}/predictions                       ``subset``, ``wrong``, ``class_name``,
                                                     ``offset``, ``limit`` -> {total, rows}
POST     M/{model}/predict                           ``{item_ids, write_labels?}`` -> predictions
POST     /api/predict/{dataset}/{model}              multipart ``files`` (images) -> {dataset,
                                                     model, kind, checkpoint, predictions};
                                                     ``/last``: the latest checkpoint
GET      O                                           {classes: [{id, name, color, hotkey,
                                                     n_labels}], questions: [{id, name, kind,
                                                     options, required}]}
POST     O/classes                                   ``{name, color?, hotkey?}`` -> 201 class
PATCH    O/classes/{class}                           ``{name?, color?, hotkey?}`` (rename: every
                                                     label too) -> class + change_set
DELETE   O/classes/{class}                           a class no label uses -> 204
POST     O/questions                                 ``{name, kind (radio|checklist|text),
                                                     options?, required?}`` -> 201 question
DELETE   O/questions/{question}                      -> 204
POST     /api/datasets/{name}/bulk-classify          ``{class (or label), answers?, collection |
                                                     item_ids, overwrite?, dry_run?}`` ->
                                                     {n_changed, n_skipped, skipped, change_set}
GET      J                                           label jobs, newest first, with counts
POST     J                                           ``{name, kind (auto|manual), collection,
                                                     assignees? | tag, group, threshold? |
                                                     source_labels: "prediction", model?}`` -> 201
                                                     job (auto: prelabels, one change-set)
GET      J/{job}                                     the job: n_items, n_done, changes per kind
GET      J/{job}/items                               ``assignee`` -> [{item_id, path, thumbnail_url,
                                                     assignee, done_at, prelabels, expert}]
POST     J/{job}/done                                ``{item_ids, done?}`` -> {n}
POST     J/{job}/submit                              ``{iou?}``: match expert labels to prelabels
                                                     into label changes -> job
DELETE   J/{job}                                     -> 204 (its labels stay)
GET      R/summary                                   {tabs: {pending, accepted, rejected},
                                                     table: [{expert_class, class_changed,
                                                     pending, accepted, rejected}], changes}
GET      R/changes                                   ``status``, ``expert_class``,
                                                     ``class_changed``, ``change``, ``min_area``,
                                                     ``max_area``, ``min_adjustment``,
                                                     ``max_adjustment``, ``group_by`` (class|
                                                     class_changed), ``limit``, ``offset`` ->
                                                     {total, changes: [{id, item_id, path,
                                                     thumbnail, change, ..., expert, prelabel}]}
POST     R/decide                                    ``{decision (accepted|rejected|pending),
                                                     ids | the filters}`` -> {change_set,
                                                     n_changed}
GET      /api/datasets/{name}/result-sets            saved result sets (SQL view rs_<name>)
POST     /api/datasets/{name}/result-sets            ``{name, job, description?}`` -> 201
DELETE   /api/datasets/{name}/result-sets/{rs}       -> 204
GET      /api/jobs?dataset=                          jobs, newest first
GET      /api/jobs/{job_id}                          status, n_done, n_total, progress, result
GET      /api/tag-groups                             every group
GET      /api/tag-groups/{group}                     one group with its tags, prompts, examples
GET      /api/tag-groups/{group}/uses                datasets using it: status, version,
                                                     update_available, job_id
GET      /api/tag-groups/{group}/versions            committed versions
GET      /api/datasets/{dataset}/tag-groups          groups the dataset trains or applies, each
                                                     with ``scoring`` (its status there)
POST     /api/datasets/{dataset}/tag-groups          ``{name, tags: "one\nper line",
                                                     visibility?, space?}`` -> 201
PATCH    G                                           ``{visibility}``
POST     G/publish                                   ``{visibility?}``: commit and score -> 202 job
POST     G/apply                                     score a shareable group on {dataset} -> 202
POST     G/tags                                      ``{names: "one\nper line"}`` -> 201 group
PATCH    T                                           ``{name}`` rename
DELETE   T                                           remove -> 204
POST     T/prompts                                   ``{text, polarity?, modality?}`` -> 201
PATCH    T/prompts/{prompt_id}                       ``{text?, polarity?, modality?}``
DELETE   T/prompts/{prompt_id}                       -> 204
POST     T/examples                                  ``{item_ids, polarity?}`` -> {n}
POST     T/examples/remove                           ``{item_ids}`` -> {n}
PUT      T/threshold                                 ``{threshold}`` -> tag
POST     T/reviews                                   ``{reviews: [{item_id, label}]}`` -> {n}
GET      T/reviews                                   ``source`` (person|llm) -> [{item_id, label,
                                                     source, reason, path, thumbnail_url}]
POST     T/reviews/remove                            ``{item_ids}`` -> {n}
POST     T/judge                                     ``{n?}``: LLM verdicts on a sample -> 202 job
GET      T/prompt-suggestions                        ``modality``, ``n``, ``source`` (auto|llm|
                                                     dataset) -> {source, model, space,
                                                     suggestions: [{text, score, item_ids}]}
POST     T/prompt-suggestions                        ``{texts, modality?, polarity?}`` -> 201
                                                     [prompt] (all added, or none)
GET      T/preview                                   ``threshold``, ``view`` (compare|positives|
                                                     negatives), ``n`` -> {positives, negatives,
                                                     live, stratified, ...}
GET      T/uncertain                                 ``n``, ``diversity`` -> [scored item]
GET      T/histogram                                 ``bins``, ``min_score`` -> {bins: [{lo, hi,
                                                     count, where}], where_tagged, n_below, ...}
GET      T/metrics                                   ``metric`` (f1|f0_5|precision|recall|
                                                     accuracy), ``labels`` -> {thresholds, curves,
                                                     recommended: {metric, threshold}, ...}
POST     /api/sql                                    ``{sql, limit?, timeout_s?}`` -> {columns,
                                                     types, rows, n_rows, truncated, elapsed_ms};
                                                     refused or failing statements -> 400 (field
                                                     "sql")
GET      /api/sql/tables                             tables and their columns
=======  ==========================================  ==============================================

Every ``/api`` route but logging in and out, ``/api/config`` and ``/api/models/status`` needs
credentials (401 without; none on a ``--no-auth`` server): an API token (``Authorization:
Bearer``) or the web app's session cookie, with ``X-CSRF-Token`` on its changes
(:mod:`tagscope.api.auth`); what the caller may do is the service layer's policy (403 otherwise;
:mod:`tagscope.service.policy`).

Importing stays in the CLI and the SDK: it reads folders of the server by path.

The server answers only its own host names (``localhost``, ``127.0.0.1``, ``::1`` and
``allowed_hosts``; others get ``400``) and caps request bodies (``413`` above the limit): see
:mod:`tagscope.api.guards`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from tagscope.api.auth import AuthConfig
from tagscope.api.errors import install_error_handlers
from tagscope.api.guards import MAX_BODY_BYTES, MAX_UPLOAD_BYTES, BodyGuard, HostGuard
from tagscope.api.routers import auth as auth_routes
from tagscope.api.routers import (
    bulk,
    collections,
    config,
    datasets,
    foreground,
    history,
    items,
    jobs,
    label_jobs,
    labels,
    maps,
    media,
    models,
    ontology,
    predict,
    prompt_suggestions,
    result_sets,
    review,
    search,
    splits,
    sql,
    tag_insights,
    tags,
    users,
    videos,
)
from tagscope.service import Workspace, thumbnails, warmup
from tagscope.service.accounts import AuthSettings

WEB_DIST = Path(__file__).resolve().parents[1] / "web" / "dist"


def create_app(
    workspace: Workspace | str | os.PathLike[str] | None = None,
    *,
    auth: bool = True,
    auth_settings: AuthSettings | None = None,
    secure_cookies: bool = False,
    web_dist: str | os.PathLike[str] | None = None,
    allowed_hosts: Iterable[str] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> FastAPI:
    """The FastAPI app over ``workspace`` (an open one, a folder, or the default one).

    ``auth``: every ``/api`` route but logging in and out and the client configuration needs an
    API token or a session (:mod:`tagscope.api.auth`), and acts as its user; False is the open
    local mode of one person, where every request is the workspace's owner (``tagscope serve
    --no-auth``). ``auth_settings``: the session lifetime and the lock-out after failed logins;
    ``secure_cookies``: mark the session cookie Secure on plain http too (behind TLS).

    ``web_dist`` is the built web app to serve (default ``tagscope/web/dist``, when built).
    ``allowed_hosts``: host names it answers besides ``localhost``, ``127.0.0.1`` and ``::1``
    (``name`` on any port, ``name:port``, or ``*`` for any). ``max_body_bytes`` and
    ``max_upload_bytes`` cap request bodies (JSON and others; multipart uploads).
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    app = FastAPI(
        title="Tagscope",
        version="0.1.0",
        description="Curate image and video data: browse, search, tag, evaluate, query with SQL.",
        lifespan=_warm_models_on_start(ws),
    )
    app.state.workspace = ws
    app.state.auth = AuthConfig(auth, auth_settings or AuthSettings(), secure_cookies)
    install_error_handlers(app)
    routers = (
        auth_routes,
        users,
        config,
        datasets,
        collections,
        bulk,
        ontology,
        labels,
        foreground,
        splits,
        label_jobs,
        review,
        result_sets,
        history,
        items,
        media,
        videos,
        search,
        maps,
        models,
        predict,
        jobs,
        tags,
        tag_insights,
        prompt_suggestions,
        sql,
    )
    for module in routers:
        app.include_router(module.router)
    _serve_web_app(app, Path(web_dist) if web_dist else WEB_DIST)
    # The last added runs first: the host is checked before any of the body is read.
    app.add_middleware(BodyGuard, max_body_bytes=max_body_bytes, max_upload_bytes=max_upload_bytes)
    app.add_middleware(HostGuard, allowed_hosts=tuple(allowed_hosts))
    return app


def _warm_models_on_start(ws: Workspace) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that starts loading the search models in the background, so that the first
    search after a start does not wait for them, and filling the thumbnails imports deferred."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        warmup.start_warmup(ws)
        thumbnails.start_missing_thumbnails(ws)
        yield

    return lifespan


def _serve_web_app(app: FastAPI, dist: Path) -> None:
    """Serve the files of ``dist``, and ``index.html`` for any other non-API path."""
    root = dist.resolve()
    index = root / "index.html"

    @app.get("/{path:path}", include_in_schema=False)
    def web_app(path: str) -> FileResponse:
        if path == "api" or path.startswith("api/"):
            raise HTTPException(404, f"no API route /{path}")
        if not index.is_file():
            raise HTTPException(404, "the web app is not built (see the README's setup)")
        target = (root / path).resolve()
        # Only files inside dist; anything else (including ../ escapes) gets the app's shell.
        if path and target.is_relative_to(root) and target.is_file():
            cache = (
                "public, max-age=31536000, immutable" if "/assets/" in f"/{path}" else "no-cache"
            )
            return FileResponse(target, headers={"Cache-Control": cache})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
