"""Trusted-side handles on the zygote and on the workers it forks.

The trusted side only ever exchanges wire frames with a worker and kills it by process group;
it never imports or executes anything a submission provides.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograder import wire
from autograder.sandbox.isolation import Capabilities, decode_keeper_exit

ROOT = Path(__file__).resolve().parents[2]
_BOOT = ("import sys; sys.path.insert(0, {root!r}); "
         "from autograder.sandbox.zygote import main; main(int(sys.argv[1]), sys.argv[2:])")
# Only what Python and torch need; nothing of the grader's own environment leaks in.
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


class WorkerGone(Exception):
    """The worker died or closed its socket; `status` says how (CRASHED, MEMORY, ...)."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class WorkerTimeout(Exception):
    """The worker did not answer within the limit and was killed."""


@dataclass
class ExitInfo:
    exit: int | None
    signal: int | None
    memory: bool = False
    sandbox_failed: bool = False


def describe_exit(info: ExitInfo) -> tuple[str, str]:
    """(status, reason) for a worker that is gone."""
    if info.memory:
        return "MEMORY", "your code used more memory than its limit and was stopped"
    if info.sandbox_failed:
        return "CRASHED", "the sandbox could not be set up for your code (a grader problem: tell your instructor)"
    if info.signal == signal.SIGXFSZ:
        return "OUTPUT_LIMIT", "your code printed or wrote more than the output limit"
    if info.signal == signal.SIGXCPU:
        return "TIMEOUT", "your code used more CPU time than its limit"
    if info.signal is not None:
        return "CRASHED", f"the worker running your code was killed by signal {info.signal}"
    if info.exit == 0:
        return "CRASHED", "your code exited the worker (os._exit or similar) before answering"
    return "CRASHED", f"the worker running your code exited with status {info.exit}"


class Zygote:
    """One warm fork server. Workers are forked from it in milliseconds, with torch imported."""

    def __init__(self, probe_paths: list[Path], start_timeout_s: float = 120.0):
        self.probe_paths = [str(p) for p in probe_paths]
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.ctl: socket.socket | None = None
        # A spawn asked for ahead of need (spawn_ahead): its spec, our end of its socket, and,
        # once the zygote's answer has been read, the worker itself.
        self._ahead: tuple[dict, socket.socket] | None = None
        self._ready: tuple[dict, Worker] | None = None
        self.start()

    def start(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP}
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT.format(root=str(ROOT)), str(child.fileno()),
             *self.probe_paths],
            pass_fds=[child.fileno()], env=env, cwd=tempfile.gettempdir(),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        child.close()
        self.ctl = parent
        self.ctl.settimeout(self.start_timeout_s)
        try:
            ready = self._recv()
        except (OSError, ValueError) as exc:
            err = self.proc.stderr.read().decode(errors="replace")[-2000:] if self.proc.poll() is not None else ""
            raise RuntimeError(f"the sandbox zygote failed to start: {exc}\n{err}") from None
        self.probes = ready["probes"]
        self.capabilities = Capabilities(**ready["isolation"])

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _recv(self) -> dict:
        data = self.ctl.recv(1 << 16)
        if not data:
            raise ConnectionError("the zygote closed its control socket")
        return json.loads(data)

    def _request(self, message: dict, fds=()) -> dict:
        if not self.alive():
            self._drop_ahead()
            self.close()
            self.start()  # a worker may have killed its parent; the next student gets a new one
        self._collect_ahead()  # answers come in the order asked
        self.ctl.settimeout(30)
        socket.send_fds(self.ctl, [json.dumps(message).encode()], list(fds))
        return self._recv()

    def spawn(self, spec: dict) -> "Worker":
        self._collect_ahead()
        if self._ready is not None and self._ready[0] is spec:
            _, worker = self._ready
            self._ready = None
            return worker
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = self._request({"cmd": "spawn", "spec": spec}, [theirs.fileno()])
        finally:
            theirs.close()
        return self._worker(reply, ours)

    def spawn_ahead(self, spec: dict) -> None:
        """Ask for a worker for `spec` now, without waiting: the zygote forks it and builds its
        sandbox while the caller goes on, and `spawn(spec)` (the same dict) takes it at once. The
        worker is generic until it is sent a notebook. One at a time; a later one replaces it."""
        self.cancel_ahead()
        if not self.alive():
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self.ctl, [json.dumps({"cmd": "spawn", "spec": spec}).encode()], [theirs.fileno()])
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

    def _worker(self, reply: dict, ours: socket.socket) -> "Worker":
        if not reply.get("pid"):
            ours.close()
            self.reap(reply["keeper"])
            raise RuntimeError("the sandbox refused to start a worker (a layer the probe found failed)")
        return Worker(self, reply["pid"], reply["keeper"], ours)

    def reap(self, keeper: int) -> ExitInfo:
        try:
            reply = self._request({"cmd": "reap", "pid": keeper})
        except (OSError, ValueError):
            return ExitInfo(None, None)
        if reply["signal"] is not None:  # the keeper itself was killed
            return ExitInfo(None, reply["signal"])
        return ExitInfo(*decode_keeper_exit(reply["exit"]))

    def release(self, keeper: int) -> None:
        """Let the zygote reap this keeper in its own time (no answer to wait for)."""
        try:
            if self.alive():
                socket.send_fds(self.ctl, [json.dumps({"cmd": "release", "pid": keeper}).encode()], [])
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

    def __init__(self, zygote: Zygote, pid: int, keeper: int, sock: socket.socket):
        self.zygote, self.pid, self.keeper, self.sock = zygote, pid, keeper, sock
        self.exit: ExitInfo | None = None

    def request(self, message, timeout_s: float):
        """Send a message and return the decoded answer (plain data and tensors)."""
        deadline = time.monotonic() + timeout_s
        try:
            self.sock.settimeout(timeout_s)
            wire.send(self.sock, message)
            return self._recv_until(deadline)
        except (socket.timeout, TimeoutError):
            self.kill()
            raise WorkerTimeout(f"no answer within {timeout_s:g} s") from None
        except (EOFError, ConnectionError, BrokenPipeError):
            self.kill()
            raise WorkerGone(*describe_exit(self.exit)) from None
        except wire.WireError as exc:
            self.kill()
            raise WorkerGone("CRASHED", f"the worker sent a malformed answer: {exc}") from None

    def _recv_until(self, deadline: float):
        return wire.decode(wire.recv_frame(self.sock, deadline=deadline))

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
