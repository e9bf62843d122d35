"""Speed and memory of the kernel model, for the two scenarios the project targets.

Run by hand:  python benchmarks/bench_model.py [--profile]
              python benchmarks/bench_model.py --against OTHER_CHECKOUT [--rounds 9]
              python benchmarks/bench_model.py --scaling [--max-clients 1000000]
Each case runs in a fresh subprocess so that peak memory (ru_maxrss) is the case's own. With
``--against``, each round runs every case on this tree and on the other one (a worktree of an
earlier commit, say: ``git worktree add /tmp/before HEAD~1``), interleaved so that a busy machine
slows both alike, and prints the best wall time of each: the before-and-after of a change.

Targets (2-core machine): (a) 10,000 clients arriving over 10 s, backlog 128, 1 % loss, accept() at
800/s: under 1 s; (b) a 60 s flood at 20,000 SYN/s against syncookies=1 with 100 legitimate clients:
under 10 s; both at least 300,000 events/s; peak memory under 500 MB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "a_10k_clients": "Scenario(kernel='6.18', backlog=128, clients=[i * 0.001 for i in range(10_000)], "
                     "accept=800.0, loss=0.01, seed=1)",
    "b_flood_60s": "Scenario(kernel=Kernel('6.18', tcp_syncookies=1), backlog=128, "
                   "clients=[0.5 + i * 0.5 for i in range(100)], accept=1000.0, flood=20_000.0, "
                   "duration=60.0, seed=1)",
}

CHILD = """
import json, resource, sys, time
from handshake_course import Kernel, Scenario, simulate
scenario = {expr}
t0 = time.perf_counter()
result = simulate(scenario)
wall = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(wall_s=wall, events=result.events, events_per_s=result.events / wall,
                      peak_mb=peak_mb, packets=len(result.packets), outcomes=dict(result.outcomes()))))
"""


def run_case(name: str, expr: str, profile: bool, tree: str | None = None) -> dict:
    """One case in a fresh Python; ``tree`` (a checkout) is imported instead of the installed package."""
    code = CHILD.format(expr=expr)
    if profile:
        code = "import cProfile, pstats\n" + code.replace(
            "result = simulate(scenario)",
            "pr = cProfile.Profile(); pr.enable(); result = simulate(scenario); pr.disable()\n"
            "pstats.Stats(pr, stream=sys.stderr).sort_stats('tottime').print_stats(12)")
    env = None if tree is None else {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                         cwd=tempfile.gettempdir())
    if profile:
        print(out.stderr, file=sys.stderr)
    return {"case": name, **json.loads(out.stdout)}


SCALING = ("Scenario(kernel='6.18', backlog=4096, clients=[i / {rate} for i in range({n})], accept=1e6, "
           "duration={n} / {rate} + 1.0, seed=1)")
"""N clients arriving at 1000 per second (so the port range fills and stays full past 28,232)."""


def scaling(max_clients: int) -> None:
    """Wall time and peak memory from 1,000 clients up, and the exponent between neighbours (time ~ n^k)."""
    previous = None
    n = 1_000
    while n <= max_clients:
        row = run_case(f"{n:,} clients", SCALING.format(n=n, rate=1000), False)
        note = ""
        if previous is not None:
            note = f"  exponent {math.log(row['wall_s'] / previous[1]) / math.log(n / previous[0]):.2f}"
        print(f"{row['case']:>17} wall {row['wall_s']:7.2f} s  peak {row['peak_mb']:6.1f} MB  "
              f"{row['events_per_s']:>9,.0f} events/s{note}", flush=True)
        previous = (n, row["wall_s"])
        n *= 10


def compare(other: str, rounds: int) -> None:
    """Best wall time of every case on this tree and on ``other``, over interleaved rounds."""
    here = str(Path(__file__).resolve().parents[1])
    best: dict[tuple[str, str], float] = {}
    for _ in range(rounds):
        for tree in (other, here):
            for name, expr in CASES.items():
                wall = run_case(name, expr, False, tree)["wall_s"]
                best[tree, name] = min(best.get((tree, name), math.inf), wall)
    for name in CASES:
        before, after = best[other, name], best[here, name]
        print(f"{name:15} {other}: {before:.3f} s   this tree: {after:.3f} s   ({after / before - 1:+.1%}, "
              f"best of {rounds})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="print where the time goes")
    parser.add_argument("--against", metavar="CHECKOUT", help="compare with the package in another checkout")
    parser.add_argument("--rounds", type=int, default=9, help="rounds of --against (default 9)")
    parser.add_argument("--scaling", action="store_true", help="time and memory from 1,000 clients up")
    parser.add_argument("--max-clients", type=int, default=100_000, help="largest --scaling case (default 100000)")
    args = parser.parse_args()
    if args.scaling:
        scaling(args.max_clients)
        return
    if args.against:
        compare(str(Path(args.against).resolve()), args.rounds)
        return
    for name, expr in CASES.items():
        row = run_case(name, expr, args.profile)
        print(f"{row['case']:15} wall {row['wall_s']:6.2f} s  events {row['events']:>9,}  "
              f"{row['events_per_s']:>9,.0f} events/s  peak {row['peak_mb']:6.1f} MB  "
              f"packets {row['packets']:,}  outcomes {row['outcomes']}")
    time.sleep(0)


if __name__ == "__main__":
    main()
