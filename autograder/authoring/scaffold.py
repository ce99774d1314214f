"""`python -m autograder new ID`: a working assignment to start from, in assignments/ID/.

It writes what docs/authoring.md walks through (tests/test_authoring.py keeps the two in step):
a notebook with plain-text markers (solution regions, `# TEST` cells), a student README, hidden
tests that use the generic probes, hidden/grading.toml, and a correct and a wrong example
submission that `make check` grades. It releases and grades as generated.

The files are templates in authoring/templates/, named as in the assignment plus `.tmpl` (no file of
the grader's package looks like a hidden test to code in the sandbox, which can read the package),
`$assignment` standing for the id; the notebook is written there in the percent format (`# %%`
starts a code cell, `# %% [markdown]` a markdown one).
"""
from __future__ import annotations

import json
import re
import shutil
import string
import tempfile
from pathlib import Path

from autograder.config import CourseConfig, CourseError

TEMPLATES = Path(__file__).with_name("templates")
NOTEBOOK_TEMPLATE = "notebook.py"
SUFFIX = ".tmpl"
ASSIGNMENT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")
_CELL = re.compile(r"^# %%(?: \[(?P<kind>markdown)\])?\s*$")


def percent_cells(text: str) -> list[tuple[str, str]]:
    """[(cell type, source)] of a notebook in the percent format."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        start = _CELL.match(line)
        if start:
            cells.append(("markdown" if start.group("kind") else "code", []))
        elif cells:
            kind, lines = cells[-1]
            lines.append(re.sub(r"^# ?", "", line) if kind == "markdown" else line)
    return [(kind, "\n".join(lines).strip("\n")) for kind, lines in cells]


def notebook_json(cells: list[tuple[str, str]]) -> str:
    """A plain nbformat 4 notebook: no nbgrader metadata (the markers are the metadata)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    for kind, source in cells:
        cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        cell.pop("id", None)  # ids would differ on every run; nbformat 4.4 cells need none
        nb.cells.append(cell)
    nb.nbformat_minor = 4
    nbformat.validate(nb)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def render(assignment_id: str) -> dict[str, str]:
    """Relative path -> text of every file of a new assignment called `assignment_id`."""
    files = {}
    for template in sorted(TEMPLATES.rglob(f"*{SUFFIX}")):
        text = string.Template(template.read_text()).safe_substitute(assignment=assignment_id)
        relative = str(template.relative_to(TEMPLATES)).removesuffix(SUFFIX)
        if relative == NOTEBOOK_TEMPLATE:
            files[f"{assignment_id}.ipynb"] = notebook_json(percent_cells(text))
        else:
            files[relative] = text
    return files


def new_assignment(cfg: CourseConfig, assignment_id: str) -> list[Path]:
    """Write a new assignment into the course's source folder; the files written."""
    if not ASSIGNMENT_ID.match(assignment_id or ""):
        raise CourseError(f"{assignment_id!r}: an assignment id starts with a letter and has only letters, digits, "
                          "_ and - (it names folders and nbgrader's assignment)")
    target = cfg.source_dir / assignment_id
    if target.exists():
        raise CourseError(f"{target}: already exists; pick another id or remove it first")
    cfg.source_dir.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed into place: never half an assignment.
    with tempfile.TemporaryDirectory(prefix=f".new-{assignment_id}-", dir=cfg.source_dir) as tmp:
        staged = Path(tmp, assignment_id)
        for relative, text in render(assignment_id).items():
            path = staged / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        shutil.move(str(staged), str(target))
    return sorted(p for p in target.rglob("*") if p.is_file())
