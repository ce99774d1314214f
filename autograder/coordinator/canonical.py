"""Code as the similarity check compares it, with what copying disguises taken out.

A submission's code cells become one canonical token stream:
- comments, docstrings, annotations, prints, bare expressions, assignments never read and the
  text of strings are gone; `x += y` reads `x = x + y` and `t.size(i)` reads `t.shape[i]`;
- layout is ast.unparse's, one style for everyone;
- every name the student chose is a placeholder numbered by first use: `v1, v2, ...` for the
  locals of each function, `a1, ...` for the attributes and methods of each class, `g1, ...` for
  the module's own globals. Names the release fixes (its classes, functions, their parameters, its
  imports) and names the student never binds (torch, math, builtins, library attributes) stay:
  a copier cannot rename them;
- top-level definitions, the loose code of each cell and the methods of each class are sorted by
  their canonical text (placeholders unnumbered), so moving cells or functions changes nothing.

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

_TOKEN = re.compile(r"\w+|[^\w\s]")
_MARK = re.compile("\x01(\\d+)\x02")  # a chosen name, by its index in the roles, until numbered
_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor, ast.While, ast.If,
             ast.With, ast.AsyncWith, ast.Try, ast.TryStar)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_BLOCKS = ("body", "handlers", "orelse", "finalbody")
_WITH_BLOCKS = frozenset(c for c in vars(ast).values() if isinstance(c, type) and issubclass(c, ast.AST)
                         and {"body", "orelse", "finalbody"} & set(getattr(c, "_fields", ())))
ALWAYS_KEPT = frozenset({"self", "cls"})


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


@dataclass(frozen=True)
class Contract:
    """What a release fixes: the names its code binds at module level, the attributes and methods
    it names, and the parameters of each function by qualified name ("MultiHeadAttention.forward")."""
    names: frozenset[str] = frozenset()
    attributes: frozenset[str] = frozenset()
    params: dict = field(default_factory=dict)


def contract(cells: list[tuple[int, str]]) -> Contract:
    """The contract of a release's code cells [(cell number, source)]."""
    names, attributes, params = set(), set(), {}
    for _, tree, _, _ in _parse(cells):
        for node in tree.body if tree else ():
            names |= _module_bindings(node)[0]
            for qualname, fn in _functions(node):
                params[qualname] = frozenset(a.arg for a in _all_args(fn.args))
                attributes.add(fn.name)
            attributes.update(n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute))
    return Contract(frozenset(names), frozenset(attributes), params)


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
    roles = _Roles(stmts, stored, fixed)
    for u in units:
        if u.stmts:
            u.lines = []
            for s in u.stmts:
                roles.mark(s, unit=id(u))
                u.lines += _emit_sorted(s, u.cell, u.offset, roles)
        else:
            u.lines = _raw_lines(u.raw, u.cell, fixed)
        u.key = ("\uffff" if not u.stmts else "") + "\n".join(roles.unnumbered(line.text) for line in u.lines)
    lines = [line for u in sorted(units, key=lambda u: u.key) for line in u.lines]  # stable sort
    lines = roles.numbered(lines)
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
    for node, fn, _ in _walk(tree, _rewrite):
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
            blocks.append((node, node if fn is None and isinstance(node, _FUNCTIONS) else fn))
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


def _walk(root, rewrite=None):
    """(node, outermost function or None, innermost class body or None) for every node in source
    order; `rewrite` may replace each child before it is visited."""
    out, stack = [], [(root, None, None)]
    while stack:
        node, fn, cls = stack.pop()
        out.append((node, fn, cls))
        if fn is None and isinstance(node, _FUNCTIONS):
            inner = (node, None)
        else:
            inner = (fn, cls if fn is None else None)
        children = []
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        if rewrite is not None:
                            item = value[i] = rewrite(item)
                        children.append(item)
            elif isinstance(value, ast.AST):
                if rewrite is not None:
                    value = rewrite(value)
                    setattr(node, name, value)
                children.append(value)
        if isinstance(node, ast.ClassDef) and fn is None:  # its body is the class's scope; its bases are not
            body = {id(c) for c in node.body}
            stack.extend((c, None, node if id(c) in body else cls) for c in reversed(children))
        else:
            stack.extend((c, *inner) for c in reversed(children))
    return out


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
        if isinstance(node, _DEFS):
            if loose:
                out.append(_Unit(number, offset, loose))
                loose = []
            out.append(_Unit(number, offset, [node]))
        else:
            loose.append(node)
    if loose:
        out.append(_Unit(number, offset, loose))
    return out


def _emit_sorted(stmt, cell: int, offset: int, roles: "_Roles") -> list[Line]:
    """A statement's lines; a class's members (methods, runs of other statements) sorted."""
    if not isinstance(stmt, ast.ClassDef):
        return _emit(stmt, cell, offset, [])
    header = _emit(stmt, cell, offset, [], header_only=True)
    members = []
    for part in _units(stmt.body, cell, offset):
        lines = [line for s in part.stmts for line in _emit(s, cell, offset, [])]
        members.append(("\n".join(roles.unnumbered(line.text) for line in lines), lines))
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


# -- names -------------------------------------------------------------------------------------

