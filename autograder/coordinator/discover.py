"""Discovery: every submission of an assignment in nbgrader's submitted/<student>/<assignment>/ layout.

Each notebook is read once, here, after checks that need no byte of it (a link planted in a
submission is never followed, a file larger than a notebook may be is never loaded): the bytes
fingerprinted are the bytes graded.
"""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

from autograder.assignment import Assignment
from autograder.config import CourseConfig
from autograder.coordinator import late
from autograder.judge import verdict
from autograder.judge.tasks import REFERENCE_ID
from autograder.notebook import NotebookError, read_notebook
from autograder.results import Submission, SubmissionResult

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")


def fingerprint(grader_fp: str, data: bytes) -> str:
    """What a report is reused under: the grader's fingerprint and the notebook's bytes."""
    return hashlib.sha256(grader_fp.encode() + hashlib.sha256(data).digest()).hexdigest()


def discover(cfg: CourseConfig, a: Assignment, grader_fp: str,
             root: Path | None = None) -> tuple[list[Submission], list[SubmissionResult]]:
    """Submissions to grade, and results for folders that cannot be graded at all. `root` is
    another folder in the same layout (an earlier term's), instead of submitted/."""
    found, broken = [], []
    root = cfg.submitted_dir if root is None else root
    if not root.is_dir():
        return found, broken
    for student_dir in sorted(root.iterdir()):
        folder = student_dir / a.id
        if student_dir.is_symlink() or not folder.is_dir() or folder.is_symlink():
            continue
        student = student_dir.name
        if not STUDENT_ID.match(student) or student == REFERENCE_ID:
            print(f"warning: {student_dir}: skipped, the folder name is not a valid student id", file=sys.stderr)
            continue
        unreadable = lambda name, message: verdict.not_graded(  # noqa: E731
            Submission(student, a.id, name, b""), verdict.unreadable(message))
        notebook = folder / a.notebook
        if not notebook.exists() and not notebook.is_symlink():
            others = sorted(p.name for p in folder.glob("*.ipynb"))
            if len(others) != 1:
                broken.append(unreadable(a.notebook, f"no {a.notebook} in {_shown(folder, cfg.root)} "
                                                     f"(found: {', '.join(others) or 'no notebook'})"))
                continue
            notebook = folder / others[0]  # a renamed download ("transformer (1).ipynb")
        try:
            data = read_notebook(notebook, a.settings.max_notebook_bytes)
        except NotebookError as exc:
            broken.append(unreadable(notebook.name, str(exc)))
            continue
        found.append(Submission(student, a.id, notebook.name, data, fingerprint(grader_fp, data),
                                late.submission_time(folder, notebook)))
    return found, broken


def _shown(folder: Path, root: Path) -> Path:
    return folder.relative_to(root) if folder.is_relative_to(root) else folder
