"""The fork server: imports torch and the assignment's probes once, then forks one worker per
submission on request. It never runs student code itself; only its children do, after fork.

It speaks the control protocol of sandbox/protocol.py (Ready, Spawn/Spawned, Reap/Reaped,
Release), one JSON message per SOCK_SEQPACKET packet.
"""
from __future__ import annotations

import dataclasses
import gc
import importlib.util
import json
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

from autograder.sandbox import protocol
from autograder.sandbox.protocol import Ready, Reaped, Release, Reap, Spawn, Spawned


def _load_probes(paths: list[str]) -> dict:
    from autograder.sandbox.inside import generic, probekit  # noqa: F401 - generic registers its probes

    for i, path in enumerate(paths):
        spec = importlib.util.spec_from_file_location(f"probes_{i}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return dict(probekit.PROBES)


def _send(ctl: socket.socket, message) -> None:
    ctl.send(json.dumps(message.to_wire()).encode())


def _expose() -> tuple[str, ...]:
    """What a sandboxed worker must still be able to read: the interpreter and its packages.
    Nothing else of the project that holds our package (sys.path[0]: the course root, or a
    checkout with tests): only the package folder itself, and the virtual environment."""
    package = Path(__file__).resolve().parents[2]  # .../autograder
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix)}
    expose = [p for p in sys.path if p and os.path.isdir(p)
              and (not Path(p).resolve().is_relative_to(package.parent)
                   or any(Path(p).resolve().is_relative_to(x) for x in prefixes))]
    return (*expose, str(package), *map(str, prefixes))


PREPARED = False  # torch imported on one thread and warmed up, in this process (prepare)
PREPARED_ENV: dict[str, str] = {}  # the environment variables prepare() set
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def prepare() -> None:
    """What every zygote needs before its probes: torch, on one thread, warmed up (about 3 s).
    A lane's fork server does it once (sandbox/inside/preload.py), and each lane's zygote is then
    forked from that state (sandbox/host/launcher.fork_ahead) instead of booting its own interpreter."""
    global PREPARED
    if PREPARED:
        return
    before = dict(os.environ)
    # One thread before any op: GNU OpenMP hangs children forked after a multi-threaded op.
    for var in THREAD_VARS:
        os.environ[var] = "1"
    # torch names (and makes) its caches in the temporary folder: the system's, as for a zygote
    # started afresh (whose environment has no TMPDIR), never the grader's own scratch.
    temporary = {k: os.environ.pop(k) for k in ("TMPDIR", "TEMP", "TMP") if k in os.environ}
    tempfile.tempdir = None
    try:
        import torch

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        from autograder.sandbox.inside import confine, worker  # noqa: F401 - imported once, before any fork
        from autograder.sandbox.inside.probekit import warm_up

        warm_up()
    finally:
        os.environ.update(temporary)
        tempfile.tempdir = None
    # What this set (and torch, at import): a zygote forked from here keeps it beside _ENV_KEEP.
    PREPARED_ENV.update({k: v for k, v in os.environ.items() if before.get(k) != v or k in THREAD_VARS})
    PREPARED = True


def main(ctl_fd: int, probe_paths: list[str]) -> None:
    """A zygote in an interpreter of its own (python -I, launcher.Zygote.start)."""
    prepare()
    serve(socket.socket(fileno=ctl_fd), probe_paths)


def forked_main(ctl_fd: int, err_fd: int, env: dict[str, str], path: list[str]) -> None:
    """A zygote forked from a prepared lane before the lane read anything of the course
    (launcher.fork_ahead): made to look like a fresh `python -I` one (no file descriptor but its
    control socket and a pipe for errors, the same environment and import path, its own session),
    then it waits for its probe files on the control socket and serves. It never returns."""
    code = 0
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(err_fd, 2)
        # Everything else the lane holds (its pool's pipes to the coordinator above all) is closed.
        for fd in [int(name) for name in os.listdir("/proc/self/fd")]:
            if fd > 2 and fd != ctl_fd:
                try:
                    os.close(fd)
                except OSError:
                    pass
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(env)
        sys.path[:] = path
        os.chdir(tempfile.gettempdir())
        ctl = socket.socket(fileno=ctl_fd)
        first = ctl.recv(1 << 16)
        if first:  # nothing: the lane went away before it knew its probes
            serve(ctl, json.loads(first))
    except BaseException:  # noqa: BLE001 - said on the error pipe, which the lane reads as a failed start
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        code = 1
    finally:
        os._exit(code)


def serve(ctl: socket.socket, probe_paths: list[str]) -> None:
    """Load the probes, say Ready, and fork a worker per Spawn until the control socket closes."""
    from autograder.sandbox import capabilities
    from autograder.sandbox.inside import confine, worker

    probes = _load_probes(probe_paths)
    caps = capabilities.probe()
    expose = _expose()
    gc.collect()
    gc.freeze()  # children inherit torch's objects; freezing spares them scanning those pages
    _send(ctl, Ready(sorted(probes), caps.to_dict()))

    released: set[int] = set()
    while True:
        for pid in list(released):  # keepers closed without waiting; collect the finished ones
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    released.discard(pid)
            except ChildProcessError:
                released.discard(pid)
        try:
            data, fds, _flags, _addr = socket.recv_fds(ctl, 1 << 16, 1)
        except (ConnectionError, OSError):
            return
        if not data:
            return  # the trusted side closed the control socket: we are done
        message = protocol.control_from_wire(json.loads(data))
        if isinstance(message, Spawn):
            spec = dataclasses.replace(message.spec, expose=expose)
            report_r, report_w = os.pipe()
            keeper = os.fork()
            if keeper == 0:
                ctl.close()
                os.close(report_r)
                fd = fds[0]
                confine.launch(caps, spec, report_w,
                               lambda scratch: worker.run(fd, probes, dataclasses.replace(spec, scratch=scratch)))
            os.close(fds[0])
            os.close(report_w)
            with os.fdopen(report_r, "rb") as report:
                pid = int(report.read() or b"0")
            _send(ctl, Spawned(pid, keeper))
        elif isinstance(message, Release):
            released.add(message.pid)
        elif isinstance(message, Reap):
            try:
                _, status = os.waitpid(message.pid, 0)
            except ChildProcessError:
                _send(ctl, Reaped(message.pid, None, None))
                continue
            _send(ctl, Reaped(message.pid, os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                              os.WTERMSIG(status) if os.WIFSIGNALED(status) else None))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:])
