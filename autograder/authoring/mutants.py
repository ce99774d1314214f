"""Mutants of a reference notebook, for `make check` (coordinator/check.py): small, realistic bugs
made inside its solution regions only, each of which the hidden tests should notice.

A small AST mutator, rather than mutmut or cosmic-ray: those mutate importable .py modules in
place and run a test command per mutant, while here the code is notebook cells, only the lines
between `### BEGIN SOLUTION` and `### END SOLUTION` may change, and mutants are graded on the
warm grading lanes like any submission. A mutant is one textual change of one cell (comments and
layout elsewhere untouched), so its diff reads like a student's bug:

- operator: `+` <-> `-`, `*` <-> `/`, `**` -> `*`, `@` -> `*`, comparisons, `and` <-> `or`, a dropped `-` or `not`;
- swapped operands of `-`, `/` and `@`, swapped neighbouring arguments of a call;
- constant: n -> n + 1 and n - 1, x -> 2x and 0, True <-> False (a dimension or axis when it is one);
- deleted line: a statement becomes `pass`;
- removed call: `f(x, ...)` -> `x` (a dropout or an activation never applied), `x.m(...)` -> `x`
  (a transpose, a clamp, a mask never applied).
"""
from __future__ import annotations

import ast
import difflib
import io
import json
import re
import tokenize
from dataclasses import dataclass

from autograder.cells import to_python

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
           ast.Pow: "**", ast.MatMult: "@"}
BINOP_SWAPS = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult],
               ast.FloorDiv: [ast.Div], ast.Mod: [ast.FloorDiv], ast.Pow: [ast.Mult], ast.MatMult: [ast.Mult]}
NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.MatMult)
COMPARE = [("==", "!="), ("!=", "=="), ("<=", "<"), (">=", ">"), ("<", "<="), (">", ">="),
           ("is not", "is"), ("is", "is not"), ("not in", "in"), ("in", "not in")]
COMPARE_SYMBOL = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
                  ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
# Calls whose integer arguments are dimensions (a changed one is an axis mix-up).
DIM_CALLS = {"softmax", "log_softmax", "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "transpose",
             "unsqueeze", "squeeze", "cat", "stack", "flip", "permute", "size", "narrow", "chunk", "split", "cumsum",
             "norm", "var", "std", "prod", "logsumexp", "flatten", "movedim", "roll", "gather", "diagonal",
             "repeat_interleave"}
DIM_KEYWORDS = {"dim", "axis", "dims", "dim0", "dim1", "dim2", "start_dim", "end_dim"}
SYMMETRIC = {"transpose", "swapaxes", "swapdims"}  # swapping their arguments changes nothing
MODULE_NAMES = {"torch", "F", "nn", "math", "np", "numpy", "functional"}
SIMPLE_STATEMENTS = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Return, ast.Assert, ast.Delete)


@dataclass(frozen=True)
class Mutant:
    number: int
    cell: int          # the cell's number in the notebook, from 1
    cell_id: str       # its nbgrader grade id
    line: int          # the changed line, from 1 within the cell
    code: str          # that line as the reference has it, without its comment
    mutation: str      # what changed, as [[check.harmless]] names it
    source: str        # the mutated cell's whole source

    def diff(self, original: str) -> str:
        lines = difflib.unified_diff(original.splitlines(), self.source.splitlines(), lineterm="", n=1,
                                     fromfile=f"cell {self.cell} ({self.cell_id})", tofile="mutant")
        return "\n".join(list(lines)[2:])  # without the file header lines

    def to_dict(self) -> dict:
        return {"number": self.number, "cell": self.cell, "cell_id": self.cell_id, "line": self.line,
                "code": self.code, "mutation": self.mutation}


@dataclass(frozen=True)
class _Edit:
    start: int         # character offsets into the cell's source
    end: int
    text: str
    line: int
    mutation: str


class _Text:
    """The cell's source, with ast positions (line, UTF-8 column) turned into character offsets."""

    def __init__(self, source: str):
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.starts, total = [], 0
        for line in self.lines:
            self.starts.append(total)
            total += len(line)

    def at(self, line: int, col: int) -> int:
        text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        return self.starts[line - 1] + len(text.encode()[:col].decode(errors="ignore"))

    def span(self, node) -> tuple[int, int]:
        return self.at(node.lineno, node.col_offset), self.at(node.end_lineno, node.end_col_offset)

    def of(self, node) -> str:
        start, end = self.span(node)
        return self.source[start:end]


