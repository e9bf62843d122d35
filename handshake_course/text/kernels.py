"""The modelled kernels as text: what changed between neighbouring profiles, and which profile a
distribution's kernel gets."""

from __future__ import annotations

from itertools import pairwise

from ..model import VERSIONS, match_release
from ..model.kernels import RECORDS, changes
from ..model.releases import DISTRIBUTIONS


def _shown(value: object) -> str:
    return "absent" if value is None else str(value)


def profile_changes(versions: tuple[str, ...] = VERSIONS) -> str:
    """For each pair of neighbouring profiles, every setting and fact that differs, with the newer
    record's source (file:line in that release, or the commit)."""
    blocks = []
    for older, newer in pairwise(versions):
        found = changes(older, newer)
        head = f"{older} -> {newer} ({RECORDS[newer].release})"
        if not found:
            blocks.append(f"{head}: nothing the model sees")
            continue
        lines = [f"  {c.name}: {_shown(c.before)} -> {_shown(c.after)}   [{c.source}]" for c in found]
        blocks.append("\n".join([head + ":", *lines]))
    return "\n".join(blocks)


def distribution_table() -> str:
    """Distribution, its kernel's ``uname -r``, the profile ``match_release`` gives it, and the note."""
    rows = []
    for distribution, release in DISTRIBUTIONS:
        match = match_release(release)
        exact = "" if match.exact else "  (nearest older)"
        rows.append(f"{distribution:<30} {release:<32} {match.version}{exact}")
    return "\n".join([f"{'distribution':<30} {'uname -r':<32} profile", *rows])
