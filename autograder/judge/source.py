"""What a notebook's source shows, read in the trusted process with Python's ast: the names it
uses (following imports, aliases and from-imports as far as static analysis can), the
assignment's structural rules it breaks, and the places where it reaches into the grader.

Nothing here runs the student's code. A name is resolved by walking attributes of trusted
libraries (torch and the standard library) only, so `nn.MultiheadAttention`,
`torch.nn.modules.activation.MultiheadAttention` and an alias of either are the same object.
"""
from __future__ import annotations

import ast
import builtins
import functools
import importlib
import sys
from dataclasses import asdict, dataclass, field

from autograder.assignment import Rule
from autograder.cells import to_python

# Libraries whose attributes may be looked up here to resolve a name: trusted, already installed.
RESOLVABLE = ("torch", "math", "time", "gc", "sys", "inspect", "ctypes", "builtins", "importlib", "types", "os",
              "threading", "numpy")
CODE_ATTRS = {"__code__", "__globals__", "__defaults__", "__kwdefaults__", "__closure__"}
FRAME_ATTRS = {"f_back", "f_globals", "f_locals", "f_code", "f_builtins", "tb_frame", "gi_frame", "cr_frame", "ag_frame"}
GRADER_WORDS = ("autograder", "probekit", "probes_", "PROBES", "hidden/")
PROC_WORDS = ("/proc/self/mem", "/proc/self/maps", "/proc/self/pagemap", "/dev/mem", "/proc/self/environ")
# name -> (flag kind, what it does); matched against resolved dotted names.
CALLS = {
    "sys._getframe": ("frames", "reads the call stack"), "sys._current_frames": ("frames", "reads the call stack"),
    "inspect.currentframe": ("frames", "reads the call stack"), "inspect.stack": ("frames", "reads the call stack"),
    "inspect.getouterframes": ("frames", "reads the call stack"), "inspect.trace": ("frames", "reads the call stack"),
    "sys.settrace": ("frames", "traces the interpreter"), "sys.setprofile": ("frames", "traces the interpreter"),
    "threading.settrace": ("frames", "traces the interpreter"), "threading.setprofile": ("frames", "traces the interpreter"),
    "gc.get_objects": ("gc", "searches the interpreter's objects"), "gc.get_referrers": ("gc", "searches the interpreter's objects"),
    "gc.get_referents": ("gc", "searches the interpreter's objects"),
    "types.FunctionType": ("code swap", "builds functions from code objects"), "types.CodeType": ("code swap", "builds code objects"),
    "sys.modules": ("grader", "looks into the loaded modules"), "sys.meta_path": ("import system", "changes how imports work"),
    "sys.path_hooks": ("import system", "changes how imports work"), "builtins.__import__": ("import system", "changes how imports work"),
    "exec": ("dynamic", "runs code built at run time"), "eval": ("dynamic", "runs code built at run time"),
    "compile": ("dynamic", "compiles code at run time"),
}
DYNAMIC_IMPORTS = {"__import__", "importlib.import_module", "importlib.__import__"}
DYNAMIC_ATTRS = {"getattr", "setattr", "delattr"}
PATCHED_ROOTS = ("torch", "time", "builtins", "sys", "math", "numpy", "gc", "os", "inspect")
SETTINGS = ("torch.backends",)  # torch.backends.cudnn.deterministic = True is a setting, not a patch


@dataclass(frozen=True)
class Place:
    cell: int      # 1-based, as the student counts cells
    label: str     # the nbgrader id of the cell, "" if none
    line: int      # within the cell
    code: str      # the line itself, trimmed

    def where(self) -> str:
        return f"cell {self.cell}" + (f" ({self.label})" if self.label else "") + f", line {self.line}"


@dataclass(frozen=True)
class Flag:
    """Source that reaches into the grader, for the instructor to judge; it zeroes nothing by itself."""
    kind: str
    what: str
    place: Place
    hides: str | None = None  # a "dynamic" flag: the module whose names it hides ("" = any name at all)

    def describe(self) -> str:
        return f"{self.place.where()}: {self.what}: {self.place.code}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "what": self.what, **asdict(self.place)}

    def hides_any_of(self, names) -> bool:
        return self.hides is not None and (not self.hides or any(n.startswith(self.hides + ".") for n in names))


