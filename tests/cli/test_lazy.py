"""The CLI defers its use cases: `tagscope --help` loads no model, ML or database library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tagscope.cli.lazy import deferred

HEAVY = ("torch", "sklearn", "transformers", "sqlalchemy", "alembic", "duckdb", "pyarrow", "faiss")


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = (
        "import json, sys, tagscope.cli.main; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_help_lists_the_verbs_without_loading_them() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tagscope.cli.main", "tags", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "publish" in out.stdout and "evaluate" in out.stdout


def test_deferred_imports_on_first_attribute_access() -> None:
    module = deferred("tagscope.tags.metrics")
    from tagscope.tags import metrics

    assert module.threshold_curves is metrics.threshold_curves


def test_deferred_missing_module_fails_on_use() -> None:
    module = deferred("tagscope.no_such_module")
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        _ = module.anything
