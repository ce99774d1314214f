"""Bug: w_o is created but never applied; the concatenated heads are returned directly
(w_o gets no gradient)."""

EXPECT = {
    "full_marks": False,
    "lose": ["values", "mha", "gradient"],
    "keep": ["positional", "sdpa", "shape"],
}


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        assert d_model % num_heads == 0
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
        T_k = key.size(1)
        Q = self.w_q(query).view(B, T_q, self.num_heads, self.d_k).transpose(1, 2)
        K = self.w_k(key).view(B, T_k, self.num_heads, self.d_k).transpose(1, 2)
        V = self.w_v(value).view(B, T_k, self.num_heads, self.d_k).transpose(1, 2)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, attn = scaled_dot_product_attention(Q, K, V, mask)
        self.attention_weights = attn
        out = out.transpose(1, 2).contiguous().view(B, T_q, self.d_model)
        return out
