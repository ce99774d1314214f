"""The course's nbgrader gradebook, written through nbgrader's own API.

Each hidden test becomes a grade cell of the assignment's notebook, so `nbgrader export` and
formgrader show the same points as scores.csv; a regrade updates the same rows, never adds more.
Each cell graded by hand (a written answer, a rubric item: coordinator/manual.py) becomes nbgrader's
grade + solution cell or task cell, with an empty grade and comment per submission for formgrader to
fill in. A run writes only the automatic side of those rows (an answer left as released is 0,
"No response.", as nbgrader's autograde says it): `manual_score` and `manual_comment` are the
instructor's, never written here.
"""
from __future__ import annotations

import contextlib
import re
import warnings
from pathlib import Path

from autograder.config import CourseConfig, CourseError, parse_time
from autograder.coordinator import interrupt
from autograder.results import SubmissionResult
from autograder.coordinator.roster import load_roster


def _alembic_head() -> str:
    """The schema version nbgrader stamps on a new gradebook, asked of alembic in this process.

    nbgrader asks by running the `alembic` command (about 3 s: a fresh interpreter importing
    SQLAlchemy); alembic's own API reads the same migration scripts in milliseconds."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite:///unused.db") as ini:
        return ScriptDirectory.from_config(Config(ini)).get_current_head()


def _open(cfg: CourseConfig):
    import os
    import sys

    import nbgrader.api
    from nbgrader.api import Gradebook

    nbgrader.api.get_alembic_version = _alembic_head
    # Should anything in nbgrader still shell out to alembic, it sits beside this interpreter.
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return Gradebook(cfg.db_url, course_id=cfg.course_id)


def students(cfg: CourseConfig) -> list[str]:
    """Student ids the gradebook already knows (an empty list before the first run).

    Read with sqlite3, read-only, from nbgrader's `student` table: nbgrader's API would cost the
    run that finds nothing to grade seconds of imports for one query."""
    import sqlite3

    path = cfg.root / cfg.nbgrader.gradebook
    if not path.is_file():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            return sorted(row[0] for row in db.execute("SELECT id FROM student"))
    except sqlite3.Error as exc:
        raise CourseError(f"{path}: the gradebook cannot be read ({exc}); restore it, or move it away "
                          "to start a new one") from None


@contextlib.contextmanager
def _quiet():
    # nbgrader's update_or_create_submission trips SQLAlchemy's autoflush warnings; harmless.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)
        yield


def cell_name(test_name: str) -> str:
    """A hidden test's grade cell name: `test_softmax.py::test_x` as `test_softmax-py--test_x`.
    formgrader's page looks every grade of a submission up with a jQuery `#<name>` selector; a `.`
    or `::` there throws, and the grades after it (the answers to grade by hand) get no score box."""
    return re.sub(r"[^A-Za-z0-9_\-]", "-", test_name)


class Recorder:
    """Writes students' per-test points and late penalties into the gradebook, one at a time as
    results arrive (the grading run calls `add` while the lanes work), committed on exit."""

    def __init__(self, cfg: CourseConfig, assignment_id: str, notebook: str, template: SubmissionResult,
                 manual=(), released: dict | None = None):
        self.cfg, self.assignment_id, self.name = cfg, assignment_id, Path(notebook).stem
        self.template, self.manual, self.released = template, list(manual), released or {}
        self.gb = None

    def __enter__(self) -> "Recorder":
        self.gb = _open(self.cfg)
        try:
            with _quiet():
                self._start()
        except BaseException:
            self.gb.close()
            raise
        return self

    def _start(self) -> None:
        gb = self.gb
        due = self.cfg.due.get(self.assignment_id)
        gb.update_or_create_assignment(self.assignment_id,
                                       duedate=parse_time(due).replace(tzinfo=None) if due else None)
        nb = gb.update_or_create_notebook(self.name, self.assignment_id)
        answers = {m.grade_id for m in self.manual if m.kind == "answer"}
        wanted = {cell_name(t.name) for t in self.template.tests} | answers
        tasks = {m.grade_id for m in self.manual if m.kind == "task"}
        # a test removed from hidden/, an answer or task removed from the notebook, a cell an older release saved
        for cells, keep in ((nb.grade_cells, wanted), (nb.solution_cells, answers), (nb.task_cells, tasks)):
            for cell in list(cells):
                if cell.name not in keep:
                    for row in [*cell.grades, *cell.comments]:
                        gb.db.delete(row)
                    gb.db.delete(cell)
        for source in list(nb.source_cells):
            if source.name not in answers | tasks:
                gb.db.delete(source)
        gb.db.commit()
        # (id, test name) as plain values: every commit expires ORM objects, and reading an expired
        # attribute is one more query, per test per student.
        self.cells = [(gb.update_or_create_grade_cell(cell_name(t.name), self.name, self.assignment_id,
                                                      max_score=t.max_score, cell_type="code").id, t.name)
                      for t in self.template.tests]
        self.manual_cells = [(*self._manual_cell(m), m) for m in self.manual]
        self.roster = load_roster(self.cfg)

    def _manual_cell(self, m) -> tuple[str, str]:
        """nbgrader's rows for a cell graded by hand, as its SaveCells would write them from the release:
        (the id of the cell its grades hang on, the id of the cell its comments hang on)."""
        gb, args = self.gb, (m.grade_id, self.name, self.assignment_id)
        cell = self.released.get(m.grade_id, {})
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        checksum = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("checksum")
        gb.update_or_create_source_cell(*args, cell_type="markdown", locked=m.kind == "task", source=source,
                                        checksum=checksum)
        if m.kind == "task":
            task = gb.update_or_create_task_cell(*args, max_score=m.points, cell_type="markdown")
            return task.id, task.id
        solution = gb.update_or_create_solution_cell(*args)
        return gb.update_or_create_grade_cell(*args, max_score=m.points, cell_type="markdown").id, solution.id

    def add(self, r: SubmissionResult, answered: dict[str, bool] | None = None) -> None:
        """Record `r`; `answered`: for each answer cell, whether the student wrote anything."""
        with _quiet():
            self._add(r, answered or {})

    def _add(self, r: SubmissionResult, answered: dict[str, bool]) -> None:
        from nbgrader.api import Comment, Grade

        gb = self.gb
        who = self.roster.get(r.student_id)
        first, _, last = (who.name if who else "").partition(" ")
        gb.update_or_create_student(r.student_id, **({"first_name": first, "last_name": last} if who else {}))
        kwargs = {"timestamp": r.submitted_at} if r.submitted_at else {}
        submission = gb.update_or_create_submission(self.assignment_id, r.student_id, **kwargs)
        (submitted_nb,) = [n for n in submission.notebooks if n.name == self.name]
        submitted_nb.late_submission_penalty = r.penalty
        scores = {t.name: t.score for t in r.tests}
        # One query for the submission's grades, not one find_grade per test.
        grades = {g.cell_id: g for g in submitted_nb.grades}
        for cell_id, test_name in self.cells:
            grade = grades.get(cell_id)
            if grade is None:  # a hidden test added since this submission was first recorded
                grade = Grade(cell_id=cell_id, notebook=submitted_nb)
                gb.db.add(grade)
            grade.auto_score = scores.get(test_name, 0.0)
            grade.needs_manual_grade = False
        comments = {c.cell_id: c for c in submitted_nb.comments}
        for cell_id, comment_cell_id, item in self.manual_cells:
            blank = item.kind == "answer" and not answered.get(item.grade_id, False)
            grade = grades.get(cell_id)
            if grade is None:
                grade = Grade(cell_id=cell_id, notebook=submitted_nb)
                gb.db.add(grade)
            grade.auto_score = 0.0 if blank else None
            if grade.manual_score is None:  # the instructor's score, once given, decides
                grade.needs_manual_grade = not blank
            comment = comments.get(comment_cell_id)
            if comment is None:  # nbgrader makes one with a new submission; an answer added since has none
                comment = Comment(cell_id=comment_cell_id, notebook=submitted_nb)
                gb.db.add(comment)
            comment.auto_comment = "No response." if blank else None

    def __exit__(self, exc_type, exc, tb) -> None:
        from sqlalchemy.exc import SQLAlchemyError  # imported with nbgrader, only when something is graded

        # Committed even when the run stops early: the gradebook then matches the reports kept.
        try:
            with interrupt.held(), _quiet():
                self.gb.db.commit()
        except SQLAlchemyError:
            if exc_type is None:
                raise
            # The run is already stopping for `exc` (an interrupt inside a flush leaves the session
            # unable to commit); that is the error to report, not this one.
            self.gb.db.rollback()
        finally:
            self.gb.close()

