"""Bug: the feed-forward block has no non-linearity; the template's activation placeholder
(nn.Identity) was never replaced by nn.ReLU, so the FFN is a purely linear map."""

EXPECT = {
    "full_marks": False,
    "lose": ["encoder"],
    "keep": ["sdpa", "mha", "positional"],
}


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = nn.Sequential(
            nn.Linear(d_model, d_ff),
            nn.Identity(),  # TODO: activation
            nn.Dropout(dropout),
            nn.Linear(d_ff, d_model),
        )
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, mask)))
        x = self.norm2(x + self.dropout(self.feed_forward(x)))
        return x
