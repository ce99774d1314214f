"""Where grading runs, seen from the coordinator: batches of submissions sent to lane processes
through a concurrent.futures executor, and what a lane's death means for its batch.

The executor is the embedded local pool below, or a Dask cluster (coordinator/cluster.py); its
workers run the tasks of judge/tasks.py, each with a warm judge.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import queue
import signal
import threading
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from autograder.config import CourseConfig, CourseError
from autograder.judge import tasks, verdict
from autograder.results import Submission, SubmissionResult


# What the lanes' fork server imports once: torch warmed up for the zygotes first (each lane forks
# its zygote from that state: sandbox/inside/preload.py), then the judge.
LANE_PRELOAD = ["autograder.sandbox.inside.preload", "autograder.judge.lane", "nbformat"]


def local_pool(root: str, assignment_id: str, lanes: int) -> cf.ProcessPoolExecutor:
    """The embedded default: one lane per process, `lanes` processes on this machine.

    Lanes come from a fork server that imported torch, pytest and the judge once: a lane must
    not inherit the coordinator's state or threads, and should not pay for imports again."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(LANE_PRELOAD)
    pool = cf.ProcessPoolExecutor(max_workers=lanes, mp_context=context, initializer=start_lane,
                                  initargs=(root, assignment_id))
    # The pool starts a process per submitted task while none is idle: start every lane now, so
    # that all build their judges while the reference is checked, not after.
    for _ in range(lanes):
        pool.submit(int)
    return pool


_LANE_FAILED = ""  # in a lane process: why its judge could not be built


def start_lane(root: str, assignment_id: str) -> None:
    """A local lane's initializer. Ctrl-C at the terminal is the coordinator's to handle (it stops
    the lanes and says so in one line), not every lane's to print a traceback for. A judge that
    cannot be built (hidden tests that do not collect) is reported by the first task, as a
    CourseError, instead of a traceback per lane and a broken pool."""
    global _LANE_FAILED
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        tasks.warm(root, assignment_id)
    except Exception as exc:  # noqa: BLE001 - said once, by the reference check below
        _LANE_FAILED = _the_point(str(exc))


def _the_point(text: str) -> str:
    """Of pytest's report of tests that could not be collected, the lines that say where and what
    ("hidden/test_x.py:1: in <module>", "E   ImportError: ..."), one per line."""
    import re

    where = [line.strip().removesuffix(" in <module>").rstrip(":")
             for line in text.splitlines() if re.match(r"^\S+\.py:\d+: in ", line)]
    what = [line[1:].strip() for line in text.splitlines() if re.match(r"^E\s", line)]
    if not what:
        return text.strip()
    where += [""] * (len(what) - len(where))
    return "\n".join(f"{w}: {e}" if w else e for w, e in zip(where, what))


def reference_check(root: str, assignment_id: str) -> tuple[str, bytes]:
    """tasks.reference_check in a local lane, or why the lane could not start."""
    if _LANE_FAILED:
        raise CourseError(f"the hidden tests of {assignment_id} could not start in a grading lane: {_LANE_FAILED}")
    return tasks.reference_check(root, assignment_id)


def batches(items: list[Submission], size: int) -> list[list[Submission]]:
    return [items[i:i + size] for i in range(0, len(items), max(1, size))]


def is_lost_lane(exc: BaseException) -> bool:
    """Did the lane itself die (rather than the grading raise)? Such batches are retried."""
    if isinstance(exc, BrokenProcessPool):
        return True
    return type(exc).__name__ in ("KilledWorker", "CommClosedError")  # distributed's, by name


def run_lanes(cfg: CourseConfig, assignment_id: str, todo: list[Submission], reference_frame: bytes,
              new_executor: Callable[[], cf.Executor], on_result: Callable[[SubmissionResult], None],
              batch_size: int = 1, executor: cf.Executor | None = None, fail_fast: bool = False) -> None:
    """Grade `todo` in batches, calling on_result(SubmissionResult) as each finishes, whatever happens.

    A batch whose lane died (a local lane process, or a Dask worker) is retried, one submission
    per batch so the culprit is isolated; a submission that was in flight when a lane died twice
    is CRASHED instead of being retried forever. A local pool broken by a dead lane is replaced.
    fail_fast (make check's mutants): each submission's tests stop at the first that loses points.
    """
    attempts = {s.student_id: 0 for s in todo}
    work = batches(todo, batch_size)
    given = executor  # the caller shuts this one down; a pool made here to replace a broken one is ours
    try:
        while work:
            executor = executor or new_executor()
            quick = (True,) if fail_fast else ()  # grade_batch's fail_fast, passed only when asked for
            futures = {executor.submit(tasks.grade_batch, str(cfg.root), assignment_id, reference_frame, batch,
                                       *quick): batch for batch in work}
            retry: list[Submission] = []
            for future in cf.as_completed(futures):
                _settle(future, futures[future], attempts, retry, on_result)
            work = batches(retry, 1)
            if retry and isinstance(executor, cf.ProcessPoolExecutor):
                executor.shutdown(cancel_futures=True)
                executor = None
    finally:
        if executor is not None and executor is not given:
            executor.shutdown(cancel_futures=True)


def _settle(future: cf.Future, batch: list[Submission], attempts: dict, retry: list, on_result) -> None:
    """One finished batch: its results, or what its lane's death or a grader bug means for each
    of its submissions (those to retry go to `retry`)."""
    try:
        for text in future.result():
            on_result(SubmissionResult.from_dict(json.loads(text)))
    except CourseError:
        raise  # the cluster is gone or cannot grade (cluster.py): end the run, reports so far kept
    except Exception as exc:  # a lane that died, or a grader bug: never the whole run
        for s in batch:
            if not is_lost_lane(exc):
                on_result(verdict.not_graded(s, verdict.grader_failed(
                    f"the grader failed on this submission: {type(exc).__name__}: {str(exc)[:300]}")))
                continue
            attempts[s.student_id] += 1
            if attempts[s.student_id] < 2:
                retry.append(s)
            else:
                on_result(verdict.not_graded(s, verdict.lane_lost()))


class Early:
    """run_lanes started in a thread of its own while the reference is still being checked on
    another lane: the class does not wait for that check. Its results are held in a queue until
    the caller's thread, the only one that writes, takes them with `drain`, which it does only
    once the reference has passed. Should the reference fail, nothing of this run is written."""

    _DONE = object()

    def __init__(self, cfg: CourseConfig, assignment_id: str, todo: list[Submission],
                 new_executor: Callable[[], cf.Executor], batch_size: int, executor: cf.Executor):
        self._results: queue.Queue = queue.Queue()
        # No reference results to hand over yet: each lane computes the reference's answers it needs.
        args = (cfg, assignment_id, todo, b"", new_executor, self._results.put)
        self._thread = threading.Thread(target=self._run, args=args, name="lanes",
                                        kwargs={"batch_size": batch_size, "executor": executor}, daemon=True)
        self._thread.start()

    def _run(self, *args, **kwargs) -> None:
        try:
            run_lanes(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread, by drain
            self._results.put(exc)
        finally:
            self._results.put(self._DONE)

    def drain(self, on_result: Callable[[SubmissionResult], None]) -> None:
        """on_result(...) for every result, in this thread, as they come, until the last."""
        while (item := self._results.get()) is not self._DONE:
            if isinstance(item, BaseException):
                raise item
            on_result(item)
