"""Read a submitted notebook, in the trusted process, as data only: the code cells to run.

Nothing here executes anything. Outputs stored in the notebook are ignored, and so are cells
tagged as not for grading and the notebook's own visible test cells (they only assert).
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat

from autograder.config import CourseError


class NotebookError(CourseError):
    """The submitted notebook cannot be read; the message names the file and what is wrong."""


def read_code_cells(path: Path, skip_tags, max_bytes: int, max_code_cells: int) -> list[dict]:
    """code_cells of the notebook file at `path`, which must be a regular file no larger than
    max_bytes (checked before a byte is read)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotebookError(f"{path.name}: cannot be read ({exc.strerror})") from None
    if not path.is_file() or path.is_symlink():
        raise NotebookError(f"{path.name}: is not a regular file")
    _check_size(path.name, size, max_bytes)
    return code_cells(path.read_bytes(), path.name, skip_tags, max_bytes, max_code_cells)


def code_cells(data: bytes, name: str, skip_tags, max_bytes: int, max_code_cells: int) -> list[dict]:
    """[{number, source, label}] for each code cell to run of the notebook `data` (the file
    `name`), numbered 1.. as cells appear."""
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
    skip = set(skip_tags)
    out = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
        nbg = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
        if skip.intersection(t for t in tags if isinstance(t, str)):
            continue
        if nbg.get("grade") is True and not nbg.get("solution"):
            continue  # a visible test cell: it defines nothing the hidden tests need
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str) or not source.strip():
            continue
        grade_id = nbg.get("grade_id") if isinstance(nbg.get("grade_id"), str) else ""
        out.append({"number": number, "source": source, "label": grade_id[:60]})
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
