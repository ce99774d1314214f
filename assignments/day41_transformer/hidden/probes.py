"""Day 41 probes: run the student's transformer inside the worker, return plain data.

Every input, weight and upstream gradient comes from the `seed` argument, so the student's
worker and the reference's worker compute on identical numbers. Probes never judge.
"""
import os

import torch

from autograder.sandbox.inside.probekit import (ContractError, need, param_grads, probe, randint, randn,
                                                require_submodules, seed_parameters, submodule_types,
                                                timed_calls)

MHA_PARTS = ("w_q", "w_k", "w_v", "w_o")
ENCODER_PARTS = ("self_attn", "feed_forward", "norm1", "norm2")
MODEL_PARTS = ("embedding", "pos_encoding", "layers", "classifier")


def make_mask(kind, seed, B, T_q, T_k, lead=()):
    """A 0/1 mask. padding: (B, 1, T_k); causal: (T_q, T_k); per_query: (B, T_q, T_k); random and
    full_row: (*lead, T_q, T_k)."""
    if kind is None:
        return None
    g = torch.Generator().manual_seed(seed + 7)
    if kind == "padding":
        lengths = torch.randint(1, T_k + 1, (B,), generator=g)
        lengths[0] = T_k  # at least one full-length sequence
        return (torch.arange(T_k) < lengths[:, None]).long().unsqueeze(1)  # (B, 1, T_k)
    if kind == "causal":
        return torch.tril(torch.ones(T_q, T_k, dtype=torch.long))
    if kind in ("random", "full_row", "per_query"):
        lead = (B,) if kind == "per_query" else lead
        m = (torch.rand(*lead, T_q, T_k, generator=g) < 0.6).long()
        m[..., 0] = 1  # every row keeps at least one key
        if kind == "full_row":
            m[..., 0, :] = 0  # the first query may attend to nothing at all
        return m
    raise ValueError(f"unknown mask kind {kind!r}")


def _upstream(seed, like):
    """A fixed random upstream gradient, so every output element matters to the backward pass."""
    return randn(seed + 99, *like.shape, dtype=like.dtype)


# -- scaled dot-product attention -------------------------------------------------------------

@probe
def sdpa(student, seed, lead, T_q, T_k, d_k, d_v, mask=None, scale=1.0, grad=False, dtype="float32"):
    fn = need(student, "scaled_dot_product_attention")
    dt = getattr(torch, dtype)
    Q = (randn(seed, *lead, T_q, d_k, dtype=dt) * scale).requires_grad_(grad)
    K = (randn(seed + 1, *lead, T_k, d_k, dtype=dt) * scale).requires_grad_(grad)
    V = randn(seed + 2, *lead, T_k, d_v, dtype=dt).requires_grad_(grad)
    m = make_mask(mask, seed, lead[0] if lead else 1, T_q, T_k, lead=lead)
    result = fn(Q, K, V, m) if m is not None else fn(Q, K, V)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ContractError("scaled_dot_product_attention must return (output, weights), "
                            f"got {type(result).__name__}")
    output, weights = result
    out = {"output": output, "weights": weights}
    if grad:
        if not isinstance(output, torch.Tensor) or not output.requires_grad:
            out["input_grads"] = {"Q": None, "K": None, "V": None}
            return out
        (output * _upstream(seed, output)).sum().backward()
        out["input_grads"] = {"Q": Q.grad, "K": K.grad, "V": V.grad}
    return out


@probe
def sdpa_jacobian(student, seed, T_q=3, T_k=4, d_k=3, d_v=2):
    """Analytic (autograd) and numeric (central differences) Jacobians of the output, float64,
    w.r.t. Q, K and V: torch.autograd.gradcheck's comparison, with the verdict left to the judge."""
    fn = need(student, "scaled_dot_product_attention")
    inputs = [randn(seed, 1, T_q, d_k, dtype=torch.float64), randn(seed + 1, 1, T_k, d_k, dtype=torch.float64),
              randn(seed + 2, 1, T_k, d_v, dtype=torch.float64)]

    def f(q, k, v):
        return fn(q, k, v)[0]

    analytic = torch.autograd.functional.jacobian(f, tuple(inputs))
    eps, numeric = 1e-6, []
    for i, x in enumerate(inputs):
        cols = []
        for j in range(x.numel()):
            plus = [t.clone() for t in inputs]
            minus = [t.clone() for t in inputs]
            plus[i].view(-1)[j] += eps
            minus[i].view(-1)[j] -= eps
            with torch.no_grad():
                cols.append(((f(*plus) - f(*minus)) / (2 * eps)).reshape(-1))
        numeric.append(torch.stack(cols, dim=1))
    return {"analytic": [a.reshape(numeric[0].shape[0], -1) for a in analytic], "numeric": numeric}


