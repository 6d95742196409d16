"""The access matrix (F-90): every route of the API x every kind of caller gets the status the
policy says.

The routes come from the app's OpenAPI schema, so a new route joins the matrix by itself, and
one that does not name its access (``openapi_extra=needs(...)``, ``x-tagscope-action``) fails.
Each route is called with real path values (dataset ``coco``'s items, labels, jobs, groups...)
and a minimal valid body made from its JSON schema (a few routes need a specific one:
``BODIES``), by callers of every role on ``coco`` (no workspace-wide role), a workspace admin, an
editor's session cookie (with its CSRF token), and tokens: no credentials, expired, revoked,
scoped to the other dataset ``photos``, read-only of an editor. Expected: 401 for refused
credentials; 403 where :func:`tagscope.service.policy.allows` says no; anything but 401, 403 or
a 5xx where it says yes. Destructive calls run last (deleting the dataset at the very end).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.api.dependencies import ACTION_KEY, Access
from tagscope.domain import LabelKind, PermissionDeniedError
from tagscope.domain.access import Identity, Role
from tagscope.service import Workspace, accounts, demo, history, policy
from tagscope.service import collections as col
from tagscope.service import label_jobs as lj
from tagscope.service import labels as lab
from tagscope.service import ontology as onto
from tagscope.service import result_sets as rs
from tagscope.service import review as rev
from tagscope.service import tags as tg
from tagscope.service.background import start_embeddings
from tagscope.service.embedding_map import compute_map
from tagscope.service.embeddings import compute_embeddings
from tagscope.service.imports import import_coco, import_images
from tagscope.service.models import train_model
from tagscope.service.policy import WORKSPACE_ACTIONS, Action
from tagscope.service.tag_scoring import publish_group

A, B = "coco", "photos"
PASSWORD = "matrix-password"
ROLES = (Role.VIEWER, Role.ANNOTATOR, Role.REVIEWER, Role.EDITOR, Role.ADMIN)
SHARED, SECRET = "shared", "secret"
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    identity: Identity | None  # None: credentials the server must refuse (401)


@dataclass
class World:
    ws: Workspace
    client: TestClient
    callers: list[Caller]
    values: dict[str, Any]  # path parameter values
    image: bytes
    schema: dict[str, Any]  # the app's OpenAPI schema
    ids: dict[str, int]  # dataset name -> id (A is deleted at the end)


# -- the workspace ------------------------------------------------------------------------------


def _dataset_b(ws: Workspace, imagenette: Path, folder: Path) -> None:
    for src in sorted(imagenette.glob("*/*.JPEG"))[::40][:12]:
        (folder / src.parent.name).mkdir(parents=True, exist_ok=True)
        (folder / src.parent.name / src.name).write_bytes(src.read_bytes())
    import_images(ws, B, folder, labels_from_folders=True)
    compute_embeddings(ws, B, kind="phash")


def _label_work(ws: Workspace, x: int, w: int, z: int) -> dict[str, Any]:
    """Collections, ontology, label jobs (open ones of ``x`` and ``w`` given to the annotator
    and the reviewer, a submitted one of ``z`` with a decision), a result set; the label the
    matrix changes and deletes (``w``'s: ``x``'s are all replaced)."""
    col.create_collection(ws, A, "one", item_ids=[x, w])
    col.create_collection(ws, A, "zed", item_ids=[z])
    col.create_collection(ws, A, "matrix-col", item_ids=[x])
    onto.add_class(ws, A, "spare")
    onto.add_question(ws, A, "q", "radio", ["yes", "no"])
    lj.create_manual_job(ws, A, "ann-job", "one", assignees=["annotator"])
    lj.create_manual_job(ws, A, "rev-job", "one", assignees=["reviewer"])
    lj.create_manual_job(ws, A, "sub-job", "zed", assignees=["editor"])
    lj.submit_job(ws, A, "sub-job")
    first = rev.changes(ws, A, "sub-job", limit=1).changes[0]
    rev.decide(ws, A, "sub-job", "accepted", ids=[first.id])
    rs.save_result_set(ws, A, "rs", "sub-job")
    label = next(box for box in lab.item_labels(ws, A, w) if box.kind is LabelKind.BOX)
    return {"label_id": label.id}


def _tags(ws: Workspace, x: int) -> dict[str, Any]:
    tg.create_group(ws, A, SHARED, demo.TAG_NAMES, visibility="shareable", space="text")
    publish_group(ws, A, SHARED)
    tg.create_group(ws, A, SECRET, "person", space="text")
    tag = tg.get_group(ws, SHARED).tags[0].name
    prompt = tg.add_prompt(ws, A, SHARED, tag, "a matrix prompt")
    tg.add_reviews(ws, A, SHARED, tag, {x: True})
    return {"tag": tag, "prompt_id": prompt.id}


def _callers(ws: Workspace) -> list[Caller]:
    """Least rights first: the destructive calls of a route then succeed only at the end."""
    ds_a = ws.dataset(A)
    for role in ROLES:
        accounts.add_user(ws, role.value, PASSWORD, role=None)
        accounts.set_role(ws, role.value, role.value, dataset=A)
    accounts.add_user(ws, "root", PASSWORD, role="admin")
    accounts.add_user(ws, "spare", PASSWORD, role=None)

    def token(user: str, name: str, **kw: Any) -> str:
        return accounts.create_token(ws, user, name, **kw)[1]

    expired = token("editor", "expired", expires_in=timedelta(seconds=1))
    revoked = token("editor", "revoked")
    accounts.revoke_token(ws, "editor", "revoked")
    secrets = {
        "token scoped to photos": token("root", "b", scope="admin", dataset=B),
        "editor's read token": token("editor", "read", scope="read"),
        "viewer": token("viewer", "t", scope="read"),
        "annotator": token("annotator", "t"),
        "reviewer": token("reviewer", "t"),
        "editor": token("editor", "t"),
        "admin of coco": token("admin", "t", scope="admin", dataset=A),
        "workspace admin": token("root", "t", scope="admin"),
    }
    assert accounts.identity_for_token(ws, secrets["admin of coco"]).token_dataset == ds_a.id
    callers = [
        Caller("no credentials", {}, None),
        Caller("expired token", _bearer(expired), None),
        Caller("revoked token", _bearer(revoked), None),
    ]
    for name, secret in secrets.items():
        callers.append(Caller(name, _bearer(secret), accounts.identity_for_token(ws, secret)))
    who, session = accounts.login(ws, "editor", PASSWORD, address=None)
    cookie = {"Cookie": f"tagscope_session={session}", "X-CSRF-Token": accounts.csrf_token(session)}
    callers.insert(-2, Caller("editor's session", cookie, who))
    time.sleep(1.1)  # the expired token's second
    return callers


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, coco_mini: Path, imagenette: Path) -> World:
    root = tmp_path_factory.mktemp("matrix")
    ws = Workspace.open(root / "ws")
    ann = coco_mini / "annotations"
    import_coco(
        ws,
        A,
        ann / "instances_val2017.json",
        images=coco_mini / "val2017",
        captions=ann / "captions_val2017.json",
    )
    for kind in ("text", "phash"):
        compute_embeddings(ws, A, kind=kind)
    _dataset_b(ws, imagenette, root / "photos")
    items = sorted(ws.catalog.item_ids(ws.dataset(A).id))
    x, w, z = items[:3]
    values: dict[str, Any] = {"item_id": x}
    values |= _label_work(ws, x, w, z)
    values |= _tags(ws, x)
    values["change_id"] = history.history(ws, A, limit=1)[0].id
    compute_map(ws, A, "text", sample=40)  # the map routes read it; POST places nothing new
    values["space"] = "text"
    values["job_id"] = start_embeddings(ws, A, space="phash", kind="phash").id
    # A model of an image space (phash), so that uploaded images can be predicted.
    train_model(ws, A, "m", kind="multi-label", space="phash", max_epochs=2)
    values["model"] = "m"
    callers = _callers(ws)
    app = create_app(ws, web_dist=root / "no-web", allowed_hosts=["testserver"])
    client = TestClient(app, raise_server_exceptions=False)
    image = next((coco_mini / "val2017").glob("*.jpg")).read_bytes()
    ids = {name: ws.dataset(name).id for name in (A, B)}
    return World(ws, client, callers, values, image, app.openapi(), ids)


# -- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    operation: dict[str, Any]

    @property
    def access(self) -> str | None:
        return self.operation.get(ACTION_KEY)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _routes(schema: dict[str, Any]) -> list[Route]:
    return [
        Route(method, path, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]


def _order(route: Route) -> tuple[int, int, str]:
    """Reads, then changes, then what takes away what later calls need: the items' undo,
    deletions (deepest first), submitting label jobs, deleting them, the dataset, logging out."""
    m, p = route.method, route.path
    if p == "/api/auth/logout":
        rank = 9
    elif m == "delete" and p == "/api/datasets/{name}":
        rank = 8
    elif m == "delete" and p.endswith("/label-jobs/{job}"):
        rank = 7
    elif p.endswith("/submit"):
        rank = 6
    elif m == "delete":
        rank = 5
    elif "undo" in p or (m == "put" and p.endswith("/labels")):
        rank = 3
    else:
        rank = 0 if m == "get" else 2
    return rank, -p.count("/"), str(route)


# Bodies the schema cannot make up: a real value, or one that leaves later calls their data.
BODIES: dict[str, Any] = {
    "POST /api/auth/login": {"name": "viewer", "password": PASSWORD},
    "POST /api/datasets/{name}/embed": {"space": "phash", "kind": "phash"},
    "POST /api/datasets/{name}/maps": {"space": "text"},
    "POST /api/sql": {"sql": "select count(*) from items"},
    "POST /api/datasets/{name}/search": {"text": "a dog", "space": "text", "k": 3},
    "PATCH /api/datasets/{dataset}/tag-groups/{group}": {"visibility": "shareable"},
    "PATCH /api/datasets/{dataset}/tag-groups/{group}/tags/{tag}": {"name": "{tag}"},
    "POST /api/datasets/{name}/bulk-classify": {"class": "bulk", "collection": "one"},
    "POST /api/datasets/{name}/items/{item_id}/foreground": {"rect": [1, 1, 40, 40]},
    "POST /api/datasets/{name}/split": {"item_ids": ["{item_id}"], "split": "validation"},
    "POST /api/datasets/{name}/models": {
        "name": "matrix",
        "kind": "multi-label",
        "space": "text",
        "max_epochs": 2,
    },
    "POST /api/datasets/{name}/models/{model}/predict": {"item_ids": ["{item_id}"]},
    "PUT /api/users/{name}/roles/{dataset}": {"role": "viewer"},
    "POST /api/datasets/{name}/label-jobs/{job}/done": {"item_ids": ["{item_id}"]},
    "POST /api/datasets/{name}/label-jobs/{job}/review/decide": {
        "decision": "pending",
        "ids": [],
    },
    "POST /api/tokens": {"name": "matrix"},
    "POST /api/users": {"name": "new", "password": PASSWORD, "role": None},
    "POST /api/datasets/{name}/ontology/classes": {"name": "new"},
    "POST /api/datasets/{name}/result-sets": {"name": "new", "job": "sub-job"},
    "POST /api/datasets/{name}/history/{change_id}/undo": {"force": True},
    "POST /api/datasets/{name}/ontology/questions": {
        "name": "q2",
        "kind": "radio",
        "options": ["a"],
    },
    "POST /api/datasets/{name}/collections": {"title": "new", "item_ids": ["{item_id}"]},
    "POST /api/datasets/{name}/label-jobs": {"name": "new", "kind": "manual", "collection": "one"},
    "POST /api/datasets/{dataset}/tag-groups/{group}/tags/{tag}/examples": {
        "item_ids": ["{item_id}"]
    },
    "POST /api/datasets/{dataset}/tag-groups/{group}/tags/{tag}/examples/remove": {
        "item_ids": ["{item_id}"]
    },
    "POST /api/datasets/{dataset}/tag-groups/{group}/tags/{tag}/reviews": {
        "reviews": [{"item_id": "{item_id}", "label": True}]
    },
    "POST /api/datasets/{dataset}/tag-groups/{group}/tags/{tag}/reviews/remove": {
        "item_ids": ["{item_id}"]
    },
}
NO_SUCCESS = {
    "GET /api/datasets/{name}/videos/{item_id}": "the item is an image (404)",
    "POST /api/datasets/{dataset}/tag-groups/{group}/apply": "photos has no text vectors (422)",
    "POST /api/datasets/{dataset}/tag-groups/{group}/tags/{tag}/judge": "no LLM configured (422)",
    "POST /api/datasets/{name}/collections/{title}/freeze": "the collection is static (422)",
    "DELETE /api/tokens/{user}/{name}": "no such token (404): the callers' own must stay",
    "POST /api/datasets/{name}/models/{model}/stop": "the model is not training (422)",
}
QUERIES: dict[str, dict[str, Any]] = {
    "GET /api/items/{item_id}/similar": {"space": "phash", "k": 3},
    "GET /api/datasets/{dataset}/tag-groups/{group}/tags/{tag}/prompt-suggestions": {
        "source": "dataset"
    },
}


def _resolve(ref: str, schema: dict[str, Any]) -> dict[str, Any]:
    node: Any = schema
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _example(node: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A minimal value of a JSON schema: its required properties only, the smallest numbers."""
    if "$ref" in node:
        return _example(_resolve(node["$ref"], schema), schema)
    if "default" in node:
        return node["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            options = [o for o in node[key] if o.get("type") != "null"]
            return _example(options[0], schema) if options else None
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object":
        props = node.get("properties", {})
        return {k: _example(props[k], schema) for k in node.get("required", []) if k in props}
    if kind == "array":
        return [_example(node.get("items", {}), schema) for _ in range(node.get("minItems", 0))]
    if kind == "integer":
        return max(node.get("minimum", 1), node.get("exclusiveMinimum", 0) + 1)
    if kind == "number":
        return max(node.get("minimum", 0.5), node.get("exclusiveMinimum", 0) + 0.5)
    if kind == "boolean":
        return False
    return "2000-01-01T00:00:00Z" if node.get("format") == "date-time" else "matrix"


def _fill(value: Any, values: dict[str, Any]) -> Any:
    """``"{param}"`` in an override body: the path parameter's value."""
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return values[value[1:-1]]
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def _path_values(world: World, route: Route, caller: Caller) -> dict[str, Any]:
    """The real value of each path parameter, for this route and caller."""
    values = dict(world.values)
    p = route.path
    values["name"] = values["dataset"] = A
    if p.endswith("/apply"):
        values["dataset"] = B  # apply A's shareable group to the other dataset
    if p.startswith("/api/users/"):
        values["name"] = "spare"  # a user whose roles the matrix may change
    own = caller.identity.name if caller.identity is not None else "root"
    values["user"] = own
    if p.startswith("/api/tokens/"):
        values["name"] = "no-such-token"
    values["group"] = SHARED
    values["title"] = "matrix-col"
    values["class_name"] = "spare"
    values["question"] = "q"
    values["result_set"] = "rs"
    if "/review" in p:
        values["job"] = "sub-job"
    else:  # an open job given to the caller, where it has one
        values["job"] = "rev-job" if own == "reviewer" else "ann-job"
    return values


def _send(world: World, route: Route, caller: Caller) -> tuple[int, str]:
    values = _path_values(world, route, caller)
    params = [p for p in route.operation.get("parameters", []) if p["in"] == "path"]
    missing = [p["name"] for p in params if p["name"] not in values]
    assert not missing, f"{route}: no value for path parameter(s) {missing}: add them"
    url = route.path.format(**{p["name"]: values[p["name"]] for p in params})
    query = {
        p["name"]: _example(p["schema"], world.schema)
        for p in route.operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    query |= QUERIES.get(str(route), {})
    kw: dict[str, Any] = {"headers": caller.headers, "params": query}
    content = route.operation.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        upload = ("query.jpg", world.image, "image/jpeg")
        kw["files"] = [("file", upload), ("files", upload)]  # search's field, predict's
        kw["data"] = {"space": "phash", "k": "3"}
    elif "application/json" in content:
        body = BODIES.get(str(route))
        if body is None:
            body = _example(content["application/json"]["schema"], world.schema)
        kw["json"] = _fill(body, values)
    r = world.client.request(route.method.upper(), url, **kw)
    world.client.cookies.clear()  # a login's cookie must not sign in the next caller
    message = r.json().get("message", "") if r.is_error and r.content else ""
    return r.status_code, message


# -- what the policy says -----------------------------------------------------------------------


def _dataset_of(world: World, route: Route) -> int | None:
    """The dataset a route acts on (None: the workspace, or a list filtered per dataset)."""
    names = {p["name"] for p in route.operation.get("parameters", []) if p["in"] == "path"}
    if route.path.endswith("/apply"):
        return world.ids[B]
    if names & {"name", "dataset", "item_id", "job_id", "group"} and not route.path.startswith(
        ("/api/users", "/api/tokens")
    ):
        return world.ids[A]
    return None


def _expected(world: World, route: Route, caller: Caller) -> str:
    """``401``, ``403``, ``ok`` (anything but 401, 403, 5xx) or ``public`` (no 403, no 5xx)."""
    access = route.access
    if access == Access.PUBLIC:
        return "public"
    who = caller.identity
    if who is None:
        return "401"
    if access == Access.SELF:  # one's own tokens: policy.account decides
        try:
            policy.account(world.ws.acting_as(who), who.user_id or -1)
        except PermissionDeniedError:
            return "403"
        return "ok"
    action = Action(access)
    dataset_id = _dataset_of(world, route)
    if action in WORKSPACE_ACTIONS:
        allowed = policy.allows(who, action, None)
    elif dataset_id is None:  # a list of what the caller may read
        allowed = True
    elif route.path.startswith("/api/tag-groups/{group}"):
        allowed = policy.group_visible(who, dataset_id, shareable=True)
    elif route.path.startswith("/api/jobs/{job_id}"):
        allowed = policy.job_visible(who, dataset_id)
    else:
        allowed = policy.allows(who, action, dataset_id)
    return "ok" if allowed else "403"


def _matches(expected: str, status: int) -> bool:
    if expected in ("401", "403"):
        return status == int(expected)
    if expected == "public":
        return status != 403 and status < 500
    return status not in (401, 403) and status < 500


# -- the tests ----------------------------------------------------------------------------------


def test_every_route_names_the_access_it_needs(workspace: Workspace, tmp_path: Path) -> None:
    schema = create_app(workspace, web_dist=tmp_path / "no-web").openapi()
    known = {a.value for a in Action} | {a.value for a in Access}
    routes = _routes(schema)
    assert len(routes) > 80
    unmarked = [str(r) for r in routes if r.access is None]
    assert not unmarked, f"routes without openapi_extra=needs(...): {unmarked}"
    unknown = [f"{r}: {r.access}" for r in routes if r.access not in known]
    assert not unknown, f"routes naming no policy action: {unknown}"


def test_every_route_answers_every_caller_as_the_policy_says(world: World) -> None:
    mismatches = []
    n = 0
    started = time.monotonic()
    succeeded: set[str] = set()
    for route in sorted(_routes(world.schema), key=_order):
        if route.access is None:
            continue  # failed by the test above
        for caller in world.callers:
            expected = _expected(world, route, caller)
            status, message = _send(world, route, caller)
            if status < 300:
                succeeded.add(str(route))
            n += 1
            if not _matches(expected, status):
                mismatches.append(
                    f"{route} as {caller.name}: got {status}, expected {expected} ({message})"
                )
    print(f"{n} calls in {time.monotonic() - started:.1f} s")
    assert n > 800
    assert not mismatches, f"{len(mismatches)} of {n} calls:\n" + "\n".join(mismatches)
    # Each route did its work for someone: the matrix reached past the lookups of its values.
    idle = set(map(str, _routes(world.schema))) - succeeded - set(NO_SUCCESS)
    assert not idle, f"routes no caller could use (give them real values): {sorted(idle)}"
