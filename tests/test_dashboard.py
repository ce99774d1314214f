"""The class dashboard (summary.html) and the pictures on each student's feedback page.

The fast tests build results directly. The slow ones grade the bundled Day 41 examples and open
the pages in a real headless browser (Debian's chromium): the pictures must decode, show the
plot colours on screen, and the pages must make no network request.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import random
import re
import runpy
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from autograder.coordinator import dashboard
from autograder.judge import figures, verdict
from autograder.judge.verdict import ProbeFailure, StudentError
from autograder.results import LoadIssue, Status, SubmissionResult
from autograder.results import TestOutcome as Outcome
from autograder.wire import Invalid

ASSIGNMENT = "day41_transformer"
ISOLATION = "level 3/3 (contained): test"


# -- a class of results, built directly ------------------------------------------------------

def make_template(n_tests: int = 14) -> SubmissionResult:
    families = ["shape", "softmax", "values", "gradient", "speed"]
    tests = [Outcome(name=f"test_{families[i % 5]}.py::test_check_number_{i}_of_the_{families[i % 5]}_family",
                         family=families[i % 5], score=float(1 + i % 3), max_score=float(1 + i % 3),
                         status=Status.PASSED, output="", description=f"Question {i}?")
             for i in range(n_tests)]
    return SubmissionResult("__reference__", ASSIGNMENT, "transformer.ipynb", tests=tests)


def make_class(n: int, seed: int = 0, template: SubmissionResult | None = None) -> list[SubmissionResult]:
    """Mostly graded students, with some who failed to load, raised while loading, or hit limits."""
    template = template or make_template()
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = SubmissionResult(f"s{i:03d}", ASSIGNMENT, "transformer.ipynb", isolation=ISOLATION)
        if i % 17 == 3:
            r.load_error = f"transformer.ipynb: is not valid notebook JSON (student {i})"
            out.append(verdict.every_test(r, template))
            continue
        skill = rng.random()
        for t in template.tests:
            status = Status.PASSED if rng.random() < skill else rng.choice([Status.FAILED, Status.ERROR])
            if i % 23 == 5 and t.family == "speed":
                status = Status.TIMEOUT
            if i % 31 == 7 and t.family == "gradient":
                status = Status.MEMORY
            r.tests.append(Outcome(t.name, t.family, t.max_score if status is Status.PASSED else 0.0, t.max_score,
                                       status, "" if status is Status.PASSED else "your code timed out",
                                       t.description))
        if i % 13 == 2:
            r.load_issues = [LoadIssue(4, "error", "NameError: name 'nn' is not defined")]
        r.timings = {"load_s": 0.05, "tests_s": 1.0 + i / 100, "total_s": round(1.05 + i / 100, 4), "figures_s": 0.1}
        out.append(r)
    return out


class Page(HTMLParser):
    """Every tag with its attributes, and the text of <style> elements."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.styles: list[str] = []
        self._in_style = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)

    def images(self) -> list[dict]:
        return [a for t, a in self.tags if t == "img"]


URL_ATTRIBUTES = {"src", "href", "srcset", "poster", "data", "action", "formaction", "background", "xlink:href",
                  "ping", "manifest", "codebase", "cite", "longdesc", "lowsrc", "dynsrc"}


