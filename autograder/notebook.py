"""Read a submitted notebook as data only, in a trusted process: its bytes, then the code cells to run.

Nothing here executes anything. Which cells run is autograder/cells.py's rule (the one students
get as notebook_loader.py); outputs stored in the notebook are ignored.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat

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
    _check_size(name, len(data), max_bytes)
    text = data.decode("utf-8", errors="replace")
    try:
        nb = nbformat.reads(text, as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        raise NotebookError(f"{name}: is not valid notebook JSON ({_json_where(text, exc)}); "
                            "re-download it from Jupyter with File > Save") from None
    except Exception as exc:
        raise NotebookError(f"{name}: is not a notebook nbformat can read "
                            f"({type(exc).__name__}: {str(exc)[:200]})") from None
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise NotebookError(f"{name}: has no list of cells")
    out = cells_to_run(cells, skip_tags)
    if len(out) > max_code_cells:
        raise NotebookError(f"{name}: has {len(out)} code cells, over the limit of {max_code_cells}")
    if not out:
        raise NotebookError(f"{name}: has no code cells to grade")
    return out


def _check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise NotebookError(f"{name}: is {size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB "
                            "limit; clear large outputs (Kernel > Restart & Clear Output) and resubmit")


def _json_where(text: str, exc: Exception) -> str:
    inner = exc
    while inner is not None and not isinstance(inner, json.JSONDecodeError):
        inner = inner.__context__ or inner.__cause__
    if isinstance(inner, json.JSONDecodeError):
        return f"line {inner.lineno}, column {inner.colno}: {inner.msg}"
    return str(exc)[:200]
