"""What the server's shell shows during a run: ``nstat``, ``dmesg`` and ``ss -lnt``, as those
commands print them (with their prompt), for exhibits and reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import Result


def nstat(counters: dict[str, int] | object, title: str = "") -> str:
    """Non-zero counters as ``nstat`` prints them."""
    rows = [(name, value) for name, value in dict(counters).items() if value]  # type: ignore[call-overload]
    head = f"$ nstat{title}\n#kernel"
    return "\n".join([head] + [f"{name:<32}{value:<19}0.0" for name, value in rows])


def log_lines(result: Result) -> list[str]:
    """The kernel log of a run as ``dmesg`` prints it: ``[seconds.micros] message``."""
    return [f"[{t:12.6f}] {text}" for t, text in result.log]


def dmesg(result: Result) -> str:
    """``dmesg | grep TCP`` during the run."""
    lines = log_lines(result)
    return "$ dmesg | grep TCP\n" + ("\n".join(lines) if lines else "(nothing)")


def ss(result: Result, t: float) -> str:
    """``ss -lnt`` for the listener at time ``t``."""
    return f"$ ss -lnt 'sport = :8080'    # at t = {t:g} s\n{result.ss(t)}"
