"""Grade stage: every submission of an assignment, in parallel lanes, then the reports.

Order matters:
1. the reference solution is graded first, as if it were a student: it must score 100%, or a
   hidden test is wrong and nobody gets graded; its probe results become the run's cache;
2. submissions whose notebook, hidden tests and reference are unchanged keep their report;
3. the rest are spread over the lanes; a lane that dies only costs a retry;
4. the coordinator, alone, writes grades/ (reports, scores.csv, feedback, grades.csv).
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder import lanes as lanes_mod
from autograder import dashboard, gradebook, late, report
from autograder.assignment import Assignment, load_assignment
from autograder.config import CourseConfig, CourseError, parse_time
from autograder.results import Status, SubmissionResult, TestOutcome

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")
REFERENCE_ID = lanes_mod.REFERENCE_ID


@dataclass(frozen=True)
class Submission:
    student_id: str
    notebook: Path
    fingerprint: str
    data: bytes = field(repr=False)  # the bytes fingerprinted are the bytes graded: read once
    submitted_at: dt.datetime | None = None


# -- discovery ---------------------------------------------------------------------------------

def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if "__pycache__" in f.parts:
                continue
            h.update(str(f.relative_to(path.parent)).encode())
            h.update(f.read_bytes() if f.exists() else b"")
    return h.hexdigest()


def grader_fingerprint(a: Assignment) -> str:
    """Changes whenever the hidden tests, probes, reference, settings or the grader change."""
    h = hashlib.sha256(_digest(a.hidden, a.reference_notebook, Path(__file__).parent).encode())
    h.update(repr(a.settings).encode())
    return h.hexdigest()


def discover(cfg: CourseConfig, a: Assignment, grader_fp: str) -> tuple[list[Submission], list[SubmissionResult]]:
    """Submissions to grade, and results for folders that cannot be graded at all."""
    found, broken = [], []
    root = cfg.submitted_dir
    if not root.is_dir():
        return found, broken
    for student_dir in sorted(root.iterdir()):
        folder = student_dir / a.id
        if student_dir.is_symlink() or not folder.is_dir() or folder.is_symlink():
            continue
        student = student_dir.name
        if not STUDENT_ID.match(student) or student == REFERENCE_ID:
            print(f"warning: {student_dir}: skipped, the folder name is not a valid student id", file=sys.stderr)
            continue
        notebook = folder / a.notebook
        if not notebook.exists() and not notebook.is_symlink():
            others = sorted(p.name for p in folder.glob("*.ipynb"))
            if len(others) == 1:
                notebook = folder / others[0]  # a renamed download ("transformer (1).ipynb")
            else:
                broken.append(_unreadable(a, student, a.notebook,
                                          f"no {a.notebook} in {folder.relative_to(cfg.root)} "
                                          f"(found: {', '.join(others) or 'no notebook'})"))
                continue
        # Checked here, before a byte is read: the coordinator never follows a link planted in a
        # submission, and never loads a file larger than a notebook may be.
        if notebook.is_symlink() or not notebook.is_file():
            broken.append(_unreadable(a, student, notebook.name,
                                      f"{notebook.name}: is not a regular file (a link?); submit the notebook itself"))
            continue
        size = notebook.stat().st_size
        if size > a.settings.max_notebook_bytes:
            broken.append(_unreadable(a, student, notebook.name,
                                      f"{notebook.name}: is {size / 1e6:.0f} MB, over the "
                                      f"{a.settings.max_notebook_bytes / 1e6:.0f} MB limit; clear large outputs "
                                      "(Kernel > Restart & Clear Output) and resubmit"))
            continue
        try:
            data = notebook.read_bytes()
        except OSError as exc:
            broken.append(_unreadable(a, student, notebook.name, f"{notebook.name}: cannot be read ({exc.strerror})"))
            continue
        fp = hashlib.sha256(grader_fp.encode() + hashlib.sha256(data).digest()).hexdigest()
        found.append(Submission(student, notebook, fp, data, late.submission_time(folder, notebook)))
    return found, broken


def _unreadable(a: Assignment, student: str, notebook: str, message: str) -> SubmissionResult:
    return SubmissionResult(student, a.id, notebook, load_error=message)


# -- lanes -------------------------------------------------------------------------------------

def _lane_count(cfg_lanes: int) -> int:
    return cfg_lanes if cfg_lanes > 0 else max(1, os.cpu_count() or 1)


def check_reference(executor, cfg: CourseConfig, a: Assignment, cache_file: Path) -> tuple[SubmissionResult, bytes]:
    """Grade the reference solution; it must get every point, or the hidden tests are wrong."""
    text, frame = executor.submit(lanes_mod.reference_check, str(cfg.root), a.id).result()
    result = SubmissionResult.from_dict(json.loads(text))
    bad = [t for t in result.tests if t.status is not Status.PASSED]
    if bad or result.load_error or result.load_issues:
        lines = [f"  {t.name}: {t.status.value}: {t.output[:300]}" for t in bad]
        lines += [f"  cell {i.cell}: {i.message}" for i in result.load_issues]
        raise CourseError(f"{a.reference_notebook}: the reference solution does not pass its own hidden "
                          f"tests, so grading would be unfair:\n" + "\n".join(lines or [f"  {result.load_error}"]))
    report.atomic_write_bytes(cache_file, frame)
    return result, frame


def run_lanes(cfg: CourseConfig, a: Assignment, todo: list[Submission], reference_frame: bytes,
              new_executor, on_result, batch_size: int = 1, executor=None) -> None:
    """Grade `todo` in batches, calling on_result(SubmissionResult) as each finishes, whatever happens.

    A batch whose lane died (a local lane process, or a Dask worker) is retried, one submission
    per batch so the culprit is isolated; a submission that was in flight when a lane died twice
    is CRASHED instead of being retried forever. A local pool broken by a dead lane is replaced.
    """
    attempts = {s.student_id: 0 for s in todo}
    work = lanes_mod.batches([_item(s) for s in todo], batch_size)
    given = executor  # the caller shuts this one down; a pool made here to replace a broken one is ours
    try:
        while work:
            executor = executor or new_executor()
            futures = {executor.submit(lanes_mod.grade_batch, str(cfg.root), a.id, reference_frame, batch): batch
                       for batch in work}
            retry: list[lanes_mod.Item] = []
            for future in cf.as_completed(futures):
                _collect(a, future, futures[future], attempts, retry, on_result)
            work = lanes_mod.batches(retry, 1)
            if retry and isinstance(executor, cf.ProcessPoolExecutor):
                executor.shutdown(cancel_futures=True)
                executor = None
    finally:
        if executor is not None and executor is not given:
            executor.shutdown(cancel_futures=True)


def _collect(a: Assignment, future: cf.Future, batch: list, attempts: dict, retry: list, on_result) -> None:
    """One finished batch: its results, or what its lane's death or a grader bug means for each
    of its submissions (those to retry go to `retry`)."""
    try:
        for text in future.result():
            on_result(SubmissionResult.from_dict(json.loads(text)))
    except CourseError:
        raise  # the cluster is gone or cannot grade (cluster.py): end the run, reports so far kept
    except Exception as exc:  # a lane that died, or a grader bug: never the whole run
        for item in batch:
            if not lanes_mod.is_lost_lane(exc):
                on_result(_crashed(a, item, f"the grader failed on this submission: "
                                            f"{type(exc).__name__}: {str(exc)[:300]}", Status.GRADER_ERROR))
                continue
            attempts[item.student_id] += 1
            if attempts[item.student_id] < 2:
                retry.append(item)
            else:
                on_result(_crashed(a, item, "the grading lane died twice while grading this submission"))


def _item(s: Submission) -> lanes_mod.Item:
    return lanes_mod.Item(s.student_id, s.notebook.name, s.data, s.fingerprint)


def _crashed(a: Assignment, s: lanes_mod.Item, reason: str, status: Status = Status.CRASHED) -> SubmissionResult:
    result = SubmissionResult(s.student_id, a.id, s.notebook_name, load_error=reason, fingerprint="")
    result.tests = [TestOutcome(name=report.PLACEHOLDER, family="grading", score=0.0, max_score=0.0,
                                status=status, output=reason)]
    return result


# -- the stage ---------------------------------------------------------------------------------

def check_isolation(minimum: str):
    """Probe the sandbox layers this machine offers; refuse below `minimum`, warn below the best."""
    from autograder.sandbox.isolation import LEVELS, probe

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
    """Stamp the submission time and the late penalty (recomputed every run, reports reused or not)."""
    due = cfg.due.get(assignment_id)
    r.submitted_at = submitted_at.isoformat(timespec="seconds") if submitted_at else ""
    r.late_by_s = max(0.0, (submitted_at - parse_time(due)).total_seconds()) if due and submitted_at else 0.0
    r.penalty = late.penalty(cfg.late_policy, r.raw_score, r.late_by_s)
    return r


def executor_factory(cfg: CourseConfig, a: Assignment, lanes: int, scheduler: str, n: int):
    """(a function making the executor, batch size): the local pool, or a Dask cluster."""
    if scheduler:
        from autograder.cluster import dask_executor

        size = a.settings.batch_size or max(1, min(16, n // 8 or 1))
        return (lambda: dask_executor(scheduler)), size
    return (lambda: lanes_mod.local_pool(str(cfg.root), a.id, lanes)), 1


def _import_for_the_finish() -> None:
    """The finishing stage's heavy imports (matplotlib for the dashboard, nbgrader's gradebook),
    done while the lanes start up and this process would only wait."""
    import importlib

    for name in ("matplotlib.backends.backend_agg", "matplotlib.figure", "nbgrader.api", "alembic.script"):
        importlib.import_module(name)


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
    cache_file = out / ".reference.wire"
    new_executor, batch_size = executor_factory(cfg, a, lanes, scheduler, len(subs))
    with contextlib.ExitStack() as finish:  # closes the gradebook, then shuts the lanes down, whatever happens
        executor = new_executor()
        finish.callback(executor.shutdown, cancel_futures=True)
        template, frame = check_reference(executor, cfg, a, cache_file)  # every report lists every hidden test

        previous = report.previous_reports(out)
        results: dict[str, SubmissionResult] = {}
        todo = []
        for s in subs:
            old = previous.get(s.student_id)
            if not force and old is not None and old.fingerprint == s.fingerprint:
                results[s.student_id] = old
            else:
                todo.append(s)
        for r in broken:
            results[r.student_id] = report.fill_missing_tests(r, template)
        # Students the gradebook knows but who submitted nothing still get a row, at 0.
        submitted = {s.student_id for s in subs}
        for student in gradebook.students(cfg):
            if student not in results and student not in submitted:
                folder = cfg.submitted_dir.name + f"/{student}/{a.id}/"
                results[student] = report.fill_missing_tests(SubmissionResult(
                    student, a.id, a.notebook, load_error=f"no submission found in {folder}"), template)
        times = {s.student_id: s.submitted_at for s in subs}

        progress = report.Progress(len(todo), enabled=not quiet and sys.stderr.isatty())
        book = finish.enter_context(gradebook.Recorder(cfg, a.id, a.notebook, template))

        def on_result(r: SubmissionResult) -> None:
            r = apply_late_policy(cfg, a.id, report.fill_missing_tests(r, template), times.get(r.student_id))
            results[r.student_id] = r
            report.write_student(out, r, cfg.late_policy)  # as each finishes: a crash later keeps these
            book.add(r)  # while the lanes work, not after
            r.pytest_report = None  # on disk now; memory stays flat however large the class
            progress.step(r.student_id)

        run_lanes(cfg, a, todo, frame, new_executor, on_result, batch_size=batch_size, executor=executor)
        progress.done()
        graded = {s.student_id for s in todo}
        for student, r in results.items():  # reused and unreadable ones: the due date may have moved
            if student not in graded:
                r = apply_late_policy(cfg, a.id, r, times.get(student))
                report.write_student(out, r, cfg.late_policy)
                book.add(r)
    ordered = [results[k] for k in sorted(results)]
    report.write_assignment(out, a, ordered, template)
    dashboard.write_summary(out, a.id, ordered, template, caps.describe())
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
