"""What the judge reads from a notebook's source (autograder/judge/source.py): structural rules
and flags, with no student code run."""
import textwrap

import pytest

from autograder.assignment import Rule
from autograder.judge.source import analyse

OWN_MHA = Rule("own attention", "build it yourself",
               forbid=("torch.nn.MultiheadAttention", "torch.nn.functional.scaled_dot_product_attention"),
               within=("MultiHeadAttention",), tests=("mha",))
LINEAR = Rule("projections", require=(("MultiHeadAttention.w_q", "torch.nn.Linear"),), tests=("own_projections",))
IMPORTS = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def cells(*sources):
    return [{"number": i, "label": f"c{i}", "source": textwrap.dedent(s)} for i, s in enumerate(sources, 1)]


def mha(body_init="self.w_q = nn.Linear(d, d)", body_forward="return x"):
    return f"""
class MultiHeadAttention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        {body_init}

    def forward(self, x):
        {body_forward}
"""


@pytest.mark.parametrize("prelude,use", [
    ("", "nn.MultiheadAttention(4, 2)"),
    ("from torch.nn import MultiheadAttention as Attn\n", "Attn(4, 2)"),
    ("from torch import nn as tnn\n", "tnn.MultiheadAttention(4, 2)"),
    ("import torch.nn.modules.activation as act\n", "act.MultiheadAttention(4, 2)"),
    ("Builtin = nn.MultiheadAttention\n", "Builtin(4, 2)"),
    ("", "getattr(nn, 'MultiheadAttention')(4, 2)"),
    ("import importlib\n", "importlib.import_module('torch.nn').MultiheadAttention(4, 2)"),
    ("from torch.nn.functional import scaled_dot_product_attention as sdpa\n", "sdpa(x, x, x)"),
])
def test_a_forbidden_name_is_found_through_imports_and_aliases(prelude, use):
    """However the forbidden class or function is reached by name (alias, from-import, its module's
    path, a literal getattr), is it a violation naming the cell and the line?"""
    facts = analyse(cells(IMPORTS + prelude, mha(body_forward=f"return {use}")), [OWN_MHA])
    assert len(facts.violations) == 1, facts.violations
    v = facts.violations[0]
    assert v.place.cell == 2 and v.place.label == "c2" and use.split("(")[0] in v.place.code
    assert facts.violations_for("test_values.py::test_mha_x") and not facts.violations_for("test_sdpa_x")


def test_a_subclass_of_a_forbidden_class_is_a_use():
    """Is `class Mine(nn.MultiheadAttention)` used inside MultiHeadAttention a violation?"""
    source = IMPORTS + "class Mine(nn.MultiheadAttention):\n    pass\n"
    facts = analyse(cells(source, mha(body_init="self.attn = Mine(d, h)\n        self.w_q = nn.Linear(d, d)")),
                    [OWN_MHA])
    assert [v.what for v in facts.violations] == ["uses torch.nn.MultiheadAttention"]


def test_only_the_last_definition_counts_and_only_within_its_scope():
    """Does a torch attention in an earlier, replaced MultiHeadAttention, or outside the rule's
    scope, break nothing?"""
    early = mha(body_forward="return nn.MultiheadAttention(4, 2)(x, x, x)")
    elsewhere = "def plot(x):\n    return nn.MultiheadAttention(4, 2)\n"
    facts = analyse(cells(IMPORTS, early, mha(), elsewhere), [OWN_MHA, LINEAR])
    assert facts.violations == [] and facts.flags == []


def test_a_required_assignment_is_checked_and_a_stub_is_left_to_its_error():
    """Is w_q made by something other than nn.Linear a violation, nn.Linear imported any way
    fine, and a class still raising NotImplementedError not a violation?"""
    assert analyse(cells(IMPORTS, mha(body_init="self.w_q = nn.Conv1d(d, d, 1)")), [LINEAR]).violations
    ok = IMPORTS + "from torch.nn import Linear\n"
    assert not analyse(cells(ok, mha(body_init="self.w_q, self.w_k = Linear(d, d), Linear(d, d)")), [LINEAR]).violations
    stub = mha(body_init="raise NotImplementedError")
    assert not analyse(cells(IMPORTS, stub), [LINEAR]).violations


