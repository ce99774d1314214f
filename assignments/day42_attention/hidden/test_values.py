"""Values: with the same weights and inputs, the decoder layer computes what the reference computes."""
import torch

from autograder.judge import expect_close, expect_finite, expect_shape, fail, points

TORCH_MHA = "torch.nn.modules.activation.MultiheadAttention"
TORCH_DECODER = "torch.nn.modules.transformer.TransformerDecoderLayer"
DECODER = dict(d_model=32, num_heads=4, d_ff=64)


@points(1)
def test_mha_cross_attention_matches_reference(submission, reference):
    """With distinct query, key and value and T_q != T_k, is your Day 41 multi-head attention output the reference's?"""
    args = dict(seed=31, d_model=64, num_heads=8, B=2, T_q=5, T_k=9)
    expect_close(submission.probe("mha", **args)["output"], reference.probe("mha", **args)["output"],
                 "multi-head cross-attention output")


@points(3)
def test_decoder_matches_reference(submission, reference):
    """In eval mode with the same weights, is your decoder layer's output the reference's (post-norm, no masks)?"""
    for B, T, S in [(3, 7, 7), (2, 4, 9)]:
        args = dict(seed=32, B=B, T=T, S=S, **DECODER)
        expect_close(submission.probe("decoder", **args)["output"], reference.probe("decoder", **args)["output"],
                     f"decoder layer output for T={T}, S={S}")


@points(2)
def test_decoder_masked_matches_reference(submission, reference):
    """With a causal tgt_mask and a (B, 1, S) padding memory_mask, is your output the reference's?"""
    args = dict(seed=33, B=3, T=6, S=8, tgt_mask="causal", memory_mask="padding", **DECODER)
    expect_close(submission.probe("decoder", **args)["output"], reference.probe("decoder", **args)["output"],
                 "decoder layer output with both masks")


@points(1)
def test_decoder_batched_tgt_mask_matches_reference(submission, reference):
    """With a (B, T, T) target mask (causal and hiding each row's padding), is your output the reference's?"""
    args = dict(seed=34, B=3, T=6, S=5, tgt_mask="causal_batch", **DECODER)
    expect_close(submission.probe("decoder", **args)["output"], reference.probe("decoder", **args)["output"],
                 "decoder layer output with a (B, T, T) tgt_mask")


@points(1)
def test_decoder_dropout_is_off_in_eval_mode(submission, reference):
    """Built with dropout=0.3 but in eval mode, is your decoder layer deterministic and the reference's?"""
    args = dict(seed=35, B=2, T=5, S=6, dropout=0.3, **DECODER)
    first = submission.probe("decoder", **args)["output"]
    expect_close(submission.probe("decoder", **args)["output"], first, "a second eval-mode run", atol=0, rtol=0,
                 against="the first run")
    expect_close(first, reference.probe("decoder", **args)["output"], "eval-mode decoder layer output")


@points(1)
def test_decoder_dropout_in_training_mode(submission, reference):
    """In training mode with dropout=1.0, where each sublayer's dropped output vanishes and only the residual
    goes on through the LayerNorms, is your output the reference's?"""
    args = dict(seed=38, B=2, T=5, S=6, dropout=1.0, train=True, **DECODER)
    got = expect_finite(expect_shape(submission.probe("decoder", **args)["output"], (2, 5, DECODER["d_model"]),
                                     "training-mode decoder output"), "training-mode decoder output")
    want = reference.probe("decoder", **args)["output"]
    if bool(torch.allclose(got.double(), want.double(), atol=1e-4, rtol=1e-4)):
        return
    what = "in training mode with dropout=1.0, your decoder layer's output differs from the reference's"
    if float(got.abs().max()) == 0:
        fail(f"{what}: it is all zeros, so the residual was dropped too: dropout is applied after a LayerNorm "
             "(or to x + sublayer(x)); the contract is LayerNorm(x + Dropout(sublayer(x)))")
    if bool(torch.allclose(got, submission.probe("decoder", **dict(args, train=False))["output"], atol=1e-6)):
        fail(f"{what}: it is the same as in eval mode, so no dropout was applied to the sublayer outputs")
    fail(what)


@points(1)
def test_decoder_uses_your_attention(submission, source):
    """Is the decoder layer built from your MultiHeadAttention rather than torch's attention or decoder layer?"""
    # The rules of grading.toml decide this from the source (a broken one is FORBIDDEN before this
    # runs). What the running module contains only adds evidence, where the source hides names.
    types = submission.probe("decoder", seed=36, B=1, T=2, S=2, **DECODER)["types"]
    for name, what in ((TORCH_MHA, "torch.nn.MultiheadAttention"), (TORCH_DECODER, "torch.nn.TransformerDecoderLayer")):
        if source.hides_names and name in types:
            fail(f"TransformerDecoderLayer uses {what} inside; the exercise is to build it from your "
                 "MultiHeadAttention, LayerNorm and the feed-forward net")
