"""nftables rules that drop handshake packets inside one namespace.

The model's ``Scenario.drop`` and ``Scenario.loss`` say which packets never arrive; these helpers
make the real network behave the same way. Rules live in a table ``inet hsc`` of the experiment's
own namespace, so they vanish with the namespace; ``clear`` removes them earlier.

Where a rule sits matters for what the capture sees: a packet socket on the veth sees incoming
packets before the ``input`` hook and outgoing ones after ``output``. Dropping a SYN-ACK in the
client's ``input`` chain therefore still shows it in the client's capture (sent, then lost).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .netns import ns_run

TABLE = "hsc"

SYN_ACK = "tcp flags & (syn | ack) == syn | ack"
FINAL_ACK = "tcp flags & (syn | ack | rst) == ack"  # the handshake's last ACK, and any later ACK
RST = "tcp flags & rst == rst"
PURE_ACK = "tcp flags == ack"  # an ACK and nothing else: no SYN, FIN, RST, or PSH (a request carries PSH)


def apply(ns: str, input_rules: Sequence[str] = (), output_rules: Sequence[str] = ()) -> str:
    """Replace the lab table of `ns` with one input and one output chain holding these rules.

    Each rule is an nftables expression ending in a verdict, e.g. ``"tcp dport 8080 drop"``.
    Returns the ruleset text that was loaded (for the experiment's record).
    """
    text = (
        f"table inet {TABLE} {{}}\n"
        f"delete table inet {TABLE}\n"
        f"table inet {TABLE} {{\n"
        f"  chain input {{\n    type filter hook input priority 0; policy accept;\n"
        + "".join(f"    {r}\n" for r in input_rules)
        + "  }\n"
        "  chain output {\n    type filter hook output priority 0; policy accept;\n"
        + "".join(f"    {r}\n" for r in output_rules)
        + "  }\n}\n"
    )
    ns_run(ns, ["nft", "-f", "-"], input=text)
    return text


def clear(ns: str) -> None:
    """Remove the lab table from `ns` (no error if there is none)."""
    ns_run(ns, ["nft", "-f", "-"], input=f"table inet {TABLE} {{}}\ndelete table inet {TABLE}\n")


def drop(match: str) -> str:
    """A rule dropping every packet that matches (and counting them)."""
    return f"{match} counter drop"


def random_drop(percent: int, match: str = "meta l4proto tcp") -> str:
    """A rule dropping each matching packet independently with probability percent/100."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be from 0 to 100; got {percent}")
    return f"{match} numgen random mod 100 < {percent} counter drop"


def dropped(ns: str) -> dict[str, int]:
    """How many packets the drop rules of each chain ("input", "output") have dropped so far."""
    text = ns_run(ns, ["nft", "list", "table", "inet", TABLE])
    totals: dict[str, int] = {}
    chain = None
    for line in text.splitlines():
        m = re.match(r"\s*chain (\w+)", line)
        if m:
            chain = m.group(1)
            totals[chain] = 0
        m = re.search(r"counter packets (\d+)", line)
        if m and chain is not None:
            totals[chain] += int(m.group(1))
    return totals
