"""What crosses between the two halves of the sandbox, as typed messages.

Two conversations:

  judge (host/launcher.py)  <-- control socket, JSON -->  zygote (inside/zygote.py)
      Spawn(spec) + one fd        ->  Spawned(pid, keeper)     fork a keeper, which forks a sandboxed
                                                               worker serving on that fd (inside/confine.py)
      Reap(pid)                   ->  Reaped(pid, exit, signal)
      Release(pid)                    (no answer: reap it whenever it is done)
      <- Ready(probes, isolation)     once, when the zygote's imports are done

  judge (host/launcher.py)  <-- worker socket, wire frames -->  worker (inside/worker.py)
      Load(cells, cell_timeout_s) ->  Loaded(issues)
      Call(probe, args)           ->  Answer(value, seconds) | Raised(error)

Whatever the worker sends is untrusted: `from_wire` checks every field and raises
ProtocolError for anything that is not exactly one of these messages. The judge decides what
an answer is worth (judge/verdict.py); nothing here judges.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from autograder.results import LoadIssue

# The generic probes every zygote serves (sandbox/inside/generic.py; judge/generic.py builds their
# requests): names no probe function can have, so an assignment's own probes never clash with them.
# generic.cell runs a notebook's visible test cell (make check, on the reference and the release).
GENERIC_CALL, GENERIC_TIMED, GENERIC_CELL = "generic.call", "generic.timed", "generic.cell"

# Keeper exit codes beyond a plain exit status (0..127) and a signal (128 + signal).
EXIT_MEMORY = 200
EXIT_SANDBOX = 201   # a layer the probe promised could not be applied: fail closed
SIGKILL = 9


class ProtocolError(ValueError):
    """The peer sent something that is not a message of this protocol."""


def _fields(cls, raw, kind: str) -> dict:
    if type(raw) is not dict or raw.get("kind") != kind:
        raise ProtocolError(f"expected a {kind} message, got {str(raw)[:80]}")
    names = {f.name for f in dataclasses.fields(cls)}
    if set(raw) - {"kind"} != names:
        raise ProtocolError(f"{kind}: fields {sorted(set(raw) - {'kind'})}, expected {sorted(names)}")
    return {k: raw[k] for k in names}


class _Message:
    kind = ""

    def to_wire(self) -> dict:
        return {"kind": self.kind, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}


# -- the worker's limits ------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkerSpec(_Message):
    """Everything the keeper needs to confine one worker (inside/confine.py)."""
    kind = "spec"
    scratch: str                 # its scratch folder where there is no private filesystem
    cpu_s: int
    max_output_bytes: int
    memory_bytes: int
    max_pids: int
    scratch_bytes: int
    hide: tuple[str, ...] = ()   # folders hidden on top of everything outside the operating system
    expose: tuple[str, ...] = ()  # what the interpreter needs, bound back read-only (set by the zygote)

    @classmethod
    def from_wire(cls, raw) -> "WorkerSpec":
        f = _fields(cls, raw, cls.kind)
        return cls(**{**f, "hide": tuple(map(str, f["hide"])), "expose": tuple(map(str, f["expose"]))})


# -- the zygote's control socket ------------------------------------------------------------------

@dataclass(frozen=True)
class Ready(_Message):
    kind = "ready"
    probes: list
    isolation: dict


@dataclass(frozen=True)
class Spawn(_Message):
    kind = "spawn"
    spec: WorkerSpec

    def to_wire(self) -> dict:
        return {"kind": self.kind, "spec": self.spec.to_wire()}


@dataclass(frozen=True)
class Spawned(_Message):
    kind = "spawned"
    pid: int       # 0: the sandbox refused to start a worker
    keeper: int


@dataclass(frozen=True)
class Reap(_Message):
    kind = "reap"
    pid: int


@dataclass(frozen=True)
class Reaped(_Message):
    kind = "reaped"
    pid: int
    exit: int | None
    signal: int | None


@dataclass(frozen=True)
class Release(_Message):
    kind = "release"
    pid: int


CONTROL = {m.kind: m for m in (Ready, Spawn, Spawned, Reap, Reaped, Release)}


def control_from_wire(raw):
    """A control message (zygote <-> judge; both trusted, so shapes are checked, not distrusted)."""
    cls = CONTROL.get(raw.get("kind") if type(raw) is dict else None)
    if cls is None:
        raise ProtocolError(f"not a control message: {str(raw)[:80]}")
    f = _fields(cls, raw, cls.kind)
    if cls is Spawn:
        f["spec"] = WorkerSpec.from_wire(f["spec"])
    return cls(**f)


# -- the worker's socket ------------------------------------------------------------------------

@dataclass(frozen=True)
class Load(_Message):
    """Run these cells ({number, source, label}, see autograder/cells.py) in a fresh namespace."""
    kind = "load"
    cells: list
    cell_timeout_s: float


@dataclass(frozen=True)
class Loaded(_Message):
    kind = "loaded"
    issues: list     # [LoadIssue]; on the wire [{cell, status, message}]

    def to_wire(self) -> dict:
        return {"kind": self.kind, "issues": [dataclasses.asdict(i) for i in self.issues]}

    @classmethod
    def from_wire(cls, raw, most: int = 200) -> "Loaded":
        f = _fields(cls, raw, cls.kind)
        if type(f["issues"]) is not list:
            raise ProtocolError("loaded: issues must be a list")
        issues = []
        for i in f["issues"][:most]:
            if type(i) is dict:
                cell = i.get("cell")
                issues.append(LoadIssue(cell if type(cell) is int else 0, str(i.get("status", "error"))[:20],
                                            str(i.get("message", ""))[:500]))
        return cls(issues)


@dataclass(frozen=True)
class Call(_Message):
    kind = "call"
    probe: str
    args: dict


@dataclass(frozen=True)
class Answer(_Message):
    kind = "answer"
    value: object
    seconds: float   # how long the probe computed, as the worker saw it: for the benchmark only, never graded


@dataclass(frozen=True)
class Raised(_Message):
    """The probe raised: {type, message, frames, contract}, all as the worker describes them."""
    kind = "raised"
    error: dict


def reply_from_wire(raw) -> Answer | Raised:
    """A probe's reply, or ProtocolError."""
    kind = raw.get("kind") if type(raw) is dict else None
    if kind == Answer.kind:
        f = _fields(Answer, raw, kind)
        return Answer(f["value"], f["seconds"] if type(f["seconds"]) is float else 0.0)
    if kind == Raised.kind:
        f = _fields(Raised, raw, kind)
        return Raised(f["error"] if type(f["error"]) is dict else {})
    raise ProtocolError("not a probe result")


def request_from_wire(raw) -> Load | Call:
    """What the judge asked (read by the worker)."""
    kind = raw.get("kind") if type(raw) is dict else None
    if kind == Load.kind:
        return Load(**_fields(Load, raw, kind))
    if kind == Call.kind:
        return Call(**_fields(Call, raw, kind))
    raise ProtocolError(f"not a request: {str(raw)[:80]}")


def decode_keeper_exit(code: int | None) -> tuple[int | None, int | None, bool, bool]:
    """(exit status, signal, memory exceeded, sandbox failed) from a keeper's exit code."""
    if code is None:
        return None, None, False, False
    if code == EXIT_MEMORY:
        return None, SIGKILL, True, False
    if code == EXIT_SANDBOX:
        return None, None, False, True
    if code > 128:
        return None, code - 128, False, False
    return code, None, False, False
