"""Instructor safety: a typo, a missing folder or an interrupted run never changes a grade quietly.

Each case runs as an instructor would meet it: `python -m autograder` (what every make target
runs) on a private copy of the course, checking the exit status, that the message is one line
naming the file or student, that no traceback is printed, and that nothing was written.
The fast cases are refused before any lane starts; the module-scoped `graded` course is graded
once for the cases that need grades already recorded.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from autograder.config import ConfigError, load
from autograder.coordinator import report
from autograder.coordinator.discover import student_id_problem
from autograder.coordinator.lock import course_lock, lock_path
from autograder.notebook import NotebookError, code_cells, read_notebook
from autograder.results import Status, SubmissionResult, TestOutcome
from tests.conftest import REPO, copy_course

DAY41, DAY42 = "day41_transformer", "day42_attention"


def cli(course, *args, timeout=600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "--course", str(course.root), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout, **kw)


def errors(out: subprocess.CompletedProcess) -> list[str]:
    """The lines of stderr; a traceback anywhere fails the test that reads them."""
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.stderr[-3000:]
    return [line for line in out.stderr.splitlines() if line.strip()]


def tree(folder: Path) -> dict[str, tuple]:
    """Every file under folder, with its size and modification time: did anything get written?"""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()} if folder.is_dir() else {}


def fake_report(course, assignment, student, score) -> None:
    """A report as an earlier run would have left it: `score` points recorded for `student`."""
    r = SubmissionResult(student, assignment, "x.ipynb", tests=[
        TestOutcome("test_values.py::test_x", "values", score, max(score, 1.0), Status.PASSED, "")])
    report.write_student(course.root / "grades" / assignment, r)


# -- refused before anything is written -----------------------------------------------------------

def test_a_missing_submitted_folder_is_refused_and_nothing_is_written(course):
    """With submitted/ deleted (or mistyped in course_config.py), is `grade` refused with exit 2 and
    one line naming the folder, instead of zeroing the class; and are earlier grades left alone?"""
    fake_report(course, DAY41, "alice", 58.0)
    before = tree(course.root / "grades")
    shutil.rmtree(course.submitted_dir)
    out = cli(course, "grade")
    lines = errors(out)
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert str(course.submitted_dir) in lines[0] and "does not exist" in lines[0] and "nothing was graded" in lines[0]
    assert tree(course.root / "grades") == before and not (course.root / "gradebook.db").exists()


def test_an_empty_submitted_folder_is_refused(course):
    """Is an empty submitted/ refused the same way (exit 2, the folder named)?"""
    shutil.rmtree(course.submitted_dir)
    course.submitted_dir.mkdir()
    out = cli(course, "grade")
    assert out.returncode == 2 and "is empty" in errors(out)[0] and str(course.submitted_dir) in out.stderr
    assert not (course.root / "grades").exists()


def test_an_assignment_nobody_submitted_is_refused(course):
    """When no student has a folder for an assignment, is the run refused (exit 2) naming where
    submissions were looked for and how to override, before any assignment is graded?"""
    for student in course.submitted_dir.iterdir():
        shutil.rmtree(student / DAY42, ignore_errors=True)
    out = cli(course, "grade")
    (line,) = errors(out)
    assert out.returncode == 2 and f"submitted/*/{DAY42}/: no submissions" in line and "ALLOW_MISSING=1" in line
    assert not (course.root / "grades").exists()


def test_a_recorded_grade_is_not_lowered_by_a_missing_submission(course):
    """When a student with a grade recorded has no submission any more, is the run refused, listing
    the student and the grade, with nothing written?"""
    fake_report(course, DAY41, "bob", 27.2)
    fake_report(course, DAY42, "bob", 65.0)
    before = tree(course.root / "grades")
    shutil.rmtree(course.submitted_dir / "bob")
    out = cli(course, "grade")
    lines = errors(out)
    assert out.returncode == 2 and len(lines) == 2, out.stderr  # one line per assignment
    assert "bob (27.2 recorded)" in lines[0] and DAY41 in lines[0] and "ALLOW_MISSING=1" in lines[0]
    assert "bob (65 recorded)" in lines[1]
    assert tree(course.root / "grades") == before


def test_debug_shows_the_traceback_that_is_otherwise_left_out(course):
    """Does --debug (DEBUG=1) show the full traceback of an error that is otherwise one line?"""
    shutil.rmtree(course.submitted_dir)
    plain = cli(course, "grade")
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    debug = cli(course, "--debug", "grade")
    assert "Traceback (most recent call last)" in debug.stderr and "check_submitted_dir" in debug.stderr
    assert debug.stderr.rstrip().endswith("make collect)")  # the same message, last


def test_a_due_key_that_names_no_assignment_is_an_error(course):
    """Is a misspelt DUE key (which would silently drop a late penalty) an error naming it and the
    assignment it probably meant?"""
    path = course.root / "course_config.py"
    path.write_text(path.read_text().replace('"day41_transformer": "2026', '"day41_transfomer": "2026'))
    with pytest.raises(ConfigError, match=r"DUE\['day41_transfomer'\] names no assignment .*did you mean 'day41_transformer'"):
        load(course.root)
    out = cli(course, "grade")
    assert out.returncode == 2 and len(errors(out)) == 1 and "day41_transfomer" in out.stderr


@pytest.mark.parametrize("name,problem", [
    ("alice", None), ("zoë", None), ("jdoe@uni.edu", None), ("a.b-c_d+1", None),
    ("bob smith", "contains a space"), ("_x", "does not start with a letter or a digit"),
    ("__reference__", "does not start"), ("zoe\u0308", "decomposed Unicode"), ("a" * 101, "longer than 100"),
    ("tab$", "contains '$'"),
])
def test_the_student_id_rule(name, problem):
    """Does the documented student-id rule accept ids in any alphabet and say why others are refused?"""
    got = student_id_problem(name)
    assert (got is None) if problem is None else (got is not None and problem in got), got


def test_authoring_mistakes_are_named_before_anyone_is_graded(course):
    """A hidden test without @points, a syntax error in hidden/ and an unknown probe: is each one
    line naming the file and the line, worded for the instructor, with exit 2 and no lane started?"""
    hidden = course.source_dir / DAY41 / "hidden"
    (hidden / "test_extra.py").write_text(
        "from autograder.judge import points\n\n\n"
        "def test_forgot_points(submission):\n    assert submission\n\n\n"
        "@points(1)\ndef test_typo_probe(submission):\n    submission.probe(\"sdpa_masked\", seed=1)\n")
    (hidden / "test_broken.py").write_text("def test_x(:\n    pass\n")
    out = cli(course, "grade", "--assignment", DAY41)
    lines = errors(out)
    assert out.returncode == 2 and len(lines) == 3, out.stderr
    broken, no_points, probe = lines
    assert "hidden/test_broken.py: line 1: syntax error" in broken
    assert "hidden/test_extra.py: line 4: the hidden test test_forgot_points has no @points(n)" in no_points
    assert "hidden/test_extra.py: line 10: the probe 'sdpa_masked' is not defined" in probe and "probes.py" in probe
    assert not any("your code" in line for line in lines)
    assert not (course.root / "grades").exists()


@pytest.mark.slow
def test_a_hidden_test_that_cannot_be_collected_is_one_line_not_a_broken_pool(course):
    """A mistake the source check cannot see (a name the judge does not export): is it one line
    naming the file and line, exit 2, instead of a lane's traceback and a BrokenProcessPool?"""
    (course.source_dir / DAY41 / "hidden" / "test_zz.py").write_text(
        "from autograder.judge import points, expect_nothing\n\n\n@points(1)\ndef test_x(submission):\n    pass\n")
    out = cli(course, "grade", "--assignment", DAY41, "--lanes", "1")
    (line,) = errors(out)
    assert out.returncode == 2 and "BrokenProcessPool" not in out.stderr
    assert "hidden/test_zz.py:1: ImportError: cannot import name 'expect_nothing'" in line


