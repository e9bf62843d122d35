"""The syllabus (course.syllabus) is the one list of lessons: the notebooks, the README's table,
the dashboards and the answer key's "re-read" pointers all agree with it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from handshake_course.course import FIRST_LESSON, syllabus
from handshake_course.course.syllabus import LESSONS

REPO = Path(__file__).resolve().parent.parent


def test_the_lesson_notebooks_are_the_syllabus_in_order():
    assert sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb")) == [lesson.notebook for lesson in LESSONS]
    assert [lesson.number for lesson in LESSONS] == [f"{i:02d}" for i in range(len(LESSONS))]
    assert FIRST_LESSON == "notebooks/00_start_here.ipynb"


def test_the_readme_course_table_is_the_syllabus():
    readme = (REPO / "README.md").read_text()
    rows = re.findall(r"^\| `(\d\d_[a-z_]+)` \| (.+) \|$", readme, re.M)
    assert rows == [(lesson.name, lesson.summary) for lesson in LESSONS]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_each_lessons_dashboards_live_in_a_module_named_after_it(lesson):
    from handshake_course import dashboards

    for factory in lesson.dashboards:
        made_by = getattr(dashboards, factory)
        assert inspect.getmodule(made_by).__name__ == f"handshake_course.dashboards.{lesson.slug}"
        assert f"hc.dashboards.{factory}(" in (REPO / lesson.path).read_text(), f"{lesson.notebook} shows no {factory}"


def test_the_dashboards_by_name_are_every_lessons_dashboards():
    from handshake_course import dashboards

    assert list(dashboards.APPS) == list(syllabus.dashboard_names())
    assert sum(len(lesson.dashboards) for lesson in LESSONS) == len(dashboards.APPS)


def test_each_lesson_lists_the_exercises_whose_questions_send_learners_to_it():
    from handshake_course.grader.key import EXERCISES

    for ex in EXERCISES.values():
        referred = {q.ref.lesson for q in ex.questions}
        listed = {lesson.number for lesson in LESSONS if ex.id in lesson.exercises}
        assert referred == listed, ex.id
    table = (REPO / "exercises" / "README.md").read_text()
    for slug, lessons in re.findall(r"^\| `(ex\d\d_[a-z_]+)` \|.*\| ([^|]+) \|$", table, re.M):
        ex_id = slug[:4]
        assert re.findall(r"\b(\d\d) ", lessons) == sorted(
            lesson.number for lesson in LESSONS if ex_id in lesson.exercises), slug