def code_of(line: str) -> str:
    """A line without its trailing comment, trimmed: how [[check.harmless]] names it."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return line.strip()
    comment = next((t for t in tokens if t.type == tokenize.COMMENT), None)
    return (line.strip()[:comment.start[1]] if comment else line.strip()).rstrip()


def solution_lines(source: str) -> set[int]:
    """Lines (from 1) strictly inside the cell's solution regions."""
    inside, lines = False, set()
    for number, line in enumerate(source.splitlines(), 1):
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        elif inside:
            lines.add(number)
    return lines


def _int_value(node) -> int | None:
    """The value of an integer literal, `-1` included."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) is int):
        return -node.operand.value
    return None


def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _dim_positions(tree) -> set[int]:
    """id() of every integer literal that is a dimension: an argument of a DIM_CALLS call, or a dim= keyword."""
    dims = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if _call_name(node) in DIM_CALLS:
                dims.update(id(a) for a in node.args if _int_value(a) is not None)
            dims.update(id(k.value) for k in node.keywords if k.arg in DIM_KEYWORDS and _int_value(k.value) is not None)
    return dims


def _edits(text: _Text, tree, allowed: set[int]) -> list[_Edit]:
    edits: list[_Edit] = []
    dims = _dim_positions(tree)
    # A call that is a whole statement: removing it is deleting the line, which is mutated already.
    statements = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    skip: set[int] = set()  # constants already mutated as part of a negative literal

    def inside(node) -> bool:
        return all(line in allowed for line in range(node.lineno, node.end_lineno + 1))

    def add(start, end, new, node, mutation):
        if text.source[start:end] != new:
            edits.append(_Edit(start, end, new, node.lineno, mutation))

    def operator(node, left, right, symbol, new_symbol, what):
        gap_start, gap_end = text.span(left)[1], text.span(right)[0]
        gap = text.source[gap_start:gap_end]
        found = re.search(r"(?<![\w*/<>=!])" + re.escape(symbol) + r"(?![*/=<>])", gap) if not symbol.isalpha() \
            else re.search(r"\b" + symbol.replace(" ", r"\s+") + r"\b", gap)
        if found:
            add(gap_start + found.start(), gap_start + found.end(), new_symbol, node, what)

    for node in ast.walk(tree):
        if not hasattr(node, "lineno") or not inside(node):
            continue
        if isinstance(node, ast.BinOp) and type(node.op) in SYMBOLS:
            symbol = SYMBOLS[type(node.op)]
            for new in BINOP_SWAPS.get(type(node.op), []):
                operator(node, node.left, node.right, symbol, SYMBOLS[new], f"`{symbol}` -> `{SYMBOLS[new]}`")
            if isinstance(node.op, NON_COMMUTATIVE):
                start, end = text.span(node)
                op_start = text.span(node.left)[1]
                op_end = text.span(node.right)[0]
                gap = text.source[op_start:op_end]
                at = gap.find(symbol)
                if at >= 0:
                    left_full = text.source[start:op_start + at].rstrip()
                    right_full = text.source[op_start + at + len(symbol):end].lstrip()
                    if left_full.count("(") == left_full.count(")") and right_full.count("(") == right_full.count(")"):
                        add(start, end, f"{right_full} {symbol} {left_full}", node, f"swapped operands of `{symbol}`")
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            symbol = COMPARE_SYMBOL[type(node.ops[0])]
            for old, new in COMPARE:
                if old == symbol:
                    operator(node, node.left, node.comparators[0], old, new, f"`{old}` -> `{new}`")
        elif isinstance(node, ast.BoolOp) and len(node.values) == 2:
            old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            operator(node, node.values[0], node.values[1], old, new, f"`{old}` -> `{new}`")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            value = _int_value(node)
            if value is not None:
                continue  # a negative integer literal: mutated as a constant below
            start, end = text.span(node)
            add(start, end, text.of(node.operand), node, "dropped `-`" if isinstance(node.op, ast.USub)
                else "dropped `not`")
        elif isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id == "super"):
            _call_edits(text, node, add, removable=id(node) not in statements)
        if isinstance(node, SIMPLE_STATEMENTS) and not (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):  # docstrings stay
            start = text.starts[node.lineno - 1]
            end = text.at(node.end_lineno, node.end_col_offset)
            indent = text.lines[node.lineno - 1][:node.col_offset]
            if text.lines[node.lineno - 1][:len(indent)].strip() == "":
                add(start, end, indent + "pass", node, "deleted line")
    for node in ast.walk(tree):
        if not hasattr(node, "lineno") or not inside(node) or id(node) in skip:
            continue
        value = _int_value(node)
        if value is not None:
            if isinstance(node, ast.UnaryOp):
                skip.add(id(node.operand))
            kind = "dim" if id(node) in dims else "constant"
            start, end = text.span(node)
            for new in (value + 1, value - 1):
                add(start, end, str(new), node, f"{kind} {value} -> {new}")
        elif isinstance(node, ast.Constant) and type(node.value) is float:
            start, end = text.span(node)
            for new in ((node.value * 2, 0.0) if node.value else (1.0,)):
                add(start, end, repr(new), node, f"constant {text.of(node)} -> {new!r}")
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            start, end = text.span(node)
            add(start, end, str(not node.value), node, f"constant {node.value} -> {not node.value}")
    return edits


def _call_edits(text: _Text, node: ast.Call, add, removable: bool = True) -> None:
    """Swapped neighbouring arguments, and the call removed (its first argument, or its receiver, left)."""
    name = _call_name(node)
    positional = [a for a in node.args if not isinstance(a, ast.Starred)]
    if name not in SYMMETRIC and len(positional) == len(node.args):
        for i in range(len(positional) - 1):
            a, b = positional[i], positional[i + 1]
            if text.of(a) != text.of(b):
                start, end = text.span(a)[0], text.span(b)[1]
                between = text.source[text.span(a)[1]:text.span(b)[0]]
                add(start, end, text.of(b) + between + text.of(a), node, f"swapped arguments {i + 1} and {i + 2} of "
                    f"`{name}`")
    if not name or name[:1].isupper() or not removable:
        return  # building an object (nn.Linear(...)) is not a computation to skip
    f = node.func
    start, end = text.span(node)
    receiver = f.value if isinstance(f, ast.Attribute) else None
    if receiver is not None and not (isinstance(receiver, ast.Name) and receiver.id in MODULE_NAMES | {"self"}):
        add(start, end, text.of(receiver), node, f"removed call `.{name}(...)`")
    elif positional:
        add(start, end, text.of(positional[0]), node, f"removed call `{name}(...)`")


def cell_mutants(source: str) -> list[tuple[int, str, str, str]]:
    """[(line, code, mutation, mutated source)] for one cell's solution regions, duplicates and
    mutants that do not compile left out."""
    allowed = solution_lines(source)
    if not allowed:
        return []
    code = to_python(source)
    if code.splitlines() != source.splitlines():  # magics: only the lines that are plain Python may change
        allowed = {n for n, (a, b) in enumerate(zip(code.splitlines(), source.splitlines()), 1) if a == b} & allowed
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    text = _Text(source)
    out, seen, named = [], {source}, {}
    for edit in sorted(_edits(text, tree, allowed), key=lambda e: (e.start, e.mutation)):
        mutated = source[:edit.start] + edit.text + source[edit.end:]
        if mutated in seen:
            continue
        try:
            compiled = ast.dump(ast.parse(to_python(mutated)))
        except SyntaxError:
            continue
        if compiled == ast.dump(tree):
            continue  # the same program (a redundant pair of parentheses, a re-spelled constant)
        seen.add(mutated)
        # The same change at two places of a line (two 0s) is told apart by its place: "(#2)" for the second.
        n = named[edit.line, edit.mutation] = named.get((edit.line, edit.mutation), 0) + 1
        mutation = edit.mutation + (f" (#{n})" if n > 1 else "")
        out.append((edit.line, code_of(source.splitlines()[edit.line - 1]), mutation, mutated))
    return out


def mutants_of(notebook: bytes) -> list[Mutant]:
    """Every mutant of the solution regions of a notebook whose cells carry nbgrader metadata
    (authoring/markers.prepare_bytes has written it for plain-text markers)."""
    nb = json.loads(notebook.decode("utf-8"))
    found = []
    for number, cell in enumerate(nb.get("cells", []), 1):
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if cell.get("cell_type") != "code" or not meta.get("solution"):
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for line, code, mutation, mutated in cell_mutants(source):
            found.append(Mutant(len(found) + 1, number, str(meta.get("grade_id", "")), line, code, mutation, mutated))
    return found


def apply(notebook: bytes, mutant: Mutant) -> bytes:
    """The notebook with the mutant's cell in place of the original."""
    nb = json.loads(notebook.decode("utf-8"))
    nb["cells"][mutant.cell - 1]["source"] = mutant.source
    return json.dumps(nb).encode()


def original_source(notebook: bytes, cell: int) -> str:
    source = json.loads(notebook.decode("utf-8"))["cells"][cell - 1]["source"]
    return "".join(source) if isinstance(source, list) else source
