"""Slider latency in a real browser: from a learner's slider release to the dashboard's new picture.

A benchmark, run by hand (not a test, not collected by pytest):

    python benchmarks/bench_browser.py [--lessons 00_start_here,05_accept] [--positions 7] [--json [FILE]]

It starts JupyterLab on 127.0.0.1 (tests/browser/labserver.py: free port, random token, a HOME of its
own, a temp copy of notebooks/) and Debian's headless Chromium under playwright, then for each lesson:
opens the notebook, runs all cells (as a learner does), and for every slider of every dashboard drags
the slider's handle with the mouse to K positions spread over its track (``--positions``, default 7,
the first at the minimum and the last at the maximum; a log slider is spread over its exponent, as on
screen). One drag before them, to a position between the first two, is a warm-up and not counted;
after the sweep the slider's readout is typed back to the value it had (not counted either).

What is timed, in the page, on one clock (``performance.now()``): from the ``pointerup`` that ends the
drag (a capture listener on window, before noUiSlider sees it; the sliders are
``continuous_update=False``, so the release is what sends the new value to the kernel) to the ``load``
event of the dashboard's Image widget once a MutationObserver has seen its ``src`` change: the new PNG
decoded in the page. The kernel's re-simulation and redraw, the comm round trip and the front end's
work are all in it. A drag that leaves the value as it was is not counted; one whose new value brings
no new picture (a message instead, or the same PNG) is counted apart, as "no picture".

Target: 300 ms from release to picture; each row's median and worst are marked against it (the exit
status is 1 when a median is over it). Lesson 10 (check your kernel) measures the running kernel on
each change and waits for it: left out unless named in ``--lessons``, its rows are marked "live".
Timings depend on the machine and its load: the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handshake_course.course import syllabus  # noqa: E402
from tests.browser.conftest import CHROMIUM_ARGS, find_chromium  # noqa: E402
from tests.browser.labserver import (  # noqa: E402
    free_port,
    install_overrides,
    isolated_env,
    lab_argv,
    new_token,
    start_lab,
    warm_matplotlib,
)
from tests.browser.test_dashboard_in_chromium import (  # noqa: E402
    JS_CELL_PROBLEMS,
    PANEL,
    open_notebook,
    run_all_cells,
)

TARGET_MS = 300.0
LIVE = "10_check_your_kernel"  # measures the running kernel on each change: only when asked for
LESSONS = [Path(lesson.notebook).stem for lesson in syllabus.LESSONS]
LOAD_TIMEOUT_MS = 180_000  # Lab's first page load in a new profile, on a shared 2-core machine
SERVER_START_TIMEOUT_S = 240.0
STEP_TIMEOUT_MS = 60_000  # any other wait once the notebook ran
MOVE_HANG_GUARD_MS = 30_000  # one slider move to its picture (a hang guard, not the target)
NO_PICTURE_GRACE_MS = 1500  # after the kernel went idle with no new picture: the value brought none

# ---- JavaScript run in the page --------------------------------------------------------------------

JS_TAG_SLIDERS = """(path) => {
  """ + PANEL + """
  const panel = panelFor(path);
  const sliders = [];
  const dashboards = Array.from(panel.node.querySelectorAll('.jp-OutputArea-output')).filter(
      o => o.querySelector('img.widget-image') && o.querySelector('.widget-slider'));
  dashboards.forEach((o, d) => {
    o.dataset.hbDash = String(d);
    o.querySelectorAll('.widget-slider').forEach((s, i) => {
      s.dataset.hbSlider = `${d}-${i}`;
      const label = s.querySelector('.widget-label');
      sliders.push({dashboard: d, id: `${d}-${i}`, label: label ? label.textContent.trim() : `slider ${i}`,
                    disabled: !!s.querySelector('.noUi-target[disabled]')});
    });
  });
  return sliders;
}"""

JS_INSTALL = """(path) => {
  """ + PANEL + """
  const panel = panelFor(path);
  const hb = window.__hb = {armed: false};
  const now = () => performance.now();
  const stamp = (e) => { if (hb.armed && hb.inputAt === null) { hb.inputAt = now(); hb.input = e.type; } };
  window.addEventListener('pointerup', stamp, true);
  window.addEventListener('keydown', stamp, true);
  panel.sessionContext.statusChanged.connect((_, status) => {
    if (!hb.armed || hb.inputAt === null) return;
    if (status === 'busy' && hb.busyAt === null) hb.busyAt = now();
    if (status === 'idle' && hb.busyAt !== null) hb.idleAt = now();
  });
  for (const o of panel.node.querySelectorAll('[data-hb-dash]')) {
    const img = o.querySelector('img.widget-image');
    const mine = () => hb.armed && hb.dash === o.dataset.hbDash && hb.inputAt !== null;
    new MutationObserver(() => { if (mine() && hb.srcAt === null) hb.srcAt = now(); })
        .observe(img, {attributes: true, attributeFilter: ['src']});
    img.addEventListener('load', () => { if (mine() && hb.srcAt !== null && hb.loadAt === null) hb.loadAt = now(); });
  }
  return true;
}"""

JS_ARM = """(dash) => Object.assign(window.__hb, {armed: true, dash: String(dash), input: null, inputAt: null,
    srcAt: null, loadAt: null, busyAt: null, idleAt: null})"""

JS_SETTLED = """(grace) => { const hb = window.__hb;
  return hb.loadAt !== null || (hb.idleAt !== null && performance.now() - hb.idleAt > grace); }"""

JS_DISARM = """() => { const hb = window.__hb; hb.armed = false; return {...hb}; }"""

JS_KERNEL_IDLE = """(path) => {
  """ + PANEL + """
  const kernel = panelFor(path).sessionContext.session.kernel;
  return kernel && kernel.status === 'idle';
}"""

JS_MESSAGE = """(dash) => {
  const o = document.querySelector(`[data-hb-dash='${dash}']`);
  const el = Array.from(o.querySelectorAll('.widget-html')).find(e => e.textContent.includes('\\u26a0'));
  return el ? el.textContent.trim().slice(0, 160) : '';
}"""


# ---- one lesson --------------------------------------------------------------------------------------

@dataclass
class Move:
    """One drag of a slider and what it brought."""

    fraction: float
    before: str
    after: str
    outcome: str  # "picture", "no picture", "unchanged" (value as it was), "timeout"
    ms_to_src: float | None = None
    ms_to_picture: float | None = None
    message: str = ""


@dataclass
class Row:
    lesson: str
    slider: str
    note: str = ""
    moves: list[Move] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return [m.ms_to_picture for m in self.moves[1:] if m.ms_to_picture is not None]

    def summary(self) -> dict[str, Any]:
        t = self.times
        counted = [m for m in self.moves[1:] if m.outcome != "unchanged"]
        return {"lesson": self.lesson, "slider": self.slider, "note": self.note,
                "positions": len(counted), "values": [m.after for m in self.moves[1:]],
                "median_ms": round(statistics.median(t), 1) if t else None,
                "worst_ms": round(max(t), 1) if t else None,
                "no_picture": sum(m.outcome in ("no picture", "timeout") for m in counted),
                "moves": [asdict(m) for m in self.moves]}


def readout(slider: Any) -> str:
    return slider.locator(".widget-readout").first.text_content().strip()


def settle(page: Any, dash: int, path: str) -> dict[str, Any]:
    """Wait (bounded) for the new picture or for the kernel to have gone idle without one."""
    try:
        page.wait_for_function(JS_SETTLED, arg=NO_PICTURE_GRACE_MS, polling=50, timeout=MOVE_HANG_GUARD_MS)
    finally:
        hb = page.evaluate(JS_DISARM)
    page.wait_for_function(JS_KERNEL_IDLE, arg=path, timeout=STEP_TIMEOUT_MS)
    return hb


def drag_to(page: Any, path: str, slider: Any, dash: int, fraction: float) -> Move:
    """Drag the slider's handle to ``fraction`` of its track (past the ends for 0 and 1), time it."""
    stop_requested()
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    track, box = slider.locator(".noUi-target").first.bounding_box(), handle.bounding_box()
    x0, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    x = track["x"] - 30 if fraction <= 0 else track["x"] + track["width"] + 30 if fraction >= 1 else \
        track["x"] + fraction * track["width"]
    before, value_before = readout(slider), handle.get_attribute("aria-valuenow")
    page.wait_for_function(JS_KERNEL_IDLE, arg=path, timeout=STEP_TIMEOUT_MS)
    page.evaluate(JS_ARM, dash)
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move(x, y, steps=6)
    page.mouse.up()
    move = Move(round(fraction, 3), before, readout(slider), "unchanged")
    if handle.get_attribute("aria-valuenow") == value_before:
        page.evaluate(JS_DISARM)
        return move
    try:
        hb = settle(page, dash, path)
    except Exception as err:  # playwright's TimeoutError: recorded, the next slider still runs
        move.outcome, move.message = "timeout", str(err).splitlines()[0]
        return move
    if hb["loadAt"] is not None:
        move.outcome = "picture"
        move.ms_to_src = round(hb["srcAt"] - hb["inputAt"], 1)
        move.ms_to_picture = round(hb["loadAt"] - hb["inputAt"], 1)
    else:
        move.outcome, move.message = "no picture", page.evaluate(JS_MESSAGE, dash)
    return move


