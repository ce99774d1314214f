"""The trusted judge: everything that runs in a grading lane, and what hidden tests import.

A lane (lane.py, started by tasks.py in a pool process or a Dask worker) holds one pytest
session of the hidden tests (session.py, plugin.py), the handles that ask a sandboxed worker to
run probes (handles.py), the clock (timing.py), the assertions (expect.py), the pictures for the
feedback (figures.py), and the one place a test's status is decided (verdict.py).

It never runs student code: only the sandbox's host side is imported here, never its inside,
the coordinator or the service (import-linter, .importlinter).
"""
from autograder.judge.expect import (Feedback, expect_close, expect_finite, expect_grads, expect_grads_match,
                                     expect_learns, expect_shape, expect_speed, expect_tensor, fail, note)
from autograder.judge.plugin import points, visibility
from autograder.judge.timing import compare_speed, time_forward_once

__all__ = ["Feedback", "compare_speed", "expect_close", "expect_finite", "expect_grads", "expect_grads_match",
           "expect_learns", "expect_shape",
           "expect_speed", "expect_tensor", "fail", "note", "points", "time_forward_once", "visibility"]
