"""What the machine running the lab can do: is it Linux, are we root, do network namespaces work.

Every lab function starts with one of the ``require_*`` calls below, so that on macOS, Windows or an
unprivileged Binder container it fails at once with a sentence saying why, instead of deep inside a
socket call. The module itself imports everywhere.
"""

from __future__ import annotations

import gzip
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ..model import sysctls


class LabUnavailable(RuntimeError):
    """The experiment cannot run on this machine (not Linux, not root, a tool is missing)."""


def is_linux() -> bool:
    return sys.platform.startswith("linux")


def kernel_release() -> str:
    """``uname -r`` of the running kernel, e.g. "6.18.44-fc-v669"."""
    return platform.release()


def kernel_series(release: str | None = None) -> str:
    """The "major.minor" part of a release string: "6.18.44-fc" -> "6.18"."""
    parts = (release or kernel_release()).split(".")
    return ".".join(parts[:2])


def config_hz() -> int | None:
    """CONFIG_HZ of the running kernel (from /proc/config.gz or /boot/config-*), None if unknown.

    HZ sets the jiffy (4 ms at 250) on which the TCP timers run, hence how late they fire."""
    sources = [Path("/proc/config.gz"), Path(f"/boot/config-{kernel_release()}")]
    for src in sources:
        try:
            text = gzip.decompress(src.read_bytes()).decode() if src.suffix == ".gz" else src.read_text()
        except OSError:
            continue
        m = re.search(r"^CONFIG_HZ=(\d+)$", text, re.M)
        if m:
            return int(m.group(1))
    return None


def require_linux() -> None:
    """Raise LabUnavailable unless we run on Linux (the experiments talk to the Linux TCP stack)."""
    if not is_linux():
        raise LabUnavailable(
            f"the lab measures the Linux kernel's TCP stack; this is {platform.system() or sys.platform}, "
            "so use the model (handshake_course.simulate) instead")


def privileged_reason() -> str | None:
    """None if the privileged experiments can run here, else the reason they cannot."""
    if not is_linux():
        return "not Linux"
    if os.geteuid() != 0:
        return "not root (network namespaces, nftables and sysctls need root)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"the {tool!r} command is missing"
    try:
        probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"'ip netns list' failed: {err}"
    if probe.returncode != 0:
        return f"network namespaces do not work here: {probe.stderr.strip()}"
    return None


def require_privileged() -> None:
    """Raise LabUnavailable unless we can create network namespaces, veths and nftables rules."""
    reason = privileged_reason()
    if reason is not None:
        raise LabUnavailable(f"this experiment needs root and network namespaces: {reason}")


def read_sysctl(name: str) -> str:
    """The value of a sysctl of the current network namespace, e.g. "net.core.somaxconn"."""
    path = Path("/proc/sys") / name.replace(".", "/")
    return " ".join(path.read_text().split())


def host_sysctls() -> dict[str, str]:
    """The handshake sysctls (model.SETTINGS) of the namespace we run in, those this kernel has."""
    values = {}
    for name in (s.proc for s in sysctls()):
        try:
            values[name] = read_sysctl(name)
        except OSError:
            continue
    return values
