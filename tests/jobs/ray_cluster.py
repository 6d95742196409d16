"""A two-node Ray cluster on this machine, each node in its own network namespace.

Two namespaces joined by a veth pair with private addresses: the Ray head in one, a worker node
in the other, so that the nodes talk over a network link as two machines would (their own
addresses, ports, routing), while sharing the filesystem: the workspace and the virtual
environment are the same paths on both nodes. Needs root and ``ip`` (iproute2).

Every process of a node runs inside its namespace, so ``ip netns pids`` names them all: that
is how a node is killed and how the cluster is torn down. ``ray stop`` is never used: it kills
every Ray process of the machine, in any namespace, other people's included.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
PORT = 6379
START_TIMEOUT_S = 90.0  # two nodes starting on two busy shared cores

RAY_ENV = {
    # The GCS declares a node dead after (threshold x period) without an answer: a few seconds,
    # so the killed worker's tasks are rescheduled quickly, not after the default half a minute.
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "2000",
    "RAY_health_check_failure_threshold": "4",
    # Workers report their task events (which node ran what) this often.
    "RAY_task_events_report_interval_ms": "200",
    "RAY_USAGE_STATS_ENABLED": "0",
}


def unavailable() -> str | None:
    """Why this machine cannot build the cluster, or None when it can."""
    if os.geteuid() != 0:
        return "building network namespaces needs root"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed (.ci/run installs it)"
    probe = f"tsprobe{uuid.uuid4().hex[:8]}"
    try:
        _ip("netns", "add", probe)
        _ip("-n", probe, "link", "add", "tsprobe0", "type", "veth", "peer", "name", "tsprobe1")
    except RuntimeError as exc:
        return f"network namespaces cannot be built here: {exc}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


@dataclass
class Node:
    """One node: its namespace, address and Ray temp folder."""

    ns: str
    ip: str
    temp_dir: Path

    def exec_args(self, args: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *args]

    def pids(self) -> list[int]:
        done = subprocess.run(["ip", "netns", "pids", self.ns], capture_output=True, text=True)
        return [int(p) for p in done.stdout.split()]

    def computing(self, function: str) -> bool:
        """Whether a Ray worker process of the node is running a task of ``function``: Ray
        titles a worker process ``ray::<function>`` while it runs one (``ray::IDLE`` between
        tasks)."""
        title = f"ray::{function}".encode()
        for pid in self.pids():
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == title:
                    return True
            except OSError:  # gone meanwhile
                continue
        return False

    def kill(self, sig: int = signal.SIGKILL, wait_s: float = 10) -> int:
        """Send ``sig`` to every process of the node until none is left (a raylet may be
        starting a worker meanwhile) or ``wait_s`` passed; returns how many were signalled."""
        n = 0
        deadline = time.monotonic() + wait_s
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, sig)
                    n += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        return n


@dataclass
class RayCluster:
    """The cluster: ``head`` and ``worker`` nodes, one CPU each; ``address`` joins it."""

    head: Node
    worker: Node
    root: Path
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    n_worker_starts: int = 0

    @property
    def address(self) -> str:
        return f"{self.head.ip}:{PORT}"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of the cluster's processes and drivers: token authentication with
        the cluster's own token (not ``~/.ray/auth_token``, which any local Ray may create)."""
        env = {**os.environ, **RAY_ENV, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}
        env.pop("RAY_ADDRESS", None)
        env.pop("RAY_AUTH_TOKEN_PATH", None)
        env.update(extra)
        return env

    def run_in_head(
        self, args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the head's namespace (a driver: it joins at ``address``)."""
        return subprocess.run(
            self.head.exec_args(args),
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen_in_head(
        self, args: Sequence[str], *, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.head.exec_args(args),
            env=env or self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def kill_worker(self) -> int:
        """Kill the worker node, every process of it at once (a machine lost)."""
        return self.worker.kill()

    def start(self) -> None:
        self._network()
        head = ["--head", f"--port={PORT}", "--include-dashboard=false"]
        self._ray_start(self.head, head)
        self._start_worker()

    def ensure_worker(self) -> None:
        """Start the worker node again if it was killed."""
        if not self.worker.pids():
            self._start_worker()

    def _start_worker(self) -> None:
        # A fresh temp folder each time: a killed node leaves its sockets and logs behind.
        self.n_worker_starts += 1
        self.worker.temp_dir = self.root / f"w{self.n_worker_starts}"
        self._ray_start(self.worker, [f"--address={self.address}"])
        self.wait_for_nodes(2)

    def wait_for_nodes(self, n: int) -> None:
        """Wait until the cluster has ``n`` live nodes, asked from a driver in the head's
        namespace."""
        probe = (
            "import sys, time, ray\n"
            f"ray.init(address={self.address!r}, log_to_driver=False)\n"
            f"deadline = time.monotonic() + {START_TIMEOUT_S}\n"
            "while time.monotonic() < deadline:\n"
            "    alive = [x for x in ray.nodes() if x['Alive']]\n"
            f"    if len(alive) >= {n}:\n"
            "        sys.exit(0)\n"
            "    time.sleep(0.5)\n"
            "sys.exit(f'{len(alive)} live nodes')\n"
        )
        done = self.run_in_head([sys.executable, "-c", probe], timeout=START_TIMEOUT_S + 30)
        if done.returncode != 0:
            raise RuntimeError(f"the cluster did not reach {n} nodes: {done.stderr[-2000:]}")

    def close(self) -> None:
        for node in (self.worker, self.head):
            node.kill(signal.SIGTERM, wait_s=1)  # most exit at once; any left is killed
            node.kill(signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", node.ns], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def _network(self) -> None:
        tag = uuid.uuid4().hex[:8]
        head_if, worker_if = f"tsv{tag}h", f"tsv{tag}w"
        _ip("netns", "add", self.head.ns)
        _ip("netns", "add", self.worker.ns)
        _ip("link", "add", head_if, "type", "veth", "peer", "name", worker_if)
        for node, dev in ((self.head, head_if), (self.worker, worker_if)):
            _ip("link", "set", dev, "netns", node.ns)
            _ip("-n", node.ns, "addr", "add", f"{node.ip}/24", "dev", dev)
            _ip("-n", node.ns, "link", "set", dev, "up")
            _ip("-n", node.ns, "link", "set", "lo", "up")

    def _ray_start(self, node: Node, args: list[str]) -> None:
        cmd = node.exec_args(
            [
                RAY, "start", *args, f"--node-ip-address={node.ip}", "--num-cpus=1",
                "--object-store-memory=100000000", "--disable-usage-stats",
                f"--temp-dir={node.temp_dir}",
            ]
        )  # fmt: skip
        done = subprocess.run(
            cmd, env=self.env(), capture_output=True, text=True, timeout=START_TIMEOUT_S
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"`ray start` failed in namespace {node.ns}: {done.stdout[-1500:]}"
                f"{done.stderr[-1500:]}"
            )


def start_cluster() -> RayCluster:
    """Build and start a cluster (names and subnet unique to this run); the caller tears it
    down with ``close()`` (done here when it fails to start)."""
    tag = uuid.uuid4().hex[:6]
    net = random.randint(1, 254)
    # A short root: Ray's Unix sockets live under it, and their paths have a length limit.
    root = Path(tempfile.mkdtemp(prefix="tsray", dir="/tmp"))
    cluster = RayCluster(
        head=Node(f"ts{tag}-head", f"10.201.{net}.1", root / "h"),
        worker=Node(f"ts{tag}-worker", f"10.201.{net}.2", root / "w"),
        root=root,
    )
    try:
        cluster.start()
    except BaseException:
        cluster.close()
        raise
    return cluster
