"""Embedding models behind one interface."""

from tagscope.embed.base import Embedder
from tagscope.embed.registry import IMPORTED, KINDS, clear_cache, load_embedder

__all__ = ["IMPORTED", "KINDS", "Embedder", "clear_cache", "load_embedder"]
