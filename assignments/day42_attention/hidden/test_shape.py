"""Shapes: every new component at several batch sizes and lengths, T=1 and T != S included."""
from autograder.judge import expect_shape, points


@points(1)
def test_causal_mask_shape(submission):
    """Is causal_mask(T) a (T, T) tensor, for T=1 and for a longer sequence?"""
    for T in (1, 7):
        expect_shape(submission.probe("causal", T=T)["mask"], (T, T), f"causal_mask({T})")


@points(1)
def test_mha_shapes(submission):
    """Does your Day 41 multi-head attention return (B, T_q, d_model) and keep (B, h, T_q, T_k) weights?"""
    for B, T_q, T_k, d_model, h in [(1, 1, 1, 16, 2), (3, 5, 9, 32, 4)]:
        got = submission.probe("mha", seed=2, d_model=d_model, num_heads=h, B=B, T_q=T_q, T_k=T_k)
        expect_shape(got["output"], (B, T_q, d_model), f"MultiHeadAttention({d_model}, {h}) output")
        expect_shape(got["weights"], (B, h, T_q, T_k), f"MultiHeadAttention({d_model}, {h}).attention_weights")


@points(2)
def test_decoder_shapes(submission):
    """Does the decoder layer map x (B, T, d_model) and memory (B, S, d_model) to (B, T, d_model), with
    (B, h, T, T) self-attention and (B, h, T, S) cross-attention weights?"""
    for B, T, S in [(1, 1, 1), (3, 5, 9), (2, 8, 3)]:
        got = submission.probe("decoder", seed=4, d_model=24, num_heads=4, d_ff=48, B=B, T=T, S=S)
        expect_shape(got["output"], (B, T, 24), f"decoder output for x {(B, T, 24)} and memory {(B, S, 24)}")
        expect_shape(got["self_weights"], (B, 4, T, T), f"self_attn.attention_weights for T={T}")
        expect_shape(got["cross_weights"], (B, 4, T, S), f"cross_attn.attention_weights for T={T}, S={S}")


@points(1)
def test_relative_bias_shapes(submission):
    """Does RelativePositionBias(h, D)(T_q, T_k) return (h, T_q, T_k), T_q != T_k and T=1 included?"""
    for h, D, T_q, T_k in [(1, 1, 1, 1), (4, 3, 5, 11), (2, 6, 9, 4)]:
        got = submission.probe("relative_bias", seed=5, num_heads=h, max_distance=D, T_q=T_q, T_k=T_k)
        expect_shape(got["output"], (h, T_q, T_k), f"RelativePositionBias({h}, {D})({T_q}, {T_k})")


@points(2)
def test_entropy_shapes(submission):
    """Is attention_entropy one value per head, (h,), with no, one or two leading batch dimensions?"""
    for lead, h in [((), 3), ((2,), 4), ((2, 3), 5)]:
        got = submission.probe("entropy", kind="random", seed=6, lead=list(lead), heads=h, T_q=4, T_k=6)
        expect_shape(got["entropy"], (h,), f"attention_entropy of weights {(*lead, h, 4, 6)}")
