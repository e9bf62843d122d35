"""The apparatus of one privileged experiment, set up and torn down as one ``with`` block.

A Bench is a fresh namespace pair (with the experiment's sysctls), the sockets it will own, open
/proc/net views of both namespaces, nftables rules, an optional packet capture, and the counters as
they were at the start. ``record()`` turns what happened into the JSON-ready dict stored as a
fixture: kernel release, sysctls as the namespaces report them, rules, packets, counter deltas,
``ss`` lines, plus the experiment's own result, and (a ``Measurement``) the frames the capture saw,
which ``record.save`` writes as the pcap file beside the JSON.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import Any

from ..model import sysctls
from . import netns, nft
from .capture import Capture, Frames, Segment, segments_of
from .host import config_hz, kernel_release
from .procnet import ProcNet, delta, ss
from .sockets import PORT, Sockets

RECORDED_SYSCTLS = [*(s.proc for s in sysctls()), "net.ipv4.tcp_rto_max_ms"]
"""Every sysctl the model has (model.SETTINGS), and one it does not model but a record should show."""
COUNTER_PREFIXES = ("Tcp",)  # TcpX and TcpExtX; the Ip* counters only repeat packet counts


class Measurement(dict[str, Any]):
    """A record (the JSON-ready dict that is stored) that also carries ``frames``, what its capture
    saw (None without one), for ``record.save`` to write as a pcap file. It is a dict, so whatever
    reads records reads it unchanged; the frames never go into the JSON."""

    def __init__(self, record: Mapping[str, Any], frames: Frames | None = None) -> None:
        super().__init__(record)
        self.frames = frames


class Bench:
    """One experiment's namespace pair, sockets, rules, capture and counters."""

    def __init__(self, name: str, params: Mapping[str, Any], *,
                 server_sysctls: Mapping[str, object] | None = None,
                 client_sysctls: Mapping[str, object] | None = None,
                 client_addresses: int = 1, capture: str | None = "client") -> None:
        self.name, self.params = name, dict(params)
        self._server_sysctls, self._client_sysctls = server_sysctls, client_sysctls
        self._client_addresses = client_addresses
        self._capture_on = capture
        self._stack = ExitStack()
        self.rules: dict[str, str] = {}

    def __enter__(self) -> Bench:
        stack = self._stack
        try:
            self.pair = stack.enter_context(netns.pair(self._server_sysctls, self._client_sysctls,
                                                       self._client_addresses))
            self.sockets = stack.enter_context(Sockets())
            self.server = stack.enter_context(ProcNet(self.pair.server))
            self.client = stack.enter_context(ProcNet(self.pair.client))
            self.capture: Capture | None = None
            if self._capture_on is not None:
                ns, dev = ((self.pair.server, netns.SERVER_DEV) if self._capture_on == "server"
                           else (self.pair.client, netns.CLIENT_DEV))
                self.capture = stack.enter_context(Capture(ns, dev))
            self.before = {"server": self.server.counters(), "client": self.client.counters()}
        except BaseException:
            stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    # ---- apparatus ------------------------------------------------------------------------------
    @property
    def dst(self) -> tuple[str, int]:
        return (self.pair.server_ip, PORT)

    def rules_in(self, side: str, input_rules: Sequence[str] = (), output_rules: Sequence[str] = ()) -> None:
        """Load drop rules into the "server" or "client" namespace."""
        ns = self.pair.server if side == "server" else self.pair.client
        self.rules[side] = nft.apply(ns, input_rules, output_rules)

    def listen(self, backlog: int) -> socket.socket:
        return self.sockets.listener(self.pair.server, self.pair.server_ip, backlog)

    def connect(self, src: str | None = None, syncnt: int | None = None) -> socket.socket:
        return self.sockets.connect(self.pair.client, self.dst, src, syncnt)

    def counters(self) -> dict[str, dict[str, int]]:
        """Counter changes since the start, per namespace (Tcp* and TcpExt* only)."""
        now = {"server": self.server.counters(), "client": self.client.counters()}
        return {side: {k: v for k, v in delta(self.before[side], now[side]).items()
                       if k.startswith(COUNTER_PREFIXES)} for side in now}

    def settle(self, seconds: float = 0.02) -> None:
        """Give the capture thread time to read what the kernel just sent (a timer that fired in
        the same tick as the one we woke up for)."""
        time.sleep(seconds)

    def segments(self, where: Callable[[Segment], bool] | None = None) -> list[Segment]:
        """The captured segments (those matching `where`), including any the capture thread has
        not read yet (``Capture.flush``)."""
        if self.capture is None:
            return []
        self.capture.flush()
        return self.capture.segments(where)

    def ss_summary(self) -> dict[str, Any]:
        """The server's ``ss -tan``: the listener line and how many sockets are in each state."""
        lines = ss(self.pair.server, "-a")
        states = Counter(line.split()[0] for line in lines[1:] if line.split())
        listener = [line.split() for line in lines if line.startswith("LISTEN") and f":{PORT}" in line]
        return {"listener": " ".join(listener[0][:5]) if listener else None, "states": dict(sorted(states.items()))}

    def _captured(self, packets: Callable[[Segment], bool] | None) -> tuple[Frames | None, list[Segment]]:
        """What the capture saw until now, taken once: its frames (for the pcap file, None without
        one) and the segments among them that `packets` accepts, so the two agree exactly."""
        if self.capture is None:
            return None, []
        self.capture.flush()
        frames = self.capture.frames()
        if frames is None:
            return None, self.segments(packets)
        return frames, [s for s in segments_of(frames) if packets is None or packets(s)]

    # ---- the record -------------------------------------------------------------------------------
    def record(self, result: Mapping[str, Any], t0: float | None = None, *,
               packets: Callable[[Segment], bool] | None = None, keep_packets: bool = True) -> Measurement:
        """Everything the fixture keeps about this run. Packet times are seconds from `t0`.
        ``capture`` says where the capture (and so the pcap file) was taken; ``packets`` lists its
        segments unless `keep_packets` is false; the frames themselves ride along for the pcap."""
        frames, segs = self._captured(packets)
        if t0 is None:
            t0 = segs[0].time if segs else time.time()
        rec: dict[str, Any] = {
            "experiment": self.name,
            "kernel": kernel_release(),
            "hz": config_hz(),
            "params": self.params,
            "sysctls": self.pair.sysctls(RECORDED_SYSCTLS),
            "nft": self.rules,
            "counters": self.counters(),
            "ss": self.ss_summary(),
            "result": dict(result),
        }
        if self.capture is None:
            return Measurement(rec)
        rec["capture"] = "client veth" if self._capture_on == "client" else "server veth"
        if keep_packets:
            rec["packets"] = [s.to_json(t0) for s in segs]
        return Measurement(rec, frames)
