"""Shared fixtures: a private copy of the course, and submissions built from the reference."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.config import load

REPO = Path(__file__).resolve().parent.parent
FILES = Path(__file__).parent / "files"
COURSE_FILES = ("assignments", "release", "solutions", "course_config.py", "nbgrader_config.py", "roster.csv")


def copy_course(dest: Path, with_submissions: bool = True) -> Path:
    for name in COURSE_FILES + (("submitted",) if with_submissions else ()):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture
def course(tmp_path):
    """A private copy of the course (sources, releases, bundled submissions), loaded."""
    return load(copy_course(tmp_path / "course"))


def variant_expectation(path: Path) -> dict:
    """A variant's EXPECT, read as make check reads an example submission's."""
    from autograder.coordinator.check import expectation

    return expectation(path)


def notebook_with_cell(reference: Path, source: str, dest: Path) -> Path:
    """The reference notebook with one more code cell at the end (it overrides what it defines)."""
    nb = nbformat.read(reference, as_version=4)
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells.append(nbformat.v4.new_code_cell(source))
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


# What a speed test measured, in its message: the same submission measures a little differently
# from run to run, so comparisons of reports across runs leave the figures out.
SPEED_FIGURES = [(re.compile(r"\d+\.\d+x"), "<ratio>x"), (re.compile(r"over \d+ timed pairs"), "over <n> timed pairs"),
                 (re.compile(r"took \d+\.\d+ s"), "took <t> s")]


def without_measurements(text: str) -> str:
    for measured, placeholder in SPEED_FIGURES:
        text = measured.sub(placeholder, text)
    return text
