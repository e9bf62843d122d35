"""Attacks on the grader, each graded for real in its sandbox.

The threat model (handshake_course/grader/autograde.py): a submission may run any code, and must
not raise its own score beyond what its answers earn, lower anyone else's, read the answers, read
or change anything outside its own copy, reach the network, outlive its run, or exhaust the
machine. So every attack below ends with the fair score (8/8 when the notebook's answers are
right, 0 when it did no work) and with nothing outside its copy changed: the ``untouched`` fixture
records size and modification time of every file the attacks aim at (the package with its answer
key, site-packages, the course's exercises, the real HOME's IPython folder, the other
submissions) and compares them after the run.

Needs bubblewrap (./run-tests installs it as root); skipped with the reason elsewhere.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from learners import ROOT, SLUG, SOURCE, by_question, graded, notes_text, submission, write

from handshake_course.grader.autograde import grade
from handshake_course.grader.limits import Limits
from handshake_course.grader.sandbox import key_dir, package_dir, why_unavailable

pytestmark = pytest.mark.slow  # every test grades a notebook in a kernel of its own

NEEDS_SANDBOX = pytest.mark.skipif(bool(why_unavailable()), reason=f"needs the grading sandbox: {why_unavailable()}")

# Generous limits: a cell that is not the attack's point must not time out on a busy machine.
LIMITS = Limits(cell=20, notebook=120, probe=20, startup=60, restarts=1)
SITE = Path(sysconfig.get_paths()["purelib"])
IPYTHON_HOME = Path.home() / ".ipython"
STARTUP = IPYTHON_HOME / "profile_default" / "startup"  # what runs in every IPython kernel of this user


def snapshot(paths: list[Path]) -> dict[str, tuple[int, int]]:
    """Every file under ``paths``: (size, mtime in ns); missing paths are simply absent."""
    found = {}
    for base in paths:
        for path in [base, *base.rglob("*")] if base.is_dir() else [base]:
            if path.exists() and "__pycache__" not in path.parts:
                info = path.stat()
                found[str(path)] = (info.st_size, info.st_mtime_ns)
    return found


@pytest.fixture
def untouched() -> Iterator[dict[Path, bytes]]:
    """Asserts, after the test, that nothing the attacks aim at changed; a test adds the files of
    its other learners with ``keep``."""
    watched = [package_dir(), ROOT / "exercises", STARTUP, SITE / "sitecustomize.py",
               SITE / "usercustomize.py", SITE / "hc-attack.pth"]
    before = snapshot(watched)
    site_listing = sorted(p.name for p in SITE.iterdir())
    contents: dict[Path, bytes] = {}
    yield contents
    assert snapshot(watched) == before
    assert sorted(p.name for p in SITE.iterdir()) == site_listing
    for path, content in contents.items():
        assert path.read_bytes() == content, f"{path} was changed"


def keep(untouched: dict[Path, bytes], *paths: Path) -> None:
    """Ask ``untouched`` to check that these files keep their current content."""
    untouched.update({p: p.read_bytes() for p in paths})


def running_with(marker: str) -> list[int]:
    """PIDs of this machine's processes whose command line holds ``marker``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if marker.encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def bubblewrap_works_here() -> str | None:
    """Why bubblewrap itself cannot make a user namespace here (not installed, not Linux, user
    namespaces off), or None if it can."""
    if not sys.platform.startswith("linux") or shutil.which("bwrap") is None:
        return "bubblewrap is not installed"
    run = subprocess.run(["bwrap", "--unshare-all", "--unshare-user", "--ro-bind", "/", "/", "true"],
                         capture_output=True, text=True, timeout=60)
    return None if run.returncode == 0 else f"bubblewrap cannot run here: {run.stderr.strip()}"


def test_the_sandbox_runs_wherever_bubblewrap_does():
    """Not a skip but a failure: where bubblewrap works, the grader's own sandbox must start (a
    mount that hides the package, say, would otherwise skip every test of this module)."""
    if reason := bubblewrap_works_here():
        pytest.skip(reason)
    assert why_unavailable() is None


# ---- writing and reading outside its copy ---------------------------------------------------------------

