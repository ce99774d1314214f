"""The similarity check (make similarity): planted copies found, starter code and idioms left out.

The corpus (tests/files/similarity/day41_transformer/) holds six independently written correct
solutions of Day 41 (ind_*.py) and four planted copies of four of them (copy_*.py), each with a
disguise: renamed identifiers, cells and methods moved, one bug added, and everything at once.
Each file's cells start with `# %% <grade_id>` and fill the release's solution cells in file order.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image
from copydetect.utils import find_fingerprint_overlap, get_copied_slices

from autograder.assignment import load_assignment
from autograder.config import load
from autograder.coordinator import canonical, dashboard, report, similarity
from autograder.coordinator.grade import grade
from autograder.results import SubmissionResult
from bench.similarity import corpus_cells
from tests.conftest import FILES, copy_course
from tests.test_dashboard import chromium, make_template, offline_violations  # noqa: F401 (chromium: a fixture)

ASSIGNMENT = "day41_transformer"
CORPUS = FILES / "similarity" / ASSIGNMENT
PLANTED = {"copy_renamed": "ind_einsum", "copy_reordered": "ind_bmm", "copy_bug": "ind_unflatten",
           "copy_disguised": "ind_numpy_table"}
INDEPENDENT = sorted(p.stem for p in CORPUS.glob("ind_*.py"))


# -- a class in a private course ---------------------------------------------------------------

def student_notebook(cfg, cells: dict[str, str]):
    """The release notebook with the student's cells. When they name every solution cell (by
    grade_id), they fill the solution cells in the order given, so a student may move cells;
    otherwise each named one replaces its own. Cells with other names are new cells, placed where
    they come; solution cells not given keep the release's starter code."""
    release = nbformat.read(cfg.release_dir / ASSIGNMENT / "transformer.ipynb", as_version=4)
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    slots = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    given = [label for label in cells if label in slots]
    order = iter(given if set(given) == set(slots) else slots)
    extra = [(label, source) for label, source in cells.items() if label not in slots]
    out = []
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in slots:
            label = next(order)
            labels = list(cells)
            before = labels[: labels.index(label)] if label in cells else []
            out += [nbformat.v4.new_code_cell(src) for lab, src in extra if lab in before]
            extra = [(lab, src) for lab, src in extra if lab not in before]
            cell.source = cells.get(label, cell.source)
        out.append(cell)
    nb.cells = out + [nbformat.v4.new_code_cell(source) for _, source in extra]
    return nb


def submit(cfg, student: str, cells: dict[str, str] | None, root: Path | None = None) -> None:
    """Write a notebook into nbgrader's layout (the bare release when cells is None)."""
    path = (root or cfg.submitted_dir) / student / ASSIGNMENT / "transformer.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(student_notebook(cfg, cells or {}), path)


def course_with(tmp_path: Path, students: dict, config: str = ""):
    root = copy_course(tmp_path / "course", with_submissions=False)
    if config:
        with (root / "course_config.py").open("a") as f:
            f.write("\n" + config + "\n")
    cfg = load(root)
    for student, cells in students.items():
        submit(cfg, student, cells)
    return cfg


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """The corpus as one class, with the bare release as one more student, checked once; every
    pair that shares code is listed (min_similarity 0), so that the ranking can be seen whole."""
    students = {p.stem: corpus_cells(p) for p in sorted(CORPUS.glob("*.py"))}
    cfg = course_with(tmp_path_factory.mktemp("class"), {**students, "bare": None},
                      config='SIMILARITY = {"min_similarity": 0.0}')
    return cfg, similarity.check(cfg, ASSIGNMENT, quiet=True)


def pair_of(findings, a: str, b: str):
    return next((p for p in findings.pairs if {p.a.student, p.b.student} == {a, b}), None)


# -- planted copies and false alarms -----------------------------------------------------------

