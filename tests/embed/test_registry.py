"""Embedders by kind, loaded once per process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagscope.domain import ModelUnavailableError, ValidationError
from tagscope.embed import KINDS, Embedder, load_embedder
from tagscope.embed.phash import MODEL as PHASH_MODEL
from tagscope.embed.text import DEFAULT_MODEL as TEXT_MODEL


def test_every_kind_implements_the_interface(tiny_clip_dir: Path) -> None:
    for kind, model in [("clip", str(tiny_clip_dir)), ("text", None), ("phash", None)]:
        embedder = load_embedder(kind, model, device="cpu")
        assert isinstance(embedder, Embedder)
        assert embedder.kind == kind
    assert KINDS == ("clip", "text", "phash")


def test_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(ValidationError, match=r"unknown embedding kind 'dino'.*clip, text, phash"):
        load_embedder("dino")


def test_imported_space_has_no_model() -> None:
    with pytest.raises(ValidationError, match="imported vectors"):
        load_embedder("imported", "user vectors")


def test_models_are_loaded_once(tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = load_embedder("clip", str(tiny_clip_dir), device="cpu")
    assert load_embedder("clip", str(tiny_clip_dir), device="cpu") is clip
    monkeypatch.chdir(tiny_clip_dir.parent)
    assert load_embedder("clip", f"./{tiny_clip_dir.name}", device="cpu") is clip
    assert load_embedder("text", device="cpu") is load_embedder("text", TEXT_MODEL, device="cpu")
    assert load_embedder("phash") is load_embedder("phash", PHASH_MODEL)


def test_space_model_names_load_back(tiny_clip_dir: Path) -> None:
    """What a space records as its model loads the same embedder (how search embeds queries)."""
    for kind, model in [("clip", str(tiny_clip_dir)), ("text", None), ("phash", None)]:
        embedder = load_embedder(kind, model, device="cpu")
        assert load_embedder(kind, embedder.model, device="cpu") is embedder


def test_phash_takes_no_model() -> None:
    with pytest.raises(ValidationError, match="needs no model"):
        load_embedder("phash", "openai/clip-vit-base-patch32")


def test_missing_clip_model_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for _ in range(2):
        with pytest.raises(ModelUnavailableError, match="clip-vit-large-patch14"):
            load_embedder("clip", "openai/clip-vit-large-patch14", device="cpu")


def test_unusable_device() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValidationError, match="no CUDA"):
        load_embedder("text", device="cuda")
    with pytest.raises(ValidationError, match="unknown device"):
        load_embedder("text", device="tpu")
