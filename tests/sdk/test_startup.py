"""Start-up: `import tagscope` and opening a workspace load no model, ML, index or SQL library.

They load when a model, a classifier, an index or SQL is first used (bench/bench_startup.py
measures the time and memory).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import tagscope as ts

HEAVY = (
    "torch",
    "transformers",
    "sentence_transformers",
    "sklearn",
    "scipy",
    "faiss",
    "fastapi",
    "duckdb",
    "pyarrow",
    "httpx",
)


def _loaded_after(code: str) -> list[str]:
    """The heavy libraries in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    report = f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    probe = f"{code}\nimport json, sys\n{report}"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def test_importing_tagscope_loads_no_heavy_library() -> None:
    assert _loaded_after("import tagscope") == []


def test_opening_a_workspace_and_listing_datasets_loads_no_heavy_library(tmp_path: Path) -> None:
    ts.open(tmp_path / "ws").create_dataset("pets")
    code = f"import tagscope as ts\nassert ts.open({str(tmp_path / 'ws')!r}).datasets() == ['pets']"
    assert _loaded_after(code) == []


def test_opening_a_dataset_and_counting_it_loads_no_heavy_library(tmp_path: Path) -> None:
    ts.open(tmp_path / "ws").create_dataset("pets")
    code = (
        "import tagscope as ts\n"
        f"ds = ts.open({str(tmp_path / 'ws')!r}).dataset('pets')\n"
        "assert len(ds) == 0 and ds.info()['spaces'] == []"
    )
    assert _loaded_after(code) == []
