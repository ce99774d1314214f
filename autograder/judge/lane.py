"""A grading lane: one trusted process that grades submissions one after another.

It owns a warm zygote, a reference worker and one pytest session of the hidden tests for the
whole run (judge/session.py), and runs the tests once per submission. It returns results as
data; it never writes reports.
"""
from __future__ import annotations

import gc
import json
import shutil
import tempfile
import time
from pathlib import Path

from autograder import wire
from autograder.assignment import Assignment
from autograder.authoring import markers
from autograder.cells import is_test_cell
from autograder.config import CourseError
from autograder.judge import figures, source
from autograder.judge.handles import Reference, SandboxedCode
from autograder.judge.verdict import ProbeFailure
from autograder.judge.session import HiddenTestSession
from autograder.notebook import NotebookError, code_cells, read_notebook
from autograder.results import Submission, SubmissionResult
from autograder.sandbox.host.launcher import Zygote
from autograder.sandbox.protocol import GENERIC_CELL, WorkerSpec


class Lane:
    def __init__(self, assignment: Assignment):
        self.assignment = assignment
        self.settings = assignment.settings
        self.scratch_root = Path(tempfile.mkdtemp(prefix="autograder-lane-"))
        try:
            self.zygote = Zygote(list(assignment.probes))
        except RuntimeError as exc:  # a probe file that does not load: the message names its file and line
            raise CourseError(str(exc)) from None
        self._next_spec: WorkerSpec | None = None  # a worker already asked for (Zygote.spawn_ahead)
        self.isolation = self.zygote.capabilities.describe()
        # Hidden on top of everything outside the operating system (sandbox/inside/confine.py):
        # the course and our scratch, in case the machine keeps them somewhere like /usr/local.
        self.hide = (str(assignment.source.parent.parent), str(self.scratch_root))
        # Its plain-text markers read as metadata, as in the release: its visible test cells never run here.
        self.reference_data = markers.prepare_bytes(
            read_notebook(assignment.reference_notebook, self.settings.max_notebook_bytes),
            str(assignment.reference_notebook))
        self.reference = Reference(self.zygote, self._cells(self.reference_data, assignment.notebook),
                                   self._spec("reference"), self.settings)
        source.check_rules(assignment.rules, assignment.hidden / "grading.toml")
        self.session = HiddenTestSession(assignment.hidden)  # collected now: a broken test stops the run here
        # Pictures for the feedback pages (hidden/figures.py), drawn here, in the trusted process.
        self.figures = figures.load_entries(assignment.hidden)
        # pytest runs gc.collect() in every session; with torch imported that walk costs ~0.1 s.
        # Freezing what exists now (torch, pytest, our modules) takes it out of every collection.
        gc.collect()
        gc.freeze()

    def _spec(self, label: str) -> WorkerSpec:
        scratch = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.scratch_root))
        s = self.settings
        return WorkerSpec(scratch=str(scratch), cpu_s=s.cpu_s, max_output_bytes=s.max_output_bytes,
                          memory_bytes=s.memory_mb << 20, max_pids=s.max_pids, scratch_bytes=s.scratch_mb << 20,
                          hide=self.hide)

    def _cells(self, data: bytes, name: str) -> list[dict]:
        s = self.settings
        return code_cells(data, name, s.skip_tags, s.max_notebook_bytes, s.max_code_cells)

    def grade_file(self, student_id: str, path: Path) -> SubmissionResult:
        """Grade the notebook file at `path` (the reference, or a test's notebook)."""
        try:
            data = read_notebook(path, self.settings.max_notebook_bytes)
        except NotebookError as exc:
            return self._grade(Submission(student_id, self.assignment.id, path.name, b""), str(exc))
        return self.grade(Submission(student_id, self.assignment.id, path.name, data))

    def grade(self, submission: Submission, fail_fast: bool = False) -> SubmissionResult:
        """Grade one submission's notebook bytes. fail_fast: stop at the first test that loses
        points, and draw no pictures (make check's mutants)."""
        try:
            cells = self._cells(submission.data, submission.notebook)
        except NotebookError as exc:
            return self._grade(submission, str(exc))
        return self._grade(submission, None, cells, fail_fast)

    def _grade(self, submission: Submission, unreadable: str | None, cells=(),
               fail_fast: bool = False) -> SubmissionResult:
        started = time.perf_counter()
        result = SubmissionResult(submission.student_id, self.assignment.id, submission.notebook,
                                  isolation=self.isolation, fingerprint=submission.fingerprint,
                                  load_error=unreadable)
        spec = None
        if unreadable is not None:
            code = SandboxedCode.unreadable(self.settings, unreadable)
        else:
            spec, self._next_spec = self._next_spec or self._spec("student"), None
            code = SandboxedCode(self.zygote, list(cells), spec, self.settings)
            code.source = source.analyse(code.cells, self.assignment.rules)
            result.flags = [f.to_dict() for f in code.source.flags]
            if code.source.flags:  # no point on the word of code that reaches into the grader
                code.against = self.reference
            code.load()
            # The next submission's worker is forked and sandboxed while this one's tests run.
            self._next_spec = self._spec("student")
            self.zygote.spawn_ahead(self._next_spec)
        result.load_issues = list(code.load_issues or [])
        loaded = time.perf_counter()
        reference_compute = self.reference.compute_s
        figures_s = 0.0
        try:
            outcomes, report = self.session.run(code, self.reference, self.settings, fail_fast)
            if self.figures and result.load_error is None and code.fatal is None and not fail_fast:
                drawing = time.perf_counter()
                result.figures = figures.render(self.figures, code, self.reference)
                figures_s = time.perf_counter() - drawing
        finally:
            code.close()
            if spec is not None:
                shutil.rmtree(spec.scratch, ignore_errors=True)
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

    def visible_tests(self, data: bytes, name: str) -> list[dict]:
        """Run a notebook's visible test cells (make check: on the solutions and on the bare release),
        each after the rest of the notebook has loaded, in a sandboxed worker: [{cell, id, passed,
        line, message}] in notebook order."""
        data = markers.prepare_bytes(data, name)
        cells = json.loads(data.decode("utf-8", errors="replace")).get("cells", [])
        tests = [(number, cell) for number, cell in enumerate(cells, 1) if isinstance(cell, dict)
                 and cell.get("cell_type") == "code" and is_test_cell(cell)
                 and not set((cell.get("metadata") or {}).get("tags") or ()) & set(self.settings.skip_tags)]
        spec = self._spec("visible")
        code = SandboxedCode(self.zygote, self._cells(data, name), spec, self.settings, budget_s=None)
        out = []
        try:
            for number, cell in tests:
                label = str(cell["metadata"]["nbgrader"].get("grade_id", ""))
                source = "".join(cell["source"]) if isinstance(cell["source"], list) else str(cell["source"])
                try:
                    answer = code.probe(GENERIC_CELL, number=number, label=label, source=source)
                except ProbeFailure as exc:
                    answer = {"passed": False, "error": {"type": exc.status.value, "message": exc.verdict.message}}
                error = answer.get("error") or {}
                frames = [f for f in error.get("frames", [])
                          if str(f.get("where", "")).split(" (")[0] == f"cell {number}"]
                out.append({"cell": number, "id": label, "passed": bool(answer.get("passed")),
                            "line": frames[-1].get("line") if frames else None,
                            "message": f"{error.get('type', '')}: {error.get('message', '')}".strip(": ")})
        finally:
            code.close()
            shutil.rmtree(spec.scratch, ignore_errors=True)
        return out

    def reference_results(self) -> bytes:
        """The reference's probe results recorded so far, in the safe wire format: every lane of
        the run (and the next run, while nothing changes) reuses them."""
        return wire.encode(self.reference.cache)

    def use_reference_results(self, frame: bytes) -> None:
        self.reference.cache.update(wire.decode(frame))

    def close(self) -> None:
        self.session.close()
        self.reference.close()
        self.zygote.close()
        shutil.rmtree(self.scratch_root, ignore_errors=True)

