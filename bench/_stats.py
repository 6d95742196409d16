"""Latency figures every benchmark reports the same way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def latency(seconds: Sequence[float], *, digits: int = 2) -> dict[str, float]:
    """p50, p95 and max in milliseconds, and how many, of timings in seconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), digits),
        "p95_ms": round(float(np.percentile(ms, 95)), digits),
        "max_ms": round(float(ms.max()), digits),
        "n": len(ms),
    }
