"""Bug: memory_mask is passed to cross-attention, but inverted (memory_mask == 0): the decoder
attends to the padding and ignores the real memory positions. The message must not tell the
student to pass memory_mask, which the code already does."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_decoder_cross_attention_respects_memory_mask", "test_memory_mask_hides_positions",
             "test_cross_attention_matches_reference", "test_decoder_masked_matches_reference"],
    "keep": ["test_causal", "test_decoder_honours_tgt_mask", "test_decoder_matches_reference", "relative", "entropy"],
    "says": {"test_decoder_cross_attention_respects_memory_mask": ["a masked memory position gets weight"]},
    "never_says": {"test_decoder_cross_attention_respects_memory_mask": ["pass memory_mask", "does not reach"],
                   "test_memory_mask_hides_positions": ["pass memory_mask", "does not reach"]},
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
        hide = None if memory_mask is None else (memory_mask == 0).long()
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, tgt_mask)))
        x = self.norm2(x + self.dropout(self.cross_attn(x, memory, memory, hide)))
        return self.norm3(x + self.dropout(self.feed_forward(x)))
