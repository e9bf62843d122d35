"""The autograder on correct, wrong, partly correct, broken and tampered submissions (made from
ex01's release notebook by ``learners``). Attacks on the grader itself are in
test_grader_security.py.
"""

from __future__ import annotations

import argparse
import csv
import json

import nbformat
import pytest
from learners import SANDBOX, SLUG, WRONG, by_question, graded, notes_text, solutions, submission

from handshake_course.grader import probe, release
from handshake_course.grader import submission as one_submission
from handshake_course.grader.__main__ import main
from handshake_course.grader.autograde import NO_SANDBOX as NO_SANDBOX_NOTE
from handshake_course.grader.autograde import grade
from handshake_course.grader.cli import register
from handshake_course.grader.limits import Limits

NO_SANDBOX = [] if SANDBOX else ["--no-sandbox"]


# ---- scoring ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_correct_submission_earns_full_marks(tmp_path):
    s = graded(tmp_path, submission(solved=True))
    assert (s.status, s.points, s.max_points) == ("graded", 8, 8)
    assert all(f.status == "correct" for f in s.questions)
    assert s.notes == []


@pytest.mark.slow
def test_untouched_release_scores_zero_not_answered(tmp_path):
    s = graded(tmp_path, submission())
    assert (s.status, s.points) == ("graded", 0)
    assert all(f.status == "not answered yet" for f in s.questions)
    assert s.notes == []


@pytest.mark.slow
def test_wrong_answers_say_what_is_wrong_without_the_answer(tmp_path):
    s = graded(tmp_path, submission(WRONG))
    q = by_question(s)
    assert s.points == 0
    assert all(f.status == "wrong" for f in s.questions)
    assert "sk_acceptq_is_full" in q["q1"].message and "Re-read lesson 01" in q["q1"].message
    assert "should be a number" in q["q3"].message
    assert "returned 128" in q["q6"].message
    for f in s.questions:
        assert "129" not in f.message  # the right answer of q1 and q3 is never shown


@pytest.mark.slow
def test_partly_correct_submission_gets_partial_points(tmp_path):
    no_wrap = solutions()["ex01-q6-answer"].replace("backlog &= 0xFFFF", "pass")
    s = graded(tmp_path, submission({"ex01-q1-answer": solutions()["ex01-q1-answer"],
                                     "ex01-q2-answer": "q2 = 128", "ex01-q6-answer": no_wrap}))
    q = by_question(s)
    assert s.points == 1 + 1 + 2
    assert q["q6"].status == "partly correct" and q["q6"].points == 2
    assert "16-bit" in q["q6"].message
    assert q["q3"].status == "not answered yet"


@pytest.mark.slow
def test_objects_that_claim_to_equal_anything_gain_nothing(tmp_path):
    liar = "class Liar:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
    s = graded(tmp_path, submission({
        "ex01-q1-answer": liar + "q1 = Liar()",
        "ex01-q6-answer": liar + "def accept_queue_capacity(backlog, somaxconn, width):\n    return Liar()"}))
    q = by_question(s)
    assert q["q1"].status == "wrong" and "a Liar object" in q["q1"].message
    assert q["q6"].points == 0 and "Liar" in q["q6"].message


# ---- broken notebooks ----------------------------------------------------------------------------

@pytest.mark.slow
def test_cells_that_raise_cost_only_their_own_answers(tmp_path):
    raising = solutions()["ex01-q6-answer"].replace(
        "    if backlog < 0", "    if backlog < 0:\n        raise ValueError('negative')\n    if backlog < 0")
    s = graded(tmp_path, submission({"ex01-q1-answer": "q1 = 1 / 0", "ex01-q6-answer": raising}, solved=True))
    q = by_question(s)
    assert q["q1"].status == "error"  # reported as raising, with the exception, not as "not answered yet"
    assert "(ex01-q1-answer), which sets `q1`, raised ZeroDivisionError: division by zero" in q["q1"].message
    assert q["q6"].points == 1 and "raised ValueError: negative" in q["q6"].message
    assert s.points == 4 + 1
    assert "(ex01-q1-answer) raised ZeroDivisionError: division by zero" in notes_text(s)


