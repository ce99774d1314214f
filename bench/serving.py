"""A real submission service for the load test and the suite: a private course, its tokens, the
service as a process on a loopback port (killable with -9), and what was accepted, audited."""
from __future__ import annotations

import csv
import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from autograder.config import CourseConfig, load
from bench.run import ASSIGNMENT, build_class

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- a course to serve ---------------------------------------------------------------------------

def make_course(work: Path, students: int, service: dict, assignments: tuple[str, ...] = (ASSIGNMENT,),
                policy: dict | None = None, due: str | None = None) -> CourseConfig:
    """A private course under `work`: the repository's course files for `assignments`, a roster of
    s000..s<students-1> plus the bundled four, and SERVICE (POLICY, one DUE date) settings appended."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for aid in assignments:
        for folder in ("assignments", "release"):
            shutil.copytree(REPO_ROOT / folder / aid, work / folder / aid, ignore=shutil.ignore_patterns("__pycache__"))
    text = (REPO_ROOT / "course_config.py").read_text()
    text += f"\nSERVICE = {service!r}\n" + (f"POLICY = {policy!r}\n" if policy else "")
    if due:
        text += f"DUE = {dict.fromkeys(assignments, due)!r}\n"
    else:  # the course's own dates, for the assignments copied (a DUE key naming no assignment is refused)
        text += f"DUE = {{k: v for k, v in globals().get('DUE', {{}}).items() if k in {sorted(assignments)!r}}}\n"
    (work / "course_config.py").write_text(text)
    shutil.copy2(REPO_ROOT / "nbgrader_config.py", work / "nbgrader_config.py")
    with (work / "roster.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", "lms_id", "name", "sis_id", "section"])
        for i, sid in enumerate(["alice", "bob", "carol", "dave"] + [f"s{i:03d}" for i in range(students)]):
            w.writerow([sid, 20000 + i, f"Student {sid}", f"S{i:05d}", "L01"])
    return load(work)


def issue_tokens(cfg: CourseConfig) -> dict[str, str]:
    """subject -> token, as `make tokens` writes them."""
    from autograder.service.tokens import issue

    path = issue(cfg).path
    with path.open(newline="") as f:
        return {row["student_id"]: row["token"] for row in csv.DictReader(f)}


def class_notebooks(n: int, work: Path) -> list[bytes]:
    """n Day 41 notebooks built like the bench's class (every one different), leaving out the
    bench's truncated ones: the service refuses those at upload (415), and every upload here must be graded."""
    folder = work / "class"
    shutil.rmtree(folder, ignore_errors=True)
    students = build_class(load(REPO_ROOT), n + n // 40 + 2, folder)
    keep = [s.id for s in students if s.kind != "broken"][:n]
    return [(folder / sid / ASSIGNMENT / "transformer.ipynb").read_bytes() for sid in keep]


# -- the service, as a process ----------------------------------------------------------------------

@dataclass
class ServiceProcess:
    """`python -m autograder serve` on a loopback port, in its own process group."""
    root: Path
    port: int = field(default_factory=free_port)
    args: tuple[str, ...] = ()
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServiceProcess":
        self.log = self.root / f"service-{self.port}-{int(time.time() * 1000)}.log"
        out = self.log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder", "--course", str(self.root), "serve",
                                      "--host", "127.0.0.1", "--port", str(self.port), *self.args],
                                     cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        return self

    def wait_ready(self, token: str, timeout: float = 180, lanes: bool = True) -> dict:
        """Until the service answers (and, with `lanes`, its lanes are warm); the queue's state."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited ({self.proc.returncode}): {self.output()[-3000:]}")
            try:
                q = httpx.get(f"{self.url}/api/queue", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
                if q.get("failed"):
                    raise RuntimeError(f"the service cannot grade: {q['failed']}")
                if q.get("ready") or not lanes:
                    return q
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"the service at {self.url} was not ready within {timeout} s: {self.output()[-3000:]}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def kill9(self) -> None:
        """SIGKILL the service process alone, as a crash would; its lanes notice and go."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reap_group()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._reap_group()

    def _reap_group(self) -> None:
        """Whatever the service started and left (a lane outliving a SIGKILL): gone, after a grace."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def upload(client: httpx.Client, token: str, assignment: str, data: bytes, name: str = "transformer.ipynb"):
    return client.post("/api/submissions", headers={"Authorization": f"Bearer {token}"},
                       data={"assignment": assignment}, files={"notebook": (name, data, "application/x-ipynb+json")})


def wait_graded(client: httpx.Client, token: str, ids: list[str], timeout: float = 300) -> dict[str, dict]:
    """Follow each attempt until it is graded (or in error); id -> its last JSON."""
    done: dict[str, dict] = {}
    end = time.monotonic() + timeout
    while len(done) < len(ids) and time.monotonic() < end:
        for i in [i for i in ids if i not in done]:
            answer = client.get(f"/api/submissions/{i}", headers={"Authorization": f"Bearer {token}"})
            if answer.status_code == 200 and answer.json()["status"] in ("graded", "error"):
                done[i] = answer.json()
        time.sleep(0.3)
    if len(done) < len(ids):
        raise TimeoutError(f"{len(ids) - len(done)} of {len(ids)} attempts not graded within {timeout} s")
    return done


def audit(cfg: CourseConfig, accepted: dict[str, str]) -> dict:
    """Every accepted id (-> the SHA-256 uploaded) against the database and the files: lost ones,
    ones graded twice, stored bytes that differ."""
    db = sqlite3.connect(cfg.service_db_url.removeprefix("sqlite:///"))
    rows = {r[0]: r[1:] for r in db.execute("SELECT id, path, sha256, status, results, regrades, report FROM attempts")}
    db.close()
    lost = sorted(i for i in accepted if i not in rows)
    twice = sorted(i for i, r in rows.items() if r[3] != 1 + r[4])
    never = sorted(i for i, r in rows.items() if r[3] == 0 or r[2] not in ("graded", "error"))
    differ = sorted(i for i, r in rows.items() if i in accepted and (
        not (cfg.root / r[0]).is_file() or hashlib.sha256((cfg.root / r[0]).read_bytes()).hexdigest() != accepted[i]))
    reports = sorted(i for i, r in rows.items() if not r[5] or not (cfg.root / r[5]).is_file())
    return {"accepted": len(accepted), "rows": len(rows), "lost": lost, "graded_twice": twice,
            "not_graded": never, "bytes_differ": differ, "missing_reports": reports}