# -- multi-head attention ---------------------------------------------------------------------

def build_mha(student, seed, d_model, num_heads, dropout=0.0):
    cls = need(student, "MultiHeadAttention")
    mha = cls(d_model, num_heads, dropout) if dropout else cls(d_model, num_heads)
    require_submodules(mha, MHA_PARTS, "MultiHeadAttention")
    seed_parameters(mha, seed)
    return mha


@probe
def mha(student, seed, d_model, num_heads, B, T_q, T_k, mask=None, cross=True, grad=False,
        dropout=0.0, train=False):
    """Forward (and backward) of MultiHeadAttention with seeded weights. With cross=True,
    query, key and value are three different tensors, so a role mix-up shows."""
    module = build_mha(student, seed, d_model, num_heads, dropout)
    module.train(train)
    torch.manual_seed(seed)
    query = randn(seed + 1, B, T_q, d_model).requires_grad_(grad)
    if cross:
        key = randn(seed + 2, B, T_k, d_model).requires_grad_(grad)
        value = randn(seed + 3, B, T_k, d_model).requires_grad_(grad)
    else:
        key = value = query
    m = make_mask(mask, seed, B, T_q, T_k)
    output = module(query, key, value, m) if m is not None else module(query, key, value)
    out = {"output": output, "weights": getattr(module, "attention_weights", None),
           "types": submodule_types(module)}
    if grad and isinstance(output, torch.Tensor) and output.requires_grad:
        (output * _upstream(seed, output)).sum().backward()
        out["param_grads"] = param_grads(module)
        out["input_grads"] = {"query": query.grad, "key": key.grad if cross else None,
                              "value": value.grad if cross else None}
    elif grad:
        out["param_grads"] = {name: None for name, _ in module.named_parameters()}
        out["input_grads"] = {"query": None, "key": None, "value": None}
    return out


# -- positional encoding ----------------------------------------------------------------------

@probe
def positional(student, seed, d_model, T, B, max_len=5000):
    cls = need(student, "PositionalEncoding")
    pe = cls(d_model, max_len)
    pe.eval()
    buffer = dict(pe.named_buffers()).get("pe")
    x = randn(seed, T, B, d_model)
    with torch.no_grad():
        out = pe(x)
        zeros = pe(torch.zeros(T, B, d_model))
    return {"output": out, "from_zeros": zeros,
            "buffer_shape": list(buffer.shape) if isinstance(buffer, torch.Tensor) else None,
            "buffer_head": buffer[:T].detach().clone() if isinstance(buffer, torch.Tensor) else None}


# -- encoder layer ----------------------------------------------------------------------------

@probe
def encoder(student, seed, d_model, num_heads, d_ff, B, T, mask=None, grad=False, dropout=0.1, train=False):
    """The encoder layer with seeded weights, in eval mode (train=True: training mode, where only
    dropout=0 or 1 gives the same numbers for any correct code)."""
    cls = need(student, "TransformerEncoderLayer")
    layer = cls(d_model, num_heads, d_ff, dropout)
    require_submodules(layer, ENCODER_PARTS, "TransformerEncoderLayer")
    seed_parameters(layer, seed)
    layer.train(train)
    torch.manual_seed(seed)
    x = randn(seed + 1, B, T, d_model).requires_grad_(grad)
    m = make_mask(mask, seed, B, T, T)
    output = layer(x, m) if m is not None else layer(x)
    out = {"output": output, "types": submodule_types(layer)}
    if grad:
        if isinstance(output, torch.Tensor) and output.requires_grad:
            (output * _upstream(seed, output)).sum().backward()
            out["param_grads"] = param_grads(layer)
            out["input_grads"] = {"x": x.grad}
        else:
            out["param_grads"] = {name: None for name, _ in layer.named_parameters()}
            out["input_grads"] = {"x": None}
    return out


# -- the model --------------------------------------------------------------------------------

def build_model(student, seed, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes,
                max_len=512, dropout=0.1):
    cls = need(student, "SimpleTransformer")
    model = cls(vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, max_len, dropout)
    require_submodules(model, MODEL_PARTS, "SimpleTransformer")
    seed_parameters(model, seed)
    return model


