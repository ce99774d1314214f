"""One pytest session per lane: the hidden tests are collected once and run once per submission.

Starting pytest (configuration, plugin registration, collection) costs about as much as a
submission's assertions. A lane therefore keeps one session open in a thread of its own, whose
`pytest_runtestloop` waits for submissions instead of running the collected items once:

    lane thread                         session thread (pytest.main, for the lane's life)
    run(code, reference, settings) ---> queue ---> every item through pytest's own runtest
                                                   protocol, the last with nextitem=None, so
    <--- outcomes + json report  <----------------  every fixture is torn down between students

Per submission the judge plugin gets fresh handles and an empty score sheet, pytest-json-report
makes a fresh report, and the terminal's statistics are dropped, so memory stays flat in N
(the two calls without a public API are in judge/pytest_adapter.py).
"""
from __future__ import annotations

import contextlib
import io
import os
import queue
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autograder.config import CourseError
from autograder.judge.plugin import JudgePlugin
from autograder.judge.pytest_adapter import SubmissionReport, forget_test_reports
from autograder.results import Status, TestOutcome

_STOP = None


class SessionError(RuntimeError):
    """The hidden tests could not run at all (a collection error, a broken conftest): the
    instructor's problem, never a student's."""


class HiddenTestsError(SessionError, CourseError):
    """The hidden tests do not collect: one line per problem, naming the file and line."""


def one_line(text: str, folder: Path) -> str:
    """`file:line: the exception` from a traceback's text: the last place in `folder`, the last error line."""
    places = re.findall(r'File "([^"]+\.py)", line (\d+)|(\S+\.py):(\d+)', text)
    where = [(a or c, b or d) for a, b, c, d in places if str(folder) in (a or c) or not Path(a or c).is_absolute()]
    errors = [line.strip().removeprefix("E").strip() for line in text.splitlines()
              if line.startswith("E ") or re.match(r"^\w*(Error|Exception)\b", line.strip())]
    error = errors[-1] if errors else (text.strip().splitlines() or ["(no message)"])[-1].strip()
    if not where:
        return error
    path, line = where[-1]
    if not Path(path).is_absolute():  # pytest writes paths relative to where it was started
        tried = [Path(os.path.normpath(base / path)) for base in (folder, Path.cwd())]
        path = next((p for p in tried if p.is_file()), tried[0])
    return f"{path}:{line}: {error}"


@dataclass
class _Job:
    submission: object
    reference: object
    settings: object
    fail_fast: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    outcomes: dict[str, TestOutcome] = field(default_factory=dict)
    report: dict | None = None
    error: BaseException | None = None


