"""What a hidden test holds: a handle that runs probes in a sandboxed worker and returns plain data.

`submission.probe(...)` and `reference.probe(...)` look the same to a test. The submission's
worker is restarted after a death (the next test gets a fresh one) until the crash budget is
spent; the reference's results are cached for the whole run.
"""
from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field

from autograder.sandbox.launcher import Worker, WorkerGone, WorkerTimeout, Zygote


class ProbeFailure(Exception):
    """Base of the outcomes a probe can have other than an answer; `status` is the verdict."""
    status = "ERROR"


class StudentError(ProbeFailure):
    """The student's code raised inside a probe."""
    status = "ERROR"

    def __init__(self, info: dict):
        self.type = str(info.get("type", "Exception"))
        self.message = str(info.get("message", ""))
        self.contract = bool(info.get("contract", False))
        self.frames = info.get("frames") or []
        if self.type == "MemoryError" or "can't allocate memory" in self.message:
            self.status = "MEMORY"  # the address-space limit turned a huge allocation into an error
        super().__init__(self.feedback())

    def feedback(self) -> str:
        if self.contract:
            return f"Your code does not follow the assignment's contract: {self.message}"
        text = f"Your code raised {self.type}" + (f": {self.message}" if self.message else "")
        if self.type == "NotImplementedError":
            text += " (this part is not implemented yet)"
        if self.status == "MEMORY":
            text += " (over the memory limit for your code)"
        frames = [f for f in self.frames if isinstance(f, dict)]
        # Where the call entered the student's code, and where it failed (often different cells).
        for f in (frames[:1] + frames[-1:] if len(frames) > 1 else frames):
            text += f"\n  in {f.get('where')}, line {f.get('line')}, in {f.get('function')}: {f.get('code')}"
        return text


class ProbeTimeout(ProbeFailure):
    status = "TIMEOUT"


class WorkerDied(ProbeFailure):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


class SandboxedCode:
    """One notebook's code, loaded in a worker forked from the zygote on first use."""

    def __init__(self, zygote: Zygote, cells: list[dict], spec: dict, settings):
        self.zygote, self.cells, self.spec, self.settings = zygote, cells, spec, settings
        self.worker: Worker | None = None
        self.deaths = 0        # crashes, for the crash budget
        self.timeouts = 0
        self.created = time.monotonic()
        self.budget_s: float | None = settings.submission_timeout_s  # the reference has none
        self.load_issues: list[dict] | None = None  # from the first load
        self.load_seconds = 0.0
        self.last_death: tuple[str, str] | None = None
        self.fatal: tuple[str, str] | None = None  # a load that failed: every test gets this
        self.compute_s = 0.0  # seconds the probes computed inside the warm worker

    # -- worker lifecycle ---------------------------------------------------------------------
    def _ensure_worker(self) -> Worker:
        if self.worker is not None:
            return self.worker
        if self.fatal is not None:
            raise WorkerDied(*self.fatal)
        if self.budget_s is not None and time.monotonic() - self.created > self.budget_s:
            raise WorkerDied("TIMEOUT", f"not run: this submission used up its "
                                        f"{self.settings.submission_timeout_s:g} s of grading time")
        if self.deaths >= self.settings.max_worker_deaths:
            _, reason = self.last_death or ("CRASHED", "")
            raise WorkerDied("CRASHED", f"not run: the worker running your code died "
                                        f"{self.deaths} times (last: {reason})")
        started = time.monotonic()
        worker = self.zygote.spawn(self.spec)
        try:
            reply = worker.request({"cells": self.cells, "cell_timeout_s": self.settings.cell_timeout_s},
                                   timeout_s=self.settings.load_timeout_s)
        except WorkerTimeout:
            # Loading is deterministic: a notebook that cannot load once never will; fail fast.
            self.fatal = ("TIMEOUT", f"not run: loading your notebook took longer than "
                                     f"{self.settings.load_timeout_s:g} s")
            self._died(*self.fatal)
        except WorkerGone as exc:
            self.fatal = (exc.status, f"not run: the worker died while loading your notebook: {exc.reason}")
            self._died(*self.fatal)
        self.load_seconds += time.monotonic() - started
        if not isinstance(reply, dict) or reply.get("loaded") is not True:
            worker.kill()
            self._died("CRASHED", "the worker sent a malformed answer while loading your notebook")
        if self.load_issues is None:
            self.load_issues = [i for i in reply.get("issues", []) if isinstance(i, dict)][:200]
        self.worker = worker
        return worker

    def _died(self, status: str, reason: str):
        self.worker = None
        # Timeouts do not spend the crash budget: a hanging attention function must not cost the
        # tests that never call it (they are cheap to run); they shorten the next limits instead.
        if status == "TIMEOUT":
            self.timeouts += 1
        else:
            self.deaths += 1
        self.last_death = (status, reason)
        raise WorkerDied(status, reason)

    def load(self) -> None:
        """Load now (not lazily), so load issues are known even if no test asks for a probe."""
        try:
            self._ensure_worker()
        except ProbeFailure:
            pass

    def close(self) -> None:
        if self.worker is not None:
            self.worker.kill(wait=False)
            self.worker = None

    # -- probes -------------------------------------------------------------------------------
    def probe(self, name: str, **args):
        """Run probe `name` with `args` in the worker; return its result as plain data."""
        return self._call(name, args)[0]

    def _call(self, name: str, args: dict):
        worker = self._ensure_worker()
        started = time.perf_counter()
        limit = self.settings.probe_timeout_s
        if self.timeouts:  # this code has hung before: later probes get a shorter leash
            limit = min(limit, self.settings.probe_timeout_after_timeout_s)
        try:
            reply = worker.request({"probe": name, "args": args}, timeout_s=limit)
        except WorkerTimeout:
            self._died("TIMEOUT", f"your code did not finish within {limit:g} s")
        except WorkerGone as exc:
            self._died(exc.status, exc.reason)
        elapsed = time.perf_counter() - started
        if not isinstance(reply, dict) or not (set(reply) == {"ok", "s"} or set(reply) == {"error"}):
            worker.kill()
            self._died("CRASHED", "the worker sent an answer that is not a probe result")
        if "error" in reply:
            raise StudentError(reply["error"] if isinstance(reply["error"], dict) else {})
        if type(reply["s"]) is float and 0 <= reply["s"] <= elapsed:
            self.compute_s += reply["s"]  # for the benchmark's overhead figure only; never graded
        return reply["ok"], elapsed

    def timed(self, name: str, **args) -> float:
        """Wall-clock seconds of one probe call, measured here, outside the worker's reach."""
        return self._call(name, args)[1]


