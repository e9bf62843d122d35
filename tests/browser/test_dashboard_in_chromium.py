"""A dashboard in a real JupyterLab, in a real Chromium: run all cells, move a slider, see a new figure.

Two notebooks are driven the same way:

* ``lesson`` -- the first lesson with a dashboard slider (notebooks/01_listen.ipynb when it has one);
  skipped, with the reason, until such a lesson exists;
* ``smoke`` -- a small notebook this test writes itself (``handshake_course.simulate`` + an
  ``IntSlider`` + a matplotlib figure in an ``Output``): it checks the browser stack alone.

Each run: open the notebook, run all cells, wait until the kernel is idle and every code cell ran,
fail on any error output or "Error displaying widget", screenshot the dashboard, press ArrowRight (or
ArrowLeft at the maximum) on the slider handle, wait until the figure's image changes, check that its
bytes differ, and time slider-to-new-figure. Screenshots and timings go to artifacts/browser/.
The 30 s bound is a hang guard only; the time itself is a measurement, reported, not a target.
"""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from handshake_course.course import syllabus

from .labserver import REPO, LabServer, kernel_command

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PREFERRED_LESSON = "01_listen.ipynb"
SMOKE_NOTEBOOK = "_browser_smoke_dashboard.ipynb"
PREFERRED_SLIDER = re.compile(r"backlog", re.IGNORECASE)
LOAD_TIMEOUT_MS = 180_000  # the first Lab page load in a new profile is slow on a shared 2-core box
STEP_TIMEOUT_MS = 60_000  # once the notebook ran
RUN_ALL_TIMEOUT_MS = 300_000
REDRAW_HANG_GUARD_MS = 30_000

SMOKE_CELLS = [
    "# Browser smoke test\nA backlog slider redraws a matplotlib figure of the simulated queues.",
    "import ipywidgets as widgets\nimport matplotlib.pyplot as plt\nfrom IPython.display import display\n\n"
    "from handshake_course import Kernel, Scenario, simulate",
    "backlog = widgets.IntSlider(value=4, min=1, max=32, description='backlog', continuous_update=False)\n"
    "figure = widgets.Output()\n\n\n"
    "def draw(change=None):\n"
    "    result = simulate(Scenario(kernel=Kernel('6.18', tcp_syncookies=0), backlog=backlog.value,\n"
    "                               clients=40, accept=None, duration=3.0, seed=1))\n"
    "    with figure:\n"
    "        figure.clear_output(wait=True)\n"
    "        fig, ax = plt.subplots(figsize=(7, 3), dpi=80)\n"
    "        times = [t * 1000 for t in (*result.queues.times, result.end)]\n"
    "        ax.step(times, [*result.queues.accept, result.queues.accept[-1]], where='post', label='accept queue')\n"
    "        ax.step(times, [*result.queues.syn, result.queues.syn[-1]], where='post', label='SYN queue')\n"
    "        ax.set_xscale('symlog', linthresh=0.1)\n"
    "        ax.set_title(f'listen({backlog.value}): {dict(result.outcomes())}')\n"
    "        ax.set_xlabel('time (ms)')\n"
    "        ax.legend(loc='upper right')\n"
    "        plt.show()\n"
    "        plt.close(fig)\n\n\n"
    "backlog.observe(draw, names='value')\n"
    "draw()\n"
    "display(widgets.VBox([backlog, figure]))",
]

# ---- JavaScript run in the page --------------------------------------------------------------------
# Each function finds the notebook's panel by its path, never by "the current tab": Lab may restore
# other tabs, and focus may move.

PANEL = """const panelFor = (path) => {
  for (const w of window.jupyterapp.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.content.model) return w;
  }
  return null;
};
"""

JS_RUN_ALL = """async ([path, timeoutMs]) => {
  """ + PANEL + """
  const app = window.jupyterapp;
  const panel = panelFor(path);
  if (!panel) throw new Error(`no notebook panel for ${path}`);
  app.shell.activateById(panel.id);
  await panel.context.ready;
  await panel.sessionContext.ready;
  const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`run-all took more than ${timeoutMs} ms`)), timeoutMs));
  await Promise.race([app.commands.execute('notebook:run-all-cells', {}), timeout]);
  return true;
}"""

JS_KERNEL_DONE = """(path) => {
  """ + PANEL + """
  const panel = panelFor(path);
  const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const cells = panel.content.model.cells;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i).toJSON();
    if (cell.cell_type !== 'code') continue;
    if ((cell.outputs || []).some(o => o.output_type === 'error')) return true;  // run-all stops there
    if (cell.execution_count === null || cell.execution_count === undefined) return false;
  }
  return true;
}"""

