"""The lane's long pytest session (autograder/judge/session.py): collected once, run per submission."""
import textwrap
from types import SimpleNamespace

import pytest

from autograder.config import CourseError
from autograder.judge.session import HiddenTestsError, HiddenTestSession, SessionError
from autograder.results import Status
from tests.conftest import REPO

HIDDEN = '''
import pytest

built = []


@pytest.fixture(scope="module")
def table():
    built.append("open")
    yield {}
    built.append("closed")


@pytest.fixture
def model(submission, table):
    table.setdefault("seen", []).append(submission.name)
    return submission


@pytest.mark.points(2)
def test_uses_this_submission(model, submission, table):
    """Is the fixture the current submission's, and the module's table fresh for it?"""
    assert model is submission and table["seen"] == [submission.name], "stale fixture"


@pytest.mark.points(1)
def test_answer(submission, reference, settings):
    """Is the answer the reference's?"""
    assert submission.answer == reference.answer, f"wrong answer ({settings.label})"
'''


def _hidden(tmp_path, source):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_things.py").write_text(textwrap.dedent(source))
    return hidden


@pytest.fixture
def session(tmp_path):
    s = HiddenTestSession(_hidden(tmp_path, HIDDEN))
    yield s
    s.close()


def test_each_submission_gets_its_own_fixtures_outcomes_and_report(session):
    """Run one after another, does each submission get fixtures built for it, its own outcomes and
    a pytest-json-report report of its own tests only?"""
    reference, settings = SimpleNamespace(answer=42), SimpleNamespace(label="x")
    runs = [session.run(SimpleNamespace(name=name, answer=answer), reference, settings)
            for name, answer in (("ann", 42), ("ben", 7), ("cat", 42))]
    statuses = [{name.split("::")[1]: o.status for name, o in outcomes.items()} for outcomes, _ in runs]
    assert statuses[0] == statuses[2] == {"test_uses_this_submission": Status.PASSED, "test_answer": Status.PASSED}
    assert statuses[1] == {"test_uses_this_submission": Status.PASSED, "test_answer": Status.FAILED}
    assert runs[1][0]["test_things.py::test_answer"].output == "wrong answer (x)"
    reports = [report for _, report in runs]
    assert [r["summary"].get("failed", 0) for r in reports] == [0, 1, 0]
    assert all(r["summary"]["total"] == 2 and len(r["tests"]) == 2 for r in reports)
    assert [r["exitcode"] for r in reports] == [0, 1, 0]


def test_fixtures_are_torn_down_between_submissions(session):
    """Is every fixture of one submission closed before the next submission's are built?"""
    import sys

    reference, settings = SimpleNamespace(answer=1), SimpleNamespace(label="x")
    for name in ("ann", "ben"):
        session.run(SimpleNamespace(name=name, answer=1), reference, settings)
    module = next(m for n, m in sys.modules.items() if n.endswith("test_things") and hasattr(m, "built"))
    assert module.built == ["open", "closed", "open", "closed"]


def test_hidden_tests_that_do_not_collect_stop_the_session_naming_the_file(tmp_path):
    """Does a hidden test file with a syntax error raise SessionError naming the file, at once?"""
    with pytest.raises(SessionError, match=r"test_things\.py"):
        HiddenTestSession(_hidden(tmp_path, "def broken(:\n    pass\n"))


def test_a_closed_session_refuses_work_instead_of_hanging(session):
    """After close, does run() raise SessionError rather than wait forever?"""
    session.close()
    with pytest.raises(SessionError):
        session.run(SimpleNamespace(name="ann", answer=1), SimpleNamespace(answer=1), SimpleNamespace(label="x"))


def test_authoring_mistakes_in_hidden_tests_are_one_line_each(tmp_path):
    """Are a hidden test file that does not import, one that does not parse and tests without @points each reported
    on one line with the file and line, all at once and before anything runs?"""
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_a.py").write_text("from autograder.judge import points, seedd\n")
    (hidden / "test_b.py").write_text("def test_b(submission):\n    pass\n\n\ndef test_c(submission):\n    pass\n")
    (hidden / "test_c.py").write_text("x = 1\ndef broken(:\n    pass\n")
    with pytest.raises(HiddenTestsError) as caught:
        HiddenTestSession(hidden)
    assert isinstance(caught.value, CourseError)  # the CLI prints it as it is, without a traceback
    assert sorted(str(caught.value).splitlines()) == [
        f"{hidden}/test_a.py:1: ImportError: cannot import name 'seedd' from 'autograder.judge' "
        f"({REPO}/autograder/judge/__init__.py)",
        f"{hidden}/test_b.py:1: test_b has no @points(n); every hidden test needs one (from autograder.judge import points)",
        f"{hidden}/test_b.py:5: test_c has no @points(n); every hidden test needs one (from autograder.judge import points)",
        f"{hidden}/test_c.py:2: SyntaxError: invalid syntax"]
