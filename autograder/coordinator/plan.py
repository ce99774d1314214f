"""The plan of a grading run: everything that could refuse it, checked before anything is written.

For each assignment: the hidden tests as source (preflight), its submissions (discover), an
assignment nobody submitted, and grades already recorded whose submission is gone; and whether
the assignment's inputs and reports are exactly as the last run left them (the state kept in
grades/<assignment>/.state.json), in which case there is nothing to do.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from autograder.assignment import Assignment, grader_fingerprint, load_assignment
from autograder.config import CourseConfig, CourseError
from autograder.coordinator import formgrade, manual, preflight, report
from autograder.coordinator.discover import Found, discover
from autograder.results import SubmissionResult

STATE = ".state.json"
SUMMARY = "summary.html"  # dashboard.SUMMARY, without importing the dashboard on the fast path


@dataclass
class Plan:
    """What one assignment's run will do, decided before anything is written."""
    assignment: Assignment
    grader_fp: str
    found: Found
    previous: dict[str, SubmissionResult]
    digests: dict[str, str]                            # report file -> sha256, as found
    missing: list[str] = field(default_factory=list)   # known students without a submission folder
    lowered: list[str] = field(default_factory=list)   # of those and of emptied folders: a grade recorded

    @property
    def students(self) -> list[str]:
        return sorted(self.found.students | set(self.missing))


def plan_assignment(cfg: CourseConfig, assignment_id: str, known: set[str], allow_missing: bool) -> Plan:
    """Check one assignment and find its submissions; raise CourseError (nothing written) when
    grading it would zero grades the instructor did not ask to zero."""
    a = load_assignment(cfg, assignment_id)
    preflight.check_hidden(a, cfg.root)
    grader_fp = grader_fingerprint(a)
    found = discover(cfg, a, grader_fp)
    where = f"{cfg.submitted_dir.relative_to(cfg.root)}/*/{a.id}/"
    if not (found.submissions or found.unreadable or found.not_graded) and not allow_missing:
        raise CourseError(f"{where}: no submissions for {a.id} at all; nothing was graded or written. "
                          f"Grade another with ASSIGNMENT=<name>, or run with ALLOW_MISSING=1 to grade it "
                          f"anyway (every student known to the gradebook gets 0)")
    digests: dict[str, str] = {}
    previous = report.previous_reports(cfg.root / "grades" / a.id, digests)
    p = Plan(a, grader_fp, found, previous, digests)
    p.missing = sorted((known | set(previous)) - found.students - {n.name for n in found.not_graded})
    emptied = {u.student_id for u in found.unreadable if u.gone}
    p.lowered = sorted(s for s in set(p.missing) | emptied if s in previous and previous[s].score > 0)
    if p.lowered and not allow_missing:
        listed = ", ".join(f"{s} ({previous[s].score:g} recorded)" for s in p.lowered)
        raise CourseError(f"{a.id}: {len(p.lowered)} student(s) have a grade recorded but no submission now in "
                          f"{where}: {listed}; grading would lower them to 0, so nothing was graded or written. "
                          "Restore the submissions, or run with ALLOW_MISSING=1 to record the zeros (the "
                          f"old reports are kept in grades/{a.id}/history/)")
    return p


def check_writable(cfg: CourseConfig) -> None:
    """grades/ and every folder in it must be writable, checked before grading starts."""
    grades = cfg.root / "grades"
    if grades.exists() and not grades.is_dir():
        raise CourseError(f"{grades}: is a file, where the grades folder belongs; nothing was graded (move it away)")
    folders = [grades, *(d for d in grades.rglob("*") if d.is_dir())] if grades.is_dir() else [cfg.root]
    for folder in folders:
        if not os.access(folder, os.W_OK | os.X_OK):
            raise CourseError(f"{folder}: not writable, so no report could be written; nothing was graded "
                              "(make it writable, e.g. chmod -R u+w grades, and run again)")


# -- the state of the last run: nothing changed, nothing to do ------------------------------------

def state_key(cfg: CourseConfig, p: Plan, students: list[str], digests: dict[str, str]) -> str:
    """Everything a run's outputs depend on. Equal to the last run's: its outputs are still right."""
    out = cfg.root / "grades" / p.assignment.id
    roster = cfg.root / cfg.collect.roster
    parts = {
        "grader": p.grader_fp,
        "submissions": [(s.student_id, s.fingerprint, s.submitted_at.isoformat() if s.submitted_at else "")
                        for s in p.found.submissions],
        "unreadable": [(u.student_id, u.notebook, u.message) for u in p.found.unreadable],
        "not_graded": [(n.folder, n.reason) for n in p.found.not_graded],
        "students": students,
        "due": cfg.due.get(p.assignment.id), "late": repr(cfg.late_policy),
        "roster": hashlib.sha256(roster.read_bytes()).hexdigest() if roster.is_file() else "",
        "gradebook": (cfg.root / cfg.nbgrader.gradebook).is_file(),
        "reports": digests,
        "outputs": [(name, (out / name).is_file()) for name in ("scores.csv", SUMMARY)]
                   + sorted(f.name for f in (out / "feedback").glob("*.html")),
        # What students may see and which attempt counts (coordinator/policy.py): the policy, the
        # extensions, the attempts the service graded, and whose due date has passed by now.
        "policy": repr(p.assignment.policy),
        "extensions": _digest_file(cfg.root / p.assignment.policy.extensions),
        "attempts": sorted(str(f.relative_to(out)) for f in (out / "attempts").rglob("*.json"))
                    if (out / "attempts").is_dir() else [],
        "past_due": sorted(s for s in students if _past_due(cfg, p.assignment.id, s)),
        "similarity": (p.assignment.settings.similarity, repr(cfg.similarity)),
        # Scores and comments entered by hand in the gradebook (formgrader) since, and the rubric they cite.
        "manual": manual.digest(manual.read(cfg, p.assignment, students)),
        "rubric": _digest_file(p.assignment.hidden / manual.RUBRIC),
        "autograded": sorted(str(d.relative_to(cfg.root))
                             for d in (cfg.root / formgrade.AUTOGRADED).glob(f"*/{p.assignment.id}")),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _digest_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _past_due(cfg: CourseConfig, assignment_id: str, student: str) -> bool:
    from autograder.coordinator.policy import due_date

    due = due_date(cfg, assignment_id, student)
    return due is not None and dt.datetime.now(dt.timezone.utc) >= due


def unchanged(cfg: CourseConfig, p: Plan) -> bool:
    try:
        saved = json.loads((cfg.root / "grades" / p.assignment.id / STATE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and saved.get("key") == state_key(cfg, p, p.students, p.digests)


def save_state(cfg: CourseConfig, p: Plan, students: list[str]) -> None:
    out = cfg.root / "grades" / p.assignment.id
    digests: dict[str, str] = {}
    report.previous_reports(out, digests)
    key = state_key(cfg, p, students, digests)
    report.atomic_write_text(out / STATE, json.dumps({"key": key, "at": dt.datetime.now(dt.timezone.utc)
                                                      .isoformat(timespec="seconds")}))
