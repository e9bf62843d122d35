"""The kernel model: a deterministic discrete-event simulation of Linux TCP connection
establishment, per kernel version. Knows nothing of plots or widgets."""

from .kernels import ERAS
from .profiles import SETTINGS, VERSIONS, Kernel, sysctls
from .releases import ProfileMatch, match_release
from .result import ClientRecord, Packet, Result, SsListener, TraceEvent
from .rules import Schedule, accept_capacity, data_schedule, syn_queue_capacity, syn_schedule, synack_schedule
from .scenario import Scenario
from .simulation import simulate

__all__ = [
    "ERAS",
    "SETTINGS",
    "VERSIONS",
    "ClientRecord",
    "Kernel",
    "Packet",
    "ProfileMatch",
    "Result",
    "Scenario",
    "Schedule",
    "SsListener",
    "TraceEvent",
    "accept_capacity",
    "data_schedule",
    "match_release",
    "simulate",
    "syn_queue_capacity",
    "syn_schedule",
    "synack_schedule",
    "sysctls",
]
