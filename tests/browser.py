"""Headless Chromium for the example apps' browser tests, driven with Selenium.

The browser is Debian's ``chromium``, driven through Debian's ``chromium-driver``
(ChromeDriver) with Selenium. Why Selenium rather than Playwright:

* ChromeDriver comes from the same Debian source package as Chromium, so the
  driver always matches the browser it drives. Playwright is built and tested
  against its own Chromium builds and would drive Debian's at whatever
  distance the two versions happen to be.
* Selenium speaks WebDriver, a W3C standard, and is a small pure-Python
  package. Playwright ships a Node.js runtime in its wheel (about 165 MB in
  the venv) to drive the browser.
* Nothing is downloaded at test time: the driver path is given, so Selenium
  does not run its driver manager.

Selenium's API blocks, so the browser session runs in a worker thread while
the server runs in the test's trio loop. Without Chromium the test skips,
naming the packages; with ``CI`` set it fails instead, so that CI cannot skip
it unnoticed (``scripts/test.sh`` installs the packages on CI).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
#: Seconds to wait for something to show up on a page.
WAIT = 15


@pytest.fixture
def chromium() -> tuple[str, str]:
    """The paths of chromium and chromedriver; skips (or fails, with CI set) without them.

    A plain fixture, so that the skip happens at set-up, outside trio, and
    pytest reports its reason.
    """
    if CHROMIUM and CHROMEDRIVER:
        return CHROMIUM, CHROMEDRIVER
    missing = " and ".join(name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not path)
    reason = (
        f"{missing} not found: the browser test needs Debian's packages chromium and chromium-driver "
        "(apt-get install chromium chromium-driver)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run this test, not skip it")
    pytest.skip(reason)


@contextmanager
def headless_chromium(chromium: str, chromedriver: str) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        # No connections beyond the test's own server, and no throttling of
        # the page that is not in front.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        yield driver
    finally:
        driver.quit()
