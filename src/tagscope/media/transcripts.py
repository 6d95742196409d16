"""Reading transcripts: SubRip (``.srt``) and WebVTT (``.vtt``) cues, with the problems of each.

A malformed cue (no timing line, an unreadable time, an end before its start, no text) is reported
with its line number and skipped; the other cues are kept. The file is UTF-8, with or without a
byte-order mark, else Latin-1 (which decodes any bytes).

Our own parser rather than ``srt`` or ``webvtt-py``: ``srt`` stops at the first malformed cue (or
with ``ignore_errors`` drops it silently) and ``webvtt-py`` skips bad cues without a word, while an
import must say which line of which file it did not take. Formatting tags (``<i>``, ``<font>``,
``<v Speaker>``, ``<00:01.000>``...) are removed and HTML entities decoded, so ``&lt;video&gt;`` is
the text ``<video>``.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from tagscope.media.errors import MediaError
from tagscope.media.sources import read_bytes

TRANSCRIPT_SUFFIXES = (".srt", ".vtt")

# ``[hh:]mm:ss[,.]fff``; SubRip writers also leave out the fraction or shorten it (``00:00:04``,
# ``00:00:00,1``): a fraction is read as decimals, so ``,1`` is 100 ms.
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?"
_TIMING = re.compile(rf"^\s*({_TIME})\s*-->\s*({_TIME})(?:\s+.*)?$")
_ARROW = "-->"
_TAG = re.compile(r"<[^<>]*>")
_VTT_BLOCKS = ("NOTE", "STYLE", "REGION")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Cue:
    """One transcript cue: its text and time range (milliseconds from the video's start).

    ``index`` counts the file's kept cues from 0; ``line`` is the line (from 1) of its timing.
    """

    index: int
    start_ms: int
    end_ms: int
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class CueProblem:
    """A cue that was not kept: the line it starts on (from 1) and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Transcript:
    """The cues read from a transcript file, and the cues that could not be read."""

    cues: tuple[Cue, ...]
    problems: tuple[CueProblem, ...]
    encoding: str


def read_transcript(path: str | os.PathLike[str]) -> Transcript:
    """Read the cues of an SRT or WebVTT file (told apart by its ``WEBVTT`` header), by its path
    or URI (see :mod:`tagscope.media.sources`).

    Raises
    ------
    MediaError
        The file cannot be read, or it is empty.
    """
    text, encoding = decode_text(read_bytes(path))
    if not text.strip():
        raise MediaError("empty transcript")
    return parse_transcript(text, encoding=encoding)


def decode_text(data: bytes) -> tuple[str, str]:
    """The text of ``data`` and its encoding: UTF-8 (a byte-order mark removed), else Latin-1."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
        return data.decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def parse_transcript(text: str, *, encoding: str = "utf-8") -> Transcript:
    """Parse SRT or WebVTT ``text`` into cues (see :func:`read_transcript`)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    is_vtt = lines[0].lstrip("\ufeff").startswith("WEBVTT")
    cues: list[Cue] = []
    problems: list[CueProblem] = []
    after_cue = False
    for first, block in _blocks(lines):
        if is_vtt and (first == 1 or block[0].split(maxsplit=1)[0] in _VTT_BLOCKS):
            after_cue = False
            continue  # the header, comments, styles, regions
        if after_cue and _is_more_text(block):
            # A blank line inside a cue's text (as the ``srt`` package reads it too).
            cues[-1] = replace(cues[-1], text=f"{cues[-1].text} {_words(block)}".strip())
            continue
        cue = _cue(block, first, len(cues))
        after_cue = isinstance(cue, Cue)
        if isinstance(cue, CueProblem):
            problems.append(cue)
        else:
            cues.append(cue)
    return Transcript(tuple(cues), tuple(problems), encoding)


def _is_more_text(block: list[str]) -> bool:
    """A block with no timing that does not start as a cue (a number or identifier line)."""
    return not any(_ARROW in line for line in block[:2]) and not block[0].strip().isdigit()


def _words(lines: list[str]) -> str:
    """The text of cue lines: tags removed, entities decoded, spaces collapsed."""
    return " ".join(" ".join(html.unescape(_TAG.sub("", t)) for t in lines).split())


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines, each with the number (from 1) of its first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _cue(block: list[str], first: int, index: int) -> Cue | CueProblem:
    """The cue a block holds: an optional number or identifier, the timing, the text lines."""
    at = next((i for i, line in enumerate(block[:2]) if _ARROW in line), None)
    if at is None:
        return CueProblem(first, f"no timing line ('start --> end') in {block[0].strip()!r}")
    line = first + at
    match = _TIMING.match(block[at])
    if match is None:
        return CueProblem(line, f"unreadable timing {block[at].strip()!r}")
    start, end = _ms(match.group(1)), _ms(match.group(6))
    if end < start:
        return CueProblem(line, f"the cue ends ({match.group(6)}) before it starts")
    words = _words(block[at + 1 :])
    if not words:
        return CueProblem(line, "the cue has no text")
    return Cue(index, start, end, words, line)


def _ms(stamp: str) -> int:
    match = re.fullmatch(_TIME, stamp.strip())
    assert match is not None  # _TIMING matched it
    hours, minutes, seconds, fraction = match.groups()
    ms = int((fraction or "0").ljust(3, "0"))
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + ms


def transcript_for(video: Path, folder: Path | None = None) -> Path | None:
    """The transcript of ``video``: a ``.srt`` or ``.vtt`` file of the same stem in ``folder``
    (default: the video's own folder), or None."""
    for suffix in TRANSCRIPT_SUFFIXES:
        candidate = (folder or video.parent) / f"{video.stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None