@pytest.mark.slow
def test_infinite_loops_are_interrupted(tmp_path):
    looping = "def accept_queue_capacity(backlog, somaxconn, width):\n    while width == 16:\n        pass\n    return backlog + 1"
    s = graded(tmp_path, submission({"ex01-q6-answer": looping}, solved=True, before_answers=("while True:\n    pass",)))
    q = by_question(s)
    assert "stopped after the 2 s time limit" in notes_text(s)
    assert s.points == 5  # every value answer after the loop still ran
    assert "ran longer than 2 s" in q["q6"].message


@pytest.mark.slow
def test_a_loop_that_ignores_interrupts_gets_a_fresh_kernel(tmp_path):
    stubborn = "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"
    s = graded(tmp_path, submission(solved=True, before_answers=(stubborn,)))
    assert s.points == 8
    assert "did not stop when interrupted" in notes_text(s)
    assert "started a new kernel" in notes_text(s)


@pytest.mark.slow
def test_a_notebook_that_kills_its_kernel_is_graded_without_that_cell(tmp_path):
    s = graded(tmp_path, submission(solved=True, before_answers=("import os\nos._exit(3)",)))
    assert s.points == 8
    assert "the kernel died" in notes_text(s)


@pytest.mark.slow
def test_the_notebook_time_budget(tmp_path):
    sleepy = ("import time\ntime.sleep(10)",) * 2
    s = graded(tmp_path, submission(solved=True, before_answers=sleepy), limits=Limits(cell=2, notebook=3, probe=5))
    assert s.points == 0
    assert "time budget ran out" in notes_text(s)


# ---- tampering ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_deleted_check_cells_do_not_change_the_grade(tmp_path):
    s = graded(tmp_path, submission(solved=True, drop_checks=True))
    assert s.points == 8
    assert "check cells deleted: ex01-q1-check" in notes_text(s)


@pytest.mark.slow
def test_redefined_check_and_printed_scores_are_ignored(tmp_path):
    fake = ('def check(*args):\n    print("ex01 q1: 1/1 point - correct. Well done.")\n'
            'score = lambda *args: None\nprint("Score: 100/100")\ngrade = "A+"')
    nb = submission(WRONG, before_answers=(fake,))
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex01-q2-check").source = \
        'print("8/8 points")'
    s = graded(tmp_path, nb)
    notes = notes_text(s)
    assert s.points == 0
    assert "redefines `check`" in notes and "redefines `score`" in notes
    assert "printed 'Score: 100/100'" in notes
    assert "check cells edited: ex01-q2-check" in notes


def test_without_the_release_notebook_check_cells_are_taken_at_their_word(monkeypatch, tmp_path):
    """A broken installation (the packaged release notebook missing) is said so once, and an honest
    check cell's printed points raise no false note."""
    from handshake_course.grader.key import EXERCISES

    monkeypatch.setattr(one_submission.course, "exercise_notebook", lambda slug: tmp_path / "missing.ipynb")
    nb = submission(solved=True)
    notes, untouched = one_submission.check_cell_notes(nb, EXERCISES["ex01"])
    checks = {i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade")}
    assert notes == [f"check cells not compared with the release notebook of {SLUG}: it is missing from this "
                     "installation of handshake-course"]
    assert untouched == checks and len(checks) == 6
    for i in checks:
        nb.cells[i].outputs = [nbformat.v4.new_output("stream", text="ex01 q1: 1/1 point - correct. Well done.")]
    assert one_submission.score_like_notes(nb, untouched) == []


@pytest.mark.parametrize("content, why", [
    ("hello, I am not JSON", "invalid JSON"),
    ("[1, 2, 3]", "no list of cells"),
    ('{"cells": "nope"}', "no list of cells"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "cannot read it as text"),
    ('{"cells": [{"cell_type": "code"}], "nbformat": 4}', "not a notebook"),
])
def test_files_that_are_not_notebooks(tmp_path, content, why):
    s = graded(tmp_path, content)
    assert (s.status, s.points, s.max_points, s.exercise) == ("invalid", 0, 8, "ex01")
    assert why in notes_text(s)


@pytest.mark.parametrize("content", [
    "",
    nbformat.writes(nbformat.v4.new_notebook()),
    nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("my answers"),
                                                    nbformat.v4.new_code_cell("   ")])),
], ids=["empty-file", "no-cells", "blank-cells"])
def test_empty_submissions(tmp_path, content):
    s = graded(tmp_path, content)
    assert (s.status, s.points) == ("empty", 0)
    assert all(f.status == "not answered yet" for f in s.questions)


