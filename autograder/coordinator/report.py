"""Report stage: JSON reports, scores.csv, feedback pages and the class grades, written atomically.

Only the coordinator calls this. Every file is written to a temporary name and renamed into
place, so a reader never sees half a report, and a crash never leaves one.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import jinja2

from autograder.coordinator import late
from autograder.results import Status, SubmissionResult, TestOutcome

TEMPLATES = Path(__file__).parent / "templates"
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                          trim_blocks=True, lstrip_blocks=True)


def template(name: str) -> jinja2.Template:
    """One of templates/, with autoescape on: everything a student wrote is escaped."""
    return _env.get_template(name)


# -- atomic files ------------------------------------------------------------------------------

def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


# -- per student -------------------------------------------------------------------------------

def write_student(out: Path, result: SubmissionResult, policy=None, view=None) -> None:
    """The full report (for instructors) and the feedback page: of `view` (policy.StudentView,
    what the student may see now) when given, else of the whole result."""
    atomic_write_text(out / "reports" / f"{result.student_id}.json", json.dumps(result.to_dict(), indent=1))
    atomic_write_text(out / "feedback" / f"{result.student_id}.html", render_feedback(result, policy, view))


def render_feedback(result: SubmissionResult, policy=None, view=None) -> str:
    withheld = 0
    if view is not None:
        result, withheld = view.result, view.withheld
    families: dict[str, list[TestOutcome]] = {}
    for t in result.tests:
        families.setdefault(t.family, []).append(t)
    lateness = late.describe(policy, result.late_by_s, result.penalty) if policy and result.submitted_at else ""
    return _env.get_template("feedback.html.j2").render(r=result, families=families, lateness=lateness,
                                                        family_scores=result.family_scores(), withheld=withheld)


def previous_reports(out: Path) -> dict[str, SubmissionResult]:
    found = {}
    for path in sorted((out / "reports").glob("*.json")):
        try:
            r = SubmissionResult.from_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError):
            continue  # unreadable: it will simply be regraded
        found[r.student_id] = r
    return found


# -- per assignment ----------------------------------------------------------------------------

def families_of(template: SubmissionResult, order=()) -> list[str]:
    present = {t.family for t in template.tests}
    return [f for f in order if f in present] + sorted(present - set(order))


def write_assignment(out: Path, assignment, results: list[SubmissionResult], template: SubmissionResult) -> None:
    families = families_of(template, assignment.settings.families)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", *families, "submitted_at", "late_penalty", "score", "max_score", "percent"])
    for r in results:
        fs = r.family_scores()
        most = template.max_score
        w.writerow([r.student_id, *(_num(fs.get(f, (0.0, 0.0))[0]) for f in families), r.submitted_at,
                    _num(r.penalty), _num(r.score), _num(most), _num(round(100 * r.score / most, 2) if most else 0.0)])
    atomic_write_text(out / "scores.csv", buf.getvalue())
    # A second run replaces the first: reports of students no longer submitted are removed.
    keep = {r.student_id for r in results}
    for sub, suffix in (("reports", ".json"), ("feedback", ".html")):
        for path in (out / sub).glob(f"*{suffix}"):
            if path.name[: -len(suffix)] not in keep:
                path.unlink()


def write_class_grades(grades_dir: Path, cfg) -> None:
    """grades/grades.csv: one row per student, one score column per graded assignment."""
    table: dict[str, dict[str, float]] = {}
    maxima: dict[str, float] = {}
    for scores in sorted(grades_dir.glob("*/scores.csv")):
        aid = scores.parent.name
        with scores.open() as f:
            for row in csv.DictReader(f):
                table.setdefault(row["student_id"], {})[aid] = float(row["score"])
                maxima[aid] = float(row["max_score"])
    aids = sorted(maxima)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", *aids, "total", "max_total", "percent"])
    most = sum(maxima.values())
    for student in sorted(table):
        total = sum(table[student].values())
        w.writerow([student, *(_num(table[student].get(a, 0.0)) for a in aids), _num(total), _num(most),
                    _num(round(100 * total / most, 2) if most else 0.0)])
    atomic_write_text(grades_dir / "grades.csv", buf.getvalue())


def _num(x: float) -> str:
    return f"{x:g}"


# -- terminal ----------------------------------------------------------------------------------

class Progress:
    """A one-line progress bar with an ETA on a terminal; silent otherwise."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.count, self.started = total, enabled and total > 0, 0, time.monotonic()

    def step(self, label: str) -> None:
        self.count += 1
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.count * (self.total - self.count)
        filled = int(30 * self.count / self.total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total} "
                         f"ETA {int(eta) // 60}:{int(eta) % 60:02d}  {label[:24]:<24}")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def summary_table(results: list[SubmissionResult]) -> str:
    rows = [("student", "score", "%", "problems")]
    for r in results:
        counts: dict[str, int] = {}
        for t in r.tests:
            if t.status is not Status.PASSED:
                counts[t.status.value] = counts.get(t.status.value, 0) + 1
        problems = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        if r.flags:
            problems += f"{', ' if problems else ''}{len(r.flags)} flag{'s' if len(r.flags) > 1 else ''} for review"
        if r.load_error:
            problems = _oneline(r.load_error, 60)
        pct = f"{100 * r.score / r.max_score:.0f}" if r.max_score else "0"
        rows.append((r.student_id, f"{r.score:g}/{r.max_score:g}", pct, problems or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"  {a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows)


def _oneline(text: str, most: int) -> str:
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= most else text[: most - 1] + "…"
