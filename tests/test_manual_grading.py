"""Written answers and rubric items graded by hand in nbgrader's formgrader, merged with the autograde.

The manual grades are entered through nbgrader's own Gradebook API, as formgrader's handlers do:
a client we did not write."""
import csv
import json
import re
import socket
import subprocess
import time
import urllib.request

import pytest

from autograder.authoring import markers
from autograder.cells import cells_to_run
from autograder.coordinator import formgrade
from autograder.coordinator.export import export
from autograder.coordinator.grade import grade
from autograder.release import ReleaseError, check_for_leaks
from tests.conftest import REPO, copy_course

AID, NB = "day41_transformer", "transformer"
ANSWERS = ["answer_attention_intuition", "answer_positional_encoding_role", "answer_multi_head_benefit",
           "answer_advantages_over_rnns"]


def scores(cfg, aid=AID):
    with (cfg.root / "grades" / aid / "scores.csv").open() as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def enter(cfg, student, cell, score, comment=None):
    """Grade one cell by hand as formgrader's GradeHandler and CommentHandler do, through nbgrader's API."""
    from nbgrader.api import Gradebook

    with Gradebook(cfg.db_url, course_id=cfg.course_id) as gb:
        grade_row = gb.find_grade(cell, NB, AID, student)
        grade_row.manual_score = score
        grade_row.needs_manual_grade = False
        if comment is not None:
            gb.find_comment(cell, NB, AID, student).manual_comment = comment
        gb.db.commit()


