"""The tasks a lane process runs: what the coordinator's executor (a local pool, or a Dask
cluster) sends to a lane, and everything those tasks need there.

A lane process keeps one warm judge (judge/lane.py) per assignment for its whole life. Tasks
carry everything as plain bytes (notebooks, the reference's results), so a lane on another
machine needs the course's assignments/ folder and the pinned environment, not submitted/ or
grades/; results go back as JSON text, and only the coordinator writes reports.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing.util
import pickle

from autograder.assignment import grader_fingerprint, load_assignment
from autograder.config import CourseError, load
from autograder.results import Submission

REFERENCE_ID = "__reference__"

_LANES: dict = {}        # (course root, assignment id) -> Lane, warm for the process's life
_LOADED: set = set()     # (course root, assignment id, digest of the reference results) in use
_FINGERPRINTS: dict = {}  # (course root, assignment id) -> this process's grader fingerprint
_FAILED: dict = {}       # (course root, assignment id) -> why its lane could not be built here


def close_lanes() -> None:
    """Stop this process's lanes: their zygotes, reference workers and scratch folders."""
    while _LANES:
        _, lane = _LANES.popitem()
        lane.close()


def lane_for(root: str, assignment_id: str):
    key = (root, assignment_id)
    if key in _FAILED:
        raise _FAILED[key]
    if key not in _LANES:
        if not _LANES:
            # A pool process ends through os._exit, where atexit never runs; multiprocessing's
            # finalizers do, so the lane's zygote and scratch go with the process.
            multiprocessing.util.Finalize(None, close_lanes, exitpriority=10)
        from autograder.judge.lane import Lane

        _LANES[key] = Lane(load_assignment(load(root), assignment_id))
    return _LANES[key]


def warm(root: str, assignment_id: str) -> None:
    """Executor initializer: build the lane before the first task arrives. A lane that cannot be
    built (hidden tests that do not collect, probes that do not load) is the first task's error,
    where the coordinator reads it, rather than a pool broken without a word."""
    from autograder.sandbox.host.launcher import fork_ahead

    fork_ahead()  # the zygote first, before this process reads the course (a no-op where not prepared)
    try:
        lane_for(root, assignment_id)
    except CourseError as exc:
        _FAILED[(root, assignment_id)] = exc


def reference_check(root: str, assignment_id: str) -> tuple[str, bytes]:
    """Grade the reference as a student; returns its result (JSON) and its probe results (wire frame)."""
    lane = lane_for(root, assignment_id)
    a = lane.assignment
    result = lane.grade(Submission(REFERENCE_ID, a.id, a.notebook, lane.reference_data))
    return json.dumps(result.to_dict()), lane.reference_results()


def visible_tests(root: str, assignment_id: str, data: bytes, name: str) -> str:
    """Run a notebook's visible test cells in this lane's sandbox; JSON (judge/lane.Lane.visible_tests)."""
    return json.dumps(lane_for(root, assignment_id).visible_tests(data, name))


def grade_batch(root: str, assignment_id: str, reference_frame: bytes, batch: list[Submission],
                fail_fast: bool = False) -> list[str]:
    """Grade a batch in this lane, one submission after another; JSON text per submission
    (fail_fast: lane.Lane.grade's, for make check's mutants)."""
    lane = lane_for(root, assignment_id)
    digest = (root, assignment_id, hashlib.sha256(reference_frame).hexdigest())
    if reference_frame and digest not in _LOADED:  # b"": none yet (grading began beside the reference check)
        lane.use_reference_results(reference_frame)
        _LOADED.add(digest)
    return [json.dumps(lane.grade(s, fail_fast).to_dict()) for s in batch]


# -- in a Dask worker (coordinator/cluster.py sends these) ----------------------------------------

def run_task(call: bytes):
    """Run one lane task (grade_batch or reference_check) in this Dask worker."""
    fn, args, expected = pickle.loads(call)  # from the coordinator, through the trusted cluster
    retire_other_lanes(args[0], args[1])
    check_worker(args[0], args[1], expected)
    return fn(*args)


def retire_other_lanes(root: str, assignment_id: str) -> None:
    """A Dask worker outlives grading runs: keep only the lane in use, so that the lanes of
    assignments graded earlier (a zygote with torch and a reference worker each) do not pile up."""
    for key in [k for k in _LANES if k != (root, assignment_id)]:
        _LANES.pop(key).close()
        _LOADED.difference_update({d for d in _LOADED if d[:2] == key})


def check_worker(root: str, assignment_id: str, expected: str) -> None:
    """Refuse to grade here unless this worker is set up exactly as the coordinator expects."""
    from distributed import get_worker

    from autograder.sandbox.capabilities import LEVELS

    worker = get_worker()
    where = f"Dask worker {worker.address}"
    if worker.state.nthreads > 1:
        raise CourseError(f"{where} runs {worker.state.nthreads} threads; start workers with --nthreads 1 "
                          "(a grading lane runs pytest in its process and must run alone there)")
    key = (root, assignment_id)
    if key not in _FINGERPRINTS:
        try:
            _FINGERPRINTS[key] = grader_fingerprint(load_assignment(load(root), assignment_id))
        except CourseError as exc:
            raise CourseError(f"{where}: {exc} (every worker machine needs the course checked out at "
                              f"the coordinator's path)") from None
    if _FINGERPRINTS[key] != expected:
        raise CourseError(f"{where}: its hidden tests, reference, settings or grader code for {assignment_id} "
                          f"differ from the coordinator's; check out the same commit on every machine and "
                          f"restart its workers")
    lane = lane_for(root, assignment_id)
    minimum = lane.settings.min_isolation
    caps = lane.zygote.capabilities
    if caps.level < LEVELS.index(minimum):
        raise CourseError(f"{where} reaches isolation {caps.describe()}, below the min_isolation "
                          f"{minimum!r} that the course requires; run its workers as root on Linux")
