"""What authentication costs on the grid endpoint at 100,000 items: a token against ``--no-auth``.

Builds (or reuses) bench_grid's workspace (``--n-items`` items, their labels and one tag group's
scores), adds a viewer account and an API token for it, then serves the workspace twice from ONE
separate process: ``create_app(ws, auth=True)`` and ``create_app(ws, auth=False)`` (what
``tagscope serve --no-auth`` runs), each under uvicorn on 127.0.0.1. One keep-alive client per
server scrolls the grid from the top through ``next_cursor`` (``GET
/api/datasets/<name>/items?limit=100``, what the web app does), the token's client with
``Authorization: Bearer``; the two are interleaved request by request, which one goes first drawn
at random, so that drift (other work on the machine, caches warming) falls on both alike.

Reported: p50/p95 of each, the p50/p95 added by the token, the median of the paired differences;
the server's CPU time per request of each (blocks of requests to one server, then the other: on
a busy machine wall-clock tails are mostly waits for a CPU, which CPU time leaves out); and, timed
in this process, ``accounts.identity_for_token`` (the lookup each token request makes; wall and
CPU time) and ``ws.acting_as`` (the per-request copy of the workspace).

Prints ONE JSON line. Goal: under 2 ms added at p95.

    python bench/bench_auth.py [--n-items 100000] [--requests 300] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from _machine import cpu_info
from _servers import free_ports, wait_until_up
from _stats import latency
from bench_grid import DATASET, build_dataset, build_scores
from tagscope.domain import NotFoundError
from tagscope.service import Workspace, accounts

USER, TOKEN_NAME = "bench-viewer", "bench"
PASSWORD = "bench-password-not-secret"
GOAL_MS = 2.0

# Two uvicorn servers in threads of one process: the same workspace object, the same caches.
SERVER = """
import sys, threading, uvicorn
from tagscope.api.app import create_app
from tagscope.service import Workspace
ws = Workspace.open(sys.argv[1])
servers = []
for port, auth in ((int(sys.argv[2]), True), (int(sys.argv[3]), False)):
    config = uvicorn.Config(create_app(ws, auth=auth), host="127.0.0.1", port=port,
                            log_level="warning", access_log=False)
    servers.append(uvicorn.Server(config))
threads = [threading.Thread(target=s.run, daemon=True) for s in servers]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def viewer_token(ws: Workspace) -> str:
    """A fresh API token of a viewer account (made on the first run)."""
    try:
        accounts.get_user(ws, USER)
    except NotFoundError:
        accounts.add_user(ws, USER, PASSWORD, role="viewer")
    for token in accounts.list_tokens(ws, USER):
        if token.revoked_at is None:
            accounts.revoke_token(ws, USER, token.name)
    name = f"{TOKEN_NAME}-{int(time.time())}"
    return accounts.create_token(ws, USER, name, scope="read")[1]


def start_servers(root: Path, token: str) -> tuple[subprocess.Popen[bytes], int, int]:
    port_auth, port_open = free_ports(2)
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(root), str(port_auth), str(port_open)]
    )
    auth = {"Authorization": f"Bearer {token}"}
    wait_until_up(proc, f"http://127.0.0.1:{port_auth}/api/datasets", headers=auth)
    wait_until_up(proc, f"http://127.0.0.1:{port_open}/api/datasets")
    return proc, port_auth, port_open


