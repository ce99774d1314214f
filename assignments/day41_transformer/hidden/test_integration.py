"""Integration: the whole model trains with the reference training loop, padded batches included."""
import math

from autograder.judge import expect_finite, expect_close, expect_shape, fail, points


def _expect_learns(got, want, what):
    losses = got["losses"]
    if not isinstance(losses, list) or not all(isinstance(x, float) for x in losses) or len(losses) < 2:
        fail(f"{what}: the training loop did not produce a loss per step")
    if not all(math.isfinite(x) for x in losses):
        fail(f"{what}: the loss became NaN or Inf during training")
    ours = want["losses"]
    # Differential: the student's model must achieve at least half the reference's improvement.
    needed = 0.5 * (ours[0] - ours[-1])
    if losses[0] - losses[-1] < needed:
        fail(f"{what}: the loss went from {losses[0]:.3f} to {losses[-1]:.3f} in {len(losses)} steps; "
             "the reference model lowers it about twice as much; check that every layer gets gradients")


@points(2)
def test_model_training_lowers_loss(submission, reference):
    """Trained a few steps by the reference training loop on a tiny task, does your model's loss go down?"""
    _expect_learns(submission.probe("train_steps", seed=51), reference.probe("train_steps", seed=51),
                   "training SimpleTransformer")


@points(2)
def test_model_training_with_padding_mask(submission, reference):
    """On padded, variable-length sequences with a (B, T) mask, does your model still train?"""
    args = dict(seed=52, padding=True)
    _expect_learns(submission.probe("train_steps", **args), reference.probe("train_steps", **args),
                   "training on padded batches")


@points(1)
def test_model_padded_batch(submission):
    """With a padding mask, are the logits finite, (B, num_classes), and the same for a full-length sequence as alone?"""
    got = submission.probe("model", seed=53, vocab_size=20, d_model=16, num_heads=2, num_layers=1, d_ff=32,
                           num_classes=2, B=4, T=10, padding=True)
    logits = expect_finite(expect_shape(got["output"], (4, 2), "logits of a padded batch"), "logits of a padded batch")
    expect_close(logits[:1], got["first_alone"], "logits of a full-length sequence in a padded batch vs alone",
                 atol=1e-4, rtol=1e-4)