class HiddenTestSession:
    """The hidden tests of one assignment, collected once, run on request."""

    def __init__(self, hidden: Path):
        self.hidden = Path(hidden)
        self.judge = JudgePlugin()
        self.output = io.StringIO()
        self._jobs: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._failure = ""
        self._authoring: list[str] = []  # one line per hidden test file that does not collect, or test without points
        self._seconds: dict[str, float] = {}  # node id -> how long the test last took, to run cheap ones first
        self._thread = threading.Thread(target=self._serve, name=f"pytest {self.hidden}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._authoring:
            raise HiddenTestsError("\n".join(dict.fromkeys(self._authoring)))
        if self._failure:
            raise SessionError(self._failure)

    # -- the lane's side ---------------------------------------------------------------------

    def run(self, submission, reference, settings, fail_fast: bool = False) -> tuple[dict[str, TestOutcome], dict]:
        """Run every hidden test against these handles; (outcomes by node id, pytest-json-report).
        With fail_fast, the tests after the first that loses points are skipped and not reported
        (make check's mutants: whether a mutant is caught, and by which test, is all that counts)."""
        job = _Job(submission, reference, settings, fail_fast)
        if not self._thread.is_alive():
            raise SessionError(self._failure or f"{self.hidden}: the hidden tests' session has ended")
        self._jobs.put(job)
        while not job.done.wait(1.0):
            if not self._thread.is_alive() and not job.done.is_set():
                raise SessionError(self._failure or f"{self.hidden}: the hidden tests' session ended mid-run")
        if job.error is not None:
            raise job.error
        return job.outcomes, job.report

    def close(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join(timeout=10)

    # -- the session thread ------------------------------------------------------------------

    def _serve(self) -> None:
        args = [str(self.hidden), "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                "-p", "no:unraisableexception", "-p", "no:threadexception", "-p", "no:faulthandler",
                "-p", "no:logging", "-p", "no:doctest", "--tb=native", "--capture=no",
                "--rootdir", str(self.hidden), "-c", os.devnull,
                "--import-mode=importlib", "--json-report-file=none", "--json-report-omit=collectors",
                "-W", "ignore::DeprecationWarning"]
        # Hidden test files of two assignments share names (test_shape.py ...); a module another
        # assignment's session imported in this process must not stand in for ours at collection.
        for name, module in list(sys.modules.items()):
            origin = Path(getattr(module, "__file__", None) or "/")
            if origin.parent.name == "hidden" and origin.parent != self.hidden:
                del sys.modules[name]
        # pytest's terminal writes to what sys.stdout is while it configures: our buffer. The
        # process's own streams come back once the tests are collected (pytest_runtestloop).
        self._streams = sys.stdout, sys.stderr
        try:
            sys.stdout = sys.stderr = self.output
            exit_code = pytest.main(args, plugins=[self, self.judge])
            if not self._failure and exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED,
                                                       pytest.ExitCode.NO_TESTS_COLLECTED):
                self._failure = self._describe(f"pytest exit code {int(exit_code)}")
        except BaseException as exc:  # noqa: BLE001 - whatever ended the session, the lane must hear of it
            self._failure = self._failure or self._describe(f"{type(exc).__name__}: {exc}")
        finally:
            sys.stdout, sys.stderr = self._streams
            self._ready.set()
            while True:  # nobody may wait for a session that is gone
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not _STOP:
                    job.error = SessionError(self._failure or f"{self.hidden}: the hidden tests' session ended")
                    job.done.set()

    def _describe(self, what: str) -> str:
        return (f"{self.hidden}: the hidden tests could not run ({what}):\n"
                f"{self.output.getvalue()[-3000:]}")

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self._authoring.append(one_line(str(report.longreprtext), self.hidden))

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items) -> None:
        """Every hidden test needs @points(n): all the tests without, one line each, before anything runs."""
        from autograder.judge.plugin import without_points

        self._authoring += without_points(items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session) -> bool:
        if session.testsfailed or self._authoring:  # collection errors: as pytest itself, refuse to run anything
            raise session.Interrupted(f"{session.testsfailed or len(self._authoring)} error(s) while collecting "
                                      "the hidden tests")
        sys.stdout, sys.stderr = self._streams
        self._ready.set()
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return True
            try:
                job.outcomes, job.report = self._run_one(session, job)
            except BaseException as exc:  # noqa: BLE001 - a grader bug costs this submission, not the lane
                job.error = exc
            finally:
                job.done.set()

    def _run_one(self, session, job: _Job) -> tuple[dict[str, TestOutcome], dict]:
        self.output.seek(0)
        self.output.truncate()
        forget_test_reports(session)
        self.judge.begin(job.submission, job.reference, job.settings, job.fail_fast)
        json_report = SubmissionReport(session)
        items = session.items
        if job.fail_fast:  # the cheapest tests first: a mutant is usually caught long before the speed tests
            items = sorted(items, key=lambda item: self._seconds.get(item.nodeid, 0.0))
        # While the tests run the lane thread only waits: what they print goes to the buffer.
        with contextlib.redirect_stdout(self.output), contextlib.redirect_stderr(self.output):
            for i, item in enumerate(items):
                nextitem = items[i + 1] if i + 1 < len(items) else None  # None: tear every fixture down
                item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        outcomes = dict(self.judge.outcomes)
        self._seconds.update({name: o.duration_s for name, o in outcomes.items()})
        return outcomes, json_report.finish(any(t.status is not Status.PASSED for t in outcomes.values()))
