"""Shot boundaries from small YUV frames (tagscope.media.shots) on frames made here."""

from __future__ import annotations

import numpy as np

from tagscope.media.shots import MAX_FADE_DELAY, CutDetector

H, W = 16, 24  # luma rows and width of the frames fed


def _yuv(y: float, u: float = 128, v: float = 128, noise: int = 0, seed: int = 0) -> np.ndarray:
    """A yuv420p frame as PyAV's ``to_ndarray`` gives it: luma rows, then U and V rows."""
    luma = np.full((H, W), y, np.float32)
    if noise:
        luma += np.random.default_rng(seed).integers(-noise, noise + 1, (H, W))
    chroma = np.concatenate([np.full((H // 4, W), u), np.full((H // 4, W), v)])
    return np.clip(np.concatenate([luma, chroma]), 0, 255).astype(np.uint8)


def _cuts(frames: list[np.ndarray]) -> list[int]:
    detector = CutDetector()
    return [c for i, f in enumerate(frames) for c in detector.process(i, f, H)]


def test_a_change_of_colour_at_the_same_luma_is_a_cut_at_its_frame() -> None:
    frames = [_yuv(120, 90, 160, noise=2, seed=i) for i in range(20)]
    frames += [_yuv(120, 170, 100, noise=2, seed=i) for i in range(20, 40)]
    assert _cuts(frames) == [20]


def test_a_steady_change_every_frame_is_no_cut() -> None:
    # A pan or a slow change of light: every frame differs from the last by as much.
    assert _cuts([_yuv(60 + 4 * i) for i in range(40)]) == []


def test_a_fade_through_black_is_cut_in_the_middle_of_the_dark() -> None:
    out = [_yuv(180 - 16 * i) for i in range(10)]  # 180 .. 36, then dark from frame 10
    dark = [_yuv(16)] * 6
    back = [_yuv(20 + 16 * i) for i in range(10)]  # 20 (dark), 36, ...
    frames = [_yuv(180)] * 20 + out + dark + back + [_yuv(180)] * 20
    dark_frames = [i for i, f in enumerate(frames) if f[:H].mean() < 26]
    (cut,) = _cuts(frames)
    assert cut == (dark_frames[0] + dark_frames[-1] + 1) // 2


def test_a_long_dark_stretch_is_cut_soon_after_it_starts_and_only_once() -> None:
    frames = [_yuv(150)] * 20 + [_yuv(16)] * (3 * MAX_FADE_DELAY) + [_yuv(150)] * 20
    assert _cuts(frames) == [20, 20 + MAX_FADE_DELAY, 20 + 3 * MAX_FADE_DELAY]
    # A video that starts dark (a fade in) has no shot before the dark: no cut.
    assert _cuts([_yuv(16)] * 10 + [_yuv(16 + 10 * i) for i in range(15)]) == []
