"""Release stage: assignments/ -> release/ (student version) and solutions/, through nbgrader.

Order matters:
1. validate every source first, so a malformed one names its file and cell and nothing is written;
2. let nbgrader build both versions into a temporary folder beside the course;
3. strip solution and hidden-test regions from scripts, which nbgrader copies verbatim;
4. add notebook_loader.py (autograder/cells.py: the grader's own rule of which cells run);
5. scan the student version for leaks and fail loudly, naming the file;
6. only then swap the new folders into place, so a failed run leaves the old release untouched.

An assignment whose sources (and this stage's code) are unchanged since its last release, and
whose release/ and solutions/ folders are still what that release wrote, is not released again:
a fingerprint of both is kept in .autograder/release-<assignment>.json.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


from autograder.authoring import markers
from autograder.config import CourseConfig, CourseError

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
BEGIN_SCHEME, END_SCHEME = markers.BEGIN_MARK_SCHEME, markers.END_MARK_SCHEME  # answers graded by hand
REGIONS = ((BEGIN_SOLUTION, END_SOLUTION), (BEGIN_HIDDEN, END_HIDDEN), (BEGIN_SCHEME, END_SCHEME))
MARKERS = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS|MARK SCHEME)")
SCRIPT_SUFFIXES = {".py"}
# A solution line shorter than this is too generic ("return x") to call a leak on its own.
MIN_LEAK_LINE = 16
# Shipped with every release: the grader's rule of which cells run, so students load notebooks as it does.
LOADER = "notebook_loader.py"
LOADER_SOURCE = Path(__file__).with_name("cells.py")


class ReleaseError(CourseError):
    """A source is malformed or the student version would leak; the message names the file."""


@dataclass(frozen=True)
class ReleaseResult:
    assignment_id: str
    release_files: tuple[str, ...]
    solution_files: tuple[str, ...]
    unchanged: bool = False  # its sources and outputs were as the last release left them: not rebuilt


# -- 1. validation ---------------------------------------------------------------------------

def _check_regions(lines: list[str], where: str) -> None:
    """Raise unless every BEGIN marker has its END, unnested, in this cell or script."""
    for begin, end in REGIONS:
        opened = None
        for lineno, line in enumerate(lines, 1):
            if begin in line:
                if opened is not None:
                    raise ReleaseError(f"{where}: line {lineno}: '{begin}' inside the region "
                                       f"opened at line {opened}")
                opened = lineno
            elif end in line:
                if opened is None:
                    raise ReleaseError(f"{where}: line {lineno}: '{end}' without a '{begin}'")
                opened = None
        if opened is not None:
            raise ReleaseError(f"{where}: line {opened}: '{begin}' without a matching '{end}'")


def _cell_name(number: int, cell) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"cell {number}" + (f" ({grade_id})" if grade_id else "")


def _read_notebook(path: Path):
    import nbformat  # here: the release that finds nothing changed never needs it

    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # JSON errors, schema errors, bad encodings
        raise ReleaseError(f"{path}: not a valid notebook: {type(exc).__name__}: {exc}") from exc
    return nb


def validate_sources(cfg: CourseConfig, assignment_id: str) -> None:
    """Raise ReleaseError naming the file (and cell) of the first malformed source."""
    folder = cfg.source_dir / assignment_id
    for path in sorted(folder.rglob("*")):
        if _grader_only(cfg, path.relative_to(folder)) or not path.is_file():
            continue
        if path.suffix == ".ipynb":
            nb, _ = markers.prepare(_read_notebook(path), str(path))  # plain-text markers -> nbgrader metadata
            for number, cell in enumerate(nb.cells, 1):
                where = f"{path}: {_cell_name(number, cell)}"
                _check_regions(cell.source.splitlines(), where)
                has_solution = BEGIN_SOLUTION in cell.source
                is_solution = cell.get("metadata", {}).get("nbgrader", {}).get("solution", False)
                if has_solution and not is_solution:
                    raise ReleaseError(f"{where}: has a solution region but is not marked as a "
                                       "solution cell (nbgrader metadata 'solution': true)")
        elif path.suffix in SCRIPT_SUFFIXES:
            _check_regions(path.read_text().splitlines(), str(path))


def _grader_only(cfg: CourseConfig, relative: Path) -> bool:
    return any(part in cfg.release.grader_only for part in relative.parts)


# -- 3. scripts ------------------------------------------------------------------------------

def strip_script(source: str) -> str:
    """The student version of a script: solution regions become stubs, hidden tests vanish.

    nbgrader's own preprocessors do the work, on the script wrapped as a code cell, so a
    script reads exactly like a notebook cell would after `nbgrader generate_assignment`.
    """
    import nbformat
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    cell = nbformat.v4.new_code_cell(source)
    ClearSolutions()._replace_solution_region(cell, "python")
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source


# -- 4. leak check ---------------------------------------------------------------------------

def _solution_lines(cfg: CourseConfig, assignment_id: str) -> set[str]:
    """Lines that appear in the sources only inside solution, hidden-test or mark scheme regions."""
    inside, outside = set(), set()
    folder = cfg.source_dir / assignment_id
    texts = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or _grader_only(cfg, path.relative_to(folder)):
            continue
        if path.suffix == ".ipynb":
            texts += [cell.source for cell in _read_notebook(path).cells]
        elif path.suffix in SCRIPT_SUFFIXES:
            texts.append(path.read_text())
    for text in texts:
        in_region = False
        for line in text.splitlines():
            if any(begin in line for begin, _ in REGIONS):
                in_region = True
            elif any(end in line for _, end in REGIONS):
                in_region = False
            else:
                (inside if in_region else outside).add(line.strip())
    return {line for line in inside - outside if len(line) >= MIN_LEAK_LINE}


def check_for_leaks(cfg: CourseConfig, assignment_id: str, release_folder: Path) -> None:
    """Raise ReleaseError naming the released file that carries a solution or hidden test."""
    secret_lines = _solution_lines(cfg, assignment_id)
    source = cfg.source_dir / assignment_id
    grader_only = {p.relative_to(source) for p in source.rglob("*")
                   if _grader_only(cfg, p.relative_to(source))}
    for path in sorted(release_folder.rglob("*")):
        relative = path.relative_to(release_folder)
        if relative in grader_only or _grader_only(cfg, relative):
            raise ReleaseError(f"{path}: a grader-only file reached the student release")
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".ipynb":
            text = "\n".join(cell.source for cell in _read_notebook(path).cells)
        marker = MARKERS.search(text)
        if marker:
            raise ReleaseError(f"{path}: the student release still holds a '{marker.group(0)}' marker")
        for line in text.splitlines():
            if line.strip() in secret_lines:
                raise ReleaseError(f"{path}: the student release holds a solution line: {line.strip()!r}")


# -- 2. nbgrader -----------------------------------------------------------------------------

def _prepared_source(cfg: CourseConfig, assignment_id: str, to: Path) -> Path:
    """A copy of the assignment's source for nbgrader, its notebooks' markers written as nbgrader
    metadata (authoring/markers.py); grader-only folders are not copied. Returns the source folder."""
    source = cfg.source_dir / assignment_id
    shutil.copytree(source, to / assignment_id, ignore=shutil.ignore_patterns(*cfg.release.grader_only, "__pycache__"))
    for path in sorted((to / assignment_id).rglob("*.ipynb")):
        data = path.read_bytes()
        prepared = markers.prepare_bytes(data, str(source / path.relative_to(to / assignment_id)))
        if prepared is not data:
            path.write_bytes(prepared)
    return to


def _run_nbgrader(cfg: CourseConfig, assignment_id: str, source: Path, release_to: Path, solutions_to: Path) -> None:
    from nbgrader.converters import GenerateAssignment, GenerateSolution
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import ClearMarkScheme, ClearOutput, IncludeHeaderFooter, LockCells, SaveCells

    # nbgrader shells out to alembic, which sits beside this interpreter in the venv.
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    config = cfg.nbgrader_traitlets()
    config.CourseDirectory.assignment_id = assignment_id
    config.CourseDirectory.source_directory = str(source)
    config.CourseDirectory.release_directory = str(release_to)
    config.CourseDirectory.solution_directory = str(solutions_to)
    # nbgrader's solution step would execute the notebook (training included): slow, and
    # its outputs would differ run to run. We keep the solutions output-free and byte-stable.
    config.GenerateSolution.preprocessors = [IncludeHeaderFooter, LockCells, ClearOutput, ClearMarkScheme]
    # The gradebook's grade cells are the hidden tests, written by the grade step: the release
    # must not add the notebook's visible test cells to them (their points are not the grade).
    config.GenerateAssignment.preprocessors = [p for p in GenerateAssignment.class_traits()["preprocessors"].default()
                                               if p is not SaveCells]
    config.GenerateAssignment.no_database = True
    # Mark schemes sit in written answers (grade + solution cells) too, not only in nbgrader's task
    # cells; the leak check below still refuses a release that holds one.
    config.ClearMarkScheme.enforce_metadata = False
    from nbgrader.api import Gradebook

    with Gradebook(cfg.db_url, course_id=cfg.course_id) as gb:
        gb.update_or_create_assignment(assignment_id)  # generate_solution looks it up
    for converter in (GenerateAssignment, GenerateSolution):
        log = io.StringIO()
        app = converter(coursedir=CourseDirectory(config=config), config=config)
        handler = logging.StreamHandler(log)
        app.log.addHandler(handler)
        try:
            app.start()
        except Exception as exc:
            raise ReleaseError(f"{cfg.source_dir / assignment_id}: nbgrader {converter.__name__} "
                               f"failed: {exc}\n{log.getvalue()}") from exc
        finally:
            app.log.removeHandler(handler)


def _files(folder: Path) -> tuple[str, ...]:
    return tuple(str(p.relative_to(folder)) for p in sorted(folder.rglob("*")) if p.is_file())


def _swap_into_place(new: Path, target: Path) -> None:
    """Replace target with new using renames, so readers see the old or the new, never half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    new.rename(target)
    if old.exists():
        shutil.rmtree(old)


