"""Authoring: plain-text markers, `python -m autograder new`, the guide in docs/authoring.md, and `make check`."""
import json
import re

import nbformat
import pytest

from autograder.authoring import markers, scaffold
from autograder.authoring.markers import AuthoringError
from autograder.cli import main
from autograder.config import CourseError, load
from autograder.coordinator.check import check_assignment
from autograder.release import release
from tests.conftest import REPO, copy_course

GUIDE = REPO / "docs" / "authoring.md"
DOC_ID = "day43_softmax"  # the assignment the guide walks through
FENCE = re.compile(r"^(```|~~~)(\w+)(?: ([^\n]+))?\n(.*?)\n\1$", re.M | re.S)


def notebook(*cells) -> dict:
    """A plain notebook of (cell type, source[, tags]) cells, without nbgrader metadata."""
    nb = nbformat.v4.new_notebook()
    for kind, source, *tags in cells:
        cell = (nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell)(source)
        if tags:
            cell.metadata["tags"] = tags[0]
        nb.cells.append(cell)
    return json.loads(json.dumps(nb))


SOLUTION = "def softmax(x, dim=-1):\n    ### BEGIN SOLUTION\n    return x.softmax(dim)\n    ### END SOLUTION\n"


def test_markers_become_nbgrader_metadata_with_stable_grade_ids():
    """Do BEGIN SOLUTION, '# TEST name (n points)' and the test/solution tags become nbgrader's metadata, with ids
    from the names the cells define, the same on every run?"""
    nb = notebook(("markdown", "# Title"), ("code", "import torch"), ("code", SOLUTION),
                  ("code", "# TEST softmax (2 points)\nassert softmax(torch.ones(3)).sum() == 1"),
                  ("code", "class MultiHeadAttention:\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n"),
                  ("code", "assert MultiHeadAttention", ["test"]), ("code", "def helper():\n    return 1", ["solution"]))
    prepared, changed = markers.prepare(nb, "x.ipynb")
    meta = [c["metadata"].get("nbgrader") for c in prepared["cells"]]
    assert changed and meta[0] is None and meta[1] is None
    assert meta[2] == {"grade": False, "grade_id": "softmax", "locked": False, "schema_version": 3, "solution": True,
                       "task": False}
    assert meta[3]["grade_id"] == "test_softmax" and meta[3]["points"] == 2 and meta[3]["grade"] and meta[3]["locked"]
    assert meta[4]["grade_id"] == "multi_head_attention" and meta[5]["grade_id"] == "test_multi_head_attention"
    assert meta[5]["points"] == 1 and meta[6]["grade_id"] == "helper" and meta[6]["solution"]
    assert markers.prepare(nb, "x.ipynb")[0] == prepared  # stable: the same ids on every release
    nbformat.validate(nbformat.from_dict(prepared))


def test_the_bundled_notebooks_are_left_as_written():
    """Do the cells of Day 41 and Day 42 that carry hand-written metadata come back as written, and only
    Day 41's marked cells (its written answers and code-quality item) get metadata?"""
    for path in sorted((REPO / "assignments").glob("*/*.ipynb")):
        data = path.read_bytes()
        nb = json.loads(data)
        prepared, changed = markers.prepare(nb, str(path))
        assert changed == (path.parent.name == "day41_transformer")
        for before, after in zip(nb["cells"], prepared["cells"]):
            if "nbgrader" in before["metadata"] or not changed:
                assert after == before
        marked = [after["metadata"]["nbgrader"]["grade_id"] for before, after in zip(nb["cells"], prepared["cells"])
                  if "nbgrader" in after["metadata"] and "nbgrader" not in before["metadata"]]
        if changed:
            assert marked == ["answer_attention_intuition", "answer_positional_encoding_role",
                              "answer_multi_head_benefit", "answer_advantages_over_rnns", "task_code_quality"]


