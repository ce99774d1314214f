"""The pages: sign-in, a student's assignments and attempts, the live status of an attempt, its
feedback page (the batch feedback, filtered by visibility), and the instructor's live page."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from autograder.coordinator import dashboard, policy, report
from autograder.coordinator.roster import load_roster
from autograder.service import attempts
from autograder.service.api import find, service, submit
from autograder.service.auth import (COOKIE, CSRF_FIELD, ApiError, User, authenticate, check_origin, csrf_for,
                                     lookup)
from autograder.service.db import Attempt, now, utc
from autograder.service.security import DASHBOARD_CSP, FEEDBACK_CSP

router = APIRouter()
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                          trim_blocks=True, lstrip_blocks=True)


def render(name: str, status: int = 200, **values) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**values), status_code=status)


def error_page(status: int, message: str) -> str:
    return _env.get_template("error.html.j2").render(status=status, message=message, user=None)


def signed_in(request: Request) -> User | None:
    if not request.cookies.get(COOKIE):
        return None
    try:
        return authenticate(request, check_csrf=False)
    except ApiError as exc:
        if exc.status == 429:
            raise
        return None


def to_signin() -> RedirectResponse:
    return RedirectResponse("/", status_code=303)


async def form_user(request: Request, form) -> User:
    """The signed-in user of a form post, after its CSRF token is checked."""
    user = authenticate(request, check_csrf=False)
    check_origin(request)
    user.require_csrf(str(form.get(CSRF_FIELD) or ""))
    return user


# -- signing in ---------------------------------------------------------------------------------------

@router.get("/")
def home(request: Request):
    user = signed_in(request)
    if user is None:
        return render("signin.html.j2", user=None, token="")
    if user.is_instructor:
        return RedirectResponse("/instructor", status_code=303)
    return student_home(request, user)


def student_home(request: Request, user: User, error: str = "", status: int = 200) -> HTMLResponse:
    course = service(request).course
    summaries = [attempts.summary(course, user, a, user.subject) for a in course.assignments.values()]
    rows = attempts.history(course.db, user.subject)
    return render("home.html.j2", status, user=user, assignments=summaries, error=error,
                  history=[attempts.payload(course, user, r) for r in reversed(rows)])


@router.get("/signin")
def signin_page(request: Request, token: str = ""):
    """The link mailed to each student: a button that signs in (a link alone never does)."""
    return render("signin.html.j2", user=None, token=token[:200])


@router.post("/signin")
async def signin(request: Request):
    check_origin(request)
    form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
    token = str(form.get("token") or "").strip()
    svc = service(request)
    row = await run_in_threadpool(lookup, svc.db, token)
    if row is None:
        svc.limits.failed(request.client.host if request.client else "unknown")
        return render("signin.html.j2", 401, user=None, token="", error="This token is not valid. Copy it again "
                      "from your email, or ask your instructor for a new one.")
    response = RedirectResponse("/instructor" if row.role == "instructor" else "/", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=svc.cfg.service.secure_cookies,
                        max_age=180 * 86400, path="/")
    return response


@router.post("/signout")
async def signout(request: Request):
    form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
    await form_user(request, form)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- students -----------------------------------------------------------------------------------------

@router.post("/upload")
async def upload(request: Request):
    user = signed_in(request)
    if user is None:
        return to_signin()
    check_origin(request)
    try:
        row = await submit(request, user, form_csrf=True)
    except ApiError as exc:
        return student_home(request, user, exc.message, exc.status)
    return RedirectResponse(f"/submissions/{row.id}", status_code=303)


@router.get("/submissions/{attempt_id}")
def submission_page(attempt_id: str, request: Request):
    user = signed_in(request)
    if user is None:
        return to_signin()
    row = find(request, user, attempt_id)
    return render("submission.html.j2", user=user, a=attempts.payload(service(request).course, user, row))


@router.get("/submissions/{attempt_id}/feedback")
def feedback(attempt_id: str, request: Request):
    """The batch feedback page of this attempt, with only what the caller may see."""
    user = signed_in(request)
    if user is None:
        return to_signin()
    course = service(request).course
    row = find(request, user, attempt_id)
    r, withheld = attempts.view(course, user, row)
    if r is None:
        return render("submission.html.j2", user=user, a=attempts.payload(course, user, row))
    page = report.render_feedback(r, course.cfg.late_policy, policy.StudentView(r, withheld, withheld == 0, True))
    return HTMLResponse(page, headers={"content-security-policy": FEEDBACK_CSP})


# -- instructors --------------------------------------------------------------------------------------

def instructor_user(request: Request) -> User:
    user = signed_in(request)
    if user is None or not user.is_instructor:
        raise ApiError(403, "instructors only: sign in with the instructor token")
    return user


@router.get("/instructor")
def instructor_page(request: Request):
    if signed_in(request) is None:
        return to_signin()
    user = instructor_user(request)
    svc = service(request)
    course = svc.course
    roster = load_roster(course.cfg)
    with course.db.session() as s:
        rows = list(s.scalars(select(Attempt).order_by(Attempt.submitted_at)))
    students = sorted(set(roster) | {r.student_id for r in rows})
    table = []
    for sid in students:
        cells = []
        for a in course.assignments.values():
            mine = [r for r in rows if r.student_id == sid and r.assignment == a.id]
            counted = attempts.counted_attempt(course, mine)
            cells.append({"attempts": len(mine), "score": counted.score if counted else None,
                          "max": counted.max_score if counted else None})
        table.append({"id": sid, "name": roster[sid].name if sid in roster else "", "cells": cells})
    recent = [attempts.payload(course, user, r) for r in reversed(rows[-30:])]
    return render("instructor.html.j2", user=user, queue=svc.db.queue_counts(), paused=svc.dispatcher.paused,
                  isolation=svc.grader.isolation or "starting", failed=svc.dispatcher.failed,
                  assignments=list(course.assignments.values()), table=table, recent=recent,
                  lanes=svc.grader.count)


@router.get("/instructor/students/{student}")
def student_page(student: str, request: Request):
    user = instructor_user(request)
    course = service(request).course
    rows = attempts.history(course.db, student)
    counted = {a.id: attempts.counted_attempt(course, [r for r in rows if r.assignment == a.id])
               for a in course.assignments.values()}
    return render("student.html.j2", user=user, student=student,
                  history=[attempts.payload(course, user, r, getattr(counted.get(r.assignment), "id", None))
                           for r in reversed(rows)])


@router.get("/instructor/assignments/{aid}/summary.html")
def class_dashboard(aid: str, request: Request):
    """The batch run's class dashboard, over each student's counted attempt."""
    instructor_user(request)
    svc = service(request)
    course = svc.course
    lanes = svc.grader.by_assignment.get(aid)
    if aid not in course.assignments or lanes is None:
        raise ApiError(404, "no such assignment, or its lanes are still starting")
    with course.db.session() as s:
        rows = list(s.scalars(select(Attempt).where(Attempt.assignment == aid).order_by(Attempt.submitted_at)))
    results = []
    for sid in sorted({r.student_id for r in rows}):
        counted = attempts.counted_attempt(course, [r for r in rows if r.student_id == sid])
        r = attempts.load_result(course, counted) if counted else None
        if r is not None:
            results.append(r)
    page = dashboard.render_summary(aid, results, lanes.template, svc.grader.isolation)
    return HTMLResponse(page, headers={"content-security-policy": DASHBOARD_CSP})


@router.get("/instructor/assignments/{aid}/feedback/{student}.html")
def counted_feedback(aid: str, student: str, request: Request):
    """A student's counted attempt, in full (the dashboard's links)."""
    user = instructor_user(request)
    course = service(request).course
    counted = attempts.counted_attempt(course, attempts.history(course.db, student, aid))
    r = attempts.load_result(course, counted) if counted else None
    if r is None:
        raise ApiError(404, "no graded attempt")
    return HTMLResponse(report.render_feedback(r, course.cfg.late_policy),
                        headers={"content-security-policy": FEEDBACK_CSP})


async def instructor_form(request: Request):
    """The fields of an instructor's form post, once its session, origin and CSRF token are checked."""
    form = await request.form(max_files=0, max_fields=8, max_part_size=1024)
    if not (await form_user(request, form)).is_instructor:
        raise ApiError(403, "instructors only")
    return form


@router.post("/instructor/regrade")
async def regrade(request: Request):
    form = await instructor_form(request)
    svc = service(request)
    ids = [str(form.get("id") or "")]
    if form.get("assignment"):
        with svc.db.session() as s:
            ids = list(s.scalars(select(Attempt.id).where(Attempt.assignment == str(form.get("assignment")))))
    await run_in_threadpool(svc.db.regrade, ids)
    svc.dispatcher.notify()
    back = str(form.get("back") or "/instructor")
    return RedirectResponse(back if back.startswith("/instructor") else "/instructor", status_code=303)


@router.post("/instructor/pause")
async def pause(request: Request):
    form = await instructor_form(request)
    await run_in_threadpool(service(request).dispatcher.set_paused, form.get("paused") == "1")
    return RedirectResponse("/instructor", status_code=303)


def when(value: str) -> str:
    """An ISO time as people read it, in UTC."""
    try:
        return dt.datetime.fromisoformat(value).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return value or ""


_env.filters["when"] = when
_env.globals.update(csrf_field=CSRF_FIELD, now=now, utc=utc, csrf_for=csrf_for)
