"""Helpers for writing probes: small functions that run a student's code inside the worker.

A probe takes the student's namespace and plain arguments, exercises the student's code, and
returns plain data (tensors, numbers, strings). It never judges: the trusted judge compares.
The same probe runs on the reference solution, so both must be deterministic in their
arguments: inputs and weights come from seeds, never from the global RNG state.
"""
from __future__ import annotations

import zlib

import torch

PROBES: dict[str, callable] = {}


class ContractError(Exception):
    """The submission does not follow the assignment's contract (a name, a submodule, a
    signature). Its message is shown to the student as it is, so it must say what to fix."""


def probe(fn):
    """Register a probe under its function name."""
    PROBES[fn.__name__] = fn
    return fn


def warm_up() -> None:
    """Run torch's lazy first-use paths once in the zygote, so no forked worker pays for them:
    autograd, LayerNorm, softmax, and the optimizer (whose first step imports and sets up a lot)."""
    net = torch.nn.Sequential(torch.nn.Embedding(4, 8), torch.nn.Linear(8, 8), torch.nn.LayerNorm(8),
                              torch.nn.ReLU(), torch.nn.Dropout(0.1))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = net(torch.tensor([[1, 2]]))
    loss = torch.nn.functional.cross_entropy(torch.softmax(x, -1).mean(1), torch.tensor([1]))
    loss.backward()
    optimizer.step()
    torch.autograd.functional.jacobian(lambda t: t.exp(), torch.ones(2, dtype=torch.float64))


def need(student, name: str):
    """The object the student's notebook defines as `name`, or a ContractError saying so."""
    obj = getattr(student, name, None)
    if obj is None:
        raise ContractError(f"your notebook does not define `{name}`")
    return obj


def require_submodules(module: torch.nn.Module, names, owner: str) -> None:
    """Each of `names` is a submodule, with a message naming what exists when one is not."""
    # _modules, not named_children(): the latter lists a module registered twice only once.
    children = {n: m for n, m in module._modules.items() if m is not None}
    missing = [n for n in names if n not in children]
    if missing:
        have = ", ".join(children) or "none"
        raise ContractError(f"{owner} has no submodule {', '.join(repr(m) for m in missing)} "
                            f"(the contract names {', '.join(names)}; yours has: {have})")


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def randn(seed: int, *shape, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=generator(seed), dtype=dtype)


def randint(seed: int, high: int, *shape) -> torch.Tensor:
    return torch.randint(0, high, shape, generator=generator(seed))


def seed_parameters(module: torch.nn.Module, seed: int) -> None:
    """Overwrite every parameter with values that depend only on (seed, name, shape).

    Two modules with the same parameter names and shapes get the same weights, whatever order
    they were created in, and an extra parameter in one of them shifts nothing in the other.
    """
    with torch.no_grad():
        for name, p in module.named_parameters():
            g = generator(seed * 1_000_003 + zlib.crc32(name.encode()))
            u = torch.rand(p.shape, generator=g, dtype=torch.float64) * 2 - 1
            if p.dim() >= 2:
                values = u / p.shape[-1] ** 0.5
            elif name.endswith("weight"):  # LayerNorm gains: near 1, not near 0
                values = 1 + 0.2 * u
            else:
                values = 0.2 * u
            p.copy_(values.to(p.dtype))


def param_grads(module: torch.nn.Module) -> dict:
    """name -> gradient tensor, or None where no gradient reached the parameter."""
    return {name: (None if p.grad is None else p.grad.detach().clone())
            for name, p in module.named_parameters()}


def submodule_types(module: torch.nn.Module) -> list[str]:
    """Qualified class names of every submodule, to spot torch's own attention used inside."""
    return sorted({f"{type(m).__module__}.{type(m).__qualname__}" for m in module.modules()})
