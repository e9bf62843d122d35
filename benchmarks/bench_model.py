"""Speed and memory of the kernel model, for the two scenarios the project targets.

Run by hand:  python benchmarks/bench_model.py [--profile]
              python benchmarks/bench_model.py --against OTHER_CHECKOUT [--rounds 9]
              python benchmarks/bench_model.py --scaling [--max-clients 1000000]
              python benchmarks/bench_model.py --simpy [--pairs 5]
Each case runs in a fresh subprocess so that peak memory (ru_maxrss) is the case's own. With
``--against``, each round runs every case on this tree and on the other one (a worktree of an
earlier commit, say: ``git worktree add /tmp/before HEAD~1``), interleaved so that a busy machine
slows both alike, and prints the best wall time of each: the before-and-after of a change.
With ``--simpy`` (needs ``pip install 'handshake-course[bench]'``), each case runs ``--pairs``
times on this model and on the SimPy reference model of ``simpy_model.py``, interleaved (ours,
then SimPy, then the next pair), and prints each pair's wall times and their ratio, the minimum
and median ratio, and both models' outcomes and counters side by side (with a third column, ours
with ``timer_wheel='off'``: exact timers, as the SimPy model has), so the reader can judge that
the two did the same work.

Targets (2-core machine): (a) 10,000 clients arriving over 10 s, backlog 128, 1 % loss, accept() at
800/s: under 1 s; (b) a 60 s flood at 20,000 SYN/s against syncookies=1 with 100 legitimate clients:
under 10 s; both at least 300,000 events/s; peak memory under 500 MB.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
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
                      peak_mb=peak_mb, packets=len(result.packets), outcomes=dict(result.outcomes()),
                      counters=dict(getattr(result, "counters", {{}})))))
"""

SIMPY_CHILD = """
import json, resource, sys
sys.path.insert(0, {here!r})
import simpy_model
row = simpy_model.run({name!r})
row["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(row))
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


def run_simpy(name: str) -> dict:
    """One case of ``simpy_model.CASES`` in a fresh Python, as ``run_case`` runs ours."""
    code = SIMPY_CHILD.format(here=str(Path(__file__).resolve().parent), name=name)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir())
    return json.loads(out.stdout)


def exact_timers(expr: str) -> str:
    """The scenario of ``expr`` with the kernel's timers exactly on time, as in the SimPy model."""
    return f"(lambda s: s.replace(kernel=s.kernel.replace(timer_wheel='off')))({expr})"


def against_simpy(pairs: int) -> None:
    """Wall time of ours and of the SimPy reference model over interleaved pairs, then what each computed."""
    print("wall: simulate() / the SimPy model built, run and tallied; events: ours counts the handlers it calls "
          "(a flood SYN taken in a batch counts as one), SimPy every event it processes (simpy_model.py)\n")
    for name, expr in CASES.items():
        ours, ref = [], []
        for i in range(pairs):
            ours.append(run_case(name, expr, False))
            ref.append(run_simpy(name))
            o, r = ours[-1]["wall_s"], ref[-1]["wall_s"]
            print(f"{name:15} pair {i + 1}: ours {o:6.3f} s   SimPy {r:6.3f} s   ours/SimPy {o / r:.3f}", flush=True)
        ratios = [o["wall_s"] / r["wall_s"] for o, r in zip(ours, ref, strict=True)]
        print(f"{name:15} ours/SimPy over {pairs} pairs: min {min(ratios):.3f}  median {statistics.median(ratios):.3f}  "
              f"(SimPy {1 / statistics.median(ratios):.1f}x ours' wall time at the median)")
        exact = run_case(name, exact_timers(expr), False)
        columns = {"ours": ours[0], "ours, exact timers": exact, "SimPy": ref[0]}
        print(f"{'':15} {'events':>22}" + "".join(f"{c['events']:>20,}" for c in columns.values()))
        print(f"{'':15} {'best wall s':>22}" + "".join(f"{min(r['wall_s'] for r in rows):>20.3f}"
                                                       for rows in (ours, [exact], ref)))
        print(f"{'':15} {'peak MB':>22}" + "".join(f"{c['peak_mb']:>20.1f}" for c in columns.values()))
        print(f"{'':15} {'':>22}" + "".join(f"{label:>20}" for label in columns))
        for part in ("outcomes", "counters"):
            keys = sorted({k for c in columns.values() for k, v in c[part].items() if v})
            for k in keys:
                print(f"{'':15} {k.removeprefix('TcpExt'):>22}" + "".join(f"{c[part].get(k, 0):>20,}"
                                                                          for c in columns.values()))
        print(flush=True)


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
    parser.add_argument("--simpy", action="store_true", help="compare with the SimPy reference model (simpy_model.py)")
    parser.add_argument("--pairs", type=int, default=5, help="interleaved pairs of --simpy (default 5)")
    args = parser.parse_args()
    if args.simpy:
        if importlib.util.find_spec("simpy") is None:
            sys.exit("--simpy needs SimPy: pip install 'handshake-course[bench]' (or: pip install simpy)")
        against_simpy(args.pairs)
        return
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
