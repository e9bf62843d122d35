"""handshake-course: how the Linux kernel really performs TCP's three-way handshake.

The public API is small::

    from handshake_course import Kernel, Scenario, simulate
    result = simulate(Scenario(kernel=Kernel("6.18", tcp_syncookies=0), backlog=8, clients=20))

plus the closed forms ``accept_capacity``, ``syn_queue_capacity``, ``syn_schedule``,
``synack_schedule`` and ``data_schedule``. Everything in ``handshake_course.model`` is free of plotting and widgets;
``views`` draws results, ``dashboards`` wires them to sliders, ``grader`` scores exercises.
"""

from .model import (
    ERAS,
    VERSIONS,
    ClientRecord,
    Kernel,
    Packet,
    ProfileMatch,
    Result,
    Scenario,
    Schedule,
    TraceEvent,
    accept_capacity,
    data_schedule,
    match_release,
    simulate,
    syn_queue_capacity,
    syn_schedule,
    synack_schedule,
)

__version__ = "0.1.0"

_SUBPACKAGES = ("views", "dashboards", "grader", "lab")


def __getattr__(name: str):
    """``hc.views``, ``hc.dashboards``... imported on first use, so that importing the model stays
    light (no matplotlib, no widgets)."""
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "ERAS",
    "VERSIONS",
    "ClientRecord",
    "Kernel",
    "Packet",
    "ProfileMatch",
    "Result",
    "Scenario",
    "Schedule",
    "TraceEvent",
    "accept_capacity",
    "data_schedule",
    "match_release",
    "simulate",
    "syn_queue_capacity",
    "syn_schedule",
    "synack_schedule",
]
