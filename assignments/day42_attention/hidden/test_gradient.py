"""Gradients: they reach every parameter and input, are finite and non-zero, and match the reference."""
from autograder.judge import expect_close, expect_grads, expect_grads_close, fail, points

DECODER = dict(d_model=32, num_heads=4, d_ff=64, B=2, T=5, S=7, grad=True)
BIAS = dict(num_heads=3, max_distance=2, T_q=6, T_k=8, grad=True)


@points(2)
def test_decoder_gradients_reach_every_parameter(submission, reference):
    """Does the gradient reach every parameter of the decoder layer (both attentions, feed-forward, norm1-3), x and memory?"""
    args = dict(seed=21, tgt_mask="causal", memory_mask="padding", **DECODER)
    got, want = submission.probe("decoder", **args), reference.probe("decoder", **args)
    expect_grads(got["param_grads"], "TransformerDecoderLayer", names=list(want["param_grads"]))
    expect_grads(got["input_grads"], "TransformerDecoderLayer inputs", names=["x", "memory"])


@points(2)
def test_decoder_gradients_match_reference(submission, reference):
    """Are the decoder layer's parameter and input gradients the reference's?"""
    args = dict(seed=22, tgt_mask="causal", memory_mask="padding", **DECODER)
    got, want = submission.probe("decoder", **args), reference.probe("decoder", **args)
    expect_grads_close(got["param_grads"], want["param_grads"], "TransformerDecoderLayer")
    expect_grads_close(got["input_grads"], want["input_grads"], "TransformerDecoderLayer")


@points(1)
def test_mha_gradients_match_reference(submission, reference):
    """Are the gradients of every parameter of your Day 41 multi-head attention the reference's?"""
    args = dict(seed=23, d_model=32, num_heads=4, B=2, T_q=5, T_k=7, mask="padding", grad=True)
    expect_grads_close(submission.probe("mha", **args)["param_grads"], reference.probe("mha", **args)["param_grads"],
                 "MultiHeadAttention")


@points(1)
def test_relative_bias_gradients_reach_the_table(submission):
    """Does the gradient of the bias reach the embedding table bias.weight?"""
    got = submission.probe("relative_bias", seed=24, **BIAS)
    expect_grads(got["param_grads"], "RelativePositionBias", names=["bias.weight"])


@points(2)
def test_relative_bias_gradients_match_reference(submission, reference):
    """Does each row of the table get the reference's gradient, clipped distances included?"""
    args = dict(seed=25, **BIAS)
    expect_grads_close(submission.probe("relative_bias", **args)["param_grads"],
                 reference.probe("relative_bias", **args)["param_grads"], "RelativePositionBias")
