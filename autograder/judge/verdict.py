"""Where a test's status is decided: the one place, for every way a test can end.

A hidden test ends in one of these ways, and each has its function here:
  - it passed, or an assertion failed (`test_failure`);
  - the student's code raised inside a probe (`student_error`), broke the assignment's contract,
    or ran out of memory while allocating;
  - the worker ended: killed by a limit, exited, or broke the protocol (`worker_gone`);
  - it ran past its time (`probe_timeout`, `load_timeout`, `submission_budget`);
  - the crash budget was spent (`crash_budget`);
  - the notebook could not be read (`unreadable`), or a rule read from its source forbids it
    (`forbidden`);
  - the grading lane itself died or the grader broke (`lane_lost`, `grader_failed`).
Messages are for the student (never hidden inputs or reference values); the instructor reads the
same words in the report.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass

from autograder.results import Status, Submission, SubmissionResult, TestOutcome


@dataclass(frozen=True)
class Verdict:
    status: Status
    message: str


class ProbeFailure(Exception):
    """A probe that ended without an answer; `verdict` says how the test ends."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.message)
        self.verdict = verdict

    @property
    def status(self) -> Status:
        return self.verdict.status


class StudentError(ProbeFailure):
    """The student's code raised inside a probe."""

    def __init__(self, info: dict):
        self.type = str(info.get("type", "Exception"))
        self.message = str(info.get("message", ""))
        self.contract = bool(info.get("contract", False))
        self.frames = [f for f in (info.get("frames") or []) if isinstance(f, dict)]
        super().__init__(student_error(self.type, self.message, self.contract, self.frames))


# What the feedback pictures stop asking for after: each would cost a timeout or a fresh worker.
GIVE_UP = frozenset({Status.TIMEOUT, Status.CRASHED, Status.MEMORY, Status.OUTPUT_LIMIT, Status.FORBIDDEN})


# -- the student's code -------------------------------------------------------------------------

def student_error(type_: str, message: str, contract: bool, frames: list[dict]) -> Verdict:
    if contract:
        return Verdict(Status.ERROR, f"Your code does not follow the assignment's contract: {message}")
    # The address-space limit turns a huge allocation into an exception the student could see.
    memory = type_ == "MemoryError" or "can't allocate memory" in message
    text = f"Your code raised {type_}" + (f": {message}" if message else "")
    if type_ == "NotImplementedError":
        text += " (this part is not implemented yet)"
    if memory:
        text += " (over the memory limit for your code)"
    # Where the call entered the student's code, and where it failed (often different cells).
    for f in (frames[:1] + frames[-1:] if len(frames) > 1 else frames):
        text += f"\n  in {f.get('where')}, line {f.get('line')}, in {f.get('function')}: {f.get('code')}"
    return Verdict(Status.MEMORY if memory else Status.ERROR, text)


def worker_gone(exit, garbage: str = "") -> Verdict:
    """A worker that is gone: `exit` is its ExitInfo (sandbox/host/launcher.py), None when it
    was killed for sending `garbage` instead of an answer."""
    if exit is None:
        return Verdict(Status.CRASHED, f"the worker sent a malformed answer: {garbage}" if garbage
                       else "the worker running your code is gone")
    if exit.memory:
        return Verdict(Status.MEMORY, "your code used more memory than its limit and was stopped")
    if exit.sandbox_failed:
        return Verdict(Status.CRASHED, "the sandbox could not be set up for your code "
                                       "(a grader problem: tell your instructor)")
    if exit.signal == signal.SIGXFSZ:
        return Verdict(Status.OUTPUT_LIMIT, "your code printed or wrote more than the output limit")
    if exit.signal == signal.SIGXCPU:
        return Verdict(Status.TIMEOUT, "your code used more CPU time than its limit")
    if exit.signal is not None:
        return Verdict(Status.CRASHED, f"the worker running your code was killed by signal {exit.signal}")
    if exit.exit == 0:
        return Verdict(Status.CRASHED, "your code exited the worker (os._exit or similar) before answering")
    return Verdict(Status.CRASHED, f"the worker running your code exited with status {exit.exit}")


def while_loading(v: Verdict) -> Verdict:
    return Verdict(v.status, f"not run: the worker died while loading your notebook: {v.message}")


def probe_timeout(limit_s: float) -> Verdict:
    return Verdict(Status.TIMEOUT, f"your code did not finish within {limit_s:g} s")


def load_timeout(limit_s: float) -> Verdict:
    return Verdict(Status.TIMEOUT, f"not run: loading your notebook took longer than {limit_s:g} s")


