"""Every code block in the docs is a sample file, shown verbatim, and every sample is run by a test.

A page ``docs/NAME.md`` shows the files of ``docs/examples/NAME/``. Each code
block is preceded by ``<!-- example: FILE -->`` and equals that file, and
every file there is shown. ``tests/test_docs_NAME.py`` (``-`` becomes ``_``)
runs them and lists them in ``TESTED``. Directives use ``:::`` fences, so
that every ````` fence is a code sample.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.docs_samples import DOCS, EXAMPLES, ROOT

PAGES = sorted(DOCS.glob("*.md"))
EXAMPLE_COMMENT = re.compile(r"<!-- example: (?P<name>[\w./-]+) -->\n")
LANGUAGES = {".py": "python", ".html": "html", ".sh": "sh", ".toml": "toml", ".txt": "text", ".conf": "nginx"}


def code_blocks(page: Path) -> list[tuple[str | None, str, str]]:
    """(file named before it, language, code) of each code block of a page, fenced or indented."""
    tokens = MarkdownIt("commonmark").parse(page.read_text())
    blocks = []
    for previous, token in zip([None, *tokens], tokens, strict=False):
        if token.type in ("fence", "code_block"):
            after_html = previous is not None and previous.type == "html_block"
            comment = EXAMPLE_COMMENT.fullmatch(previous.content) if after_html else None
            blocks.append((comment["name"] if comment else None, token.info.strip(), token.content))
    return blocks


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_code_block_is_a_sample_file_verbatim(page: Path) -> None:
    folder = EXAMPLES / page.stem
    shown = set()
    for name, language, code in code_blocks(page):
        assert name is not None, f"{page.name}: a code block without <!-- example: FILE --> before it:\n{code}"
        path = folder / name
        assert path.is_file(), f"{page.name} shows {path.relative_to(ROOT)}, which does not exist"
        assert language == LANGUAGES[path.suffix], f"{page.name}: {name} is marked {language!r}"
        assert code == path.read_text(), f"{page.name}: the block for {name} differs from the file"
        shown.add(name)
    # A sample's own folders count too: their templates are shown by relative path
    # (templates/base.html); what a sample serves (static/*.css, a CSV) is data, not shown.
    on_disk = (
        {
            path.relative_to(folder).as_posix()
            for path in folder.rglob("*")
            if path.is_file()
            and "__pycache__" not in path.parts
            and (path.parent == folder or path.suffix in LANGUAGES)
        }
        if folder.is_dir()
        else set()
    )
    assert on_disk - shown == set(), f"{page.name} does not show these files of {folder.relative_to(ROOT)}"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.rst")), ids=lambda page: page.name)
def test_rst_pages_have_no_code_blocks(page: Path) -> None:
    """reStructuredText pages (the API reference) hold directives only: samples go in the Markdown pages."""
    text = page.read_text()
    assert not re.search(r"::[ \t]*$", text, re.M), f"{page.name} has a literal block"
    assert not re.search(r"^\s*\.\. (code|code-block|sourcecode|literalinclude)::", text, re.M), page.name


def test_every_sample_folder_belongs_to_a_page_and_a_test_module() -> None:
    for folder in sorted(path for path in EXAMPLES.iterdir() if path.is_dir() and path.name[0] not in "._"):
        assert (DOCS / f"{folder.name}.md").is_file(), f"{folder.relative_to(ROOT)} has no page"
        module = importlib.import_module(f"tests.test_docs_{folder.name.replace('-', '_')}")
        samples = {path.stem for path in folder.glob("*.py")}
        assert samples == module.TESTED, f"{module.__name__}.TESTED must list every sample of its page"


def test_every_public_name_is_in_the_api_reference() -> None:
    import trioweb

    reference = (DOCS / "api.rst").read_text()
    documented = set(re.findall(r"^\.\. \w+:: trioweb\.(\w+)", reference, re.M))
    assert set(trioweb.__all__) - documented == set(), "docs/api.rst lacks these names of trioweb.__all__"
