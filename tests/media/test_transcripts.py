"""Transcripts (tagscope.media.transcripts): SRT and WebVTT cues, malformed cues by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagscope.media.errors import MediaError
from tagscope.media.transcripts import (
    Cue,
    CueProblem,
    parse_transcript,
    read_transcript,
    transcript_for,
)

SRT = """1
00:00:01,000 --> 00:00:02,500
<i>Hello</i> there,
general Kenobi.

2
00:00:03,000 --> 00:00:04,000
Fish &amp; chips
"""

VTT = """WEBVTT - a title

NOTE this is a comment
spanning lines

STYLE
::cue { color: red }

intro
00:01.000 --> 00:02.000 align:start position:10%
<v Roger>Hi <b>you</b></v>

01:00:00.250 --> 01:00:01.000
An hour in
"""


def test_srt_cues_with_times_text_and_lines() -> None:
    t = parse_transcript(SRT)
    assert t.cues == (
        Cue(0, 1000, 2500, "Hello there, general Kenobi.", 2),
        Cue(1, 3000, 4000, "Fish & chips", 7),
    )
    assert t.problems == ()


def test_webvtt_cues_skip_header_notes_and_styles() -> None:
    t = parse_transcript(VTT)
    assert [(c.start_ms, c.end_ms, c.text, c.line) for c in t.cues] == [
        (1000, 2000, "Hi you", 10),
        (3_600_250, 3_601_000, "An hour in", 13),
    ]
    assert t.problems == ()


def test_malformed_cues_are_reported_by_line_and_the_rest_kept() -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nfirst\n\n"
        "2\n00:00:0x,000 --> 00:00:03,000\nbad time\n\n"
        "3\nno timing here\n\n"
        "4\n00:00:05,000 --> 00:00:04,000\nbackwards\n\n"
        "5\n00:00:06,000 --> 00:00:07,000\n\n"
        "6\n00:00:08,000 --> 00:00:09,000\nlast\n"
    )
    t = parse_transcript(text)
    assert [c.text for c in t.cues] == ["first", "last"]
    assert [c.index for c in t.cues] == [0, 1]
    lines = [(p.line, p.reason.split(" ")[0]) for p in t.problems]
    assert lines == [(6, "unreadable"), (9, "no"), (13, "the"), (17, "the")]
    assert "before it starts" in t.problems[2].reason
    assert t.problems[3].reason == "the cue has no text"
    assert str(t.problems[0]).startswith("line 6: unreadable timing")
    assert isinstance(t.problems[1], CueProblem)


def test_a_blank_line_inside_a_cue_keeps_its_text() -> None:
    t = parse_transcript("1\n00:00:01,000 --> 00:00:02,000\nHope you like it.\n\nFollow me\n")
    assert [c.text for c in t.cues] == ["Hope you like it. Follow me"]
    assert t.problems == ()


def test_short_srt_times_are_decimal_fractions() -> None:
    t = parse_transcript("0\n00:00:00,1 --> 00:00:04\nx\n")
    assert (t.cues[0].start_ms, t.cues[0].end_ms) == (100, 4000)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("1\n00:00:01,000 --> 00:00:02,000\ncafé\n".encode(), "utf-8"),
        (b"\xef\xbb\xbf" + "1\n00:00:01,000 --> 00:00:02,000\ncafé\n".encode(), "utf-8-sig"),
        ("1\n00:00:01,000 --> 00:00:02,000\ncafé\n".encode("latin-1"), "latin-1"),
        (b"\xef\xbb\xbfWEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\ncaf\xc3\xa9\r\n", "utf-8-sig"),
    ],
)
def test_encodings(tmp_path: Path, data: bytes, encoding: str) -> None:
    path = tmp_path / "t.srt"
    path.write_bytes(data)
    t = read_transcript(path)
    assert t.encoding == encoding
    assert [c.text for c in t.cues] == ["café"]


def test_the_sample_srt_has_fifteen_cues(shared_dir: Path) -> None:
    t = read_transcript(shared_dir / "data" / "video" / "mediaelement.srt")
    assert len(t.cues) == 15 and t.problems == ()
    assert t.cues[0].text.startswith("HTML5 <video> and <audio>")
    assert (t.cues[-1].start_ms, t.cues[-1].end_ms) == (42000, 45000)
    assert all(a.end_ms <= b.start_ms for a, b in zip(t.cues, t.cues[1:], strict=False))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="file not found"):
        read_transcript(tmp_path / "missing.srt")
    (tmp_path / "empty.srt").write_text("\n\n")
    with pytest.raises(MediaError, match="empty"):
        read_transcript(tmp_path / "empty.srt")


def test_the_transcript_of_a_video(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    assert transcript_for(video) is None
    (tmp_path / "clip.vtt").write_text("WEBVTT\n")
    assert transcript_for(video) == tmp_path / "clip.vtt"
    other = tmp_path / "subs"
    other.mkdir()
    (other / "clip.srt").write_text("1\n")
    assert transcript_for(video, other) == other / "clip.srt"
