"""A buggy attention (no 1/sqrt(d_k) scaling) dressed up with patched comparisons: torch.allclose,
torch.equal, torch.isclose, Tensor.allclose/equal, torch.testing.assert_close, numpy's
assert_allclose, pytest.fail/approx and the grader's own expect_* helpers, as far as the worker
can import them, all say "equal" or do nothing.

Comparisons happen in the trusted judge, so none of it matters: the bug must cost exactly the
points it costs an honest submission with the same bug (the value tests of attention and of
everything built on it); shapes, distributions, gradients reaching inputs, positional encoding
and the causal mask keep theirs.
"""

EXPECT = {
    "attacked": ["test_sdpa_matches_reference", "test_sdpa_masked_matches_reference",
                 "test_sdpa_weights_match_reference", "test_sdpa_gradients_match_reference",
                 "test_sdpa_gradcheck_float64", "test_mha_self_attention_matches_reference",
                 "test_mha_cross_attention_matches_reference", "test_mha_masked_matches_reference",
                 "test_mha_gradients_match_reference", "test_mha_weights_are_a_distribution_per_head",
                 "test_encoder_matches_reference", "test_encoder_masked_matches_reference",
                 "test_encoder_gradients_match_reference", "test_model_matches_reference",
                 "test_mha_dropout_is_off_in_eval_mode"],
    "statuses": ["FAILED"],
    "keep": ["shapes", "positional", "causal", "reach", "speed", "test_sdpa_weights_are_a_distribution",
             "test_sdpa_masked_positions_get_no_weight", "finite"],
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