def release_assignment(cfg: CourseConfig, assignment_id: str) -> ReleaseResult:
    source = cfg.source_dir / assignment_id
    if not assignment_id or not source.is_dir():
        known = ", ".join(cfg.assignments()) or "none"
        raise ReleaseError(f"{source}: no assignment named {assignment_id!r} (known: {known})")
    if not any(source.glob("*.ipynb")):
        raise ReleaseError(f"{source}: holds no notebook to release")
    validate_sources(cfg, assignment_id)
    if (source / LOADER).exists():
        raise ReleaseError(f"{source / LOADER}: the release writes this file itself (the grader's rule of which "
                           "cells run); remove it from the source")

    # The temporary folder sits inside the course root so the final renames stay on one filesystem.
    with tempfile.TemporaryDirectory(prefix=".release-tmp-", dir=cfg.root) as tmp:
        release_to, solutions_to = Path(tmp, "release"), Path(tmp, "solutions")
        source = _prepared_source(cfg, assignment_id, Path(tmp, "source"))
        _run_nbgrader(cfg, assignment_id, source, release_to, solutions_to)
        student = release_to / assignment_id
        for script in sorted(student.rglob("*")):
            if script.suffix in SCRIPT_SUFFIXES and script.is_file():
                script.write_text(strip_script(script.read_text()))
        for folder in (student, solutions_to / assignment_id):
            shutil.copyfile(LOADER_SOURCE, folder / LOADER)
        check_for_leaks(cfg, assignment_id, student)
        result = ReleaseResult(assignment_id, _files(student), _files(solutions_to / assignment_id))
        _swap_into_place(student, cfg.release_dir / assignment_id)
        _swap_into_place(solutions_to / assignment_id, cfg.solution_dir / assignment_id)
    return result


