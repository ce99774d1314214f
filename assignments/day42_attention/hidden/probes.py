"""Day 42 probes: run the student's decoder, relative position bias and entropy inside the worker,
return plain data.

Every input, weight and upstream gradient comes from the `seed` argument, so the student's
worker and the reference's worker compute on identical numbers. Probes never judge.
"""
import math

import torch

from autograder.sandbox.inside.probekit import (ContractError, need, param_grads, probe, randint, randn,
                                                require_submodules, seed_parameters, submodule_types,
                                                timed_calls)

MHA_PARTS = ("w_q", "w_k", "w_v", "w_o")
DECODER_PARTS = ("self_attn", "cross_attn", "feed_forward", "norm1", "norm2", "norm3")
FEED_FORWARD_PARAMS = ("feed_forward.0.weight", "feed_forward.0.bias", "feed_forward.3.weight", "feed_forward.3.bias")


def _upstream(seed, like):
    """A fixed random upstream gradient, so every output element matters to the backward pass."""
    return randn(seed + 99, *like.shape, dtype=like.dtype)


def _lengths(seed, B, S):
    """Valid lengths per row, 1..S, row 0 full and (when B > 1) row 1 strictly shorter."""
    lengths = torch.randint(1, S + 1, (B,), generator=torch.Generator().manual_seed(seed + 7))
    lengths[0] = S
    if B > 1 and S > 1:
        lengths[1] = min(int(lengths[1]), S - 1)
    return lengths


def tgt_mask_for(student, kind, seed, B, T):
    """Self-attention mask. causal: the grader's own (T, T) lower triangle; student: the student's
    causal_mask(T); causal_batch: (B, T, T), causal and hiding each row's target padding."""
    if kind is None:
        return None
    if kind == "causal":
        return torch.tril(torch.ones(T, T, dtype=torch.long))
    if kind == "student":
        mask = need(student, "causal_mask")(T)
        if not isinstance(mask, torch.Tensor):
            raise ContractError(f"causal_mask({T}) must return a tensor, got {type(mask).__name__}")
        return mask
    if kind == "causal_batch":
        valid = (torch.arange(T) < _lengths(seed + 1, B, T)[:, None]).long()  # (B, T)
        return torch.tril(torch.ones(T, T, dtype=torch.long)) * valid[:, None, :]  # (B, T, T)
    raise ValueError(f"unknown tgt_mask kind {kind!r}")


def memory_mask_for(kind, seed, B, T, S):
    """Cross-attention mask. padding: (B, 1, S); per_query: (B, T, S); shared: (T, S)."""
    if kind is None:
        return None
    if kind == "padding":
        return (torch.arange(S) < _lengths(seed, B, S)[:, None]).long().unsqueeze(1)  # (B, 1, S)
    g = torch.Generator().manual_seed(seed + 11)
    if kind == "per_query":
        m = (torch.rand(B, T, S, generator=g) < 0.6).long()
    elif kind == "shared":
        m = (torch.rand(T, S, generator=g) < 0.6).long()
    else:
        raise ValueError(f"unknown memory_mask kind {kind!r}")
    m[..., 0] = 1  # every query keeps at least one memory position
    return m


# -- building the student's modules -----------------------------------------------------------

def build_mha(student, seed, d_model, num_heads):
    cls = need(student, "MultiHeadAttention")
    mha = cls(d_model, num_heads)
    require_submodules(mha, MHA_PARTS, "MultiHeadAttention")
    seed_parameters(mha, seed)
    return mha


def build_decoder(student, seed, d_model, num_heads, d_ff, dropout=0.1):
    cls = need(student, "TransformerDecoderLayer")
    layer = cls(d_model, num_heads, d_ff, dropout)
    self_attn = getattr(layer, "self_attn", None)
    if self_attn is not None and self_attn is getattr(layer, "cross_attn", None):
        # checked first: PyTorch lists a module registered twice only under its first name
        raise ContractError("TransformerDecoderLayer.self_attn and cross_attn are the same module; "
                            "they must be two separate MultiHeadAttention modules, each with its own weights")
    require_submodules(layer, DECODER_PARTS, "TransformerDecoderLayer")
    for part in ("self_attn", "cross_attn"):
        require_submodules(getattr(layer, part), MHA_PARTS, f"TransformerDecoderLayer.{part}")
    names = {name for name, _ in layer.named_parameters()}
    missing = [name for name in FEED_FORWARD_PARAMS if name not in names]
    if missing:
        raise ContractError("TransformerDecoderLayer.feed_forward should be nn.Sequential(nn.Linear(d_model, d_ff), "
                            "nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model)); yours has no parameter "
                            + ", ".join(missing))
    seed_parameters(layer, seed)
    return layer


