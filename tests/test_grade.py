"""make grade end to end: the bundled examples, the reports, and a class that survives anything."""
import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import csv
import json
import shutil

import pytest

from autograder.coordinator.grade import grade
from autograder.results import Status, SubmissionResult

EXPECTED = {  # the bundled Day 41 examples and what each must get
    "alice": lambda r: r["score"] == r["max_score"],                       # complete and correct
    "bob": lambda r: 0 < r["score"] < r["max_score"],                       # no 1/sqrt(d_k): shapes right
    "carol": lambda r: r["score"] == 0,                                     # the unmodified release
    "dave": lambda r: r["score"] == 0 and "not valid notebook JSON" in r["load_error"],  # broken JSON
}
GRADESCOPE_TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from tests.conftest import copy_course
    from autograder.config import load

    cfg = load(copy_course(tmp_path_factory.mktemp("course")))
    grade(cfg, quiet=True)  # every assignment
    return cfg


def report(cfg, student, assignment="day41_transformer"):
    return json.loads((cfg.root / "grades" / assignment / "reports" / f"{student}.json").read_text())


@pytest.mark.slow
def test_day42_examples_and_a_column_per_assignment(graded):
    """Are the Day 42 examples graded too, and does grades.csv hold one column per assignment?"""
    alice, bob, carol = (report(graded, s, "day42_attention") for s in ("alice", "bob", "carol"))
    assert alice["score"] == alice["max_score"] > 0
    assert 0 < bob["score"] < bob["max_score"]
    assert carol["score"] == 0
    with (graded.root / "grades" / "grades.csv").open() as f:
        header = next(csv.reader(f))
    assert header[:3] == ["student_id", "day41_transformer", "day42_attention"]


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_bundled_examples_get_their_expected_scores(graded, student):
    """Does each bundled example get the score it should?"""
    r = report(graded, student)
    assert EXPECTED[student](r), (r["score"], r["max_score"], r["load_error"])


@pytest.mark.slow
def test_bob_keeps_shape_points_and_loses_value_points(graded):
    """Does a bug that keeps shapes right keep the shape family and lose the values family?"""
    r = report(graded, "bob")
    by_family = {}
    for t in r["tests"]:
        by_family.setdefault(t["family"], []).append(t)
    assert all(t["score"] == t["max_score"] for t in by_family["shape"])
    assert any(t["score"] < t["max_score"] for t in by_family["values"])


@pytest.mark.slow
def test_report_has_the_gradescope_form_and_the_details(graded):
    """Does each report carry score, max_score and tests[] in Gradescope's form, plus our details?"""
    r = report(graded, "alice")
    assert r["score"] == sum(t["score"] for t in r["tests"])
    assert r["max_score"] == sum(t["max_score"] for t in r["tests"])
    assert all(GRADESCOPE_TEST_KEYS <= set(t) for t in r["tests"])
    assert {t["status"] for t in r["tests"]} <= {s.value for s in Status}
    assert r["isolation"] and r["timings"]["total_s"] > 0 and "load_issues" in r
    assert r["pytest_json_report"]["summary"]["passed"] == len(r["tests"])


