"""The untrusted worker: after the fork it locks itself down, loads one submission, serves probes.

Everything it says goes through the wire format; the judge decides what any of it is worth.
"""
from __future__ import annotations

import os
import socket
import time

from autograder import wire
from autograder.sandbox import limits
from autograder.sandbox.loader import describe, load_cells
from autograder.sandbox.probekit import ContractError


def serve(sock: socket.socket, probes: dict, spec: dict) -> None:
    limits.apply(spec)
    request = wire.recv(sock)
    module, issues = load_cells(request["cells"], request["cell_timeout_s"])
    wire.send(sock, {"loaded": True, "issues": issues})
    while True:
        try:
            request = wire.recv(sock)
        except EOFError:
            return
        name, args = request.get("probe"), request.get("args") or {}
        fn = probes.get(name)
        if fn is None:
            wire.send(sock, {"error": {"type": "GraderError", "message": f"no probe named {name!r}",
                                       "frames": [], "contract": False}})
            continue
        started = time.perf_counter()
        try:
            # "s": how long the probe computed, as the worker saw it; only benchmarks read it.
            reply = {"ok": fn(module, **args), "s": time.perf_counter() - started}
        except ContractError as exc:
            reply = {"error": {**describe(exc), "contract": True}}
        except BaseException as exc:  # SystemExit from student code lands here too
            reply = {"error": {**describe(exc), "contract": False}}
        try:
            wire.send(sock, reply)
        except (TypeError, ValueError, RecursionError) as exc:
            wire.send(sock, {"error": {"type": "WireError", "frames": [], "contract": False,
                                       "message": f"the result could not be sent: {exc}"[:300]}})


def run(fd: int, probes: dict, spec: dict) -> None:
    """Entry point in the forked child; never returns."""
    code = 0
    try:
        serve(socket.socket(fileno=fd), probes, spec)
    except BaseException:
        code = 70
    finally:
        os._exit(code)