@pytest.mark.parametrize("copy", sorted(PLANTED))
def test_each_planted_copy_is_flagged_above_every_independent_pair(checked, copy):
    """Is each disguised copy (renamed, moved, one bug, all at once) flagged with its source, and
    ranked above every pair that is not a planted copy?"""
    _, findings = checked
    planted = pair_of(findings, copy, PLANTED[copy])
    assert planted is not None and planted.similarity >= findings.settings.threshold, planted
    others = [p for p in findings.pairs if PLANTED.get(p.a.student) != p.b.student
              and PLANTED.get(p.b.student) != p.a.student]
    assert others, "independent solutions share some idioms: the comparison must have something to rank"
    assert planted.similarity > max(p.similarity for p in others)


def test_independent_solutions_raise_no_alarm(checked):
    """Do six correct solutions written independently (same starter code, same contract) stay
    below the threshold, pairwise and against the copies of each other?"""
    _, findings = checked
    flagged = {frozenset((p.a.student, p.b.student)) for p in findings.flagged()}
    assert flagged == {frozenset(pair) for pair in PLANTED.items()}


def test_the_bare_release_matches_nobody(checked):
    """Does a submission that is the unmodified release have nothing of its own and appear in no pair?"""
    _, findings = checked
    assert "bare" in findings.nothing_own
    assert not [p for p in findings.pairs if "bare" in (p.a.student, p.b.student)]


def test_starter_code_is_left_out_and_would_otherwise_alarm(tmp_path):
    """In a class that keeps the whole starter notebook and differs only in causal_mask, is no pair
    flagged, whereas the same class compared without leaving the release out would be?"""
    masks = ["return torch.tril(torch.ones(T, T))",
             "i = torch.arange(T)\n    return (i[:, None] >= i[None, :]).float()",
             "upper = torch.triu(torch.ones(T, T), diagonal=1)\n    return 1 - upper",
             "m = torch.zeros(T, T)\n    for r in range(T):\n        m[r, : r + 1] = 1\n    return m"]
    cfg = course_with(tmp_path, {f"s{i}": {"causal_mask": f"def causal_mask(T):\n    {m}"} for i, m in enumerate(masks)})
    findings = similarity.check(cfg, ASSIGNMENT, quiet=True)
    assert findings.flagged() == []
    release = similarity.release_code(cfg, load_assignment(cfg, ASSIGNMENT), cfg.similarity)
    kept_in = similarity.Release(release.contract, frozenset(), frozenset())  # nothing left out
    assert len(similarity.compare(findings.compared, kept_in, cfg.similarity).flagged()) == len(masks) * (len(masks) - 1) // 2


# -- earlier terms -----------------------------------------------------------------------------

def test_archive_pairs_appear_and_archive_pairs_among_themselves_do_not(tmp_path):
    """With SIMILARITY['archive'] set, is a copy of last term's submission flagged against it, and
    are two archived submissions never paired with each other?"""
    cells = {p.stem: corpus_cells(p) for p in CORPUS.glob("*.py")}
    cfg = course_with(tmp_path, {"kim": cells["copy_renamed"], "lee": cells["ind_bmm"]},
                      config='SIMILARITY = {"archive": "earlier_terms"}')
    archive = cfg.root / "earlier_terms"
    submit(cfg, "2025_ana", cells["ind_einsum"], root=archive)
    submit(cfg, "2025_bo", cells["ind_unflatten"], root=archive)
    submit(cfg, "2025_cy", cells["copy_bug"], root=archive)  # a copy of 2025_bo, last term
    findings = similarity.check(cfg, ASSIGNMENT, quiet=True)
    top = findings.pairs[0]
    assert {top.a.student, top.b.student} == {"archive/2025_ana", "kim"} and top.similarity >= 0.9
    assert not [p for p in findings.pairs if p.a.archived and p.b.archived]
    rows = (cfg.root / "grades" / ASSIGNMENT / similarity.CSV).read_text().splitlines()
    assert rows[1].split(",")[1:3] in (["archive/2025_ana", "kim"], ["kim", "archive/2025_ana"])
    assert "earlier term" in (cfg.root / "grades" / ASSIGNMENT / similarity.HTML).read_text()


