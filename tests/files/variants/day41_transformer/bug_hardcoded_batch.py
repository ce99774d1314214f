"""Bug: the batch size 2 from the notebook's example is hard-coded in the head split/merge
(view(2, -1, ...)); right for B == 2 only."""

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
        Q = self.w_q(query).view(2, -1, self.num_heads, self.d_k).transpose(1, 2)
        K = self.w_k(key).view(2, -1, self.num_heads, self.d_k).transpose(1, 2)
        V = self.w_v(value).view(2, -1, self.num_heads, self.d_k).transpose(1, 2)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, attn = scaled_dot_product_attention(Q, K, V, mask)
        self.attention_weights = attn
        out = out.transpose(1, 2).contiguous().view(2, -1, self.d_model)
        return self.w_o(out)
