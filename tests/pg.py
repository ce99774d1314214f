"""A real PostgreSQL server for the tests, from Debian's packages (`make postgres` installs them).

pytest-postgresql's process fixture runs pg_ctl as the current user, and PostgreSQL refuses to
run as root, which is how the suite runs in CI (it mounts, cgroups and sandboxes as root); this
fixture does the same job and, as root, runs the server as the `postgres` user."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.fail("these tests need a PostgreSQL server from Debian's packages: run `make postgres` "
                    "(apt-get install -y --no-install-recommends postgresql)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgreSQL:
    """initdb into a fresh folder, start on a free loopback port, stop and remove at the end."""

    def __init__(self):
        self.bin = pg_bin()
        self.port = _free_port()
        self.home = Path(tempfile.mkdtemp(prefix="autograder-pg-"))
        os.chmod(self.home, 0o755)
        self.data = self.home / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.home, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> "PostgreSQL":
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.home / "log"), "-w", "-o",
                  f"-p {self.port} -h 127.0.0.1 -k {self.home} -c fsync=off", "start")
        deadline = time.monotonic() + 60
        while True:
            done = subprocess.run([*self.as_user, str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                                   "-U", "postgres", "autograder"], capture_output=True, text=True)
            if done.returncode == 0 or time.monotonic() > deadline:
                assert done.returncode == 0, done.stderr
                return self
            time.sleep(0.3)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/autograder"

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="session")
def postgresql_url():
    """The URL of a fresh database on a real PostgreSQL server, for the session."""
    server = PostgreSQL().start()
    try:
        yield server.url
    finally:
        server.stop()