def offline_violations(text: str) -> list[str]:
    """Everything in a page that could make a browser fetch something: external or absolute URLs,
    scripts, stylesheets, frames, objects, CSS url(...) and @import, meta refresh, <base>."""
    page = Page(text)
    bad = []
    for tag, attrs in page.tags:
        if tag in ("script", "link", "iframe", "frame", "object", "embed", "base", "applet", "audio", "video",
                   "source", "track", "portal"):
            bad.append(f"<{tag}>")
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            bad.append("<meta http-equiv=refresh>")
        for name, value in attrs.items():
            value = (value or "").strip()
            if name.startswith("on"):
                bad.append(f"<{tag} {name}=...>")
            if name == "style" and re.search(r"url\s*\(|@import", value, re.I):
                bad.append(f"<{tag} style=url(...)>")
            if name not in URL_ATTRIBUTES:
                continue
            if name == "src" and tag == "img":
                if not value.startswith("data:image/png;base64,"):
                    bad.append(f"<img src={value[:60]!r}>")
            elif name == "href" and tag == "a":
                # a plain relative link (to a feedback page) fetches nothing unless clicked, and
                # then only a local file next to this one
                if re.match(r"^[a-z][a-z0-9+.-]*:|^//|^/|\\", value, re.I) or ".." in value:
                    bad.append(f"<a href={value[:60]!r}>")
            else:
                bad.append(f"<{tag} {name}={value[:60]!r}>")
    for css in page.styles:
        if re.search(r"url\s*\(|@import|@font-face", css, re.I):
            bad.append("<style> with url(), @import or @font-face")
    return bad


