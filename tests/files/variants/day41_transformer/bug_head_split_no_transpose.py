"""Bug: heads are split with view(B, h, T, d_k) directly instead of view(B, T, h, d_k)
followed by transpose(1, 2), which scrambles tokens and features across heads."""

EXPECT = {
    "full_marks": False,
    "lose": ["values", "mha"],
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
        Q = self.w_q(query).view(B, self.num_heads, T_q, self.d_k)
        K = self.w_k(key).view(B, self.num_heads, T_k, self.d_k)
        V = self.w_v(value).view(B, self.num_heads, T_k, self.d_k)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, attn = scaled_dot_product_attention(Q, K, V, mask)
        self.attention_weights = attn
        out = out.transpose(1, 2).contiguous().view(B, T_q, self.d_model)
        return self.w_o(out)
