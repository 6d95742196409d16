"""HTTP statuses of the domain's errors (api/errors.py)."""

from __future__ import annotations

from tagscope.api.errors import status_of
from tagscope.domain import WriteConflictError


def test_a_change_refused_for_concurrent_writes_is_503_try_again() -> None:
    assert status_of(WriteConflictError("the change (set_labels) could not be saved")) == 503
