"""The sandbox: what a worker can see and do, at the strongest isolation level this machine has."""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from autograder.config import CourseError, load
from autograder.coordinator.grade import check_isolation
from autograder.judge.handles import SandboxedCode
from autograder.judge.verdict import ProbeFailure, StudentError
from autograder.results import Status
from autograder.sandbox import capabilities as isolation
from autograder.sandbox.host.launcher import Zygote
from autograder.sandbox.protocol import WorkerSpec
from tests.conftest import FILES, REPO

SETTINGS = load(REPO).grading


@pytest.fixture(scope="module")
def zygote():
    z = Zygote([FILES / "sandbox_probes.py"])
    yield z
    z.close()


@pytest.fixture
def worker(zygote, tmp_path):
    spec = WorkerSpec(str(tmp_path), cpu_s=60, max_output_bytes=1 << 20, memory_bytes=1 << 30, max_pids=32,
                      scratch_bytes=16 << 20, hide=(str(REPO),))
    code = SandboxedCode(zygote, [{"number": 1, "source": "x = 1"}], spec, SETTINGS)
    yield code
    code.close()


@pytest.fixture
def listener():
    """A loopback TCP listener that records whatever reaches it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    received, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                received.append(conn.recv(100))
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def test_this_machine_reaches_the_strongest_level():
    """Does the grader reach level 3 (namespaces, cgroups, uid drop) here, as CI must?"""
    caps = isolation.probe()
    assert caps.level == len(isolation.LEVELS) - 1, caps.describe()


def test_grading_refuses_below_the_configured_minimum(monkeypatch):
    """With min_isolation above what the machine offers, does the grader refuse, naming both?"""
    weak = isolation.Capabilities(0, False, False, False, "", "", 65534, 65534, "not root")
    monkeypatch.setattr(isolation, "probe", lambda: weak)
    with pytest.raises(CourseError, match=r"level 0/3 \(process\).*min_isolation 'contained'"):
        check_isolation("contained")
    assert check_isolation("process") is weak  # below the best: allowed, with a loud warning


def test_worker_identity_network_and_processes(worker, listener):
    """Is the worker an unprivileged user with no_new_privs, alone in its own PID namespace (under
    its init, PID 1), with a scrubbed environment, and unable to reach a loopback listener?"""
    port, received = listener
    facts = worker.probe("facts", port=port)
    assert facts["uid"] != 0 and facts["no_new_privs"] == "1"
    assert facts["pid"] == 2 and facts["visible_pids"] == 2
    assert not facts["connected"] and received == []
    assert set(facts["env"]) <= {"PATH", "LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                 "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LC_CTYPE",
                                 "TORCHINDUCTOR_CACHE_DIR",  # torch sets this one at import
                                 "TMPDIR"}  # the worker's scratch, its one writable place (sandbox/inside/limits.py)


FORKED_ZYGOTE = """
import json, os, sys
sys.path.insert(0, {root!r})
import autograder.sandbox.inside.preload  # what the lanes' fork server imports first
from autograder.config import load
from autograder.judge.handles import SandboxedCode
from autograder.sandbox.host import launcher
from autograder.sandbox.protocol import WorkerSpec

lanes_pipe = os.pipe()  # stands for a lane's pipes to the coordinator
launcher.fork_ahead()
zygote = launcher.Zygote([{probes!r}])
fds = {{fd: os.readlink(f"/proc/{{zygote.proc.pid}}/fd/{{fd}}") for fd in os.listdir(f"/proc/{{zygote.proc.pid}}/fd")}}
spec = WorkerSpec({scratch!r}, cpu_s=60, max_output_bytes=1 << 20, memory_bytes=1 << 30, max_pids=32,
                  scratch_bytes=16 << 20, hide=({hide!r},))
code = SandboxedCode(zygote, [{{"number": 1, "source": "x = 1"}}], spec, load({root!r}).grading)
facts = code.probe("facts")
code.close()
print(json.dumps({{"kind": type(zygote.proc).__name__, "fds": fds, "sid": os.getsid(zygote.proc.pid),
                  "pid": zygote.proc.pid, "pipe": [os.readlink(f"/proc/self/fd/{{fd}}") for fd in lanes_pipe],
                  "facts": facts}}))
