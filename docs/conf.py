"""Sphinx settings: ``sphinx-build -W -b html docs docs/_build/html``."""

from importlib.metadata import version as _version

project = "trioweb"
author = "the trioweb authors"
copyright = "the trioweb authors"
release = _version("trioweb")

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
# docs/examples holds the samples the pages show; they are Python files, not pages.
exclude_patterns = ["_build", "examples"]

# Directives use ::: fences, so that ``` always opens a code sample
# (tests/test_docs.py checks each is a file of docs/examples/).
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"

html_theme = "furo"
html_title = "trioweb"
