"""Grading on a Dask cluster: the same reports as local lanes, and a run that survives a dead worker.

Everything listens on 127.0.0.1 only. A LocalCluster of two single-threaded worker processes
grades the bundled Day 41 submissions (plus a copy) and every report must equal the local
run's, timings aside; then one worker is SIGKILLed mid-run and the grades must still be complete
and the same; then a scheduler killed mid-run must end the run with a CourseError that keeps the
reports written so far.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import distributed
import psutil
import pytest

from autograder.config import CourseError, load
from autograder.coordinator.grade import grade
from tests.conftest import copy_course, without_measurements

ASSIGNMENT = "day41_transformer"
COPIES = {"erin": "alice"}  # one more student: five batches of one on two workers, a middle to kill in
VOLATILE_KEYS = {"timings", "duration", "duration_s", "created"}  # timings: the only fields that may differ
ADDRESS = re.compile(r" at 0x[0-9a-f]+")  # object addresses in pytest's failure text


def normalised(value):
    """A report with its timings (ours and pytest-json-report's) and object addresses removed."""
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, str):
        return without_measurements(ADDRESS.sub(" at 0x?", value))
    return value


def reports(cfg) -> dict:
    folder = cfg.root / "grades" / ASSIGNMENT / "reports"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def wait_for_first_report(cfg, timeout_s: float = 300) -> bool:
    folder = cfg.root / "grades" / ASSIGNMENT / "reports"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if folder.is_dir() and any(folder.glob("*.json")):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course copy with five Day 41 submissions, graded by local lanes: the reports to match."""
    root = copy_course(tmp_path_factory.mktemp("cluster-course"))
    for student, source in COPIES.items():
        shutil.copytree(root / "submitted" / source / ASSIGNMENT, root / "submitted" / student / ASSIGNMENT)
    cfg = load(root)
    grade(cfg, ASSIGNMENT, quiet=True, lanes=2)
    local = reports(cfg)
    assert sorted(local) == sorted(["alice", "bob", "carol", "dave", *COPIES])
    return cfg, local


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0") as c:
        yield c


def assert_same_as_local(cfg, local):
    got = reports(cfg)
    assert sorted(got) == sorted(local)
    for student in local:
        assert got[student]["score"] == local[student]["score"], student
        assert got[student]["isolation"] == local[student]["isolation"], student  # the same sandbox
        assert normalised(got[student]) == normalised(local[student]), student


@pytest.mark.slow
def test_a_cluster_grades_exactly_like_local_lanes(course, cluster):
    """Does grading on a Dask cluster give every student the report local lanes give, timings aside?"""
    cfg, local = course
    shutil.rmtree(cfg.root / "grades" / ASSIGNMENT / "reports")
    grade(cfg, ASSIGNMENT, quiet=True, force=True, scheduler=cluster.scheduler_address)
    assert_same_as_local(cfg, local)
    assert local["alice"]["isolation"].startswith("level")
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        # no silent retries by Dask: a worker's death reaches run_lanes at once (KilledWorker)
        assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures) == 0


@pytest.mark.slow
def test_a_worker_killed_mid_run_still_gives_complete_and_correct_grades(course, cluster):
    """When a Dask worker is SIGKILLed while grading, is every student still graded, with the same scores?"""
    cfg, local = course
    shutil.rmtree(cfg.root / "grades" / ASSIGNMENT / "reports")
    killed = {}

    def kill_a_busy_worker():
        if not wait_for_first_report(cfg):
            return
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            pids = client.run(os.getpid)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # a worker in the middle of a batch
                busy = [addr for addr, keys in client.processing().items() if keys and addr in pids]
                if busy:
                    break
                time.sleep(0.05)
            else:
                return
            process = psutil.Process(pids[busy[0]])
            killed["children"] = process.children(recursive=True)  # its lane's zygote and sandbox workers
            process.send_signal(signal.SIGKILL)
            killed["pid"] = process.pid

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    grade(cfg, ASSIGNMENT, quiet=True, force=True, scheduler=cluster.scheduler_address)
    killer.join()
    assert killed.get("pid"), "no worker was killed mid-batch: the run ended too soon?"
    assert_same_as_local(cfg, local)
    # A lane that dies takes its sandbox with it: its zygote sees its control socket close.
    gone, alive = psutil.wait_procs(killed["children"], timeout=15)
    assert not alive, [p.pid for p in alive]


def test_workers_with_more_than_one_thread_are_refused():
    """Is a worker that would run two lane tasks at once in one process refused, by name?"""
    from autograder.coordinator.cluster import dask_executor

    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  worker_dashboard_address="127.0.0.1:0") as c:
        worker = next(iter(c.scheduler.workers))
        with pytest.raises(CourseError, match=f"{re.escape(worker)} \\(2 threads\\).*--nthreads 1"):
            dask_executor(c.scheduler_address)


def test_a_worker_keeps_only_the_lane_in_use(monkeypatch):
    """Does a long-lived worker close the lanes of assignments it graded before, rather than pile them up?"""
    from autograder.judge import tasks as lanes

    class FakeLane:
        closed = False

        def close(self):
            self.closed = True

    old, current = FakeLane(), FakeLane()
    monkeypatch.setattr(lanes, "_LANES", {("/c", "day41"): old, ("/c", "day42"): current})
    monkeypatch.setattr(lanes, "_LOADED", {("/c", "day41", "h1"), ("/c", "day42", "h2")})
    lanes.retire_other_lanes("/c", "day42")
    assert lanes._LANES == {("/c", "day42"): current} and old.closed and not current.closed
    assert lanes._LOADED == {("/c", "day42", "h2")}


def test_an_unreachable_scheduler_is_a_clear_error(monkeypatch):
    """Does a scheduler address where nothing listens end the run with a message that names it?"""
    from autograder.coordinator import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"  # bound, never listening
        with pytest.raises(CourseError, match=f"cannot reach the Dask scheduler at {re.escape(address)}"):
            cluster.dask_executor(address)


@pytest.mark.slow
def test_a_lost_scheduler_ends_the_run_and_keeps_the_reports(course, tmp_path):
    """When the scheduler dies mid-run, does grading stop with a CourseError that names it, keeping reports?"""
    cfg, local = course
    dask = str(Path(sys.executable).parent / "dask")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    log = (tmp_path / "dask.log").open("w")
    # Each in its own process group, so that the worker's spawned process goes with it at the end.
    loopback = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]  # its HTTP server too
    scheduler = subprocess.Popen([dask, "scheduler", "--port", str(port), *loopback],
                                 stdout=log, stderr=log, cwd=tmp_path, start_new_session=True)
    worker = subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--death-timeout", "10", *loopback],
                              stdout=log, stderr=log, cwd=tmp_path, start_new_session=True)
    try:
        shutil.rmtree(cfg.root / "grades" / ASSIGNMENT / "reports")

        def kill_the_scheduler():
            if wait_for_first_report(cfg):
                scheduler.send_signal(signal.SIGKILL)

        killer = threading.Thread(target=kill_the_scheduler)
        killer.start()
        with pytest.raises(CourseError, match=f"lost the connection to the Dask scheduler at {re.escape(address)}"
                                              ".*reports written so far are kept; rerun to resume"):
            grade(cfg, ASSIGNMENT, quiet=True, force=True, scheduler=address)
        killer.join()
        kept = reports(cfg)
        assert kept and len(kept) < len(local)
        for student, report in kept.items():
            assert normalised(report) == normalised(local[student])
    finally:
        for process in (worker, scheduler):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        log.close()