@pytest.mark.parametrize("cells,message", [
    ([("code", "# TSET softmax (2 points)\nassert True")],
     r"x\.ipynb: cell 1: line 1: unknown marker 'TSET' \(known: TEST, ANSWER, TASK\)"),
    ([("code", "# TEST my test (2 points)\nassert True")], r"cell 1: line 1: a TEST marker reads"),
    ([("code", "# TEST softmax (0 points)\npass")], r"cell 1: line 1: TEST softmax has no points"),
    ([("code", "# TEST softmax\n" + SOLUTION)], r"cell 1: line 1: a cell is either a solution or a TEST cell"),
    ([("code", "# TEST a\npass"), ("code", "# TEST a\npass")], r"cell 2: line 1: the name 'test_a' is taken by cell 1"),
    ([("markdown", "<!-- TEST a (1 point) -->")], r"cell 1: line 1: a TEST marker belongs in a code cell"),
    ([("markdown", "Answer:\n### BEGIN SOLUTION\nyes\n### END SOLUTION")], r"cell 1: line 2: a solution region in a "
                                                                          "markdown cell"),
    ([("code", "def f(:\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION")], r"cell 1: line 1: SyntaxError"),
])
def test_marker_mistakes_are_one_line_naming_file_cell_and_line(cells, message):
    """Is every malformed marker an error of one line that names the notebook, the cell and the line?"""
    with pytest.raises(AuthoringError, match=message) as caught:
        markers.prepare(notebook(*cells), "x.ipynb")
    assert "\n" not in str(caught.value)


def test_ordinary_comments_are_not_markers():
    """Are comments that merely start with a capital word ('# NOTE ...', '# TODO ...') left alone?"""
    nb = notebook(("code", "# NOTE this is fine\nx = 1"), ("code", "# TODO later (maybe)\ny = 2"))
    assert markers.prepare(nb, "x.ipynb") == (nb, False)


@pytest.fixture(scope="module")
def new_course(tmp_path_factory):
    """A copy of the course with the guide's assignment scaffolded by the CLI, and released."""
    root = copy_course(tmp_path_factory.mktemp("course"), with_submissions=False)
    assert main(["--course", str(root), "new", DOC_ID]) == 0
    cfg = load(root)
    release(cfg, DOC_ID)
    return cfg


def test_new_writes_an_assignment_that_releases(new_course):
    """Does `new` write the notebook, student README, hidden tests, settings and examples, and does the release
    carry nbgrader metadata written from the markers, without any solution?"""
    source = new_course.source_dir / DOC_ID
    assert {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()} == set(scaffold.render(DOC_ID))
    assert "nbgrader" not in (source / f"{DOC_ID}.ipynb").read_text()  # the source has markers only
    student = json.loads((new_course.release_dir / DOC_ID / f"{DOC_ID}.ipynb").read_text())
    ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in student["cells"]]
    assert ids == [None, None, None, "softmax", "test_softmax", None, "classifier", "test_classifier"]
    code = "".join("".join(c["source"]) for c in student["cells"] if c["cell_type"] == "code")
    assert "exps.sum(dim=dim" not in code and code.count("raise NotImplementedError()") == 3
    assert (new_course.release_dir / DOC_ID / "README.md").is_file()
    assert not (new_course.release_dir / DOC_ID / "hidden").exists()


