"""Durations written for people, as every figure, table and message of the course shows them."""

from __future__ import annotations


def format_seconds(t: float) -> str:
    """A duration for people: ``0.2 ms``, ``350 µs``, ``1 s``, ``2 min 7 s``."""
    a = abs(t)
    if a == 0:
        return "0 s"
    if a < 1e-3:
        return f"{t * 1e6:.3g} µs"
    if a < 1:
        return f"{t * 1e3:.3g} ms"
    if a < 120:
        return f"{t:.4g} s"
    minutes, seconds = divmod(t, 60)
    return f"{minutes:.0f} min {seconds:.3g} s"
