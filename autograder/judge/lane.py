"""A grading lane: one trusted process that grades submissions one after another.

It owns a warm zygote, a reference worker and one pytest session of the hidden tests for the
whole run (judge/session.py), and runs the tests once per submission. It returns results as
data; it never writes reports.
"""
from __future__ import annotations

import gc
import shutil
import tempfile
import time
from pathlib import Path

from autograder import figures, wire
from autograder.assignment import Assignment
from autograder.judge.client import Reference, SandboxedCode
from autograder.judge.session import HiddenTestSession
from autograder.notebook import NotebookError, code_cells, read_code_cells
from autograder.results import LoadIssue, Status, SubmissionResult, TestOutcome
from autograder.sandbox.launcher import Zygote


class Lane:
    def __init__(self, assignment: Assignment, reference_cache: dict | None = None):
        self.assignment = assignment
        self.settings = assignment.settings
        self.scratch_root = Path(tempfile.mkdtemp(prefix="autograder-lane-"))
        self.zygote = Zygote(list(assignment.probes))
        self._next_spec: dict | None = None  # a worker already asked for (Zygote.spawn_ahead)
        self.isolation = self.zygote.capabilities.describe()
        # Hidden on top of everything outside the operating system (sandbox/isolation.py): the
        # course and our scratch, in case the machine keeps them somewhere like /usr/local.
        self.hide = [str(assignment.source.parent.parent), str(self.scratch_root)]
        cells = read_code_cells(assignment.reference_notebook, self.settings.skip_tags,
                                self.settings.max_notebook_bytes, self.settings.max_code_cells)
        self.reference = Reference(self.zygote, cells, self._spec("reference"), self.settings,
                                   cache=dict(reference_cache or {}))
        self.session = HiddenTestSession(assignment.hidden)  # collected now: a broken test stops the run here
        # Pictures for the feedback pages (hidden/figures.py), drawn here, in the trusted process.
        self.figures = figures.load_entries(assignment.hidden)
        # pytest runs gc.collect() in every session; with torch imported that walk costs ~0.1 s.
        # Freezing what exists now (torch, pytest, our modules) takes it out of every collection.
        gc.collect()
        gc.freeze()

    def _spec(self, label: str) -> dict:
        scratch = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.scratch_root))
        s = self.settings
        return {"scratch": str(scratch), "cpu_s": s.cpu_s, "max_output_bytes": s.max_output_bytes,
                "memory_bytes": s.memory_mb << 20, "max_pids": s.max_pids, "scratch_bytes": s.scratch_mb << 20,
                "hide": self.hide}

    def grade(self, student_id: str, notebook: Path) -> SubmissionResult:
        """Grade the notebook file at `notebook`."""
        s = self.settings
        return self._grade(student_id, notebook.name, lambda: read_code_cells(
            notebook, s.skip_tags, s.max_notebook_bytes, s.max_code_cells))

    def grade_bytes(self, student_id: str, name: str, data: bytes) -> SubmissionResult:
        """Grade a notebook that arrived as bytes (a task's), named `name`: no file in between."""
        s = self.settings
        return self._grade(student_id, name, lambda: code_cells(
            data, name, s.skip_tags, s.max_notebook_bytes, s.max_code_cells))

    def _grade(self, student_id: str, name: str, read_cells) -> SubmissionResult:
        started = time.perf_counter()
        result = SubmissionResult(student_id, self.assignment.id, name, isolation=self.isolation)
        spec, self._next_spec = self._next_spec or self._spec("student"), None
        code = SandboxedCode(self.zygote, [], spec, self.settings)
        try:
            code.cells = read_cells()
        except NotebookError as exc:
            result.load_error = str(exc)
            code.fatal = (Status.LOAD_ERROR.value, f"not run: {exc}")
        else:
            code.load()
        # The next submission's worker is forked and sandboxed while this one's tests run.
        self._next_spec = self._spec("student")
        self.zygote.spawn_ahead(self._next_spec)
        result.load_issues = [LoadIssue(int(i.get("cell", 0)), str(i.get("status", "error"))[:20],
                                        str(i.get("message", ""))[:500])
                              for i in (code.load_issues or [])]
        loaded = time.perf_counter()
        reference_compute = self.reference.compute_s
        figures_s = 0.0
        try:
            outcomes, report = self.run_hidden_tests(code)
            if self.figures and result.load_error is None and code.fatal is None:
                drawing = time.perf_counter()
                result.figures = figures.render(self.figures, code, self.reference)
                figures_s = time.perf_counter() - drawing
        finally:
            code.close()
            shutil.rmtree(spec["scratch"], ignore_errors=True)
        result.tests = sorted(outcomes.values(), key=lambda t: t.name)
        result.pytest_report = report
        total = time.perf_counter() - started
        # compute_s: what the probes themselves computed in warm workers (student and reference);
        # overhead_s is everything else this submission cost: loading, IPC, pytest, assertions.
        compute = code.compute_s + self.reference.compute_s - reference_compute
        result.timings = {"load_s": round(loaded - started, 4), "tests_s": round(time.perf_counter() - loaded, 4),
                          "total_s": round(total, 4), "compute_s": round(compute, 4),
                          "overhead_s": round(total - compute, 4), "figures_s": round(figures_s, 4)}
        return result

    def run_hidden_tests(self, code: SandboxedCode) -> tuple[dict[str, TestOutcome], dict]:
        return self.session.run(code, self.reference, self.settings)

    def reference_cache_frame(self) -> bytes:
        """The reference results recorded so far, in the safe wire format."""
        return wire.encode(self.reference.cache)

    def close(self) -> None:
        self.session.close()
        self.reference.close()
        self.zygote.close()
        shutil.rmtree(self.scratch_root, ignore_errors=True)
