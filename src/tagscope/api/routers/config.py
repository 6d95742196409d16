"""``/api/config``: the defaults and configuration the web app reads instead of hard-coding."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tagscope.api.dependencies import Access, needs
from tagscope.service import defaults, warmup

router = APIRouter(prefix="/api", tags=["config"])


@router.get("/config", openapi_extra=needs(Access.PUBLIC))
def config() -> dict[str, Any]:
    """Preview size, search ``k``, similar ``k``, and whether an LLM judge is configured."""
    return defaults.client_config()


@router.get("/models/status", openapi_extra=needs(Access.PUBLIC))
def models_status() -> dict[str, Any]:
    """The query models loading in the background since the server started (or loaded)."""
    return warmup.model_status()