@pytest.mark.slow
def test_scores_csv_and_class_grades(graded):
    """Does scores.csv have a row per student with a column per test family, and grades.csv a column per assignment?"""
    with (graded.root / "grades" / "day41_transformer" / "scores.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [row["student_id"] for row in rows] == sorted(EXPECTED)
    header = list(rows[0])
    assert header[0] == "student_id" and header[-3:] == ["score", "max_score", "percent"]
    assert {"shape", "softmax", "gradient", "speed", "values", "integration"} <= set(header)
    alice = next(row for row in rows if row["student_id"] == "alice")
    # every hidden test's point; her code-quality item, graded by hand, is pending and counts nothing yet
    assert float(alice["auto_score"]) == float(alice["max_score"]) - float(alice["manual_max"]) > 0
    assert alice["manual_status"].startswith("pending") and alice["score"] == alice["auto_score"]
    with (graded.root / "grades" / "grades.csv").open() as f:
        class_rows = list(csv.DictReader(f))
    assert "day41_transformer" in class_rows[0]
    assert {row["student_id"] for row in class_rows} == set(EXPECTED)  # dave has only Day 41


@pytest.mark.slow
def test_feedback_helps_and_leaks_nothing(graded):
    """Does feedback show each test's question and status, without hidden test source or values?"""
    hidden = graded.source_dir / "day41_transformer" / "hidden"
    secret_lines = {l.strip() for p in hidden.glob("*.py") for l in p.read_text().splitlines() if len(l.strip()) > 30}
    for student in EXPECTED:
        html = (graded.root / "grades" / "day41_transformer" / "feedback" / f"{student}.html").read_text()
        assert "tensor(" not in html and "seed=" not in html
        assert not [l for l in secret_lines if l in html]
    bob = (graded.root / "grades" / "day41_transformer" / "feedback" / "bob.html").read_text()
    assert "differs from the reference: largest error" in bob
    assert "Does attention return (..., T_q, d_v) outputs" in bob
    carol = (graded.root / "grades" / "day41_transformer" / "feedback" / "carol.html").read_text()
    assert "NotImplementedError" in carol


@pytest.mark.slow
def test_regrade_reuses_unchanged_and_replaces_the_rest(graded):
    """Does a second run reuse unchanged reports, regrade a changed notebook, and list a student who
    withdrew their submission (the gradebook knows them) at 0 with "no submission"?"""
    out = graded.root / "grades" / "day41_transformer"
    before = {s: report(graded, s) for s in EXPECTED}
    shutil.copy(graded.root / "submitted" / "alice" / "day41_transformer" / "transformer.ipynb",
                graded.root / "submitted" / "carol" / "day41_transformer" / "transformer.ipynb")
    shutil.rmtree(graded.root / "submitted" / "dave")
    grade(graded, "day41_transformer", quiet=True)
    assert report(graded, "alice") == before["alice"]  # reused: byte-identical, timings included
    assert report(graded, "carol")["score"] == before["alice"]["score"]
    dave = report(graded, "dave")
    assert dave["score"] == 0 and dave["load_error"].startswith("no submission found")
    assert not [p for p in out.rglob(".*") if p not in (out / ".reference", out / ".state.json")]  # no temporary files left
    grade(graded, "day41_transformer", force=True, quiet=True)
    assert report(graded, "alice")["timings"] != before["alice"]["timings"]  # --force regraded it


def test_grade_with_no_submissions_is_refused(course):
    """With no submissions at all, is grading refused (nothing written) rather than a class of zeros?
    (tests/test_instructor_safety.py runs this and the other refusals as an instructor would.)"""
    from autograder.config import CourseError

    shutil.rmtree(course.submitted_dir)
    with pytest.raises(CourseError, match="the submissions folder does not exist"):
        grade(course, "day41_transformer", quiet=True)
    assert not (course.root / "grades").exists()


class FlakyLanes(cf.Executor):
    """An executor whose lanes die on chosen students: `deaths[student]` times, then grade."""

    def __init__(self, deaths):
        self.deaths, self.calls = dict(deaths), []

    def submit(self, fn, root, assignment_id, frame, batch):
        future = cf.Future()
        self.calls.append([item.student_id for item in batch])
        for item in batch:
            if self.deaths.get(item.student_id, 0) > 0:
                self.deaths[item.student_id] -= 1
                future.set_exception(BrokenProcessPool("a lane died"))
                return future
        future.set_result([json.dumps(SubmissionResult(i.student_id, assignment_id, i.notebook,
                                                       fingerprint=i.fingerprint).to_dict()) for i in batch])
        return future


def test_a_dying_lane_is_retried_and_a_repeat_killer_is_crashed(course, tmp_path):
    """When a lane dies mid-batch, are its submissions retried, and one that kills lanes twice CRASHED?"""
    from autograder.assignment import load_assignment
    from autograder.coordinator.pool import run_lanes
    from autograder.results import Submission

    a = load_assignment(course, "day41_transformer")
    nb = tmp_path / "transformer.ipynb"
    nb.write_text("{}")
    todo = [Submission(s, a.id, nb.name, nb.read_bytes(), s) for s in ("ann", "ben", "kim", "zed")]
    lanes = FlakyLanes({"ben": 1, "kim": 5})
    got = {}
    run_lanes(course, a.id, todo, b"", lambda: lanes, lambda r: got.setdefault(r.student_id, r),
              batch_size=2, executor=lanes)
    assert sorted(got) == ["ann", "ben", "kim", "zed"]
    assert got["ben"].load_error is None and got["ann"].load_error is None
    assert "died twice" in got["kim"].load_error and got["kim"].tests[0].status is Status.CRASHED
    assert lanes.calls[0] == ["ann", "ben"] and ["ben"] in lanes.calls  # retried alone
