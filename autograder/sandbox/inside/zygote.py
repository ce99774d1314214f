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
import socket
import sys
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


def main(ctl_fd: int, probe_paths: list[str]) -> None:
    # One thread before any op: GNU OpenMP hangs children forked after a multi-threaded op.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    from autograder.sandbox import capabilities
    from autograder.sandbox.inside import confine, worker
    from autograder.sandbox.inside.probekit import warm_up

    ctl = socket.socket(fileno=ctl_fd)
    probes = _load_probes(probe_paths)
    warm_up()
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