@probe
def model(student, seed, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, B, T,
          padding=False, grad=False, dropout=0.1, train=False):
    """The model with seeded weights on seeded tokens, in eval mode (train=True: training mode, where
    only dropout=0 or 1 gives the same numbers for any correct code)."""
    net = build_model(student, seed, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes,
                      dropout=dropout)
    net.train(train)
    torch.manual_seed(seed)
    x = randint(seed + 1, vocab_size, B, T)
    mask = None
    if padding:
        lengths = torch.randint(1, T + 1, (B,), generator=torch.Generator().manual_seed(seed + 2))
        lengths[0] = T
        mask = (torch.arange(T) < lengths[:, None]).long()  # (B, T), 1 = real token
        x = x.masked_fill(mask == 0, 0)
    logits = net(x, mask) if mask is not None else net(x)
    out = {"output": logits}
    if padding:
        with torch.no_grad():
            out["first_alone"] = net(x[:1])  # row 0 is full length: it needs no mask
    if grad and isinstance(logits, torch.Tensor) and logits.requires_grad:
        (logits * _upstream(seed, logits)).sum().backward()
        out["param_grads"] = param_grads(net)
    elif grad:
        out["param_grads"] = {name: None for name, _ in net.named_parameters()}
    return out


def _counting_task(seed, n, T=12, vocab_size=6):
    """Label 1 when token 1 occurs more often than token 2: learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1, vocab_size, (3 * n, T), generator=g)
    diff = (x == 1).sum(1) - (x == 2).sum(1)
    keep = (diff != 0).nonzero().squeeze(1)[:n]
    return x[keep], (diff[keep] > 0).long()


@probe
def train_steps(student, seed, steps=25, padding=False, lr=3e-3):
    """The reference training loop, run on the student's model: returns the loss per step.
    Small on purpose (64 sequences of 10 tokens): it checks that the model learns, not speed."""
    vocab_size, T = 6, 10
    net = build_model(student, seed, vocab_size, d_model=32, num_heads=4, num_layers=1, d_ff=64,
                      num_classes=2, max_len=64, dropout=0.0)
    x, y = _counting_task(seed, 64, T, vocab_size)
    mask = None
    if padding:
        lengths = torch.randint(T // 2, T + 1, (len(x),), generator=torch.Generator().manual_seed(seed))
        mask = (torch.arange(T) < lengths[:, None]).long()
        x = x.masked_fill(mask == 0, 0)
        counts = ((x == 1) & (mask == 1)).sum(1) - ((x == 2) & (mask == 1)).sum(1)
        y = (counts > 0).long()
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        logits = net(x, mask) if mask is not None else net(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    return {"losses": losses}


# -- speed ------------------------------------------------------------------------------------

_TIMED: dict = {}


def _timed_module(student, what, shape):
    """(prepare, compute) for a module built once with seeded weights: prepare(seed) draws one
    round's inputs, compute(*inputs) is the forward pass the judge times."""
    B, T = shape["B"], shape["T"]
    if what == "mha":
        module = build_mha(student, 0, shape["d_model"], shape["num_heads"]).eval()
        return (lambda s: (randn(s, B, T, shape["d_model"]),)), (lambda x: module(x, x, x))
    if what == "encoder":
        layer = need(student, "TransformerEncoderLayer")(shape["d_model"], shape["num_heads"], shape["d_ff"], 0.1)
        require_submodules(layer, ENCODER_PARTS, "TransformerEncoderLayer")
        seed_parameters(layer, 0)
        layer.eval()
        return (lambda s: (randn(s, B, T, shape["d_model"]),)), layer
    if what == "model":
        net = build_model(student, 0, shape["vocab_size"], shape["d_model"], shape["num_heads"],
                          shape["num_layers"], shape["d_ff"], 2).eval()
        return (lambda s: (randint(s, shape["vocab_size"], B, T),)), net
    raise ValueError(f"unknown module {what!r}")


@probe
def time_forward(student, what, seed, iters, check, work=True, grad=False, **shape):
    """`iters` forward passes of a cached module, each on inputs drawn from `seed`, which the judge
    picks at call time (probekit.timed_calls); the judge times this call from outside."""
    key = (what, tuple(sorted(shape.items())))
    if key not in _TIMED:
        _TIMED[key] = _timed_module(student, what, shape)
    prepare, compute = _TIMED[key]
    return timed_calls(key, prepare, compute, seed, iters, check, work, grad)


# -- bonus ------------------------------------------------------------------------------------

@probe
def causal(student, T):
    return {"mask": need(student, "causal_mask")(T)}


@probe
def plot(student, seed, T_q=5, T_k=7, title=None):
    """plot_attention on seeded weights that require grad (as attention weights often do), saved in
    the worker's scratch: what it returned, and the bytes of the file it wrote (judged by the judge)."""
    fn = need(student, "plot_attention")
    weights = torch.softmax(randn(seed, T_q, T_k).requires_grad_(True), dim=-1)
    path = os.path.join(os.getcwd(), f"attention-{seed}.png")
    returned = fn(weights, path, title=title) if title is not None else fn(weights, path)
    data = b""
    if os.path.isfile(path):
        with open(path, "rb") as f:
            data = f.read(8 << 20)
    return {"returned": returned if isinstance(returned, str) else type(returned).__name__, "path": path,
            "file": torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else None}
