"""Speed and memory of the kernel model, for the two scenarios the project targets.

Run by hand:  python benchmarks/bench_model.py [--profile]
Each case runs in a fresh subprocess so that peak memory (ru_maxrss) is the case's own.

Targets (2-core machine): (a) 10,000 clients arriving over 10 s, backlog 128, 1 % loss, accept() at
800/s: under 1 s; (b) a 60 s flood at 20,000 SYN/s against syncookies=1 with 100 legitimate clients:
under 10 s; both at least 300,000 events/s; peak memory under 500 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

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


def run_case(name: str, expr: str, profile: bool) -> dict:
    code = CHILD.format(expr=expr)
    if profile:
        code = "import cProfile, pstats\n" + code.replace(
            "result = simulate(scenario)",
            "pr = cProfile.Profile(); pr.enable(); result = simulate(scenario); pr.disable()\n"
            "pstats.Stats(pr, stream=sys.stderr).sort_stats('tottime').print_stats(12)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    if profile:
        print(out.stderr, file=sys.stderr)
    return {"case": name, **json.loads(out.stdout)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="print where the time goes")
    args = parser.parse_args()
    for name, expr in CASES.items():
        row = run_case(name, expr, args.profile)
        print(f"{row['case']:15} wall {row['wall_s']:6.2f} s  events {row['events']:>9,}  "
              f"{row['events_per_s']:>9,.0f} events/s  peak {row['peak_mb']:6.1f} MB  "
              f"packets {row['packets']:,}  outcomes {row['outcomes']}")
    time.sleep(0)


if __name__ == "__main__":
    main()
