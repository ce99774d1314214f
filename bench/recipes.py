"""The benchmark's class, made from the reference: one-line rewrites of alice's solution cells.

Each recipe replaces one exact line fragment of the reference solution (an error names the
recipe when the reference has changed so that the fragment is gone). "ok" recipes are correct
code written differently and must keep every point; "bug" recipes are one classic mistake each.
"""

# name -> (kind, what the reference says, what this student wrote instead)
RECIPES: dict[str, tuple[str, str, str]] = {
    "ok_einsum_scores": ("ok", "scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)",
                         'scores = torch.einsum("...qd,...kd->...qk", Q, K) / d_k ** 0.5'),
    "ok_torch_softmax": ("ok", "weights = F.softmax(scores, dim=-1)",
                         "weights = torch.softmax(scores, dim=scores.dim() - 1)"),
    "ok_permute_reshape": ("ok", "out = out.transpose(1, 2).contiguous().view(B, T_q, h * d_k)",
                           "out = out.permute(0, 2, 1, 3).reshape(B, T_q, h * d_k)"),
    "ok_where_mask": ("ok", "scores = scores.masked_fill(mask == 0, -1e9)",
                      "scores = torch.where(mask == 0, torch.full_like(scores, -1e9), scores)"),
    "ok_pe_power": ("ok", "div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float) * (-math.log(10000.0) / d_model))",
                    "div_term = 1.0 / 10000.0 ** (torch.arange(0, d_model, 2, dtype=torch.float) / d_model)"),
    "ok_causal_triu": ("ok", "return torch.tril(torch.ones(T, T))",
                       "return 1 - torch.triu(torch.ones(T, T), diagonal=1)"),
    "bug_no_scaling": ("bug", "scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)",
                       "scores = Q @ K.transpose(-2, -1)"),
    "bug_softmax_wrong_dim": ("bug", "weights = F.softmax(scores, dim=-1)", "weights = F.softmax(scores, dim=-2)"),
    "bug_mask_inverted": ("bug", "scores = scores.masked_fill(mask == 0, -1e9)",
                          "scores = scores.masked_fill(mask == 1, -1e9)"),
    "bug_merge_no_transpose": ("bug", "out = out.transpose(1, 2).contiguous().view(B, T_q, h * d_k)",
                               "out = out.contiguous().view(B, T_q, h * d_k)"),
    "bug_missing_residual": ("bug", "x = self.norm1(x + self.dropout(self.self_attn(x, x, x, mask)))",
                             "x = self.norm1(self.dropout(self.self_attn(x, x, x, mask)))"),
    "bug_sin_cos_swapped": ("bug", "pe[:, 0, 0::2] = torch.sin(angles)", "pe[:, 0, 0::2] = torch.cos(angles)"),
    "bug_no_output_projection": ("bug", "return self.w_o(out)", "return out"),
    "bug_ffn_no_activation": ("bug", "nn.ReLU(),", "nn.Identity(),"),
    "bug_weights_detached": ("bug", "weights = F.softmax(scores, dim=-1)", "weights = F.softmax(scores, dim=-1).detach()"),
}


def apply(name: str, source: str) -> str | None:
    """`source` with recipe `name` applied, or None when the recipe's line is not in it."""
    _, find, replace = RECIPES[name]
    return source.replace(find, replace) if find in source else None


# A multi-head attention doing k times the reference's work: the same forward pass again on other
# data (rolled inputs), k - 1 more times. The speed tests must measure it at about k (bench/fidelity.py).
K_TIMES_THE_WORK = """
_mha_forward_once = MultiHeadAttention.forward
def _k_forward(self, query, key, value, mask=None):
    out = _mha_forward_once(self, query, key, value, mask)
    for j in range(1, {k}):
        _mha_forward_once(self, query.roll(j, 1), key.roll(j, 1), value.roll(j, 1), mask)
    return out
MultiHeadAttention.forward = _k_forward
"""