def build_relative_bias(student, num_heads, max_distance):
    cls = need(student, "RelativePositionBias")
    module = cls(num_heads, max_distance)
    require_submodules(module, ("bias",), "RelativePositionBias")
    table = module.bias
    rows = 2 * max_distance + 1
    if not isinstance(table, torch.nn.Embedding) or tuple(table.weight.shape) != (rows, num_heads):
        got = (f"{type(table).__name__} with weight {tuple(table.weight.shape)}"
               if isinstance(getattr(table, "weight", None), torch.Tensor) else type(table).__name__)
        raise ContractError(f"RelativePositionBias({num_heads}, max_distance={max_distance}).bias should be "
                            f"nn.Embedding(2 * max_distance + 1, num_heads) = nn.Embedding({rows}, {num_heads}); "
                            f"yours is {got}")
    return module


def _weights(module):
    w = getattr(module, "attention_weights", None)
    return w.detach().clone() if isinstance(w, torch.Tensor) else w


def _decoder_inputs(seed, B, T, S, d_model, grad=False):
    x = randn(seed + 1, B, T, d_model).requires_grad_(grad)
    memory = randn(seed + 2, B, S, d_model).requires_grad_(grad)
    return x, memory


def _call_decoder(layer, x, memory, tgt_mask, memory_mask):
    return layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask)


# -- causal mask and multi-head attention -------------------------------------------------------

@probe
def causal(student, T):
    return {"mask": need(student, "causal_mask")(T)}


@probe
def mha(student, seed, d_model, num_heads, B, T_q, T_k, mask=None, grad=False):
    """Day 41's MultiHeadAttention with seeded weights, distinct query, key and value."""
    module = build_mha(student, seed, d_model, num_heads).eval()
    query = randn(seed + 1, B, T_q, d_model).requires_grad_(grad)
    key = randn(seed + 2, B, T_k, d_model).requires_grad_(grad)
    value = randn(seed + 3, B, T_k, d_model).requires_grad_(grad)
    m = memory_mask_for(mask, seed, B, T_q, T_k)
    output = module(query, key, value, m) if m is not None else module(query, key, value)
    out = {"output": output, "weights": _weights(module), "types": submodule_types(module)}
    if grad:
        if isinstance(output, torch.Tensor) and output.requires_grad:
            (output * _upstream(seed, output)).sum().backward()
            out["param_grads"] = param_grads(module)
        else:
            out["param_grads"] = {name: None for name, _ in module.named_parameters()}
    return out


# -- the decoder layer --------------------------------------------------------------------------

@probe
def decoder(student, seed, d_model, num_heads, d_ff, B, T, S, tgt_mask=None, memory_mask=None, grad=False,
            dropout=0.1, train=False):
    """One forward (and backward) of the decoder layer with seeded weights and inputs, in eval mode
    (train=True: training mode, where only dropout=0 or 1 gives the same numbers for any correct code)."""
    layer = build_decoder(student, seed, d_model, num_heads, d_ff, dropout).train(train)
    torch.manual_seed(seed)
    x, memory = _decoder_inputs(seed, B, T, S, d_model, grad)
    output = _call_decoder(layer, x, memory, tgt_mask_for(student, tgt_mask, seed, B, T),
                           memory_mask_for(memory_mask, seed, B, T, S))
    out = {"output": output, "self_weights": _weights(layer.self_attn), "cross_weights": _weights(layer.cross_attn),
           "types": submodule_types(layer)}
    if grad:
        if isinstance(output, torch.Tensor) and output.requires_grad:
            (output * _upstream(seed, output)).sum().backward()
            out["param_grads"] = param_grads(layer)
            out["input_grads"] = {"x": x.grad, "memory": memory.grad}
        else:
            out["param_grads"] = {name: None for name, _ in layer.named_parameters()}
            out["input_grads"] = {"x": None, "memory": None}
    return out


