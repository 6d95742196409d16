"""A real uvicorn server of an app on 127.0.0.1, in a thread of the test process: what the
browser, remote-SDK and remote-CLI tests talk to."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app: object, **options: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free port while in use; yields its base URL. ``options``
    go to ``uvicorn.Config`` (default ``log_level="warning"``)."""
    import uvicorn

    options = {"log_level": "warning", **options}
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), **options)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="tagscope-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        srv.should_exit = True
        thread.join(10)
