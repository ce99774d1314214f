"""Softmax: the decoder's attention weights are distributions over the keys, and masks hold."""
import torch

from autograder.judge import expect_close, expect_finite, expect_shape, fail, points

DECODER = dict(d_model=32, num_heads=4, d_ff=64, B=3, T=6, S=8)
MASK_SHAPES = {"padding": "(B, 1, S)", "per_query": "(B, T, S)"}


def _expect_distribution(weights, what):
    w = expect_finite(weights, what)
    if bool((w < 0).any()):
        fail(f"{what}: some weights are negative; softmax gives values in [0, 1]")
    sums = w.double().sum(-1)
    if float((sums - 1).abs().max()) > 1e-4:
        other = next((d for d in range(w.dim() - 1) if float((w.double().sum(d) - 1).abs().max()) <= 1e-4), None)
        fail(f"{what}: a query's weights do not sum to 1 over the keys (the last dimension)"
             + (f"; they sum to 1 over dimension {other}: the softmax is taken over the wrong dimension"
                if other is not None else ""))
    return w


def _with_cause(observed, cause):
    return f"{observed}: {cause}" if cause else observed


@points(2)
def test_decoder_self_attention_is_causal(submission, diagnose):
    """With a causal tgt_mask, are the self-attention weights distributions with no weight on later positions?"""
    args = dict(seed=11, tgt_mask="causal", **DECODER)
    got = submission.probe("decoder", **args)
    w = _expect_distribution(expect_shape(got["self_weights"], (3, 4, 6, 6), "self_attn.attention_weights"),
                             "self-attention weights")
    later = float(torch.triu(w.double(), diagonal=1).max())
    if later > 1e-6:
        fail(_with_cause(f"self-attention weights: a target position gives weight {later:.3g} to a later one although "
                         "tgt_mask hides it", diagnose.future_leak("decoder", args)))


@points(2)
def test_decoder_cross_attention_respects_memory_mask(submission, reference, diagnose):
    """Are the cross-attention weights distributions over the memory, with no weight where memory_mask == 0?"""
    for kind in ("padding", "per_query"):
        args = dict(seed=12, memory_mask=kind, **DECODER)
        w = _expect_distribution(expect_shape(submission.probe("decoder", **args)["cross_weights"], (3, 4, 6, 8),
                                              "cross-attention weights (queries from x, keys from memory)"),
                                 "cross-attention weights")
        hidden = reference.probe("decoder", **args)["cross_weights"] == 0  # where the mask is 0
        masked = float(w.double()[hidden].max())
        if masked > 1e-6:
            fail(_with_cause(f"cross-attention weights with a {MASK_SHAPES[kind]} memory_mask: a masked memory "
                             f"position gets weight {masked:.3g}", diagnose.memory_mask(args)))


@points(1)
def test_mha_weights_match_reference(submission, reference):
    """Does your Day 41 multi-head attention keep the reference's weights, with and without a mask?"""
    for mask in (None, "padding"):
        args = dict(seed=13, d_model=32, num_heads=4, B=2, T_q=5, T_k=7, mask=mask)
        got = submission.probe("mha", **args)["weights"]
        _expect_distribution(got, "MultiHeadAttention.attention_weights")
        expect_close(got, reference.probe("mha", **args)["weights"], "MultiHeadAttention.attention_weights"
                     + (" with a padding mask" if mask else ""))


@points(2)
def test_decoder_weights_match_reference(submission, reference):
    """With the same weights and masks, are both attention maps of the decoder the reference's?"""
    args = dict(seed=14, tgt_mask="causal", memory_mask="padding", **DECODER)
    got, want = submission.probe("decoder", **args), reference.probe("decoder", **args)
    expect_close(got["self_weights"], want["self_weights"], "self-attention weights")
    expect_close(got["cross_weights"], want["cross_weights"], "cross-attention weights")
