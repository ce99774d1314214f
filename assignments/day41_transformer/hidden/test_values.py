"""Values: with the same weights and inputs, every component computes what the reference computes."""
import math

import torch

from autograder.judge import expect_close, expect_finite, expect_shape, fail, points

TORCH_MHA = "torch.nn.modules.activation.MultiheadAttention"


@points(2)
def test_sdpa_matches_reference(submission, reference):
    """Is your attention output the reference's, for batched inputs with T_q != T_k?"""
    args = dict(seed=31, lead=[2, 3], T_q=5, T_k=9, d_k=8, d_v=6)
    expect_close(submission.probe("sdpa", **args)["output"], reference.probe("sdpa", **args)["output"],
                 "attention output")


@points(1)
def test_sdpa_masked_matches_reference(submission, reference):
    """With a mask, is your attention output the reference's?"""
    args = dict(seed=32, lead=[3], T_q=6, T_k=6, d_k=8, d_v=8, mask="random")
    expect_close(submission.probe("sdpa", **args)["output"], reference.probe("sdpa", **args)["output"],
                 "masked attention output")


@points(2)
def test_mha_self_attention_matches_reference(submission, reference):
    """With the same weights, is your multi-head self-attention output the reference's?"""
    args = dict(seed=33, d_model=32, num_heads=4, B=3, T_q=7, T_k=7, cross=False)
    expect_close(submission.probe("mha", **args)["output"], reference.probe("mha", **args)["output"],
                 "multi-head self-attention output")


@points(2)
def test_mha_cross_attention_matches_reference(submission, reference):
    """With distinct query, key and value and T_q != T_k, is your multi-head attention output the reference's?"""
    args = dict(seed=34, d_model=64, num_heads=8, B=2, T_q=5, T_k=9, cross=True)
    expect_close(submission.probe("mha", **args)["output"], reference.probe("mha", **args)["output"],
                 "multi-head cross-attention output")


@points(1)
def test_mha_masked_matches_reference(submission, reference):
    """With a (B, 1, T_k) padding, a (T, T) causal and a (B, T_q, T_k) mask, is your output the reference's?"""
    for mask, T_k in (("padding", 9), ("causal", 5), ("per_query", 7)):
        args = dict(seed=35, d_model=32, num_heads=4, B=3, T_q=5, T_k=T_k, mask=mask)
        expect_close(submission.probe("mha", **args)["output"], reference.probe("mha", **args)["output"],
                     f"multi-head attention output with a {mask} mask")


@points(1)
def test_mha_dropout_is_off_in_eval_mode(submission, reference):
    """Built with dropout=0.1 but in eval mode, is your multi-head attention deterministic and the reference's?"""
    args = dict(seed=36, d_model=32, num_heads=4, B=2, T_q=6, T_k=6, dropout=0.1)
    first = submission.probe("mha", **args)["output"]
    expect_close(submission.probe("mha", **args)["output"], first, "a second eval-mode run", atol=0, rtol=0)
    expect_close(first, reference.probe("mha", **args)["output"], "eval-mode multi-head attention output")


@points(1)
def test_mha_uses_its_own_projections(submission, source):
    """Is multi-head attention built from w_q, w_k, w_v and w_o (nn.Linear) rather than torch's nn.MultiheadAttention?"""
    # The rules of grading.toml decide this from the source (a broken one is FORBIDDEN before this
    # runs). What the running module contains only adds evidence, where the source hides names.
    got = submission.probe("mha", seed=37, d_model=16, num_heads=2, B=1, T_q=3, T_k=3)
    if source.hides_names and TORCH_MHA in got["types"]:
        fail(f"MultiHeadAttention runs torch.nn.MultiheadAttention, and {source.hides_names[0].describe()} "
             "builds the name at run time; the exercise is to build it from w_q, w_k, w_v and w_o")


@points(2)
def test_positional_matches_reference(submission, reference):
    """Does your positional encoding add the reference's table to sequence-first input?"""
    args = dict(seed=38, d_model=16, T=50, B=2)
    got, want = submission.probe("positional", **args), reference.probe("positional", **args)
    expect_close(got["from_zeros"], want["from_zeros"], "positional encoding added to zeros")
    expect_close(got["output"], want["output"], "positional encoding output")