def type_back(page: Any, path: str, slider: Any, dash: int, text: str) -> None:
    """Put the slider back to the value it had: type it into the readout and press Enter."""
    if readout(slider) == text:
        return
    box = slider.locator(".widget-readout").first
    box.click()
    box.evaluate("(el, text) => { el.textContent = text; }", text.replace(",", ""))
    page.evaluate(JS_ARM, dash)
    page.keyboard.press("Enter")
    try:
        settle(page, dash, path)
    except Exception as err:
        print(f"  could not type {text!r} back: {str(err).splitlines()[0]}", file=sys.stderr)
    if readout(slider) != text:
        print(f"  typed {text!r} back, the slider shows {readout(slider)!r}", file=sys.stderr)


def bench_lesson(browser: Any, server: Any, lesson: str, positions: int) -> list[Row]:
    """Open and run one lesson in a fresh browser context, sweep each slider of its dashboards."""
    path = f"{lesson}.ipynb"
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    try:
        page = context.new_page()
        page.set_default_timeout(LOAD_TIMEOUT_MS)
        _, opened = open_notebook(page, server, path)
        ran = run_all_cells(page, path)
        print(f"{lesson}: opened in {opened:.1f} s, ran all cells in {ran:.1f} s", file=sys.stderr)
        problems = page.evaluate(JS_CELL_PROBLEMS, path)
        page.set_default_timeout(STEP_TIMEOUT_MS)
        if problems:
            return [Row(lesson, "-", "cells failed: " + "; ".join(problems)[:200])]
        sliders = page.evaluate(JS_TAG_SLIDERS, path)
        if not sliders:
            return [Row(lesson, "-", "no slider in its dashboard")]
        page.evaluate(JS_INSTALL, path)
        rows = []
        fractions = [0.5 / (positions - 1)] + [i / (positions - 1) for i in range(positions)]
        for s in sliders:
            name = s["label"] if s["dashboard"] == 0 else f"(dashboard {s['dashboard'] + 1}) {s['label']}"
            row = Row(lesson, name, "live" if lesson == LIVE else "")
            rows.append(row)
            if s["disabled"]:
                row.note = "disabled after run-all"
                continue
            slider = page.locator(f"[data-hb-slider='{s['id']}']")
            start = readout(slider)
            for fraction in fractions:
                row.moves.append(drag_to(page, path, slider, s["dashboard"], fraction))
            type_back(page, path, slider, s["dashboard"], start)
            print(f"  {s['label']}: {[m.ms_to_picture for m in row.moves]}", file=sys.stderr)
        return rows
    finally:
        context.close()
        server.end_sessions()  # the lesson's kernel: CPU is shared