@probe
def decoder_future(student, seed, d_model, num_heads, d_ff, B, T, S, tgt_mask, cuts):
    """For each t in `cuts`: the output with x unchanged, and with x replaced after position t; and
    the attention weights of the unchanged run (what tells where a leak comes from)."""
    layer = build_decoder(student, seed, d_model, num_heads, d_ff).eval()
    x, memory = _decoder_inputs(seed, B, T, S, d_model)
    mask = tgt_mask_for(student, tgt_mask, seed, B, T)
    with torch.no_grad():
        base = _call_decoder(layer, x, memory, mask, None)
        weights = {"self_weights": _weights(layer.self_attn), "cross_weights": _weights(layer.cross_attn)}
        changed = []
        for i, t in enumerate(cuts):
            x2 = x.clone()
            x2[:, t + 1:] = randn(seed + 50 + i, B, T - t - 1, d_model) * 3
            changed.append(_call_decoder(layer, x2, memory, mask, None))
    return {"base": base, "changed": changed, **weights}


@probe
def decoder_future_grads(student, seed, d_model, num_heads, d_ff, B, T, S, tgt_mask="student"):
    """(T, T) table: [t, s] = size of the gradient of output position t with respect to input
    position s. A causal decoder has zeros above the diagonal."""
    layer = build_decoder(student, seed, d_model, num_heads, d_ff).eval()
    x, memory = _decoder_inputs(seed, B, T, S, d_model, grad=True)
    output = _call_decoder(layer, x, memory, tgt_mask_for(student, tgt_mask, seed, B, T), None)
    if not (isinstance(output, torch.Tensor) and output.requires_grad and output.dim() == 3
            and output.shape[1] == T):
        return {"table": None}
    upstream = _upstream(seed, output)
    rows = []
    for t in range(T):
        (g,) = torch.autograd.grad((output[:, t] * upstream[:, t]).sum(), x, retain_graph=True, allow_unused=True)
        rows.append(torch.zeros(T, dtype=torch.float64) if g is None else g.double().abs().sum(dim=(0, 2)))
    return {"table": torch.stack(rows)}


@probe
def decoder_incremental(student, seed, d_model, num_heads, d_ff, B, T, S):
    """With the student's causal_mask: the full-sequence output, and position t's output when the
    decoder only gets x[:, :t+1] (as in generation, one token at a time)."""
    layer = build_decoder(student, seed, d_model, num_heads, d_ff).eval()
    x, memory = _decoder_inputs(seed, B, T, S, d_model)
    causal_mask = need(student, "causal_mask")
    with torch.no_grad():
        full = _call_decoder(layer, x, memory, causal_mask(T), None)
        steps = [_call_decoder(layer, x[:, :t + 1], memory, causal_mask(t + 1), None)[:, -1] for t in range(T)]
    return {"full": full, "steps": torch.stack(steps, dim=1)}


@probe
def decoder_memory(student, seed, d_model, num_heads, d_ff, B, T, S, memory_mask="padding"):
    """The output with the memory as it is, with memory positions that the mask hides from the
    compared queries replaced, and with one unmasked position of every row replaced.

    padding (B, 1, S): every query is compared, and the padded positions change. per_query (B, T, S):
    only the last query is compared, and the positions hidden from it change (other queries may see
    them, and their outputs may change)."""
    layer = build_decoder(student, seed, d_model, num_heads, d_ff).eval()
    x, memory = _decoder_inputs(seed, B, T, S, d_model)
    mask = memory_mask_for(memory_mask, seed, B, T, S)
    queries = slice(None) if memory_mask == "padding" else slice(T - 1, T)
    hidden = mask[:, -1, :] == 0  # (B, S): hidden from the last query (from every query, for padding)
    noise = randn(seed + 60, B, S, d_model) * 3
    with torch.no_grad():
        base = _call_decoder(layer, x, memory, None, mask)
        masked_changed = _call_decoder(layer, x, torch.where(hidden.unsqueeze(-1), noise, memory), None, mask)
        visible = memory.clone()
        visible[:, 0] = noise[:, 0]  # position 0 is never masked
        visible_changed = _call_decoder(layer, x, visible, None, mask)
    out = {"base": base, "masked_changed": masked_changed, "visible_changed": visible_changed,
           "hidden_positions": int(hidden.sum())}
    if isinstance(base, torch.Tensor) and isinstance(masked_changed, torch.Tensor) and base.dim() == 3 \
            and masked_changed.dim() == 3:
        out["base"], out["masked_changed"] = base[:, queries], masked_changed[:, queries]
    return out


