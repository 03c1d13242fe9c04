"""Browser tests: JupyterLab on 127.0.0.1, driven by Debian's Chromium through Playwright.

Each bundled notebook runs all its cells in the browser with no error output
and no console error; the explorer renders as a live widget and answers
clicks; a plot in a fresh kernel shows as an image; the exported report,
opened from disk, shows its verdict. Screenshots of a failing test are kept
in ``.ui-artifacts/`` (of every test with ``FAPILOG_UI_SCREENSHOTS=1``).

The kernels import this checkout's package (``PYTHONPATH``); the server runs
with its own settings, workspace and runtime folders, so nothing of the
user's JupyterLab is read or changed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.ui

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("jupyterlab")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ARTIFACTS = ROOT / ".ui-artifacts"
#: Lab settings for a quiet, predictable page: no news prompt, every cell in the DOM.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
RUN_TIMEOUT_MS = 240_000


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    errors: list[str] = field(default_factory=list)

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A JupyterLab server on a free local port, with a token, serving a copy of the notebooks."""
    root = tmp_path_factory.mktemp("lab-root")
    for notebook in NOTEBOOKS:
        shutil.copy(notebook, root / notebook.name)
    shutil.copytree(ROOT / "notebooks" / "data", root / "data")
    home = tmp_path_factory.mktemp("lab-home")
    settings = home / "settings"
    for name, values in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    token = secrets.token_hex(16)
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "CI": "1",
    }
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--port-retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            *(["--allow-root"] if os.geteuid() == 0 else []),  # CI runs as root
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    text = (home / "server.log").read_text(errors="replace")[-3000:]
                    pytest.fail(f"JupyterLab did not start:\n{text}")
                time.sleep(0.3)
        yield Lab(url=url, token=token, root=root)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; console errors are collected in ``page.console_errors``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    tab.console_errors = errors
    failed = True
    try:
        yield tab
        failed = False
    finally:
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        if failed or os.environ.get("FAPILOG_UI_SCREENSHOTS"):
            ARTIFACTS.mkdir(exist_ok=True)
            # The screenshot is a convenience; the test's own result stands.
            with suppress(Exception):
                tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        context.close()


@contextmanager
def screenshot_on_failure(tab: Any, name: str) -> Iterator[None]:
    """Keep a screenshot of the page as it was when an assertion inside failed."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{name}-failed.png"), full_page=True)
        raise


# ------------------------------------------------------------------ driving JupyterLab

CELLS_JS = """
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  for (const cell of panel.content.model.cells) {
    if (cell.type !== 'code') continue;
    cells.push({count: cell.executionCount, outputs: cell.outputs.toJSON()});
  }
  return {kernel: kernel ? kernel.status : null, cells: cells};
}
"""


def open_notebook(tab: Any, lab: Lab, name: str) -> None:
    """Open ``name`` and wait until its kernel is idle."""
    tab.goto(lab.notebook_url(name))
    tab.wait_for_function(
        """(name) => {
          const app = window.jupyterapp;
          const panel = app && app.shell.currentWidget;
          const kernel = panel && panel.sessionContext && panel.sessionContext.session
            && panel.sessionContext.session.kernel;
          return panel && panel.context && panel.context.path === name
            && kernel && kernel.status === 'idle';
        }""",
        arg=name,
        timeout=90_000,
    )


def command(tab: Any, name: str) -> None:
    tab.evaluate("(name) => window.jupyterapp.commands.execute(name)", name)


def run_all(tab: Any) -> list[dict[str, Any]]:
    """Clear the outputs, run every cell, wait until all ran; return the code cells."""
    command(tab, "notebook:clear-all-cell-outputs")
    tab.wait_for_function(f"() => ({CELLS_JS})().cells.every(c => c.count === null)")
    command(tab, "notebook:run-all-cells")
    tab.wait_for_function(
        f"""() => {{
          const state = ({CELLS_JS})();
          return state && state.kernel === 'idle' && state.cells.every(c => c.count !== null);
        }}""",
        timeout=RUN_TIMEOUT_MS,
        polling=500,
    )
    state: dict[str, Any] = tab.evaluate(CELLS_JS)
    cells: list[dict[str, Any]] = state["cells"]
    return cells


def problems_in(cells: list[dict[str, Any]]) -> list[str]:
    """Error outputs and tracebacks printed to stderr."""
    found = []
    for number, cell in enumerate(cells):
        for output in cell["outputs"]:
            if output["output_type"] == "error":
                found.append(f"cell {number}: {output['ename']}: {output['evalue']}")
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            if output.get("name") == "stderr" and re.search(r"Traceback|Error", text):
                found.append(f"cell {number} stderr: {text[:300]}")
    return found


def write_notebook(lab: Lab, name: str, *sources: str) -> None:
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, lab.root / name)


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the page to change")
        time.sleep(0.2)


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("notebook", [p.name for p in NOTEBOOKS])
def test_each_bundled_notebook_runs_all_cells_in_the_browser(
    lab: Lab, page: Any, notebook: str
) -> None:
    open_notebook(page, lab, notebook)
    cells = run_all(page)
    assert cells
    assert problems_in(cells) == []
    assert page.console_errors == []
    # Every figure a cell returns arrives as an image.
    for cell in cells:
        for output in cell["outputs"]:
            if "<NotebookFigure" in str(output.get("data", {}).get("text/plain", "")):
                assert "image/png" in output["data"]


EXPLORER_CELL = """
import shutil
from pathlib import Path
from fapilog_notebook import explore, verify_audit_log

