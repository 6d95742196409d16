"""The Python SDK against a remote ``tagscope serve``: the REST API, authenticated by an API token.

The URL comes from ``url`` or ``$TAGSCOPE_URL``, the token from ``token`` or ``$TAGSCOPE_TOKEN``
(made with ``tagscope tokens create``); every request carries ``Authorization: Bearer <token>``.
The token is never part of a message or a ``repr``. The server's error answers come back as the
matching domain errors, with its message: 401 :class:`~tagscope.domain.AuthenticationError`,
403 :class:`~tagscope.domain.PermissionDeniedError`, 404 :class:`~tagscope.domain.NotFoundError`,
409 :class:`~tagscope.domain.AlreadyExistsError`, 422 :class:`~tagscope.domain.ValidationError`
(with ``field``), 429 :class:`~tagscope.domain.LockedOutError`, a refused or failed SQL query
:class:`~tagscope.domain.SqlError`.

Examples
--------
>>> import tagscope as ts
>>> ws = ts.connect("https://tagscope.example.org")        # doctest: +SKIP
>>> ws.me()["role"]                                        # doctest: +SKIP
'viewer'
>>> ds = ws.dataset("coco")                                # doctest: +SKIP
>>> [it["path"] for it in ds.items(where="has_label(id, 'dog')", limit=3)]  # doctest: +SKIP
>>> ws.sql("SELECT count(*) AS n FROM items").records()    # doctest: +SKIP
>>> ds.train_model("pets", kind="multi-label", space="text")["metrics"]["map"]  # doctest: +SKIP
>>> ds.predict("pets", ["photo.jpg"])["predictions"][0]["predicted"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import string
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from tagscope._lazy import deferred
from tagscope.domain import (
    AlreadyExistsError,
    AuthenticationError,
    Dataset,
    Hit,
    LockedOutError,
    ModelUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    SqlError,
    TagscopeError,
    ValidationError,
)
from tagscope.sdk.models import Image, _read

if TYPE_CHECKING:
    import httpx

    from tagscope.service.sql import SqlResult
else:
    httpx = deferred("httpx")  # `import tagscope` must not load it; connect() does

URL_ENV = "TAGSCOPE_URL"
TOKEN_ENV = "TAGSCOPE_TOKEN"
PAGE = 100  # grid items per request while paging (the server allows up to 500)
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "-._~+/=")
_SHOWN_BODY = 200  # characters of a non-JSON error answer quoted in the message


def connect(
    url: str | None = None, token: str | None = None, *, timeout: float = 60.0
) -> RemoteWorkspace:
    """A client of the Tagscope server at ``url`` (default ``$TAGSCOPE_URL``), authenticated by
    ``token`` (default ``$TAGSCOPE_TOKEN``; none for a server started with ``--no-auth``).

    Nothing is sent until the first call; :meth:`RemoteWorkspace.me` checks the credentials.

    Raises
    ------
    ValidationError
        No URL given nor set, a URL that is no ``http(s)://host``, or a token holding
        characters no token has (say, a line break pasted with it).
    """
    url = url if url is not None else os.environ.get(URL_ENV)
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    return RemoteWorkspace(_base_url(url), _checked_token(token), timeout=timeout)


def _base_url(url: str | None) -> str:
    if not url or not url.strip():
        raise ValidationError(
            f"no server URL: pass url=..., or set {URL_ENV} (e.g. http://127.0.0.1:8000)",
            field="url",
        )
    url = url.strip().rstrip("/")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValidationError(f"invalid server URL {url!r}: {exc}", field="url") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValidationError(
            f"invalid server URL {url!r}: give http://HOST[:PORT] or https://HOST[:PORT]",
            field="url",
        )
    if parsed.userinfo:  # would be shown in every message quoting the URL
        raise ValidationError(
            f"the server URL holds a user name or password: give the token in {TOKEN_ENV} instead",
            field="url",
        )
    return url


def _checked_token(token: str | None) -> str | None:
    token = (token or "").strip()
    if not token:
        return None
    if not set(token) <= _TOKEN_CHARS:  # never quoted: the message must not show it
        raise ValidationError(
            f"the API token (from {TOKEN_ENV} or token=...) holds characters no token has; "
            "copy it again as `tagscope tokens create` printed it",
            field="token",
        )
    return token


class RemoteWorkspace:
    """The workspace a Tagscope server serves, over its REST API (see :func:`connect`).

    Use it as a context manager, or call :meth:`close`, to close its connections.
    """

    def __init__(self, url: str, token: str | None, *, timeout: float = 60.0) -> None:
        self.url = url
        self._has_token = token is not None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # httpx sends the URL's host as Host, which the server checks (api.guards).
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout)

    def __enter__(self) -> RemoteWorkspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"RemoteWorkspace({self.url!r}, token={'set' if self._has_token else 'none'})"

    # -- requests ---------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: Sequence[tuple[str, bytes]] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request to an ``/api`` route and return its JSON answer (None for 204):
        the way to any route this client has no method for. ``files``: ``(name, bytes)`` pairs
        sent as the multipart field ``files``.

        Raises
        ------
        TagscopeError
            The server's error answer as the matching domain error (see the module), or the
            server cannot be reached.
        """
        options: dict[str, Any] = {"params": _query(params), "json": json}
        if files is not None:
            options["files"] = [("files", f) for f in files]
        if timeout is not None:
            options["timeout"] = timeout
        try:
            response = self._http.request(method, path, **options)
        except httpx.TimeoutException:
            raise TagscopeError(f"{method} {self.url}{path}: no answer in time") from None
        except httpx.TransportError as exc:
            raise TagscopeError(f"cannot reach the Tagscope server at {self.url}: {exc}") from None
        if response.is_error:
            raise self._error(response)
        if response.is_redirect:  # not followed: say where, rather than send the token there
            where = response.headers.get("Location", "?")
            raise TagscopeError(
                f"{method} {self.url}{path} redirects to {where}: connect to the server's own URL"
            )
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise TagscopeError(
                f"{method} {self.url}{path} did not answer JSON: is it a Tagscope server?"
            ) from None

    def _error(self, response: httpx.Response) -> TagscopeError:
        try:
            body = response.json()
            message, field = str(body["message"]), body.get("field")
        except (ValueError, KeyError, TypeError):
            text = response.text.strip()[:_SHOWN_BODY]
            message, field = f"HTTP {response.status_code} from {self.url}: {text}", None
        status = response.status_code
        if status == 401:
            hint = (
                f"no token was sent: set {TOKEN_ENV} (or pass token=... to connect)"
                if not self._has_token
                else f"the token (from {TOKEN_ENV} or token=...) is refused: ask an admin for a "
                "new one"
            )
            return AuthenticationError(f"{message}; {hint}")
        if status == 429:
            retry = response.headers.get("Retry-After", "")
            return LockedOutError(message, retry_after_s=float(retry) if retry.isdigit() else 60.0)
        return _domain_error(status, message, field)

    # -- the workspace ----------------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        """Who the token acts as: ``{auth, user, role, workspace_actions, datasets: {name:
        {role, actions}}}`` (``auth`` false on a ``--no-auth`` server)."""
        return self.request("GET", "/api/auth/me")

    def datasets(self) -> list[Dataset]:
        """The datasets the caller may read, with their item counts."""
        return [_dataset(d) for d in self.request("GET", "/api/datasets")]

    def dataset(self, name: str) -> RemoteDataset:
        """The existing dataset ``name``.

        Raises
        ------
        NotFoundError
            The server has no such dataset (or none the caller may read).
        """
        ds = RemoteDataset(self, name)
        ds.info()
        return ds

    def create_dataset(self, name: str, *, description: str = "") -> RemoteDataset:
        """A new, empty dataset (an editor's or admin's token)."""
        self.request("POST", "/api/datasets", json={"name": name, "description": description})
        return RemoteDataset(self, name)

    def tag_groups(self) -> list[dict[str, Any]]:
        """Every tag group the caller may see, with its tags."""
        return self.request("GET", "/api/tag-groups")

    def item(self, item_id: int) -> dict[str, Any]:
        """An item's detail: ``{item, dataset, labels, scores, tags, tag_scores}``."""
        return self.request("GET", f"/api/items/{int(item_id)}")

    def sql(
        self,
        query: str,
        *,
        limit: int = 10_000,
        timeout_s: float = 10.0,
        max_bytes: int = 64 * 2**20,
        max_columns: int = 1_000,
    ) -> SqlResult:
        """Run read-only SQL on the server (over the datasets the caller may read); the same
        result as a local workspace's ``sql()``: ``.columns``, ``.rows``, ``.records()``.

        Raises
        ------
        SqlError
            The server refused the statement, or it failed or reached a limit.
        """
        from tagscope.service.sql import SqlResult  # deferred: DuckDB loads with it

        body = {
            "sql": query,
            "limit": limit,
            "timeout_s": timeout_s,
            "max_bytes": max_bytes,
            "max_columns": max_columns,
        }
        wait = max(self._http.timeout.read or 0.0, timeout_s + 30.0)
        r = self.request("POST", "/api/sql", json=body, timeout=wait)
        return SqlResult(r["columns"], r["types"], r["rows"], r["truncated"], r["elapsed_ms"])

    def sql_tables(self) -> dict[str, list[tuple[str, str]]]:
        """The tables a query can read, with their (column, type) pairs."""
        tables = self.request("GET", "/api/sql/tables")
        return {t["name"]: [(c["name"], c["type"]) for c in t["columns"]] for t in tables}