def test_new_refuses_a_bad_or_taken_id(new_course, capsys):
    """Does `new` refuse an id that is not a folder name, or one that exists, with one line and nothing written?"""
    for bad, said in (("3d", "starts with a letter"), ("a b", "starts with a letter"), (DOC_ID, "already exists")):
        assert main(["--course", str(new_course.root), "new", bad]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1
    assert not (new_course.source_dir / "3d").exists()


@pytest.mark.slow
def test_make_check_passes_the_new_assignment_as_generated(new_course):
    """Does `make check` pass the scaffolded assignment: release, reference, visible tests, bare release, examples,
    and every mutant killed, with mutants.html written?"""
    lines = []
    report = check_assignment(new_course, DOC_ID, say=lines.append)
    text = "\n".join(lines)
    assert report.ok and not report.problems, text
    assert "example correct: 13/13 (as expected)" in text
    assert "example wrong_dim_ignored: 11/13, lost test_softmax_along_other_dims (as expected)" in text
    assert report.mutants.count("survived") == 0 and len(report.mutants.results) >= 15
    data = json.loads((new_course.root / "grades" / DOC_ID / "mutants.json").read_text())
    assert data["score"] == 100.0 and data["mutants"] == len(report.mutants.results)
    assert "Mutation testing of day43_softmax" in (new_course.root / "grades" / DOC_ID / "mutants.html").read_text()


@pytest.mark.slow
def test_make_check_reports_weak_tests_and_harmless_survivors(new_course, tmp_path):
    """With only a shape test left, does check list the surviving mutants with their diffs, count the one judged
    harmless, point out a stale entry, and fail below min_mutation_score?"""
    hidden = new_course.source_dir / DOC_ID / "hidden"
    saved = {p.name: p.read_text() for p in hidden.glob("*.*")}
    shape_only = saved["test_softmax.py"].split("\n\n\n@points(2)")[0] + "\n"
    (hidden / "test_softmax.py").write_text(shape_only)
    (hidden / "test_classifier.py").unlink()
    (hidden / "examples").rename(tmp_path / "examples")
    (hidden / "grading.toml").write_text(saved["grading.toml"].replace("min_mutation_score = 0", "min_mutation_score = 99")
                                         .replace('"classifier", ', "") + (
        '\n[[check.harmless]]\ncell = "softmax"\ncode = "shifted = x - x.max(dim=dim, keepdim=True).values"\n'
        'mutation = "`-` -> `+`"\nwhy = "a test of this guide"\n'
        '\n[[check.harmless]]\ncell = "softmax"\ncode = "no such line"\nmutation = "deleted line"\nwhy = "stale"\n'))
    try:
        lines = []
        report = check_assignment(new_course, DOC_ID, say=lines.append)
    finally:
        for name, text in saved.items():
            (hidden / name).write_text(text)
        (tmp_path / "examples").rename(hidden / "examples")
    text = "\n".join(lines)
    survivors = [r for r in report.mutants.results if r.status == "survived"]
    assert not report.ok and not report.problems and survivors, text
    first = survivors[0].mutant
    assert f"SURVIVED #{first.number} cell {first.cell} ({first.cell_id}), line {first.line}: {first.mutation}" in text
    assert re.search(r"^      \+ ", text, re.M) and re.search(r"^      - ", text, re.M)  # the diff under each survivor
    assert report.mutants.count("harmless") == 1 and "1 judged harmless" in text
    assert "'no such line', deleted line: matches no mutant" in text
    assert "(below min_mutation_score 99%)" in text
    html = (new_course.root / "grades" / DOC_ID / "mutants.html").read_text()
    assert "[[check.harmless]]" in html and "a test of this guide" in html


def test_check_names_a_hidden_test_without_points_in_one_line(new_course):
    """Is a hidden test without @points reported by check as one line with its file and line, before grading?"""
    path = new_course.source_dir / DOC_ID / "hidden" / "test_extra.py"
    path.write_text("def test_forgot_points(submission):\n    pass\n")
    try:
        lines = []
        report = check_assignment(new_course, DOC_ID, mutants=False, say=lines.append)
    finally:
        path.unlink()
    assert not report.ok
    assert report.problems == [f"{path}:1: test_forgot_points has no @points(n); every hidden test needs one "
                               "(from autograder.judge import points)"]


def _blocks():
    return [(lang, label or "", body) for _, lang, label, body in FENCE.findall(GUIDE.read_text())]


def test_the_guide_code_blocks_are_the_scaffold():
    """Is every code block of docs/authoring.md labelled with a scaffold file exactly that file (a notebook cell
    exactly that cell), every scaffold file shown, and every other labelled block an excerpt of the named file?"""
    files = scaffold.render(DOC_ID)
    cells = json.loads(files[f"{DOC_ID}.ipynb"])["cells"]
    shown = set()
    for lang, label, body in _blocks():
        if label.startswith(f"{DOC_ID}/{DOC_ID}.ipynb, cell "):
            cell = cells[int(label.rsplit(" ", 1)[1]) - 1]
            assert (lang == "markdown") == (cell["cell_type"] == "markdown") and "".join(cell["source"]) == body, label
            shown.add(f"{DOC_ID}.ipynb")
        elif label.startswith(f"{DOC_ID}/"):
            name = label.removeprefix(f"{DOC_ID}/")
            assert files[name].rstrip("\n") == body, f"{label} differs from what `new` writes"
            shown.add(name)
        elif label:
            assert body in (REPO / label).read_text(), f"{label} does not hold the guide's excerpt"
    assert shown == set(files)


def test_the_guide_commands_and_keys_exist():
    """Does every command of the guide exist (make targets, CLI commands), and does the guide explain every grading
    setting, [check] key and EXPECT key?"""
    makefile = (REPO / "Makefile").read_text()
    text = GUIDE.read_text()
    for target in set(re.findall(r"(?:^|`)make (\w+)", text, re.M)):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target}"
    for command in set(re.findall(r"python -m autograder (\w+)", text)):
        assert command in {"new", "check", "release", "grade", "export", "collect"}, command
    import dataclasses

    from autograder.config import GradingSettings

    for key in [f.name for f in dataclasses.fields(GradingSettings)] + ["min_mutation_score", "max_mutants",
                                                                     "check.harmless", "says", "never_says"]:
        assert f"`{key}`" in text or f"[{key}]" in text or f" {key}`" in text, key
    assert "](docs/authoring.md)" in (REPO / "README.md").read_text()


