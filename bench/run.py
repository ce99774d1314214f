"""`make bench`: our grader against `nbgrader autograde`, on one class of Day 41 submissions.

One run builds a class of N notebooks (the bundled examples and variations of them), then:

1. **ours**: `grade_assignment` on a private copy of the course: wall time, submissions per
   minute, per-submission latency and overhead beyond the probes' own compute, peak memory of the
   whole process tree, the isolation level;
2. **nbgrader**: a separate nbgrader course whose notebook carries hidden test cells written
   nbgrader's way (`bench/nbgrader_hidden.py`), `nbgrader autograde` on the same N notebooks;
3. **agreement**: for every student and every hidden check both sides run, the same points;
4. **ours again**, after nbgrader: the throughput ratio takes the mean of ours' two runs, so that
   load that comes and goes on a shared machine during ours' short run does not decide it alone.

`main()` writes `bench/results.json`; work files go to `bench/work/` (git-ignored), replaced by
the next run of the same size, so a run can be inspected afterwards.
"""
from __future__ import annotations

import ast
import copy
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import psutil

from autograder.assignment import Assignment, load_assignment
from autograder.authoring import markers
from autograder.config import CourseConfig, load
from bench.recipes import RECIPES, apply

ASSIGNMENT = "day41_transformer"
HERE = Path(__file__).resolve().parent
HIDDEN_CHECKS = HERE / "nbgrader_hidden.py"  # the nbgrader baseline's hidden tests
BUNDLED = {"alice": "correct", "bob": "bug", "carol": "stub", "dave": "broken"}
# The rest of the class repeats this deck: mostly correct or one bug away, a few stubs and a
# partly done notebook; one notebook in TRUNCATED_EVERY is cut short (its JSON is broken).
DECK = ("edited", "bug", "ok", "edited", "bug", "edited", "partial", "ok", "bug", "edited", "stub", "edited",
        "bug", "ok", "edited", "bug", "edited", "ok", "bug", "edited", "bug", "ok", "edited", "bug", "edited")
TRUNCATED_EVERY = 50
# Hidden checks left out of the comparison, with the reason (none so far: every check coincides).
DROPPED: dict[str, str] = {}
# A sample reads /proc for every process of the tree (~4 ms for the ~28 of a grading run, on the
# cores the run measured uses): every 0.1 s it costs ~4% of a core, every 0.05 s twice that.
SAMPLE_INTERVAL_S = 0.1
PSS_EVERY = 10                               # PSS reads smaps (~2 ms a process): once a second


# -- results -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Student:
    id: str
    kind: str      # correct, bug, partial, stub or broken: what the notebook should earn
    origin: str    # what it was made from


@dataclass
class TreeUsage:
    """What a process tree used. Peaks: RSS counts the pages forked workers share once per
    process, so its sum over-counts; PSS splits shared pages between the processes sharing them.
    cpu_s: user + system seconds of every process in the tree (robust to a busy machine, unlike
    wall time)."""
    rss_mb: float = 0.0
    pss_mb: float | None = None
    processes: int = 0
    samples: int = 0
    cpu_s: float = 0.0


@dataclass
class Distribution:
    mean: float | None
    p50: float | None
    p95: float | None

    @classmethod
    def of(cls, values: list[float]) -> "Distribution":
        if not values:
            return cls(None, None, None)
        return cls(round(statistics.fmean(values), 4), round(_percentile(values, 50), 4),
                   round(_percentile(values, 95), 4))


@dataclass
class OursRun:
    n: int
    lanes: int
    wall_s: float
    startup_s: float | None      # lanes started and the reference graded (its cache written)
    grading_s: float | None      # from then until the last report was written
    finishing_s: float | None    # scores.csv and the rest, after the last report
    per_minute: float
    latency_s: Distribution      # per submission, timings["total_s"]
    overhead_s: Distribution     # per submission, total_s - compute_s; None when compute_s is missing
    usage: TreeUsage
    isolation: dict[str, int]
    submissions: list[dict]      # the raw numbers, one row per submission
    scores: dict[str, dict[str, float]] = field(repr=False)  # student -> hidden test -> points


@dataclass(frozen=True)
class Check:
    """One hidden grade cell of the nbgrader notebook and the hidden test of ours it mirrors."""
    grade_id: str
    test: str          # "test_shape.py::test_sdpa_shapes", as our reports name it
    points: float      # the same on both sides


