"""nbgrader configuration for the graded exercises of handshake-course.

This folder is an nbgrader course root: source/<id>/<id>.ipynb hold the instructor's notebooks
(solutions between ``### BEGIN SOLUTION`` / ``### END SOLUTION``, hidden tests between
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``), release/<id>/<id>.ipynb the student ones.

The committed release notebooks are made by ``python -m handshake_course.grader.release``
(or ``handshake-course release``), which needs no nbgrader. ``nbgrader generate_assignment <id>
--no-db --force`` run here gives the same notebooks except for answer cells at the top level of a
cell: nbgrader puts ``raise NotImplementedError()`` there, our generator leaves the answer
variables as ``None`` so that an untouched notebook runs from top to bottom.

Grading does not need nbgrader either: ``handshake-course grade PATH`` executes and scores the
submissions with the package's own checks. With ``nbgrader autograde``, each check cell is worth its
``points`` when its hidden test (full marks on that question) passes.
"""

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "handshake-course"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# nbgrader's defaults, written out: "### BEGIN SOLUTION" / "### BEGIN HIDDEN TESTS" markers, this stub.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Every cell of these notebooks runs in well under a second; 30 s is nbgrader's default too.
c.Execute.timeout = 30
