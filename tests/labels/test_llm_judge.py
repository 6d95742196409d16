"""The LLM judge against a local OpenAI-compatible server: requests, answers, failures."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

from tagscope.domain import ValidationError
from tagscope.labels.llm_judge import JudgeConfig, JudgeError, JudgeItem, LLMJudge


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "JPEG")
    return buf.getvalue()


def test_config_from_env_and_its_absence() -> None:
    config = JudgeConfig.from_env(
        {
            "TAGSCOPE_LLM_URL": "http://h:1/v1/",
            "TAGSCOPE_LLM_MODEL": "m",
            "TAGSCOPE_LLM_IMAGES": "0",
        }
    )
    assert (config.url, config.model, config.api_key, config.send_images) == (
        "http://h:1/v1",
        "m",
        None,
        False,
    )
    with pytest.raises(ValidationError, match="TAGSCOPE_LLM_URL"):
        JudgeConfig.from_env({})


def test_request_carries_definition_text_image_and_key(fake_llm) -> None:
    fake_llm.yes_words = {"dog"}
    with LLMJudge(JudgeConfig.from_env()) as judge:
        item = JudgeItem(7, text="A dog runs on a beach.", jpeg=_jpeg())
        verdict = judge.judge(item, "dog", positives=["a dog"], negatives=["a wolf"])
    assert (verdict.item_id, verdict.label, verdict.reason) == (7, True, "seen in the text")
    headers, body = fake_llm.requests[0]
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "judge-1" and body["temperature"] == 0
    text, image = body["messages"][-1]["content"]
    assert "Tag: dog" in text["text"] and "It does not mean: a wolf" in text["text"]
    assert "Item text: A dog runs on a beach." in text["text"]
    url = image["image_url"]["url"]
    assert base64.b64decode(url.split(",", 1)[1]) == _jpeg()


@pytest.mark.parametrize(
    ("content", "label"),
    [
        ('{"answer": "no", "reason": "a cat"}', False),
        ('Sure! ```json\n{"answer": "YES", "reason": "a dog"}\n```', True),
        ("No, there is only a cat.", False),
    ],
)
def test_answers_in_json_or_prose(fake_llm, content: str, label: bool) -> None:
    fake_llm.answer = lambda body: (200, fake_llm.reply(content))
    with LLMJudge(JudgeConfig.from_env()) as judge:
        assert judge.judge(JudgeItem(1, text="x"), "dog").label is label


@pytest.mark.parametrize(
    ("status", "payload", "message"),
    [
        (500, {"error": "overloaded"}, "item 3: the LLM endpoint answered 500"),
        (200, {"unexpected": True}, "item 3: the LLM endpoint's answer is not a chat completion"),
        (200, {"choices": [{"message": {"content": "maybe"}}]}, "item 3: .*neither yes nor no"),
    ],
)
def test_bad_answers_name_the_item_and_reason(
    fake_llm, status: int, payload: object, message: str
) -> None:
    fake_llm.answer = lambda body: (status, payload)
    with LLMJudge(JudgeConfig.from_env()) as judge, pytest.raises(JudgeError, match=message):
        judge.judge(JudgeItem(3, text="x"), "dog")


def test_unreachable_endpoint_and_nothing_to_judge() -> None:
    config = JudgeConfig("http://127.0.0.1:9/v1", "m", timeout_s=2)
    with LLMJudge(config) as judge:
        with pytest.raises(
            JudgeError, match=re.escape("item 4: the LLM endpoint http://127.0.0.1:9/v1 failed")
        ):
            judge.judge(JudgeItem(4, text="x"), "dog")
        with pytest.raises(JudgeError, match="item 5: nothing to judge"):
            judge.judge(JudgeItem(5), "dog")
