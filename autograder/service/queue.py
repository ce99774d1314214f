"""The grading queue: the database's queued attempts, handed to the warm lanes one per lane.

One thread per lane claims the oldest queued attempt of its assignment, grades it on the lanes
(coordinator/live.py), keeps the full report in grades/ (policy.write_attempt) and records the
result, once (db.finish). A restart puts what was being graded back in line first.
"""
from __future__ import annotations

import sys
import threading
import traceback

from autograder.config import CourseConfig
from autograder.coordinator import policy
from autograder.coordinator.discover import fingerprint
from autograder.coordinator.live import LiveGrader
from autograder.judge import verdict
from autograder.notebook import NotebookError
from autograder.results import Status, Submission, SubmissionResult
from autograder.service import store
from autograder.service.db import Attempt, Database, utc

PAUSED = "paused"
# A result whose grading itself failed: the attempt ends in "error", and does not use up an attempt.
GRADER_FAILURES = (Status.GRADER_ERROR,)


def status_of(r: SubmissionResult) -> tuple[str, str]:
    """("graded" | "error", why)."""
    broken = [t for t in r.tests if t.status in GRADER_FAILURES]
    if broken:
        return "error", broken[0].output
    if r.load_error and r.load_error == verdict.lane_lost().message:
        return "error", r.load_error
    return "graded", ""


class Dispatcher:
    def __init__(self, cfg: CourseConfig, db: Database, grader: LiveGrader, debug: bool = False):
        self.cfg, self.db, self.grader, self.debug = cfg, db, grader, debug
        self.wake = threading.Condition()
        self.stopping = False
        self.threads: list[threading.Thread] = []
        self.ready = threading.Event()    # the lanes are warm
        self.failed = ""                   # why the lanes could not start

    @property
    def paused(self) -> bool:
        return self.db.get_setting(PAUSED) == "1"

    def set_paused(self, value: bool) -> None:
        self.db.set_setting(PAUSED, "1" if value else "")
        self.notify()

    def start(self) -> None:
        requeued = self.db.requeue_interrupted()
        if requeued:
            print(f"service: {requeued} attempts were being graded when the service stopped; queued again", flush=True)
        threading.Thread(target=self._warm_up, name="lanes-start", daemon=True).start()

    def _warm_up(self) -> None:
        try:
            self.grader.start()
        except Exception as exc:  # the reference fails its tests, or isolation is below min_isolation
            self.failed = str(exc)
            print(f"service: grading cannot start: {exc}", file=sys.stderr, flush=True)
            return
        for aid, lanes in self.grader.by_assignment.items():
            for n in range(lanes.lanes):
                t = threading.Thread(target=self._run, args=(aid,), name=f"grade-{aid}-{n}", daemon=True)
                t.start()
                self.threads.append(t)
        self.ready.set()
        print(f"service: grading on {self.grader.count} warm lanes per assignment "
              f"({', '.join(self.grader.by_assignment)}), isolation {self.grader.isolation}", flush=True)

    def notify(self) -> None:
        with self.wake:
            self.wake.notify_all()

    def stop(self) -> None:
        self.stopping = True
        self.notify()
        for t in self.threads:
            t.join(timeout=30)

    def _run(self, aid: str) -> None:
        while not self.stopping:
            row = None if self.paused else self.db.claim([aid])
            if row is None:
                with self.wake:
                    self.wake.wait(timeout=1.0)
                continue
            try:
                self.grade(row)
            except Exception as exc:  # a bug of ours: this attempt ends in error, the queue goes on
                if self.debug:
                    traceback.print_exc()
                self.db.finish(row.id, status="error", message=f"the grader failed: {type(exc).__name__}: {exc}")

    def grade(self, row: Attempt) -> None:
        lanes = self.grader.by_assignment[row.assignment]
        a = lanes.assignment
        try:
            data = store.read(self.cfg, row.path, a.settings.max_notebook_bytes)
        except NotebookError as exc:
            self.db.finish(row.id, status="error", message=f"the stored notebook cannot be read: {exc}")
            return
        when = utc(row.submitted_at)
        s = Submission(row.student_id, a.id, a.notebook, data, fingerprint(lanes.grader_fp, data), when)
        r = self.grader.grade(s)
        status, why = status_of(r)
        report = policy.write_attempt(self.cfg, row.id, lanes.grader_fp, r)
        self.db.finish(row.id, status=status, message=why, score=r.score, max_score=r.max_score,
                       penalty=r.penalty, report=str(report.relative_to(self.cfg.root)))
