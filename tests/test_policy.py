"""Policies in one place (coordinator/policy.py): extensions, attempts, the counted attempt, and
visibility, as the batch run, the service and the exports apply them."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from autograder.assignment import load_assignment
from autograder.config import ConfigError, CourseError, PolicySettings, load
from autograder.coordinator import policy, report
from autograder.coordinator.export import gradescope_results
from autograder.results import Status, SubmissionResult, TestOutcome

A = "day41_transformer"
UTC = dt.timezone.utc
DUE = dt.datetime(2026, 11, 28, 23, 59, tzinfo=UTC)


def result(student="alice", penalty=0.0) -> SubmissionResult:
    tests = [TestOutcome("test_shape.py::test_a", "shape", 2.0, 2.0, Status.PASSED, "", "Is the shape right?"),
             TestOutcome("test_speed.py::test_fast", "speed", 1.0, 1.0, Status.PASSED, "", "Is it fast enough?"),
             TestOutcome("test_values.py::test_secret", "values", 0.0, 1.0, Status.FAILED, "off by 1e-3",
                         "Is the secret value right?", visibility="hidden")]
    return SubmissionResult(student, A, "transformer.ipynb", tests=tests, penalty=penalty,
                            figures=[{"title": "attention", "png_b64": ""}])


def test_extensions_give_a_students_own_due_date_and_attempts(course):
    """Does extensions.csv move one student's due date (per assignment, or "*" for all) and add
    attempts, leaving everyone else on the course's DUE?"""
    (course.root / "extensions.csv").write_text("student_id,assignment,due,extra_attempts\n"
                                                f"alice,{A},2026-12-05 12:00:00 UTC,\nbob,*,,2\n")
    assert policy.due_date(course, A, "alice") == dt.datetime(2026, 12, 5, 12, tzinfo=UTC)
    assert policy.due_date(course, A, "carol") == DUE
    assert policy.extension(course, "day42_attention", "bob").extra_attempts == 2
    late = policy.stamp_late(course, A, result("alice"), dt.datetime(2026, 12, 1, tzinfo=UTC))
    assert late.late_by_s == 0 and late.penalty == 0
    carol = policy.stamp_late(course, A, result("carol"), dt.datetime(2026, 12, 1, tzinfo=UTC))
    assert carol.late_by_s > 0 and carol.penalty > 0


def test_a_bad_extensions_row_names_the_file_and_line(course):
    """Is an unreadable date an error naming extensions.csv and its line?"""
    (course.root / "extensions.csv").write_text("student_id,assignment,due\nalice,x,2026-12-01\nbob,x,next week\n")
    with pytest.raises(CourseError, match=r"extensions.csv, line 3"):
        policy.extensions(course)


def test_attempt_limits_total_per_day_and_extra(course):
    """With 3 in total and 2 a day, is a third attempt today refused, the total refused after 3,
    and are 2 extra attempts from an extension added to both limits?"""
    a = dataclasses.replace(load_assignment(course, A), policy=PolicySettings(max_attempts=3, max_attempts_per_day=2))
    now = dt.datetime(2026, 11, 20, 15, tzinfo=UTC)
    yesterday, today = now - dt.timedelta(days=1), now - dt.timedelta(hours=1)
    assert policy.attempts(course, a, "bob", [today], now).refusal() is None
    assert "today" in policy.attempts(course, a, "bob", [today, today], now).refusal()
    used = policy.attempts(course, a, "bob", [yesterday, yesterday, today], now)
    assert "all 3 attempts" in used.refusal() and used.left == 0
    (course.root / "extensions.csv").write_text("student_id,assignment,due,extra_attempts\nbob,*,,2\n")
    more = policy.attempts(course, a, "bob", [yesterday, yesterday, today], now)
    assert more.refusal() is None and more.left == 2 and (more.limit, more.limit_per_day) == (5, 4)


def test_the_counted_attempt_is_the_last_or_the_best():
    """Does "last" pick the newest attempt and "best" the highest score (the latest of equals)?"""
    assert policy.counted_index(PolicySettings(counted="last"), [5, 9, 7]) == 2
    assert policy.counted_index(PolicySettings(counted="best"), [5, 9, 7, 9]) == 3
    assert policy.counted_index(PolicySettings(), []) is None


