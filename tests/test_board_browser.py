"""The board example in a real browser: log in, get the flash, post live from a second window.

The browser set-up is in ``tests/browser.py``. The two windows share the
browser's cookies, so both are ann: the websocket of each knows who posts
from the session cookie sent with its handshake.
"""

from __future__ import annotations

import trio

from examples.board import app, board
from tests.browser import WAIT, chromium, headless_chromium
from tests.live import serving

__all__ = ["chromium"]  # the fixture, used by name


def log_in_and_post(chromium: str, chromedriver: str, url: str) -> dict[str, object]:
    """What the pages showed along the way."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as shows
    from selenium.webdriver.support.wait import WebDriverWait

    seen: dict[str, object] = {}
    with headless_chromium(chromium, chromedriver) as browser:
        assert isinstance(browser, WebDriver)
        wait = WebDriverWait(browser, WAIT)

        def log_in(password: str) -> None:
            browser.find_element(By.ID, "name").send_keys("ann")
            browser.find_element(By.ID, "password").send_keys(password)
            browser.find_element(By.ID, "login-button").click()

        browser.get(url)  # redirected to the login page
        log_in("wrong")
        wait.until(shows.text_to_be_present_in_element((By.ID, "flashes"), "Wrong name or password."))
        log_in("ann-secret")
        wait.until(shows.text_to_be_present_in_element((By.ID, "status"), "Live as ann."))
        seen["flash"] = browser.find_element(By.ID, "flashes").text
        seen["color"] = browser.find_element(By.ID, "posts").value_of_css_property("border-top-style")
        first = browser.current_window_handle

        browser.switch_to.new_window("window")
        browser.get(url)
        wait.until(shows.text_to_be_present_in_element((By.ID, "status"), "Live as ann."))
        seen["second_flash"] = browser.find_element(By.ID, "flashes").text
        browser.find_element(By.ID, "text").send_keys("hello from the other window")
        browser.find_element(By.ID, "send").click()

        browser.switch_to.window(first)
        wait.until(shows.text_to_be_present_in_element((By.ID, "posts"), "ann: hello from the other window"))
        seen["posts"] = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#posts li")]

        browser.find_element(By.ID, "logout").click()
        wait.until(shows.text_to_be_present_in_element((By.ID, "flashes"), "You are logged out."))
        seen["after_logout"] = browser.current_url
    return seen


async def test_log_in_and_post_live_in_headless_chromium(chromium: tuple[str, str]) -> None:
    board.posts.clear()
    board.count = 0
    async with serving(app) as address:
        seen = await trio.to_thread.run_sync(log_in_and_post, *chromium, f"http://{address}/")
    assert seen["flash"] == "Welcome, ann."
    assert seen["color"] == "solid"  # style.css, a static file, was applied
    assert seen["second_flash"] == ""  # flashed once, shown once
    assert seen["posts"] == ["ann: hello from the other window"]
    assert seen["after_logout"] == f"http://{address}/login"
