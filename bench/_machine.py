"""What machine a benchmark ran on: every bench prints it beside its figures, since CPUs differ
(some only AVX2, some AVX-512 and AMX) and figures are compared within one run."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The SIMD flags that choose a native path or explain a figure.
SIMD_FLAGS = (
    "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_fp16", "avx512_bf16", "amx_bf16",
    "amx_tile",
)  # fmt: skip


def cpu_info() -> dict[str, object]:
    """The CPU's model, its SIMD flags of :data:`SIMD_FLAGS` and the number of CPUs (Linux's
    /proc/cpuinfo; the model from :mod:`platform` elsewhere)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cpu_flags": [f for f in SIMD_FLAGS if f in flags],
        "cpus": os.cpu_count(),
    }
