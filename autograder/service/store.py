"""Uploads kept in nbgrader's layout, durably, before anything else happens to them.

Every accepted attempt is written (and fsynced) to
    submitted/<student>/<assignment>/history/<time>-<id>/<notebook>.ipynb   and   timestamp.txt
and the newest one is mirrored to submitted/<student>/<assignment>/<notebook>.ipynb (plus
timestamp.txt), where nbgrader and `make grade` find it. The name on disk is always the
assignment's notebook name: the client's file name is never used as a path.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
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


def save(cfg: CourseConfig, a: Assignment, student: str, attempt_id: str, data: bytes,
         when: dt.datetime) -> Path:
    """Keep one attempt in its history folder; returns the notebook's path relative to the course."""
    folder = cfg.submitted_dir / student / a.id / HISTORY / f"{when:%Y%m%dT%H%M%S%fZ}-{attempt_id[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=False)
        _write(folder / a.notebook, data)
        _write(folder / "timestamp.txt", timestamp_text(when).encode())
        _fsync_dir(folder.parent)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise StorageError(f"the server cannot store submissions right now ({exc.strerror or exc}); nothing was "
                           "accepted: try again later, and tell your instructor if this persists") from None
    return (folder / a.notebook).relative_to(cfg.root)


def discard(cfg: CourseConfig, relative: str) -> None:
    """Remove an attempt's folder that was never accepted (its database row could not be written)."""
    shutil.rmtree((cfg.root / relative).parent, ignore_errors=True)


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
