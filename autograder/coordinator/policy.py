"""Policies, in one place for the batch run, the service and the exports: each student's due date
(extensions), attempts, which attempt counts, and what a student may see of a result.

The settings are course_config.POLICY, overridden per assignment by a [policy] table in
hidden/grading.toml (Assignment.policy); per-student exceptions are rows of the instructor's
extensions file (POLICY["extensions"], extensions.csv by default):

    student_id,assignment,due,extra_attempts
    alice,day41_transformer,2026-12-02 23:59:00 UTC,2

An empty `due` keeps the course's due date; an `assignment` of "*" applies to every assignment.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from autograder.assignment import Assignment
from autograder.config import CourseConfig, CourseError, PolicySettings, parse_time
from autograder.results import SubmissionResult

EXTENSION_COLUMNS = ("student_id", "assignment", "due", "extra_attempts")


@dataclass(frozen=True)
class Extension:
    due: dt.datetime | None = None   # the student's own due date
    extra_attempts: int = 0


_EXTENSIONS: dict = {}  # path -> ((mtime_ns, size), {(student, assignment): Extension}); re-read when edited


def extensions(cfg: CourseConfig) -> dict[tuple[str, str], Extension]:
    """(student_id, assignment or "*") -> Extension, from the instructor's file (none: {})."""
    path = cfg.root / cfg.policy.extensions
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    stamp = (st.st_mtime_ns, st.st_size)
    kept = _EXTENSIONS.get(path)
    if kept and kept[0] == stamp:
        return kept[1]
    table: dict[tuple[str, str], Extension] = {}
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("student_id", "assignment") if c not in (reader.fieldnames or [])]
        if missing:
            raise CourseError(f"{path}: needs the columns {', '.join(EXTENSION_COLUMNS)}; missing {', '.join(missing)}")
        for line, row in enumerate(reader, 2):
            student, aid = (row.get("student_id") or "").strip(), (row.get("assignment") or "").strip()
            due, extra = (row.get("due") or "").strip(), (row.get("extra_attempts") or "").strip()
            if not student or not aid:
                continue
            try:
                when = parse_time(due) if due else None
                more = int(extra) if extra else 0
            except (ValueError, OverflowError):
                raise CourseError(f"{path}, line {line}: due {due!r} or extra_attempts {extra!r} cannot be read "
                                  "(a date like \"2026-12-01 23:59:00 UTC\", a whole number)") from None
            table[(student, aid)] = Extension(when, more)
    _EXTENSIONS[path] = (stamp, table)
    return table


def extension(cfg: CourseConfig, assignment_id: str, student_id: str) -> Extension:
    table = extensions(cfg)
    return table.get((student_id, assignment_id)) or table.get((student_id, "*")) or Extension()


def due_date(cfg: CourseConfig, assignment_id: str, student_id: str) -> dt.datetime | None:
    """The student's own due date: their extension's, else the course's DUE, else None."""
    own = extension(cfg, assignment_id, student_id).due
    if own is not None:
        return own
    due = cfg.due.get(assignment_id)
    return parse_time(due) if due else None


# -- attempts -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attempts:
    used: int                 # attempts that count against the limits
    used_today: int
    limit: int | None         # None: no limit
    limit_per_day: int | None

    @property
    def left(self) -> int | None:
        """Attempts left now (the smaller of the two limits), None when unlimited."""
        lefts = [n - used for n, used in ((self.limit, self.used), (self.limit_per_day, self.used_today)) if n is not None]
        return max(0, min(lefts)) if lefts else None

    def refusal(self) -> str | None:
        """Why one more attempt is refused now, or None."""
        if self.limit is not None and self.used >= self.limit:
            return f"all {self.limit} attempts at this assignment are used"
        if self.limit_per_day is not None and self.used_today >= self.limit_per_day:
            return f"all {self.limit_per_day} attempts for today (UTC) are used; try again tomorrow"
        return None


def attempts(cfg: CourseConfig, a: Assignment, student_id: str, times: list[dt.datetime],
             now: dt.datetime) -> Attempts:
    """The attempts of `student_id` at `a`, given when each earlier counting attempt was accepted."""
    extra = extension(cfg, a.id, student_id).extra_attempts
    p = a.policy
    today = [t for t in times if t.astimezone(dt.timezone.utc).date() == now.astimezone(dt.timezone.utc).date()]
    return Attempts(len(times), len(today), p.max_attempts + extra if p.max_attempts else None,
                    p.max_attempts_per_day + extra if p.max_attempts_per_day else None)