class Reference(SandboxedCode):
    """The reference solution, in the same kind of worker; results cached per run."""

    def __init__(self, *a, cache: dict | None = None, **kw):
        super().__init__(*a, **kw)
        self.cache: dict[str, object] = cache if cache is not None else {}
        self.budget_s = None  # it serves every submission of the run
        self.recorded: dict[str, object] = {}

    @staticmethod
    def key(name: str, args: dict) -> str | None:
        try:
            return json.dumps([name, args], sort_keys=True)
        except TypeError:
            return None  # tensor arguments: not cacheable

    def probe(self, name: str, **args):
        key = self.key(name, args)
        if key is not None and key in self.cache:
            return self.cache[key]
        value = super().probe(name, **args)
        if key is not None:
            self.cache[key] = self.recorded[key] = value
        return value


def compare_speed(submission: SandboxedCode, reference: SandboxedCode, name: str,
                  repeats: int = 5, confirm_above: float | None = None, **args) -> tuple[float, Timing, Timing]:
    """Interleaved timing: (ratio of medians, student's timing, reference's timing).

    Both run the same probe with the same arguments, alternately, after one warm-up each, so
    machine noise hits both sides alike. The clock is ours; the student's code cannot touch it.
    A submission already 20x slower on the first pair is not timed again: the verdict is clear,
    and a slow submission should not cost the whole class its grading time. A ratio above
    `confirm_above` is measured once more and the better of the two counts: a burst of load on a
    shared machine must not cost a student points.
    """
    submission.timed(name, **args)
    reference.timed(name, **args)
    best = None
    for _ in range(2 if confirm_above is not None else 1):
        mine, theirs = Timing(), Timing()
        for i in range(repeats):
            mine.seconds.append(submission.timed(name, **args))
            theirs.seconds.append(reference.timed(name, **args))
            if i == 0 and mine.seconds[0] > 20 * theirs.seconds[0]:
                return mine.median / max(theirs.median, 1e-9), mine, theirs
        ratio = mine.median / max(theirs.median, 1e-9)
        if best is None or ratio < best[0]:
            best = (ratio, mine, theirs)
        if confirm_above is None or ratio <= confirm_above:
            break
    return best
