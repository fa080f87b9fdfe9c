"""The dashboard tutorial in a real browser: JupyterLab 4 (prebuilt extensions only) driven through
Playwright with Debian's chromium. Runs all cells from the Run menu, waits for the loss plot and the
view images, clicks a view of the similarity explorer and checks that the similarity maps change,
drags the snapshot slider back to step 0, and saves screenshots in the test's tmp folder (printed
with -s).

Robust under load (tools/stress_browser_test.sh runs it 5 times beside `stress-ng --cpu 2`): it
waits on what matters, never on time: the kernel idle, the figures' data in the page (the widget
state synced), the heatmaps' data changed; the click is made deterministic by hovering first and
clicking only once plotly shows its hover label there (plotly turns a click into a point only from
the hover it computed, throttled, so a click on a busy page could land before it and be lost).
Every bound is generous (`BOUND` seconds for a step, a few minutes for the run): on a loaded 2-core
box a step may take many times what it takes alone."""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

NB = Path(__file__).resolve().parents[1] / "nbs" / "tutorial_dashboard.ipynb"
BIN = Path(sys.executable).parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]

BOUND = 180_000  # ms: the bound of any one wait after the run (kernel idle, a figure updated)
IDLE = '.jp-Notebook-ExecutionIndicator[data-status="idle"]'

# anywidget gives a widget's module 2 s to load and initialise (`AbortSignal.timeout(2e3)` in its
# runtime), then rejects the model ("[anywidget] Failed to initialize model.") and the widget never
# answers a click: plotly's bundle alone can take longer to parse on a loaded 2-core box. The page's
# timeouts made with AbortSignal.timeout are stretched 30x: a bound of the harness, not of the test.
STRETCH_TIMEOUTS = """(() => { const t = AbortSignal.timeout.bind(AbortSignal);
    AbortSignal.timeout = ms => t(ms * 30); })();"""

# every plotly graph div in the page: its traces' names and the JSON of their z arrays (heatmaps)
JS_GRAPHS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(g =>
    (g.data || []).map(t => ({
        name: t.name || null, type: t.type, n: t.x ? t.x.length : null, xaxis: t.xaxis,
        yaxis: t.yaxis,
        z: t.type === 'heatmap' ? JSON.stringify(Array.from(t.z || [], r => Array.from(r)))
                                : null})))"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not on PATH (`make test` installs it with apt: "
                    "chromium); this test never downloads a browser")
    return path


def _start_lab(root: Path, work: Path):
    port, token = _free_port(), secrets.token_hex(16)
    config = work / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    # no build-check dialog (the prebuilt extensions are all we need) and no news prompt
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"buildCheck": False, "buildAvailable": False,
         "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    # start the notebook's kernel without asking (a "Select Kernel" dialog would block the Run menu)
    tracker = work / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    settings = json.dumps({"autoStartDefaultKernel": True})
    (tracker / "tracker.jupyterlab-settings").write_text(settings)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config),
           "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
           # the venv's share/jupyter still provides kernels and extensions
           "JUPYTER_DATA_DIR": str(work / "data"),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "P2IKIT_TUTORIAL_FAST": "1",
           "P2IKIT_TUTORIAL_OUT": str(work / "runs"), "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    log = open(work / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [str(BIN / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.workspaces_dir={work / 'workspaces'}",
         f"--LabApp.user_settings_dir={work / 'settings'}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=",
         "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
         "--allow-root"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            return proc, url, token
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                _stop_lab(proc, url, token)
                log_tail = (work / "jupyterlab.log").read_text()[-3000:]
                pytest.fail(f"jupyter lab did not start:\n{log_tail}")
            time.sleep(0.5)