def test_authoring_errors_reach_the_cli_as_one_line(new_course, capsys):
    """Does a release of a notebook with a marker typo end with one line naming file, cell and line?"""
    path = new_course.source_dir / DOC_ID / f"{DOC_ID}.ipynb"
    original = path.read_text()
    path.write_text(original.replace("# TEST softmax (1 point)", "# TSET softmax (1 point)"))
    try:
        assert main(["--course", str(new_course.root), "release", "--assignment", DOC_ID]) == 2
    finally:
        path.write_text(original)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(rf"{DOC_ID}\.ipynb: cell 5: line 1: unknown marker 'TSET'", err)


def test_an_unknown_check_key_is_named(new_course):
    """Is a misspelt [check] key in grading.toml an error naming it?"""
    from autograder.assignment import load_assignment

    toml = new_course.source_dir / DOC_ID / "hidden" / "grading.toml"
    original = toml.read_text()
    toml.write_text(original.replace("min_mutation_score", "min_mutation_scor"))
    try:
        with pytest.raises(CourseError, match=r"grading\.toml: \[check\]: unknown key 'min_mutation_scor'"):
            load_assignment(new_course, DOC_ID)
    finally:
        toml.write_text(original)


def test_a_probe_file_that_does_not_load_is_one_line(tmp_path):
    """Does a hidden/probes.py that raises while the sandbox loads it stop the lane with one line naming file and line?"""
    from autograder.sandbox.host.launcher import Zygote

    probes = tmp_path / "probes.py"
    probes.write_text("from autograder.sandbox.inside.probekit import probe\n\n\n@probe\ndef f(student):\n"
                      "    return 1\n\n\nundefined_name + 1\n")
    with pytest.raises(RuntimeError) as caught:
        Zygote([probes])
    assert str(caught.value) == (f"{probes}:9: NameError: name 'undefined_name' is not defined "
                                 "(while the sandbox loaded the probes)")


