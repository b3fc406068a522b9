"""The README's commands and example stay true: the example is examples/hello.py, the test command is CI's."""

from __future__ import annotations

from markdown_it import MarkdownIt

from tests.docs_samples import ROOT


def readme_blocks() -> list[tuple[str, str]]:
    tokens = MarkdownIt("commonmark").parse((ROOT / "README.md").read_text())
    return [(token.info, token.content) for token in tokens if token.type in ("fence", "code_block")]


def test_the_readme_shows_two_commands_and_the_hello_example() -> None:
    (serve_language, serve), (check_language, _), (example_language, example) = readme_blocks()
    assert (serve_language, check_language, example_language) == ("sh", "sh", "python")
    assert serve.startswith("python3 -m venv .venv && ")
    assert serve.rstrip().endswith("-m trioweb serve examples.hello:app --host 127.0.0.1 --port 8000")
    assert example == (ROOT / "examples" / "hello.py").read_text()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    check = readme_blocks()[1][1].strip()
    assert check == "bash scripts/test.sh"
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line for line in lines if line and not line.startswith("#")]
    # The shell's strict mode and the move to the repository root, then the command itself.
    assert commands == ["set -euo pipefail", 'cd "$(dirname "$0")/.."', check]