def _stop_lab(proc, url, token):
    "Shut the kernels down through the API, then the server (SIGTERM, SIGKILL) and its group."
    try:
        kernels = json.load(urllib.request.urlopen(f"{url}/api/kernels?token={token}", timeout=5))
        for k in kernels:
            req = urllib.request.Request(f"{url}/api/kernels/{k['id']}?token={token}",
                                         method="DELETE")
            urllib.request.urlopen(req, timeout=10)
    except OSError:
        pass
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    try:
        os.killpg(proc.pid, signal.SIGKILL)       # anything the server left in its own session
    except (ProcessLookupError, PermissionError):
        pass


def _graphs(page) -> list[list[dict]]:
    return page.evaluate(JS_GRAPHS)


def _similarity(page):
    "(index of the similarity graph, {heatmap name: z json}) or None."
    for i, g in enumerate(_graphs(page)):
        if any(t["name"] == "input 1" for t in g):
            return i, {t["name"]: t["z"] for t in g if t["type"] == "heatmap"}
    return None


def _click_when_hovered(page, graph, x: float, y: float, tries: int = 20):
    """Move to (x, y) in `graph`, wait until plotly shows its hover label, then click there; the
    mouse is nudged by a pixel between tries (a new move event makes plotly hover again)."""
    label = graph.locator(".hoverlayer .hovertext")
    for k in range(tries):
        page.mouse.move(x + (k % 3) - 1, y)
        try:
            label.first.wait_for(state="visible", timeout=5_000 + 1_000 * k)
        except Exception:
            continue
        page.mouse.down()
        page.mouse.up()
        return
    raise AssertionError(f"plotly never showed a hover label at ({x:.0f}, {y:.0f}) "
                         f"in {tries} tries")


def test_dashboard_in_jupyterlab(tmp_path):
    from playwright.sync_api import sync_playwright
    chromium = _chromium()
    root, work = tmp_path / "root", tmp_path / "work"
    root.mkdir()
    work.mkdir()
    shutil.copy(NB, root / NB.name)
    proc, url, token = _start_lab(root, work)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=CHROMIUM_ARGS)
            # tall: the whole dashboard in view
            page = browser.new_page(viewport={"width": 1300, "height": 3400})
            page.add_init_script(STRETCH_TIMEOUTS)
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            try:
                _drive(page, f"{url}/lab/tree/{NB.name}?token={token}", tmp_path, errors)
            except Exception:
                page.screenshot(path=str(tmp_path / "failure.png"))
                print(f"page errors: {errors}\nscreenshot: {tmp_path / 'failure.png'}\nlab log:\n"
                      f"{(work / 'jupyterlab.log').read_text()[-3000:]}")
                raise
            finally:
                browser.close()
    finally:
        _stop_lab(proc, url, token)


