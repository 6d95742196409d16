"""Prompt suggestions (SPEC F-30): further text prompts for a tag, per modality.

Two sources, chosen by ``source="auto"`` in this order:

- ``llm``: the OpenAI-compatible endpoint the LLM judge uses (``TAGSCOPE_LLM_URL``,
  ``TAGSCOPE_LLM_MODEL``, :mod:`tagscope.labels.llm_judge`) is asked for short prompts, given the
  tag's name and prompts. Its answer must hold a list of strings (JSON, or a bulleted or numbered
  list); anything else is an error, never a made-up suggestion.
- ``dataset``: phrases of the dataset's own texts (the lines of items' text: captions, transcript
  cues) nearest the tag's positive prompts in the dataset's text space (MiniLM), each with the
  items it comes from. Visual prompts draw on the texts of images and keyframes, transcript
  prompts on transcript cues (on every text when the dataset has none of those).

Either way the suggestions leave out the tag's prompts of the modality and repeat nothing
(same words up to case, whitespace and punctuation; for phrases, near-duplicates in the text
space too). :func:`add_suggestions` adds the chosen ones as prompts, all in one unit of work.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tagscope.domain import Dataset, ValidationError
from tagscope.domain.tags import Polarity, PromptModality, Tag, TagGroup, TextPrompt
from tagscope.embed import load_embedder
from tagscope.embed.text import text_lines
from tagscope.index.select import open_index
from tagscope.labels.llm_judge import JudgeConfig, JudgeError, LLMJudge
from tagscope.service import _tag_models as tm
from tagscope.service import defaults, policy
from tagscope.service import tags as uc
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.retry import retrying
from tagscope.store.tag_catalog import TagCatalog

__all__ = [
    "PromptSuggestions",
    "Suggestion",
    "add_suggestions",
    "suggest_prompts",
]

Source = Literal["auto", "llm", "dataset"]

MAX_N = 50
MAX_PROMPT_CHARS = 200
"""Longer phrases (a long transcript cue, an LLM's paragraph) are no short prompts: left out."""

NEAR_DUPLICATE = 0.93
"""Cosine (MiniLM) at or above which two phrases count as one. Measured on COCO captions:
rewordings score 0.96 ("A dog sitting on a couch." / "a dog sits on the couch"), different
scenes of the same kind 0.93 or less ("Two giraffes standing next to each other." / "... next to
a tree." 0.926, a dog and a cat on a bed 0.75)."""

ITEMS_PER_SUGGESTION = 3
"""Items searched per suggestion wanted (each of them holds up to a few phrases)."""

SYSTEM_PROMPT = (
    "You help people define tags for an image and video curation tool. A tag is learnt from short "
    "text prompts embedded by a CLIP-like model. Given a tag and its prompts, propose new, "
    "different, concrete prompts of a few words each that find more of what the tag means. Answer "
    'with JSON only: {"prompts": ["...", "..."]}.'
)

_MODALITY_HINT = {
    PromptModality.VISUAL: "visual: what pictures (images, video keyframes) show",
    PromptModality.TRANSCRIPT: "transcript: what is said in speech (subtitles, transcripts)",
}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+(.+?)\s*$")
_QUOTES = "\"'“”‘’`"


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A prompt to add: its text, how near it is to the tag's prompts (cosine, phrases only)
    and the items whose text holds it (phrases only)."""

    text: str
    score: float | None = None
    item_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class PromptSuggestions:
    """Suggestions for one tag and modality, and where they come from.

    ``source`` is ``"llm"`` (``model`` the endpoint's model, ``space`` None) or ``"dataset"``
    (``space`` the text space searched, ``model`` its embedding model).
    """

    tag: str
    modality: PromptModality
    source: str
    model: str
    space: str | None
    suggestions: tuple[Suggestion, ...]


def suggest_prompts(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    *,
    modality: str = "visual",
    n: int = 10,
    source: Source = "auto",
    config: JudgeConfig | None = None,
) -> PromptSuggestions:
    """Up to ``n`` new text prompts for ``tag`` of ``group`` (trained on ``dataset``).

    Parameters
    ----------
    modality : {"visual", "transcript"}, default "visual"
    n : int, default 10
        At most this many (1 to :data:`MAX_N`); fewer when the source has no more.
    source : {"auto", "llm", "dataset"}, default "auto"
        ``auto``: the LLM endpoint when one is configured, else the dataset's texts.
    config : JudgeConfig, optional
        The endpoint (default :meth:`JudgeConfig.from_env`).

    Raises
    ------
    ValidationError
        A bad modality, ``n`` or source; the chosen source is not there (no endpoint configured,
        no text space), the message saying how to get one.
    ReadOnlyGroupError
        The group is trained on another dataset.
    JudgeError
        The endpoint failed or its answer holds no list of prompts.
    """
    mod = _modality(modality)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise ValidationError(f"n must be an integer from 1 to {MAX_N}, got {n!r}", field="n")
    ds, grp = tm.editable(ws, dataset, group, Action.READ)
    the_tag = grp.tag(tag)
    space = _choose_source(ws, ds, grp, the_tag, source, config)
    if space is None:
        return _from_llm(config or JudgeConfig.from_env(), the_tag, mod, n)
    return _from_dataset(ws, ds, space, the_tag, mod, n)


@retrying
def add_suggestions(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    texts: Sequence[str],
    *,
    modality: str = "visual",
    polarity: str = "positive",
) -> list[TextPrompt]:
    """Add ``texts`` (suggestions the user picked) as prompts of ``tag``: all, or none when one
    fails (one unit of work over :func:`tagscope.service.tags.add_prompt`)."""
    if isinstance(texts, str) or not texts:
        raise ValidationError("no suggestion to add: give one or more texts", field="texts")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"suggestion {i + 1} is empty", field="texts")
    policy.dataset(ws, Action.TAGS_EDIT, dataset)
    with ws.uow():
        return [
            uc.add_prompt(ws, dataset, group, tag, t, polarity=polarity, modality=modality)
            for t in texts
        ]


def _modality(value: str) -> PromptModality:
    try:
        return PromptModality(str(value).lower())
    except ValueError:
        raise ValidationError(
            f"invalid modality {value!r}: choose one of visual, transcript", field="modality"
        ) from None


# -- choosing the source ------------------------------------------------------------------
def _choose_source(
    ws: Workspace,
    ds: Dataset,
    grp: TagGroup,
    tag: Tag,
    source: str,
    config: JudgeConfig | None,
) -> str | None:
    """The text space to draw phrases from, or None to ask the LLM endpoint."""
    if source not in ("auto", "llm", "dataset"):
        raise ValidationError(
            f"invalid source {source!r}: choose one of auto, llm, dataset", field="source"
        )
    if source == "llm" or (source == "auto" and (config or defaults.llm_configured())):
        return None
    space = _text_space(ws, ds, grp)
    if space is not None:
        return space
    no_space = (
        f"dataset {ds.name!r} has no text space to draw phrases from (run `tagscope embed "
        f"{ds.name} --kind text` on items with captions or transcripts)"
    )
    if source == "dataset":
        raise ValidationError(
            f"no prompt suggestions for tag {tag.name!r}: {no_space}", field="source"
        )
    raise ValidationError(
        f"no prompt suggestions for tag {tag.name!r}: no LLM endpoint is configured (set "
        "TAGSCOPE_LLM_URL, an OpenAI-compatible API base, and TAGSCOPE_LLM_MODEL) and "
        f"{no_space}",
        field="source",
    )


def _text_space(ws: Workspace, ds: Dataset, grp: TagGroup) -> str | None:
    """The group's space when it is a text space, else the dataset's first (``text`` first)."""
    texts = [str(s["name"]) for s in ws.catalog.list_spaces(ds.id) if s["kind"] == "text"]
    if grp.space in texts:
        return grp.space
    return min(texts, key=lambda name: (name != "text", name)) if texts else None


# -- what counts as the same prompt -------------------------------------------------------
def _key(text: str) -> str:
    """Text up to case, whitespace and punctuation."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def _clean(text: str) -> str:
    return " ".join(text.split())


def _existing(tag: Tag, modality: PromptModality) -> list[str]:
    return [p.text for p in tag.prompts if p.modality == modality]


# -- from the LLM endpoint ----------------------------------------------------------------
def _from_llm(config: JudgeConfig, tag: Tag, modality: PromptModality, n: int) -> PromptSuggestions:
    subject = f"prompt suggestions for tag {tag.name!r}"
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": _question(tag, modality, n)},
    ]
    with LLMJudge(config) as llm:
        answer = llm.complete(messages, subject=subject)
    proposed = parse_prompt_list(answer, subject=subject)
    existing = {_key(t) for t in _existing(tag, modality)}
    out: dict[str, Suggestion] = {}
    for text in proposed:
        key = _key(text)
        if key and key not in existing and key not in out and len(text) <= MAX_PROMPT_CHARS:
            out[key] = Suggestion(text)
    return PromptSuggestions(tag.name, modality, "llm", config.model, None, tuple(out.values())[:n])


def _question(tag: Tag, modality: PromptModality, n: int) -> str:
    lines = [f"Tag: {tag.name}", f"Prompt modality: {_MODALITY_HINT[modality]}"]
    pos = tag.texts(Polarity.POSITIVE, modality)
    neg = tag.texts(Polarity.NEGATIVE, modality)
    if pos:
        lines.append("Its positive prompts (what it looks for): " + "; ".join(pos))
    if neg:
        lines.append("Its negative prompts (what it ignores): " + "; ".join(neg))
    lines.append(f"Propose {n} new positive prompts, none repeating these.")
    return "\n".join(lines)


def parse_prompt_list(answer: str, *, subject: str = "prompt suggestions") -> list[str]:
    """The prompts in an LLM's ``answer``: a JSON list of strings, or an object holding one
    under ``prompts`` or ``suggestions`` (bare, in a code fence or amid prose), or else the
    items of a bulleted or numbered list; quotes and whitespace stripped.

    Raises
    ------
    JudgeError
        The answer holds none of those, or a list entry that is not a string.
    """
    data = _json_in(answer)
    if data is None:
        items = [m.group(1) for line in answer.splitlines() if (m := _LIST_LINE.match(line))]
        if not items:
            raise JudgeError(
                f"{subject}: the LLM's answer holds no list of prompts: {answer[:200]!r}"
            )
    else:
        if isinstance(data, dict):
            data = data.get("prompts", data.get("suggestions"))
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise JudgeError(
                f"{subject}: the LLM's answer is not a list of prompts (expected "
                f'{{"prompts": ["...", ...]}}): {answer[:200]!r}'
            )
        items = data
    return [t for t in (_clean(x.strip().strip(_QUOTES)) for x in items) if t]


def _json_in(answer: str) -> Any:
    """The first JSON list or object in ``answer`` (whole, fenced, or the outermost brackets)."""
    fenced = _FENCE.search(answer)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(answer)
    for text in candidates:
        for start, end in (("{", "}"), ("[", "]")):
            i, j = text.find(start), text.rfind(end)
            if 0 <= i < j:
                try:
                    return json.loads(text[i : j + 1])
                except ValueError:
                    continue
    return None


# -- from the dataset's own texts ---------------------------------------------------------
def _from_dataset(
    ws: Workspace, ds: Dataset, space: str, tag: Tag, modality: PromptModality, n: int
) -> PromptSuggestions:
    vectors = tm.load_vectors(ws, ds, space)
    info = vectors.space
    queries = _query_texts(tag, modality)
    Q = tm.encode_prompts(info, queries)
    index = open_index(vectors.X, cache_dir=ws.vectors(ds, space).folder)
    mask = _modality_mask(ws, ds, vectors.ids, modality)
    k = min(len(vectors.ids), n * ITEMS_PER_SUGGESTION)
    _, rows = index.search(Q, k, mask=mask)
    item_ids = np.unique(vectors.ids[rows[rows >= 0]])
    phrases = _phrases(ws.catalog.get_items(item_ids.tolist()).values())
    texts = list(phrases)
    if not texts:
        return PromptSuggestions(tag.name, modality, "dataset", info["model"], space, ())
    L = load_embedder(info["kind"], info["model"]).encode_texts(texts)
    scores = (L @ Q.T).max(axis=1)
    existing = _existing(tag, modality)
    E = tm.encode_prompts(info, existing)
    known = {_key(t) for t in existing}
    picked: list[int] = []
    ids: dict[int, set[int]] = {}
    for i in np.argsort(-scores, kind="stable"):
        if _key(texts[i]) in known or (len(E) and float((E @ L[i]).max()) >= NEAR_DUPLICATE):
            continue
        near = [j for j in picked if float(L[j] @ L[i]) >= NEAR_DUPLICATE]
        if near:
            ids[near[0]] |= phrases[texts[i]]
        elif len(picked) < n:
            picked.append(int(i))
            ids[int(i)] = set(phrases[texts[i]])
    out = tuple(
        Suggestion(texts[i], round(float(scores[i]), 4), tuple(sorted(ids[i]))) for i in picked
    )
    return PromptSuggestions(tag.name, modality, "dataset", info["model"], space, out)


def _query_texts(tag: Tag, modality: PromptModality) -> list[str]:
    """What the phrases should be near: the modality's positive prompts, else any, else the
    tag's name."""
    return (
        tag.texts(Polarity.POSITIVE, modality)
        or [p.text for p in tag.prompts if p.polarity is Polarity.POSITIVE]
        or [tag.name]
    )


def _modality_mask(
    ws: Workspace, ds: Dataset, ids: np.ndarray, modality: PromptModality
) -> np.ndarray | None:
    """Rows of the space whose items the modality's prompts score; None (every row) when the
    dataset has none of those in the space."""
    table = "transcript" if modality is PromptModality.TRANSCRIPT else "visual"
    wanted = TagCatalog(ws.catalog).item_ids(ds.id, tm.item_modalities(table))
    mask = np.isin(ids, wanted)
    return mask if mask.any() else None


def _phrases(items: Any) -> dict[str, set[int]]:
    """Each distinct line of the items' text (up to case, whitespace and punctuation) → the
    items holding it; the first spelling met is kept."""
    out: dict[str, set[int]] = {}
    spelling: dict[str, str] = {}
    for item in sorted(items, key=lambda it: it.id):
        for line in text_lines(item.text):
            text = _clean(line)
            key = _key(text)
            if not key or len(text) > MAX_PROMPT_CHARS:
                continue
            out.setdefault(spelling.setdefault(key, text), set()).add(item.id)
    return out
