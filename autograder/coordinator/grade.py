"""Grade stage: every submission of an assignment, in parallel lanes, then the reports.

Order matters:
1. everything that could refuse the run is checked for every assignment before anything is
   written (plan): the hidden tests as source (preflight), the submissions folder, an
   assignment nobody submitted, and grades already recorded whose submission is gone;
2. an assignment whose inputs and reports are all as the last run left them is done: no lanes,
   no reference, nothing rewritten (the state kept in grades/<assignment>/.state.json);
3. the reference solution is graded first, as if it were a student: it must score 100%, or a
   hidden test is wrong and nobody gets graded; its probe results become the run's cache, kept
   under the grader's fingerprint so that the next run with nothing changed skips this step;
4. submissions whose notebook, hidden tests and reference are unchanged keep their report;
5. the rest are spread over the lanes (none are started when nothing needs grading); a lane that
   dies only costs a retry;
6. the coordinator, alone, writes grades/ (reports, scores.csv, feedback, grades.csv); a report
   whose grade changes is kept in history/ first.

The lanes, the judge's verdicts and matplotlib are imported only when something is graded:
the run that finds nothing changed starts in a fraction of a second.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable

from autograder.assignment import Assignment
from autograder.config import CourseConfig, CourseError
from autograder.coordinator import formgrade, gradebook, interrupt, manual, plan, policy, report
from autograder.coordinator.discover import NotGraded, check_submitted_dir, stray_folders
from autograder.coordinator.plan import Plan
from autograder.coordinator.roster import load_roster
from autograder.results import Submission, SubmissionResult


def _lane_count(cfg_lanes: int) -> int:
    return cfg_lanes if cfg_lanes > 0 else max(1, os.cpu_count() or 1)


# -- the reference ----------------------------------------------------------------------------------

def _reference_file(out, grader_fp: str):
    return out / ".reference" / f"{grader_fp[:32]}.json"


def kept_reference(out, grader_fp: str) -> tuple[SubmissionResult, bytes] | None:
    """The reference's result and probe results as checked before under this grader fingerprint."""
    kept = _reference_file(out, grader_fp)
    try:
        saved = json.loads(kept.read_text())
        return SubmissionResult.from_dict(saved["result"]), bytes.fromhex(saved["probes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # never checked, or unreadable: check it again


def reference_results(executor, cfg: CourseConfig, a: Assignment, grader_fp: str,
                      force: bool = False, local: bool = True,
                      meanwhile: Callable[[], None] | None = None) -> tuple[SubmissionResult, bytes]:
    """The reference's result and probe results: read back when this grader fingerprint was
    checked before (unless `force`), else graded now. It must get every point, or the hidden
    tests are wrong. meanwhile(): called once the check is under way on a lane (not when the
    results are read back), to start the class on the other lanes."""
    from autograder.coordinator import pool
    from autograder.judge import tasks
    from autograder.results import Status

    out = cfg.root / "grades" / a.id
    kept = None if force else kept_reference(out, grader_fp)
    if kept is not None:
        return kept
    check = pool.reference_check if local else tasks.reference_check
    checking = executor.submit(check, str(cfg.root), a.id)
    if meanwhile is not None:
        meanwhile()
    text, frame = checking.result()
    result = SubmissionResult.from_dict(json.loads(text))
    bad = [t for t in result.tests if t.status is not Status.PASSED]
    if bad or result.load_error or result.load_issues:
        lines = [f"  {_where(result.pytest_report, t.name, a.hidden)}: {t.name}: {t.status.value}: "
                 f"{' '.join(t.output.split())[:300]}" for t in bad]
        lines += [f"  cell {i.cell}: {i.message}" for i in result.load_issues]
        raise CourseError(f"{a.reference_notebook}: the reference solution does not pass its own hidden "
                          f"tests, so grading would be unfair:\n" + "\n".join(lines or [f"  {result.load_error}"]))
    kept_file = _reference_file(out, grader_fp)
    for stale in kept_file.parent.glob("*.json"):
        stale.unlink()
    result.pytest_report = None
    report.atomic_write_text(kept_file, json.dumps({"result": result.to_dict(), "probes": frame.hex()}))
    return result, frame


def _where(report: dict | None, nodeid: str, hidden) -> str:
    """The hidden test's file and line where it failed (where it is defined, when it failed elsewhere)."""
    test = next((t for t in (report or {}).get("tests", []) if t.get("nodeid") == nodeid), {})
    crash = next((test[phase]["crash"] for phase in ("call", "setup") if (test.get(phase) or {}).get("crash")), {})
    if str(crash.get("path", "")).startswith(str(hidden)):
        return f"{crash['path']}:{crash.get('lineno')}"
    return f"{hidden / nodeid.split('::')[0]}:{int(test.get('lineno', 0)) + 1}"


# -- the checks before anything is written ----------------------------------------------------------

def check_isolation(minimum: str):
    """Probe the sandbox layers this machine offers; refuse below `minimum`, warn below the best."""
    from autograder.sandbox.capabilities import LEVELS, probe

    if minimum not in LEVELS:
        raise CourseError(f"course_config.py: GRADING['min_isolation'] = {minimum!r}; choose one of "
                          f"{', '.join(LEVELS)}")
    caps = probe()
    if caps.level < LEVELS.index(minimum):
        raise CourseError(f"this machine reaches isolation {caps.describe()}, below the "
                          f"min_isolation {minimum!r} that course_config.py requires; refusing to grade")
    if caps.level < len(LEVELS) - 1:
        print(f"WARNING: student code will run with weaker isolation than the best: {caps.describe()}. "
              "Run the grader as root on Linux for namespaces and cgroups.", file=sys.stderr)
    return caps


# -- the stage ---------------------------------------------------------------------------------

def apply_late_policy(cfg: CourseConfig, assignment_id: str, r: SubmissionResult,
                      submitted_at: dt.datetime | None) -> SubmissionResult:
    """Stamp the submission time and the late penalty (recomputed every run, reports reused or not),
    against the student's own due date (policy.py: extensions)."""
    return policy.stamp_late(cfg, assignment_id, r, submitted_at)


def executor_factory(cfg: CourseConfig, a: Assignment, lanes: int, scheduler: str, n: int):
    """(a function making the executor, batch size): the local pool, or a Dask cluster."""
    if scheduler:
        from autograder.coordinator.cluster import dask_executor

        size = a.settings.batch_size or max(1, min(16, n // 8 or 1))
        return (lambda: dask_executor(scheduler)), size
    from autograder.coordinator import pool

    return (lambda: pool.local_pool(str(cfg.root), a.id, lanes)), 1


def _import_for_the_finish(new_gradebook: bool) -> None:
    """The finishing stage's heavy imports (matplotlib for the dashboard, nbgrader's gradebook, and
    alembic when the gradebook is new), done while the lanes start up and this process would only wait."""
    import importlib

    for name in ("matplotlib.backends.backend_agg", "matplotlib.figure", "nbgrader.api",
                 *(["alembic.script"] if new_gradebook else [])):
        importlib.import_module(name)


def _reuse(subs: list[Submission], previous: dict, force: bool) -> tuple[dict, list[Submission]]:
    """(results kept from the last run, submissions to grade)."""
    kept, todo = {}, []
    for s in subs:
        old = previous.get(s.student_id)
        if not force and old is not None and old.fingerprint == s.fingerprint:
            kept[s.student_id] = old
        else:
            todo.append(s)
    return kept, todo


def grade_assignment(cfg: CourseConfig, assignment_id: str, force: bool = False,
                     lanes: int | None = None, quiet: bool = False, scheduler: str | None = None,
                     allow_missing: bool = False) -> list[SubmissionResult]:
    """Grade one assignment (checked as grade_course checks it); its results, in student id order."""
    p = plan.plan_assignment(cfg, assignment_id, set(gradebook.students(cfg)), allow_missing)
    return grade_planned(cfg, p, force, lanes, quiet, scheduler)


def grade_planned(cfg: CourseConfig, p: Plan, force: bool = False, lanes: int | None = None,
                  quiet: bool = False, scheduler: str | None = None) -> list[SubmissionResult]:
    a, found = p.assignment, p.found
    scheduler = a.settings.scheduler if scheduler is None else scheduler
    out = cfg.root / "grades" / a.id
    say = (lambda *m: None) if quiet else (lambda *m: print(*m, flush=True))
    started = time.perf_counter()
    subs = found.submissions
    caps = check_isolation(a.settings.min_isolation)

    if not force and plan.unchanged(cfg, p):
        ordered = [p.previous[s] for s in p.students if s in p.previous]
        say(f"{a.id}: nothing changed since the last run ({len(subs)} submissions, the hidden tests, the reference, "
            f"the due date); {len(ordered)} reports kept in {out.relative_to(cfg.root)}/ (FORCE=1 regrades)")
        say(report.summary_table(ordered))
        _say_differences(cfg, p, say, changed={}, left=manual.progress(manual.read(cfg, a, p.students)))
        return ordered

    from autograder.coordinator import dashboard, pool
    from autograder.judge import verdict

    results, todo = _reuse(subs, p.previous, force)
    lanes = min(_lane_count(lanes if lanes is not None else a.settings.lanes), max(1, len(todo)))
    kept = None if force else kept_reference(out, p.grader_fp)
    need_lanes = bool(todo) or kept is None
    where = f"Dask cluster at {scheduler}" if scheduler else f"{lanes} local lane{'s' if lanes != 1 else ''}"
    say(f"grading {a.id}: {len(subs)} submissions, {len(todo)} to grade"
        + (f" on {where}" if need_lanes else ", no lanes needed") + f", isolation {caps.describe()}")

    changed: dict[str, tuple[float, float]] = {}  # student -> (score before, score now)
    new_gradebook = not (cfg.root / cfg.nbgrader.gradebook).is_file()
    threading.Thread(target=_import_for_the_finish, args=(new_gradebook,), name="imports", daemon=True).start()
    new_executor, batch_size = executor_factory(cfg, a, lanes, scheduler, len(todo))
    with contextlib.ExitStack() as finish:  # closes the gradebook, then shuts the lanes down, whatever happens
        executor = None
        if need_lanes:
            executor = new_executor()
            finish.callback(executor.shutdown, cancel_futures=True)
        # With no reference checked before, the class starts on the other lanes while one lane checks
        # it; their results are written only once it has passed (pool.Early).
        early: list[pool.Early] = []

        def start_class() -> None:
            early.append(pool.Early(cfg, a.id, todo, new_executor, batch_size, executor))

        template, frame = kept or reference_results(executor, cfg, a, p.grader_fp, force, local=not scheduler,
                                                    meanwhile=start_class if todo else None)

        for u in found.unreadable:
            results[u.student_id] = verdict.every_test(verdict.not_graded(
                Submission(u.student_id, a.id, u.notebook, b""), verdict.unreadable(u.message)), template)
        for student in p.missing:  # known to the gradebook or an earlier run, but nothing submitted now
            folder = cfg.submitted_dir.name + f"/{student}/{a.id}/"
            results[student] = verdict.every_test(verdict.not_graded(
                Submission(student, a.id, a.notebook, b""),
                verdict.unreadable(f"no submission found in {folder}")), template)
        times = {s.student_id: s.submitted_at for s in subs}

        # What is graded by hand (manual.py): the cells, what each student wrote in them, the gradebook's scores.
        items, rubric = manual.items(a), manual.load_rubric(a)
        released = formgrade.released_cells(cfg, a.id, a.notebook)
        data = {s.student_id: s.data for s in subs}
        answered = {s: {gid: text is not None for gid, text in formgrade.answers(data.get(s), items, released).items()}
                    for s in set(data) | set(results) | set(p.missing)}
        parts = manual.read(cfg, a, sorted(answered), items, rubric, answered)

        progress = report.Progress(len(todo), enabled=not quiet and sys.stderr.isatty())
        book = finish.enter_context(gradebook.Recorder(cfg, a.id, a.notebook, template, items, released))

        def record(r: SubmissionResult) -> None:
            with interrupt.held():  # a report, its gradebook rows and formgrader's copy, all or none
                _record(r)

        def _record(r: SubmissionResult) -> None:
            r = apply_late_policy(cfg, a.id, r, times.get(r.student_id))
            r = results[r.student_id] = policy.counted(cfg, a, r, p.grader_fp)  # the service's attempts too
            # as each finishes: a crash later keeps these; the page shows what the student may see now
            before = report.write_student(out, r, cfg.late_policy, policy.feedback_view(cfg, a, r),
                                          manual=parts.get(r.student_id))
            if before is not None and before != r.score:
                changed[r.student_id] = (before, r.score)
            book.add(r, answered.get(r.student_id))  # while the lanes work, not after
            formgrade.write_autograded(cfg, a.id, a.notebook, r, data.get(r.student_id), items, released, rubric)

        def on_result(r: SubmissionResult) -> None:
            record(verdict.every_test(r, template))
            r.pytest_report = None  # on disk now; memory stays flat however large the class
            progress.step(r.student_id)

        if early:
            early[0].drain(on_result)
        elif todo:
            pool.run_lanes(cfg, a.id, todo, frame, new_executor, on_result, batch_size=batch_size, executor=executor)
        progress.done()
        graded = {s.student_id for s in todo}
        for student, r in list(results.items()):  # reused and unreadable ones: the due date may have moved
            if student not in graded:
                record(r)
    ordered = [results[k] for k in sorted(results)]
    report.write_assignment(out, a, ordered, template, found.not_graded, manual=parts)
    from autograder.coordinator import similarity

    if a.settings.similarity:  # evidence beside the grades, never part of them
        try:
            similarity.check(cfg, a.id, quiet=quiet)
        except CourseError as exc:
            print(f"warning: the similarity check of {a.id} did not run: {exc}", file=sys.stderr)
    dashboard.write_summary(out, a.id, ordered, template, caps.describe(), similar=similarity.top_pairs(cfg, out),
                            not_graded=found.not_graded, manual=manual.progress(parts))
    plan.save_state(cfg, p, sorted(results))
    say(report.summary_table(ordered))
    _say_differences(cfg, p, say, changed, left=manual.progress(parts))
    say(f"{len(ordered)} reports in {out.relative_to(cfg.root)}/ ({len(todo)} graded, {len(subs) - len(todo)} "
        f"unchanged and reused) in {time.perf_counter() - started:.1f} s")
    return ordered


def _say_differences(cfg: CourseConfig, p: Plan, say, changed: dict, left: tuple[int, int] = (0, 0)) -> None:
    """What the instructor must not miss: folders not graded, changed grades, what is left to grade
    by hand (`left`: manual.progress), the roster's view."""
    a, found = p.assignment, p.found
    if left[0]:
        say(f"  graded by hand: {left[0]} of {left[1]} written answers and rubric items still to grade, counted "
            "nowhere until then (make formgrader)")
    for n in found.not_graded:
        say(f"  NOT GRADED {n.folder}: {n.reason}")
    for student, (before, now) in sorted(changed.items()):
        say(f"  grade changed: {student} {before:g} -> {now:g} (the previous report is in "
            f"grades/{a.id}/history/{student}/)")
    if p.missing:
        say(f"  no submission (0 points): {', '.join(p.missing)}")
    roster = load_roster(cfg)
    if not roster:
        say(f"  no roster ({cfg.collect.roster}): submissions are not checked against a class list")
        return
    submitted = found.students | {n.name for n in found.not_graded}
    absent = sorted(set(roster) - submitted)
    strangers = sorted(submitted - set(roster))
    say(f"  roster: {len(roster)} students, {len(set(roster) & submitted)} submitted"
        + (f"; on the roster, nothing submitted: {', '.join(absent)}" if absent else "")
        + (f"; submitted, not on the roster: {', '.join(strangers)}" if strangers else ""))


@dataclass
class CourseRun:
    """A grading run over one or more assignments."""
    results: dict[str, list[SubmissionResult]]
    not_graded: list[NotGraded]   # every folder no report was made for, this run


def grade_course(cfg: CourseConfig, assignment_id: str | None = None, force: bool = False,
                 lanes: int | None = None, quiet: bool = False, scheduler: str | None = None,
                 allow_missing: bool = False) -> CourseRun:
    """Check every assignment to grade (nothing is written when one is refused), then grade each."""
    ids = [assignment_id] if assignment_id else [
        aid for aid in cfg.assignments() if any((cfg.source_dir / aid / "hidden").glob("test_*.py"))]
    if not ids:
        raise CourseError(f"{cfg.source_dir}: no assignment with hidden tests to grade")
    check_submitted_dir(cfg)
    # The students of this run: those the gradebook knows and those who submitted anything now.
    known = set(gradebook.students(cfg))
    plans, refusals = [], []
    for aid in ids:
        try:
            plans.append(plan.plan_assignment(cfg, aid, known, allow_missing))
        except CourseError as exc:
            refusals.append(str(exc))
    if refusals:
        raise CourseError("\n".join(refusals))
    everyone = set().union(*(p.found.students for p in plans))
    for p in plans:  # a student who submitted one assignment of this run has a row in every one
        p.missing = sorted(set(p.missing) | (everyone - p.found.students - {n.name for n in p.found.not_graded}))
    plan.check_writable(cfg)
    strays = stray_folders(cfg, ids) if not assignment_id else []
    runs = {p.assignment.id: grade_planned(cfg, p, force, lanes, quiet, scheduler) for p in plans}
    report.write_class_grades(cfg.root / "grades", cfg)
    for n in strays:
        if not quiet:
            print(f"  NOT GRADED {n.folder}: {n.reason}", flush=True)
    return CourseRun(runs, [n for p in plans for n in p.found.not_graded] + strays)


def grade(cfg: CourseConfig, assignment_id: str | None = None, force: bool = False,
          lanes: int | None = None, quiet: bool = False, scheduler: str | None = None,
          allow_missing: bool = False) -> dict[str, list[SubmissionResult]]:
    """grade_course's results, by assignment."""
    return grade_course(cfg, assignment_id, force, lanes, quiet, scheduler, allow_missing).results
