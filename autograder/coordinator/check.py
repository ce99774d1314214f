"""Check stage (`make check ASSIGNMENT=id`): is an assignment ready for students, and can its hidden tests fail?

Order matters; each step needs the ones before it:
1. the release builds and is leak-free (autograder/release.py);
2. the hidden tests collect and the reference gets every point (the grade stage's own check);
3. the visible tests pass on the solutions notebook (and fail on the bare release);
4. the bare release scores 0, every test saying something a student can act on;
5. the example submissions in hidden/examples/ lose exactly the points their EXPECT says;
6. mutation testing (coordinator/mutation.py): mutants of the reference's solution regions,
   graded on the same warm lanes as any submission, must lose points.
Problems are one line each, naming the file, cell and line. Nothing is written but
grades/<id>/mutants.html and mutants.json (and the reference's kept result, as `make grade` keeps it).
"""
from __future__ import annotations

import ast
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.assignment import Assignment, grader_fingerprint, load_assignment
from autograder.config import CourseConfig, CourseError
from autograder.coordinator import grade, mutation, pool
from autograder.judge import tasks
from autograder.results import Status, Submission, SubmissionResult

# What a test may end with on the bare release: the student's code raised (NotImplementedError),
# or a check failed. Anything else (a crash, a timeout, the grader's own error) helps nobody.
ACTIONABLE = {Status.ERROR, Status.FAILED}


@dataclass
class CheckReport:
    assignment_id: str
    problems: list[str] = field(default_factory=list)   # each one line: the check fails
    notes: list[str] = field(default_factory=list)      # worth a look, not a failure
    mutants: mutation.MutationRun | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and (self.mutants is None or self.mutants.passes)


EXPECT_KEYS = {"full_marks", "lose", "keep", "says", "never_says"}


def expectation(path: Path) -> dict:
    """The EXPECT literal of an example submission: full_marks (bool); lose and keep (tokens of test
    names that must lose points, or keep them); says and never_says (test-name token -> texts the
    message of each such test that lost points must contain, or must not)."""
    try:
        tree = ast.parse(path.read_text())
    except SyntaxError as exc:
        raise CourseError(f"{path}: line {exc.lineno}: SyntaxError: {exc.msg}") from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "EXPECT":
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                value = None
            if isinstance(value, dict) and set(value) <= EXPECT_KEYS:
                return {"full_marks": bool(value.get("full_marks")), "lose": list(value.get("lose", [])),
                        "keep": list(value.get("keep", [])), "says": dict(value.get("says", {})),
                        "never_says": dict(value.get("never_says", {}))}
            raise CourseError(f"{path}: line {node.lineno}: EXPECT is a literal dict of "
                              f"{', '.join(sorted(EXPECT_KEYS))}")
    raise CourseError(f"{path}: line 1: no EXPECT = {{\"full_marks\": ..., \"lose\": [...], \"keep\": [...]}}")


def unmet(expect: dict, result: SubmissionResult) -> list[str]:
    """How a graded example differs from its EXPECT ([] when it does not)."""
    lost = [t for t in result.tests if t.score < t.max_score]
    names = [t.name for t in lost]
    out = []
    if expect["full_marks"] and lost:
        out.append(f"expected full marks, lost points on {', '.join(names)}")
    out += [f"expected to lose points on a test named like {token!r}; none did" for token in expect["lose"]
            if not any(token in name for name in names)]
    out += [f"expected to keep the points of tests named like {token!r}; lost "
            f"{', '.join(n for n in names if token in n)}" for token in expect["keep"] if any(token in n for n in names)]
    for token, texts in expect.get("says", {}).items():
        matching = [t for t in lost if token in t.name]
        if not matching:
            out.append(f"expected a test named like {token!r} to lose points and say {texts}; none lost points")
        out += [f"{t.name}: its message does not say {text!r}: {' '.join(t.output.split())[:300]}"
                for t in matching for text in texts if text not in t.output]
    out += [f"{t.name}: its message says {text!r}, which it should not: {' '.join(t.output.split())[:300]}"
            for token, texts in expect.get("never_says", {}).items() for t in lost if token in t.name
            for text in texts if text in t.output]
    return out


