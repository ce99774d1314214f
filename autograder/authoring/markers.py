"""Plain-text cell markers -> nbgrader's cell metadata, so an instructor never writes that metadata by hand.

In the source notebook (assignments/<id>/<name>.ipynb):

- a code cell containing `### BEGIN SOLUTION` (or tagged `solution`) is a solution cell;
- a code cell whose first line is `# TEST name (2 points)` (or tagged `test`) is a visible test
  cell: locked, graded by nbgrader with those points, skipped by the grader's loader;
- a markdown cell whose first line is `<!-- ANSWER name (3 points) -->` is a written answer graded
  by hand in formgrader (nbgrader's manually graded answer: grade and solution): the question above
  its `### BEGIN SOLUTION` region (the model answer, which the student's copy replaces with
  "YOUR ANSWER HERE"), and the instructor's `### BEGIN MARK SCHEME` ... `### END MARK SCHEME`;
- a markdown cell whose first line is `<!-- TASK name (4 points) -->` is an item graded by hand over
  the whole notebook (nbgrader's manually graded task: code quality), with its mark scheme region.

`make release` (autograder/release.py) and the judge (the reference notebook) read the notebook
through `prepare`, which writes nbgrader's metadata with stable grade ids: a solution cell is named
after the first function or class it defines, a test cell `test_<name>`. A cell that already has
nbgrader metadata keeps it as written (Day 41 and Day 42 are authored that way).

Extension point: a marker is a `Kind` in `KINDS`, keyed by its keyword. Mark scheme regions are
taken out of every released copy by nbgrader's ClearMarkScheme (release.py) and read back for the
instructor by `manual_items` (formgrader's copy of each submission shows them).
"""
from __future__ import annotations

import ast
import copy
import json
import re
from dataclasses import dataclass
from typing import Callable

from autograder.cells import to_python
from autograder.config import CourseError

BEGIN_SOLUTION = "### BEGIN SOLUTION"
SCHEMA = 3
GRADE_ID = re.compile(r"^[A-Za-z0-9_\-]+$")
# The rest of a marker line after its keyword: an optional name, optional points.
_REST = re.compile(r"^:?\s*(?P<name>[A-Za-z_][\w\-]*)?\s*(?:\(\s*(?P<points>\d+(?:\.\d+)?)\s*(?:points?|pts?)\s*\))?"
                   r"\s*$")
# What a marker looks like in a code cell and in a markdown cell (first non-blank line).
_CODE_MARKER = re.compile(r"^#\s*(?P<keyword>[A-Z][A-Z_]+)\b(?P<rest>.*)$")
_MARKDOWN_MARKER = re.compile(r"^<!--\s*(?P<keyword>[A-Z][A-Z_]+)\b(?P<rest>.*?)-->\s*$")
# An unknown keyword counts as a marker (a typo to report) only when the line also gives points.
_WITH_POINTS = re.compile(r"\(\s*\d+(?:\.\d+)?\s*(?:points?|pts?)\s*\)\s*(-->)?\s*$")


class AuthoringError(CourseError):
    """A source notebook's markers cannot be turned into metadata: one line naming file, cell and line."""


def _visible_test(grade_id: str, points: float) -> dict:
    return {"grade": True, "grade_id": grade_id, "locked": True, "points": points, "schema_version": SCHEMA,
            "solution": False, "task": False}


def _solution(grade_id: str) -> dict:
    return {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": SCHEMA, "solution": True,
            "task": False}


def _answer(grade_id: str, points: float) -> dict:
    return {"grade": True, "grade_id": grade_id, "locked": False, "points": points, "schema_version": SCHEMA,
            "solution": True, "task": False}


def _task(grade_id: str, points: float) -> dict:
    return {"grade": False, "grade_id": grade_id, "locked": True, "points": points, "schema_version": SCHEMA,
            "solution": False, "task": True}


@dataclass(frozen=True)
class Kind:
    """One kind of marked cell: its keyword, the cell types it may mark, the tag that marks it
    too, the prefix of its grade ids and the nbgrader metadata it gets."""
    keyword: str
    cell_types: tuple[str, ...]
    tag: str
    prefix: str
    metadata: Callable[[str, float], dict]


