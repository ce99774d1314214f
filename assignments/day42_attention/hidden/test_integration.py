"""Integration: your pieces together train a small sequence-to-sequence model, and layers stack."""
from autograder.judge import expect_close, expect_learns, points

# What the decoder's training needs besides gradients everywhere: the memory reaching cross-attention.
HINT = "check that every sublayer gets gradients and that cross_attn reads the memory"


@points(2)
def test_reverse_model_training_lowers_loss(submission, reference):
    """Trained a few steps by the reference loop to reverse sequences (your decoder layer and causal_mask), does the loss go down?"""
    args = dict(seed=51, task="reverse")
    expect_learns(submission.probe("train_steps", **args), reference.probe("train_steps", **args),
                  "training a one-layer decoder to reverse sequences", HINT)


@points(1)
def test_copy_model_training_with_memory_padding(submission, reference):
    """On padded, variable-length sources with a (B, 1, S) memory_mask, does your decoder still train?"""
    args = dict(seed=52, task="copy", padding=True)
    expect_learns(submission.probe("train_steps", **args), reference.probe("train_steps", **args),
                  "training on padded sources", HINT)


@points(2)
def test_stacked_decoder_layers_match_reference(submission, reference):
    """Two decoder layers applied in turn, with a (B, T, T) causal mask and source padding: is the result the reference's?"""
    args = dict(seed=53, d_model=32, num_heads=4, d_ff=64, B=3, T=7, S=5)
    expect_close(submission.probe("decoder_stack", **args)["output"],
                 reference.probe("decoder_stack", **args)["output"], "output of two stacked decoder layers")
