"""The hostile-submission corpus: grade a class of attacks and check that grading holds.

One module-scoped run grades, in private course copies (short time limits, canaries planted in
the hidden files and solutions):
  1. a clean class: the bundled alice and bob, copies of them graded last (zz_alice, zz_bob), and
     a preflight notebook that reports what a worker can reach (to decide whether the cases that
     need a memory limit or a contained filesystem can run without harming this machine);
  2. the same normal students plus every case in tests/hostile/cases/ (see harness.py for the
     case convention);
  3. each case marked isolated, alone with the normal students.
Then, per case: (a) the class finished and the case has a report; (b) attacked tests score 0 with
an allowed status and the "keep" tests keep their points; (c) the normal students' reports are
byte-identical to the clean run, timings aside; (d) nothing the case started or wrote survives
grading. HOSTILE_CASES=h01,h02 grades only those cases; HOSTILE_UNSAFE=1 runs cases whose
preflight requirement is not met (only on a machine you can throw away).
"""
from __future__ import annotations

import difflib
import json
import os
import secrets as _secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.hostile import harness as h

pytestmark = pytest.mark.slow

CASES = h.load_cases()
CASE_NAMES = [c.name for c in CASES]
SELECTED = [s.strip() for s in os.environ.get("HOSTILE_CASES", "").split(",") if s.strip()]
MAIN_RUN_LIMIT_S = 180  # the whole hostile class, all lanes
WATCHDOG_S = 420        # after this, a run counts as hung


def selected(name: str) -> bool:
    return not SELECTED or any(name.startswith(s) for s in SELECTED)


@dataclass
class Corpus:
    token: str
    canary: str
    listener: h.Listener
    marker_dir: Path
    caps: h.Capabilities | None = None
    baseline: h.Run | None = None
    main: h.Run | None = None
    isolated: dict = field(default_factory=dict)
    not_run: dict = field(default_factory=dict)
    placeholders: dict = field(default_factory=dict)

    @property
    def runs(self) -> list[h.Run]:
        return [r for r in (self.main, *self.isolated.values()) if r is not None]

    @property
    def course_roots(self) -> list[Path]:
        return [r.course for r in (self.baseline, *self.runs) if r is not None]


@pytest.fixture(scope="module")
def corpus():
    # Not pytest's tmp_path: concurrent pytest sessions prune each other's numbered folders.
    base = Path(tempfile.mkdtemp(prefix="hostile-corpus-"))
    token = _secrets.token_hex(6)
    c = Corpus(token, f"HOSTILE-CANARY-{token}", h.Listener(), base / "markers")
    c.marker_dir.mkdir()
    c.placeholders = {"TOKEN": token, "TCP_PORT": c.listener.tcp_port, "UDP_PORT": c.listener.udp_port,
                      "MARKER_DIR": c.marker_dir, "PROTECT_PID": os.getpid()}
    watched = [(Path("/tmp"), ()), (Path("/root"), h.ROOT_SKIP), (h.REPO, (str(h.HERE),))]
    try:
        # 1. the clean class, with the preflight
        course = h.make_course(base / "baseline", c.canary)
        h.add_normal_students(course)
        probes = h.preflight_probes(course, token)
        h.add_source_student(course, h.PREFLIGHT_STUDENT, h.PREFLIGHT_SOURCE.replace("@@PROBES@@", repr(probes)))
        run = h.Run("baseline", course, base / "scratch-baseline", [*h.NORMAL_STUDENTS, h.PREFLIGHT_STUDENT])
        c.baseline = h.grade_class(run, token, watched, WATCHDOG_S)
        c.caps = h.read_preflight(c.baseline.reports.get(h.PREFLIGHT_STUDENT), probes)
        c.baseline.changes = [x for x in c.baseline.changes if x[1] not in probes.values()]
        watched.append((course, ()))

        # 2. the hostile class; 3. the isolated cases
        todo = []
        for case in CASES:
            if not selected(case.name):
                continue
            unmet = [r for r in case.requires if not c.caps.met(r)]
            if unmet:
                c.not_run[case.name] = (f"not run: the sandbox cannot contain it yet (needs {', '.join(unmet)}; "
                                        f"{c.caps.details}); set HOSTILE_UNSAFE=1 only on a disposable machine")
            else:
                todo.append(case)
        main = [case for case in todo if not case.expect.get("isolated")]
        course = h.make_course(base / "hostile", c.canary)
        h.add_normal_students(course)
        for case in main:
            h.add_case(course, case, c.placeholders)
        c.main = h.grade_class(h.Run("hostile", course, base / "scratch-hostile",
                                     [*h.NORMAL_STUDENTS, *(x.name for x in main)]), token, watched, WATCHDOG_S)
        watched.append((course, ()))
        for i, case in enumerate(x for x in todo if x.expect.get("isolated")):
            course = h.make_course(base / f"isolated-{i}", c.canary)
            h.add_normal_students(course)
            h.add_case(course, case, c.placeholders)
            c.isolated[case.name] = h.grade_class(
                h.Run(f"isolated {case.name}", course, base / f"scratch-isolated-{i}",
                      [*h.NORMAL_STUDENTS, case.name]), token, watched, WATCHDOG_S)
            watched.append((course, ()))
        summary = {"seconds": {r.label: round(r.seconds, 1) for r in (c.baseline, *c.runs)},
                   "sandbox": c.caps.details, "not_run": sorted(c.not_run)}
        (base / "summary.json").write_text(json.dumps(summary, indent=1))  # for the record (HOSTILE_KEEP=1)
        yield c
    finally:
        c.listener.close()
        for big in list(base.glob("*/submitted/h17*/*/*.ipynb")):  # 200 MB and 1 TiB (sparse) notebooks
            big.unlink(missing_ok=True)
        if not os.environ.get("HOSTILE_KEEP"):  # HOSTILE_KEEP=1 keeps the course copies to look at
            shutil.rmtree(base, ignore_errors=True)


