"""Where grading runs: batches of submissions sent to lanes through a concurrent.futures executor.

A lane is a trusted process holding a warm judge (judge/lane.py): a zygote, a reference worker
and the hidden tests. The task functions here run *in* the lane, on any executor whose workers
can import this package: the embedded local pool below, or a Dask cluster (autograder/cluster.py).
Tasks carry everything they need as plain bytes (notebooks, the reference cache), so a lane on
another machine needs the course's assignments/ folder and the pinned environment, not
submitted/ or grades/; results come back as JSON text, and only the coordinator writes reports.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import multiprocessing.util
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from autograder import wire

REFERENCE_ID = "__reference__"


@dataclass(frozen=True)
class Item:
    """One submission as a task carries it."""
    student_id: str
    notebook_name: str
    notebook: bytes
    fingerprint: str


# -- in the lane process ------------------------------------------------------------------------

_LANES: dict = {}        # (course root, assignment id) -> judge Lane, warm for the process's life
_LOADED_CACHES: set = set()


def close_lanes() -> None:
    """Stop this process's lanes: their zygotes, reference workers and scratch folders."""
    while _LANES:
        _, lane = _LANES.popitem()
        lane.close()


def lane_for(root: str, assignment_id: str):
    key = (root, assignment_id)
    if key not in _LANES:
        if not _LANES:
            # A pool process ends through os._exit, where atexit never runs; multiprocessing's
            # finalizers do, so the lane's zygote and scratch go with the process.
            multiprocessing.util.Finalize(None, close_lanes, exitpriority=10)
        from autograder.assignment import load_assignment
        from autograder.config import load
        from autograder.judge.lane import Lane

        _LANES[key] = Lane(load_assignment(load(root), assignment_id))
    return _LANES[key]


def warm(root: str, assignment_id: str) -> None:
    """Executor initializer: build the lane before the first task arrives."""
    lane_for(root, assignment_id)


def reference_check(root: str, assignment_id: str) -> tuple[str, bytes]:
    """Grade the reference as a student; returns its result and its probe results (wire frame)."""
    lane = lane_for(root, assignment_id)
    result = lane.grade(REFERENCE_ID, lane.assignment.reference_notebook)
    return json.dumps(result.to_dict()), lane.reference_cache_frame()


def grade_batch(root: str, assignment_id: str, reference_frame: bytes, items: list[Item]) -> list[str]:
    """Grade a batch in this lane, one submission after another; JSON text per submission."""
    lane = lane_for(root, assignment_id)
    digest = (root, assignment_id, hashlib.sha256(reference_frame).hexdigest())
    if digest not in _LOADED_CACHES:
        lane.reference.cache.update(wire.decode(reference_frame))
        _LOADED_CACHES.add(digest)
    out = []
    for item in items:
        result = lane.grade_bytes(item.student_id, Path(item.notebook_name).name, item.notebook)
        result.fingerprint = item.fingerprint
        out.append(json.dumps(result.to_dict()))
    return out


# -- in the coordinator ------------------------------------------------------------------------

def local_pool(root: str, assignment_id: str, lanes: int) -> cf.ProcessPoolExecutor:
    """The embedded default: one lane per process, `lanes` processes on this machine.

    Lanes come from a fork server that imported torch, pytest and the judge once: a lane must
    not inherit the coordinator's state or threads, and should not pay for imports again."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["autograder.judge.lane"])
    pool = cf.ProcessPoolExecutor(max_workers=lanes, mp_context=context, initializer=warm,
                                  initargs=(root, assignment_id))
    # The pool starts a process per submitted task while none is idle: start every lane now, so
    # that all build their judges while the reference is checked, not after.
    for _ in range(lanes):
        pool.submit(int)
    return pool


def batches(items: list[Item], size: int) -> list[list[Item]]:
    return [items[i:i + size] for i in range(0, len(items), max(1, size))]


def is_lost_lane(exc: BaseException) -> bool:
    """Did the lane itself die (rather than the grading raise)? Such batches are retried."""
    if isinstance(exc, BrokenProcessPool):
        return True
    return type(exc).__name__ in ("KilledWorker", "CommClosedError")  # distributed's, by name