def test_a_missing_archive_is_named(tmp_path):
    """Is an archive folder that does not exist an error naming the setting and the folder?"""
    cfg = course_with(tmp_path, {}, config='SIMILARITY = {"archive": "no_such_folder"}')
    with pytest.raises(similarity.CourseError, match="SIMILARITY.*no_such_folder"):
        similarity.check(cfg, ASSIGNMENT, quiet=True)


# -- the same input, the same report -----------------------------------------------------------

def test_the_same_class_gives_the_same_bytes_in_any_process(checked):
    """Run twice by the CLI with different hash seeds (copydetect hashes with hash()), are
    similarity.html and similarity.csv the same bytes as the in-process run?"""
    cfg, _ = checked
    out = cfg.root / "grades" / ASSIGNMENT
    before = {name: (out / name).read_bytes() for name in (similarity.HTML, similarity.CSV)}
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-m", "autograder", "--course", str(cfg.root), "similarity",
                              "--assignment", ASSIGNMENT, "--quiet"], env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stderr
        assert {name: (out / name).read_bytes() for name in before} == before


def test_the_fast_overlap_is_copydetects_measure(checked):
    """For every pair of the class, is the matched code counted for all pairs at once exactly the
    length of copydetect's copied slices for that pair?"""
    _, findings = checked
    codes = [c for c in findings.compared if c.fingerprints]
    overlap = similarity.overlaps(codes, similarity.holders_of(codes), findings.settings.noise_tokens)
    for i, a in enumerate(codes):
        for j, b in enumerate(codes):
            if i != j:
                idx, _ = find_fingerprint_overlap(a.keys, b.keys, a.fingerprints, b.fingerprints)
                slices = get_copied_slices(idx, findings.settings.noise_tokens)
                assert overlap[i, j] == int(np.sum(slices[1] - slices[0])), (a.student, b.student)


# -- the report --------------------------------------------------------------------------------

def test_report_ranks_shows_regions_side_by_side_and_csv_matches(checked):
    """Does similarity.html list the pairs in rank order, show each planted pair's matching regions
    numbered on both sides, and does similarity.csv hold the same ranking?"""
    cfg, findings = checked
    out = cfg.root / "grades" / ASSIGNMENT
    text = (out / similarity.HTML).read_text()
    rows = (out / similarity.CSV).read_text().splitlines()
    assert rows[0].split(",") == similarity.CSV_HEADER
    ranked = [tuple(r.split(",")[1:3]) for r in rows[1:]]
    assert ranked == [(p.a.student, p.b.student) for p in findings.pairs]
    for rank, p in enumerate(findings.pairs[: findings.settings.top], 1):
        assert f'id="pair-{rank}"' in text and f'href="#pair-{rank}"' in text
    first = text.split('id="pair-1"')[1].split("</section>")[0]
    sides = first.split('<div class="side">')[1:]
    assert len(sides) == 2 and all('<b class="tag">1</b>' in side for side in sides)
    assert not offline_violations(text)


@pytest.mark.slow
def test_report_in_a_real_browser(checked, chromium, tmp_path):  # noqa: F811 (the fixture)
    """Opened in headless Chromium, does similarity.html show the matching regions in colour on both
    halves of the screen, and make no network request?"""
    cfg, _ = checked
    shot = tmp_path / "similarity.png"
    page = cfg.root / "grades" / ASSIGNMENT / similarity.HTML
    _, requests = chromium(page.as_uri() + "#pair-1", "--window-size=1400,1600", f"--screenshot={shot}",
                           name="similarity")
    assert requests == []
    screen = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    first_region = np.array([0xff, 0xe3, 0xa3])  # .r0 in the template: region 1 on both sides
    marked = np.abs(screen - first_region).max(-1) <= 6
    half = screen.shape[1] // 2
    assert marked[:, :half].sum() > 3000 and marked[:, half:].sum() > 3000


