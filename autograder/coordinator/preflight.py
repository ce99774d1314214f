"""Authoring checks on an assignment's hidden/ folder, before any student is graded.

The hidden tests and probes are read as source (ast), never imported here: the coordinator runs
no assignment code. Each mistake is one line naming the file and line, worded for the
instructor who wrote it, instead of a lane's traceback with the cause buried inside:
a file that does not parse, a hidden test without @points(n), and a probe asked for by name
(`submission.probe("name")`, `.timed("name")`, `compare_speed(..., "name")`) that no
`@probe` in hidden/probes*.py defines.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from autograder.assignment import Assignment
from autograder.config import CourseError

HANDLES = ("submission", "reference")


class AuthoringError(CourseError):
    """The hidden tests of an assignment have mistakes; one line each."""


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str

    def describe(self, root: Path) -> str:
        where = self.path.relative_to(root) if self.path.is_relative_to(root) else self.path
        return f"{where}: line {self.line}: {self.message}"


def check_hidden(a: Assignment, root: Path) -> None:
    """Raise AuthoringError listing every problem found in a's hidden/ folder."""
    problems = find_problems(a)
    if problems:
        raise AuthoringError("\n".join(p.describe(root) for p in problems))


def find_problems(a: Assignment) -> list[Problem]:
    problems: list[Problem] = []
    trees: dict[Path, ast.Module] = {}
    for path in sorted(a.hidden.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        try:
            trees[path] = ast.parse(path.read_bytes(), filename=str(path))
        except SyntaxError as exc:
            text = (exc.text or "").strip()
            problems.append(Problem(path, exc.lineno or 1, f"syntax error ({exc.msg})"
                                    + (f" in `{text[:80]}`" if text else "") + "; fix it before grading"))
    probes = set()
    for path in a.probes:
        if path in trees:
            probes |= defined_probes(trees[path])
    probe_files = ", ".join(f"hidden/{p.name}" for p in a.probes) or "hidden/probes.py (missing)"
    for path, tree in trees.items():
        if not (path.name.startswith("test_") and path.parent == a.hidden):
            continue
        problems += _points_problems(path, tree)
        if not any(p not in trees for p in a.probes):  # a probe file that does not parse says enough
            for line, name in probes_asked(tree):
                if name not in probes:
                    known = ", ".join(sorted(probes)) or "none"
                    problems.append(Problem(path, line, f"the probe {name!r} is not defined: no @probe def {name}(...) "
                                                        f"in {probe_files} (defined: {known})"))
    return sorted(problems, key=lambda p: (str(p.path), p.line))


def defined_probes(tree: ast.Module) -> set[str]:
    """Functions decorated with @probe (or @something.probe)."""
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and any(_name(d) == "probe" for d in node.decorator_list)}


def probes_asked(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, probe name) for every probe named by a string literal in a hidden test."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, name = node.func, None
        if (isinstance(func, ast.Attribute) and func.attr in ("probe", "timed")
                and isinstance(func.value, ast.Name) and func.value.id in HANDLES and node.args):
            name = node.args[0]
        elif _name(func) == "compare_speed" and len(node.args) >= 3:
            name = node.args[2]
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            found.append((node.lineno, name.value))
    return found


def _points_problems(path: Path, tree: ast.Module) -> list[Problem]:
    if _marks_points(_module_marks(tree)):
        return []
    problems = []
    for node, inherited in _tests(tree):
        marks = [*node.decorator_list, *inherited]
        points = [m for m in marks if _name(m) == "points"]
        if not points:
            problems.append(Problem(path, node.lineno, f"the hidden test {node.name} has no @points(n); every "
                                                       "hidden test needs one (its points in the grade)"))
            continue
        call = points[0]
        args = call.args if isinstance(call, ast.Call) else []
        if not args:
            problems.append(Problem(path, call.lineno, f"the hidden test {node.name} has @points without a "
                                                       "number; write @points(n)"))
        elif isinstance(args[0], ast.Constant) and (not isinstance(args[0].value, (int, float))
                                                     or isinstance(args[0].value, bool) or args[0].value < 0):
            problems.append(Problem(path, call.lineno, f"the hidden test {node.name} has @points({args[0].value!r}); "
                                                       "points are a number, 0 or more"))
    return problems


def _tests(tree: ast.Module):
    """(test function, decorators inherited from its class) as pytest collects them."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            yield node, []
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test"):
                    yield item, node.decorator_list


def _module_marks(tree: ast.Module) -> list[ast.expr]:
    """The marks of `pytestmark = ...` at module level (one mark or a list of them)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            return list(node.value.elts) if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
    return []


def _marks_points(marks: list[ast.expr]) -> bool:
    return any(_name(m) == "points" and isinstance(m, ast.Call) and m.args for m in marks)


def _name(node: ast.expr) -> str:
    """The last name of a decorator or callee: points(2) -> points, pytest.mark.points(2) -> points."""
    node = node.func if isinstance(node, ast.Call) else node
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""
