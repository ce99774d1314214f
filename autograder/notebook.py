"""Read a submitted notebook as data only, in a trusted process: its bytes, then the code cells to run.

Nothing here executes anything. Which cells run is autograder/cells.py's rule (the one students
get as notebook_loader.py); outputs stored in the notebook are ignored.
"""
from __future__ import annotations

import json
from pathlib import Path

from autograder.cells import cells_to_run
from autograder.config import CourseError


class NotebookError(CourseError):
    """The submitted notebook cannot be read; the message names the file and what is wrong."""


def read_notebook(path: Path, max_bytes: int) -> bytes:
    """The bytes of the notebook file at `path`, which must be a regular file (not a link, a FIFO
    or a device) no larger than max_bytes: checked before a byte is read."""
    try:
        if path.is_symlink() or not path.is_file():
            raise NotebookError(f"{path.name}: is not a regular file (a link?); submit the notebook itself")
        _check_size(path.name, path.stat().st_size, max_bytes)
        return path.read_bytes()
    except OSError as exc:
        raise NotebookError(f"{path.name}: cannot be read ({exc.strerror})") from None


def code_cells(data: bytes, name: str, skip_tags, max_bytes: int, max_code_cells: int) -> list[dict]:
    """[{number, source, label}] for each code cell to run of the notebook `data` (the file
    `name`), numbered 1.. as cells appear (autograder/cells.py)."""
    import nbformat  # here, not at the top: it costs the coordinator seconds it never needs

    _check_size(name, len(data), max_bytes)
    text = data.decode("utf-8", errors="replace")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{name}: is not valid notebook JSON ({_json_where(text, exc)}); "
                            "re-download it from Jupyter with File > Save") from None
    _check_is_notebook(name, raw)
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:
        raise NotebookError(f"{name}: is a Jupyter notebook that could not be read "
                            f"({type(exc).__name__}: {str(exc)[:200]}); open it in Jupyter, "
                            "save it with File > Save and resubmit") from None
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise NotebookError(f"{name}: has no list of cells")
    out = cells_to_run(cells, skip_tags)
    if len(out) > max_code_cells:
        raise NotebookError(f"{name}: has {len(out)} code cells, over the limit of {max_code_cells}")
    if not out:
        raise NotebookError(f"{name}: has no code cells to grade")
    return out


def _check_is_notebook(name: str, raw) -> None:
    """Plain words for JSON that is not a notebook of today's format (nbformat's own messages,
    such as "could not be converted from version 1 to version 2", mean nothing to a student)."""
    hint = "submit the .ipynb file Jupyter saves (File > Save), not an export or another file renamed"
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise NotebookError(f"{name}: is a JSON file but not a Jupyter notebook (it has no cells); {hint}")
    version = raw.get("nbformat")
    if not isinstance(version, int) or isinstance(version, bool):
        raise NotebookError(f"{name}: is a JSON file but not a Jupyter notebook (no nbformat version); {hint}")
    if version < 3:  # nbformat upgrades 3 to 4 itself
        raise NotebookError(f"{name}: is in the old notebook format version {version}; open it in a current "
                            "Jupyter, save it with File > Save (format 4) and resubmit")


def _check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        limit = mib(max_bytes)
        digits = next((d for d in (1, 2, 3) if mib(size, d) != limit), 3)  # never "20 MiB, over 20 MiB"
        raise NotebookError(f"{name}: is {mib(size, digits)}, over the {limit} limit; clear large "
                            "outputs (Kernel > Restart & Clear Output) and resubmit")


def mib(size: int, digits: int = 1) -> str:
    """A size in MiB, as the limits are set (20 << 20 is "20 MiB", not "21 MB")."""
    text = f"{size / 2**20:.{digits}f}".rstrip("0").rstrip(".")
    return f"{text} MiB"


def _json_where(text: str, exc: Exception) -> str:
    inner = exc
    while inner is not None and not isinstance(inner, json.JSONDecodeError):
        inner = inner.__context__ or inner.__cause__
    if isinstance(inner, json.JSONDecodeError):
        return f"line {inner.lineno}, column {inner.colno}: {inner.msg}"
    return str(exc)[:200]
