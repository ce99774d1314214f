"""Bug: the head split always uses 8 heads (view(B, T, 8, d_model // 8)) whatever num_heads
was passed; right only when num_heads == 8."""

EXPECT = {
    "full_marks": False,
    "lose": ["mha"],
    "keep": ["positional", "sdpa"],
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
        Q = self.w_q(query).view(B, T_q, 8, self.d_model // 8).transpose(1, 2)
        K = self.w_k(key).view(B, T_k, 8, self.d_model // 8).transpose(1, 2)
        V = self.w_v(value).view(B, T_k, 8, self.d_model // 8).transpose(1, 2)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, attn = scaled_dot_product_attention(Q, K, V, mask)
        self.attention_weights = attn
        out = out.transpose(1, 2).contiguous().view(B, T_q, self.d_model)
        return self.w_o(out)
