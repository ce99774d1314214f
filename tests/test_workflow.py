"""Instructor workflow: late policy, nbgrader gradebook, exports and LMS collection."""
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from autograder.coordinator import late
from autograder.coordinator.collect import collect
from autograder.config import LatePolicy
from autograder.coordinator.export import export, gradescope_results
from autograder.coordinator.grade import grade
from autograder.results import Status, SubmissionResult, TestOutcome
from tests.conftest import FILES, REPO, copy_course

HOUR, DAY = 3600.0, 86400.0


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from autograder.config import load

    cfg = load(copy_course(tmp_path_factory.mktemp("course")))
    grade(cfg, "day41_transformer", quiet=True)
    return cfg


def scores_csv(cfg, aid="day41_transformer"):
    with (cfg.root / "grades" / aid / "scores.csv").open() as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("policy,late_by,raw,expected", [
    (LatePolicy("none"), 10 * DAY, 50, 0.0),
    (LatePolicy("zero"), 1.0, 50, 50.0),
    (LatePolicy("zero", grace_minutes=15), 10 * 60, 50, 0.0),
    (LatePolicy("percent_per_day", 10, 50), 1 * HOUR, 50, 5.0),      # a started day counts
    (LatePolicy("percent_per_day", 10, 50), 1 * DAY + 1, 50, 10.0),
    (LatePolicy("percent_per_day", 10, 50), 30 * DAY, 50, 25.0),     # capped at 50%
    (LatePolicy("percent_per_day", 10, 50), 0.0, 50, 0.0),
])
def test_late_penalty(policy, late_by, raw, expected):
    """Does each late policy take off what it says, with grace, started days and the cap?"""
    assert late.penalty(policy, raw, late_by) == expected


def test_submission_time_comes_from_timestamp_txt_then_mtime(tmp_path):
    """Is nbgrader's timestamp.txt used, and the notebook's mtime when there is none?"""
    nb = tmp_path / "transformer.ipynb"
    nb.write_text("{}")
    os.utime(nb, (1_700_000_000, 1_700_000_000))
    assert late.submission_time(tmp_path, nb) == dt.datetime.fromtimestamp(1_700_000_000, dt.timezone.utc)
    (tmp_path / "timestamp.txt").write_text("2026-11-30 09:30:00.000000 UTC\n")
    assert late.submission_time(tmp_path, nb) == dt.datetime(2026, 11, 30, 9, 30, tzinfo=dt.timezone.utc)


@pytest.mark.slow
def test_late_penalty_reaches_report_csv_and_feedback(graded):
    """Is bob's lateness (2 started days, 10%/day) in his report, scores.csv and feedback?"""
    report = json.loads((graded.root / "grades/day41_transformer/reports/bob.json").read_text())
    assert report["late_by_s"] > DAY and report["penalty"] == pytest.approx(0.2 * report["raw_score"])
    assert report["score"] == pytest.approx(report["raw_score"] - report["penalty"])
    row = scores_csv(graded)["bob"]
    assert float(row["late_penalty"]) == report["penalty"] and float(row["score"]) == report["score"]
    feedback = (graded.root / "grades/day41_transformer/feedback/bob.html").read_text()
    assert "hours late" in feedback and f"-{report['penalty']:g} points" in feedback
    assert scores_csv(graded)["alice"]["late_penalty"] == "0"


@pytest.mark.slow
def test_nbgrader_export_lists_the_same_scores(graded, tmp_path):
    """Does `nbgrader export` report the same raw score, penalty and score as scores.csv?"""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = tmp_path / "export.csv"
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "export", f"--to={out}"], cwd=graded.root,
                   env=env, check=True, capture_output=True)
    with out.open() as f:
        exported = {row["student_id"]: row for row in csv.DictReader(f) if row["assignment"] == "day41_transformer"}
    ours = scores_csv(graded)
    assert set(exported) == set(ours)
    for student, row in ours.items():
        assert float(exported[student]["score"]) == pytest.approx(float(row["score"])), student
        assert float(exported[student]["max_score"]) == float(row["max_score"])
        assert float(exported[student]["late_submission_penalty"]) == pytest.approx(float(row["late_penalty"]))


@pytest.mark.slow
def test_regrading_updates_the_gradebook_without_duplicates(graded):
    """After a forced regrade, does the gradebook hold one submission and one grade per test, updated?"""
    from nbgrader.api import Gradebook

    def counts():
        with Gradebook(graded.db_url, course_id=graded.course_id) as gb:
            a = gb.find_assignment("day41_transformer")
            return len(a.submissions), sum(len(nb.grades) for s in a.submissions for nb in s.notebooks)

    before = counts()
    grade(graded, "day41_transformer", force=True, quiet=True)
    assert counts() == before and before[0] == 4


