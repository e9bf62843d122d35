"""Which optional packages each part of handshake-course needs, and a clear error when one is missing.

The model, ``handshake-course simulate`` and the learners' ``check()`` need the standard library
only, so ``pip install handshake-course`` installs anywhere (Pyodide included). The other parts
need the packages of one extra (pyproject.toml, ``[project.optional-dependencies]``):

* ``dashboards``: the figures (``views``) and the lessons' dashboards, and tqdm, the progress bars
  of long command-line runs (``handshake_course.shell``; without it they run with no bar);
* ``course``: ``handshake-course lab``, which starts JupyterLab with a kernel of the same Python
  (and ``dashboards`` and ``capture``: lesson 12 reads captures);
* ``grade``: ``handshake-course grade``, which runs submitted notebooks with nbclient (and ``capture``:
  ex10 writes a capture and reads it);
* ``nbgrader``: ``handshake-course release`` (nbgrader's checksums in the learners' notebooks).
* ``capture``: pcap files (``handshake_course.capture``: ``Result.to_pcap``, ``simulate --pcap``,
  ``capture.read``), read and written with dpkt.

Each part calls ``require`` before it imports them, so a missing package is reported as the extra
to install, for the Python that needs it, not as a bare ModuleNotFoundError deep in an import.
"""

from __future__ import annotations

import importlib.util
import sys

#: extra -> the modules it provides that the package imports (tests/test_packaging.py checks that
#: pyproject.toml's extra installs each of them)
MODULES: dict[str, tuple[str, ...]] = {
    "dashboards": ("matplotlib", "numpy", "networkx", "ipywidgets", "PIL", "tqdm"),
    "course": ("jupyterlab", "ipykernel"),
    "grade": ("nbformat", "nbclient", "jupyter_client", "zmq", "ipykernel"),
    "nbgrader": ("nbgrader",),
    "capture": ("dpkt",),
}

#: extras that install others too (pyproject.toml: "handshake-course[...]" in the extra): the course
#: reads captures (lesson 12), and grading runs ex10, which writes and reads one
INCLUDES: dict[str, tuple[str, ...]] = {"course": ("dashboards", "capture"), "grade": ("capture",),
                                        "nbgrader": ("grade",)}


class MissingExtra(ImportError):
    """A part of the package was used without the optional packages it needs."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that this Python cannot import."""
    return [name for name in MODULES[extra] if importlib.util.find_spec(name) is None]


def included(extra: str) -> list[str]:
    """The extras that ``extra`` installs too, directly or through another one."""
    found: list[str] = []
    for sub in INCLUDES.get(extra, ()):
        found += [e for e in (sub, *included(sub)) if e not in found]
    return found


def require(extra: str, part: str) -> None:
    """Raise MissingExtra, naming the command that installs them, if ``part`` (what the learner
    asked for) lacks any of the packages of ``extra``."""
    absent = list(dict.fromkeys(name for e in (*included(extra), extra) for name in missing(e)))
    if absent:
        raise MissingExtra(f"{part} needs {', '.join(absent)}, not installed for this Python; install them with: "
                           f"{install_command(extra)}")


def install_command(extra: str) -> str:
    """How to install an extra for the Python running now: in JupyterLite (Pyodide) the ``%pip``
    magic, which installs into the running kernel; elsewhere this interpreter's pip."""
    if sys.platform == "emscripten":
        return f"%pip install 'handshake-course[{extra}]'"
    return f"{sys.executable} -m pip install 'handshake-course[{extra}]'"