def with_cell(notebook: bytes, source: str) -> bytes:
    """The notebook with one more code cell at the end (an example overrides what it defines)."""
    nb = json.loads(notebook.decode("utf-8"))
    nb["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                        "source": source})
    return json.dumps(nb).encode()


class _Run:
    """One assignment's check: its lanes, the reference's results, and what it found."""

    def __init__(self, cfg: CourseConfig, a: Assignment, lanes: int, stack: contextlib.ExitStack, say):
        self.cfg, self.a, self.lanes, self.stack, self.say = cfg, a, lanes, stack, say
        self.report = CheckReport(a.id)
        self.frame = b""
        self.executor = self._new_pool()

    def _new_pool(self):
        executor = pool.local_pool(str(self.cfg.root), self.a.id, self.lanes)
        self.stack.callback(executor.shutdown, cancel_futures=True)
        return executor

    def _working_pool(self):
        """The lanes' pool; one that a dead lane broke is replaced first."""
        try:
            self.executor.submit(int).result()
        except Exception:  # BrokenProcessPool, or shut down by pool.run_lanes after it replaced it
            self.executor = self._new_pool()
        return self.executor

    def submit(self, fn, *args):
        """fn(root, assignment id, *args) in a lane."""
        return self._working_pool().submit(fn, str(self.cfg.root), self.a.id, *args)

    def grade(self, subs: list[Submission], fail_fast: bool = False) -> dict[str, SubmissionResult]:
        """Results by student id, graded on the lanes as `make grade` grades (coordinator/pool.py)."""
        results: dict[str, SubmissionResult] = {}
        pool.run_lanes(self.cfg, self.a.id, subs, self.frame, self._new_pool,
                       lambda r: results.__setitem__(r.student_id, r), executor=self._working_pool(),
                       fail_fast=fail_fast)
        return results

    def reference(self) -> bool:
        result, self.frame = grade.reference_results(self.executor, self.cfg, self.a, grader_fingerprint(self.a),
                                                     force=True)
        families = sorted({t.family for t in result.tests})
        self.say(f"  reference: {result.score:g}/{result.max_score:g} on {len(result.tests)} hidden tests "
                 f"({', '.join(families)})")
        return True

    def visible(self, path: Path, data: bytes, should_pass: bool) -> list[dict]:
        found = json.loads(self.submit(tasks.visible_tests, data, path.name).result())
        source = self.a.reference_notebook.relative_to(self.cfg.root)
        for t in found:
            where = f"{source}: cell {t['cell']} ({t['id']})" + (f": line {t['line']}" if t["line"] else "")
            if should_pass and not t["passed"]:
                self.report.problems.append(f"{where}: the visible test fails on the solution: {t['message']}")
            elif not should_pass and t["passed"]:
                self.report.notes.append(f"{where}: the visible test passes on the bare release, so it checks "
                                         "nothing a student writes")
        return found

    def bare(self, data: bytes) -> None:
        result = self.grade([Submission("bare-release", self.a.id, self.a.notebook, data)])["bare-release"]
        where = f"{self.cfg.release_dir.name}/{self.a.id}/{self.a.notebook}"
        if result.score:
            passed = [t.name for t in result.tests if t.score > 0]
            self.report.problems.append(f"{where}: the bare release scores {result.score:g}/{result.max_score:g}; "
                                        f"these hidden tests pass without the student's work: {', '.join(passed)}")
        for t in result.tests:
            if t.score == 0 and (t.status not in ACTIONABLE or not t.output.strip()):
                self.report.problems.append(
                    f"{self.a.hidden.relative_to(self.cfg.root)}/{t.name}: on the bare release it ends "
                    f"{t.status.value}: {' '.join(t.output.split())[:200] or '(no message)'}; a test should say "
                    "what the student must do (check the answer's type and shape before using it)")
        self.say(f"  bare release: {result.score:g}/{result.max_score:g}")

    def examples(self, bare: bytes) -> None:
        for path in sorted((self.a.hidden / "examples").glob("*.py")):
            expect = expectation(path)
            name = f"example-{path.stem}"
            result = self.grade([Submission(name, self.a.id, self.a.notebook, with_cell(bare, path.read_text()))])[name]
            wrong = unmet(expect, result)
            where = path.relative_to(self.cfg.root)
            self.report.problems += [f"{where}: {w}" for w in wrong]
            lost = sorted({t.name.split("::")[-1] for t in result.tests if t.score < t.max_score})
            self.say(f"  example {path.stem}: {result.score:g}/{result.max_score:g}"
                     + (f", lost {', '.join(lost)}" if lost else "") + ("" if wrong else " (as expected)"))


def check_assignment(cfg: CourseConfig, assignment_id: str, mutants: bool = True, lanes: int | None = None,
                     say=print) -> CheckReport:
    from autograder.release import release

    started = time.perf_counter()
    say(f"checking {assignment_id}")
    try:
        released = release(cfg, assignment_id)[0]
        say(f"  release: {len(released.release_files)} student files, no solution or hidden test in them")
        a = load_assignment(cfg, assignment_id)
    except CourseError as exc:  # a malformed source, a leak, a broken grading.toml: nothing else can run
        return _finish(CheckReport(assignment_id, problems=str(exc).splitlines()), started, say)
    count = grade._lane_count(lanes if lanes is not None else a.settings.lanes)
    with contextlib.ExitStack() as stack:
        run = _Run(cfg, a, count, stack, say)
        try:
            run.reference()
        except CourseError as exc:
            run.report.problems += str(exc).splitlines()
            return _finish(run.report, started, say)
        solution = (cfg.solution_dir / a.id / a.notebook).read_bytes()
        bare = (cfg.release_dir / a.id / a.notebook).read_bytes()
        tests = run.visible(cfg.solution_dir / a.id / a.notebook, solution, should_pass=True)
        run.visible(cfg.release_dir / a.id / a.notebook, bare, should_pass=False)
        say(f"  visible tests: {sum(t['passed'] for t in tests)} of {len(tests)} pass on the solutions")
        run.bare(bare)
        run.examples(bare)
        if mutants:
            run.report.mutants = mutation.run(cfg, a, run.frame, run.grade, count, say)
    return _finish(run.report, started, say)


def _finish(report: CheckReport, started: float, say) -> CheckReport:
    report.seconds = time.perf_counter() - started
    for line in report.problems:
        say(f"  PROBLEM {line}")
    for line in report.notes:
        say(f"  note: {line}")
    verdict = "ready" if report.ok else f"{len(report.problems)} problem{'s' * (len(report.problems) != 1)}"
    if report.mutants is not None:
        verdict += f", mutation score {report.mutants.describe_score()}"
        if not report.mutants.passes:
            verdict += f" (below min_mutation_score {report.mutants.minimum:g}%)"
    say(f"{report.assignment_id}: {verdict}; checked in {report.seconds:.0f} s")
    return report


def check(cfg: CourseConfig, assignment_id: str | None = None, mutants: bool = True,
          lanes: int | None = None) -> list[CheckReport]:
    ids = [assignment_id] if assignment_id else [
        aid for aid in cfg.assignments() if any((cfg.source_dir / aid / "hidden").glob("test_*.py"))]
    if not ids:
        raise CourseError(f"{cfg.source_dir}: no assignment with hidden tests to check")
    return [check_assignment(cfg, aid, mutants, lanes) for aid in ids]
