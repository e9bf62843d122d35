"""Run a notebook's code cells in a fresh kernel of the current Python, under time limits.

* **Kernel.** ipykernel started with ``sys.executable`` (what ``pytest --nbval-current-env`` does).
  With a ``Sandbox`` it runs inside it (see ``sandbox``), talking to the grader over Unix sockets;
  without one, as the grader's own user in a working folder the caller chooses, with IPython's
  profile folder redirected there so that no startup file of the machine's user runs. Its stdout
  and stderr are discarded.
* **Errors.** A cell that raises is recorded and execution goes on, as nbgrader's autograde does, so
  one broken cell does not cost the answers of the others.
* **Time.** Each cell has a time limit, and the learner's cells together have a budget. A cell that
  runs past its limit is interrupted (KeyboardInterrupt). If the kernel still does not answer, or
  if it dies (``os._exit``, a crash), a new kernel is started and the cells that ran before are run
  again, without the culprit; this happens at most ``Limits.restarts`` times.
* **Output.** At most ``Limits.output`` characters of output are kept per cell, and no message
  from the kernel larger than ``MAX_MESSAGE`` bytes is received at all (ZeroMQ drops it), so
  whatever a notebook prints, the grader's memory stays bounded.

The runner knows nothing of exercises or answers: ``autograde`` decides what to run and reads
nothing but the files its own probe cells write.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode

from .limits import Limits
from .sandbox import Sandbox, SandboxProvisioner

KERNEL_NAME = "handshake-grader-current-python"
RECONNECT_SECONDS = 5  # for an interrupted kernel to answer again
MAX_MESSAGE = 16 * 1024 * 1024  # bytes: ZeroMQ drops any larger message from the kernel
GRADER_OUTPUT = 4_000_000  # characters of output kept from a grader cell (the probe's answer)
QUIET = logging.getLogger("handshake_course.grader.kernel")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False  # nbclient logs every time-out as an error; the grade report says it instead


@dataclass
class CellRun:
    """What happened to one code cell (``index`` counts all cells of the notebook)."""

    index: int
    status: str  # "ok", "error", "timeout", "died", "skipped", "not run"
    error: str = ""


@dataclass
class Execution:
    """The learner's cells as run, and what the runner had to do about them."""

    cells: dict[int, CellRun] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class _CurrentPython(KernelSpecManager):
    """Every kernel name means: ipykernel on the Python that runs the grader. A sandboxed kernel is
    interrupted by a message (no signal reaches into the sandbox's own session)."""

    interrupt_by_message = False

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                          display_name="Python (grader)", language="python", resource_dir="",
                          interrupt_mode="message" if self.interrupt_by_message else "signal")


class _Manager(AsyncKernelManager):
    """A kernel manager whose clients receive no message larger than MAX_MESSAGE."""

    def client(self, **kwargs: Any) -> AsyncKernelClient:
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        self.client_contexts.append(context)
        return super().client(context=context, **kwargs)

    @property
    def client_contexts(self) -> list[zmq.asyncio.Context]:
        if not hasattr(self, "_client_contexts"):
            self._client_contexts: list[zmq.asyncio.Context] = []
        return self._client_contexts