@dataclass(frozen=True)
class Violation:
    rule: Rule
    what: str
    place: Place | None

    def describe(self) -> str:
        where = f"{self.place.where()}: " if self.place else ""
        return f"{where}{self.what}" + (f"; {self.rule.why}" if self.rule.why else "")


@dataclass
class SourceFacts:
    flags: list[Flag] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    unverifiable: list[tuple[Rule, Flag]] = field(default_factory=list)  # rules a name built at run time hides

    @property
    def hides_names(self) -> list[Flag]:
        return [f for f in self.flags if f.hides is not None]

    def violations_for(self, nodeid: str) -> list[Violation]:
        return [v for v in self.violations if v.rule.covers(nodeid)]

    def unverifiable_for(self, nodeid: str) -> list[tuple[Rule, Flag]]:
        return [(r, f) for r, f in self.unverifiable if r.covers(nodeid)]


# -- reading the cells --------------------------------------------------------------------------

@dataclass
class _Cell:
    number: int
    label: str
    lines: list[str]
    tree: ast.Module
    nodes: list[ast.AST]  # every node of the tree, in ast.walk's order
    walked: dict[int, list[ast.AST]] = field(default_factory=dict)  # a statement's nodes, by id

    def walk(self, node: ast.AST) -> list[ast.AST]:
        """ast.walk(node), once per node (several rules look at the same statements)."""
        if id(node) not in self.walked:
            self.walked[id(node)] = list(ast.walk(node))
        return self.walked[id(node)]


def _parse(cells: list[dict]) -> list[_Cell]:
    out = []
    for cell in cells:
        source = cell["source"]
        try:
            tree = ast.parse(to_python(source))
        except (SyntaxError, ValueError):
            continue  # it never ran either (a load issue says so)
        out.append(_Cell(cell["number"], cell.get("label", ""), source.splitlines(), tree, list(ast.walk(tree))))
    return out


def _place(cell: _Cell, node: ast.AST) -> Place:
    line = getattr(node, "lineno", 1)
    code = cell.lines[line - 1].strip() if 0 < line <= len(cell.lines) else ""
    return Place(cell.number, cell.label, line, code[:160])


