"""The course's nbgrader gradebook, written through nbgrader's own API.

Each hidden test becomes a grade cell of the assignment's notebook, so `nbgrader export` and
formgrader show the same points as scores.csv; a regrade updates the same rows, never adds more.
"""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

from autograder.config import CourseConfig, CourseError, parse_time
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


class Recorder:
    """Writes students' per-test points and late penalties into the gradebook, one at a time as
    results arrive (the grading run calls `add` while the lanes work), committed on exit."""

    def __init__(self, cfg: CourseConfig, assignment_id: str, notebook: str, template: SubmissionResult):
        self.cfg, self.assignment_id, self.name = cfg, assignment_id, Path(notebook).stem
        self.template = template
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
        wanted = {t.name for t in self.template.tests}
        for cell in list(nb.grade_cells):  # a test removed from hidden/, or a cell an older release saved
            if cell.name not in wanted:
                for grade in list(cell.grades):
                    gb.db.delete(grade)
                gb.db.delete(cell)
        gb.db.commit()
        # (id, name) as plain values: every commit expires ORM objects, and reading an expired
        # attribute is one more query, per test per student.
        self.cells = [(c.id, c.name) for c in (
            gb.update_or_create_grade_cell(t.name, self.name, self.assignment_id, max_score=t.max_score,
                                           cell_type="code")
            for t in self.template.tests)]
        self.roster = load_roster(self.cfg)

    def add(self, r: SubmissionResult) -> None:
        with _quiet():
            self._add(r)

    def _add(self, r: SubmissionResult) -> None:
        from nbgrader.api import Grade

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
        for cell_id, cell_name in self.cells:
            grade = grades.get(cell_id)
            if grade is None:  # a hidden test added since this submission was first recorded
                grade = Grade(cell_id=cell_id, notebook=submitted_nb)
                gb.db.add(grade)
            grade.auto_score = scores.get(cell_name, 0.0)

    def __exit__(self, *exc) -> None:
        # Committed even when the run stops early: the gradebook then matches the reports kept.
        try:
            with _quiet():
                self.gb.db.commit()
        finally:
            self.gb.close()

