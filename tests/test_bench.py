"""`make bench`: the figures it measures and the verdict it gives on the throughput targets."""
import json

import nbformat

from bench import run as bench
from bench import similarity as similarity_bench
from autograder.config import load
from tests.conftest import REPO, copy_course


def test_targets_verdict_names_what_is_met_missed_and_not_measured():
    """Is a ratio under 11x NOT met, an overhead under 0.25 s and a fidelity within 15% met, and a
    figure missing from the run reported as not measured rather than met?"""
    result = {"ratios": {"per_minute_ours_over_nbgrader": 10.5}, "ours": {"overhead_s": {"mean": 0.2}},
              "scaling": {"large": {"wall_s": 310.0}, "pss_ratio": 1.1}, "fidelity": {"worst_error": 0.12}}
    verdicts = {row["target"]: row["met"] for row in bench.check_targets(result)}
    assert verdicts == {"throughput, ours / nbgrader autograde": False,
                        "speed-test fidelity, worst |measured / k - 1|, k = 2..16": True,
                        "overhead beyond compute per submission, mean (s)": True,
                        "500 submissions, wall time (s)": False,
                        "peak PSS, 500 / 50 submissions": True,
                        "peak RSS, 500 / 50 submissions": None,
                        "similarity check, 500 submissions, wall time (s)": None}


def test_a_small_bench_run_measures_every_submission(tmp_path):
    """On a class of 6 (ours only), does the bench grade all 6, time each one with an overhead no
    larger than its latency, sample the process tree and write the figures it printed?"""
    course = copy_course(tmp_path / "course")
    cfg = load(course)
    out = tmp_path / "results.json"
    result = bench.main(cfg, n=6, out=out, nbgrader=False, scaling=False, fidelity=False)
    ours = result["ours"]
    assert ours["n"] == 6 and len(ours["submissions"]) == 6
    for row in ours["submissions"]:
        assert 0 <= row["overhead_s"] <= row["total_s"], row
    assert ours["usage"]["cpu_s"] > 0 and ours["usage"]["processes"] >= 3  # coordinator, lanes, zygotes
    assert ours["per_minute"] > 0 and ours["startup_s"] is not None
    assert json.loads(out.read_text())["ours"]["wall_s"] == ours["wall_s"]
    assert all(row["met"] is None for row in result["targets"] if "500" in row["target"])


def test_a_small_similarity_bench_times_the_check_and_finds_its_copies(tmp_path):
    """On a class of 20 with two planted copies, does the similarity bench time the check (and
    copydetect's own detector as the baseline), flag both copies and write what it printed?"""
    out = tmp_path / "similarity.json"
    result = similarity_bench.measure(load(REPO), n=20, baseline_n=4, out=out)
    assert result["n"] == 20 and result["pairs"] == 190
    assert result["planted_copies"] == result["planted_copies_flagged"] == 2
    assert result["ours_s"] > 0 and result["ours_cpu_s"] > 0 and result["baseline"]["s"] > 0
    assert json.loads(out.read_text())["ours_s"] == result["ours_s"]


def test_the_nbgrader_baseline_course_is_one_nbgrader_releases(tmp_path):
    """Does `nbgrader generate_assignment` release the baseline's course (Day 41 with its plain-text
    markers, written answers and mark schemes, plus hidden test cells), every hidden check a grade
    cell with points?"""
    from autograder.assignment import load_assignment

    cfg = load(REPO)
    checks, _, _ = bench.make_nbgrader_course(cfg, tmp_path)  # raises, naming its log, if nbgrader refuses
    nb = nbformat.read(tmp_path / "release" / bench.ASSIGNMENT / "transformer.ipynb", as_version=4)
    assert not any("BEGIN MARK SCHEME" in c.source or "BEGIN SOLUTION" in c.source for c in nb.cells)
    source, _, _ = bench.nbgrader_notebook(cfg, load_assignment(cfg, bench.ASSIGNMENT))
    grade_ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("grade")}
    assert checks and all(c.grade_id in grade_ids for c in checks)
