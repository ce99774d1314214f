"""The pytest plugin that turns hidden tests into scored outcomes, in the trusted process.

Hidden tests ask for the `submission` and `reference` fixtures (sandboxed code handles),
`settings` (the assignment's grading settings) and `source` (what the submission's source shows:
judge/source.SourceFacts), declare points with `@points(n)`, and may set
`@visibility("hidden" | "after_due_date" | "visible")`. A test covered by a structural rule the
source breaks (hidden/grading.toml, [[rules]]) does not run: it is FORBIDDEN, naming the line.
"""
from __future__ import annotations

import inspect
import time
from pathlib import Path

import pytest

from autograder.judge import expect, verdict
from autograder.judge.verdict import ProbeFailure
from autograder.results import Status, TestOutcome

points = pytest.mark.points
visibility = pytest.mark.visibility
FAIL_FAST = "an earlier test already lost points"


def family_of(nodeid: str) -> str:
    """'test_softmax.py::test_x' -> 'softmax': the hidden test file names the family."""
    stem = Path(nodeid.split("::", 1)[0]).stem
    return stem.removeprefix("test_")


def max_points(item) -> float:
    marker = item.get_closest_marker("points")
    if marker is None or not marker.args or not isinstance(marker.args[0], (int, float)) or marker.args[0] < 0:
        raise pytest.UsageError(without_points([item])[0])
    return float(marker.args[0])


def without_points(items) -> list[str]:
    """One line per hidden test without a valid @points(n): file, line and name."""
    out = []
    for item in items:
        marker = item.get_closest_marker("points")
        if marker is None or not marker.args or not isinstance(marker.args[0], (int, float)) or marker.args[0] < 0:
            line = (item.location[1] or 0) + 1
            out.append(f"{item.path}:{line}: {item.name} has no @points(n); every hidden test needs one "
                       "(from autograder.judge import points)")
    return out


class JudgePlugin:
    """Registered once per pytest session; `begin` hands it each submission in turn."""

    def __init__(self, submission=None, reference=None, settings=None):
        self.begin(submission, reference, settings)

    def begin(self, submission, reference, settings, fail_fast: bool = False) -> None:
        # Underscored: pytest would take attributes named like the fixtures for fixtures.
        self._submission, self._reference, self._settings = submission, reference, settings
        self._fail_fast = fail_fast
        self.outcomes: dict[str, TestOutcome] = {}
        self._started: dict[str, float] = {}

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "points(n): points this hidden test is worth")
        config.addinivalue_line("markers", "visibility(v): hidden, after_due_date or visible")

    @pytest.fixture
    def submission(self):
        return self._submission

    @pytest.fixture
    def reference(self):
        return self._reference

    @pytest.fixture
    def source(self):
        return getattr(self._submission, "source", None)

    @pytest.fixture
    def settings(self):
        return self._settings

    def pytest_collection_modifyitems(self, items):
        for item in items:
            max_points(item)  # fail the whole run early if a test has no points

    def pytest_runtest_setup(self, item):
        self._started[item.nodeid] = time.perf_counter()
        expect.NOTES.clear()
        if self._fail_fast and any(o.score < o.max_score for o in self.outcomes.values()):
            pytest.skip(FAIL_FAST)
        facts = getattr(self._submission, "source", None)
        if facts is None:
            return
        broken = facts.violations_for(item.nodeid)
        if broken:
            raise ProbeFailure(verdict.forbidden(broken))
        hidden = facts.unverifiable_for(item.nodeid)
        if hidden:
            raise ProbeFailure(verdict.rule_hidden(*hidden[0]))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._record(item, report, call)

    def _record(self, item, report, call) -> None:
        most = max_points(item)
        if report.passed:
            v = verdict.passed("; ".join(expect.NOTES))
        elif report.skipped and self._fail_fast:
            return  # not run: an earlier test already lost points
        elif report.skipped:
            v = verdict.skipped()
        else:
            v = verdict.test_failure(call.excinfo.value)
        marker = item.get_closest_marker("visibility")
        doc = inspect.getdoc(getattr(item, "function", None)) or ""
        self.outcomes[item.nodeid] = TestOutcome(
            name=item.nodeid, family=family_of(item.nodeid),
            score=most if v.status is Status.PASSED else 0.0, max_score=most, status=v.status,
            output=v.message, description=doc.splitlines()[0] if doc else "",
            visibility=marker.args[0] if marker and marker.args else "visible",
            duration_s=round(time.perf_counter() - self._started.get(item.nodeid, time.perf_counter()), 4))
