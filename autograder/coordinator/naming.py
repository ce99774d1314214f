"""Which names in a submission the student chose, and the placeholders that stand for them.

Part of the similarity check's canonical code (canonical.py): a name the release fixes (its
classes, functions, their parameters, its imports, the attributes it names), `self`, and a name the
student never binds (a library's, a builtin) is kept; any other becomes the placeholder of its
kind: `v` for a local of a function, `a` for an attribute or method of a class, `g` for a
module-level name (as copydetect's own tokenizer does, and unnumbered: a line moved or added does
not renumber the rest). Code is read as data, never run.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

ALWAYS_KEPT = frozenset({"self", "cls"})
DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


@dataclass(frozen=True)
class Contract:
    """What a release fixes: the names its code binds at module level, the attributes and methods
    it names, and the parameters of each function by qualified name ("MultiHeadAttention.forward")."""
    names: frozenset[str] = frozenset()
    attributes: frozenset[str] = frozenset()
    params: dict = field(default_factory=dict)


def contract_of(trees: list[ast.Module]) -> Contract:
    """The contract of a release's parsed code cells."""
    names, attributes, params = set(), set(), {}
    for tree in trees:
        for node in tree.body:
            names |= _module_bindings(node)[0]
            for qualname, fn in _functions(node):
                params[qualname] = frozenset(a.arg for a in _all_args(fn.args))
                attributes.add(fn.name)
            attributes.update(n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute))
    return Contract(frozenset(names), frozenset(attributes), params)


def walk(root, rewrite=None):
    """(node, outermost function or None, innermost class body or None) for every node in source
    order; `rewrite` may replace each child before it is visited."""
    out, stack = [], [(root, None, None)]
    while stack:
        node, fn, cls = stack.pop()
        out.append((node, fn, cls))
        if fn is None and isinstance(node, FUNCTIONS):
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
    if isinstance(n, (ast.ExceptHandler, *DEFS)):
        return n.name or None
    return None


def _module_bindings(stmt) -> tuple[set[str], set[str]]:
    """(names a module-level statement binds outside functions and classes, those bound by a plain
    `import x`, which name a library)."""
    if isinstance(stmt, DEFS):
        return {stmt.name}, set()
    bound, plain = set(), set()
    for n, fn, cls in walk(stmt):
        name = _binds(n) if fn is None and cls is None else None
        if name:
            bound.add(name)
            if isinstance(n, ast.alias) and not n.asname:
                plain.add(name)
    return bound, plain


class Roles:
    """Which names of a submission the student chose (from all its top-level statements), and
    their placeholders."""

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

    def rename(self, stmt) -> None:
        """Put the placeholders in a top-level statement, in place."""
        nodes = walk(stmt)
        local, kept, declared = {}, {}, set()
        for n, fn, cls in nodes:
            if fn is not None:
                name = _binds(n) if not (isinstance(n, ast.alias) and not n.asname) else None  # `import x`: a library
                if name:
                    local.setdefault(id(fn), set()).add(name)
                elif isinstance(n, (ast.Global, ast.Nonlocal)):
                    declared.update((id(fn), x) for x in n.names)
            if isinstance(n, FUNCTIONS) and fn is None and not isinstance(n, ast.Lambda):
                qualname = f"{cls.name}.{n.name}" if cls is not None else n.name
                kept[id(n)] = self.fixed.params.get(qualname, frozenset())
        for n, fn, cls in nodes:
            if isinstance(n, ast.Attribute):
                if n.attr in self.attributes:
                    n.attr = "a"
                continue
            field_name = {ast.Name: "id", ast.arg: "arg"}.get(type(n))
            if field_name is None:
                if isinstance(n, (ast.alias,)) and n.asname:
                    field_name = "asname"
                elif isinstance(n, (ast.ExceptHandler, *DEFS)) and n.name:
                    field_name = "name"
                else:
                    continue
            kind = self._role(getattr(n, field_name), fn, cls, local, kept, declared)
            if kind:
                setattr(n, field_name, kind)

    def _role(self, name, fn, cls, local, kept, declared) -> str | None:
        if name in ALWAYS_KEPT or (fn is not None and name in kept.get(id(fn), ())):
            return None
        if fn is not None and name in local.get(id(fn), ()) and (id(fn), name) not in declared:
            return "v"
        if cls is not None and name in self.attributes:
            return "a"   # a method's name, or a class-level name
        if name in self.globals:
            return "g"
        return None
