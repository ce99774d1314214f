"""Report stage: JSON reports, scores.csv, feedback pages and the class grades, written atomically.

Only the coordinator calls this. Every file is written to a temporary name and renamed into
place, so a reader never sees half a report, and a crash never leaves one. Files are readable by
the owner's group (a co-instructor, a TA), never by everyone: they hold grades. A report that
is replaced by one with another grade is kept first, in history/<student>/, so no run destroys a
grade.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
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


def render_template(name: str, **context) -> str:
    """One of templates/ rendered (autoescaped): the pages other stages write (check's mutants.html)."""
    return _env.get_template(name).render(**context)


# -- atomic files ------------------------------------------------------------------------------

def _umask() -> int:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        mask = os.umask(0o022)  # elsewhere the only way to read it is to set it, at import
        os.umask(mask)
        return mask


# What open() would give, but never readable by others: a co-instructor in the group reads grades.
FILE_MODE = 0o666 & ~_umask() & ~0o007


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp makes 0600, which nobody else can read
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` unless the file already holds exactly it; True when written."""
    data = text.encode()
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    atomic_write_bytes(path, data)
    return True


# -- per student -------------------------------------------------------------------------------

def _grade_of(d: dict) -> tuple:
    """What a grade is, in a report: the score, the penalty, and each test's points and status."""
    return (d.get("score"), d.get("penalty"), tuple((t.get("name"), t.get("score"), t.get("status"))
                                                    for t in d.get("tests") or [] if isinstance(t, dict)))


def keep_in_history(out: Path, student_id: str, data: bytes) -> Path:
    """Keep a report about to be replaced or removed: grades/<assignment>/history/<student>/<UTC time>.json."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    path = out / "history" / student_id / f"{stamp}.json"
    atomic_write_bytes(path, data)
    return path


def write_student(out: Path, result: SubmissionResult, policy=None, view=None, manual=None) -> float | None:
    """Write the student's full report (for instructors) and feedback page (of `view`,
    policy.StudentView, what the student may see now, when given; `manual`: manual.ManualPart, the
    points and comments given by hand). When this changes a grade already recorded, the old report
    goes to history/ first; the old score is returned (None when unchanged)."""
    path = out / "reports" / f"{result.student_id}.json"
    text = json.dumps(result.to_dict(), indent=1)
    page = out / "feedback" / f"{result.student_id}.html"
    try:
        old = path.read_bytes()
    except OSError:
        old = None
    if old == text.encode():
        # what the student may see moves with time, and so do the points given by hand
        write_if_changed(page, render_feedback(result, policy, view, manual))
        return None
    before = None
    if old is not None:
        try:
            previous = json.loads(old)
        except ValueError:
            previous = {}
        if not isinstance(previous, dict) or _grade_of(previous) != _grade_of(result.to_dict()):
            keep_in_history(out, result.student_id, old)
            score = previous.get("score") if isinstance(previous, dict) else None
            before = float(score) if isinstance(score, (int, float)) else 0.0
    atomic_write_text(path, text)
    atomic_write_text(page, render_feedback(result, policy, view, manual))
    return before


def render_feedback(result: SubmissionResult, policy=None, view=None, manual=None) -> str:
    withheld = 0
    if view is not None:
        result, withheld = view.result, view.withheld
    families: dict[str, list[TestOutcome]] = {}
    for t in result.tests:
        families.setdefault(t.family, []).append(t)
    lateness = late.describe(policy, result.late_by_s, result.penalty) if policy and result.submitted_at else ""
    # A notebook that never loaded: every test carries the same reason; the page says it once.
    said = None
    if result.load_error:  # the words of verdict.not_run
        said = result.load_error if result.load_error.startswith("not run") else f"not run: {result.load_error}"
    return _env.get_template("feedback.html.j2").render(r=result, families=families, lateness=lateness,
                                                        family_scores=result.family_scores(), withheld=withheld,
                                                        said=said, manual=manual if manual and manual.grades else None)


def previous_reports(out: Path, digests: dict | None = None) -> dict[str, SubmissionResult]:
    """The reports of the last run, by student; `digests` (when given) gets each file's sha256."""
    found = {}
    for path in sorted((out / "reports").glob("*.json")):
        try:
            data = path.read_bytes()
            r = SubmissionResult.from_dict(json.loads(data))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable: it will simply be regraded
        found[r.student_id] = r
        if digests is not None:
            digests[path.name] = hashlib.sha256(data).hexdigest()
    return found


# -- per assignment ----------------------------------------------------------------------------

def families_of(template: SubmissionResult, order=()) -> list[str]:
    present = {t.family for t in template.tests}
    return [f for f in order if f in present] + sorted(present - set(order))


def write_assignment(out: Path, assignment, results: list[SubmissionResult], template: SubmissionResult,
                     not_graded=(), manual=None) -> None:
    """scores.csv: a row per student with a result, and a row per folder that could not be graded
    (`not_graded`: discover.NotGraded), its score left empty and its reason in `note`.

    `score` is the one total: the hidden tests' points after the late penalty (`auto_score`) plus
    the points given by hand (`manual_score`, of `manual_max`: manual.ManualPart per student);
    `manual_status` says `pending: 2 of 5 to grade` while some are not graded, which count nothing yet."""
    families = families_of(template, assignment.settings.families)
    manual = manual or {}
    most_manual = max((part.max_score for part in manual.values()), default=0.0)
    most = template.max_score + most_manual
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", *families, "submitted_at", "late_penalty", "note", "auto_score", "manual_score",
                "manual_max", "manual_status", "score", "max_score", "percent"])
    rows = [(r.student_id, r) for r in results] + [(n.name, n) for n in not_graded]
    for _, r in sorted(rows, key=lambda row: row[0]):
        if not isinstance(r, SubmissionResult):
            w.writerow([r.name, *("" for _ in families), "", "", f"NOT GRADED: {r.folder} {r.reason}", "", "",
                        _num(most_manual), "", "", _num(most), ""])
            continue
        fs = r.family_scores()
        part = manual.get(r.student_id)
        by_hand = part.score if part else 0.0
        total = r.score + by_hand
        w.writerow([r.student_id, *(_num(fs.get(f, (0.0, 0.0))[0]) for f in families), r.submitted_at,
                    _num(r.penalty), _oneline(r.load_error or "", 300), _num(r.score), _num(by_hand),
                    _num(most_manual), part.status() if part else "", _num(total), _num(most),
                    _num(round(100 * total / most, 2) if most else 0.0)])
    write_if_changed(out / "scores.csv", buf.getvalue())
    # Reports of students no longer in the run are kept in history/, never just deleted.
    keep = {r.student_id for r in results}
    for path in (out / "reports").glob("*.json"):
        if path.stem not in keep:
            keep_in_history(out, path.stem, path.read_bytes())
            path.unlink()
    for path in (out / "feedback").glob("*.html"):
        if path.stem not in keep:
            path.unlink()


def refresh_manual(out: Path, manual: dict) -> None:
    """Rewrite scores.csv's columns of points given by hand (and the total) from `manual`
    (manual.ManualPart per student), the rest as the grade run wrote it: `make export` after
    grading in formgrader carries the new points without a regrade."""
    path = Path(out) / "scores.csv"
    if not path.is_file():
        return
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        header, rows = reader.fieldnames or [], list(reader)
    if "manual_score" not in header:
        return  # written before grading by hand existed: the next make grade rewrites it
    most_manual = max((part.max_score for part in manual.values()), default=0.0)
    for row in rows:
        auto_max = float(row["max_score"]) - float(row["manual_max"] or 0)
        row["manual_max"], row["max_score"] = _num(most_manual), _num(auto_max + most_manual)
        part = manual.get(row["student_id"])
        if row["score"] == "" or part is None:
            continue
        total = float(row["auto_score"]) + part.score
        most = auto_max + most_manual
        row.update(manual_score=_num(part.score), manual_status=part.status(), score=_num(total),
                   percent=_num(round(100 * total / most, 2) if most else 0.0))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_if_changed(path, buf.getvalue())


def not_graded_rows(out: Path) -> list:
    """The NOT GRADED rows of grades/<id>/scores.csv, read back as discover.NotGraded: so a
    dashboard rewritten later (make similarity) still lists the folders the last run could not grade."""
    from autograder.coordinator.discover import NotGraded

    path = Path(out) / "scores.csv"
    if not path.is_file():
        return []
    found = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            note = row.get("note") or ""
            if row.get("score") == "" and note.startswith("NOT GRADED: "):
                # the note is "<folder> <reason>"; the folder (which may hold spaces) ends at its
                # student-id segment, or at the assignment segment just after it
                rest, name = note[len("NOT GRADED: "):], row["student_id"]
                end = rest.find(f"/{name}") + 1 + len(name) if f"/{name}" in rest else rest.find(" ")
                if rest[end:end + 1] == "/":
                    end = rest.find(" ", end) if " " in rest[end:] else len(rest)
                found.append(NotGraded(rest[:end], name, rest[end:].strip()))
    return found


def write_class_grades(grades_dir: Path, cfg) -> None:
    """grades/grades.csv: one row per student, one score column per graded assignment (its total,
    automatic and by hand), and `pending`: the assignments whose answers graded by hand are not all graded."""
    table: dict[str, dict[str, float]] = {}
    pending: dict[str, list[str]] = {}
    maxima: dict[str, float] = {}
    for scores in sorted(grades_dir.glob("*/scores.csv")):
        aid = scores.parent.name
        with scores.open() as f:
            for row in csv.DictReader(f):
                maxima[aid] = float(row["max_score"])
                if row["score"]:  # an empty score: a folder that could not be graded, not a zero
                    table.setdefault(row["student_id"], {})[aid] = float(row["score"])
                if (row.get("manual_status") or "").startswith("pending"):
                    pending.setdefault(row["student_id"], []).append(f"{aid} ({row['manual_status']})")
    aids = sorted(maxima)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", *aids, "total", "max_total", "percent", "pending"])
    most = sum(maxima.values())
    for student in sorted(table):
        total = sum(table[student].values())
        w.writerow([student, *(_num(table[student].get(a, 0.0)) for a in aids), _num(total), _num(most),
                    _num(round(100 * total / most, 2) if most else 0.0), "; ".join(pending.get(student, []))])
    write_if_changed(grades_dir / "grades.csv", buf.getvalue())


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