def _domain_error(status: int, message: str, field: str | None) -> TagscopeError:
    """The domain error of an error answer other than 401 and 429 (which need more)."""
    if status == 422:
        return ValidationError(message, field=field)
    if status == 400 and field in ("sql", "where"):
        return SqlError(message, field=field)
    by_status: dict[int, type[TagscopeError]] = {
        403: PermissionDeniedError,
        404: NotFoundError,
        409: AlreadyExistsError,
        503: ModelUnavailableError,
    }
    return by_status.get(status, TagscopeError)(message)


def _query(params: dict[str, Any] | None) -> dict[str, Any] | None:
    # None means "the server's default": left out rather than sent as an empty string.
    return {k: v for k, v in params.items() if v is not None} if params else None


def _dataset(d: dict[str, Any]) -> Dataset:
    created = datetime.fromisoformat(d["created_at"])
    return Dataset(d["id"], d["name"], d["description"], created, d["n_items"])


def _hits(rows: list[dict[str, Any]]) -> list[Hit]:
    return [Hit(h["item_id"], h["path"], h["score"]) for h in rows]


class RemoteDataset:
    """A dataset of a remote workspace (see :meth:`RemoteWorkspace.dataset`)."""

    def __init__(self, remote: RemoteWorkspace, name: str) -> None:
        self.remote = remote
        self.name = name

    def __repr__(self) -> str:
        return f"RemoteDataset({self.name!r}, {self.remote.url!r})"

    @property
    def _path(self) -> str:
        return f"/api/datasets/{_segment(self.name)}"

    def info(self) -> dict[str, Any]:
        """Counts, labels (name -> items), embedding spaces and the default space."""
        return self.remote.request("GET", self._path)

    def label_counts(self, where: str | None = None) -> dict[str, int]:
        """Label name -> number of items carrying it (of those matching the grid filter)."""
        return self.remote.request("GET", self._path, params={"where": where})["labels"]

    def count(self, where: str | None = None) -> int:
        """How many items match the grid filter ``where`` (all of them without one)."""
        page = self.remote.request(
            "GET", f"{self._path}/items", params={"where": where, "limit": 1}
        )
        return page["total"]

    def items(
        self,
        where: str | None = None,
        *,
        sort: str = "id",
        order: Literal["asc", "desc"] = "asc",
        limit: int | None = None,
        collection: str | None = None,
        page_size: int = PAGE,
    ) -> Iterator[dict[str, Any]]:
        """The grid's items, fetched page by page (``next_cursor``) as the iteration goes.

        ``where`` is a grid filter (SQL over the item's columns, ``has_label(id, 'x')``,
        ``tags_<group>.<tag>``); ``sort`` one of id, path, size, width, height, format, split or
        a tag score; ``limit`` how many items at most (default: all). Each item is the grid's
        JSON: id, path, media, split, metadata, labels, scores, tags, thumbnail_url, ...
        """
        params: dict[str, Any] = {
            "where": where,
            "sort": sort,
            "order": order,
            "collection": collection,
        }
        left = limit
        cursor: str | None = None
        while left is None or left > 0:
            size = page_size if left is None else min(page_size, left)
            page = self.remote.request(
                "GET", f"{self._path}/items", params={**params, "limit": size, "cursor": cursor}
            )
            yield from page["items"][:size]
            if left is not None:
                left -= len(page["items"])
            cursor = page["next_cursor"]
            if not cursor or not page["items"]:
                return

    def search(
        self,
        text: str,
        *,
        space: str | None = None,
        k: int = 10,
        min_score: float | None = None,
        labels: Sequence[str] = (),
        mode: Literal["any", "all"] = "any",
    ) -> list[Hit]:
        """Items best matching ``text`` in ``space`` (default: the server's), best first."""
        body = _search_options(space, k, min_score, labels, mode)
        return _hits(
            self.remote.request("POST", f"{self._path}/search", json={"text": text, **body})
        )

    def similar(
        self,
        item_id: int,
        *,
        space: str | None = None,
        k: int = 10,
        min_score: float | None = None,
        labels: Sequence[str] = (),
        mode: Literal["any", "all"] = "any",
    ) -> list[Hit]:
        """Items most similar to the item ``item_id`` of the dataset (itself left out)."""
        body = _search_options(space, k, min_score, labels, mode)
        hits = self.remote.request(
            "POST", f"{self._path}/search", json={"item_id": item_id, **body}
        )
        return _hits(hits)

    def tag_groups(self) -> list[dict[str, Any]]:
        """The tag groups the dataset trains or applies, each with its ``scoring`` status."""
        return self.remote.request("GET", f"{self._path}/tag-groups")

    def history(self, *, limit: int = 100, **filters: Any) -> list[dict[str, Any]]:
        """The dataset's change-sets, newest first (``filters``: what the server's history
        route takes besides ``limit``)."""
        return self.remote.request(
            "GET", f"{self._path}/history", params={"limit": limit, **filters}
        )

    # -- models (JSON: name, kind, space, status, classes, thresholds, metrics, history, ...) --
    def _model_path(self, name: str) -> str:
        return f"{self._path}/models/{_segment(name)}"

    def models(self) -> list[dict[str, Any]]:
        """The dataset's models."""
        return self.remote.request("GET", f"{self._path}/models")

    def model(self, name: str) -> dict[str, Any]:
        """The model ``name`` as it is now: status, metrics, thresholds, live learning curve."""
        return self.remote.request("GET", self._model_path(name))

    def train_model(
        self,
        name: str,
        *,
        kind: Literal["single-label", "multi-label", "detector"],
        space: str | None = None,
        wait: bool = True,
        poll_s: float = 0.5,
        timeout: float | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Train a model on the server (an editor's token), a job there; with ``wait``, return
        it once trained (polling every ``poll_s`` seconds, for ``timeout`` seconds at most),
        else at once, in status training. ``params``: what the server's route takes besides
        (``collection``, ``where``, ``validation``, ``max_epochs``, ``restart``, ...).

        Raises
        ------
        TagscopeError
            The training failed (its error), or is still going after ``timeout`` seconds.
        """
        body = {"name": name, "kind": kind, "space": space, **params}
        model = self.remote.request("POST", f"{self._path}/models", json=body)["model"]
        deadline = None if timeout is None else time.monotonic() + timeout
        while wait and model["status"] == "training":
            if deadline is not None and time.monotonic() > deadline:
                raise TagscopeError(
                    f"model {name!r} of dataset {self.name!r} is still training after "
                    f"{timeout:g} s (job {model['job_id']}); stop it with stop_model({name!r})"
                )
            time.sleep(poll_s)
            model = self.model(name)
        if model["status"] == "failed":
            raise TagscopeError(
                f"training model {name!r} of dataset {self.name!r} failed: {model['error']}"
            )
        return model

    def stop_model(self, name: str) -> dict[str, Any]:
        """Stop the model's training: it keeps its best checkpoint."""
        return self.remote.request("POST", f"{self._model_path(name)}/stop")

    def delete_model(self, name: str) -> None:
        self.remote.request("DELETE", self._model_path(name))

    def set_thresholds(self, name: str, thresholds: Mapping[str, float] | None) -> dict[str, Any]:
        """Save per class thresholds (``None``: every class's optimized, max-F1 one)."""
        body = {"thresholds": None if thresholds is None else dict(thresholds)}
        return self.remote.request("PUT", f"{self._model_path(name)}/thresholds", json=body)

    def model_statistics(
        self, name: str, subset: Literal["validation", "train"] = "validation"
    ) -> dict[str, Any]:
        """Per class PR curves, AP and best threshold; accuracy and the confusion matrix for
        single-label; mAP."""
        return self.remote.request(
            "GET", f"{self._model_path(name)}/statistics", params={"subset": subset}
        )

    def predict(self, model: str, files: Sequence[Image], *, last: bool = False) -> dict[str, Any]:
        """Predict image files (paths, or ``(name, bytes)`` pairs) with the model's best
        checkpoint (``last``: its latest): ``{dataset, model, kind, checkpoint, predictions:
        [{file, scores | boxes, predicted}]}``."""
        path = f"/api/predict/{_segment(self.name)}/{_segment(model)}" + ("/last" if last else "")
        images = [f if isinstance(f, tuple) else _read(f) for f in files]
        return self.remote.request("POST", path, files=images)

    def predict_items(
        self, model: str, item_ids: Sequence[int], *, write_labels: bool = False
    ) -> dict[str, Any]:
        """Predict items of the dataset: ``{predictions: [{item_id, scores | boxes,
        predicted}], change_set}``; ``write_labels`` (a labels.edit right) writes them as
        labels of source prediction, one change-set."""
        body = {"item_ids": [int(i) for i in item_ids], "write_labels": write_labels}
        return self.remote.request("POST", f"{self._model_path(model)}/predict", json=body)


def _search_options(
    space: str | None, k: int, min_score: float | None, labels: Sequence[str], mode: str
) -> dict[str, Any]:
    body: dict[str, Any] = {"k": k, "labels": list(labels), "label_mode": mode}
    if space is not None:
        body["space"] = space
    if min_score is not None:
        body["min_score"] = min_score
    return body


def _segment(name: str) -> str:
    """``name`` as one URL path segment (a dataset name holds no ``/``, but never trust one)."""
    return quote(name, safe="")


__all__ = ["RemoteDataset", "RemoteWorkspace", "connect"]
