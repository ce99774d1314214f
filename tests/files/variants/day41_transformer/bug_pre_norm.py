"""Bug (vs. the post-norm spec): the layer is written pre-norm,
x = x + dropout(attn(norm1(x))); x = x + dropout(ff(norm2(x)))."""

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
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, h, h, mask))
        x = x + self.dropout(self.feed_forward(self.norm2(x)))
        return x
