"""A measurement of the running kernel next to the model's prediction for the same run (lesson 10).

The records are the plain dicts of ``handshake_course.lab`` (``lab.measure_accept_capacity``,
``lab.measure_herd``, ``lab.stored``); the model Results are ``simulate(lab.scenario_for(record))``,
run by the caller. Nothing here measures or simulates.

- ``plot_accept_capacity``: connections a listener that never accept()s takes, measured (markers)
  and predicted (line), against the backlog;
- ``plot_herd``: clients waiting on a full accept queue, one row per client: when each sent its
  SYNs and when its connect() returned, measured and predicted, and the server's accept() calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..model import accept_capacity
from .style import BLACK, GREEN, GREY, VERMILLION, prepare_axes, series_style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..model import Result

Record = Mapping[str, Any]

MEASURED = BLACK
"""The colour of what was measured; the model's series take the comparison colours (series_style)."""


def _source(record: Record) -> str:
    """Where a record came from, for a title: its ``source`` or, for a plain record, its kernel."""
    return str(record.get("source") or f"Linux {record.get('kernel', '?')}")


def plot_accept_capacity(records: Sequence[Record], models: Sequence[Result], ax: Axes | None = None,
                         current: int | None = None, max_backlog: int | None = None) -> Axes:
    """Connections a listener that never accept()s takes, against its backlog: measured (markers:
    connect()s that completed, and Recv-Q of ``ss -lnt``) and the model's (line through the
    simulated runs, ``models[i]`` being the prediction for ``records[i]``), over the closed form
    ``accept_capacity`` = min(backlog, somaxconn) + 1 (dotted, up to the largest backlog).

    ``current`` marks one backlog (the dashboard's slider); ``max_backlog`` widens the x axis to at
    least that backlog (so that a dashboard's figure keeps its scale). Returns the Axes; never shows it.
    """
    if len(records) != len(models):
        raise ValueError(f"one model Result per record: {len(records)} records, {len(models)} results")
    ax = prepare_axes(ax, (7.5, 4.2), "accept_capacity")
    pairs = sorted(zip(records, models, strict=True), key=lambda p: p[0]["params"]["backlog"])
    backlogs = np.array([r["params"]["backlog"] for r, _ in pairs], dtype=float)
    connected = np.array([r["result"]["connected"] for r, _ in pairs], dtype=float)
    recv_q = np.array([np.nan if r["result"].get("recv_q") is None else r["result"]["recv_q"] for r, _ in pairs],
                      dtype=float)
    model = np.array([m.connected() for _, m in pairs], dtype=float)
    top = int(max(backlogs.max(initial=0), current or 0, max_backlog or 0))
    ax.set_title("listen(backlog) with no accept(): measured against the model\n"
                 + ("measured: " + "; ".join(dict.fromkeys(_source(r) for r, _ in pairs)) if pairs else "no measurement"),
                 fontsize="medium")
    ax.set_xlabel("listen() backlog")
    ax.set_ylabel("connections")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    if pairs:
        kernel = pairs[0][1].kernel
        xs = np.arange(top + 1)
        ax.plot(xs, [accept_capacity(kernel, int(b)) for b in xs], color=GREY, ls=":", lw=1.2, gid="closed_form",
                label=f"accept_capacity(): min(backlog, somaxconn={kernel.somaxconn}) + 1")
        colour, ls, marker = series_style(0)
        ax.plot(backlogs, model, color=colour, ls=ls, lw=2, marker=marker, ms=4, gid="model",
                label=f"model, Linux {kernel.version}: connected")
        ax.plot(backlogs, connected, ls="none", marker="o", ms=9, mfc="none", mec=MEASURED, mew=1.6,
                gid="measured_connected", label="measured: connect()s that completed")
        ax.plot(backlogs, recv_q, ls="none", marker="x", ms=7, color=VERMILLION, mew=1.6, gid="measured_recv_q",
                label="measured: Recv-Q (ss -lnt)")
    if current is not None:
        ax.axvline(current, color=GREEN, lw=1, alpha=0.6, gid="current", label=f"backlog {current}")
    ymax = np.nanmax(np.concatenate([connected, recv_q, model, [top + 1.0]]))
    ax.set_xlim(-0.5, top + 0.5)
    ax.set_ylim(0, ymax * 1.08 + 0.5)
    ax.legend(loc="upper left", fontsize="small")
    return ax


def _model_label(result: Result) -> str:
    return f"model, timer_wheel={result.kernel.timer_wheel!r}"