def _drive(page, url, out: Path, errors: list):
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=BOUND)
    page.wait_for_selector(IDLE, timeout=BOUND)
    dialog = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    try:                                 # should not come (autoStartDefaultKernel), never blocks
        dialog.wait_for(timeout=3_000)
        dialog.click()
    except Exception:
        pass

    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')

    # the loss plot gets points, and the view images appear (4 views x teacher input and 3 depth
    # styles at least)
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')].some(g =>
        (g.data || []).some(t => t.name === 'loss' && t.x && t.x.length > 0))""", timeout=600_000)
    page.wait_for_function("""() => [...document.querySelectorAll('img.widget-image')]
        .filter(i => i.complete && i.naturalWidth > 0).length >= 16""", timeout=BOUND)
    page.screenshot(path=str(out / "training.png"))

    # the run ends (the FAST tutorial waits for it), then every step is on the loss curve
    page.wait_for_function("""() => [...document.querySelectorAll('.widget-html')].some(e =>
        e.innerText.startsWith('finished'))""", timeout=600_000)
    page.wait_for_selector(IDLE, timeout=BOUND)
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')].some(g =>
        (g.data || []).some(t => t.name === 'loss' && t.x && t.x.length === 30))""", timeout=BOUND)

    # every figure drew its data: curves, similarity maps, the two similarity clouds and the point
    # cloud (256 points)
    page.wait_for_function("""() => {
        const graphs = [...document.querySelectorAll('.js-plotly-plot')].map(g => g.data || []);
        const clouds = graphs.filter(d =>
            d.some(t => t.name === 'points' && t.x && t.x.length === 256));
        return graphs.length === 5 && clouds.length === 3 &&
            graphs.some(d => d.some(t => t.name === 'input 1')); }""", timeout=BOUND)
    page.wait_for_selector(IDLE, timeout=BOUND)   # nothing left to sync from the kernel
    failed = [e for e in errors if "Failed to initialize model" in e]
    assert not failed, f"widget models did not initialise (they would ignore the click): {failed}"

    # click inside view 1 of the similarity explorer
    index, before = _similarity(page)
    assert sorted(before) == sorted(f"{r} {v}" for r in ("teacher", "student") for v in range(4))
    info = page.locator(".widget-html", has_text="query:").first
    info_before = info.inner_text()
    graph = page.locator(".js-plotly-plot").nth(index)
    axis = next(t for t in _graphs(page)[index] if t["name"] == "input 1")
    target = graph.locator(f'.nsewdrag[data-subplot="{axis["xaxis"]}{axis["yaxis"]}"]')
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    _click_when_hovered(page, graph, box["x"] + 0.3 * box["width"], box["y"] + 0.6 * box["height"])

    page.wait_for_function("""([i, before]) => {
        const g = document.querySelectorAll('.js-plotly-plot')[i];
        return (g.data || []).some(t => t.type === 'heatmap' &&
            JSON.stringify(Array.from(t.z || [], r => Array.from(r))) !== before[t.name]); }""",
                           arg=[index, before], timeout=BOUND)
    page.wait_for_function("""([before]) => [...document.querySelectorAll('.widget-html')].some(e =>
        e.innerText.startsWith('query:') && e.innerText !== before)""", arg=[info_before],
                           timeout=BOUND)
    page.wait_for_selector(IDLE, timeout=BOUND)
    # at least four of the eight maps changed (one update from the kernel, maybe drawn apart)
    page.wait_for_function("""([i, before]) => {
        const g = document.querySelectorAll('.js-plotly-plot')[i];
        return (g.data || []).filter(t => t.type === 'heatmap' &&
            JSON.stringify(Array.from(t.z || [], r => Array.from(r))) !== before[t.name]).length
            >= 4; }""", arg=[index, before], timeout=BOUND)
    _, after = _similarity(page)
    changed = [k for k in before if after[k] != before[k]]
    assert len(changed) >= 4, changed           # the teacher and student maps of the views changed
    assert "view 1" in info.inner_text(), info.inner_text()

    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.locator(".widget-html", has_text="p2ikit ·").first.scroll_into_view_if_needed()
    page.screenshot(path=str(out / "dashboard.png"))

    # look back: the snapshot slider to its start shows step 0, and the untrained student's maps
    _, latest = _similarity(page)
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.focus()
    page.keyboard.press("Home")
    page.wait_for_function("""() => [...document.querySelectorAll('.widget-html')].some(e =>
        e.innerText.startsWith('step 0 ·'))""", timeout=BOUND)
    page.wait_for_function("""([i, before]) => {
        const g = document.querySelectorAll('.js-plotly-plot')[i];
        return (g.data || []).some(t => t.type === 'heatmap' && t.name.startsWith('student') &&
            JSON.stringify(Array.from(t.z || [], r => Array.from(r))) !== before[t.name]); }""",
                           arg=[index, latest], timeout=BOUND)
    page.locator(".widget-html", has_text="Feature similarity").first.scroll_into_view_if_needed()
    page.screenshot(path=str(out / "look_back.png"))
    print(f"screenshots: {out / 'training.png'}, {out / 'dashboard.png'}, {out / 'look_back.png'}")
