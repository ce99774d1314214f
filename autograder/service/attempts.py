"""Attempts as the service hands them out: accepting an upload, and what a caller may see of one.

Accepting: the notebook is checked as data (notebook.code_cells: JSON, cells, size), the policy's
attempt limits are checked, the bytes are stored durably in nbgrader's layout (store.py), and the
database row is committed; only then does the caller hear 202. What a caller sees of an attempt
goes through coordinator/policy.py: a student never sees more than the visibility policy allows.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from autograder.assignment import Assignment
from autograder.cells import cells_to_run
from autograder.config import CourseConfig
from autograder.coordinator import policy
from autograder.notebook import NotebookError, code_cells
from autograder.results import SubmissionResult
from autograder.service import store
from autograder.service.auth import ApiError, User
from autograder.service.db import Attempt, Database, now, utc

_LOCKS: dict[tuple[str, str], threading.Lock] = {}  # the limit check and the insert, one step per student
_LOCKS_LOCK = threading.Lock()


def _accepting(student: str, assignment: str) -> threading.Lock:
    with _LOCKS_LOCK:
        return _LOCKS.setdefault((student, assignment), threading.Lock())


@dataclass(frozen=True)
class Course:
    cfg: CourseConfig
    assignments: dict[str, Assignment]   # the gradable ones
    db: Database


def counting(rows: list[Attempt]) -> list[Attempt]:
    """Attempts that use up the limits: all but those the grader failed on."""
    return [r for r in rows if r.status != "error"]


def history(db: Database, student: str, assignment: str | None = None) -> list[Attempt]:
    """A student's attempts, oldest first."""
    with db.session() as s:
        q = select(Attempt).where(Attempt.student_id == student)
        if assignment:
            q = q.where(Attempt.assignment == assignment)
        return list(s.scalars(q.order_by(Attempt.submitted_at, Attempt.id)))


def check_notebook(a: Assignment, data: bytes) -> None:
    """Refuse (415) what is not a notebook this assignment can grade, by the lane's own rule of
    which cells run (cells.py). A version-4 notebook is checked as plain JSON, in well under a
    millisecond; anything older goes through nbformat's conversion, as the lane will (notebook.py).
    nbformat's schema validation is left to the lane: it only logs there, and costs ~5 ms of CPU
    per upload (plus compiling its schema once per thread) that the web process cannot spare."""
    s = a.settings
    if len(data) > s.max_notebook_bytes:
        raise ApiError(413, f"the notebook is larger than the {s.max_notebook_bytes / 2**20:g} MiB limit")
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(415, "not a notebook: the file is not JSON text; re-download it from Jupyter (File > Save) "
                            "and upload the .ipynb file") from None
    except RecursionError:
        raise ApiError(415, "not a notebook: its JSON is nested too deeply") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("nbformat"), int):
        raise ApiError(415, "not a Jupyter notebook: no nbformat version; upload the .ipynb file")
    if nb["nbformat"] != 4:
        try:
            code_cells(data, a.notebook, s.skip_tags, s.max_notebook_bytes, s.max_code_cells)
        except NotebookError as exc:
            raise ApiError(415, f"not a notebook this assignment can grade: {exc}") from None
        return
    if not isinstance(nb.get("cells"), list):
        raise ApiError(415, "not a notebook this assignment can grade: it has no list of cells")
    run = cells_to_run(nb["cells"], s.skip_tags)
    if not run:
        raise ApiError(415, "not a notebook this assignment can grade: it has no code cells to run")
    if len(run) > s.max_code_cells:
        raise ApiError(415, f"not a notebook this assignment can grade: {len(run)} code cells, over the limit "
                            f"of {s.max_code_cells}")


def accept(course: Course, user: User, assignment_id: str, data: bytes) -> Attempt:
    """Store and record one upload for `user` (a student); raises ApiError when refused."""
    a = course.assignments.get(assignment_id)
    if a is None:
        raise ApiError(422, f"unknown assignment {assignment_id[:100]!r}; known: {', '.join(sorted(course.assignments))}")
    if user.is_instructor:
        raise ApiError(403, "instructor tokens cannot submit; sign in with a student's token")
    check_notebook(a, data)
    cfg, db = course.cfg, course.db
    with _accepting(user.subject, a.id):
        rows = history(db, user.subject, a.id)
        when = now()
        left = policy.attempts(cfg, a, user.subject, [utc(r.submitted_at) for r in counting(rows)], when)
        refusal = left.refusal()
        if refusal:
            raise ApiError(429, refusal)
        attempt_id = uuid.uuid4().hex
        try:
            relative = str(store.save(cfg, a, user.subject, attempt_id, data, when))
        except store.StorageError as exc:
            raise ApiError(507, str(exc)) from None
        row = Attempt(id=attempt_id, student_id=user.subject, assignment=a.id, number=len(rows) + 1, path=relative,
                      sha256=hashlib.sha256(data).hexdigest(), size=len(data), submitted_at=when, status="queued")
        try:
            with db.write_lock, db.session.begin() as s:
                s.add(row)
        except Exception:
            store.discard(cfg, relative)
            raise ApiError(503, "the server could not record this submission; nothing was accepted: try again") from None
    try:
        store.publish(cfg, a, user.subject, relative, when)
    except OSError:
        pass  # accepted and kept in history/; the nbgrader copy is rewritten at the next start
    return row


