"""Long work as resumable jobs with status and progress."""

from tagscope.jobs.runner import LocalRunner, ProgressFn, Work

__all__ = ["LocalRunner", "ProgressFn", "Work"]
