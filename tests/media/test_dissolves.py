"""Dissolve detection (tagscope.media.dissolves) on frames made here."""

from __future__ import annotations

import numpy as np

from tagscope.media.dissolves import WINDOW, DissolveDetector


def _cuts(frames: list[np.ndarray]) -> list[int]:
    detector = DissolveDetector()
    return [c for i, f in enumerate(frames) for c in detector.process(i, f)]


def _texture(seed: int) -> np.ndarray:
    """A luma plane of noise."""
    rng = np.random.default_rng(seed)
    return rng.integers(30, 230, (40, 64)).astype(np.uint8)


def test_a_linear_mix_is_a_dissolve_cut_at_its_middle() -> None:
    a, b = _texture(0).astype(np.float32), _texture(1).astype(np.float32)
    mix = [(a * (1 - t) + b * t).astype(np.uint8) for t in np.linspace(0, 1, 14)[1:-1]]
    frames = [a.astype(np.uint8)] * 30 + mix + [b.astype(np.uint8)] * 30
    (cut,) = _cuts(frames)
    assert 30 <= cut <= 30 + len(mix)


def test_a_hard_cut_a_pan_and_a_still_shot_are_no_dissolve() -> None:
    a, b = _texture(0), _texture(1)
    assert _cuts([a] * 30 + [b] * 30) == []
    wide = np.tile(_texture(2), (1, 3))
    assert _cuts([wide[:, i : i + 64] for i in range(60)]) == []  # 1 pixel a frame
    assert _cuts([a] * (3 * WINDOW)) == []


def test_a_fade_to_black_is_left_to_the_cut_detector() -> None:
    a = _texture(0).astype(np.float32)
    fade = [(a * (1 - t)).astype(np.uint8) for t in np.linspace(0, 1, 14)]
    assert _cuts([a.astype(np.uint8)] * 30 + fade + [fade[-1]] * 10) == []
    assert _cuts([fade[-1]] * 10 + fade[::-1] + [a.astype(np.uint8)] * 30) == []  # from black
    dimmer = [(a * (1 - t / 2)).astype(np.uint8) for t in np.linspace(0, 1, 14)]
    assert _cuts([a.astype(np.uint8)] * 30 + dimmer) == []  # the light goes down