def test_student_code_is_escaped_in_the_report(tmp_path):
    """Is markup in a student's code and comments shown as text, never as markup?"""
    hostile = corpus_cells(CORPUS / "ind_interleaved.py")
    hostile["causal_mask"] = ('def causal_mask(T):\n    # <img src=x onerror=alert(1)>\n'
                              '    note = "</pre><script>alert(1)</script>"\n    return torch.ones(T, T).tril_()')
    cfg = course_with(tmp_path, {"amy": hostile, "copier": hostile, "other": corpus_cells(CORPUS / "ind_bmm.py")})
    findings = similarity.check(cfg, ASSIGNMENT, quiet=True)
    text = (cfg.root / "grades" / ASSIGNMENT / similarity.HTML).read_text()
    assert findings.pairs[0].similarity == 1.0
    assert "<script>" not in text and "<img" not in text and "&lt;script&gt;" in text
    assert not offline_violations(text)


def test_unreadable_notebooks_are_named_not_compared(tmp_path):
    """Is a broken notebook listed as not compared, with the reason, while the others are compared?"""
    cfg = course_with(tmp_path, {"ok": corpus_cells(CORPUS / "ind_bmm.py")})
    broken = cfg.submitted_dir / "broken" / ASSIGNMENT / "transformer.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"cells": [')
    findings = similarity.check(cfg, ASSIGNMENT, quiet=True)
    assert [c.student for c in findings.compared] == ["ok"]
    assert findings.skipped and findings.skipped[0][0] == "broken" and "JSON" in findings.skipped[0][1]
    assert "broken" in (cfg.root / "grades" / ASSIGNMENT / similarity.HTML).read_text()


# -- the dashboard, and grades untouched --------------------------------------------------------

def test_make_similarity_links_the_dashboard_and_changes_no_grade(tmp_path):
    """After grading, does make similarity add the top pairs to summary.html, linking each to its
    place in similarity.html, and leave every report and scores.csv byte for byte as they were?"""
    students = {"copy_bug": corpus_cells(CORPUS / "copy_bug.py"), "ind_unflatten": corpus_cells(CORPUS / "ind_unflatten.py"),
                "ind_bmm": corpus_cells(CORPUS / "ind_bmm.py")}
    cfg = course_with(tmp_path, students)
    out = cfg.root / "grades" / ASSIGNMENT
    template = make_template()
    results = []
    for student in sorted(students):
        r = SubmissionResult(student, ASSIGNMENT, "transformer.ipynb", tests=list(template.tests), isolation="level 0")
        report.write_student(out, r)
        results.append(r)
    report.write_assignment(out, load_assignment(cfg, ASSIGNMENT), results, template)
    dashboard.write_summary(out, ASSIGNMENT, results, template, "level 0")
    assert "similarity.html" not in (out / dashboard.SUMMARY).read_text()
    graded = {p: p.read_bytes() for p in [out / "scores.csv", *sorted((out / "reports").glob("*.json"))]}

    assert subprocess.run([sys.executable, "-m", "autograder", "--course", str(cfg.root), "similarity",
                           "--assignment", ASSIGNMENT], capture_output=True, timeout=300).returncode == 0
    summary = (out / dashboard.SUMMARY).read_text()
    assert 'href="similarity.html#pair-1"' in summary and "copy_bug" in summary.split("Similar code")[1]
    assert {p: p.read_bytes() for p in graded} == graded
    assert not offline_violations(summary)


