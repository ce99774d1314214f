"""Execute a submission's code cells in a fresh namespace (this runs inside the sandboxed worker).

Cells arrive over the wire from the trusted side, already chosen by the rule of
autograder/cells.py (which also turns IPython syntax into Python here). A cell that raises is
recorded and loading goes on, so one broken cell costs only what depends on it. A cell that runs past its time limit is
interrupted by a timer; the trusted side still enforces the total load time by killing us.
"""
from __future__ import annotations

import linecache
import signal
import sys
import traceback
import types

from autograder.cells import to_python
from autograder.results import LoadIssue


class CellTimeout(BaseException):
    """Raised by the timer inside a cell that ran past its limit (BaseException: not caught by
    a student's `except Exception`)."""


class _NoIPython:
    """Stands in for get_ipython(): magics and shell escapes become no-ops instead of errors."""

    def run_line_magic(self, name, line, *args, **kwargs):
        return None

    def run_cell_magic(self, name, line, cell, *args, **kwargs):
        return None

    def system(self, *args, **kwargs):
        return None

    def getoutput(self, *args, **kwargs):
        return []

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def cell_label(filename: str) -> str | None:
    return filename[1:-1] if filename.startswith("<cell ") and filename.endswith(">") else None


def describe(exc: BaseException, limit: int = 600) -> dict:
    """The student's exception as plain data: type, message and the frames in their cells."""
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        label = cell_label(frame.filename)
        if label:
            frames.append({"where": label, "line": frame.lineno, "function": frame.name,
                           "code": (frame.line or "")[:200]})
    try:
        message = str(exc)
    except BaseException:  # a hostile __str__
        message = "<unprintable message>"
    return {"type": type(exc).__name__[:100], "message": message[:limit], "frames": frames[-6:]}


def load_cells(cells: list[dict], cell_timeout_s: float, module_name: str = "submission"):
    """Run each cell; return (module, [LoadIssue])."""
    module = types.ModuleType(module_name)
    module.__dict__["get_ipython"] = lambda: shell
    shell = _NoIPython()
    sys.modules[module_name] = module  # so classes defined in cells have an importable home
    issues = []

    def on_alarm(signum, frame):
        raise CellTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    for cell in cells:
        number = cell["number"]
        # "cell 7 (multi_head_attention)": the nbgrader id tells the student which cell, as
        # Jupyter shows no cell numbers.
        label = "".join(ch for ch in str(cell.get("label", "")) if ch.isalnum() or ch in "_-.")
        filename = f"<cell {number} ({label})>" if label else f"<cell {number}>"
        # Tracebacks quote the student's line back to them; linecache is where they look.
        linecache.cache[filename] = (len(cell["source"]), None, cell["source"].splitlines(True), filename)
        try:
            code = compile(to_python(cell["source"]), filename, "exec")
        except SyntaxError as exc:
            issues.append(LoadIssue(number, "error", f"SyntaxError: {exc.msg} (line {exc.lineno})"))
            continue
        signal.setitimer(signal.ITIMER_REAL, cell_timeout_s)
        try:
            exec(code, module.__dict__)
        except CellTimeout:
            issues.append(LoadIssue(number, "timeout", f"ran past the {cell_timeout_s:g} s limit for one cell; "
                                                        "move long training into a cell tagged 'training'"))
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included
            d = describe(exc, limit=300)
            issues.append(LoadIssue(number, "error", f"{d['type']}: {d['message']}"))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return module, issues
