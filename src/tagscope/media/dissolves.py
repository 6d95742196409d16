"""Dissolves: the gradual cuts PySceneDetect's frame-to-frame detectors miss.

During a dissolve each frame is a mix of the two shots, so the frame-to-frame change is small
(under any cut threshold) while the change across the dissolve is large. A window of
:data:`WINDOW` frames is a dissolve when its ends differ (mean absolute luma difference at least
:data:`MIN_CHANGE`) and its quarter, middle and three-quarter frames are the linear mixes of its
ends (each within :data:`MAX_RESIDUAL` of the change). A hard cut fails that test (the middle
frame is one end, not a mix), and so does a pan over texture (the middle frame is sharp, the mix
of the ends is a blur); a pan over a smooth picture changes too little. Nor is a window whose one
end is the other scaled (a fade from or to black, a change of light): the cut detector cuts a
fade where it turns black.

Consecutive windows that pass form a run; its best window's middle frame is the cut, reported
when the run ends or is :data:`MAX_RUN` windows long (so the cut comes at most that late).
"""

from __future__ import annotations

from collections import deque

import numpy as np

WINDOW = 12
MIN_CHANGE = 10.0  # in limited-range luma (16-235)
MAX_RESIDUAL = 0.2
MAX_RUN = 8


class DissolveDetector:
    """Feed frames in order with :meth:`process`; it returns the dissolves' cuts."""

    def __init__(self) -> None:
        self.frames: deque[np.ndarray] = deque(maxlen=WINDOW + 1)
        self.run: list[tuple[float, int]] = []  # (residual share, middle frame) of a run

    def process(self, index: int, luma: np.ndarray) -> list[int]:
        """The cut of a dissolve that ended with frame ``index`` (at most one), in frames;
        ``luma`` is the frame's (reduced) luma plane."""
        self.frames.append(luma.astype(np.float32, copy=False))
        score = self._linearity() if len(self.frames) > WINDOW else None
        if score is not None:
            self.run.append((score, index - WINDOW // 2))
            if len(self.run) < MAX_RUN:
                return []
        if not self.run:
            return []
        best = min(self.run)[1]
        self.run = []
        return [best]

    def _linearity(self) -> float | None:
        """How far the window's inner frames are from mixes of its ends, as a share of the
        change between the ends; None when it is no dissolve."""
        a, b = self.frames[0], self.frames[-1]
        size = a.size
        change = float(np.abs(a - b).sum()) / size
        if change < MIN_CHANGE:
            return None
        worst = 0.0
        # The middle first: a cut or a pan fails there, and most windows stop at it.
        for share in (0.5, 0.25, 0.75):
            inner = self.frames[round(WINDOW * share)]
            residual = float(np.abs(inner - (a * (1 - share) + b * share)).sum()) / size
            worst = max(worst, residual)
            if worst >= MAX_RESIDUAL * change:
                return None
        if _scaled(a, b, change) or _scaled(b, a, change):
            return None
        return worst / change


def _scaled(a: np.ndarray, b: np.ndarray, change: float) -> bool:
    """Whether ``b`` is ``a`` times a factor, near enough (a fade, or a change of light)."""
    norm = float((a * a).sum())
    k = float((a * b).sum()) / norm if norm else 0.0
    return float(np.abs(b - k * a).mean()) < MAX_RESIDUAL * change