JS_CELL_PROBLEMS = """(path) => {
  """ + PANEL + """
  const problems = [];
  const panel = panelFor(path);
  const cells = panel.content.model.cells;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i).toJSON();
    if (cell.cell_type !== 'code') continue;
    const tags = (cell.metadata && cell.metadata.tags) || [];
    if (tags.includes('raises-exception')) continue;
    for (const o of cell.outputs || []) {
      if (o.output_type === 'error') problems.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    }
    if (cell.execution_count === null || cell.execution_count === undefined)
      problems.push(`cell ${i}: not executed`);
  }
  for (const el of panel.node.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')) {
    if (el.textContent.includes('Traceback')) problems.push('traceback shown: ' + el.textContent.slice(0, 300));
  }
  for (const el of panel.node.querySelectorAll('.jp-OutputArea-output')) {
    if (el.textContent.includes('Error displaying widget'))
      problems.push('widget not rendered: ' + el.textContent.slice(0, 200));
  }
  return problems;
}"""

JS_IMAGE_SRCS = """(cell) => Array.from(cell.querySelectorAll('.jp-OutputArea img')).map(img => img.src)"""

JS_IMAGES_CHANGED = """([cell, old]) => {
  const imgs = Array.from(cell.querySelectorAll('.jp-OutputArea img'));
  if (imgs.length === 0) return false;
  if (!imgs.every(img => img.complete && img.naturalWidth > 0)) return false;
  const now = imgs.map(img => img.src);
  return now.length !== old.length || now.some((src, i) => src !== old[i]);
}"""

JS_IMAGE_DIGESTS = """async (cell) => {
  const out = [];
  for (const img of cell.querySelectorAll('.jp-OutputArea img')) {
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    out.push(Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, '0')).join(''));
  }
  return out;
}"""


@dataclass
class Move:
    """One slider step and what it took to see the new figure."""

    key: str
    value_before: str
    value_after: str
    seconds_to_new_figure: float
    figure_changed: bool


# ---- choosing the notebook -------------------------------------------------------------------------

def notebook_source(path: Path) -> str:
    """All code of a notebook, joined."""
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def has_dashboard(path: Path) -> bool:
    """Whether a lesson builds a dashboard (the course's dashboards, or a slider of its own)."""
    code = notebook_source(path)
    return "dashboards" in code or "_app(" in code or "Slider" in code


def lesson_with_dashboard(notebooks: Path) -> Path | None:
    """notebooks/01_listen.ipynb if it has a dashboard, else the first lesson with a backlog slider,
    else the first with any dashboard; None until the lessons exist."""
    preferred = notebooks / PREFERRED_LESSON
    if preferred.is_file() and has_dashboard(preferred):
        return preferred
    lessons = [p for p in sorted(notebooks.glob("[0-9]*.ipynb")) if has_dashboard(p)]
    with_backlog = [p for p in lessons if PREFERRED_SLIDER.search(notebook_source(p))]
    return (with_backlog or lessons or [None])[0]


