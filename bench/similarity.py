"""`python -m bench --similarity`: the similarity check (make similarity) on a class of N (500 by default).

The class is built so that pairs share real code, as in a course: each student's seven solution
cells are drawn, cell by cell, from the independently written solutions of the test corpus
(tests/files/similarity/day41_transformer/ind_*.py) and the reference, with the student's own
names (a find-and-replace of some locals) and comments; every tenth student copies a classmate
whole, renamed. So most pairs share a cell or two, which is the expensive case.

Measured in one run: our check (canonical code, copydetect's fingerprints, every pair, the report),
and, as the baseline, copydetect's own CopyDetector on the same code cells exported as .py files
(its tokenizer, no release left out, every ordered pair, no report), on `baseline_n` of them
(it compares all n^2 ordered pairs, so the full class would take long) and scaled by pairs.
"""
from __future__ import annotations

import datetime
import json
import random
import re
import shutil
import time
from pathlib import Path

import nbformat

from autograder.cells import cells_to_run
from autograder.config import CourseConfig, load
from bench.run import ASSIGNMENT, HERE, _fresh_dir, _machine

CORPUS = HERE.parent / "tests" / "files" / "similarity" / ASSIGNMENT
TARGET_S = 60.0  # the similarity issue's target for 500 submissions on this machine
_CELL = re.compile(r"^# %% (\S+)$", re.M)


def corpus_cells(path: Path) -> dict[str, str]:
    """{grade_id: source} of a corpus file, whose cells start with `# %% <grade_id>` lines."""
    parts = _CELL.split(path.read_text())
    return {label: body.strip("\n") for label, body in zip(parts[1::2], parts[2::2])}


def build_class(cfg: CourseConfig, n: int, submitted: Path, seed: int = 17) -> dict[str, str]:
    """Write n Day 41 notebooks into submitted/ (nbgrader's layout); {student: how it was made}."""
    release = nbformat.read(cfg.release_dir / ASSIGNMENT / "transformer.ipynb", as_version=4)
    reference = nbformat.read(cfg.source_dir / ASSIGNMENT / "transformer.ipynb", as_version=4)
    styles = {p.stem: corpus_cells(p) for p in sorted(CORPUS.glob("ind_*.py"))}
    styles["reference"] = {c.metadata["nbgrader"]["grade_id"]: c.source for c in reference.cells
                           if c.metadata.get("nbgrader", {}).get("solution")}
    rng = random.Random(seed)
    made, written = {}, {}
    for i in range(n):
        student = f"s{i:03d}"
        if i % 10 == 9 and written:
            source = rng.choice(sorted(written))
            cells = {k: _renamed(v, rng) for k, v in written[source].items()}
            made[student] = f"copy of {source}, renamed"
        else:
            cells = {}
            for grade_id in styles["reference"]:
                style = rng.choice([s for s in sorted(styles) if grade_id in styles[s]])
                cells[grade_id] = _renamed(styles[style][grade_id], rng)
            made[student] = "cells drawn from the corpus's styles, renamed"
        written[student] = cells
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in cells:
                cell.source = f"# {student}\n" + cells[grade_id]
        path = submitted / student / ASSIGNMENT / "transformer.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
    return made


_LOCAL = re.compile(r"^\s+([a-z_][a-z0-9_]*) = ", re.M)


def _renamed(source: str, rng: random.Random) -> str:
    """The source with some of its local variables renamed, as a student names things."""
    names = sorted(set(_LOCAL.findall(source)) - {"self", "mask", "x"})
    for name in rng.sample(names, k=len(names) // 2):
        source = re.sub(rf"\b{name}\b", f"{name}_{rng.randint(1, 9)}", source)
    return source


def measure(cfg: CourseConfig, n: int = 500, baseline_n: int = 100, out: Path | None = None) -> dict:
    """Time `make similarity` on a class of n, and copydetect's own detector on baseline_n of the
    same submissions; write bench/similarity.json."""
    from autograder.coordinator.similarity import check

    work = _fresh_dir(HERE / "work" / f"similarity-n{n}")
    course = work / "course"
    for name in ("assignments", "release", "course_config.py", "nbgrader_config.py"):
        src = cfg.root / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, course / name)
    course_cfg = load(course)
    made = build_class(course_cfg, n, course_cfg.submitted_dir)

    started, cpu = time.perf_counter(), time.process_time()
    findings = check(course_cfg, ASSIGNMENT, quiet=True)
    ours_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    flagged = findings.flagged()
    copies = sum(1 for how in made.values() if how.startswith("copy"))
    found = sum(1 for p in flagged if made.get(p.b.student, "").startswith(f"copy of {p.a.student}")
                or made.get(p.a.student, "").startswith(f"copy of {p.b.student}"))

    base_s, base_pairs = _copydetect_baseline(course_cfg, work, sorted(made)[:baseline_n])
    ours_pairs = n * (n - 1) // 2
    scaled = base_s * (n * (n - 1)) / max(1, base_pairs)  # copydetect compares ordered pairs
    result = {
        "timestamp": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "machine": _machine(),
        "n": n, "ours_s": round(ours_s, 2), "ours_cpu_s": round(cpu_s, 2), "target_s": TARGET_S,
        "met": ours_s < TARGET_S,
        "pairs": ours_pairs, "pairs_listed": len(findings.pairs), "flagged": len(flagged),
        "planted_copies": copies, "planted_copies_flagged": found,
        "baseline": {"what": "copydetect.CopyDetector on the same code cells as .py files, no report",
                     "n": baseline_n, "s": round(base_s, 2), "scaled_to_n_s": round(scaled, 1),
                     "ours_over_baseline": round(ours_s / scaled, 3) if scaled else None},
    }
    print(f"similarity, n={n}: {ours_s:.1f} s, {cpu_s:.1f} s of CPU (target < {TARGET_S:g} s: "
          f"{'met' if result['met'] else 'NOT MET'}); "
          f"{len(flagged)} pairs flagged, {found} of the {copies} planted copies among them")
    print(f"baseline copydetect on {baseline_n}: {base_s:.1f} s, scaled to {n}: {scaled:.0f} s; "
          f"ours / baseline: {result['baseline']['ours_over_baseline']}")
    out = out or HERE / "similarity.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def _copydetect_baseline(cfg: CourseConfig, work: Path, students: list[str]) -> tuple[float, int]:
    """copydetect's detector as shipped, on each student's code cells written out as one .py file."""
    from copydetect import CopyDetector

    folder = _fresh_dir(work / "copydetect")
    for student in students:
        nb = nbformat.read(cfg.submitted_dir / student / ASSIGNMENT / "transformer.ipynb", as_version=4)
        (folder / f"{student}.py").write_text("\n\n".join(c["source"] for c in cells_to_run(nb.cells)))
    detector = CopyDetector(test_dirs=[str(folder)], extensions=["py"], display_t=0.5, silent=True)
    started = time.perf_counter()
    detector.run()
    return time.perf_counter() - started, len(students) * (len(students) - 1)