@points(1)
def test_positional_known_positions(submission):
    """At positions 0, 1 and 7, is PE(pos, 2i) = sin(pos/10000^(2i/d_model)) and PE(pos, 2i+1) the cos?"""
    d_model = 8
    got = expect_shape(submission.probe("positional", seed=39, d_model=d_model, T=8, B=1)["from_zeros"],
                       (8, 1, d_model), "positional encoding added to zeros")
    for pos in (0, 1, 7):
        want = torch.tensor([math.sin(pos / 10000 ** (2 * (j // 2) / d_model)) if j % 2 == 0
                             else math.cos(pos / 10000 ** (2 * (j // 2) / d_model)) for j in range(d_model)])
        expect_close(got[pos, 0], want, f"PE at position {pos}", atol=1e-5)


@points(2)
def test_encoder_matches_reference(submission, reference):
    """In eval mode with the same weights, is your encoder layer's output the reference's (post-norm)?"""
    args = dict(seed=40, d_model=32, num_heads=4, d_ff=64, B=3, T=8)
    expect_close(submission.probe("encoder", **args)["output"], reference.probe("encoder", **args)["output"],
                 "encoder layer output")


@points(1)
def test_encoder_masked_matches_reference(submission, reference):
    """With a padding mask, is your encoder layer's output the reference's?"""
    args = dict(seed=41, d_model=32, num_heads=4, d_ff=64, B=3, T=8, mask="padding")
    expect_close(submission.probe("encoder", **args)["output"], reference.probe("encoder", **args)["output"],
                 "masked encoder layer output")


@points(1)
def test_encoder_dropout_in_training_mode(submission, reference):
    """In training mode with dropout=1.0, where each sublayer's dropped output vanishes and only the residual
    goes on through the LayerNorms, is your encoder layer's output the reference's?"""
    args = dict(seed=43, d_model=32, num_heads=4, d_ff=64, B=2, T=6, dropout=1.0, train=True)
    got = expect_finite(expect_shape(submission.probe("encoder", **args)["output"], (2, 6, 32),
                                     "training-mode encoder output"), "training-mode encoder output")
    want = reference.probe("encoder", **args)["output"]
    if bool(torch.allclose(got.double(), want.double(), atol=1e-4, rtol=1e-4)):
        return
    what = "in training mode with dropout=1.0, your encoder layer's output differs from the reference's"
    if float(got.abs().max()) == 0:
        fail(f"{what}: it is all zeros, so the residual was dropped too: dropout is applied after a LayerNorm "
             "(or to x + sublayer(x)); the contract is LayerNorm(x + Dropout(sublayer(x)))")
    if bool(torch.allclose(got, submission.probe("encoder", **dict(args, train=False))["output"], atol=1e-6)):
        fail(f"{what}: it is the same as in eval mode, so no dropout was applied to the sublayer outputs")
    fail(what)


@points(2)
def test_model_matches_reference(submission, reference):
    """In eval mode with the same weights, are your model's logits the reference's?"""
    args = dict(seed=42, vocab_size=40, d_model=32, num_heads=4, num_layers=2, d_ff=64, num_classes=3, B=4, T=9)
    expect_close(submission.probe("model", **args)["output"], reference.probe("model", **args)["output"],
                 "SimpleTransformer logits")


@points(1)
def test_model_masked_matches_reference(submission, reference):
    """With a (B, T) padding mask (one sequence of a single token among them), are your logits the reference's:
    padding neither attended to nor averaged?"""
    args = dict(seed=44, vocab_size=30, d_model=16, num_heads=2, num_layers=2, d_ff=32, num_classes=3, B=5, T=8,
                padding=True)
    expect_close(submission.probe("model", **args)["output"], reference.probe("model", **args)["output"],
                 "SimpleTransformer logits with a padding mask")


@points(1)
def test_model_dropout_in_training_mode(submission, reference):
    """In training mode with dropout=1.0 everywhere (the positional encoding's too), are your logits the reference's?"""
    args = dict(seed=45, vocab_size=30, d_model=16, num_heads=2, num_layers=2, d_ff=32, num_classes=3, B=3, T=6,
                dropout=1.0, train=True)
    expect_close(submission.probe("model", **args)["output"], reference.probe("model", **args)["output"],
                 "training-mode SimpleTransformer logits with dropout=1.0")
