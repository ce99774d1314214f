"""nbgrader's formgrader over our grades: the autograded copies it opens, and the command that serves it.

Runs in the coordinator. For each graded submission `make grade` writes
autograded/<student>/<assignment>/<notebook>.ipynb (nbgrader's autograded layout), the notebook
formgrader renders beside its score and comment boxes:

- the student's cells, outputs cleared and HTML in markdown escaped (formgrader renders the notebook
  as a page in the instructor's signed-in browser: nothing a student wrote may run there);
- nbgrader metadata only on the cells graded by hand, as the release wrote it (a student cannot
  rename or unlock them), so formgrader shows a score box exactly there; an answer cell the student
  deleted is put back empty, so it can still be graded (0);
- at the top, a read-only cell with the autograde's results (each hidden test's status, points and
  message, the late penalty, load errors, flags); after each answer, its mark scheme and the rubric's
  reusable comments, for the grader only (autograded/ is never released).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from autograder.authoring.markers import ManualItem
from autograder.config import CourseConfig
from autograder.coordinator import report
from autograder.results import SubmissionResult

AUTOGRADED = "autograded"  # nbgrader's CourseDirectory.autograded_directory default, which formgrader reads


def autograded_path(cfg: CourseConfig, student_id: str, assignment_id: str, notebook: str) -> Path:
    return cfg.root / AUTOGRADED / student_id / assignment_id / notebook


def _esc(text: str) -> str:
    """Text a student's code produced, shown in markdown: no HTML, no table or emphasis syntax."""
    text = " ".join(str(text).split())
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("*", "\\*"), ("_", "\\_"), ("`", "\\`"),
                 ("[", "\\["), ("|", "\\|")):
        text = text.replace(a, b)
    return text


def _markdown(source: str, cell_id: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {"deletable": False, "editable": False},
            "source": source}


def results_cell(r: SubmissionResult) -> dict:
    lines = [f"## Autograder results (read-only): {r.score:g} / {r.max_score:g} points from the hidden tests",
             ""]
    if r.penalty:
        lines.append(f"Late penalty: -{r.penalty:g} points (tests earned {r.raw_score:g}; submitted {r.submitted_at}).")
    if r.load_error:
        lines.append(f"**Not loaded:** {_esc(r.load_error)[:500]}")
    for issue in r.load_issues:
        lines.append(f"- cell {issue.cell}: {_esc(issue.message)[:300]}")
    for flag in r.flags:
        lines.append(f"- **flag for review:** {_esc(flag if isinstance(flag, str) else json.dumps(flag))[:300]}")
    lines += ["", "| test | status | points | message |", "|---|---|---|---|"]
    for t in r.tests:
        lines.append(f"| {_esc(t.name)} | {t.status.value} | {t.score:g} / {t.max_score:g} | {_esc(t.output)[:400]} |")
    lines += ["", "*Written answers and rubric items are graded below, in their cells.*"]
    return _markdown("\n".join(lines), "autograder-results")


def scheme_cell(item: ManualItem, rubric: dict) -> dict:
    lines = [f"**Mark scheme for {item.grade_id} ({item.points:g} points)**, for the grader only:", "",
             item.mark_scheme or "(none written)"]
    usable = [r for r in rubric.values() if not r.cells or item.grade_id in r.cells]
    if usable:
        lines += ["", "Reusable comments (write the tag in the comment box; the student reads the text):", ""]
        lines += [f"- `#{r.tag}`" + (f" ({r.points:+g})" if r.points is not None else "") + f": {r.text}"
                  for r in usable]
    return _markdown("\n".join(lines), f"mark-scheme-{item.grade_id}")


def _cells(data: bytes | None) -> list:
    try:
        nb = json.loads(data.decode("utf-8")) if data else None
    except (UnicodeDecodeError, ValueError):
        nb = None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []


def _grade_id(cell: dict) -> str | None:
    meta = cell.get("metadata")
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
    return gid if isinstance(gid, str) else None


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else str(source)


def released_cells(cfg: CourseConfig, assignment_id: str, notebook: str) -> dict[str, dict]:
    """The release's cells by grade id (what students were given)."""
    path = cfg.release_dir / assignment_id / notebook
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells") or []
    except (OSError, ValueError, AttributeError):
        return {}
    return {gid: c for c in cells if isinstance(c, dict) and (gid := _grade_id(c))}


