"""A dataset's ontology: its classes (name, colour, hotkey) and classification questions (radio,
checklist or free text, with their options).

Labels refer to a class by id and keep its name (SQL and exports read it); a classification's
answers live in its ``attributes`` as ``{"answers": {question: value}}``, checked by
:func:`check_answers`.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tagscope.domain.errors import ValidationError

MAX_NAME = 256  # the labels table's name column
MAX_OPTIONS = 200
_COLOR = re.compile(r"^#[0-9a-f]{6}$")
_HOTKEY = re.compile(r"^[0-9a-z]$")

# Distinct on a dark and a light background (Kelly's and Tableau's colours); classes past these
# get hues a golden angle apart.
PALETTE = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#bfef45",
    "#fabed4",
    "#469990",
    "#dcbeff",
    "#9a6324",
    "#fffac8",
    "#800000",
    "#aaffc3",
    "#808000",
    "#ffd8b1",
    "#000075",
    "#ffe119",
    "#a9a9a9",
)


class QuestionKind(StrEnum):
    RADIO = "radio"  # one of the options
    CHECKLIST = "checklist"  # any of the options
    TEXT = "text"  # free text, no options


@dataclass(frozen=True, slots=True)
class OntologyClass:
    """A class; ``n_labels`` is how many labels refer to it (``None`` where not counted)."""

    id: int
    dataset_id: int
    name: str
    color: str
    hotkey: str | None = None
    n_labels: int | None = None


@dataclass(frozen=True, slots=True)
class Question:
    """A classification question asked of every classification of the dataset."""

    id: int
    dataset_id: int
    name: str
    kind: QuestionKind
    options: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True, slots=True)
class Ontology:
    """A dataset's classes and questions, by name."""

    classes: tuple[OntologyClass, ...]
    questions: tuple[Question, ...]

    def class_named(self, name: str) -> OntologyClass | None:
        return next((c for c in self.classes if c.name == name), None)


# -- validation ---------------------------------------------------------------------------
def validate_name(name: str, what: str = "class") -> str:
    """The name without surrounding spaces; refused when empty, too long or multi-line."""
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME or any(c in clean for c in "\r\n\0"):
        raise ValidationError(
            f"a {what} name is 1..{MAX_NAME} characters on one line, got {name!r}", field="name"
        )
    return clean


def validate_color(color: str) -> str:
    """``#rrggbb`` in lower case."""
    clean = color.strip().lower()
    if not _COLOR.match(clean):
        raise ValidationError(f"a colour is #rrggbb, got {color!r}", field="color")
    return clean


def validate_hotkey(hotkey: str | None) -> str | None:
    """One digit or letter (lower case); ``None`` or ``""``: no hotkey."""
    if hotkey is None or not hotkey.strip():
        return None
    clean = hotkey.strip().lower()
    if not _HOTKEY.match(clean):
        raise ValidationError(f"a hotkey is one digit or letter, got {hotkey!r}", field="hotkey")
    return clean


def validate_options(kind: QuestionKind, options: Sequence[str]) -> tuple[str, ...]:
    """The options of a question of ``kind``: distinct names, at least one unless free text."""
    clean = tuple(validate_name(o, "option") for o in options)
    if kind == QuestionKind.TEXT and clean:
        raise ValidationError("a free-text question has no options", field="options")
    if kind != QuestionKind.TEXT and not clean:
        raise ValidationError(f"a {kind} question needs at least one option", field="options")
    if len(set(clean)) < len(clean) or len(clean) > MAX_OPTIONS:
        raise ValidationError(
            f"a question has at most {MAX_OPTIONS} options, each once", field="options"
        )
    return clean


def palette_colors(used: Collection[str], n: int) -> list[str]:
    """``n`` colours none of ``used`` has: the palette's first, then hues a golden angle apart."""
    taken = {c.lower() for c in used}
    out: list[str] = []
    step = 0
    candidates = iter(PALETTE)
    while len(out) < n:
        color = next(candidates, None)
        if color is None:
            hue = (step * 0.618033988749895) % 1.0
            r, g, b = colorsys.hls_to_rgb(hue, 0.55, 0.75)
            color = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
            step += 1
        if color not in taken:
            taken.add(color)
            out.append(color)
    return out


# -- answers ------------------------------------------------------------------------------
def check_answers(questions: Sequence[Question], answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers, checked against the questions and normalised: a radio answer is one of
    its options, a checklist answer a list of its options (given as a list or as one string of
    comma-separated options), in the options' order; a text answer a string. Every required
    question must be answered.

    Raises
    ------
    ValidationError
        ``field="answers"``: an unknown question, a value that is not among the question's
        options, a required question left out; the message names the question and what it
        allows.
    """
    by_name = {q.name: q for q in questions}
    out: dict[str, Any] = {}
    for name, value in answers.items():
        question = by_name.get(str(name).strip())
        if question is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise ValidationError(
                f"unknown question {name!r}; the dataset's questions are: {known}",
                field="answers",
            )
        out[question.name] = _answer(question, value)
    missing = [q for q in questions if q.required and q.name not in out]
    if missing:
        q = missing[0]
        allowed = f" (one of: {_options(q)})" if q.options else ""
        raise ValidationError(f"question {q.name!r} is required{allowed}", field="answers")
    return out


def _options(question: Question) -> str:
    return ", ".join(question.options)


def _answer(question: Question, value: Any) -> Any:
    if question.kind == QuestionKind.TEXT:
        if not isinstance(value, str):
            raise ValidationError(
                f"question {question.name!r} takes free text, got {value!r}", field="answers"
            )
        return value
    if question.kind == QuestionKind.RADIO:
        if not isinstance(value, str) or value.strip() not in question.options:
            raise ValidationError(
                f"answer {value!r} to question {question.name!r} is not one of its options: "
                f"{_options(question)}",
                field="answers",
            )
        return value.strip()
    chosen = value.split(",") if isinstance(value, str) else value
    if not isinstance(chosen, list | tuple) or not all(isinstance(v, str) for v in chosen):
        raise ValidationError(
            f"question {question.name!r} takes a list of its options ({_options(question)}), "
            f"got {value!r}",
            field="answers",
        )
    picked = {v.strip() for v in chosen if v.strip()}
    unknown = sorted(picked - set(question.options))
    if unknown:
        raise ValidationError(
            f"answers {', '.join(map(repr, unknown))} to question {question.name!r} are not "
            f"among its options: {_options(question)}",
            field="answers",
        )
    return [o for o in question.options if o in picked]


__all__ = [
    "MAX_NAME",
    "PALETTE",
    "Ontology",
    "OntologyClass",
    "Question",
    "QuestionKind",
    "check_answers",
    "palette_colors",
    "validate_color",
    "validate_hotkey",
    "validate_name",
    "validate_options",
]