# ---- the run -----------------------------------------------------------------------------------------

STOPPED: list[int] = []  # the signal that asked to stop (Ctrl-C, SIGTERM)


def _stop(signum: int, _frame: Any) -> None:
    STOPPED.append(signum)
    raise KeyboardInterrupt


def stop_requested() -> None:
    """Raise KeyboardInterrupt if a signal asked to stop: on Ctrl-C, playwright's driver closes the
    browser too, and the KeyboardInterrupt may reach us as a playwright error instead."""
    if STOPPED:
        raise KeyboardInterrupt


def run(lessons: list[str], positions: int) -> list[Row]:
    """Start Lab and Chromium, bench each lesson, and stop both whatever happens."""
    from playwright.sync_api import sync_playwright

    chromium_path = find_chromium()
    if chromium_path is None:
        raise SystemExit("no Chromium at /usr/bin/chromium or on PATH")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        home, root = Path(tmp) / "home", Path(tmp) / "root"
        shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        env = isolated_env(home)
        settings = home / "lab-settings"
        install_overrides(settings)
        warm_matplotlib(sys.executable, env)
        port, token = free_port(), new_token()
        argv = lab_argv(sys.executable, port=port, token=token, root_dir=root, settings_dir=settings)
        server = start_lab(argv, env=env, cwd=root, log_path=home / "jupyter-lab.log", port=port, token=token)
        manager = None
        try:
            server.wait_ready(SERVER_START_TIMEOUT_S)
            manager = sync_playwright().start()
            browser = manager.chromium.launch(executable_path=chromium_path, headless=True,
                                              args=CHROMIUM_ARGS, timeout=120_000)
            print(f"Lab on port {port}, Chromium {browser.version}", file=sys.stderr)
            for lesson in lessons:
                try:
                    rows += bench_lesson(browser, server, lesson, positions)
                except KeyboardInterrupt:
                    raise
                except Exception as err:  # one lesson's failure is a row, the others still run
                    stop_requested()
                    rows.append(Row(lesson, "-", f"failed: {str(err).splitlines()[0][:200]}"))
                    print(server.log_tail(20), file=sys.stderr)
        finally:
            if manager is not None:
                try:
                    manager.stop()  # closes the browser; after Ctrl-C playwright has closed it already
                except Exception as err:
                    print(f"stopping playwright: {err}", file=sys.stderr)
            server.stop()
    return rows


