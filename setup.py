"""The one compiled part: freezelint/runtime/_fold.c, the auditor's one-read fingerprint kernel.

It is optional: without a C compiler the build skips it and fingerprints use torch reductions
(the same numbers from two reads of each tensor instead of one: 1.4-2x slower on CPU).
Everything else is in pyproject.toml."""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O3"]
setup(ext_modules=[Extension("freezelint.runtime._fold", ["freezelint/runtime/_fold.c"],
                             extra_compile_args=flags, optional=True)])
