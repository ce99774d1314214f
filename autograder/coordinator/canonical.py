"""Code as the similarity check compares it, with what copying disguises taken out.

A submission's code cells become one canonical token stream:
- comments, docstrings, annotations, prints, bare expressions, assignments never read and the
  text of strings are gone; `x += y` reads `x = x + y` and `t.size(i)` reads `t.shape[i]`;
- layout is ast.unparse's, one style for everyone;
- every name the student chose is the placeholder of its kind (naming.py): `v` for a local of a
  function, `a` for an attribute or method of a class, `g` for a module-level name. Names the
  release fixes (its classes, functions, their parameters, its imports) and names the student
  never binds (torch, math, builtins, library attributes) stay: a copier cannot rename them;
- top-level definitions, the loose code of each cell and the methods of each class are sorted by
  their canonical text, so moving cells or functions changes nothing.

Every canonical line remembers the cell and the lines it stands for, so that a match can be shown
in the student's own code. Code is parsed (ast), never run.
"""
from __future__ import annotations

import ast
import builtins
import copy
import keyword
import re
from dataclasses import dataclass, field

from autograder.cells import to_python
from autograder.coordinator.naming import ALWAYS_KEPT, DEFS, FUNCTIONS, Contract, Roles, contract_of, walk

_TOKEN = re.compile(r"\w+|[^\w\s]")
_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor, ast.While, ast.If,
             ast.With, ast.AsyncWith, ast.Try, ast.TryStar)
_BLOCKS = ("body", "handlers", "orelse", "finalbody")
_WITH_BLOCKS = frozenset(c for c in vars(ast).values() if isinstance(c, type) and issubclass(c, ast.AST)
                         and {"body", "orelse", "finalbody"} & set(getattr(c, "_fields", ())))


@dataclass(frozen=True)
class Line:
    """One canonical line, and the lines (from 1) of the notebook cell it stands for."""
    text: str
    cell: int
    first: int
    last: int


@dataclass(frozen=True)
class Canonical:
    tokens: tuple[str, ...]
    token_line: tuple[int, ...]   # for each token, the index of its line in `lines`
    lines: tuple[Line, ...]


def contract(cells: list[tuple[int, str]]) -> Contract:
    """What a release's code cells [(cell number, source)] fix (naming.Contract)."""
    return contract_of([tree for _, tree, _, _ in _parse(cells) if tree is not None])


def canonical(cells: list[tuple[int, str]], fixed: Contract) -> Canonical:
    """The canonical form of code cells [(cell number, source)] under a release's contract."""
    units, stmts, stored = [], [], set()
    for number, tree, offset, python in _parse(cells):
        if tree is None:
            units.append(_Unit(number, 0, [], raw=python))
            continue
        stored |= _strip(tree)
        stmts += tree.body
        units += _units(tree.body, number, offset)
    roles = Roles(stmts, stored, fixed)
    for u in units:
        if u.stmts:
            u.lines = []
            for s in u.stmts:
                roles.rename(s)
                u.lines += _emit_sorted(s, u.cell, u.offset)
        else:
            u.lines = _raw_lines(u.raw, u.cell, fixed)
        u.key = ("\uffff" if not u.stmts else "") + "\n".join(line.text for line in u.lines)
    lines = [line for u in sorted(units, key=lambda u: u.key) for line in u.lines]  # stable sort
    tokens, token_line = [], []
    for i, line in enumerate(lines):
        found = _TOKEN.findall(line.text)
        tokens += found
        token_line += [i] * len(found)
    return Canonical(tuple(tokens), tuple(token_line), tuple(lines))


# -- parsing and stripping ---------------------------------------------------------------------

def _parse(cells: list[tuple[int, str]]) -> list[tuple[int, ast.Module | None, int, str]]:
    """(cell number, its tree or None when it does not parse, lines cut from its top, its Python)."""
    out = []
    for number, source in cells:
        python = to_python(source)
        offset = max(0, len(source.splitlines()) - len(python.splitlines()))  # a %%time line is cut
        try:
            out.append((number, ast.parse(python), offset, python))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            out.append((number, None, 0, python))
    return out


