"""A command line's surroundings for a test: the current directory, the environment, sys.path and the apps imported."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def isolated(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``folder`` as the current directory without ``TRIOWEB_*`` variables; all put back after, its apps unimported."""
    monkeypatch.chdir(folder)
    environ, path, modules = dict(os.environ), sys.path[:], set(sys.modules)
    for name in [name for name in os.environ if name.startswith("TRIOWEB_")]:
        del os.environ[name]
    try:
        yield folder
    finally:
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path
        for name in set(sys.modules) - modules:  # the apps imported from the folder, not libraries
            if str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(folder)):
                del sys.modules[name]
