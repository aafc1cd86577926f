"""The optional C module's build; everything else is in pyproject.toml.

Without a C compiler the install goes on and nats_core runs in pure Python
(same results, slower): the extension is optional.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("nats_core._speedups", ["src/nats_core/_speedups.c"], optional=True),
    ]
)