@pytest.mark.slow
def test_exercise_from_metadata_or_unknown(tmp_path):
    s = graded(tmp_path, submission(solved=True), name="homework.ipynb")
    assert (s.exercise, s.points) == ("ex01", 8)
    anonymous = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))
    s = graded(tmp_path, anonymous, name="homework2.ipynb")
    assert s.status == "unknown exercise" and s.points == 0


def test_the_grader_reports_its_own_failures(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(one_submission, "grade_notebook", broken)
    s = graded(tmp_path, submission())
    assert s.status == "grader error" and "RuntimeError: boom" in notes_text(s)
    assert grade(tmp_path / "missing", sandbox=SANDBOX).notes == [f"{tmp_path / 'missing'} does not exist"] + (
        [] if SANDBOX else [NO_SANDBOX_NOTE])


# ---- a folder, the CLI, the probe ----------------------------------------------------------------

@pytest.mark.slow
def test_folder_gradebook_from_the_cli(tmp_path, capsys):
    folder = tmp_path / "submitted"
    for student, content in [("alice", nbformat.writes(submission(solved=True))), ("bob", "not a notebook"),
                             ("carol", "")]:
        (folder / student).mkdir(parents=True)
        (folder / student / f"{SLUG}.ipynb").write_text(content, encoding="utf-8")
    (folder / "alice" / "notes.txt").write_text("hi", encoding="utf-8")
    book = tmp_path / "gradebook.csv"
    journal = tmp_path / "journal.jsonl"
    assert main(["grade", str(folder), "--json", "--csv", str(book), "--cell-timeout", "5", "--journal", str(journal),
                 *NO_SANDBOX]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(s["student"], s["points"], s["status"]) for s in report["submissions"]] == [
        ("alice", 8, "graded"), ("bob", 0, "invalid"), ("carol", 0, "empty")]
    assert report["notes"] == ["ignored 1 files that are not .ipynb"] + ([] if SANDBOX else [NO_SANDBOX_NOTE])
    rows = list(csv.DictReader(book.open(encoding="utf-8")))
    assert [(r["student"], r["points"], r["ex01 q6"]) for r in rows] == [("alice", "8", "3"), ("bob", "0", ""),
                                                                          ("carol", "0", "0")]
    main(["grade", str(folder / "bob" / f"{SLUG}.ipynb"), *NO_SANDBOX])
    table = capsys.readouterr().out
    assert "0/8  invalid" in table and "invalid JSON" in table
    parser = argparse.ArgumentParser(prog="handshake-course")  # as handshake_course/cli.py wires it
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["release", "--check"])
    assert args.func(args) == 0
    assert "release notebooks are up to date" in capsys.readouterr().out


def test_probe_plain_data_and_time_limit():
    assert probe.to_plain((1, 2.5, "x", None, True, {"a": (3,)})) == [1, 2.5, "x", None, True, {"a": [3]}]
    assert probe.to_plain(object()) == {"__unserialisable__": "object"}
    assert probe.call(lambda: 1 / 0, []) == {"error": "ZeroDivisionError: division by zero"}

    def forever():
        while True:
            pass

    assert probe.call(forever, [], seconds=0.2) == {"timeout": 0.2}


def test_release_stubs():
    code = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    assert release.clear_solutions(code, "code") == "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    values = "### BEGIN SOLUTION\na = 1\nb, c = 2, 3\n### END SOLUTION"
    assert release.clear_solutions(values, "code") == "# YOUR ANSWER HERE: replace None\na = None\nb = None\nc = None"
    assert release.remove_hidden_tests("x\n### BEGIN HIDDEN TESTS\nassert x\n### END HIDDEN TESTS") == "x"
    with pytest.raises(ValueError, match="has no"):
        release.clear_solutions("### BEGIN SOLUTION\nx = 1", "code")