@probe
def decoder_stack(student, seed, d_model, num_heads, d_ff, B, T, S, layers=2):
    """Layers applied one after another, each with its own weights, a (B, T, T) causal target
    mask and a source padding mask: the layer composes like the reference."""
    stack = [build_decoder(student, seed + 10 * i, d_model, num_heads, d_ff).eval() for i in range(layers)]
    x, memory = _decoder_inputs(seed, B, T, S, d_model)
    tgt_mask = tgt_mask_for(student, "causal_batch", seed, B, T)
    memory_mask = memory_mask_for("padding", seed, B, T, S)
    with torch.no_grad():
        for layer in stack:
            x = _call_decoder(layer, x, memory, tgt_mask, memory_mask)
    return {"output": x}


# -- training a tiny sequence-to-sequence model -------------------------------------------------

class _CopyModel(torch.nn.Module):
    """Embeddings, learned positions and an output layer around the student's decoder layer."""

    def __init__(self, layer, vocab_size, d_model, max_len):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, d_model)
        self.src_position = torch.nn.Embedding(max_len, d_model)
        self.tgt_position = torch.nn.Embedding(max_len, d_model)
        self.decoder = layer
        self.output = torch.nn.Linear(d_model, vocab_size)
        self.scale = math.sqrt(d_model)

    def embed(self, tokens, position):
        return self.embedding(tokens) * self.scale + position(torch.arange(tokens.size(1)))

    def forward(self, src, tgt_in, tgt_mask, memory_mask):
        memory = self.embed(src, self.src_position)
        return self.output(self.decoder(self.embed(tgt_in, self.tgt_position), memory, tgt_mask=tgt_mask,
                                        memory_mask=memory_mask))


@probe
def train_steps(student, seed, steps=30, task="reverse", padding=False, lr=3e-3):
    """The reference training loop, run on a model built on the student's decoder layer and
    causal_mask: returns the loss per step. Small on purpose: it checks learning, not speed."""
    vocab_size, T, d_model, n = 8, 6, 32, 48
    layer = build_decoder(student, seed, d_model, num_heads=4, d_ff=64, dropout=0.0)
    model = _CopyModel(layer, vocab_size, d_model, T)
    seed_parameters(model, seed)
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(1, vocab_size, (n, T), generator=g)
    memory_mask = None
    target = src.flip(1) if task == "reverse" else src
    tgt_in = torch.cat([torch.zeros(n, 1, dtype=torch.long), target[:, :-1]], dim=1)
    if padding:  # variable-length sources padded with 0, hidden by a (n, 1, T) memory mask: copy the real tokens
        lengths = torch.randint(T // 2, T + 1, (n,), generator=g)
        valid = torch.arange(T) < lengths[:, None]
        src = src.masked_fill(~valid, 0)
        memory_mask = valid.long().unsqueeze(1)  # (n, 1, T)
        target = src.masked_fill(~valid, -100)  # padded positions are not scored
        tgt_in = torch.cat([torch.zeros(n, 1, dtype=torch.long), src[:, :-1]], dim=1)
    tgt_mask = tgt_mask_for(student, "student", seed, n, T)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model(src, tgt_in, tgt_mask, memory_mask)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab_size), target.reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    return {"losses": losses}


# -- relative position bias ---------------------------------------------------------------------

