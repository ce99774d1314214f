"""The trusted judge: everything that runs in a grading lane, and what hidden tests import.

A lane (lane.py, started by tasks.py in a pool process or a Dask worker) holds one pytest
session of the hidden tests (session.py, plugin.py), the handles that ask a sandboxed worker to
run probes (handles.py; generic.py builds the requests of the generic probes every worker serves),
the clock (timing.py), the assertions (expect.py), the pictures for the feedback (figures.py), and
the one place a test's status is decided (verdict.py).

It never runs student code: only the sandbox's host side is imported here, never its inside,
the coordinator or the service (import-linter, .importlinter).
"""
import importlib

# What hidden tests import (`from autograder.judge import points, expect_close`), loaded on first
# use: the coordinator imports judge.tasks and judge.verdict, and must not pay for torch and pytest.
_EXPORTS = {"Feedback": "expect", "expect_close": "expect", "expect_finite": "expect", "expect_grads": "expect",
            "expect_grads_close": "expect", "expect_learns": "expect", "expect_shape": "expect",
            "expect_speed": "expect", "expect_tensor": "expect", "fail": "expect", "note": "expect",
            "figure_of": "generic", "module": "generic", "seeded": "generic",
            "seeded_ints": "generic", "seeded_mask": "generic", "timed": "generic",
            "points": "plugin", "visibility": "plugin", "compare_speed": "timing", "time_forward_once": "timing"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