def write_smoke_notebook(path: Path) -> Path:
    """The self-contained dashboard notebook of the ``smoke`` case."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(SMOKE_CELLS[0])]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in SMOKE_CELLS[1:]]
    nbformat.write(nb, path)
    return path


@pytest.fixture(params=["lesson", "smoke"])
def notebook_name(request: pytest.FixtureRequest, lab_root: Path) -> str:
    """The notebook (relative to the server's root) this case drives."""
    if request.param == "smoke":
        return write_smoke_notebook(lab_root / SMOKE_NOTEBOOK).name
    lesson = lesson_with_dashboard(REPO / "notebooks")
    if lesson is None:
        pytest.skip("no lesson in notebooks/ has a dashboard yet (looked for 01_listen.ipynb, then any "
                    "lesson with a slider); the smoke notebook still runs")
    return lesson.name


# ---- driving the page ------------------------------------------------------------------------------

JS_PANEL_READY = """(path) => {
  """ + PANEL + """
  const panel = panelFor(path);
  const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return kernel && kernel.status === 'idle' && panel.content.widgets.length > 0 ? panel.id : false;
}"""


@pytest.fixture
def page(browser: Any, lab_server: LabServer, artifacts_dir: Path, notebook_name: str) -> Iterator[Any]:
    """A fresh browser context; console messages and page errors are saved next to the screenshots,
    and the notebook's kernel is shut down afterwards (CPU is shared)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda err: console.append(f"pageerror: {err}"))
    try:
        yield page
    finally:
        (artifacts_dir / f"{Path(notebook_name).stem}-console.log").write_text("\n".join(console) + "\n")
        context.close()
        lab_server.end_sessions()


def open_notebook(page: Any, server: LabServer, name: str) -> tuple[Any, float]:
    """Open the notebook in a workspace of its own (no tabs restored from an earlier test); wait for
    its cells and an idle kernel. (its panel, seconds taken)."""
    start = time.perf_counter()
    workspace = f"test-{Path(name).stem}-{uuid.uuid4().hex[:8]}"
    page.goto(server.url(f"lab/workspaces/{workspace}/tree/{name}"), wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands"
                           ".hasCommand('notebook:run-all-cells')")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    accept = page.locator(".jp-Dialog .jp-mod-accept")  # "Select Kernel" if the notebook names none
    if accept.count():
        accept.first.click()
    panel_id = page.wait_for_function(JS_PANEL_READY, arg=name).json_value()
    return page.locator(f"[id='{panel_id}']"), time.perf_counter() - start


def run_all_cells(page: Any, name: str) -> float:
    """Run all cells, then wait until the kernel is idle and every code cell ran; seconds taken."""
    start = time.perf_counter()
    page.evaluate(JS_RUN_ALL, [name, RUN_ALL_TIMEOUT_MS])
    page.wait_for_function(JS_KERNEL_DONE, arg=name, timeout=RUN_ALL_TIMEOUT_MS)
    return time.perf_counter() - start


def dashboard_slider(page: Any, panel: Any) -> tuple[Any, Any]:
    """(the slider's handle, the notebook cell around it): the first dashboard cell with a slider
    labelled 'backlog', else the first with any slider."""
    panel.locator(".widget-slider .noUi-handle").first.wait_for()
    sliders = page.locator(".widget-slider")  # relative: filter(has=...) applies it inside each cell
    cells = panel.locator(".jp-Cell").filter(has=sliders.filter(has_text=PREFERRED_SLIDER))
    if not cells.count():
        cells = panel.locator(".jp-Cell").filter(has=sliders)
    cell = cells.first
    in_cell = cell.locator(".widget-slider")
    named = in_cell.filter(has_text=PREFERRED_SLIDER)
    slider = named.first if named.count() else in_cell.first
    return slider.locator(".noUi-handle"), cell


def wait_for_figure(page: Any, cell: Any) -> list[str]:
    """Wait until the dashboard cell shows at least one decoded image; their srcs."""
    handle = cell.element_handle()
    page.wait_for_function(JS_IMAGES_CHANGED, arg=[handle, []])
    return page.evaluate(JS_IMAGE_SRCS, handle)


def first_key(handle: Any) -> str:
    """ArrowRight, or ArrowLeft when the slider already stands at its maximum."""
    value = handle.get_attribute("aria-valuenow")
    return "ArrowLeft" if value is not None and value == handle.get_attribute("aria-valuemax") else "ArrowRight"


def move_slider(page: Any, handle: Any, cell: Any, key: str) -> Move:
    """One keyboard step on the slider; wait for a new figure and compare its bytes with the old."""
    cell_handle = cell.element_handle()
    old_srcs = page.evaluate(JS_IMAGE_SRCS, cell_handle)
    old_digests = page.evaluate(JS_IMAGE_DIGESTS, cell_handle)
    before = handle.get_attribute("aria-valuenow") or ""
    handle.focus()
    start = time.perf_counter()
    handle.press(key)
    page.wait_for_function(JS_IMAGES_CHANGED, arg=[cell_handle, old_srcs], polling="raf",
                           timeout=REDRAW_HANG_GUARD_MS)
    seconds = time.perf_counter() - start
    new_digests = page.evaluate(JS_IMAGE_DIGESTS, cell_handle)
    return Move(key, before, handle.get_attribute("aria-valuenow") or "", seconds, new_digests != old_digests)


def screenshot_dashboard(cell: Any, path: Path) -> None:
    """A picture of the dashboard cell's output (controls and figure)."""
    output = cell.locator(".jp-OutputArea").first
    output.scroll_into_view_if_needed()
    output.screenshot(path=str(path))


# ---- the test ----------------------------------------------------------------------------------------

def test_slider_redraws_dashboard_figure(page: Any, lab_server: LabServer, notebook_name: str,
                                         artifacts_dir: Path) -> None:
    stem = Path(notebook_name).stem
    shots = {name: artifacts_dir / f"{stem}-{name}.png"
             for name in ("page-after-run-all", "figure-before", "figure-after", "page-after-move", "failure")}
    try:
        panel, opened = open_notebook(page, lab_server, notebook_name)
        ran = run_all_cells(page, notebook_name)
        problems = page.evaluate(JS_CELL_PROBLEMS, notebook_name)
        assert not problems, f"{notebook_name}: cells failed:\n" + "\n".join(problems)
        page.set_default_timeout(STEP_TIMEOUT_MS)
        handle, cell = dashboard_slider(page, panel)
        first_srcs = wait_for_figure(page, cell)
        page.screenshot(path=str(shots["page-after-run-all"]))
        screenshot_dashboard(cell, shots["figure-before"])
        key = first_key(handle)
        moves = [move_slider(page, handle, cell, key)]
        screenshot_dashboard(cell, shots["figure-after"])
        back = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
        moves.append(move_slider(page, handle, cell, back))  # and back: a second sample
        page.screenshot(path=str(shots["page-after-move"]))
    except BaseException:
        page.screenshot(path=str(shots["failure"]))
        raise
    timings = {"notebook": notebook_name, "open_s": round(opened, 3), "run_all_s": round(ran, 3),
               "images_in_dashboard": len(first_srcs), "moves": [asdict(m) for m in moves]}
    (artifacts_dir / f"{stem}-timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(f"\n{notebook_name}: opened in {opened:.2f} s, ran all cells in {ran:.2f} s; slider to new figure: "
          + ", ".join(f"{m.key} {m.value_before}->{m.value_after} {m.seconds_to_new_figure * 1000:.0f} ms"
                      for m in moves))
    for move in moves:
        assert move.value_after != move.value_before, f"the slider did not move on {move.key}"
        assert move.figure_changed, f"{move.key}: a new image arrived but its bytes are the old figure's"


# ---- every lesson, as a learner first sees it ---------------------------------------------------------

JS_ANSWERS_SHOWN = """(path) => {
  """ + PANEL + """
  const panel = panelFor(path);
  const shown = [];
  panel.content.widgets.forEach((cell, i) => {
    const hidden = cell.model.getMetadata('jupyter') || {};
    if (hidden.source_hidden && !cell.inputHidden) shown.push(`cell ${i}: its input is shown`);
    if (hidden.outputs_hidden && cell.outputHidden === false && cell.model.type === 'code')
      shown.push(`cell ${i}: its output is shown`);
  });
  if (panel.node.querySelectorAll('details[open]').length) shown.push('an answer <details> is open');
  // a collapsed input shows its first line (a comment saying what is hidden), never the rest
  const visible = panel.node.innerText;
  panel.content.widgets.forEach((cell, i) => {
    const hidden = cell.model.getMetadata('jupyter') || {};
    if (!hidden.source_hidden) return;
    for (const line of cell.model.sharedModel.getSource().split('\\n').slice(1)) {
      if (line.trim().length > 8 && visible.includes(line.trim())) shown.push(`cell ${i} shows: ${line.trim()}`);
    }
  });
  return shown;
}"""

LESSONS = [lesson.notebook for lesson in syllabus.LESSONS]


@pytest.fixture
def lesson_page(browser: Any, lab_server: LabServer, artifacts_dir: Path) -> Iterator[Any]:
    """A browser context 1280 px wide (the width the learner walk used); kernels shut down afterwards."""
    context = browser.new_context(viewport={"width": 1280, "height": 1600})  # a dashboard fits whole
    page = context.new_page()
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()
        lab_server.end_sessions()


def test_the_labs_kernel_is_this_python(lab_server: LabServer) -> None:
    """The lessons run in the environment under test: the server's kernel is this Python (a
    ``jupyter-lab`` found on PATH would bring another environment's kernel and package)."""
    argv = kernel_command(lab_server)
    assert Path(argv[0]).resolve() == Path(sys.executable).resolve() and "ipykernel_launcher" in argv, argv


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_runs_in_the_browser_with_its_answers_hidden(lesson_page: Any, lab_server: LabServer,
                                                                  lesson: str, artifacts_dir: Path) -> None:
    """Each lesson opened, run top to bottom, checked for errors and for answers in sight, and kept
    as screenshots (the page at the top, and the first dashboard) in artifacts/browser/lessons/."""
    shots = artifacts_dir / "lessons"
    shots.mkdir(exist_ok=True)
    stem = Path(lesson).stem
    try:
        panel, _ = open_notebook(lesson_page, lab_server, lesson)
        shown = lesson_page.evaluate(JS_ANSWERS_SHOWN, lesson)
        assert not shown, f"{lesson} shows answers before the learner asks: {shown}"
        run_all_cells(lesson_page, lesson)
        problems = lesson_page.evaluate(JS_CELL_PROBLEMS, lesson)
        assert not problems, f"{lesson}: cells failed:\n" + "\n".join(problems)
        shown = lesson_page.evaluate(JS_ANSWERS_SHOWN, lesson)
        assert not shown, f"{lesson} shows answers after running: {shown}"
        lesson_page.evaluate(f"() => document.getElementById('{panel.get_attribute('id')}')"
                             ".querySelector('.jp-WindowedPanel-outer, .jp-Notebook').scrollTo(0, 0)")
        lesson_page.screenshot(path=str(shots / f"{stem}-top.png"))
        dashboards = panel.locator(".jp-Cell").filter(has=lesson_page.locator(".jp-OutputArea .widget-vbox img"))
        if dashboards.count():
            screenshot_dashboard(dashboards.first, shots / f"{stem}-dashboard.png")
    except BaseException:
        lesson_page.screenshot(path=str(shots / f"{stem}-failure.png"))
        raise
