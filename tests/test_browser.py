"""The explorers in a real browser: JupyterLab on a temporary copy of the widget notebooks, headless Chromium.

Each test opens one notebook, runs all its cells, moves a control with the keyboard and checks that the text and
the picture change. Screenshots of each explorer go to a temporary folder (printed); with
CONVNETS_SCREENSHOT_DIR set they are copied there too (that is how docs/img/ is made). A failing test saves a
screenshot of the whole page and names it in its message.

Needs Chromium (Debian's ``chromium`` package; never ``playwright install``) and the ``playwright`` package
(the ``test`` extra). Run only these: ``pytest -m browser``; leave them out: ``pytest -m "not browser"``.
"""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder.course import SOLUTIONS

pytestmark = pytest.mark.browser

TOKEN = "convnets-browser-test"
# No news, no update checks; every cell rendered (with windowing, cells out of view are hidden and cannot be found)
OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
             "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}
LAB_OPTIONS = ["--no-browser", "--ip=127.0.0.1", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
               "--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.expose_app_in_browser=True"]
SCRATCH_NOTEBOOK = "architecture_explorer.ipynb"   # used while no solution notebook shows the architecture explorer


def chromium_path():
    """Chromium from CHROMIUM_PATH or the PATH (Debian's /usr/bin/chromium), or None."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _architecture_notebook():
    """The solution notebook that shows the architecture explorer, or None."""
    for path in sorted(SOLUTIONS.glob("*/*.ipynb")):
        if "architecture_explorer" in path.read_text():
            return path
    return None


@pytest.fixture(scope="module")
def sync_api():
    if chromium_path() is None:
        pytest.skip("no Chromium: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH")
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def lab(sync_api, tmp_path_factory):
    """JupyterLab on a copy of the widget notebooks, with fresh config, data, settings and workspaces folders.

    Returns the base URL; the server is stopped afterwards.
    """
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "notebooks"
    for assignment in ("01_conv_arithmetic", "02_convolution", "03_pooling"):
        shutil.copytree(SOLUTIONS / assignment, root / assignment)
    architecture = _architecture_notebook()
    if architecture:
        shutil.copytree(architecture.parent, root / architecture.parent.name)
    else:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            "from helpers.widgets import architecture_explorer\n\narchitecture_explorer()")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / SCRATCH_NOTEBOOK)
    (tmp / "config" / "labconfig").mkdir(parents=True)
    (tmp / "config" / "labconfig" / "default_setting_overrides.json").write_text(json.dumps(OVERRIDES))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_DATA_DIR": str(tmp / "data"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}
    port = _free_port()
    root_flag = ["--allow-root"] if os.geteuid() == 0 else []
    log = open(tmp / "lab.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", f"--port={port}", f"--ServerApp.root_dir={root}",
                             *LAB_OPTIONS, *root_flag], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"JupyterLab did not start; its log: {tmp / 'lab.log'}\n"
                                + (tmp / "lab.log").read_text()[-2000:])
                time.sleep(0.5)
        yield base, architecture
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def browser(sync_api):
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nbrowser screenshots: {folder}")
    return folder


def _keep(shots, path):
    """Copies a screenshot to CONVNETS_SCREENSHOT_DIR when that is set."""
    target = os.environ.get("CONVNETS_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


@contextlib.contextmanager
def notebook_page(browser, lab, shots, notebook, root_css):
    """A page with the notebook open and all its cells run, the explorer (CSS class root_css) on screen.

    A failure inside the block saves a screenshot of the page and names it.
    """
    base, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # a workspace of its own per notebook: nothing restored from an earlier test, one notebook open
        page.goto(f"{base}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}?reset&token={TOKEN}")
        page.wait_for_function("(path) => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.context"
                               " && window.jupyterapp.shell.currentWidget.context.path === path",
                               arg=notebook, timeout=60_000)
        page.evaluate("""async () => {
            const panel = window.jupyterapp.shell.currentWidget;
            await panel.context.ready;
            await panel.sessionContext.ready;
            await window.jupyterapp.commands.execute('notebook:run-all-cells');
        }""")
        explorer = page.locator(f".{root_css}").first
        explorer.wait_for(state="attached", timeout=60_000)
        explorer.scroll_into_view_if_needed()
        explorer.wait_for(state="visible", timeout=10_000)
        yield page, explorer
    except Exception as error:
        path = shots / f"FAILED-{Path(notebook).stem}.png"
        with contextlib.suppress(Exception):
            page.screenshot(path=path, full_page=True)
        raise AssertionError(f"{notebook}: {error}\nscreenshot of the page: {path}") from error
    finally:
        page.close()


def text_of(explorer, css, timeout=20):
    """The text of the first element with class css inside the explorer, once it has some."""
    element = explorer.locator(f".{css}").first
    element.wait_for(state="attached", timeout=timeout * 1000)
    deadline = time.time() + timeout
    while not element.inner_text().strip() and time.time() < deadline:
        time.sleep(0.1)
    return element.inner_text().strip()


def press_right(explorer, slider_css):
    """Focuses the handle of a slider and presses the right arrow key once."""
    handle = explorer.locator(f".{slider_css} .noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")


def wait_for_change(page, explorer, css, old, timeout=20):
    """The new text of the element with class css, once it differs from old (AssertionError after timeout s)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        new = text_of(explorer, css)
        if new != old:
            return new
        page.wait_for_timeout(100)
    raise AssertionError(f".{css} still reads {old!r} after {timeout} s")


