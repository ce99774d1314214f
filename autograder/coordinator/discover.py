"""Discovery: every submission of an assignment in nbgrader's submitted/<student>/<assignment>/ layout.

Each notebook is read once, here, after checks that need no byte of it (a link planted in a
submission is never followed, a file larger than a notebook may be is never loaded): the bytes
fingerprinted are the bytes graded.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.assignment import Assignment
from autograder.config import CourseConfig
from autograder.coordinator import late
from autograder.notebook import NotebookError, read_notebook
from autograder.results import Submission, SubmissionResult

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")


def fingerprint(grader_fp: str, data: bytes) -> str:
    """What a report is reused under: the grader's fingerprint and the notebook's bytes."""
    return hashlib.sha256(grader_fp.encode() + hashlib.sha256(data).digest()).hexdigest()


@dataclass(frozen=True)
class Found:
    """One student's folder: the notebook's bytes, or why there are none."""
    student: str
    notebook: str                       # the file name
    data: bytes | None
    problem: str = ""
    submitted_at: dt.datetime | None = None


def read_submissions(cfg: CourseConfig, a: Assignment, root: Path | None = None) -> list[Found]:
    """Every student folder of `root` (default submitted/; an earlier term's folder in the same
    layout) that holds the assignment, by student id."""
    root = cfg.submitted_dir if root is None else root
    found = []
    for student_dir in sorted(root.iterdir()) if root.is_dir() else ():
        folder = student_dir / a.id
        if student_dir.is_symlink() or not folder.is_dir() or folder.is_symlink():
            continue
        student = student_dir.name
        if not STUDENT_ID.match(student):  # the reference's id, "__reference__", does not match either
            print(f"warning: {student_dir}: skipped, the folder name is not a valid student id", file=sys.stderr)
            continue
        notebook = folder / a.notebook
        if not notebook.exists() and not notebook.is_symlink():
            others = sorted(p.name for p in folder.glob("*.ipynb"))
            if len(others) != 1:
                found.append(Found(student, a.notebook, None, f"no {a.notebook} in {_shown(folder, cfg.root)} "
                                                            f"(found: {', '.join(others) or 'no notebook'})"))
                continue
            notebook = folder / others[0]  # a renamed download ("transformer (1).ipynb")
        try:
            data = read_notebook(notebook, a.settings.max_notebook_bytes)
        except NotebookError as exc:
            found.append(Found(student, notebook.name, None, str(exc)))
            continue
        found.append(Found(student, notebook.name, data, "", late.submission_time(folder, notebook)))
    return found


def discover(cfg: CourseConfig, a: Assignment, grader_fp: str) -> tuple[list[Submission], list[SubmissionResult]]:
    """Submissions to grade, and results for folders that cannot be graded at all."""
    from autograder.judge import verdict  # the judge (and torch) only for grading: make similarity lists without

    subs, broken = [], []
    for f in read_submissions(cfg, a):
        if f.data is None:
            broken.append(verdict.not_graded(Submission(f.student, a.id, f.notebook, b""), verdict.unreadable(f.problem)))
        else:
            subs.append(Submission(f.student, a.id, f.notebook, f.data, fingerprint(grader_fp, f.data), f.submitted_at))
    return subs, broken


def _shown(folder: Path, root: Path) -> Path:
    return folder.relative_to(root) if folder.is_relative_to(root) else folder
