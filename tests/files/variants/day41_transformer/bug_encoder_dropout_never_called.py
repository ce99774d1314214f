"""Bug: the encoder layer builds self.dropout but never calls it: the sublayer outputs are never
dropped in training. In eval mode dropout does nothing, so only a training-mode check sees it."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_encoder_dropout_in_training_mode"],
    "keep": ["test_encoder_matches_reference", "test_encoder_masked", "test_encoder_gradients", "test_model_matches",
             "sdpa", "mha", "positional", "shape"],
}


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout),
                                          nn.Linear(d_ff, d_model))
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        x = self.norm1(x + self.self_attn(x, x, x, mask))
        return self.norm2(x + self.feed_forward(x))