@dataclass
class NbgraderRun:
    n: int
    wall_s: float                # `nbgrader autograde`, the whole class, one call
    generate_s: float            # `nbgrader generate_assignment`, once (not part of wall_s)
    per_minute: float
    per_notebook_s: float        # wall_s / n
    exit_code: int
    not_graded: list[str]        # notebooks autograde failed on, with no autograded copy (0 points)
    usage: TreeUsage
    removed_cells: list[str]     # cells of the source notebook left out (training, plots)
    checks: list[Check]
    scores: dict[str, dict[str, float]] = field(repr=False)  # student -> grade_id -> points


@dataclass
class Agreement:
    compared: int                # (student, check) pairs
    checks: int
    disagreements: list[dict]


# -- measuring -----------------------------------------------------------------------------------

class TreeSampler:
    """Samples the process tree (this process's descendants, and itself with include_self) in a
    background thread: memory every SAMPLE_INTERVAL_S, PSS every PSS_EVERY samples, and the CPU
    seconds each process has used (a process's last interval before it exits is missed)."""

    def __init__(self, include_self: bool):
        self.include_self = include_self
        self.usage = TreeUsage()
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, create time) -> its user + system seconds
        self._base: dict[tuple[int, float], float] = {}  # the same, for processes already there at the start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        root = psutil.Process()
        while True:
            self._sample(root, with_pss=self.usage.samples % PSS_EVERY == 0)
            if self._stop.wait(SAMPLE_INTERVAL_S):
                break
        # This thread is part of this process; its own CPU time is not the grader's. Nor is what the
        # processes already running at the start (this one, a fork server) had used before it.
        mine = time.thread_time() if self.include_self else 0.0
        self.usage.cpu_s = round(sum(cpu - self._base.get(key, 0.0) for key, cpu in self._cpu.items()) - mine, 2)

    def _sample(self, root: psutil.Process, with_pss: bool) -> None:
        rss = pss = 0
        procs = ([root] if self.include_self else []) + root.children(recursive=True)
        for p in procs:
            try:
                with p.oneshot():
                    cpu = p.cpu_times()
                    key = (p.pid, p.create_time())
                    self._cpu[key] = cpu.user + cpu.system
                    if self.usage.samples == 0:
                        self._base[key] = self._cpu[key]
                    if with_pss:
                        info = p.memory_full_info()
                        rss, pss = rss + info.rss, pss + info.pss
                    else:
                        rss += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        usage = self.usage
        usage.samples += 1
        usage.rss_mb = max(usage.rss_mb, round(rss / 2**20, 1))
        usage.processes = max(usage.processes, len(procs))
        if with_pss:
            usage.pss_mb = max(usage.pss_mb or 0.0, round(pss / 2**20, 1))


def _percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# -- the class -----------------------------------------------------------------------------------