def mark(median: float | None, worst: float | None) -> str:
    if median is None:
        return ""
    return f"MEDIAN > {TARGET_MS:.0f}" if median > TARGET_MS else \
        f"worst > {TARGET_MS:.0f}" if worst is not None and worst > TARGET_MS else "ok"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", help="comma-separated notebook stems (default: all but lesson 10)")
    parser.add_argument("--positions", type=int, default=7, help="positions per slider, min and max included")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write the rows as JSON to FILE (no FILE: print them instead of the table)")
    args = parser.parse_args()
    lessons = args.lessons.split(",") if args.lessons else [name for name in LESSONS if name != LIVE]
    unknown = sorted(set(lessons) - set(LESSONS))
    if unknown or args.positions < 2:
        parser.error(f"unknown lessons {unknown} (known: {', '.join(LESSONS)})" if unknown else "--positions >= 2")
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        rows = [row.summary() for row in run(lessons, args.positions)]
    except KeyboardInterrupt:
        print("interrupted: Lab and Chromium stopped", file=sys.stderr)
        return 130
    if args.json:
        text = json.dumps(rows, indent=1)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    if args.json != "-":
        print(f"release -> new picture in Chromium, target {TARGET_MS:.0f} ms; {os.cpu_count()} cores, load "
              f"average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
              f"{time.perf_counter() - started:.0f} s in all")
        print(f"{'lesson':20} {'slider':42} {'positions':>22} {'median':>8} {'worst':>8}  target")
        for r in rows:
            values = f"{r['positions']}: {r['values'][0]} .. {r['values'][-1]}" if r["values"] else ""
            ms = [f"{r[k]:6.0f}ms" if r[k] is not None else f"{'-':>8}" for k in ("median_ms", "worst_ms")]
            extra = "; ".join(filter(None, [r["note"], f"{r['no_picture']} without a new picture"
                                            if r["no_picture"] else ""]))
            print(f"{r['lesson']:20} {r['slider'][:42]:42} {values:>22} {ms[0]} {ms[1]}  "
                  f"{mark(r['median_ms'], r['worst_ms'])}{'  (' + extra + ')' if extra else ''}")
    return 1 if any(r["median_ms"] is not None and r["median_ms"] > TARGET_MS for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
