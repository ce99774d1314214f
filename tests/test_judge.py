"""The judge: hidden tests in a trusted process, student code in a sandboxed worker.

The variant corpus (tests/files/variants/<assignment>/) holds student-like submissions for every
assignment: correct code written differently must get full marks, and each classic bug must lose
points where it should and nowhere else.
"""
import dataclasses
import os
import sys
from pathlib import Path

import pytest

from autograder.assignment import load_assignment
from autograder.config import load
from autograder.coordinator.check import unmet
from autograder.judge.lane import Lane
from autograder.results import Status
from tests.conftest import FILES, REPO, notebook_with_cell, variant_expectation

ASSIGNMENTS = load(REPO).assignments()
VARIANTS = [(aid, path) for aid in ASSIGNMENTS for path in sorted((FILES / "variants" / aid).glob("*.py"))]
DAY41 = FILES / "variants" / "day41_transformer"


@pytest.fixture(scope="module")
def lanes():
    """One warm lane per assignment, shared by the module's tests."""
    opened = {}

    def get(assignment_id):
        if assignment_id not in opened:
            opened[assignment_id] = Lane(load_assignment(load(REPO), assignment_id))
        return opened[assignment_id]

    yield get
    for lane in opened.values():
        lane.close()


@pytest.fixture(scope="module")
def lane(lanes):
    return lanes("day41_transformer")


def grade_source(lane, tmp_path, source, name="student"):
    return lane.grade_file(name, notebook_with_cell(lane.assignment.reference_notebook, source, tmp_path / f"{name}.ipynb"))


def lost(result):
    return [t for t in result.tests if t.score < t.max_score]


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_reference_gets_full_marks(lanes, assignment_id):
    """Does the reference solution pass every hidden test, in every family?"""
    lane = lanes(assignment_id)
    result = lane.grade_file("reference", lane.assignment.reference_notebook)
    assert result.max_score > 0 and result.score == result.max_score, [(t.name, t.output) for t in lost(result)]
    families = {t.family for t in result.tests}
    assert {"shape", "softmax", "gradient", "speed", "values", "integration"} <= families


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_bare_release_scores_zero_with_not_implemented_messages(lanes, assignment_id):
    """Does the unmodified student release score 0, each test saying NotImplementedError?"""
    lane = lanes(assignment_id)
    result = lane.grade_file("bare", REPO / "release" / assignment_id / lane.assignment.notebook)
    assert result.score == 0 and result.max_score > 0
    assert all(t.status is Status.ERROR and "NotImplementedError" in t.output for t in result.tests)


def test_every_assignment_has_a_variant_corpus():
    """Is every assignment covered by student-like variants, correct and buggy?"""
    for aid in ASSIGNMENTS:
        names = [p.stem for a, p in VARIANTS if a == aid]
        assert any(n.startswith("ok_") for n in names) and any(n.startswith("bug_") for n in names), aid


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id,variant", VARIANTS, ids=[f"{a}/{v.stem}" for a, v in VARIANTS])
def test_variant_gets_the_points_it_deserves(lanes, tmp_path, assignment_id, variant):
    """Does a correct alternative keep every point, and a one-bug variant lose points only where its bug shows?"""
    expect = variant_expectation(variant)
    result = grade_source(lanes(assignment_id), tmp_path, variant.read_text(), variant.stem)
    summary = [(t.name, t.status.value, t.output[:120]) for t in lost(result)]
    assert not unmet(expect, result), (unmet(expect, result), summary)  # points and, where EXPECT says, messages
    assert all(t.status is not Status.GRADER_ERROR for t in result.tests), summary


def test_feedback_names_the_parameters_without_gradient(lane, tmp_path):
    """When attention weights are detached, does the feedback say the gradient never reaches w_q?"""
    result = grade_source(lane, tmp_path, (DAY41 / "bug_weights_detached.py").read_text())
    messages = " ".join(t.output for t in lost(result))
    assert "gradient never reaches w_q.weight" in messages


def test_neg_inf_mask_is_told_what_to_change(lane, tmp_path):
    """Filling masked scores with -inf is right until a query's whole row is masked: does that test
    alone fail, and does its message say what to write instead (the notebook states the rule too)?"""
    result = grade_source(lane, tmp_path, (DAY41 / "bug_neg_inf_mask.py").read_text())
    (row,) = [t for t in lost(result) if t.name.endswith("test_sdpa_fully_masked_row_is_finite")]
    assert "-1e9" in row.output and "not -inf" in row.output and "NaN" in row.output
    notebook = (REPO / "release" / "day41_transformer" / "transformer.ipynb").read_text()
    assert "whole mask row is 0" in notebook and "not `-inf`" in notebook


