"""What a failing Day 42 check can tell apart about its cause, for the hidden tests' messages.

A message names a cause only when a further probe tells it apart from the others: the
cross-attention's keys come from x; the multi-head attention weighs masked keys even on its own;
causal_mask is not lower triangular; the attention weights are exactly those without the mask.
Otherwise the test says only what it observed. Tests get it as the `diagnose` fixture.
"""
import pytest
import torch

MASK_SHAPES = {"padding": "(B, 1, S)", "per_query": "(B, T, S)", "shared": "(T, S)"}


def leak(weights, hidden):
    """The largest weight put where the reference puts exactly none, or None if the shapes differ."""
    if type(weights) is not torch.Tensor or tuple(weights.shape) != tuple(hidden.shape):
        return None
    return float(weights.double()[hidden].abs().max()) if bool(hidden.any()) else 0.0


def same(a, b) -> bool:
    return (type(a) is torch.Tensor and type(b) is torch.Tensor and tuple(a.shape) == tuple(b.shape)
            and bool(torch.allclose(a.double(), b.double(), atol=1e-5, rtol=1e-4)))


class Diagnose:
    def __init__(self, submission, reference):
        self.submission, self.reference = submission, reference

    def ignores_mask(self, kind: str, d_model: int, num_heads: int, B: int, T_q: int, T_k: int) -> bool:
        """Does MultiHeadAttention, called on its own with this kind of mask, weigh keys the mask hides?"""
        args = dict(seed=95, d_model=d_model, num_heads=num_heads, B=B, T_q=T_q, T_k=T_k, mask=kind)
        try:
            got = self.submission.probe("mha", **args)["weights"]
        except Exception:  # noqa: BLE001 - raising on its own is another observation, made elsewhere
            return False
        found = leak(got, self.reference.probe("mha", **args)["weights"] == 0)
        return found is not None and found > 1e-6

    @staticmethod
    def keys_from_x(cross_weights, T: int, S: int) -> str:
        if type(cross_weights) is torch.Tensor and cross_weights.dim() == 4 and cross_weights.shape[-1] == T != S:
            return (f"the cross-attention weights span the {T} target positions, not the {S} memory positions: "
                    "cross_attn takes its keys and values from x instead of memory; call "
                    "cross_attn(x, memory, memory, memory_mask)")
        return ""

    def future_leak(self, probe: str, args: dict) -> str:
        """Why later target positions reach earlier outputs in `probe` (decoder or decoder_future, whose
        answer has self_weights and cross_weights) with these args, or "" when nothing tells."""
        T, S = args["T"], args["S"]
        answer = self.submission.probe(probe, **args)
        cause = self.keys_from_x(answer.get("cross_weights"), T, S)
        weights = answer.get("self_weights")
        if cause or type(weights) is not torch.Tensor or weights.dim() != 4 or weights.shape[-2:] != (T, T):
            return cause
        if float(torch.triu(weights.double(), diagonal=1).abs().max()) <= 1e-6:
            return ""  # self-attention is causal: the leak is elsewhere, and nothing here says where
        if args.get("tgt_mask") == "student":
            mask = self.submission.probe("causal", T=T)["mask"]
            if type(mask) is torch.Tensor and tuple(mask.shape) == (T, T) and not torch.equal(
                    mask != 0, torch.tril(torch.ones(T, T)) != 0):
                return "causal_mask(T) is not 1 exactly where key j <= query i (on and below the diagonal)"
        if self.ignores_mask("shared", args["d_model"], args["num_heads"], args["B"], T, T):
            return ("your MultiHeadAttention, called on its own with a (T, T) mask, also gives weight to the keys "
                    "the mask hides: apply the mask to the scores before the softmax")
        if same(weights, self.reference.probe(probe, **dict(args, tgt_mask=None))["self_weights"]):
            return "the self-attention weights are those without any mask: tgt_mask does not reach self_attn"
        return ""

    def memory_mask(self, args: dict) -> str:
        """Why masked memory positions count (args of the decoder probe, with memory_mask), or ""."""
        B, T, S, kind = args["B"], args["T"], args["S"], args["memory_mask"]
        got = self.submission.probe("decoder", **args)["cross_weights"]
        cause = self.keys_from_x(got, T, S)
        if cause:
            return cause
        mha = dict(d_model=args["d_model"], num_heads=args["num_heads"], B=B, T_q=T, T_k=S)
        if self.ignores_mask(kind, **mha):
            if kind != "shared" and not self.ignores_mask("shared", **mha):
                return (f"your MultiHeadAttention, called on its own with a {MASK_SHAPES[kind]} mask, gives weight "
                        "to keys the mask hides, and with a (T, S) mask it does not: it is the 3-D masks it handles "
                        "wrongly (the contract gives one a head dimension, mask.unsqueeze(1), to broadcast over the "
                        "heads)")
            return (f"your MultiHeadAttention, called on its own with a {MASK_SHAPES[kind]} mask, gives weight to "
                    "keys the mask hides: apply the mask to the scores before the softmax")
        if same(got, self.reference.probe("decoder", **dict(args, memory_mask=None))["cross_weights"]):
            return "the cross-attention weights are those without any mask: memory_mask does not reach cross_attn"
        return ""


@pytest.fixture
def diagnose(submission, reference):
    return Diagnose(submission, reference)
