"""Grade stage: every submission of an assignment, in parallel lanes, then the reports.

Order matters:
1. the reference solution is graded first, as if it were a student: it must score 100%, or a
   hidden test is wrong and nobody gets graded; its probe results become the run's cache, kept
   under the grader's fingerprint so that the next run with nothing changed skips this step;
2. submissions whose notebook, hidden tests and reference are unchanged keep their report;
3. the rest are spread over the lanes; a lane that dies only costs a retry;
4. the coordinator, alone, writes grades/ (reports, scores.csv, feedback, grades.csv).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import threading
import time

from autograder.assignment import Assignment, grader_fingerprint, load_assignment
from autograder.config import CourseConfig, CourseError
from autograder.coordinator import dashboard, gradebook, policy, pool, report, similarity
from autograder.coordinator.discover import discover
from autograder.judge import tasks, verdict
from autograder.results import Status, Submission, SubmissionResult


def _lane_count(cfg_lanes: int) -> int:
    return cfg_lanes if cfg_lanes > 0 else max(1, os.cpu_count() or 1)


# -- the reference ----------------------------------------------------------------------------------

def _reference_file(out, grader_fp: str):
    return out / ".reference" / f"{grader_fp[:32]}.json"


def reference_results(executor, cfg: CourseConfig, a: Assignment, grader_fp: str,
                      force: bool = False) -> tuple[SubmissionResult, bytes]:
    """The reference's result and probe results: read back when this grader fingerprint was
    checked before (unless `force`), else graded now. It must get every point, or the hidden
    tests are wrong."""
    out = cfg.root / "grades" / a.id
    kept = _reference_file(out, grader_fp)
    if kept.is_file() and not force:
        try:
            saved = json.loads(kept.read_text())
            return SubmissionResult.from_dict(saved["result"]), bytes.fromhex(saved["probes"])
        except (ValueError, KeyError, TypeError):
            pass  # unreadable: check it again
    text, frame = executor.submit(tasks.reference_check, str(cfg.root), a.id).result()
    result = SubmissionResult.from_dict(json.loads(text))
    bad = [t for t in result.tests if t.status is not Status.PASSED]
    if bad or result.load_error or result.load_issues:
        lines = [f"  {t.name}: {t.status.value}: {t.output[:300]}" for t in bad]
        lines += [f"  cell {i.cell}: {i.message}" for i in result.load_issues]
        raise CourseError(f"{a.reference_notebook}: the reference solution does not pass its own hidden "
                          f"tests, so grading would be unfair:\n" + "\n".join(lines or [f"  {result.load_error}"]))
    for stale in kept.parent.glob("*.json"):
        stale.unlink()
    result.pytest_report = None
    report.atomic_write_text(kept, json.dumps({"result": result.to_dict(), "probes": frame.hex()}))
    return result, frame


# -- the stage ---------------------------------------------------------------------------------

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
    return (lambda: pool.local_pool(str(cfg.root), a.id, lanes)), 1


def _import_for_the_finish() -> None:
    """The finishing stage's heavy imports (matplotlib for the dashboard, nbgrader's gradebook),
    done while the lanes start up and this process would only wait."""
    import importlib

    for name in ("matplotlib.backends.backend_agg", "matplotlib.figure", "nbgrader.api", "alembic.script"):
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
                     lanes: int | None = None, quiet: bool = False, scheduler: str | None = None) -> list[SubmissionResult]:
    a = load_assignment(cfg, assignment_id)
    scheduler = a.settings.scheduler if scheduler is None else scheduler
    out = cfg.root / "grades" / a.id
    grader_fp = grader_fingerprint(a)
    subs, broken = discover(cfg, a, grader_fp)
    lanes = min(_lane_count(lanes if lanes is not None else a.settings.lanes), max(1, len(subs)))

    say = (lambda *m: None) if quiet else (lambda *m: print(*m, flush=True))
    caps = check_isolation(a.settings.min_isolation)
    where = f"Dask cluster at {scheduler}" if scheduler else f"{lanes} local lanes"
    say(f"grading {a.id}: {len(subs)} submissions on {where}, isolation {caps.describe()}")

    started = time.perf_counter()
    threading.Thread(target=_import_for_the_finish, name="imports", daemon=True).start()
    new_executor, batch_size = executor_factory(cfg, a, lanes, scheduler, len(subs))
    with contextlib.ExitStack() as finish:  # closes the gradebook, then shuts the lanes down, whatever happens
        executor = new_executor()
        finish.callback(executor.shutdown, cancel_futures=True)
        template, frame = reference_results(executor, cfg, a, grader_fp, force)  # every report lists every hidden test

        results, todo = _reuse(subs, report.previous_reports(out), force)
        for r in broken:
            results[r.student_id] = verdict.every_test(r, template)
        # Students the gradebook knows but who submitted nothing still get a row, at 0.
        submitted = {s.student_id for s in subs}
        for student in gradebook.students(cfg):
            if student not in results and student not in submitted:
                folder = cfg.submitted_dir.name + f"/{student}/{a.id}/"
                results[student] = verdict.every_test(verdict.not_graded(
                    Submission(student, a.id, a.notebook, b""),
                    verdict.unreadable(f"no submission found in {folder}")), template)
        times = {s.student_id: s.submitted_at for s in subs}

        progress = report.Progress(len(todo), enabled=not quiet and sys.stderr.isatty())
        book = finish.enter_context(gradebook.Recorder(cfg, a.id, a.notebook, template))

        def on_result(r: SubmissionResult) -> None:
            r = apply_late_policy(cfg, a.id, verdict.every_test(r, template), times.get(r.student_id))
            r = results[r.student_id] = policy.counted(cfg, a, r, grader_fp)
            # as each finishes: a crash later keeps these
            report.write_student(out, r, cfg.late_policy, policy.feedback_view(cfg, a, r))
            book.add(r)  # while the lanes work, not after
            r.pytest_report = None  # on disk now; memory stays flat however large the class
            progress.step(r.student_id)

        pool.run_lanes(cfg, a.id, todo, frame, new_executor, on_result, batch_size=batch_size, executor=executor)
        progress.done()
        graded = {s.student_id for s in todo}
        for student, r in results.items():  # reused and unreadable ones: the due date may have moved
            if student not in graded:
                r = policy.counted(cfg, a, apply_late_policy(cfg, a.id, r, times.get(student)), grader_fp)
                results[student] = r
                report.write_student(out, r, cfg.late_policy, policy.feedback_view(cfg, a, r))
                book.add(r)
    ordered = [results[k] for k in sorted(results)]
    report.write_assignment(out, a, ordered, template)
    if a.settings.similarity:  # evidence beside the grades, never part of them
        try:
            similarity.check(cfg, a.id, quiet=quiet)
        except CourseError as exc:
            print(f"warning: the similarity check of {a.id} did not run: {exc}", file=sys.stderr)
    dashboard.write_summary(out, a.id, ordered, template, caps.describe(), similarity.top_pairs(cfg, out))
    reused = len(subs) - len(todo)
    say(report.summary_table(ordered))
    say(f"{len(ordered)} reports in {out.relative_to(cfg.root)}/ ({len(todo)} graded, {reused} unchanged and "
        f"reused) in {time.perf_counter() - started:.1f} s")
    return ordered


def grade(cfg: CourseConfig, assignment_id: str | None = None, force: bool = False,
          lanes: int | None = None, quiet: bool = False, scheduler: str | None = None) -> dict[str, list[SubmissionResult]]:
    ids = [assignment_id] if assignment_id else [
        aid for aid in cfg.assignments() if any((cfg.source_dir / aid / "hidden").glob("test_*.py"))]
    if not ids:
        raise CourseError(f"{cfg.source_dir}: no assignment with hidden tests to grade")
    runs = {aid: grade_assignment(cfg, aid, force, lanes, quiet, scheduler) for aid in ids}
    report.write_class_grades(cfg.root / "grades", cfg)
    return runs