@pytest.mark.slow
def test_the_new_assignment_grades_a_correct_and_a_wrong_submission(new_course):
    """Submitted as students would (the solutions notebook; the release with a softmax that ignores dim pasted in),
    does make grade give the first every point and cost the second the other-dims test only?"""
    from autograder.coordinator.check import with_cell
    from autograder.coordinator.grade import grade_assignment

    notebook_name = f"{DOC_ID}.ipynb"
    for student, data in (("ann", (new_course.solution_dir / DOC_ID / notebook_name).read_bytes()),
                          ("ben", with_cell((new_course.release_dir / DOC_ID / notebook_name).read_bytes(),
                                            (new_course.source_dir / DOC_ID / "hidden" / "examples" /
                                             "wrong_dim_ignored.py").read_text()))):
        path = new_course.submitted_dir / student / DOC_ID / notebook_name
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
    results = {r.student_id: r for r in grade_assignment(new_course, DOC_ID, quiet=True)}
    assert results["ann"].score == results["ann"].max_score == 13
    lost = [t.name for t in results["ben"].tests if t.score < t.max_score]
    assert lost == ["test_softmax.py::test_softmax_along_other_dims"]
    assert (new_course.root / "grades" / DOC_ID / "feedback" / "ben.html").is_file()


def test_a_hidden_test_the_reference_fails_is_named_by_file_and_line(new_course):
    """When a hidden test is wrong (a misspelt name, a bug in the test), does check name the test's file and line,
    one line each, and stop before the mutants?"""
    path = new_course.source_dir / DOC_ID / "hidden" / "test_extra.py"
    path.write_text("from autograder.judge import points, seeded\n\n\n@points(1)\ndef test_typo(submission):\n"
                    "    submission.call(\"softmx\", seeded(1, (2, 2)))\n\n\n@points(1)\ndef test_bug(submission):\n"
                    "    got = submission.call(\"softmax\", seeded(1, (2, 2)))\n    got[\"output\"]\n")
    try:
        report = check_assignment(new_course, DOC_ID, say=lambda *_: None)
    finally:
        path.unlink()
    assert report.mutants is None and not report.ok
    problems = "\n".join(report.problems)
    assert f"{path}:4: test_extra.py::test_typo: ERROR: Your code does not follow the assignment's contract: your " \
           "notebook does not define `softmx`" in problems
    assert f"{path}:12: test_extra.py::test_bug: GRADER_ERROR" in problems


def test_a_reference_that_fails_writes_no_grade_though_the_class_started(new_course):
    """The class starts on the other lanes while one lane checks the reference: when the reference
    then fails a hidden test, does grading stop naming it, with no report, feedback or score sheet
    written for anyone?"""
    from autograder.coordinator.grade import grade_assignment

    path = new_course.source_dir / DOC_ID / "hidden" / "test_extra.py"
    path.write_text("from autograder.judge import points\n\n\n@points(1)\ndef test_never(submission):\n"
                    "    assert False, 'a hidden test that nothing passes'\n")
    out = new_course.root / "grades" / DOC_ID
    notebook_name = f"{DOC_ID}.ipynb"
    students = [f"late{i}" for i in range(4)]
    for student in students:
        folder = new_course.submitted_dir / student / DOC_ID
        folder.mkdir(parents=True)
        (folder / notebook_name).write_bytes((new_course.solution_dir / DOC_ID / notebook_name).read_bytes())
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} if out.exists() else {}
    try:
        with pytest.raises(CourseError, match="test_never"):
            grade_assignment(new_course, DOC_ID, force=True, lanes=2, quiet=True)
    finally:
        path.unlink()
        for student in students:
            for p in (new_course.submitted_dir / student).rglob("*"):
                if p.is_file():
                    p.unlink()
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} if out.exists() else {}
    assert not any(student in str(p) for p in after for student in students)
    assert {p: t for p, t in after.items() if before.get(p) != t} == {}, "grading wrote files"
