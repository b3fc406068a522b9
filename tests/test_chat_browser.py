"""The chat example in a real browser: two pages of headless Chromium chat through trioweb's own server.

The browser set-up, and why Selenium, is in ``tests/browser.py``.
"""

from __future__ import annotations

import trio

from examples.chat import app, rooms
from tests.browser import WAIT, chromium, headless_chromium
from tests.live import serving

__all__ = ["chromium"]  # the fixture, used by name


def chat_in_two_pages(chromium: str, chromedriver: str, url: str) -> list[str]:
    """Ann and Bob join the lobby in two windows; Bob says hello; what Ann's page shows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as shows
    from selenium.webdriver.support.wait import WebDriverWait

    with headless_chromium(chromium, chromedriver) as browser:
        assert isinstance(browser, WebDriver)
        wait = WebDriverWait(browser, WAIT)

        def join(nick: str) -> None:
            browser.get(url)
            browser.find_element(By.ID, "nick").send_keys(nick)
            browser.find_element(By.ID, "join-button").click()
            wait.until(shows.text_to_be_present_in_element((By.ID, "status"), f"Connected as {nick} in lobby."))

        join("ann")
        ann = browser.current_window_handle
        browser.switch_to.new_window("window")
        join("bob")
        wait.until(shows.text_to_be_present_in_element((By.ID, "members"), "ann, bob"))
        browser.find_element(By.ID, "text").send_keys("hello from the other page")
        browser.find_element(By.ID, "send").click()

        browser.switch_to.window(ann)
        wait.until(shows.text_to_be_present_in_element((By.ID, "messages"), "bob: hello from the other page"))
        return [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#messages li")]


async def test_two_browser_pages_chat_through_the_native_server(chromium: tuple[str, str]) -> None:
    rooms.clear()
    async with serving(app) as address:
        shown = await trio.to_thread.run_sync(chat_in_two_pages, *chromium, f"http://{address}/")
    assert shown == ["ann joined", "bob joined", "bob: hello from the other page"]
    assert rooms == {}  # both pages left when the browser quit


def join_twice_at_once(chromium: str, chromedriver: str, url: str) -> tuple[str, list[str]]:
    """Ann's join form submitted twice before the websocket opens (Enter pressed twice); her page then."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as shows
    from selenium.webdriver.support.wait import WebDriverWait

    with headless_chromium(chromium, chromedriver) as browser:
        assert isinstance(browser, WebDriver)
        wait = WebDriverWait(browser, WAIT)
        browser.get(url)
        browser.find_element(By.ID, "nick").send_keys("ann")
        browser.execute_script("const f = document.getElementById('join'); f.requestSubmit(); f.requestSubmit();")
        wait.until(shows.text_to_be_present_in_element((By.ID, "status"), "Connected as ann in lobby."))
        browser.find_element(By.ID, "text").send_keys("hello")
        browser.find_element(By.ID, "send").click()
        wait.until(shows.text_to_be_present_in_element((By.ID, "messages"), "ann: hello"))
        return browser.find_element(By.ID, "status").text, [
            item.text for item in browser.find_elements(By.CSS_SELECTOR, "#messages li")
        ]


async def test_a_join_submitted_twice_opens_one_websocket(chromium: tuple[str, str]) -> None:
    rooms.clear()
    async with serving(app) as address:
        status, shown = await trio.to_thread.run_sync(join_twice_at_once, *chromium, f"http://{address}/")
    # Not a second websocket refused as a namesake, taking the page's state with it while the first holds the name.
    assert status == "Connected as ann in lobby."
    assert shown == ["ann joined", "ann: hello"]


def paste_a_long_message(chromium: str, chromedriver: str, url: str) -> tuple[str, list[str]]:
    """Ann types more than the server takes in one message (4 KiB); her page then."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as shows
    from selenium.webdriver.support.wait import WebDriverWait

    with headless_chromium(chromium, chromedriver) as browser:
        assert isinstance(browser, WebDriver)
        wait = WebDriverWait(browser, WAIT)
        browser.get(url)
        browser.find_element(By.ID, "nick").send_keys("ann")
        browser.find_element(By.ID, "join-button").click()
        wait.until(shows.text_to_be_present_in_element((By.ID, "status"), "Connected as ann in lobby."))
        browser.find_element(By.ID, "text").send_keys("é" * 2100)  # 4200 bytes of UTF-8
        browser.find_element(By.ID, "send").click()
        wait.until(shows.text_to_be_present_in_element((By.ID, "messages"), "ann: é"))
        return browser.find_element(By.ID, "status").text, [
            item.text for item in browser.find_elements(By.CSS_SELECTOR, "#messages li")
        ]


async def test_the_page_does_not_send_a_message_the_server_would_close_for(chromium: tuple[str, str]) -> None:
    rooms.clear()
    async with serving(app) as address:
        status, shown = await trio.to_thread.run_sync(paste_a_long_message, *chromium, f"http://{address}/")
    assert status == "Connected as ann in lobby."  # not "Disconnected (1009)"
    assert shown[0] == "ann joined"
    assert shown[1].startswith("ann: é")
    assert len(shown[1].encode()) <= 4096
