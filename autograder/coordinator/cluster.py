"""Grading on a Dask cluster: the executor grade.py uses when a scheduler is configured.

`dask_executor(address)` connects to a Dask scheduler and returns a concurrent.futures-style
executor (`submit(fn, *args)`, `shutdown()`) for the lane tasks of judge/tasks.py. Each
Dask worker process becomes a grading lane: `grade_batch` builds the same trusted judge there
(judge/lane.py: zygote, sandbox, hidden tests) and keeps it warm across batches, until the
worker is given another assignment to grade.

What a worker machine needs: this repository checked out at the same path and commit as on the
coordinator (assignments/ with the hidden tests, and the pinned .venv). Neither the scheduler nor
a worker needs this package on its import path: a task crosses the scheduler as a builtin
(`eval`) over bytes, and puts the checkout on the worker's path itself.

Rules the executor enforces, because a lane runs pytest in-process and is not thread-safe:
- one task per worker process: workers must run `--nthreads 1`; one with more threads is refused
  by name, on connecting and again by every task that reaches it;
- a task runs only on a worker whose hidden tests, reference, settings and grader code are the
  coordinator's (assignment.grader_fingerprint), checked by judge/tasks.check_worker, at no less than `min_isolation`;
- at most one task in flight per worker thread, so a worker that dies takes down only the batch
  it was grading, and the scheduler's allowed-failures is set to 0: the first death fails that
  batch with KilledWorker, and pool.run_lanes alone decides what happens next (retry each
  submission alone; a submission in flight when a lane died twice is CRASHED), exactly as with
  local lanes. With Dask's default (3) a submission that kills its lane would cost 4 workers per
  attempt before run_lanes even heard of it;
- a lost connection to the scheduler (or a worker that may not grade) fails every pending task
  with a CourseError, which ends the run; the reports written so far are kept.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import logging
import pickle
import queue
import sys
import threading
import uuid
from pathlib import Path

from autograder.config import CourseError

# The checkout that holds this package: a worker must have it at the same path.
CHECKOUT = str(Path(__file__).resolve().parents[2])
CONNECT_TIMEOUT_S = 20
WORKER_WAIT_S = 60           # for the first worker to join
RESULT_TIMEOUT_S = 120       # to fetch a finished batch's results (JSON text) from its worker
_TICK_S = 0.5

# What a Dask worker evaluates, with `root` (CHECKOUT) and `call` (pickled (fn, args, fingerprint)).
_BOOT = ("(__import__('sys').path.insert(0, root) if root not in __import__('sys').path else None, "
         "__import__('autograder.judge.tasks', fromlist=['run_task']).run_task(call))[1]")


def lost_scheduler(address: str, why: str = "") -> CourseError:
    return CourseError(f"lost the connection to the Dask scheduler at {address}{': ' + why if why else ''}; "
                       "reports written so far are kept; rerun to resume")


class DaskExecutor(cf.Executor):
    """Lane tasks on a Dask cluster, behind the concurrent.futures interface run_lanes uses.

    A background thread feeds tasks to the scheduler, at most one per worker thread at a time,
    and settles this executor's futures from Dask's."""

    def __init__(self, address: str):
        from distributed import Client

        self.address = address
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise CourseError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        try:
            self._check_workers()
            self._limit_retries()
        except BaseException:
            self.client.close()
            raise
        self._fingerprints: dict = {}
        self._events: queue.Queue = queue.Queue()
        self._shutdown = False
        self._failure = ""   # once set, why every task fails: the scheduler is gone, or a worker may not grade
        self._thread = threading.Thread(target=self._feed, name="autograder-dask-feeder", daemon=True)
        self._thread.start()

    # -- connecting

    def _check_workers(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except (TimeoutError, OSError):
            raise CourseError(f"no Dask worker joined the scheduler at {self.address} within {WORKER_WAIT_S} s; "
                              f"start some with: dask worker {self.address} --nthreads 1") from None
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        threaded = sorted(f"{addr} ({w['nthreads']} threads)" for addr, w in workers.items() if w["nthreads"] > 1)
        if threaded:
            raise CourseError(f"Dask worker {', '.join(threaded)} at {self.address}: start workers with "
                              "--nthreads 1 (a grading lane runs pytest in its process and must run alone there)")

    def _limit_retries(self) -> None:
        """allowed-failures 0: a task on a worker that died fails at once (KilledWorker), for run_lanes."""
        def no_silent_retries(dask_scheduler=None):
            dask_scheduler.allowed_failures = 0

        try:
            self.client.run_on_scheduler(no_silent_retries)
        except Exception as exc:  # a scheduler that refuses to run functions: Dask retries too, then run_lanes
            print(f"warning: could not set allowed-failures to 0 on the Dask scheduler at {self.address} "
                  f"({type(exc).__name__}: {exc}); a submission that kills workers will cost more of them",
                  file=sys.stderr)

    def _fingerprint(self, root: str, assignment_id: str) -> str:
        key = (root, assignment_id)
        if key not in self._fingerprints:
            from autograder.assignment import grader_fingerprint, load_assignment
            from autograder.config import load

            self._fingerprints[key] = grader_fingerprint(load_assignment(load(root), assignment_id))
        return self._fingerprints[key]

    # -- the executor interface

    def submit(self, fn, *args, **kwargs):
        """fn(root, assignment_id, ...) from autograder.judge.tasks, run in a Dask worker's lane."""
        if kwargs:
            raise TypeError("DaskExecutor.submit takes positional arguments only")
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: cf.Future = cf.Future()
        if self._failure:
            future.set_exception(CourseError(self._failure))
            return future
        call = pickle.dumps((fn, args, self._fingerprint(args[0], args[1])))
        self._events.put(("submit", f"{fn.__name__}-{uuid.uuid4().hex}", call, future))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop feeding tasks and close the client; tasks not finished yet are cancelled with
        cancel_futures (what grade.py does), else waited for."""
        if self._shutdown:
            return
        self._shutdown = True
        self._events.put(("stop", cancel_futures))
        self._thread.join(timeout=None if wait and not cancel_futures else 10)
        # With the scheduler gone, the client is busy reconnecting; closing it interrupts that,
        # which Dask logs as an error with a traceback. Our CourseError has said it better.
        quiet = logging.getLogger("distributed.client")
        level = quiet.level
        if self.client.status != "running":
            quiet.setLevel(logging.CRITICAL)
        try:
            self.client.close(timeout=10)
        except Exception:  # a scheduler that is gone already: nothing to close cleanly
            pass
        finally:
            quiet.setLevel(level)

    # -- the feeder thread

    def _slots(self) -> int:
        """Tasks the cluster can run at once: one per worker thread (one per worker process)."""
        try:
            workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        except Exception:
            return 1
        return max(1, sum(w["nthreads"] for w in workers if w.get("status", "running") == "running"))

    def _feed(self) -> None:
        waiting: collections.deque = collections.deque()  # (key, call, future) not sent yet
        running: dict = {}                                  # key -> (dask future, our future)
        slots, stopping = self._slots(), False
        while True:
            try:
                event = self._events.get(timeout=_TICK_S)
            except queue.Empty:
                event = ("tick",)
            if event[0] == "stop":
                if event[1]:  # cancel_futures: nothing more is sent, nothing more is waited for
                    self._fail_all(waiting, running, "", cancel=True)
                    return
                stopping = True
            elif event[0] == "submit":
                waiting.append(event[1:])
            elif event[0] == "done" and event[1] in running:
                self._settle(*running.pop(event[1]))
            if not self._failure and (waiting or running) and self.client.status != "running":
                self._failure = str(lost_scheduler(self.address))
            if self._failure:
                self._fail_all(waiting, running, self._failure)
            if waiting and event[0] != "submit":
                slots = self._slots()  # workers come and go: recounted as tasks finish, and every tick
            while waiting and len(running) < slots:
                key, call, future = waiting.popleft()
                if not future.set_running_or_notify_cancel():
                    continue  # cancelled before it was sent
                try:
                    dask_future = self.client.submit(eval, _BOOT, {"root": CHECKOUT, "call": call},
                                                     key=key, pure=False)
                except Exception as exc:
                    self._failure = str(lost_scheduler(self.address, f"{type(exc).__name__}: {exc}"))
                    future.set_exception(CourseError(self._failure))
                    continue
                running[key] = (dask_future, future)
                dask_future.add_done_callback(lambda f: self._events.put(("done", f.key)))
            if stopping and not waiting and not running:
                return

    @staticmethod
    def _fail_all(waiting, running, message: str, cancel: bool = False) -> None:
        for _, _, future in waiting:
            if future.set_running_or_notify_cancel():
                future.set_exception(CourseError(message))
        waiting.clear()
        for dask_future, future in running.values():
            if cancel:
                dask_future.cancel()
            if not future.done():
                future.set_exception(cf.CancelledError("the grading run stopped") if cancel else CourseError(message))
        running.clear()

    def _settle(self, dask_future, future: cf.Future) -> None:
        """Pass a finished Dask task's outcome on to our future."""
        if future.done():
            return
        try:
            if dask_future.status == "finished":
                future.set_result(dask_future.result(timeout=RESULT_TIMEOUT_S))
                return
            if dask_future.status == "cancelled" or self.client.status != "running":
                raise lost_scheduler(self.address)
            exc = dask_future.exception(timeout=RESULT_TIMEOUT_S)
        except CourseError as error:
            exc = error
        except Exception as error:  # the result could not be fetched: its worker died since, or worse
            if self.client.status != "running":
                exc = lost_scheduler(self.address, f"{type(error).__name__}: {error}")
            else:
                from distributed.comm.core import CommClosedError  # a lost lane: run_lanes retries

                exc = CommClosedError(f"the result of a grading task could not be fetched: "
                                      f"{type(error).__name__}: {error}")
        if isinstance(exc, ModuleNotFoundError) and "autograder" in str(exc):
            exc = CourseError(f"a worker of the Dask scheduler at {self.address} cannot import the grader from "
                              f"{CHECKOUT}: every worker machine needs this repository checked out at that path")
        if isinstance(exc, CourseError):
            self._failure = str(exc)
        future.set_exception(exc)


def dask_executor(address: str) -> DaskExecutor:
    """An executor for pool.run_lanes on the Dask cluster whose scheduler is at `address`."""
    return DaskExecutor(address)
