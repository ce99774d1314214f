"""The class dashboard: grades/<assignment>/summary.html, one page for the instructor.

Headline numbers, the score histogram, each hidden test's pass rate, the slowest submissions,
and every student whose notebook did not load or whose code timed out, ran out of memory,
crashed or printed too much. The plots are PNGs drawn with matplotlib and embedded as data URIs:
the page is one self-contained file that opens offline and fetches nothing (no script, no font,
no stylesheet, no image from anywhere else).

Only the coordinator calls this, after the reports are written; it reads results, never files.
"""
from __future__ import annotations

import base64
import io
import statistics
from collections import Counter
from pathlib import Path

import jinja2

from autograder.coordinator import report
from autograder.results import Status, SubmissionResult

SUMMARY = "summary.html"
PROBLEMS = (Status.TIMEOUT, Status.MEMORY, Status.CRASHED, Status.OUTPUT_LIMIT)
SLOWEST = 10
SIMILAR_ROWS = 10          # the most similar pairs listed, each linking to its place in similarity.html
MAX_PROBLEM_ROWS = 300
HIST_COLOUR = "#3b6fb6"   # the tests (tests/test_dashboard.py) look for these colours in a screenshot
PASS_COLOUR = "#2f9e6e"
FAIL_COLOUR = "#e4e7ec"
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(report.TEMPLATES), autoescape=True,
                          trim_blocks=True, lstrip_blocks=True)


def write_summary(out_dir: Path, assignment_id: str, results: list[SubmissionResult],
                  template: SubmissionResult, isolation: str, *, similar: dict | None = None,
                  not_graded=(), manual: tuple[int, int] = (0, 0)) -> Path:
    """Write out_dir/summary.html (out_dir is grades/<assignment>) atomically; return its path.
    `similar`: the similarity report's top pairs (similarity.top_pairs), linked when given;
    `not_graded`: the folders no report was made for (discover.NotGraded); `manual`: (answers
    still to grade by hand, answers in all), manual.progress."""
    path = Path(out_dir) / SUMMARY
    report.atomic_write_text(path, render_summary(assignment_id, results, template, isolation,
                                                    similar=similar, not_graded=not_graded, manual=manual))
    return path


def render_summary(assignment_id: str, results: list[SubmissionResult], template: SubmissionResult,
                   isolation: str, *, similar: dict | None = None, not_graded=(), manual=(0, 0)) -> str:
    results = sorted(results, key=lambda r: r.student_id)
    most = template.max_score
    scores = [r.score for r in results]
    rates = pass_rates(results, template)
    return _env.get_template("summary.html.j2").render(
        assignment_id=assignment_id, isolation=isolation, isolations=_isolations(results, isolation),
        headline=headline(results, most), max_score=most,
        histogram=_data_uri(score_histogram(scores, most)) if results else "",
        pass_chart=_data_uri(pass_rate_chart(rates)) if rates and results else "",
        rates=rates, slowest=slowest(results), problems=problems(results), flagged=flagged(results),
        problem_counts=problem_counts(results), max_problem_rows=MAX_PROBLEM_ROWS, similar=similar,
        students=student_rows(results, most), not_graded=sorted(not_graded, key=lambda n: n.folder),
        manual_left=manual[0], manual_total=manual[1])


# -- the numbers -------------------------------------------------------------------------------

def headline(results: list[SubmissionResult], most: float) -> dict:
    scores = [r.score for r in results]
    return {
        "students": len(results),
        "loaded": sum(1 for r in results if r.load_error is None),
        "mean": statistics.fmean(scores) if scores else None,
        "median": statistics.median(scores) if scores else None,
        "best": max(scores) if scores else None,
        "full_marks": sum(1 for s in scores if most and s >= most),
        "zero": sum(1 for s in scores if s <= 0),
        "late": sum(1 for r in results if getattr(r, "penalty", 0.0)),
    }


def pass_rates(results: list[SubmissionResult], template: SubmissionResult) -> list[dict]:
    """Each hidden test: how many students passed it, of all students; the hardest first."""
    passed = Counter(t.name for r in results for t in r.tests if t.status is Status.PASSED)
    n = len(results)
    rows = [{"name": t.name, "label": test_label(t.name), "family": t.family, "max_score": t.max_score,
             "passed": passed[t.name], "rate": passed[t.name] / n if n else 0.0}
            for t in template.tests]
    return sorted(rows, key=lambda row: (row["rate"], row["name"]))


def test_label(name: str) -> str:
    """"test_softmax.py::test_sdpa_rows_sum_to_one" reads "softmax: sdpa_rows_sum_to_one"."""
    file, _, test = name.partition("::")
    file = file.removesuffix(".py").removeprefix("test_")
    return f"{file}: {test.removeprefix('test_')}" if test else file


def slowest(results: list[SubmissionResult], n: int = SLOWEST) -> list[SubmissionResult]:
    timed = [r for r in results if isinstance(r.timings.get("total_s"), (int, float))]
    return sorted(timed, key=lambda r: (-r.timings["total_s"], r.student_id))[:n]


