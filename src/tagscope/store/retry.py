"""Running a unit of work again when the database refused it for a concurrent one.

On PostgreSQL a unit of work runs SERIALIZABLE: of two that read and write the same records
at once, the database aborts one (a serialization failure, or a deadlock) rather than let it
commit over the other's change. The aborted one did nothing; running the same code again reads
the other's change and goes on from it. A ``with`` block cannot run twice, so the code to run
again is a function: decorate the use case that opens the unit of work.

>>> @retrying                                                      # doctest: +SKIP
... def rename(ws, name):
...     with ws.uow() as uow:
...         ...

Only the outermost call retries (a call inside an open unit of work lets the refusal reach the
code that opened it), and only when no unit of work of the call has committed yet: what
committed is never written twice (a use case of several units of work gets a clear error).
Callbacks run after a commit (file removals) run once, as a refused unit of work never
commits.
"""

from __future__ import annotations

import functools
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from tagscope._env import env_int
from tagscope.domain import WriteConflictError

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# SQLSTATEs of a transaction the server aborted for a concurrent one: running it again works.
_RETRIABLE = {"40001": "a serialization failure", "40P01": "a deadlock"}
DEFAULT_ATTEMPTS = 10


class TurnTaken(Exception):  # a signal that run_retrying catches: never shown
    """A unit of work about to begin found one running alone (a re-run): rather than wait
    with what it would read already out of date, it runs again, alone, after that one."""


@dataclass(slots=True)
class _Attempt:
    number: int
    committed: bool = False


# The attempts under way in this thread or task, outermost first; a commit marks them all.
_attempts: ContextVar[tuple[_Attempt, ...]] = ContextVar("retry_attempts", default=())
# Whether a unit of work is open in this thread or task (in any catalog).
_open: ContextVar[bool] = ContextVar("unit_of_work_open", default=False)

_lock = threading.Lock()
_reasons: dict[str, int] = {}


def retries() -> int:
    """How many units of work this process has run again so far (for benchmarks and logs)."""
    return sum(_reasons.values())


def retries_by_reason() -> dict[str, int]:
    """:func:`retries` by the reason each attempt gave way (see :func:`conflict_reason`)."""
    with _lock:
        return dict(_reasons)


def _counted(reason: str) -> None:
    with _lock:
        _reasons[reason] = _reasons.get(reason, 0) + 1


def attempts_allowed() -> int:
    """``$TAGSCOPE_DB_ATTEMPTS``: how many times a refused unit of work runs (default 10)."""
    return env_int("TAGSCOPE_DB_ATTEMPTS", DEFAULT_ATTEMPTS, minimum=1)


def backoff(attempt: int) -> float:
    """Seconds to wait before attempt ``attempt + 1``: a random wait ("full jitter") under a
    bound that doubles from 2 ms up to 0.2 s. Short: a re-run waits for its turn anyway (on
    PostgreSQL it runs alone); the wait only spreads out writers refused together."""
    return random.uniform(0, min(0.2, 0.002 * 2 ** (attempt - 1)))


def conflict_reason(exc: BaseException) -> str | None:
    """Why the database refused the work, when a concurrent transaction is the reason (a
    serialization failure, a deadlock, SQLite's lock still held after its busy timeout);
    None for any other error. Looks through the causes (SQLAlchemy's and ours)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, TurnTaken):
            return "another change running alone"
        state = getattr(e, "sqlstate", None)
        if state in _RETRIABLE:
            return _RETRIABLE[state]
        if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
            return "the database being locked"
        todo.extend([e.__cause__, e.__context__, getattr(e, "orig", None)])
    return None


def in_unit_of_work() -> bool:
    return _open.get()


def in_retrying_call() -> bool:
    """Whether a call of :func:`run_retrying` is under way (it would run a unit of work
    again)."""
    return bool(_attempts.get())


def is_rerun() -> bool:
    """Whether the innermost call of :func:`run_retrying` under way is running its work
    again (a unit of work opened now runs alone: see :meth:`Catalog.transaction`)."""
    attempts = _attempts.get()
    return bool(attempts) and attempts[-1].number > 1


@contextmanager
def unit_of_work_scope() -> Iterator[None]:
    """Mark a unit of work open for the block (:meth:`Catalog.transaction` wraps its
    transaction in it); when the block ends without an exception, it has committed."""
    token = _open.set(True)
    try:
        yield
    finally:
        _open.reset(token)
    for attempt in _attempts.get():
        attempt.committed = True


def run_retrying(work: Callable[[], R], what: str) -> R:
    """``work()``, run again (after a random wait) each time the database refuses it for a
    concurrent transaction, up to :func:`attempts_allowed` times in all.

    Raises
    ------
    WriteConflictError
        Refused every time; the message names ``what`` and how often.
    """
    if in_unit_of_work():  # part of an open unit of work: its opener runs the whole again
        return work()
    allowed = attempts_allowed()
    n = 1
    while True:
        attempt = _Attempt(n)
        token = _attempts.set((*_attempts.get(), attempt))
        try:
            return work()
        except Exception as exc:
            reason = conflict_reason(exc)
            if reason is None:
                raise
            if attempt.committed:  # running it again would write the committed part twice
                raise WriteConflictError(
                    f"the change ({what}) was saved only in part: the catalog refused a part "
                    f"({reason}) after another had been saved; see the history before trying "
                    "again"
                ) from exc
            if n >= allowed:
                raise WriteConflictError(
                    f"the change ({what}) could not be saved: the catalog refused it {allowed} "
                    f"times in a row ({reason}: others were changing the same records at once); "
                    "try again"
                ) from exc
            log.info("%s: attempt %d refused (%s); running it again", what, n, reason)
            _counted(reason)
        finally:
            _attempts.reset(token)
        time.sleep(backoff(n))
        n += 1


def retrying(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a function that opens a unit of work: :func:`run_retrying` runs it."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return run_retrying(functools.partial(fn, *args, **kwargs), fn.__name__)

    return run


__all__ = [
    "TurnTaken",
    "attempts_allowed",
    "backoff",
    "conflict_reason",
    "in_retrying_call",
    "in_unit_of_work",
    "is_rerun",
    "retries",
    "retries_by_reason",
    "retrying",
    "run_retrying",
    "unit_of_work_scope",
]
