"""Long work as resumable jobs with status and progress."""

from tagscope.jobs.runner import LocalRunner, ProgressFn, Work
from tagscope.jobs.select import make_runner

__all__ = ["LocalRunner", "ProgressFn", "Work", "make_runner"]
