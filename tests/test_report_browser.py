"""The class report in headless Chromium: its plots are drawn, offline, from the page alone.

Skips without Chromium or playwright (as tests/test_browser.py). With CONVNETS_SCREENSHOT_DIR set, the screenshot
is copied there as class-report.png (that is how docs/img/class-report.png is made:
``CONVNETS_SCREENSHOT_DIR=docs/img pytest tests/test_report_browser.py``).
"""
import os
import shutil
from pathlib import Path

import pytest

from autograder.report import write_reports
from synthetic_class import write_class
from test_browser import chromium_path

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sync_api():
    if chromium_path() is None:
        pytest.skip("no Chromium: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH")
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")


def test_report_renders_its_plots_offline(sync_api, tmp_path):
    write_class(tmp_path, students=180)
    page_path, report = write_reports(tmp_path)["01_conv_arithmetic"]
    shot = tmp_path / "class-report.png"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            requests = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            plots = page.locator("img.report-plot")
            assert plots.count() == 2
            sizes = page.evaluate("() => [...document.querySelectorAll('img.report-plot')]"
                                  ".map(img => [img.complete, img.naturalWidth, img.naturalHeight])")
            assert all(done and w > 300 and h > 150 for done, w, h in sizes), sizes
            assert page.locator("h1").inner_text() == "Class report: 01_conv_arithmetic"
            text = page.locator("main").inner_text()
            assert "180 students" in text and "timed out" in text and "could not be graded" in text
            top_message, top_count = report.cells[0].mistakes.most_common(1)[0]
            assert f"{top_count} of 180" in text and top_message in text
            assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
            page.screenshot(path=shot, full_page=False)
        finally:
            browser.close()
    assert shot.stat().st_size > 30_000, "the screenshot looks empty"
    target = os.environ.get("CONVNETS_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / shot.name)