def counted_index(policy: PolicySettings, scores: list[float]) -> int | None:
    """Which of a student's attempts (oldest first, scores after the late policy) counts."""
    if not scores:
        return None
    if policy.counted == "best":
        best = max(scores)
        return max(i for i, s in enumerate(scores) if s == best)  # of equals, the latest
    return len(scores) - 1


def attempt_dir(cfg: CourseConfig, assignment_id: str, student_id: str) -> Path:
    """Where the service keeps the report of each of a student's attempts (grades/ is the coordinator's)."""
    return cfg.root / "grades" / assignment_id / "attempts" / student_id


def write_attempt(cfg: CourseConfig, attempt_id: str, grader_fp: str, r: SubmissionResult) -> Path:
    """Keep one attempt's full report, under the grader fingerprint it was graded with."""
    from autograder.coordinator.report import atomic_write_text

    path = attempt_dir(cfg, r.assignment_id, r.student_id) / f"{attempt_id}.json"
    atomic_write_text(path, json.dumps({"grader": grader_fp, "result": r.to_dict()}))
    return path


def read_attempt(path: Path) -> tuple[str, SubmissionResult] | None:
    """(grader fingerprint, result) of a kept attempt; None when missing or unreadable."""
    try:
        saved = json.loads(path.read_text())
        return saved["grader"], SubmissionResult.from_dict(saved["result"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def counted(cfg: CourseConfig, a: Assignment, r: SubmissionResult, grader_fp: str) -> SubmissionResult:
    """The batch result to record for a student: `r` (their newest notebook), unless the policy
    counts the best attempt and an attempt the service graded under the same hidden tests
    (`grader_fp`) scored more; each attempt's late penalty is taken at its own time."""
    if a.policy.counted != "best":
        return r
    candidates = [r]
    for path in sorted(attempt_dir(cfg, a.id, r.student_id).glob("*.json")):
        kept = read_attempt(path)
        if kept is None or kept[0] != grader_fp or kept[1].student_id != r.student_id:
            continue
        other = kept[1]
        when = dt.datetime.fromisoformat(other.submitted_at) if other.submitted_at else None
        candidates.append(stamp_late(cfg, a.id, other, when))
    candidates.sort(key=lambda c: c.submitted_at)
    return candidates[counted_index(a.policy, [c.score for c in candidates])]


def stamp_late(cfg: CourseConfig, assignment_id: str, r: SubmissionResult,
               submitted_at: dt.datetime | None) -> SubmissionResult:
    """Stamp the attempt's time and the late penalty at that time, against the student's own due date."""
    from autograder.coordinator import late

    due = due_date(cfg, assignment_id, r.student_id)
    r.submitted_at = submitted_at.isoformat(timespec="seconds") if submitted_at else ""
    r.late_by_s = max(0.0, (submitted_at - due).total_seconds()) if due and submitted_at else 0.0
    r.penalty = late.penalty(cfg.late_policy, r.raw_score, r.late_by_s)
    return r


# -- what a student sees ------------------------------------------------------------------------

def visibility(policy: PolicySettings, name: str, family: str, marked: str = "visible") -> str:
    """A test's visibility: the policy's entry for its name, else for its family, else its marker."""
    return policy.visibility.get(name) or policy.visibility.get(family) or marked or "visible"


@dataclass(frozen=True)
class StudentView:
    result: SubmissionResult   # only what the student may see: withheld tests removed, scores of the rest
    withheld: int              # hidden tests checked whose results are not shown
    complete: bool             # the score covers every test
    figures: bool


def student_view(policy: PolicySettings, r: SubmissionResult, due: dt.datetime | None,
                 now: dt.datetime) -> StudentView:
    """`r` as its student may see it at `now`: after_due_date tests only once `due` has passed,
    hidden tests never; the score is that of the tests shown (late penalty in proportion)."""
    past_due = due is None or now >= due

    def shown(name: str, family: str, marked: str) -> bool:
        v = visibility(policy, name, family, marked)
        return v == "visible" or (v == "after_due_date" and past_due)

    tests = [t for t in r.tests if shown(t.name, t.family, t.visibility)]
    withheld = len(r.tests) - len(tests)
    raw = round(sum(t.score for t in tests), 4)
    penalty = round(r.penalty * raw / r.raw_score, 4) if r.raw_score else 0.0
    figures = shown("figures", "figures", "visible")
    copy = dataclasses.replace(r, tests=tests, penalty=penalty, pytest_report=None,
                               figures=list(r.figures) if figures else [])
    return StudentView(copy, withheld, withheld == 0, figures)


def feedback_view(cfg: CourseConfig, a: Assignment, r: SubmissionResult, now: dt.datetime | None = None) -> StudentView:
    """The student's view of a batch result, now (batch feedback pages)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return student_view(a.policy, r, due_date(cfg, a.id, r.student_id), now)
