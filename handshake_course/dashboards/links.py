"""Links to the kernel source of a function, for one modelled version, on elixir.bootlin.com.

The identifier search (``/A/ident/NAME``) lists where a function is defined and used in that
release, so a learner lands on the code of exactly the kernel the dashboard simulates.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from ..model import VERSIONS

ELIXIR = "https://elixir.bootlin.com/linux"
TAGS: dict[str, str] = {v: f"v{v}" for v in VERSIONS}
"""The elixir tag of each modelled version (v2.6.32, v3.10, v5.15, v6.18)."""


def source_url(version: str, ident: str) -> str:
    """The elixir identifier page of `ident` in Linux `version`.

    >>> source_url("6.18", "tcp_conn_request")
    'https://elixir.bootlin.com/linux/v6.18/A/ident/tcp_conn_request'
    """
    if version not in TAGS:
        raise ValueError(f"version must be one of {', '.join(VERSIONS)}; got {version!r}")
    return f"{ELIXIR}/{TAGS[version]}/A/ident/{ident}"


def linked_path(version: str, path: Sequence[str]) -> str:
    """A function path as HTML, each function a link to its source in `version`."""
    return " &rarr; ".join(
        f"<a href='{source_url(version, fn)}' target='_blank'><code>{html.escape(fn)}</code></a>" for fn in path)


def source_table(functions: Iterable[str], versions: Sequence[str] = VERSIONS) -> str:
    """An HTML table: one row per function, one link per version."""
    head = "".join(f"<th>{html.escape(v)}</th>" for v in versions)
    rows = []
    for fn in functions:
        cells = "".join(f"<td><a href='{source_url(v, fn)}' target='_blank'>{TAGS[v]}</a></td>" for v in versions)
        rows.append(f"<tr><td><code>{html.escape(fn)}</code></td>{cells}</tr>")
    return f"<table><tr><th>function</th>{head}</tr>{''.join(rows)}</table>"
