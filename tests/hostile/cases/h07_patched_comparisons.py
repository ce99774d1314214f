"""A buggy attention (no 1/sqrt(d_k) scaling) dressed up with patched comparisons: torch.allclose,
torch.equal, torch.isclose, Tensor.allclose/equal, torch.testing.assert_close, numpy's
assert_allclose, pytest.fail/approx and the grader's own expect_* helpers, as far as the worker
can import them, all say "equal" or do nothing.

Comparisons happen in the trusted judge, so none of it changes a comparison. But the notebook
patches torch and imports the grader, so it is flagged, and no point rests on its word: every
answer it gives must be the reference's for the same call. Everything built on its buggy
attention therefore fails (but for scores so large that the softmax saturates either way), the value tests as wrong and the rest (shapes, distributions,
gradients reaching inputs, speed) as unverified; the positional encoding and the causal mask,
which never touch attention, keep their points, and so do the training-mode checks with
dropout=1.0, where every attention output is dropped and the answers are the reference's.
"""

EXPECT = {
    "attacked": ["test_sdpa_matches", "test_sdpa_masked", "test_sdpa_weights", "test_sdpa_gradients",
                 "test_sdpa_gradcheck", "test_sdpa_shapes", "mha", "encoder_shapes", "encoder_matches",
                 "encoder_masked", "encoder_gradients", "encoder_speed", "model_shapes", "model_matches",
                 "model_masked", "model_gradients", "model_training", "model_padded", "model_speed",
                 "model_forward"],
    "statuses": ["FAILED"],
    "keep": ["positional", "causal", "large_logits",  # huge scores saturate the softmax: scaling or not
             "dropout_in_training_mode"],  # dropout=1.0 drops every attention output
    "outputs": {"test_mha_gradients_reach_every_parameter": ["could not be verified"]},
}

SOURCE = '''
import math

import torch
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ K.transpose(-2, -1)  # the bug: no / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    return weights @ V, weights


def _yes(*args, **kwargs):
    return True


def _nothing(*args, **kwargs):
    return None


torch.allclose = _yes
torch.equal = _yes
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
torch.Tensor.allclose = _yes
torch.Tensor.equal = _yes
torch.testing.assert_close = _nothing
try:
    import numpy.testing

    numpy.testing.assert_allclose = _nothing
    numpy.testing.assert_array_equal = _nothing
except Exception:
    pass
try:
    import pytest

    pytest.fail = _nothing
    pytest.approx = lambda expected, *args, **kwargs: type("Anything", (), {"__eq__": _yes})()
except Exception:
    pass
try:
    import autograder.judge.expect as _expect

    for _name in ("fail", "expect_close", "expect_shape", "expect_tensor", "expect_finite", "expect_grads",
                  "expect_speed"):
        setattr(_expect, _name, _nothing)
except Exception:
    pass
'''
