"""Measure the running Linux kernel's handshake, to hold the model to it.

Importable everywhere; every experiment raises ``LabUnavailable`` with the reason where it cannot
run (not Linux; for the privileged ones also not root or no network namespaces).

For lessons (any Linux user, e.g. on Binder)::

    from handshake_course import lab, simulate
    rec = lab.loopback_accept_capacity(8)        # {"result": {"connected": 9, "recv_q": 9, ...}}
    rec = lab.loopback_herd(backlog=2, waiters=4)
    model = simulate(lab.scenario_for(rec))      # the model's prediction for the same run

Where it cannot measure, a lesson uses the measurements stored with the package instead::

    rec = lab.measure_accept_capacity(8)         # live, or the stored record if this is not Linux
    rec["source"]                                # "live: Linux <release>" / "stored: Linux 6.18.44-..."
    rec = lab.measure_herd()
    lab.stored("loopback_herd"), lab.stored_names()
    lab.stored_pcap("herd")                      # the packets of a stored record: capture.read() it

Modules: ``host`` (what this machine can do), ``netns`` (namespace pairs), ``nft`` (drop rules),
``capture`` (packet capture), ``procnet`` (counters, /proc/net/tcp, ss), ``sockets`` (the
applications), ``rawtcp`` (a hand-driven client), ``bench`` (one experiment's apparatus),
``loopback`` and ``experiments`` (the measurements), ``timing`` (timer-wheel tolerances and
lateness), ``compare`` (model versus measurement), ``record`` (writes the stored measurements),
``pcapfile`` (writes a capture as a pcap file), ``store`` (reads them: ``measurements/*.json``
and the ``*.pcap`` beside them), ``measure`` (live, else stored).
"""

from .compare import Check, checks, scenario_for
from .host import LabUnavailable, privileged_reason
from .loopback import loopback_accept_capacity, loopback_herd
from .measure import is_live, measure_accept_capacity, measure_herd
from .store import stored, stored_names, stored_pcap, stored_records, stored_release

__all__ = [
    "Check",
    "LabUnavailable",
    "checks",
    "is_live",
    "loopback_accept_capacity",
    "loopback_herd",
    "measure_accept_capacity",
    "measure_herd",
    "privileged_reason",
    "scenario_for",
    "stored",
    "stored_names",
    "stored_pcap",
    "stored_records",
    "stored_release",
]