@NEEDS_SANDBOX
def test_writes_outside_its_copy_all_fail(tmp_path, untouched):
    sibling = write(tmp_path / "bob" / f"{SLUG}.ipynb", submission(solved=True))
    keep(untouched, sibling)
    targets = [SITE / "sitecustomize.py", SITE / "hc-attack.pth", package_dir() / "grader" / "checks.py",
               key_dir() / "catalog.py", STARTUP / "00-attack.py",
               SOURCE, ROOT / "exercises" / "release" / SLUG / f"{SLUG}.ipynb", sibling]
    attack = (f"written = []\nfor target in {[str(t) for t in targets]!r}:\n    try:\n"
              "        with open(target, 'a') as f:\n            f.write('import os  # attack')\n"
              "        written.append(target)\n    except OSError:\n        pass\n"
              "assert not written, written")
    s = graded(tmp_path / "alice", submission(solved=True, before_answers=(attack,)), limits=LIMITS)
    assert (s.points, s.status) == (8, "graded")
    assert "raised" not in notes_text(s)  # every write failed, so the attack's own assert held


@NEEDS_SANDBOX
def test_the_answers_are_out_of_reach(tmp_path, untouched):
    """A notebook that did no work but takes its answers from the instructor's source notebook or
    from the grader's answer key scores what it earned: nothing."""
    steal = (f"import json\nnb = json.load(open({str(SOURCE)!r}))\n"
             "exec(''.join(c['source']) for c in nb['cells'] if 'q1 =' in ''.join(c['source']))")
    use_key = ("from handshake_course.grader.key import EXERCISES\n"
               "q2 = EXERCISES['ex01'].questions[1].expected()\n"
               "from handshake_course.grader import checks\nq3 = checks.lookup('ex01', 'q3')[1].expected()")
    s = graded(tmp_path, submission(at_end=(steal, use_key)), limits=LIMITS)
    assert s.points == 0
    notes = notes_text(s)
    assert "raised FileNotFoundError" in notes  # exercises/source is not in the sandbox
    assert "raised ImportError: cannot import name 'EXERCISES'" in notes  # the key folder is empty there


# ---- the network ------------------------------------------------------------------------------------------

@NEEDS_SANDBOX
def test_no_network_not_even_the_graders_loopback(tmp_path, untouched):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list[object] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                accepted.append(listener.accept())
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    attack = (f"import socket\nreached = []\nfor host in ('127.0.0.1', 'localhost', '::1'):\n    try:\n"
              f"        socket.create_connection((host, {port}), timeout=3)\n        reached.append(host)\n"
              "    except OSError:\n        pass\nassert not reached, reached")
    try:
        s = graded(tmp_path, submission(solved=True, before_answers=(attack,)), limits=LIMITS)
    finally:
        done.set()
        thread.join(5)
        listener.close()
    assert accepted == []
    assert (s.points, "raised" in notes_text(s)) == (8, False)


@NEEDS_SANDBOX
def test_the_graders_environment_is_not_the_notebooks(tmp_path, monkeypatch):
    monkeypatch.setenv("HC_INSTRUCTOR_TOKEN", "s3cret")
    attack = ("import os\nseen = {k: v for k, v in os.environ.items() if 's3cret' in v or k.startswith('HC_')}\n"
              "assert not seen, seen\nassert os.environ['HOME'] != " + repr(str(Path.home())))
    s = graded(tmp_path, submission(solved=True, before_answers=(attack,)), limits=LIMITS)
    assert (s.points, s.notes) == (8, [])


# ---- processes ------------------------------------------------------------------------------------------------

@NEEDS_SANDBOX
def test_no_process_outlives_the_run(tmp_path, untouched):
    marker = f"hc-attack-{secrets.token_hex(6)}"
    sleeper = f"[sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}]"
    attack = ("import subprocess, sys\nkids = []\nfor _ in range(50):\n    try:\n"
              f"        kids.append(subprocess.Popen({sleeper}))\n    except OSError:\n        break\n"
              f"subprocess.Popen({sleeper}, start_new_session=True)\n"
              f"subprocess.Popen(['setsid', '-f', sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}])")
    s = graded(tmp_path, submission(solved=True, before_answers=(attack,)), limits=LIMITS)
    assert s.points == 8
    deadline = time.monotonic() + 10  # the PID namespace is torn down as the sandbox exits
    while running_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running_with(marker) == []