def test_after_due_date_tests_are_withheld_before_the_due_date_and_hidden_ones_always():
    """Before the due date, does a student see only visible tests and a score over them (the late
    penalty in proportion), with the others counted as withheld; after it, everything but hidden?"""
    rules = PolicySettings(visibility={"speed": "after_due_date", "figures": "after_due_date"})
    r = result(penalty=1.5)  # raw 3.0: half of it taken
    before = policy.student_view(rules, r, DUE, DUE - dt.timedelta(hours=1))
    assert [t.name for t in before.result.tests] == ["test_shape.py::test_a"]
    assert before.withheld == 2 and not before.complete and before.result.figures == []
    assert (before.result.raw_score, before.result.score, before.result.max_score) == (2.0, 1.0, 2.0)
    after = policy.student_view(rules, r, DUE, DUE + dt.timedelta(seconds=1))
    assert [t.family for t in after.result.tests] == ["shape", "speed"] and after.withheld == 1 and after.figures
    assert r.tests[2].name not in [t.name for t in after.result.tests]
    by_name = PolicySettings(visibility={"test_shape.py::test_a": "hidden"})
    assert policy.visibility(by_name, "test_shape.py::test_a", "shape") == "hidden"


def test_batch_feedback_and_gradescope_export_honour_the_policy():
    """Does a feedback page rendered from the student's view leave out withheld tests' questions,
    and does the Gradescope export mark each test with the policy's visibility?"""
    rules = PolicySettings(visibility={"speed": "after_due_date"})
    r = result()
    page = report.render_feedback(r, None, policy.student_view(rules, r, DUE, DUE - dt.timedelta(days=1)))
    assert "Is the shape right?" in page and "Is it fast enough?" not in page and "Is the secret value" not in page
    assert "2 hidden tests checked" in page
    full = report.render_feedback(r)
    assert "Is it fast enough?" in full
    tests = {t["name"]: t["visibility"] for t in gradescope_results(r, rules)["tests"]}
    assert tests == {"test_shape.py::test_a": "visible", "test_speed.py::test_fast": "after_due_date",
                     "test_values.py::test_secret": "hidden"}


def test_the_batch_counts_the_best_attempt_the_service_graded(course):
    """With counted = "best", does the batch record an earlier attempt that scored more (under
    the same hidden tests) instead of the newest notebook, and ignore one graded under other tests?"""
    a = dataclasses.replace(load_assignment(course, A), policy=PolicySettings(counted="best"))
    newest = result("alice")
    newest.tests[0] = dataclasses.replace(newest.tests[0], score=0.0, status=Status.FAILED)
    newest.submitted_at = "2026-11-20T10:00:00+00:00"
    earlier = result("alice")
    earlier.submitted_at = "2026-11-19T10:00:00+00:00"
    policy.write_attempt(course, "a" * 32, "grader-1", earlier)
    stale = result("alice")
    stale.tests[2] = dataclasses.replace(stale.tests[2], score=1.0, status=Status.PASSED)
    policy.write_attempt(course, "b" * 32, "grader-0", stale)
    counted = policy.counted(course, a, newest, "grader-1")
    assert counted.raw_score == 3.0 and counted.submitted_at.startswith("2026-11-19")
    last = dataclasses.replace(a, policy=PolicySettings(counted="last"))
    assert policy.counted(course, last, newest, "grader-1") is newest


def test_policy_settings_are_checked_like_the_rest_of_the_config(tmp_path, course):
    """Are an unknown POLICY or SERVICE key, a visibility that is not one of the three, and a
    [policy] table in grading.toml with a bad key all errors naming the file and the key?"""
    for text, match in (('POLICY = {"max_attempt": 3}', "max_attempt"), ('SERVICE = {"prot": 1}', "prot"),
                        ('POLICY = {"visibility": {"speed": "later"}}', "speed"),
                        ('POLICY = {"counted": "first"}', "counted")):
        (tmp_path / "course_config.py").write_text(f'COURSE_ID = "x"\n{text}\n')
        with pytest.raises(ConfigError, match=match):
            load(tmp_path)
    toml = course.source_dir / A / "hidden" / "grading.toml"
    toml.write_text(toml.read_text() + '\n[policy]\nmax_attempts = 2\ncounted = "best"\n'
                    'visibility = { speed = "after_due_date" }\n')
    a = load_assignment(course, A)
    assert (a.policy.max_attempts, a.policy.counted, a.policy.visibility) == (2, "best", {"speed": "after_due_date"})
    toml.write_text(toml.read_text() + "maximum = 1\n")
    with pytest.raises(CourseError, match="maximum"):
        load_assignment(course, A)
