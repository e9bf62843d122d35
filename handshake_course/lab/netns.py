"""Two network namespaces joined by a veth pair: a private little network for one experiment.

Why namespaces: every experiment changes sysctls, adds packet-dropping rules and floods a listener.
Doing that in a pair of throw-away namespaces keeps the machine's own network untouched, gives each
experiment fresh counters and fresh TCP metrics, and lets several experiments run side by side.

Safety rules this module enforces:

* names are ``hsc-<pid>-<n>-s`` / ``-c``, so a crashed run's leftovers can be recognised and
  removed (``cleanup_stale``), and two test runs never collide;
* the veth is created directly inside the two namespaces (it never appears on the host), and
  its addresses are in 10.203.0.0/16, a private test subnet that exists only in these namespaces;
* ``pair()`` is a context manager: the namespaces (and with them the veth, the nftables rules and
  the per-namespace sysctls) are deleted on exit, also when the experiment raises, and at
  interpreter exit for anything still registered.

Sockets are made inside a namespace with ``inside(ns)``, which moves only the calling thread there
(setns(2)) for the duration of the block; a socket keeps the namespace it was created in.
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from .host import require_privileged

PREFIX = "hsc-"
SUBNET = "10.203"
SERVER_DEV, CLIENT_DEV = "hsc0", "hsc1"
CLONE_NEWNET = 0x40000000
COMMAND_TIMEOUT = 10.0

_counter = itertools.count()
_live: set[str] = set()
_live_lock = threading.Lock()
_libc = ctypes.CDLL(None, use_errno=True) if os.name == "posix" else None


class LabError(RuntimeError):
    """A command the lab ran failed."""


def run(args: list[str], *, input: str | None = None, timeout: float = COMMAND_TIMEOUT) -> str:
    """Run a command with a time limit and return its stdout; raise LabError with its stderr."""
    try:
        done = subprocess.run(args, input=input, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise LabError(f"{' '.join(args)}: no answer within {timeout} s") from err
    if done.returncode != 0:
        raise LabError(f"{' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def ns_run(ns: str, args: list[str], *, input: str | None = None, timeout: float = COMMAND_TIMEOUT) -> str:
    """Run a command inside namespace `ns` (``ip netns exec``)."""
    return run(["ip", "netns", "exec", ns, *args], input=input, timeout=timeout)


def _setns(fd: int) -> None:
    assert _libc is not None
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def inside(ns: str) -> Iterator[None]:
    """Run the block with the calling thread in network namespace `ns`.

    Only sockets should be made in the block: they stay in `ns` afterwards. Do not start processes
    or threads here.
    """
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(target)
    finally:
        os.close(home)


def set_sysctls(ns: str, values: Mapping[str, object]) -> None:
    """``sysctl -w`` each name=value inside `ns` (names like "net.ipv4.tcp_syn_retries")."""
    if values:
        ns_run(ns, ["sysctl", "-q", "-w", *(f"{k}={_sysctl_text(v)}" for k, v in values.items())])


def get_sysctls(ns: str, names: list[str]) -> dict[str, str]:
    """The values of sysctls inside `ns`, as sysctl prints them (tabs made single spaces)."""
    out = ns_run(ns, ["sysctl", "-e", *names])
    values = {}
    for line in out.splitlines():
        name, _, value = line.partition(" = ")
        values[name.strip()] = " ".join(value.split())
    return values


def _sysctl_text(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return " ".join(str(v) for v in value)
    return str(value)


def list_namespaces() -> list[str]:
    out = run(["ip", "netns", "list"])
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _delete(ns: str) -> None:
    subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=COMMAND_TIMEOUT)
    with _live_lock:
        _live.discard(ns)


def cleanup_stale() -> list[str]:
    """Delete ``hsc-<pid>-*`` namespaces left by lab runs whose process is gone; return their names."""
    removed = []
    for ns in list_namespaces():
        m = re.fullmatch(rf"{PREFIX}(\d+)-\d+-[sc]", ns)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            _delete(ns)
            removed.append(ns)
    return removed


@atexit.register
def _cleanup_live() -> None:
    for ns in sorted(_live):
        _delete(ns)


@dataclass(frozen=True)
class Pair:
    """A server namespace and a client namespace joined by a veth: server_ip <-> client_ips."""

    index: int
    server: str
    client: str
    server_ip: str
    client_ips: tuple[str, ...]
    server_sysctls: Mapping[str, object] = field(default_factory=dict)
    client_sysctls: Mapping[str, object] = field(default_factory=dict)

    @property
    def client_ip(self) -> str:
        return self.client_ips[0]

    def sysctls(self, names: list[str]) -> dict[str, dict[str, str]]:
        """The named sysctls as they are now in both namespaces."""
        return {"server": get_sysctls(self.server, names), "client": get_sysctls(self.client, names)}


BASE_SYSCTLS = {
    "net.ipv6.conf.all.disable_ipv6": 1,  # no IPv6 router solicitations or DAD on the veth
    "net.ipv6.conf.default.disable_ipv6": 1,
}


@contextmanager
def pair(server_sysctls: Mapping[str, object] | None = None,
         client_sysctls: Mapping[str, object] | None = None,
         client_addresses: int = 1) -> Iterator[Pair]:
    """Create a fresh namespace pair, yield it, and delete it (also when the block raises).

    The server owns 10.203.<n>.1/24 on ``hsc0``; the client owns 10.203.<n>.2 (and .3, .4... if
    `client_addresses` > 1) on ``hsc1``. Nothing else is reachable from either namespace.
    """
    require_privileged()
    n = next(_counter)
    net = n % 250 + 1
    pid = os.getpid()
    server, client = f"{PREFIX}{pid}-{n}-s", f"{PREFIX}{pid}-{n}-c"
    p = Pair(n, server, client, f"{SUBNET}.{net}.1",
             tuple(f"{SUBNET}.{net}.{2 + i}" for i in range(client_addresses)),
             dict(server_sysctls or {}), dict(client_sysctls or {}))
    with _live_lock:
        _live.update((server, client))
    try:
        run(["ip", "netns", "add", server])
        run(["ip", "netns", "add", client])
        run(["ip", "link", "add", SERVER_DEV, "netns", server, "type", "veth",
             "peer", "name", CLIENT_DEV, "netns", client])
        set_sysctls(server, {**BASE_SYSCTLS, **p.server_sysctls})
        set_sysctls(client, {**BASE_SYSCTLS, **p.client_sysctls})
        run(["ip", "-n", server, "-batch", "-"], input=(
            f"addr add {p.server_ip}/24 dev {SERVER_DEV}\nlink set {SERVER_DEV} up\nlink set lo up\n"))
        run(["ip", "-n", client, "-batch", "-"], input="".join(
            f"addr add {ip}/24 dev {CLIENT_DEV}\n" for ip in p.client_ips)
            + f"link set {CLIENT_DEV} up\nlink set lo up\n")
        yield p
    finally:
        _delete(client)
        _delete(server)
