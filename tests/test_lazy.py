"""Deferred imports: engine modules name torch, FAISS and SciPy at the top but load them on use."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tagscope._lazy import deferred

ML = ("torch", "transformers", "sentence_transformers", "sklearn", "scipy", "faiss")

ENGINE_MODULES = (
    "tagscope.embed.phash",
    "tagscope.index.flat",
    "tagscope.index.pairs",
    "tagscope.index.select",
    "tagscope.tags",
    "tagscope.tags.scoring",
    "tagscope.service.embeddings",
    "tagscope.service.search",
    "tagscope.service.tags",
)


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_importing_an_engine_module_loads_no_ml_library(module: str) -> None:
    loaded = f"[m for m in {list(ML)!r} if m in sys.modules]"
    code = f"import json, sys, {module}; print(json.dumps({loaded}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_a_deferred_library_loads_on_first_use() -> None:
    code = (
        "import json, sys, numpy as np\n"
        "from tagscope.embed.phash import phash_bits\n"
        "from PIL import Image\n"
        "before = 'scipy' in sys.modules\n"
        "bits = phash_bits([Image.new('L', (40, 40), 128)])\n"
        "print(json.dumps([before, 'scipy' in sys.modules, bits.shape[1]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [False, True, 64]


def test_deferred_imports_once_and_forwards_attributes() -> None:
    module = deferred("numpy")
    assert module.float16 is np.float16
    assert module._module is np and repr(module) == "<deferred module 'numpy'>"


def test_deferred_missing_module_fails_on_use() -> None:
    module = deferred("tagscope.no_such_module")
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        _ = module.anything