def picture_changes(page, explorer, css, action):
    """Runs action(); asserts that the picture (an <img> with class css) shows other pixels afterwards."""
    image = explorer.locator(f"img.{css}").first
    source, pixels = image.get_attribute("src"), image.screenshot()
    result = action()
    page.wait_for_function(f"(old) => document.querySelector('img.{css}').src !== old", arg=source, timeout=20_000)
    page.wait_for_timeout(200)   # let the new image paint
    assert image.screenshot() != pixels, "the picture did not change"
    return result


def save(page, explorer, shots, name):
    """A screenshot of the explorer alone: a viewport tall enough that no toolbar or status bar covers it."""
    path = shots / name
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.wait_for_timeout(300)
    explorer.scroll_into_view_if_needed()
    explorer.screenshot(path=path)
    _keep(shots, path)
    assert path.stat().st_size > 10_000, f"{path} looks empty"


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_lab_fetches_no_news_checks_no_updates_and_installs_nothing(lab):
    base, _ = lab
    for plugin, values in OVERRIDES.items():
        schema = json.loads(_get(f"{base}/lab/api/settings/{plugin}?token={TOKEN}"))["schema"]["properties"]
        assert {key: schema[key]["default"] for key in values} == values, plugin
    page = _get(f"{base}/lab?token={TOKEN}")
    assert '"news": {"disabled": true}' in page
    assert '"can_install": false' in page and '"name": "read-only"' in page
    assert json.loads(_get(f"{base}/lab/api/update?token={TOKEN}")) == {"notification": None}


def test_sliding_filter_explorer_notebook_01(browser, lab, shots):
    with notebook_page(browser, lab, shots, "01_conv_arithmetic/conv_arithmetic.ipynb",
                       "convnets-sliding-filter") as (page, explorer):
        before = text_of(explorer, "convnets-formula-cols")
        assert before.endswith("⌊4/1⌋ + 1 = 5"), before
        after = picture_changes(page, explorer, "convnets-sliding-picture", lambda: (
            press_right(explorer, "convnets-sliding-stride"),
            wait_for_change(page, explorer, "convnets-formula-cols", before))[1])
        assert after.endswith("⌊4/2⌋ + 1 = 3"), after
        save(page, explorer, shots, "widget-sliding-filter.png")


def test_sliding_filter_explorer_notebook_02(browser, lab, shots):
    with notebook_page(browser, lab, shots, "02_convolution/convolution.ipynb",
                       "convnets-sliding-filter") as (page, explorer):
        before = text_of(explorer, "convnets-dot")
        assert before == "out[0, 0] = 1·1 + 2·0 + 4·2 + 5·(-1) + 0.5 = 4.5", before
        after = picture_changes(page, explorer, "convnets-sliding-picture", lambda: (
            press_right(explorer, "convnets-sliding-position"),
            wait_for_change(page, explorer, "convnets-dot", before))[1])
        assert after == "out[0, 1] = 2·1 + 3·0 + 5·2 + 6·(-1) + 0.5 = 6.5", after


def test_pooling_explorer_notebook_03(browser, lab, shots):
    with notebook_page(browser, lab, shots, "03_pooling/pooling.ipynb", "convnets-pooling") as (page, explorer):
        before = text_of(explorer, "convnets-value")
        assert before == "out[0, 0] = max(1, 1, 5, 6) = 6", before
        after = picture_changes(page, explorer, "convnets-pooling-picture", lambda: (
            press_right(explorer, "convnets-pooling-position"),
            wait_for_change(page, explorer, "convnets-value", before))[1])
        assert after == "out[0, 1] = max(2, 4, 7, 8) = 8", after
        assert text_of(explorer, "convnets-matrix-row").startswith("row 1 of A_MaxPool: one 1, in column 7")
        save(page, explorer, shots, "widget-pooling.png")


def test_architecture_explorer(browser, lab, shots):
    _, architecture = lab
    notebook = f"{architecture.parent.name}/{architecture.name}" if architecture else SCRATCH_NOTEBOOK
    with notebook_page(browser, lab, shots, notebook, "convnets-architecture") as (page, explorer):
        menu = explorer.locator(".convnets-architecture-name select").first
        options = menu.locator("option").all_inner_texts()
        assert "VGG-16" in options and options[0] != "VGG-16", options
        before = text_of(explorer, "convnets-summary")
        assert before.startswith(f"{options[0]}:"), before
        after = picture_changes(page, explorer, "convnets-architecture-picture", lambda: (
            menu.select_option("VGG-16"), wait_for_change(page, explorer, "convnets-summary", before))[1])
        from helpers.architectures import layer_table, totals
        assert after.startswith(f"VGG-16: {len(layer_table('VGG-16'))} rows, "
                                f"{totals(layer_table('VGG-16'))['params']:,} parameters"), after
        assert explorer.locator(".convnets-architecture-rows tbody tr").count() > 20
        save(page, explorer, shots, "widget-architecture.png")
