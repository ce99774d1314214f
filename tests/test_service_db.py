"""The service's database on both of its backends: SQLite (embedded) and a real PostgreSQL server;
the queue's claims and results recorded once; a service on PostgreSQL surviving kill -9."""
from __future__ import annotations

import datetime as dt
import threading
import uuid

import httpx
import pytest
from sqlalchemy import select, text

from autograder.service.db import Attempt, Database, Token
from bench.serving import ServiceProcess, issue_tokens, make_course, upload
from tests.conftest import REPO
from tests.pg import postgresql_url  # noqa: F401  (the fixture)

A = "day41_transformer"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'service.db'}")
    else:
        url = request.getfixturevalue("postgresql_url")
        database = Database(url)
        with database.engine.begin() as c:  # a clean slate per test on the session's server
            c.execute(text("DELETE FROM attempts"))
            c.execute(text("DELETE FROM tokens"))
            c.execute(text("DELETE FROM settings"))
    yield database
    database.close()


def queued(db: Database, n: int, assignment: str = A) -> list[str]:
    ids = []
    with db.session.begin() as s:
        for i in range(n):
            ids.append(uuid.uuid4().hex)
            s.add(Attempt(id=ids[-1], student_id=f"s{i}", assignment=assignment, number=1, path=f"p{i}",
                          sha256="0" * 64, size=1, submitted_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=i)))
    return ids


def test_concurrent_claims_hand_each_attempt_out_once(db):
    """With 8 threads claiming from 40 queued attempts, is each attempt claimed exactly once, oldest first per thread?"""
    ids = queued(db, 40)
    claimed, lock = [], threading.Lock()

    def worker():
        while (row := db.claim([A])) is not None:
            with lock:
                claimed.append(row.id)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids) and len(set(claimed)) == 40
    assert db.queue_counts()["grading"] == 40


def test_a_result_is_recorded_once_and_a_restart_requeues_what_was_grading(db):
    """Is a second finish of the same attempt refused, and does requeue_interrupted put back only
    the attempts still marked grading?"""
    first, second = queued(db, 2)
    assert db.claim([A]).id == first and db.claim([A]).id == second
    assert db.finish(first, status="graded", score=1.0, max_score=1.0)
    assert not db.finish(first, status="graded", score=1.0, max_score=1.0)
    assert db.requeue_interrupted() == 1
    with db.session() as s:
        rows = {r.id: r for r in s.scalars(select(Attempt))}
    assert (rows[first].status, rows[first].results) == ("graded", 1)
    assert (rows[second].status, rows[second].tries) == ("queued", 1)
    assert db.regrade([first]) == 1 and db.claim([A]).id in (first, second)


def test_timezones_and_settings_survive_the_round_trip(db):
    """Does a stored UTC time come back as the same instant, and a setting as written?"""
    (attempt,) = queued(db, 1)
    with db.session() as s:
        stored = s.get(Attempt, attempt).submitted_at
    from autograder.service.db import utc

    assert abs((utc(stored) - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 60
    db.set_setting("paused", "1")
    assert db.get_setting("paused") == "1"
    with db.session.begin() as s:
        s.add(Token(digest="a" * 64, subject="alice", role="student", name="Alice"))
    with db.session() as s:
        assert s.scalars(select(Token.subject)).all() == ["alice"]


@pytest.mark.slow
def test_a_service_on_postgresql_keeps_every_attempt_across_kill_9(tmp_path, postgresql_url):  # noqa: F811
    """With SERVICE['database'] a postgresql:// URL, are tokens issued and uploads accepted into
    PostgreSQL (no SQLite file anywhere), and after kill -9 and a restart, is every attempt still
    listed, in its place in the queue?"""
    with Database(postgresql_url).engine.begin() as c:
        c.execute(text("DELETE FROM attempts"))
        c.execute(text("DELETE FROM tokens"))
        c.execute(text("DELETE FROM settings"))
    cfg = make_course(tmp_path / "course", 1, {"lanes": 1, "database": postgresql_url}, due="2099-01-01 00:00:00 UTC")
    tokens = issue_tokens(cfg)
    notebook = (REPO / "submitted" / "alice" / A / "transformer.ipynb").read_bytes()
    service = ServiceProcess(cfg.root, args=("--paused",)).start()
    try:
        service.wait_ready(tokens["instructor"], lanes=False)
        with httpx.Client(base_url=service.url, timeout=60) as client:
            ids = [upload(client, tokens["alice"], A, notebook).json()["id"] for _ in range(3)]
        service.kill9()
        service = ServiceProcess(cfg.root, port=service.port).start()
        service.wait_ready(tokens["instructor"], lanes=False)
        with httpx.Client(base_url=service.url, timeout=60) as client:
            listed = client.get(f"/api/submissions?assignment={A}", headers={"Authorization": f"Bearer {tokens['alice']}"})
            queue = client.get("/api/queue", headers={"Authorization": f"Bearer {tokens['instructor']}"}).json()
    finally:
        service.stop()
    assert [(a["id"], a["status"], a["attempt"]) for a in listed.json()] == [(i, "queued", n) for n, i in enumerate(ids, 1)]
    assert queue["paused"] is True and queue["counts"]["queued"] == 3
    assert not list(cfg.root.rglob("*.db"))
    with Database(postgresql_url).session() as s:
        assert sorted(s.scalars(select(Attempt.id))) == sorted(ids)
