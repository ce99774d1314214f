"""The service's database: sign-in token hashes and every accepted attempt, the queue included.

SQLAlchemy 2: SQLite by default (embedded, in WAL mode), PostgreSQL by URL.
An attempt is recorded here before its 202 goes out; `status` is the queue (queued -> grading ->
graded | error) and a restart puts whatever was queued or grading back in line.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import threading

from sqlalchemy import (DateTime, Float, Integer, String, Text, create_engine, event, func, select, update)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

STATUSES = ("queued", "grading", "graded", "error")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def utc(when: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands datetimes back without their zone; every one we store is UTC."""
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True, index=True)  # sha256 of the token, never the token
    subject: Mapped[str] = mapped_column(String(100), index=True)             # a student id, or "instructor"
    role: Mapped[str] = mapped_column(String(20))                              # student | instructor
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


class Attempt(Base):
    __tablename__ = "attempts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    student_id: Mapped[str] = mapped_column(String(100), index=True)
    assignment: Mapped[str] = mapped_column(String(100), index=True)
    number: Mapped[int] = mapped_column(Integer)                 # 1, 2, ... per student and assignment
    path: Mapped[str] = mapped_column(Text)                      # the stored notebook, relative to the course
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(10), index=True, default="queued")
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    graded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)       # after the late penalty
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    penalty: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")       # why an attempt ended in error
    report: Mapped[str] = mapped_column(Text, default="")        # the full report, relative to the course
    tries: Mapped[int] = mapped_column(Integer, default=0)       # times a lane was given it
    results: Mapped[int] = mapped_column(Integer, default=0)     # results recorded: 1 + regrades asked for
    regrades: Mapped[int] = mapped_column(Integer, default=0)


class Setting(Base):
    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


def engine_for(url: str) -> Engine:
    """An engine for `url`: postgresql:// URLs use psycopg 3 (the driver we ship)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _durable(conn, _record):
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit survives the process being killed, not a power cut; the attempt's
            # notebook is fsynced before its row, and a start restores rows from it (attempts.recover).
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """The engine, sessions, and the few queries whose atomicity matters."""

    def __init__(self, url: str):
        self.url = url
        self.engine = engine_for(url)
        Base.metadata.create_all(self.engine)
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        self._claim = threading.Lock()  # one process claims: the service is one coordinator
        # SQLite has one writer: threads that collide sleep in its busy handler (up to 100 ms a
        # round). Taking turns here instead keeps every write a few milliseconds.
        self.write_lock = threading.Lock() if url.startswith("sqlite") else contextlib.nullcontext()

    def close(self) -> None:
        self.engine.dispose()

    # -- the queue

    def requeue_interrupted(self) -> int:
        """At start: attempts that were being graded when the service stopped go back in line."""
        with self.write_lock, self.session.begin() as s:
            return s.execute(update(Attempt).where(Attempt.status == "grading")
                             .values(status="queued", started_at=None)).rowcount

    def claim(self, assignments: list[str]) -> Attempt | None:
        """The oldest queued attempt of these assignments, now marked grading; None when none waits."""
        with self._claim, self.write_lock, self.session.begin() as s:
            row = s.scalars(select(Attempt).where(Attempt.status == "queued", Attempt.assignment.in_(assignments))
                            .order_by(Attempt.submitted_at, Attempt.id).limit(1)).first()
            if row is None:
                return None
            row.status, row.started_at, row.tries = "grading", now(), row.tries + 1
            return row

    def finish(self, attempt_id: str, **values) -> bool:
        """Record a result, only for an attempt still marked grading: each is recorded once."""
        with self.write_lock, self.session.begin() as s:
            done = s.execute(update(Attempt).where(Attempt.id == attempt_id, Attempt.status == "grading")
                             .values(results=Attempt.results + 1, graded_at=now(), **values)).rowcount
        return bool(done)

    def regrade(self, attempt_ids: list[str]) -> int:
        """Put finished attempts back in line (the instructor's regrade)."""
        with self.write_lock, self.session.begin() as s:
            return s.execute(update(Attempt).where(Attempt.id.in_(attempt_ids), Attempt.status.in_(("graded", "error")))
                             .values(status="queued", regrades=Attempt.regrades + 1)).rowcount

    def queue_counts(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(Attempt.status, func.count()).group_by(Attempt.status)).all()
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({status: n for status, n in rows})
        return counts

    # -- settings kept across restarts

    def get_setting(self, key: str, default: str = "") -> str:
        with self.session() as s:
            row = s.get(Setting, key)
            return row.value if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self.write_lock, self.session.begin() as s:
            row = s.get(Setting, key)
            if row is None:
                s.add(Setting(key=key, value=value))
            else:
                row.value = value