def _run_of(corpus: Corpus, name: str) -> h.Run:
    return corpus.isolated.get(name) or corpus.main


# -- the corpus itself ---------------------------------------------------------------------------

def test_case_files_follow_the_convention():
    """Does every case file have a docstring, an EXPECT literal with known keys and tokens that
    name real hidden tests, and exactly one of SOURCE and build()?"""
    names = h.hidden_test_names(h.REPO / "assignments" / h.ASSIGNMENT / "hidden")
    problems = {c.name: p for c in CASES if (p := h.validate(c, names))}
    assert not problems, problems
    assert len(CASES) >= 18


def test_clean_class_grades_normally(corpus):
    """Without hostile cases, does the class grade as the bundled examples say (the yardstick)?"""
    b = corpus.baseline
    assert b.error is None, b.error
    assert set(b.reports) == {*h.NORMAL_STUDENTS, h.PREFLIGHT_STUDENT}
    for student, source in h.NORMAL_STUDENTS.items():
        lost = [t["name"] for t in b.reports[student]["tests"] if t["score"] < t["max_score"]]
        assert (not lost) if source == "alice" else (0 < len(lost) < len(b.reports[student]["tests"])), (student, lost)


def test_clean_class_leaves_nothing_behind(corpus):
    """After a clean class, is no process left and no file outside the grader's scratch changed?"""
    b = corpus.baseline
    assert not b.leftovers, b.leftovers
    assert not h.own_changes(b, corpus.course_roots, corpus.token), h.own_changes(b, corpus.course_roots, corpus.token)[:10]


def test_grader_scratch_is_cleaned_up(corpus):
    """After each class, clean or hostile, is the grader's scratch folder (its TMPDIR) empty again?"""
    left = {run.label: run.scratch_left[:6] + [f"{len(run.scratch_left)} paths in all"]
            for run in (corpus.baseline, *corpus.runs) if run.scratch_left}
    assert not left, left


# -- per case: (a), (b), (d) ---------------------------------------------------------------------

