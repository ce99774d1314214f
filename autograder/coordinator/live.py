"""Live grading for the submission service: warm lanes kept for the process's life, one
submission at a time, through the batch run's own code paths.

Per assignment: the lanes (the local pool, or the Dask cluster when a scheduler is set), the
reference checked first (grade.reference_results: it must score 100%), then each submission
through pool.run_lanes (a lane that dies mid-grade is retried, a submission that kills its lane
twice is CRASHED) and the late policy at the attempt's own time (policy.stamp_late).
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import multiprocessing.forkserver
import os
import threading
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable

from autograder.assignment import Assignment, grader_fingerprint, load_assignment
from autograder.config import CourseConfig, CourseError
from autograder.coordinator import grade, policy, pool
from autograder.judge import verdict
from autograder.results import Submission, SubmissionResult

LANE_NICENESS = 10  # lanes yield the CPU to the web process: uploads are answered at once while every lane grades


class WarmPool(cf.Executor):
    """A local pool shared by every submission of the service's life. run_lanes may not shut it
    down; one broken by a dead lane is replaced at the next submit (run_lanes retries there)."""

    def __init__(self, make: Callable[[], cf.ProcessPoolExecutor]):
        self._make = make
        self._lock = threading.Lock()
        self._pool = make()
        self.replaced = 0

    def submit(self, fn, *args, **kwargs):
        with self._lock:
            try:
                return self._pool.submit(fn, *args, **kwargs)
            except (BrokenProcessPool, RuntimeError):  # a lane died: the pool takes no more work
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._make()
                self.replaced += 1
                return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Kept running: the lanes serve the next submission. `close` stops them."""

    def close(self) -> None:
        with self._lock:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def pids(self) -> list[int]:
        """The lane processes now (for the instructor's page and the fault tests)."""
        return sorted(getattr(self._pool, "_processes", None) or {})


@dataclass
class AssignmentLanes:
    assignment: Assignment
    grader_fp: str
    template: SubmissionResult     # the reference's result: every report lists every hidden test
    frame: bytes                   # the reference's probe results, sent with every batch
    executor: cf.Executor
    lanes: int


def _lanes_at_low_priority() -> None:
    """Start the fork server the local lanes come from (pool.local_pool) at a lower priority, so
    that every lane, zygote and worker forked from it inherits it. Raising niceness needs no privilege."""
    import psutil

    from autograder.coordinator.pool import LANE_PRELOAD

    multiprocessing.get_context("forkserver").set_forkserver_preload(LANE_PRELOAD)
    multiprocessing.forkserver.ensure_running()
    for child in psutil.Process().children():
        try:
            if any("forkserver" in part for part in child.cmdline()):
                child.nice(max(child.nice(), LANE_NICENESS))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


class LiveGrader:
    """Warm lanes for every gradable assignment of a course, for as long as the service runs."""

    def __init__(self, cfg: CourseConfig, lanes: int = 0, scheduler: str | None = None):
        self.cfg = cfg
        self.scheduler = cfg.grading.scheduler if scheduler is None else scheduler
        self.count = lanes if lanes > 0 else max(1, os.cpu_count() or 1)
        self.by_assignment: dict[str, AssignmentLanes] = {}
        self.isolation = ""
        self._cluster = None

    def gradable(self) -> list[str]:
        return [aid for aid in self.cfg.assignments() if any((self.cfg.source_dir / aid / "hidden").glob("test_*.py"))]

    def start(self) -> None:
        """Start every assignment's lanes at once and check each reference (seconds: torch)."""
        ids = self.gradable()
        if self.scheduler:
            from autograder.coordinator.cluster import dask_executor

            self._cluster = dask_executor(self.scheduler)
        else:
            _lanes_at_low_priority()
        with cf.ThreadPoolExecutor(max(1, len(ids))) as starting:
            for lanes in starting.map(self._start_one, ids):
                self.by_assignment[lanes.assignment.id] = lanes

    def _start_one(self, aid: str) -> AssignmentLanes:
        a = load_assignment(self.cfg, aid)
        self.isolation = grade.check_isolation(a.settings.min_isolation).describe()  # the same as batch grading
        fp = grader_fingerprint(a)
        root = str(self.cfg.root)
        executor = self._cluster or WarmPool(lambda: pool.local_pool(root, aid, self.count))
        try:
            template, frame = grade.reference_results(executor, self.cfg, a, fp)
        except BaseException:
            if isinstance(executor, WarmPool):
                executor.close()
            raise
        # On a cluster, one submission in flight per worker process that exists now (each is a lane).
        lanes = self._cluster._slots() if self._cluster else self.count
        return AssignmentLanes(a, fp, template, frame, executor, lanes)

    def grade(self, s: Submission) -> SubmissionResult:
        """Grade one submission on its assignment's warm lanes (blocking: one caller per lane)."""
        lanes = self.by_assignment.get(s.assignment_id)
        if lanes is None:
            raise CourseError(f"{s.assignment_id}: not an assignment this service grades")
        got: list[SubmissionResult] = []
        pool.run_lanes(self.cfg, s.assignment_id, [s], lanes.frame, lambda: lanes.executor, got.append,
                       executor=lanes.executor)
        r = verdict.every_test(got[0], lanes.template)
        return policy.stamp_late(self.cfg, s.assignment_id, r, s.submitted_at)

    def lane_pids(self) -> list[int]:
        return sorted(p for lanes in self.by_assignment.values() if isinstance(lanes.executor, WarmPool)
                      for p in lanes.executor.pids())

    def close(self) -> None:
        for lanes in self.by_assignment.values():
            if isinstance(lanes.executor, WarmPool):
                lanes.executor.close()
        if self._cluster is not None:
            self._cluster.shutdown(cancel_futures=True)
        self.by_assignment.clear()