class _Names:
    """Aliases from imports and simple assignments, anywhere in the notebook (an over-approximation
    of Python's scopes: a name bound to torch.nn anywhere counts as torch.nn everywhere)."""

    def __init__(self, cells: list[_Cell]):
        self.alias: dict[str, str] = {}
        self._resolved: dict[int, str | None] | None = None  # by node, once the aliases are final
        for _ in range(3):  # aliases of aliases
            for cell in cells:
                for node in cell.nodes:
                    self._bind(node)
        self._resolved = {}

    def _bind(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    self.alias[a.asname] = a.name
                else:
                    self.alias.setdefault(a.name.split(".")[0], a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                if a.name != "*":
                    self.alias[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            dotted = self.resolve(node.value)
            if dotted and "." in dotted:
                self.alias[node.targets[0].id] = dotted

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name an expression stands for, when static analysis can tell."""
        if self._resolved is None:
            return self._resolve(node)
        key = id(node)  # the trees outlive this object: ids are not reused meanwhile
        if key not in self._resolved:
            self._resolved[key] = self._resolve(node)
        return self._resolved[key]

    def _resolve(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in self.alias:
                return self.alias[node.id]
            return node.id if hasattr(builtins, node.id) else None
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call) and not node.keywords and node.args:
            fn = self.resolve(node.func)
            name = node.args[1] if fn == "getattr" and len(node.args) >= 2 else node.args[0]
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                return None
            if fn == "getattr":  # getattr(nn, "Linear") is nn.Linear
                base = self.resolve(node.args[0])
                return f"{base}.{name.value}" if base else None
            if fn in DYNAMIC_IMPORTS:  # importlib.import_module("torch.nn") is torch.nn
                return name.value
        return None


_MISSING = object()


@functools.lru_cache(maxsize=4096)
def resolve_object(dotted: str):
    """The object a dotted name stands for in a trusted library, or _MISSING (never imports
    anything outside RESOLVABLE; getattr on torch and the standard library runs no student code)."""
    parts = dotted.split(".")
    if parts[0] not in RESOLVABLE:
        return _MISSING
    try:
        obj = sys.modules.get(parts[0]) or importlib.import_module(parts[0])
    except ImportError:
        return _MISSING
    for i, part in enumerate(parts[1:], 1):
        nxt = getattr(obj, part, _MISSING)
        if nxt is _MISSING:  # a submodule not imported yet (torch.nn.modules.activation)
            try:
                nxt = importlib.import_module(".".join(parts[: i + 1]))
            except ImportError:
                return _MISSING
        obj = nxt
    return obj


def _same(dotted: str, target: str) -> bool:
    if dotted == target:
        return True
    a, b = resolve_object(dotted), resolve_object(target)
    return a is not _MISSING and a is b


# -- the analysis -------------------------------------------------------------------------------

def analyse(cells: list[dict], rules=()) -> SourceFacts:
    """Flags and rule violations of the cells that run (autograder/cells.py's rule)."""
    parsed = _parse(cells)
    names = _Names(parsed)
    facts = SourceFacts()
    for cell in parsed:
        for node in cell.nodes:
            flag = _flag(node, names)
            if flag is not None:
                facts.flags.append(Flag(*flag[:2], _place(cell, node), *flag[2:]))
    seen: set = set()
    facts.flags = [f for f in facts.flags  # one flag of a kind per line
                   if not ((key := (f.kind, f.place.cell, f.place.line)) in seen or seen.add(key))]
    facts.flags.sort(key=lambda f: (f.place.cell, f.place.line))
    live = _live(parsed)
    for rule in rules:
        facts.violations += _check(rule, live, names)
        facts.unverifiable += [(rule, f) for f in facts.hides_names if f.hides_any_of(rule.forbid)][:1]
    return facts


def _live(cells: list[_Cell]) -> list[tuple[_Cell, ast.AST, str]]:
    """(cell, top-level statement, the name it defines or "") of the code that is in effect: a
    function or class defined twice counts in its last definition only."""
    last: dict[str, tuple[_Cell, ast.AST]] = {}
    out = []
    for cell in cells:
        for node in cell.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                last[node.name] = (cell, node)
            else:
                out.append((cell, node, ""))
    return out + [(cell, node, name) for name, (cell, node) in last.items()]


def _flag(node: ast.AST, names: _Names) -> tuple | None:
    """(kind, what) of a node that reaches into the grader, or (kind, what, hidden module) of one
    that builds names at run time; None for everything else."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for m in modules:
            root = m.split(".")[0]
            if root in ("autograder", "probes") or root.startswith("probes_"):
                return "grader", f"imports the grader's {m}"
            if root in ("ctypes", "_ctypes", "cffi"):
                return "ctypes", "reaches memory through ctypes"
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if any(w in node.value for w in PROC_WORDS):
            return "process memory", "reads the process's memory or environment"
        if any(w in node.value for w in GRADER_WORDS):
            return "grader", f"names the grader ({node.value[:40]!r})"
        return None
    if isinstance(node, ast.Name) and node.id == "PROBES":
        return "grader", "names the grader's probe table"
    if isinstance(node, ast.Attribute) and node.attr in FRAME_ATTRS:
        return "frames", "walks the call stack"
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        return _flag_assignment(node, names)
    if isinstance(node, ast.Call):
        return _flag_call(node, names)
    if isinstance(node, (ast.Attribute, ast.Name)):
        dotted = names.resolve(node)
        if dotted in CALLS and CALLS[dotted][0] in ("frames", "gc", "grader", "import system"):
            return CALLS[dotted]
        if dotted and dotted.split(".")[0] == "ctypes":
            return "ctypes", "reaches memory through ctypes"
    return None


def _flag_assignment(node, names: _Names) -> tuple[str, str] | None:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    flat = [t for target in targets for t in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target])]
    for t in flat:
        if isinstance(t, ast.Attribute):
            if t.attr in CODE_ATTRS:
                return "code swap", f"replaces a function's {t.attr}"
            base = names.resolve(t.value)
            if base and base.split(".")[0] in PATCHED_ROOTS and not base.startswith(SETTINGS):
                return "patches", "replaces the clock" if base.split(".")[0] == "time" else f"replaces {base}.{t.attr}"
        if isinstance(t, ast.Subscript) and names.resolve(t.value) in ("sys.modules", "builtins.__dict__"):
            return "import system", "replaces a loaded module"
    return None


def _flag_call(node: ast.Call, names: _Names) -> tuple | None:
    fn = names.resolve(node.func)
    if fn is None:
        return None
    if fn in ("exec", "eval", "compile"):
        return (*CALLS[fn], "")
    if fn in DYNAMIC_IMPORTS and not (node.args and isinstance(node.args[0], ast.Constant)):
        return "dynamic", "imports a module named at run time", ""
    if fn in DYNAMIC_ATTRS and len(node.args) >= 2:
        name = node.args[1]
        if isinstance(name, ast.Constant) and name.value in CODE_ATTRS:
            return "code swap", f"replaces a function's {name.value}"
        base = names.resolve(node.args[0])
        if not isinstance(name, ast.Constant) and base and base.split(".")[0] in RESOLVABLE:
            return "dynamic", f"looks up an attribute of {base} by a name built at run time", base
        if fn == "setattr" and base and base.split(".")[0] in PATCHED_ROOTS:
            return "patches", f"replaces an attribute of {base}"
        return None
    if fn in CALLS and CALLS[fn][0] != "dynamic":
        return CALLS[fn]
    if fn.split(".")[0] == "ctypes":
        return "ctypes", "reaches memory through ctypes"
    return None


def _scope(live, within: tuple[str, ...]) -> list[tuple[_Cell, ast.AST]]:
    """The live code a rule looks at: the classes and functions it names, and every class or
    function of the notebook they use, transitively (a helper or a subclass defined elsewhere is
    theirs too); everything when it names none."""
    if not within:
        return [(cell, node) for cell, node, _ in live]
    defs = {name: (cell, node) for cell, node, name in live if name}
    todo, seen = [n for n in within if n in defs], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        cell, node = defs[name]
        todo += [n.id for n in cell.walk(node) if isinstance(n, ast.Name) and n.id in defs]
    return [defs[name] for name in sorted(seen)]


def _check(rule: Rule, live, names: _Names) -> list[Violation]:
    hits: dict[str, tuple[_Cell, ast.AST]] = {}  # forbidden name -> its first use in scope
    for cell, node in _scope(live, rule.within):
        for n in cell.walk(node):
            if isinstance(n, (ast.Name, ast.Attribute, ast.Call)) and (d := names.resolve(n)) is not None:
                for target in rule.forbid:
                    if target not in hits and _same(d, target):
                        hits[target] = (cell, n)
    out = [Violation(rule, f"uses {target}", _place(*hits[target])) for target in rule.forbid if target in hits]
    for attribute, callable_name in rule.require:
        owner, _, attr = attribute.partition(".")
        defs = [(cell, node) for cell, node, name in live if name == owner]
        if not defs:
            out.append(Violation(rule, f"defines no {owner}", None))
            continue
        cell, node = defs[-1]
        if _unwritten(node):
            continue  # a stub still to be written: its NotImplementedError says more than a rule
        if not _assigns(node, attr, callable_name, names):
            out.append(Violation(rule, f"{owner}.{attr} is not set to {callable_name}(...) in {owner}",
                                 _place(cell, node)))
    return out


def _assigns(cls: ast.AST, attr: str, callable_name: str, names: _Names) -> bool:
    """Does some method of `cls` do self.<attr> = <callable_name>(...)?"""
    for node in ast.walk(cls):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            values = [node.value]
            for target in targets:
                pairs = zip(target.elts, node.value.elts) if isinstance(target, ast.Tuple) and \
                    isinstance(node.value, ast.Tuple) else [(target, v) for v in values]
                for t, v in pairs:
                    if isinstance(t, ast.Attribute) and t.attr == attr and isinstance(t.value, ast.Name) \
                            and t.value.id == "self" and isinstance(v, ast.Call):
                        fn = names.resolve(v.func)
                        if fn is not None and _same(fn, callable_name):
                            return True
    return False


def check_rules(rules, where) -> None:
    """Every name a rule forbids or requires names something real: a typo would silently allow it."""
    from autograder.config import CourseError

    for rule in rules:
        for dotted in (*rule.forbid, *(c for _, c in rule.require)):
            if resolve_object(dotted) is _MISSING:
                raise CourseError(f"{where}: rule {rule.name!r}: {dotted!r} names nothing in "
                                  f"{dotted.split('.')[0]} (a typo?)")


def _unwritten(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Raise) and n.exc is not None and "NotImplementedError" in ast.unparse(n.exc)
               for n in ast.walk(node))