# -- the fingerprint: skip a release that would write what is already there ------------------

_IGNORED = {".ipynb_checkpoints", "__pycache__", "feedback"}  # as nbgrader_traitlets' ignore list


def _tree_digest(h, folder: Path, keep=lambda relative: True) -> None:
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        relative = path.relative_to(folder)
        if path.is_file() and path.suffix != ".pyc" and not _IGNORED & set(relative.parts) and keep(relative):
            h.update(str(relative).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())


def sources_fingerprint(cfg: CourseConfig, assignment_id: str) -> str:
    """The assignment's released sources, this stage's code and settings, nbgrader's and nbformat's versions."""
    from importlib.metadata import version

    h = hashlib.sha256(f"{version('nbgrader')}|{version('nbformat')}|{cfg.course_id}|{cfg.nbgrader}|{cfg.release}".encode())
    _tree_digest(h, cfg.source_dir / assignment_id, lambda relative: not _grader_only(cfg, relative))
    for code in (Path(__file__), LOADER_SOURCE, Path(__file__).with_name("config.py"), Path(markers.__file__)):
        h.update(code.read_bytes())
    return h.hexdigest()


def outputs_fingerprint(cfg: CourseConfig, assignment_id: str) -> str:
    h = hashlib.sha256()
    for folder in (cfg.release_dir / assignment_id, cfg.solution_dir / assignment_id):
        h.update(str(folder.is_dir()).encode())
        _tree_digest(h, folder)
    return h.hexdigest()


def _stamp(cfg: CourseConfig, assignment_id: str) -> Path:
    return cfg.root / ".autograder" / f"release-{assignment_id}.json"


def _up_to_date(cfg: CourseConfig, assignment_id: str) -> bool:
    try:
        saved = json.loads(_stamp(cfg, assignment_id).read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(saved, dict) and saved.get("sources") == sources_fingerprint(cfg, assignment_id)
            and saved.get("outputs") == outputs_fingerprint(cfg, assignment_id))


def _write_stamp(cfg: CourseConfig, assignment_id: str) -> None:
    path = _stamp(cfg, assignment_id)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"sources": sources_fingerprint(cfg, assignment_id),
                               "outputs": outputs_fingerprint(cfg, assignment_id)}))
    os.replace(tmp, path)


def release(cfg: CourseConfig, assignment_id: str | None = None, force: bool = False) -> list[ReleaseResult]:
    """Release one assignment, or every assignment in the source directory; one whose sources and
    outputs are unchanged since its last release is left as it is (unless `force`).

    All sources are validated before anything is written, so one malformed assignment
    never leaves the others half-released.
    """
    ids = [assignment_id] if assignment_id is not None else cfg.assignments()
    current = {aid for aid in ids if not force and aid and (cfg.source_dir / aid).is_dir() and _up_to_date(cfg, aid)}
    for aid in ids:
        if aid not in current and aid and (cfg.source_dir / aid).is_dir():
            validate_sources(cfg, aid)
    results = []
    for aid in ids:
        if aid in current:
            results.append(ReleaseResult(aid, _files(cfg.release_dir / aid), _files(cfg.solution_dir / aid), True))
            continue
        results.append(release_assignment(cfg, aid))
        _write_stamp(cfg, aid)
    return results