@pytest.mark.parametrize("source,kind", [
    ("import gc\nfor o in gc.get_objects():\n    pass\n", "gc"),
    ("import sys\nf = sys._getframe(1)\n", "frames"),
    ("import inspect\nf = inspect.currentframe().f_back\n", "frames"),
    ("def g():\n    pass\ng.__code__ = (lambda: 1).__code__\n", "code swap"),
    ("import ctypes\n", "ctypes"),
    ("import autograder.sandbox\n", "grader"),
    ("import sys\nm = sys.modules['probes_0']\n", "grader"),
    ("open('/proc/self/mem', 'rb')\n", "process memory"),
    ("import torch\ntorch.allclose = lambda *a, **k: True\n", "patches"),
    ("import time\ntime.perf_counter = lambda: 0.0\n", "patches"),
    ("exec('x = 1')\n", "dynamic"),
    ("import torch.nn as nn\nname = 'Multi' + 'headAttention'\nA = getattr(nn, name)\n", "dynamic"),
])
def test_source_that_reaches_into_the_grader_is_flagged_with_its_line(source, kind):
    """Is each route into the grader (gc, frames, code swaps, ctypes, the grader's modules, process
    memory, patched libraries, names built at run time) flagged, with the cell and line?"""
    facts = analyse(cells("x = 0", source))
    assert kind in {f.kind for f in facts.flags}, facts.flags
    flag = next(f for f in facts.flags if f.kind == kind)
    assert flag.place.cell == 2 and flag.place.code and flag.describe().startswith("cell 2 (c2), line ")


def test_ordinary_code_is_not_flagged():
    """Are common notebook idioms (settings, literal getattr on self, a seeded generator, gc.collect,
    magics) left unflagged?"""
    source = """
    %matplotlib inline
    import gc, math, torch
    import torch.nn as nn
    torch.backends.cudnn.deterministic = True
    torch.manual_seed(0)
    gc.collect()
    layer = getattr(nn, "Linear")(4, 4)
    class M(nn.Module):
        def forward(self, x):
            return getattr(self, "w", x) * math.sqrt(2)
    """
    assert analyse(cells(source)).flags == []


def test_a_name_built_at_run_time_hides_only_the_rules_it_could_break():
    """Does getattr(F, <built name>) make the attention rules unverifiable, but not a rule whose
    forbidden names live in another module?"""
    other = Rule("no numpy", forbid=("numpy.einsum",), tests=("values",))
    source = IMPORTS + "fn = getattr(F, 'scaled_dot_' + 'product_attention')\n"
    facts = analyse(cells(source, mha()), [OWN_MHA, other])
    assert [r.name for r, _ in facts.unverifiable] == ["own attention"]
    assert facts.unverifiable_for("test_mha_x") and not facts.unverifiable_for("test_values.py::x")
    assert facts.violations == []


def test_a_helper_defined_elsewhere_is_inside_the_scope():
    """Does a forbidden call hidden in a helper function that MultiHeadAttention calls count, and
    one in a function nothing in scope calls not?"""
    helper = "def attend(x):\n    return F.scaled_dot_product_attention(x, x, x)\n"
    unrelated = "def demo(x):\n    return F.scaled_dot_product_attention(x, x, x)\n"
    facts = analyse(cells(IMPORTS, helper, mha(body_forward="return attend(x)")), [OWN_MHA])
    assert [v.place.cell for v in facts.violations] == [2]
    assert not analyse(cells(IMPORTS, unrelated, mha()), [OWN_MHA]).violations