def _strip(tree: ast.Module) -> set[str]:
    """Take out, in place, what does not change what the code computes and what a copier changes
    freely (see the module's docstring). Returns the attribute names the code stores."""
    reads: dict[int, set[str]] = {}
    stored, blocks = set(), []
    for node, fn, _ in walk(tree, _rewrite):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
            reads.setdefault(id(fn), set()).add(node.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            reads.setdefault(id(fn), set()).update(node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            stored.add(node.attr)
        elif isinstance(node, ast.arg):
            node.annotation = None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
        if type(node) in _WITH_BLOCKS:
            blocks.append((node, node if fn is None and isinstance(node, FUNCTIONS) else fn))
    for node, fn in blocks:
        unread = reads.get(id(fn), set()) if fn is not None else None
        for name in ("body", "orelse", "finalbody"):
            body = getattr(node, name, None)
            if not (isinstance(body, list) and body and isinstance(body[0], ast.stmt)):
                continue
            kept = [s for s in body if not _idle(s) and not (unread is not None and _dead(s, unread))]
            if not kept and name == "body" and not isinstance(node, ast.Module):
                kept = [ast.copy_location(ast.Pass(), body[0])]
            setattr(node, name, kept)
    return stored


def _rewrite(node):
    """One node as it is compared (a new node, or the same one)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        node.value = "S"
    elif isinstance(node, ast.JoinedStr):
        return ast.copy_location(ast.Constant("S"), node)
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)
    elif isinstance(node, ast.AnnAssign):
        return ast.copy_location(ast.Pass(), node)
    elif isinstance(node, ast.AugAssign):
        read = copy.deepcopy(node.target)
        for n in ast.walk(read):
            if hasattr(n, "ctx"):
                n.ctx = ast.Load()
        return ast.copy_location(ast.Assign(targets=[node.target], value=ast.BinOp(read, node.op, node.value)), node)
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "size"
          and not node.keywords and len(node.args) <= 1):
        shape = ast.Attribute(node.func.value, "shape", ast.Load())
        return ast.copy_location(ast.Subscript(shape, node.args[0], ast.Load()) if node.args else shape, node)
    return node


def _idle(stmt) -> bool:
    """A statement that keeps nothing: a bare constant, name, attribute or subscript, a print, a pass."""
    if isinstance(stmt, ast.Pass):
        return True
    if not isinstance(stmt, ast.Expr):
        return False
    value = stmt.value
    if isinstance(value, ast.Call):
        return isinstance(value.func, ast.Name) and value.func.id == "print"
    return isinstance(value, (ast.Constant, ast.Name, ast.Attribute, ast.Subscript))


def _dead(stmt, read: set[str]) -> bool:
    """An assignment only to local names its function never reads (a debug copy, a leftover)."""
    if not isinstance(stmt, ast.Assign) or not all(isinstance(t, (ast.Name, ast.Tuple, ast.List)) for t in stmt.targets):
        return False
    names = [n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return bool(names) and not read.intersection(names)


# -- units and their order ---------------------------------------------------------------------

@dataclass
class _Unit:
    """A definition, or a run of the other statements of one cell."""
    cell: int
    offset: int
    stmts: list
    raw: str = ""
    key: str = ""
    lines: list = field(default_factory=list)


def _units(body: list, number: int, offset: int) -> list[_Unit]:
    out, loose = [], []
    for node in body:
        if isinstance(node, DEFS):
            if loose:
                out.append(_Unit(number, offset, loose))
                loose = []
            out.append(_Unit(number, offset, [node]))
        else:
            loose.append(node)
    if loose:
        out.append(_Unit(number, offset, loose))
    return out


def _emit_sorted(stmt, cell: int, offset: int) -> list[Line]:
    """A statement's lines; a class's members (methods, runs of other statements) sorted."""
    if not isinstance(stmt, ast.ClassDef):
        return _emit(stmt, cell, offset, [])
    header = _emit(stmt, cell, offset, [], header_only=True)
    members = []
    for part in _units(stmt.body, cell, offset):
        lines = [line for s in part.stmts for line in _emit(s, cell, offset, [])]
        members.append(("\n".join(line.text for line in lines), lines))
    return header + [line for _, lines in sorted(members, key=lambda m: m[0]) for line in lines]


def _emit(node, cell: int, offset: int, lines: list[Line], header_only: bool = False) -> list[Line]:
    """Canonical lines of a statement: a compound one as its header, then its blocks."""
    if not isinstance(node, _COMPOUND):
        text = ast.unparse(node)
        lines.append(Line(" ".join(text.split()), cell, node.lineno + offset, node.end_lineno + offset))
        return lines
    header = copy.copy(node)
    for name in _BLOCKS:
        if hasattr(header, name):
            setattr(header, name, [])
    header.body = [ast.Pass()]
    text = ast.unparse(header).rsplit("\n", 1)[0]
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    last = max([node.lineno] + [n.end_lineno for name, value in ast.iter_fields(node) if name not in _BLOCKS
                                for v in (value if isinstance(value, list) else [value]) if isinstance(v, ast.AST)
                                for n in ast.walk(v) if getattr(n, "end_lineno", None)])
    lines.append(Line(" ".join(text.split()), cell, first + offset, last + offset))
    if header_only:
        return lines
    for child in node.body:
        _emit(child, cell, offset, lines)
    for handler in getattr(node, "handlers", []):
        text = ast.unparse(ast.ExceptHandler(type=handler.type, name=handler.name, body=[ast.Pass()]))
        lines.append(Line(text.split("\n")[0], cell, handler.lineno + offset, handler.lineno + offset))
        for child in handler.body:
            _emit(child, cell, offset, lines)
    for name, word in (("orelse", "else:"), ("finalbody", "finally:")):
        block = getattr(node, name, [])
        if block:
            where = max(1, block[0].lineno - 1) + offset
            lines.append(Line(word, cell, where, where))
            for child in block:
                _emit(child, cell, offset, lines)
    return lines


# -- code that does not parse ------------------------------------------------------------------

_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")
_WORD = re.compile(r"(?<![.\w])[A-Za-z_]\w*")


def _raw_lines(source: str, cell: int, fixed: Contract) -> list[Line]:
    """Code that does not parse, line by line: strings and comments out, the names that are neither
    the release's, keywords, builtins nor attributes made one placeholder."""
    out = []
    for i, line in enumerate(source.splitlines(), 1):
        text = _STRING.sub("'S'", line).split("#", 1)[0].strip()
        if text:
            text = _WORD.sub(lambda m: m.group(0) if _kept_word(m.group(0), fixed) else "v", text)
            out.append(Line(text, cell, i, i))
    return out


def _kept_word(word: str, fixed: Contract) -> bool:
    return (word == "S" or keyword.iskeyword(word) or word in fixed.names or word in ALWAYS_KEPT  # "S": a string
            or hasattr(builtins, word))
