"""The untrusted worker: after the fork it locks itself down, loads one submission, serves probes.

Everything it says goes through the wire format as protocol messages; the judge decides what
any of it is worth.
"""
from __future__ import annotations

import os
import socket
import time

from autograder import wire
from autograder.sandbox.inside import limits
from autograder.sandbox.inside.loader import describe, load_cells
from autograder.sandbox.inside.probekit import ContractError
from autograder.sandbox.protocol import Answer, Call, Load, Loaded, Raised, WorkerSpec, request_from_wire


def serve(sock: socket.socket, probes: dict, spec: WorkerSpec) -> None:
    limits.apply(spec)
    load = request_from_wire(wire.recv(sock))
    if not isinstance(load, Load):
        return
    module, issues = load_cells(load.cells, load.cell_timeout_s)
    wire.send(sock, Loaded(issues).to_wire())
    while True:
        try:
            call = request_from_wire(wire.recv(sock))
        except EOFError:
            return
        if not isinstance(call, Call):
            return
        fn = probes.get(call.probe)
        if fn is None:
            wire.send(sock, Raised({"type": "GraderError", "message": f"no probe named {call.probe!r}",
                                    "frames": [], "contract": False}).to_wire())
            continue
        started = time.perf_counter()
        try:
            reply = Answer(fn(module, **call.args), time.perf_counter() - started)
        except ContractError as exc:
            reply = Raised({**describe(exc), "contract": True})
        except BaseException as exc:  # SystemExit from student code lands here too
            reply = Raised({**describe(exc), "contract": False})
        try:
            wire.send(sock, reply.to_wire())
        except (TypeError, ValueError, RecursionError) as exc:
            wire.send(sock, Raised({"type": "WireError", "frames": [], "contract": False,
                                    "message": f"the result could not be sent: {exc}"[:300]}).to_wire())


def run(fd: int, probes: dict, spec: WorkerSpec) -> None:
    """Entry point in the forked child; never returns."""
    code = 0
    try:
        serve(socket.socket(fileno=fd), probes, spec)
    except BaseException:
        code = 70
    finally:
        os._exit(code)
