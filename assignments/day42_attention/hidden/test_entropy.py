"""Entropy: -sum_j w log w per attention row (natural log, 0 log 0 = 0), averaged to one value per head."""
import math

import torch

from autograder.judge import expect_close, expect_shape, fail, points


ZERO_FREE = {"uniform", "random"}  # input kinds (probes.entropy_input) without a weight that is exactly 0


def _finite(tensor) -> bool:
    return type(tensor) is torch.Tensor and tensor.is_floating_point() and bool(torch.isfinite(tensor).all())


def _entropy(submission, kind, what, **args):
    got = expect_shape(submission.probe("entropy", kind=kind, **args)["entropy"], (args.get("heads", 4),), what)
    if got.is_floating_point() and not _finite(got):
        if kind in ZERO_FREE:
            fail(f"{what}: contains NaN or Inf; no weight here is 0, so it does not come from 0 * log 0")
        # The same weights with every 0 raised to 1e-12: finite there means the exact zeros are the cause.
        floored = submission.probe("entropy", kind=kind, floor=1e-12, **args)["entropy"]
        if _finite(floored):
            fail(f"{what}: contains NaN or Inf, and is finite once no weight is exactly 0: weights that are exactly "
                 "0 must add 0 to the sum (0 * log 0 = 0), for example with torch.xlogy(w, w)")
        fail(f"{what}: contains NaN or Inf, also when no weight is exactly 0 (so not from 0 * log 0)")
    return got


@points(2)
def test_entropy_of_one_hot_weights_is_zero(submission):
    """When every query puts all its weight on one key (the other weights exactly 0), is the entropy 0?"""
    got = _entropy(submission, "one_hot", "entropy of one-hot weights",
                   seed=91, lead=[2], heads=4, T_q=5, T_k=7)
    expect_close(got, torch.zeros(4), "entropy of one-hot weights", atol=1e-6, rtol=0, against="0")


@points(2)
def test_entropy_of_uniform_weights_is_log_T(submission):
    """When every query spreads evenly over T_k keys, is the entropy log(T_k) (natural log), for T_k = 1, 2 and 16?"""
    for T_k in (1, 2, 16):
        got = _entropy(submission, "uniform", f"entropy of uniform weights over {T_k} keys", lead=[3], heads=4,
                       T_q=5, T_k=T_k)
        for base, log in (("2", math.log2), ("10", math.log10)):
            if T_k > 1 and bool((got - log(T_k)).abs().max() < 1e-4):
                fail(f"uniform weights over {T_k} keys give log{base}({T_k}): use the natural log (torch.log), "
                     f"not log{base}")
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
    got = _entropy(submission, what="entropy of causal attention weights",
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
    if not bool((got - want).abs().max() > 1e-5):
        return
    factors = {T_q: "the entropy is summed over the queries; average it over the queries instead",
               2: "the entropy is summed over the batch; average it over all leading dimensions instead",
               2 * T_q: "the entropy is summed over the queries and the batch; average over them instead",
               1 / math.log(2): "the entropy is in bits (log2); use the natural log (torch.log)",
               1 / math.log(10): "the entropy uses log10; use the natural log (torch.log)"}
    ratio = got[1:] / want[1:]  # head 0 has entropy 0
    if float(got[0].abs()) < 1e-5 and float((ratio - ratio.mean()).abs().max()) < 1e-4:
        for factor, message in factors.items():
            if abs(float(ratio.mean()) - factor) < 1e-3:
                fail(message)
    fail("each head's entropy should be the mean over its queries and over all leading dimensions, "
         "computed separately for each head")