def _all_args(args: ast.arguments) -> list[ast.arg]:
    return [*args.posonlyargs, *args.args, *([args.vararg] if args.vararg else []), *args.kwonlyargs,
            *([args.kwarg] if args.kwarg else [])]


def _functions(node, prefix: str = ""):
    """(qualified name, node) of a top-level function, or of each method of a top-level class."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        yield prefix + node.name, node
    elif isinstance(node, ast.ClassDef) and not prefix:
        for child in node.body:
            yield from _functions(child, node.name + ".")


def _binds(n) -> str | None:
    """The name a node binds, or None."""
    if isinstance(n, ast.Name):
        return n.id if isinstance(n.ctx, (ast.Store, ast.Del)) else None
    if isinstance(n, ast.arg):
        return n.arg
    if isinstance(n, ast.alias):
        return n.asname or n.name.split(".")[0]
    if isinstance(n, (ast.ExceptHandler, *_DEFS)):
        return n.name or None
    return None


def _module_bindings(stmt) -> tuple[set[str], set[str]]:
    """(names a module-level statement binds outside functions and classes, those bound by a plain
    `import x`, which name a library)."""
    if isinstance(stmt, _DEFS):
        return {stmt.name}, set()
    bound, plain = set(), set()
    for n, fn, cls in _walk(stmt):
        name = _binds(n) if fn is None and cls is None else None
        if name:
            bound.add(name)
            if isinstance(n, ast.alias) and not n.asname:
                plain.add(name)
    return bound, plain


class _Roles:
    """Which names the student chose, and their placeholders: each occurrence becomes a marker
    (its index in `roles`) until the canonical order is known, then a numbered placeholder."""

    def __init__(self, stmts: list, stored: set[str], fixed: Contract):
        self.fixed = fixed
        bound, plain, members = set(), set(), set()
        for s in stmts:
            b, p = _module_bindings(s)
            bound |= b
            plain |= p
            if isinstance(s, ast.ClassDef):
                members.update(name for child in s.body for name in _module_bindings(child)[0])
        self.globals = bound - plain - fixed.names - ALWAYS_KEPT
        self.attributes = {a for a in stored | members - fixed.attributes if not (a[:2] == a[-2:] == "__")}
        self.roles: list[tuple[str, object, str]] = []  # (kind, scope, the name as written)

    def mark(self, stmt, unit: object) -> None:
        nodes = _walk(stmt)
        local, kept, declared = {}, {}, set()
        for n, fn, cls in nodes:
            if fn is not None:
                name = _binds(n) if not (isinstance(n, ast.alias) and not n.asname) else None  # `import x`: a library
                if name:
                    local.setdefault(id(fn), set()).add(name)
                elif isinstance(n, (ast.Global, ast.Nonlocal)):
                    declared.update((id(fn), x) for x in n.names)
            if isinstance(n, _FUNCTIONS) and fn is None and not isinstance(n, ast.Lambda):
                qualname = f"{cls.name}.{n.name}" if cls is not None else n.name
                kept[id(n)] = self.fixed.params.get(qualname, frozenset())
        for n, fn, cls in nodes:
            if isinstance(n, ast.Attribute):
                if n.attr in self.attributes:
                    n.attr = self._marker("a", unit, n.attr)
                continue
            field_name = {ast.Name: "id", ast.arg: "arg"}.get(type(n))
            if field_name is None:
                if isinstance(n, (ast.alias,)) and n.asname:
                    field_name = "asname"
                elif isinstance(n, (ast.ExceptHandler, *_DEFS)) and n.name:
                    field_name = "name"
                else:
                    continue
            name = getattr(n, field_name)
            kind, scope = self._role(name, fn, cls, local, kept, declared, unit)
            if kind:
                setattr(n, field_name, self._marker(kind, scope, name))

    def _role(self, name, fn, cls, local, kept, declared, unit) -> tuple[str | None, object]:
        if name in ALWAYS_KEPT or (fn is not None and name in kept.get(id(fn), ())):
            return None, None
        if fn is not None and name in local.get(id(fn), ()) and (id(fn), name) not in declared:
            return "v", id(fn)
        if cls is not None and name in self.attributes:
            return "a", unit   # a method's name, or a class-level name
        if name in self.globals:
            return "g", None
        return None, None

    def _marker(self, kind: str, scope: object, name: str) -> str:
        self.roles.append((kind, scope, name))
        return f"\x01{len(self.roles) - 1}\x02"

    def unnumbered(self, text: str) -> str:
        return _MARK.sub(lambda m: self.roles[int(m[1])][0], text)

    def numbered(self, lines: list[Line]) -> list[Line]:
        """The lines with each chosen name numbered by first use, in this (canonical) order."""
        numbers: dict[tuple, int] = {}
        counts: dict[tuple, int] = {}

        def number(m) -> str:
            kind, scope, name = self.roles[int(m[1])]
            key = (kind, scope, name)
            if key not in numbers:
                counts[(kind, scope)] = numbers[key] = counts.get((kind, scope), 0) + 1
            return f"{kind}{numbers[key]}"

        return [Line(_MARK.sub(number, line.text), line.cell, line.first, line.last) for line in lines]


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