def recover(course: Course) -> int:
    """At start: an attempt whose notebook is in a history folder but whose row is not in the
    database (a crash, or a power cut that SQLite's WAL did not survive) is queued again."""
    with course.db.session() as s:
        known = set(s.scalars(select(Attempt.id)))
    found = []
    for aid in course.assignments:
        found += [(student, i, when, rel, aid) for student, i, when, rel in store.kept(course.cfg, aid) if i not in known]
    if not found:
        return 0
    with course.db.write_lock, course.db.session.begin() as s:
        for student, attempt_id, when, relative, aid in found:
            data = (course.cfg.root / relative).read_bytes()
            number = 1 + len([r for r in history(course.db, student, aid) if utc(r.submitted_at) < when])
            s.add(Attempt(id=attempt_id, student_id=student, assignment=aid, number=number, path=relative,
                          sha256=hashlib.sha256(data).hexdigest(), size=len(data), submitted_at=when, status="queued"))
    return len(found)


def republish(course: Course) -> None:
    """At start: nbgrader's copy of each student's submission is their newest accepted attempt."""
    with course.db.session() as s:
        rows = list(s.scalars(select(Attempt).order_by(Attempt.submitted_at)))
    newest = {(r.student_id, r.assignment): r for r in rows}
    for (student, aid), r in newest.items():
        a = course.assignments.get(aid)
        if a is not None and (course.cfg.root / r.path).is_file():
            try:
                store.publish(course.cfg, a, student, r.path, utc(r.submitted_at))
            except OSError:
                pass


def load_result(course: Course, row: Attempt) -> SubmissionResult | None:
    if not row.report:
        return None
    kept = policy.read_attempt(course.cfg.root / row.report)
    return kept[1] if kept else None


def visible(course: Course, user: User, row: Attempt) -> bool:
    return user.is_instructor or row.student_id == user.subject


def view(course: Course, user: User, row: Attempt, when: dt.datetime | None = None):
    """(the result as this caller may see it, withheld tests); (None, 0) before it is graded."""
    r = load_result(course, row)
    if r is None:
        return None, 0
    if user.is_instructor:
        return r, 0
    a = course.assignments[row.assignment]
    seen = policy.student_view(a.policy, r, policy.due_date(course.cfg, a.id, row.student_id), when or now())
    return seen.result, seen.withheld


def payload(course: Course, user: User, row: Attempt, counted_id: str | None = None) -> dict:
    """The JSON of one attempt for this caller (API: GET /api/submissions/<id>)."""
    out = {"id": row.id, "student_id": row.student_id, "assignment": row.assignment, "status": row.status,
           "attempt": row.number, "submitted_at": utc(row.submitted_at).isoformat(timespec="seconds"),
           "feedback_url": f"/submissions/{row.id}/feedback", "counted": row.id == counted_id if counted_id else None}
    if row.status == "error":
        out["error"] = row.message or "the grader failed on this submission; tell your instructor"
    r, withheld = view(course, user, row) if row.status in ("graded", "error") else (None, 0)
    if r is None:
        out.update(score=None, max_score=None, tests=[])
        return out
    out.update(score=r.score, max_score=r.max_score, penalty=r.penalty, late_by_s=r.late_by_s,
               withheld_tests=withheld, score_complete=withheld == 0, load_error=r.load_error,
               load_issues=[{"cell": i.cell, "status": i.status, "message": i.message} for i in r.load_issues],
               tests=[{"name": t.name, "family": t.family, "description": t.description, "status": t.status.value,
                       "score": t.score, "max_score": t.max_score, "output": t.output} for t in r.tests])
    if user.is_instructor:
        out["isolation"] = r.isolation
        out["timings"] = r.timings
    return out


def counted_attempt(course: Course, rows: list[Attempt]) -> Attempt | None:
    """The attempt whose score counts under the assignment's policy (graded ones only)."""
    graded = [r for r in rows if r.status == "graded" and r.score is not None]
    if not graded:
        return None
    a = course.assignments.get(graded[0].assignment)
    i = policy.counted_index(a.policy if a else course.cfg.policy, [r.score for r in graded])
    return graded[i]


def summary(course: Course, user: User, a: Assignment, student: str) -> dict:
    """One assignment for one student: due date, attempts used and left, the counted score."""
    rows = history(course.db, student, a.id)
    left = policy.attempts(course.cfg, a, student, [utc(r.submitted_at) for r in counting(rows)], now())
    due = policy.due_date(course.cfg, a.id, student)
    counted = counted_attempt(course, rows)
    score = None
    if counted is not None:
        seen = payload(course, user, counted)
        score = {"id": counted.id, "score": seen["score"], "max_score": seen["max_score"],
                 "score_complete": seen.get("score_complete", True)}
    return {"id": a.id, "notebook": a.notebook, "due": due.isoformat(timespec="seconds") if due else None,
            "attempts_used": left.used, "attempts_left": left.left, "max_attempts": left.limit,
            "max_attempts_per_day": left.limit_per_day, "counted": a.policy.counted, "counted_attempt": score,
            "attempts": len(rows)}
