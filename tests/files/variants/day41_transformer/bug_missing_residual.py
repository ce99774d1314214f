"""Bug: the attention sublayer has no residual connection: x = norm1(dropout(self_attn(x)))."""

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
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(d_ff, d_model),
        )
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        attn_out = self.self_attn(x, x, x, mask)
        x = self.norm1(self.dropout(attn_out))
        x = self.norm2(x + self.dropout(self.feed_forward(x)))
        return x
