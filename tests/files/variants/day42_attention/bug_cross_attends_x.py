"""Bug: cross-attention over the decoder's own input, cross_attn(x, x, x, memory_mask), instead of
over memory. Output shapes stay (B, T, d_model), but the memory is never read, the cross-attention
weights are (B, h, T, T), a (B, 1, S) memory mask no longer fits, and x's future leaks in."""

EXPECT = {
    "full_marks": False,
    "lose": ["cross_attention", "test_decoder_matches_reference", "test_decoder_gradients", "causality",
             "integration"],
    "keep": ["relative", "entropy", "test_causal_mask_matches_reference", "mha"],
    "says": {"test_decoder_honours_tgt_mask": ["keys and values from x"],
             "test_decoder_gradients_do_not_reach_the_past": ["keys and values from x"]},
    "never_says": {"causality": ["pass tgt_mask", "tgt_mask does not reach", "causal_mask(T) is not"]},
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
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, tgt_mask)))
        x = self.norm2(x + self.dropout(self.cross_attn(x, x, x, memory_mask)))
        return self.norm3(x + self.dropout(self.feed_forward(x)))