KINDS: dict[str, Kind] = {
    "TEST": Kind("TEST", cell_types=("code",), tag="test", prefix="test_", metadata=_visible_test),
    "ANSWER": Kind("ANSWER", cell_types=("markdown",), tag="answer", prefix="answer_", metadata=_answer),
    "TASK": Kind("TASK", cell_types=("markdown",), tag="task", prefix="task_", metadata=_task),
}
BEGIN_MARK_SCHEME, END_MARK_SCHEME = "### BEGIN MARK SCHEME", "### END MARK SCHEME"


@dataclass(frozen=True)
class Mark:
    kind: Kind
    name: str             # "" when the marker names nothing
    points: float | None  # None when the marker gives none
    line: int             # 1-based line of the marker in its cell (0: a tag)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _tags(cell: dict) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def _first_line(source: str) -> tuple[int, str]:
    for number, line in enumerate(source.splitlines(), 1):
        if line.strip():
            return number, line.strip()
    return 0, ""


def read_mark(cell: dict, where: str) -> Mark | None:
    """The marker of this cell (its first line, or a tag), or None; AuthoringError for a broken one."""
    number, line = _first_line(_source(cell))
    pattern = _MARKDOWN_MARKER if cell.get("cell_type") == "markdown" else _CODE_MARKER
    found = pattern.match(line)
    if found and (found.group("keyword") in KINDS or _WITH_POINTS.search(line)):
        keyword = found.group("keyword")
        if keyword not in KINDS:
            raise AuthoringError(f"{where}: line {number}: unknown marker {keyword!r} (known: {', '.join(KINDS)})")
        kind = KINDS[keyword]
        rest = _REST.match(found.group("rest"))
        if rest is None:
            raise AuthoringError(f"{where}: line {number}: a {keyword} marker reads '# {keyword} name (2 points)': "
                                 "a name of letters, digits, _ and -, then optional points")
        if cell.get("cell_type") not in kind.cell_types:
            raise AuthoringError(f"{where}: line {number}: a {keyword} marker belongs in a "
                                 f"{' or '.join(kind.cell_types)} cell, not a {cell.get('cell_type')} cell")
        points = float(rest.group("points")) if rest.group("points") else None
        if points is not None and points <= 0:
            raise AuthoringError(f"{where}: line {number}: {keyword} {rest.group('name') or ''} has no points; "
                                 "give it (1 point) or more")
        return Mark(kind, rest.group("name") or "", points, number)
    for kind in KINDS.values():
        if kind.tag in _tags(cell) and cell.get("cell_type") in kind.cell_types:
            return Mark(kind, "", None, 0)
    return None


def _defined_name(source: str, where: str) -> str:
    """The first function or class a solution cell defines, in snake case ("" if none)."""
    try:
        tree = ast.parse(to_python(source))
    except SyntaxError as exc:
        raise AuthoringError(f"{where}: line {exc.lineno}: SyntaxError: {exc.msg}") from None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            # MultiHeadAttention -> multi_head_attention
            return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", node.name).lower()
    return ""