def test_renamed_parameters_are_reported_not_crashed(lane, tmp_path):
    """When w_q is called q_proj, does the feedback say so instead of crashing?"""
    result = grade_source(lane, tmp_path, (DAY41 / "bug_param_renamed.py").read_text())
    mha = [t for t in result.tests if "mha" in t.name and t.score < t.max_score]
    assert mha and any("has no submodule 'w_q'" in t.output and "q_proj" in t.output for t in mha)
    assert all(t.status is not Status.CRASHED for t in result.tests)


def test_feedback_never_shows_reference_values_or_hidden_source(lane, tmp_path):
    """Do failure messages avoid tensor values, seeds and hidden test source?"""
    result = grade_source(lane, tmp_path, (DAY41 / "bug_no_scaling.py").read_text())
    hidden_lines = {l.strip() for p in lane.assignment.hidden.glob("*.py") for l in p.read_text().splitlines()
                    if len(l.strip()) > 30}
    for t in lost(result):
        assert "tensor(" not in t.output and "seed" not in t.output
        assert not [l for l in hidden_lines if l in t.output], t.output


def test_student_code_never_runs_in_the_trusted_process(lane, tmp_path):
    """Does a submission that writes a file at import time fail to do so, because it runs in a
    sandboxed worker that cannot see the grader's files, rather than in the judge?"""
    marker = tmp_path / "who_ran_me"
    source = f"import os\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\n"
    result = grade_source(lane, tmp_path, source)
    assert not marker.exists()
    assert [i.message.split(":")[0] for i in result.load_issues] in (["FileNotFoundError"], ["PermissionError"],
                                                                      ["OSError"])
    assert result.score == result.max_score  # the rest of the notebook was unaffected
    assert "submission" not in sys.modules  # the worker's module name for the student's namespace


def test_a_crash_costs_only_the_test_that_triggered_it(lane, tmp_path):
    """When one probe kills its worker, does only that test lose its points, the next getting a fresh worker?"""
    source = ("import os\n_pe_init = PositionalEncoding.__init__\n"
              "def _init(self, d_model, max_len=5000, dropout=0.0):\n"
              "    if d_model == 8 and max_len == 5000:\n        os._exit(3)\n"
              "    _pe_init(self, d_model, max_len, dropout)\n"
              "PositionalEncoding.__init__ = _init\n")
    result = grade_source(lane, tmp_path, source)
    bad = lost(result)
    assert [t.name for t in bad] == ["test_values.py::test_positional_known_positions"]
    assert bad[0].status is Status.CRASHED and "exited with status 3" in bad[0].output


def test_repeated_crashes_stop_after_the_budget(lane, tmp_path):
    """After a few worker deaths, are the remaining tests marked CRASHED without being retried?"""
    source = "import os\ndef _boom(self, x):\n    os._exit(3)\nPositionalEncoding.forward = _boom\n"
    result = grade_source(lane, tmp_path, source)
    crashed = [t for t in result.tests if t.status is Status.CRASHED]
    assert any(f"died {lane.settings.max_worker_deaths} times" in t.output for t in crashed)
    assert any(t.score == t.max_score for t in result.tests)  # tests before the deaths kept their points


def test_load_errors_are_recorded_and_loading_continues(lane, tmp_path):
    """Does a cell that raises get recorded with its number while later cells still load, magics included?"""
    source = "%matplotlib inline\n!pip install nothing\nraise ValueError('oops in my cell')\n"
    result = grade_source(lane, tmp_path, source)
    assert [i.message for i in result.load_issues] == ["ValueError: oops in my cell"]
    assert result.score == result.max_score  # everything the hidden tests need was defined before


def test_a_long_untagged_cell_costs_its_time_limit_not_the_grade(lane, tmp_path):
    """Does an untagged endless training loop lose only that cell, with the rest of the notebook graded?"""
    settings = dataclasses.replace(lane.settings, cell_timeout_s=1.0)
    lane.settings, saved = settings, lane.settings
    try:
        result = grade_source(lane, tmp_path, "import time\nwhile True:\n    time.sleep(0.01)\n")
    finally:
        lane.settings = saved
    assert [i.status for i in result.load_issues] == ["timeout"]
    assert result.score == result.max_score


def test_broken_notebook_json_is_a_load_error(lane, tmp_path):
    """Is a truncated notebook a LOAD_ERROR naming the file and the JSON position, on every test?"""
    broken = tmp_path / "transformer.ipynb"
    broken.write_text(lane.assignment.reference_notebook.read_text()[:3000])
    result = lane.grade_file("broken", broken)
    assert result.load_error and "transformer.ipynb: is not valid notebook JSON (line" in result.load_error
    assert result.score == 0 and all(t.status is Status.LOAD_ERROR for t in result.tests)