trail = Path("ui-trail")
shutil.rmtree(trail, ignore_errors=True)
shutil.copytree("data/fapilog-0.3.5", trail)
day = trail / "audit_2026-03-31.jsonl"
lines = day.read_bytes().splitlines(keepends=True)
lines[4] = lines[4].replace(b'"message":"', b'"message":"altered ', 1)
day.write_bytes(b"".join(lines))
explorer = explore(trail, report=verify_audit_log(trail, progress=False))
explorer
"""


def test_the_explorer_is_a_live_widget_that_answers_clicks(lab: Lab, page: Any) -> None:
    write_notebook(
        lab, "ui_explorer.ipynb", EXPLORER_CELL, "%load_ext fapilog_notebook\n%audit_verify trail"
    )
    open_notebook(page, lab, "ui_explorer.ipynb")
    cells = run_all(page)
    assert problems_in(cells) == []
    with screenshot_on_failure(page, "explorer"):
        explorer = page.locator(".jp-OutputArea-output .widget-vbox").first
        explorer.wait_for(timeout=30_000)
        status = explorer.locator(".widget-html", has_text="events match").first
        assert re.search(r"65\s+of 65 events match", status.inner_text())
        # The verdict is in view without opening anything.
        assert explorer.get_by_text("INVALID", exact=True).is_visible()
        chart = explorer.locator("svg.fapilog-per-day")
        before = chart.inner_html()
        # An INVALID trail opens on its findings; open the filters and pick an event type.
        explorer.get_by_text("Filters", exact=True).click()
        types = explorer.locator("select[multiple]").first
        types.wait_for(state="visible")
        first_type = types.locator("option").first.inner_text()
        wanted = int(re.search(r"\(([\d,]+)\)", first_type).group(1).replace(",", ""))  # type: ignore[union-attr]
        types.select_option(label=first_type)
        wait_for(lambda: f"{wanted} of 65 events match" in status.inner_text().replace("\n", " "))
        wait_for(lambda: chart.inner_html() != before)
        # Choosing a finding highlights its row.
        explorer.get_by_text("Findings", exact=True).click()
        findings = explorer.locator("select:not([multiple])").filter(
            has=page.locator("option", has_text="checksum_mismatch")
        )
        findings.wait_for(state="visible")
        findings.select_option(index=0)
        highlighted = explorer.locator("tr.highlight")
        highlighted.wait_for(timeout=20_000)
        assert "altered" in highlighted.inner_text()
        assert "checksum_mismatch" in highlighted.inner_text()
        # The report %audit_verify shows wraps its findings inside the output area.
        report = page.locator(".fapilog-verification-report")
        report.scroll_into_view_if_needed()
        assert "checksum_mismatch" in report.inner_text()
        overflow = report.evaluate(
            "e => { const area = e.closest('.jp-OutputArea-output');"
            " return [e.scrollWidth, area.clientWidth]; }"
        )
        assert overflow[0] <= overflow[1], overflow
        assert page.console_errors == []


def test_a_plot_cell_in_a_fresh_kernel_shows_an_image(lab: Lab, page: Any) -> None:
    write_notebook(
        lab,
        "ui_plot.ipynb",
        "from fapilog_notebook import read_audit_log\n"
        "from fapilog_notebook.notebook import plot_events_per_day\n"
        'plot_events_per_day(read_audit_log("data/fapilog-0.3.5", progress=False))',
    )
    open_notebook(page, lab, "ui_plot.ipynb")
    cells = run_all(page)
    assert problems_in(cells) == []
    with screenshot_on_failure(page, "plot"):
        image = page.locator(".jp-OutputArea-output img").first
        image.wait_for(timeout=20_000)
        assert image.get_attribute("src", timeout=5_000).startswith("data:image/png")
        box = image.bounding_box()
        assert box is not None
        assert box["width"] > 300
        assert "<Figure" not in page.locator(".jp-OutputArea-output").first.inner_text()
        assert page.console_errors == []


def test_the_exported_report_opened_from_disk_shows_the_verdict(page: Any, tmp_path: Path) -> None:
    from fapilog_notebook import verify_audit_log

    trail = tmp_path / "trail"
    shutil.copytree(ROOT / "notebooks" / "data" / "fapilog-0.3.5", trail)
    day = trail / "audit_2026-03-31.jsonl"
    lines = day.read_bytes().splitlines(keepends=True)
    del lines[3]
    day.write_bytes(b"".join(lines))
    target = tmp_path / "report.html"
    verify_audit_log(trail, progress=False).to_html(target)
    page.goto(target.as_uri())
    with screenshot_on_failure(page, "report"):
        verdict = page.locator("#verdict")
        assert verdict.is_visible()
        assert "INVALID" in verdict.inner_text()
        assert page.title().startswith("Audit trail verification: INVALID")
        assert page.locator("table.findings tr.error").count() >= 1
        # The verdict is at the top of the page, before the findings.
        assert verdict.bounding_box()["y"] < page.locator("table.findings").bounding_box()["y"]
        assert page.console_errors == []