class _Client(NotebookClient):
    """nbclient with the kernel above (sandboxed or not) and a cap on the output kept per cell."""

    max_chars = 100_000

    def __init__(self, nb: NotebookNode, sandbox: Sandbox | None = None, notebook_copy: Path | None = None,
                 **kw: Any) -> None:
        super().__init__(nb, **kw)
        self._used: dict[int, int] = {}
        self.caps: dict[int, int] = {}  # cells with a cap of their own (the grader's)
        self.sandbox, self.notebook_copy = sandbox, notebook_copy

    def create_kernel_manager(self) -> AsyncKernelManager:
        specs = _CurrentPython()
        if self.sandbox is None:
            self.km = _Manager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
            return self.km
        specs.interrupt_by_message = True
        host = self.sandbox.host_dir
        host.mkdir(parents=True, exist_ok=True)
        self.km = _Manager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs, transport="ipc",
                           ip=str(host / "k"), connection_file=str(host / "connection.json"))
        provisioner = SandboxProvisioner(kernel_id=str(uuid.uuid4()), kernel_spec=self.km.kernel_spec, parent=self.km)
        provisioner.sandbox, provisioner.notebook = self.sandbox, self.notebook_copy
        self.km.provisioner = provisioner
        return self.km

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        used, cap = self._used.get(cell_index, 0), self.caps.get(cell_index, self.max_chars)
        size = len(json.dumps(msg.get("content", {}), default=str))
        self._used[cell_index] = used + size
        if used + size > cap:
            if used <= cap:
                outs.append(nbformat.v4.new_output("stream", name="stderr", text="[grader: output cut here]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)


def error_text(cell: NotebookNode) -> str:
    """'ZeroDivisionError: division by zero' for a cell whose outputs hold an error."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip().rstrip(":")[:300]
    return ""


class Runner:
    """One notebook in one (or, after a hang or a crash, a fresh) kernel. Use as a context manager.
    ``sandboxed``: each kernel runs in a sandbox of its own (``sandbox.Sandbox``), with
    ``notebook_copy`` (a file in ``workdir``) as the notebook's own copy inside it."""

    def __init__(self, nb: NotebookNode, workdir: Path, limits: Limits, prelude: str = "",
                 sandboxed: bool = False, notebook_copy: Path | None = None) -> None:
        self.nb, self.workdir, self.limits, self.prelude = nb, workdir, limits, prelude
        self.sandboxed, self.notebook_copy = sandboxed, notebook_copy
        self.client: _Client | None = None
        self.execution = Execution()
        self.starts = 0

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- kernels ------------------------------------------------------------------------------
    def start(self) -> None:
        self.stop()
        self.starts += 1
        sandbox = Sandbox(self.limits, self.workdir / f"kernel-{self.starts}") if self.sandboxed else None
        client = _Client(self.nb, sandbox, self.notebook_copy, timeout=int(self.limits.cell),
                         startup_timeout=int(self.limits.startup), allow_errors=True, interrupt_on_timeout=False,
                         shutdown_kernel="immediate", iopub_timeout=4, kernel_name=KERNEL_NAME, log=QUIET)
        client.max_chars = self.limits.output
        ipython_dir = self.workdir / ".ipython"
        ipython_dir.mkdir(exist_ok=True)
        env = {**os.environ, "IPYTHONDIR": str(ipython_dir), "MPLBACKEND": "Agg"}
        client.create_kernel_manager()
        client.start_new_kernel(cwd=str(self.workdir), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client.start_new_kernel_client()
        self.client = client
        if self.prelude:  # grader code that must run before the learner's
            self.execute(nbformat.v4.new_code_cell(self.prelude), None, self.limits.probe)

    def stop(self) -> None:
        if self.client is not None:
            try:
                self.client._cleanup_kernel()
            except Exception:  # the kernel may already be gone
                pass
            if isinstance(self.client.km, _Manager):
                for context in self.client.km.client_contexts:
                    context.destroy(linger=0)
            self.client = None

    def responsive(self, seconds: float = RECONNECT_SECONDS) -> bool:
        """Whether the kernel answers a trivial request within ``seconds``."""
        if self.client is None or self.client.kc is None:
            return False
        return self.execute(nbformat.v4.new_code_cell("pass"), None, seconds)[0] == "ok"

    def interrupt(self) -> None:
        """Interrupt the kernel, then talk to it over fresh channels: the abandoned wait for the
        timed-out cell would otherwise swallow the next cell's messages."""
        client = self.client
        assert client is not None and client.km is not None
        try:
            run_sync(client.km.interrupt_kernel)()
        except Exception:  # a kernel that does not answer fails the responsiveness test next
            pass
        self.reconnect()

    def reconnect(self) -> None:
        """Talk to the kernel over fresh channels (a channel that received a message over
        MAX_MESSAGE bytes is closed for good)."""
        client = self.client
        if client is None:
            return
        startup, client.startup_timeout = client.startup_timeout, RECONNECT_SECONDS
        try:
            if client.kc is not None:
                client.kc.stop_channels()
            client.kc = None
            client.start_new_kernel_client()
        except Exception:  # a kernel that does not answer fails the responsiveness test next
            pass
        finally:
            client.startup_timeout = startup

    # ---- cells ---------------------------------------------------------------------------------
    def execute(self, cell: NotebookNode, index: int | None, seconds: float) -> tuple[str, str]:
        """Run one cell: ("ok" | "error" | "timeout" | "died", error text). A grader cell
        (``index`` None) is appended to the notebook while it runs, since nbclient stores each
        executed cell back at its index; its output may be up to GRADER_OUTPUT characters."""
        assert self.client is not None
        nb = self.client.nb
        if index is None:
            nb.cells.append(cell)
        at = len(nb.cells) - 1 if index is None else index
        self.client.timeout = max(1, int(seconds + 0.999))
        self.client._used.pop(at, None)
        self.client.caps.pop(at, None)
        if index is None:
            self.client.caps[at] = GRADER_OUTPUT
        try:
            self.client.execute_cell(cell, at)
        except CellTimeoutError:
            return "timeout", f"stopped after the {self.client.timeout} s time limit"
        except DeadKernelError:
            return "died", "the kernel died"
        finally:
            if index is None:
                nb.cells.pop()
        text = error_text(cell)
        return ("error", text) if text else ("ok", "")

    def code_cells(self) -> list[int]:
        return [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code" and c.source.strip()]

    def run_cells(self) -> Execution:
        """Run every code cell of the learner's notebook, restarting the kernel when needed."""
        run, deadline = self.execution, time.monotonic() + self.limits.notebook
        bad: set[int] = set()
        for attempt in range(self.limits.restarts + 1):
            self.start()
            culprit = self.run_pass(run, bad, deadline)
            if culprit is None:
                return run
            bad.add(culprit)
            if attempt < self.limits.restarts and time.monotonic() < deadline:
                run.notes.append(f"cell {culprit + 1}: {run.cells[culprit].error}; started a new kernel and ran "
                                 "the cells before it again, without it")
        run.notes.append("gave up after restarting the kernel; answers could not be collected")
        self.stop()
        return run

    def run_pass(self, run: Execution, bad: set[int], deadline: float) -> int | None:
        """One pass over the cells; the index of a cell that hung or killed the kernel, else None."""
        for i in self.code_cells():
            if i in bad:
                run.cells[i] = CellRun(i, "skipped", run.cells[i].error)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                run.cells[i] = CellRun(i, "not run", "the notebook's time budget was used up")
                continue
            status, text = self.execute(self.nb.cells[i], i, min(self.limits.cell, left))
            run.cells[i] = CellRun(i, status, text)
            if status == "died":
                return i
            if status == "timeout":
                self.interrupt()
                if not self.responsive():
                    run.cells[i] = CellRun(i, "timeout", text + " and did not stop when interrupted")
                    return i
        return None

    def probe(self, source: str, seconds: float) -> tuple[str, str, list[NotebookNode]]:
        """Run a grader cell in the kernel, after the learner's cells: its status, error text and outputs."""
        if self.client is None:
            return "died", "no kernel", []
        cell = nbformat.v4.new_code_cell(source)
        status, text = self.execute(cell, None, seconds)
        if status == "timeout":
            self.interrupt()
            if not self.responsive():
                self.stop()
        elif status == "died":
            self.stop()
        return status, text, list(cell.get("outputs", []))
