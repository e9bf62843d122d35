"""Ephemeral port choice in connect(), as __inet_hash_connect does it per version [facts 1.12].

The kernel keys its port hash with a boot-time secret; here the secret comes from the scenario's
seed, so the same seed picks the same ports.

The kernel walks the range port by port until it finds a free one; once most ports are taken that
walk is long. The allocator finds the same port, and the same number of steps the kernel would have
walked (which moves the hint or the perturbation table), with a binary search in sorted lists of the
free positions, so a connect() costs O(log n) however full the range is
(tests/test_model_ports.py holds it to the kernel's walk, port by port).
"""

from __future__ import annotations

import hashlib
import random
import sys
from array import array
from bisect import bisect_left, insort
from collections.abc import Callable

from .profiles import Kernel

SADDR, DADDR, DPORT = "10.0.0.1", "10.0.0.2", 8080  # the modelled client host and listener
WALK = 16  # steps of the kernel's walk taken one by one before searching the free lists
SHUFFLE_PERIOD_US = 10_000_000  # EPHEMERAL_PORT_SHUFFLE_PERIOD, 6.x: the hash is re-salted every 10 s


def random_u16s(rng: random.Random, count: int) -> list[int]:
    """``[rng.getrandbits(16) for _ in range(count)]``, drawn at once: each is the high half of one 32-bit
    output of the generator, and ``getrandbits(32 * count)`` is ``count`` outputs, the first the lowest."""
    halves = array("H", rng.getrandbits(32 * count).to_bytes(4 * count, "little"))
    if sys.byteorder == "big":
        halves.byteswap()
    return halves[1::2].tolist()


def below_8(getrandbits: Callable[[int], int]) -> int:
    """``rng.randrange(8)`` without its argument checks (one call per connect() on 6.x): CPython
    draws ``(8).bit_length()`` = 4 bits until they are below 8, so the value and the generator's
    state after it are the same. The kernel's draw is get_random_u32_below(8)."""
    value = getrandbits(4)
    while value >= 8:
        value = getrandbits(4)
    return value


