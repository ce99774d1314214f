"""Correct alternative: attention scores, weighted sum and the whole multi-head attention
are written with torch.einsum instead of matmul/transpose."""

EXPECT = {
    "full_marks": True,
    "lose": [],
    "keep": [],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.einsum("...qd,...kd->...qk", Q, K) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = torch.softmax(scores, dim=-1)
    output = torch.einsum("...qk,...kd->...qd", weights, V)
    return output, weights


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        assert d_model % num_heads == 0, "d_model must be divisible by num_heads"
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights = None

    def forward(self, query, key, value, mask=None):
        B, T_q, _ = query.shape
        T_k = key.shape[1]
        h, d_k = self.num_heads, self.d_k
        # keep heads as a separate axis: (B, T, h, d_k)
        q = self.w_q(query).view(B, T_q, h, d_k)
        k = self.w_k(key).view(B, T_k, h, d_k)
        v = self.w_v(value).view(B, T_k, h, d_k)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d_k)
        if mask is not None:
            if mask.dim() == 3:
                mask = mask.unsqueeze(1)
            scores = scores.masked_fill(mask == 0, -1e9)
        attn = torch.softmax(scores, dim=-1)
        self.attention_weights = attn
        attn = self.dropout(attn)
        out = torch.einsum("bhqk,bkhd->bqhd", attn, v).reshape(B, T_q, self.d_model)
        return self.w_o(out)