@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_case(corpus, name):
    """Is this attack graded as its EXPECT says, leaking nothing and leaving nothing behind (and,
    when it is graded in a class of its own, are the other students' reports untouched)?"""
    if not selected(name):
        pytest.skip("not in HOSTILE_CASES")
    if name in corpus.not_run:
        pytest.fail(corpus.not_run[name])
    case = next(c for c in CASES if c.name == name)
    source = h.fill(case.source, {**corpus.placeholders, "CASE": name}) if case.source else ""
    run = _run_of(corpus, name)
    problems = h.check_case(case, run, h.secrets(corpus.canary, source), corpus.listener, corpus.marker_dir,
                            h.own_changes(run, corpus.course_roots, corpus.token), corpus.token)
    if name in corpus.isolated:
        problems += [f"another student's report changed: {d}" for d in _differences(corpus, run)]
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def _differences(corpus: Corpus, run: h.Run, students=tuple(h.NORMAL_STUDENTS)) -> list[str]:
    """How the normal students' reports in `run` differ from the clean run (normalized)."""
    out = []
    for student in students:
        before = corpus.baseline.reports.get(student, {})
        after = run.reports.get(student, {"missing": True})
        want = h.normalize(before, [corpus.baseline.course, corpus.baseline.scratch])
        got = h.normalize(after, [run.course, run.scratch])
        if got != want:
            delta = list(difflib.unified_diff(want.splitlines(), got.splitlines(), "without", run.label, n=0,
                                              lineterm=""))[2:]
            out.append(f"{student} ({run.label}): score {before.get('score')} -> {after.get('score')}, "
                       f"load_error {after.get('load_error')!r}; diff: " + " | ".join(x[:160] for x in delta[:8]))
    return out


# -- the class: (a), (c), (d) --------------------------------------------------------------------

def test_hostile_class_finishes_in_time(corpus):
    """Does grading the hostile class return, with a report for every student, in reasonable time?"""
    for run in corpus.runs:
        assert run.error is None, f"{run.label}: {run.error}"
        missing = [s for s in run.students if s not in run.reports]
        assert not missing, f"{run.label}: no report for {missing}"
    assert corpus.main.seconds < MAIN_RUN_LIMIT_S, f"the hostile class took {corpus.main.seconds:.0f} s"


@pytest.mark.parametrize("student", list(h.NORMAL_STUDENTS))
def test_normal_student_is_unaffected(corpus, student):
    """Is this normal student's report byte-identical (timings aside) with and without the hostile cases?"""
    problems = [d for run in corpus.runs for d in _differences(corpus, run, (student,))]
    assert not problems, "\n".join(problems)


def test_no_process_survives_grading(corpus):
    """After each hostile class, is every process the grading started gone?"""
    left = {run.label: run.leftovers for run in corpus.runs if run.leftovers}
    summary = {k: [(p.get("case"), p.get("cmdline")) for p in v][:8] + [f"{len(v)} in all"] for k, v in left.items()}
    assert not left, summary


def test_no_file_changes_outside_scratch(corpus):
    """After each hostile class, is every file outside the workers' scratch as it was (reports of
    the graded students aside)?"""
    found = {run.label: [(k, p) for k, p, _ in h.own_changes(run, corpus.course_roots, corpus.token)]
             for run in corpus.runs}
    found = {k: v[:10] + ([f"{len(v)} in all"] if len(v) > 10 else []) for k, v in found.items() if v}
    assert not found, found
    markers = sorted(p.name for p in corpus.marker_dir.iterdir())
    assert not markers, f"code ran in the grader: {markers}"


def test_print_flood_report_is_small(corpus):
    """Does the 100 MB print leave a small report, and is every report of the class small?"""
    name = "h09_print_flood"
    if not selected(name):
        pytest.skip("not in HOSTILE_CASES")
    assert corpus.main.report_bytes.get(name, 0) > 0, "no report"
    assert corpus.main.report_bytes[name] < 1_000_000, corpus.main.report_bytes[name]
    big = {s: n for run in corpus.runs for s, n in run.report_bytes.items() if n >= 1_000_000}
    assert not big, big


def test_loopback_listener_received_nothing(corpus):
    """Did the listener on 127.0.0.1 get no connection and no datagram from any worker?"""
    assert not corpus.listener.received, [(kind, data[:100]) for kind, data in corpus.listener.received[:5]]
