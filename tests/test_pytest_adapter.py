"""What the lane's long pytest session relies on that pytest and pytest-json-report do not
promise (autograder/judge/pytest_adapter.py): these fail loudly when an upgrade changes it."""
import inspect
import textwrap
from types import SimpleNamespace

import pytest
from pytest_jsonreport.plugin import JSONReport

from autograder.judge import pytest_adapter
from autograder.judge.session import HiddenTestSession

HIDDEN = '''
import pytest


@pytest.mark.points(1)
def test_one(submission):
    """Is the answer 42?"""
    assert submission.answer == 42, "not 42"


@pytest.mark.points(1)
def test_two(submission):
    """Is the answer even?"""
    assert submission.answer % 2 == 0, "odd"
'''


def test_json_report_still_offers_what_the_adapter_calls():
    """Does pytest-json-report's plugin still have the session hooks and the `report` attribute we call by hand?"""
    for name in ("pytest_sessionstart", "pytest_sessionfinish", "pytest_addhooks"):
        assert callable(getattr(JSONReport, name, None)), name
    assert list(inspect.signature(JSONReport.pytest_sessionfinish).parameters) == ["self", "session"]
    assert JSONReport().report is None  # built by pytest_sessionfinish, read by the adapter


@pytest.fixture
def session(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_answer.py").write_text(textwrap.dedent(HIDDEN))
    s = HiddenTestSession(hidden)
    yield s
    s.close()


def test_each_report_holds_one_submission_and_memory_stays_flat(session, monkeypatch):
    """Over many submissions, does each report list exactly this submission's two tests with their
    outcomes, while the terminal reporter's statistics are emptied between submissions?"""
    sizes = []
    real_forget = pytest_adapter.forget_test_reports

    def forget(pytest_session):
        reporter = pytest_session.config.pluginmanager.get_plugin("terminalreporter")
        sizes.append(sum(len(v) for v in reporter.stats.values()))
        real_forget(pytest_session)
        assert reporter.stats == {}

    monkeypatch.setattr("autograder.judge.session.forget_test_reports", forget)
    for answer in (42, 7, 42, 8, 42, 3):
        outcomes, report = session.run(SimpleNamespace(answer=answer), None, None)
        assert [t["nodeid"].split("::")[1] for t in report["tests"]] == ["test_one", "test_two"]
        assert [t["outcome"] for t in report["tests"]] == [
            "passed" if answer == 42 else "failed", "passed" if answer % 2 == 0 else "failed"]
        assert report["summary"]["total"] == 2
    assert max(sizes[1:]) == sizes[1]  # what one submission adds, never more


def test_a_missing_attribute_is_named(monkeypatch):
    """When a pytest-json-report upgrade drops a hook the adapter calls, is the error explicit?"""
    config = SimpleNamespace(pluginmanager=SimpleNamespace(register=lambda *a, **k: None))
    monkeypatch.delattr(JSONReport, "pytest_sessionstart")
    with pytest.raises(pytest_adapter.AdapterError, match="pytest_sessionstart"):
        pytest_adapter.SubmissionReport(SimpleNamespace(config=config))