class Scroller:
    """Follows ``next_cursor`` from the top of the grid, restarting at the end."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.cursor: str | None = None
        self.total = 0

    def next_page(self) -> float:
        query: dict[str, object] = {"limit": 100}
        if self.cursor:
            query["cursor"] = self.cursor
        t0 = time.perf_counter()
        r = self.client.get(f"/api/datasets/{DATASET}/items", params=query)
        elapsed = time.perf_counter() - t0
        r.raise_for_status()
        page = r.json()
        if not page["items"]:  # past the end (the last full page still gives a cursor)
            assert self.cursor is not None, page
            self.cursor = None
            return self.next_page()
        self.total, self.cursor = page["total"], page["next_cursor"]
        return elapsed


def interleaved(auth: Scroller, open_: Scroller, n: int) -> tuple[list[float], list[float]]:
    rng = random.Random(0)
    with_token, without = [], []
    for _ in range(n):
        if rng.random() < 0.5:
            with_token.append(auth.next_page())
            without.append(open_.next_page())
        else:
            without.append(open_.next_page())
            with_token.append(auth.next_page())
    return with_token, without


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux's /proc; clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(pid: int, auth: Scroller, open_: Scroller, blocks: int, size: int) -> dict:
    """The server's CPU time per request, each server in turn by blocks of ``size`` requests
    (CPU time, unlike wall time, does not count the waits of a busy machine)."""
    rng = random.Random(1)
    spent = {"token_auth": 0.0, "no_auth": 0.0}
    for _ in range(blocks):
        pair = [("token_auth", auth), ("no_auth", open_)]
        rng.shuffle(pair)
        for name, scroller in pair:
            before = process_cpu_s(pid)
            for _ in range(size):
                scroller.next_page()
            spent[name] += process_cpu_s(pid) - before
    n = blocks * size
    per = {k: round(v / n * 1000, 2) for k, v in spent.items()}
    return {
        "token_auth_ms": per["token_auth"],
        "no_auth_ms": per["no_auth"],
        "added_ms": round(per["token_auth"] - per["no_auth"], 2),
        "n": n,
    }


def time_in_process(root: Path, token: str, n: int) -> dict[str, dict[str, float]]:
    """The token lookup and the per-request workspace copy, called directly: wall time, and
    this thread's CPU time."""
    ws = Workspace.open(root)
    identity = accounts.identity_for_token(ws, token)  # warm: the catalog's connection pool
    lookups, lookups_cpu, copies = [], [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.thread_time()
        accounts.identity_for_token(ws, token)
        t1, c1 = time.perf_counter(), time.thread_time()
        ws.acting_as(identity)
        t2 = time.perf_counter()
        lookups.append(t1 - t0)
        lookups_cpu.append(c1 - c0)
        copies.append(t2 - t1)
    ws.catalog.engine.dispose()
    return {
        "identity_for_token": latency(lookups),
        "identity_for_token_cpu": latency(lookups_cpu),
        "acting_as": latency(copies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="per server")
    parser.add_argument("--workspace", type=Path, default=None, help="reused when given")
    args = parser.parse_args()
    root = args.workspace or Path(tempfile.mkdtemp(prefix="tagscope-bench-auth-"))
    ws = Workspace.open(root)
    t0 = time.perf_counter()
    build_scores(ws, build_dataset(ws, args.n_items))
    token = viewer_token(ws)
    build_s = time.perf_counter() - t0
    ws.catalog.engine.dispose()

    server, port_auth, port_open = start_servers(root, token)
    bearer = {"Authorization": f"Bearer {token}"}
    try:
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port_auth}", headers=bearer) as c_auth,
            httpx.Client(base_url=f"http://127.0.0.1:{port_open}") as c_open,
        ):
            auth, open_ = Scroller(c_auth), Scroller(c_open)
            interleaved(auth, open_, 20)  # warm up: imports, caches, connection pools
            with_token, without = interleaved(auth, open_, args.requests)
            cpu = server_cpu(server.pid, auth, open_, blocks=10, size=max(1, args.requests // 10))
    finally:
        server.terminate()
        server.wait(10)
    in_process = time_in_process(root, token, args.requests)

    a, b = latency(with_token), latency(without)
    paired = [x - y for x, y in zip(with_token, without, strict=True)]
    added_p95 = round(a["p95_ms"] - b["p95_ms"], 2)
    print(
        json.dumps(
            {
                "bench": "auth",
                "n_items": auth.total,
                "page": 100,
                "endpoint": f"GET /api/datasets/{DATASET}/items (cursor scroll)",
                "transport": "uvicorn http/1.1, one keep-alive client per server, interleaved",
                "token": "viewer account, scope read",
                "build_s": round(build_s, 1),
                "token_auth": a,
                "no_auth": b,
                "added_p50_ms": round(a["p50_ms"] - b["p50_ms"], 2),
                "added_p95_ms": added_p95,
                "paired_diff_p50_ms": latency(paired)["p50_ms"],
                "server_cpu_per_request": cpu,
                "in_process": in_process,
                "goal_added_p95_ms": GOAL_MS,
                "pass": added_p95 < GOAL_MS,
                "load_avg_1m": round(os.getloadavg()[0], 2),  # a busy machine widens the tails
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
