"""Mutation testing for `make check`: can the hidden tests fail?

Each mutant (authoring/mutants.py: one small bug inside the reference's solution regions) is
graded like a submission, on the same warm lanes (coordinator/pool.py, judge/lane.py), with its
tests stopping at the first that loses points. A mutant that loses no point survives: either the
hidden tests miss a real bug (add a test), or the change is harmless (the same program in effect,
or code no contract covers), which the instructor says in hidden/grading.toml with the reason:

    [[check.harmless]]
    cell = "multi_head_attention"
    code = "self.d_model = d_model"
    mutation = "deleted line"
    why = "the attribute is never read"

The mutation score is the share of mutants killed, not counting those judged harmless. The report
goes to the terminal and to grades/<id>/mutants.html (and mutants.json).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from autograder.assignment import Assignment, Harmless
from autograder.authoring import markers, mutants
from autograder.config import CourseConfig
from autograder.coordinator import report
from autograder.results import Submission, SubmissionResult

KILLED, SURVIVED, HARMLESS = "killed", "survived", "harmless"


@dataclass
class MutantResult:
    mutant: mutants.Mutant
    status: str              # killed, survived or harmless
    killed_by: str = ""      # the first test that lost points, and how
    seconds: float = 0.0     # its grading, up to that test
    diff: str = ""
    why: str = ""            # for a harmless survivor: the instructor's reason
    listed_but_killed: bool = False  # a [[check.harmless]] entry matches it, yet a test caught it

    def to_dict(self) -> dict:
        return {**self.mutant.to_dict(), "status": self.status, "killed_by": self.killed_by,
                "seconds": self.seconds, "diff": self.diff, "why": self.why}

    def toml(self) -> str:
        """The [[check.harmless]] entry that would judge this mutant harmless."""
        m = self.mutant
        return (f"[[check.harmless]]\ncell = {json.dumps(m.cell_id)}\ncode = {json.dumps(m.code)}\n"
                f"mutation = {json.dumps(m.mutation)}\nwhy = \"...\"")


@dataclass
class MutationRun:
    results: list[MutantResult] = field(default_factory=list)
    seconds: float = 0.0
    lanes: int = 1
    minimum: float = 0.0
    generated: int = 0                                 # before sampling (max_mutants)
    stale: list[Harmless] = field(default_factory=list)  # harmless entries no mutant matches

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def score(self) -> float:
        counted = len(self.results) - self.count(HARMLESS)
        return 100.0 * self.count(KILLED) / counted if counted else 100.0

    @property
    def passes(self) -> bool:
        return self.score >= self.minimum

    def describe_score(self) -> str:
        harmless = self.count(HARMLESS)
        return (f"{self.score:.1f}% ({self.count(KILLED)} of {len(self.results) - harmless} mutants killed"
                + (f"; {harmless} judged harmless" if harmless else "") + ")")

    def to_dict(self, assignment_id: str) -> dict:
        return {"assignment": assignment_id, "score": round(self.score, 2), "killed": self.count(KILLED),
                "survived": self.count(SURVIVED), "harmless": self.count(HARMLESS), "mutants": len(self.results),
                "generated": self.generated, "seconds": round(self.seconds, 1), "lanes": self.lanes,
                "min_mutation_score": self.minimum, "stale_harmless": [h.__dict__ for h in self.stale],
                "results": [r.to_dict() for r in self.results]}


def _sample(found: list[mutants.Mutant], most: int) -> list[mutants.Mutant]:
    """An even spread of `most` mutants over the notebook (all of them when most is 0)."""
    if not most or len(found) <= most:
        return found
    step = len(found) / most
    return [found[int(i * step)] for i in range(most)]


def _caught_by(result: SubmissionResult):
    """The test that lost points (the only one: the tests stopped there, fail_fast), or None."""
    return next((t for t in result.tests if t.score < t.max_score), None)


def _killed_by(result: SubmissionResult) -> str:
    if result.load_error:
        return f"not gradable: {result.load_error[:120]}"
    first = _caught_by(result)
    return f"{first.name} ({first.status.value}: {' '.join(first.output.split())[:160]})" if first else ""


def classify(found: list[mutants.Mutant], results: dict[str, SubmissionResult], notebook: bytes,
             harmless: tuple[Harmless, ...]) -> tuple[list[MutantResult], list[Harmless]]:
    out, used = [], set()
    for m in found:
        result = results[student_id(m)]
        killed_by = _killed_by(result)
        seconds = float(result.timings.get("total_s", 0.0))
        entry = next((h for h in harmless if h.matches(m.cell_id, m.code, m.mutation)), None)
        if entry is not None:
            used.add(entry)
        diff = m.diff(mutants.original_source(notebook, m.cell))
        if killed_by:
            out.append(MutantResult(m, KILLED, killed_by, seconds, diff, listed_but_killed=entry is not None))
        elif entry is not None:
            out.append(MutantResult(m, HARMLESS, seconds=seconds, diff=diff, why=entry.why))
        else:
            out.append(MutantResult(m, SURVIVED, seconds=seconds, diff=diff))
    return out, [h for h in harmless if h not in used]


def student_id(m: mutants.Mutant) -> str:
    return f"mutant-{m.number:04d}"


def run(cfg: CourseConfig, a: Assignment, frame: bytes, grade, lanes: int, say) -> MutationRun:
    """Generate, grade (grade(submissions, fail_fast=True) -> results by student id), classify and report."""
    notebook = markers.prepare_bytes(a.reference_notebook.read_bytes(), str(a.reference_notebook))
    found = mutants.mutants_of(notebook)
    chosen = _sample(found, a.check.max_mutants)
    say(f"  mutants: {len(chosen)} of the reference's solution regions"
        + (f" (an even sample of {len(found)})" if len(chosen) < len(found) else "") + f", graded on {lanes} lanes")
    started = time.perf_counter()
    subs = {student_id(m): Submission(student_id(m), a.id, a.notebook, mutants.apply(notebook, m)) for m in chosen}
    results = grade(list(subs.values()), fail_fast=True)
    # A speed test measures time, which varies: a mutant only a speed test caught is graded once more, and
    # counts as caught only if it is caught again.
    timed = [name for name, r in results.items() if _caught_by(r) is not None and _caught_by(r).family == "speed"]
    if timed:
        say(f"  {len(timed)} mutants caught only by a speed test: graded once more")
        results.update(grade([subs[name] for name in timed], fail_fast=True))
    outcome = MutationRun(seconds=time.perf_counter() - started, lanes=lanes, minimum=a.check.min_mutation_score,
                          generated=len(found))
    outcome.results, outcome.stale = classify(chosen, results, notebook, a.check.harmless)
    _say(outcome, a, say)
    out = cfg.root / "grades" / a.id
    report.atomic_write_text(out / "mutants.json", json.dumps(outcome.to_dict(a.id), indent=1))
    report.atomic_write_text(out / "mutants.html", report.render_template(
        "mutants.html.j2", a=a, run=outcome, KILLED=KILLED, SURVIVED=SURVIVED, HARMLESS=HARMLESS))
    say(f"  wrote {(out / 'mutants.html').relative_to(cfg.root)}")
    return outcome


def _say(outcome: MutationRun, a: Assignment, say) -> None:
    n = len(outcome.results)
    say(f"  mutants graded in {outcome.seconds:.0f} s ({outcome.seconds / max(n, 1):.2f} s each on "
        f"{outcome.lanes} lanes): mutation score {outcome.describe_score()}")
    toml = a.hidden / "grading.toml"
    for r in outcome.results:
        m = r.mutant
        if r.status == SURVIVED:
            say(f"  SURVIVED #{m.number} cell {m.cell} ({m.cell_id}), line {m.line}: {m.mutation}")
            say("\n".join("      " + line for line in r.diff.splitlines()))
        elif r.listed_but_killed:
            say(f"  note: {toml.name} judges mutant #{m.number} harmless ({m.cell_id}: {m.code!r}, {m.mutation}), "
                f"but {r.killed_by} catches it; remove that entry")
    for h in outcome.stale:
        say(f"  note: {toml.name}: [[check.harmless]] {h.cell}: {h.code!r}, {h.mutation}: matches no mutant; "
            "remove it or update it")
    if outcome.count(SURVIVED):
        say(f"  {outcome.count(SURVIVED)} mutants survived: add a hidden test that catches each real bug, or judge "
            f"it harmless with a [[check.harmless]] entry in {toml.relative_to(a.source.parent.parent)} "
            "(mutants.html lists each one ready to paste)")