def _retransmissions(client: Mapping[str, Any]) -> int | None:
    if client.get("syn_times"):
        return len(client["syn_times"]) - 1
    return client.get("syn_retransmissions")


def plot_herd(record: Record, models: Result | Mapping[str, Result], ax: Axes | None = None) -> Axes:
    """Clients waiting on a full accept queue: one band per client (client 0 at the top), with a row
    for the measurement and one per model Result (``models``: one Result, or label -> Result; each
    the prediction for ``record``, e.g. with the kernel's timer wheel and with textbook timers).

    In each row: SYNs sent (triangles; a loopback record has only the first, and counts the
    retransmissions, shown in the y labels), the moment connect() returned (circle) and, for the
    model, the moment the application's accept() took the connection (star). The server's accept()
    calls are vertical lines. Returns the Axes; never shows it.
    """
    if not isinstance(models, Mapping):
        models = {_model_label(models): models}
    clients = record["result"]["clients"]
    n = len(clients)
    for label, res in models.items():
        if len(res.clients) != n:
            raise ValueError(f"{label}: {len(res.clients)} model clients for {n} measured ones")
    ax = prepare_axes(ax, (10.0, 4.8), "herd")
    rows = 1 + len(models)
    height = 0.7 / rows
    offsets = [(k - (rows - 1) / 2) * height for k in range(rows)]
    duration = float(record["params"].get("duration", 0.0)) or max(
        [t for res in models.values() for c in res.clients for t in c.syn_times] + [1.0])
    end = duration

    def draw_row(k: int, label: str, colour: str, starts: list[float], syns: list[list[float]],
                 connected: list[float | None], accepted: list[float | None] | None) -> None:
        y = np.arange(n, dtype=float) + offsets[k]
        stops = [end if c is None else c for c in connected]
        ax.hlines(y, starts, stops, color=colour, lw=1.2, alpha=0.45, gid=f"{label}:waiting")
        sx = [t for ts in syns for t in ts]
        sy = [yy for ts, yy in zip(syns, y, strict=True) for _ in ts]
        ax.plot(sx, sy, ls="none", marker="v", ms=6, color=colour, gid=f"{label}:syn", label=f"{label}: SYN sent")
        cx = [c for c in connected if c is not None]
        cy = [yy for c, yy in zip(connected, y, strict=True) if c is not None]
        ax.plot(cx, cy, ls="none", marker="o", ms=7, color=colour, gid=f"{label}:connected",
                label=f"{label}: connect() returned")
        if accepted is not None:
            ax_ = [a for a in accepted if a is not None]
            ay = [yy for a, yy in zip(accepted, y, strict=True) if a is not None]
            ax.plot(ax_, ay, ls="none", marker="*", ms=10, color=colour, mec=BLACK, mew=0.5,
                    gid=f"{label}:accepted", label=f"{label}: taken by accept()")

    measured_syns = [list(c["syn_times"]) if c.get("syn_times") else [c["start"]] for c in clients]
    draw_row(0, "measured", MEASURED, [c["start"] for c in clients], measured_syns,
             [c["connected_at"] for c in clients], None)
    for k, (label, res) in enumerate(models.items(), start=1):
        colour = series_style(k - 1)[0]
        draw_row(k, label, colour, [c.start for c in res.clients], [list(c.syn_times) for c in res.clients],
                 [c.connected_at for c in res.clients], [c.accepted_at for c in res.clients])
    accepts = list(record["result"].get("accepts", ()))
    if accepts:
        ax.vlines(accepts, -0.5, n - 0.5, color=GREEN, lw=1.5, ls="--", gid="accepts",
                  label="server: accept()")
    counts = [[_retransmissions(c) for c in clients]]
    counts += [[len(c.syn_times) - 1 for c in res.clients] for res in models.values()]
    ax.set_yticks(range(n), [f"client {i} ({' | '.join('?' if x[i] is None else str(x[i]) for x in counts)})"
                             for i in range(n)])
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(-0.02 * end, end * 1.02)
    ax.set_xlabel("seconds since the first connect()")
    ax.set_ylabel("client (SYN retransmissions)")
    ax.set_title(f"Clients waiting on a full accept queue, listen({record['params']['backlog']})\n"
                 f"measured ({_source(record)}) and predicted", fontsize="medium")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0.0,
              alignment="left", title="rows (and y-label counts), top down:\n" + "\n".join(
                  f"{i}. {name}" for i, name in enumerate(["measured", *models], start=1)),
              title_fontsize="small")
    return ax