def answers(data: bytes | None, manual: list[ManualItem], released: dict[str, dict]) -> dict[str, str | None]:
    """Each answer's text as submitted; None where the student wrote nothing (no cell, or the release's text)."""
    found = {_grade_id(c): _source(c) for c in _cells(data) if _grade_id(c)}
    out = {}
    for item in manual:
        text = found.get(item.grade_id)
        given = _source(released.get(item.grade_id, {})) if item.grade_id in released else None
        out[item.grade_id] = None if text is None or text.strip() == (given or "").strip() else text
    return out


def autograded_notebook(r: SubmissionResult, data: bytes | None, manual: list[ManualItem],
                        released: dict[str, dict], rubric: dict) -> dict:
    """The notebook formgrader opens for this submission (see the module's docstring)."""
    wanted = {item.grade_id: item for item in manual}
    cells, seen = [results_cell(r)], set()
    for number, cell in enumerate(_cells(data), 1):
        kind = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown", "raw") else "raw"
        gid = _grade_id(cell)
        meta = {}
        if gid in wanted and gid not in seen and gid in released:
            meta = {"nbgrader": released[gid]["metadata"]["nbgrader"]}
            kind = released[gid]["cell_type"]
        source = _source(cell)
        if kind != "code":  # markdown is rendered as HTML, unsanitized by formgrader: show it as text
            source = source.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out = {"cell_type": kind, "id": f"cell-{number}", "metadata": meta, "source": source}
        if kind == "code":
            out.update(outputs=[], execution_count=None)
        cells.append(out)
        if meta:
            seen.add(gid)
            cells.append(scheme_cell(wanted[gid], rubric))
    for item in manual:  # deleted, or a notebook that could not be read: graded as no answer
        if item.grade_id not in seen and item.grade_id in released:
            cells.append({"cell_type": "markdown", "id": f"missing-{item.grade_id}",
                          "metadata": {"nbgrader": released[item.grade_id]["metadata"]["nbgrader"]},
                          "source": f"(no answer cell {item.grade_id} in the submission)"})
            cells.append(scheme_cell(item, rubric))
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                          "name": "python3"},
                                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def write_autograded(cfg: CourseConfig, assignment_id: str, notebook: str, r: SubmissionResult,
                     data: bytes | None, manual: list[ManualItem], released: dict[str, dict], rubric: dict) -> None:
    nb = autograded_notebook(r, data, manual, released, rubric)
    report.write_if_changed(autograded_path(cfg, r.student_id, assignment_id, notebook),
                            json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


# -- make formgrader -----------------------------------------------------------------------------

def command(cfg: CourseConfig, host: str = "127.0.0.1", port: int = 8001, token: str | None = None) -> list[str]:
    """jupyter server with nbgrader's formgrader extension alone, serving the course root on host:port.

    The course's nbgrader_config.py, in the root, gives formgrader the gradebook and folders; the
    other nbgrader extensions (students' assignment lists) are left off."""
    only = {f"nbgrader.server_extensions.{name}": name == "formgrader"
            for name in ("formgrader", "assignment_list", "course_list", "validate_assignment")}
    return [sys.executable, "-m", "jupyter_server",
            f"--ServerApp.ip={host}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={cfg.root}", "--ServerApp.open_browser=False",
            "--ServerApp.default_url=/formgrader",  # the sign-in link it prints lands there
            f"--ServerApp.jpserver_extensions={only!r}",
            # None: jupyter's own random token, in the sign-in link it prints; "" signs nobody in (tests)
            *([f"--IdentityProvider.token={token}"] if token is not None else []),
            *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else [])]  # graders often run as root (the sandbox)


def environment() -> dict[str, str]:
    """The server's environment: alembic (nbgrader shells out to it) on PATH, and this package
    importable for the course's nbgrader_config.py, which reads course_config.py through it."""
    bin_dir = os.path.dirname(sys.executable)
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONPATH": package_root + (os.pathsep + path if path else "")}


def serve(cfg: CourseConfig, host: str, port: int) -> None:
    """Run formgrader in the foreground (Ctrl-C stops it), from the course root."""
    argv, env = command(cfg, host, port), environment()
    print(f"formgrader on http://{host}:{port}/formgrader: open the sign-in link (with its token) printed below; "
          "Ctrl-C stops it", flush=True)
    os.chdir(cfg.root)
    os.execve(argv[0], argv, env)
