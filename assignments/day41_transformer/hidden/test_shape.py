"""Shapes: every component at several batch sizes and sequence lengths, T=1 included."""
from autograder.judge import expect_shape, fail, points


@points(2)
def test_sdpa_shapes(submission):
    """Does attention return (..., T_q, d_v) outputs and (..., T_q, T_k) weights, for any leading dims?"""
    for lead, T_q, T_k, d_k, d_v in [((1,), 1, 1, 8, 8), ((3,), 5, 9, 16, 12), ((2, 3), 7, 7, 8, 4)]:
        got = submission.probe("sdpa", seed=1, lead=list(lead), T_q=T_q, T_k=T_k, d_k=d_k, d_v=d_v)
        expect_shape(got["output"], (*lead, T_q, d_v), f"attention output for Q {(*lead, T_q, d_k)}")
        expect_shape(got["weights"], (*lead, T_q, T_k), f"attention weights for Q {(*lead, T_q, d_k)}")


@points(2)
def test_mha_shapes(submission):
    """Does multi-head attention return (B, T_q, d_model) and keep (B, h, T_q, T_k) weights, T_q != T_k included?"""
    for B, T_q, T_k, d_model, h in [(1, 1, 1, 16, 2), (3, 5, 9, 32, 4), (2, 7, 7, 24, 3)]:
        got = submission.probe("mha", seed=2, d_model=d_model, num_heads=h, B=B, T_q=T_q, T_k=T_k)
        expect_shape(got["output"], (B, T_q, d_model), f"MultiHeadAttention({d_model}, {h}) output")
        expect_shape(got["weights"], (B, h, T_q, T_k), f"MultiHeadAttention({d_model}, {h}).attention_weights")


@points(2)
def test_positional_shapes(submission):
    """Is the encoding sequence-first: pe is (max_len, 1, d_model) and (T, B, d_model) stays (T, B, d_model)?"""
    for T, B, d_model, max_len in [(1, 3, 20, 50), (13, 2, 20, 50), (6, 6, 8, 100)]:
        got = submission.probe("positional", seed=3, d_model=d_model, T=T, B=B, max_len=max_len)
        if got["buffer_shape"] is None:
            fail("PositionalEncoding has no buffer named 'pe' (use self.register_buffer('pe', ...))")
        if tuple(got["buffer_shape"]) != (max_len, 1, d_model):
            fail(f"PositionalEncoding({d_model}, max_len={max_len}).pe: expected shape "
                 f"{(max_len, 1, d_model)}, got {tuple(got['buffer_shape'])}")
        expect_shape(got["output"], (T, B, d_model), f"PositionalEncoding output for x of shape {(T, B, d_model)}")


@points(1)
def test_encoder_shapes(submission):
    """Does the encoder layer keep (B, T, d_model), for T=1 and for a longer batch?"""
    for B, T in [(1, 1), (4, 11)]:
        got = submission.probe("encoder", seed=4, d_model=24, num_heads=4, d_ff=48, B=B, T=T)
        expect_shape(got["output"], (B, T, 24), f"TransformerEncoderLayer output for x of shape {(B, T, 24)}")


@points(1)
def test_model_shapes(submission):
    """Does the model map (B, T) tokens to (B, num_classes) logits, for T=1 and for a longer batch?"""
    for B, T in [(1, 1), (5, 17)]:
        got = submission.probe("model", seed=5, vocab_size=30, d_model=16, num_heads=2, num_layers=2,
                               d_ff=32, num_classes=3, B=B, T=T)
        expect_shape(got["output"], (B, 3), f"SimpleTransformer logits for tokens of shape {(B, T)}")
