"""What a hidden test holds: a handle that runs probes in a sandboxed worker and returns plain data.

`submission.probe(...)` and `reference.probe(...)` look the same to a test. The submission's
worker is restarted after a death (the next test gets a fresh one) until the crash budget is
spent; the reference's results are cached for the whole run. Every way a probe can end other
than with an answer is a ProbeFailure carrying its verdict (judge/verdict.py).

Code whose source reaches into the grader (judge/source.py flags it) gets no point on its word:
each of its answers must also be the reference's for the same call, or the test fails as
unverified (`against`).
"""
from __future__ import annotations

import json
import time

from autograder.judge import generic, verdict
from autograder.judge.expect import differences
from autograder.judge.verdict import ProbeFailure, StudentError, Verdict
from autograder.sandbox.host.launcher import Worker, WorkerGone, WorkerTimeout, Zygote
from autograder.sandbox.protocol import GENERIC_CALL, Raised, WorkerSpec
from autograder.wire import Invalid


class SandboxedCode:
    """One notebook's code (its cells to run), loaded in a worker forked from the zygote on first use."""

    def __init__(self, zygote: Zygote | None, cells: list[dict], spec: WorkerSpec | None, settings,
                 budget_s: float | None = -1.0):
        self.zygote, self.cells, self.spec, self.settings = zygote, cells, spec, settings
        self.worker: Worker | None = None
        self.deaths = 0        # crashes, for the crash budget
        self.timeouts = 0
        self.created = time.monotonic()
        # All of this submission's grading time; the reference's handle has none.
        self.budget_s = settings.submission_timeout_s if budget_s == -1.0 else budget_s
        self.load_issues: list | None = None  # from the first load
        self.last_death: Verdict | None = None
        self.fatal: Verdict | None = None  # a load that failed: every test gets this
        self.compute_s = 0.0  # seconds the probes computed inside the warm worker (benchmark only)
        self.source = None    # what its source shows (judge/source.SourceFacts), set by the lane
        self.against: Reference | None = None  # flagged code: every answer re-checked against this
        self._twin: SandboxedCode | None = None  # a fresh worker of the same code, for re-checks

    @classmethod
    def unreadable(cls, settings, message: str) -> "SandboxedCode":
        """A notebook that could not be read: no worker, every probe ends LOAD_ERROR."""
        code = cls(None, [], None, settings)
        code.fatal = verdict.not_run(verdict.unreadable(message))
        return code

    # -- worker lifecycle ---------------------------------------------------------------------
    def _ensure_worker(self) -> Worker:
        if self.worker is not None:
            return self.worker
        if self.fatal is not None:
            raise ProbeFailure(self.fatal)
        if self.budget_s is not None and time.monotonic() - self.created > self.budget_s:
            raise ProbeFailure(verdict.submission_budget(self.settings.submission_timeout_s))
        if self.deaths >= self.settings.max_worker_deaths:
            raise ProbeFailure(verdict.crash_budget(self.deaths, self.last_death))
        try:
            worker = self.zygote.spawn(self.spec)
        except RuntimeError as exc:
            self._died(verdict.sandbox_refused(str(exc)[:200]))
        try:
            loaded = worker.load(self.cells, self.settings.cell_timeout_s, timeout_s=self.settings.load_timeout_s)
        except WorkerTimeout:
            # Loading is deterministic: a notebook that cannot load once never will; fail fast.
            self.fatal = verdict.load_timeout(self.settings.load_timeout_s)
            self._died(self.fatal)
        except WorkerGone as exc:
            self.fatal = verdict.while_loading(verdict.worker_gone(exc.exit, exc.garbage))
            self._died(self.fatal)
        if self.load_issues is None:
            self.load_issues = loaded.issues
        self.worker = worker
        return worker

    def _died(self, v: Verdict):
        self.worker = None
        # Timeouts do not spend the crash budget: a hanging attention function must not cost the
        # tests that never call it (they are cheap to run); they shorten the next limits instead.
        if v.status.value == "TIMEOUT":
            self.timeouts += 1
        else:
            self.deaths += 1
        self.last_death = v
        raise ProbeFailure(v)

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
        if self._twin is not None:
            self._twin.close()
            self._twin = None

    # -- probes -------------------------------------------------------------------------------
    def probe(self, name: str, **args):
        """Run probe `name` with `args` in the worker; return its result as plain data."""
        value = self._call(name, args, cpu=False)[0]
        if self.against is not None:
            wrong = differences(value, self.against.probe(name, **args))
            if wrong:
                raise ProbeFailure(verdict.unverified(self.unverifiable_reason(), wrong))
        return value

    def call(self, target, *args, **kwargs):
        """What `target` returns for these arguments, as plain data: target is the name of a function
        the notebook defines, or generic.module(...); seeded(...) arguments are drawn in the worker."""
        return self._generic(target, args, kwargs, grads=False)["output"]

    def gradients(self, target, *args, **kwargs) -> dict:
        """{"output", "grads", and for a module "param_grads"}: a backward pass of a seeded upstream
        gradient through the output; "grads" by argument ("args[0]", or the keyword), None where
        no gradient arrived."""
        return self._generic(target, args, kwargs, grads=True)

    def _generic(self, target, args, kwargs, grads: bool) -> dict:
        answer = self.probe(GENERIC_CALL, **generic.request(target, args, kwargs, grads))
        if not isinstance(answer, dict) or "output" not in answer:
            return {"output": Invalid("the call's answer is not the grader's"), "grads": {}, "param_grads": {}}
        return answer

    def unverifiable_reason(self) -> str:
        """Why this code's answers must be the reference's to count ("" when they need not be)."""
        flags = self.source.flags if self.source is not None else []
        if not flags:
            return ""
        more = f" and {len(flags) - 1} more place{'s' if len(flags) > 2 else ''}" if len(flags) > 1 else ""
        return f"your notebook reaches into the grader ({flags[0].place.where()}: {flags[0].what}{more})"

    def recheck(self, name: str, **args):
        """The same probe in a fresh worker of the same code (nothing it did before carries over)."""
        if self._twin is None:
            self._twin = SandboxedCode(self.zygote, self.cells, self.spec, self.settings, budget_s=None)
        try:
            return self._twin.probe(name, **args)
        except ProbeFailure:
            return None

    def timed_answer(self, name: str, **args):
        """(seconds of one probe call, measured here outside the worker's reach, its answer). The
        seconds are the CPU time of the worker's process tree where the sandbox has a cpuacct
        cgroup (immune to load from other processes), else wall-clock time."""
        value, wall, cpu = self._call(name, args)
        return (wall if cpu is None else cpu), value

    def _call(self, name: str, args: dict, cpu: bool = True):
        """(the answer, wall-clock seconds, CPU seconds of the worker tree or None); cpu=False:
        the worker's CPU time is not read (two file reads a call, for a call that is not timed)."""
        worker = self._ensure_worker()
        limit = self.settings.probe_timeout_s
        if self.timeouts:  # this code has hung before: later probes get a shorter leash
            limit = min(limit, self.settings.probe_timeout_after_timeout_s)
        cpu_before = worker.cpu_seconds() if cpu else None
        started = time.perf_counter()
        try:
            reply = worker.call(name, args, timeout_s=limit)
        except WorkerTimeout:
            self._died(verdict.probe_timeout(limit))
        except WorkerGone as exc:
            self._died(verdict.worker_gone(exc.exit, exc.garbage))
        elapsed = time.perf_counter() - started
        cpu_after = worker.cpu_seconds() if cpu_before is not None else None
        cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
        if isinstance(reply, Raised):
            raise StudentError(reply.error)
        if 0 <= reply.seconds <= elapsed:
            self.compute_s += reply.seconds  # for the benchmark's overhead figure only; never graded
        return reply.value, elapsed, cpu

    def pin(self, cpus: set[int] | None) -> None:
        """Keep this code's worker on `cpus` (None: anywhere again); see timing.same_cpu. A worker
        started later (after a crash) runs anywhere."""
        worker = self._ensure_worker() if cpus is not None else self.worker
        if worker is not None:
            worker.pin(cpus)

    def timed(self, name: str, **args) -> float:
        """Seconds of one probe call, as timed_answer measures them."""
        return self.timed_answer(name, **args)[0]

    def wall_timed_answer(self, name: str, **args):
        """(wall-clock seconds of one probe call, measured here, its answer): for a bound on wall time."""
        value, wall, _ = self._call(name, args, cpu=False)
        return wall, value


class Reference(SandboxedCode):
    """The reference solution, in the same kind of worker; results cached per run."""

    def __init__(self, zygote: Zygote, cells: list[dict], spec: WorkerSpec, settings):
        super().__init__(zygote, cells, spec, settings, budget_s=None)  # it serves every submission of the run
        self.cache: dict[str, object] = {}
        self.calibration: dict = {}  # timed probe -> timing.Calibration, once per lane

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
            self.cache[key] = value
        return value
