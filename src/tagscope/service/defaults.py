"""Defaults every face shares (CLI, SDK, REST API, web app), kept once here.

The REST API hands them to the web app (``GET /api/config``), so a page never hard-codes how many
items a preview shows or how many hits a search asks for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

PREVIEW_SIZE = 24  # items per side of a tag's preview, and uncertain items offered to mark
SEARCH_K = 48  # hits of a text, image or item search
SIMILAR_K = 12  # neighbours on an item's page
DUPLICATES_K = 24  # near-duplicate pairs per page

# Spaces whose similarity is about how pictures look pixel by pixel, not what they show: they find
# copies, and their nearest neighbours of an ordinary photo look random.
NEAR_DUPLICATE_KINDS = frozenset({"phash"})

LLM_HOW_TO = (
    "set TAGSCOPE_LLM_URL (an OpenAI-compatible API base, e.g. http://localhost:11434/v1) and "
    "TAGSCOPE_LLM_MODEL where the server runs, then restart it"
)


def is_semantic(kind: str) -> bool:
    """Whether a space of ``kind`` compares what pictures show (clip, text, imported vectors)."""
    return kind not in NEAR_DUPLICATE_KINDS


# Which kind of space a face uses when none is named, best first: spaces with a model (their
# queries and prompts can be embedded), then imported vectors, then near-duplicate hashes.
_KIND_RANK = {"clip": 0, "text": 1}


def _rank(kind: str) -> int:
    return _KIND_RANK.get(kind, len(_KIND_RANK) if is_semantic(kind) else len(_KIND_RANK) + 1)


def default_space(spaces: Sequence[Mapping[str, Any]]) -> str | None:
    """The space to search, tag and find similar items in by default: a semantic space
    (``clip``, then ``text``, then imported vectors) before ``phash``, in name order within a
    kind; else None when there is no space."""
    ranked = sorted(spaces, key=lambda s: _rank(str(s["kind"])))  # stable: keeps name order
    return str(ranked[0]["name"]) if ranked else None


def llm_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether an LLM judge endpoint is configured (see :mod:`tagscope.labels.llm_judge`)."""
    env = os.environ if environ is None else environ
    return bool(env.get("TAGSCOPE_LLM_URL") and env.get("TAGSCOPE_LLM_MODEL"))


def client_config() -> dict[str, Any]:
    """What the web app needs to know of the server's defaults and configuration."""
    # Here, not at the top: the foreground use case imports the service modules that import this.
    from tagscope.service.foreground import segment_anything_status

    return {
        "preview_size": PREVIEW_SIZE,
        "search_k": SEARCH_K,
        "similar_k": SIMILAR_K,
        "duplicates_k": DUPLICATES_K,
        "near_duplicate_kinds": sorted(NEAR_DUPLICATE_KINDS),
        "llm": {"configured": llm_configured(), "how_to": LLM_HOW_TO},
        "segment_anything": segment_anything_status(),
    }
