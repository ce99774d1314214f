"""Softmax: attention weights are distributions over the keys, masks hold, nothing overflows."""
from autograder.judge import Feedback, expect_close, expect_finite, expect_tensor, fail, points

CASE = dict(lead=[2, 3], T_q=6, T_k=9, d_k=8, d_v=5)


def _expect_distribution(weights, what):
    w = expect_finite(weights, what)
    if bool((w < 0).any()):
        fail(f"{what}: some weights are negative; softmax gives values in [0, 1]")
    sums = w.double().sum(-1)
    err = float((sums - 1).abs().max())
    if err > 1e-4:
        fail(f"{what}: a query's weights sum to {float(sums.flatten()[(sums - 1).abs().flatten().argmax()]):.3f} "
             "instead of 1; apply softmax over the keys (the last dimension)")


@points(2)
def test_sdpa_weights_are_a_distribution(submission):
    """Are the weights of each query non-negative and do they sum to 1 over the keys?"""
    got = submission.probe("sdpa", seed=11, **CASE)
    _expect_distribution(got["weights"], "attention weights")


@points(2)
def test_sdpa_masked_positions_get_no_weight(submission, reference):
    """Do positions where mask == 0 get (almost) zero weight, and the others all the weight?"""
    args = dict(seed=12, mask="random", **CASE)
    weights = expect_finite(submission.probe("sdpa", **args)["weights"], "masked attention weights")
    # Masked positions are where the reference puts exactly no weight; random scores never do.
    masked = expect_tensor(reference.probe("sdpa", **args)["weights"], "reference weights") == 0
    if weights.shape != masked.shape:
        fail(f"masked attention weights: expected shape {tuple(masked.shape)}, got {tuple(weights.shape)}")
    leaked = float(weights.double()[masked].max()) if bool(masked.any()) else 0.0
    if leaked > 1e-6:
        fail(f"masked attention weights: a position with mask == 0 still gets weight {leaked:.3g}; "
             "fill its score with a very negative number where mask == 0, before the softmax")
    _expect_distribution(weights, "masked attention weights")


@points(1)
def test_sdpa_fully_masked_row_is_finite(submission):
    """When one query may attend to nothing (its whole mask row is 0), do output and weights stay free of NaN and Inf?"""
    got = submission.probe("sdpa", seed=13, mask="full_row", **CASE)
    try:
        expect_finite(got["weights"], "weights with a fully masked row")
        expect_finite(got["output"], "output with a fully masked row")
    except Feedback as exc:
        fail(f"{exc}. A query whose mask row is all 0 must still get finite weights: fill masked scores "
             "with a large finite negative number, scores.masked_fill(mask == 0, -1e9), not -inf "
             "(softmax of a row that is all -inf is NaN)")


@points(1)
def test_sdpa_large_logits_are_finite(submission):
    """With very large scores (inputs scaled by 1000), does softmax stay finite and normalised?"""
    got = submission.probe("sdpa", seed=14, scale=1000.0, **CASE)
    try:
        expect_finite(got["output"], "output for very large scores")
        expect_finite(got["weights"], "weights for very large scores")
    except Feedback as exc:
        fail(f"{exc}. Use F.softmax(scores, dim=-1), which subtracts each row's maximum first; "
             "exp(scores) / exp(scores).sum() overflows to Inf and NaN for large scores")
    _expect_distribution(got["weights"], "weights for very large scores")


@points(2)
def test_sdpa_weights_match_reference(submission, reference):
    """Are your attention weights, masked and unmasked, the reference's for the same inputs?"""
    for mask in (None, "random"):
        args = dict(seed=15, mask=mask, **CASE)
        what = "attention weights" + (" with a mask" if mask else "")
        expect_close(submission.probe("sdpa", **args)["weights"], reference.probe("sdpa", **args)["weights"], what)


@points(1)
def test_mha_weights_are_a_distribution_per_head(submission, reference):
    """Does every head keep a distribution over the keys in attention_weights, equal to the reference's?"""
    args = dict(seed=16, d_model=32, num_heads=4, B=2, T_q=5, T_k=7)
    got = submission.probe("mha", **args)
    _expect_distribution(got["weights"], "MultiHeadAttention.attention_weights")
    expect_close(got["weights"], reference.probe("mha", **args)["weights"], "MultiHeadAttention.attention_weights")