def decode_png_data_uri(src: str) -> Image.Image:
    assert src.startswith("data:image/png;base64,")
    data = base64.b64decode(src.split(",", 1)[1], validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    return image


# -- the dashboard, fast -----------------------------------------------------------------------

def test_summary_has_headline_plots_slowest_and_problems(tmp_path):
    """Does summary.html hold the headline numbers, two decodable plots, the 10 slowest and every problem?"""
    template = make_template()
    results = make_class(60, template=template)
    path = dashboard.write_summary(tmp_path / ASSIGNMENT, ASSIGNMENT, results, template, ISOLATION)
    assert path == tmp_path / ASSIGNMENT / "summary.html"
    text = path.read_text()
    page = Page(text)
    images = page.images()
    assert len(images) == 2 and all(img.get("alt") for img in images)
    for img in images:
        image = decode_png_data_uri(img["src"])
        assert image.width > 300 and image.height > 150
    assert not offline_violations(text)

    scores = [r.score for r in results]
    plain = html.unescape(re.sub(r"<[^>]+>", " ", text))
    assert ISOLATION in plain and "60" in plain
    assert f"{np.mean(scores):.1f}" in plain and f"{np.median(scores):g}" in plain
    assert f"{template.max_score:g}" in plain
    for t in template.tests:  # every hidden test, by name, in the table under the chart
        assert t.name in plain

    slow_section = text[text.index("Slowest submissions"):text.index("Load errors and timeouts")]
    listed = re.findall(r'href="feedback/(s\d+)\.html"', slow_section)
    expected = [r.student_id for r in sorted(results, key=lambda r: -r.timings.get("total_s", -1))][:10]
    assert listed == expected

    problems = text[text.index("Load errors and timeouts"):text.index("Every student")]
    for r in results:
        bad = r.load_error or r.load_issues or any(t.status in dashboard.PROBLEMS for t in r.tests)
        assert (f'href="feedback/{r.student_id}.html"' in problems) == bool(bad), r.student_id
    counts = dict((kind, (students, tests)) for kind, students, tests in dashboard.problem_counts(results))
    assert counts["TIMEOUT"][0] == sum(1 for r in results if not r.load_error and
                                       any(t.status is Status.TIMEOUT for t in r.tests)) > 0
    load_errors = [r for r in results if r.load_error]
    assert counts["notebook could not be graded (load error)"] == (len(load_errors), len(template.tests) * len(load_errors))
    assert len(load_errors) > 0
    assert counts["MEMORY"][0] > 0 and counts["cells raised while loading"][0] > 0
    assert not list(path.parent.glob(".summary.html.*"))  # written atomically: no temporary left


def test_pass_rates_are_per_test_hardest_first():
    """Is each hidden test's pass rate the share of all students who passed it, hardest first?"""
    template = make_template(6)
    results = make_class(30, template=template)
    rates = dashboard.pass_rates(results, template)
    assert [r["rate"] for r in rates] == sorted(r["rate"] for r in rates)
    for row in rates:
        passed = sum(1 for r in results for t in r.tests if t.name == row["name"] and t.status is Status.PASSED)
        assert row["passed"] == passed and row["rate"] == pytest.approx(passed / 30)
    assert dashboard.test_label("test_softmax.py::test_sdpa_rows_sum_to_one") == "softmax: sdpa_rows_sum_to_one"


def test_summary_escapes_what_students_wrote(tmp_path):
    """Is a load error or a test output with HTML in it shown as text, not markup?"""
    template = make_template(3)
    evil = '<img src="http://evil.example/x.png" onerror="alert(1)"><script>alert(2)</script>'
    results = make_class(5, template=template)
    results[0].load_issues = [LoadIssue(1, "error", evil)]
    results[1] = verdict.every_test(SubmissionResult("s001", ASSIGNMENT, "t.ipynb", load_error=evil), template)
    text = dashboard.write_summary(tmp_path, ASSIGNMENT, results, template, evil).read_text()
    assert "<script>" not in text and "evil.example/x.png\" onerror" not in text
    assert "&lt;script&gt;alert(2)" in text and "&lt;img src=" in text
    assert not offline_violations(text)


def test_summary_with_no_students(tmp_path):
    """Does an assignment nobody submitted still get a summary page?"""
    text = dashboard.write_summary(tmp_path, ASSIGNMENT, [], make_template(), ISOLATION).read_text()
    assert "No submissions." in text and not Page(text).images()


def test_summary_lists_every_student_with_a_link_to_their_feedback(tmp_path):
    """Does the dashboard have a table of every student, each linking their feedback page, with the
    score and what went wrong, and does a folder that could not be graded appear with its reason?"""
    from autograder.coordinator.discover import NotGraded

    template = make_template()
    results = make_class(20, template=template)
    odd = NotGraded("submitted/bob smith/day41_transformer", "bob smith", "the folder name 'bob smith' is not a "
                    "valid student id: it contains a space; student ids are one word")
    text = dashboard.write_summary(tmp_path, ASSIGNMENT, results, template, ISOLATION, not_graded=[odd]).read_text()
    table = text[text.index("Every student"):]
    assert re.findall(r'href="feedback/(s\d+)\.html"', table) == [r.student_id for r in results]
    plain = html.unescape(re.sub(r"<[^>]+>", " ", table))
    broken = next(r for r in results if r.load_error)
    assert "not valid notebook JSON" in plain and f"{broken.score:g}" in plain
    not_graded = html.unescape(re.sub(r"<[^>]+>", " ", text[text.index('id="not-graded"'):text.index("Every student")]))
    assert "submitted/bob smith/day41_transformer" in not_graded and "contains a space" in not_graded
    assert "1 folder in submitted/ could not be graded" in html.unescape(re.sub(r"<[^>]+>", "", text))
    assert not offline_violations(text)


def test_a_later_dashboard_still_lists_the_folders_not_graded(tmp_path):
    """When the dashboard is rewritten from what is on disk (make similarity does this), are the
    folders the grading run could not grade read back from scores.csv, spaces in names and all?"""
    from types import SimpleNamespace

    from autograder.coordinator import report
    from autograder.coordinator.discover import NotGraded

    template = make_template()
    odd = [NotGraded("submitted/bob smith/day41_transformer", "bob smith", "the folder name 'bob smith' is not a "
                     "valid student id: it contains a space"),
           NotGraded("submitted/eve", "eve", "is a link, not a folder; links are never followed")]
    a = SimpleNamespace(settings=SimpleNamespace(families=()))
    report.write_assignment(tmp_path, a, make_class(3, template=template), template, odd)
    assert sorted(report.not_graded_rows(tmp_path), key=lambda n: n.name) == odd


def test_feedback_says_a_load_error_once(tmp_path):
    """On the feedback page of a notebook that never loaded, is the load error shown once, not once
    per hidden test?"""
    from autograder.coordinator import report

    template = make_template(39)
    message = "transformer.ipynb: is not valid notebook JSON (line 472, column 3: Expecting ',' delimiter)"
    r = verdict.every_test(SubmissionResult("dave", ASSIGNMENT, "transformer.ipynb", load_error=message), template)
    page = report.render_feedback(r)
    assert html.unescape(page).count("Expecting ',' delimiter") == 1
    assert page.count("not run (see above)") == len(template.tests)


def test_summary_cost_does_not_grow_per_student_in_pictures(tmp_path, monkeypatch):
    """Is the dashboard cheap enough to write on every run: for 500 students as for 50, the same
    two pictures (a histogram and a pass-rate chart) and one table row per student, never a
    picture per student? (Counted, not timed: a wall-clock bound would be flaky on a shared machine.)"""
    template = make_template(40)
    drawn = []
    real = dashboard._png
    monkeypatch.setattr(dashboard, "_png", lambda fig: drawn.append(1) or real(fig))
    pages = {}
    for n in (50, 500):
        drawn.clear()
        results = make_class(n, template=template)
        pages[n] = (dashboard.write_summary(tmp_path / str(n), ASSIGNMENT, results, template, ISOLATION).read_text(),
                    len(drawn))
    assert pages[50][1] == pages[500][1] == 2
    for n, (text, _) in pages.items():
        assert len(re.findall(r'href="feedback/s\d+\.html"', text[text.index("Every student"):])) == n


def test_offline_check_catches_what_fetches():
    """Does the offline check used here flag each way a page could fetch something?"""
    for snippet in ['<img src="http://x/y.png">', '<img src="//x/y.png">', '<script>1</script>',
                    '<link rel="stylesheet" href="a.css">', '<a href="https://x">x</a>', '<iframe src="a.html">',
                    '<div style="background:url(a.png)">', '<style>@import "a.css";</style>',
                    '<img src="data:image/png;base64,AAAA" onload="x()">', '<a href="/etc/passwd">x</a>']:
        assert offline_violations(f"<html><body>{snippet}</body></html>"), snippet
    assert not offline_violations('<a href="feedback/alice.html">alice</a><img src="data:image/png;base64,AAAA">')


# -- the pictures, fast (fake handles: no worker) ----------------------------------------------

ENTRIES = [
    {"title": f"Attention weights, head {h + 1} (query × key)", "probe": "mha",
     "args": {"seed": 0, "d_model": 16, "num_heads": 2, "B": 1, "T_q": 6, "T_k": 6}, "key": "weights",
     "index": [0, h], "kind": "heatmap", "xlabel": "key position", "ylabel": "query position"} for h in range(2)
] + [{"title": "Positional encoding", "probe": "positional", "args": {"seed": 0, "d_model": 16, "T": 32, "B": 1},
      "key": "from_zeros", "index": [None, 0], "kind": "heatmap", "cmap": "RdBu_r", "symmetric": True}]


def reference_answers() -> dict:
    g = torch.Generator().manual_seed(0)
    return {"mha": {"output": torch.randn(1, 6, 16, generator=g),
                    "weights": torch.softmax(torch.randn(1, 2, 6, 6, generator=g), -1)},
            "positional": {"from_zeros": torch.randn(32, 1, 16, generator=g)}}


class Fake:
    """A submission or reference handle that answers from a table: a value, or an exception to raise."""

    def __init__(self, answers: dict):
        self.answers, self.calls = answers, []

    def probe(self, name, **args):
        self.calls.append(name)
        answer = self.answers[name]
        if isinstance(answer, Exception):
            raise answer
        return answer


def checked(entries=ENTRIES):
    return [figures._check_entry(dict(e), f"ENTRIES[{i}]") for i, e in enumerate(entries)]


def test_pictures_of_correct_code_show_both_sides():
    """Does correct code get one PNG per entry, both heatmaps drawn, no note?"""
    pictures = figures.render(checked(), Fake(reference_answers()), Fake(reference_answers()))
    assert [p["title"] for p in pictures] == [e["title"] for e in ENTRIES]
    for p in pictures:
        assert p["note"] == "" and "yours" in p["alt"]
        image = decode_png_data_uri("data:image/png;base64," + p["png_b64"])
        assert image.width > 400 and image.height > 200


def test_a_remembered_colour_bar_draws_the_same_picture(monkeypatch):
    """Is a picture whose colour bar was kept from an earlier student the same, pixel for pixel,
    as one drawn from scratch, and does a new scale draw a new bar?"""
    import numpy as np

    entry = checked(ENTRIES[:1])[0]
    want = np.random.default_rng(0).random((6, 6))
    monkeypatch.setattr(figures, "_PLOTS", {})
    fresh = figures.draw(entry, want * 0.9, want)
    other = figures.draw(entry, want * 3.0, want)
    again = figures.draw(entry, want * 0.9, want)
    assert again == fresh and other != fresh
    (plot,) = figures._PLOTS.values()
    assert len(plot.bars) == 2


def test_picture_of_code_that_raised_says_so():
    """Does a student whose code raised get the reference's picture and a note saying what was raised?"""
    error = StudentError({"type": "NotImplementedError", "message": ""})
    student = Fake({"mha": error, "positional": error})
    pictures = figures.render(checked(), student, Fake(reference_answers()))
    for p in pictures:
        assert "your code raised NotImplementedError" in p["note"]
        assert "reference's only" in p["alt"]
        decode_png_data_uri("data:image/png;base64," + p["png_b64"])
    assert student.calls == ["mha", "positional"]  # one call per probe and arguments, not per picture


@pytest.mark.parametrize("value, says", [
    (None, "expected a Tensor, got NoneType"),
    ([[0.5] * 6] * 6, "expected a Tensor, got list"),
    (Invalid("a Tensor subclass (Sneaky) was sent"), "Tensor subclass"),
    (torch.zeros(1, 2, 6, 5), "expected shape (1, 2, 6, 6), got (1, 2, 6, 5)"),
    (torch.zeros(2, 6, 6), "expected shape (1, 2, 6, 6)"),
])
def test_picture_is_drawn_only_from_a_tensor_of_the_reference_shape(value, says):
    """Is anything but a plain Tensor of the reference's shape refused, with a note that says why?"""
    answers = reference_answers()
    student = Fake({**answers, "mha": {"weights": value}})
    pictures = figures.render(checked(ENTRIES[:1]), student, Fake(answers))
    assert says in pictures[0]["note"] and "reference's only" in pictures[0]["alt"]


def test_tensor_subclass_is_refused():
    """Is a torch.Tensor subclass (which could override indexing or conversion) refused?"""
    class Sneaky(torch.Tensor):
        pass

    answers = reference_answers()
    sneaky = answers["mha"]["weights"].clone().as_subclass(Sneaky)
    pictures = figures.render(checked(ENTRIES[:1]), Fake({**answers, "mha": {"weights": sneaky}}), Fake(answers))
    assert "expected a Tensor, got Sneaky" in pictures[0]["note"]


def test_not_a_dict_and_nan_values():
    """A probe answer that is not a dict is refused; NaN values are drawn blank, with a note."""
    answers = reference_answers()
    pictures = figures.render(checked(ENTRIES[:1]), Fake({"mha": "weights"}), Fake(answers))
    assert "expected a Tensor" in pictures[0]["note"]
    weights = answers["mha"]["weights"].clone()
    weights[0, 0, 2, 3] = float("nan")
    pictures = figures.render(checked(ENTRIES[:1]), Fake({"mha": {"weights": weights}}), Fake(answers))
    assert "1 of your 36 values are NaN or infinite" in pictures[0]["note"] and "yours" in pictures[0]["alt"]


def test_a_timeout_stops_asking_the_student():
    """After a timeout, is the student's worker left alone for the remaining pictures?"""
    student = Fake({"mha": ProbeFailure(verdict.probe_timeout(30)), "positional": ProbeFailure(verdict.probe_timeout(1))})
    pictures = figures.render(checked(), student, Fake(reference_answers()))
    assert student.calls == ["mha"]
    assert "did not finish within 30 s" in pictures[0]["note"]
    assert "earlier picture" in pictures[2]["note"]


def test_index_null_keeps_an_axis():
    """Does "index": [null, 0] pick [:, 0], as the positional encoding entry needs?"""
    entry = checked()[2]
    want, shape = figures.reference_value(entry, Fake(reference_answers()))
    assert shape == (32, 1, 16) and want.shape == (32, 16)
    assert np.array_equal(want, reference_answers()["positional"]["from_zeros"][:, 0].double().numpy())


def test_reference_problems_are_the_instructors():
    """Does a broken entry or a failing reference raise FigureError instead of blaming a student?"""
    with pytest.raises(figures.FigureError, match="no tensor under 'weights'"):
        figures.render(checked(), Fake({}), Fake({"mha": {"output": torch.zeros(1)}}))
    with pytest.raises(figures.FigureError, match="2-D"):
        figures.render(checked([{**ENTRIES[0], "index": [0]}]), Fake({}), Fake(reference_answers()))
    with pytest.raises(figures.FigureError, match="failed probe"):
        figures.render(checked(), Fake({}), Fake({"mha": StudentError({"type": "ValueError"})}))


def test_figures_file_is_checked(tmp_path):
    """Does a malformed hidden/figures.py fail loudly, naming the entry, and a missing one mean no pictures?"""
    assert figures.load_entries(tmp_path) == []
    for bad, says in [("FIGURES = {}", "a list"), ("FIGURES = [{'title': 't'}]", "needs 'probe'"),
                      ("FIGURES = [dict(title='t', probe='p', key='k', kind='pie')]", "kind 'pie'"),
                      ("FIGURES = [dict(title='t', probe='p', key='k', kind='heatmap', index=[slice(0)])]", "index"),
                      ("FIGURES = [dict(title='t', probe='p', key='k', kind='heatmap', args={'x': object()})]",
                       "JSON"),
                      ("FIGURES = [dict(title='t', probe='p', key='k', kind='heatmap', colour='red')]", "unknown"),
                      ("FIGURES = [dict(title='t', probe='p', key='k', kind='heatmap', cmap='nope')]", "colour map"),
                      ("raise ValueError('oops')", "could not be run")]:
        (tmp_path / "figures.py").write_text(bad)
        with pytest.raises(figures.FigureError, match=says):
            figures.load_entries(tmp_path)


@pytest.mark.parametrize("assignment", ["day41_transformer", "day42_attention"])
def test_assignments_figures_name_real_probes(assignment):
    """Does each bundled hidden/figures.py load, and name probes and arguments its probes.py has?"""
    import inspect

    hidden = Path(__file__).resolve().parent.parent / "assignments" / assignment / "hidden"
    entries = figures.load_entries(hidden)
    assert entries
    probes = runpy.run_path(str(hidden / "probes.py"))
    for e in entries:
        fn = probes[e["probe"]]
        inspect.signature(fn).bind(None, **e["args"])  # the student namespace, then the arguments


def test_a_picture_costs_under_a_tenth_of_a_second():
    """Once a lane has drawn an entry, does each further picture cost < 0.1 s (no worker here)?"""
    entries = checked()
    figures.render(entries, Fake(reference_answers()), Fake(reference_answers()))  # builds the figures
    started = time.perf_counter()
    for _ in range(5):
        figures.render(entries, Fake(reference_answers()), Fake(reference_answers()))
    assert (time.perf_counter() - started) / (5 * len(entries)) < 0.1


def test_figures_travel_as_json_and_junk_is_dropped():
    """Do figures survive to_dict/from_dict, and is a png_b64 that is not base64 dropped?"""
    r = SubmissionResult("alice", ASSIGNMENT, "t.ipynb",
                         figures=[{"title": "t", "png_b64": "iVBORw0KGgo=", "note": "", "caption": "c", "alt": "a"}])
    assert SubmissionResult.from_dict(json.loads(json.dumps(r.to_dict()))).figures == r.figures
    junk = {**r.to_dict(), "figures": [{"title": "t", "png_b64": '"><script>x</script>', "note": 3}, "x", None]}
    assert SubmissionResult.from_dict(junk).figures == [{"title": "t"}]


# -- graded for real, and seen in a browser (slow) ---------------------------------------------

@pytest.fixture(scope="module")
def graded41(tmp_path_factory):
    from autograder.config import load
    from autograder.coordinator.grade import grade
    from tests.conftest import copy_course

    cfg = load(copy_course(tmp_path_factory.mktemp("course")))
    results = grade(cfg, ASSIGNMENT, quiet=True)[ASSIGNMENT]
    return cfg, {r.student_id: r for r in results}


def feedback(cfg, student: str) -> str:
    return (cfg.root / "grades" / ASSIGNMENT / "feedback" / f"{student}.html").read_text()


@pytest.mark.slow
def test_feedback_pictures_for_alice_and_carol(graded41):
    """Does alice's page show her heatmaps next to the reference's, carol's (the release stub) say what her
    code raised instead, and dave's (unreadable notebook) have no pictures?"""
    cfg, results = graded41
    alice, carol, dave = results["alice"], results["carol"], results["dave"]
    titles = [e["title"] for e in figures.load_entries(cfg.source_dir / ASSIGNMENT / "hidden")]
    assert [f["title"] for f in alice.figures] == titles == [f["title"] for f in carol.figures]
    assert all(f["note"] == "" and "yours" in f["alt"] for f in alice.figures)
    assert all("your code raised NotImplementedError" in f["note"] for f in carol.figures)
    assert dave.figures == [] and "Pictures of your model" not in feedback(cfg, "dave")
    report = json.loads((cfg.root / "grades" / ASSIGNMENT / "reports" / "carol.json").read_text())
    assert report["figures"] == carol.figures

    for student, result in (("alice", alice), ("carol", carol)):
        page = Page(feedback(cfg, student))
        assert "Pictures of your model" in feedback(cfg, student)
        images = [img for img in page.images() if img["src"].startswith("data:image/png")]
        assert len(images) == len(titles)
        for img, figure in zip(images, result.figures):
            assert img["alt"] == figure["alt"]
            picture = decode_png_data_uri(img["src"])
            assert picture.width > 400 and picture.height > 200
        assert not offline_violations(feedback(cfg, student))
    assert "your code raised NotImplementedError" in html.unescape(feedback(cfg, "carol"))
    # alice's side is drawn: her picture has many more coloured pixels than carol's reference-only one
    colourful = [colour_pixels(decode_png_data_uri("data:image/png;base64," + r.figures[0]["png_b64"]))
                 for r in (alice, carol)]
    assert colourful[0] > 1.6 * colourful[1] > 0


def colour_pixels(image: Image.Image) -> int:
    """Pixels that are clearly coloured (not white, grey or black)."""
    a = np.asarray(image.convert("RGB")).astype(int)
    return int(((a.max(-1) - a.min(-1)) > 40).sum())


@pytest.mark.slow
def test_grade_writes_the_summary(graded41):
    """Does grading an assignment write grades/<assignment>/summary.html?"""
    cfg, results = graded41
    text = (cfg.root / "grades" / ASSIGNMENT / "summary.html").read_text()
    assert all(f'feedback/{s}.html' in text for s in ("bob", "carol", "dave"))  # slow or in trouble


# -- the browser -------------------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
                  "--disable-extensions", "--hide-scrollbars", "--mute-audio",
                  "--host-resolver-rules=MAP * ~NOTFOUND"]  # and should anything try, it resolves nothing