class PortAllocator:
    """Chooses and frees the client host's ephemeral ports."""

    def __init__(self, kernel: Kernel, seed: int) -> None:
        self.rule = kernel.port_selection
        low, high = kernel.ip_local_port_range
        self.low, self.high = low, high
        self.used: set[int] = set()
        perturbed = self.rule.startswith("even_first")  # 5.12+: a perturbation table
        self.classes = 2 if perturbed or self.rule == "hint_even_first" else 1  # 4.6+: walks of one parity
        self.free: list[list[int]] | None = None  # sorted free positions per class, once the range is crowded
        self.secret = hashlib.sha256(f"port-secret:{seed}".encode()).digest()[:16]
        self.rng = random.Random(f"ports:{seed}")
        self.hint = 0  # 3.10 to 4.14.280: static u32 hint
        self.offsets: dict[int, int] = {}  # salt -> port offset
        self.table: list[int] = []
        self.salted = self.rule in ("even_first_random", "hint_even_first")  # the hash's salt moves with time
        if perturbed:  # INET_TABLE_PERTURB_SIZE slots, filled with random bytes once
            size = 256 if self.rule == "even_first" else 1 << 16
            self.table = random_u16s(self.rng, size)

    def _port_offset(self, now_us: int) -> int:
        """secure_ipv4_port_ephemeral(saddr, daddr, dport): a keyed hash, 64-bit and time-salted in 6.x,
        32-bit and time-salted in 4.14.280 (net/core/secure_seq.c:148-155, EPHEMERAL_PORT_SHUFFLE_PERIOD
        :25) (one destination here, so one value per salt: remembered)."""
        salt = now_us // SHUFFLE_PERIOD_US if self.salted else 0
        value = self.offsets.get(salt)
        if value is None:
            value = self.offsets[salt] = self._hash_offset(salt)
        return value

    def _hash_offset(self, salt: int) -> int:
        h = hashlib.blake2b(f"{SADDR}|{DADDR}|{DPORT}|{salt}".encode(), key=self.secret, digest_size=8)
        value = int.from_bytes(h.digest(), "little")
        return value if self.rule == "even_first_random" else value & 0xFFFFFFFF

    def connect(self, now_us: int) -> int | None:
        """The port connect() binds, or None for EADDRNOTAVAIL."""
        if self.rule == "hint":
            port = self._hint_scan(now_us)
        elif self.rule == "hint_even":
            port = self._hint_even_scan(now_us)
        elif self.rule == "hint_even_first":
            port = self._hint_even_first(now_us)
        else:
            port = self._even_first(now_us)
        if port is not None:
            self.used.add(port)
        return port

    def release(self, port: int | None) -> None:
        if port in self.used:
            self.used.discard(port)
            if self.free is not None:
                position = port - self.low  # type: ignore[operator]
                insort(self.free[position % self.classes], position)

    def hold(self, port: int) -> None:
        """Take ``port`` back out of connect()'s reach: a TIME_WAIT socket whose port tcp_tw_reuse had
        let go got a new timestamp, so tcp_twsk_unique refuses it again for a while."""
        if port not in self.used:
            self.used.add(port)
            if self.free is not None:
                position = port - self.low
                free = self.free[position % self.classes]
                del free[bisect_left(free, position)]

    def _take(self, start: int, count: int, step: int, limit: int, back: int) -> tuple[int, int] | None:
        """The kernel's walk: positions q = start + step*k for k < count, each taken as q - back once
        q >= limit; returns (k, position) of the first free one, now taken. The first WALK steps are
        walked (a range with room has a free port at once); past them, a search in the free lists."""
        low, used = self.low, self.used
        walked = count if count < WALK else WALK
        q = start
        for k in range(walked):
            position = q if q < limit else q - back
            if low + position not in used:
                if self.free is not None:
                    free = self.free[position % self.classes]
                    del free[bisect_left(free, position)]
                return k, position
            q += step
        if count == walked:
            return None
        if self.free is None:  # crowded now: list what is left, once
            span = self.high - low + 1
            self.free = [[p for p in range(c, span, self.classes) if low + p not in used] for c in range(self.classes)]
        free = self.free[start % self.classes]
        segments = []
        last_a = min(count - 1, (limit - 1 - start) // step) if start < limit else -1
        if last_a >= WALK:
            segments.append((WALK, start + step * WALK, start + step * last_a))
        first_b = max(WALK, last_a + 1)
        if first_b < count:
            segments.append((first_b, start + step * first_b - back, start + step * (count - 1) - back))
        for first_k, lo, hi in segments:
            at = bisect_left(free, lo)
            if at < len(free) and free[at] <= hi:
                position = free.pop(at)
                return first_k + (position - lo) // step, position
        return None

    def _hint_scan(self, now_us: int) -> int | None:
        """2.6.32/3.10: port = low + (i + hint + port_offset) % remaining for i = 1.., hint += i."""
        remaining = self.high - self.low + 1
        offset = (self.hint + self._port_offset(now_us)) & 0xFFFFFFFF
        found = self._take((1 + offset) % remaining, remaining, 1, remaining, remaining)
        if found is None:
            return None
        i = found[0] + 1
        self.hint = (self.hint + i) & 0xFFFFFFFF
        return self.low + found[1]

    def _hint_even_scan(self, now_us: int) -> int | None:
        """4.4 (4.4.302 inet_hashtables.c:518-576, 07f4c90062f8): offset = (hint + port_offset) & ~1,
        port = low + (i + offset) % remaining for i = 0.., hint += (i + 2) & ~1 - an even start, so
        about half the ports stay free for bind(0)."""
        remaining = self.high - self.low + 1
        offset = (self.hint + self._port_offset(now_us)) & 0xFFFFFFFE
        found = self._take(offset % remaining, remaining, 1, remaining, remaining)
        if found is None:
            return None
        i = found[0]
        self.hint = (self.hint + ((i + 2) & ~1)) & 0xFFFFFFFF
        return self.low + found[1]

    def _hint_even_first(self, now_us: int) -> int | None:
        """4.6 to 4.14.280 (4.14.280 inet_hashtables.c:622-681, 1580ab63fc9a): remaining is the range
        size rounded down to even; offset = ((hint + port_offset) % remaining) & ~1 (u32 sum); ports of
        low's parity first, step 2, then the other parity; on success hint += i + 2, i the step of the
        pass that found the port."""
        remaining = self.high + 1 - self.low
        if remaining > 1:
            remaining &= ~1
        offset = (((self.hint + self._port_offset(now_us)) & 0xFFFFFFFF) % remaining) & ~1
        found = self._two_parities(offset, remaining)
        if found is None:
            return None
        k, position = found
        self.hint = (self.hint + 2 * k + 2) & 0xFFFFFFFF
        return self.low + position

    def _two_parities(self, offset: int, remaining: int) -> tuple[int, int] | None:
        """The 4.6+ walk: from even ``offset``, ports of low's parity in steps of 2, wrapping by
        ``remaining``; then from offset + 1 the other parity. (k, position) of the first free one."""
        count, limit = (remaining + 1) // 2, self.high + 1 - self.low
        if self.free is None and self.low + offset not in self.used:  # the walk's first step, free: the usual case
            found: tuple[int, int] | None = (0, offset)
        else:
            found = self._take(offset, count, 2, limit, remaining)  # low's parity first
        if found is None and remaining > 1:
            found = self._take(offset + 1, count, 2, limit, remaining)  # then the other
        return found

    def _perturbed_start(self, now_us: int) -> tuple[int, int, int]:
        """(table index, even start offset, remaining) of a 5.12+ walk: remaining is the range size
        rounded down to even; the offset comes from the destination's slot of the perturbation
        table (5.12-5.15: hash_32(port_offset, 8); 6.x: the low bits, plus the high 32 bits)."""
        remaining = self.high + 1 - self.low
        if remaining > 1:
            remaining &= ~1
        port_offset = self._port_offset(now_us)
        if self.rule == "even_first_random":
            index = port_offset & (len(self.table) - 1)
            offset = (self.table[index] + (port_offset >> 32)) % remaining
        else:
            index = ((port_offset * 0x61C88647) & 0xFFFFFFFF) >> 24
            offset = (self.table[index] + port_offset) % remaining
        return index, offset & ~1, remaining

    def _even_first(self, now_us: int) -> int | None:
        """5.12+: the 4.6+ walk (low's parity first, step 2, then the other parity) from a
        per-destination perturbed offset. 6.x adds a random even step to the table after each success."""
        index, offset, remaining = self._perturbed_start(now_us)
        found = self._two_parities(offset, remaining)
        if found is None:
            return None
        k, position = found
        i = 2 * k
        if self.rule == "even_first_random":
            i = max(i, below_8(self.rng.getrandbits) * 2)
        self.table[index] = (self.table[index] + i + 2) & 0xFFFFFFFF
        return self.low + position
