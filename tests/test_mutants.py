"""The AST mutator of make check (autograder/authoring/mutants.py): small bugs, inside solution regions only."""
import ast
import json

from autograder.authoring import markers, mutants
from autograder.cells import to_python
from tests.conftest import REPO

CELL = '''class Block(nn.Module):
    """Kept as it is: outside the region."""

    def forward(self, x, mask=None):
        y = x * 2  # outside: never mutated
        ### BEGIN SOLUTION
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (B, T, T)
        if mask is not None and mask.dim() == 3:
            scores = scores.masked_fill(mask == 0, -1e9)
        w = F.softmax(scores, dim=-1)
        return self.norm(x + self.dropout(w @ v))
        ### END SOLUTION
'''


def _mutations(source):
    return [(line, mutation) for line, _, mutation, _ in mutants.cell_mutants(source)]


def test_each_kind_of_mutation_is_made():
    """Are operators, operands, constants, dims, arguments, lines and calls all mutated, each a compiling program
    that differs from the original?"""
    found = mutants.cell_mutants(CELL)
    kinds = {mutation for _, _, mutation, _ in found}
    for expected in ("`@` -> `*`", "`/` -> `*`", "swapped operands of `/`", "`==` -> `!=`", "`and` -> `or`",
                     "`is not` -> `is`", "dim -1 -> -2", "dim -2 -> -1", "constant 3 -> 4", "constant 0 -> 1",
                     "constant 1e9 -> 2000000000.0", "constant 1e9 -> 0.0", "deleted line",
                     "removed call `dropout(...)`", "removed call `.transpose(...)`", "removed call `softmax(...)`",
                     "swapped arguments 1 and 2 of `masked_fill`"):
        assert expected in kinds, expected
    original = ast.dump(ast.parse(CELL))
    for _, _, _, source in found:
        assert ast.dump(ast.parse(to_python(source))) != original
    assert len({source for *_, source in found}) == len(found)  # no two the same


def test_only_solution_regions_change():
    """Does every mutant leave the lines outside the solution regions exactly as they were?"""
    lines = CELL.splitlines()
    inside = mutants.solution_lines(CELL)
    for line, _, _, source in mutants.cell_mutants(CELL):
        assert line in inside
        mutated = source.splitlines()
        assert mutated[:5] == lines[:5] and mutated[-1] == lines[-1]  # the signature, docstring and END marker


def test_symmetric_calls_and_magics_are_left_alone():
    """Are transpose's arguments never swapped (the same call), and lines that are IPython magics never mutated?"""
    source = "def f(x):\n    ### BEGIN SOLUTION\n    %time y = 1\n    return x.transpose(1, 2)\n    ### END SOLUTION\n"
    found = _mutations(source)
    assert not [m for _, m in found if "swapped arguments" in m]
    assert all(line == 4 for line, _ in found)


def test_the_bundled_notebooks_give_mutants_that_apply_to_one_cell():
    """For Day 41 and Day 42, is every mutant inside a solution cell's region, named by its grade id and line, and
    does apply() change that cell only?"""
    for path in sorted((REPO / "assignments").glob("*/*.ipynb")):
        data = markers.prepare_bytes(path.read_bytes(), str(path))
        found = mutants.mutants_of(data)
        assert len(found) > 150, path
        cells = json.loads(data)["cells"]
        m = found[len(found) // 2]
        changed = json.loads(mutants.apply(data, m))["cells"]
        assert [i for i, (a, b) in enumerate(zip(cells, changed)) if a != b] == [m.cell - 1]
        assert cells[m.cell - 1]["metadata"]["nbgrader"]["grade_id"] == m.cell_id
        assert m.diff(mutants.original_source(data, m.cell)).count("\n+") == 1


def test_a_harmless_entry_names_code_without_its_comment():
    """Is a mutant's code its line without the trailing comment (so a comment edit keeps entries valid)?"""
    assert mutants.code_of("        x = self.norm1(x)  # (B, T)") == "x = self.norm1(x)"
    assert mutants.code_of('    s = "a # b"  # c') == 's = "a # b"'
    assert mutants.code_of("self.ff = nn.Sequential(") == "self.ff = nn.Sequential("


def test_the_same_change_twice_on_a_line_is_told_apart():
    """Are two mutants that make the same change at two places of one line (two 0s) named apart, so that a
    [[check.harmless]] entry means one of them?"""
    source = "def f(pe, x):\n    ### BEGIN SOLUTION\n    pe[:, 0, 0::2] = x\n    ### END SOLUTION\n"
    names = [mutation for _, _, mutation, _ in mutants.cell_mutants(source) if mutation.startswith("constant 0 -> 1")]
    assert names == ["constant 0 -> 1", "constant 0 -> 1 (#2)"]
