"""An LLM judge that proposes ground truth for a tag (F-29): does this item show the tag?

Any OpenAI-compatible chat-completions endpoint works (OpenAI, Azure OpenAI, vLLM, Ollama,
LM Studio, llama.cpp's server...): the judge sends the tag's definition (its name and text
prompts) with the item's own text (captions, transcript) and, for a vision model, the item's
image as a JPEG data URL, and asks for a JSON answer ``{"answer": "yes"|"no", "reason": ...}``.
Its verdicts are proposals: people review and clean them before they count as ground truth.

Configuration comes from the environment (:meth:`JudgeConfig.from_env`):
``TAGSCOPE_LLM_URL`` (the API base, e.g. ``https://api.openai.com/v1`` or
``http://localhost:11434/v1``), ``TAGSCOPE_LLM_MODEL`` and ``TAGSCOPE_LLM_API_KEY`` (optional).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tagscope.domain import TagscopeError, ValidationError

__all__ = ["JudgeConfig", "JudgeError", "JudgeItem", "LLMJudge", "Verdict"]

SYSTEM_PROMPT = (
    "You label data for an image and video curation tool. Given the definition of a tag and one "
    "item (its text and/or image), decide whether the item shows the tag. Answer with JSON only: "
    '{"answer": "yes" or "no", "reason": "<one short sentence>"}.'
)
_ANSWER = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


class JudgeError(TagscopeError):
    """The endpoint could not judge an item: the message names the item and the reason."""


@dataclass(frozen=True, slots=True)
class JudgeConfig:
    """Where the judge's model is served.

    Parameters
    ----------
    url : str
        The API base; ``/chat/completions`` is appended.
    model : str
        The model name the endpoint knows.
    api_key : str, optional
        Sent as ``Authorization: Bearer <key>``.
    timeout_s : float, default=60
        Per request.
    send_images : bool, default=True
        Attach the item's image (for vision models); text-only models need False.
    """

    url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    send_images: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JudgeConfig:
        """The configuration in ``TAGSCOPE_LLM_URL``, ``_MODEL``, ``_API_KEY``, ``_IMAGES``.

        Raises
        ------
        ValidationError
            No endpoint is configured (the message says what to set).
        """
        env = os.environ if environ is None else environ
        url, model = env.get("TAGSCOPE_LLM_URL"), env.get("TAGSCOPE_LLM_MODEL")
        if not url or not model:
            raise ValidationError(
                "no LLM judge is configured: set TAGSCOPE_LLM_URL (an OpenAI-compatible API "
                "base, e.g. http://localhost:11434/v1) and TAGSCOPE_LLM_MODEL, and "
                "TAGSCOPE_LLM_API_KEY if the endpoint needs one",
                field="llm",
            )
        images = env.get("TAGSCOPE_LLM_IMAGES", "1").strip().lower() not in ("0", "false", "no")
        return cls(url.rstrip("/"), model, env.get("TAGSCOPE_LLM_API_KEY"), send_images=images)


@dataclass(frozen=True, slots=True)
class JudgeItem:
    """What the judge sees of an item: its id, its own text, its image (JPEG bytes)."""

    item_id: int
    text: str | None = None
    jpeg: bytes | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    item_id: int
    label: bool
    reason: str


class LLMJudge:
    """Ask an OpenAI-compatible endpoint whether items show a tag.

    Parameters
    ----------
    config : JudgeConfig
    client : httpx.Client, optional
        For tests and connection reuse; one is made (and closed with :meth:`close`) otherwise.
    """

    def __init__(self, config: JudgeConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self._own = client is None
        self.client = client or httpx.Client(timeout=config.timeout_s)
        self._headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}

    def close(self) -> None:
        if self._own:
            self.client.close()

    def __enter__(self) -> LLMJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def judge(
        self,
        item: JudgeItem,
        tag: str,
        positives: Sequence[str] = (),
        negatives: Sequence[str] = (),
    ) -> Verdict:
        """Whether ``item`` shows ``tag`` (described by its positive and negative prompts).

        Raises
        ------
        JudgeError
            The endpoint failed, answered with an error, or answered neither yes nor no; the
            message names the item.
        """
        if item.text is None and (item.jpeg is None or not self.config.send_images):
            raise JudgeError(f"item {item.item_id}: nothing to judge (no text, no image sent)")
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": self._content(item, tag, positives, negatives)},
        ]
        text = self.complete(messages, subject=f"item {item.item_id}")
        answer, reason = _parse_answer(text)
        if answer is None:
            raise JudgeError(
                f"item {item.item_id}: the LLM answered neither yes nor no: {text[:200]!r}"
            )
        return Verdict(item.item_id, answer, reason)

    def complete(self, messages: list[dict[str, Any]], *, subject: str) -> str:
        """The endpoint's answer (its first choice's text) to a chat of ``messages``, at
        temperature 0; other uses of the endpoint (prompt suggestions) ask through this too.

        Raises
        ------
        JudgeError
            The endpoint failed, answered with an error or with something that is not a chat
            completion; the message starts with ``subject`` (what was asked about).
        """
        body = {"model": self.config.model, "temperature": 0, "messages": messages}
        try:
            response = self.client.post(
                f"{self.config.url}/chat/completions",
                json=body,
                headers=self._headers,
                timeout=self.config.timeout_s,
            )
        except httpx.HTTPError as exc:
            raise JudgeError(
                f"{subject}: the LLM endpoint {self.config.url} failed: {exc}"
            ) from exc
        if response.status_code != 200:
            raise JudgeError(
                f"{subject}: the LLM endpoint answered {response.status_code}: "
                f"{response.text[:200]}"
            )
        try:
            return str(response.json()["choices"][0]["message"]["content"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise JudgeError(
                f"{subject}: the LLM endpoint's answer is not a chat completion: "
                f"{response.text[:200]}"
            ) from exc

    def _content(
        self, item: JudgeItem, tag: str, positives: Sequence[str], negatives: Sequence[str]
    ) -> list[dict[str, Any]]:
        lines = [f"Tag: {tag}"]
        if positives:
            lines.append("It means: " + "; ".join(positives))
        if negatives:
            lines.append("It does not mean: " + "; ".join(negatives))
        if item.text:
            lines.append(f"Item text: {item.text}")
        lines.append("Does this item show the tag?")
        content: list[dict[str, Any]] = [{"type": "text", "text": "\n".join(lines)}]
        if item.jpeg is not None and self.config.send_images:
            data = base64.b64encode(item.jpeg).decode("ascii")
            content.append(
                {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{data}"}}
            )
        return content


def _parse_answer(text: str) -> tuple[bool | None, str]:
    """(yes → True / no → False / None, reason) from a JSON answer or, failing that, prose."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match:
        try:
            data = json.loads(match.group(0))
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("answer"), str):
            answer = data["answer"].strip().lower()
            if answer in ("yes", "no"):
                return answer == "yes", str(data.get("reason", "")).strip()
    found = _ANSWER.search(text)
    if found is None:
        return None, ""
    return found.group(1).lower() == "yes", text.strip()[:500]
