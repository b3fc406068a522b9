#!/usr/bin/env bash
# The whole check, as CI runs it (.ci/run) and as the README tells a developer
# to: set-up, lint, types, the docs with warnings as errors, the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser test drives Debian's Chromium through its ChromeDriver. Install
# both when they are missing and we can (root with apt-get, as on CI); elsewhere
# the test skips, and with CI set it fails instead.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "scripts/test.sh: installing Debian's chromium and chromium-driver for the browser test" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
    else
        echo "scripts/test.sh: chromium or chromedriver is missing; the browser test will skip (fail if CI is set)" >&2
    fi
fi

# The broadcast's Redis tests run a real redis-server (Debian's package), started
# by a fixture on a free port. Installed the same way; without it those tests
# skip, and with CI set they fail.
if ! command -v redis-server >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "scripts/test.sh: installing Debian's redis-server for the broadcast tests" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends redis-server >/dev/null
    else
        echo "scripts/test.sh: redis-server is missing; the broadcast's Redis tests will skip (fail if CI is set)" >&2
    fi
fi

python3 -m venv .venv
.venv/bin/pip install -q -e ".[test]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy --strict trioweb examples
# Each page's samples import each other by plain names, so each folder is checked on its own;
# a folder with no Python sample (a diagram only) has nothing to check, and mypy would refuse it.
for samples in docs/examples/*/; do
    compgen -G "${samples}*.py" >/dev/null || continue
    .venv/bin/mypy --strict "$samples"
done
.venv/bin/sphinx-build -W --keep-going -E -q -b html docs docs/_build/html
.venv/bin/python -m pytest -v
