"""Ephemeral port choice in connect(), as __inet_hash_connect does it per version [facts 1.12].

The kernel keys its port hash with a boot-time secret; here the secret comes from the scenario's
seed, so the same seed picks the same ports.
"""

from __future__ import annotations

import hashlib
import random

from .profiles import Kernel

SADDR, DADDR, DPORT = "10.0.0.1", "10.0.0.2", 8080  # the modelled client host and listener
SHUFFLE_PERIOD_US = 10_000_000  # EPHEMERAL_PORT_SHUFFLE_PERIOD, 6.x: the hash is re-salted every 10 s


class PortAllocator:
    """Chooses and frees the client host's ephemeral ports."""

    def __init__(self, kernel: Kernel, seed: int) -> None:
        self.rule = kernel.port_selection
        low, high = kernel.ip_local_port_range
        self.low, self.high = low, high
        self.used: set[int] = set()
        self.secret = hashlib.sha256(f"port-secret:{seed}".encode()).digest()[:16]
        self.rng = random.Random(f"ports:{seed}")
        self.hint = 0  # 3.10: static u32 hint
        self.table: list[int] = []
        if self.rule not in ("hint", "hint_even"):  # INET_TABLE_PERTURB_SIZE slots, filled with random bytes once
            size = 256 if self.rule == "even_first" else 1 << 16
            self.table = [self.rng.getrandbits(16) for _ in range(size)]

    def _port_offset(self, now_us: int) -> int:
        """secure_ipv4_port_ephemeral(saddr, daddr, dport): a keyed hash, 64-bit and time-salted in 6.x."""
        salt = now_us // SHUFFLE_PERIOD_US if self.rule == "even_first_random" else 0
        h = hashlib.blake2b(f"{SADDR}|{DADDR}|{DPORT}|{salt}".encode(), key=self.secret, digest_size=8)
        value = int.from_bytes(h.digest(), "little")
        return value if self.rule == "even_first_random" else value & 0xFFFFFFFF

    def connect(self, now_us: int) -> int | None:
        """The port connect() binds, or None for EADDRNOTAVAIL."""
        if self.rule == "hint":
            port = self._hint_scan(now_us)
        elif self.rule == "hint_even":
            port = self._hint_even_scan(now_us)
        else:
            port = self._even_first(now_us)
        if port is not None:
            self.used.add(port)
        return port

    def release(self, port: int | None) -> None:
        self.used.discard(port)  # type: ignore[arg-type]

    def _hint_scan(self, now_us: int) -> int | None:
        """2.6.32/3.10: port = low + (i + hint + port_offset) % remaining for i = 1.., hint += i."""
        remaining = self.high - self.low + 1
        offset = (self.hint + self._port_offset(now_us)) & 0xFFFFFFFF
        for i in range(1, remaining + 1):
            port = self.low + (i + offset) % remaining
            if port not in self.used:
                self.hint = (self.hint + i) & 0xFFFFFFFF
                return port
        return None

    def _hint_even_scan(self, now_us: int) -> int | None:
        """4.4 (4.4.302 inet_hashtables.c:518-576, 07f4c90062f8): offset = (hint + port_offset) & ~1,
        port = low + (i + offset) % remaining for i = 0.., hint += (i + 2) & ~1 - an even start, so
        about half the ports stay free for bind(0)."""
        remaining = self.high - self.low + 1
        offset = (self.hint + self._port_offset(now_us)) & 0xFFFFFFFE
        for i in range(remaining):
            port = self.low + (i + offset) % remaining
            if port not in self.used:
                self.hint = (self.hint + ((i + 2) & ~1)) & 0xFFFFFFFF
                return port
        return None

    def _even_first(self, now_us: int) -> int | None:
        """4.6+: scan ports of low's parity first, step 2, from a per-destination perturbed offset;
        then the other parity. 6.x adds a random even step to the table after each success."""
        high = self.high + 1
        remaining = high - self.low
        if remaining > 1:
            remaining &= ~1
        port_offset = self._port_offset(now_us)
        if self.rule == "even_first_random":
            index = port_offset & (len(self.table) - 1)
            offset = (self.table[index] + (port_offset >> 32)) % remaining
        else:  # 5.12-5.15: index = hash_32(port_offset, 8)
            index = ((port_offset * 0x61C88647) & 0xFFFFFFFF) >> 24
            offset = (self.table[index] + port_offset) % remaining
        offset &= ~1
        while True:
            port = self.low + offset
            for i in range(0, remaining, 2):
                if port >= high:
                    port -= remaining
                if port not in self.used:
                    if self.rule == "even_first_random":
                        i = max(i, self.rng.randrange(8) * 2)
                    self.table[index] = (self.table[index] + i + 2) & 0xFFFFFFFF
                    return port
                port += 2
            offset += 1
            if not (offset & 1 and remaining > 1):
                return None
