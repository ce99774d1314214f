"""Generic probes: hidden tests that call the notebook's functions and modules without a hand-written probe."""
import pytest
import torch

from autograder.config import load
from autograder.judge import compare_speed, module, seeded, seeded_ints, seeded_mask, timed
from autograder.judge.expect import Feedback, expect_close, expect_grads_close
from autograder.judge.handles import Reference, SandboxedCode
from autograder.judge.verdict import StudentError
from autograder.sandbox.host.launcher import Zygote
from autograder.sandbox.protocol import GENERIC_CALL, WorkerSpec
from autograder.wire import Invalid
from tests.conftest import REPO

SETTINGS = load(REPO).grading
REFERENCE = '''
import torch
import torch.nn as nn

def softmax(x, dim=-1):
    e = (x - x.max(dim=dim, keepdim=True).values).exp()
    return e / e.sum(dim=dim, keepdim=True)

def pair(a, b):
    return a + b, a * b

def count(tokens, high):
    return torch.bincount(tokens.reshape(-1), minlength=high)

class Net(nn.Module):
    def __init__(self, d_in, d_out, dropout=0.0):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, scale=1.0):
        return x + self.dropout(self.linear(x) * scale)

not_a_module = 3
'''
WRONG_DIM = REFERENCE.replace("e / e.sum(dim=dim, keepdim=True)", "e / e.sum(dim=-1, keepdim=True)")


@pytest.fixture(scope="module")
def zygote():
    z = Zygote([])  # no probe files: the generic probes come with every zygote
    yield z
    z.close()


def _code(zygote, tmp_path, source, cls=SandboxedCode):
    spec = WorkerSpec(str(tmp_path), cpu_s=60, max_output_bytes=1 << 20, memory_bytes=1 << 30, max_pids=32,
                      scratch_bytes=16 << 20, hide=(str(REPO),))
    args = (zygote, [{"number": 1, "source": source, "label": ""}], spec, SETTINGS)
    return cls(*args) if cls is Reference else cls(*args, budget_s=None)


@pytest.fixture
def pair_of(zygote, tmp_path):
    made = []

    def make(source):
        (tmp_path / "s").mkdir(exist_ok=True)
        (tmp_path / "r").mkdir(exist_ok=True)
        made.extend([_code(zygote, tmp_path / "s", source), _code(zygote, tmp_path / "r", REFERENCE, Reference)])
        return made[-2], made[-1]

    yield make
    for code in made:
        code.close()


def test_a_function_is_called_in_the_worker_on_seeded_arguments(pair_of):
    """Does call() draw the same seeded tensor in both workers, pass keywords, and return the function's value
    (a tuple as a list), so that a wrong dim shows against the reference and a right one does not?"""
    student, reference = pair_of(WRONG_DIM)
    x = seeded(3, (4, 7))
    expect_close(student.call("softmax", x, dim=-1), reference.call("softmax", x, dim=-1), "softmax(x, dim=-1)")
    with pytest.raises(Feedback, match=r"softmax\(x, dim=0\) differs from the reference"):
        expect_close(student.call("softmax", x, dim=0), reference.call("softmax", x, dim=0), "softmax(x, dim=0)")
    drawn = reference.call("pair", seeded(5, (2, 3), scale=10.0), 1.5)
    assert isinstance(drawn, list) and len(drawn) == 2 and drawn[0].shape == (2, 3)
    assert float(drawn[0].abs().max()) > 3  # scale=10: not standard normal any more
    assert torch.equal(reference.call("pair", seeded(5, (2, 3)), 0.0)[0], reference.call("pair", seeded(5, (2, 3)), 0.0)[0])


def test_integers_masks_and_plain_tensors_cross_as_data(pair_of):
    """Are seeded_ints and seeded_mask drawn in range, and is a plain tensor argument passed as it is?"""
    _, reference = pair_of(REFERENCE)
    counts = reference.call("count", seeded_ints(1, (5, 9), high=4), 4)
    assert counts.shape == (4,) and int(counts.sum()) == 45
    mask = reference.call("pair", seeded_mask(2, (3, 6), keep=0.3), 0)[0]
    assert set(mask.unique().tolist()) <= {0, 1} and bool((mask[:, 0] == 1).all())
    literal = torch.arange(6.0).reshape(2, 3)
    assert torch.equal(reference.call("pair", literal, 1.0)[0], literal + 1)