def test_release_strips_the_mark_scheme_and_keeps_the_questions():
    """Does the student's Day 41 hold each question with its points, an answer cell nbgrader grades by
    hand, and no word of the mark schemes or model answers (in the solutions neither the schemes)?"""
    source = json.loads((REPO / "assignments" / AID / f"{NB}.ipynb").read_text())
    items = markers.manual_items(markers.prepare(source, "src")[0])
    assert [i.grade_id for i in items] == ANSWERS + ["task_code_quality"]
    assert all(i.mark_scheme and i.points for i in items)
    released = json.loads((REPO / "release" / AID / f"{NB}.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in released["cells"])
    solutions = "\n".join("".join(c["source"]) for c in
                          json.loads((REPO / "solutions" / AID / f"{NB}.ipynb").read_text())["cells"])
    for item in items:
        for line in item.mark_scheme.splitlines():
            if len(line.strip()) > 20:
                assert line.strip() not in text and line.strip() not in solutions, line
    assert "MARK SCHEME" not in text and "MARK SCHEME" not in solutions
    meta = {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"] for c in released["cells"]
            if "nbgrader" in c["metadata"]}
    for gid in ANSWERS:
        assert meta[gid]["grade"] and meta[gid]["solution"] and meta[gid]["points"] == 3
        cell = next(c for c in released["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == gid)
        assert "YOUR ANSWER HERE" in "".join(cell["source"]) and "Graded by hand (3 points)" in "".join(cell["source"])
    assert meta["task_code_quality"]["task"] and meta["task_code_quality"]["points"] == 4
    # the notebook loader runs no answer: markdown is never a cell that runs
    assert all(not c["source"].lstrip().startswith("<!--") for c in cells_to_run(released["cells"]))


def test_leak_check_refuses_a_mark_scheme(course, tmp_path):
    """Does the leak check refuse a student release that still holds a mark scheme line or marker?"""
    folder = tmp_path / "rel"
    folder.mkdir()
    (folder / "notes.md").write_text("- 1 point: the scaling keeps the dot products' variance near 1, so the softmax "
                                     "is not saturated\n")
    with pytest.raises(ReleaseError, match="solution line"):
        check_for_leaks(course, AID, folder)
    (folder / "notes.md").write_text("### BEGIN MARK SCHEME\n")
    with pytest.raises(ReleaseError, match="MARK SCHEME"):
        check_for_leaks(course, AID, folder)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from autograder.config import load

    cfg = load(copy_course(tmp_path_factory.mktemp("course")))
    grade(cfg, AID, quiet=True)
    return cfg


@pytest.mark.slow
def test_formgrader_layout_and_pending_before_grading(graded):
    """After make grade, is there an autograded notebook per submission with the autograde's results and the
    answer cells formgrader grades, are blank answers 0 and the rest pending, and does the dashboard say
    how much is left to grade?"""
    from nbgrader.api import Gradebook

    for student in ("alice", "bob", "carol", "dave"):
        nb = json.loads(formgrade.autograded_path(graded, student, AID, f"{NB}.ipynb").read_text())
        assert nb["cells"][0]["source"].startswith("## Autograder results (read-only)")
        graded_ids = [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"] if "nbgrader" in c["metadata"]]
        assert graded_ids == ANSWERS + ["task_code_quality"]
        assert all(not c.get("outputs") for c in nb["cells"])
    with Gradebook(graded.db_url, course_id=graded.course_id) as gb:
        sub = gb.find_submission_notebook(NB, AID, "bob")
        assert sub.needs_manual_grade
        assert gb.find_grade("task_code_quality", NB, AID, "bob").needs_manual_grade
    row = scores(graded)["bob"]
    assert row["manual_status"] == "pending: 1 of 5 to grade" and row["max_score"] == "78"
    assert float(row["score"]) == float(row["auto_score"])
    summary = (graded.root / "grades" / AID / "summary.html").read_text()
    assert "4 of 20 written answers and rubric items still to grade" in summary


@pytest.mark.slow
def test_manual_grade_reaches_totals_exports_feedback_and_survives_a_forced_regrade(graded):
    """A score and comment entered through nbgrader's gradebook: in scores.csv's total, grades.csv,
    Canvas and Gradescope, bob's feedback (with the rubric item chosen), kept by grade(force=True)?"""
    from autograder.coordinator import gradebook, plan

    def unchanged():
        return plan.unchanged(graded, plan.plan_assignment(graded, AID, set(gradebook.students(graded)), False))

    assert unchanged()  # the run that finds nothing changed does nothing
    enter(graded, "bob", "task_code_quality", 3, "Nice use of view/transpose. #loop_over_heads")
    enter(graded, "bob", "answer_attention_intuition", 2.5, "Good intuition; say why the scaling matters.")
    assert not unchanged()  # a grade entered by hand is a change: the next run writes it
    before = scores(graded)["bob"]
    grade(graded, AID, quiet=True)  # nothing submitted changed: the gradebook did
    assert unchanged()
    row = scores(graded)["bob"]
    assert float(row["manual_score"]) == 5.5 and row["manual_status"] == "graded"
    assert float(row["score"]) == pytest.approx(float(before["auto_score"]) + 5.5)
    feedback = (graded.root / "grades" / AID / "feedback" / "bob.html").read_text()
    assert "Good intuition; say why the scaling matters." in feedback and "Nice use of view/transpose." in feedback
    assert "split the heads with view and transpose" in feedback and "#loop_over_heads" not in feedback
    assert "Graded by hand" in feedback and "2.5 / 3" in feedback

    enter(graded, "alice", "task_code_quality", 4)
    written, warnings = export(graded)
    assert any("not graded by hand yet" in w and "carol, dave" in w for w in warnings)
    gradescope = json.loads((graded.root / "grades" / AID / "gradescope" / "bob.json").read_text())
    assert gradescope["score"] == pytest.approx(float(row["score"]))
    assert any(t["name"] == "task_code_quality (graded by hand)" and t["score"] == 3 for t in gradescope["tests"])
    with (graded.root / "grades" / "canvas.csv").open() as f:
        canvas = list(csv.reader(f))
    col = canvas[0].index(AID)
    assert canvas[1][col] == "78"
    assert float(next(r for r in canvas if r[3] == "bob")[col]) == pytest.approx(float(row["score"]))
    assert next(r for r in canvas if r[3] == "alice")[col] == "66"  # exported without a regrade
    with (graded.root / "grades" / "grades.csv").open() as f:
        class_grades = {r["student_id"]: r for r in csv.DictReader(f)}
    assert class_grades["alice"][AID] == "66" and class_grades["alice"]["pending"] == ""
    assert class_grades["carol"]["pending"].startswith(f"{AID} (pending")

    grade(graded, AID, force=True, quiet=True)
    from nbgrader.api import Gradebook

    with Gradebook(graded.db_url, course_id=graded.course_id) as gb:
        assert gb.find_grade("task_code_quality", NB, AID, "bob").manual_score == 3
        assert gb.find_comment("answer_attention_intuition", NB, AID, "bob").manual_comment.startswith("Good intuition")
    assert float(scores(graded)["bob"]["score"]) == pytest.approx(float(row["score"]))


def _in_a_browser(url: str, home) -> str:
    """The page's DOM once its scripts have run, in Debian's headless chromium (tests/test_dashboard.py)."""
    from tests.test_dashboard import CHROMIUM_FLAGS, find_chromium

    # the suite's flags resolve no name and reach no address; here loopback (formgrader) stays reachable
    flags = [f for f in CHROMIUM_FLAGS if not f.startswith("--host-resolver-rules")]
    flags.append("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    proc = subprocess.run([find_chromium(), *flags, f"--user-data-dir={home}", "--virtual-time-budget=15000",
                           "--dump-dom", url], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_formgrader_opens_a_submission_with_its_answers_and_the_autograde(graded):
    """Does make formgrader's command serve formgrader on 127.0.0.1, and does a submission's page show the
    autograde's results and the answer cells? (stopped after, within a bounded time)"""
    from nbgrader.api import Gradebook

    with Gradebook(graded.db_url, course_id=graded.course_id) as gb:
        submission_id = gb.find_submission_notebook(NB, AID, "bob").id
    # a student's answer is rendered as HTML there: a script in it must not reach the instructor's browser
    from autograder.assignment import load_assignment
    from autograder.coordinator import manual, report

    a = load_assignment(graded, AID)
    released = formgrade.released_cells(graded, AID, f"{NB}.ipynb")
    submitted = json.loads((graded.root / "submitted" / "bob" / AID / f"{NB}.ipynb").read_text())
    answer = json.loads(json.dumps(released[ANSWERS[0]]))
    answer["source"] = "Attention weighs values. <script>window.stolen = 1</script><img src=x onerror=steal()>"
    submitted["cells"].append(answer)
    bob = report.previous_reports(graded.root / "grades" / AID)["bob"]
    formgrade.write_autograded(graded, AID, f"{NB}.ipynb", bob, json.dumps(submitted).encode(), manual.items(a),
                               released, manual.load_rubric(a))
    port = _free_port()
    # no token: the browser below must call formgrader's API as a signed-in instructor would
    argv = formgrade.command(graded, "127.0.0.1", port, token="")
    env = {**formgrade.environment(), "JUPYTER_RUNTIME_DIR": str(graded.root / ".jupyter-runtime")}
    server = subprocess.Popen(argv, cwd=graded.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/formgrader/submissions/{submission_id}/"
        deadline, page = time.monotonic() + 60, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    page = answer.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert page is not None, server.stderr.read1().decode() if server.poll() is not None else "no answer in 60 s"
        assert "Autograder results" in page and "answer_attention_intuition" in page
        assert "Mark scheme for answer_attention_intuition" in page and "Attention weighs values." in page
        assert "<script>window.stolen" not in page and 'onerror="steal' not in page and "<img src=x" not in page
        assert "&lt;script&gt;window.stolen" in page  # shown as text, for the grader to read
        dom = _in_a_browser(url, graded.root / ".chromium")
        # formgrader's script bound a score box to every answer (it sets the autograde's 0 for a blank
        # answer as the box's placeholder): no grade's name broke its lookups
        for gid in ANSWERS:
            box = re.search(rf'<input[^>]*id="{gid}"[^>]*>', dom)
            assert box and 'placeholder="0"' in box.group(0), (gid, box and box.group(0))
    finally:
        server.terminate()
        server.wait(timeout=20)
