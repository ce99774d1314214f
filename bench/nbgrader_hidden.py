"""The nbgrader baseline's hidden tests for Day 41, written nbgrader's way: asserts in the notebook.

Nothing imports this file; bench/run.py parses it and writes notebook cells from it:

- `_ag_make` opens the first hidden test cell: seeded inputs and weights (the same recipe as the
  autograder's probes), the reference solution (spliced in from the instructor's notebook where
  `# REFERENCE SOLUTION` stands, so it lives in the function's scope, away from the student's
  names) and the assertions. The cell then binds `_ag = _ag_make()`.
- each `test_*` function's body becomes one hidden grade cell, whose grade_id is
  `hidden_<function name>`. The function is named after the autograder's hidden test it mirrors:
  same inputs, seeds, tolerances and points, so both must give the same points.

The speed tests have no counterpart here: timing against the reference needs a second process.
"""
# ruff: noqa: F821  (`_ag` is bound in the notebook, by the first hidden cell)


def _ag_make():
    """Helpers and the reference, in their own scope; returns them as one namespace."""
    import math
    import types
    import zlib

    import torch
    import torch.nn as nn  # noqa: F401  (the reference solution uses it)
    import torch.nn.functional as F  # noqa: F401

    # REFERENCE SOLUTION

    reference = types.SimpleNamespace(
        scaled_dot_product_attention=scaled_dot_product_attention, MultiHeadAttention=MultiHeadAttention,
        PositionalEncoding=PositionalEncoding, TransformerEncoderLayer=TransformerEncoderLayer,
        SimpleTransformer=SimpleTransformer, causal_mask=causal_mask)
    main = globals()  # the notebook's namespace: the student's definitions, as they stand now

    class Student:
        def __getattr__(self, name):
            return main.get(name)

    student = Student()

    # -- seeded inputs and weights --------------------------------------------------------------
    def generator(seed):
        return torch.Generator().manual_seed(int(seed))

    def randn(seed, *shape, dtype=torch.float32):
        return torch.randn(*shape, generator=generator(seed), dtype=dtype)

    def randint(seed, high, *shape):
        return torch.randint(0, high, shape, generator=generator(seed))

    def seed_parameters(module, seed):
        with torch.no_grad():
            for name, p in module.named_parameters():
                g = generator(seed * 1_000_003 + zlib.crc32(name.encode()))
                u = torch.rand(p.shape, generator=g, dtype=torch.float64) * 2 - 1
                if p.dim() >= 2:
                    values = u / p.shape[-1] ** 0.5
                elif name.endswith("weight"):
                    values = 1 + 0.2 * u
                else:
                    values = 0.2 * u
                p.copy_(values.to(p.dtype))

    def make_mask(kind, seed, B, T_q, T_k, lead=()):
        if kind is None:
            return None
        g = generator(seed + 7)
        if kind == "padding":
            lengths = torch.randint(1, T_k + 1, (B,), generator=g)
            lengths[0] = T_k
            return (torch.arange(T_k) < lengths[:, None]).long().unsqueeze(1)
        if kind == "causal":
            return torch.tril(torch.ones(T_q, T_k, dtype=torch.long))
        m = (torch.rand(*lead, T_q, T_k, generator=g) < 0.6).long()
        m[..., 0] = 1
        if kind == "full_row":
            m[..., 0, :] = 0
        return m

    def causal_mask_of(code, T):
        return need(code, "causal_mask")(T)

    def upstream(seed, like):
        return randn(seed + 99, *like.shape, dtype=like.dtype)

    def need(code, name):
        obj = getattr(code, name)
        assert obj is not None, f"the notebook does not define `{name}`"
        return obj

    def require(module, names, owner):
        children = dict(module.named_children())
        missing = [n for n in names if n not in children]
        assert not missing, f"{owner} has no submodule {', '.join(missing)}"

    def param_grads(module):
        return {name: (None if p.grad is None else p.grad.detach().clone()) for name, p in module.named_parameters()}

    def submodule_types(module):
        return sorted({f"{type(m).__module__}.{type(m).__qualname__}" for m in module.modules()})

    # -- running the code under test (student or reference) -------------------------------------
    def sdpa(code, seed, lead, T_q, T_k, d_k, d_v, mask=None, scale=1.0, grad=False):
        fn = need(code, "scaled_dot_product_attention")
        Q = (randn(seed, *lead, T_q, d_k) * scale).requires_grad_(grad)
        K = (randn(seed + 1, *lead, T_k, d_k) * scale).requires_grad_(grad)
        V = randn(seed + 2, *lead, T_k, d_v).requires_grad_(grad)
        m = make_mask(mask, seed, lead[0] if lead else 1, T_q, T_k, lead=lead)
        result = fn(Q, K, V, m) if m is not None else fn(Q, K, V)
        assert isinstance(result, (tuple, list)) and len(result) == 2, "attention must return (output, weights)"
        output, weights = result
        out = {"output": output, "weights": weights}
        if grad:
            if not isinstance(output, torch.Tensor) or not output.requires_grad:
                out["input_grads"] = {"Q": None, "K": None, "V": None}
                return out
            (output * upstream(seed, output)).sum().backward()
            out["input_grads"] = {"Q": Q.grad, "K": K.grad, "V": V.grad}
        return out

    def sdpa_jacobian(code, seed, T_q=3, T_k=4, d_k=3, d_v=2):
        fn = need(code, "scaled_dot_product_attention")
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

    def build_mha(code, seed, d_model, num_heads, dropout=0.0):
        cls = need(code, "MultiHeadAttention")
        module = cls(d_model, num_heads, dropout) if dropout else cls(d_model, num_heads)
        require(module, ("w_q", "w_k", "w_v", "w_o"), "MultiHeadAttention")
        seed_parameters(module, seed)
        return module

    def mha(code, seed, d_model, num_heads, B, T_q, T_k, mask=None, cross=True, grad=False, dropout=0.0):
        module = build_mha(code, seed, d_model, num_heads, dropout)
        module.eval()
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
            (output * upstream(seed, output)).sum().backward()
            out["param_grads"] = param_grads(module)
            out["input_grads"] = {"query": query.grad, "key": key.grad if cross else None,
                                  "value": value.grad if cross else None}
        elif grad:
            out["param_grads"] = {name: None for name, _ in module.named_parameters()}
            out["input_grads"] = {"query": None, "key": None, "value": None}
        return out

    def positional(code, seed, d_model, T, B, max_len=5000):
        pe = need(code, "PositionalEncoding")(d_model, max_len)
        pe.eval()
        buffer = dict(pe.named_buffers()).get("pe")
        x = randn(seed, T, B, d_model)
        with torch.no_grad():
            out = pe(x)
            zeros = pe(torch.zeros(T, B, d_model))
        return {"output": out, "from_zeros": zeros,
                "buffer_shape": list(buffer.shape) if isinstance(buffer, torch.Tensor) else None}

    def encoder(code, seed, d_model, num_heads, d_ff, B, T, mask=None, grad=False):
        layer = need(code, "TransformerEncoderLayer")(d_model, num_heads, d_ff, 0.1)
        require(layer, ("self_attn", "feed_forward", "norm1", "norm2"), "TransformerEncoderLayer")
        seed_parameters(layer, seed)
        layer.eval()
        x = randn(seed + 1, B, T, d_model).requires_grad_(grad)
        m = make_mask(mask, seed, B, T, T)
        output = layer(x, m) if m is not None else layer(x)
        out = {"output": output}
        if grad:
            if isinstance(output, torch.Tensor) and output.requires_grad:
                (output * upstream(seed, output)).sum().backward()
                out["param_grads"] = param_grads(layer)
                out["input_grads"] = {"x": x.grad}
            else:
                out["param_grads"] = {name: None for name, _ in layer.named_parameters()}
                out["input_grads"] = {"x": None}
        return out

    def build_model(code, seed, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, max_len=512,
                    dropout=0.1):
        net = need(code, "SimpleTransformer")(vocab_size, d_model, num_heads, num_layers, d_ff, num_classes,
                                              max_len, dropout)
        require(net, ("embedding", "pos_encoding", "layers", "classifier"), "SimpleTransformer")
        seed_parameters(net, seed)
        return net

    def model(code, seed, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, B, T,
              padding=False, grad=False):
        net = build_model(code, seed, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes)
        net.eval()
        x = randint(seed + 1, vocab_size, B, T)
        mask = None
        if padding:
            lengths = torch.randint(1, T + 1, (B,), generator=generator(seed + 2))
            lengths[0] = T
            mask = (torch.arange(T) < lengths[:, None]).long()
            x = x.masked_fill(mask == 0, 0)
        logits = net(x, mask) if mask is not None else net(x)
        out = {"output": logits}
        if padding:
            with torch.no_grad():
                out["first_alone"] = net(x[:1])
        if grad and isinstance(logits, torch.Tensor) and logits.requires_grad:
            (logits * upstream(seed, logits)).sum().backward()
            out["param_grads"] = param_grads(net)
        elif grad:
            out["param_grads"] = {name: None for name, _ in net.named_parameters()}
        return out

    def train_steps(code, seed, steps=25, padding=False, lr=3e-3):
        vocab_size, T, n = 6, 10, 64
        net = build_model(code, seed, vocab_size, d_model=32, num_heads=4, num_layers=1, d_ff=64,
                          num_classes=2, max_len=64, dropout=0.0)
        tokens = torch.randint(1, vocab_size, (3 * n, T), generator=generator(seed))
        diff = (tokens == 1).sum(1) - (tokens == 2).sum(1)
        keep = (diff != 0).nonzero().squeeze(1)[:n]
        x, y = tokens[keep], (diff[keep] > 0).long()
        mask = None
        if padding:
            lengths = torch.randint(T // 2, T + 1, (len(x),), generator=generator(seed))
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
            losses.append(float(loss.detach()))
        return losses

    # -- assertions -----------------------------------------------------------------------------
    def tensor(x, what):
        assert type(x) is torch.Tensor, f"{what}: expected a Tensor, got {type(x).__name__}"
        return x.detach()

    def shape(x, expected, what):
        x = tensor(x, what)
        assert tuple(x.shape) == tuple(expected), f"{what}: expected shape {tuple(expected)}, got {tuple(x.shape)}"
        return x

    def finite(x, what):
        x = tensor(x, what)
        assert not x.is_floating_point() or bool(torch.isfinite(x).all()), f"{what}: contains NaN or Inf"
        return x

    def close(got, want, what, atol=1e-4, rtol=1e-4):
        want = tensor(want, f"reference ({what})")
        got = finite(shape(got, want.shape, what), what)
        diff = (got.double() - want.double()).abs()
        assert not bool((diff > atol + rtol * want.double().abs()).any()), \
            f"{what} differs from the reference: largest error {float(diff.max()):.3g}"

    def distribution(weights, what):
        w = finite(weights, what)
        assert not bool((w < 0).any()), f"{what}: some weights are negative"
        assert float((w.double().sum(-1) - 1).abs().max()) <= 1e-4, f"{what}: rows do not sum to 1"

    def grads(found, names, what):
        assert isinstance(found, dict), f"{what}: expected gradients by name"
        for n in names:
            g = found.get(n)
            assert g is not None, f"{what}: gradient never reaches {n}"
            assert type(g) is torch.Tensor and bool(torch.isfinite(g).all()), f"{what}: gradient of {n} not finite"
            assert bool((g != 0).any()), f"{what}: gradient of {n} is all zero"

    def grads_match(got, want, what):
        for name, g in want.items():
            if g is not None:
                assert got.get(name) is not None, f"{what}: gradient never reaches {name}"
                close(got[name], g, f"{what}: gradient of {name}", atol=1e-4, rtol=1e-3)

    def learns(losses, ours, what):
        assert isinstance(losses, list) and len(losses) >= 2 and all(isinstance(v, float) for v in losses), \
            f"{what}: no loss per step"
        assert all(math.isfinite(v) for v in losses), f"{what}: the loss became NaN or Inf"
        assert losses[0] - losses[-1] >= 0.5 * (ours[0] - ours[-1]), f"{what}: the loss does not go down enough"

    return types.SimpleNamespace(**{k: v for k, v in locals().items() if not k.startswith("_")})


# -- shape --------------------------------------------------------------------------------------

def test_sdpa_shapes():
    for lead, T_q, T_k, d_k, d_v in [((1,), 1, 1, 8, 8), ((3,), 5, 9, 16, 12), ((2, 3), 7, 7, 8, 4)]:
        got = _ag.sdpa(_ag.student, seed=1, lead=list(lead), T_q=T_q, T_k=T_k, d_k=d_k, d_v=d_v)
        _ag.shape(got["output"], (*lead, T_q, d_v), "attention output")
        _ag.shape(got["weights"], (*lead, T_q, T_k), "attention weights")


def test_mha_shapes():
    for B, T_q, T_k, d_model, h in [(1, 1, 1, 16, 2), (3, 5, 9, 32, 4), (2, 7, 7, 24, 3)]:
        got = _ag.mha(_ag.student, seed=2, d_model=d_model, num_heads=h, B=B, T_q=T_q, T_k=T_k)
        _ag.shape(got["output"], (B, T_q, d_model), "MultiHeadAttention output")
        _ag.shape(got["weights"], (B, h, T_q, T_k), "MultiHeadAttention.attention_weights")


def test_positional_shapes():
    for T, B, d_model, max_len in [(1, 3, 20, 50), (13, 2, 20, 50), (6, 6, 8, 100)]:
        got = _ag.positional(_ag.student, seed=3, d_model=d_model, T=T, B=B, max_len=max_len)
        assert got["buffer_shape"] is not None, "PositionalEncoding has no buffer named 'pe'"
        assert tuple(got["buffer_shape"]) == (max_len, 1, d_model), "pe should be (max_len, 1, d_model)"
        _ag.shape(got["output"], (T, B, d_model), "PositionalEncoding output")


def test_encoder_shapes():
    for B, T in [(1, 1), (4, 11)]:
        got = _ag.encoder(_ag.student, seed=4, d_model=24, num_heads=4, d_ff=48, B=B, T=T)
        _ag.shape(got["output"], (B, T, 24), "TransformerEncoderLayer output")


def test_model_shapes():
    for B, T in [(1, 1), (5, 17)]:
        got = _ag.model(_ag.student, seed=5, vocab_size=30, d_model=16, num_heads=2, num_layers=2, d_ff=32,
                        num_classes=3, B=B, T=T)
        _ag.shape(got["output"], (B, 3), "SimpleTransformer logits")


# -- softmax ------------------------------------------------------------------------------------

def test_sdpa_weights_are_a_distribution():
    got = _ag.sdpa(_ag.student, seed=11, lead=[2, 3], T_q=6, T_k=9, d_k=8, d_v=5)
    _ag.distribution(got["weights"], "attention weights")


def test_sdpa_masked_positions_get_no_weight():
    case = dict(seed=12, mask="random", lead=[2, 3], T_q=6, T_k=9, d_k=8, d_v=5)
    weights = _ag.finite(_ag.sdpa(_ag.student, **case)["weights"], "masked attention weights")
    masked = _ag.tensor(_ag.sdpa(_ag.reference, **case)["weights"], "reference weights") == 0
    assert weights.shape == masked.shape, "masked attention weights: wrong shape"
    leaked = float(weights.double()[masked].max()) if bool(masked.any()) else 0.0
    assert leaked <= 1e-6, "a position with mask == 0 still gets weight"
    _ag.distribution(weights, "masked attention weights")


def test_sdpa_fully_masked_row_is_finite():
    got = _ag.sdpa(_ag.student, seed=13, mask="full_row", lead=[2, 3], T_q=6, T_k=9, d_k=8, d_v=5)
    for part in ("weights", "output"):
        _ag.finite(got[part], f"{part} with a fully masked row")


def test_sdpa_large_logits_are_finite():
    got = _ag.sdpa(_ag.student, seed=14, scale=1000.0, lead=[2, 3], T_q=6, T_k=9, d_k=8, d_v=5)
    _ag.finite(got["output"], "output for very large scores")
    _ag.distribution(got["weights"], "weights for very large scores")


def test_sdpa_weights_match_reference():
    for mask in (None, "random"):
        case = dict(seed=15, mask=mask, lead=[2, 3], T_q=6, T_k=9, d_k=8, d_v=5)
        _ag.close(_ag.sdpa(_ag.student, **case)["weights"], _ag.sdpa(_ag.reference, **case)["weights"],
                  "attention weights")


def test_mha_weights_are_a_distribution_per_head():
    case = dict(seed=16, d_model=32, num_heads=4, B=2, T_q=5, T_k=7)
    got = _ag.mha(_ag.student, **case)
    _ag.distribution(got["weights"], "MultiHeadAttention.attention_weights")
    _ag.close(got["weights"], _ag.mha(_ag.reference, **case)["weights"], "MultiHeadAttention.attention_weights")


# -- gradient -----------------------------------------------------------------------------------

def test_sdpa_gradients_reach_inputs():
    got = _ag.sdpa(_ag.student, seed=21, lead=[2], T_q=5, T_k=6, d_k=8, d_v=4, grad=True)
    _ag.grads(got["input_grads"], ["Q", "K", "V"], "attention")


def test_sdpa_gradients_match_reference():
    case = dict(seed=22, mask="random", lead=[2], T_q=5, T_k=6, d_k=8, d_v=4, grad=True)
    _ag.grads_match(_ag.sdpa(_ag.student, **case)["input_grads"], _ag.sdpa(_ag.reference, **case)["input_grads"],
                    "attention")


def test_sdpa_gradcheck_float64():
    got, want = _ag.sdpa_jacobian(_ag.student, seed=23), _ag.sdpa_jacobian(_ag.reference, seed=23)
    for name, analytic, numeric, ref in zip("QKV", got["analytic"], got["numeric"], want["analytic"]):
        _ag.close(analytic, numeric, f"autograd gradient w.r.t. {name} vs finite differences", atol=1e-5, rtol=1e-3)
        _ag.close(analytic, ref, f"gradient w.r.t. {name}", atol=1e-6, rtol=1e-4)


def test_mha_gradients_reach_every_parameter():
    got = _ag.mha(_ag.student, seed=24, d_model=32, num_heads=4, B=2, T_q=5, T_k=7, grad=True)
    _ag.grads(got["param_grads"], [f"{p}.{t}" for p in ("w_q", "w_k", "w_v", "w_o") for t in ("weight", "bias")],
              "MultiHeadAttention")
    _ag.grads(got["input_grads"], ["query", "key", "value"], "MultiHeadAttention inputs")


def test_mha_gradients_match_reference():
    case = dict(seed=25, mask="padding", d_model=32, num_heads=4, B=2, T_q=5, T_k=7, grad=True)
    _ag.grads_match(_ag.mha(_ag.student, **case)["param_grads"], _ag.mha(_ag.reference, **case)["param_grads"],
                    "MultiHeadAttention")


def test_encoder_gradients_reach_every_parameter():
    case = dict(seed=26, d_model=32, num_heads=4, d_ff=64, B=2, T=6, grad=True)
    got, want = _ag.encoder(_ag.student, **case), _ag.encoder(_ag.reference, **case)
    _ag.grads(got["param_grads"], list(want["param_grads"]), "TransformerEncoderLayer")
    _ag.grads(got["input_grads"], ["x"], "TransformerEncoderLayer input")


def test_encoder_gradients_match_reference():
    case = dict(seed=27, d_model=32, num_heads=4, d_ff=64, B=2, T=6, grad=True)
    _ag.grads_match(_ag.encoder(_ag.student, **case)["param_grads"],
                    _ag.encoder(_ag.reference, **case)["param_grads"], "TransformerEncoderLayer")


def test_model_gradients_reach_every_parameter():
    case = dict(seed=28, vocab_size=20, d_model=16, num_heads=2, num_layers=2, d_ff=32, num_classes=3, B=3, T=7,
                grad=True)
    got, want = _ag.model(_ag.student, **case), _ag.model(_ag.reference, **case)
    _ag.grads(got["param_grads"], list(want["param_grads"]), "SimpleTransformer")


# -- values -------------------------------------------------------------------------------------

def test_sdpa_matches_reference():
    case = dict(seed=31, lead=[2, 3], T_q=5, T_k=9, d_k=8, d_v=6)
    _ag.close(_ag.sdpa(_ag.student, **case)["output"], _ag.sdpa(_ag.reference, **case)["output"], "attention output")


def test_sdpa_masked_matches_reference():
    case = dict(seed=32, lead=[3], T_q=6, T_k=6, d_k=8, d_v=8, mask="random")
    _ag.close(_ag.sdpa(_ag.student, **case)["output"], _ag.sdpa(_ag.reference, **case)["output"],
              "masked attention output")


def test_mha_self_attention_matches_reference():
    case = dict(seed=33, d_model=32, num_heads=4, B=3, T_q=7, T_k=7, cross=False)
    _ag.close(_ag.mha(_ag.student, **case)["output"], _ag.mha(_ag.reference, **case)["output"],
              "multi-head self-attention output")


def test_mha_cross_attention_matches_reference():
    case = dict(seed=34, d_model=64, num_heads=8, B=2, T_q=5, T_k=9, cross=True)
    _ag.close(_ag.mha(_ag.student, **case)["output"], _ag.mha(_ag.reference, **case)["output"],
              "multi-head cross-attention output")


def test_mha_masked_matches_reference():
    for mask, T_k in (("padding", 9), ("causal", 5)):
        case = dict(seed=35, d_model=32, num_heads=4, B=3, T_q=5, T_k=T_k, mask=mask)
        _ag.close(_ag.mha(_ag.student, **case)["output"], _ag.mha(_ag.reference, **case)["output"],
                  f"multi-head attention output with a {mask} mask")


def test_mha_dropout_is_off_in_eval_mode():
    case = dict(seed=36, d_model=32, num_heads=4, B=2, T_q=6, T_k=6, dropout=0.1)
    first = _ag.mha(_ag.student, **case)["output"]
    _ag.close(_ag.mha(_ag.student, **case)["output"], first, "a second eval-mode run", atol=0, rtol=0)
    _ag.close(first, _ag.mha(_ag.reference, **case)["output"], "eval-mode multi-head attention output")


def test_mha_uses_its_own_projections():
    got = _ag.mha(_ag.student, seed=37, d_model=16, num_heads=2, B=1, T_q=3, T_k=3)
    assert "torch.nn.modules.activation.MultiheadAttention" not in got["types"], \
        "MultiHeadAttention uses torch.nn.MultiheadAttention inside"


def test_positional_matches_reference():
    case = dict(seed=38, d_model=16, T=50, B=2)
    got, want = _ag.positional(_ag.student, **case), _ag.positional(_ag.reference, **case)
    _ag.close(got["from_zeros"], want["from_zeros"], "positional encoding added to zeros")
    _ag.close(got["output"], want["output"], "positional encoding output")


def test_positional_known_positions():
    d_model = 8
    got = _ag.shape(_ag.positional(_ag.student, seed=39, d_model=d_model, T=8, B=1)["from_zeros"], (8, 1, d_model),
                    "positional encoding added to zeros")
    for pos in (0, 1, 7):
        want = _ag.torch.tensor([_ag.math.sin(pos / 10000 ** (2 * (j // 2) / d_model)) if j % 2 == 0
                                 else _ag.math.cos(pos / 10000 ** (2 * (j // 2) / d_model)) for j in range(d_model)])
        _ag.close(got[pos, 0], want, f"PE at position {pos}", atol=1e-5)


def test_encoder_matches_reference():
    case = dict(seed=40, d_model=32, num_heads=4, d_ff=64, B=3, T=8)
    _ag.close(_ag.encoder(_ag.student, **case)["output"], _ag.encoder(_ag.reference, **case)["output"],
              "encoder layer output")


def test_encoder_masked_matches_reference():
    case = dict(seed=41, d_model=32, num_heads=4, d_ff=64, B=3, T=8, mask="padding")
    _ag.close(_ag.encoder(_ag.student, **case)["output"], _ag.encoder(_ag.reference, **case)["output"],
              "masked encoder layer output")


def test_model_matches_reference():
    case = dict(seed=42, vocab_size=40, d_model=32, num_heads=4, num_layers=2, d_ff=64, num_classes=3, B=4, T=9)
    _ag.close(_ag.model(_ag.student, **case)["output"], _ag.model(_ag.reference, **case)["output"],
              "SimpleTransformer logits")


# -- integration --------------------------------------------------------------------------------

def test_model_training_lowers_loss():
    _ag.learns(_ag.train_steps(_ag.student, seed=51), _ag.train_steps(_ag.reference, seed=51),
               "training SimpleTransformer")


def test_model_training_with_padding_mask():
    _ag.learns(_ag.train_steps(_ag.student, seed=52, padding=True),
               _ag.train_steps(_ag.reference, seed=52, padding=True), "training on padded batches")


def test_model_padded_batch():
    got = _ag.model(_ag.student, seed=53, vocab_size=20, d_model=16, num_heads=2, num_layers=1, d_ff=32,
                    num_classes=2, B=4, T=10, padding=True)
    logits = _ag.finite(_ag.shape(got["output"], (4, 2), "logits of a padded batch"), "logits of a padded batch")
    _ag.close(logits[:1], got["first_alone"], "logits of a full-length sequence vs alone", atol=1e-4, rtol=1e-4)


# -- bonus --------------------------------------------------------------------------------------

def test_causal_mask_matches_reference():
    for T in (1, 6):
        got = _ag.tensor(_ag.causal_mask_of(_ag.student, T), f"causal_mask({T})")
        want = _ag.tensor(_ag.causal_mask_of(_ag.reference, T), f"reference causal_mask({T})")
        _ag.close(got.float(), want.float(), f"causal_mask({T})", atol=0, rtol=0)