DECODE_CHECK = """<script>
// 'load' fires only after every image has loaded or failed: count the decoded ones right there,
// synchronously, so --dump-dom never races an unresolved promise.
window.addEventListener('load', () => {
  const images = Array.from(document.images);
  const ok = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute('data-decoded', ok + '/' + images.length);
});
</script>"""


def find_chromium() -> str:
    """Debian's chromium: found, or installed with apt-get when we may; never skipped."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, timeout=900, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], env=env,
                       timeout=1800, check=False)
        path = shutil.which("chromium")
        if path:
            return path
    pytest.fail("this test needs a headless browser: install Debian's chromium "
                "(apt-get install -y --no-install-recommends chromium)")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    binary = find_chromium()
    home = tmp_path_factory.mktemp("chromium")

    def run(url: str, *args: str, name: str) -> tuple[str, list[dict]]:
        """Open url; return the browser's stdout and the requests the page itself made (from a net log)."""
        log = home / f"{name}.netlog.json"
        proc = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={home / name}", f"--log-net-log={log}",
                               *args, url], capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout, page_requests(log)

    return run


def page_requests(netlog: Path) -> list[dict]:
    """URL requests in a Chromium net log that a page made. The browser's own background traffic
    (updates, accounts) has no initiator ("not an origin"); a page opened from a file has "null"."""
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    return [e["params"] for e in log["events"]
            if names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in e.get("params", {})
            and e["params"].get("initiator") != "not an origin"]


