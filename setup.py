"""The optional compiled scoring kernel; everything else is configured in pyproject.toml.

``optional=True``: where it cannot be built (no C compiler, another platform), the package
installs without it and :mod:`tagscope.tags.scoring` uses its torch path.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tagscope.tags._score_kernel",
            ["src/tagscope/tags/_score_kernel.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
