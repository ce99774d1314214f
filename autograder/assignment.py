"""What the grader needs to know about one assignment, all read from its own folder.

assignments/<id>/
    <notebook>.ipynb        the reference solution (nbgrader source, solution regions inline)
    hidden/test_*.py        hidden tests: ordinary pytest tests, one file per test family
    hidden/probes.py        probes: the code that runs the student's code inside the worker
    hidden/grading.toml     optional: overrides of course_config.GRADING, and `notebook = "..."`
"""
from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from autograder.config import CourseConfig, CourseError, GradingSettings, override


@dataclass(frozen=True)
class Assignment:
    id: str
    source: Path
    notebook: str                 # the file name students submit
    hidden: Path
    probes: tuple[Path, ...]
    settings: GradingSettings

    @property
    def reference_notebook(self) -> Path:
        return self.source / self.notebook


def load_assignment(cfg: CourseConfig, assignment_id: str) -> Assignment:
    source = cfg.source_dir / assignment_id
    if not assignment_id or "/" in assignment_id or not source.is_dir():
        known = ", ".join(cfg.assignments()) or "none"
        raise CourseError(f"{source}: no assignment named {assignment_id!r} (known: {known})")
    hidden = source / "hidden"
    if not any(hidden.glob("test_*.py")):
        raise CourseError(f"{hidden}: no hidden tests (test_*.py) to grade {assignment_id} with")
    settings, notebook = cfg.grading, None
    toml_path = hidden / "grading.toml"
    if toml_path.is_file():
        try:
            raw = tomllib.loads(toml_path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise CourseError(f"{toml_path}: not valid TOML: {exc}") from None
        notebook = raw.pop("notebook", None)
        settings = override(settings, raw, toml_path)
    notebooks = sorted(p.name for p in source.glob("*.ipynb"))
    if notebook is None:
        if len(notebooks) != 1:
            raise CourseError(f"{source}: holds {len(notebooks)} notebooks; name the graded one "
                              f"with notebook = \"...\" in {toml_path}")
        notebook = notebooks[0]
    elif notebook not in notebooks:
        raise CourseError(f"{toml_path}: notebook {notebook!r} is not in {source}")
    probes = tuple(sorted(hidden.glob("probes*.py")))
    return Assignment(assignment_id, source, notebook, hidden, probes, settings)


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if "__pycache__" in f.parts:
                continue
            h.update(str(f.relative_to(path.parent)).encode())
            h.update(f.read_bytes() if f.exists() else b"")
    return h.hexdigest()


def grader_fingerprint(a: Assignment) -> str:
    """Changes whenever the hidden tests, probes, reference, settings or the grader change: a
    report made under another fingerprint is stale, and a lane under another may not grade."""
    h = hashlib.sha256(_digest(a.hidden, a.reference_notebook, Path(__file__).parent).encode())
    h.update(repr(a.settings).encode())
    return h.hexdigest()