def test_gradebook_schema_version_is_the_one_nbgrader_stamps(tmp_path):
    """Does a gradebook we create carry the alembic head that nbgrader's own `alembic heads` names,
    so that nbgrader's migrations treat it as current?"""
    import sqlite3

    from autograder.config import load
    from autograder.coordinator.gradebook import _open
    from nbgrader.dbutil import _temp_alembic_ini

    cfg = load(copy_course(tmp_path / "course"))
    with _open(cfg):
        pass
    with sqlite3.connect(cfg.root / cfg.nbgrader.gradebook) as db:
        (stamped,), = db.execute("SELECT version_num FROM alembic_version").fetchall()
    alembic = str(Path(sys.executable).parent / "alembic")
    with _temp_alembic_ini("sqlite:///unused.db") as ini:
        heads = subprocess.run([alembic, "-c", ini, "heads"], capture_output=True, text=True, check=True).stdout
    assert stamped and stamped == heads.split()[0]


@pytest.mark.slow
def test_exports_gradescope_and_canvas(graded):
    """Are there valid Gradescope results.json files and a Canvas CSV with the roster's names?"""
    written, warnings = export(graded)
    assert not [w for w in warnings if w.startswith("canvas.csv")]  # every student graded is on the roster
    # nothing graded by hand yet: said, naming them, never a silent zero
    assert [w for w in warnings if "not graded by hand yet" in w and "alice, bob, carol, dave" in w]
    schema = json.loads((FILES / "gradescope_results.schema.json").read_text())
    gradescope = [p for p in written if p.suffix == ".json"]
    assert {p.stem for p in gradescope} == {"alice", "bob", "carol", "dave"}
    for path in gradescope:
        jsonschema.validate(json.loads(path.read_text()), schema)
    bob = json.loads((graded.root / "grades/day41_transformer/gradescope/bob.json").read_text())
    assert bob["score"] == float(scores_csv(graded)["bob"]["score"]) and "Late penalty" in bob["output"]
    with (graded.root / "grades" / "canvas.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[1][0].strip() == "Points Possible"
    alice = next(r for r in rows if r[3] == "alice")
    assert alice[0] == "Martin, Alice" and alice[rows[0].index("day41_transformer")] == "62"


def test_gradescope_visibility_is_honoured():
    """Does each test keep its visibility (hidden, after_due_date, visible) in results.json?"""
    tests = [TestOutcome(f"t{v}", "f", 1.0, 1.0, Status.PASSED, "", visibility=v)
             for v in ("hidden", "after_due_date", "visible")]
    out = gradescope_results(SubmissionResult("s", "a", "n.ipynb", tests=tests))
    assert [t["visibility"] for t in out["tests"]] == ["hidden", "after_due_date", "visible"]
    jsonschema.validate(out, json.loads((FILES / "gradescope_results.schema.json").read_text()))


def test_collect_imports_an_lms_zip_and_reports_unmatched(course, tmp_path):
    """Are LMS-named files mapped to student ids through the roster, the newest resubmission kept,
    timestamps written, and unmatched names reported rather than dropped?"""
    nb = (REPO / "submitted/alice/day41_transformer/transformer.ipynb").read_bytes()
    archive = tmp_path / "bulk.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(zipfile.ZipInfo("martin_alice_10234_501_transformer.ipynb", (2026, 11, 28, 20, 0, 0)), nb)
        z.writestr(zipfile.ZipInfo("okafor_bob_10235_502_transformer.ipynb", (2026, 11, 27, 9, 0, 0)), b"old")
        z.writestr(zipfile.ZipInfo("okafor_bob_10235_777_transformer-1.ipynb", (2026, 11, 28, 9, 0, 0)), nb)
        z.writestr(zipfile.ZipInfo("stranger_sam_99999_503_transformer.ipynb", (2026, 11, 28, 9, 0, 0)), nb)
        z.writestr(zipfile.ZipInfo("notes.txt", (2026, 11, 28, 9, 0, 0)), b"hi")
    result = collect(course, archive, "day41_transformer")
    assert set(result.imported) == {"alice", "bob"}
    assert sorted(result.unmatched) == ["notes.txt", "stranger_sam_99999_503_transformer.ipynb"]
    assert any("okafor_bob_10235_502" in s for s in result.skipped)
    bob = course.submitted_dir / "bob" / "day41_transformer"
    assert (bob / "transformer.ipynb").read_bytes() == nb
    assert late.submission_time(bob, bob / "transformer.ipynb") == dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone.utc)


def test_collect_cli_names_the_unmatched_and_fails(course, tmp_path):
    """Does `python -m autograder collect` list unmatched names and exit non-zero?"""
    archive = tmp_path / "bulk.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("who_knows.ipynb", b"{}")
    out = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course.root), "collect",
                          "--zip", str(archive), "--assignment", "day41_transformer"],
                         cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 1 and "UNMATCHED who_knows.ipynb" in out.stderr
