"""Nothing accepted is ever lost: the service killed with -9 while 50 attempts wait, a lane killed
mid-grade, and submitted/ full or read-only. Each against a real service process on loopback."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time

import httpx
import pytest

from bench.serving import ServiceProcess, audit, issue_tokens, make_course, upload, wait_graded
from tests.conftest import REPO, notebook_with_cell

A = "day41_transformer"
ALICE = (REPO / "submitted" / "alice" / A / "transformer.ipynb").read_bytes()
CAROL = (REPO / "submitted" / "carol" / A / "transformer.ipynb").read_bytes()  # the release: quick to grade

pytestmark = pytest.mark.slow


def with_note(notebook: bytes, note: str) -> bytes:
    """The notebook with one more markdown cell: other bytes, the same answers."""
    nb = json.loads(notebook)
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": note})
    return json.dumps(nb).encode()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def rows(cfg) -> dict[str, tuple]:
    db = sqlite3.connect(cfg.service_db_url.removeprefix("sqlite:///"))
    try:
        return {r[0]: r[1:] for r in db.execute("SELECT id, status, tries, results FROM attempts")}
    finally:
        db.close()


def resume(client, token: str) -> None:
    answer = client.post("/api/queue/pause", headers=auth(token), json={"paused": False})
    assert answer.status_code == 200 and answer.json() == {"paused": False}


def test_kill_9_with_50_queued_then_restart_grades_each_exactly_once(tmp_path):
    """With grading paused and 50 attempts queued, the service is killed with SIGKILL; restarted,
    is every attempt graded, and recorded exactly once? Killed again while grading, and restarted,
    is any attempt graded twice or lost?"""
    cfg = make_course(tmp_path / "course", 10, {"lanes": 2, "uploads_per_minute": 0}, due="2099-01-01 00:00:00 UTC")
    tokens = issue_tokens(cfg)
    service = ServiceProcess(cfg.root, args=("--paused",)).start()
    accepted: dict[str, str] = {}
    try:
        service.wait_ready(tokens["instructor"], lanes=False)
        with httpx.Client(base_url=service.url, timeout=60) as client:
            for i in range(50):
                data = with_note(CAROL, f"attempt {i}")
                answer = upload(client, tokens[f"s{i % 10:03d}"], A, data)
                assert answer.status_code == 202, answer.text
                accepted[answer.json()["id"]] = hashlib.sha256(data).hexdigest()
            assert client.get("/api/queue", headers=auth(tokens["instructor"])).json()["counts"]["queued"] == 50
        service.kill9()
        assert {r[0] for r in rows(cfg).values()} == {"queued"} and len(rows(cfg)) == 50

        service = ServiceProcess(cfg.root, port=service.port).start()
        service.wait_ready(tokens["instructor"])
        with httpx.Client(base_url=service.url, timeout=60) as client:
            resume(client, tokens["instructor"])
            deadline = time.monotonic() + 120
            while sum(r[0] == "graded" for r in rows(cfg).values()) < 5 and time.monotonic() < deadline:
                time.sleep(0.2)
        service.kill9()  # some graded, some being graded, the rest queued
        graded_before = {i for i, r in rows(cfg).items() if r[0] == "graded"}
        assert 5 <= len(graded_before) < 50

        service = ServiceProcess(cfg.root, port=service.port).start()
        service.wait_ready(tokens["instructor"])
        with httpx.Client(base_url=service.url, timeout=60) as client:
            done = wait_graded(client, tokens["instructor"], list(accepted), timeout=300)
    finally:
        service.stop()
    assert all(r["status"] == "graded" and r["max_score"] > 0 and len(r["tests"]) > 10 for r in done.values())
    report = audit(cfg, accepted)
    assert report["accepted"] == report["rows"] == 50
    assert not (report["lost"] or report["graded_twice"] or report["not_graded"] or report["bytes_differ"]
                or report["missing_reports"]), report
    assert all(results == 1 for _, _, results in rows(cfg).values())


def lane_pids(client, token: str) -> list[int]:
    return client.get("/api/queue", headers=auth(token)).json()["lane_pids"]


def test_a_lane_that_dies_mid_grade_is_retried(tmp_path):
    """While a lane grades an attempt (its notebook sleeps while loading), the lane process is
    SIGKILLed; is the attempt graded anyway on a fresh lane, with full marks, recorded once?"""
    cfg = make_course(tmp_path / "course", 2, {"lanes": 1}, due="2099-01-01 00:00:00 UTC")
    tokens = issue_tokens(cfg)
    slow = notebook_with_cell(REPO / "submitted" / "alice" / A / "transformer.ipynb", "import time\ntime.sleep(4)",
                              tmp_path / "slow.ipynb").read_bytes()
    service = ServiceProcess(cfg.root).start()
    try:
        service.wait_ready(tokens["instructor"])
        with httpx.Client(base_url=service.url, timeout=60) as client:
            before = lane_pids(client, tokens["instructor"])
            assert len(before) == 1
            attempt = upload(client, tokens["s000"], A, slow).json()["id"]
            deadline = time.monotonic() + 60
            while rows(cfg)[attempt][0] != "grading" and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # inside the notebook's sleep
            os.kill(before[0], signal.SIGKILL)
            done = wait_graded(client, tokens["instructor"], [attempt], timeout=180)[attempt]
            after = lane_pids(client, tokens["instructor"])
    finally:
        service.stop()
    assert done["status"] == "graded" and done["score"] == done["max_score"] > 0
    assert after and before[0] not in after
    status, tries, results = rows(cfg)[attempt]
    assert (status, results) == ("graded", 1)


def mount_tmpfs(path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


def test_a_full_or_read_only_submitted_refuses_uploads_clearly_and_loses_none(tmp_path):
    """submitted/ on a small tmpfs: once it is full, and once it is read-only, is an upload refused
    with a clear JSON error (and no row), are the attempts accepted before still there and graded,
    and does an upload succeed again once there is room?"""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs: run the suite as root (as CI does)")
    cfg = make_course(tmp_path / "course", 2, {"lanes": 1}, due="2099-01-01 00:00:00 UTC")
    tokens = issue_tokens(cfg)
    mount_tmpfs(cfg.submitted_dir, "4m")
    service = ServiceProcess(cfg.root).start()
    try:
        service.wait_ready(tokens["instructor"])
        with httpx.Client(base_url=service.url, timeout=60) as client:
            first = upload(client, tokens["s000"], A, ALICE)
            assert first.status_code == 202
            filler = cfg.submitted_dir / "filler"
            with filler.open("wb") as f:
                try:
                    while True:
                        f.write(b"\0" * (1 << 16))
                except OSError:
                    pass
            full = upload(client, tokens["s001"], A, ALICE)
            assert full.status_code == 507 and "cannot store submissions" in full.json()["error"]
            filler.unlink()
            subprocess.run(["mount", "-o", "remount,ro", str(cfg.submitted_dir)], check=True)
            read_only = upload(client, tokens["s001"], A, ALICE)
            assert read_only.status_code == 507 and "nothing was accepted" in read_only.json()["error"]
            subprocess.run(["mount", "-o", "remount,rw", str(cfg.submitted_dir)], check=True)
            again = upload(client, tokens["s001"], A, ALICE)
            assert again.status_code == 202
            ids = [first.json()["id"], again.json()["id"]]
            done = wait_graded(client, tokens["instructor"], ids, timeout=120)
            kept = (cfg.submitted_dir / "s000" / A / "transformer.ipynb").read_bytes()
    finally:
        service.stop()
        subprocess.run(["umount", "-l", str(cfg.submitted_dir)], check=False)
    assert set(rows(cfg)) == set(ids)
    assert all(d["status"] == "graded" and d["score"] == d["max_score"] for d in done.values())
    assert kept == ALICE


def test_the_service_grades_on_a_dask_cluster_when_a_scheduler_is_given(tmp_path):
    """Started with --scheduler (make serve SCHEDULER=...), does the service grade on the Dask
    workers' lanes, with the same score as the local lanes, and the queue report no local lane?"""
    import distributed

    cfg = make_course(tmp_path / "course", 2, {"lanes": 1}, due="2099-01-01 00:00:00 UTC")
    tokens = issue_tokens(cfg)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0") as cluster:
        service = ServiceProcess(cfg.root, args=("--scheduler", cluster.scheduler_address)).start()
        try:
            queue = service.wait_ready(tokens["instructor"])
            with httpx.Client(base_url=service.url, timeout=60) as client:
                ids = [upload(client, tokens[s], A, ALICE).json()["id"] for s in ("s000", "s001")]
                done = wait_graded(client, tokens["instructor"], ids, timeout=240)
        finally:
            service.stop()
    assert queue["lane_pids"] == [] and queue["isolation"].startswith("level")
    assert all(d["status"] == "graded" and d["score"] == d["max_score"] > 0 for d in done.values())