@pytest.mark.slow
def test_make_grade_runs_the_check_when_the_setting_is_on(tmp_path):
    """With GRADING['similarity'] on, does make grade write the similarity report (alice's and bob's
    notebooks are one solution, bob's with a bug), link it from the dashboard, and grade as usual?"""
    root = copy_course(tmp_path / "course")
    text = (root / "course_config.py").read_text()
    (root / "course_config.py").write_text(text.replace('"similarity": False', '"similarity": True'))
    cfg = load(root)
    assert cfg.grading.similarity is True
    results = {r.student_id: r for r in grade(cfg, ASSIGNMENT, quiet=True)[ASSIGNMENT]}
    out = root / "grades" / ASSIGNMENT
    rows = (out / similarity.CSV).read_text().splitlines()
    assert rows[1].split(",")[1:3] == ["alice", "bob"] and rows[1].endswith(",yes")
    assert 'href="similarity.html#pair-1"' in (out / dashboard.SUMMARY).read_text()
    assert results["alice"].score == results["alice"].max_score > results["bob"].score > 0


# -- canonical code ----------------------------------------------------------------------------

RELEASE = canonical.contract([(1, "import torch\n\ndef attend(Q, K):\n    raise NotImplementedError()")])


def tokens(*cells: str) -> tuple[str, ...]:
    return canonical.canonical(list(enumerate(cells, 1)), RELEASE).tokens


def test_chosen_names_are_placeholders_and_the_contract_stays():
    """Do two versions that differ only in the names the student chose give the same tokens, with
    the release's names, its parameters and library names kept?"""
    a = tokens("def attend(Q, K):\n    scores = Q @ K.T\n    best = scores.max(-1)\n    return helper(best)\n",
               "def helper(x):\n    return torch.relu(x)\n")
    b = tokens("def attend(Q, K):\n    s = Q @ K.T\n    top = s.max(-1)\n    return fn(top)\n",
               "def fn(value):\n    return torch.relu(value)\n")
    assert a == b
    assert {"attend", "Q", "K", "torch", "relu", "max"} <= set(a) and not {"scores", "helper", "best"} & set(a)


def test_comments_docstrings_layout_prints_and_dead_stores_do_not_count():
    """Are comments, docstrings, line breaks, annotations, prints, unused assignments, `+=` and
    `.size(i)` all set aside?"""
    plain = tokens("def attend(Q, K):\n    n = Q.shape[0]\n    n = n + 1\n    return K[:n]\n")
    dressed = tokens('def attend(Q, K) -> "tensor":\n    """Attend."""\n    # the batch\n    n: int = Q.size(0)\n'
                     '    debug = n\n    print("n is", n)\n    n += 1   # one more\n    return K[\n        :n]\n')
    assert plain == dressed


def test_moving_cells_functions_and_methods_changes_nothing():
    """Does the order of cells, of top-level functions and of a class's methods leave the tokens unchanged?"""
    f = "def f(x):\n    return x + 1\n"
    g = "def g(y):\n    return y * 2\n"
    cls_a = "class M:\n    def a(self):\n        return 1\n    def b(self):\n        return 2\n"
    cls_b = "class M:\n    def b(self):\n        return 2\n    def a(self):\n        return 1\n"
    assert tokens(f + g, cls_a) == tokens(cls_b, g + f)


def test_lines_map_back_to_the_students_cells():
    """Does every canonical line name the cell and the lines it came from, so a match can be shown there?"""
    canon = canonical.canonical([(4, "# note\nx = 1\n"), (9, "def attend(Q, K):\n    return (Q +\n            K)\n")],
                                RELEASE)
    where = {line.text: (line.cell, line.first, line.last) for line in canon.lines}
    assert where["g = 1"] == (4, 2, 2)
    assert where["def attend(Q, K):"] == (9, 1, 1) and where["return Q + K"] == (9, 2, 3)


def test_a_cell_that_does_not_parse_is_still_compared():
    """Is a cell with a syntax error kept (names made placeholders, attributes kept), not dropped or fatal?"""
    canon = canonical.canonical([(1, "def attend(Q, K:\n    return torch.relu(Q)  # broken\n")], RELEASE)
    assert [line.text for line in canon.lines] == ["def attend(v, v:", "return torch.relu(v)"]
