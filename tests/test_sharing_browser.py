"""A shared document in a real browser (Chromium from Debian, headless, via Selenium):
the page loads without a login, its Content-Security-Policy lets the PDF show
inline and blocks nothing, and the PDF is fetched through the link. The
screenshot is left in the test's tmp folder for a person to look at."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time

import pytest

from paperfs.sharing.store import share_store

from tests.dav_support import add_doc, running

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def docs(archive):
    add_doc(archive, 1, "Alice invoice", dt.date(2021, 1, 1), owner="alice",
            correspondent="ACME", pad=4000)


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium and chromedriver are needed (scripts/install-system-deps.sh)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def test_a_shared_document_shows_inline_in_chromium(tmp_path, browser):
    with running(tmp_path, docs) as dav:
        token = share_store(dav.root, dav.config).create("document", "1", "alice",
                                               dt.timedelta(days=1))[1]
        browser.get(f"{dav.url}s/{token}")
        pdf_url = f"{dav.url}s/{token}/document.pdf"
        responses = {}
        deadline = time.monotonic() + 20
        while pdf_url not in responses and time.monotonic() < deadline:
            for entry in browser.get_log("performance"):
                message = json.loads(entry["message"])["message"]
                if message["method"] == "Network.responseReceived":
                    response = message["params"]["response"]
                    if response["url"].startswith(dav.url):  # not the viewer's data: URLs
                        responses[response["url"]] = response
            time.sleep(0.2)
        browser.save_screenshot(str(tmp_path / "shared-document.png"))
        assert browser.title == "Alice invoice"
        assert "ACME" in browser.find_element("tag name", "body").text
        assert responses[f"{dav.url}s/{token}"]["status"] == 200
        assert pdf_url in responses, f"the iframe did not load the PDF: {sorted(responses)}"
        assert responses[pdf_url]["status"] == 200
        assert responses[pdf_url]["mimeType"] == "application/pdf"
        problems = [e["message"] for e in browser.get_log("browser")
                    if "Content Security Policy" in e["message"] or e["level"] == "SEVERE"]
        assert not problems, problems
