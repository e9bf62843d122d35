"""Measure the running Linux kernel's handshake, to hold the model to it.

Importable everywhere; every experiment raises ``LabUnavailable`` with the reason where it cannot
run (not Linux; for the privileged ones also not root or no network namespaces).

For lessons (any Linux user, e.g. on Binder)::

    from handshake_course import lab, simulate
    rec = lab.loopback_accept_capacity(8)        # {"result": {"connected": 9, "recv_q": 9, ...}}
    rec = lab.loopback_herd(backlog=2, waiters=4)
    model = simulate(lab.scenario_for(rec))      # the model's prediction for the same run

Modules: ``host`` (what this machine can do), ``netns`` (namespace pairs), ``nft`` (drop rules),
``capture`` (packet capture), ``procnet`` (counters, /proc/net/tcp, ss), ``sockets`` (the
applications), ``rawtcp`` (a hand-driven client), ``bench`` (one experiment's apparatus),
``loopback`` and ``experiments`` (the measurements), ``timing`` (timer-wheel tolerances and
lateness), ``compare`` (model versus measurement), ``record`` (writes the fixtures).
"""

from .compare import Check, checks, scenario_for
from .host import LabUnavailable, privileged_reason
from .loopback import loopback_accept_capacity, loopback_herd

__all__ = [
    "Check",
    "LabUnavailable",
    "checks",
    "loopback_accept_capacity",
    "loopback_herd",
    "privileged_reason",
    "scenario_for",
]
