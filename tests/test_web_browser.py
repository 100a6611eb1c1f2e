"""The web page in a real browser: Debian's Chromium, headless, driven by Selenium.

Logging in, searching with suggestions, narrowing by a facet, opening a document,
editing a tag, uploading (the file input, and a drop of a file), and the page
with JavaScript off (searching and reading). Screenshots go to
$PAPERFS_SCREENSHOTS (default: screenshots/ in the repository, git-ignored) for
a person to look at; the test output names the folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.dav_support import PASSWORDS, running, wait_for
from tests.web_support import two_users_docs

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPO = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("PAPERFS_SCREENSHOTS") or REPO / "screenshots")

if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip("Chromium is missing: install the Debian packages chromium and "
                "chromium-driver (scripts/install-system-deps.sh)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is missing: pip install selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def chromium(javascript: bool = True):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-default-apps"):
        options.add_argument(arg)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the web page: {SHOTS}")
    return SHOTS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with running(tmp_path_factory.mktemp("browser"),
                 lambda archive: two_users_docs(archive, real_pdfs=True)) as dav:
        yield dav


@pytest.fixture(scope="module")
def browser() -> Iterator:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver, base: str, user: str) -> None:
    driver.get(base)
    assert "/_/login" in driver.current_url
    driver.find_element(By.NAME, "user").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(PASSWORDS[user])
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "q"))


def texts(driver, css: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def test_search_narrow_open_edit(server, browser, shots) -> None:
    base = server.url
    log_in(browser, base, "alice")
    box = browser.find_element(By.ID, "q")
    box.send_keys("elec")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#suggestions li"))
    assert any("electricity" in t for t in texts(browser, "#suggestions li"))
    browser.save_screenshot(str(shots / "1-suggestions.png"))
    browser.find_element(By.CSS_SELECTOR, "#suggestions li").click()  # mousedown picks it
    assert box.get_attribute("value").startswith("electricity")
    box.submit()
    WebDriverWait(browser, 10).until(lambda d: "q=electricity" in d.current_url)
    assert sorted(texts(browser, ".hit .title")) == ["Invoice ACME April", "Invoice ACME March"]
    assert browser.find_elements(By.CSS_SELECTOR, ".snippet mark")
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('img.thumb')].every(i => i.complete && i.naturalWidth > 0)"))
    browser.save_screenshot(str(shots / "2-results.png"))

    browser.find_element(By.LINK_TEXT, "unpaid").click()  # a facet narrows the search
    WebDriverWait(browser, 10).until(lambda d: "unpaid" in d.current_url)
    assert texts(browser, ".hit .title") == ["Invoice ACME April"]

    browser.find_element(By.LINK_TEXT, "Invoice ACME April").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".viewer iframe"))
    assert browser.find_element(By.CSS_SELECTOR, ".viewer iframe").get_attribute("src").endswith("/_/pdf/2")
    browser.save_screenshot(str(shots / "3-document.png"))
    tags = browser.find_element(By.NAME, "tags")
    tags.clear()
    tags.send_keys("unpaid, reminder")
    browser.find_element(By.CSS_SELECTOR, "form.edit button").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.ok"))
    assert server.sidecar(2).tags == ("unpaid", "reminder")
    browser.save_screenshot(str(shots / "4-edited.png"))


def test_upload_with_the_file_input_and_by_dropping(server, browser, shots, tmp_path) -> None:
    base = server.url
    if "/_/login" in browser.current_url or not browser.find_elements(By.ID, "q"):
        log_in(browser, base, "alice")
    browser.get(base + "_/upload")
    note = tmp_path / "picked note.txt"
    note.write_text("picked with the file input\n")
    browser.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(note))
    browser.find_element(By.CSS_SELECTOR, "#upload > button").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.ok"))
    assert "picked note.txt" in browser.find_element(By.CSS_SELECTOR, "p.ok").text

    browser.execute_script("""
        const data = new DataTransfer();
        data.items.add(new File(["dropped on the page\\n"], "dropped note.txt", {type: "text/plain"}));
        const drop = document.getElementById("drop");
        drop.dispatchEvent(new DragEvent("dragover", {dataTransfer: data, bubbles: true}));
        drop.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
    """)
    WebDriverWait(browser, 10).until(
        lambda d: "dropped note.txt" in d.find_element(By.ID, "upload-state").text)
    browser.save_screenshot(str(shots / "5-uploaded.png"))
    inbox = server.root.inbox / "alice"
    assert wait_for(lambda: sorted(p.name for p in inbox.glob("*.txt")) ==
                    ["dropped note.txt", "picked note.txt"], 15)
    assert (inbox / "dropped note.txt").read_text() == "dropped on the page\n"


def test_searching_and_reading_without_javascript(server, shots) -> None:
    driver = chromium(javascript=False)
    try:
        base = server.url
        log_in(driver, base, "bob")
        box = driver.find_element(By.ID, "q")
        box.send_keys("invoice")
        time.sleep(0.5)  # with scripts on, suggestions would have come by now
        assert not driver.find_elements(By.CSS_SELECTOR, "#suggestions li")
        driver.find_element(By.CSS_SELECTOR, "form.search button").click()
        WebDriverWait(driver, 10).until(lambda d: "q=invoice" in d.current_url)
        assert texts(driver, ".hit .title") == ["Invoice ACME April"]  # bob's view only
        driver.save_screenshot(str(shots / "6-no-javascript.png"))
        driver.find_element(By.LINK_TEXT, "Invoice ACME April").click()
        link = driver.find_element(By.LINK_TEXT, "Open the PDF").get_attribute("href")
        assert link.endswith("/_/pdf/2")
    finally:
        driver.quit()
