"""Gradients: they reach every parameter and input, are finite and non-zero, and match the reference."""
from autograder.judge import expect_close, expect_grads, expect_grads_close, points

SDPA = dict(lead=[2], T_q=5, T_k=6, d_k=8, d_v=4, grad=True)
MHA = dict(d_model=32, num_heads=4, B=2, T_q=5, T_k=7, grad=True)
ENCODER = dict(d_model=32, num_heads=4, d_ff=64, B=2, T=6, grad=True)
MODEL = dict(vocab_size=20, d_model=16, num_heads=2, num_layers=2, d_ff=32, num_classes=3, B=3, T=7, grad=True)


@points(1)
def test_sdpa_gradients_reach_inputs(submission):
    """Does the gradient of attention's output reach Q, K and V?"""
    got = submission.probe("sdpa", seed=21, **SDPA)
    expect_grads(got["input_grads"], "attention", names=["Q", "K", "V"])


@points(2)
def test_sdpa_gradients_match_reference(submission, reference):
    """Are the gradients with respect to Q, K and V the reference's?"""
    args = dict(seed=22, mask="random", **SDPA)
    expect_grads_close(submission.probe("sdpa", **args)["input_grads"],
                 reference.probe("sdpa", **args)["input_grads"], "attention")


@points(2)
def test_sdpa_gradcheck_float64(submission, reference):
    """In float64, do autograd's gradients of attention agree with finite differences (gradcheck)?"""
    got = submission.probe("sdpa_jacobian", seed=23)
    want = reference.probe("sdpa_jacobian", seed=23)
    for name, analytic, numeric, ref in zip("QKV", got["analytic"], got["numeric"], want["analytic"]):
        expect_close(analytic, numeric, f"autograd gradient w.r.t. {name}", atol=1e-5, rtol=1e-3,
                     against="finite differences of your own output (gradcheck)")
        expect_close(analytic, ref, f"gradient w.r.t. {name}", atol=1e-6, rtol=1e-4)


@points(2)
def test_mha_gradients_reach_every_parameter(submission):
    """Does the gradient reach w_q, w_k, w_v, w_o (weights and biases) and the query, key and value inputs?"""
    got = submission.probe("mha", seed=24, **MHA)
    expect_grads(got["param_grads"], "MultiHeadAttention",
                 names=[f"{p}.{t}" for p in ("w_q", "w_k", "w_v", "w_o") for t in ("weight", "bias")])
    expect_grads(got["input_grads"], "MultiHeadAttention inputs", names=["query", "key", "value"])


@points(2)
def test_mha_gradients_match_reference(submission, reference):
    """Are the gradients of every MultiHeadAttention parameter the reference's?"""
    args = dict(seed=25, mask="padding", **MHA)
    expect_grads_close(submission.probe("mha", **args)["param_grads"],
                 reference.probe("mha", **args)["param_grads"], "MultiHeadAttention")


@points(1)
def test_encoder_gradients_reach_every_parameter(submission, reference):
    """Does the gradient reach every parameter of the encoder layer and its input?"""
    got = submission.probe("encoder", seed=26, **ENCODER)
    want = reference.probe("encoder", seed=26, **ENCODER)
    expect_grads(got["param_grads"], "TransformerEncoderLayer", names=list(want["param_grads"]))
    expect_grads(got["input_grads"], "TransformerEncoderLayer input", names=["x"])


@points(1)
def test_encoder_gradients_match_reference(submission, reference):
    """Are the encoder layer's parameter gradients the reference's?"""
    args = dict(seed=27, **ENCODER)
    expect_grads_close(submission.probe("encoder", **args)["param_grads"],
                 reference.probe("encoder", **args)["param_grads"], "TransformerEncoderLayer")


@points(1)
def test_model_gradients_reach_every_parameter(submission, reference):
    """Does the gradient of the logits reach every parameter of the model?"""
    got = submission.probe("model", seed=28, **MODEL)
    want = reference.probe("model", seed=28, **MODEL)
    expect_grads(got["param_grads"], "SimpleTransformer", names=list(want["param_grads"]))
