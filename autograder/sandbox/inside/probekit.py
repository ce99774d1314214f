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


def probe(fn=None, *, name: str | None = None):
    """Register a probe under its function name (or `name`): `@probe` or `@probe(name="...")`."""
    if fn is None:
        return lambda f: probe(f, name=name)
    PROBES[name or fn.__name__] = fn
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
    _warm_up_plots()


def _warm_up_plots() -> None:
    """Import matplotlib and draw one small PNG, fonts included, so that a notebook that saves a plot
    (Day 41's plot_attention) does not pay about a second for that in every worker."""
    try:
        import io

        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # an environment without matplotlib: nothing to warm
        return
    fig = Figure(figsize=(2, 2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.colorbar(ax.imshow(torch.rand(3, 3).numpy()), ax=ax, label="warm")
    ax.set_title("warm")
    fig.savefig(io.BytesIO(), format="png")


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


# -- timed calls ------------------------------------------------------------------------------------

_LAST_OUTPUT: dict = {}  # key -> the last output of a work call, digested again by the empty call
PROJECTIONS = 2          # digests per output: an output 4% off agreed with one ~1 call in 250,
                         # with two ~1 in 60000


def timed_calls(key, prepare, compute, seed: int, iters: int, check: int, work: bool = True,
                grad: bool = False) -> dict:
    """The body of a timed probe: `iters` rounds of `prepare(i)` (draw the inputs of round i from
    `seed`) and `compute(*inputs)` (the work being timed), and a digest of every output.

    The judge picks `seed` and `check` at call time and times the whole call from outside. It
    checks the digests against the reference's for the same seeds: only a forward pass that was
    really computed on these inputs gives them. With work=False (the reference's empty call) the
    inputs are drawn and a same-sized output is digested but nothing is computed: the judge
    subtracts that time, so a ratio measures the work alone. grad=True runs with autograd on (the
    judge's re-check of an answer that differs from the reference's). Each output gives PROJECTIONS
    digests (its dot products with random directions drawn from `check`) and one norm."""
    digests, norms, r = [], [], None
    with torch.set_grad_enabled(grad):
        for i in range(iters):
            inputs = prepare((seed * 1009 + i) % (1 << 40))  # small enough for seed_parameters
            out = compute(*inputs) if work else _LAST_OUTPUT.get(key)
            if isinstance(out, (tuple, list)) and out:
                out = out[0]
            if type(out) is not torch.Tensor or not out.is_floating_point():
                return {"digests": None, "norms": None}
            if work:
                _LAST_OUTPUT[key] = out
            flat = out.detach().reshape(-1).float()
            if r is None or r.shape[1] != flat.numel():
                r = torch.randn(PROJECTIONS, flat.numel(), generator=generator(check))
            digests.extend(float(d) for d in r @ flat)
            norms.append(float(flat.norm()))
    return {"digests": digests, "norms": norms}
