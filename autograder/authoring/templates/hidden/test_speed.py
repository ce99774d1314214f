"""Speed: the judge times softmax on inputs it draws at call time, against the reference in the same run."""
from autograder.judge import compare_speed, expect_speed, points, seeded, timed


@points(1)
def test_softmax_speed(submission, reference, settings):
    """Is your softmax on a (256, 1024) input vectorised (no Python loop over rows or entries)?"""
    call = timed("softmax", seeded(0, (256, 1024)), dim=-1)
    result = compare_speed(submission, reference, call, settings.speed_factor, settings)
    expect_speed(result, settings.speed_factor, "softmax")
