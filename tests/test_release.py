"""make release: nbgrader builds release/ and solutions/, scripts are stripped, nothing leaks."""
import hashlib
import json

import pytest

from autograder.release import ReleaseError, release, strip_script
from tests.conftest import REPO


def tree_digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def released(course):
    release(course)
    return course


def test_release_reproduces_the_committed_release_byte_for_byte(released):
    """Does a fresh release equal the committed release/ and solutions/, and does a second run change nothing?"""
    for sub in ("release", "solutions"):
        assert tree_digest(released.root / sub) == tree_digest(REPO / sub), f"{sub}/ differs from the committed one"
    before = {sub: tree_digest(released.root / sub) for sub in ("release", "solutions")}
    release(released)
    assert before == {sub: tree_digest(released.root / sub) for sub in ("release", "solutions")}


def test_student_release_has_no_solution_or_hidden_tests(released):
    """Does the student release hold no solution code, no markers and no hidden test file?"""
    for aid in released.assignments():
        student = released.release_dir / aid
        assert not (student / "hidden").exists()
        text = "\n".join(p.read_text() for p in student.rglob("*") if p.is_file())
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "@points("):
            assert marker not in text
        assert "raise NotImplementedError()" in text
    nb = json.loads((released.release_dir / "day41_transformer" / "transformer.ipynb").read_text())
    code = "".join("".join(c["source"]) for c in nb["cells"])
    assert "pe[:, 0, 0::2] = torch.sin(angles)" not in code  # a reference line inside a solution region
    assert "def scaled_dot_product_attention(Q, K, V, mask=None):" in code  # the signature stays


def test_release_of_one_assignment_only(course):
    """Does ASSIGNMENT=name release that assignment alone?"""
    results = release(course, "day41_transformer")
    assert [r.assignment_id for r in results] == ["day41_transformer"]
    assert "transformer.ipynb" in results[0].release_files


def test_script_solution_regions_are_stripped(course):
    """Is a solution region in a .py file replaced by a stub in the release, and kept in the solutions?"""
    helper = course.source_dir / "day41_transformer" / "helper.py"
    helper.write_text("def secret_helper(x):\n    ### BEGIN SOLUTION\n    return x * 4242 + 17\n"
                      "    ### END SOLUTION\n")
    release(course, "day41_transformer")
    student = (course.release_dir / "day41_transformer" / "helper.py").read_text()
    assert "4242" not in student and "raise NotImplementedError()" in student
    assert "def secret_helper(x):" in student
    assert "4242" in (course.solution_dir / "day41_transformer" / "helper.py").read_text()


def test_strip_script_removes_hidden_test_regions():
    """Does the script stripper drop hidden-test regions whole and stub solution regions at their indent?"""
    src = ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
           "### BEGIN HIDDEN TESTS\nassert f() == 1\n### END HIDDEN TESTS\n")
    out = strip_script(src)
    assert "return 1" not in out and "assert f() == 1" not in out
    assert "    raise NotImplementedError()" in out


def _release_must_fail(course, match):
    before = {sub: tree_digest(course.root / sub) for sub in ("release", "solutions")}
    with pytest.raises(ReleaseError, match=match):
        release(course)
    after = {sub: tree_digest(course.root / sub) for sub in ("release", "solutions")}
    assert before == after, "a failed release changed release/ or solutions/"


def test_begin_without_end_names_file_and_cell(course):
    """Does a BEGIN SOLUTION without END name the notebook and the cell, and leave the release as it was?"""
    path = course.source_dir / "day41_transformer" / "transformer.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if "### END SOLUTION" in src:
            cell["source"] = src.replace("### END SOLUTION", "# (the END marker was deleted)", 1)
            grade_id = cell["metadata"]["nbgrader"]["grade_id"]
            break
    path.write_text(json.dumps(nb))
    _release_must_fail(course, rf"transformer\.ipynb: cell \d+ \({grade_id}\).*without a matching")


def test_invalid_notebook_json_names_the_file(course):
    """Is a notebook that is not valid JSON reported by name, with the release left alone?"""
    path = course.source_dir / "day41_transformer" / "transformer.ipynb"
    path.write_text(path.read_text()[:500])
    _release_must_fail(course, r"transformer\.ipynb: not a valid notebook")


def test_unknown_assignment_is_named(course):
    """Is a missing assignment name reported, with the known ones listed?"""
    with pytest.raises(ReleaseError, match=r"no assignment named 'day99'.*day41_transformer"):
        release(course, "day99")


def test_leak_check_is_a_safety_net_for_a_broken_strip_step(course, monkeypatch):
    """If stripping ever fails to remove a script's solution (markers gone, code kept), does the
    leak check still stop the release, naming the file and the solution line?"""
    (course.source_dir / "day41_transformer" / "helper.py").write_text(
        "def secret_helper(x):\n    ### BEGIN SOLUTION\n    return x * 4242 + 17 * x\n    ### END SOLUTION\n")
    monkeypatch.setattr("autograder.release.strip_script",
                        lambda src: "\n".join(l for l in src.splitlines() if "SOLUTION" not in l))
    _release_must_fail(course, r"helper\.py: the student release holds a solution line: 'return x \* 4242")


def test_leak_check_catches_markers(course, monkeypatch):
    """If a marker survives into the release, does the leak check name the file?"""
    (course.source_dir / "day41_transformer" / "helper.py").write_text(
        "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")
    monkeypatch.setattr("autograder.release.strip_script", lambda src: src)
    _release_must_fail(course, r"helper\.py: the student release still holds a 'BEGIN SOLUTION' marker")


def test_hidden_tests_never_reach_the_release(course):
    """Even a hidden test file with an ordinary name stays out of release/ and solutions/?"""
    (course.source_dir / "day41_transformer" / "hidden" / "test_extra.py").write_text("def test_x():\n    pass\n")
    release(course, "day41_transformer")
    for sub in (course.release_dir, course.solution_dir):
        assert not list((sub / "day41_transformer").rglob("test_extra.py"))
        assert not list((sub / "day41_transformer").rglob("probes.py"))
