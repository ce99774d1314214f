"""Correct alternative: heads are split and merged with reshape/permute (and extra
.contiguous() calls) instead of view/transpose."""

EXPECT = {
    "full_marks": True,
    "lose": [],
    "keep": [],
}


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights = None

    def split_heads(self, x):
        B, T, _ = x.size()
        return x.reshape(B, T, self.num_heads, self.d_k).permute(0, 2, 1, 3).contiguous()

    def combine_heads(self, x):
        B, _, T, _ = x.size()
        return x.permute(0, 2, 1, 3).reshape(B, T, self.d_model)

    def forward(self, query, key, value, mask=None):
        Q = self.split_heads(self.w_q(query))
        K = self.split_heads(self.w_k(key))
        V = self.split_heads(self.w_v(value))
        if mask is not None and mask.dim() == 3:
            mask = mask[:, None, :, :]
        out, attn = scaled_dot_product_attention(Q, K, V, mask)
        if self.training:
            out = torch.matmul(self.dropout(attn), V)  # attention dropout
        self.attention_weights = attn
        return self.w_o(self.combine_heads(out).contiguous())