def _points(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def prepare(nb: dict, path: str) -> tuple[dict, bool]:
    """(the notebook with nbgrader metadata written for its marked cells, whether anything changed).

    `nb` is the notebook as JSON data; `path` names it in errors. Cells with nbgrader metadata keep it."""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return nb, False
    taken: dict[str, int] = {}  # grade id -> the cell number that has it
    for number, cell in enumerate(cells, 1):
        meta = (cell.get("metadata") or {}).get("nbgrader") if isinstance(cell, dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            taken.setdefault(meta["grade_id"], number)
    out, changed, last_solution = copy.deepcopy(nb), False, ""
    for number, cell in enumerate(out["cells"], 1):
        if not isinstance(cell, dict):
            continue
        where = f"{path}: cell {number}"
        meta = cell.setdefault("metadata", {})
        source = _source(cell)
        if "nbgrader" in meta:
            if meta["nbgrader"].get("solution"):
                last_solution = str(meta["nbgrader"].get("grade_id", ""))
            continue
        mark = read_mark(cell, where)
        solution = cell.get("cell_type") == "code" and (BEGIN_SOLUTION in source or "solution" in _tags(cell))
        if cell.get("cell_type") == "markdown" and BEGIN_SOLUTION in source and mark is None:
            line = next(i for i, l in enumerate(source.splitlines(), 1) if BEGIN_SOLUTION in l)
            raise AuthoringError(f"{where}: line {line}: a solution region in a markdown cell needs a manually "
                                 "graded marker; put solution code in a code cell")
        if BEGIN_MARK_SCHEME in source and (mark is None or mark.kind.keyword == "TEST"):
            line = next(i for i, l in enumerate(source.splitlines(), 1) if BEGIN_MARK_SCHEME in l)
            raise AuthoringError(f"{where}: line {line}: a mark scheme belongs in an ANSWER or TASK cell "
                                 "(first line <!-- ANSWER name (3 points) -->)")
        if mark is not None and solution:
            raise AuthoringError(f"{where}: line {mark.line or 1}: a cell is either a solution or a "
                                 f"{mark.kind.keyword} cell, not both; split it in two")
        if solution:
            grade_id = _unique(_defined_name(source, where) or f"cell_{number}", taken, number)
            meta["nbgrader"] = _solution(grade_id)
            last_solution = grade_id
        elif mark is not None:
            if mark.name:
                grade_id = mark.name if mark.name.startswith(mark.kind.prefix) else mark.kind.prefix + mark.name
                if grade_id in taken:
                    raise AuthoringError(f"{where}: line {mark.line or 1}: the name {grade_id!r} is taken by cell "
                                         f"{taken[grade_id]}; give this {mark.kind.keyword} another name")
                taken[grade_id] = number
            else:
                grade_id = _unique(mark.kind.prefix + (last_solution or f"cell_{number}"), taken, number)
            meta["nbgrader"] = mark.kind.metadata(grade_id, _points(mark.points if mark.points is not None else 1))
        else:
            continue
        changed = True
    return (out, True) if changed else (nb, False)


def _unique(grade_id: str, taken: dict[str, int], number: int) -> str:
    """grade_id, or grade_id_2, _3 ... when an earlier cell has it (ids derived from names)."""
    candidate, n = grade_id, 2
    while candidate in taken:
        candidate, n = f"{grade_id}_{n}", n + 1
    taken[candidate] = number
    return candidate


def prepare_bytes(data: bytes, path: str) -> bytes:
    """The notebook file's bytes with metadata written; the same bytes when nothing is marked (or
    the bytes are not a notebook: whoever reads them next says so)."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return data
    prepared, changed = prepare(nb, path)
    return (json.dumps(prepared, indent=1, ensure_ascii=False) + "\n").encode() if changed else data


@dataclass(frozen=True)
class ManualItem:
    """A cell graded by hand: its grade id, "answer" or "task", its points, the question as the
    student reads it and the instructor's mark scheme (never released)."""
    grade_id: str
    kind: str
    points: float
    question: str
    mark_scheme: str


def _regions(source: str, begin: str, end: str) -> tuple[str, str]:
    """(the source without begin..end regions, the text inside them)."""
    outside, inside, within = [], [], False
    for line in source.splitlines():
        if begin in line:
            within = True
        elif end in line:
            within = False
        else:
            (inside if within else outside).append(line)
    return "\n".join(outside).strip(), "\n".join(inside).strip()


def manual_items(nb: dict) -> list[ManualItem]:
    """The manually graded cells of a prepared notebook (nbgrader metadata written), in order."""
    items = []
    for cell in nb.get("cells") or []:
        meta = (cell.get("metadata") or {}).get("nbgrader") if isinstance(cell, dict) else None
        if not isinstance(meta, dict) or cell.get("cell_type") != "markdown":
            continue
        manual = (meta.get("grade") and meta.get("solution")) or meta.get("task")
        if not manual or not isinstance(meta.get("grade_id"), str):
            continue
        text, scheme = _regions(_source(cell), BEGIN_MARK_SCHEME, END_MARK_SCHEME)
        text, _ = _regions(text, BEGIN_SOLUTION, "### END SOLUTION")
        lines = [line for line in text.splitlines() if not _MARKDOWN_MARKER.match(line.strip())]
        items.append(ManualItem(meta["grade_id"], "task" if meta.get("task") else "answer",
                                float(meta.get("points") or 0), "\n".join(lines).strip(), scheme))
    return items