def build_class(cfg: CourseConfig, n: int, submitted: Path, seed: int = 41) -> list[Student]:
    """Write n Day 41 submissions into `submitted/<student>/<assignment>/`, in nbgrader's layout.

    The four bundled examples come first; the rest follow DECK: alice's notebook with harmless
    edits, alice's notebook with one recipe of bench/recipes.py applied (bugs, and correct code
    written differently), stubs, a partly done notebook and a truncated one. Every notebook's bytes
    differ.
    """
    a = load_assignment(cfg, ASSIGNMENT)
    rng = random.Random(seed)
    source = cfg.submitted_dir
    pools = {kind: sorted(name for name, recipe in RECIPES.items() if recipe[0] == kind) for kind in ("ok", "bug")}
    alice = nbformat.read(source / "alice" / ASSIGNMENT / a.notebook, as_version=4)
    carol = nbformat.read(source / "carol" / ASSIGNMENT / a.notebook, as_version=4)
    solution_ids = [_grade_id(c) for c in alice.cells if _is_solution(c)]
    stubs = {_grade_id(c): c.source for c in carol.cells if _is_solution(c)}
    students, used = [], {"ok": 0, "bug": 0}
    for i in range(n):
        if i < len(BUNDLED):
            sid = list(BUNDLED)[i]
            dest = submitted / sid / ASSIGNMENT / a.notebook
            dest.parent.mkdir(parents=True)
            shutil.copyfile(source / sid / ASSIGNMENT / a.notebook, dest)
            students.append(Student(sid, BUNDLED[sid], f"bundled example {sid}"))
            continue
        j = i - len(BUNDLED)
        kind = "broken" if j % TRUNCATED_EVERY == TRUNCATED_EVERY - 1 else DECK[j % len(DECK)]
        sid = f"s{i:03d}"
        nb = copy.deepcopy(alice)
        if kind == "edited":
            origin = "alice + " + _harmless_edits(nb, sid, rng)
            kind = "correct"
        elif kind in ("ok", "bug"):
            recipe = pools[kind][used[kind] % len(pools[kind])]
            used[kind] += 1
            _apply_recipe(nb, recipe, sid)
            origin = f"alice with {recipe}"
            kind = "correct" if kind == "ok" else "bug"
        elif kind == "partial":
            done = rng.randint(2, len(solution_ids) - 2)
            for cell in nb.cells:
                if _is_solution(cell) and solution_ids.index(_grade_id(cell)) >= done:
                    cell.source = stubs[_grade_id(cell)]
            origin = f"alice's first {done} solution cells, the rest left as released"
        elif kind == "stub":
            nb = copy.deepcopy(carol)
            nb.cells.insert(1, nbformat.v4.new_markdown_cell(f"{sid}: I will finish this later."))
            origin = "the release, unmodified but for a markdown cell"
        else:
            text = nbformat.writes(alice)
            _write(submitted / sid / ASSIGNMENT / a.notebook, text[: len(text) * (40 + i % 50) // 100])
            students.append(Student(sid, "broken", "alice, truncated (invalid JSON)"))
            continue
        _write(submitted / sid / ASSIGNMENT / a.notebook, nbformat.writes(nb))
        students.append(Student(sid, kind, origin))
    return students


def _apply_recipe(nb, recipe: str, sid: str) -> None:
    for cell in nb.cells:
        if _is_solution(cell):
            changed = apply(recipe, cell.source)
            if changed is not None:
                cell.source = f"# {sid}: my final version\n" + changed
                return
    raise RuntimeError(f"bench/recipes.py: recipe {recipe!r} matches no solution cell of the reference; update it")


def _harmless_edits(nb, sid: str, rng: random.Random) -> str:
    """Edits that change no answer: a comment, a changed print, a markdown or a scratch cell."""
    done = []
    cell = rng.choice([c for c in nb.cells if _is_solution(c)])
    cell.source = f"# {sid}: checked against the lecture notes\n" + cell.source
    done.append(f"a comment in {_grade_id(cell)}")
    if rng.random() < 0.5:
        imports = next(c for c in nb.cells if c.cell_type == "code" and not _grade_id(c))
        imports.source += f'\nprint("{sid}: torch", torch.__version__)'
        done.append("a print in the imports cell")
    if rng.random() < 0.5:
        nb.cells.insert(rng.randint(1, len(nb.cells)), nbformat.v4.new_markdown_cell(f"**Notes ({sid})**: re-read part 2."))
        done.append("an extra markdown cell")
    if rng.random() < 0.3:
        nb.cells.append(nbformat.v4.new_code_cell(f'print("{sid}:", scaled_dot_product_attention('
                                                  'torch.ones(1, 2, 4), torch.ones(1, 3, 4), torch.ones(1, 3, 4))[1].shape)'))
        done.append("a scratch cell")
    return ", ".join(done)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _grade_id(cell) -> str | None:
    return _nbgrader_meta(cell).get("grade_id")


def _is_solution(cell) -> bool:
    return cell.cell_type == "code" and bool(_nbgrader_meta(cell).get("solution"))


# -- ours ----------------------------------------------------------------------------------------

def prepare_course(cfg: CourseConfig, work: Path, n: int) -> tuple[CourseConfig, list[Student]]:
    """A private copy of the course under `work` (Day 41 and the course settings), with a class of n."""
    course = _fresh_dir(work / "course")
    shutil.copytree(cfg.source_dir / ASSIGNMENT, course / cfg.nbgrader.source_directory / ASSIGNMENT,
                    ignore=shutil.ignore_patterns("__pycache__"))
    # The course's settings, with due dates for this course's one assignment only (a DUE key must
    # name an assignment of the course).
    (course / "course_config.py").write_text((cfg.root / "course_config.py").read_text()
                                             + f"\nDUE = {{{ASSIGNMENT!r}: DUE[{ASSIGNMENT!r}]}}\n")
    course_cfg = load(course)
    return course_cfg, build_class(cfg, n, course_cfg.submitted_dir)


def run_ours(course: CourseConfig) -> OursRun:
    """Grade every submission of the course with our grader, as `grade` does, and measure it."""
    from autograder.coordinator.grade import grade_assignment

    started_wall, started = time.time(), time.perf_counter()
    with TreeSampler(include_self=True) as tree:  # the coordinator is this process
        results = grade_assignment(course, ASSIGNMENT, force=True, quiet=True)
    wall = time.perf_counter() - started

    # Phases from the files the run writes: the reference cache once the reference passed,
    # then one report per submission as each finishes.
    out = course.root / "grades" / ASSIGNMENT
    reference_done = max(filter(None, (_mtime(p) for p in (out / ".reference").glob("*.json"))), default=None)
    last_report = max(filter(None, (_mtime(p) for p in (out / "reports").glob("*.json"))), default=None)

    rows, scores, isolation = [], {}, {}
    for r in results:
        t = r.timings
        overhead = t.get("overhead_s")
        if overhead is None and t.get("compute_s") is not None:
            overhead = round(t["total_s"] - t["compute_s"], 4)
        rows.append({"student": r.student_id, "score": r.score, "max_score": r.max_score,
                     "total_s": t.get("total_s"), "load_s": t.get("load_s"), "tests_s": t.get("tests_s"),
                     "compute_s": t.get("compute_s"), "overhead_s": overhead, "isolation": r.isolation})
        scores[r.student_id] = {test.name: test.score for test in r.tests}
        isolation[r.isolation or "none"] = isolation.get(r.isolation or "none", 0) + 1
    n = len(results)
    latencies = [row["total_s"] for row in rows if row["total_s"] is not None]
    overheads = [row["overhead_s"] for row in rows if row["overhead_s"] is not None]
    settings = load_assignment(course, ASSIGNMENT).settings
    return OursRun(
        n=n, lanes=min(settings.lanes or os.cpu_count() or 1, max(1, n)), wall_s=round(wall, 2),
        startup_s=_span(started_wall, reference_done), grading_s=_span(reference_done, last_report),
        finishing_s=_span(last_report, started_wall + wall), per_minute=round(60 * n / wall, 1),
        latency_s=Distribution.of(latencies),
        overhead_s=Distribution.of(overheads) if len(overheads) == n else Distribution(None, None, None),
        usage=tree.usage, isolation=isolation, submissions=rows, scores=scores)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _span(start: float | None, end: float | None) -> float | None:
    return round(end - start, 2) if start is not None and end is not None else None


# -- the nbgrader baseline -----------------------------------------------------------------------

def hidden_tests(a: Assignment) -> dict[str, tuple[str, float, str]]:
    """function name -> (test name as our reports give it, points, the question it asks)."""
    found = {}
    for path in sorted(a.hidden.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                points = next(float(d.args[0].value) for d in node.decorator_list  # @points(n)
                              if isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == "points")
                doc = (ast.get_docstring(node) or "").splitlines()
                found[node.name] = (f"{path.name}::{node.name}", points, doc[0] if doc else "")
    return found


def hidden_cells(cfg: CourseConfig, a: Assignment) -> tuple[list, list[Check]]:
    """The nbgrader hidden test cells, and the checks they make.

    Each cell mirrors one of our hidden tests (bench/nbgrader_hidden.py names it) and gets the
    same points; the first one also defines the helpers and the reference solution.
    """
    path = HIDDEN_CHECKS
    text = path.read_text()
    lines = text.splitlines()
    ours = hidden_tests(a)
    prelude, cells, checks = None, [], []
    for node in ast.parse(text).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        if node.name == "_ag_make":
            prelude = "\n".join(lines[node.lineno - 1: node.end_lineno])
            prelude = prelude.replace("    # REFERENCE SOLUTION\n", textwrap.indent(_reference_code(a), "    ") + "\n")
            prelude += "\n\n\n_ag = _ag_make()\n"
            continue
        if node.name in DROPPED:
            continue
        if node.name not in ours:
            raise ValueError(f"{path}: {node.name} mirrors no hidden test of {a.id}")
        name, points, question = ours[node.name]
        body = textwrap.dedent("\n".join(lines[node.body[0].lineno - 1: node.end_lineno]))
        grade_id = f"hidden_{node.name}"
        source = (f"# Hidden test ({points:g} points): {question}\n### BEGIN HIDDEN TESTS\n"
                  + (prelude + "\n" if not cells else "") + body + "\n### END HIDDEN TESTS")
        cell = nbformat.v4.new_code_cell(source)
        cell.id = grade_id
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True, "points": points,
                                     "schema_version": 3, "solution": False, "task": False}
        cells.append(cell)
        checks.append(Check(grade_id, name, points))
    return cells, checks


def _reference_code(a: Assignment) -> str:
    """The reference solution's solution cells, without the solution markers."""
    nb = nbformat.read(a.reference_notebook, as_version=4)
    code = []
    for cell in nb.cells:
        if _is_solution(cell):
            code.append("\n".join(line for line in cell.source.splitlines()
                                  if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")))
    return "\n\n".join(code)


def _nbgrader(course: Path, *args: str, log: Path) -> tuple[int, float]:
    """Run the venv's nbgrader in `course`; returns (exit code, seconds)."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.perf_counter()
    with log.open("ab") as f:
        code = subprocess.call([str(bin_dir / "nbgrader"), *args], cwd=course, env=env, stdout=f,
                               stderr=subprocess.STDOUT)
    return code, time.perf_counter() - started


def nbgrader_notebook(cfg: CourseConfig, a: Assignment) -> tuple[nbformat.NotebookNode, list[Check], list[str]]:
    """Day 41's notebook for nbgrader: its plain-text markers written as nbgrader metadata (as
    `make release` does), minus training and plot cells, plus hidden test cells. Returns (notebook,
    checks, removed cells)."""
    nb, _ = markers.prepare(nbformat.read(a.reference_notebook, as_version=4), str(a.reference_notebook))
    skip = set(a.settings.skip_tags)
    removed = [c.get("id", "?") for c in nb.cells if skip.intersection(c.metadata.get("tags", []))]
    nb.cells = [c for c in nb.cells if not skip.intersection(c.metadata.get("tags", []))]
    cells, checks = hidden_cells(cfg, a)
    nb.cells.extend(cells)
    return nb, checks, removed


def make_nbgrader_course(cfg: CourseConfig, course: Path) -> tuple[list[Check], list[str], float]:
    """An nbgrader course with nbgrader_notebook(), released with `nbgrader generate_assignment`.
    Returns (checks, removed cells, seconds generate_assignment took)."""
    a = load_assignment(cfg, ASSIGNMENT)
    nb, checks, removed = nbgrader_notebook(cfg, a)
    _write(course / "source" / ASSIGNMENT / a.notebook, nbformat.writes(nb))
    _write(course / "nbgrader_config.py",
           "c = get_config()  # noqa: F821\n"
           f"c.CourseDirectory.root = {str(course)!r}\n"
           "c.CourseDirectory.course_id = 'bench'\n"
           f"c.CourseDirectory.db_url = {'sqlite:///' + str(course / 'gradebook.db')!r}\n"
           # mark schemes sit in written-answer cells too, as `make release` allows (release.py)
           "c.ClearMarkScheme.enforce_metadata = False\n")
    code, seconds = _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", log=course / "nbgrader.log")
    if code != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed (exit {code}); see {course / 'nbgrader.log'}")
    return checks, removed, seconds


def nbgrader_submission(release, submitted: Path, dest: Path) -> None:
    """The student's notebook as nbgrader expects it: the release notebook of the nbgrader course,
    its solution cells (matched by grade_id) and unmanaged cells (matched by cell id) filled from
    the student's; cells the student added stay after the cell they followed. Cells the nbgrader
    version left out (training, plots) are dropped. A notebook that cannot be read is copied as is."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        student = nbformat.read(submitted, as_version=4)
    except Exception:
        shutil.copyfile(submitted, dest)
        return

    def key(cell):
        gid = _grade_id(cell)
        return ("grade_id", gid) if gid else ("id", cell.get("id"))

    known = {key(c) for c in release.cells}
    matched, extras, anchor = {}, {}, None
    for cell in student.cells:
        k = key(cell)
        if k in known:
            matched[k], anchor = cell, k
        elif not _grade_id(cell):
            extras.setdefault(anchor, []).append(cell)
    cells = list(extras.get(None, []))
    for cell in release.cells:
        k = key(cell)
        cell = copy.deepcopy(cell)
        if k in matched and (_is_solution(cell) or not _nbgrader_meta(cell)):
            cell.source = matched[k].source
        cells.append(cell)
        cells.extend(extras.get(k, []))
    out = copy.deepcopy(release)
    out.cells = cells
    nbformat.write(out, dest)


def run_nbgrader(cfg: CourseConfig, work: Path, students: list[Student], submitted: Path) -> NbgraderRun:
    """`nbgrader autograde`, one call for the whole class, on the same notebooks as ours."""
    from nbgrader.api import Gradebook

    a = load_assignment(cfg, ASSIGNMENT)
    course = _fresh_dir(work / "nbgrader")
    checks, removed, generate_s = make_nbgrader_course(cfg, course)
    release = nbformat.read(course / "release" / ASSIGNMENT / a.notebook, as_version=4)
    for s in students:
        nbgrader_submission(release, submitted / s.id / ASSIGNMENT / a.notebook,
                            course / "submitted" / s.id / ASSIGNMENT / a.notebook)

    with TreeSampler(include_self=False) as tree:  # nbgrader and its kernels, not this process
        code, wall = _nbgrader(course, "autograde", ASSIGNMENT, "--force", log=course / "nbgrader.log")

    scores, not_graded = {}, []
    notebook = Path(a.notebook).stem
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for s in students:
            if not (course / "autograded" / s.id / ASSIGNMENT / a.notebook).is_file():
                not_graded.append(s.id)  # autograde failed on this notebook (invalid JSON): no points
                scores[s.id] = {c.grade_id: 0.0 for c in checks}
                continue
            scores[s.id] = {c.grade_id: float(gb.find_grade(c.grade_id, notebook, ASSIGNMENT, s.id).score or 0)
                            for c in checks}
    n = len(students)
    return NbgraderRun(n=n, wall_s=round(wall, 2), generate_s=round(generate_s, 2),
                       per_minute=round(60 * n / wall, 1), per_notebook_s=round(wall / n, 3), exit_code=code,
                       not_graded=not_graded, usage=tree.usage, removed_cells=removed, checks=checks, scores=scores)


def compare(ours: OursRun, theirs: NbgraderRun) -> Agreement:
    """Every (student, check): nbgrader's points against ours for the hidden test it mirrors."""
    compared, disagreements = 0, []
    for student, by_grade_id in sorted(theirs.scores.items()):
        for check in theirs.checks:
            mine = ours.scores.get(student, {}).get(check.test)
            compared += 1
            if mine is None or abs(mine - by_grade_id[check.grade_id]) > 1e-9:
                disagreements.append({"student": student, "check": check.test, "ours": mine,
                                      "nbgrader": by_grade_id[check.grade_id]})
    return Agreement(compared=compared, checks=len(theirs.checks), disagreements=disagreements)


# -- output --------------------------------------------------------------------------------------

def _fmt(x, unit: str = "", digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}{unit}"


def table(ours: OursRun, theirs: NbgraderRun | None, agreement: Agreement | None,
          after: OursRun | None = None) -> str:
    def both(f, unit="", digits=1):
        return _fmt(f(ours), unit, digits), _fmt(f(theirs), unit, digits) if theirs else "-"

    rows = [("submissions", str(ours.n), str(theirs.n) if theirs else "-"),
            ("wall time, whole class", *both(lambda r: r.wall_s, " s")),
            ("  of which start-up + reference check", _fmt(ours.startup_s, " s", 1), "-"),
            ("submissions / minute", *both(lambda r: r.per_minute)),
            ("latency per submission p50 / p95", f"{_fmt(ours.latency_s.p50, ' s')} / {_fmt(ours.latency_s.p95, ' s')}",
             f"{_fmt(theirs.per_notebook_s, ' s')} (wall/N)" if theirs else "-"),
            ("overhead beyond compute mean / p50 / p95",
             " / ".join(_fmt(v, " s") for v in (ours.overhead_s.mean, ours.overhead_s.p50, ours.overhead_s.p95)), "-"),
            ("CPU seconds per submission (whole tree)", *both(lambda r: r.usage.cpu_s / r.n, " s", 2)),
            ("peak RSS, sum over the tree (over-counts)", *both(lambda r: r.usage.rss_mb, " MB", 0)),
            ("peak PSS, sum over the tree", *both(lambda r: r.usage.pss_mb, " MB", 0)),
            ("isolation (submissions)", ", ".join(f"{k.split(':')[0]} ({v})" for k, v in ours.isolation.items()),
             "none: a Jupyter kernel" if theirs else "-")]
    widths = [max(len(r[i]) for r in rows + [("", "ours", "nbgrader")]) for i in range(3)]
    lines = [f"{'':<{widths[0]}}  {'ours':>{widths[1]}}  {'nbgrader':>{widths[2]}}"]
    lines += [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    if theirs:
        lines.append(f"ours (first run) / nbgrader: {ours.per_minute / theirs.per_minute:.2f}x the submissions per minute, "
                     f"{ours.usage.cpu_s / max(theirs.usage.cpu_s, 1e-9):.2f}x the CPU seconds")
    if theirs and after:
        mean = (ours.per_minute + after.per_minute) / 2
        lines.append(f"ours again after nbgrader: {after.per_minute:.1f} per minute ({after.wall_s:.1f} s, "
                     f"{after.usage.cpu_s / after.n:.2f} CPU s each); the mean of both runs, {mean:.1f}, "
                     f"is {mean / theirs.per_minute:.2f}x nbgrader's")
    if agreement:
        lines.append(f"agreement: {agreement.compared - len(agreement.disagreements)}/{agreement.compared} "
                     f"(student, check) pairs over {agreement.checks} checks; "
                     f"{len(agreement.disagreements)} disagreements")
        lines += [f"  {d['student']} {d['check']}: ours {d['ours']}, nbgrader {d['nbgrader']}"
                  for d in agreement.disagreements[:20]]
    return "\n".join(lines)


def _machine() -> dict:
    return {"cores": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform()}


def _summary(run: OursRun) -> dict:
    d = asdict(run)
    d.pop("scores")
    return d


# -- entry points --------------------------------------------------------------------------------

# The throughput issue's targets on a 2-core machine: (what, measured as, at least/most, bound).
TARGETS = (("throughput, ours / nbgrader autograde", "ratios.per_minute_ours_over_nbgrader", ">=", 11.0),
           ("speed-test fidelity, worst |measured / k - 1|, k = 2..16", "fidelity.worst_error", "<=", 0.15),
           ("overhead beyond compute per submission, mean (s)", "ours.overhead_s.mean", "<=", 0.25),
           ("500 submissions, wall time (s)", "scaling.large.wall_s", "<", 300.0),
           ("peak PSS, 500 / 50 submissions", "scaling.pss_ratio", "<=", 1.2),
           ("peak RSS, 500 / 50 submissions", "scaling.rss_ratio", "<=", 1.2),
           ("similarity check, 500 submissions, wall time (s)", "similarity.ours_s", "<", 60.0))


def _lookup(result: dict, dotted: str):
    value = result
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def check_targets(result: dict) -> list[dict]:
    """Each target with its measured value and whether it is met (None: not measured this run)."""
    rows = []
    for what, where, op, bound in TARGETS:
        value = _lookup(result, where)
        met = None if value is None else {">=": value >= bound, "<=": value <= bound, "<": value < bound}[op]
        rows.append({"target": what, "measured": value, "bound": f"{op} {bound:g}", "met": met})
    return rows


def main(cfg: CourseConfig, n: int = 60, out: Path | None = None, nbgrader: bool = True,
         scaling: bool = True, fidelity: bool = True) -> dict:
    """Benchmark ours (and nbgrader, unless nbgrader=False) on a class of n, then ours on 50 and
    500 and the similarity check on 500 (unless scaling=False); print tables and the targets, and
    write the figures to `out` (default bench/results.json)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    out = out or HERE / "results.json"
    work = _fresh_dir(HERE / "work" / f"n{n}")
    machine = _machine()
    phases = {}
    print(f"benchmark: {n} submissions of {ASSIGNMENT}, {machine['cores']} cores, load {machine['load_avg']}",
          flush=True)

    started = time.perf_counter()
    course, students = prepare_course(cfg, work, n)
    phases["build_class_s"] = round(time.perf_counter() - started, 1)
    ours = run_ours(course)
    phases["ours_s"] = ours.wall_s
    print(f"ours: {ours.wall_s:.1f} s", flush=True)

    theirs = agreement = None
    if nbgrader:
        started = time.perf_counter()
        theirs = run_nbgrader(cfg, work, students, course.submitted_dir)
        phases["nbgrader_total_s"] = round(time.perf_counter() - started, 1)  # course, release, class, autograde
        phases["nbgrader_autograde_s"] = theirs.wall_s
        print(f"nbgrader: {theirs.wall_s:.1f} s (exit code {theirs.exit_code})", flush=True)
        agreement = compare(ours, theirs)
        # Ours again, after nbgrader (A-B-A): on a shared machine, load that came and went during
        # ours' short run would otherwise weigh on the ratio alone; the ratio takes the mean of both.
        after = run_ours(course)
        phases["ours_after_s"] = after.wall_s
        print(f"ours, again after nbgrader: {after.wall_s:.1f} s", flush=True)

    print(table(ours, theirs, agreement, after if theirs else None))
    result = {
        "n": n, "assignment": ASSIGNMENT, "timestamp": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {**machine, "load_avg_end": [round(x, 2) for x in os.getloadavg()]}, "phases": phases,
        "class": {"kinds": _count(s.kind for s in students), "recipes": sorted(RECIPES),
                  "students": [asdict(s) for s in students]},
        "ours": _summary(ours),
        "nbgrader": None if theirs is None else {
            **{k: v for k, v in asdict(theirs).items() if k not in ("scores", "checks")},
            "mapping": {c.grade_id: c.test for c in theirs.checks},
            "points_compared": sum(c.points for c in theirs.checks), "dropped": DROPPED,
            "note": "the nbgrader notebook leaves out the training and plot cells; it runs the visible test cells "
                    "and one hidden cell per check; our speed tests have no nbgrader counterpart"},
        "ours_after_nbgrader": None if theirs is None else _brief(after),
        "ratios": None if theirs is None else {
            "per_minute_ours_over_nbgrader": round((ours.per_minute + after.per_minute) / 2 / theirs.per_minute, 2),
            "per_minute_ours_before_and_after": [ours.per_minute, after.per_minute],
            "cpu_ours_over_nbgrader": round(ours.usage.cpu_s / max(theirs.usage.cpu_s, 1e-9), 3)},
        "agreement": None if agreement is None else asdict(agreement),
        "raw": {"ours": ours.submissions,
                "nbgrader_points": None if theirs is None else theirs.scores},
    }
    if fidelity:
        from bench import fidelity as speed_fidelity

        print("speed-test fidelity (k times the reference's work, measured as the speed tests measure):", flush=True)
        result["fidelity"] = speed_fidelity.measure(cfg)
    if scaling:
        from bench.similarity import measure

        result["scaling"] = memory_scaling(cfg)
        result["similarity"] = measure(cfg)
    result["targets"] = check_targets(result)
    print("targets (the throughput issue, on this machine):")
    for row in result["targets"]:
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[row["met"]]
        measured = "-" if row["measured"] is None else f"{row['measured']:g}"
        print(f"  {row['target']:<50} {measured:>8}  (target {row['bound']})  {verdict}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return result


def memory_scaling(cfg: CourseConfig, small: int = 50, large: int = 500, out: Path | None = None) -> dict:
    """Peak memory of ours for a class of `small` and of `large`, and their ratio (the target:
    at most 1.2). Writes `out` (default bench/scaling.json)."""
    runs = {}
    for n in (small, large):
        course, _ = prepare_course(cfg, _fresh_dir(HERE / "work" / f"scaling-n{n}"), n)
        runs[n] = run = run_ours(course)
        print(f"ours, n={n}: {run.wall_s:.1f} s, {run.per_minute:.1f}/min, peak RSS {run.usage.rss_mb:.0f} MB, "
              f"PSS {_fmt(run.usage.pss_mb, ' MB', 0)}", flush=True)
    rss = round(runs[large].usage.rss_mb / runs[small].usage.rss_mb, 3)
    pss = (round(runs[large].usage.pss_mb / runs[small].usage.pss_mb, 3)
           if runs[large].usage.pss_mb and runs[small].usage.pss_mb else None)
    result = {"timestamp": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "machine": _machine(),
              "small": {"n": small, **_brief(runs[small])}, "large": {"n": large, **_brief(runs[large])},
              "rss_ratio": rss, "pss_ratio": pss, "within_1_2x": rss <= 1.2}
    print(f"peak RSS ratio {large}/{small}: {rss}x; PSS ratio: {pss}x")
    out = out or HERE / "scaling.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def _brief(run: OursRun) -> dict:
    return {"wall_s": run.wall_s, "per_minute": run.per_minute, "startup_s": run.startup_s,
            "grading_s": run.grading_s, "finishing_s": run.finishing_s, "latency_s": asdict(run.latency_s),
            "overhead_s": asdict(run.overhead_s), "usage": asdict(run.usage)}


def _count(items) -> dict[str, int]:
    counts: dict[str, int] = {}
    for x in items:
        counts[x] = counts.get(x, 0) + 1
    return counts
