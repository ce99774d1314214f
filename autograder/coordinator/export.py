"""Export stage: Gradescope results.json per submission, a Canvas gradebook CSV, the class grades.

Reads only the reports the grade stage wrote; it never grades anything itself.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from autograder.assignment import load_assignment
from autograder.coordinator import manual, policy, report
from autograder.config import CourseConfig, CourseError, PolicySettings
from autograder.results import Status, SubmissionResult
from autograder.coordinator.roster import load_roster

GRADESCOPE_VISIBILITY = ("hidden", "after_due_date", "after_published", "visible")


def gradescope_results(r: SubmissionResult, rules: PolicySettings | None = None, part=None) -> dict:
    """One submission in Gradescope's autograder results.json form; each test's visibility is the
    course policy's (`rules`), which Gradescope then enforces. `part` (manual.ManualPart): the
    items graded by hand, one test each once graded; the score is the total of both."""
    tests = []
    for number, t in enumerate(r.tests, 1):
        visibility = policy.visibility(rules, t.name, t.family, t.visibility) if rules else t.visibility
        visibility = visibility if visibility in GRADESCOPE_VISIBILITY else "visible"
        text = (t.description + "\n" if t.description else "") + (t.output or "")
        tests.append({"name": t.name, "number": str(number), "score": t.score, "max_score": t.max_score,
                      "status": "passed" if t.status is Status.PASSED else "failed",
                      "output": text.strip(), "output_format": "text", "tags": [t.family, t.status.value],
                      "visibility": visibility})
    notes = []
    if r.load_error:
        notes.append(r.load_error)
    if r.penalty:
        notes.append(f"Late penalty: -{r.penalty:g} points (submitted {r.submitted_at}); tests earned {r.raw_score:g}.")
    if part is not None:
        for g in part.grades:
            if g.pending:
                continue
            text = "\n".join([g.comment, *(f"- {item.text}" for item in g.rubric)]).strip()
            tests.append({"name": f"{g.item.grade_id} (graded by hand)", "number": str(len(tests) + 1),
                          "score": g.score, "max_score": g.item.points, "output": text, "output_format": "text",
                          "tags": ["manual"], "visibility": "visible"})
        if part.pending:
            notes.append(f"Graded by hand: {part.pending} of {len(part.grades)} items not graded yet "
                         f"({sum(g.item.points for g in part.grades if g.pending):g} points pending).")
    by_hand = part.score if part is not None else 0.0
    return {"score": r.score + by_hand, "execution_time": round(r.timings.get("total_s", 0.0)),
            "output": "\n".join(notes), "output_format": "text", "test_output_format": "text",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"max_score": r.max_score + (part.max_score if part is not None else 0.0),
                           "auto_score": r.score, "manual_score": by_hand,
                           "manual_pending": part.pending if part is not None else 0, "isolation": r.isolation}}


def _reports(assignment_dir: Path) -> list[SubmissionResult]:
    return sorted(report.previous_reports(assignment_dir).values(), key=lambda r: r.student_id)


def unrostered(cfg: CourseConfig, graded: dict[str, list[SubmissionResult]]) -> list[str]:
    """Why some rows of canvas.csv have no Canvas ID: students graded but missing from the roster."""
    roster = load_roster(cfg)
    students = sorted({r.student_id for results in graded.values() for r in results})
    path = cfg.root / cfg.collect.roster
    if not roster:
        return [f"canvas.csv: no roster ({path.name} is missing or empty), so every row has a blank ID and "
                "Canvas will not match them; add a roster with student_id and lms_id"] if students else []
    missing = [s for s in students if s not in roster or not roster[s].lms_id]
    if not missing:
        return []
    return [f"canvas.csv: {len(missing)} student(s) graded but not on the roster (or without an lms_id) get a blank "
            f"ID, which Canvas cannot match: {', '.join(missing)}; add them to {path.name}"]


def canvas_csv(cfg: CourseConfig, graded: dict[str, list[SubmissionResult]], manual: dict | None = None) -> str:
    """Canvas's gradebook import format: the student columns, then one column per assignment: the
    total of the hidden tests and the points given by hand (`manual`: {assignment: {student: ManualPart}})."""
    roster = load_roster(cfg)
    manual = manual or {}
    aids = sorted(graded)
    students = sorted({r.student_id for results in graded.values() for r in results} | set(roster))

    def by_hand(aid, student, field):
        part = manual.get(aid, {}).get(student)
        return getattr(part, field) if part is not None else 0.0

    scores = {(aid, r.student_id): r.score + by_hand(aid, r.student_id, "score")
              for aid, results in graded.items() for r in results}
    maxima = {aid: max((r.max_score + by_hand(aid, r.student_id, "max_score") for r in results), default=0.0)
              for aid, results in graded.items()}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *aids])
    w.writerow(["    Points Possible", "", "", "", "", *(f"{maxima[a]:g}" for a in aids)])
    for sid in students:
        who = roster.get(sid)
        name = who.name if who and who.name else sid
        last_first = ", ".join(reversed(name.split(" ", 1))) if " " in name else name
        w.writerow([last_first, who.lms_id if who else "", who.sis_id if who else "", sid,
                    who.section if who else "",
                    *(f"{scores[(a, sid)]:g}" if (a, sid) in scores else "" for a in aids)])
    return buf.getvalue()


def export(cfg: CourseConfig) -> tuple[list[Path], list[str]]:
    """Write every export from the current reports; returns the files written and warnings."""
    grades = cfg.root / "grades"
    graded = {d.name: _reports(d) for d in sorted(grades.iterdir()) if (d / "reports").is_dir()} \
        if grades.is_dir() else {}
    written, manual_parts, pending = [], {}, []
    for aid, results in graded.items():
        try:
            a = load_assignment(cfg, aid)
            rules = a.policy
            # the points given by hand, as the gradebook holds them now (formgrader writes there)
            parts = manual_parts[aid] = manual.read(cfg, a, [r.student_id for r in results])
        except CourseError:  # reports of an assignment no longer in the source folder
            rules, parts = cfg.policy, {}
        report.refresh_manual(grades / aid, parts)
        waiting = sorted(s for s, part in parts.items() if part.pending)
        if waiting:
            pending.append(f"{aid}: {len(waiting)} submission(s) with answers not graded by hand yet, exported "
                           f"with those points pending (counted nowhere): {', '.join(waiting[:20])}"
                           + (f" and {len(waiting) - 20} more" if len(waiting) > 20 else "") + "; make formgrader")
        folder = grades / aid / "gradescope"
        keep = set()
        for r in results:
            path = folder / f"{r.student_id}.json"
            report.atomic_write_text(path, json.dumps(gradescope_results(r, rules, parts.get(r.student_id)), indent=1))
            written.append(path)
            keep.add(path.name)
        for stale in folder.glob("*.json"):
            if stale.name not in keep:
                stale.unlink()
    canvas = grades / "canvas.csv"
    report.atomic_write_text(canvas, canvas_csv(cfg, graded, manual_parts))
    report.write_class_grades(grades, cfg)
    return [*written, canvas, grades / "grades.csv"], unrostered(cfg, graded) + pending
