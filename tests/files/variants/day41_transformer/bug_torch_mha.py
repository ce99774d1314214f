"""Bug (contract): MultiHeadAttention just wraps torch's nn.MultiheadAttention; w_q..w_o exist
but are never used, and attention_weights are averaged over heads (B, T_q, T_k)."""

EXPECT = {
    "full_marks": False,
    "lose": ["mha", "values"],
    "keep": ["positional", "sdpa"],
}


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        # the template asks for these, keep them around
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.attn = nn.MultiheadAttention(d_model, num_heads, dropout=dropout, batch_first=True)
        self.attention_weights = None

    def forward(self, query, key, value, mask=None):
        attn_mask = None
        if mask is not None:
            if mask.dim() == 3:  # (B, 1 or T_q, T_k) -> one mask per head
                mask = mask.expand(-1, query.size(1), -1).repeat_interleave(self.num_heads, dim=0)
            attn_mask = mask == 0  # torch wants True = "do not attend"
        out, weights = self.attn(query, key, value, attn_mask=attn_mask)
        self.attention_weights = weights
        return out
