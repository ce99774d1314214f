"""Discovery: every submission of an assignment in nbgrader's submitted/<student>/<assignment>/ layout.

Each notebook is read once, here, after checks that need no byte of it (a link planted in a
submission is never followed, a file larger than a notebook may be is never loaded): the bytes
fingerprinted are the bytes graded. Every folder found is accounted for: a submission to grade, a
notebook that cannot be read (a report saying why), or a folder that cannot be graded at all (a
row in scores.csv saying why). Nothing is skipped with only a line on stderr.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from autograder.assignment import Assignment
from autograder.config import CourseConfig, CourseError
from autograder.coordinator import late
from autograder.notebook import NotebookError, read_notebook
from autograder.results import Submission

# The student-id rule (README, "Student ids"): letters of any alphabet, digits and _ . @ + -,
# starting with a letter or a digit, at most 100 characters, in composed Unicode (NFC).
_ID = re.compile(r"[^\W_][\w.@+-]{0,99}")


def student_id_problem(name: str) -> str | None:
    """Why the folder name `name` is not a valid student id, or None when it is."""
    if unicodedata.normalize("NFC", name) != name:
        return "is written in decomposed Unicode (as macOS does); rename the folder to its composed (NFC) form"
    if _ID.fullmatch(name):
        return None
    if len(name) > 100:
        return "is longer than 100 characters"
    if any(c.isspace() for c in name):
        return "contains a space; student ids are one word"
    if not name[:1].isalnum():
        return "does not start with a letter or a digit"
    odd = sorted({c for c in name if not (c.isalnum() or c in "_.@+-")})
    return f"contains {', '.join(repr(c) for c in odd)}; only letters, digits and _ . @ + - are allowed"


def fingerprint(grader_fp: str, data: bytes) -> str:
    """What a report is reused under: the grader's fingerprint and the notebook's bytes."""
    return hashlib.sha256(grader_fp.encode() + hashlib.sha256(data).digest()).hexdigest()


@dataclass(frozen=True)
class Unreadable:
    """A submission folder whose notebook cannot be read: graded 0 with a report saying why."""
    student_id: str
    notebook: str
    message: str
    submitted_at: dt.datetime | None = None
    gone: bool = False  # no notebook at all in the folder: the submission is gone


@dataclass(frozen=True)
class NotGraded:
    """A folder in submitted/ that cannot be graded at all: a row in scores.csv, no report."""
    folder: str   # as found, relative to the course root
    name: str     # the folder's name, where a student id would be
    reason: str


@dataclass
class Found:
    submissions: list[Submission] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    not_graded: list[NotGraded] = field(default_factory=list)

    @property
    def students(self) -> set[str]:
        return {s.student_id for s in self.submissions} | {u.student_id for u in self.unreadable}


def check_submitted_dir(cfg: CourseConfig) -> None:
    """A missing or empty submitted/ is refused: grading it would give every student a zero."""
    root = cfg.submitted_dir
    where = f"NBGRADER['submitted_directory'] = {cfg.nbgrader.submitted_directory!r} in course_config.py"
    if not root.is_dir():
        raise CourseError(f"{root}: the submissions folder does not exist; nothing was graded or written "
                          f"(check {where}, or import submissions with make collect)")
    if not any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir()):
        raise CourseError(f"{root}: the submissions folder is empty; nothing was graded or written "
                          f"(check {where}, or import submissions with make collect)")


def discover(cfg: CourseConfig, a: Assignment, grader_fp: str, root: Path | None = None) -> Found:
    """Every folder submitted/<student>/<assignment>/ (or <root>/<student>/<assignment>/: an earlier
    term's folder in the same layout), each accounted for."""
    found = Found()
    root = cfg.submitted_dir if root is None else root
    for student_dir in sorted(root.iterdir()) if root.is_dir() else []:
        folder = student_dir / a.id
        if student_dir.name.startswith(".") or not (folder.is_dir() or folder.is_symlink()):
            continue  # not a submission of this assignment (another assignment's, a stray file)
        student = student_dir.name
        where = str(folder.relative_to(cfg.root) if folder.is_relative_to(cfg.root) else folder)
        if student_dir.is_symlink() or folder.is_symlink():
            found.not_graded.append(NotGraded(where, student, "is a link, not a folder; links are never followed"))
            continue
        problem = student_id_problem(student)
        if problem:
            found.not_graded.append(NotGraded(where, student, f"the folder name {student!r} is not a valid "
                                                              f"student id: it {problem}"))
            continue
        notebook = folder / a.notebook
        if not notebook.exists() and not notebook.is_symlink():
            others = sorted(p.name for p in folder.glob("*.ipynb"))
            if len(others) != 1:
                found.unreadable.append(Unreadable(student, a.notebook, f"no {a.notebook} in {where} "
                                                   f"(found: {', '.join(others) or 'no notebook'})", gone=not others))
                continue
            notebook = folder / others[0]  # a renamed download ("transformer (1).ipynb")
        try:
            data = read_notebook(notebook, a.settings.max_notebook_bytes)
        except NotebookError as exc:
            found.unreadable.append(Unreadable(student, notebook.name, str(exc)))
            continue
        found.submissions.append(Submission(student, a.id, notebook.name, data, fingerprint(grader_fp, data),
                                            late.submission_time(folder, notebook)))
    return found


def stray_folders(cfg: CourseConfig, assignment_ids: list[str]) -> list[NotGraded]:
    """Folders submitted/<student>/<name>/ whose name is no assignment (a typo, a renamed download):
    what they hold is never graded, so the run says so."""
    known = set(assignment_ids) | set(cfg.assignments())
    strays = []
    for student_dir in sorted(cfg.submitted_dir.iterdir()) if cfg.submitted_dir.is_dir() else []:
        if student_dir.name.startswith(".") or not student_dir.is_dir() or student_dir.is_symlink():
            continue
        for sub in sorted(student_dir.iterdir()):
            if sub.is_dir() and not sub.name.startswith(".") and sub.name not in known:
                strays.append(NotGraded(str(sub.relative_to(cfg.root)), student_dir.name,
                                        f"{sub.name!r} names no assignment (known: {', '.join(sorted(known))})"))
    return strays


@dataclass(frozen=True)
class Listed:
    """One student's folder as the similarity check reads it: the notebook's bytes, or why there are none."""
    student: str
    notebook: str                       # the file name
    data: bytes | None
    problem: str = ""
    submitted_at: dt.datetime | None = None


def read_submissions(cfg: CourseConfig, a: Assignment, root: Path | None = None) -> list[Listed]:
    """Every readable or unreadable submission of `root` (default submitted/), by student id."""
    found = discover(cfg, a, "", root)
    listed = [Listed(s.student_id, s.notebook, s.data, "", s.submitted_at) for s in found.submissions]
    listed += [Listed(u.student_id, u.notebook, None, u.message, u.submitted_at) for u in found.unreadable]
    return sorted(listed, key=lambda f: f.student)