@probe
def relative_bias(student, seed, num_heads, max_distance, T_q, T_k, table="seeded", grad=False):
    """forward(T_q, T_k) with a seeded table, or with the table weight[r, h] = 100 * r + h
    (table="index"), so each entry tells which row and head it came from."""
    module = build_relative_bias(student, num_heads, max_distance)
    if table == "index":
        rows = 2 * max_distance + 1
        with torch.no_grad():
            module.bias.weight.copy_(100 * torch.arange(rows, dtype=torch.float32)[:, None]
                                     + torch.arange(num_heads, dtype=torch.float32)[None, :])
    else:
        seed_parameters(module, seed)
    output = module(T_q, T_k)
    out = {"output": output}
    if grad:
        if isinstance(output, torch.Tensor) and output.requires_grad:
            (output * _upstream(seed, output)).sum().backward()
            out["param_grads"] = param_grads(module)
        else:
            out["param_grads"] = {name: None for name, _ in module.named_parameters()}
    return out


# -- attention entropy --------------------------------------------------------------------------

def entropy_input(kind, seed, lead, heads, T_q, T_k):
    """Attention weights (*lead, heads, T_q, T_k) whose rows sum to 1.

    random: softmax of scaled noise; one_hot: all weight on one random key; uniform: 1 / T_k;
    causal: softmax under a causal mask (exact zeros above the diagonal); mixed: in batch row 0
    head h spreads the first min(h, T_q) queries uniformly and puts the others on one key, in
    every other batch row all queries are one-hot (needs one leading dim)."""
    shape = (*lead, heads, T_q, T_k)
    if kind == "random":
        return torch.softmax(2 * randn(seed, *shape), dim=-1)
    if kind == "one_hot":
        return torch.nn.functional.one_hot(randint(seed, T_k, *shape[:-1]), T_k).float()
    if kind == "uniform":
        return torch.full(shape, 1.0 / T_k)
    if kind == "causal":
        allowed = torch.tril(torch.ones(T_q, T_k, dtype=torch.bool))
        return torch.softmax(randn(seed, *shape).masked_fill(~allowed, float("-inf")), dim=-1)
    if kind == "mixed":
        w = torch.nn.functional.one_hot(randint(seed, T_k, *shape[:-1]), T_k).float()
        for h in range(heads):
            w[0, h, :min(h, T_q)] = 1.0 / T_k
        return w
    raise ValueError(f"unknown weights kind {kind!r}")


@probe
def entropy(student, kind, seed=0, lead=(2,), heads=4, T_q=5, T_k=7, floor=0.0):
    """attention_entropy of the weights `kind`; with floor > 0, every weight raised to at least
    `floor` and the rows renormalised (the same weights without exact zeros)."""
    fn = need(student, "attention_entropy")
    weights = entropy_input(kind, seed, tuple(lead), heads, T_q, T_k)
    if floor:
        weights = weights.clamp(min=floor)
        weights = weights / weights.sum(-1, keepdim=True)
    return {"entropy": fn(weights)}


# -- speed ------------------------------------------------------------------------------------

_TIMED: dict = {}


def _timed_call(student, what, shape):
    """(prepare, compute): prepare(seed) draws one round's inputs (for the relative bias: new
    table weights, so a table cached by size alone is stale), compute(*inputs) is the timed work."""
    if what == "decoder":
        layer = build_decoder(student, 0, shape["d_model"], shape["num_heads"], shape["d_ff"]).eval()
        mask = torch.tril(torch.ones(shape["T"], shape["T"]))
        return (lambda s: _decoder_inputs(s, shape["B"], shape["T"], shape["S"], shape["d_model"]),
                lambda x, memory: layer(x, memory, tgt_mask=mask))
    if what == "relative_bias":
        module = build_relative_bias(student, shape["num_heads"], shape["max_distance"])
        return (lambda s: (seed_parameters(module, s), ())[1]), (lambda: module(shape["T"], shape["T"]))
    if what == "entropy":
        fn = need(student, "attention_entropy")
        return (lambda s: (entropy_input("causal", s, (shape["B"],), shape["heads"], shape["T"], shape["T"]),)), fn
    raise ValueError(f"unknown module {what!r}")


@probe
def time_forward(student, what, seed, iters, check, work=True, grad=False, **shape):
    """`iters` calls of a cached module or function, each on inputs drawn from `seed`, which the
    judge picks at call time (probekit.timed_calls); the judge times this call from outside."""
    key = (what, tuple(sorted(shape.items())))
    if key not in _TIMED:
        _TIMED[key] = _timed_call(student, what, shape)
    prepare, compute = _TIMED[key]
    return timed_calls(key, prepare, compute, seed, iters, check, work, grad)
