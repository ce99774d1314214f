"""Causality: with the causal mask, no output position depends on a later input position.

Each check compares your decoder with itself (outputs before and after changing the future) and
makes sure the reference has the same property, so it tests the property, not exact values. A
failure names its cause only where `diagnose` (conftest.py) tells it apart.
"""
import torch

from autograder.judge import expect_close, expect_shape, expect_tensor, fail, points

DECODER = dict(d_model=32, num_heads=4, d_ff=64, B=2, T=7, S=5)
CUTS = [0, 2, 5]


def _future_check(got, what):
    """Return an error message, or None, for the decoder_future probe's answer."""
    base = expect_shape(got["base"], (DECODER["B"], DECODER["T"], DECODER["d_model"]), f"{what}: decoder output")
    for t, changed in zip(CUTS, got["changed"]):
        changed = expect_shape(changed, tuple(base.shape), f"{what}: decoder output")
        err = float((changed[:, :t + 1].double() - base[:, :t + 1].double()).abs().max())
        if not err <= 1e-5:
            return (f"{what}: changing x only at positions after {t} changed the output at positions up to {t} "
                    f"(by up to {err:.3g}); a position sees the future")
    return None


def _with_cause(observed, cause):
    return f"{observed}: {cause}" if cause else observed


def _reference_holds(message):
    if message is not None:
        raise RuntimeError(f"the reference does not have the property it is checked for: {message}")


@points(2)
def test_causal_mask_matches_reference(submission, reference):
    """Does causal_mask(T) put 1 on and below the diagonal (key j <= query i) and 0 above it?"""
    for T in (1, 2, 6):
        got = expect_tensor(submission.probe("causal", T=T)["mask"], f"causal_mask({T})")
        want = reference.probe("causal", T=T)["mask"]
        expect_close(got.float(), want.float(), f"causal_mask({T})", atol=0, rtol=0)


@points(2)
def test_decoder_honours_tgt_mask(submission, reference, diagnose):
    """Given a causal tgt_mask, do outputs at positions <= t stay the same when only inputs after t change?"""
    args = dict(seed=61, tgt_mask="causal", cuts=CUTS, **DECODER)
    _reference_holds(_future_check(reference.probe("decoder_future", **args), "reference"))
    message = _future_check(submission.probe("decoder_future", **args), "with a lower-triangular tgt_mask")
    if message:
        fail(_with_cause(message, diagnose.future_leak("decoder_future", args)))


@points(3)
def test_decoder_with_your_causal_mask_hides_the_future(submission, reference, diagnose):
    """With tgt_mask = your causal_mask(T), do outputs at positions <= t ignore every input after t?"""
    args = dict(seed=62, tgt_mask="student", cuts=CUTS, **DECODER)
    _reference_holds(_future_check(reference.probe("decoder_future", **args), "reference"))
    message = _future_check(submission.probe("decoder_future", **args), "with tgt_mask = causal_mask(T)")
    if message:
        fail(_with_cause(message, diagnose.future_leak("decoder_future", args)))


@points(2)
def test_decoder_gradients_do_not_reach_the_past(submission, reference, diagnose):
    """With your causal_mask, is the gradient of output position t with respect to every later input position zero?"""
    args = dict(seed=63, **DECODER)
    want = expect_tensor(reference.probe("decoder_future_grads", **args)["table"], "reference gradient table")
    _reference_holds("future gradients" if float(torch.triu(want, diagonal=1).max()) > 0 else None)
    got = submission.probe("decoder_future_grads", **args)["table"]
    if got is None:
        fail("the decoder output is not a (B, T, d_model) tensor that requires grad, so no gradient can be checked")
    got = expect_shape(got, tuple(want.shape), "gradient table")
    future = torch.triu(got, diagonal=1)
    scale = float(torch.diagonal(got).abs().max()) or 1.0
    if float(future.max()) > 1e-7 * scale:
        t, s = divmod(int(future.argmax()), got.shape[1])
        cause = diagnose.future_leak("decoder_future", dict(seed=63, tgt_mask="student", cuts=CUTS, **DECODER))
        fail(_with_cause(f"the output at position {t} has a non-zero gradient with respect to the input at position "
                         f"{s}, a later position: the future leaks into the past", cause))


@points(2)
def test_incremental_decoding_matches_full(submission, reference):
    """Decoding one position at a time (as in generation), is each output the one from the full causal pass?"""
    args = dict(seed=64, **DECODER)
    want = reference.probe("decoder_incremental", **args)
    expect_close(want["steps"], want["full"], "reference step-by-step decoding", atol=1e-5, rtol=1e-4,
                 against="the reference's full pass")
    got = submission.probe("decoder_incremental", **args)
    full = expect_shape(got["full"], tuple(want["full"].shape), "full-sequence decoder output")
    expect_close(got["steps"], full, "outputs decoded one position at a time (x[:, :t+1], causal_mask(t+1))",
                 atol=1e-5, rtol=1e-4, against="your full-sequence pass with causal_mask(T)")
