"""The trusted judge: what hidden tests import. Assertions run here, never in the worker."""
from autograder.judge.client import compare_speed
from autograder.judge.expect import (Feedback, expect_close, expect_finite, expect_grads, expect_shape,
                                     expect_speed, expect_tensor, fail)
from autograder.judge.plugin import points, visibility

__all__ = ["Feedback", "compare_speed", "expect_close", "expect_finite", "expect_grads", "expect_shape",
           "expect_speed", "expect_tensor", "fail", "points", "visibility"]
