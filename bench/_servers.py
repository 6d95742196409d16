"""Servers the benchmarks start on 127.0.0.1: free ports, and waiting until one answers."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Mapping

import httpx


def free_ports(n: int = 1) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 now (all held open while they are picked)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until_up(
    proc: subprocess.Popen,
    *urls: str,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 60.0,
) -> subprocess.Popen:
    """Wait until every URL answers 200 (with ``headers``); kill ``proc`` and fail if they do
    not within ``timeout_s``."""
    pending = list(urls)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        try:
            if httpx.get(pending[0], headers=dict(headers or {}), timeout=2).status_code == 200:
                pending.pop(0)
                continue
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    if pending:
        proc.kill()
        raise RuntimeError(f"the server did not answer {pending[0]} in {timeout_s:g} s")
    return proc
