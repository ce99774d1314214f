"""Which cells of a notebook run, and how IPython syntax becomes Python: the one rule.

The grader uses it (the trusted side picks the cells, the sandboxed worker runs them), and
`make release` ships this very file to students as `notebook_loader.py`, so that

    from notebook_loader import load_notebook
    nb = load_notebook("transformer.ipynb")
    nb.MultiHeadAttention(512, 8)

runs exactly the cells the grader runs. Standard library only.

The rule: code cells run in order in one fresh namespace. Skipped: cells tagged with any of
`skip_tags` (training, plotting), nbgrader's test cells (they only assert), and empty cells.
Line magics and shell escapes (`%matplotlib inline`, `!pip install ...`) become no-ops; a cell
magic runs its body for `%%time`, `%%timeit` and `%%capture`, and skips the cell otherwise.
"""
import json
import linecache
import re
import sys
import types
from pathlib import Path

__all__ = ["load_notebook"]

SKIP_TAGS = ("training", "plot")
RUN_CELL_MAGICS = ("time", "timeit", "capture")
_ASSIGNED_MAGIC = re.compile(r"^(\s*[\w.,\s\[\]()]+?\s*=\s*)[%!].*$")


def is_test_cell(cell: dict) -> bool:
    """An nbgrader test cell (graded, not a solution): it asserts, it defines nothing needed."""
    nbgrader = _dict(_dict(cell).get("metadata")).get("nbgrader")
    nbgrader = _dict(nbgrader)
    return nbgrader.get("grade") is True and not nbgrader.get("solution")


def cells_to_run(cells: list, skip_tags=SKIP_TAGS) -> list:
    """[{"number", "source", "label"}] for each code cell that runs: number counts every cell of
    the notebook from 1 (as a student counts them), label is the nbgrader id ("" if none)."""
    skip = {skip_tags} if isinstance(skip_tags, str) else set(skip_tags)
    out = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or is_test_cell(cell):
            continue
        meta = _dict(cell.get("metadata"))
        tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
        if skip.intersection(t for t in tags if isinstance(t, str)):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str) or not source.strip():
            continue
        grade_id = _dict(meta.get("nbgrader")).get("grade_id")
        out.append({"number": number, "source": source, "label": grade_id[:60] if isinstance(grade_id, str) else ""})
    return out


def to_python(source: str) -> str:
    """IPython syntax made plain Python: magics and shell escapes become no-ops (indentation kept)."""
    lines = source.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("%%"):
        name = first[2:].split(maxsplit=1)[0] if len(first) > 2 else ""
        if name not in RUN_CELL_MAGICS:
            return ""
        body = lines[next(i for i, line in enumerate(lines) if line.strip()) + 1:]
        return to_python("\n".join(body))
    out = []
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith(("%", "!")):
            line = indent + "pass"
        elif _ASSIGNED_MAGIC.match(line):  # files = !ls  ->  files = None
            line = _ASSIGNED_MAGIC.sub(lambda m: m.group(1) + "None", line)
        out.append(line)
    return "\n".join(out)


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def load_notebook(path="notebook.ipynb", skip_tags=SKIP_TAGS):
    """Run the notebook's code cells (the grader's rule, above) and return them as a module.

    A cell that raises does not stop loading: the error is recorded in the module's
    `__load_errors__` as (cell number, "ExcType: message"), cells counted from 1."""
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"Notebook not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a valid notebook file (not JSON: {e})") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ValueError(f"{path} is not a valid notebook file (no list of cells)")

    name = "student_" + re.sub(r"\W", "_", path.stem)
    module = types.ModuleType(name)
    module.__file__ = str(path.resolve())
    module.__load_errors__ = []
    sys.modules[name] = module  # lets dataclasses, pickle etc. find the module
    folder = str(path.resolve().parent)
    if folder not in sys.path:  # cells may import helpers that sit next to the notebook
        sys.path.insert(0, folder)
    for cell in cells_to_run(cells, skip_tags):
        filename = f"{path.name} [cell {cell['number']}]"
        source = cell["source"]
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show code
        try:
            exec(compile(to_python(source), filename, "exec"), module.__dict__)
        except (Exception, SystemExit) as e:  # record and keep going: later cells may still load
            module.__load_errors__.append((cell["number"], f"{type(e).__name__}: {e}"))
    return module