# -- one run at a time ----------------------------------------------------------------------------

def test_a_second_run_is_refused_naming_the_holder(course):
    """While one run holds the course, is a second refused at once, in one line naming the holder?"""
    with course_lock(course, "make grade (this test)"):
        out = cli(course, "grade", timeout=60)
        lines = errors(out)
        assert out.returncode == 2 and len(lines) == 1
        assert f"pid {os.getpid()}" in lines[0] and "make grade (this test)" in lines[0] and "WAIT=1" in lines[0]
    assert json.loads(lock_path(course).read_text() or "{}") == {}  # released: it names nobody


def test_a_second_run_with_wait_queues_behind_the_first(course):
    """With --wait (WAIT=1), does a second run say it waits, and run once the first is done?"""
    with course_lock(course, "first run"):
        second = subprocess.Popen([sys.executable, "-m", "autograder", "--course", str(course.root), "--wait", "export"],
                                  cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not json.loads(lock_path(course).read_text() or "{}").get("pid"):
            time.sleep(0.1)
        time.sleep(2.0)
        assert second.poll() is None  # still waiting
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0 and "waiting for another run on this course to finish" in err and "first run" in err


def test_a_lock_left_by_a_dead_run_is_taken_over_saying_so(course):
    """When a run was killed without releasing the lock, does the next run take it over and say so?"""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_path(course).parent.mkdir(exist_ok=True)
    lock_path(course).write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "command": "make grade",
                                             "started": "2026-11-28T10:00:00+00:00"}))
    out = cli(course, "export", timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"took over the lock left by a run that ended without releasing it (pid {dead.pid}" in out.stderr


# -- the environment ------------------------------------------------------------------------------

def test_a_read_only_grades_folder_is_one_line(course):
    """With grades/ read-only, is the run refused before grading, in one line naming the folder?"""
    grades = course.root / "grades"
    fake_report(course, DAY41, "alice", 58.0)
    if os.geteuid() == 0:  # root writes through file modes: make it a read-only mount instead
        script = (f"mount --bind {grades} {grades} && mount -o remount,bind,ro {grades} && "
                  f"exec {sys.executable} -m autograder --course {course.root} grade")
        out = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    else:
        grades.chmod(0o555)
        out = cli(course, "grade")
        grades.chmod(0o755)
    lines = errors(out)
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert f"{grades}: not writable" in lines[0] and "nothing was graded" in lines[0]


@pytest.mark.slow
def test_ctrl_c_is_one_line_and_keeps_what_was_written(course):
    """Ctrl-C in the middle of grading: exit 130, one line (no traceback from the coordinator or
    any lane), and the reports already written are kept, whole?"""
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "--course", str(course.root), "grade",
                             "--assignment", DAY41, "--lanes", "1"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    reports = course.root / "grades" / DAY41 / "reports"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not list(reports.glob("*.json")):
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal does: to every process of the foreground group
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert [line for line in err.splitlines() if line.strip()] == [
        "interrupted: reports written before the interrupt are kept; run again to finish"]
    kept = list(reports.glob("*.json"))
    assert kept and all(json.loads(p.read_text())["student_id"] == p.stem for p in kept)
    assert not list(reports.glob(".*"))  # no half-written report


def test_an_interrupt_while_a_result_is_recorded_is_raised_once_the_record_is_whole():
    """A SIGINT that arrives while one student's result is recorded: does the record finish first,
    and the KeyboardInterrupt come right after it?"""
    from autograder.coordinator import interrupt

    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupt.held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the signal is delivered by now; a plain handler would have raised here
            steps.append("written")
    assert steps == ["written"]
    with interrupt.held():  # without an interrupt nothing is raised
        steps.append("again")
    assert steps == ["written", "again"]


def test_an_interrupt_inside_a_gradebook_flush_stays_an_interrupt(course):
    """The CI failure: Ctrl-C inside SQLAlchemy's flush left the session needing a rollback, and the
    final commit's PendingRollbackError replaced the interrupt (exit 3, "internal error"). Does the
    KeyboardInterrupt come out of the recorder, and is the gradebook still usable afterwards?"""
    from sqlalchemy import event

    from autograder.coordinator import gradebook

    r = SubmissionResult("s1", DAY41, "x.ipynb", tests=[
        TestOutcome("test_values.py::test_x", "values", 1.0, 1.0, Status.PASSED, "")])
    with pytest.raises(KeyboardInterrupt):
        with gradebook.Recorder(course, DAY41, "x.ipynb", r) as book:
            event.listen(book.gb.db, "after_flush", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
            book.add(r)
    with gradebook.Recorder(course, DAY41, "x.ipynb", r) as book:  # the next run records as usual
        book.add(r)
    assert "s1" in gradebook.students(course)


# -- smaller items --------------------------------------------------------------------------------

def test_a_json_file_that_is_not_a_notebook_gets_plain_words(tmp_path):
    """Does a JSON file that is not a notebook get words a student understands, not nbformat's jargon?"""
    for data, says in ((b'{"name": "my answers"}', "is a JSON file but not a Jupyter notebook"),
                       (b'[1, 2, 3]', "is a JSON file but not a Jupyter notebook"),
                       (b'{"cells": [], "nbformat": 2}', "old notebook format version 2")):
        with pytest.raises(NotebookError) as caught:
            code_cells(data, "transformer.ipynb", (), 1 << 20, 100)
        assert says in str(caught.value) and "converted from version" not in str(caught.value)


def test_sizes_are_in_mib_as_the_limit_is(tmp_path):
    """Is a notebook over a 20 MiB limit told "over the 20 MiB limit" (not "21 MB")?"""
    big = tmp_path / "transformer.ipynb"
    big.write_bytes(b" " * ((20 << 20) + 300_000))
    with pytest.raises(NotebookError, match=r"is 20\.3 MiB, over the 20 MiB limit"):
        read_notebook(big, 20 << 20)


def test_outputs_are_readable_by_the_group_not_by_everyone(tmp_path):
    """Can a co-instructor in the owner's group read a report, while other users cannot?"""
    old = os.umask(0o022)
    try:
        report.atomic_write_text(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    mode = (tmp_path / "r.json").stat().st_mode & 0o777
    assert mode & 0o040 and mode & 0o400 and not mode & 0o007, oct(mode)


def test_canvas_export_warns_about_students_missing_from_the_roster(course):
    """Does `export` warn, naming them, when students graded are not on the roster (blank Canvas ID)?"""
    fake_report(course, DAY41, "alice", 58.0)
    fake_report(course, DAY41, "zoë", 40.0)
    out = cli(course, "export", timeout=120)
    assert out.returncode == 0
    (line,) = [e for e in errors(out) if "canvas.csv" in e]  # (the other: their code quality is not graded by hand yet)
    assert line.startswith("warning: canvas.csv: 1 student(s) graded but not on the roster") and "zoë" in line


def test_make_collect_without_arguments_prints_its_usage():
    """Does `make collect` with no arguments say how to call it (and nothing about assignments/hidden)?"""
    out = subprocess.run(["make", "--no-print-directory", "collect"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith("usage: make collect ZIP=") and DAY41 in out.stderr
    assert "hidden" not in out.stderr


def test_collect_warns_before_replacing_a_timestamp(course, tmp_path):
    """Importing a zip over a submission already there: is each replaced timestamp.txt and notebook
    announced before it is replaced, saying when the new time is the earlier one?"""
    from autograder.coordinator.collect import collect

    nb = (REPO / "submitted/alice/day41_transformer/transformer.ipynb").read_bytes()
    archive = tmp_path / "bulk.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(zipfile.ZipInfo("martin_alice_10234_501_transformer.ipynb", (2026, 11, 20, 8, 0, 0)), nb + b" ")
    stamp = course.submitted_dir / "alice" / DAY41 / "timestamp.txt"
    before = stamp.read_text().strip()
    said = []
    collect(course, archive, DAY41, warn=lambda text: said.append((text, stamp.read_text().strip())))
    assert [text.split(":")[0] for text, _ in said] == [f"submitted/alice/{DAY41}/timestamp.txt",
                                                        f"submitted/alice/{DAY41}/transformer.ipynb"]
    assert f"replacing the submission time {before} with 2026-11-20 08:00:00.000000 UTC (earlier" in said[0][0]
    assert said[0][1] == before  # said before it was replaced
    assert stamp.read_text().startswith("2026-11-20 08:00:00")


def test_release_is_skipped_when_its_sources_are_unchanged(course):
    """Is a second release skipped (by fingerprint, without importing nbgrader or nbformat), and is
    a changed source or an edited release/ folder released again?"""
    from autograder.release import release

    assert not release(course, DAY41)[0].unchanged
    code = ("import sys; from autograder.config import load; from autograder.release import release; "
            f"r = release(load({str(course.root)!r}), {DAY41!r}); "
            "print(r[0].unchanged, 'nbformat' in sys.modules, 'nbgrader' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"]
    (course.release_dir / DAY41 / "README.md").write_text("edited by hand")
    assert not release(course, DAY41)[0].unchanged  # the output no longer matches: rebuilt
    assert (course.release_dir / DAY41 / "README.md").read_text() != "edited by hand"
    source = course.source_dir / DAY41 / "README.md"
    source.write_text(source.read_text() + "\nOne more line.\n")
    assert not release(course, DAY41)[0].unchanged
    assert "One more line." in (course.release_dir / DAY41 / "README.md").read_text()


# -- with grades recorded: one course, graded once --------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A course whose Day 41 submissions are graded (the other assignment's folders removed)."""
    cfg = load(copy_course(tmp_path_factory.mktemp("course")))
    for student in cfg.submitted_dir.iterdir():
        shutil.rmtree(student / DAY42, ignore_errors=True)
    out = cli(cfg, "grade", "--assignment", DAY41)
    assert out.returncode == 0, out.stderr
    return cfg


def scores(cfg) -> dict[str, dict]:
    import csv

    with (cfg.root / "grades" / DAY41 / "scores.csv").open() as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_nothing_changed_starts_no_lanes_imports_nothing_heavy_and_writes_nothing(graded):
    """Run again with nothing changed: are no lanes started (no pool is even made), are torch,
    matplotlib and nbgrader never imported, and is no file rewritten?"""
    before = tree(graded.root / "grades"), (graded.root / "gradebook.db").stat().st_mtime_ns
    code = ("import sys\n"
            "import autograder.coordinator.pool as pool\n"
            "def refuse(*a, **k): raise SystemExit('a lane pool was made')\n"
            "pool.local_pool = refuse\n"
            "from autograder.config import load\n"
            "from autograder.coordinator.grade import grade_course\n"
            f"run = grade_course(load({str(graded.root)!r}), {DAY41!r})\n"
            "print(sorted(m for m in ('torch', 'matplotlib', 'nbgrader', 'nbformat', 'pytest') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "nothing changed since the last run" in out.stdout
    assert (tree(graded.root / "grades"), (graded.root / "gradebook.db").stat().st_mtime_ns) == before


@pytest.mark.slow
def test_a_missing_submission_zeroes_a_grade_only_when_asked_and_the_old_report_is_kept(graded, tmp_path):
    """bob's submission is gone: refused at first; with ALLOW_MISSING (--allow-missing), bob gets 0
    with "no submission found", his previous report is kept in history/, and the summary says so?
    Then, bob submitting again: is he regraded, the change reported, and the zero kept in history too?"""
    folder = graded.submitted_dir / "bob"
    recorded = json.loads((graded.root / "grades" / DAY41 / "reports" / "bob.json").read_text())
    shutil.move(folder, tmp_path / "bob")
    refused = cli(graded, "grade", "--assignment", DAY41)
    assert refused.returncode == 2 and f"bob ({recorded['score']:g} recorded)" in errors(refused)[0]
    allowed = cli(graded, "grade", "--assignment", DAY41, "--allow-missing")
    assert allowed.returncode == 0, allowed.stderr
    assert "no submission (0 points): bob" in allowed.stdout and "no lanes needed" in allowed.stdout
    assert "roster: 4 students, 3 submitted; on the roster, nothing submitted: bob" in allowed.stdout
    assert f"grade changed: bob {recorded['score']:g} -> 0" in allowed.stdout
    bob = json.loads((graded.root / "grades" / DAY41 / "reports" / "bob.json").read_text())
    assert bob["score"] == 0 and bob["load_error"].startswith("no submission found")
    (kept,) = (graded.root / "grades" / DAY41 / "history" / "bob").glob("*.json")
    assert json.loads(kept.read_text()) == recorded
    assert scores(graded)["bob"]["score"] == "0" and "no submission found" in scores(graded)["bob"]["note"]

    shutil.move(tmp_path / "bob", folder)
    back = cli(graded, "grade", "--assignment", DAY41)
    assert back.returncode == 0, back.stderr
    assert "4 submissions, 1 to grade on 1 local lane" in back.stdout  # the others reused, one lane
    assert f"grade changed: bob 0 -> {recorded['score']:g}" in back.stdout
    assert len(list((graded.root / "grades" / DAY41 / "history" / "bob").glob("*.json"))) == 2


@pytest.mark.slow
def test_a_folder_that_cannot_be_graded_is_a_row_with_its_reason(graded):
    """A folder named "bob smith" (not a valid id) and one named "zoë" (valid): is zoë graded, and
    "bob smith" a row in scores.csv and on the dashboard with its reason, named in the summary, with
    exit 1, and the roster's differences listed?"""
    source = graded.submitted_dir / "alice" / DAY41
    for name in ("zoë", "bob smith"):
        shutil.copytree(source, graded.submitted_dir / name / DAY41)
    out = cli(graded, "grade", "--assignment", DAY41)
    assert out.returncode == 1
    assert f"NOT GRADED submitted/bob smith/{DAY41}: the folder name 'bob smith' is not a valid student id" in out.stdout
    assert "submitted, not on the roster: bob smith, zoë" in out.stdout
    assert errors(out)[-1].startswith("error: 1 folder(s) in submitted/ could not be graded")
    rows = scores(graded)
    assert float(rows["zoë"]["auto_score"]) == float(rows["zoë"]["max_score"]) - float(rows["zoë"]["manual_max"])
    assert rows["bob smith"]["score"] == "" and rows["bob smith"]["note"].startswith("NOT GRADED")
    summary = (graded.root / "grades" / DAY41 / "summary.html").read_text()
    assert "bob smith" in summary and "not a valid student id" in summary and 'href="feedback/zoë.html"' in summary
    grades_csv = (graded.root / "grades" / "grades.csv").read_text()
    assert "zoë" in grades_csv and "bob smith" not in grades_csv  # no score, so no grade
    for name in ("zoë", "bob smith"):
        shutil.rmtree(graded.submitted_dir / name)
