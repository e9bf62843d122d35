"""Measure: from ``handshake-course lab`` to the first lesson rendered in Chromium, cold and warm.

Not a test (a benchmark, no target): run it by hand,

    python3 tests/browser/measure_launch.py [--command PATH/TO/handshake-course] [--runs 3]

Each run starts the real command from the checkout with ``--no-browser`` on 127.0.0.1 (port and
token from a jupyter_server_config.json in the run's HOME), waits for /api/status, then has an
already running headless Chromium (one profile for all runs) open lab/tree/notebooks/00_start_here.ipynb and waits until the
lesson's first heading is rendered and its kernel is idle. Run 1 has a brand-new HOME (no Jupyter
dirs, no matplotlib font cache, no Lab workspace, an empty browser cache): "cold". Later runs reuse that HOME, the port and the
browser profile: "warm".
The OS page cache is not dropped, so "cold" is a new user on a machine that has run Python before.
Prints one JSON object per run and writes them to artifacts/browser/launch-timings.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from browser.conftest import CHROMIUM_ARGS, find_chromium  # noqa: E402
from browser.labserver import (  # noqa: E402
    REPO,
    free_port,
    isolated_env,
    new_token,
    server_config,
    start_lab,
)

FIRST_LESSON = "notebooks/00_start_here.ipynb"
OUT = REPO / "artifacts" / "browser" / "launch-timings.json"


def one_launch(command: Path, home: Path, context: Any, port: int, label: str) -> dict[str, Any]:
    """Start the command, render the first lesson, stop; the times in seconds from the start."""
    env = isolated_env(home)
    token = new_token()
    (Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.json").write_text(
        json.dumps(server_config(port, token)))
    server = start_lab([str(command), "lab", "--no-browser"], env=env, cwd=REPO,
                       log_path=home / f"lab-{label}.log", port=port, token=token)
    page = context.new_page()
    try:
        status = server.wait_ready(300)
        page.set_default_timeout(300_000)
        page.goto(server.url(f"lab/tree/{FIRST_LESSON}"), wait_until="domcontentloaded")
        page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownOutput h1")
        rendered = time.perf_counter() - server.started_at
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        kernel_idle = time.perf_counter() - server.started_at
        page.screenshot(path=str(OUT.with_name(f"launch-{label}.png")))
    finally:
        page.close()
        server.stop()
    return {"run": label, "api_status_s": round(status, 2), "lesson_rendered_s": round(rendered, 2),
            "kernel_idle_s": round(kernel_idle, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(sys.executable).parent / "handshake-course"
    parser.add_argument("--command", type=Path, default=default, help=f"the console script (default {default})")
    parser.add_argument("--runs", type=int, default=3, help="1 cold run, then warm runs (default 3)")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium at /usr/bin/chromium or on PATH")
    from playwright.sync_api import sync_playwright

    OUT.parent.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="hc-launch-"))
    results = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            port = free_port()  # one origin for every run, so warm runs may use the browser's cache
            for i in range(args.runs):
                result = one_launch(args.command, home, context, port, "cold" if i == 0 else f"warm{i}")
                print(json.dumps(result), flush=True)
                results.append(result)
            browser.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    OUT.write_text(json.dumps({"command": str(args.command), "runs": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