zygote.close()
"""


def test_a_zygote_forked_from_a_prepared_lane_holds_nothing_of_it(worker, tmp_path):
    """When a lane forks its zygote from the fork server's warm state instead of starting an
    interpreter, does the zygote hold none of the lane's files (only /dev/null, its error pipe and
    its control socket), run in its own session, and fork workers that see the same environment,
    file descriptors and import path as those of a zygote started afresh?"""
    script = FORKED_ZYGOTE.format(root=str(REPO), probes=str(FILES / "sandbox_probes.py"),
                                  scratch=str(tmp_path), hide=str(REPO))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["kind"] == "_Forked" and got["sid"] == got["pid"]
    fds = got["fds"]
    assert len(fds) == 4 and fds["0"] == fds["1"] == "/dev/null" and fds["2"].startswith("pipe:"), fds
    assert [target for fd, target in fds.items() if fd not in "012"][0].startswith("socket:"), fds
    assert not set(got["pipe"]) & set(fds.values())
    afresh = worker.probe("facts")
    for key in ("env", "path", "uid", "cwd"):
        assert got["facts"][key] == afresh[key], key
    assert len(got["facts"]["fds"]) <= len(afresh["fds"]), (got["facts"]["fds"], afresh["fds"])


def test_worker_sees_no_secrets_and_writes_only_its_scratch(worker, tmp_path):
    """Are the hidden tests, reference, solutions, submissions and home hidden, and is the scratch
    the only writable place?"""
    secrets = [str(REPO / "assignments" / "day41_transformer" / "hidden" / "test_values.py"),
               str(REPO / "assignments" / "day41_transformer" / "transformer.ipynb"),
               str(REPO / "solutions"), str(REPO / "submitted"), str(REPO / ".git"), str(tmp_path),
               *[str(p) for p in Path("/root").iterdir() if p.name != ".pyenv"]]
    facts = worker.probe("facts", read=secrets, write=[facts_dir for facts_dir in
                                                       ("/tmp", "/var/tmp", "/dev/shm", str(REPO), "/etc")])
    assert not any(facts["readable"].values()), facts["readable"]
    assert not any(facts["writable"].values()), facts["writable"]
    scratch = facts["cwd"]
    assert worker.probe("facts", write=[scratch])["writable"][scratch]
    assert not list(tmp_path.iterdir())  # nothing landed in the host folder either


@pytest.fixture
def checkout_at_the_top():
    """A folder at "/" nobody listed anywhere, like a CI checkout under /check, holding a secret."""
    folder = Path(f"/ag-checkout-{os.getpid()}")
    (folder / "course" / "hidden").mkdir(parents=True)
    (folder / "course" / "hidden" / "test_values.py").write_text("SECRET = 1\n")
    yield folder
    shutil.rmtree(folder)


def test_worker_sees_nothing_outside_the_system_wherever_the_course_lives(checkout_at_the_top, zygote, tmp_path):
    """Can a worker find any file outside the operating system's folders, other than the
    interpreter and packages bound back for it, even in a top-level folder no list names?"""
    spec = WorkerSpec(str(tmp_path), cpu_s=60, max_output_bytes=1 << 20, memory_bytes=1 << 30, max_pids=32,
                      scratch_bytes=16 << 20)
    code = SandboxedCode(zygote, [{"number": 1, "source": "x = 1"}], spec, SETTINGS)
    try:
        bound_back = [sys.prefix, sys.base_prefix, str(REPO / "autograder")]
        seen = code.probe("files_outside_system", skip=bound_back)
    finally:
        code.close()
    assert checkout_at_the_top.name in seen["top"]  # the folder is there, as an empty stand-in
    assert seen["found"] == [], seen["found"][:20]


_FROM_TMP = """
import json, sys
sys.path.insert(0, sys.argv[1])
from autograder.config import load
from autograder.judge.handles import SandboxedCode
from autograder.sandbox.host.launcher import Zygote
from autograder.sandbox.protocol import WorkerSpec
z = Zygote([__import__("pathlib").Path(sys.argv[2])])
spec = WorkerSpec(sys.argv[3], cpu_s=60, max_output_bytes=1 << 20, memory_bytes=1 << 30, max_pids=32,
                  scratch_bytes=16 << 20, hide=(sys.argv[1],))
code = SandboxedCode(z, [{"number": 1, "source": "x = 1"}], spec, load(sys.argv[4]).grading)
try:
    print(json.dumps(code.probe("facts", read=sys.argv[5:])["readable"]))
finally:
    code.close()
    z.close()
