"""The optional compiled scoring kernel; everything else is configured in pyproject.toml.

``optional=True``: where it cannot be built (no C compiler, another platform), the package
installs without it and :mod:`tagscope.tags.scoring` and :mod:`tagscope.index.flat` use their
torch paths.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tagscope.index._score_kernel",
            ["src/tagscope/index/_score_kernel.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