def submission_budget(limit_s: float) -> Verdict:
    return Verdict(Status.TIMEOUT, f"not run: this submission used up its {limit_s:g} s of grading time")


def crash_budget(deaths: int, last: Verdict | None) -> Verdict:
    return Verdict(Status.CRASHED, f"not run: the worker running your code died {deaths} times "
                                   f"(last: {last.message if last else ''})")


def sandbox_refused(reason: str) -> Verdict:
    return Verdict(Status.CRASHED, f"the sandbox could not start a worker for your code ({reason}); "
                                   "a grader problem: tell your instructor")


# -- the notebook ---------------------------------------------------------------------------------

def unreadable(message: str) -> Verdict:
    return Verdict(Status.LOAD_ERROR, message)


def not_run(v: Verdict) -> Verdict:
    """The same verdict for a test that never ran because of it."""
    return Verdict(v.status, v.message if v.message.startswith("not run") else f"not run: {v.message}")


def forbidden(violations) -> Verdict:
    """A structural rule of the assignment, broken where the source shows it (judge/source.py)."""
    return Verdict(Status.FORBIDDEN, "not allowed here: " + "; ".join(v.describe() for v in violations[:3]))


def rule_hidden(rule, flag) -> Verdict:
    """A structural rule the source makes impossible to check, by building names at run time."""
    return Verdict(Status.FAILED, f"this check cannot be verified: {flag.describe()}; that hides whether your "
                                  f"code uses what rule {rule.name!r} forbids ({rule.why or ', '.join(rule.forbid)}). "
                                  "Write the names out")


def unverified(reason: str, what: str) -> Verdict:
    return Verdict(Status.FAILED, f"this check could not be verified: {reason}, so your answers must be the "
                                  f"reference's, and {what} is not")


# -- the test itself ------------------------------------------------------------------------------

def passed(note: str = "") -> Verdict:
    return Verdict(Status.PASSED, note)


def skipped() -> Verdict:
    return Verdict(Status.GRADER_ERROR, "this test was skipped; tell your instructor")


def test_failure(exc: BaseException) -> Verdict:
    """A test that raised: a probe's ending, a failed check, or the grader's own bug."""
    from autograder.judge.expect import Feedback  # here: the coordinator uses this module without torch

    if isinstance(exc, ProbeFailure):
        return exc.verdict
    if isinstance(exc, Feedback):
        return Verdict(Status.FAILED, str(exc))
    if isinstance(exc, AssertionError):
        # pytest's rewritten asserts append the compared values ("assert tensor(...) == ..."),
        # which may be reference values: keep only the author's own message.
        text = str(exc).split("\nassert ", 1)[0]
        return Verdict(Status.FAILED, "" if text.startswith("assert ") else text)
    return grader_failed(f"the grader could not check this ({type(exc).__name__})")


# -- the lane -------------------------------------------------------------------------------------

def lane_lost() -> Verdict:
    return Verdict(Status.CRASHED, "the grading lane died twice while grading this submission")


def grader_failed(what: str) -> Verdict:
    return Verdict(Status.GRADER_ERROR, f"{what}; this is not your fault, tell your instructor")


# -- a submission grading never reached the tests of ------------------------------------------------

PLACEHOLDER = "grading"  # the one test such a result carries, saying why


def not_graded(s: Submission, v: Verdict) -> SubmissionResult:
    """The result of a submission no test ran for; `every_test` later lists each hidden test."""
    result = SubmissionResult(s.student_id, s.assignment_id, s.notebook, load_error=v.message)
    result.tests = [TestOutcome(name=PLACEHOLDER, family="grading", score=0.0, max_score=0.0,
                                status=v.status, output=v.message)]
    return result


def every_test(result: SubmissionResult, template: SubmissionResult) -> SubmissionResult:
    """A submission that never reached the tests still lists every hidden test, at 0 points, with
    its placeholder's verdict, or LOAD_ERROR when nothing else was said (the notebook could not be read)."""
    placeholder = [t for t in result.tests if t.name == PLACEHOLDER]
    if not placeholder and (result.tests or result.load_error is None):
        return result
    status = placeholder[0].status if placeholder else Status.LOAD_ERROR
    reason = not_run(Verdict(status, result.load_error or "not run")).message
    result.tests = [TestOutcome(name=t.name, family=t.family, score=0.0, max_score=t.max_score, status=status,
                                output=reason, description=t.description, visibility=t.visibility)
                    for t in template.tests]
    return result
