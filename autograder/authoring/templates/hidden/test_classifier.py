"""Classifier: built in the worker with seeded weights, run forward and backward, compared with the reference."""
from autograder.judge import expect_close, expect_grads, expect_grads_close, expect_shape, module, points, seeded

NET = module("Classifier", 10, 32, 3, seed=7)  # Classifier(10, 32, 3), every weight drawn from seed 7


@points(1)
def test_classifier_shape(submission):
    """Does Classifier(10, 32, 3) map (5, 10) inputs to (5, 3) probabilities?"""
    expect_shape(submission.call(NET, seeded(1, (5, 10))), (5, 3), "Classifier(10, 32, 3) output")


@points(2)
def test_classifier_matches_reference(submission, reference):
    """With the same weights, are your class probabilities the reference's?"""
    x = seeded(2, (8, 10))
    expect_close(submission.call(NET, x), reference.call(NET, x), "Classifier(10, 32, 3) output")


@points(1)
def test_classifier_gradients_reach_every_parameter(submission, reference):
    """Does the gradient reach every parameter (hidden and out, weights and biases)?"""
    x = seeded(3, (8, 10))
    want = reference.gradients(NET, x)["param_grads"]
    expect_grads(submission.gradients(NET, x)["param_grads"], "Classifier", names=list(want))


@points(1)
def test_classifier_gradients_match_reference(submission, reference):
    """Are the gradients of every parameter and of the input the reference's?"""
    x = seeded(4, (8, 10))
    got, want = submission.gradients(NET, x), reference.gradients(NET, x)
    expect_grads_close(got["param_grads"], want["param_grads"], "Classifier")
    expect_grads_close(got["grads"], want["grads"], "Classifier input")
