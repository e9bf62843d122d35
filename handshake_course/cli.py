"""The ``handshake-course`` command: open the course, or run the model from a shell.

``handshake-course lab`` copies the lessons and exercises into the learner's workspace folder and
starts JupyterLab there at the first lesson. ``handshake-course simulate ...``
runs one scenario and prints what you would see on the two machines: the nstat counters, the
listener as ``ss`` shows it, and how connect() went for the clients (or a JSON document, or a
figure). ``handshake-course diagnose CAPTURE`` reads a pcap or pcapng capture and says, per
listener, what its handshakes show, and which scenario the model reproduces it with. Bad input ends
with one line naming the option and its valid range, and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .extras import MissingExtra, require
from .shell import add_progress_option, progress_bar, simulation_progress
from .workspace import DEFAULT_FOLDER

INT_MAX = 2**31 - 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block): ``prog: error: message``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def cmd_workspace(args: argparse.Namespace) -> int:
    """Create (or complete, or refresh) the learner's workspace without starting JupyterLab."""
    from . import workspace

    try:
        changes = workspace.prepare(Path(args.folder), refresh=args.refresh)
    except (OSError, ValueError) as err:
        raise SystemExit(f"handshake-course: cannot prepare the workspace: {err}") from None
    print(changes.summary())
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    """Prepare the workspace, then start JupyterLab on it at the first lesson, with this very
    Python (so its kernel imports this package); options it does not know go to JupyterLab."""
    from . import course, workspace

    require("course", "handshake-course lab")
    try:
        changes = workspace.prepare(Path(args.workspace), refresh=args.refresh)
    except (OSError, ValueError) as err:
        raise SystemExit(f"handshake-course: cannot prepare the workspace: {err}") from None
    print(changes.summary(), flush=True)
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={changes.folder}",
            f"--LabApp.default_url=/lab/tree/{course.FIRST_LESSON}"]
    if args.no_browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # JupyterLab refuses root without it (containers, CI)
    admin_settings = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    if not admin_settings.exists():
        argv.append(f"--LabApp.app_settings_dir={course.LAB_SETTINGS}")  # no news pop-up over the lesson
    argv += [a for a in args.jupyter_args if a != "--"]
    os.chdir(changes.folder)
    os.execv(sys.executable, argv)
    return 0  # not reached


# ---- parsing values --------------------------------------------------------------------------------

TIME_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}
TIME_HINT = "seconds, or with a unit: 200us, 0.2ms, 1s, 2min"


def seconds(text: str) -> float:
    """A duration: plain seconds (0.0002) or a number with a unit (200us, 0.2ms, 1s, 2min)."""
    m = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(us|µs|ms|s|min)?\s*", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * TIME_UNITS[m.group(2) or "s"]


