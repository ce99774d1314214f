"""The two things the lane's long pytest session needs that pytest and pytest-json-report offer
no public call for, in one place. tests/test_pytest_adapter.py fails loudly when an upgrade of
either changes what this relies on.

1. A pytest-json-report report per submission: a fresh `JSONReport` plugin is registered for
   each submission (pluginmanager.register is public, and pytest replays `pytest_configure` for
   a plugin registered late) and its session hooks are called by hand, because the session itself
   never starts or finishes between submissions.
2. Memory that stays flat: the terminal reporter keeps every test report of the session in
   `stats`; it is emptied between submissions.
"""
from __future__ import annotations

import pytest
from pytest_jsonreport.plugin import JSONReport


class AdapterError(RuntimeError):
    """pytest or pytest-json-report no longer offers what this module relies on."""


def _need(obj, name: str, what: str):
    if not hasattr(obj, name):
        raise AdapterError(f"{what} has no {name!r}: pytest {pytest.__version__} or pytest-json-report changed; "
                           "see autograder/judge/pytest_adapter.py")
    return getattr(obj, name)


class _OneSubmission(JSONReport):
    """JSONReport, registered once per submission: its hook specifications are added once."""

    def pytest_addhooks(self, pluginmanager):
        if not hasattr(pluginmanager.hook, "pytest_json_modifyreport"):
            super().pytest_addhooks(pluginmanager)


class SubmissionReport:
    """pytest-json-report's report of one submission's run of the session's items."""

    def __init__(self, session):
        self.session = session
        self.plugin = _OneSubmission(session.config)
        session.config.pluginmanager.register(self.plugin, name=f"json-report-{id(self.plugin)}")
        _need(self.plugin, "pytest_sessionstart", "JSONReport")(session)

    def finish(self, failed: bool) -> dict:
        self.session.exitstatus = pytest.ExitCode.TESTS_FAILED if failed else pytest.ExitCode.OK
        try:
            _need(self.plugin, "pytest_sessionfinish", "JSONReport")(self.session)
            report = _need(self.plugin, "report", "JSONReport")
        finally:
            self.session.config.pluginmanager.unregister(self.plugin)
        if not isinstance(report, dict) or "tests" not in report:
            raise AdapterError("pytest-json-report built no report with 'tests'; see autograder/judge/pytest_adapter.py")
        return report


def forget_test_reports(session) -> None:
    """Drop what the terminal reporter gathered about earlier submissions."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        stats = _need(reporter, "stats", "pytest's terminal reporter")
        if not isinstance(stats, dict):
            raise AdapterError("pytest's terminal reporter keeps its stats in something other than a dict")
        stats.clear()
