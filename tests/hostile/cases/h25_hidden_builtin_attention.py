"""Multi-head attention that runs torch's own F.multi_head_attention_forward on the contract's
w_q, w_k, w_v and w_o (so values and gradients are the reference's), with the function's name
built at run time (getattr(F, "multi_head_" + "attention_forward")) so that no static check sees it.

The name built at run time hides what the structural rules forbid: every test the rules cover
(attention and multi-head attention) fails as unverifiable, naming the line; it is flagged.
"""

EXPECT = {
    "attacked": ["test_sdpa", "test_mha"],
    "statuses": ["FAILED", "FORBIDDEN"],
    "keep": ["positional", "causal"],
    "outputs": {"test_mha_self_attention_matches_reference": ["cannot be verified"]},
}

SOURCE = '''
import torch
import torch.nn as nn
import torch.nn.functional as F

_attend = getattr(F, "multi_head_" + "attention_forward")


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        self.d_model, self.num_heads = d_model, num_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights = None

    def forward(self, query, key, value, mask=None):
        B, T_q, _ = query.shape
        T_k = key.size(1)
        blocked = None
        if mask is not None:
            m = mask if mask.dim() == 3 else mask.unsqueeze(0)
            m = m.expand(B, T_q, T_k)
            blocked = torch.zeros(B, T_q, T_k).masked_fill(m == 0, -1e9)
            blocked = blocked.repeat_interleave(self.num_heads, dim=0)
        out, weights = _attend(
            query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1), self.d_model, self.num_heads,
            None, torch.cat([self.w_q.bias, self.w_k.bias, self.w_v.bias]), None, None, False, 0.0,
            self.w_o.weight, self.w_o.bias, training=self.training, need_weights=True, attn_mask=blocked,
            use_separate_proj_weight=True, q_proj_weight=self.w_q.weight, k_proj_weight=self.w_k.weight,
            v_proj_weight=self.w_v.weight, average_attn_weights=False)
        self.attention_weights = weights.detach()
        return out.transpose(0, 1)
'''