@NEEDS_SANDBOX
def test_killing_its_parent_or_everything_it_sees_harms_no_one(tmp_path, untouched):
    kill_parent = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"
    kill_all = "import os, signal\nos.kill(-1, signal.SIGKILL)"
    s = graded(tmp_path, submission(solved=True, before_answers=(kill_parent, kill_all)), limits=LIMITS)
    assert (s.points, s.status) == (8, "graded")
    # kill(-1) signals every process it may except itself and its namespace's init: in the
    # sandbox there is none, so it fails; the parent (the sandbox's init) ignores the SIGKILL
    assert notes_text(s) == "cell 5 raised ProcessLookupError: [Errno 3] No such process"


@NEEDS_SANDBOX
def test_memory_past_the_limit_costs_only_that_cell(tmp_path, untouched):
    hog = "hog = bytearray(3 * 1024 ** 3)"
    s = graded(tmp_path, submission(solved=True, before_answers=(hog,)), limits=replace(LIMITS, memory=1024))
    assert s.points == 8
    assert "raised MemoryError" in notes_text(s)


@NEEDS_SANDBOX
def test_exit_and_quit_cost_an_honest_notebook_nothing(tmp_path):
    nb = submission(solved=True)
    answers = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution")]
    nb.cells[answers[0]].source += "\nexit()"
    nb.cells[answers[2]].source += "\nquit()"
    s = graded(tmp_path, nb, limits=LIMITS)
    assert (s.points, s.notes) == (8, [])


# ---- a folder of learners ----------------------------------------------------------------------------------------

@NEEDS_SANDBOX
def test_a_folder_run_keeps_learners_apart(tmp_path, untouched):
    """Mallory copies Bob's answers, overwrites Carol's notebook, breaks the grader's probe,
    leaves a child behind to rewrite the gradebook, and kills the grader; Bob and Carol keep their
    8/8, Mallory gets what she earned (0), and the gradebook stays as the grader wrote it."""
    folder = tmp_path / "submitted"
    bob = write(folder / "bob" / f"{SLUG}.ipynb", submission(solved=True))
    carol = write(folder / "carol" / f"{SLUG}.ipynb", submission(solved=True))
    book = tmp_path / "gradebook.csv"
    marker = f"hc-attack-{secrets.token_hex(6)}"
    mallory = submission(at_end=(
        f"import json\nfor c in json.load(open({str(bob)!r}))['cells']:\n    exec(''.join(c['source']))",
        f"open({str(carol)!r}, 'w').write('{{}}')",
        "import handshake_course.grader.probe as p\np.collect = lambda *a, **k: None\np.answer = lambda *a: {}\n"
        f"open({str(package_dir() / 'grader' / 'probe.py')!r}, 'a').write('\\ncollect = None')",
        f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(4); "
        f"open({str(book)!r}, \"w\").write(\"mallory,8\")', {marker!r}], start_new_session=True)",
        f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)",
    ))
    write(folder / "mallory" / f"{SLUG}.ipynb", mallory)
    keep(untouched, bob, carol)
    report = grade(folder, limits=LIMITS, jobs=2, journal=tmp_path / "journal.jsonl")
    report.write_csv(book)
    written = book.read_bytes()
    assert {(s.student, s.points) for s in report.submissions} == {("bob", 8), ("carol", 8), ("mallory", 0)}
    time.sleep(5)  # longer than Mallory's child would have waited
    assert book.read_bytes() == written and running_with(marker) == []
    rows = {r["student"]: r["points"] for r in csv.DictReader(book.open(encoding="utf-8"))}
    assert rows == {"bob": "8", "carol": "8", "mallory": "0"}


@NEEDS_SANDBOX
def test_an_interrupted_run_resumes_from_its_journal(tmp_path):
    folder = tmp_path / "submitted"
    for student in ("ann", "ben", "cid"):
        write(folder / student / f"{SLUG}.ipynb", submission(solved=student != "ben"))
    journal = tmp_path / "journal.jsonl"
    first = grade(folder, limits=LIMITS, journal=journal)
    lines = journal.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    journal.write_text("\n".join(lines[:2]) + "\n" + lines[2][:40], encoding="utf-8")  # killed while writing cid
    write(folder / "ben" / f"{SLUG}.ipynb", submission(solved=True))  # ben hands in again
    graded_again: list[str] = []
    second = grade(folder, limits=LIMITS, journal=journal, resume=True,
                   progress=lambda done, total, g: graded_again.append(g.student))
    points = {s.student: s.points for s in second.submissions}
    assert points == {"ann": 8, "ben": 8, "cid": 8} and {s.student: s.points for s in first.submissions}["ben"] == 0
    assert any("1 grades taken from the journal" in n for n in second.notes)  # ann only: ben changed, cid cut short
    assert sorted(graded_again) == ["ann", "ben", "cid"]


