"""Query models load in the background when the server starts (a real MiniLM text space)."""

from __future__ import annotations

from tagscope.service import Workspace, warmup


def test_warmup_loads_every_query_model_in_use(coco_text_ws: Workspace) -> None:
    models = warmup.models_in_use(coco_text_ws)
    assert [kind for kind, _ in models] == ["text"]  # one text space on two datasets
    warmup.start_warmup(coco_text_ws).join(120)
    status = warmup.model_status()
    assert not status["loading"]
    state = next(m for m in status["models"] if (m["kind"], m["model"]) == models[0])
    assert state["status"] == "ready" and state["error"] is None
