"""Ephemeral ports (model/ports.py) are found by search, not by walking the range: the allocator must
pick exactly the port the kernel's walk picks, and move the hint or the perturbation table by exactly
the steps that walk takes. The reference below is the walk of __inet_hash_connect as the kernel
writes it (3.10 and 4.4: net/ipv4/inet_hashtables.c, the hint loops; 4.6+: the even-first loop with
`port -= remaining` past the end, from the global hint until 4.14.280, from the perturbation table
since 5.12), checked on random sequences of connect() and close over ranges that fill up, even and odd
sized, for every port rule."""

from __future__ import annotations

import random

import pytest

from handshake_course import Kernel
from handshake_course.model.ports import PortAllocator, below_8, random_u16s


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

    def _hint_even_first(self, now_us: int) -> int | None:
        # 4.14.280 net/ipv4/inet_hashtables.c:622-681, line by line
        high = self.high + 1  # :623
        remaining = high - self.low  # :624
        if remaining > 1:
            remaining &= ~1  # :625-626
        offset = ((self.hint + self._port_offset(now_us)) & 0xFFFFFFFF) % remaining  # :628, u32 sum
        offset &= ~1  # :632
        while True:  # other_parity_scan: (:633)
            port = self.low + offset  # :634
            for i in range(0, remaining, 2):  # :635
                if port >= high:
                    port -= remaining  # :636-637
                if port not in self.used:
                    self.hint = (self.hint + i + 2) & 0xFFFFFFFF  # ok: (:680-681)
                    return port
                port += 2
            offset += 1  # :674
            if not (offset & 1 and remaining > 1):  # :675-676
                return None  # :678 -EADDRNOTAVAIL

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


RULES = ["hint", "hint_even", "hint_even_first", "even_first", "even_first_random"]
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


def test_the_perturbation_table_is_drawn_at_once_as_one_draw_per_slot_would_draw_it():
    # random_u16s fills the 5.12+ table with one getrandbits call: the same values, and the generator left
    # where 65,536 calls of getrandbits(16) leave it (6.x then draws its random steps from it)
    for seed, count in ((1, 256), (2, 1 << 16), (3, 1)):
        one_by_one, at_once = random.Random(seed), random.Random(seed)
        assert random_u16s(at_once, count) == [one_by_one.getrandbits(16) for _ in range(count)]
        assert at_once.random() == one_by_one.random()


def test_the_random_step_is_drawn_as_randrange_8_draws_it():
    # 6.x's i = max(i, get_random_u32_below(8) * 2) was rng.randrange(8): below_8 gives the same values and
    # leaves the generator where randrange leaves it (it rejects draws of 4 bits that are 8 or more)
    ours, python = random.Random(5), random.Random(5)
    drawn = [below_8(ours.getrandbits) for _ in range(2000)]
    assert drawn == [python.randrange(8) for _ in range(2000)]
    assert set(drawn) == set(range(8))
    assert ours.random() == python.random()


def test_a_full_default_range_costs_a_search_not_a_walk():
    # 28,232 ports (32768-60999), all taken: the next connect() fails at once with EADDRNOTAVAIL,
    # and the allocator's free lists are empty (what a walk would have visited one by one).
    kernel = Kernel("6.18")
    ports = PortAllocator(kernel, 1)
    taken = [ports.connect(0) for _ in range(28_232)]
    assert None not in taken and len(set(taken)) == 28_232
    assert ports.connect(0) is None
    assert ports.free is not None and all(not free for free in ports.free)


class FixedOffset(PortAllocator):
    """secure_ipv4_port_ephemeral held at 7, so every number of the walk below follows from the source."""

    def _port_offset(self, now_us: int) -> int:
        return 7


def test_4_14_walks_from_the_global_hint_even_ports_first_and_moves_the_hint_by_the_steps_it_took():
    # 4.14.280 net/ipv4/inet_hashtables.c, range 40000-40009: remaining = 10 (:623-626); port_offset 7
    ports = FixedOffset(Kernel("4.14", ip_local_port_range=(40000, 40009)), 1)
    # hint 0: offset = (0 + 7) % 10 = 7 (:628), & ~1 = 6 (:632): 40006 free at i = 0, hint += i + 2 (:681)
    assert (ports.connect(0), ports.hint) == (40006, 2)
    assert (ports.connect(0), ports.hint) == (40008, 4)  # (2 + 7) % 10 = 9 -> 8
    assert (ports.connect(0), ports.hint) == (40000, 6)  # (4 + 7) % 10 = 1 -> 0
    ports.hold(40002)  # another socket has 40002
    # (6 + 7) % 10 = 3 -> 2: 40002 taken at i = 0, 40004 free at i = 2: hint += 4
    assert (ports.connect(0), ports.hint) == (40004, 10)
    # (10 + 7) % 10 = 7 -> 6: 40006, 40008, 40010 -> 40000 (:636-637), 40002, 40004 taken (i = 0..8); offset 7
    # (:674-676): 40007 free at i = 0 of the odd pass, hint += 2
    assert (ports.connect(0), ports.hint) == (40007, 12)
    ports.release(40004)
    # (12 + 7) % 10 = 9 -> 8: 40008, 40000, 40002 taken, 40004 free at i = 6: hint += 8
    assert (ports.connect(0), ports.hint) == (40004, 20)
    # (20 + 7) % 10 = 7 -> 6: every even port taken; odd pass from 7: 40007 taken, 40009 free at i = 2: hint += 4
    assert (ports.connect(0), ports.hint) == (40009, 24)
    assert [ports.connect(0) for _ in range(3)] == [40001, 40003, 40005]  # odd passes from 1, 3, 5
    assert (ports.connect(0), ports.hint) == (None, 30)  # -EADDRNOTAVAIL (:678): the hint stays


def test_4_14_port_offset_is_32_bits_and_re_salted_every_10_s():
    # 4.14.280 net/core/secure_seq.c:148-155: siphash_4u32(saddr, daddr, dport, jiffies / (10 * HZ)) as a u32
    ports = PortAllocator(Kernel("4.14"), 1)
    first = ports._port_offset(0)
    assert first == ports._port_offset(9_999_999) != ports._port_offset(10_000_000)
    assert all(0 <= ports._port_offset(t * 10_000_000) < 2**32 for t in range(20))