@NEEDS_SANDBOX
def test_links_and_special_files_are_refused(tmp_path, untouched):
    folder = tmp_path / "submitted"
    (folder / "eve").mkdir(parents=True)
    (folder / "eve" / f"{SLUG}.ipynb").symlink_to(SOURCE)  # the instructor's solution
    (folder / "fred").symlink_to(SOURCE.parent, target_is_directory=True)
    os.mkfifo(folder / f"{SLUG}_pipe.ipynb")
    report = grade(folder, limits=LIMITS)
    by_student = {s.student: s for s in report.submissions}
    assert (by_student["eve"].status, by_student["eve"].points) == ("refused", 0)
    assert "a symbolic link" in by_student["eve"].notes[0]
    assert (by_student[f"{SLUG}_pipe"].status, by_student[f"{SLUG}_pipe"].notes) == ("refused",
                                                                                  ["refused: not a regular file"])
    assert "skipped fred: a symbolic link to a folder" in report.notes
    assert "fred" not in by_student


# ---- what the grader reads and writes -------------------------------------------------------------------------------

GRADE_AND_MEASURE = """
import json, sys
from handshake_course.grader.autograde import grade
from handshake_course.grader.limits import Limits
report = grade(sys.argv[1], limits=Limits(cell=30, notebook=120, probe=20))
peak = int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])
print(json.dumps({"peak_kib": peak, "report": report.as_dict()}))
"""


def grade_in_a_process(path: Path) -> tuple[int, dict]:
    run = subprocess.run([sys.executable, "-c", GRADE_AND_MEASURE, str(path)], capture_output=True, text=True,
                         timeout=600, check=True)
    data = json.loads(run.stdout)
    return data["peak_kib"], data["report"]["submissions"][0]


@NEEDS_SANDBOX
def test_the_graders_memory_stays_bounded_whatever_the_notebook_prints(tmp_path, untouched):
    """200 MB printed by an honest notebook (cut in the kernel, the answers after it intact), 200 MB
    by one that removed that cut first (dropped by the grader), and a 4 MB cell: the grader's own
    peak memory stays far below any of them. Measured in a process of its own (VmHWM)."""
    honest = submission(solved=True, before_answers=("print('x' * 200_000_000)",))
    path = write(tmp_path / "honest" / f"{SLUG}.ipynb", honest)
    peak, s = grade_in_a_process(path)
    assert (s["points"], peak < 300_000) == (8, True), (s, peak)
    hostile = submission(solved=True, at_end=(
        "s = get_ipython().kernel.session\ns.send = type(s).send.__get__(s)\nprint('x' * 200_000_000)",
        "x = 1  # " + "y" * 4_000_000))
    peak, s = grade_in_a_process(write(tmp_path / "hostile" / f"{SLUG}.ipynb", hostile))
    assert peak < 300_000, peak
    assert s["points"] == 8  # the answers are collected over fresh channels
    assert any("4,000,0" in n and "not run" in n for n in s["notes"])


@NEEDS_SANDBOX
def test_texts_from_a_submission_cannot_forge_the_table_or_the_gradebook(tmp_path):
    forged = "raise ValueError('oops\\nmallory.ipynb  ex01      8/8  graded')"
    path = write(tmp_path / "submitted" / f"=HYPERLINK(1)_{SLUG}.ipynb", submission(before_answers=(forged,)))
    report = grade(path.parent, limits=LIMITS)
    table = report.table()
    assert not any(line.startswith("mallory") for line in table.splitlines())
    assert "oops\\nmallory.ipynb" in table  # shown, escaped, on the note's own line
    book = tmp_path / "gradebook.csv"
    report.write_csv(book)
    row = next(csv.DictReader(book.open(encoding="utf-8")))
    assert row["student"].startswith("'=") and row["submission"].startswith("'=")


@NEEDS_SANDBOX
def test_malformed_metadata_and_strings_for_numbers(tmp_path):
    nb = submission(solved=True)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex01-q1-answer")
    answer.source = 'q1 = "129"'
    nb.cells[0].metadata["nbgrader"] = None
    s = graded(tmp_path, nbformat.writes(nb), limits=LIMITS)
    q1 = by_question(s)["q1"]
    assert (s.status, s.points, q1.status) == ("graded", 7, "wrong")
    assert "should be a number" in q1.message and "a string" in q1.message