def time_type(what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            return seconds(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a time in {TIME_HINT}; got {text!r}") from None
    return parse


def times_type(what: str) -> Callable[[str], list[float]]:
    def parse(text: str) -> list[float]:
        try:
            return [seconds(t) for t in text.split(",") if t.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what} must be a comma-separated list of times in {TIME_HINT}; got {text!r}") from None
    return parse


def number_type(what: str, kind: type, valid: str) -> Callable[[str], Any]:
    """int or float parsing whose error names what is valid (argparse prefixes the option name)."""
    def parse(text: str) -> Any:
        try:
            value = float(text) if kind is float else int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be {valid}; got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{what} must be {valid}; got {text!r}")
        return value
    return parse


def backlog_type(text: str) -> int | None:
    if text.strip().lower() in ("none", "no", "-"):
        return None
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"backlog must be a whole number from {-INT_MAX - 1} to {INT_MAX} (listen()'s int), or 'none' "
            f"for no listener; got {text!r}") from None


def kernel_type(text: str) -> str:
    """A modelled version, or "auto": the profile of the kernel this command runs on."""
    import platform

    from .model import VERSIONS, match_release

    if text == "auto":
        match = match_release(platform.release())
        if match.note:
            print(f"--kernel auto: running {match.release}, modelled as {match.version}: {match.note}",
                  file=sys.stderr)
        return match.version
    if text not in VERSIONS:
        raise argparse.ArgumentTypeError(
            f"kernel must be one of {', '.join(VERSIONS)} (the modelled Linux versions) or auto; got {text!r}")
    return text


def drop_type(text: str) -> str:
    from .model.scenario import PACKET_KINDS

    kind = text.upper()
    if kind not in PACKET_KINDS:
        raise argparse.ArgumentTypeError(f"drop must be one of {', '.join(PACKET_KINDS)}; got {text!r}")
    return kind


def port_range_type(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[-,: ]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"port range must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535 (e.g. 32768-60999); got {text!r}")
    return int(m.group(1)), int(m.group(2))


def setting_value(text: str) -> Any:
    """A --set value: an int, a float, true/false, a LOW-HIGH pair, or a word."""
    for parse in (lambda t: int(t, 10), float):
        try:
            return parse(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if re.fullmatch(r"\d+-\d+", text):
        low, high = text.split("-")
        return int(low), int(high)
    return text


def set_type(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"set must be NAME=VALUE, e.g. tcp_synack_retries=2; got {text!r}")
    return name.strip(), setting_value(value.strip())


# ---- the simulate subcommand ------------------------------------------------------------------------

def sysctl_options() -> dict[str, str]:
    """Option dest -> the setting it sets: every setting of the model's registry with a command-line
    flag (model.SETTINGS); the values are checked by the model (Kernel)."""
    from .model import SETTINGS

    return {s.flag[2:].replace("-", "_"): s.name for s in SETTINGS.values() if s.flag}


# Scenario field -> option that sets it (for the model's error messages)
FIELD_OPTIONS = {"kernel": "--kernel", "backlog": "--backlog", "clients": "--clients", "accept": "--accept",
                 "rtt": "--rtt", "loss": "--loss", "drop": "--drop", "flood": "--flood", "duration": "--duration",
                 "seed": "--seed", "syncnt": "--syncnt", "data": "--data", "listeners": "--listeners",
                 "defer_accept": "--defer-accept", "hold": "--hold", "fastopen": "--fastopen"}


def _add_simulate(sub: Any) -> None:
    p = sub.add_parser(
        "simulate", help="run the kernel model once and print counters, ss and connect() latencies",
        description=textwrap.fill(
            "Run one scenario through the model of the Linux kernel's TCP handshake: a listener with a "
            "listen() backlog, clients that call connect(), an application that may call accept(), and a "
            "network between them. Prints the nstat counters of both machines (only those that are not "
            "zero, as nstat does), the listener as 'ss -lnt' shows it at the end, and how connect() went: "
            "how many clients ended in each outcome, and the latency from connect() to ESTABLISHED. "
            f"A TIME is in {TIME_HINT}.", 88),
        epilog=(
            "examples:\n"
            "  handshake-course simulate --kernel 3.10 --backlog 8 --clients 20 --duration 60\n"
            "  handshake-course simulate --kernel 6.18 --syncookies 0 --flood 2000 --duration 10 --clients 5\n"
            "  handshake-course simulate --drop SYN-ACK --clients 1 --duration 200 --json\n"
            "  handshake-course simulate --backlog 4 --clients 12 --accept 2 --plot queues.png\n"
            "  handshake-course simulate --listeners 4 --backlog 8 --clients 100 --defer-accept 5 --data\n"
            "  handshake-course simulate --port-range 40000-40001 --connect-at 0,1,2,3 --accept 100 --hold 0.5 "
            "--tcp-tw-reuse 1\n"
            "  handshake-course simulate --tcp-fastopen 3 --fastopen 16 --data --connect-at 0,1,1,1 --accept 100 "
            "--rtt 0.1"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _scenario_options(p.add_argument_group("the scenario"))
    _sysctl_options(p.add_argument_group("sysctls (default: the kernel version's own)"))
    _output_options(p.add_argument_group("output"))
    add_progress_option(p)
    p.set_defaults(func=cmd_simulate, parser=p)


def _scenario_options(sc: Any) -> None:
    """The options a Scenario is made from (its jiffies come from the seed here)."""
    from .model import VERSIONS
    from .model.scenario import MAX_CLIENTS, PACKET_KINDS

    sc.add_argument("--kernel", type=kernel_type, default="6.18", metavar="VERSION",
                    help=f"Linux version both machines run: {', '.join(VERSIONS)}, or auto: the profile of the "
                         "kernel running this command (default: %(default)s)")
    sc.add_argument("--backlog", type=backlog_type, default=128, metavar="N",
                    help="the backlog passed to listen(); the kernel caps it at somaxconn. 'none': nothing "
                         "listens, so every SYN is answered with RST (default: %(default)s)")
    who = sc.add_mutually_exclusive_group()
    who.add_argument("--clients", type=number_type("clients", int, f"a whole number from 0 to {MAX_CLIENTS}"),
                     default=1, metavar="N", help="how many clients call connect() at t = 0 (default: %(default)s)")
    who.add_argument("--connect-at", type=times_type("connect-at"), metavar="T1,T2,...",
                     help="instead of --clients: the times at which clients call connect(), one per client")
    app = sc.add_mutually_exclusive_group()
    app.add_argument("--accept", type=number_type("accept", float, "a rate from 0.001 to 10000000 accept() calls "
                                                                   "per second"), metavar="RATE",
                     help="the application calls accept() in a loop and handles at most RATE connections per "
                          "second (default: it never calls accept(), so the accept queue fills up)")
    app.add_argument("--accept-at", type=times_type("accept-at"), metavar="T1,T2,...",
                     help="instead of --accept: the times of single blocking accept() calls")
    sc.add_argument("--rtt", type=time_type("rtt"), default=0.0002, metavar="TIME",
                    help="round-trip time between the machines, 0 to 60 s; each packet takes half of it "
                         "(default: 0.2 ms)")
    sc.add_argument("--loss", type=number_type("loss", float, "a probability from 0 to 1"), default=0.0,
                    metavar="P", help="probability from 0 to 1 that any one packet is lost (default: 0)")
    sc.add_argument("--drop", type=drop_type, action="append", default=[], metavar="KIND",
                    help=f"always drop packets of this kind, like an nftables rule: {', '.join(PACKET_KINDS)} "
                         "(ACK: segments that only acknowledge - the client's handshake ACKs and, with --data, "
                         "the server's ACKs of the requests; DATA: the requests); repeat for several kinds")
    sc.add_argument("--flood", type=number_type("flood", float, "a rate from 0 to 1000000 SYNs per second"),
                    default=0.0, metavar="RATE",
                    help="a SYN flood: spoofed SYNs per second from addresses that never answer (default: 0); "
                         "needs --duration")
    sc.add_argument("--duration", type=time_type("duration"), metavar="TIME",
                    help="simulated time, 0.001 s to 100000 s (default: until nothing is pending)")
    sc.add_argument("--seed", type=number_type("seed", int, "a whole number"), default=1, metavar="N",
                    help="random seed; the same seed gives the same run (default: %(default)s)")
    sc.add_argument("--syncnt", type=number_type("syncnt", int, "a whole number from 1 to 127"), metavar="N",
                    help="TCP_SYNCNT on the client sockets: SYN retransmissions before connect() gives up, "
                         "1 to 127 (default: tcp_syn_retries)")
    sc.add_argument("--data", action="store_true",
                    help="clients speak first, as HTTP, TLS and database clients do: each one sends a request "
                         "as soon as connect() returns and resends it until the server acknowledges it. A "
                         "request that reaches a handshake whose final ACK was dropped (accept queue full) "
                         "completes it once the queue has room (default: clients send nothing)")
    sc.add_argument("--listeners", type=number_type("listeners", int, "a whole number from 1 to 65535"), default=1,
                    metavar="N",
                    help="SO_REUSEPORT: N listening sockets share the port, as the workers of nginx, envoy or "
                         "HAProxy do. Each has its own SYN and accept queues sized by --backlog and its own "
                         "accept() (--accept and --accept-at apply to each), and the kernel sends each connection "
                         "to one of them by a hash of its addresses and ports, so a connection's retransmissions "
                         "reach the same one. Linux 3.9 and later (default: 1)")
    sc.add_argument("--defer-accept", type=time_type("defer-accept"), default=0.0, metavar="SECONDS",
                    help="TCP_DEFER_ACCEPT on the listener, in whole seconds (nginx's 'deferred'): the final ACK "
                         "of the handshake is dropped while it carries no data, so the connection reaches "
                         "accept() only with the client's first request (--data); a client that sends nothing "
                         "is let in when the kernel resends the SYN-ACK after that many seconds' worth of "
                         "SYN-ACK timeouts (1 s: 1 round, 5 s: 3 rounds, at 1 + 2 + 4 s) and the client answers "
                         "it (default: 0, off)")
    sc.add_argument("--hold", type=time_type("hold"), metavar="SECONDS",
                    help="each client closes its connection this long after connect() returns (with --data: "
                         "once its request is acknowledged): it sends the first FIN, the server's application "
                         "closes as soon as it reads the end of the stream, and the client's socket then waits "
                         "in TIME_WAIT for 60 s, keeping its ephemeral port. Many short connections to one "
                         "server can run out of ports that way: connect() fails with EADDRNOTAVAIL, unless "
                         "--tcp-tw-reuse lets it take a TIME_WAIT socket's port (default: connections stay open)")
    sc.add_argument("--fastopen", type=number_type("fastopen", int, "a whole number from 0 to 2147483647"), default=0,
                    metavar="N",
                    help="TCP Fast Open: the listener's TCP_FASTOPEN queue, at most N connections whose data came "
                         "in the SYN waiting for their final ACK (Linux 3.7 and later). With --data, clients send "
                         "their request with sendto(MSG_FASTOPEN): the first asks for a cookie, the later ones put "
                         "the request in the SYN, and a listener whose --tcp-fastopen has the server bit (2; 3 for "
                         "both) hands the connection to accept() at once, one one-way delay after the SYN "
                         "(default: 0, off)")


def _sysctl_options(ks: Any) -> None:
    """One option per sysctl of the model's registry (``sysctl_options``), and --set for the rest."""
    from .model import SETTINGS

    for dest, name in sysctl_options().items():
        setting = SETTINGS[name]
        flag = f"--{dest.replace('_', '-')}"
        if name == "ip_local_port_range":
            parse, metavar, valid = port_range_type, "LOW-HIGH", "LOW-HIGH"
        elif setting.unit == "s":
            parse, metavar = time_type(flag[2:]), "TIME"
            valid = f"a time from {_show(setting.lo)} to {_show(setting.hi)} s"
        elif setting.choices:
            valid = f"one of {', '.join(map(str, setting.choices))}"
            parse, metavar = number_type(flag[2:], int, valid), "N"
        else:
            valid = f"a whole number from {_show(setting.lo)} to {_show(setting.hi)}"
            parse, metavar = number_type(flag[2:], int, valid), "N"
        values = {_show(d) for d in setting.defaults.values()}
        defaults = (f"default {values.pop()}" if len(values) == 1 else
                    "defaults " + ", ".join(f"{v}: {_show(d)}" for v, d in setting.defaults.items()))
        ks.add_argument(flag, dest=dest, type=parse, metavar=metavar,
                        help=f"{name}: {setting.short} ({valid}; {defaults})")
    ks.add_argument("--set", type=set_type, action="append", default=[], metavar="NAME=VALUE",
                    help="any other sysctl or behaviour switch of the model, e.g. young_rule=false or "
                         "synack_timer=per_request (see handshake_course.model.SETTINGS); repeatable")


def _output_options(out: Any) -> None:
    out.add_argument("--json", action="store_true",
                     help="print one JSON document (scenario, counters of both hosts, ss, outcomes, "
                          "latencies, every client, with --data its request too) instead of the text report")
    out.add_argument("--plot", metavar="FILE.png",
                     help="also write a figure: the queue lengths over time above a packet ladder of up to "
                          "8 clients (the format follows the extension: png, svg, pdf)")
    out.add_argument("--plot-clients", type=_indices, metavar="I,J,...",
                     help="the clients (0-based) the ladder of --plot shows, at most 8 (default: one of each "
                          "outcome, then the first ones)")
    out.add_argument("--pcap", metavar="FILE",
                     help="also write every packet as a pcap file for Wireshark, tshark or tcpdump -r, as a "
                          "capture on one host would hold them (needs the capture extra)")
    out.add_argument("--pcap-at", choices=("server", "client"), default=None,
                     help="where that capture is taken: the listener's host (default; the flood's SYNs "
                          "included) or the client host")


def _show(value: Any) -> str:
    """A setting's value for help texts: 32768-60999, 2147483647, 0.5."""
    if isinstance(value, tuple):
        return f"{value[0]}-{value[1]}"
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def _indices(text: str) -> list[int]:
    try:
        return [int(t, 10) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"plot-clients must be comma-separated client numbers, e.g. 0,3,5; got {text!r}") from None


def build_kernel(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Any:
    """The Kernel of the options; a bad value fails with the option's name and the valid range."""
    from .model import SETTINGS, Kernel

    settings: dict[str, Any] = {}
    for dest, name in sysctl_options().items():
        value = getattr(args, dest)
        if value is not None:
            try:
                settings[name] = SETTINGS[name].check(args.kernel, value)
            except ValueError as err:
                parser.error(f"argument --{dest.replace('_', '-')}: {err}")
    for name, value in args.set:
        try:
            Kernel(args.kernel, **{name: value})
        except ValueError as err:
            parser.error(f"argument --set {name}: {err}")
        settings[name] = value
    try:
        return Kernel(args.kernel, **settings)
    except ValueError as err:
        parser.error(f"argument --kernel: {err}")


def build_scenario(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Any:
    """The Scenario of the options; the model's ValueError becomes a one-line error naming the option."""
    from .model import Scenario

    kernel = build_kernel(args, parser)
    options = dict(FIELD_OPTIONS)
    if args.connect_at is not None:
        options["clients"] = "--connect-at"
    if args.accept_at is not None:
        options["accept"] = "--accept-at"
    try:
        return Scenario(
            kernel=kernel, backlog=args.backlog,
            clients=args.connect_at if args.connect_at is not None else args.clients,
            accept=args.accept_at if args.accept_at is not None else args.accept,
            rtt=args.rtt, loss=args.loss, drop=tuple(args.drop), flood=args.flood, duration=args.duration,
            seed=args.seed, syncnt=args.syncnt, data=args.data, listeners=args.listeners,
            defer_accept=args.defer_accept, hold=args.hold, fastopen=args.fastopen)
    except ValueError as err:
        field = re.match(r"[a-z_]+", str(err))
        option = options.get(field.group(0) if field else "", "")
        parser.error(f"argument {option}: {err}" if option else str(err))


def check_plot_path(path: str, parser: argparse.ArgumentParser) -> None:
    """Refuse, before simulating, a --plot file that cannot be written."""
    from matplotlib.backend_bases import FigureCanvasBase

    target = Path(path)
    ext = target.suffix.lstrip(".").lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if ext not in formats:
        parser.error(f"argument --plot: the file name must end in one of {', '.join('.' + f for f in sorted(formats))}"
                     f"; got {path!r}")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        parser.error(f"argument --plot: folder {str(folder)!r} does not exist")


def check_pcap_path(path: str, parser: argparse.ArgumentParser) -> None:
    """Refuse, before simulating, a --pcap file that cannot be written, or a Python without dpkt."""
    require("capture", "--pcap")
    folder = Path(path).parent if str(Path(path).parent) else Path(".")
    if not folder.is_dir():
        parser.error(f"argument --pcap: folder {str(folder)!r} does not exist")


def summary_document(result: Any) -> dict[str, Any]:
    """Everything the text report shows, and every client, as JSON-ready data."""
    from .analysis import latency_summary

    sc, kernel = result.scenario, result.kernel
    listener = result.listener
    ss = result.ss() if listener is not None else None
    return {
        "scenario": {
            "kernel": kernel.version, "backlog": sc.backlog,
            "clients": sc.clients if isinstance(sc.clients, int) else list(sc.clients),
            "accept": sc.accept if sc.accept is None or isinstance(sc.accept, float) else list(sc.accept),
            "rtt": sc.rtt, "loss": sc.loss, "drop": list(sc.drop), "flood": sc.flood, "duration": sc.duration,
            "seed": sc.seed, "syncnt": sc.syncnt, "data": sc.data, "listeners": sc.listeners,
            "defer_accept": sc.defer_accept, "hold": sc.hold, "fastopen": sc.fastopen,
        },
        "kernel": {"version": kernel.version, "settings": _jsonable(dict(kernel.settings)),
                   "overrides": _jsonable(dict(kernel.overrides))},
        "listener": None if listener is None else {
            "backlog": listener.backlog, "accept_capacity": listener.accept_capacity,
            "syn_capacity": listener.syn_capacity, "syn_table": listener.syn_table},
        "ss": None if ss is None else {"recv_q": ss.recv_q, "send_q": ss.send_q, "syn_recv": ss.syn_recv},
        **({"listeners": [{"recv_q": one.recv_q, "send_q": one.send_q, "syn_recv": one.syn_recv}
                          for one in (result.ss(listener=i) for i in range(len(result.listeners)))]}
           if len(result.listeners) > 1 else {}),
        "counters": {"server": dict(result.server_counters), "client": dict(result.client_counters)},
        "latency": latency_summary(result).as_dict(),
        "packets": {"total": len(result.packets), "lost": result.packets.tally(lost=True),
                    "by_kind": result.packets.kind_counts()},
        "clients": [
            {"index": c.index, "start": c.start, "port": c.port, "outcome": c.outcome,
             "syn_times": list(c.syn_times), "connected_at": c.connected_at, "accepted_at": c.accepted_at,
             "failed_at": c.failed_at, "errno": c.errno, "latency": c.latency,
             **({"data_times": list(c.data_times), "data_acked_at": c.data_acked_at, "rtt_sample": c.rtt_sample,
                 "request_latency": c.request_latency} if sc.data else {}),
             **({"closed_at": c.closed_at, "time_wait_at": c.time_wait_at, "time_wait_until": c.time_wait_until}
                if sc.hold is not None else {}),
             **({"fastopen": c.fastopen, "syn_data_acked": c.syn_data_acked} if c.fastopen is not None else {})}
            for c in result.clients],
        "log": [[t, line] for t, line in result.log],
        "end": result.end,
        "events": result.events,
    }


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def simulate_with_progress(scenario: Any, choice: bool | None) -> Any:
    """``simulate(scenario)``, with a bar on stderr over the simulated seconds (``shell``: with
    ``--progress``, or on a terminal once the run has lasted two seconds; none without tqdm)."""
    from .model import simulate
    from .model.simulation import expected_end

    bar = progress_bar(expected_end(scenario), desc="simulating", unit="s", choice=choice,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.4g}/{total:.4g} s simulated "
                                  "[{elapsed}<{remaining}]")
    if bar is None:
        return simulate(scenario)
    with bar:
        return simulate(scenario, progress=simulation_progress(bar))


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run the scenario of the options and print the report (or JSON), optionally a figure."""
    from .text.report import report

    parser = args.parser
    if args.plot_clients is not None and not args.plot:
        parser.error("argument --plot-clients: only with --plot FILE (it chooses the clients of that figure)")
    if args.plot:
        check_plot_path(args.plot, parser)
    if args.pcap_at is not None and not args.pcap:
        parser.error("argument --pcap-at: only with --pcap FILE (it chooses where that capture is taken)")
    if args.pcap:
        check_pcap_path(args.pcap, parser)
    scenario = build_scenario(args, parser)
    if args.plot_clients is not None:
        n = len(scenario.client_times)
        bad = [c for c in args.plot_clients if not 0 <= c < n]
        if bad or len(args.plot_clients) > 8:
            parser.error(f"argument --plot-clients: at most 8 client numbers from 0 to {n - 1}; got "
                         f"{','.join(map(str, args.plot_clients))}")
    result = simulate_with_progress(scenario, args.progress)
    if args.json:
        print(json.dumps(summary_document(result), indent=2))
    else:
        print(report(result))
    if args.plot:
        from .views import overview_figure

        fig = overview_figure(result, clients=args.plot_clients, flood=scenario.flood > 0)
        try:
            fig.savefig(args.plot, dpi=110)
        except OSError as err:
            parser.error(f"argument --plot: cannot write {args.plot!r}: {err.strerror or err}")
        if not args.json:
            print(f"\nfigure written to {args.plot}")
    if args.pcap:
        at = args.pcap_at or "server"
        try:
            n = result.to_pcap(args.pcap, at=at)
        except OSError as err:
            parser.error(f"argument --pcap: cannot write {args.pcap!r}: {err.strerror or err}")
        if not args.json:
            print(f"\n{n} packets written to {args.pcap} (a capture on the {at}'s host)")
    return 0


# ---- the diagnose subcommand ------------------------------------------------------------------------

def _add_diagnose(sub: Any) -> None:
    p = sub.add_parser(
        "diagnose", help="read a pcap/pcapng capture, say what the handshakes show and reproduce it with the model",
        description=textwrap.fill(
            "Read the TCP handshakes of a capture (pcap or pcapng, from tcpdump, Wireshark or simulate --pcap) "
            "and, for each server address and port: the connect latencies, what the handshakes show "
            "(retransmitted SYNs and which kernel's schedule they fit, SYN-ACKs resent, final ACKs the listener "
            "ignored or reset, SYNs nobody answered, syncookies, herds), each with the kernel rule behind it; "
            "then the scenario and kernel profile that reproduce the capture, run through the model and "
            "compared with it. Needs the capture extra (dpkt).", 88),
        epilog=(
            "examples:\n"
            "  tcpdump -i any -s 128 -w incident.pcap 'tcp port 8080 and tcp[tcpflags] & (tcp-syn|tcp-rst) != 0'\n"
            "  handshake-course diagnose incident.pcap\n"
            "  handshake-course simulate --kernel 3.10 --backlog 1 --clients 6 --duration 20 --pcap run.pcap\n"
            "  handshake-course diagnose run.pcap --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("capture", metavar="CAPTURE", help="the capture file (pcap or pcapng)")
    p.add_argument("--json", action="store_true",
                   help='print one JSON document: {"handshakes": N, "servers": [{"server", "latency", "findings", '
                        '"scenario", "model", ...}]} instead of the text report')
    p.add_argument("--model-seed", type=number_type("model-seed", int, "a whole number"), metavar="N",
                   help="the capture was written by the model (simulate --pcap, Result.to_pcap) with --seed N: also "
                        "tell its syncookie SYN-ACKs by their ISN, as only the model's keys can")
    p.add_argument("--no-model", action="store_true",
                   help="only read the capture: propose the scenario but do not run it through the model")
    p.set_defaults(func=cmd_diagnose, parser=p)


def check_capture_path(path: str, parser: argparse.ArgumentParser) -> None:
    """Refuse, before reading, a CAPTURE that is not a readable file, or a Python without dpkt."""
    require("capture", "handshake-course diagnose")
    target = Path(path)
    if not target.exists():
        parser.error(f"argument CAPTURE: no such file {path!r}")
    if not target.is_file():
        parser.error(f"argument CAPTURE: {path!r} is not a file (a pcap or pcapng capture)")
    if not os.access(target, os.R_OK):
        parser.error(f"argument CAPTURE: cannot read {path!r} (permission denied)")


def cmd_diagnose(args: argparse.Namespace) -> int:
    """Diagnose the capture and print the report (or JSON)."""
    parser = args.parser
    check_capture_path(args.capture, parser)
    from .capture import load
    from .capture.diagnosis import diagnose_capture
    from .text.capture import capture_report

    try:
        capture = load(args.capture)
    except (ValueError, OSError) as err:
        parser.error(f"argument CAPTURE: {err}")
    if not capture.handshakes:
        skipped = f" ({'; '.join(capture.notes)})" if capture.notes else ""
        parser.error(f"argument CAPTURE: {args.capture!r} holds no TCP connection attempt (no SYN) in its "
                     f"{capture.packets} packets{skipped}")
    diagnosis = diagnose_capture(capture, args.model_seed, simulate_model=not args.no_model)
    print(json.dumps(diagnosis.as_dict(), indent=2) if args.json else capture_report(diagnosis))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="handshake-course",
        description="How the Linux kernel performs TCP's three-way handshake: a course and a model.")
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser(
        "lab", help="open the course in JupyterLab at the first lesson",
        description="Copy the lessons and exercises into your workspace folder (once; your edits are kept) "
                    "and open it in JupyterLab at the first lesson. Other options go to JupyterLab.")
    lab.add_argument("--workspace", default=DEFAULT_FOLDER, metavar="DIR",
                     help=f"your course folder (default ./{DEFAULT_FOLDER})")
    lab.add_argument("--refresh", action="store_true",
                     help="bring the notebooks you have not edited up to date; edited ones are kept, with the "
                          "new version beside them as *.updated.ipynb")
    lab.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    lab.set_defaults(func=cmd_lab)
    ws = sub.add_parser("workspace", help="only create or refresh your course folder (what lab does first)")
    ws.add_argument("folder", nargs="?", default=DEFAULT_FOLDER, help=f"default ./{DEFAULT_FOLDER}")
    ws.add_argument("--refresh", action="store_true", help="as for lab")
    ws.set_defaults(func=cmd_workspace)
    _add_simulate(sub)
    _add_diagnose(sub)
    from .grader.cli import register  # grade, release

    register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(None if argv is None else list(argv))
    if args.command == "lab":
        args.jupyter_args = extra  # e.g. --port=8899, passed on to jupyter lab
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.func(args) or 0)
    except MissingExtra as err:
        raise SystemExit(f"handshake-course: {err}") from None


if __name__ == "__main__":
    raise SystemExit(main())
