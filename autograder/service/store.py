"""Uploads kept in nbgrader's layout, durably, before anything else happens to them.

Every accepted attempt is written (and fsynced, with its folder) to
    submitted/<student>/<assignment>/history/<time>-<id>.ipynb      e.g. 20261201T213204786062Z-d873...ipynb
before its database row; the history folder is the record of truth (a start restores any row
missing from it, recover()). The newest attempt is mirrored to nbgrader's
submitted/<student>/<assignment>/<notebook>.ipynb and timestamp.txt, where nbgrader and
`make grade` find it. The client's file name is never used as a path.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
from pathlib import Path

from autograder.assignment import Assignment
from autograder.config import CourseConfig, parse_time
from autograder.notebook import read_notebook

HISTORY = "history"


class StorageError(Exception):
    """submitted/ cannot take the upload now (disk full, read-only): nothing was accepted."""


def timestamp_text(when: dt.datetime) -> str:
    """nbgrader's timestamp.txt format."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _write(path: Path, data: bytes, durable: bool = True) -> None:
    """Write to a temporary name and rename into place (a reader never sees half a file); with
    `durable`, fsync the file and its folder: after this returns, a crash keeps the file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o640)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


STAMP = "%Y%m%dT%H%M%S%fZ"


def save(cfg: CourseConfig, a: Assignment, student: str, attempt_id: str, data: bytes,
         when: dt.datetime) -> Path:
    """Keep one attempt in the student's history folder; returns its path relative to the course."""
    folder = cfg.submitted_dir / student / a.id / HISTORY
    path = folder / f"{when.astimezone(dt.timezone.utc):{STAMP}}-{attempt_id}.ipynb"
    try:
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            for level in (folder.parent, folder.parent.parent, cfg.submitted_dir):
                _fsync_dir(level)  # the new folders' own entries
        _write(path, data)
    except OSError as exc:
        with contextlib.suppress(OSError):  # a read-only folder cannot even lose the half-written file
            path.unlink(missing_ok=True)
        raise StorageError(f"the server cannot store submissions right now ({exc.strerror or exc}); nothing was "
                           "accepted: try again later, and tell your instructor if this persists") from None
    return path.relative_to(cfg.root)


def kept(cfg: CourseConfig, assignment_id: str):
    """(student, attempt id, time, relative path) of every attempt in the history folders."""
    for path in sorted(cfg.submitted_dir.glob(f"*/{assignment_id}/{HISTORY}/*.ipynb")):
        stamp, _, attempt_id = path.stem.partition("-")
        try:
            when = dt.datetime.strptime(stamp, STAMP).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
        if len(attempt_id) == 32 and not path.is_symlink():
            yield path.parent.parent.parent.name, attempt_id, when, str(path.relative_to(cfg.root))


def discard(cfg: CourseConfig, relative: str) -> None:
    """Remove an attempt that was never accepted (its database row could not be written)."""
    with contextlib.suppress(OSError):
        (cfg.root / relative).unlink(missing_ok=True)


def publish(cfg: CourseConfig, a: Assignment, student: str, relative: str, when: dt.datetime) -> None:
    """Mirror an attempt to nbgrader's place for the student's submission (the newest wins). Not
    fsynced: the history folder is the durable copy, and a start mirrors it again (republish)."""
    folder = cfg.submitted_dir / student / a.id
    stamp = folder / "timestamp.txt"
    if stamp.is_file():
        try:
            if parse_time(stamp.read_text()[:100]) > when:
                return  # a newer attempt is already there
        except (ValueError, OverflowError, OSError):
            pass
    _write(folder / a.notebook, (cfg.root / relative).read_bytes(), durable=False)
    _write(stamp, timestamp_text(when).encode(), durable=False)


def read(cfg: CourseConfig, relative: str, max_bytes: int) -> bytes:
    return read_notebook(cfg.root / relative, max_bytes)
