"""Loading the samples under docs/examples/ in the tests that run them."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"


def load(page: str, name: str) -> ModuleType:
    """A fresh copy of ``docs/examples/<page>/<name>.py`` (its app and its module state).

    The samples beside it can be imported by their plain names, as they would
    be by a reader who saved them in one folder.
    """
    folder = EXAMPLES / page
    module_name = f"docs_{page.replace('-', '_')}_{name}"
    spec = importlib.util.spec_from_file_location(module_name, folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(folder))
    # In sys.modules while it runs, as an imported module is: App(__name__) finds
    # its root_path (and static and templates folders) beside the sample.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def sample_tests(module: ModuleType) -> dict[str, Callable[..., Any]]:
    """The ``test_*`` functions a sample defines, to be collected by the module that loads it."""
    return {name: value for name, value in vars(module).items() if name.startswith("test_") and callable(value)}