def decoded(run, page: Path, name: str) -> tuple[str, list[dict]]:
    """How many of a page's images the browser decoded, on a test-only copy with a checking script."""
    copy = page.with_name(f"{page.stem}.decode-check.html")
    copy.write_text(page.read_text().replace("</body>", DECODE_CHECK + "</body>"))
    try:
        dom, requests = run(copy.as_uri(), "--virtual-time-budget=10000", "--dump-dom", name=name)
    finally:
        copy.unlink()
    found = re.search(r'data-decoded="(\d+)/(\d+)"', dom)
    assert found, "the checking script did not run"
    return found.group(0), requests


@pytest.mark.slow
def test_browser_checks_catch_broken_images_and_fetches(chromium, tmp_path):
    """Control: do the browser checks below see an image that does not decode, and a page's fetch?"""
    page = tmp_path / "control.html"
    page.write_text('<!doctype html><html><body><img src="data:image/png;base64,AAAA" alt="broken">'
                    '<img src="http://127.0.0.1:9/x.png" alt="remote"></body></html>')
    verdict, requests = decoded(chromium, page, "control")
    assert verdict == 'data-decoded="0/2"'
    assert [r["url"] for r in requests] == ["http://127.0.0.1:9/x.png"]


@pytest.mark.slow
def test_summary_in_a_real_browser(graded41, chromium, tmp_path):
    """Opened in headless Chromium, does summary.html decode every plot, show the plots' colours on
    screen, and make no network request?"""
    cfg, results = graded41
    out = tmp_path / ASSIGNMENT
    template = results["alice"]  # full marks: every hidden test, at its points
    path = dashboard.write_summary(out, ASSIGNMENT, list(results.values()), template, template.isolation)
    shutil.copytree(cfg.root / "grades" / ASSIGNMENT / "feedback", out / "feedback")
    text = path.read_text()
    assert not offline_violations(text)
    assert len(Page(text).images()) == 2

    shot = tmp_path / "summary.png"
    _, requests = chromium(path.as_uri(), "--window-size=1100,2400", f"--screenshot={shot}", name="summary")
    assert requests == []
    screen = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    for colour in (dashboard.HIST_COLOUR, dashboard.PASS_COLOUR):
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        on_screen = int((np.abs(screen - rgb).max(-1) <= 8).sum())
        assert on_screen > 2000, f"{colour}: {on_screen} pixels on screen; did the plot decode?"

    verdict, requests = decoded(chromium, path, "summary-decode")
    assert verdict == 'data-decoded="2/2"' and requests == []


@pytest.mark.slow
def test_feedback_pictures_in_a_real_browser(graded41, chromium):
    """Opened in headless Chromium, does alice's feedback page decode every picture and fetch nothing?"""
    cfg, results = graded41
    page = cfg.root / "grades" / ASSIGNMENT / "feedback" / "alice.html"
    verdict, requests = decoded(chromium, page, "feedback-decode")
    n = len(results["alice"].figures)
    assert n and verdict == f'data-decoded="{n}/{n}"' and requests == []
