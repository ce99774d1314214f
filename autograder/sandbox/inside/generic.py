"""Generic probes, loaded by every zygote beside the assignment's own: call a function the notebook
defines, or build one of its modules with seeded weights and run it (forward, and backward on
request), on arguments that arrive as data. The judge side is autograder/judge/generic.py.

A request names its target ({"function": name} or {"module": name, "args", "kwargs", "seed",
"train", "method"}) and its arguments, in which {"seeded": {...}} stands for a tensor drawn here
from a seed, so the student's worker and the reference's draw the same numbers. Nothing here
judges: the judge compares every answer with the reference's for the same request.
"""
from __future__ import annotations

import json
import linecache

import torch

from autograder.cells import to_python
from autograder.sandbox.inside.loader import describe
from autograder.sandbox.inside.probekit import (ContractError, generator, need, param_grads, probe, randn,
                                                seed_parameters, timed_calls)
from autograder.sandbox.protocol import GENERIC_CALL, GENERIC_CELL, GENERIC_TIMED

UPSTREAM_SEED = 0x5EED  # the upstream gradient of a backward pass: the same for every call
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "int64": torch.int64,
          "long": torch.int64, "int32": torch.int32, "bool": torch.bool}


def draw(spec: dict, offset: int = 0) -> torch.Tensor:
    """The tensor a seeded spec stands for (kind normal, ints or mask); `offset` shifts the seed
    (a timed call's round)."""
    shape = tuple(int(d) for d in spec["shape"])
    seed = (int(spec["seed"]) * 1_000_003 + offset) % (1 << 62)
    kind = spec.get("kind", "normal")
    if kind == "normal":
        return randn(seed, *shape, dtype=DTYPES[spec.get("dtype", "float32")]) * float(spec.get("scale", 1.0))
    if kind == "ints":
        return torch.randint(0, int(spec["high"]), shape, generator=generator(seed))
    if kind == "mask":
        mask = (torch.rand(shape, generator=generator(seed)) < float(spec.get("keep", 0.5))).long()
        if shape:
            mask[..., 0] = 1  # no row hides everything
        return mask
    raise ValueError(f"unknown kind of seeded tensor {kind!r}")


def materialize(value, offset: int = 0):
    """Arguments as data -> the values passed to the student's code (seeded specs drawn here)."""
    if isinstance(value, dict):
        if set(value) == {"seeded"} and isinstance(value["seeded"], dict):
            return draw(value["seeded"], offset)
        return {k: materialize(v, offset) for k, v in value.items()}
    if isinstance(value, list):
        return [materialize(v, offset) for v in value]
    return value


def build(student, target: dict):
    """(the callable the request names, the module or None): a module is built, seeded, set to
    train or eval mode, and its method taken."""
    if "function" in target:
        fn = need(student, target["function"])
        if not callable(fn):
            raise ContractError(f"`{target['function']}` should be a function, got {type(fn).__name__}")
        return fn, None
    name = target["module"]
    cls = need(student, name)
    module = cls(*materialize(target.get("args", [])), **materialize(target.get("kwargs", {})))
    if not isinstance(module, torch.nn.Module):
        raise ContractError(f"`{name}(...)` should be a torch.nn.Module, got {type(module).__name__}")
    seed_parameters(module, int(target.get("seed", 0)))
    module.train(bool(target.get("train", False)))
    method = target.get("method", "forward")
    fn = module if method == "forward" else getattr(module, method, None)
    if fn is None:
        raise ContractError(f"{name} has no method `{method}`")
    return fn, module


def _first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((t for t in (_first_tensor(v) for v in value) if t is not None), None)
    return None


@probe(name=GENERIC_CALL)
def generic_call(student, target, args=(), kwargs=None, grads=False):
    """Call the target; with grads, backpropagate a seeded upstream gradient through its first
    output tensor and return the gradients of every floating tensor argument (and parameter)."""
    fn, module = build(student, target)
    if target.get("train"):
        torch.manual_seed(int(target.get("seed", 0)))  # the same dropout draws for the same code
    args, kwargs = materialize(list(args)), materialize(dict(kwargs or {}))
    inputs = {}
    if grads:
        named = [(f"args[{i}]", a) for i, a in enumerate(args)] + list(kwargs.items())
        for name, value in named:
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                inputs[name] = value.detach().clone().requires_grad_(True)
        args = [inputs.get(f"args[{i}]", a) for i, a in enumerate(args)]
        kwargs = {k: inputs.get(k, v) for k, v in kwargs.items()}
    with torch.set_grad_enabled(grads):
        output = fn(*args, **kwargs)
    answer = {"output": output}
    if grads:
        out = _first_tensor(output)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            (out * randn(UPSTREAM_SEED, *out.shape, dtype=out.dtype)).sum().backward()
        answer["grads"] = {name: t.grad for name, t in inputs.items()}
        if module is not None:
            answer["param_grads"] = param_grads(module)
    return answer


_TIMED: dict = {}


@probe(name=GENERIC_TIMED)
def generic_timed(student, target, seed, iters, check, args=(), kwargs=None, work=True, grad=False):
    """`iters` calls of the target (a module built once), each on the request's seeded arguments
    drawn again for the round from `seed`, which the judge picks at call time (probekit.timed_calls)."""
    key = json.dumps([target, args, kwargs], sort_keys=True)
    if key not in _TIMED:
        _TIMED[key] = build(student, target)[0]
    fn = _TIMED[key]

    def prepare(round_seed):
        return materialize(list(args), round_seed), materialize(dict(kwargs or {}), round_seed)

    return timed_calls(key, prepare, lambda a, k: fn(*a, **k), seed, iters, check, work, grad)


@probe(name=GENERIC_CELL)
def generic_cell(student, number, label, source):
    """Run a visible test cell in the loaded notebook's namespace: {"passed"}, or {"passed": False,
    "error": the exception as plain data, with the lines of the cells it went through}."""
    filename = f"<cell {number} ({label})>" if label else f"<cell {number}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        exec(compile(to_python(source), filename, "exec"), student.__dict__)
    except BaseException as exc:  # an assert that fails, or anything the cell raises
        return {"passed": False, "error": describe(exc)}
    return {"passed": True}
