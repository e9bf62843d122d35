"""Ephemeral ports (model/ports.py) are found by search, not by walking the range: the allocator must
pick exactly the port the kernel's walk picks, and move the hint or the perturbation table by exactly
the steps that walk takes. The reference below is the walk of __inet_hash_connect as the kernel
writes it (3.10 and 4.4: net/ipv4/inet_hashtables.c, the hint loops; 4.6+: the even-first loop with
`port -= remaining` past the end), checked on random sequences of connect() and close over
ranges that fill up, even and odd sized, for every port rule."""

from __future__ import annotations

import random

import pytest

from handshake_course import Kernel
from handshake_course.model.ports import PortAllocator


class KernelWalk(PortAllocator):
    """The same allocator (the same hash, hint and perturbed start), choosing ports by walking the
    range as the kernel's loops do."""

    def _hint_scan(self, now_us: int) -> int | None:
        remaining = self.high - self.low + 1
        offset = (self.hint + self._port_offset(now_us)) & 0xFFFFFFFF
        for i in range(1, remaining + 1):
            port = self.low + (i + offset) % remaining
            if port not in self.used:
                self.hint = (self.hint + i) & 0xFFFFFFFF
                return port
        return None

    def _hint_even_scan(self, now_us: int) -> int | None:
        remaining = self.high - self.low + 1
        offset = (self.hint + self._port_offset(now_us)) & 0xFFFFFFFE
        for i in range(remaining):
            port = self.low + (i + offset) % remaining
            if port not in self.used:
                self.hint = (self.hint + ((i + 2) & ~1)) & 0xFFFFFFFF
                return port
        return None

    def _even_first(self, now_us: int) -> int | None:
        index, offset, remaining = self._perturbed_start(now_us)
        high = self.high + 1
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

    def release(self, port: int | None) -> None:
        self.used.discard(port)  # type: ignore[arg-type]


RULES = ["hint", "hint_even", "even_first", "even_first_random"]
RANGES = [(40000, 40000), (40000, 40001), (40000, 40009), (40000, 40010), (40001, 40030), (32768, 33023),
          (40001, 41001)]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("port_range", RANGES, ids=lambda r: f"{r[0]}-{r[1]}")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_search_picks_the_kernels_port_and_steps(rule, port_range, seed):
    kernel = Kernel("6.18", port_selection=rule, ip_local_port_range=port_range)
    ours, walk = PortAllocator(kernel, seed), KernelWalk(kernel, seed)
    ops = random.Random(f"ops:{rule}:{port_range}:{seed}")
    held: list[int] = []
    size = port_range[1] - port_range[0] + 1
    for step in range(3 * size + 20):
        now = step * 700_000  # crosses the 10 s re-salt of the 6.x hash several times
        if held and ops.random() < 0.3:  # a connection closes (a failed connect() frees its port)
            port = held.pop(ops.randrange(len(held)))
            ours.release(port)
            walk.release(port)
            continue
        got, want = ours.connect(now), walk.connect(now)
        assert got == want, (step, rule, port_range)
        assert (ours.hint, ours.table) == (walk.hint, walk.table), step
        if got is not None:
            held.append(got)


def test_a_full_default_range_costs_a_search_not_a_walk():
    # 28,232 ports (32768-60999), all taken: the next connect() fails at once with EADDRNOTAVAIL,
    # and the allocator's free lists are empty (what a walk would have visited one by one).
    kernel = Kernel("6.18")
    ports = PortAllocator(kernel, 1)
    taken = [ports.connect(0) for _ in range(28_232)]
    assert None not in taken and len(set(taken)) == 28_232
    assert ports.connect(0) is None
    assert ports.free is not None and all(not free for free in ports.free)
