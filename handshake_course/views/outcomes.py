"""How the connect() calls of one or more results ended: stacked bars per outcome, as a figure or
as light HTML (for a dashboard that already draws a heavy figure)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from .style import GREEN, GREY, ORANGE, PURPLE, VERMILLION, prepare_axes
from .style import SKY_BLUE as SKY

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..model import Result

OUTCOME_COLOURS: dict[str, str] = {
    "accepted": GREEN, "queued": SKY, "established": ORANGE, "connecting": PURPLE,
    "timed_out": VERMILLION, "reset": "#000000", "no_port": GREY,
}
OUTCOME_TEXT: dict[str, str] = {
    "accepted": "accepted by the application",
    "queued": "in the accept queue",
    "established": "client ESTABLISHED, server has no child",
    "connecting": "still in SYN_SENT",
    "timed_out": "connect() failed: ETIMEDOUT",
    "reset": "reset (ECONNREFUSED / ECONNRESET)",
    "no_port": "no ephemeral port (EADDRNOTAVAIL)",
}


def plot_outcomes(results: dict[str, Result], ax: Axes | None = None, title: str = "How the connect() calls ended") -> Axes:
    """One stacked horizontal bar per result: how many clients ended in each outcome."""
    ax = prepare_axes(ax, (7.0, 3.0), "outcomes", reuse=False)
    names = list(results)
    left = [0] * len(names)
    counts = {n: r.outcomes() for n, r in results.items()}
    for outcome, colour in OUTCOME_COLOURS.items():
        widths = [counts[n].get(outcome, 0) for n in names]
        if not any(widths):
            continue
        bars = ax.barh(names, widths, left=left, color=colour, label=OUTCOME_TEXT[outcome])
        ax.bar_label(bars, labels=[str(w) if w else "" for w in widths], label_type="center", fontsize="small")
        left = [a + b for a, b in zip(left, widths, strict=False)]
    ax.invert_yaxis()
    ax.set_xlabel("clients")
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def outcome_bars_html(results: dict[str, Result], title: str = "How the connect() calls ended") -> str:
    """The same stacked bars as ``plot_outcomes``, as HTML: no matplotlib cost, so a dashboard that
    already draws a heavy figure stays fast."""
    rows = []
    for name, r in results.items():
        counts = r.outcomes()
        total = max(1, len(r.clients))
        cells = "".join(
            f"<div title='{html.escape(OUTCOME_TEXT[o])}: {counts[o]}' style='width:{100 * counts[o] / total:.2f}%;"
            f"background:{colour};color:#000;text-align:center;font-size:11px;overflow:hidden;white-space:nowrap'>"
            f"{counts[o]}</div>"
            for o, colour in OUTCOME_COLOURS.items() if counts.get(o))
        rows.append(f"<div style='display:flex;align-items:center;margin:2px 0'><div style='width:110px;"
                    f"font-size:12px'>{html.escape(name)}</div><div style='display:flex;width:560px;"
                    f"border:1px solid #ccc'>{cells}</div></div>")
    used = {o for r in results.values() for o in r.outcomes()}
    legend = " ".join(f"<span style='background:{colour};padding:0 6px;margin-right:2px'>&nbsp;</span>"
                      f"<span style='font-size:11px;margin-right:10px'>{html.escape(OUTCOME_TEXT[o])}</span>"
                      for o, colour in OUTCOME_COLOURS.items() if o in used)
    return (f"<div style='margin:4px 0'><b style='font-size:13px'>{html.escape(title)}</b>{''.join(rows)}"
            f"<div>{legend}</div></div>")
