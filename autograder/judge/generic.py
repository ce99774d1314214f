"""Generic probes, judge side: hidden tests that call a function of the notebook, or build one of
its modules with seeded weights and run it, without a hand-written probe.

    submission.call("softmax", seeded(3, (4, 7)), dim=-1)             # softmax's return value
    submission.gradients("softmax", seeded(3, (4, 7)), dim=-1)        # {"output", "grads": {"args[0]": ...}}
    net = module("MLP", 16, 32, 4, seed=5)                             # built in the worker, weights from seed 5
    submission.call(net, seeded(1, (8, 16)))                           # its forward pass (eval mode)
    submission.gradients(net, seeded(1, (8, 16)))                      # ... with "param_grads" too
    compare_speed(submission, reference, timed(net, seeded(0, (64, 16))), factor, settings)
    {"title": "softmax", **figure_of("softmax", seeded(0, (6, 8)), dim=-1), "kind": "heatmap"}  # figures.py

A request is plain data (the target, the arguments, seeded tensors as {"seeded": {...}}); it crosses
the wire and the call runs in the worker (sandbox/inside/generic.py). Tensors may be passed as they
are too. Every answer is compared with the reference's for the same request: no point rests on the
worker's word.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from autograder.sandbox.protocol import GENERIC_CALL, GENERIC_TIMED


def seeded(seed: int, shape, *, dtype: str = "float32", scale: float = 1.0) -> dict:
    """A tensor of standard normal values times `scale`, drawn in the worker from `seed`."""
    return {"seeded": {"kind": "normal", "seed": int(seed), "shape": [int(d) for d in shape], "dtype": dtype,
                       "scale": float(scale)}}


def seeded_ints(seed: int, shape, high: int) -> dict:
    """A tensor of integers in [0, high) (token ids, labels), drawn in the worker from `seed`."""
    return {"seeded": {"kind": "ints", "seed": int(seed), "shape": [int(d) for d in shape], "high": int(high)}}


def seeded_mask(seed: int, shape, keep: float = 0.5) -> dict:
    """A 0/1 integer mask, 1 with probability `keep`, the first entry of every row 1 (no row hides everything)."""
    return {"seeded": {"kind": "mask", "seed": int(seed), "shape": [int(d) for d in shape], "keep": float(keep)}}


@dataclass(frozen=True)
class Module:
    """A module the worker builds: `name(*args, **kwargs)`, every parameter set from `seed`
    (probekit.seed_parameters), in eval mode unless `train`; calls run `method`."""
    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    seed: int = 0
    train: bool = False
    method: str = "forward"

    def to_request(self) -> dict:
        return {"module": self.name, "args": list(self.args), "kwargs": dict(self.kwargs), "seed": int(self.seed),
                "train": bool(self.train), "method": self.method}


def module(name: str, *args, seed: int = 0, train: bool = False, method: str = "forward", **kwargs) -> Module:
    """The notebook's module `name`, built in the worker as name(*args, **kwargs) with weights from
    `seed`; `seed`, `train` and `method` are this call's own, every other keyword goes to the module."""
    return Module(name, tuple(args), dict(kwargs), seed, train, method)


def target_of(target) -> dict:
    if isinstance(target, Module):
        return target.to_request()
    if isinstance(target, str) and target:
        return {"function": target}
    raise TypeError(f"a generic probe calls a function by its name or a module(...), not {target!r}")


def request(target, args: tuple, kwargs: dict, grads: bool = False) -> dict:
    """The arguments of the generic call probe, as plain data."""
    return {"target": target_of(target), "args": list(args), "kwargs": dict(kwargs), "grads": bool(grads)}


def figure_of(target, *args, **kwargs) -> dict:
    """The probe, args and key of a feedback picture (hidden/figures.py) of what `target` returns for
    these arguments: {"title": ..., **figure_of("softmax", seeded(0, (6, 8)), dim=-1), "kind": "heatmap"}."""
    return {"probe": GENERIC_CALL, "args": request(target, args, kwargs), "key": "output"}


@dataclass(frozen=True)
class Timed:
    """What a speed test times (judge/timing.compare_speed, time_forward_once): a probe and its arguments."""
    probe: str
    args: dict


def timed(target, *args, **kwargs) -> Timed:
    """The target called on these arguments, for a speed test: every timed round draws its seeded
    arguments afresh from a seed the judge picks at call time (probekit.timed_calls)."""
    return Timed(GENERIC_TIMED, {"target": target_of(target), "args": list(args), "kwargs": dict(kwargs)})

