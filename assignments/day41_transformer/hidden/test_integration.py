"""Integration: the whole model trains with the reference training loop, padded batches included."""
from autograder.judge import expect_close, expect_finite, expect_learns, expect_shape, points


@points(2)
def test_model_training_lowers_loss(submission, reference):
    """Trained a few steps by the reference training loop on a tiny task, does your model's loss go down?"""
    expect_learns(submission.probe("train_steps", seed=51), reference.probe("train_steps", seed=51),
                  "training SimpleTransformer")


@points(2)
def test_model_training_with_padding_mask(submission, reference):
    """On padded, variable-length sequences with a (B, T) mask, does your model still train?"""
    args = dict(seed=52, padding=True)
    expect_learns(submission.probe("train_steps", **args), reference.probe("train_steps", **args),
                  "training on padded batches")


@points(1)
def test_model_padded_batch(submission):
    """With a padding mask, are the logits finite, (B, num_classes), and the same for a full-length sequence as alone?"""
    got = submission.probe("model", seed=53, vocab_size=20, d_model=16, num_heads=2, num_layers=1, d_ff=32,
                           num_classes=2, B=4, T=10, padding=True)
    logits = expect_finite(expect_shape(got["output"], (4, 2), "logits of a padded batch"), "logits of a padded batch")
    expect_close(logits[:1], got["first_alone"], "logits of a full-length sequence in a padded batch vs alone",
                 atol=1e-4, rtol=1e-4)
