"""One run at a time per course: the lock every command that writes the course takes first.

The lock is an advisory lock (fcntl.flock) on .autograder/lock in the course root, which the
kernel releases when its holder exits, however it exits; the file also says who holds it (pid,
host, start time, command), so a second run names the holder in its one-line refusal. A run
that finds the file naming a process that is gone (killed, the machine restarted) takes over
and says so.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from autograder.config import CourseConfig, CourseError

STATE_DIR = ".autograder"


class Busy(CourseError):
    """Another run holds the course's lock."""


def lock_path(cfg: CourseConfig) -> Path:
    return cfg.root / STATE_DIR / "lock"


def _holder_text(info: dict) -> str:
    return (f"pid {info.get('pid', '?')} on {info.get('host', '?')}, started {info.get('started', '?')}: "
            f"{info.get('command', '?')}")


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        info = json.loads(os.read(fd, 4096).decode() or "{}")
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def course_lock(cfg: CourseConfig, command: str, wait: bool = False, say=None):
    """Hold the course's lock for the block. Another holder: raise Busy naming it, or, with
    `wait`, say once that this run waits, and wait. `say` prints a one-line notice."""
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    path = lock_path(cfg)
    try:
        path.parent.mkdir(exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    except OSError as exc:
        raise CourseError(f"{path}: cannot create the course's lock file ({exc.strerror}); "
                          "is the course folder writable?") from None
    try:
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder_text(_read(fd))
                if not wait:
                    raise Busy(f"another run holds this course ({holder}); wait for it to finish, "
                               f"or run again with WAIT=1 (--wait) to queue behind it") from None
                if not waited:
                    say(f"waiting for another run on this course to finish ({holder})")
                    waited = True
                time.sleep(0.5)
        left = _read(fd)
        if left.get("pid") and left.get("host") == socket.gethostname() and not _alive(left["pid"]):
            say(f"note: took over the lock left by a run that ended without releasing it ({_holder_text(left)})")
        elif left.get("pid") and left.get("host") != socket.gethostname():
            say(f"note: took over the lock last held on another machine ({_holder_text(left)})")
        me = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
              "started": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        try:
            yield me
        finally:
            os.ftruncate(fd, 0)  # released: an empty file names nobody
    finally:
        os.close(fd)  # closing releases the flock
