"""Bug (contract): the projections are named q_proj / k_proj / v_proj / out_proj instead of
w_q / w_k / w_v / w_o; the math is otherwise correct."""

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
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights = None

    def forward(self, query, key, value, mask=None):
        B, T_q, _ = query.shape
        T_k = key.size(1)
        Q = self.q_proj(query).view(B, T_q, self.num_heads, self.d_k).transpose(1, 2)
        K = self.k_proj(key).view(B, T_k, self.num_heads, self.d_k).transpose(1, 2)
        V = self.v_proj(value).view(B, T_k, self.num_heads, self.d_k).transpose(1, 2)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, attn = scaled_dot_product_attention(Q, K, V, mask)
        self.attention_weights = attn
        out = out.transpose(1, 2).contiguous().view(B, T_q, self.d_model)
        return self.out_proj(out)