def test_gradients_come_back_by_argument_and_parameter(pair_of):
    """Does gradients() return the gradient of every floating tensor argument and, for a module, of every parameter,
    the same in both workers?"""
    student, reference = pair_of(REFERENCE)
    x = seeded(4, (3, 5))
    got, want = student.gradients("softmax", x, dim=0), reference.gradients("softmax", x, dim=0)
    assert set(got["grads"]) == {"args[0]"} and got["grads"]["args[0]"].shape == (3, 5)
    expect_grads_close(got["grads"], want["grads"], "softmax")
    net = module("Net", 5, 5, seed=9)
    got = student.gradients(net, x, scale=seeded(6, (1,)))
    assert set(got["grads"]) == {"args[0]", "scale"} and set(got["param_grads"]) == {"linear.weight", "linear.bias"}
    expect_grads_close(got["param_grads"], reference.gradients(net, x, scale=seeded(6, (1,)))["param_grads"], "Net")


def test_a_module_is_built_with_seeded_weights_in_eval_or_training_mode(pair_of):
    """Are the weights from the seed (the same in both workers, different for another seed), eval mode the default,
    and train=True training mode, where dropout=1.0 drops the whole sublayer?"""
    student, reference = pair_of(REFERENCE)
    x = seeded(1, (2, 5))
    expect_close(student.call(module("Net", 5, 5, seed=7), x), reference.call(module("Net", 5, 5, seed=7), x), "Net")
    assert not torch.allclose(reference.call(module("Net", 5, 5, seed=7), x), reference.call(module("Net", 5, 5, seed=8), x))
    eval_out = reference.call(module("Net", 5, 5, dropout=1.0, seed=7), x)
    train_out = reference.call(module("Net", 5, 5, dropout=1.0, seed=7, train=True), x)
    assert torch.equal(train_out, reference.call("pair", x, 0.0)[0])  # training, p=1: x + 0, the residual alone
    assert not torch.allclose(eval_out, train_out)  # eval: the sublayer counts


def test_contract_mistakes_are_the_students_to_read(pair_of):
    """Is a missing name, or a module that is not one, a contract error the student reads, and a raising call an
    ERROR naming the student's exception?"""
    student, _ = pair_of(REFERENCE.replace("def softmax", "def softmax_renamed"))
    with pytest.raises(StudentError, match=r"does not define `softmax`"):
        student.call("softmax", seeded(1, (2, 2)))
    with pytest.raises(StudentError, match=r"`not_a_module` should be a function"):
        student.call("not_a_module")
    with pytest.raises(StudentError, match=r"TypeError"):
        student.call(module("Net", 5), seeded(1, (2, 5)))  # the module needs d_out


def test_the_reference_caches_seeded_calls(pair_of):
    """Is a generic call of the reference computed once per run, since seeded arguments are JSON data?"""
    _, reference = pair_of(REFERENCE)
    first = reference.call("softmax", seeded(2, (3, 3)))
    assert any(GENERIC_CALL in key for key in reference.cache)
    assert reference.call("softmax", seeded(2, (3, 3))) is first


def test_an_answer_that_is_not_the_graders_is_invalid(pair_of):
    """If the student's code replaces the generic probe, is its odd answer an Invalid marker, not a grader error?"""
    student, _ = pair_of(REFERENCE + "\nimport gc\ngc.unfreeze()\nfor t in [o for o in gc.get_objects() if "
                                     "isinstance(o, dict) and 'generic.call' in o]:\n"
                                     "    t['generic.call'] = lambda student, **kw: 42\n")
    got = student.call("softmax", seeded(1, (2, 2)))
    assert isinstance(got, Invalid)
    with pytest.raises(Feedback, match=r"not the grader's"):
        expect_close(got, torch.zeros(2, 2), "softmax")


def test_a_generic_call_is_timed_and_verified_like_a_timed_probe(pair_of):
    """Does compare_speed time a generic call on fresh inputs each round, credit correct work, and refuse to credit
    a function whose answers are not the reference's and do not change with the input?"""
    settings = SETTINGS
    student, reference = pair_of(REFERENCE)
    result = compare_speed(student, reference, timed("softmax", seeded(0, (64, 128)), dim=-1), 50.0, settings)
    assert not result.problem and result.ratios and result.ratio < 50, result
    fake, reference = pair_of(REFERENCE.replace("def softmax(x, dim=-1):",
                                                "def softmax(x, dim=-1):\n    return torch.zeros_like(x)\n"
                                                "def _unused(x, dim=-1):"))
    result = compare_speed(fake, reference, timed("softmax", seeded(0, (64, 128)), dim=-1), 50.0, settings)
    assert "did not change with its input" in result.problem
