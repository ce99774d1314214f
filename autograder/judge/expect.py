"""Assertions for hidden tests whose messages help a student without leaking hidden inputs.

A failure says what was wrong in terms the student can act on (expected vs actual shape, the
largest error against the reference, which parameters got no gradient, the speed ratio) and
never prints tensor values, seeds, or the reference's numbers.
"""
from __future__ import annotations

import math

import torch

from autograder.wire import Invalid


class Feedback(AssertionError):
    """A failed check; its message is shown to the student as it is."""


def fail(message: str):
    raise Feedback(message)


def expect_tensor(x, what: str) -> torch.Tensor:
    if isinstance(x, Invalid):
        fail(f"{what}: {x.what}")
    if type(x) is not torch.Tensor:
        fail(f"{what}: expected a Tensor, got {type(x).__name__}")
    return x


def expect_shape(x, shape, what: str) -> torch.Tensor:
    x = expect_tensor(x, what)
    if tuple(x.shape) != tuple(shape):
        fail(f"{what}: expected shape {tuple(shape)}, got {tuple(x.shape)}")
    return x


def expect_finite(x, what: str) -> torch.Tensor:
    x = expect_tensor(x, what)
    if x.is_floating_point():
        nan, inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
        if nan or inf:
            fail(f"{what}: contains {nan} NaN and {inf} Inf values out of {x.numel()}")
    return x


def expect_close(got, want, what: str, atol: float = 1e-4, rtol: float = 1e-4,
                 against: str = "the reference") -> None:
    """Same shape, finite, and within tolerance of `want`; reports the largest error only."""
    want = expect_tensor(want, f"{against} ({what})")  # a broken reference is the grader's problem
    got = expect_shape(got, want.shape, what)
    got = expect_finite(got, what)
    diff = (got.double() - want.double()).abs()
    allowed = atol + rtol * want.double().abs()
    bad = diff > allowed
    if bool(bad.any()):
        share = float(bad.double().mean()) * 100
        fail(f"{what} differs from {against}: largest error {float(diff.max()):.3g} "
             f"(tolerance {atol:g} + {rtol:g}*|expected|), {share:.0f}% of entries off")


def expect_grads(grads, what: str, names=None) -> None:
    """Every named gradient present, finite and not all zero; names the parameters that fail."""
    if isinstance(grads, Invalid) or not isinstance(grads, dict):
        fail(f"{what}: expected gradients by parameter name, got {type(grads).__name__}")
    names = list(names) if names is not None else list(grads)
    missing = [n for n in names if n not in grads]
    none = [n for n in names if n in grads and grads[n] is None]
    zero, bad = [], []
    for n in names:
        g = grads.get(n)
        if g is None:
            continue
        if type(g) is not torch.Tensor:
            bad.append(n)
        elif not bool(torch.isfinite(g).all()):
            bad.append(n)
        elif not bool((g != 0).any()):
            zero.append(n)
    problems = []
    if missing:
        problems.append(f"no parameter named {_names(missing)}")
    if none:
        problems.append(f"gradient never reaches {_names(none)}")
    if zero:
        problems.append(f"gradient is all zero for {_names(zero)}")
    if bad:
        problems.append(f"gradient is not finite for {_names(bad)}")
    if problems:
        fail(f"{what}: " + "; ".join(problems))


def expect_grads_close(got, want, what: str, atol: float = 1e-4, rtol: float = 1e-3) -> None:
    """Every gradient the reference has (by name) is present in `got` and close to it."""
    if isinstance(got, Invalid) or not isinstance(got, dict):
        fail(f"{what}: expected gradients by name, got {type(got).__name__}")
    if not isinstance(want, dict):
        raise TypeError(f"the reference's gradients ({what}) are not a dict")
    for name, g in want.items():
        if g is None:
            continue
        if name not in got:
            fail(f"{what}: no parameter named {name} (yours: {_names(list(got)) or 'none'})")
        if got[name] is None:
            fail(f"{what}: gradient never reaches {name}")
        expect_close(got[name], g, f"{what}: gradient of {name}", atol=atol, rtol=rtol)


def expect_learns(got, want, what: str, hint: str = "check that every layer gets gradients") -> None:
    """A training run's losses (a probe's {"losses": [...]}): one per step, finite, and at least half
    the improvement the reference makes under the same loop, data and seeds."""
    losses = got.get("losses") if isinstance(got, dict) else None
    if not isinstance(losses, list) or not all(isinstance(x, float) for x in losses) or len(losses) < 2:
        fail(f"{what}: the training loop did not produce a loss per step")
    if not all(math.isfinite(x) for x in losses):
        fail(f"{what}: the loss became NaN or Inf during training")
    ours = want["losses"]
    if losses[0] - losses[-1] < 0.5 * (ours[0] - ours[-1]):
        fail(f"{what}: the loss went from {losses[0]:.3f} to {losses[-1]:.3f} in {len(losses)} steps; "
             f"the reference model lowers it about twice as much; {hint}")


def expect_speed(result, factor: float, what: str) -> None:
    """A speed test's verdict from judge/timing.SpeedResult: credited only for work the judge
    verified, and within `factor` of the reference's time."""
    if result.problem:
        fail(f"{what}: the speed of the timed calls cannot be credited: {result.problem}")
    if not math.isfinite(result.ratio) or result.ratio > factor:
        fail(f"{what} is {result.describe()}; allowed: {factor:g}x. Look for Python loops over batch, heads "
             "or positions and use tensor operations instead")
    note(f"{what}: {result.describe()}; allowed: {factor:g}x")


def _names(names: list[str], most: int = 6) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def differences(got, want, path: str = "the answer", atol: float = 1e-3, rtol: float = 1e-2) -> str:
    """"" when `got` is `want` within a loose tolerance (structure, tensors, numbers; text is not
    compared), else where they first differ: a re-check of code flagged for tampering, not a grade."""
    if isinstance(want, torch.Tensor):
        if type(got) is not torch.Tensor or tuple(got.shape) != tuple(want.shape):
            return path
        if not want.is_floating_point():
            return "" if torch.equal(got.to(want.dtype), want) else path
        g, w = got.double(), want.double()
        both_nan = torch.isnan(g) & torch.isnan(w)
        close = (g - w).abs() <= atol + rtol * w.abs()
        return "" if bool((close | both_nan).all()) else path
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return path
        for key in want:
            wrong = differences(got.get(key), want[key], f"{path}[{key!r}]", atol, rtol)
            if wrong:
                return wrong
        return ""
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return path
        return next((w for w in (differences(g, v, f"{path}[{i}]", atol, rtol)
                                 for i, (g, v) in enumerate(zip(got, want))) if w), "")
    if isinstance(want, float) and not isinstance(want, bool):
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return path
        return "" if (math.isnan(want) and math.isnan(got)) or abs(got - want) <= atol + rtol * abs(want) else path
    if want is None or isinstance(want, (bool, int)):
        return "" if got == want and type(got) is type(want) else path
    return ""  # text and markers: nothing to re-check


def note(text: str) -> None:
    """Say something about a test that passed (the measured speed ratio): shown with it."""
    NOTES.append(text)


NOTES: list[str] = []  # what the running test noted; the plugin empties it before each test
