"""How long grading a class takes: ``handshake-course grade`` (each notebook in its own sandbox)
against ``nbgrader autograde`` (no sandbox), on the same folder of submissions.

Run by hand:  python benchmarks/bench_grading.py [--learners 30] [--jobs 1 2] [--json]

The folder holds ``--learners`` submissions of ex01 (solved, partly solved, wrong and untouched,
in turn), made from the release notebook as in tests/learners.py. Each grader runs once on it,
interleaved (nbgrader, then ours for each ``--jobs``, then nbgrader again, ...) ``--rounds``
times; the wall times are reported with their minimum and median, and the points of both graders
are checked to agree. Needs nbgrader (the test extra) and bubblewrap.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from learners import SLUG, WRONG, solutions, submission, write  # noqa: E402

from handshake_course.grader.autograde import grade  # noqa: E402


def learners(n: int) -> dict[str, object]:
    no_wrap = solutions()["ex01-q6-answer"].replace("backlog &= 0xFFFF", "pass")
    kinds = [submission(solved=True), submission({"ex01-q6-answer": no_wrap}), submission(WRONG), submission()]
    return {f"learner{i:03d}": kinds[i % len(kinds)] for i in range(n)}


def course_folder(base: Path, n: int) -> Path:
    course = base / "course"
    course.mkdir()
    shutil.copy(ROOT / "exercises" / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "exercises" / "source", course / "source")
    nbgrader(course, "db", "assignment", "add", SLUG)
    nbgrader(course, "generate_assignment", SLUG, "--force")
    for student, nb in learners(n).items():
        nbgrader(course, "db", "student", "add", student)
        write(course / "submitted" / student / SLUG / f"{SLUG}.ipynb", nb)
    return course


def nbgrader(course: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, check=True, capture_output=True,
                   timeout=3600)


def time_nbgrader(course: Path) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    nbgrader(course, "autograde", SLUG, "--force")
    seconds = time.perf_counter() - start
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        points = {s.id: gb.find_submission(SLUG, s.id).score for s in gb.students}
    return seconds, points


def time_ours(course: Path, jobs: int) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    report = grade(course / "submitted", jobs=jobs)
    seconds = time.perf_counter() - start
    return seconds, {s.student: float(s.points) for s in report.submissions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"nbgrader autograde": [], **{f"handshake-course grade --jobs {j}": []
                                                                  for j in args.jobs}}
    with tempfile.TemporaryDirectory(prefix="hc-bench-grading-") as tmp:
        course = course_folder(Path(tmp), args.learners)
        for _ in range(args.rounds):
            seconds, theirs = time_nbgrader(course)
            times["nbgrader autograde"].append(seconds)
            for jobs in args.jobs:
                seconds, ours = time_ours(course, jobs)
                times[f"handshake-course grade --jobs {jobs}"].append(seconds)
                assert ours == theirs, f"the graders disagree: {ours} != {theirs}"
    summary = {name: {"min_s": round(min(t), 2), "median_s": round(statistics.median(t), 2), "runs": len(t)}
               for name, t in times.items()}
    if args.json:
        print(json.dumps({"learners": args.learners, "results": summary}, indent=2))
        return
    print(f"{args.learners} submissions of {SLUG}, {args.rounds} interleaved rounds (wall time):")
    for name, s in summary.items():
        print(f"  {name:<34} min {s['min_s']:7.2f} s   median {s['median_s']:7.2f} s")


if __name__ == "__main__":
    main()
