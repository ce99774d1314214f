"""The JSON API (documented in the README): submissions, assignments, and the instructor's queue."""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from autograder.service import attempts
from autograder.service.auth import CSRF_FIELD, ApiError, User, current_user, instructor
from autograder.service.db import Attempt

router = APIRouter(prefix="/api")
ATTEMPT_ID = re.compile(r"^[0-9a-f]{32}$")


def service(request: Request):
    return request.app.state.service


async def read_upload(request: Request, user: User) -> tuple[str, bytes, str]:
    """(assignment, notebook bytes, csrf field) from a multipart form; one file and a few small fields."""
    svc = service(request)
    svc.limits.upload(user)
    cap = int(svc.cfg.service.max_upload_mb * 2**20)
    kind = request.headers.get("content-type", "").lower()
    if not kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise ApiError(415, "send multipart/form-data with the fields assignment and notebook (the .ipynb file)")
    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=64 << 10)
    except MultiPartException as exc:
        raise ApiError(422, f"the form cannot be read: {exc.message}") from None
    try:
        assignment, notebook = form.get("assignment"), form.get("notebook")
        if not isinstance(assignment, str) or not assignment.strip():
            raise ApiError(422, "the field assignment (an assignment id) is missing")
        if not isinstance(notebook, UploadFile):
            raise ApiError(422, "the field notebook (the .ipynb file, sent as a file) is missing")
        data = await notebook.read(cap + 1)
        if len(data) > cap:
            raise ApiError(413, f"the notebook is larger than the {cap / 2**20:g} MiB limit")
        return assignment.strip(), data, str(form.get(CSRF_FIELD) or "")
    finally:
        await form.close()


async def submit(request: Request, user: User, form_csrf: bool = False) -> Attempt:
    """Accept one upload (the API's, or the page's form with its CSRF field when `form_csrf`)."""
    assignment, data, csrf = await read_upload(request, user)
    if form_csrf:
        user.require_csrf(csrf)
    svc = service(request)
    row = await run_in_threadpool(attempts.accept, svc.course, user, assignment, data)
    svc.dispatcher.notify()
    return row


@router.post("/submissions", status_code=202)
async def create_submission(request: Request, user: User = Depends(current_user)):
    """Upload a notebook: 202 once it is stored and recorded; graded in the background."""
    row = await submit(request, user)
    return JSONResponse({"id": row.id, "status": "queued"}, status_code=202,
                        headers={"location": f"/api/submissions/{row.id}"})


def find(request: Request, user: User, attempt_id: str) -> Attempt:
    """The attempt, if this caller may see it; another student's is as unknown as a missing one."""
    row = None
    if ATTEMPT_ID.match(attempt_id):
        with service(request).db.session() as s:
            row = s.get(Attempt, attempt_id)
    if row is None or not attempts.visible(service(request).course, user, row):
        raise ApiError(404, "no such submission")
    return row


@router.get("/submissions/{attempt_id}")
def get_submission(attempt_id: str, request: Request, user: User = Depends(current_user)):
    row = find(request, user, attempt_id)
    course = service(request).course
    if row.status not in ("graded", "error"):
        return attempts.payload(course, user, row)  # followed every second while it waits: kept cheap
    counted = attempts.counted_attempt(course, attempts.history(course.db, row.student_id, row.assignment))
    return attempts.payload(course, user, row, counted.id if counted else None)


@router.get("/submissions")
def list_submissions(request: Request, assignment: str | None = None, student: str | None = None,
                     user: User = Depends(current_user)):
    """The caller's own attempts (an instructor: everyone's, or one student's), oldest first."""
    course = service(request).course
    if assignment is not None and assignment not in course.assignments:
        raise ApiError(422, f"unknown assignment {assignment[:100]!r}")
    if not user.is_instructor:
        student = user.subject
    with course.db.session() as s:
        q = select(Attempt)
        if student:
            q = q.where(Attempt.student_id == student)
        if assignment:
            q = q.where(Attempt.assignment == assignment)
        rows = list(s.scalars(q.order_by(Attempt.submitted_at, Attempt.id)))
    groups: dict[tuple[str, str], list[Attempt]] = {}
    for r in rows:
        groups.setdefault((r.student_id, r.assignment), []).append(r)
    counted = {key: attempts.counted_attempt(course, group) for key, group in groups.items()}
    return [attempts.payload(course, user, r, getattr(counted[(r.student_id, r.assignment)], "id", None))
            for r in rows]


@router.get("/assignments")
def list_assignments(request: Request, user: User = Depends(current_user)):
    """Each assignment with the caller's due date, attempts used and left, and the counted score."""
    course = service(request).course
    if user.is_instructor:
        from autograder.coordinator import policy

        return [{"id": a.id, "notebook": a.notebook, "due": (d.isoformat(timespec="seconds") if
                 (d := policy.due_date(course.cfg, a.id, "")) else None), "policy": {
                 "max_attempts": a.policy.max_attempts, "max_attempts_per_day": a.policy.max_attempts_per_day,
                 "counted": a.policy.counted, "visibility": a.policy.visibility}}
                for a in course.assignments.values()]
    return [attempts.summary(course, user, a, user.subject) for a in course.assignments.values()]


@router.get("/me")
def me(user: User = Depends(current_user)):
    return {"id": user.subject, "role": user.role, "name": user.name}


# -- instructors ------------------------------------------------------------------------------------

@router.get("/queue")
def queue(request: Request, user: User = Depends(instructor)):
    svc = service(request)
    return {"counts": svc.db.queue_counts(), "paused": svc.dispatcher.paused, "ready": svc.dispatcher.ready.is_set(),
            "failed": svc.dispatcher.failed, "lanes_per_assignment": svc.grader.count,
            "isolation": svc.grader.isolation, "lane_pids": svc.grader.lane_pids()}


@router.post("/queue/pause")
async def pause(request: Request, user: User = Depends(instructor)):
    """{"paused": true|false}: hold the queue (uploads are still accepted) or let it run."""
    try:
        body = await request.json()
        value = body["paused"]
    except Exception:
        raise ApiError(422, 'send {"paused": true} or {"paused": false}') from None
    if not isinstance(value, bool):
        raise ApiError(422, 'send {"paused": true} or {"paused": false}')
    await run_in_threadpool(service(request).dispatcher.set_paused, value)
    return {"paused": value}


@router.post("/submissions/{attempt_id}/regrade", status_code=202)
def regrade(attempt_id: str, request: Request, user: User = Depends(instructor)):
    row = find(request, user, attempt_id)
    svc = service(request)
    if not svc.db.regrade([row.id]):
        raise ApiError(409, f"submission {row.id} is {row.status}; only graded ones can be regraded")
    svc.dispatcher.notify()
    return JSONResponse({"id": row.id, "status": "queued"}, status_code=202)
