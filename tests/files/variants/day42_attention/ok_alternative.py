"""Correct alternative: a boolean causal mask built with .tril(), a decoder written with a sublayer
helper and keyword arguments, the bias looked up by indexing bias.weight directly, and the entropy
computed with torch.special.entr (which is 0 at w = 0) and flatten. Must get full marks."""

EXPECT = {
    "full_marks": True,
    "lose": [],
    "keep": ["causality", "cross_attention", "relative", "entropy", "decoder", "speed", "integration"],
}


def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


class TransformerDecoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout),
                                          nn.Linear(d_ff, d_model))
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def _residual(self, x, sublayer_out, norm):
        return norm(x + self.dropout(sublayer_out))

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        x = self._residual(x, self.self_attn(x, x, x, mask=tgt_mask), self.norm1)
        x = self._residual(x, self.cross_attn(query=x, key=memory, value=memory, mask=memory_mask), self.norm2)
        return self._residual(x, self.feed_forward(x), self.norm3)


class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, max_distance):
        super().__init__()
        self.num_heads = num_heads
        self.max_distance = max_distance
        self.bias = nn.Embedding(2 * max_distance + 1, num_heads)

    def forward(self, T_q, T_k):
        rel = torch.arange(T_k).unsqueeze(0) - torch.arange(T_q).unsqueeze(1)  # (T_q, T_k): j - i
        idx = torch.clamp(rel, min=-self.max_distance, max=self.max_distance) + self.max_distance
        return torch.einsum("qkh->hqk", self.bias.weight[idx])


def attention_entropy(weights):
    per_query = torch.special.entr(weights).sum(-1)  # (..., h, T_q)
    per_head = per_query.mean(-1)  # (..., h)
    return per_head if per_head.dim() == 1 else per_head.flatten(0, -2).mean(0)
