"""Loading the search models in the background when the server starts.

Without it the first text search after a start waits 7-10 s for its model to load. The server
calls :func:`start_warmup` on start-up; :func:`model_status` says what is still loading, so the web
app can say "loading model" instead of showing a bare spinner.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

from tagscope.embed import load_embedder
from tagscope.service.workspace import Workspace

log = logging.getLogger(__name__)

# Kinds whose model embeds a text query (phash needs no model; imported vectors have none).
MODEL_KINDS = ("clip", "text")


@dataclass(slots=True)
class ModelState:
    kind: str
    model: str | None
    status: str  # loading | ready | error
    error: str | None = None


_lock = threading.Lock()
_states: dict[tuple[str, str | None], ModelState] = {}


def models_in_use(ws: Workspace) -> list[tuple[str, str | None]]:
    """The distinct (kind, model) of every space of the workspace that has a query model."""
    found: dict[tuple[str, str | None], None] = {}
    for ds in ws.catalog.list_datasets():
        for space in ws.catalog.list_spaces(ds.id):
            if space["kind"] in MODEL_KINDS:
                found[(space["kind"], space.get("model"))] = None
    return list(found)


def warm_models(ws: Workspace) -> None:
    """Load every query model the workspace's spaces use, and embed one text with each."""
    models = models_in_use(ws)
    with _lock:
        for key in models:
            _states.setdefault(key, ModelState(*key, status="loading"))
    for key in models:
        state = _states[key]
        if state.status == "ready":
            continue
        try:
            load_embedder(*key).encode_texts(["warm-up"])
        except Exception as exc:  # a model that cannot load fails its searches, not the server
            log.exception("could not load the %s model %s in the background", *key)
            with _lock:
                state.status, state.error = "error", f"{type(exc).__name__}: {exc}"
        else:
            with _lock:
                state.status = "ready"


def start_warmup(ws: Workspace) -> threading.Thread:
    """:func:`warm_models` in a daemon thread (the server answers meanwhile)."""
    thread = threading.Thread(
        target=warm_models, args=(ws,), name="tagscope-model-warmup", daemon=True
    )
    thread.start()
    return thread


def model_status() -> dict[str, Any]:
    """``{"loading": bool, "models": [{kind, model, status, error}, ...]}``."""
    with _lock:
        models = [asdict(s) for s in _states.values()]
    return {"loading": any(m["status"] == "loading" for m in models), "models": models}
