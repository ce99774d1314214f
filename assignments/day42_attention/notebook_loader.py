"""Load the code cells of a Jupyter notebook as a Python module (standard library only).

    from notebook_loader import load_notebook
    nb = load_notebook("attention.ipynb")
    nb.TransformerDecoderLayer(512, 8, 2048)

Code cells run in order in one fresh module namespace. Skipped: cells tagged with any of
`skip_tags`, nbgrader test cells, and `%%` cell magics. Line magics and shell escapes
(`%...`, `!...`) become no-ops. A cell that raises does not stop loading: the error is
recorded in the module's `__load_errors__` as (cell_index, "ExcType: message"), where
cell_index counts all cells of the notebook, markdown included, from 0.
"""
import json
import linecache
import re
import sys
import types
from pathlib import Path

__all__ = ["load_notebook"]


def _is_test_cell(cell):
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return bool(nbgrader.get("grade")) and not nbgrader.get("solution")


def _strip_magics(source):
    """Return `source` with magic/shell lines turned into `pass`, or None for a %% cell magic."""
    lines = source.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("%%"):
        return None
    out = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass  # " + stripped  # keeps indentation valid
        out.append(line)
    return "\n".join(out)


def load_notebook(path="attention.ipynb", skip_tags=("training", "plot")):
    """Execute the notebook's code cells and return them as a module."""
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

    if isinstance(skip_tags, str):
        skip_tags = (skip_tags,)
    skip_tags = set(skip_tags)

    name = "student_" + re.sub(r"\W", "_", path.stem)
    module = types.ModuleType(name)
    module.__file__ = str(path.resolve())
    module.__load_errors__ = []
    sys.modules[name] = module  # lets dataclasses, pickle etc. find the module
    folder = str(path.resolve().parent)
    if folder not in sys.path:  # cells may import helpers that sit next to the notebook
        sys.path.insert(0, folder)

    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code" or _is_test_cell(cell):
            continue
        if skip_tags & set(cell.get("metadata", {}).get("tags", [])):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        source = _strip_magics(source)
        if not source or not source.strip():
            continue
        filename = f"{path.name} [cell {index}]"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show code
        try:
            exec(compile(source, filename, "exec"), module.__dict__)
        except (Exception, SystemExit) as e:  # record and keep going: later cells may still load
            module.__load_errors__.append((index, f"{type(e).__name__}: {e}"))
    return module