"""


def test_a_checkout_under_tmp_keeps_its_package_and_hides_the_rest(tmp_path):
    """With the grader's checkout cloned under /tmp (which every worker gets as an empty tmpfs),
    can a worker still read the package it runs (fonts, templates and sources read lazily), and
    still not read anything else of that checkout?"""
    checkout = tmp_path / "clone"
    shutil.copytree(REPO / "autograder", checkout / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "secret.txt").write_text("instructor's notes")
    (tmp_path / "course").mkdir()
    package_file, secret = checkout / "autograder" / "cells.py", checkout / "secret.txt"
    assert str(package_file).startswith("/tmp/")
    run = subprocess.run([sys.executable, "-c", _FROM_TMP, str(checkout), str(FILES / "sandbox_probes.py"),
                          str(tmp_path / "course"), str(REPO), str(package_file), str(secret)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    readable = json.loads(run.stdout.strip().splitlines()[-1])
    assert readable == {str(package_file): True, str(secret): False}


def _wait_gone(pids, seconds=5.0):
    def running(pid: int) -> bool:
        try:  # a process can end between the two questions
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    alive = lambda: [p for p in pids if running(p)]  # noqa: E731
    deadline = time.time() + seconds
    while time.time() < deadline and alive():
        time.sleep(0.05)
    return alive()


def test_fork_storm_is_contained_and_cleaned_up(worker):
    """Does a fork storm stop at the pids limit, and do all its processes die with the worker?"""
    before = {p.pid for p in psutil.process_iter()}
    started = worker.probe("fork_storm", n=300)["started"]
    assert 0 < started < 32
    extra = {p.pid for p in psutil.process_iter()} - before
    worker.close()
    assert not _wait_gone(extra)


def test_processes_that_escape_the_group_still_die(worker):
    """Do children that called setsid() die when the worker is killed?"""
    before = {p.pid for p in psutil.process_iter()}
    worker.probe("leave_children", n=5)
    extra = {p.pid for p in psutil.process_iter()} - before
    assert len(extra) >= 5
    worker.close()
    assert not _wait_gone(extra)


def _spec(tmp_path, name):
    (tmp_path / name).mkdir()
    return WorkerSpec(str(tmp_path / name), cpu_s=60, max_output_bytes=1 << 20, memory_bytes=1 << 30, max_pids=32,
                      scratch_bytes=16 << 20, hide=(str(REPO),))


def test_a_worker_asked_for_ahead_serves_its_spec_and_dies_if_unused(zygote, tmp_path):
    """Is a worker asked for ahead the one its submission gets (sandboxed like any other), while
    other spawns in between get their own, and is one nobody takes killed?"""
    ahead, other = _spec(tmp_path, "ahead"), _spec(tmp_path, "other")
    keepers = lambda: {p.pid for p in psutil.Process(zygote.proc.pid).children()  # noqa: E731
                       if p.status() != psutil.STATUS_ZOMBIE}
    before = keepers()
    zygote.spawn_ahead(ahead)
    meanwhile = SandboxedCode(zygote, [{"number": 1, "source": "x = 1"}], other, SETTINGS)
    assert meanwhile.probe("facts")["pid"] == 2  # answers stay in order with one pending
    code = SandboxedCode(zygote, [{"number": 1, "source": "x = 1"}], ahead, SETTINGS)
    facts = code.probe("facts")
    assert facts["uid"] != 0 and facts["pid"] == 2 and not facts["connected"]
    assert zygote._ready is None  # taken, not spawned anew
    meanwhile.close()
    code.close()
    assert not _wait_gone(keepers() - before)
    zygote.spawn_ahead(_spec(tmp_path, "unused"))
    time.sleep(0.5)
    extra = keepers() - before
    assert extra, "the worker asked for ahead was not started"
    zygote.cancel_ahead()
    assert not _wait_gone(extra)


def test_huge_allocation_is_memory_not_a_machine_problem(worker):
    """Does a 64 GiB allocation come back as MEMORY, with the grader unharmed?"""
    with pytest.raises(StudentError) as info:
        worker.probe("allocate", gib=64)
    assert info.value.status is Status.MEMORY


def test_creeping_allocation_hits_the_cgroup(worker):
    """Does touching memory past the cap in small pieces end as MEMORY, via the memory cgroup?"""
    with pytest.raises(ProbeFailure) as info:
        worker.probe("touch_pages", mib=4096)
    assert info.value.status is Status.MEMORY, str(info.value)


def test_a_flood_of_prints_is_an_output_limit(worker):
    """Do 100 MB of prints end the worker as OUTPUT_LIMIT, rather than an error the code can catch?"""
    with pytest.raises(ProbeFailure) as info:
        worker.probe("flood", mb=100)
    assert info.value.status is Status.OUTPUT_LIMIT
