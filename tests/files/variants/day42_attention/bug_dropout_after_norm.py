"""Bug: dropout applied after each LayerNorm, to the whole sum, instead of to the sublayer output.
In eval mode dropout does nothing, so only a training-mode check sees it."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_decoder_dropout_in_training_mode"],
    "keep": ["test_decoder_matches_reference", "test_decoder_masked", "causality", "cross_attention", "gradient",
             "relative", "entropy", "test_shape.py", "test_softmax.py"],
    "says": {"test_decoder_dropout_in_training_mode": ["all zeros"]},
}


class TransformerDecoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout),
                                          nn.Linear(d_ff, d_model))
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        x = self.dropout(self.norm1(x + self.self_attn(x, x, x, tgt_mask)))
        x = self.dropout(self.norm2(x + self.cross_attn(x, memory, memory, memory_mask)))
        return self.dropout(self.norm3(x + self.feed_forward(x)))
