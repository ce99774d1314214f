"""Handles on the zygote and on the workers it forks, held by the trusted judge (judge/lane.py).

The trusted side only ever exchanges protocol messages with a worker (sandbox/protocol.py, over
the safe wire format) and kills it by process group; it never imports or executes anything a
submission provides. How a worker's end is graded is the judge's call (judge/verdict.py): here
a dead worker is only an ExitInfo.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from autograder import wire
from autograder.sandbox import protocol
from autograder.sandbox.capabilities import Capabilities
from autograder.sandbox.protocol import (Answer, Call, Load, Loaded, ProtocolError, Raised, Reap, Reaped, Release,
                                         Spawn, Spawned, WorkerSpec)

ROOT = Path(__file__).resolve().parents[3]
_BOOT = ("import sys; sys.path.insert(0, {root!r}); "
         "from autograder.sandbox.inside.zygote import main; main(int(sys.argv[1]), sys.argv[2:])")
# Only what Python and torch need; nothing of the grader's own environment leaks in.
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _zygote_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in _ENV_KEEP}


_AHEAD: "tuple[socket.socket, _Forked] | None" = None  # fork_ahead's zygote, waiting for its probes


def fork_ahead() -> None:
    """Fork a zygote now, from this process as it is, for the next Zygote to take instead of
    booting an interpreter: only where the lanes' fork server prepared torch
    (sandbox/inside/preload.py) and nothing else runs yet (one thread, and before the course or
    its hidden files are read, so the zygote inherits none of them). Elsewhere it does nothing."""
    global _AHEAD
    zygote = sys.modules.get("autograder.sandbox.inside.zygote")
    if _AHEAD is not None or zygote is None or not zygote.PREPARED or threading.active_count() != 1:
        return
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    env = {**_zygote_env(), **zygote.PREPARED_ENV}
    try:
        _AHEAD = (parent, _Forked(child, zygote.forked_main, env))
    finally:
        child.close()


def _isolated_path() -> list[str]:
    """sys.path as `python -I` with our package first would have it: no working folder, no course."""
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix)}
    return [str(ROOT)] + [p for p in sys.path if p and any(Path(p).resolve().is_relative_to(x) for x in prefixes)]


class _Forked:
    """A zygote forked from this process (see fork_ahead), with the face of the subprocess.Popen
    it stands in for: pid, poll, wait, stderr."""

    def __init__(self, ctl: socket.socket, forked_main, env: dict[str, str]):
        path = _isolated_path()
        err_r, err_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            forked_main(ctl.fileno(), err_w, env, path)  # never returns
        os.close(err_w)
        self.pid, self.returncode = pid, None
        self.stderr = os.fdopen(err_r, "rb")

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -1
            else:
                if done:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("zygote", timeout)
            time.sleep(0.005)
        return self.returncode


class WorkerGone(Exception):
    """The worker died, closed its socket or broke the protocol. `exit` says how it ended (None
    when it was killed for sending garbage); `garbage` what it sent instead of an answer."""

    def __init__(self, exit: "ExitInfo | None", garbage: str = ""):
        super().__init__(garbage or f"worker gone: {exit}")
        self.exit, self.garbage = exit, garbage


class WorkerTimeout(Exception):
    """The worker did not answer within the limit and was killed."""


@dataclass
class ExitInfo:
    exit: int | None
    signal: int | None
    memory: bool = False
    sandbox_failed: bool = False


class Zygote:
    """One warm fork server. Workers are forked from it in milliseconds, with torch imported."""

    def __init__(self, probe_paths: list[Path], start_timeout_s: float = 120.0):
        self.probe_paths = [str(p) for p in probe_paths]
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.ctl: socket.socket | None = None
        # A spawn asked for ahead of need (spawn_ahead): its spec, our end of its socket, and,
        # once the zygote's answer has been read, the worker itself.
        self._ahead: tuple[WorkerSpec, socket.socket] | None = None
        self._ready: tuple[WorkerSpec, Worker] | None = None
        self.start()

    def start(self) -> None:
        global _AHEAD
        if _AHEAD is not None:  # forked ahead, ready but for its probes (fork_ahead)
            (self.ctl, self.proc), _AHEAD = _AHEAD, None
            try:
                self.ctl.send(json.dumps(self.probe_paths).encode())
            except OSError:
                pass  # it is gone: the wait for Ready below says so
        else:
            parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT.format(root=str(ROOT)), str(child.fileno()),
                 *self.probe_paths],
                pass_fds=[child.fileno()], env=_zygote_env(), cwd=tempfile.gettempdir(),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                start_new_session=True)
            child.close()
            self.ctl = parent
        self.ctl.settimeout(self.start_timeout_s)
        try:
            ready = self._recv()
        except (OSError, ValueError) as exc:
            try:
                self.proc.wait(timeout=10)  # it closed the socket while dying: let it finish saying why
            except subprocess.TimeoutExpired:
                pass
            err = self.proc.stderr.read().decode(errors="replace")[-4000:] if self.proc.poll() is not None else ""
            raise RuntimeError(self._start_failure(str(exc), err)) from None
        self.probes = ready.probes
        self.capabilities = Capabilities(**ready.isolation)

    def _start_failure(self, what: str, err: str) -> str:
        """One line: where a probe file broke the zygote (file:line: the error), else what went wrong."""
        last = next((line.strip() for line in reversed(err.splitlines()) if line.strip()), what)
        ours = [(path, line) for path, line in re.findall(r'File "([^"]+)", line (\d+)', err)
                if path in self.probe_paths]
        if ours:
            return f"{ours[-1][0]}:{ours[-1][1]}: {last} (while the sandbox loaded the probes)"
        return f"the sandbox zygote failed to start: {what}: {last}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _send(self, message, fds=()) -> None:
        socket.send_fds(self.ctl, [json.dumps(message.to_wire()).encode()], list(fds))

    def _recv(self):
        data = self.ctl.recv(1 << 16)
        if not data:
            raise ConnectionError("the zygote closed its control socket")
        return protocol.control_from_wire(json.loads(data))

    def _request(self, message, fds=()):
        if not self.alive():
            self._drop_ahead()
            self.close()
            self.start()  # a worker may have killed its parent; the next student gets a new one
        self._collect_ahead()  # answers come in the order asked
        self.ctl.settimeout(30)
        self._send(message, fds)
        return self._recv()

    def spawn(self, spec: WorkerSpec) -> "Worker":
        self._collect_ahead()
        if self._ready is not None and self._ready[0] is spec:
            _, worker = self._ready
            self._ready = None
            return worker
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = self._request(Spawn(spec), [theirs.fileno()])
        finally:
            theirs.close()
        return self._worker(reply, ours)

    def spawn_ahead(self, spec: WorkerSpec) -> None:
        """Ask for a worker for `spec` now, without waiting: the zygote forks it and builds its
        sandbox while the caller goes on, and `spawn(spec)` (the same object) takes it at once.
        The worker is generic until it is sent a notebook. One at a time; a later one replaces it."""
        self.cancel_ahead()
        if not self.alive():
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._send(Spawn(spec), [theirs.fileno()])
        except OSError:
            ours.close()
            return
        finally:
            theirs.close()
        self._ahead = (spec, ours)

    def cancel_ahead(self) -> None:
        """Kill a worker asked for ahead that nobody took."""
        self._collect_ahead()
        if self._ready is not None:
            _, worker = self._ready
            self._ready = None
            worker.kill(wait=False)

    def _collect_ahead(self) -> None:
        if self._ahead is None:
            return
        spec, ours = self._ahead
        self._ahead = None
        try:
            self.ctl.settimeout(30)
            self._ready = (spec, self._worker(self._recv(), ours))
        except (OSError, ValueError, RuntimeError):
            ours.close()  # spawn(spec) then asks again, and says what went wrong

    def _drop_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead[1].close()
            self._ahead = None
        self._ready = None  # its zygote is gone; so is the worker

    def _worker(self, reply, ours: socket.socket) -> "Worker":
        if not isinstance(reply, Spawned):
            ours.close()
            raise RuntimeError(f"the zygote answered a spawn with {reply.kind}")
        if not reply.pid:
            ours.close()
            self.reap(reply.keeper)
            raise RuntimeError("the sandbox refused to start a worker (a layer the probe found failed)")
        cpu = Path(self.capabilities.cpu_cgroup) / f"w{reply.keeper}" / "cpuacct.usage" \
            if self.capabilities.cpu_cgroup else None
        return Worker(self, reply.pid, reply.keeper, ours, cpu)

    def reap(self, keeper: int) -> ExitInfo:
        try:
            reply = self._request(Reap(keeper))
        except (OSError, ValueError):
            return ExitInfo(None, None)
        if not isinstance(reply, Reaped):
            return ExitInfo(None, None)
        if reply.signal is not None:  # the keeper itself was killed
            return ExitInfo(None, reply.signal)
        return ExitInfo(*protocol.decode_keeper_exit(reply.exit))

    def release(self, keeper: int) -> None:
        """Let the zygote reap this keeper in its own time (no answer to wait for)."""
        try:
            if self.alive():
                self._send(Release(keeper))
        except OSError:
            pass

    def close(self) -> None:
        if self.alive():
            self.cancel_ahead()
        self._drop_ahead()
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None


class Worker:
    """A live worker: request/response over its socket, with a deadline per exchange."""

    def __init__(self, zygote: Zygote, pid: int, keeper: int, sock: socket.socket, cpu_usage: Path | None = None):
        self.zygote, self.pid, self.keeper, self.sock = zygote, pid, keeper, sock
        self.exit: ExitInfo | None = None
        self.cpu_usage = cpu_usage  # the worker tree's cpuacct.usage (ns), read here; None without one

    def cpu_seconds(self) -> float | None:
        """CPU time of the worker's whole process tree, children and threads included, as the
        kernel accounts it: load from other processes does not change it, and the worker cannot."""
        if self.cpu_usage is None:
            return None
        try:
            return int(self.cpu_usage.read_text()) / 1e9
        except (OSError, ValueError):
            return None

    def pin(self, cpus: set[int] | None) -> None:
        """Run every thread of the worker's tree on `cpus` only (None: wherever this process may).
        Best effort: where the kernel refuses (another user's process, no CAP_SYS_NICE), nothing
        changes, and the timing that asked for it is only noisier."""
        cpus = cpus or os.sched_getaffinity(0)
        for tid in self.threads():
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:
                pass

    def threads(self) -> list[int]:
        """Thread ids of the worker's tree (its cgroup's), or of the worker alone without a cgroup;
        [] once it is gone."""
        try:
            if self.cpu_usage is not None:
                return [int(t) for t in (self.cpu_usage.parent / "tasks").read_text().split()]
            return [int(t) for t in os.listdir(f"/proc/{self.pid}/task")]
        except (OSError, ValueError):
            return []

    def load(self, cells: list[dict], cell_timeout_s: float, timeout_s: float) -> Loaded:
        """Send the notebook's cells; the worker's account of loading them."""
        return self._exchange(Load(cells, cell_timeout_s), timeout_s, Loaded.from_wire)

    def call(self, probe: str, args: dict, timeout_s: float) -> Answer | Raised:
        """Run one probe; its answer (plain data and tensors) or what it raised."""
        return self._exchange(Call(probe, args), timeout_s, protocol.reply_from_wire)

    def _exchange(self, message, timeout_s: float, parse):
        deadline = time.monotonic() + timeout_s
        try:
            self.sock.settimeout(timeout_s)
            wire.send(self.sock, message.to_wire())
            return parse(wire.decode(wire.recv_frame(self.sock, deadline=deadline)))
        except (socket.timeout, TimeoutError):
            self.kill()
            raise WorkerTimeout(f"no answer within {timeout_s:g} s") from None
        except (EOFError, ConnectionError, BrokenPipeError):
            self.kill()
            raise WorkerGone(self.exit) from None
        except (wire.WireError, ProtocolError) as exc:
            self.kill()
            raise WorkerGone(None, f"{exc}"[:300]) from None

    def kill(self, wait: bool = True) -> None:
        """Kill the worker and everything it started, then reap its keeper for the exit status
        (or, with wait=False, leave the reaping to the zygote: a closed worker's status is moot).

        The worker is PID 1 of its own PID namespace (where the machine allows): when it dies,
        the kernel kills every process in that namespace. Its process group goes too, for
        machines without namespaces."""
        if self.exit is not None:
            return
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.sock.close()
        if wait:
            self.exit = self.zygote.reap(self.keeper)
        else:
            self.exit = ExitInfo(None, signal.SIGKILL)
            self.zygote.release(self.keeper)
