"""The fork server: imports torch and the assignment's probes once, then forks one worker per
submission on request. It never runs student code itself; only its children do, after fork.

Protocol, over a SOCK_SEQPACKET control socket (one JSON message per packet):
  <- {"ready": true, "probes": [...]}                 once imports are done
  -> {"cmd": "spawn", "spec": {...}} + one fd          fork a keeper, which forks a sandboxed
  <- {"pid": W, "keeper": K}                           worker serving on that fd (see isolation)
  -> {"cmd": "reap", "pid": K}                         wait for a keeper once its worker is gone
  <- {"pid": K, "exit": code | null, "signal": sig | null}
  -> {"cmd": "release", "pid": K}                      (no answer) reap it whenever it is done:
                                                       nobody needs the status of a worker closed
                                                       after its last test
"""
from __future__ import annotations

import gc
import importlib.util
import json
import os
import socket
import sys
from pathlib import Path


def _load_probes(paths: list[str]) -> dict:
    from autograder.sandbox import probekit

    for i, path in enumerate(paths):
        spec = importlib.util.spec_from_file_location(f"probes_{i}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return dict(probekit.PROBES)


def _send(ctl: socket.socket, message: dict) -> None:
    ctl.send(json.dumps(message).encode())


def main(ctl_fd: int, probe_paths: list[str]) -> None:
    # One thread before any op: GNU OpenMP hangs children forked after a multi-threaded op.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401  (warm import)

    from autograder.sandbox import isolation, worker

    ctl = socket.socket(fileno=ctl_fd)
    probes = _load_probes(probe_paths)
    from autograder.sandbox.probekit import warm_up

    warm_up()
    caps = isolation.probe()
    # What a sandboxed worker must still be able to read: the interpreter and its packages.
    # Nothing else of the project that holds our package (sys.path[0]: the course root, or a
    # checkout with tests): only the package folder itself, and the virtual environment.
    package = Path(isolation.__file__).resolve().parent.parent  # .../autograder
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix)}
    expose = [p for p in sys.path if p and os.path.isdir(p)
              and (not Path(p).resolve().is_relative_to(package.parent)
                   or any(Path(p).resolve().is_relative_to(x) for x in prefixes))]
    expose += [str(package), *map(str, prefixes)]
    gc.collect()
    gc.freeze()  # children inherit torch's objects; freezing spares them scanning those pages
    _send(ctl, {"ready": True, "probes": sorted(probes), "isolation": caps.to_dict()})

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
        message = json.loads(data)
        if message["cmd"] == "spawn":
            spec = {**message["spec"], "expose": expose}
            report_r, report_w = os.pipe()
            keeper = os.fork()
            if keeper == 0:
                ctl.close()
                os.close(report_r)
                fd = fds[0]
                isolation.launch(caps, spec, report_w,
                                 lambda scratch: worker.run(fd, probes, {**spec, "scratch": scratch}))
            os.close(fds[0])
            os.close(report_w)
            with os.fdopen(report_r, "rb") as report:
                pid = int(report.read() or b"0")
            _send(ctl, {"pid": pid, "keeper": keeper})
        elif message["cmd"] == "release":
            released.add(message["pid"])
        elif message["cmd"] == "reap":
            pid = message["pid"]
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                _send(ctl, {"pid": pid, "exit": None, "signal": None})
                continue
            _send(ctl, {"pid": pid,
                        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None})


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:])
