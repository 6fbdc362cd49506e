"""The release's version: the installed package's (pyproject.toml's ``version``)."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version

PACKAGE = "screening"


@functools.cache
def package_version() -> str:
    """This release's version, as installed (``pip install -e .`` records pyproject.toml's)."""
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # run from a folder that was never installed
        return "unknown"
