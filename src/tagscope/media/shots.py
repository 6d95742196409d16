"""Shot boundaries from small YUV frames: hard cuts, fades through black, and dissolves.

:class:`CutDetector` scores each frame by its change from the one before (mean absolute
difference of luma plus that of chroma, on the reduced frame) and cuts where that score stands
out against its neighbours': at least :data:`ADAPTIVE_RATIO` times the mean of the
:data:`WINDOW_WIDTH` scores either side, and at least :data:`MIN_SCORE` (PySceneDetect's
``AdaptiveDetector`` rule, on YUV planes FFmpeg gives for free instead of HSV made per frame).
A pan or a zoom changes every frame by about as much, so it does not stand out.

A fade changes every frame by about as much too: a run of dark frames (mean luma under
:data:`DARK_LUMA`, limited range) between lighter ones is a fade through black, cut in its
middle (or :data:`MAX_FADE_DELAY` frames into it, so the cut comes at most that late).
Dissolves are :class:`~tagscope.media.dissolves.DissolveDetector`'s.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from tagscope.media.dissolves import DissolveDetector

WINDOW_WIDTH = 2
ADAPTIVE_RATIO = 3.0
MIN_SCORE = 8.0
"""Below any cut between two of the sample photos (their scores start at about 60)."""
DARK_LUMA = 26.0
"""PySceneDetect's ``detect-threshold`` default (12 of 255 in RGB), in limited-range luma."""
MAX_FADE_DELAY = 8
_SPAN = 2 * WINDOW_WIDTH + 1


class CutDetector:
    """Feed frames in order with :meth:`process`; it returns the cuts found (frame numbers).

    A cut is named at most ``max(WINDOW_WIDTH, MAX_FADE_DELAY, dissolve delay)`` frames after
    the frame it falls on. Cuts are not filtered by shot length (the caller's rule).
    """

    def __init__(self) -> None:
        self.prev: np.ndarray | None = None
        self.luma_size = 0
        self.scores: deque[tuple[int, float]] = deque(maxlen=_SPAN)  # (frame, score)
        self.seen_light = False
        self.dark_start: int | None = None
        self.fade_cut = False
        self.dissolves = DissolveDetector()

    def process(self, index: int, yuv: np.ndarray, luma_rows: int) -> list[int]:
        """The cuts named on seeing frame ``index``.

        ``yuv`` is a reduced ``yuv420p`` frame as one 2-D array (PyAV's ``to_ndarray``): its
        first ``luma_rows`` rows are the luma plane, the rest the two chroma planes.
        """
        cuts = self._adaptive(index, yuv, luma_rows)
        luma = yuv[:luma_rows].astype(np.float32)  # one copy for both: float sums are fast
        cuts += self._fade(index, float(luma.sum()) / luma.size)
        cuts += self.dissolves.process(index, luma)
        return sorted(cuts)

    def _adaptive(self, index: int, yuv: np.ndarray, luma_rows: int) -> list[int]:
        prev, self.prev = self.prev, yuv
        if prev is None:
            self.luma_size = luma_rows * yuv.shape[1]
            self.scores.append((index, 0.0))
            return []
        diff = np.abs(np.subtract(yuv, prev, dtype=np.int16))
        score = int(diff[:luma_rows].sum()) / self.luma_size + int(diff[luma_rows:].sum()) / (
            diff.size - self.luma_size
        )
        self.scores.append((index, score))
        if len(self.scores) < _SPAN:
            return []
        frame, target = self.scores[WINDOW_WIDTH]
        around = sum(s for _, s in self.scores) - target
        mean = around / (2 * WINDOW_WIDTH)
        stands_out = target >= ADAPTIVE_RATIO * mean if mean > 1e-5 else True
        return [frame] if stands_out and target >= MIN_SCORE else []

    def _fade(self, index: int, luma: float) -> list[int]:
        if luma >= DARK_LUMA:
            start, self.dark_start = self.dark_start, None
            self.seen_light = True
            if start is not None and not self.fade_cut:
                return [(start + index) // 2]
            return []
        if not self.seen_light:  # dark from the start: no shot before it
            return []
        if self.dark_start is None:
            self.dark_start, self.fade_cut = index, False
        elif not self.fade_cut and index - self.dark_start >= 2 * MAX_FADE_DELAY:
            self.fade_cut = True
            return [self.dark_start + MAX_FADE_DELAY]
        return []
