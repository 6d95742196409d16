"""Settings from the environment, checked and named when wrong."""

from __future__ import annotations

import os

from tagscope.domain import ValidationError


def env_int(name: str, default: int, *, minimum: int = 0, unit: str = "") -> int:
    """``$name`` as a whole number of at least ``minimum`` (``_`` may group its digits:
    ``100_000``), or ``default`` when it is unset or empty. Read at each call, so that a server
    or a test may change it.

    Raises
    ------
    ValidationError
        Not a whole number, or below ``minimum`` (``field`` is the variable's name).
    """
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    digits = value.replace("_", "")
    if not digits.isdigit() or int(digits) < minimum:
        what = f"a whole number{f' of {unit}' if unit else ''} of {minimum} or more"
        raise ValidationError(f"${name} must be {what}, not {value!r}", field=name)
    return int(digits)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, which a container or ``taskset`` may
    narrow), or all of the machine's where the system cannot tell."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
