"""Entropy: -sum_j w log w per attention row (natural log, 0 log 0 = 0), averaged to one value per head."""
import math

import torch

from autograder.judge import expect_close, expect_finite, expect_shape, fail, points


def _entropy(submission, kind, what, **args):
    got = submission.probe("entropy", kind=kind, **args)["entropy"]
    return expect_finite(expect_shape(got, (args.get("heads", 4),), what), what)


@points(2)
def test_entropy_of_one_hot_weights_is_zero(submission):
    """When every query puts all its weight on one key (the other weights exactly 0), is the entropy 0?"""
    got = _entropy(submission, "one_hot", "entropy of one-hot weights (use 0 * log 0 = 0, e.g. torch.xlogy)",
                   seed=91, lead=[2], heads=4, T_q=5, T_k=7)
    expect_close(got, torch.zeros(4), "entropy of one-hot weights", atol=1e-6, rtol=0, against="0")


@points(2)
def test_entropy_of_uniform_weights_is_log_T(submission):
    """When every query spreads evenly over T_k keys, is the entropy log(T_k) (natural log), for T_k = 1, 2 and 16?"""
    for T_k in (1, 2, 16):
        got = _entropy(submission, "uniform", f"entropy of uniform weights over {T_k} keys", lead=[3], heads=4,
                       T_q=5, T_k=T_k)
        expect_close(got, torch.full((4,), math.log(T_k)), f"entropy of uniform weights over {T_k} keys",
                     atol=1e-5, rtol=1e-5, against=f"log({T_k}) = {math.log(T_k):.4f}")


@points(2)
def test_entropy_matches_reference(submission, reference):
    """On random attention weights with 0, 1 or 2 leading dimensions, is your entropy per head the reference's?"""
    for lead, h, T_q, T_k in [((), 3, 4, 6), ((2,), 4, 5, 7), ((2, 3), 2, 3, 9)]:
        args = dict(kind="random", seed=92, lead=list(lead), heads=h, T_q=T_q, T_k=T_k)
        expect_close(submission.probe("entropy", **args)["entropy"], reference.probe("entropy", **args)["entropy"],
                     f"entropy of random weights of shape {(*lead, h, T_q, T_k)}", atol=1e-5, rtol=1e-5)


@points(1)
def test_entropy_of_causal_weights(submission, reference):
    """For causal attention weights (exact zeros above the diagonal), is the entropy finite and the reference's?"""
    args = dict(kind="causal", seed=93, lead=[2], heads=4, T_q=6, T_k=6)
    got = _entropy(submission, what="entropy of causal attention weights (use 0 * log 0 = 0, e.g. torch.xlogy)",
                   **args)
    expect_close(got, reference.probe("entropy", **args)["entropy"], "entropy of causal attention weights",
                 atol=1e-5, rtol=1e-5)


@points(1)
def test_entropy_averages_over_queries_and_batch(submission):
    """Is each head's entropy the mean over its queries and over the batch (not a sum, not mixed across heads)?"""
    heads, T_q, T_k = 4, 5, 8
    got = _entropy(submission, "mixed", "entropy of partly uniform weights", seed=94, lead=[2], heads=heads,
                   T_q=T_q, T_k=T_k)
    # batch row 0: head h has min(h, T_q) uniform rows (entropy log T_k each), the rest one-hot; batch row 1: all one-hot
    want = torch.tensor([0.5 * min(h, T_q) / T_q * math.log(T_k) for h in range(heads)])
    if bool((got - want).abs().max() > 1e-5):
        if bool((got - want * T_q).abs().max() < 1e-4):
            fail("the entropy is summed over the queries; average it over the queries instead")
        if bool((got - 2 * want).abs().max() < 1e-4):
            fail("the entropy is summed over the batch; average it over the leading dimensions instead")
        fail("each head's entropy should be the mean over its queries and over all leading dimensions, "
             "computed separately for each head")
