"""softmax(x, dim): compared with the reference on seeded inputs, drawn in the worker."""
from autograder.judge import expect_close, expect_finite, expect_grads_close, expect_shape, points, seeded


@points(1)
def test_softmax_shape(submission):
    """Does softmax keep the shape of its input?"""
    expect_shape(submission.call("softmax", seeded(1, (2, 3, 5)), dim=1), (2, 3, 5), "softmax(x, dim=1)")


@points(2)
def test_softmax_matches_reference(submission, reference):
    """Is softmax(x, dim=-1) the reference's?"""
    x = seeded(2, (4, 7))
    expect_close(submission.call("softmax", x, dim=-1), reference.call("softmax", x, dim=-1), "softmax(x, dim=-1)")


@points(2)
def test_softmax_along_other_dims(submission, reference):
    """Does softmax normalise along the dim it is given (0 and 1 of a 3-D input), not always the last?"""
    x = seeded(3, (2, 3, 5))
    for dim in (0, 1):
        expect_close(submission.call("softmax", x, dim=dim), reference.call("softmax", x, dim=dim),
                     f"softmax(x, dim={dim})")


@points(1)
def test_softmax_large_inputs(submission, reference):
    """With entries in the thousands, is softmax finite and the reference's (subtract the max first)?"""
    x = seeded(4, (3, 6), scale=1000.0)
    got = expect_finite(submission.call("softmax", x, dim=-1), "softmax of large inputs")
    expect_close(got, reference.call("softmax", x, dim=-1), "softmax of large inputs")


@points(1)
def test_softmax_gradients_match_reference(submission, reference):
    """Does the gradient flow back through softmax as through the reference's?"""
    x = seeded(5, (4, 7))
    expect_grads_close(submission.gradients("softmax", x, dim=-1)["grads"],
                       reference.gradients("softmax", x, dim=-1)["grads"], "softmax")