def problems(results: list[SubmissionResult]) -> list[dict]:
    """Students whose notebook did not load, whose cells raised, or whose code ran out of a limit."""
    rows = []
    for r in results:
        statuses = Counter(t.status.value for t in r.tests if t.status in PROBLEMS)
        if not (r.load_error or r.load_issues or statuses):
            continue
        what, detail = [], []
        if r.load_error:
            what.append("load error")
            detail.append(_short(r.load_error))
        if r.load_issues:
            what.append(f"{len(r.load_issues)} cell{'s' if len(r.load_issues) != 1 else ''} raised while loading")
            first = r.load_issues[0]
            detail.append(_short(f"cell {first.cell} ({first.status}): {first.message}"))
        if statuses and not r.load_error:  # a notebook that never loaded has every test at its status
            what.append(", ".join(f"{k} {s}" for s, k in sorted(statuses.items())))
            first = next(t for t in r.tests if t.status in PROBLEMS)
            detail.append(_short(f"{test_label(first.name)}: {first.output}"))
        rows.append({"student_id": r.student_id, "score": r.score, "what": "; ".join(what),
                     "detail": " | ".join(detail)})
    return rows


def flagged(results: list[SubmissionResult]) -> list[dict]:
    """One row per flag (judge/source.py) and per structural rule broken, for the instructor."""
    rows = []
    for r in results:
        for f in r.flags:
            where = f"cell {f.get('cell')}" + (f" ({f.get('label')})" if f.get("label") else "") + f", line {f.get('line')}"
            rows.append({"student_id": r.student_id, "where": where, "what": f.get("what", ""),
                         "code": _short(f.get("code", ""), 160), "score": r.score})
        rules = sorted({t.output for t in r.tests if t.status is Status.FORBIDDEN})
        for text in rules:
            rows.append({"student_id": r.student_id, "where": "", "what": "structural rule broken (FORBIDDEN)",
                         "code": _short(text, 240), "score": r.score})
    return rows


def student_rows(results: list[SubmissionResult], most: float) -> list[dict]:
    """Every student, each linking their feedback page: score, lateness and what went wrong."""
    rows = []
    for r in results:
        counts = Counter(t.status.value for t in r.tests if t.status is not Status.PASSED)
        notes = _short(r.load_error, 120) if r.load_error else ", ".join(f"{k} {s}" for s, k in sorted(counts.items()))
        rows.append({"student_id": r.student_id, "score": r.score, "percent": 100 * r.score / most if most else 0.0,
                     "penalty": r.penalty, "submitted_at": r.submitted_at, "notes": notes})
    return rows


def problem_counts(results: list[SubmissionResult]) -> list[tuple[str, int, int]]:
    """(kind, students, tests) for load errors (every test of such a notebook is not run), load
    issues and each limit status."""
    out = [("notebook could not be graded (load error)", sum(1 for r in results if r.load_error),
            sum(len(r.tests) for r in results if r.load_error)),
           ("cells raised while loading", sum(1 for r in results if r.load_issues),
            sum(len(r.load_issues) for r in results))]
    for status in PROBLEMS:
        hit = [sum(1 for t in r.tests if t.status is status) for r in results if r.load_error is None]
        out.append((status.value, sum(1 for k in hit if k), sum(hit)))
    return out


def _isolations(results: list[SubmissionResult], isolation: str) -> list[tuple[str, int]]:
    """Isolation levels recorded in the reports, when any differs from this run's (reused reports,
    a cluster's machines)."""
    seen = Counter(r.isolation for r in results if r.isolation)
    return sorted(seen.items()) if set(seen) - {isolation} else []


def _short(text: str, most: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= most else text[: most - 1] + "…"


# -- the plots ---------------------------------------------------------------------------------

def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=90)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def score_histogram(scores: list[float], most: float) -> bytes:
    import numpy as np

    top = most if most > 0 else max(scores + [1.0])
    bins = np.linspace(0, top, min(20, max(1, int(round(top)))) + 1)
    counts, edges = np.histogram(np.clip(scores, 0, top), bins=bins)
    fig = _figure(7.5, 3.0)
    ax = fig.add_axes((0.08, 0.17, 0.9, 0.75))
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=HIST_COLOUR, edgecolor="white")
    mean, median = float(np.mean(scores)), float(np.median(scores))
    ax.axvline(mean, color="#b42318", linestyle="--", linewidth=1.2, label=f"mean {mean:.3g}")
    ax.axvline(median, color="#222222", linestyle=":", linewidth=1.4, label=f"median {median:.3g}")
    ax.set_xlim(0, top)
    ax.set_xlabel(f"score (points out of {most:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, fontsize=9)
    return _png(fig)


def pass_rate_chart(rates: list[dict]) -> bytes:
    import numpy as np

    labels = [f"{row['label']}  {100 * row['rate']:3.0f}%" for row in rates]
    values = np.array([100 * row["rate"] for row in rates])
    height = 0.7 + 0.24 * len(rates)
    longest = max(len(label) for label in labels)
    width = 9.5
    left = min(0.7, (0.2 + longest * 0.6 * 8 / 72) / width)  # room for the names: 8 pt monospace, 0.6 em a character
    fig = _figure(width, height)
    ax = fig.add_axes((left, 0.45 / height, 0.97 - left, 1 - 0.7 / height))
    y = np.arange(len(rates))
    # Bars as two line collections (one artist each, not a patch per bar): thick lines, butt ends.
    thickness = 0.72 * 0.24 * 72  # points: 72% of a row
    ax.hlines(y, 0, 100, color=FAIL_COLOUR, linewidth=thickness, capstyle="butt")
    ax.hlines(y, 0, values, color=PASS_COLOUR, linewidth=thickness, capstyle="butt")
    ax.set_yticks(y, labels, fontsize=8, fontfamily="DejaVu Sans Mono")
    ax.set_ylim(len(rates) - 0.5, -0.5)  # the hardest test at the top
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who passed (%)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.tick_params(axis="y", length=0)
    ax.spines[["top", "right", "left"]].set_visible(False)
    return _png(fig)
